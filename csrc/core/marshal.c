/* marshal.c: writing Python's marshal format; see marshal.h. Type codes and layouts are those of
 * CPython's Python/marshal.c: little-endian 32-bit lengths and ints, IEEE doubles. */
#include "marshal.h"

#include <string.h>

#define TYPE_NULL '0'
#define TYPE_NONE 'N'
#define TYPE_INT 'i'
#define TYPE_LONG 'l'
#define TYPE_BINARY_FLOAT 'g'
#define TYPE_UNICODE 'u'
#define TYPE_SHORT_ASCII 'z'
#define TYPE_TUPLE '('
#define TYPE_SMALL_TUPLE ')'
#define TYPE_DICT '{'

static void put_u32(moth_sb *out, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    moth_sb_append(out, b, 4);
}

void moth_marshal_none(moth_sb *out)
{
    moth_sb_putc(out, TYPE_NONE);
}

void moth_marshal_uint(moth_sb *out, uint64_t v)
{
    if (v <= INT32_MAX) {
        moth_sb_putc(out, TYPE_INT);
        put_u32(out, (uint32_t)v);
        return;
    }
    /* TYPE_LONG: a signed count of 15-bit digits, least significant first. */
    unsigned char digits[10][2];
    uint32_t n = 0;
    while (v) {
        uint16_t d = (uint16_t)(v & 0x7FFF);
        digits[n][0] = (unsigned char)d;
        digits[n][1] = (unsigned char)(d >> 8);
        n++;
        v >>= 15;
    }
    moth_sb_putc(out, TYPE_LONG);
    put_u32(out, n);
    moth_sb_append(out, digits, n * 2);
}

void moth_marshal_int(moth_sb *out, int64_t v)
{
    if (v >= INT32_MIN && v <= INT32_MAX) {
        moth_sb_putc(out, TYPE_INT);
        put_u32(out, (uint32_t)(int32_t)v);
        return;
    }
    if (v >= 0) {
        moth_marshal_uint(out, (uint64_t)v);
        return;
    }
    uint64_t mag = (uint64_t)0 - (uint64_t)v;
    unsigned char digits[10][2];
    uint32_t n = 0;
    while (mag) {
        uint16_t d = (uint16_t)(mag & 0x7FFF);
        digits[n][0] = (unsigned char)d;
        digits[n][1] = (unsigned char)(d >> 8);
        n++;
        mag >>= 15;
    }
    moth_sb_putc(out, TYPE_LONG);
    put_u32(out, (uint32_t)(-(int32_t)n)); /* negative count: negative number */
    moth_sb_append(out, digits, n * 2);
}

void moth_marshal_float(moth_sb *out, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    moth_sb_putc(out, TYPE_BINARY_FLOAT);
    moth_sb_append(out, b, 8);
}

void moth_marshal_str(moth_sb *out, const char *utf8)
{
    size_t n = strlen(utf8);
    int ascii = n < 256;
    for (size_t i = 0; ascii && i < n; i++)
        ascii = (unsigned char)utf8[i] < 0x80;
    if (ascii) {
        moth_sb_putc(out, TYPE_SHORT_ASCII);
        moth_sb_putc(out, (char)(unsigned char)n);
    } else {
        moth_sb_putc(out, TYPE_UNICODE);
        put_u32(out, (uint32_t)n);
    }
    moth_sb_append(out, utf8, n);
}

void moth_marshal_tuple(moth_sb *out, size_t n)
{
    if (n < 256) {
        moth_sb_putc(out, TYPE_SMALL_TUPLE);
        moth_sb_putc(out, (char)(unsigned char)n);
    } else {
        moth_sb_putc(out, TYPE_TUPLE);
        put_u32(out, (uint32_t)n);
    }
}

void moth_marshal_dict_begin(moth_sb *out)
{
    moth_sb_putc(out, TYPE_DICT);
}

void moth_marshal_dict_end(moth_sb *out)
{
    moth_sb_putc(out, TYPE_NULL);
}
