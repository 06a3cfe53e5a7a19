/* profiler.c: sessions, per-thread states, labels and snapshots of the profiler; the hot paths
 * are in frame_eval.c and classic_hook.c. See profiler.h. */
#include "profiler.h"

#include "memtrack.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "labels.h"

__thread moth_tstate *moth_tls_state __attribute__((tls_model("initial-exec")));
__thread uint64_t moth_tls_session __attribute__((tls_model("initial-exec")));

/* C frames closer than this to the end of a thread's stack refuse further Python calls. */
#define STACK_RESERVE_MIN (512u * 1024u)

void moth_exc_save(moth_saved_exc *s)
{
    s->exc = moth_take_exception();
}

void moth_exc_restore(moth_saved_exc *s)
{
    moth_give_exception(s->exc);
    s->exc = NULL;
}

int moth_profiler_init(moth_profiler *p, moth_mode mode, moth_clock_kind clock, PyObject *timer,
                       double timeunit, int builtins, int subcalls)
{
    memset(p, 0, sizeof *p);
    p->mode = mode;
    if (clock == MOTH_CLOCK_CYCLES && !moth_cycles_are_wall_clock())
        clock = MOTH_CLOCK_WALL_NS;
    p->clock = clock;
    p->timer = timer;
    Py_XINCREF(timer);
    p->timeunit = timeunit;
    p->builtins = builtins;
    p->subcalls = subcalls;
    p->kept = PyList_New(0);
    if (!p->kept)
        return -1;
    return 0;
}

static void free_threads(moth_profiler *p)
{
    moth_lineprof_free(p);
    moth_memprof_clear(p);
    for (size_t i = 0; i < p->nthreads; i++) {
        if (p->threads[i]->schedstat_fd > 0)
            close(p->threads[i]->schedstat_fd - 1);
        moth_memwalk_forget(p->threads[i]);
        moth_cct_free(&p->threads[i]->tree);
        free(p->threads[i]->name);
        free(p->threads[i]);
    }
    free(p->threads);
    p->threads = NULL;
    p->nthreads = p->threads_cap = 0;
}

void moth_profiler_clear(moth_profiler *p)
{
    if (p->session) {
        /* A running session keeps its states; empty their trees instead. Activations that
         * are running now end unrecorded. A new session number first, under the memory lock:
         * a thread inside an allocation without the GIL reads its tree under that lock, in
         * this session only (memory_walk.c). */
        moth_spin_lock(&moth_the_interp.memory_lock);
        moth_the_interp.session = p->session = ++moth_the_interp.last_session;
        moth_spin_unlock(&moth_the_interp.memory_lock);
        for (size_t i = 0; i < p->nthreads; i++) {
            moth_tstate *st = p->threads[i];
            moth_memwalk_forget(st);
            moth_cct_free(&st->tree);
            moth_cct_init(&st->tree, NULL);
            st->current = MOTH_CCT_ROOT;
            memset(&st->drift, 0, sizeof st->drift);
        }
        moth_lineprof_free(p);
        moth_memprof_clear(p);
    } else {
        free_threads(p);
    }
    moth_funcs_free(&p->funcs);
    moth_map_free(&p->func_of_key);
    if (p->kept)
        PyList_SetSlice(p->kept, 0, PY_SSIZE_T_MAX, NULL);
}

void moth_profiler_free(moth_profiler *p)
{
    if (p->session)
        moth_profiler_disable(p);
    free_threads(p);
    Py_CLEAR(p->line_patterns);
    Py_CLEAR(p->line_codes);
    moth_funcs_free(&p->funcs);
    moth_map_free(&p->func_of_key);
    Py_CLEAR(p->kept);
    Py_CLEAR(p->timer);
}

int moth_profiler_is_enabled(const moth_profiler *p)
{
    return p->session != 0;
}

/* The lowest address of this thread's stack the hook lets a frame run at, NULL when unknown.
 * Found once per thread: for the main thread glibc reads /proc/self/maps (a fraction of a
 * millisecond), which every enable (and calibration's dozen) would otherwise pay. */
