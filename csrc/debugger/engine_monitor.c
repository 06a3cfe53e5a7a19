/*
 * engine_monitor.c: the debugger engine's events on CPython 3.12+, from sys.monitoring
 * (PEP 669) as the debugger tool.
 *
 * PY_START and PY_RESUME are on for all code, and their callback disables them where they
 * fired, so each code object costs one callback, at its first call or resumption, per
 * generation (restart_events() re-enables them when the wants change). Code the engine wants
 * gets the local events Python's own sys.settrace uses for a trace function's line, return
 * and exception events (LINE, JUMP, PY_RETURN, PY_YIELD, STOP_ITERATION; which of them are
 * on changes how the interpreter runs loops over generators, and so where StopIteration is
 * reported); inside it, a line that can never stop is disabled in turn. RAISE and PY_UNWIND
 * have no local form: they are on only while there are target frames, and cost only when
 * something is raised. Everything else runs with no event at all.
 */
#include "engine.h"

#include "interp.h"
#include "pycall.h"

#if !MOTH_LINES_BY_TRACE

#define TOOL 0 /* sys.monitoring.DEBUGGER_ID */
/* sys.monitoring.events, as documented for 3.12 and 3.13 */
#define EV_PY_START (1 << 0)
#define EV_PY_RESUME (1 << 1)
#define EV_PY_RETURN (1 << 2)
#define EV_PY_YIELD (1 << 3)
#define EV_LINE (1 << 5)
#define EV_JUMP (1 << 7)
#define EV_STOP_ITERATION (1 << 9)
#define EV_RAISE (1 << 10)
#define EV_PY_UNWIND (1 << 12)
#define EV_PY_THROW (1 << 13)
#define LOCAL_EVENTS (EV_LINE | EV_JUMP | EV_PY_RETURN | EV_PY_YIELD | EV_STOP_ITERATION)

static PyObject *monitoring(void)
{
    PyObject *m = PySys_GetObject("monitoring"); /* borrowed */
    if (!m && !PyErr_Occurred())
        PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
    return m;
}

