/*
 * engine_probes.c (3.11): breakpoints with no hook on the interpreter until one is reached.
 *
 * 3.11 has no per-code events, and its frame-evaluation hook (engine_trace.c) costs every
 * Python call of the program (1.4-1.6x on call-heavy code) even when no breakpoint is ever
 * reached. So while only breakpoints are set (no step, next, until, return or watch pending),
 * the engine works as gdb does, by patching code: each code object holding a breakpoint line
 * is replaced by its twin, the same code with a probe where tracing reports a line (the line
 * profiler's rewriter, lines_rewrite.c):
 *  - every function running that code gets the twin as its __code__;
 *  - every code object that makes functions from it (a module's, a class body's, an
 *    enclosing function's) gets the twin in its place among its constants, in place, so that
 *    functions made later, even by a frame that is running now, are made from the twin;
 *  - code about to run through exec (a module imported, exec, eval) is seen by an audit hook
 *    on "exec", and the same is done to it.
 * Nothing else changes: other code runs as fast as without a debugger.
 *
 * A probe runs in C. On a line bdb may stop at, it hands that line to the engine's trace
 * function for one instruction (the thread is traced until then, the frame given opcode
 * events), so that pdb sees the line event from CPython's own tracing path, exactly where
 * pdb would (f_lineno, `jump`), and the thread is untraced again before pdb runs.
 *
 * What twins cannot carry goes back to the frame hook (engine_trace.c), as before: a frame
 * already running the original code of a breakpoint (code cannot change under a frame; such
 * as the function a breakpoint is set in while another thread is in it), generators and
 * coroutines (stepping out of one a probe stopped in, into a caller's `yield from`, `await` or
 * `async for` begun untraced, pdb stops at the StopIteration that only the frame hook around
 * the generator's run can report: engine_trace.c, send_exception), code the rewriter refuses
 * (or a function whose __code__ an audit hook of the program's will not let change), module
 * code holding a breakpoint that exec is about to run, and every breakpoint when moth's audit
 * hook could not be added (the program's own may refuse it) or gc.get_objects() fails (code
 * would go unseen). Stepping, targets and watches use the hook too; twins placed stay, inert,
 * until the next time only breakpoints are set.
 *
 * A probe knows its line but not the line the frame ran before it. The line it saw last per
 * thread (frame and line) stands in for it: a probe reached from its own line again (a jump
 * or exception handler within one line) is not a new line event, unless a probe of another
 * function ran in between; a frame's first probe always is.
 */
#include "engine.h"

#include "common.h"
#include "interp.h"
#include "lines_rewrite.h"

#include <string.h>

#if MOTH_LINES_BY_TRACE

#define GENERATOR_FLAGS (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)

/* Per thread: the last probe seen (frame, line), and a hand-over in progress. */
static _Thread_local struct {
    moth_iframe *frame;
    int32_t line;
    int traced_at;        /* the frame's unit when the trace function gave pdb that line, or -1 */
    moth_iframe *handing; /* the frame whose line goes to the trace function, or NULL */
    int forced;           /* ... at the backward jump's target (else: at the next opcode) */
    char opcodes;         /* the frame's f_trace_opcodes before the hand-over */
} here;

/* ---- probes ---- */

/* Whether twin units a (before) and b are the same probe's. */
static int same_probe(moth_probe_ctx *ctx, int a, int b)
{
    return a >= 0 && a < b && (uint32_t)b < ctx->nunits && ctx->unit_origin[a] < 0 &&
           ctx->unit_origin[a] == ctx->unit_origin[b] && b - a <= 4;
}

void moth_probes_line_traced(moth_iframe *frame, int line)
{
    /* The trace function (the frame hook's) reports a twin's line at its probe's first unit:
     * when probing starts again before that probe has run, it must not report it twice. */
    here.frame = frame;
    here.line = line;
    here.traced_at = moth_iframe_lasti(frame);
}

