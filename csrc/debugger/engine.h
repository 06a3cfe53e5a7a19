/*
 * engine.h: the debugger's engine, beneath moth.Pdb (src/moth/debugger.py).
 *
 * pdb's cost comes from its trace function: once any breakpoint is set it runs on every call
 * of the program and on every line of every file that has a breakpoint. moth keeps pdb's own
 * decision code (bdb's stop_here / break_here / effective, so stops, hit counts, ignore counts
 * and conditions are pdb's exactly) but calls it only where it can stop:
 *
 *  - lines of code objects that hold a breakpoint (the breakpoint lines only, or every line
 *    when the breakpoint is on the function's first line, which bdb matches on any line);
 *  - line, return and exception events of the "target" frames: the frame `next`, `until` or
 *    `return` will stop in (bdb's stopframe and returnframe) and the frames holding a watch;
 *  - while pdb waits in a generator or coroutine (`next`, `until` or `return` there), the
 *    StopIteration and GeneratorExit exception events of the frames pdb traces (code of a file
 *    that holds a breakpoint, frames given pdb's trace function): bdb stops at those.
 *
 * Everything else runs untraced, at full speed. While pdb steps everywhere (`step`, or the
 * first stop of a run), Python's own trace function does the work for that thread exactly as
 * in pdb, and the engine stays out of its way.
 *
 * Where the events come from is the mechanism, one per CPython generation (pyver.h,
 * MOTH_LINES_BY_TRACE):
 *  - engine_monitor.c (3.12+): sys.monitoring as the debugger tool. PY_START, seen once per
 *    code object, enables LINE/PY_RETURN/PY_YIELD on the code objects above and disables
 *    itself there; RAISE and PY_UNWIND are watched only while there are target frames.
 *  - engine_trace.c (3.11): a frame-evaluation function sees each code object start and puts
 *    a C trace function on the thread only while such code is the innermost frame;
 *  - engine_probes.c (3.11): while only breakpoints are set, no hook at all: the code objects
 *    holding a breakpoint are replaced by twins with probes (lines_rewrite.c), as gdb patches
 *    an instruction; the frame hook comes back for stepping, targets and what twins cannot do.
 * A watch on a module-level name also needs the frames that rebind it, wherever they run:
 * engine_globals.c (3.12+) names them as they do it, from a dictionary watcher on the module's
 * globals, and pdb makes them targets until their line ends.
 */
#ifndef MOTH_DEBUG_ENGINE_H
#define MOTH_DEBUG_ENGINE_H

#include "pyver.h"

#include <stdint.h>

#include "interp.h"

typedef struct moth_engine {
    PyObject_HEAD
    PyObject *callback;     /* callback(frame, event, arg): bdb's dispatch for that event */
    PyObject *canonic;      /* canonic(filename) -> the key of `breaks` (bdb.Bdb.canonic) */
    PyObject *breaks;       /* dict: canonic filename -> list of breakpoint lines */
    PyObject *targets;      /* tuple of frames whose every event is wanted */
    PyThreadState *stepping;/* the thread whose events Python's trace function takes now */
    int generator_exits;    /* pdb waits in a generator: StopIteration and GeneratorExit in the
                               frames pdb traces are wanted (configure's generator_exits) */
    uint32_t generation;    /* bumped whenever breaks or targets change */
    PyObject *lines_code;   /* the code whose breakpoint lines are in `lines` (a cache) */
    uint32_t lines_generation;
    uint32_t nlines;
    uint32_t *lines;        /* sorted */
    int installed;
    PyThreadState *pin_ts;  /* engine_trace.c: the thread pinned traced, see there */
    PyObject *pin_frame;    /* engine_trace.c: its innermost frame from before the pin */
    PyObject *instrumented; /* engine_monitor.c: the code objects given local events */
    PyObject *disable;      /* engine_monitor.c: sys.monitoring.DISABLE */
    PyObject *watched_globals; /* engine_globals.c: list of (globals dict, frozenset of names) */
    PyObject *on_global_change; /* engine_globals.c: on_change(frame) */
    int probing;            /* engine_probes.c (3.11): twins' probes carry the breakpoints, no
                               frame hook is installed */
    PyObject *twins;        /* engine_probes.c: {address of code: (code, its twin or None)} */
    PyObject *probed_breaks;/* engine_probes.c: the breaks the twins were last placed for */
} moth_engine;

/* What the engine wants of a code object's events: decided once per generation and kept in
 * the code object's extra slot as a tagged value (no allocation, so nothing to free when
 * CPython drops code objects at exit without calling extra slots' free functions). */
typedef enum { MOTH_WANT_NONE, MOTH_WANT_BREAK_LINES, MOTH_WANT_ALL_LINES } moth_want;

typedef struct moth_code_info {
    moth_want want;         /* for the breakpoints */
    int target_code;        /* a target frame runs this code */
    int break_file;         /* its file holds a breakpoint (bdb's break_anywhere) */
} moth_code_info;

#define MOTH_CODE_INFO_TAG 1u /* never 0 (an empty slot) */

static inline void *moth_code_info_pack(uint32_t generation, moth_code_info ci)
{
    return (void *)(((uintptr_t)generation << 8) | ((uintptr_t)ci.break_file << 5) |
                    ((uintptr_t)ci.target_code << 4) | ((uintptr_t)ci.want << 1) |
                    MOTH_CODE_INFO_TAG);
}

