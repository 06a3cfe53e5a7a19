/*
 * memory_profile.c: the profiler's memory sessions, and what they recorded as a profile.
 *
 * A profiler with `memory` set owns a recorder (core/memtrack.h) from its first session on;
 * each session installs the allocation hooks (memory_hooks.c) around it. A snapshot turns the
 * recorder's sites (thread, tree node, code unit) into the profile's rows (thread, node of the
 * merged tree, line): the unit's line is read from the node's code object, which the profiler
 * keeps alive for as long as it keeps the node. The timeline's per-site changes become per-row
 * changes the same way.
 */
#include "profiler.h"

#include <stdlib.h>
#include <string.h>

#include "memory_hooks.h"
#include "memtrack.h"

#define NO_THREAD UINT32_MAX

/* A checkpoint (memory_hooks.c queues it): the run so far, to p->memory_checkpoint; then the
 * next one is due a quarter higher, or a second later at a peak above this one's, and not
 * before 20 times this one's cost has passed. */
static void checkpoint(void *arg)
{
    moth_profiler *p = arg;
    if (!p->session || !p->mem || moth_the_interp.memory != p->mem || !p->memory_checkpoint)
        return;
    uint64_t start = moth_monotonic_ns();
    moth_spin_lock(&moth_the_interp.memory_lock);
    int64_t saved = p->mem->peak_bytes; /* the snapshot sees this peak or a higher one */
    moth_spin_unlock(&moth_the_interp.memory_lock);
    /* what the snapshot and the writer allocate (SQLite's calls reach the hooks) is moth's */
    moth_tstate *self = moth_tls_session == p->session ? moth_tls_state : NULL;
    if (self)
        self->busy++;
    moth_profile so_far;
    if (moth_profiler_snapshot(p, &so_far) == 0) {
        p->memory_checkpoint(&so_far, p->memory_checkpoint_arg);
        moth_profile_free(&so_far);
    }
    PyErr_Clear();
    if (self)
        self->busy--;
    uint64_t end = moth_monotonic_ns();
    moth_spin_lock(&moth_the_interp.memory_lock);
    int64_t peak = p->mem->peak_bytes, next = peak + peak / 4;
    p->mem->checkpoint_bytes = next > peak ? next : peak + 1;
    p->mem->checkpoint_peak = saved;
    p->mem->checkpoint_after_ns = end - p->mem->start_ns + MOTH_MEM_CHECKPOINT_PERIOD;
    p->mem->checkpoint_due = 0;
    moth_the_interp.memory_checkpoint_not_before = end + 20 * (end - start);
    moth_spin_unlock(&moth_the_interp.memory_lock);
}

int moth_memprof_start(moth_profiler *p)
{
    moth_error err = {{0}};
    if (!p->mem) {
        p->mem = malloc(sizeof *p->mem);
        if (!p->mem || moth_memtrack_init(p->mem, 0, p->memory_sample, &err) < 0) {
            free(p->mem);
            p->mem = NULL;
            PyErr_NoMemory();
            return -1;
        }
    }
    if (p->memory_checkpoint && !p->mem->checkpoint_bytes) {
        p->mem->checkpoint_bytes = MOTH_MEM_FIRST_CHECKPOINT;
        p->mem->checkpoint_peak = MOTH_MEM_FIRST_CHECKPOINT - 1;
    }
    moth_the_interp.memory_checkpoint = p->memory_checkpoint ? checkpoint : NULL;
    moth_the_interp.memory_checkpoint_arg = p;
    moth_the_interp.memory_checkpoint_not_before = 0;
    if (moth_memory_hooks_install(p->mem, p->memory_sample, moth_memprof_walks(p), &err) < 0) {
        moth_the_interp.memory_checkpoint = NULL;
        PyErr_Format(PyExc_RuntimeError, "moth: %s", err.msg);
        return -1;
    }
    return 0;
}

void moth_memprof_stop(moth_profiler *p)
{
    moth_the_interp.memory_checkpoint = NULL;
    moth_memory_hooks_uninstall();
    if (p->mem)
        moth_memtrack_sample_now(p->mem);
    moth_memwalk_label(p);
}

void moth_memprof_clear(moth_profiler *p)
{
    if (!p->mem)
        return;
    int running = p->session && moth_the_interp.memory == p->mem;
    if (running)
        moth_memory_hooks_uninstall();
    moth_memtrack_free(p->mem);
    free(p->mem);
    p->mem = NULL;
    if (running && moth_memprof_start(p) < 0)
        PyErr_Clear(); /* out of memory: this session goes on without memory data */
}

int moth_memprof_thread_allocated(const moth_profiler *p, size_t i)
{
    for (size_t s = 0; p->mem && s < p->mem->nsites; s++)
        if (p->mem->sites[s].thread == i)
            return 1;
    return 0;
}

/* The line of a site: its code unit in the node's code object; 0 when not known. */
static uint32_t site_line(moth_profiler *p, const moth_mem_site *site)
{
    if (site->unit < 0 || site->thread >= p->nthreads)
        return 0;
    const moth_cct *tree = &p->threads[site->thread]->tree;
    if (site->node == MOTH_CCT_ROOT || site->node >= tree->count ||
        tree->nodes[site->node].func == MOTH_NODE_NONE)
        return 0; /* unlabelled: its code may not have been kept */
    PyObject *code = (PyObject *)(uintptr_t)tree->nodes[site->node].key;
    if (!PyCode_Check(code))
        return 0;
    int line = PyCode_Addr2Line((PyCodeObject *)code, site->unit * (int)sizeof(_Py_CODEUNIT));
    return line > 0 ? (uint32_t)line : 0;
}

