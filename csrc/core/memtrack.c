/* memtrack.c: live allocations, sites, the peak and the timeline; see memtrack.h. */
#include "memtrack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"

#define DEFAULT_MAX_LIVE (32u << 20)
#define FIRST_LIVE_BITS 14
#define MAX_SITES MOTH_MEM_MAX_SITES
#define DEFAULT_INTERVAL_NS 10000000u  /* 10 ms between samples, at first */
#define DEFAULT_MAX_SAMPLES 1024u
#define MAX_DELTAS (4u << 20)
#define CHECK_EVERY 64u                /* events between looks at the clock */
#define BIG_BLOCK (1u << 20)           /* a block this large looks at the clock at once */

/* The table of live blocks is mapped, not malloc'd: a large block freed by the recorder would
 * raise glibc's mmap threshold and change how the program's own blocks are placed. */
static moth_mem_live *table_new(size_t cap)
{
    void *p = mmap(NULL, cap * sizeof(moth_mem_live), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p; /* zero-filled */
}

static void table_free(moth_mem_live *table, size_t cap)
{
    if (table)
        munmap(table, cap * sizeof *table);
}

int moth_memtrack_init(moth_memtrack *t, size_t max_live, uint64_t sample_bytes,
                       moth_error *err)
{
    memset(t, 0, sizeof *t);
    t->max_live = max_live ? max_live : DEFAULT_MAX_LIVE;
    t->sample_bytes = sample_bytes;
    size_t cap = (size_t)1 << FIRST_LIVE_BITS;
    t->live = table_new(cap);
    if (!t->live)
        return moth_fail(err, "out of memory (the memory profiler's table)");
    t->live_mask = cap - 1;
    t->start_ns = moth_monotonic_ns();
    t->interval_ns = DEFAULT_INTERVAL_NS;
    t->next_sample_ns = DEFAULT_INTERVAL_NS;
    t->max_samples = DEFAULT_MAX_SAMPLES;
    return 0;
}

void moth_memtrack_free(moth_memtrack *t)
{
    table_free(t->live, t->live ? t->live_mask + 1 : 0);
    free(t->sites);
    moth_map_free(&t->site_of);
    free(t->samples);
    free(t->deltas);
    free(t->dirty);
    memset(t, 0, sizeof *t);
}

size_t moth_memtrack_own_bytes(const moth_memtrack *t)
{
    return (t->live_mask + 1) * sizeof *t->live + t->sites_cap * sizeof *t->sites +
           (t->site_of.mask + 1) * sizeof *t->site_of.slots * (t->site_of.slots != NULL) +
           t->samples_cap * sizeof *t->samples + t->deltas_cap * sizeof *t->deltas +
           t->dirty_cap * sizeof *t->dirty;
}

/* ---- live allocations ---- */

/* Where a block's probe starts. Blocks are 16-byte aligned; the blocks of one 1 KiB window of
 * the address space keep their order in 64 consecutive slots (neighbouring objects, made and
 * freed together, share the table's cache lines), and windows are spread by a hash. */
static inline size_t home_of(const moth_memtrack *t, uintptr_t addr)
{
    uint64_t unit = (uint64_t)addr >> 4;
    uint64_t h = (unit >> 6) * 0x9E3779B97F4A7C15ull;
    return (size_t)(((h >> 29) << 6) + (unit & 63)) & t->live_mask;
}

static void live_put(moth_mem_live *table, size_t mask, const moth_mem_live *e, size_t home)
{
    size_t i = home & mask;
    while (table[i].addr)
        i = (i + 1) & mask;
    table[i] = *e;
}

/* Doubles the table; 0, or -1 when out of memory (the table is unchanged). */
static int live_grow(moth_memtrack *t)
{
    size_t cap = (t->live_mask + 1) * 2;
    moth_mem_live *table = table_new(cap);
    if (!table)
        return -1;
    moth_mem_live *old = t->live;
    size_t old_cap = t->live_mask + 1;
    t->live = table;
    t->live_mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].addr)
            live_put(table, t->live_mask, &old[i], home_of(t, old[i].addr));
    table_free(old, old_cap);
    return 0;
}

/* ---- sites and the peak ---- */

uint32_t moth_memtrack_site(moth_memtrack *t, uint32_t thread, uint32_t node, int32_t unit)
{
    uint64_t a = (uint64_t)thread << 32 | node, b = (uint64_t)(uint32_t)(unit + 1);
    uint32_t s = moth_map_get(&t->site_of, a, b);
    if (s != MOTH_MAP_ABSENT)
        return s;
    if (t->nsites >= MAX_SITES ||
        moth_grow((void **)&t->sites, sizeof *t->sites, &t->sites_cap, t->nsites + 1, NULL) < 0)
        goto fail;
    s = (uint32_t)t->nsites;
    if (moth_map_put(&t->site_of, a, b, s, NULL) < 0)
        goto fail;
    t->nsites++;
    moth_mem_site *site = &t->sites[s];
    memset(site, 0, sizeof *site);
    site->thread = thread;
    site->node = node;
    site->unit = unit;
    site->epoch = t->epoch; /* it held nothing at any earlier peak */
    return s;
fail:
    t->failed = 1;
    return UINT32_MAX;
}