static void probe_fired(moth_probe_ctx *ctx, int32_t line, int forced)
{
    moth_engine *e = moth_engine_active();
    if (!e || !e->probing)
        return;
    PyThreadState *ts = PyThreadState_Get();
    if (ts->tracing || ts->c_tracefunc) /* pdb's own code, or a tracer that sees the line */
        return;
    moth_iframe *f = moth_thread_current_iframe(ts);
    if (!f)
        return;
    int lasti = moth_iframe_lasti(f);
    int fresh = lasti < (int)ctx->first_end;
    if (here.frame == f && here.line == line &&
        ((!fresh && !forced) || same_probe(ctx, here.traced_at, lasti)))
        return;
    here.traced_at = -1;
    here.frame = f;
    here.line = line;
    if (line < 0 || !moth_engine_wants_line(e, NULL, moth_iframe_code(f), line))
        return;
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed */
    if (!frame) {
        PyErr_Clear();
        return;
    }
    here.handing = f;
    here.forced = forced;
    if (!forced) { /* the next instruction is the line's own: an opcode event there */
        here.opcodes = frame->f_trace_opcodes;
        frame->f_trace_opcodes = 1;
    }
    moth_engine_trace_thread(ts, 1);
}

int moth_probes_trace(moth_engine *e, PyFrameObject *frame, int what)
{
    PyThreadState *ts = PyThreadState_Get();
    if (!here.handing) { /* nothing to hand over: this thread needs no tracing */
        moth_engine_trace_thread(ts, 0);
        return 0;
    }
    if (moth_frame_iframe(frame) != here.handing)
        return 0; /* (a signal handler's frames, run in between) */
    int due = here.forced ? what == PyTrace_LINE : what == PyTrace_OPCODE;
    if (!due && what != PyTrace_RETURN && what != PyTrace_EXCEPTION)
        return 0;
    if (!here.forced)
        frame->f_trace_opcodes = here.opcodes;
    here.handing = NULL;
    /* untraced before pdb runs: its commands may trace this thread their own way */
    moth_engine_trace_thread(ts, 0);
    if (!due)
        return 0;
    int what_before = ts->tracing_what;
    ts->tracing_what = PyTrace_LINE; /* a line event to CPython too: pdb's `jump` works */
    int rc = moth_engine_deliver(e, (PyObject *)frame, "line", Py_None);
    ts->tracing_what = what_before;
    moth_engine_trace_resumed(ts); /* (e may be gone) */
    return rc;
}

/* ---- placing twins ---- */

typedef struct {
    moth_engine *e;
    int restore;     /* originals back everywhere */
    int hook_needed; /* a breakpoint the probes cannot carry */
    PyObject *seen;  /* {address: code} whose constants were placed in this pass */
    PyObject *files; /* {filename: breakpoint lines or None} */
} placing;

static PyObject *file_lines(placing *p, PyCodeObject *code)
{
    PyObject *known = PyDict_GetItemWithError(p->files, code->co_filename);
    if (known)
        return known == Py_None ? NULL : known;
    PyObject *lines = PyErr_Occurred() ? NULL : moth_engine_file_breaks(p->e, code);
    PyErr_Clear();
    if (PyDict_SetItem(p->files, code->co_filename, lines ? lines : Py_None) < 0)
        PyErr_Clear();
    return lines;
}

/* Whether a line in `lines` is one of code's own lines (not of code nested in it), or its
 * first line (bdb then matches any of its lines). */
static int holds_breakpoint(placing *p, PyCodeObject *code)
{
    PyObject *lines = file_lines(p, code);
    if (!lines)
        return 0;
    PyObject *firstline = PyLong_FromLong(code->co_firstlineno);
    int found = firstline ? PySequence_Contains(lines, firstline) : -1;
    Py_XDECREF(firstline);
    PyObject *ranges = found == 0 ? PyObject_CallMethod((PyObject *)code, "co_lines", NULL)
                                  : NULL;
    PyObject *it = ranges ? PyObject_GetIter(ranges) : NULL, *item;
    while (it && found == 0 && (item = PyIter_Next(it))) {
        PyObject *line = PyTuple_Check(item) && PyTuple_GET_SIZE(item) == 3
                             ? PyTuple_GET_ITEM(item, 2) : Py_None;
        found = line != Py_None ? PySequence_Contains(lines, line) : 0;
        Py_DECREF(item);
    }
    Py_XDECREF(it);
    Py_XDECREF(ranges);
    if (found < 0 || PyErr_Occurred()) {
        PyErr_Clear();
        p->hook_needed = 1; /* unknown: the hook decides as before */
        return 0;
    }
    return found;
}

