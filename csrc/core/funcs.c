/* funcs.c: the function table; see funcs.h. */
#include "funcs.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const char *s, size_t n, uint64_t seed)
{
    uint64_t h = seed ? seed : 0xCBF29CE484222325ull;
    for (const unsigned char *p = (const unsigned char *)s, *end = p + n; p < end; p++) {
        h ^= *p;
        h *= 0x100000001B3ull;
    }
    return h;
}

uint64_t moth_strhash(const char *s, uint64_t seed)
{
    return hash_bytes(s, strlen(s), seed);
}

static uint64_t label_hash_n(const char *file, size_t file_len, const char *name,
                             size_t name_len)
{
    /* The NUL between the two keeps ("ab","c") apart from ("a","bc"). */
    return hash_bytes(name, name_len, hash_bytes(file, file_len, 0) * 0x100000001B3ull);
}

static uint64_t label_hash(const char *file, const char *name)
{
    return label_hash_n(file, strlen(file), name, strlen(name));
}

void moth_funcs_free(moth_funcs *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->items[i].file);
        free(t->items[i].name);
        free(t->items[i].qualname);
    }
    free(t->items);
    moth_map_free(&t->by_label);
    t->items = NULL;
    t->count = t->cap = 0;
}

int moth_func_is_builtin(const moth_func *f)
{
    return f->line == 0 && strcmp(f->file, "~") == 0;
}

/* Walks the probe sequence for a label: returns the index of the match, or MOTH_MAP_ABSENT with
 * *free_probe set to the first probe number that has no entry. Distinct labels whose hashes
 * collide take successive probe numbers. */
static uint32_t lookup_n(const moth_funcs *t, const char *file, size_t file_len, uint32_t line,
                         const char *name, size_t name_len, uint64_t h, uint64_t *free_probe)
{
    for (uint64_t probe = 0;; probe++) {
        uint32_t i = moth_map_get(&t->by_label, h, (uint64_t)line | probe << 32);
        if (i == MOTH_MAP_ABSENT) {
            if (free_probe)
                *free_probe = probe;
            return MOTH_MAP_ABSENT;
        }
        const moth_func *f = &t->items[i];
        if (f->line == line && strncmp(f->file, file, file_len) == 0 && f->file[file_len] == 0 &&
            strncmp(f->name, name, name_len) == 0 && f->name[name_len] == 0)
            return i;
    }
}

static uint32_t lookup(const moth_funcs *t, const char *file, uint32_t line, const char *name,
                       uint64_t *free_probe)
{
    return lookup_n(t, file, strlen(file), line, name, strlen(name), label_hash(file, name),
                    free_probe);
}

uint32_t moth_funcs_find(const moth_funcs *t, const char *file, uint32_t line, const char *name)
{
    return lookup(t, file, line, name, NULL);
}

int moth_funcs_intern_n(moth_funcs *t, const char *file, size_t file_len, uint32_t line,
                        const char *name, size_t name_len, uint32_t *index, moth_error *err)
{
    uint64_t probe, h = label_hash_n(file, file_len, name, name_len);
    uint32_t found = lookup_n(t, file, file_len, line, name, name_len, h, &probe);
    if (found != MOTH_MAP_ABSENT) {
        *index = found;
        return 0;
    }
    if (t->count >= MOTH_MAP_ABSENT - 1)
        return moth_fail(err, "too many functions in one profile");
    if (moth_grow((void **)&t->items, sizeof *t->items, &t->cap, t->count + 1, err) < 0)
        return -1;
    moth_func *f = &t->items[t->count];
    memset(f, 0, sizeof *f);
    f->line = line;
    f->file = moth_strndup(file, file_len, err);
    f->name = f->file ? moth_strndup(name, name_len, err) : NULL;
    if (!f->name || moth_map_put(&t->by_label, h, (uint64_t)line | probe << 32,
                                 (uint32_t)t->count, err) < 0) {
        free(f->file);
        free(f->name);
        return -1;
    }
    *index = (uint32_t)t->count++;
    return 0;
}

int moth_funcs_intern(moth_funcs *t, const char *file, uint32_t line, const char *name,
                      const char *qualname, uint32_t *index, moth_error *err)
{
    size_t before = t->count;
    if (moth_funcs_intern_n(t, file, strlen(file), line, name, strlen(name), index, err) < 0)
        return -1;
    /* A new function keeps the qualname it came with, when it says more than the name. It is
     * only for display: out of memory, the function simply goes without. */
    if (t->count != before && qualname && strcmp(qualname, name) != 0)
        t->items[*index].qualname = moth_strdup(qualname, NULL);
    return 0;
}
