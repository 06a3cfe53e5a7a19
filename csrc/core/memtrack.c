/* memtrack.c: live allocations, sites, the peak and the timeline; see memtrack.h. */
#include "memtrack.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "clock.h"

#define DEFAULT_MAX_LIVE (32u << 20)
#define MAX_SITES MOTH_MEM_MAX_SITES
#define DEFAULT_INTERVAL_NS 10000000u  /* 10 ms between samples, at first */
#define DEFAULT_MAX_SAMPLES 1024u
#define MAX_DELTAS (4u << 20)
#define CHECK_EVERY 64u                /* events between looks at the clock */
#define BIG_BLOCK (1u << 20)           /* a block this large looks at the clock at once */

/* moth's tables are mapped, not malloc'd: a large block freed by the recorder would raise
 * glibc's mmap threshold and change how the program's own blocks are placed. */
static void *map_zeroed(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void unmap(void *p, size_t bytes)
{
    if (p)
        munmap(p, bytes);
}

#define CHUNK_WINDOWS 256u             /* windows per mapped chunk: 128 KiB (a program that
                                          runs out of memory leaves moth little to start with) */
#define MAX_CHUNKS (1u << 18)          /* 64M windows at most, whatever max_live says */
#define FIRST_ODD_BITS 6
#define WIN_UNIT 4                     /* log2 of the 16-byte unit */
#define LEAF (1u << MOTH_MEM_LEAF_BITS)
#define MID (1u << MOTH_MEM_MID_BITS)
#define TOP (1u << MOTH_MEM_TOP_BITS)

int moth_memtrack_init(moth_memtrack *t, size_t max_live, uint64_t sample_bytes,
                       moth_error *err)
{
    memset(t, 0, sizeof *t);
    t->max_live = max_live ? max_live : DEFAULT_MAX_LIVE;
    t->max_windows = t->max_live / 16 + CHUNK_WINDOWS;
    if (t->max_windows > (size_t)CHUNK_WINDOWS * MAX_CHUNKS)
        t->max_windows = (size_t)CHUNK_WINDOWS * MAX_CHUNKS;
    t->sample_bytes = sample_bytes;
    t->top = map_zeroed(TOP * sizeof *t->top);
    t->odd = map_zeroed(sizeof *t->odd << FIRST_ODD_BITS);
    if (!t->top || !t->odd) {
        moth_memtrack_free(t);
        return moth_fail(err, "out of memory (the memory profiler's table)");
    }
    t->odd_mask = ((size_t)1 << FIRST_ODD_BITS) - 1;
    t->start_ns = moth_monotonic_ns();
    t->interval_ns = DEFAULT_INTERVAL_NS;
    t->next_sample_ns = DEFAULT_INTERVAL_NS;
    t->max_samples = DEFAULT_MAX_SAMPLES;
    return 0;
}

void moth_memtrack_free(moth_memtrack *t)
{
    for (size_t i = 0; t->top && i < TOP; i++) {
        moth_mem_mid *m = t->top[i];
        for (size_t j = 0; m && j < MID; j++)
            unmap(m->leaf[j], sizeof *m->leaf[j]);
        unmap(m, sizeof *m);
    }
    unmap(t->top, t->top ? TOP * sizeof *t->top : 0);
    unmap(t->odd, t->odd ? (t->odd_mask + 1) * sizeof *t->odd : 0);
    for (size_t c = 0; t->chunks && c < t->nchunks; c++)
        unmap(t->chunks[c], CHUNK_WINDOWS * sizeof(moth_mem_window));
    free(t->chunks);
    free(t->sites);
    moth_map_free(&t->site_of);
    free(t->samples);
    free(t->deltas);
    free(t->dirty);
    memset(t, 0, sizeof *t);
}

size_t moth_memtrack_own_bytes(const moth_memtrack *t)
{
    return TOP * sizeof *t->top + t->node_bytes + (t->odd_mask + 1) * sizeof *t->odd +
           t->nchunks * CHUNK_WINDOWS * sizeof(moth_mem_window) +
           t->chunks_cap * sizeof *t->chunks +
           t->sites_cap * sizeof *t->sites +
           (t->site_of.mask + 1) * sizeof *t->site_of.slots * (t->site_of.slots != NULL) +
           t->samples_cap * sizeof *t->samples + t->deltas_cap * sizeof *t->deltas +
           t->dirty_cap * sizeof *t->dirty;
}

