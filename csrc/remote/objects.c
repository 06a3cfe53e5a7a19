/* objects.c: dicts, attributes, modules and ints of the target; see objects.h. */
#include "objects.h"

#include <stdlib.h>
#include <string.h>

#include "remote.h"
#include "rstring.h"

#define TPFLAGS_INLINE_VALUES (1ul << 2)   /* 3.13 */
#define TPFLAGS_MANAGED_DICT (1ul << 4)
#define TPFLAGS_LONG_SUBCLASS (1ul << 24)
#define DICT_KEYS_GENERAL 0

uint64_t moth_obj_type(moth_remote *t, uint64_t obj)
{
    uint64_t type;
    if (!obj || moth_mem_u64(&t->mem, obj + 8, &type) < 0)
        return 0;
    return type;
}

/* What a keys object says about its entries. */
typedef struct keys_info {
    uint8_t kind;
    uint64_t count;        /* entries used so far (dk_nentries), deleted ones included */
    uint32_t entry_size;
    uint64_t entries;      /* where the entry array starts in the target */
} keys_info;

static int read_keys(moth_remote *t, uint64_t keys, keys_info *k)
{
    const moth_py_layout *L = t->L;
    uint8_t head[64];
    if (!keys || moth_remote_read(t, keys, head, L->dict.keys_indices) < 0)
        return -1;
    uint8_t log2_size = head[L->dict.keys_log2_size];
    uint8_t log2_index_bytes = head[L->dict.keys_log2_index_bytes];
    int64_t nentries = (int64_t)moth_u64_at(head, L->dict.keys_nentries);
    k->kind = head[L->dict.keys_kind];
    if (log2_size > 30 || log2_index_bytes > 33 || nentries < 0 ||
        (uint64_t)nentries > MOTH_MAX_DICT_ENTRIES || (uint64_t)nentries > (1ull << log2_size))
        return -1;
    k->count = (uint64_t)nentries;
    k->entry_size = k->kind == DICT_KEYS_GENERAL ? L->dict.entry_size : L->dict.unicode_entry_size;
    k->entries = keys + L->dict.keys_indices + (1ull << log2_index_bytes);
    return 0;
}

/* Entries are read this many at a time, so that a visitor that stops early (a value shown
 * cut after its first items) does not copy a whole large table. */
#define ENTRY_CHUNK 128

/* Walks a table: keys from `keys`, values from the entries or, for a split table, from the
 * values array at `values` (already offset to its first value). */
static int walk_table(moth_remote *t, uint64_t keys, uint64_t values, moth_dict_visit visit,
                      void *ctx)
{
    keys_info k;
    if (read_keys(t, keys, &k) < 0)
        return -1;
    uint8_t entries[ENTRY_CHUNK * 24];
    uint64_t vals[ENTRY_CHUNK];
    if (k.entry_size > 24)
        return -1;
    /* A general entry is {hash, key, value}; a str-keyed one {key, value}. */
    uint32_t key_at = k.kind == DICT_KEYS_GENERAL ? 8 : 0;
    for (uint64_t first = 0; first < k.count; first += ENTRY_CHUNK) {
        uint64_t n = k.count - first < ENTRY_CHUNK ? k.count - first : ENTRY_CHUNK;
        if (moth_remote_read(t, k.entries + first * k.entry_size, entries, n * k.entry_size) < 0 ||
            (values && moth_remote_read(t, values + first * 8, vals, n * 8) < 0))
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            const uint8_t *e = entries + i * k.entry_size;
            uint64_t key = moth_u64_at(e, key_at);
            uint64_t value = values ? vals[i] : moth_u64_at(e, key_at + 8);
            if (key && value && visit(ctx, key, value))
                return 0;
        }
    }
    return 0;
}

int moth_dict_items(moth_remote *t, uint64_t dict_obj, moth_dict_visit visit, void *ctx)
{
    const moth_py_layout *L = t->L;
    uint8_t head[64];
    if (!dict_obj || moth_remote_read(t, dict_obj, head, L->dict.values + 8) < 0)
        return -1;
    if (t->known.dict_type && moth_u64_at(head, 8) != t->known.dict_type) {
        /* A dict subclass is laid out as a dict; anything else is not walked. */
        uint64_t type = moth_u64_at(head, 8), flags = 0;
        if (moth_mem_u64(&t->mem, type + L->type.flags, &flags) < 0 || !(flags & (1ul << 29)))
            return -1;
    }
    uint64_t values = moth_u64_at(head, L->dict.values);
    return walk_table(t, moth_u64_at(head, L->dict.keys),
                      values ? values + L->dict.values_array : 0, visit, ctx);
}