/* The twin of code (borrowed), made once per engine; NULL when the rewriter refuses it. */
static PyObject *twin_of(placing *p, PyCodeObject *code)
{
    moth_engine *e = p->e;
    if (!e->twins && !(e->twins = PyDict_New()))
        return NULL;
    PyObject *key = PyLong_FromVoidPtr(code);
    PyObject *entry = key ? PyDict_GetItemWithError(e->twins, key) : NULL;
    if (!entry && key && !PyErr_Occurred()) {
        PyObject *twin = moth_lines_twin(code, NULL, NULL, probe_fired);
        PyErr_Clear();
        /* (the code is kept with its twin: its address is the key) */
        entry = PyTuple_Pack(2, (PyObject *)code, twin ? twin : Py_None);
        if (entry && PyDict_SetItem(e->twins, key, entry) < 0)
            PyErr_Clear();
        Py_XDECREF(entry); /* (the dict holds it, or it is gone and so is the twin) */
        Py_XDECREF(twin);
        entry = PyDict_GetItemWithError(e->twins, key);
    }
    Py_XDECREF(key);
    PyErr_Clear();
    PyObject *twin = entry ? PyTuple_GET_ITEM(entry, 1) : Py_None;
    return twin != Py_None ? twin : NULL;
}

static void place_constants(placing *p, PyCodeObject *code);

/* What should run in place of code (a new reference): its twin when its original holds a
 * breakpoint, else the original. running: a frame runs code itself, which cannot change. */
static PyObject *place(placing *p, PyCodeObject *code, int running)
{
    moth_probe_ctx *ctx = moth_twin_ctx(code);
    int ours = ctx && ctx->fire == probe_fired;
    PyCodeObject *origin = ours ? (PyCodeObject *)ctx->origin : code;
    PyObject *wanted = (PyObject *)origin;
    if (!p->restore && holds_breakpoint(p, origin)) {
        PyObject *twin = NULL;
        if ((running && !ours) || (ctx && !ours) || (origin->co_flags & GENERATOR_FLAGS) ||
            !(twin = twin_of(p, origin)))
            p->hook_needed = 1;
        wanted = twin ? twin : (PyObject *)code;
    }
    Py_INCREF(wanted);
    place_constants(p, code);
    if (wanted != (PyObject *)code)
        place_constants(p, (PyCodeObject *)wanted);
    return wanted;
}

/* Code's constants that are code become what should run in their place, in place: the
 * functions a frame running code makes from now on are made from that. */
static void place_constants(placing *p, PyCodeObject *code)
{
    PyObject *key = PyLong_FromVoidPtr(code);
    int seen = key ? PyDict_Contains(p->seen, key) : -1;
    if (seen == 0 && PyDict_SetItem(p->seen, key, (PyObject *)code) < 0)
        seen = -1;
    Py_XDECREF(key);
    if (seen != 0) {
        PyErr_Clear();
        return;
    }
    PyObject *consts = code->co_consts;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(consts); i++) {
        PyObject *c = PyTuple_GET_ITEM(consts, i);
        if (!PyCode_Check(c))
            continue;
        PyObject *wanted = place(p, (PyCodeObject *)c, 0);
        if (wanted != c) {
            PyTuple_SET_ITEM(consts, i, wanted); /* (the replaced one lives on in twins) */
            Py_DECREF(c);
        } else {
            Py_DECREF(wanted);
        }
    }
}

/* Every function, generator and running frame of the interpreter. */
static void place_everywhere(placing *p)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *objects = gc ? PyObject_CallMethod(gc, "get_objects", NULL) : NULL;
    Py_XDECREF(gc);
    if (!objects || !PyList_Check(objects)) {
        Py_XDECREF(objects);
        PyErr_Clear();
        p->hook_needed = 1;
        return;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(objects); i++) {
        PyObject *o = PyList_GET_ITEM(objects, i);
        if (PyFunction_Check(o)) {
            PyObject *code = PyFunction_GET_CODE(o);
            PyObject *wanted = place(p, (PyCodeObject *)code, 0);
            if (wanted != code && PyObject_SetAttrString(o, "__code__", wanted) < 0) {
                PyErr_Clear();
                p->hook_needed |= !p->restore;
            }
            Py_DECREF(wanted);
        } else if (PyGen_Check(o) || PyCoro_CheckExact(o) || PyAsyncGen_CheckExact(o)) {
            Py_DECREF(place(p, ((PyGenObject *)o)->gi_code, 1));
        }
    }
    Py_DECREF(objects);
    /* Last, the frames running now (any started before their function got its twin). */
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts;
         ts = PyThreadState_Next(ts))
        for (moth_iframe *f = moth_thread_current_iframe(ts); f; f = f->previous)
            Py_DECREF(place(p, moth_iframe_code(f), 1));
}

