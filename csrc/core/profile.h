/*
 * profile.h: one profile, everything a run collected.
 *
 * A profile is the function table, one calling-context tree per thread (kept apart; merge them
 * with moth_profile_merged_tree), the length of a clock tick, and run metadata as string pairs.
 * The deterministic profiler, the sampler and moth's file reader all produce this; the pstats
 * view, flame graphs and exports all read it. Node `func` fields index `funcs`.
 */
#ifndef MOTH_PROFILE_H
#define MOTH_PROFILE_H

#include "cct.h"
#include "common.h"
#include "funcs.h"
#include "lines.h"
#include "memory.h"
#include "process.h"

typedef struct moth_thread_profile {
    uint64_t id;   /* the thread's identifier as Python reports it (threading.get_ident()) */
    uint64_t native_id;
    char *name;    /* "MainThread", "Thread-1 (worker)", ...; may be NULL */
    moth_cct tree;
    uint32_t process; /* its process: an index into the profile's processes (when it has any) */
} moth_thread_profile;

typedef struct moth_meta_item {
    char *key;
    char *value;
} moth_meta_item;

typedef struct moth_profile {
    moth_funcs funcs;
    moth_thread_profile *threads;
    size_t nthreads, threads_cap;
    double tick_seconds;        /* seconds per tick of the trees' times */
    moth_lines lines;           /* line-level data, for the functions that were line-profiled */
    moth_memory memory;         /* memory profiling's data, when it ran (memory.h) */
    moth_meta_item *meta;       /* run metadata: command, python, clock, start, ... */
    size_t nmeta, meta_cap;
    /* The processes the threads ran in: one for a run, one per run read from a file of
     * several; none when nobody said (threads' process indexes then mean nothing). */
    moth_process *processes;
    size_t nprocesses, processes_cap;
} moth_profile;

void moth_profile_init(moth_profile *p);
void moth_profile_free(moth_profile *p);

/* Adds a thread with an empty tree; *out points into p->threads (valid until the next add). */
int moth_profile_add_thread(moth_profile *p, uint64_t id, const char *name,
                            moth_thread_profile **out, moth_error *err);

/* Adds a copy of proc to p's processes; *index (when not NULL) receives its index. Threads
 * added afterwards belong to it. */
int moth_profile_add_process(moth_profile *p, const moth_process *proc, uint32_t *index,
                             moth_error *err);

/* Sets (or replaces) a metadata value. */
int moth_profile_set_meta(moth_profile *p, const char *key, const char *value, moth_error *err);
/* The value for key, or NULL. */
const char *moth_profile_get_meta(const moth_profile *p, const char *key);

/* Adds src's nodes into dst along the same paths of *functions* (node keys in dst are the
 * function index + 1), so that two keys naming one function (two code objects with the same
 * label) become one node. Every node of src must have its func set. */
int moth_cct_add_by_func(moth_cct *dst, const moth_cct *src, moth_error *err);

/* Builds in *out the tree of all threads merged along identical paths (node keys become the
 * function index + 1, so threads that saw the same function merge). *out must be freed. */
int moth_profile_merged_tree(const moth_profile *p, moth_cct *out, moth_error *err);

/* The sum of the top-level calls' inclusive times over all threads, in seconds. */
double moth_profile_total_seconds(const moth_profile *p);

#endif