/* ---- live allocations: windows ---- */

static inline moth_mem_window *window_at(const moth_memtrack *t, uint32_t w)
{
    return &t->chunks[w / CHUNK_WINDOWS][w % CHUNK_WINDOWS];
}

/* The leaf entry of the window holding addr (an address below 2^48), or NULL when it has
 * none; with make, the nodes are made as needed (NULL only when out of memory). */
typedef __typeof__(((moth_mem_leaf *)0)->at[0]) leaf_entry;
static inline leaf_entry *leaf_of(moth_memtrack *t, uintptr_t addr, int make)
{
    uint64_t w = (uint64_t)addr >> MOTH_MEM_WINDOW_SHIFT;
    moth_mem_mid **m = &t->top[w >> (MOTH_MEM_LEAF_BITS + MOTH_MEM_MID_BITS)];
    if (MOTH_UNLIKELY(!*m)) {
        if (!make || !(*m = map_zeroed(sizeof **m)))
            return NULL;
        t->node_bytes += sizeof **m;
    }
    moth_mem_leaf **l = &(*m)->leaf[(w >> MOTH_MEM_LEAF_BITS) & (MID - 1)];
    if (MOTH_UNLIKELY(!*l)) {
        if (!make || !(*l = map_zeroed(sizeof **l)))
            return NULL;
        t->node_bytes += sizeof **l;
    }
    return &(*l)->at[w & (LEAF - 1)];
}

/* A window for a leaf entry: a reusable one, or a new one. 0 when none, else index + 1. */
static uint32_t window_new(moth_memtrack *t)
{
    if (t->free_window) {
        uint32_t w = t->free_window;
        moth_mem_window *win = window_at(t, w - 1);
        t->free_window = (uint32_t)win->slot[0];
        win->slot[0] = 0;
        return w;
    }
    if (t->nwindows >= t->max_windows)
        return 0;
    if (t->nwindows == t->nchunks * CHUNK_WINDOWS) {
        moth_mem_window *chunk;
        if (moth_grow((void **)&t->chunks, sizeof *t->chunks, &t->chunks_cap, t->nchunks + 1,
                      NULL) < 0 ||
            !(chunk = map_zeroed(CHUNK_WINDOWS * sizeof *chunk)))
            return 0;
        t->chunks[t->nchunks++] = chunk;
    }
    return (uint32_t)++t->nwindows;
}

/* An emptied window goes back to be reused (its slots are all 0 again). */
static inline void window_release(moth_memtrack *t, leaf_entry *e)
{
    window_at(t, e->window - 1)->slot[0] = t->free_window;
    t->free_window = e->window;
    e->window = 0;
}

#define ODD_ADDRESS(addr) \
    (((addr) & ((1u << WIN_UNIT) - 1)) || ((uint64_t)(addr) >> 48) != 0)

/* ---- live allocations at addresses not 16-byte aligned ---- */

static inline size_t odd_home(const moth_memtrack *t, uintptr_t addr)
{
    return (size_t)(((uint64_t)addr * 0x9E3779B97F4A7C15ull) >> 40) & t->odd_mask;
}

static int odd_grow(moth_memtrack *t)
{
    size_t cap = (t->odd_mask + 1) * 2;
    moth_mem_live *table = map_zeroed(cap * sizeof *table);
    if (!table)
        return -1;
    moth_mem_live *old = t->odd;
    size_t old_cap = t->odd_mask + 1;
    t->odd = table;
    t->odd_mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i].addr)
            continue;
        size_t j = odd_home(t, old[i].addr);
        while (table[j].addr)
            j = (j + 1) & t->odd_mask;
        table[j] = old[i];
    }
    unmap(old, old_cap * sizeof *old);
    return 0;
}

/* The slot of addr in the odd table (empty when absent). */
static size_t odd_find(const moth_memtrack *t, uintptr_t addr)
{
    size_t i = odd_home(t, addr);
    while (t->odd[i].addr && t->odd[i].addr != addr)
        i = (i + 1) & t->odd_mask;
    return i;
}

