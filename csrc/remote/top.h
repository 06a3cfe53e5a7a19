/*
 * top.h: the live view of `moth top`: where a program's time goes now.
 *
 * A sampler sink that tallies, per function and per line, the samples in which it was running
 * (own) and on the stack at all (total), both for the last refresh interval (the percentages:
 * what the program does now) and since the start (the times). Rendering is a pure function
 * of those tallies, so the terminal loop (cli_top.c) only feeds keys and writes frames.
 */
#ifndef MOTH_TOP_H
#define MOTH_TOP_H

#include "funcs.h"
#include "hashmap.h"
#include "sampler.h"
#include "strbuf.h"

typedef struct moth_top_row {
    uint32_t func;        /* index into moth_top.funcs */
    uint32_t line;        /* 0 for a whole function */
    uint64_t own_now, total_now;   /* this interval */
    uint64_t own_all, total_all;   /* since the start (or the last reset) */
} moth_top_row;

typedef enum moth_top_sort {
    MOTH_TOP_OWN_NOW = 0, MOTH_TOP_TOTAL_NOW, MOTH_TOP_OWN_ALL, MOTH_TOP_TOTAL_ALL,
} moth_top_sort;

typedef struct moth_top {
    moth_funcs funcs;
    moth_top_row *rows;
    size_t nrows, rows_cap;
    moth_map row_of;               /* (func, line) -> row */
    uint64_t samples_now, samples_all;  /* stacks tallied */
    uint64_t rounds_now, gil_rounds_now;
    int gil_seen;                  /* the current round met the GIL's holder */
    uint64_t threads_now;
    uint32_t *seen;                /* rows already counted in the current stack */
    size_t seen_cap;
    moth_error err;
} moth_top;

void moth_top_init(moth_top *t);
void moth_top_free(moth_top *t);
moth_sample_sink moth_top_sink(moth_top *t);

/* Starts a new interval (after a frame was drawn): the "now" tallies go back to zero. */
void moth_top_next_interval(moth_top *t);
/* Forgets everything tallied so far (the `r` key). */
void moth_top_reset(moth_top *t);

typedef struct moth_top_view {
    const char *title;     /* the first line: which process, which Python */
    double interval;       /* seconds per sample (to turn counts into times) */
    moth_top_sort sort;
    int lines;             /* rows per line instead of per function */
    int height, width;     /* of the terminal; 0 for no limit */
    int colour;
    uint64_t late, dropped;  /* sampler health shown in the header */
} moth_top_view;

/* One frame of the view, as text (no screen-clearing escapes: the caller adds those). */
void moth_top_render(const moth_top *t, const moth_top_view *v, moth_sb *out);

#endif