int moth_set_items(moth_remote *t, uint64_t set_obj, moth_dict_visit visit, void *ctx)
{
    const moth_py_layout *L = t->L;
    uint8_t head[64];
    uint64_t type = moth_obj_type(t, set_obj);
    if (!type || (type != t->known.set_type && type != t->known.frozenset_type) ||
        L->set.table + 8 > sizeof head || L->set.entry_size != 16 ||
        moth_remote_read(t, set_obj, head, L->set.table + 8) < 0)
        return -1;
    int64_t used = (int64_t)moth_u64_at(head, L->set.used);
    uint64_t mask = moth_u64_at(head, L->set.mask), table = moth_u64_at(head, L->set.table);
    if (used < 0 || mask >= MOTH_MAX_DICT_ENTRIES || (mask & (mask + 1)) ||
        (uint64_t)used > mask + 1 || !table)
        return -1;
    /* A slot is {key, hash}: empty when the key is NULL, deleted when the hash is -1. */
    uint64_t slots[ENTRY_CHUNK * 2];
    int64_t seen = 0;
    for (uint64_t first = 0; first <= mask && seen < used; first += ENTRY_CHUNK) {
        uint64_t n = mask + 1 - first < ENTRY_CHUNK ? mask + 1 - first : ENTRY_CHUNK;
        if (moth_remote_read(t, table + first * 16, slots, n * 16) < 0)
            return -1;
        for (uint64_t i = 0; i < n && seen < used; i++) {
            if (!slots[2 * i] || slots[2 * i + 1] == UINT64_MAX)
                continue;
            seen++;
            if (visit(ctx, slots[2 * i], 0))
                return 0;
        }
    }
    return 0;
}

int moth_list_items(moth_remote *t, uint64_t list_obj, moth_dict_visit visit, void *ctx)
{
    const moth_py_layout *L = t->L;
    uint64_t raw, items, chunk[ENTRY_CHUNK];
    if (moth_obj_type(t, list_obj) != t->known.list_type || !t->known.list_type ||
        moth_mem_u64(&t->mem, list_obj + L->list.size, &raw) < 0 ||
        raw > MOTH_MAX_DICT_ENTRIES ||
        moth_mem_u64(&t->mem, list_obj + L->list.item, &items) < 0 || (raw && !items))
        return -1;
    for (uint64_t first = 0; first < raw; first += ENTRY_CHUNK) {
        uint64_t n = raw - first < ENTRY_CHUNK ? raw - first : ENTRY_CHUNK;
        if (moth_remote_read(t, items + first * 8, chunk, n * 8) < 0)
            return -1;
        for (uint64_t i = 0; i < n; i++)
            if (visit(ctx, first + i, chunk[i]))
                return 0;
    }
    return 0;
}

typedef struct str_lookup {
    moth_remote *t;
    const char *name;
    uint64_t found;
} str_lookup;

static int match_str_key(void *ctx, uint64_t key, uint64_t value)
{
    str_lookup *s = ctx;
    size_t n = strlen(s->name);
    int truncated;
    char *k = moth_remote_str(s->t, key, n + 1, &truncated);
    int same = k && !truncated && strcmp(k, s->name) == 0;
    free(k);
    if (same)
        s->found = value;
    return same;
}

uint64_t moth_dict_get_str(moth_remote *t, uint64_t dict_obj, const char *name)
{
    str_lookup s = {t, name, 0};
    moth_dict_items(t, dict_obj, match_str_key, &s);
    return s.found;
}

