/* marshal_read.c: a hostile-input reader for the marshal subset profile files use; see
 * marshal.h. Type codes and layouts follow CPython's Python/marshal.c. */
#include "marshal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLAG_REF 0x80
#define MAX_DEPTH 64

typedef struct reader {
    const unsigned char *p, *end;
    moth_mread *r;
    const char *what;
    moth_error *err;
    uint32_t *stack;   /* children of the containers being read, innermost on top */
    size_t depth, cap;
} reader;

static int truncated(reader *rd)
{
    return moth_fail(rd->err, "truncated %s", rd->what);
}

static int bad(reader *rd, const char *why)
{
    return moth_fail(rd->err, "not a valid %s: %s", rd->what, why);
}

static int get_u8(reader *rd, unsigned *v)
{
    if (rd->p >= rd->end)
        return truncated(rd);
    *v = *rd->p++;
    return 0;
}

static int get_u32(reader *rd, uint32_t *v)
{
    if (rd->end - rd->p < 4)
        return truncated(rd);
    *v = (uint32_t)rd->p[0] | (uint32_t)rd->p[1] << 8 | (uint32_t)rd->p[2] << 16 |
         (uint32_t)rd->p[3] << 24;
    rd->p += 4;
    return 0;
}

static int new_value(reader *rd, moth_mv_type type, uint32_t *index)
{
    moth_mread *r = rd->r;
    if (r->nvalues >= UINT32_MAX - 1)
        return bad(rd, "too many values");
    if (r->nvalues == r->values_cap &&
        moth_grow((void **)&r->values, sizeof *r->values, &r->values_cap, r->nvalues + 1,
                  rd->err) < 0)
        return -1;
    memset(&r->values[r->nvalues], 0, sizeof *r->values);
    r->values[r->nvalues].type = type;
    *index = (uint32_t)r->nvalues++;
    return 0;
}

/* Reserves a slot in the reference table when the type byte asked for one (FLAG_REF). The slot
 * is filled once the value exists; containers fill it before their children, as CPython does,
 * so that a child may refer to its container. */
static int reserve_ref(reader *rd, int flagged, size_t *slot)
{
    moth_mread *r = rd->r;
    *slot = SIZE_MAX;
    if (!flagged)
        return 0;
    if (moth_grow((void **)&r->refs, sizeof *r->refs, &r->refs_cap, r->nrefs + 1, rd->err) < 0)
        return -1;
    r->refs[r->nrefs] = UINT32_MAX; /* not filled yet */
    *slot = r->nrefs++;
    return 0;
}

static void fill_ref(reader *rd, size_t slot, uint32_t index)
{
    if (slot != SIZE_MAX)
        rd->r->refs[slot] = index;
}

static int read_value(reader *rd, uint32_t *out, int depth);

static int push_child(reader *rd, uint32_t value)
{
    if (rd->depth == rd->cap &&
        moth_grow((void **)&rd->stack, sizeof *rd->stack, &rd->cap, rd->depth + 1, rd->err) < 0)
        return -1;
    rd->stack[rd->depth++] = value;
    return 0;
}

/* Moves the `count` children on top of the stack into `kids`, as value `index`'s children.
 * (Children are stacked while they are read, since reading them appends the children of
 * nested containers to `kids` too.) */
static int settle_children(reader *rd, size_t count, uint32_t index)
{
    moth_mread *r = rd->r;
    if (moth_grow((void **)&r->kids, sizeof *r->kids, &r->kids_cap, r->nkids + count,
                  rd->err) < 0)
        return -1;
    r->values[index].u.first = (uint32_t)r->nkids;
    if (count)
        memcpy(r->kids + r->nkids, rd->stack + rd->depth - count, count * sizeof *rd->stack);
    r->nkids += count;
    rd->depth -= count;
    return 0;
}

static int read_items(reader *rd, uint32_t count, uint32_t index, int depth)
{
    if (count > (uint32_t)(rd->end - rd->p))
        return truncated(rd); /* every item takes at least one byte */
    for (uint32_t i = 0; i < count; i++) {
        uint32_t v;
        if (read_value(rd, &v, depth + 1) < 0 || push_child(rd, v) < 0)
            return -1;
    }
    rd->r->values[index].n = count;
    return settle_children(rd, count, index);
}

static int read_dict(reader *rd, uint32_t index, int depth)
{
    size_t n = 0;
    for (;;) {
        if (rd->p >= rd->end)
            return truncated(rd);
        if (*rd->p == '0') { /* TYPE_NULL ends a dict */
            rd->p++;
            break;
        }
        uint32_t k, v;
        if (read_value(rd, &k, depth + 1) < 0 || push_child(rd, k) < 0 ||
            read_value(rd, &v, depth + 1) < 0 || push_child(rd, v) < 0)
            return -1;
        n += 2;
    }
    if (n / 2 > UINT32_MAX)
        return bad(rd, "a dictionary too large");
    rd->r->values[index].n = (uint32_t)(n / 2);
    return settle_children(rd, n, index);
}