static int placing_start(placing *p, moth_engine *e, int restore)
{
    *p = (placing){.e = e, .restore = restore};
    p->seen = PyDict_New();
    p->files = PyDict_New();
    return p->seen && p->files ? 0 : -1;
}

static void placing_end(placing *p)
{
    Py_XDECREF(p->seen);
    Py_XDECREF(p->files);
}

int moth_probes_place(moth_engine *e, int restore)
{
    if (restore ? !e->twins || PyDict_GET_SIZE(e->twins) == 0
                : e->probing && e->probed_breaks &&
                      PyObject_RichCompareBool(e->probed_breaks, e->breaks, Py_EQ) == 1)
        return 1; /* nothing placed, or placed for these very breakpoints */
    PyErr_Clear();
    if (!restore && !moth_the_interp.debug_audit_hooked)
        return 0; /* code that appears later would go unseen */
    placing p;
    if (placing_start(&p, e, restore) < 0) {
        placing_end(&p);
        return -1;
    }
    PyThreadState *ts = PyThreadState_Get();
    PyObject *pending = moth_take_exception();
    PyThreadState_EnterTracing(ts); /* moth's own Python (canonic, gc): no tracer sees it */
    place_everywhere(&p);
    PyThreadState_LeaveTracing(ts);
    moth_give_exception(pending);
    placing_end(&p);
    if (restore) {
        Py_CLEAR(e->twins);
        Py_CLEAR(e->probed_breaks);
        return 1;
    }
    Py_XSETREF(e->probed_breaks, p.hook_needed ? NULL : Py_NewRef(e->breaks));
    return !p.hook_needed;
}

/* ---- code that appears later ---- */

#define HOOKED_EVENT "moth.debugger.audit_hooked"

/* Before exec runs a code object (a module imported, exec, eval): twins in its constants; if
 * the code itself holds a breakpoint, the frame hook, which sees it start. */
static int on_audit(const char *event, PyObject *args, void *unused)
{
    (void)unused;
    if (strcmp(event, HOOKED_EVENT) == 0) { /* (moth_probes_watch_exec asks) */
        moth_the_interp.debug_audit_hooked = 1;
        return 0;
    }
    moth_engine *e = moth_engine_active();
    if (!e || !e->probing || strcmp(event, "exec") != 0 || !PyTuple_Check(args) ||
        PyTuple_GET_SIZE(args) < 1 || !PyCode_Check(PyTuple_GET_ITEM(args, 0)))
        return 0;
    placing p;
    if (placing_start(&p, e, 0) == 0) {
        PyThreadState *ts = PyThreadState_Get();
        PyThreadState_EnterTracing(ts);
        Py_DECREF(place(&p, (PyCodeObject *)PyTuple_GET_ITEM(args, 0), 1));
        PyThreadState_LeaveTracing(ts);
    }
    PyErr_Clear();
    placing_end(&p);
    if (p.hook_needed) {
        Py_CLEAR(e->probed_breaks);
        moth_engine_hook_frames(e);
    }
    return 0;
}

int moth_probes_watch_exec(void)
{
    if (moth_the_interp.debug_audit_hooked)
        return 0;
    if (PySys_AddAuditHook(on_audit, NULL) < 0)
        return -1;
    /* An audit hook of the program's may refuse new hooks: with a RuntimeError,
     * PySys_AddAuditHook says nothing and adds nothing. on_audit, if it is in place, hears
     * this event and says so (audit hooks stay for the process's life; C hooks hear events
     * before the program's Python ones, which may refuse this one). */
    if (PySys_Audit(HOOKED_EVENT, NULL) < 0)
        PyErr_Clear();
    return moth_the_interp.debug_audit_hooked ? 0 : -1;
}

#endif
