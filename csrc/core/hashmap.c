/* hashmap.c: growth and insertion for the open-addressing map; lookups are inline. */
#include "hashmap.h"

#include <stdlib.h>

void moth_map_free(moth_map *m)
{
    free(m->slots);
    m->slots = NULL;
    m->mask = 0;
    m->count = 0;
}

static void insert_slot(moth_map_slot *slots, size_t mask, uint64_t a, uint64_t b, uint32_t value)
{
    size_t i = (size_t)moth_hash2(a, b) & mask;
    while (slots[i].value != MOTH_MAP_ABSENT)
        i = (i + 1) & mask;
    slots[i].a = a;
    slots[i].b = b;
    slots[i].value = value;
}

static int rehash(moth_map *m, size_t capacity, moth_error *err)
{
    moth_map_slot *slots = moth_malloc(capacity * sizeof *slots, err);
    if (!slots)
        return -1;
    for (size_t i = 0; i < capacity; i++)
        slots[i].value = MOTH_MAP_ABSENT;
    if (m->slots) {
        for (size_t i = 0; i <= m->mask; i++)
            if (m->slots[i].value != MOTH_MAP_ABSENT)
                insert_slot(slots, capacity - 1, m->slots[i].a, m->slots[i].b, m->slots[i].value);
        free(m->slots);
    }
    m->slots = slots;
    m->mask = capacity - 1;
    return 0;
}

int moth_map_put(moth_map *m, uint64_t a, uint64_t b, uint32_t value, moth_error *err)
{
    if (value == MOTH_MAP_ABSENT)
        return moth_fail(err, "hash map value out of range");
    if (!m->slots || (m->count + 1) * 4 > (m->mask + 1) * 3) {
        size_t capacity = m->slots ? (m->mask + 1) * 2 : 16;
        if (capacity > SIZE_MAX / sizeof(moth_map_slot))
            return moth_fail(err, "out of memory (hash map)");
        if (rehash(m, capacity, err) < 0)
            return -1;
    }
    size_t i = (size_t)moth_hash2(a, b) & m->mask;
    for (;;) {
        moth_map_slot *s = &m->slots[i];
        if (s->value == MOTH_MAP_ABSENT) {
            s->a = a;
            s->b = b;
            s->value = value;
            m->count++;
            return 0;
        }
        if (s->a == a && s->b == b) {
            s->value = value;
            return 0;
        }
        i = (i + 1) & m->mask;
    }
}
