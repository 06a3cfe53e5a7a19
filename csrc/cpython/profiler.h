/*
 * profiler.h: the deterministic profiler's engine, shared by its two ways of seeing calls.
 *
 *  - frames mode (frame_eval.c): a PEP 523 frame-evaluation function sees every Python frame
 *    start and finish and keeps CPython's specialising interpreter running; time in C functions
 *    counts as their caller's own time. The default: cheap.
 *  - classic mode (classic_hook.c): the profile hook CPython offers (PyEval_SetProfile) also
 *    reports C function calls, which become rows of their own, exactly as cProfile does, at
 *    cProfile's cost.
 *
 * Both record into one calling-context tree per thread (core/cct.h), owned by a moth_tstate.
 * A profiler runs in sessions (enable .. disable); at most one profiler is enabled per
 * interpreter at a time. The C stacks of calls that were running when a session began are not
 * seen; calls still running when it ends are closed at that moment (cProfile's flush).
 */
#ifndef MOTH_PROFILER_H
#define MOTH_PROFILER_H

#include "pyver.h"

#include <pthread.h>

#include "cct.h"
#include "clock.h"
#include "drift.h"
#include "funcs.h"
#include "hashmap.h"
#include "interp.h"
#include "profile.h"

typedef enum {
    MOTH_CLOCK_CYCLES,  /* wall time from the cycle counter (calibrated) */
    MOTH_CLOCK_WALL_NS, /* wall time from CLOCK_MONOTONIC, where cycles are not usable */
    MOTH_CLOCK_CPU,     /* the thread's CPU time */
    MOTH_CLOCK_CUSTOM,  /* a Python callable, as cProfile's `timer` */
    MOTH_CLOCK_NONE,    /* calls are not timed (memory profiling: the tree is the call paths) */
} moth_clock_kind;

typedef enum { MOTH_MODE_FRAMES, MOTH_MODE_CLASSIC } moth_mode;

/* Which code the line profiler watches (lines_engine.c). */
typedef enum {
    MOTH_LINES_OFF,
    MOTH_LINES_USER,      /* the program's own code: not the standard library, not installed
                             packages; plus what patterns and decorators select */
    MOTH_LINES_SELECTED,  /* only what patterns and decorators select */
} moth_lines_mode;

/* One line-profiled code object: hits and ticks per line, first..first+count-1. */
typedef struct moth_code_lines {
    PyObject *code;       /* strong reference */
    uint32_t func;        /* its function, in the profiler's table */
    uint32_t first, count;
    uint64_t *hits, *ticks;
    int32_t silent_first; /* 3.13: the first line, when its LINE event never comes; else -1 */
    int32_t resume_unit;  /* 3.13: the code unit of the opening RESUME */
} moth_code_lines;

/* A running activation of line-profiled code: its line and since when. */
typedef struct moth_line_frame {
    uint32_t table;       /* index into the profiler's code_lines */
    int32_t line;         /* -1 before its first line event */
    int32_t cur;          /* 3.11 twins: the line of the last instruction run (lines_rewrite.c) */
    int probed;           /* 3.11: a twin with probes runs it, not the trace function */
    uint64_t since;
} moth_line_frame;

struct moth_profiler;

/* One thread's recording. Touched only by its own thread (under the GIL), except when the
 * session ends or a snapshot is taken, which also hold the GIL. */
