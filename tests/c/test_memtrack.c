/* Unit tests of the memory recorder (csrc/core/memtrack.c): exact bytes and counts per site,
 * values at the peak, unknown frees, the table's growth and bound, sampling weights and the
 * timeline's replay. */
#include "check.h"
#include "memtrack.h"

#include <stdlib.h>

static uintptr_t addr(unsigned i)
{
    return 0x100000u + (uintptr_t)i * 16u;
}

static void test_bytes_counts_and_values_at_the_peak(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    uint32_t a = moth_memtrack_site(&t, 0, 5, 10), b = moth_memtrack_site(&t, 1, 5, 10);
    CHECK(a != b);
    CHECK_EQ_U(moth_memtrack_site(&t, 0, 5, 10), a);
    CHECK(moth_memtrack_site(&t, 0, 5, -1) != a);
    moth_memtrack_alloc(&t, addr(1), 100, a);
    moth_memtrack_alloc(&t, addr(2), 50, b);            /* peak 150: a 100, b 50 */
    moth_mem_live was;
    CHECK(moth_memtrack_free_block(&t, addr(1), &was) == 1);
    CHECK_EQ_U(moth_mem_live_size(&was), 100);
    CHECK_EQ_U(moth_mem_live_site(&was), a);
    moth_memtrack_alloc(&t, addr(3), 60, b);            /* 110: below the peak */
    CHECK_EQ_U(t.peak_bytes, 150);
    CHECK_EQ_U(moth_mem_site_peak_bytes(&t, &t.sites[a]), 100);
    CHECK_EQ_U(moth_mem_site_peak_bytes(&t, &t.sites[b]), 50);
    CHECK_EQ_U(moth_mem_site_peak_count(&t, &t.sites[b]), 1);
    CHECK_EQ_U(t.sites[b].bytes, 110);
    CHECK_EQ_U(t.sites[b].count, 2);
    moth_memtrack_sample_now(&t);                        /* the clock's last look */
    moth_memtrack_alloc(&t, addr(4), 200, a);           /* 310: a new peak */
    CHECK_EQ_U(t.peak_bytes, 310);
    CHECK_EQ_U(moth_mem_site_peak_bytes(&t, &t.sites[a]), 200);
    CHECK_EQ_U(moth_mem_site_peak_bytes(&t, &t.sites[b]), 110);
    CHECK(moth_memtrack_free_block(&t, addr(4), NULL) == 1);
    CHECK(moth_memtrack_free_block(&t, addr(3), NULL) == 1);
    CHECK_EQ_U(moth_mem_site_peak_bytes(&t, &t.sites[a]), 200);
    CHECK_EQ_U(moth_mem_site_peak_count(&t, &t.sites[a]), 1);
    CHECK_EQ_U(moth_mem_site_peak_bytes(&t, &t.sites[b]), 110);
    CHECK_EQ_U(moth_mem_site_peak_count(&t, &t.sites[b]), 2);
    /* left by a free before the clock's next look: the last look's time */
    CHECK_EQ_U(t.peak_time_ns, t.samples[t.nsamples - 1].time_ns);
    /* churn, and what is held now (the leak if the run ended here) */
    CHECK_EQ_U(t.sites[a].alloc_bytes, 300);
    CHECK_EQ_U(t.sites[a].alloc_count, 2);
    CHECK_EQ_U(t.sites[a].bytes, 0);
    CHECK_EQ_U(t.sites[b].bytes, 50);
    CHECK_EQ_U(t.bytes, 50);
    CHECK_EQ_U(t.alloc_bytes, 410);
    moth_memtrack_free(&t);
}

/* Blocks made before profiling (never recorded) freed during it change nothing. */
static void test_unknown_frees_are_ignored(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    uint32_t a = moth_memtrack_site(&t, 0, 1, 0);
    moth_memtrack_alloc(&t, addr(1), 10, a);
    CHECK(moth_memtrack_free_block(&t, addr(2), NULL) == 0);
    CHECK(moth_memtrack_free_block(&t, 0, NULL) == 0);
    CHECK(moth_memtrack_free_block(&t, addr(1), NULL) == 1);
    CHECK(moth_memtrack_free_block(&t, addr(1), NULL) == 0); /* twice: once */
    CHECK_EQ_U(t.bytes, 0);
    CHECK_EQ_U(t.sites[a].bytes, 0);
    /* a block whose free was missed, its address used again: the old record goes */
    uint32_t b = moth_memtrack_site(&t, 0, 2, 0);
    moth_memtrack_alloc(&t, addr(3), 10, a);
    moth_memtrack_alloc(&t, addr(3), 30, b);
    CHECK_EQ_U(t.bytes, 30);
    CHECK_EQ_U(t.sites[a].bytes, 0);
    CHECK_EQ_U(t.sites[a].count, 0);
    CHECK_EQ_U(t.sites[b].bytes, 30);
    CHECK_EQ_U(t.live_count, 1);
    moth_memtrack_free(&t);
}

