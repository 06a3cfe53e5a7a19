/*
 * cct.h: the calling-context tree of one thread.
 *
 * A node is a function reached along one exact path of calls from the root: (parent node,
 * function). The tree is what flame graphs draw and what the pstats view is folded from
 * (pstats.c), so both are exact rather than guessed from caller edges.
 *
 * Collectors identify a function by an opaque, non-zero 64-bit key (the profiler uses a code
 * object's address; 0 is the root's); `func` is filled in later, when keys are resolved into the function table. Times
 * are in ticks of the profile's clock (see profile.h for the tick length).
 *
 * Two ways to fill a tree:
 *  - a deterministic profiler adds `calls` and `total` per activation and calls
 *    moth_cct_finish_from_totals() once, which derives `self` = total - children's totals;
 *  - a sampler adds `self` to the leaf of each sample and calls moth_cct_finish_from_selfs(),
 *    which derives `total` = self + children's totals.
 */
#ifndef MOTH_CCT_H
#define MOTH_CCT_H

#include "common.h"
#include "hashmap.h"

#define MOTH_NODE_NONE UINT32_MAX
#define MOTH_CCT_ROOT 0u

typedef struct moth_cct_node {
    uint64_t key;          /* the collector's identity for the function; 0 for the root */
    uint64_t calls;        /* activations of this node */
    union {
        uint64_t inline_calls; /* deterministic: of those, calls CPython would have inlined
                                  (Python to Python) without the profiler; they cost it more
                                  (overhead subtraction) */
        uint64_t own_samples;  /* sampled: samples taken with this node innermost, counted
                                  exactly whatever each merged run's tick (self is in the
                                  first run's ticks) */
    };
    uint64_t total;        /* inclusive ticks */
    uint64_t self;         /* exclusive ticks */
    uint64_t start;        /* collector's scratch: when the running activation began */
    uint64_t last_key;     /* one-entry cache: the key of the child looked up last ... */
    uint32_t last_child;   /* ... and that child */
    uint32_t parent;       /* MOTH_NODE_NONE for the root */
    uint32_t func;         /* index into the function table, once resolved */
    uint32_t first_child;  /* children as a list, newest first */
    uint32_t next_sibling;
    uint32_t depth;        /* root is 0 */
    uint32_t aux;          /* collector's use: the line-profiling table of the node's code + 1,
                              0 when the code is not line-profiled */
} moth_cct_node;

typedef struct moth_cct {
    moth_cct_node *nodes;  /* nodes[0] is the root */
    size_t count, cap;
    size_t max_nodes;      /* beyond this, moth_cct_child refuses (returns MOTH_NODE_NONE) */
    moth_map children;     /* (parent, key) -> child, behind the per-node cache */
} moth_cct;

/* Creates an empty tree holding only the root. */
int moth_cct_init(moth_cct *t, moth_error *err);
void moth_cct_free(moth_cct *t);

uint32_t moth_cct_child_slow(moth_cct *t, uint32_t parent, uint64_t key);

/* The child of `parent` for function `key`, created when new. MOTH_NODE_NONE when the tree is
 * full (max_nodes) or memory ran out: callers then leave that activation out. The pointer to
 * nodes may move when a node is created, so hold indexes, not pointers, across this call. */
static inline uint32_t moth_cct_child(moth_cct *t, uint32_t parent, uint64_t key)
{
    moth_cct_node *p = &t->nodes[parent];
    if (MOTH_LIKELY(p->last_key == key))
        return p->last_child;
    return moth_cct_child_slow(t, parent, key);
}

/* Finds the child without creating it; MOTH_NODE_NONE when absent. */
uint32_t moth_cct_find_child(const moth_cct *t, uint32_t parent, uint64_t key);

/* Adds a node for (parent, key) when absent (the merge and file readers' path). */
int moth_cct_add_child(moth_cct *t, uint32_t parent, uint64_t key, uint32_t *child,
                       moth_error *err);

/* self = total - sum of the children's totals (clamped at 0), for every node. */
void moth_cct_finish_from_totals(moth_cct *t);
/* total = self + sum of the children's totals, for every node. */
void moth_cct_finish_from_selfs(moth_cct *t);

/* Removes a deterministic profiler's own cost from a finished tree (totals and selfs set).
 * Each recorded activation costs `inner` ticks inside its own measured interval and, outside
 * it, in its caller's, `outer_inline` ticks if it is one of the node's inline_calls, else
 * `outer_other`. So a node loses calls*inner + (the outer and inner costs of every activation
 * below it) from its total, and calls*inner + (its children's outer costs) from its self time.
 * Results are clamped at 0, and a node never keeps less than its children's totals. */
void moth_cct_subtract_overhead(moth_cct *t, double inner, double outer_inline,
                                double outer_other);

/* Makes dst an independent copy of src (nodes and lookup index). */
int moth_cct_copy(moth_cct *dst, const moth_cct *src, moth_error *err);

/* Adds every node of src into dst along the same path (matched by key), summing calls, total
 * and self. Used to merge threads and runs. Keys must mean the same function in both. */
int moth_cct_merge(moth_cct *dst, const moth_cct *src, moth_error *err);

#endif