static __thread char *stack_limit_of_thread;
static __thread int stack_limit_known;

static char *thread_stack_limit(void)
{
    if (stack_limit_known)
        return stack_limit_of_thread;
    stack_limit_known = 1;
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return NULL;
    if (pthread_attr_getstack(&attr, &addr, &size) != 0)
        addr = NULL;
    pthread_attr_destroy(&attr);
    if (!addr)
        return NULL;
    size_t reserve = size / 4 > STACK_RESERVE_MIN ? size / 4 : STACK_RESERVE_MIN;
    if (reserve >= size)
        return NULL;
    stack_limit_of_thread = (char *)addr + reserve; /* stacks grow down: the low end */
    return stack_limit_of_thread;
}

/* The thread's name from threading._active, without running Python code (reads `_name`). */
static void learn_thread_name(moth_tstate *st)
{
    PyObject *modname = PyUnicode_FromString("threading");
    PyObject *threading = modname ? PyImport_GetModule(modname) : NULL;
    Py_XDECREF(modname);
    if (!threading) {
        PyErr_Clear();
        return;
    }
    PyObject *active = PyObject_GetAttrString(threading, "_active");
    Py_DECREF(threading);
    if (!active || !PyDict_Check(active)) {
        Py_XDECREF(active);
        PyErr_Clear();
        return;
    }
    PyObject *ident = PyLong_FromUnsignedLongLong(st->thread_id);
    PyObject *thread = ident ? PyDict_GetItemWithError(active, ident) : NULL;
    Py_XDECREF(ident);
    PyObject *name = thread ? PyObject_GetAttrString(thread, "_name") : NULL;
    if (name && PyUnicode_Check(name)) {
        const char *utf8 = PyUnicode_AsUTF8(name);
        if (utf8) {
            char *copy = strdup(utf8);
            if (copy) {
                free(st->name);
                st->name = copy;
            }
        }
    }
    Py_XDECREF(name);
    Py_DECREF(active);
    PyErr_Clear();
}

static moth_tstate *tstate_for(uint64_t session, int learn_name);

moth_tstate *moth_tstate_for_session(uint64_t session)
{
    return tstate_for(session, 1);
}

moth_tstate *moth_tstate_quietly(uint64_t session)
{
    return tstate_for(session, 0);
}

static moth_tstate *tstate_for(uint64_t session, int learn_name)
{
    moth_profiler *p = moth_the_interp.profiler;
    if (session == 0 || !p)
        return NULL;
    uint64_t ident = PyThread_get_thread_ident();
    uint64_t native = PyThread_get_thread_native_id();
    moth_tstate *st = NULL;
    for (size_t i = 0; i < p->nthreads; i++) {
        if (p->threads[i]->thread_id == ident && p->threads[i]->native_id == native) {
            st = p->threads[i];
            break;
        }
    }
    if (!st) {
        if (moth_grow((void **)&p->threads, sizeof *p->threads, &p->threads_cap,
                      p->nthreads + 1, NULL) < 0)
            return NULL;
        st = calloc(1, sizeof *st);
        if (!st)
            return NULL;
        if (moth_cct_init(&st->tree, NULL) < 0) {
            free(st);
            return NULL;
        }
        st->prof = p;
        st->index = (uint32_t)p->nthreads;
        st->thread_id = ident;
        st->native_id = native;
        st->pthread = pthread_self();
        st->stack_limit = thread_stack_limit();
        p->threads[p->nthreads++] = st;
    }
    st->clock = p->clock;
    st->pyts = PyThreadState_Get();
    st->current = MOTH_CCT_ROOT;
    st->nlframes = 0;
    st->line_tracing = 0;
    st->hook_sp = NULL;
    st->inline_delta = p->inline_delta;
    st->session = session;
    st->window_end = 0; /* the first call opens the first window */
    st->window_calls = 0;
    st->drift.open = 0;
    moth_tls_state = st;
    moth_tls_session = session;
    if (!st->name && learn_name) {
        moth_saved_exc exc;
        moth_exc_save(&exc);
        st->busy++;
        learn_thread_name(st);
        st->busy--;
        moth_exc_restore(&exc);
    }
    return st;
}

