/*
 * memtrack.h: the memory profiler's recorder: live allocations, where they were made, the
 * peak, and memory over time.
 *
 * An allocation is made at a site: a (thread, calling-context node, code unit) triple the
 * caller names (the profiler's thread, the node the thread is in, the instruction it runs).
 * Each site counts what it holds now, what it held when the whole process held the most (the
 * peak), and what it allocated in total. A live-allocation table keyed by address finds the
 * site and size of a block when it is freed; frees of blocks the recorder never saw (made
 * before profiling began, or not sampled) are ignored, so nothing is ever counted negative.
 *
 * The peak is tracked incrementally, without copying anything when it moves: the recorder
 * counts peaks (an epoch), and a site remembers the epoch of its last change. A site unchanged
 * since the last peak holds now what it held then; a site about to change after a newer peak
 * first saves its current values as its values at the peak. So each event costs O(1) whatever
 * the number of sites, and the values at the peak are exact.
 *
 * Sampled mode (sample_bytes > 0) records an allocation of s bytes with probability
 * 1 - exp(-s / sample_bytes) (a Poisson process over allocated bytes, as in tracemalloc's and
 * heapprofd's sampling) and counts it as s / p bytes and 1 / p allocations: unbiased estimates
 * of bytes and counts, at a fraction of the events' cost. The caller draws the decision (it
 * keeps each thread's countdown); the recorder weighs what it is given.
 *
 * Memory over time: every `interval` nanoseconds (checked every 64 events, and on every large
 * allocation) a sample records the time, the bytes held and the sites changed since the last
 * sample with their bytes now, so the bytes of every site at every sample can be replayed.
 * When `max_samples` are taken, pairs of samples merge and the interval doubles: the timeline
 * always covers the whole run at a bounded cost.
 *
 * Bounded: the table holds at most max_live allocations (in at most max_live / 16 windows of
 * 512 bytes: 1 GiB by default); beyond that new allocations are
 * counted as untracked (bytes and count) and not recorded. moth_memtrack_own_bytes tells what
 * the recorder itself uses.
 *
 * Not thread-safe by itself: callers hold a lock around each call (moth_spin_lock below: the
 * critical sections are a few hash-table operations).
 */
#ifndef MOTH_MEMTRACK_H
#define MOTH_MEMTRACK_H

#include <sched.h>

#include "common.h"
#include "hashmap.h"

typedef struct moth_mem_site {
    uint32_t thread;        /* the caller's thread index */
    uint32_t node;          /* calling-context node in that thread's tree */
    int32_t unit;           /* code unit of the instruction, or -1 when unknown */
    uint32_t sample;        /* the timeline sample this site last changed in */
    uint64_t epoch;         /* the peak epoch of its last change */
    int64_t bytes;          /* held now */
    double count;           /* blocks held now */
    int64_t peak_bytes;     /* held at the peak (valid when epoch != the recorder's epoch) */
    double peak_count;
    uint64_t alloc_bytes;   /* allocated in total (churn) */
    double alloc_count;
} moth_mem_site;

/* A live block's record: its address, size and site (the hooks keep one across a realloc). */
typedef struct moth_mem_live {
    uintptr_t addr;         /* 0: empty slot */
    uint64_t size_site;     /* size << 24 | site */
} moth_mem_live;

/* The live blocks are found by address in windows: a window covers 1 KiB of the address space,
 * one 8-byte slot per 16-byte unit (every allocator moth hooks returns 16-byte aligned blocks),
 * so a block's slot is found without probing, and neighbouring blocks, which programs make and
 * free together, share the window's cache lines. A radix tree over the window's number (three
 * levels, like the page tables: top, middle, leaf) finds the window; its upper levels are few
 * and stay in the cache, a leaf covers 512 KiB. Blocks at addresses that are not 16-byte aligned
 * (or above 2^48) go to a plain open-addressing table (`odd`). */
#define MOTH_MEM_WINDOW_SHIFT 10
#define MOTH_MEM_WINDOW_SLOTS 64
typedef struct moth_mem_window {
    uint64_t slot[MOTH_MEM_WINDOW_SLOTS]; /* (size << 24 | site) + 1; 0: empty */
} moth_mem_window;

#define MOTH_MEM_LEAF_BITS 9              /* a leaf: 4 KiB, for 512 KiB of address space */
#define MOTH_MEM_MID_BITS 13              /* a middle node: 64 KiB, for 4 GiB */
#define MOTH_MEM_TOP_BITS 16              /* 10 + 9 + 13 + 16 = 48 address bits */
typedef struct moth_mem_leaf {
    struct {
        uint32_t window;    /* index + 1; 0: none */
        uint32_t count;     /* live blocks in it */
    } at[1 << MOTH_MEM_LEAF_BITS];
} moth_mem_leaf;

typedef struct moth_mem_mid {
    moth_mem_leaf *leaf[1 << MOTH_MEM_MID_BITS];
} moth_mem_mid;

#define MOTH_MEM_MAX_SITES ((1u << 24) - 1)
#define MOTH_MEM_MAX_SIZE ((UINT64_C(1) << 40) - 1) /* larger blocks count as this */

static inline uint64_t moth_mem_live_size(const moth_mem_live *e)
{
    return e->size_site >> 24;
}

static inline uint32_t moth_mem_live_site(const moth_mem_live *e)
{
    return (uint32_t)(e->size_site & MOTH_MEM_MAX_SITES);
}

typedef struct moth_mem_sample {
    uint64_t time_ns;       /* since the recorder started */
    int64_t bytes;          /* held then */
    int64_t high;           /* the most held since the sample before */
    size_t first_delta;     /* its changes: deltas[first_delta .. next sample's first_delta) */
} moth_mem_sample;

