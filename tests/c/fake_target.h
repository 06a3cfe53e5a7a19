/* fake_target.h: a made-up CPython target for the C tests and fuzz targets of the value
 * reader: one block of memory at a fixed address, readable to its end like a mapping, a
 * moth_remote over it with the layout of a chosen version, the type objects and singletons
 * the reader knows, and builders for objects laid out as that version lays them out. */
#ifndef MOTH_FAKE_TARGET_H
#define MOTH_FAKE_TARGET_H

#include <stdlib.h>
#include <string.h>

#include "remote.h"

#define HEAP_BASE 0x10000000ull
#define HEAP_SIZE (1u << 20)

typedef struct heap {
    uint8_t *bytes;
    size_t used;
} heap;

static inline int heap_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    heap *h = ctx;
    (void)h; /* like a mapping: readable to its end, whatever was put there */
    if (addr < HEAP_BASE || addr - HEAP_BASE > HEAP_SIZE || len > HEAP_SIZE - (addr - HEAP_BASE))
        return -1;
    memcpy(buf, h->bytes + (addr - HEAP_BASE), len);
    return 0;
}

static heap H;
static moth_remote T;

static inline uint64_t alloc(size_t size)
{
    uint64_t at = HEAP_BASE + H.used;
    H.used += (size + 15) & ~(size_t)15;
    if (H.used > HEAP_SIZE)
        abort();
    return at;
}

static inline void put64(uint64_t addr, uint64_t v)
{
    memcpy(H.bytes + (addr - HEAP_BASE), &v, 8);
}

static inline void put32(uint64_t addr, uint32_t v)
{
    memcpy(H.bytes + (addr - HEAP_BASE), &v, 4);
}

static inline void put8(uint64_t addr, uint8_t v)
{
    H.bytes[addr - HEAP_BASE] = v;
}

static inline uint64_t cstring(const char *s)
{
    uint64_t at = alloc(strlen(s) + 1);
    memcpy(H.bytes + (at - HEAP_BASE), s, strlen(s) + 1);
    return at;
}

static inline uint64_t new_object(uint64_t type, size_t size)
{
    uint64_t at = alloc(size);
    put64(at, 1);
    put64(at + 8, type);
    return at;
}

static inline uint64_t new_type(const char *name)
{
    uint64_t type = new_object(T.known.type_type, 512);
    put64(type + T.L->type.name, cstring(name));
    return type;
}

static inline uint64_t mk_int(int negative, const uint32_t *digits, size_t n)
{
    const moth_py_layout *L = T.L;
    uint64_t obj = new_object(T.known.int_type, L->integer.digit + 4 * (n ? n : 1));
    if (L->integer.tagged)
        put64(obj + L->integer.size_or_tag, n << 3 | (n ? (negative ? 2 : 0) : 1));
    else
        put64(obj + L->integer.size_or_tag, negative ? (uint64_t)-(int64_t)n : n);
    for (size_t i = 0; i < n; i++)
        put32(obj + L->integer.digit + 4 * i, digits[i]);
    return obj;
}

static inline uint64_t mk_small(int64_t v)
{
    uint32_t d[3];
    size_t n = 0;
    uint64_t m = v < 0 ? (uint64_t)-v : (uint64_t)v;
    for (; m; m >>= 30)
        d[n++] = m & 0x3fffffff;
    return mk_int(v < 0, d, n);
}

static inline uint64_t mk_float(double x)
{
    uint64_t obj = new_object(T.known.float_type, 24);
    memcpy(H.bytes + (obj + T.L->float_value - HEAP_BASE), &x, 8);
    return obj;
}

/* A compact str: ASCII (1 byte a character after the ASCII header) or UCS-4. */
static inline uint64_t mk_str(const uint32_t *cps, size_t n)
{
    const moth_py_layout *L = T.L;
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        ascii &= cps[i] < 128;
    unsigned kind = ascii ? 1 : 4;
    uint32_t data = ascii ? L->unicode.ascii_size : L->unicode.compact_size;
    uint64_t obj = new_object(T.known.str_type, data + (n + 1) * kind);
    put64(obj + L->unicode.length, n);
    put32(obj + L->unicode.state, kind << L->unicode.kind_shift | 1u << L->unicode.compact_bit |
                                      (uint32_t)ascii << L->unicode.ascii_bit);
    for (size_t i = 0; i < n; i++) {
        if (ascii)
            put8(obj + data + i, (uint8_t)cps[i]);
        else
            put32(obj + data + 4 * i, cps[i]);
    }
    return obj;
}

