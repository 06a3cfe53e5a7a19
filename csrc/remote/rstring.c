/* rstring.c: the target's str and bytes objects, copied out; see rstring.h. */
#include "rstring.h"

#include <stdlib.h>
#include <string.h>

#include "remote.h"

size_t moth_utf8_encode(uint32_t c, char *out)
{
    if ((c >= 0xD800 && c <= 0xDFFF) || c > 0x10FFFF)
        c = 0xFFFD; /* a lone surrogate (surrogateescape'd file names) cannot be UTF-8 */
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 63));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | ((c >> 6) & 63));
        out[2] = (char)(0x80 | (c & 63));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | ((c >> 12) & 63));
    out[2] = (char)(0x80 | ((c >> 6) & 63));
    out[3] = (char)(0x80 | (c & 63));
    return 4;
}

int moth_remote_str_chars(moth_remote *t, uint64_t addr, size_t max_chars, uint32_t **out,
                          size_t *n, size_t *length)
{
    const moth_py_layout *L = t->L;
    uint8_t head[128];
    if (!addr || L->unicode.compact_size + 8 > sizeof head ||
        moth_remote_read(t, addr, head, L->unicode.compact_size + 8) < 0)
        return -1;
    if (t->known.str_type && moth_u64_at(head, 8) != t->known.str_type)
        return -1;
    int64_t whole = (int64_t)moth_u64_at(head, L->unicode.length);
    uint32_t state = moth_u32_at(head, L->unicode.state);
    unsigned kind = (state >> L->unicode.kind_shift) & 7;
    int compact = (state >> L->unicode.compact_bit) & 1;
    int ascii = (state >> L->unicode.ascii_bit) & 1;
    if (whole < 0 || (kind != 1 && kind != 2 && kind != 4))
        return -1;
    size_t count = (size_t)whole < max_chars ? (size_t)whole : max_chars;
    uint64_t data;
    if (compact)
        data = addr + (ascii ? L->unicode.ascii_size : L->unicode.compact_size);
    else
        data = moth_u64_at(head, L->unicode.compact_size); /* PyUnicodeObject's data.any */
    uint8_t *raw = malloc(count * kind + 1);
    uint32_t *chars = malloc(count * sizeof *chars + 1);
    if (!raw || !chars || (count && moth_remote_read(t, data, raw, count * kind) < 0)) {
        free(raw);
        free(chars);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        if (kind == 1)
            chars[i] = raw[i];
        else if (kind == 2)
            chars[i] = (uint32_t)raw[2 * i] | (uint32_t)raw[2 * i + 1] << 8;
        else
            memcpy(&chars[i], raw + 4 * i, 4);
    }
    free(raw);
    *out = chars;
    *n = count;
    *length = (size_t)whole;
    return 0;
}

char *moth_remote_str(moth_remote *t, uint64_t addr, size_t max_chars, int *truncated)
{
    uint32_t *chars;
    size_t n, length;
    if (moth_remote_str_chars(t, addr, max_chars, &chars, &n, &length) < 0)
        return NULL;
    char *out = malloc(n * 4 + 1);
    if (!out) {
        free(chars);
        return NULL;
    }
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += moth_utf8_encode(chars[i], out + len);
    out[len] = '\0';
    free(chars);
    if (truncated)
        *truncated = length > n;
    return out;
}

int moth_remote_bytes(moth_remote *t, uint64_t addr, size_t max, uint8_t **out, size_t *len,
                      int *truncated)
{
    const moth_py_layout *L = t->L;
    uint8_t head[64];
    if (!addr || moth_remote_read(t, addr, head, L->bytes.sval) < 0)
        return -1;
    if (t->known.bytes_type && moth_u64_at(head, 8) != t->known.bytes_type)
        return -1;
    int64_t size = (int64_t)moth_u64_at(head, L->bytes.size);
    if (size < 0)
        return -1;
    size_t n = (size_t)size;
    if (truncated)
        *truncated = n > max;
    if (n > max)
        n = max;
    uint8_t *buf = malloc(n + 1);
    if (!buf || (n && moth_remote_read(t, addr + L->bytes.sval, buf, n) < 0)) {
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}