typedef struct moth_tstate {
    struct moth_profiler *prof;
    moth_cct tree;
    uint32_t current;         /* innermost running recorded activation (ROOT: none) */
    moth_clock_kind clock;    /* copy of prof->clock, one load away on the hot path */
    int busy;                 /* running the profiler's own Python code: record nothing */
    uint64_t session;         /* the session this thread last recorded in */
    uint64_t thread_id;       /* threading.get_ident() */
    uint64_t native_id;       /* threading.get_native_id() */
    pthread_t pthread;
    char *name;               /* threading.Thread.name, once known */
    char *stack_limit;        /* C frames below this address are too close to the stack end */
    char *hook_sp;            /* frames mode: C stack address of the innermost recorded call */
    size_t inline_delta;      /* frames mode: the C stack distance between a call and its
                                 caller when CPython would have inlined it (calibrate.c) */
    size_t last_delta;        /* the distance seen at the last call (calibrate.c reads it) */
    uint64_t dropped;         /* activations left out because the tree was full */
    /* the recording's cost through the run (core/drift.h), with compensation on */
    uint64_t window_end;      /* the reading of the clock at which the open window closes */
    uint64_t window_calls;    /* calls recorded in the open window */
    moth_drift drift;
    int schedstat_fd;         /* this thread's /proc/thread-self/schedstat + 1; 0: not opened
                                 yet; -1: cannot be */
    moth_line_frame *lframes; /* running line-profiled activations, innermost last */
    size_t nlframes, lframes_cap;
    int line_tracing;         /* 3.11: the C line tracer is installed on this thread */
    uint32_t index;           /* its place in prof->threads */
    PyThreadState *pyts;      /* the thread's interpreter state (memory: its current frame) */
    /* memory (memory_hooks.c): the sites of recent allocations, by (node, unit), under a
     * recorder generation */
    struct {
        uint32_t gen, node, site;
        int32_t unit;
    } mem_sites[64];
    /* memory's walk (memory_walk.c): nodes made inside an allocation, labelled later (each
     * holds a reference to its code) */
    struct moth_unlabelled *unlabelled;
    size_t nunlabelled, unlabelled_cap;
    PyObject *thread_obj;     /* its threading.Thread, to be named by (strong reference) */
    /* memory's walk: the call path of the thread's last walk, bottom first: each frame, its
     * key (moth_mem_iframe_key) and the tree node reached after it; what the bottom frame's
     * caller was; the innermost frame that counts (its index + 1; 0: none); valid for
     * path_gen */
    void **path_frame;
    uint64_t *path_key;
    uint32_t *path_node;
    void *path_end;
    uint32_t path_len, path_cap, path_gen, path_top;
} moth_tstate;

typedef struct moth_unlabelled {
    uint32_t node;
    PyObject *code;           /* strong reference */
} moth_unlabelled;

typedef struct moth_profiler {
    PyObject *owner;          /* the moth.Profile object (borrowed) */
    moth_mode mode;
    moth_clock_kind clock;
    PyObject *timer;          /* MOTH_CLOCK_CUSTOM: the callable (strong reference) */
    double timeunit;          /* cProfile's timeunit: > 0 means the timer returns int ticks */
    int builtins;             /* classic mode: record C functions */
    int subcalls;             /* keep caller edges in the pstats view */
    moth_tstate **threads;
    size_t nthreads, threads_cap;
    moth_funcs funcs;         /* labels of every function a tree node refers to */
    moth_map func_of_key;     /* (node key, 0) -> index into funcs */
    PyObject *kept;           /* list: code objects whose addresses serve as node keys */
    double tick_seconds;      /* seconds per tick, fixed when a session ends */
    uint64_t session;         /* non-zero while enabled */
    int compensate;           /* subtract the measured cost of interception from times */
    double overhead_inner;    /* seconds per recorded call inside the callee's interval */
    double overhead_inline;   /* seconds per call CPython would have inlined, charged to the
                                 caller (frames mode: the inlining lost, plus the hook) */
    double overhead_other;    /* seconds per other call, charged to the caller */
    double overhead_spread;   /* how sure calibration is of them: the relative spread of its
                                 rounds (calibrate.c) */
    size_t inline_delta;      /* see moth_tstate */
    uint64_t calibrated_probe;/* ticks core/drift.h's probe took at calibration (0: unknown) */
    uint64_t window_ticks;    /* length of a drift window on the clock, set at enable */
    /* line profiling (lines_engine.c) */
    moth_lines_mode lines;
    PyObject *line_patterns;  /* list of str: fnmatch patterns on qualname or module.qualname */
    PyObject *line_codes;     /* set of code objects chosen with add_function */
    moth_code_lines *code_lines;
    size_t ncode_lines, code_lines_cap;
    moth_map lines_of_code;   /* (code address, 0) -> code_lines index + 1 (| MOTH_LINES_PROBED
                                 for a twin), or 0: not profiled */
    PyObject *twins;          /* 3.11: list of the twins made (or, where none could be, the
                                 code itself); keeps the keys of twin_of alive */
    moth_map twin_of;         /* 3.11: (code address, 0) -> twins index + 1 */
    PyObject *swapped;        /* 3.11: list of (weakref to a function, its code, its twin) */
    int monitoring;           /* 3.12+: the sys.monitoring tool is ours */
    /* memory profiling (memory_profile.c) */
    int memory;               /* record allocations too */
    uint64_t memory_sample;   /* sampled mode: mean bytes between samples; 0: every one */
    struct moth_memtrack *mem; /* the recorder, from the first memory session on */
    void *walk_base;          /* memory's walk: the frame that enabled the session, and its */
    void *walk_base_code;     /* code; the walk stops there (the hook sees only calls after) */
    /* memory checkpoints (moth_memprof_checkpoint): saves the run so far; NULL: none */
    int (*memory_checkpoint)(moth_profile *so_far, void *arg);
    void *memory_checkpoint_arg;
} moth_profiler;