/* Before a site changes: its values at the last peak are its values now if it has not changed
 * since; and the timeline must know it changed. */
static inline void touch(moth_memtrack *t, moth_mem_site *s, uint32_t index)
{
    if (s->epoch < t->epoch) {
        s->peak_bytes = s->bytes;
        s->peak_count = s->count;
        s->epoch = t->epoch;
    }
    uint32_t pending = (uint32_t)t->nsamples + 1;
    if (s->sample != pending) {
        s->sample = pending;
        if (moth_grow((void **)&t->dirty, sizeof *t->dirty, &t->dirty_cap, t->ndirty + 1,
                      NULL) == 0)
            t->dirty[t->ndirty++] = index;
        else
            t->failed = 1;
    }
}

static inline uint64_t since_start(const moth_memtrack *t)
{
    return moth_monotonic_ns() - t->start_ns;
}

/* Every CHECK_EVERY events (and at once for a large block) the clock is read: a timeline sample
 * may be due, and a new peak gets its time. */
static void maybe_sample(moth_memtrack *t, uint64_t bytes)
{
    if (++t->events < CHECK_EVERY && bytes < BIG_BLOCK)
        return;
    t->events = 0;
    uint64_t now = since_start(t);
    t->clock_ns = now;
    if (t->peak_pending) {
        t->peak_time_ns = now;
        t->peak_pending = 0;
    }
    if (now >= t->next_sample_ns)
        moth_memtrack_sample_now(t);
}

/* What a recorded block of `size` bytes weighs (see moth_memtrack_sample_weight). */
static inline void weigh(const moth_memtrack *t, uint64_t size, uint64_t *bytes, double *count)
{
    if (MOTH_LIKELY(!t->sample_bytes)) {
        *bytes = size;
        *count = 1.0;
    } else {
        moth_memtrack_sample_weight(t->sample_bytes, size, bytes, count);
    }
}

/* A site loses a block (freed, or replaced unseen). */
static inline void drop(moth_memtrack *t, const moth_mem_live *e)
{
    uint64_t bytes;
    double count;
    weigh(t, moth_mem_live_size(e), &bytes, &count);
    uint32_t site = moth_mem_live_site(e);
    moth_mem_site *s = &t->sites[site];
    touch(t, s, site);
    s->bytes -= (int64_t)bytes;
    s->count -= count;
    t->bytes -= (int64_t)bytes;
    t->count -= count;
}

void moth_memtrack_alloc(moth_memtrack *t, uintptr_t addr, uint64_t size, uint32_t site)
{
    if (size > MOTH_MEM_MAX_SIZE)
        size = MOTH_MEM_MAX_SIZE;
    uint64_t bytes;
    double count;
    weigh(t, size, &bytes, &count);
    if (site == UINT32_MAX || t->live_count >= t->max_live ||
        ((t->live_count + 1) * 4 > (t->live_mask + 1) * 3 && live_grow(t) < 0)) {
        t->untracked_bytes += bytes;
        t->untracked_count++;
        return;
    }
    size_t i = home_of(t, addr);
    while (t->live[i].addr && t->live[i].addr != addr)
        i = (i + 1) & t->live_mask;
    if (MOTH_UNLIKELY(t->live[i].addr == addr)) {
        drop(t, &t->live[i]); /* a stale record: that block was freed unseen */
        t->live_count--;
    }
    t->live[i] = (moth_mem_live){addr, size << 24 | site};
    t->live_count++;
    moth_mem_site *s = &t->sites[site];
    touch(t, s, site);
    s->bytes += (int64_t)bytes;
    s->count += count;
    s->alloc_bytes += bytes;
    s->alloc_count += count;
    t->bytes += (int64_t)bytes;
    t->count += count;
    t->alloc_bytes += bytes;
    t->alloc_count += count;
    if (t->bytes > t->high) {
        t->high = t->bytes;
        if (t->bytes > t->peak_bytes) {
            /* a new high-water mark: its time is read with the clock's next look, or is the
             * last look's when a free leaves it first (at most CHECK_EVERY events before) */
            t->peak_bytes = t->bytes;
            t->epoch++;
            t->peak_pending = 1;
        }
    }
    maybe_sample(t, bytes);
}