/* Many blocks, freed in a scattered order: the table grows, probe runs survive deletions. */
static void test_table_grows_and_deletes(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    uint32_t s = moth_memtrack_site(&t, 0, 1, 0);
    enum { N = 200000 };
    for (unsigned i = 0; i < N; i++)
        moth_memtrack_alloc(&t, addr(i * 3u), i % 97 + 1, s);
    CHECK_EQ_U(t.live_count, N);
    uint64_t expect = 0;
    for (unsigned i = 0; i < N; i++)
        expect += i % 97 + 1;
    CHECK_EQ_U(t.bytes, expect);
    int missing = 0;
    for (unsigned i = 0; i < N; i += 2) {
        moth_mem_live was;
        if (moth_memtrack_free_block(&t, addr(i * 3u), &was) != 1 ||
            moth_mem_live_size(&was) != i % 97 + 1)
            missing++;
        else
            expect -= moth_mem_live_size(&was);
    }
    CHECK_EQ_U(missing, 0);
    for (unsigned i = 1; i < N; i += 2)
        if (moth_memtrack_free_block(&t, addr(i * 3u), NULL) != 1)
            missing++;
        else
            expect -= i % 97 + 1;
    CHECK_EQ_U(missing, 0);
    CHECK_EQ_U(expect, 0);
    CHECK_EQ_U(t.bytes, 0);
    CHECK_EQ_U(t.live_count, 0);
    CHECK(moth_memtrack_own_bytes(&t) > (size_t)N * 3 / MOTH_MEM_WINDOW_SLOTS * sizeof(moth_mem_window));
    moth_memtrack_free(&t);
}

/* Blocks at addresses that are not 16-byte aligned (another allocator's) are kept apart. */
static void test_unaligned_blocks(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    uint32_t s = moth_memtrack_site(&t, 0, 1, 0);
    CHECK_EQ_U(s, 0);
    enum { N = 1000 };
    for (unsigned i = 0; i < N; i++)
        moth_memtrack_alloc(&t, addr(i) + 8, i, s);     /* size 0 and site 0 too */
    moth_memtrack_alloc(&t, addr(0), 7, s);             /* its aligned neighbour */
    CHECK_EQ_U(t.live_count, N + 1);
    moth_memtrack_alloc(&t, addr(3) + 8, 1000, s);      /* stale: replaced */
    CHECK_EQ_U(t.live_count, N + 1);
    moth_mem_live was;
    CHECK(moth_memtrack_free_block(&t, addr(0) + 8, &was) == 1);
    CHECK_EQ_U(moth_mem_live_size(&was), 0);
    CHECK_EQ_U(moth_mem_live_site(&was), s);
    CHECK(moth_memtrack_free_block(&t, addr(0) + 8, NULL) == 0);
    CHECK(moth_memtrack_free_block(&t, addr(3) + 8, &was) == 1);
    CHECK_EQ_U(moth_mem_live_size(&was), 1000);
    CHECK(moth_memtrack_free_block(&t, addr(0) + 4, NULL) == 0);
    for (unsigned i = 1; i < N; i++)
        if (i != 3)
            CHECK(moth_memtrack_free_block(&t, addr(i) + 8, NULL) == 1);
    CHECK(moth_memtrack_free_block(&t, addr(0), &was) == 1);
    CHECK_EQ_U(moth_mem_live_size(&was), 7);
    CHECK_EQ_U(t.live_count, 0);
    CHECK_EQ_U(t.bytes, 0);
    /* above the 48 bits the windows cover */
    uintptr_t high = (uintptr_t)1 << 52;
    moth_memtrack_alloc(&t, high, 64, s);
    CHECK(moth_memtrack_free_block(&t, high + 16, NULL) == 0);
    CHECK(moth_memtrack_free_block(&t, high, &was) == 1);
    CHECK_EQ_U(moth_mem_live_size(&was), 64);
    CHECK_EQ_U(t.bytes, 0);
    moth_memtrack_free(&t);
}