int moth_profiler_init(moth_profiler *p, moth_mode mode, moth_clock_kind clock, PyObject *timer,
                       double timeunit, int builtins, int subcalls);
void moth_profiler_free(moth_profiler *p);
/* Discards everything recorded (cProfile's clear()). */
void moth_profiler_clear(moth_profiler *p);

/* Starts a session. Python exception and -1 when another profiler is enabled. */
int moth_profiler_enable(moth_profiler *p);
/* Ends the session: closes the running activations of every thread. */
int moth_profiler_disable(moth_profiler *p);
int moth_profiler_is_enabled(const moth_profiler *p);

/* Builds a profile of what was recorded (times in seconds per tick already compensated when
 * p->compensate). Python exception and -1 on failure. */
int moth_profiler_snapshot(moth_profiler *p, moth_profile *out);

/* The calling thread's state for the running session, created when new; NULL when no session
 * runs or memory ran out. The hot paths call this only when their thread-local cache is stale. */
moth_tstate *moth_tstate_for_session(uint64_t session);
/* The same for a thread that is inside an allocation (memory_walk.c): runs no Python code (the
 * thread's name is learnt later). */
moth_tstate *moth_tstate_quietly(uint64_t session);

/* Records the label of a new node's function the first time its key is seen. `what` is a code
 * object (frames and classic modes) or a C function object (classic mode), and `key` the node
 * key derived from it. Keeps any pending Python exception as it was. */
void moth_label_node(moth_tstate *st, uint32_t node, uint64_t key, PyObject *what);

/* The current time on st's clock, in ticks. The cycle counter is the common case and is read
 * inline; the others take a call. */
uint64_t moth_clock_read_other(moth_tstate *st);
uint64_t moth_custom_clock(moth_tstate *st);
static inline uint64_t moth_clock_read(moth_tstate *st)
{
    if (MOTH_LIKELY(st->clock == MOTH_CLOCK_CYCLES))
        return moth_cycles();
    return moth_clock_read_other(st);
}

/* Thread-local cache of this thread's state for the running session. initial-exec: one load
 * relative to the thread pointer, no call, on the hot path. */
extern __thread moth_tstate *moth_tls_state __attribute__((tls_model("initial-exec")));
extern __thread uint64_t moth_tls_session __attribute__((tls_model("initial-exec")));

static inline moth_tstate *moth_current_tstate(void)
{
    uint64_t session = moth_the_interp.session;
    if (MOTH_LIKELY(moth_tls_session == session && session != 0))
        return moth_tls_state;
    return moth_tstate_for_session(session);
}

/* Closes st's drift window and opens the next (profiler.c). */
void moth_drift_turn(moth_tstate *st);

/* Opens an activation of `key` below st->current; returns the node, or MOTH_NODE_NONE when
 * it is left out (tree full). `what` labels a new node (see moth_label_node). */
static inline uint32_t moth_record_enter(moth_tstate *st, uint64_t key, PyObject *what)
{
    size_t before = st->tree.count;
    uint32_t node = moth_cct_child(&st->tree, st->current, key);
    if (MOTH_UNLIKELY(st->tree.count != before))
        moth_label_node(st, node, key, what); /* also learns the thread's name */
    else if (MOTH_UNLIKELY(node == MOTH_NODE_NONE)) {
        st->dropped++;
        return node;
    }
    st->current = node;
    uint64_t now = moth_clock_read(st);
    st->window_calls++;
    if (MOTH_UNLIKELY(now >= st->window_end)) {
        moth_drift_turn(st);
        now = moth_clock_read(st);
    }
    st->tree.nodes[node].start = now;
    return node;
}

/* Closes the activation of `node` (which must be st->current); `inlined` tells whether CPython
 * would have inlined the call had moth not been there (0 or 1). */