typedef struct moth_mem_delta {
    uint32_t site;
    int64_t bytes;          /* the site's bytes at that sample */
} moth_mem_delta;

typedef struct moth_memtrack {
    /* live allocations (see moth_mem_window) */
    moth_mem_mid **top;     /* 1 << MOTH_MEM_TOP_BITS entries */
    size_t node_bytes;      /* of the middle and leaf nodes made */
    moth_mem_window **chunks; /* windows, by chunks of 256 (mapped) */
    size_t nchunks, chunks_cap, nwindows, max_windows;
    uint32_t free_window;   /* first reusable window + 1 (linked through slot[0]); 0: none */
    moth_mem_live *odd;     /* blocks not 16-byte aligned: linear probing, backward shift
                               (size_site + 1: 0 marks a slot just made) */
    size_t odd_mask, odd_count;
    size_t live_count, max_live;
    /* sites */
    moth_mem_site *sites;
    size_t nsites, sites_cap;
    moth_map site_of;       /* (thread << 32 | node, unit + 1) -> site */
    /* totals */
    int64_t bytes;          /* held now */
    double count;
    int64_t peak_bytes;     /* the high-water mark ... */
    uint64_t peak_time_ns;  /* ... and when it was reached (since start) */
    int peak_pending;       /* peak_time_ns not read yet for the latest peak */
    uint64_t epoch;         /* peaks reached so far */
    int64_t high;           /* the most held since the last timeline sample */
    uint64_t alloc_bytes;   /* allocated in total */
    double alloc_count;
    uint64_t untracked_bytes, untracked_count; /* not recorded: the table was full */
    uint64_t sample_bytes;  /* sampled mode: the mean bytes between samples; 0: every one */
    /* memory over time */
    uint64_t start_ns;
    uint64_t interval_ns, next_sample_ns;
    unsigned events;        /* since the clock was last read ... */
    uint64_t clock_ns;      /* ... and what it said then (since start) */
    moth_mem_sample *samples;
    size_t nsamples, samples_cap, max_samples;
    moth_mem_delta *deltas;
    size_t ndeltas, deltas_cap;
    uint32_t *dirty;        /* sites changed since the last sample */
    size_t ndirty, dirty_cap;
    int failed;             /* out of memory in the recorder: some data is missing */
    /* checkpoints: a new peak at or above checkpoint_bytes (0: none) sets checkpoint_due, and
     * so does a timeline sample at or after checkpoint_after_ns (since the start) that finds
     * the peak above checkpoint_peak (what the last checkpoint saved); the caller saves what
     * it needs and sets the next marks */
    int64_t checkpoint_bytes, checkpoint_peak;
    uint64_t checkpoint_after_ns;
    int checkpoint_due;
} moth_memtrack;

/* Prepares an empty recorder. max_live: the largest number of live allocations kept (0: the
 * default, 32M; windows are bounded to max_live / 16); sample_bytes: 0 to record every allocation, else the sampling mean. */
int moth_memtrack_init(moth_memtrack *t, size_t max_live, uint64_t sample_bytes,
                       moth_error *err);
void moth_memtrack_free(moth_memtrack *t);

#if defined(__x86_64__) || defined(__i386__)
#  define MOTH_CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#  define MOTH_CPU_RELAX() __asm__ __volatile__("yield")
#else
#  define MOTH_CPU_RELAX() ((void)0)
#endif

/* Spins briefly, then yields: the holder may have been preempted (more threads than cores). */
static inline void moth_spin_lock(int *lock)
{
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE)) {
        for (unsigned spins = 0; __atomic_load_n(lock, __ATOMIC_RELAXED); spins++) {
            if (spins < 128)
                MOTH_CPU_RELAX();
            else
                sched_yield();
        }
    }
}

static inline void moth_spin_unlock(int *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* The site for (thread, node, unit), created when new; UINT32_MAX when memory ran out. */
uint32_t moth_memtrack_site(moth_memtrack *t, uint32_t thread, uint32_t node, int32_t unit);

/* A block of `size` bytes at addr, made at `site` (in sampled mode: a sampled block, weighed
 * by moth_memtrack_sample_weight). A block recorded at the same address before (its free was
 * missed: made or freed while profiling was off) is replaced. */
void moth_memtrack_alloc(moth_memtrack *t, uintptr_t addr, uint64_t size, uint32_t site);

/* The block at addr is freed. 1 when it was recorded (now forgotten), 0 when unknown. Its
 * record goes to *was when was is not NULL (a failed realloc gives it back with
 * moth_memtrack_alloc, from moth_mem_live_size and moth_mem_live_site). */
int moth_memtrack_free_block(moth_memtrack *t, uintptr_t addr, moth_mem_live *was);

/* What a block of `size` bytes counts for, so that sums are unbiased: size / p bytes and
 * 1 / p blocks, p = 1 - exp(-size / sample_bytes) (its chance of being sampled); size and 1
 * when every allocation is recorded (sample_bytes 0). */
void moth_memtrack_sample_weight(uint64_t sample_bytes, uint64_t size, uint64_t *weight_bytes,
                                 double *weight);

/* Takes a timeline sample now (the end of a run), whatever the interval. */
void moth_memtrack_sample_now(moth_memtrack *t);

/* A site's bytes and count at the peak. */
static inline int64_t moth_mem_site_peak_bytes(const moth_memtrack *t, const moth_mem_site *s)
{
    return s->epoch < t->epoch ? s->bytes : s->peak_bytes;
}

static inline double moth_mem_site_peak_count(const moth_memtrack *t, const moth_mem_site *s)
{
    return s->epoch < t->epoch ? s->count : s->peak_count;
}

/* Bytes the recorder itself holds (tables, sites, timeline). */
size_t moth_memtrack_own_bytes(const moth_memtrack *t);

#endif
