/*
 * funcs.h: the table of functions a profile talks about.
 *
 * A function is known by its pstats label: (file, first line, name), exactly the key pstats
 * uses. C functions follow cProfile: file "~", line 0, and a name such as
 * "<built-in method builtins.len>" or "<method 'append' of 'list' objects>". Two code objects
 * with the same label (a module executed twice, say) are one function here, as in pstats.
 * Everything else in the core refers to functions by their index in this table.
 */
#ifndef MOTH_FUNCS_H
#define MOTH_FUNCS_H

#include "common.h"
#include "hashmap.h"

typedef struct moth_func {
    char *file;      /* co_filename, or "~" for a C function */
    char *name;      /* co_name, or cProfile's rendering of a C function */
    char *qualname;  /* co_qualname where known (for pictures); NULL means use name */
    uint32_t line;   /* co_firstlineno, or 0 for a C function */
} moth_func;

typedef struct moth_funcs {
    moth_func *items;
    size_t count, cap;
    moth_map by_label; /* (hash of file and name, line | probe << 32) -> index */
} moth_funcs;

#define MOTH_FUNCS_INIT {NULL, 0, 0, MOTH_MAP_INIT}

void moth_funcs_free(moth_funcs *t);

/* The index of the function with this label, adding it when new (qualname may be NULL; it is
 * kept from the first add). Returns 0 and sets *index, or -1 when out of memory. */
int moth_funcs_intern(moth_funcs *t, const char *file, uint32_t line, const char *name,
                      const char *qualname, uint32_t *index, moth_error *err);

/* As moth_funcs_intern, with file and name given as byte ranges (not NUL-terminated). */
int moth_funcs_intern_n(moth_funcs *t, const char *file, size_t file_len, uint32_t line,
                        const char *name, size_t name_len, uint32_t *index, moth_error *err);

/* The index of the function with this label, or MOTH_MAP_ABSENT. */
uint32_t moth_funcs_find(const moth_funcs *t, const char *file, uint32_t line, const char *name);

/* 1 when the function is a C function (cProfile's "~" file). */
int moth_func_is_builtin(const moth_func *f);

/* 64-bit FNV-1a of a NUL-terminated string, chained from `seed` (use 0 to start). */
uint64_t moth_strhash(const char *s, uint64_t seed);

#endif