static inline void moth_record_leave(moth_tstate *st, uint32_t node, unsigned inlined)
{
    uint64_t now = moth_clock_read(st);
    moth_cct_node *n = &st->tree.nodes[node];
    uint64_t elapsed = now - n->start;
    if (MOTH_UNLIKELY((int64_t)elapsed < 0))
        elapsed = 0;
    n->total += elapsed;
    n->calls++;
    n->inline_calls += inlined;
    st->current = n->parent;
}

/* Saving and restoring a pending exception around the profiler's own Python calls. */
typedef struct moth_saved_exc {
    PyObject *exc;
} moth_saved_exc;
void moth_exc_save(moth_saved_exc *s);
void moth_exc_restore(moth_saved_exc *s);

/* Line profiling (lines_engine.c). */
int moth_lineprof_start(moth_profiler *p);
void moth_lineprof_stop(moth_profiler *p);
void moth_lineprof_free(moth_profiler *p);
/* The line table of `code` + 1 (creating it when the code is selected), 0 when not profiled;
 * with MOTH_LINES_PROBED when code is a 3.11 twin that reports its lines itself. */
#define MOTH_LINES_PROBED 0x80000000u
uint32_t moth_lineprof_table_for(moth_profiler *p, PyCodeObject *code, uint32_t func);
/* Around a recorded activation of `frame` whose node has aux `table` (0: not line-profiled).
 * Returns what moth_lines_leave needs to undo. */
int moth_lineprof_enter(moth_tstate *st, uint32_t table, moth_iframe *frame);
void moth_lineprof_leave(moth_tstate *st, int token);
/* Adds the line data into a snapshot's profile. */
int moth_lineprof_snapshot(moth_profiler *p, moth_profile *out, moth_error *err);
/* Code objects selected from Python (moth.profile_lines): a set, per interpreter. */
int moth_lineprof_mark(PyObject *code);

/* Memory profiling (memory_profile.c): the recorder and the hooks around a session, and the
 * profile's memory rows. thread_out[i]: the profile's thread of p->threads[i] (-1: none);
 * node_map[i][n]: the profile's node of that thread's node n. */
int moth_memprof_start(moth_profiler *p);
void moth_memprof_stop(moth_profiler *p);
void moth_memprof_clear(moth_profiler *p);
int moth_memprof_snapshot(moth_profiler *p, moth_profile *out, const int32_t *thread_out,
                          uint32_t *const *node_map, moth_error *err);
/* Checkpoints: with p->memory_checkpoint set, whenever the peak has grown by a quarter since
 * the last (from MOTH_MEM_FIRST_CHECKPOINT on), and MOTH_MEM_CHECKPOINT_PERIOD after the last
 * when it has grown at all, a snapshot of the run so far is handed to it, with the GIL,
 * between two instructions of the program, at most 5% of the run's time. What it allocates is
 * moth's. A process killed without warning (the OOM killer's SIGKILL) leaves what the last
 * one saved. */
#define MOTH_MEM_FIRST_CHECKPOINT (16 << 20)
#define MOTH_MEM_CHECKPOINT_PERIOD 1000000000ull
/* Memory profiling without the frame hook (memory_walk.c): the call path of an allocation is
 * read from the thread's frames. moth_memprof_walks tells whether p's sessions do that;
 * moth_memwalk_site finds the calling thread's state (*st, NULL when it has none), node and
 * code unit (-1 when it is moth's own code, not recorded); moth_memwalk_label gives the nodes
 * made inside allocations their labels (call it with the GIL, outside any hook: it runs Python
 * code); moth_memwalk_forget drops them and the thread's cached path. */
int moth_memprof_walks(const moth_profiler *p);
int moth_memwalk_site(moth_tstate **st, uint32_t *thread, uint32_t *node, int32_t *unit);
void moth_memwalk_label(moth_profiler *p);
void moth_memwalk_forget(moth_tstate *st);
/* Whether thread i of p made allocations that were recorded (its thread must be in the
 * profile even if it ran no Python code). */
int moth_memprof_thread_allocated(const moth_profiler *p, size_t i);

/* Frames mode: install / remove the frame-evaluation function (frame_eval.c). */
int moth_frames_install(void);
void moth_frames_uninstall(void);

/* Classic mode: install / remove the profile hook on every thread (classic_hook.c). */
int moth_classic_install(moth_profiler *p);
void moth_classic_uninstall(moth_profiler *p);
/* Classic mode: records a call of the C function object `fn` made by the running code, as the
 * hook would have seen it had Python code made it. The activation stays open until the code
 * running returns or the session ends. */
void moth_classic_enter_cfunction(PyObject *fn);

#endif