/* A program that walks through the address space (each block alone in its window, freed at
 * once): emptied windows are reused, the directory does not grow without end. */
static void test_windows_are_reused(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    uint32_t s = moth_memtrack_site(&t, 0, 1, 0);
    moth_memtrack_alloc(&t, addr(1), 10, s);            /* kept throughout */
    for (unsigned i = 0; i < 100000; i++) {
        uintptr_t a = 0x40000000u + (uintptr_t)i * 4096u;
        moth_memtrack_alloc(&t, a, 100, s);
        CHECK(moth_memtrack_free_block(&t, a, NULL) == 1);
    }
    CHECK(t.nwindows <= 2);
    CHECK(moth_memtrack_free_block(&t, addr(1), NULL) == 1);
    CHECK_EQ_U(t.bytes, 0);
    moth_memtrack_free(&t);
}

static void test_bound_counts_the_rest_as_untracked(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 1000, 0, NULL) == 0);
    uint32_t s = moth_memtrack_site(&t, 0, 1, 0);
    for (unsigned i = 0; i < 1500; i++)
        moth_memtrack_alloc(&t, addr(i), 8, s);
    CHECK_EQ_U(t.live_count, 1000);
    CHECK_EQ_U(t.untracked_count, 500);
    CHECK_EQ_U(t.untracked_bytes, 4000);
    CHECK_EQ_U(t.bytes, 8000);
    moth_memtrack_alloc(&t, addr(5000), 8, UINT32_MAX); /* no site: untracked too */
    CHECK_EQ_U(t.untracked_count, 501);
    moth_memtrack_free(&t);
    /* windows are bounded too: blocks far apart, one per window */
    CHECK(moth_memtrack_init(&t, 1000, 0, NULL) == 0);
    t.max_windows = 100;
    s = moth_memtrack_site(&t, 0, 1, 0);
    for (unsigned i = 0; i < 150; i++)
        moth_memtrack_alloc(&t, addr(i * 64), 8, s);
    CHECK_EQ_U(t.live_count, 100);
    CHECK_EQ_U(t.untracked_count, 50);
    moth_memtrack_alloc(&t, addr(1), 8, s);              /* a window it has: tracked */
    CHECK_EQ_U(t.live_count, 101);
    moth_memtrack_free(&t);
}

/* Poisson sampling by bytes: the weighted sum of the picked allocations estimates the whole. */
static void test_sampling_weights_are_unbiased(void)
{
    uint64_t wb;
    double w;
    moth_memtrack_sample_weight(0, 123, &wb, &w);
    CHECK_EQ_U(wb, 123);
    CHECK_NEAR(w, 1.0, 1e-6);
    moth_memtrack_sample_weight(1000, 1u << 30, &wb, &w); /* a huge block: always picked */
    CHECK_EQ_U(wb, 1u << 30);
    CHECK_NEAR(w, 1.0, 1e-6);
    moth_memtrack_sample_weight(4096, 16, &wb, &w);       /* p = 1 - exp(-16/4096) */
    CHECK(wb >= 4096 && wb <= 4112);
    CHECK_NEAR(w, 1.0 / (1.0 - exp(-16.0 / 4096)), 0.05);
    moth_memtrack_sample_weight(4096, 0, &wb, &w);
    CHECK_EQ_U(wb, 0);
    srand(12345);
    double estimate = 0, count = 0;
    const unsigned n = 200000, size = 48;
    for (unsigned i = 0; i < n; i++) {
        double p = 1.0 - exp(-(double)size / 4096.0);
        if ((double)rand() / RAND_MAX < p) {
            moth_memtrack_sample_weight(4096, size, &wb, &w);
            estimate += (double)wb;
            count += w;
        }
    }
    CHECK(fabs(estimate - (double)n * size) < 0.05 * n * size);
    CHECK(fabs(count - n) < 0.05 * n);
}

/* Each site's bytes at sample k, replayed from the deltas. */
static int64_t replay(const moth_memtrack *t, size_t k, uint32_t site)
{
    int64_t v = 0;
    for (size_t s = 0; s <= k; s++) {
        size_t end = s + 1 < t->nsamples ? t->samples[s + 1].first_delta : t->ndeltas;
        for (size_t d = t->samples[s].first_delta; d < end; d++)
            if (t->deltas[d].site == site)
                v = t->deltas[d].bytes;
    }
    return v;
}

