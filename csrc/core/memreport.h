/*
 * memreport.h: the memory profile as text: the summary, a table by function like the time
 * profile's, and the call paths and lines that held the most.
 *
 * By function: `own` is what the function's own lines held, `cum` what it and everything it
 * called held (a function on a path more than once counts once, as cumulative time does).
 * The order is one of three measures: held at the peak (default), still held at the end
 * (leaks), allocated in total (churn).
 */
#ifndef MOTH_MEMREPORT_H
#define MOTH_MEMREPORT_H

#include "profile.h"
#include "strbuf.h"

typedef enum {
    MOTH_MEM_PEAK,       /* held when the process held the most */
    MOTH_MEM_LEAKED,     /* still held when profiling stopped */
    MOTH_MEM_ALLOCATED,  /* allocated in total */
} moth_mem_measure;

typedef struct moth_memreport_opts {
    moth_mem_measure order;
    size_t limit;        /* rows of each table; 0: all */
    int strip_dirs;      /* file names without their directories */
} moth_memreport_opts;

/* Parses "peak", "leaks" / "leaked", "allocated" (a unique prefix too). -1 with a message. */
int moth_mem_measure_parse(const char *word, moth_mem_measure *out, moth_error *err);

/* Writes the report of p's memory data. -1 with a message when p has none. */
int moth_memory_report(const moth_profile *p, const moth_memreport_opts *o, moth_sb *out,
                       moth_error *err);

/* Per function of p (index: the function; p->funcs.count: code outside any Python function),
 * the measure's own and cumulative bytes and own blocks. Arrays of p->funcs.count + 1. */
int moth_memory_by_function(const moth_profile *p, moth_mem_measure m, double *own,
                            double *cum, double *own_count, moth_error *err);

/* A copy of p whose trees weigh bytes instead of time: each node's `self` is what its lines
 * hold (or held, or allocated: the measure's bytes), `total` its subtree's, `calls` the blocks,
 * tick_seconds 1 and the meta "weight" = "bytes", so that flame graphs and exports draw memory
 * with the code that draws time. Allocations outside Python code weigh on a node of their own,
 * "(outside Python code)". *out must be freed. */
int moth_memory_weighted_profile(const moth_profile *p, moth_mem_measure m, moth_profile *out,
                                 moth_error *err);

/* 1 when p's weights are bytes (moth_memory_weighted_profile), 0 when they are time. */
int moth_profile_weighs_bytes(const moth_profile *p);

#endif