int moth_memtrack_free_block(moth_memtrack *t, uintptr_t addr, moth_mem_live *was)
{
    if (!addr)
        return 0;
    size_t i = home_of(t, addr);
    for (;;) {
        if (t->live[i].addr == addr)
            break;
        if (!t->live[i].addr)
            return 0;
        i = (i + 1) & t->live_mask;
    }
    moth_mem_live e = t->live[i];
    /* backward-shift deletion: later entries of the probe run move up into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & t->live_mask; t->live[j].addr; j = (j + 1) & t->live_mask) {
        size_t k = home_of(t, t->live[j].addr);
        int stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (!stays) {
            t->live[hole] = t->live[j];
            hole = j;
        }
    }
    t->live[hole].addr = 0;
    t->live_count--;
    drop(t, &e);
    if (t->peak_pending) {
        t->peak_time_ns = t->clock_ns;
        t->peak_pending = 0;
    }
    if (was)
        *was = e;
    maybe_sample(t, moth_mem_live_size(&e));
    return 1;
}

void moth_memtrack_sample_weight(uint64_t sample_bytes, uint64_t size, uint64_t *weight_bytes,
                                 double *weight)
{
    double p = sample_bytes ? -expm1(-(double)size / (double)sample_bytes) : 1.0;
    if (p <= 0) /* size 0 */
        p = 1.0 / (double)(sample_bytes ? sample_bytes : 1);
    *weight_bytes = (uint64_t)((double)size / p + 0.5);
    *weight = 1.0 / p;
}

/* ---- memory over time ---- */

/* Merges samples pairwise (2k, 2k+1) into one, keeping each site's last value; the interval
 * doubles. Deltas are compacted in place: the output never overtakes the input. */
static int halve_samples(moth_memtrack *t)
{
    uint32_t *stamp = calloc(t->nsites ? t->nsites : 1, sizeof *stamp);
    if (!stamp) {
        t->failed = 1;
        return -1;
    }
    size_t out = 0, n = t->nsamples;
    for (size_t k = 0; k < n; k += 2) {
        size_t a = t->samples[k].first_delta;
        size_t b = k + 1 < n ? t->samples[k + 1].first_delta : t->ndeltas;
        size_t c = k + 2 < n ? t->samples[k + 2].first_delta : t->ndeltas;
        if (k + 1 >= n)
            b = c;
        uint32_t mark = (uint32_t)(k / 2 + 1);
        for (size_t d = b; d < c; d++)
            stamp[t->deltas[d].site] = mark;
        moth_mem_sample merged = k + 1 < n ? t->samples[k + 1] : t->samples[k];
        if (t->samples[k].high > merged.high)
            merged.high = t->samples[k].high;
        merged.first_delta = out;
        for (size_t d = a; d < b; d++)
            if (stamp[t->deltas[d].site] != mark)
                t->deltas[out++] = t->deltas[d];
        for (size_t d = b; d < c; d++)
            t->deltas[out++] = t->deltas[d];
        t->samples[k / 2] = merged;
    }
    free(stamp);
    t->ndeltas = out;
    t->nsamples = (n + 1) / 2;
    t->interval_ns *= 2;
    /* the sites' pending marks were numbered for the old samples */
    for (size_t i = 0; i < t->nsites; i++)
        t->sites[i].sample = 0;
    for (size_t i = 0; i < t->ndirty; i++)
        t->sites[t->dirty[i]].sample = (uint32_t)t->nsamples + 1;
    return 0;
}

void moth_memtrack_sample_now(moth_memtrack *t)
{
    uint64_t now = since_start(t);
    t->clock_ns = now;
    if (moth_grow((void **)&t->samples, sizeof *t->samples, &t->samples_cap, t->nsamples + 1,
                  NULL) < 0 ||
        moth_grow((void **)&t->deltas, sizeof *t->deltas, &t->deltas_cap,
                  t->ndeltas + t->ndirty, NULL) < 0) {
        t->failed = 1;
        return;
    }
    moth_mem_sample *s = &t->samples[t->nsamples];
    s->time_ns = now;
    s->bytes = t->bytes;
    s->high = t->high;
    s->first_delta = t->ndeltas;
    for (size_t i = 0; i < t->ndirty; i++) {
        uint32_t site = t->dirty[i];
        t->deltas[t->ndeltas++] = (moth_mem_delta){site, t->sites[site].bytes};
    }
    t->ndirty = 0;
    t->nsamples++;
    t->high = t->bytes;
    if (t->peak_pending) {
        t->peak_time_ns = now;
        t->peak_pending = 0;
    }
    while (t->nsamples > 2 && (t->nsamples >= t->max_samples || t->ndeltas > MAX_DELTAS))
        if (halve_samples(t) < 0)
            break;
    t->next_sample_ns = now + t->interval_ns;
}