static void odd_delete(moth_memtrack *t, size_t i)
{
    /* backward-shift deletion: later entries of the probe run move up into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & t->odd_mask; t->odd[j].addr; j = (j + 1) & t->odd_mask) {
        size_t k = odd_home(t, t->odd[j].addr);
        int stays = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (!stays) {
            t->odd[hole] = t->odd[j];
            hole = j;
        }
    }
    t->odd[hole].addr = 0;
    t->odd_count--;
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

/* The slot where addr's record goes, made when new (NULL when out of room); its leaf entry in
 * *e (NULL: the odd table). */
static inline uint64_t *slot_make(moth_memtrack *t, uintptr_t addr, leaf_entry **e)
{
    if (MOTH_UNLIKELY(ODD_ADDRESS(addr))) {
        *e = NULL;
        if ((t->odd_count + 1) * 2 > t->odd_mask + 1 && odd_grow(t) < 0)
            return NULL;
        size_t i = odd_find(t, addr);
        if (!t->odd[i].addr) {
            t->odd[i].addr = addr;
            t->odd_count++;
        }
        return &t->odd[i].size_site;
    }
    leaf_entry *l = *e = leaf_of(t, addr, 1);
    if (MOTH_UNLIKELY(!l || (!l->window && !(l->window = window_new(t)))))
        return NULL;
    return &window_at(t, l->window - 1)->slot[(addr >> WIN_UNIT) & (MOTH_MEM_WINDOW_SLOTS - 1)];
}

void moth_memtrack_alloc(moth_memtrack *t, uintptr_t addr, uint64_t size, uint32_t site)
{
    if (size > MOTH_MEM_MAX_SIZE)
        size = MOTH_MEM_MAX_SIZE;
    uint64_t bytes;
    double count;
    weigh(t, size, &bytes, &count);
    leaf_entry *l;
    uint64_t *slot;
    if (site == UINT32_MAX || t->live_count >= t->max_live || !(slot = slot_make(t, addr, &l))) {
        t->untracked_bytes += bytes;
        t->untracked_count++;
        return;
    }
    if (MOTH_UNLIKELY(*slot)) {
        /* a stale record: that block was freed unseen */
        moth_mem_live e = {addr, *slot - 1};
        drop(t, &e);
        t->live_count--;
    } else if (l) {
        l->count++;
    }
    *slot = (size << 24 | site) + 1; /* + 1: 0 marks an empty slot */
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
            if (MOTH_UNLIKELY(t->checkpoint_bytes && t->bytes >= t->checkpoint_bytes))
                t->checkpoint_due = 1;
        }
    }
    maybe_sample(t, bytes);
}

/* Takes addr's record out of the table into *e; 0 when it has none. */
static inline int take(moth_memtrack *t, uintptr_t addr, moth_mem_live *e)
{
    if (MOTH_UNLIKELY(ODD_ADDRESS(addr))) {
        size_t i = odd_find(t, addr);
        if (!t->odd[i].addr)
            return 0;
        *e = (moth_mem_live){addr, t->odd[i].size_site - 1};
        odd_delete(t, i);
        return 1;
    }
    leaf_entry *l = leaf_of(t, addr, 0);
    if (!l || !l->window)
        return 0;
    uint64_t *slot =
        &window_at(t, l->window - 1)->slot[(addr >> WIN_UNIT) & (MOTH_MEM_WINDOW_SLOTS - 1)];
    if (!*slot)
        return 0;
    *e = (moth_mem_live){addr, *slot - 1};
    *slot = 0;
    if (--l->count == 0)
        window_release(t, l);
    return 1;
}

int moth_memtrack_free_block(moth_memtrack *t, uintptr_t addr, moth_mem_live *was)
{
    moth_mem_live e;
    if (!addr || !take(t, addr, &e))
        return 0;
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
    /* a peak that has not grown by enough to be saved at once is saved after a while */
    if (t->checkpoint_bytes && t->peak_bytes > t->checkpoint_peak && now >= t->checkpoint_after_ns)
        t->checkpoint_due = 1;
    while (t->nsamples > 2 && (t->nsamples >= t->max_samples || t->ndeltas > MAX_DELTAS))
        if (halve_samples(t) < 0)
            break;
    t->next_sample_ns = now + t->interval_ns;
}
