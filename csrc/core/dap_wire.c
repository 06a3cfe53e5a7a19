/* dap_wire.c: the Debug Adapter Protocol's framing; see dap_wire.h. */
#include "dap_wire.h"

#include <string.h>
#include <strings.h>

void moth_dap_wire_free(moth_dap_wire *w)
{
    moth_sb_free(&w->buf);
    w->start = w->skipping = 0;
}

int moth_dap_wire_feed(moth_dap_wire *w, const void *bytes, size_t n, moth_error *err)
{
    /* Drop what was handed out once it is most of the buffer, so it does not grow forever. */
    if (w->start > 0 && w->start >= w->buf.len / 2) {
        memmove(w->buf.data, w->buf.data + w->start, w->buf.len - w->start);
        w->buf.len -= w->start;
        w->buf.data[w->buf.len] = '\0';
        w->start = 0;
    }
    moth_sb_append(&w->buf, bytes, n);
    if (w->buf.failed) {
        moth_dap_wire_free(w);
        return moth_fail(err, "out of memory reading a message");
    }
    return 0;
}

/* The value of a Content-Length line's number, or -1 when it is not a plain number. */
static long long length_value(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (p == end || end - p > 12)
        return -1;
    long long v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    return v;
}

static const char *find_blank_line(const char *p, size_t n)
{
    for (size_t i = 0; i + 4 <= n; i++)
        if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
            return p + i;
    return NULL;
}

moth_dap_wire_result moth_dap_wire_next(moth_dap_wire *w, const char **body, size_t *len,
                                        moth_error *err)
{
    if (w->skipping) {
        size_t n = w->buf.len - w->start;
        size_t drop = n < w->skipping ? n : w->skipping;
        w->start += drop;
        w->skipping -= drop;
        if (w->skipping)
            return MOTH_DAP_NEED_MORE;
    }
    const char *head = w->buf.data + w->start;
    size_t avail = w->buf.len - w->start;
    if (avail == 0)
        return MOTH_DAP_NEED_MORE;
    size_t look = avail < MOTH_DAP_MAX_HEADER + 4 ? avail : MOTH_DAP_MAX_HEADER + 4;
    const char *blank = find_blank_line(head, look);
    if (!blank) {
        if (avail < MOTH_DAP_MAX_HEADER + 4)
            return MOTH_DAP_NEED_MORE;
        w->start = w->buf.len; /* no message starts anywhere in there that can be found */
        moth_fail(err, "message header longer than %d bytes", MOTH_DAP_MAX_HEADER);
        return MOTH_DAP_BAD_FRAME;
    }
    size_t header_len = (size_t)(blank - head) + 4;
    long long length = -1;
    int conflicting = 0;
    for (const char *line = head; line < blank;) {
        const char *eol = line;
        while (eol < blank && !(eol[0] == '\r' && eol[1] == '\n'))
            eol++;
        const char *colon = memchr(line, ':', (size_t)(eol - line));
        static const char name[] = "Content-Length";
        if (colon && (size_t)(colon - line) == sizeof name - 1 &&
            strncasecmp(line, name, sizeof name - 1) == 0) {
            long long v = length_value(colon + 1, eol);
            if (length >= 0 && v != length)
                conflicting = 1;
            length = v;
        }
        line = eol + 2;
    }
    if (length < 0 || conflicting) {
        w->start += header_len;
        moth_fail(err, "message header without a valid Content-Length");
        return MOTH_DAP_BAD_FRAME;
    }
    if ((unsigned long long)length > MOTH_DAP_MAX_BODY) {
        w->start += header_len;
        w->skipping = (size_t)length;
        moth_fail(err, "message of %lld bytes refused (the limit is %u)", length,
                  MOTH_DAP_MAX_BODY);
        return MOTH_DAP_BAD_FRAME;
    }
    if (avail - header_len < (size_t)length)
        return MOTH_DAP_NEED_MORE;
    *body = head + header_len;
    *len = (size_t)length;
    w->start += header_len + (size_t)length;
    return MOTH_DAP_MESSAGE;
}

void moth_dap_wire_header(moth_sb *sb, size_t len)
{
    moth_sb_printf(sb, "Content-Length: %zu\r\n\r\n", len);
}
