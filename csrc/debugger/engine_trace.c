/*
 * engine_trace.c: the debugger engine's events on CPython 3.11, which has no per-code events.
 *
 * A frame-evaluation function (PEP 523, chained to whatever was installed before) sees every
 * frame start and end. It puts a C trace function on the thread while the innermost frame runs
 * code the engine wants (engine.h) and takes it off again for code it does not: when a frame
 * starts, as the new frame's code is wanted; when it ends, back as the caller had it (or, if
 * the wants changed meanwhile, as the caller's code is wanted now). So a thread is traced only
 * while such code is innermost, and all other code keeps CPython's specialised, untraced
 * interpreter. The trace function then filters in C: a breakpoint line, or a target frame's
 * line, return or exception, goes to pdb. Frames that started before the hook could decide
 * for them are covered by the pin (below).
 *
 * A thread where Python's own trace function is installed (pdb stepping, or another tool)
 * is left alone.
 */
#include "engine.h"

#include "common.h"
#include "interp.h"

#if MOTH_LINES_BY_TRACE

static void trace_thread(PyThreadState *ts, int on);
static void pin_moves_out(moth_engine *e, PyThreadState *ts, PyFrameObject *returning);

static int engine_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj;
    moth_engine *e = moth_engine_active();
    PyThreadState *ts = PyThreadState_Get();
    if (!e || ts == e->stepping)
        return 0;
    if (e->probing)
        return moth_probes_trace(e, frame, what);
    int rc = 0;
    if (what == PyTrace_LINE) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        int line = PyFrame_GetLineNumber(frame);
        if (moth_engine_wants_line(e, (PyObject *)frame, code, line)) {
            moth_probes_line_traced(moth_frame_iframe(frame), line);
            rc = moth_engine_deliver(e, (PyObject *)frame, "line", Py_None);
        }
        Py_DECREF(code);
    } else if (what == PyTrace_RETURN) {
        if (moth_engine_is_target(e, (PyObject *)frame))
            rc = moth_engine_deliver(e, (PyObject *)frame, "return", arg); /* NULL: unwinding */
        e = moth_engine_active();
        if (e && e->pin_ts == ts && e->pin_frame == (PyObject *)frame)
            pin_moves_out(e, ts, frame);
    } else if (what == PyTrace_EXCEPTION) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        PyObject *type = PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) == 3
                             ? PyTuple_GET_ITEM(arg, 0) : NULL;
        if (moth_engine_wants_exception(e, (PyObject *)frame, code, type))
            rc = moth_engine_deliver(e, (PyObject *)frame, "exception", arg);
        Py_DECREF(code);
    }
    return rc;
}

/* Whether the engine wants the events of code's frames. */
static int wanted(moth_engine *e, PyCodeObject *code)
{
    return code && moth_engine_wants_code(e, code);
}

/* Whether f or a frame below it runs wanted code. */
static int chain_wanted(moth_engine *e, PyFrameObject *f)
{
    return moth_engine_each_frame(e, f, wanted);
}

/* Puts the engine's trace function on ts (or takes it off), unless someone else traces ts. */
static void trace_thread(PyThreadState *ts, int on)
{
    Py_tracefunc current = ts->c_tracefunc;
    if ((current != NULL && current != engine_trace) || (current == engine_trace) == on)
        return;
    PyObject *pending = moth_take_exception();
    if (_PyEval_SetTrace(ts, on ? engine_trace : NULL, NULL) < 0)
        PyErr_Clear();
    moth_give_exception(pending);
}

void moth_engine_trace_thread(PyThreadState *ts, int on)
{
    trace_thread(ts, on);
}

/*
 * The pin. The frames that were running when the engine was (re)armed started without the
 * evaluation function deciding for them (it was not installed, or pdb was stepping), so
 * nothing would switch tracing back on when the program returns into one of them. While one
 * of them runs wanted code, the thread stays traced whenever one of them is innermost
 * (pin_frame: the innermost of them); each one's return event moves the pin out a frame, and
 * when none of the rest runs wanted code the pin is dropped.
 */