static inline uint64_t mk_text(const char *ascii)
{
    uint32_t cps[256];
    size_t n = strlen(ascii);
    for (size_t i = 0; i < n; i++)
        cps[i] = (unsigned char)ascii[i];
    return mk_str(cps, n);
}

static inline uint64_t mk_bytes(const char *b, size_t n)
{
    uint64_t obj = new_object(T.known.bytes_type, T.L->bytes.sval + n + 1);
    put64(obj + T.L->bytes.size, n);
    memcpy(H.bytes + (obj + T.L->bytes.sval - HEAP_BASE), b, n);
    return obj;
}

static inline uint64_t mk_tuple(const uint64_t *items, size_t n)
{
    uint64_t obj = new_object(T.known.tuple_type, T.L->tuple.item + 8 * n);
    put64(obj + T.L->tuple.size, n);
    for (size_t i = 0; i < n; i++)
        put64(obj + T.L->tuple.item + 8 * i, items[i]);
    return obj;
}

static inline uint64_t mk_list(const uint64_t *items, size_t n)
{
    uint64_t obj = new_object(T.known.list_type, 48);
    uint64_t array = alloc(8 * (n ? n : 1));
    put64(obj + T.L->list.size, n);
    put64(obj + T.L->list.item, array);
    for (size_t i = 0; i < n; i++)
        put64(array + 8 * i, items[i]);
    return obj;
}

/* A dict with a combined, general table of up to 8 entries; keys[i] == 0 is a deleted one. */
static inline uint64_t mk_dict(const uint64_t *keys, const uint64_t *values, size_t n)
{
    const moth_py_layout *L = T.L;
    uint64_t k = alloc(L->dict.keys_indices + 8 + 8 * L->dict.entry_size);
    put8(k + L->dict.keys_log2_size, 3);
    put8(k + L->dict.keys_log2_index_bytes, 3);
    put8(k + L->dict.keys_kind, 0);
    put64(k + L->dict.keys_nentries, n);
    uint64_t entries = k + L->dict.keys_indices + 8;
    size_t used = 0;
    for (size_t i = 0; i < n; i++) {
        put64(entries + i * L->dict.entry_size + 8, keys[i]);
        put64(entries + i * L->dict.entry_size + 16, keys[i] ? values[i] : 0);
        used += keys[i] != 0;
    }
    uint64_t d = new_object(T.known.dict_type, 48);
    put64(d + L->dict.used, used);
    put64(d + L->dict.keys, k);
    return d;
}

/* A set of 8 slots; slot i holds keys[i] (0: empty, 1: deleted). */
static inline uint64_t mk_set(uint64_t type, const uint64_t *slots)
{
    const moth_py_layout *L = T.L;
    uint64_t table = alloc(8 * 16);
    size_t used = 0;
    for (size_t i = 0; i < 8; i++) {
        if (slots[i] == 1) {
            put64(table + 16 * i, HEAP_BASE); /* the dummy key */
            put64(table + 16 * i + 8, UINT64_MAX);
        } else if (slots[i]) {
            put64(table + 16 * i, slots[i]);
            put64(table + 16 * i + 8, 1234);
            used++;
        }
    }
    uint64_t s = new_object(type, 200);
    put64(s + L->set.used, used);
    put64(s + L->set.mask, 7);
    put64(s + L->set.table, table);
    return s;
}

static inline void target_open(const moth_py_layout *layout)
{
    memset(&T, 0, sizeof T);
    H.used = 16; /* HEAP_BASE itself stays unused: the set's dummy */
    memset(H.bytes, 0, HEAP_SIZE);
    T.mem.read = heap_read;
    T.mem.ctx = &H;
    T.layout = *layout;
    T.L = &T.layout;
    T.version_hex = (uint32_t)layout->version << 16;
    moth_known_objects *k = &T.known;
    k->type_type = alloc(512);
    put64(k->type_type + 8, k->type_type);
    put64(k->type_type + T.L->type.name, cstring("type"));
    k->int_type = new_type("int");
    k->bool_type = new_type("bool");
    k->float_type = new_type("float");
    k->str_type = new_type("str");
    k->bytes_type = new_type("bytes");
    k->tuple_type = new_type("tuple");
    k->list_type = new_type("list");
    k->dict_type = new_type("dict");
    k->set_type = new_type("set");
    k->frozenset_type = new_type("frozenset");
    k->cell_type = new_type("cell");
    k->none = new_object(new_type("NoneType"), 16);
    k->true_obj = new_object(k->bool_type, 32);
    k->false_obj = new_object(k->bool_type, 32);
}

#endif