static void test_timeline_replays_and_halves(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    t.max_samples = 8;
    uint32_t a = moth_memtrack_site(&t, 0, 1, 0), b = moth_memtrack_site(&t, 0, 2, 0);
    int64_t held_a = 0, held_b = 0;
    int64_t history_a[64], history_b[64], totals[64];
    for (unsigned i = 0; i < 20; i++) {
        moth_memtrack_alloc(&t, addr(2 * i), 10 + i, a);
        held_a += 10 + i;
        if (i % 3 == 0) {
            moth_memtrack_alloc(&t, addr(2 * i + 1), 1000, b);
            held_b += 1000;
        }
        if (i % 4 == 3 && moth_memtrack_free_block(&t, addr(2 * (i - 1)), NULL)) {
            held_a -= 10 + (i - 1);
        }
        history_a[i] = held_a;
        history_b[i] = held_b;
        totals[i] = held_a + held_b;
        moth_memtrack_sample_now(&t);
    }
    /* 20 samples into at most 8: halved twice (20 -> ... each halving keeps the later one) */
    CHECK(t.nsamples < 8);
    CHECK(t.nsamples >= 3);
    /* the last sample is the last state */
    size_t last = t.nsamples - 1;
    CHECK_EQ_U(t.samples[last].bytes, totals[19]);
    CHECK_EQ_U(replay(&t, last, a), history_a[19]);
    CHECK_EQ_U(replay(&t, last, b), history_b[19]);
    /* every sample's replayed sites add up to its total, and matches one of the states */
    for (size_t k = 0; k < t.nsamples; k++) {
        int64_t sum = replay(&t, k, a) + replay(&t, k, b);
        CHECK_EQ_U(sum, t.samples[k].bytes);
        int found = 0;
        for (unsigned i = 0; i < 20; i++)
            if (totals[i] == t.samples[k].bytes && history_a[i] == replay(&t, k, a))
                found = 1;
        CHECK(found);
        CHECK(t.samples[k].high >= t.samples[k].bytes);
    }
    CHECK(t.interval_ns > 10000000u);
    moth_memtrack_free(&t);
}

/* Checkpoints: a new peak at the mark makes one due at once; a smaller new peak only at a
 * timeline sample past checkpoint_after_ns; no mark, none. */
static void test_checkpoints_fall_due(void)
{
    moth_memtrack t;
    CHECK(moth_memtrack_init(&t, 0, 0, NULL) == 0);
    uint32_t a = moth_memtrack_site(&t, 0, 1, 0);
    moth_memtrack_alloc(&t, addr(1), 1000, a);
    moth_memtrack_sample_now(&t);
    CHECK(!t.checkpoint_due); /* no mark set: never due */
    t.checkpoint_bytes = 2000;
    t.checkpoint_peak = 1000;
    t.checkpoint_after_ns = UINT64_MAX;
    moth_memtrack_alloc(&t, addr(2), 500, a); /* 1500: a new peak, below the mark */
    CHECK(!t.checkpoint_due);
    moth_memtrack_sample_now(&t); /* not yet time */
    CHECK(!t.checkpoint_due);
    t.checkpoint_after_ns = 0;
    moth_memtrack_sample_now(&t); /* time, and the peak grew past what was saved */
    CHECK(t.checkpoint_due);
    t.checkpoint_due = 0;
    t.checkpoint_peak = 1500;
    moth_memtrack_sample_now(&t); /* saved: nothing new */
    CHECK(!t.checkpoint_due);
    CHECK(moth_memtrack_free_block(&t, addr(2), NULL) == 1);
    moth_memtrack_alloc(&t, addr(3), 400, a); /* 1400: not a new peak */
    moth_memtrack_sample_now(&t);
    CHECK(!t.checkpoint_due);
    moth_memtrack_alloc(&t, addr(4), 600, a); /* 2000: a new peak at the mark */
    CHECK(t.checkpoint_due);
    moth_memtrack_free(&t);
}

int main(void)
{
    RUN(test_bytes_counts_and_values_at_the_peak);
    RUN(test_unknown_frees_are_ignored);
    RUN(test_table_grows_and_deletes);
    RUN(test_unaligned_blocks);
    RUN(test_windows_are_reused);
    RUN(test_bound_counts_the_rest_as_untracked);
    RUN(test_sampling_weights_are_unbiased);
    RUN(test_timeline_replays_and_halves);
    RUN(test_checkpoints_fall_due);
    return check_summary();
}
