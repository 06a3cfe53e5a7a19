/*
 * hashmap.h: an open-addressing hash map from a pair of 64-bit words to a 32-bit index.
 *
 * The core keeps its objects in arrays and refers to them by index; this map finds an index by
 * key: a calling-context node by (parent node, function key), a function by its identity, a
 * string by its hash. Linear probing over a power-of-two table kept at most 3/4 full; no
 * deletion (profiles only grow). MOTH_MAP_ABSENT is never a valid value.
 */
#ifndef MOTH_HASHMAP_H
#define MOTH_HASHMAP_H

#include "common.h"

#define MOTH_MAP_ABSENT UINT32_MAX

typedef struct moth_map_slot {
    uint64_t a, b;
    uint32_t value; /* MOTH_MAP_ABSENT marks an empty slot */
} moth_map_slot;

typedef struct moth_map {
    moth_map_slot *slots;
    size_t mask;  /* capacity - 1; capacity is a power of two, 0 slots when empty */
    size_t count;
} moth_map;

#define MOTH_MAP_INIT {NULL, 0, 0}

void moth_map_free(moth_map *m);

static inline uint64_t moth_hash2(uint64_t a, uint64_t b)
{
    /* A cheap mix (from splitmix64's finaliser): pointers and small indexes both spread. */
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + 0x632BE59BD9B4E019ull);
    h ^= h >> 31;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return h;
}

/* The value stored under (a, b), or MOTH_MAP_ABSENT. */
static inline uint32_t moth_map_get(const moth_map *m, uint64_t a, uint64_t b)
{
    if (!m->slots)
        return MOTH_MAP_ABSENT;
    size_t i = (size_t)moth_hash2(a, b) & m->mask;
    for (;;) {
        const moth_map_slot *s = &m->slots[i];
        if (s->value == MOTH_MAP_ABSENT)
            return MOTH_MAP_ABSENT;
        if (s->a == a && s->b == b)
            return s->value;
        i = (i + 1) & m->mask;
    }
}

/* Stores value under (a, b), replacing any previous value. 0, or -1 when out of memory. */
int moth_map_put(moth_map *m, uint64_t a, uint64_t b, uint32_t value, moth_error *err);

#endif
