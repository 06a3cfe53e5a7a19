/* lines.c: line-level profile data; see lines.h. */
#include "lines.h"

#include <stdlib.h>
#include <string.h>

void moth_lines_init(moth_lines *l)
{
    memset(l, 0, sizeof *l);
}

void moth_lines_free(moth_lines *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->funcs[i].lines);
    free(l->funcs);
    moth_map_free(&l->by_func);
    moth_lines_init(l);
}

static moth_func_lines *func_entry(moth_lines *l, uint32_t func, moth_error *err)
{
    uint32_t i = moth_map_get(&l->by_func, func, 0);
    if (i != MOTH_MAP_ABSENT)
        return &l->funcs[i];
    if (moth_grow((void **)&l->funcs, sizeof *l->funcs, &l->cap, l->count + 1, err) < 0 ||
        moth_map_put(&l->by_func, func, 0, (uint32_t)l->count, err) < 0)
        return NULL;
    moth_func_lines *f = &l->funcs[l->count++];
    memset(f, 0, sizeof *f);
    f->func = func;
    return f;
}

int moth_lines_add(moth_lines *l, uint32_t func, uint32_t line, uint64_t hits, uint64_t time,
                   moth_error *err)
{
    moth_func_lines *f = func_entry(l, func, err);
    if (!f)
        return -1;
    uint32_t i = moth_map_get(&l->by_func, func, (uint64_t)line + 1);
    if (i == MOTH_MAP_ABSENT) {
        if (moth_grow((void **)&f->lines, sizeof *f->lines, &f->cap, f->nlines + 1, err) < 0 ||
            moth_map_put(&l->by_func, func, (uint64_t)line + 1, (uint32_t)f->nlines, err) < 0)
            return -1;
        i = (uint32_t)f->nlines++;
        f->lines[i].line = line;
        f->lines[i].hits = 0;
        f->lines[i].time = 0;
    }
    f->lines[i].hits += hits;
    f->lines[i].time += time;
    if (line > f->last_line)
        f->last_line = line;
    return 0;
}

int moth_lines_set_last(moth_lines *l, uint32_t func, uint32_t last_line, moth_error *err)
{
    moth_func_lines *f = func_entry(l, func, err);
    if (!f)
        return -1;
    if (last_line > f->last_line)
        f->last_line = last_line;
    return 0;
}

const moth_func_lines *moth_lines_of(const moth_lines *l, uint32_t func)
{
    uint32_t i = moth_map_get(&l->by_func, func, 0);
    return i == MOTH_MAP_ABSENT ? NULL : &l->funcs[i];
}

static int by_line(const void *a, const void *b)
{
    const moth_line *x = a, *y = b;
    return x->line < y->line ? -1 : x->line > y->line;
}

void moth_lines_finish(moth_lines *l)
{
    for (size_t i = 0; i < l->count; i++) {
        moth_func_lines *f = &l->funcs[i];
        moth_qsort(f->lines, f->nlines, sizeof *f->lines, by_line);
        for (size_t k = 0; k < f->nlines; k++) /* the index follows the new order */
            moth_map_put(&l->by_func, f->func, (uint64_t)f->lines[k].line + 1, (uint32_t)k, NULL);
    }
}

uint64_t moth_func_lines_total(const moth_func_lines *f)
{
    uint64_t t = 0;
    for (size_t i = 0; i < f->nlines; i++)
        t += f->lines[i].time;
    return t;
}