void moth_label_node(moth_tstate *st, uint32_t node, uint64_t key, PyObject *what)
{
    moth_profiler *p = st->prof;
    uint32_t func = moth_map_get(&p->func_of_key, key, 0);
    if (func == MOTH_MAP_ABSENT) {
        moth_saved_exc exc;
        moth_exc_save(&exc);
        st->busy++;
        moth_label label;
        if (moth_label_of(what, &label) == 0 &&
            moth_funcs_intern(&p->funcs, label.file, label.line, label.name, label.qualname,
                              &func, NULL) == 0) {
            /* A code object's address is its key: keep it alive so no other takes it. */
            if (PyCode_Check(what) && PyList_Append(p->kept, what) < 0)
                PyErr_Clear();
            if (moth_map_put(&p->func_of_key, key, 0, func, NULL) < 0)
                func = MOTH_MAP_ABSENT;
        }
        moth_label_release(&label);
        st->busy--;
        moth_exc_restore(&exc);
    }
    st->tree.nodes[node].func = func; /* MOTH_MAP_ABSENT == MOTH_NODE_NONE: unlabelled */
    if (p->lines != MOTH_LINES_OFF && PyCode_Check(what) && func != MOTH_MAP_ABSENT) {
        moth_saved_exc exc;
        moth_exc_save(&exc);
        st->busy++;
        st->tree.nodes[node].aux = moth_lineprof_table_for(p, (PyCodeObject *)what, func);
        st->busy--;
        moth_exc_restore(&exc);
    }
    /* A new thread is named in threading's registry only once it runs its target: look
     * again at each new call path until then. */
    if (MOTH_UNLIKELY(!st->name)) {
        moth_saved_exc exc;
        moth_exc_save(&exc);
        st->busy++;
        learn_thread_name(st);
        st->busy--;
        moth_exc_restore(&exc);
    }
}

uint64_t moth_custom_clock(moth_tstate *st)
{
    moth_profiler *p = st->prof;
    moth_saved_exc exc;
    moth_exc_save(&exc);
    st->busy++;
    uint64_t ticks = 0;
    PyObject *o = PyObject_CallNoArgs(p->timer);
    if (o) {
        if (p->timeunit > 0.0) {
            /* cProfile: an integer count of `timeunit`s */
            long long v = PyLong_Check(o) ? PyLong_AsLongLong(o) : (PyErr_SetString(
                PyExc_TypeError, "the timer must return an int when timeunit is set"), -1);
            ticks = (uint64_t)v;
        } else {
            /* cProfile: seconds as a number, kept as integer nanoseconds rounded down */
            double d = PyFloat_AsDouble(o);
            ticks = (uint64_t)(int64_t)floor(d * 1e9);
        }
        Py_DECREF(o);
    }
    if (PyErr_Occurred()) {
        PyErr_WriteUnraisable(p->timer);
        ticks = 0;
    }
    st->busy--;
    moth_exc_restore(&exc);
    return ticks;
}

uint64_t moth_clock_read_other(moth_tstate *st)
{
    switch (st->clock) {
    case MOTH_CLOCK_CYCLES:
        return moth_cycles();
    case MOTH_CLOCK_WALL_NS:
        return moth_monotonic_ns();
    case MOTH_CLOCK_CPU:
        return moth_thread_cpu_ns();
    case MOTH_CLOCK_NONE:
        return 0;
    default:
        return moth_custom_clock(st);
    }
}

/* The thread's time on a CPU and waiting for one, from the scheduler's counts when they can be
 * read (/proc/thread-self/schedstat: run, wait, timeslices), else from its clocks. */
