/* code.c: the target's code objects, read once and kept; see code.h. */
#include "code.h"

#include <stdlib.h>
#include <string.h>

#include "linetable.h"
#include "rstring.h"
#include "remote.h"

#define MAX_NAME 1024
#define MAX_PATH_CHARS 4096
#define MAX_LINETABLE (1u << 20)
#define MAX_LOCALS 65536

static void free_entry(moth_rcode *c)
{
    free(c->filename);
    free(c->name);
    free(c->qualname);
    free(c->linetable);
    if (c->local_names)
        for (uint32_t i = 0; i < c->nlocalsplus; i++)
            free(c->local_names[i]);
    free(c->local_names);
    free(c->local_kinds);
}

void moth_code_cache_free(moth_code_cache *c)
{
    for (size_t i = 0; i < c->count; i++)
        free_entry(&c->items[i]);
    free(c->items);
    moth_map_free(&c->by_addr);
    memset(c, 0, sizeof *c);
}

/* The header of the code object at addr (everything before its bytecode); -1 when it cannot be
 * read or is not a code object. */
static int read_header(moth_remote *t, uint64_t addr, uint8_t *head)
{
    const moth_py_layout *L = t->L;
    if (moth_remote_read(t, addr, head, L->code.code_adaptive) < 0)
        return -1;
    if (t->known.code_type && moth_u64_at(head, 8) != t->known.code_type)
        return -1;
    return 0;
}

/* Reads the entry for the code object whose header is `head`. */
static int fill_entry(moth_remote *t, uint64_t addr, const uint8_t *head, moth_rcode *c)
{
    const moth_py_layout *L = t->L;
    memset(c, 0, sizeof *c);
    c->addr = addr;
    c->func = MOTH_NO_FUNC;
    c->filename_obj = moth_u64_at(head, L->code.filename);
    c->name_obj = moth_u64_at(head, L->code.name);
    c->linetable_obj = moth_u64_at(head, L->code.linetable);
    c->localsplusnames_obj = moth_u64_at(head, L->code.localsplusnames);
    c->localspluskinds_obj = moth_u64_at(head, L->code.localspluskinds);
    c->firstlineno = (int32_t)moth_u32_at(head, L->code.firstlineno);
    int64_t units = (int64_t)moth_u64_at(head, L->code.size);
    c->flags = moth_u32_at(head, L->code.flags);
    c->argcount = moth_u32_at(head, L->code.argcount);
    c->posonlyargcount = moth_u32_at(head, L->code.posonlyargcount);
    c->kwonlyargcount = moth_u32_at(head, L->code.kwonlyargcount);
    c->nlocalsplus = moth_u32_at(head, L->code.nlocalsplus);
    if (units <= 0 || units > (1 << 28) || c->firstlineno < 0 || c->nlocalsplus > MAX_LOCALS)
        return -1;
    c->units = (uint32_t)units;
    c->filename = moth_remote_str(t, c->filename_obj, MAX_PATH_CHARS, NULL);
    c->name = moth_remote_str(t, c->name_obj, MAX_NAME, NULL);
    c->qualname = moth_remote_str(t, moth_u64_at(head, L->code.qualname), MAX_NAME, NULL);
    if (!c->filename || !c->name ||
        moth_remote_bytes(t, c->linetable_obj, MAX_LINETABLE, &c->linetable, &c->linetable_len,
                          NULL) < 0) {
        free_entry(c);
        memset(c, 0, sizeof *c);
        return -1;
    }
    c->lastlineno = moth_linetable_last_line(c->linetable, c->linetable_len, c->firstlineno);
    return 0;
}

/* Whether the header still describes the object the entry was read from. */
static int same_object(const moth_remote *t, const moth_rcode *c, const uint8_t *head)
{
    const moth_py_layout *L = t->L;
    return moth_u64_at(head, L->code.filename) == c->filename_obj &&
           moth_u64_at(head, L->code.name) == c->name_obj &&
           moth_u64_at(head, L->code.linetable) == c->linetable_obj &&
           (int32_t)moth_u32_at(head, L->code.firstlineno) == c->firstlineno;
}

uint32_t moth_code_get(moth_remote *t, uint64_t addr)
{
    moth_code_cache *cache = &t->codes;
    uint8_t head[512];
    if (!addr || t->L->code.code_adaptive > sizeof head)
        return MOTH_NO_FUNC;
    uint32_t index = moth_map_get(&cache->by_addr, addr, 0);
    if (index != MOTH_MAP_ABSENT) {
        moth_rcode *c = &cache->items[index];
        if (c->epoch >= cache->epoch)
            return index;
        if (read_header(t, addr, head) < 0)
            return MOTH_NO_FUNC;
        if (same_object(t, c, head)) {
            c->epoch = cache->epoch;
            return index;
        }
        /* Another code object lives at this address now: read it into the same slot, keeping
         * nothing of the old one (its function index included). */
        moth_rcode fresh;
        if (fill_entry(t, addr, head, &fresh) < 0)
            return MOTH_NO_FUNC;
        free_entry(c);
        *c = fresh;
        c->epoch = cache->epoch;
        return index;
    }
    if (read_header(t, addr, head) < 0 ||
        moth_grow((void **)&cache->items, sizeof *cache->items, &cache->cap, cache->count + 1,
                  NULL) < 0)
        return MOTH_NO_FUNC;
    moth_rcode *c = &cache->items[cache->count];
    if (fill_entry(t, addr, head, c) < 0)
        return MOTH_NO_FUNC;
    if (moth_map_put(&cache->by_addr, addr, 0, (uint32_t)cache->count, NULL) < 0) {
        free_entry(c);
        return MOTH_NO_FUNC;
    }
    c->epoch = cache->epoch;
    return (uint32_t)cache->count++;
}

int moth_code_line(const moth_rcode *c, long unit)
{
    if (unit >= (long)c->units)
        return MOTH_NO_LINE;
    return moth_linetable_line(c->linetable, c->linetable_len, c->firstlineno, unit);
}

int moth_code_load_locals(moth_remote *t, moth_rcode *c)
{
    if (c->local_names)
        return 0;
    const moth_py_layout *L = t->L;
    uint32_t n = c->nlocalsplus;
    uint8_t head[32];
    if (moth_remote_read(t, c->localsplusnames_obj, head, sizeof head) < 0 ||
        (int64_t)moth_u64_at(head, L->tuple.size) != (int64_t)n)
        return -1;
    uint64_t *items = calloc(n ? n : 1, sizeof *items);
    char **names = calloc(n ? n : 1, sizeof *names);
    uint8_t *kinds = NULL;
    size_t kinds_len = 0;
    int ok = items && names &&
             (!n || moth_remote_read(t, c->localsplusnames_obj + L->tuple.item, items,
                                     n * sizeof *items) == 0) &&
             moth_remote_bytes(t, c->localspluskinds_obj, MAX_LOCALS, &kinds, &kinds_len,
                               NULL) == 0 &&
             kinds_len == n;
    for (uint32_t i = 0; ok && i < n; i++)
        ok = (names[i] = moth_remote_str(t, items[i], MAX_NAME, NULL)) != NULL;
    free(items);
    if (!ok) {
        for (uint32_t i = 0; names && i < n; i++)
            free(names[i]);
        free(names);
        free(kinds);
        return -1;
    }
    c->local_names = names;
    c->local_kinds = kinds;
    return 0;
}
