/* linetable.c: decoding CPython 3.11-3.13 location tables; see linetable.h. */
#include "linetable.h"

enum {
    CODE_NONE = 15,       /* no location */
    CODE_LONG = 14,       /* line delta, end line, column, end column as varints */
    CODE_NO_COLUMN = 13,  /* line delta only */
    CODE_ONE_LINE0 = 10,  /* 10..12: line delta = code - 10, then two column bytes */
};

typedef struct cursor {
    const uint8_t *p, *end;
    int ok;
} cursor;

/* An unsigned varint: 6-bit groups, least significant first, bit 6 set on all but the last. */
static uint32_t varint(cursor *c)
{
    uint32_t value = 0;
    for (unsigned shift = 0; c->ok; shift += 6) {
        if (c->p >= c->end || shift > 30 || (*c->p & 0x80)) {
            c->ok = 0; /* ran out, too long, or ran into the next entry */
            break;
        }
        uint8_t b = *c->p++;
        value |= (uint32_t)(b & 63) << shift;
        if (!(b & 64))
            break;
    }
    return value;
}

static int32_t signed_varint(cursor *c)
{
    uint32_t u = varint(c);
    return (u & 1) ? -(int32_t)(u >> 1) : (int32_t)(u >> 1);
}

static void skip(cursor *c, size_t n)
{
    if ((size_t)(c->end - c->p) < n)
        c->ok = 0;
    else
        c->p += n;
}

/* Decodes one entry: its length in code units, the change of line it carries, and whether it
 * has a location at all. 0 when the table is malformed or ends. */
static int next_entry(cursor *c, int *units, int32_t *delta, int *has_line)
{
    if (!c->ok || c->p >= c->end || !(*c->p & 0x80))
        return 0;
    uint8_t first = *c->p++;
    int code = (first >> 3) & 15;
    *units = (first & 7) + 1;
    *delta = 0;
    *has_line = code != CODE_NONE;
    if (code == CODE_LONG) {
        *delta = signed_varint(c);
        varint(c);
        varint(c);
        varint(c);
    } else if (code == CODE_NO_COLUMN) {
        *delta = signed_varint(c);
    } else if (code >= CODE_ONE_LINE0 && code < CODE_NO_COLUMN) {
        *delta = code - CODE_ONE_LINE0;
        skip(c, 2);
    } else if (code < CODE_ONE_LINE0) {
        skip(c, 1);
    }
    return c->ok;
}

int moth_linetable_line(const uint8_t *table, size_t len, int firstlineno, long unit)
{
    if (unit < 0)
        return firstlineno;
    cursor c = {table, table + len, 1};
    long start = 0;
    int64_t line = firstlineno;
    int units, has_line;
    int32_t delta;
    while (next_entry(&c, &units, &delta, &has_line)) {
        line += delta;
        if (unit < start + units)
            return has_line && line >= 0 && line <= INT32_MAX ? (int)line : MOTH_NO_LINE;
        start += units;
    }
    return MOTH_NO_LINE;
}

int moth_linetable_last_line(const uint8_t *table, size_t len, int firstlineno)
{
    cursor c = {table, table + len, 1};
    int64_t line = firstlineno, last = firstlineno;
    int units, has_line;
    int32_t delta;
    while (next_entry(&c, &units, &delta, &has_line)) {
        line += delta;
        if (has_line && line > last && line <= INT32_MAX)
            last = line;
    }
    return (int)last;
}