/* Sampled mode's counts are sums of weights 1/p: a site whose blocks were all freed is left
 * with rounding dust (-2e-16, say), which is 0. */
static double not_dust(double count)
{
    return count < 1e-6 ? 0.0 : count;
}

/* Threads that ran no Python code while allocating share one profile thread. */
static int outside_thread(moth_profile *out, int32_t *index, moth_error *err)
{
    if (*index >= 0)
        return 0;
    moth_thread_profile *th;
    if (moth_profile_add_thread(out, 0, "(threads outside Python code)", &th, err) < 0)
        return -1;
    *index = (int32_t)(out->nthreads - 1);
    return 0;
}

int moth_memprof_snapshot(moth_profiler *p, moth_profile *out, const int32_t *thread_out,
                          uint32_t *const *node_map, moth_error *err)
{
    moth_memtrack *t = p->mem;
    moth_memory *m = &out->memory;
    /* a live profiler's recorder is being written by the threads that allocate */
    int live = moth_the_interp.memory == t;
    if (live)
        moth_spin_lock(&moth_the_interp.memory_lock);
    uint32_t *row_of_site = moth_malloc((t->nsites ? t->nsites : 1) * sizeof *row_of_site, err);
    if (!row_of_site) {
        if (live)
            moth_spin_unlock(&moth_the_interp.memory_lock);
        return -1;
    }
    int32_t outside = -1;
    int rc = -1;
    for (size_t i = 0; i < t->nsites; i++) {
        const moth_mem_site *site = &t->sites[i];
        int32_t thread;
        uint32_t node = MOTH_CCT_ROOT;
        if (site->thread == NO_THREAD || site->thread >= p->nthreads ||
            thread_out[site->thread] < 0) {
            if (outside_thread(out, &outside, err) < 0)
                goto done;
            thread = outside;
        } else {
            thread = thread_out[site->thread];
            const uint32_t *map = node_map[site->thread];
            if (map && site->node < p->threads[site->thread]->tree.count)
                node = map[site->node];
            if (node == MOTH_NODE_NONE)
                node = MOTH_CCT_ROOT;
        }
        uint32_t row;
        if (moth_memory_row(m, (uint32_t)thread, node, site_line(p, site), &row, err) < 0)
            goto done;
        row_of_site[i] = row;
        moth_mem_row add = {0};
        add.peak_bytes = (uint64_t)moth_mem_site_peak_bytes(t, site);
        add.peak_count = not_dust(moth_mem_site_peak_count(t, site));
        add.leaked_bytes = (uint64_t)site->bytes;
        add.leaked_count = not_dust(site->count);
        add.alloc_bytes = site->alloc_bytes;
        add.alloc_count = site->alloc_count;
        moth_memory_add(m, row, &add);
    }
    m->recorded = 1;
    m->peak_bytes = (uint64_t)t->peak_bytes;
    uint64_t peak_ns = t->peak_pending ? moth_monotonic_ns() - t->start_ns : t->peak_time_ns;
    m->peak_time = (double)peak_ns * 1e-9;
    m->sample_bytes = t->sample_bytes;
    m->untracked_bytes = t->untracked_bytes;
    m->untracked_count = t->untracked_count;
    m->own_bytes = moth_memtrack_own_bytes(t);

    /* The timeline: replay the sites' values, and give each point the rows it changed. */
    int64_t *site_now = moth_calloc(t->nsites ? t->nsites : 1, sizeof *site_now, err);
    int64_t *row_now = moth_calloc(m->nrows ? m->nrows : 1, sizeof *row_now, err);
    size_t *row_stamp = moth_calloc(m->nrows ? m->nrows : 1, sizeof *row_stamp, err);
    uint32_t *touched = moth_malloc((m->nrows ? m->nrows : 1) * sizeof *touched, err);
    if (!site_now || !row_now || !row_stamp || !touched)
        goto timeline_done;
    for (size_t k = 0; k < t->nsamples; k++) {
        const moth_mem_sample *s = &t->samples[k];
        size_t end = k + 1 < t->nsamples ? t->samples[k + 1].first_delta : t->ndeltas;
        size_t ntouched = 0;
        for (size_t d = s->first_delta; d < end; d++) {
            uint32_t site = t->deltas[d].site, row = row_of_site[site];
            row_now[row] += t->deltas[d].bytes - site_now[site];
            site_now[site] = t->deltas[d].bytes;
            if (row_stamp[row] != k + 1) {
                row_stamp[row] = k + 1;
                touched[ntouched++] = row;
            }
        }
        if (moth_memory_add_point(m, (double)s->time_ns * 1e-9,
                                  s->bytes > 0 ? (uint64_t)s->bytes : 0,
                                  s->high > 0 ? (uint64_t)s->high : 0, err) < 0)
            goto timeline_done;
        for (size_t i = 0; i < ntouched; i++)
            if (moth_memory_add_change(m, touched[i],
                                       row_now[touched[i]] > 0 ? (uint64_t)row_now[touched[i]] : 0,
                                       err) < 0)
                goto timeline_done;
    }
    rc = 0;
timeline_done:
    free(site_now);
    free(row_now);
    free(row_stamp);
    free(touched);
done:
    free(row_of_site);
    if (live)
        moth_spin_unlock(&moth_the_interp.memory_lock);
    return rc;
}