/* sys.monitoring.method(*args): 0, or -1 with the exception set. */
static int call_monitoring(const char *method, const char *format, ...)
{
    PyObject *m = monitoring();
    if (!m)
        return -1;
    va_list va;
    va_start(va, format);
    PyObject *r = moth_call_attr_v(m, method, format, va);
    va_end(va);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

/* The engine for an event on this thread, or NULL when the event is not the engine's. */
static moth_engine *engine_here(void)
{
    moth_engine *e = moth_engine_active();
    return e && PyThreadState_Get() != e->stepping ? e : NULL;
}

static PyObject *current_frame(void)
{
    return (PyObject *)PyEval_GetFrame(); /* borrowed: the frame the event is about */
}

static PyObject *disable_or_none(moth_engine *e, int disable)
{
    return Py_NewRef(disable && e->disable ? e->disable : Py_None);
}

/* Gives code the local events if the engine wants it. */
static int instrument(moth_engine *e, PyCodeObject *code)
{
    if (!moth_engine_wants_code(e, code))
        return 0;
    int known = PySet_Contains(e->instrumented, (PyObject *)code);
    if (known != 0)
        return known < 0 ? -1 : 0;
    if (PySet_Add(e->instrumented, (PyObject *)code) < 0)
        return -1;
    return call_monitoring("set_local_events", "(iOi)", TOOL, (PyObject *)code, LOCAL_EVENTS);
}

/* PY_START and PY_RESUME: (code, offset). A generator suspended while the wants changed
 * comes back by PY_RESUME, not PY_START. */
static PyObject *on_py_start(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_engine *e = moth_engine_active();
    if (!e || nargs < 1 || !PyCode_Check(args[0]))
        Py_RETURN_NONE;
    if (instrument(e, (PyCodeObject *)args[0]) < 0)
        return NULL;
    return disable_or_none(e, 1);
}

/* PY_THROW: (code, offset, exception), a generator resumed by a throw (it cannot be disabled) */
static PyObject *on_py_throw(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_engine *e = moth_engine_active();
    if (e && nargs >= 1 && PyCode_Check(args[0]) && instrument(e, (PyCodeObject *)args[0]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* A line event of code at line, run by frame, for engine e. */
static PyObject *line_event(moth_engine *e, PyObject *frame, PyCodeObject *code, int line)
{
    if (moth_engine_wants_line(e, frame, code, line))
        return moth_engine_deliver(e, frame, "line", Py_None) < 0 ? NULL : Py_NewRef(Py_None);
    /* A line that cannot stop in this generation, in code no target frame runs: never again.
     * (Not while pdb waits in a generator: a line disabled lets the interpreter specialise
     * its loops, which changes where StopIteration events come from, and pdb stops at them.) */
    moth_code_info ci = moth_engine_code_info(e, code);
    return disable_or_none(e, !ci.target_code && ci.want != MOTH_WANT_ALL_LINES &&
                                  !(e->generator_exits && ci.break_file));
}

/* LINE: (code, line) */
static PyObject *on_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_engine *e = engine_here();
    PyObject *frame = current_frame();
    if (!e || nargs < 2 || !PyCode_Check(args[0]) || !frame)
        Py_RETURN_NONE;
    return line_event(e, frame, (PyCodeObject *)args[0], (int)PyLong_AsLong(args[1]));
}

/* JUMP: (code, from, to), byte offsets. A jump back to the line it jumps from (a loop
 * written on one line) is a line event to a trace function, as CPython's own sys.settrace
 * makes it (Python/legacy_tracing.c); every other jump is left to LINE events. */
static PyObject *on_jump(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_engine *e = engine_here();
    PyObject *frame = current_frame();
    if (!e || nargs < 3 || !PyCode_Check(args[0]) || !frame)
        Py_RETURN_NONE;
    PyCodeObject *code = (PyCodeObject *)args[0];
    int from = (int)PyLong_AsLong(args[1]), to = (int)PyLong_AsLong(args[2]);
    int line = PyCode_Addr2Line(code, to);
    if (to > from || line != PyCode_Addr2Line(code, from))
        return disable_or_none(e, 1);
    return line_event(e, frame, code, line);
}

/* PY_RETURN and PY_YIELD: (code, offset, value) */
static PyObject *on_return(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_engine *e = engine_here();
    PyObject *frame = current_frame();
    if (e && nargs == 3 && frame && moth_engine_is_target(e, frame) &&
        moth_engine_deliver(e, frame, "return", args[2]) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* RAISE and STOP_ITERATION: (code, offset, exception), given to pdb as a trace function's
 * (type, value, tb) */
static PyObject *on_raise(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_engine *e = engine_here();
    PyObject *frame = current_frame();
    if (!e || nargs != 3 || !frame || !PyCode_Check(args[0]) ||
        !moth_engine_wants_exception(e, frame, (PyCodeObject *)args[0],
                                     (PyObject *)Py_TYPE(args[2])))
        Py_RETURN_NONE;
    PyObject *exc = args[2];
    PyObject *tb = PyException_GetTraceback(exc);
    PyObject *info = PyTuple_Pack(3, (PyObject *)Py_TYPE(exc), exc, tb ? tb : Py_None);
    Py_XDECREF(tb);
    int rc = info ? moth_engine_deliver(e, frame, "exception", info) : -1;
    Py_XDECREF(info);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

/* PY_UNWIND: a frame left by an exception, which a trace function sees as a return of None */
static PyObject *on_unwind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    (void)args;
    moth_engine *e = engine_here();
    PyObject *frame = current_frame();
    if (e && nargs == 3 && frame && moth_engine_is_target(e, frame) &&
        moth_engine_deliver(e, frame, "return", Py_None) < 0)
        return NULL;
    Py_RETURN_NONE;
}

#define CALLBACK(name) {#name, (PyCFunction)(void (*)(void))name, METH_FASTCALL, NULL}
static PyMethodDef callbacks[] = {
    CALLBACK(on_py_start), CALLBACK(on_py_start), CALLBACK(on_py_throw), CALLBACK(on_line),
    CALLBACK(on_jump), CALLBACK(on_return), CALLBACK(on_return), CALLBACK(on_raise),
    CALLBACK(on_raise), CALLBACK(on_unwind),
};
static const int callback_events[] = {
    EV_PY_START, EV_PY_RESUME, EV_PY_THROW, EV_LINE, EV_JUMP, EV_PY_RETURN, EV_PY_YIELD,
    EV_RAISE, EV_STOP_ITERATION, EV_PY_UNWIND,
};
#define NCALLBACKS (sizeof callback_events / sizeof *callback_events)

int moth_engine_install(moth_engine *e)
{
    if (call_monitoring("use_tool_id", "(is)", TOOL, "moth debugger") < 0) {
        PyErr_Clear();
        PyErr_SetString(PyExc_RuntimeError,
                        "sys.monitoring's debugger tool is taken by another debugger");
        return -1;
    }
    PyObject *m = monitoring();
    Py_XSETREF(e->disable, m ? PyObject_GetAttrString(m, "DISABLE") : NULL);
    if (!e->instrumented)
        e->instrumented = PySet_New(NULL);
    int rc = e->disable && e->instrumented ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < NCALLBACKS; i++) {
        PyObject *f = PyCFunction_New(&callbacks[i], NULL);
        rc = f ? call_monitoring("register_callback", "(iiO)", TOOL, callback_events[i], f) : -1;
        Py_XDECREF(f);
    }
    moth_engine_activate(e);
    if (rc < 0) {
        moth_engine_uninstall(e);
        return -1;
    }
    return 0;
}

/* Takes the local events off every code object given them. */
static void clear_local_events(moth_engine *e)
{
    PyObject *codes = e->instrumented ? PySequence_List(e->instrumented) : NULL;
    for (Py_ssize_t i = 0; codes && i < PyList_GET_SIZE(codes); i++)
        if (call_monitoring("set_local_events", "(iOi)", TOOL, PyList_GET_ITEM(codes, i), 0) < 0)
            PyErr_Clear();
    Py_XDECREF(codes);
    if (e->instrumented)
        PySet_Clear(e->instrumented);
    PyErr_Clear();
}

void moth_engine_uninstall(moth_engine *e)
{
    PyObject *pending = moth_take_exception();
    clear_local_events(e);
    for (size_t i = 0; i < NCALLBACKS; i++)
        if (call_monitoring("register_callback", "(iiO)", TOOL, callback_events[i], Py_None) < 0)
            PyErr_Clear();
    if (call_monitoring("set_events", "(ii)", TOOL, 0) < 0 ||
        call_monitoring("free_tool_id", "(i)", TOOL) < 0)
        PyErr_Clear();
    moth_give_exception(pending);
    moth_engine_deactivate(e);
}

/* Gives local events to the code of every frame running now, in every thread: PY_START will
 * not fire again for them. */
static int instrument_running(moth_engine *e)
{
    PyObject *frames = _PyThread_CurrentFrames();
    if (!frames)
        return -1;
    PyObject *ident, *top;
    Py_ssize_t pos = 0;
    int rc = 0;
    while (rc == 0 && PyDict_Next(frames, &pos, &ident, &top))
        rc = moth_engine_each_frame(e, (PyFrameObject *)top, instrument);
    Py_DECREF(frames);
    return rc;
}

int moth_engine_rearm(moth_engine *e, PyObject *frame)
{
    (void)frame; /* found among the running frames */
    clear_local_events(e);
    int events = EV_PY_START | EV_PY_RESUME | EV_PY_THROW |
                 (PyTuple_GET_SIZE(e->targets) ? EV_RAISE | EV_PY_UNWIND : 0);
    if (instrument_running(e) < 0 || call_monitoring("set_events", "(ii)", TOOL, events) < 0 ||
        call_monitoring("restart_events", "()") < 0)
        return -1;
    return 0;
}

#endif
