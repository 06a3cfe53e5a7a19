/*
 * memory.h: what a memory profile holds, in a profile (profile.h).
 *
 * Rows: per thread, per calling-context node of that thread's tree, per line of the node's
 * function, the bytes and blocks held at the peak (the moment the process held the most),
 * held at the end (leaks: still allocated when profiling stopped) and allocated in total
 * (churn). Line 0: the line is not known (an allocation outside any Python frame is a row of
 * the tree's root). Counts are doubles: estimates in sampled mode, whole numbers otherwise.
 *
 * Memory over time: points (time, bytes held, the most held since the point before), each
 * with the rows that changed since the point before and their bytes then; replaying the
 * changes up to a point gives every row's bytes at that moment (the flame graph's "moment").
 */
#ifndef MOTH_MEMORY_H
#define MOTH_MEMORY_H

#include "common.h"
#include "hashmap.h"

typedef struct moth_mem_row {
    uint32_t thread;       /* index into the profile's threads */
    uint32_t node;         /* node of that thread's tree */
    uint32_t line;         /* 0: unknown */
    uint64_t peak_bytes, leaked_bytes, alloc_bytes;
    double peak_count, leaked_count, alloc_count;
} moth_mem_row;

typedef struct moth_mem_point {
    double time;           /* seconds since profiling began */
    uint64_t bytes;        /* held then */
    uint64_t high;         /* the most held since the point before */
    size_t first_change;   /* changes[first_change .. the next point's first_change) */
} moth_mem_point;

typedef struct moth_mem_change {
    uint32_t row;
    uint64_t bytes;        /* the row's bytes at that point */
} moth_mem_change;

typedef struct moth_memory {
    int recorded;          /* the profile has memory data */
    moth_mem_row *rows;
    size_t nrows, rows_cap;
    moth_map row_of;       /* (thread << 32 | node, line) -> row */
    uint64_t peak_bytes;   /* the high-water mark of all rows together */
    double peak_time;      /* seconds since profiling began */
    uint64_t sample_bytes; /* sampled mode's mean bytes between samples; 0: every allocation */
    uint64_t untracked_bytes, untracked_count; /* left out: the recorder's table was full */
    uint64_t own_bytes;    /* what the recorder itself used */
    moth_mem_point *points;
    size_t npoints, points_cap;
    moth_mem_change *changes;
    size_t nchanges, changes_cap;
} moth_memory;

void moth_memory_init(moth_memory *m);
void moth_memory_free(moth_memory *m);

/* The row of (thread, node, line), created empty when new; -1 when out of memory. */
int moth_memory_row(moth_memory *m, uint32_t thread, uint32_t node, uint32_t line,
                    uint32_t *row, moth_error *err);

/* Adds the values of `add` into row `row` (its thread, node and line are not used). */
void moth_memory_add(moth_memory *m, uint32_t row, const moth_mem_row *add);

/* Appends a point; its changes are appended with moth_memory_add_change after it. */
int moth_memory_add_point(moth_memory *m, double time, uint64_t bytes, uint64_t high,
                          moth_error *err);
int moth_memory_add_change(moth_memory *m, uint32_t row, uint64_t bytes, moth_error *err);

/* Totals over all rows. */
void moth_memory_totals(const moth_memory *m, moth_mem_row *sum);

/* Parses a size such as "24 MB", "1.5GiB", "512k" or "1000" (bytes; K/M/G/T with or without
 * B or iB are powers of 1024, as pytest-memray reads them). 0, or -1 with a message. */
int moth_parse_bytes(const char *text, uint64_t *bytes, moth_error *err);

/* "1.5 MiB", "512 B": a size for people, into buf. */
void moth_format_bytes(char *buf, size_t size, double bytes);

#endif