static void read_scheduler(moth_tstate *st, moth_drift_reading *r)
{
    if (st->schedstat_fd == 0) {
        int fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
        st->schedstat_fd = fd >= 0 ? fd + 1 : -1;
    }
    char text[96];
    ssize_t n = st->schedstat_fd > 0 ? pread(st->schedstat_fd - 1, text, sizeof text - 1, 0) : -1;
    unsigned long long run, wait;
    if (n > 0) {
        text[n] = '\0';
        if (sscanf(text, "%llu %llu", &run, &wait) == 2 && run > 0) {
            r->run_ns = run;
            r->wait_ns = wait;
            r->exact = 1;
            return;
        }
    }
    uint64_t cpu = moth_thread_cpu_ns();
    r->run_ns = cpu;
    r->wait_ns = moth_monotonic_ns() - cpu;
    r->exact = 0;
}

void moth_drift_turn(moth_tstate *st)
{
    moth_profiler *p = st->prof;
    if (!p->compensate || st->clock == MOTH_CLOCK_CUSTOM) {
        st->window_end = UINT64_MAX;
        return;
    }
    moth_drift_reading now;
    read_scheduler(st, &now);
    now.probe = moth_drift_probe();
    moth_drift_window(&st->drift, st->window_calls, &now, p->calibrated_probe,
                      st->clock != MOTH_CLOCK_CPU);
    st->window_calls = 0;
    st->window_end = moth_clock_read(st) + p->window_ticks;
}

/* A drift window lasts this long: short enough to follow the machine, long enough that its
 * two clock reads and probe (a few microseconds) cost nothing measurable. */
#define DRIFT_WINDOW_SECONDS 0.01

int moth_profiler_enable(moth_profiler *p)
{
    if (p->session)
        return 0;
    if (moth_the_interp.session) {
        PyErr_SetString(PyExc_ValueError,
                        "another moth profiler is already enabled in this interpreter");
        return -1;
    }
    uint64_t session = ++moth_the_interp.last_session;
    p->window_ticks = p->clock == MOTH_CLOCK_CYCLES
                          ? (uint64_t)(DRIFT_WINDOW_SECONDS /
                                       moth_seconds_per_cycle(&moth_the_interp.clock_anchor, 0))
                          : (uint64_t)(DRIFT_WINDOW_SECONDS * 1e9);
    moth_the_interp.profiler = p;
    Py_XINCREF(p->owner);
    p->session = session;
    moth_the_interp.session = session;
    int rc = moth_lineprof_start(p);
    moth_iframe *base = moth_mem_current_iframe(PyThreadState_Get());
    p->walk_base = base;
    p->walk_base_code = base ? moth_iframe_code(base) : NULL;
    if (rc == 0 && !moth_memprof_walks(p))
        rc = p->mode == MOTH_MODE_FRAMES ? moth_frames_install() : moth_classic_install(p);
    if (rc == 0 && p->memory && moth_memprof_start(p) < 0) {
        if (p->mode == MOTH_MODE_FRAMES)
            moth_frames_uninstall();
        else
            moth_classic_uninstall(p);
        rc = -1;
    }
    if (rc < 0) {
        moth_lineprof_stop(p);
        moth_the_interp.session = 0;
        moth_the_interp.profiler = NULL;
        p->session = 0;
        Py_XDECREF(p->owner);
        return -1;
    }
    return 0;
}

/* Closes the activations still running in a thread at the end of a session. */
static void close_running(moth_tstate *st)
{
    if (st->current == MOTH_CCT_ROOT)
        return;
    uint64_t now;
    if (st->clock == MOTH_CLOCK_CPU && !pthread_equal(st->pthread, pthread_self())) {
        clockid_t cid;
        struct timespec ts;
        if (pthread_getcpuclockid(st->pthread, &cid) != 0 || clock_gettime(cid, &ts) != 0)
            return;
        now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    } else {
        /* The hooks are off by now, so a custom timer's own calls are not recorded. */
        now = moth_clock_read(st);
    }
    for (uint32_t n = st->current; n != MOTH_CCT_ROOT; n = st->tree.nodes[n].parent) {
        moth_cct_node *node = &st->tree.nodes[n];
        uint64_t elapsed = now - node->start;
        node->total += (int64_t)elapsed < 0 ? 0 : elapsed;
        node->calls++;
    }
    st->current = MOTH_CCT_ROOT;
}

