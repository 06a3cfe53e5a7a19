/*
 * lines.h: line-level data of a profile: per function, per line, hits and time.
 *
 * A line's time runs from its line event to the next line event of the same activation, so
 * the functions a line calls count in that line, as line_profiler counts them. Times are in
 * ticks of the profile's clock. Functions are the profile's (index into its function table).
 */
#ifndef MOTH_LINES_H
#define MOTH_LINES_H

#include "common.h"
#include "hashmap.h"
#include "strbuf.h"

typedef struct moth_line {
    uint32_t line;
    uint64_t hits;
    uint64_t time;
} moth_line;

typedef struct moth_func_lines {
    uint32_t func;          /* index in the profile's function table */
    uint32_t last_line;     /* the function's last line (for showing its whole source) */
    moth_line *lines;       /* sorted by line once moth_lines_finish has run */
    size_t nlines, cap;
} moth_func_lines;

typedef struct moth_lines {
    moth_func_lines *funcs;
    size_t count, cap;
    moth_map by_func;       /* (func, 0) -> index in funcs; (func, line + 1) -> line index */
} moth_lines;

void moth_lines_init(moth_lines *l);
void moth_lines_free(moth_lines *l);

/* Adds hits and time to a line of a function (creating both when new). */
int moth_lines_add(moth_lines *l, uint32_t func, uint32_t line, uint64_t hits, uint64_t time,
                   moth_error *err);
/* Records the function's last line (the larger of what was recorded and `last_line`). */
int moth_lines_set_last(moth_lines *l, uint32_t func, uint32_t last_line, moth_error *err);
/* The function's line data, or NULL. */
const moth_func_lines *moth_lines_of(const moth_lines *l, uint32_t func);
/* Sorts each function's lines by line number (call before reading them in order). */
void moth_lines_finish(moth_lines *l);
/* Sum of a function's line times, in ticks. */
uint64_t moth_func_lines_total(const moth_func_lines *f);

#endif