static inline uint32_t moth_code_info_generation(void *packed)
{
    return (uint32_t)((uintptr_t)packed >> 8);
}

static inline moth_code_info moth_code_info_unpack(void *packed)
{
    uintptr_t v = (uintptr_t)packed;
    return (moth_code_info){.want = (moth_want)((v >> 1) & 3), .target_code = (v >> 4) & 1,
                            .break_file = (v >> 5) & 1};
}

extern PyTypeObject MothEngine_Type;

/* engine.c: decisions shared by the mechanisms. */
/* The active engine (one per interpreter), or NULL. */
static inline moth_engine *moth_engine_active(void)
{
    return moth_the_interp.debugger;
}

/* What the engine wants of code, decided anew (engine.c). */
moth_code_info moth_engine_decide(moth_engine *e, PyCodeObject *code);

/* What the engine wants of code. The frame hook asks this at every call: the decision made in
 * this generation is reused. */
static inline moth_code_info moth_engine_code_info(moth_engine *e, PyCodeObject *code)
{
    void *extra = NULL;
    if (_PyCode_GetExtra((PyObject *)code, moth_the_interp.code_extra_index, &extra) == 0 &&
        extra && moth_code_info_generation(extra) == e->generation)
        return moth_code_info_unpack(extra);
    return moth_engine_decide(e, code);
}

/* Whether a line event at `line` of `code` run by `frame` is one pdb may stop at. */
int moth_engine_wants_line(moth_engine *e, PyObject *frame, PyCodeObject *code, int line);
/* Whether frame is one of the target frames. */
int moth_engine_is_target(moth_engine *e, PyObject *frame);
/* Whether the engine wants the events of code's frames at all (a breakpoint, a target, or an
 * exception pdb may stop at while it waits in a generator). */
int moth_engine_wants_code(moth_engine *e, PyCodeObject *code);
/* Whether an exception event of type `type` in frame (running code) goes to pdb. */
int moth_engine_wants_exception(moth_engine *e, PyObject *frame, PyCodeObject *code,
                                PyObject *type);
/* Calls visit(e, code) for the code of f and of each frame below it, until visit returns
 * non-zero; returns that value (0 when all were visited). */
int moth_engine_each_frame(moth_engine *e, PyFrameObject *f,
                           int (*visit)(moth_engine *e, PyCodeObject *code));
/* engine_globals.c: watch_globals(pairs, on_change) -> whether it can (3.12+): before a name
 * of a pair's names is rebound in the pair's dict, on_change(the frame rebinding it). */
PyObject *moth_engine_watch_globals(moth_engine *e, PyObject *args);
void moth_engine_unwatch_globals(moth_engine *e);
/* Calls the callback; -1 when it raised (the exception is left set, for the program). */
int moth_engine_deliver(moth_engine *e, PyObject *frame, const char *event, PyObject *arg);

/* The mechanism calls these as it installs and uninstalls itself. While installed, the
 * interpreter holds a reference to the engine (as it would to a trace function), so
 * breakpoints outlive the moth.Pdb that set them (a set_trace() session that continued).
 * moth_engine_deactivate may free e: the mechanism touches nothing of e after it. */
void moth_engine_activate(moth_engine *e);
void moth_engine_deactivate(moth_engine *e);

/* Where frame stands in the program's own code: its code (a new reference) and the offset of
 * its last instruction (f_lasti); a twin's (3.11, engine_probes.c) mapped back to its
 * original, *at_probe set when that instruction was a probe's. */
PyObject *moth_engine_position(PyObject *frame, long *offset, int *at_probe);
/* The breaks of code's file (bdb's list of lines, borrowed), or NULL (engine.c). */
PyObject *moth_engine_file_breaks(moth_engine *e, PyCodeObject *code);

#if MOTH_LINES_BY_TRACE
/* engine_probes.c (3.11): places the twins for e->breaks (restore: the originals back
 * everywhere). 1 when the probes carry every breakpoint, 0 when the frame hook is needed too,
 * -1 on error. */
int moth_probes_place(moth_engine *e, int restore);
/* engine_trace.c gave pdb a line event of frame (line). */
void moth_probes_line_traced(moth_iframe *frame, int line);
/* Adds the audit hook that shows the probes code about to run through exec (once). */
int moth_probes_watch_exec(void);
/* engine_trace.c's trace function on a thread while probing: a probe's hand-over. */
int moth_probes_trace(moth_engine *e, PyFrameObject *frame, int what);
/* engine_trace.c: the engine's C trace function on ts, or off; the frame hook on (probing
 * stops: code exec is about to run needs it). */
void moth_engine_trace_thread(PyThreadState *ts, int on);
void moth_engine_hook_frames(moth_engine *e);
/* After pdb ran from a probe: the frame hook, if pdb's commands put it on, never saw pdb's
 * outer frames start, so it cannot switch the thread's tracing back as they end: this does. */
void moth_engine_trace_resumed(PyThreadState *ts);
#endif

/* The mechanism (engine_monitor.c or engine_trace.c). */
int moth_engine_install(moth_engine *e);
void moth_engine_uninstall(moth_engine *e);
/* Breaks or targets changed (generation bumped): re-arm the events. frame (or NULL) is the
 * frame the program is stopped in, which resumes on the calling thread. */
int moth_engine_rearm(moth_engine *e, PyObject *frame);

#endif