/* Seconds per tick of p's clock. The cycle counter's rate is measured from the import of moth
 * to now (at least 1 ms, waited for once per process: the anchors are exact to tens of
 * nanoseconds, clock.c), so it only improves with time. */
static double measure_tick_seconds(moth_profiler *p)
{
    switch (p->clock) {
    case MOTH_CLOCK_CYCLES:
        return moth_seconds_per_cycle(&moth_the_interp.clock_anchor, 1000000u);
    case MOTH_CLOCK_CUSTOM:
        return p->timeunit > 0.0 ? p->timeunit : 1e-9;
    default:
        return 1e-9;
    }
}

int moth_profiler_disable(moth_profiler *p)
{
    if (!p->session)
        return 0;
    if (p->memory)
        moth_memprof_stop(p);
    if (p->mode == MOTH_MODE_FRAMES)
        moth_frames_uninstall();
    else
        moth_classic_uninstall(p);
    moth_lineprof_stop(p);
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i]->session == p->session)
            close_running(p->threads[i]);
    moth_the_interp.session = 0;
    moth_the_interp.profiler = NULL;
    p->session = 0;
    p->tick_seconds = measure_tick_seconds(p);
    for (size_t i = 0; i < p->nthreads; i++) {
        moth_tstate *st = p->threads[i];
        if (!st->name) {
            st->busy++;
            learn_thread_name(st);
            st->busy--;
        }
    }
    Py_XDECREF(p->owner); /* may be the last reference: nothing of p is used after this */
    return 0;
}

/* The profile's node of each node of `tree`, after moth_cct_add_by_func merged it into
 * `into` (keys: function + 1, along the same path of functions). */
static uint32_t *map_nodes(const moth_cct *tree, const moth_cct *into, moth_error *err)
{
    uint32_t *map = moth_malloc(tree->count * sizeof *map, err);
    if (!map)
        return NULL;
    map[0] = MOTH_CCT_ROOT;
    for (size_t n = 1; n < tree->count; n++) {
        const moth_cct_node *node = &tree->nodes[n];
        uint32_t parent = map[node->parent];
        map[n] = parent == MOTH_NODE_NONE
                     ? MOTH_NODE_NONE
                     : moth_cct_find_child(into, parent, (uint64_t)node->func + 1);
    }
    return map;
}

static double top_level_ticks(const moth_cct *tree)
{
    double ticks = 0;
    for (uint32_t c = tree->count ? tree->nodes[0].first_child : MOTH_NODE_NONE;
         c != MOTH_NODE_NONE; c = tree->nodes[c].next_sibling)
        ticks += (double)tree->nodes[c].total;
    return ticks;
}

/* How much of the measured time was the recording's cost, and how sure that is (the run's
 * details in moth's file; the footer of moth profile's table). */
static int describe_compensation(moth_profile *out, double measured, double subtracted,
                                 double spread, moth_error *err)
{
    char text[64];
    snprintf(text, sizeof text, "%.6f", measured);
    if (moth_profile_set_meta(out, "measured_seconds", text, err) < 0)
        return -1;
    snprintf(text, sizeof text, "%.6f", subtracted);
    if (moth_profile_set_meta(out, "recording_cost_seconds", text, err) < 0)
        return -1;
    snprintf(text, sizeof text, "%.3f", spread);
    return moth_profile_set_meta(out, "recording_cost_spread", text, err);
}