static void pin(moth_engine *e, PyThreadState *ts, PyFrameObject *f)
{
    Py_CLEAR(e->pin_frame);
    e->pin_ts = NULL;
    if (f && chain_wanted(e, f)) {
        e->pin_ts = ts;
        e->pin_frame = Py_NewRef((PyObject *)f);
    }
}

static void pin_moves_out(moth_engine *e, PyThreadState *ts, PyFrameObject *returning)
{
    PyFrameObject *back = PyFrame_GetBack(returning);
    pin(e, ts, back);
    if (!e->pin_ts) { /* the caller resumes as the engine wants its code */
        PyCodeObject *code = back ? PyFrame_GetCode(back) : NULL;
        trace_thread(ts, wanted(e, code));
        Py_XDECREF(code);
    }
    Py_XDECREF(back);
}

/* The tracing the caller (iframe `caller`, running `code`) resumes with, after a change. */
static int resume_traced(moth_engine *e, PyThreadState *ts, moth_iframe *caller)
{
    if (e->pin_ts == ts && caller &&
        caller == moth_frame_iframe((PyFrameObject *)e->pin_frame))
        return 1;
    return wanted(e, caller ? moth_iframe_code(caller) : NULL);
}

/*
 * A SEND that started without a trace function (pyver/py311.h) reports no StopIteration when
 * its generator finishes; with pdb's trace function, always on, it would. Such a SEND is one
 * the program was in the middle of when pdb came to wait in a generator (`next` there), and
 * the frame running it is one pdb may stop in at that exception: it is given the event here,
 * as the generator hands the SEND its result. -1 when pdb raised (quit).
 */
static int send_exception(moth_engine *e, PyThreadState *ts, moth_iframe *caller,
                          moth_iframe *frame, PyObject *result)
{
    PyObject *value = NULL;
    if (!caller || !moth_iframe_in_send(caller) || !moth_send_would_stop(frame, result, &value))
        return 0;
    PyFrameObject *f = PyEval_GetFrame(); /* the caller's, current again (borrowed) */
    if (!f || moth_frame_iframe(f) != caller ||
        !moth_engine_wants_exception(e, (PyObject *)f, moth_iframe_code(caller),
                                           PyExc_StopIteration)) {
        PyErr_Clear();
        return 0;
    }
    PyObject *exc = value == Py_None ? PyObject_CallNoArgs(PyExc_StopIteration)
                                     : PyObject_CallOneArg(PyExc_StopIteration, value);
    PyObject *info = exc ? PyTuple_Pack(3, PyExc_StopIteration, exc, Py_None) : NULL;
    int rc = -1;
    if (info) {
        Py_INCREF(f);
        PyThreadState_EnterTracing(ts); /* as around a trace function */
        rc = moth_engine_deliver(e, (PyObject *)f, "exception", info);
        PyThreadState_LeaveTracing(ts);
        Py_DECREF(f);
    }
    Py_XDECREF(info);
    Py_XDECREF(exc);
    return rc;
}

static PyObject *debug_frame(PyThreadState *ts, moth_iframe *frame, int throwflag)
{
    _PyFrameEvalFunction next = moth_the_interp.debug_previous_eval;
    moth_engine *e = moth_engine_active();
    if (MOTH_UNLIKELY(!e))
        return next ? next(ts, frame, throwflag) : moth_eval_default(ts, frame, throwflag);
    /* (A thread pdb steps through is traced by Python's trace function, which trace_thread
     * leaves alone; its frames still take part, as stepping may end while they run.) */
    moth_iframe *caller = moth_thread_current_iframe(ts); /* it outlives this frame */
    int traced = ts->c_tracefunc == engine_trace;
    int untraced_send = ts->c_tracefunc == NULL; /* (a SEND calling this ran the fast way) */
    int want = wanted(e, moth_iframe_code(frame));
    uint32_t generation = e->generation;
    if (want != traced)
        trace_thread(ts, want);
    PyObject *result = next ? next(ts, frame, throwflag) : moth_eval_default(ts, frame, throwflag);
    /* The common case costs one test: the caller resumes as it was, nothing changed. */
    e = moth_engine_active(); /* the frame may have ended the session */
    if (e && e->probing) /* (probes carry the breakpoints now: the hook is off) */
        return result;
    if (MOTH_UNLIKELY(e && (want != traced || e->generation != generation ||
                            (ts->c_tracefunc == engine_trace) != traced)))
        trace_thread(ts, e->generation != generation ? resume_traced(e, ts, caller) : traced);
    if (MOTH_UNLIKELY(e && e->generator_exits && untraced_send && result &&
                      ts->c_tracefunc == engine_trace) &&
        send_exception(e, ts, caller, frame, result) < 0)
        Py_CLEAR(result);
    return result;
}