int moth_obj_attrs(moth_remote *t, uint64_t obj, moth_dict_visit visit, void *ctx)
{
    const moth_py_layout *L = t->L;
    uint64_t type = moth_obj_type(t, obj), flags, basicsize, word, dict = 0, values = 0;
    if (!type || moth_mem_u64(&t->mem, type + L->type.flags, &flags) < 0)
        return -1;
    if (!(flags & TPFLAGS_MANAGED_DICT)) {
        /* A C type with a __dict__ slot of its own (asyncio's Future before 3.13) */
        int64_t offset;
        if (moth_mem_u64(&t->mem, type + L->type.dictoffset, (uint64_t *)&offset) < 0 ||
            offset <= 0 || offset > (1 << 20) || moth_mem_u64(&t->mem, obj + (uint64_t)offset,
                                                              &dict) < 0 || !dict)
            return -1;
        return moth_dict_items(t, dict, visit, ctx);
    }
    switch (L->dict.style) {
    case MOTH_DICT_311:
        if (moth_mem_u64(&t->mem, obj - 24, &dict) < 0 ||
            (!dict && moth_mem_u64(&t->mem, obj - 32, &values) < 0))
            return -1;
        break;
    case MOTH_DICT_312:
        if (moth_mem_u64(&t->mem, obj - 24, &word) < 0)
            return -1;
        if (word & 1)
            values = word + 1; /* stored as the values pointer - 1 */
        else
            dict = word;
        break;
    default: /* MOTH_DICT_313 */
        if (moth_mem_u64(&t->mem, obj - 24, &dict) < 0)
            return -1;
        if (!dict && (flags & TPFLAGS_INLINE_VALUES)) {
            uint8_t valid;
            if (moth_mem_u64(&t->mem, type + L->type.basicsize, &basicsize) < 0 ||
                basicsize > (1u << 20) ||
                moth_remote_read(t, obj + basicsize + 3, &valid, 1) < 0 || !valid)
                return -1;
            values = obj + basicsize;
        }
        break;
    }
    if (dict)
        return moth_dict_items(t, dict, visit, ctx);
    uint64_t keys;
    if (!values || moth_mem_u64(&t->mem, type + L->heaptype_cached_keys, &keys) < 0)
        return -1;
    return walk_table(t, keys, values + L->dict.values_array, visit, ctx);
}

uint64_t moth_obj_attr(moth_remote *t, uint64_t obj, const char *name)
{
    str_lookup s = {t, name, 0};
    moth_obj_attrs(t, obj, match_str_key, &s);
    return s.found;
}

#define MAX_MRO 64

uint64_t moth_class_attr(moth_remote *t, uint64_t type, const char *name)
{
    const moth_py_layout *L = t->L;
    uint64_t mro, size, classes[MAX_MRO], dict, found;
    if (!type || moth_mem_u64(&t->mem, type + L->type.mro, &mro) < 0 ||
        moth_obj_type(t, mro) != t->known.tuple_type || !t->known.tuple_type ||
        moth_mem_u64(&t->mem, mro + L->tuple.size, &size) < 0 || size > MAX_MRO ||
        moth_remote_read(t, mro + L->tuple.item, classes, size * 8) < 0)
        return 0;
    for (uint64_t i = 0; i < size; i++)
        if (moth_mem_u64(&t->mem, classes[i] + L->type.dict, &dict) == 0 && dict &&
            (found = moth_dict_get_str(t, dict, name)))
            return found;
    return 0;
}

uint64_t moth_module_dict(moth_remote *t, uint64_t module)
{
    uint64_t dict;
    if (!module || (t->known.module_type && moth_obj_type(t, module) != t->known.module_type) ||
        moth_mem_u64(&t->mem, module + t->L->module_dict, &dict) < 0)
        return 0;
    return dict;
}

uint64_t moth_remote_module(moth_remote *t, const char *name)
{
    uint64_t modules;
    if (moth_mem_u64(&t->mem, t->interp + t->L->interp.modules, &modules) < 0)
        return 0;
    return moth_dict_get_str(t, modules, name);
}

int moth_obj_int64(moth_remote *t, uint64_t obj, int64_t *out)
{
    const moth_py_layout *L = t->L;
    uint8_t buf[40];
    if (!obj || moth_remote_read(t, obj, buf, L->integer.digit + 12) < 0)
        return -1;
    uint64_t type = moth_u64_at(buf, 8);
    if (type != t->known.int_type && type != t->known.bool_type) {
        uint64_t flags;
        if (moth_mem_u64(&t->mem, type + L->type.flags, &flags) < 0 ||
            !(flags & TPFLAGS_LONG_SUBCLASS))
            return -1;
    }
    uint64_t raw = moth_u64_at(buf, L->integer.size_or_tag);
    int negative;
    uint64_t ndigits;
    if (L->integer.tagged) {
        negative = (raw & 3) == 2;
        ndigits = raw >> 3;
    } else {
        int64_t size = (int64_t)raw;
        negative = size < 0;
        ndigits = (uint64_t)(negative ? -size : size);
    }
    if (ndigits > 3)
        return -1;
    uint64_t magnitude = 0;
    for (uint64_t i = ndigits; i-- > 0;) {
        uint64_t digit = moth_u32_at(buf, L->integer.digit + (uint32_t)(4 * i)) & 0x3fffffff;
        if (magnitude > (UINT64_MAX >> 30))
            return -1;
        magnitude = magnitude << 30 | digit;
    }
    if (magnitude > (uint64_t)INT64_MAX + negative)
        return -1;
    *out = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
    return 0;
}