int moth_profiler_snapshot(moth_profiler *p, moth_profile *out)
{
    double measured = 0, subtracted = 0;
    moth_error err = {{0}};
    moth_profile_init(out);
    if (p->mem)
        moth_memwalk_label(p);
    int32_t *thread_out = NULL;
    uint32_t **node_map = NULL;
    /* While a session runs (a snapshot of a live profiler), use the rate measured so far. */
    out->tick_seconds = p->session || p->tick_seconds <= 0 ? measure_tick_seconds(p)
                                                           : p->tick_seconds;
    for (size_t i = 0; i < p->funcs.count; i++) {
        const moth_func *f = &p->funcs.items[i];
        uint32_t index;
        if (moth_funcs_intern(&out->funcs, f->file, f->line, f->name, f->qualname, &index,
                              &err) < 0)
            goto fail;
    }
    if (p->mem && (!(thread_out = moth_calloc(p->nthreads + 1, sizeof *thread_out, &err)) ||
                   !(node_map = moth_calloc(p->nthreads + 1, sizeof *node_map, &err))))
        goto fail;
    for (size_t i = 0; i < p->nthreads; i++) {
        moth_tstate *st = p->threads[i];
        if (thread_out)
            thread_out[i] = -1;
        if (st->tree.count <= 1 && !(p->mem && moth_memprof_thread_allocated(p, i)))
            continue;
        moth_thread_profile *th;
        if (moth_profile_add_thread(out, st->thread_id, st->name, &th, &err) < 0)
            goto fail;
        th->native_id = st->native_id;
        if (thread_out)
            thread_out[i] = (int32_t)(out->nthreads - 1);
        /* One node per path of functions: code objects with the same label (a module run
         * twice, say) merge, as pstats merges them. Unlabelled nodes (out of memory while
         * labelling) get a placeholder first. */
        moth_cct copy;
        if (moth_cct_copy(&copy, &st->tree, &err) < 0)
            goto fail;
        for (size_t n = 1; n < copy.count; n++) {
            if (copy.nodes[n].func != MOTH_NODE_NONE)
                continue;
            uint32_t unknown;
            if (moth_funcs_intern(&out->funcs, "~", 0, "<unknown>", NULL, &unknown, &err) < 0) {
                moth_cct_free(&copy);
                goto fail;
            }
            copy.nodes[n].func = unknown;
        }
        int merged = moth_cct_add_by_func(&th->tree, &copy, &err);
        if (merged == 0 && node_map && !(node_map[i] = map_nodes(&copy, &th->tree, &err)))
            merged = -1;
        moth_cct_free(&copy);
        if (merged < 0)
            goto fail;
        moth_cct_finish_from_totals(&th->tree);
        if (p->compensate) {
            /* what recording a call cost in this thread's times, as it ran */
            double scale = moth_drift_factor(&st->drift) / out->tick_seconds;
            double before = top_level_ticks(&th->tree);
            moth_cct_subtract_overhead(&th->tree, p->overhead_inner * scale,
                                       p->overhead_inline * scale, p->overhead_other * scale);
            measured += before * out->tick_seconds;
            subtracted += (before - top_level_ticks(&th->tree)) * out->tick_seconds;
        }
    }
    if (moth_lineprof_snapshot(p, out, &err) < 0)
        goto fail;
    if (p->compensate && measured > 0 && describe_compensation(out, measured, subtracted,
                                                               p->overhead_spread, &err) < 0)
        goto fail;
    if (p->mem && moth_memprof_snapshot(p, out, thread_out, node_map, &err) < 0)
        goto fail;
    if (node_map)
        for (size_t i = 0; i < p->nthreads; i++)
            free(node_map[i]);
    free(node_map);
    free(thread_out);
    return 0;
fail:
    if (node_map)
        for (size_t i = 0; i < p->nthreads; i++)
            free(node_map[i]);
    free(node_map);
    free(thread_out);
    moth_profile_free(out);
    PyErr_Format(PyExc_MemoryError, "moth: %s", err.msg);
    return -1;
}