/* The frame-evaluation hook on (every frame from now on decides as it starts) or off (and the
 * trace function off every thread, the pin dropped). */
static void hook_on(moth_engine *e)
{
    (void)e;
    PyInterpreterState *interp = PyInterpreterState_Get();
    _PyFrameEvalFunction current = _PyInterpreterState_GetEvalFrameFunc(interp);
    if (current != debug_frame) {
        moth_the_interp.debug_previous_eval =
            current == _PyEval_EvalFrameDefault ? NULL : current;
        _PyInterpreterState_SetEvalFrameFunc(interp, debug_frame);
    }
}

static void hook_off(moth_engine *e)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (_PyInterpreterState_GetEvalFrameFunc(interp) == debug_frame) {
        _PyFrameEvalFunction previous = moth_the_interp.debug_previous_eval;
        _PyInterpreterState_SetEvalFrameFunc(interp, previous ? previous
                                                              : _PyEval_EvalFrameDefault);
    }
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts))
        if (ts->c_tracefunc == engine_trace)
            trace_thread(ts, 0);
    e->pin_ts = NULL;
    Py_CLEAR(e->pin_frame);
}

void moth_engine_trace_resumed(PyThreadState *ts)
{
    moth_engine *e = moth_engine_active();
    if (e && !e->probing && ts != e->stepping)
        trace_thread(ts, resume_traced(e, ts, moth_thread_current_iframe(ts)));
}

void moth_engine_hook_frames(moth_engine *e)
{
    e->probing = 0;
    hook_on(e);
}

/* (The hook goes on in moth_engine_rearm, unless probes can do without it.) */
int moth_engine_install(moth_engine *e)
{
    e->probing = 0;
    if (moth_probes_watch_exec() < 0) /* (without it, the frame hook does it all) */
        PyErr_Clear();
    moth_engine_activate(e);
    return 0;
}

void moth_engine_uninstall(moth_engine *e)
{
    hook_off(e);
    e->probing = 0;
    if (moth_probes_place(e, 1) < 0) /* every function its own code again */
        PyErr_Clear();
    moth_engine_deactivate(e);
}

/* The frame pdb stopped in resumes next on this thread: pin the frames running now.
 * (Frames that start from now on decide for themselves as they start and end.) The other
 * threads are traced now as their innermost frame's code is wanted: a breakpoint set while
 * stopped, in a function another thread is in the middle of, is seen there even if that
 * function makes no call; their calls and returns switch as usual from then on. */
int moth_engine_rearm(moth_engine *e, PyObject *frame)
{
    PyThreadState *ts = PyThreadState_Get();
    /* Only breakpoints: probes alone, when they can carry them all (engine_probes.c). */
    if (!e->stepping && !e->generator_exits && PyTuple_GET_SIZE(e->targets) == 0) {
        int placed = moth_probes_place(e, 0);
        if (placed < 0)
            return -1;
        if (placed) {
            hook_off(e);
            e->probing = 1;
            return 0;
        }
    }
    e->probing = 0;
    hook_on(e);
    for (PyThreadState *other = PyInterpreterState_ThreadHead(ts->interp); other;
         other = PyThreadState_Next(other)) {
        moth_iframe *top = other != ts && other != e->stepping ? moth_thread_current_iframe(other)
                                                               : NULL;
        if (top)
            trace_thread(other, wanted(e, moth_iframe_code(top)));
    }
    if (ts == e->stepping)
        return 0;
    pin(e, ts, (PyFrameObject *)frame);
    trace_thread(ts, e->pin_ts == ts);
    return 0;
}

#endif