static int read_string(reader *rd, uint32_t len, uint32_t index)
{
    if ((size_t)(rd->end - rd->p) < len)
        return truncated(rd);
    if (memchr(rd->p, '\0', len))
        return bad(rd, "a name with a NUL character");
    rd->r->values[index].u.s = (const char *)rd->p;
    rd->r->values[index].n = len;
    rd->p += len;
    return 0;
}

static int read_long(reader *rd, uint32_t index)
{
    uint32_t size;
    if (get_u32(rd, &size) < 0)
        return -1;
    int32_t n = (int32_t)size;
    int negative = n < 0;
    uint32_t digits = negative ? (uint32_t)0 - size : size;
    if (digits > 5) /* 5 digits of 15 bits hold 75 bits: anything past 63 is out of range */
        return bad(rd, "an integer too large");
    uint64_t v = 0;
    for (uint32_t i = 0; i < digits; i++) {
        if (rd->end - rd->p < 2)
            return truncated(rd);
        uint32_t d = (uint32_t)rd->p[0] | (uint32_t)rd->p[1] << 8;
        rd->p += 2;
        if (d > 0x7FFF)
            return bad(rd, "a malformed integer");
        if (i == 4 && d > 0x7)
            return bad(rd, "an integer too large");
        v |= (uint64_t)d << (15 * i);
    }
    if (v > (uint64_t)INT64_MAX)
        return bad(rd, "an integer too large");
    rd->r->values[index].u.i = negative ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* A code object (the pure-Python profile module puts one in a label): read field by field as
 * CPython 3.11-3.13 write it, and kept as the text pstats would print for it. */
static int read_code(reader *rd, uint32_t index, int depth)
{
    uint32_t ints[5], field[11], firstlineno;
    for (int i = 0; i < 5; i++)
        if (get_u32(rd, &ints[i]) < 0)
            return -1;
    for (int i = 0; i < 8; i++) /* code, consts, names, localsplusnames, localspluskinds,
                                   filename, name, qualname */
        if (read_value(rd, &field[i], depth + 1) < 0)
            return -1;
    if (get_u32(rd, &firstlineno) < 0)
        return -1;
    for (int i = 8; i < 10; i++) /* linetable, exceptiontable */
        if (read_value(rd, &field[i], depth + 1) < 0)
            return -1;
    const moth_mvalue *file = &rd->r->values[field[5]], *name = &rd->r->values[field[6]];
    if (file->type != MOTH_MV_STR || name->type != MOTH_MV_STR)
        return bad(rd, "a malformed code object");
    moth_mread *r = rd->r;
    char *text = moth_malloc((size_t)file->n + name->n + 96, rd->err);
    if (!text || moth_grow((void **)&r->owned, sizeof *r->owned, &r->owned_cap, r->nowned + 1,
                           rd->err) < 0) {
        free(text);
        return -1;
    }
    int n = snprintf(text, (size_t)file->n + name->n + 96, "<code object %.*s, file \"%.*s\", line %u>",
                     (int)name->n, name->u.s, (int)file->n, file->u.s, firstlineno);
    r->owned[r->nowned++] = text;
    r->values[index].type = MOTH_MV_STR;
    r->values[index].u.s = text;
    r->values[index].n = (uint32_t)n;
    return 0;
}

static int read_value(reader *rd, uint32_t *out, int depth)
{
    if (depth > MAX_DEPTH)
        return bad(rd, "nesting too deep");
    unsigned code = 0;
    if (get_u8(rd, &code) < 0)
        return -1;
    int flagged = (code & FLAG_REF) != 0;
    code &= ~FLAG_REF;
    size_t slot;
    uint32_t index, n;
    switch (code) {
    case 'r': { /* TYPE_REF: an earlier flagged object */
        if (get_u32(rd, &n) < 0)
            return -1;
        if (n >= rd->r->nrefs || rd->r->refs[n] == UINT32_MAX)
            return bad(rd, "a reference to nothing");
        *out = rd->r->refs[n];
        return 0;
    }
    case 'N':
    case 'T':
    case 'F':
        if (reserve_ref(rd, flagged, &slot) < 0 ||
            new_value(rd, code == 'N' ? MOTH_MV_NONE : MOTH_MV_BOOL, &index) < 0)
            return -1;
        rd->r->values[index].u.i = code == 'T';
        break;
    case 'i':
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_INT, &index) < 0 ||
            get_u32(rd, &n) < 0)
            return -1;
        rd->r->values[index].u.i = (int32_t)n;
        break;
    case 'l':
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_INT, &index) < 0 ||
            read_long(rd, index) < 0)
            return -1;
        break;
    case 'g': { /* TYPE_BINARY_FLOAT */
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_FLOAT, &index) < 0)
            return -1;
        if (rd->end - rd->p < 8)
            return truncated(rd);
        uint64_t bits = 0;
        for (int i = 7; i >= 0; i--)
            bits = bits << 8 | rd->p[i];
        rd->p += 8;
        memcpy(&rd->r->values[index].u.f, &bits, sizeof bits);
        break;
    }
    case 'f': { /* TYPE_FLOAT: text, from marshal version 0 */
        unsigned len = 0;
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_FLOAT, &index) < 0 ||
            get_u8(rd, &len) < 0)
            return -1;
        if ((size_t)(rd->end - rd->p) < len)
            return truncated(rd);
        char text[257];
        memcpy(text, rd->p, len);
        text[len] = '\0';
        rd->p += len;
        char *end;
        double v = strtod(text, &end);
        if (len == 0 || *end)
            return bad(rd, "a malformed float");
        rd->r->values[index].u.f = v;
        break;
    }
    case 'z': /* TYPE_SHORT_ASCII */
    case 'Z': /* interned */
        if (get_u8(rd, &code) < 0) /* reuse: the length */
            return -1;
        n = code;
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_STR, &index) < 0 ||
            read_string(rd, n, index) < 0)
            return -1;
        break;
    case 's': /* TYPE_STRING: bytes */
        if (get_u32(rd, &n) < 0 || reserve_ref(rd, flagged, &slot) < 0 ||
            new_value(rd, MOTH_MV_BYTES, &index) < 0)
            return -1;
        if ((size_t)(rd->end - rd->p) < n)
            return truncated(rd);
        rd->r->values[index].u.s = (const char *)rd->p;
        rd->r->values[index].n = n;
        rd->p += n;
        break;
    case 'c': /* TYPE_CODE */
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_STR, &index) < 0)
            return -1;
        fill_ref(rd, slot, index);
        if (read_code(rd, index, depth) < 0)
            return -1;
        *out = index;
        return 0;
    case 'a': /* TYPE_ASCII */
    case 'A': /* interned */
    case 'u': /* TYPE_UNICODE: UTF-8 */
    case 't': /* interned */
        if (get_u32(rd, &n) < 0 || reserve_ref(rd, flagged, &slot) < 0 ||
            new_value(rd, MOTH_MV_STR, &index) < 0 || read_string(rd, n, index) < 0)
            return -1;
        break;
    case ')': /* TYPE_SMALL_TUPLE */
    case '(': /* TYPE_TUPLE */
    case '[': /* TYPE_LIST */
        if (code == ')') {
            unsigned small = 0;
            if (get_u8(rd, &small) < 0)
                return -1;
            n = small;
        } else if (get_u32(rd, &n) < 0) {
            return -1;
        }
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_TUPLE, &index) < 0)
            return -1;
        fill_ref(rd, slot, index);
        if (read_items(rd, n, index, depth) < 0)
            return -1;
        *out = index;
        return 0;
    case '{':
        if (reserve_ref(rd, flagged, &slot) < 0 || new_value(rd, MOTH_MV_DICT, &index) < 0)
            return -1;
        fill_ref(rd, slot, index);
        if (read_dict(rd, index, depth) < 0)
            return -1;
        *out = index;
        return 0;
    default: {
        char why[64];
        snprintf(why, sizeof why, "an unexpected kind of value (type code 0x%02x)", code);
        return bad(rd, why);
    }
    }
    fill_ref(rd, slot, index);
    *out = index;
    return 0;
}

int moth_marshal_read(moth_mread *r, const void *data, size_t len, const char *what,
                      moth_error *err)
{
    memset(r, 0, sizeof *r);
    reader rd = {data, (const unsigned char *)data + len, r, what, err, NULL, 0, 0};
    if (len == 0)
        return moth_fail(err, "empty %s", what);
    int rc = read_value(&rd, &r->root, 0);
    free(rd.stack);
    if (rc < 0) {
        moth_mread_free(r);
        return -1;
    }
    if (rd.p != rd.end) {
        moth_mread_free(r);
        return moth_fail(err, "not a valid %s: data after the end", what);
    }
    return 0;
}

void moth_mread_free(moth_mread *r)
{
    for (size_t i = 0; i < r->nowned; i++)
        free(r->owned[i]);
    free(r->owned);
    free(r->values);
    free(r->kids);
    free(r->refs);
    memset(r, 0, sizeof *r);
}
