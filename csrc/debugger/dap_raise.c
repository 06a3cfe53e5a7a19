/*
 * dap_raise.c: the "raised" exception filter: stop where an exception is raised, before
 * anything handles it.
 *
 * 3.12+: sys.monitoring's RAISE event, with a tool of moth dap's own (the engine is the
 * debugger tool), on only while the filter is: nothing runs until something is raised.
 * 3.11 has no such event: a C trace function on every thread sees each exception, and so that
 * the engine (which leaves traced threads alone) loses nothing, it also hands on the line and
 * return events the engine would have (engine.h's decisions). That costs what tracing costs.
 * A thread pdb steps through is traced by pdb itself: there, pdb's exception event comes here
 * (moth_dap_raised_while_stepping).
 *
 * StopIteration, StopAsyncIteration and GeneratorExit are the language's control flow, and
 * SystemExit is how a program ends, not errors: they never stop. With justMyCode, only exceptions raised in the program's own code do.
 */
#include "dap.h"

#include "engine.h"
#include "pycall.h"

/* Whether exc is where it was raised: an exception passing through a frame is seen again
 * there (a trace function's exception event; 3.12+'s RAISE event too), with one traceback
 * entry more each time. */
static int just_raised(PyObject *tb)
{
    return !tb || tb == Py_None || ((PyTracebackObject *)tb)->tb_next == NULL;
}

/* Whether exc, raised in frame just now, is one to stop at; tb is its traceback as the event
 * gives it (a trace function's event comes before the exception has it). */
static int wanted(moth_dap *d, PyObject *frame, PyObject *exc, PyObject *tb)
{
    unsigned long me = PyThread_get_thread_ident();
    if (!d->break_raised || !d->dbg || d->over || me == d->reader_ident || me == d->serving ||
        !just_raised(tb))
        return 0;
    if (PyErr_GivenExceptionMatches(exc, PyExc_StopIteration) ||
        PyErr_GivenExceptionMatches(exc, PyExc_StopAsyncIteration) ||
        PyErr_GivenExceptionMatches(exc, PyExc_GeneratorExit) ||
        PyErr_GivenExceptionMatches(exc, PyExc_SystemExit))
        return 0;
    PyObject *code = PyObject_GetAttrString(frame, "f_code");
    PyObject *file = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
    int ours = moth_dap_is_debugger_frame(frame);
    int library = file && moth_dap_is_library(d, file);
    Py_XDECREF(file);
    Py_XDECREF(code);
    PyErr_Clear();
    return !ours && !(library && d->just_my_code);
}

int moth_dap_stop_at_exception(moth_dap *d, PyObject *frame, PyObject *exc, int uncaught)
{
    Py_XSETREF(d->stop_exception, Py_NewRef(exc));
    d->stop_uncaught = uncaught;
    d->reason = "exception";
    d->nhits = 0;
    if (uncaught) { /* post mortem, at the frame that raised it (cli_debug.c does the same) */
        PyObject *tb = PyException_GetTraceback(exc);
        PyObject *r = PyObject_CallMethod(d->dbg, "interaction", "OO", Py_None,
                                          tb ? tb : Py_None);
        Py_XDECREF(tb);
        Py_XDECREF(r);
        return r ? 0 : -1;
    }
    PyObject *pending = moth_take_exception();
    int rc = PyObject_SetAttrString(d->dbg, "_moth_frame", frame);
    PyObject *r = rc == 0 ? PyObject_CallMethod(d->dbg, "interaction", "OO", frame, Py_None)
                          : NULL;
    Py_XDECREF(r);
    if (!r) {
        Py_XDECREF(pending);
        return -1;
    }
    PyObject *quitting = PyObject_GetAttrString(d->dbg, "quitting");
    int quit = quitting && PyObject_IsTrue(quitting) == 1;
    Py_XDECREF(quitting);
    if (quit) { /* terminate, at this stop: the program ends as pdb's quit ends it */
        Py_XDECREF(pending);
        PyObject *bdbquit = moth_module_attr("bdb", "BdbQuit");
        if (bdbquit)
            PyErr_SetNone(bdbquit);
        Py_XDECREF(bdbquit);
        return -1;
    }
    moth_give_exception(pending);
    return 0;
}

int moth_dap_raised_while_stepping(moth_dap *d, PyObject *frame, PyObject *exc_info)
{
#if MOTH_LINES_BY_TRACE
    int info = PyTuple_Check(exc_info) && PyTuple_GET_SIZE(exc_info) == 3;
    PyObject *exc = info ? PyTuple_GET_ITEM(exc_info, 1) : NULL;
    if (!exc || !PyExceptionInstance_Check(exc) ||
        !wanted(d, frame, exc, PyTuple_GET_ITEM(exc_info, 2)))
        return 0;
    return moth_dap_stop_at_exception(d, frame, exc, 0);
#else
    (void)d;
    (void)frame;
    (void)exc_info;
    return 0; /* the RAISE event saw it already */
#endif
}

#if !MOTH_LINES_BY_TRACE

#define TOOL 3 /* not the debugger's (the engine), coverage's, cProfile's or moth's lines' */
#define EV_RAISE (1 << 10)

static PyObject *on_raise(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_dap *d = moth_dap_use();
    PyObject *frame = (PyObject *)PyEval_GetFrame();
    int rc = 0;
    PyObject *tb = d && nargs == 3 && PyExceptionInstance_Check(args[2])
                       ? PyException_GetTraceback(args[2])
                       : NULL;
    if (d && nargs == 3 && frame && PyExceptionInstance_Check(args[2]) &&
        wanted(d, frame, args[2], tb))
        rc = moth_dap_stop_at_exception(d, frame, args[2], 0);
    Py_XDECREF(tb);
    moth_dap_done(d);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef on_raise_def = {"on_raise", (PyCFunction)(void (*)(void))on_raise,
                                   METH_FASTCALL, NULL};

int moth_dap_watch_raises(moth_dap *d, int on)
{
    (void)d;
    PyObject *m = PySys_GetObject("monitoring");
    if (!m) {
        PyErr_SetString(PyExc_RuntimeError, "sys.monitoring is missing");
        return -1;
    }
    PyObject *owner = PyObject_CallMethod(m, "get_tool", "i", TOOL);
    if (!owner)
        return -1;
    int ours = PyUnicode_Check(owner) && PyUnicode_CompareWithASCIIString(owner, "moth dap") == 0;
    int free_id = owner == Py_None;
    Py_DECREF(owner);
    PyObject *r = NULL;
    if (on) {
        if (!ours && !free_id) {
            PyErr_SetString(PyExc_RuntimeError, "sys.monitoring tool 3 is taken by another tool");
            return -1;
        }
        PyObject *cb = PyCFunction_New(&on_raise_def, NULL);
        r = cb && (ours || (r = PyObject_CallMethod(m, "use_tool_id", "is", TOOL, "moth dap")))
                ? PyObject_CallMethod(m, "register_callback", "iiO", TOOL, EV_RAISE, cb)
                : NULL;
        Py_XDECREF(cb);
        if (r) {
            Py_DECREF(r);
            r = PyObject_CallMethod(m, "set_events", "ii", TOOL, EV_RAISE);
        }
    } else if (ours) {
        r = PyObject_CallMethod(m, "set_events", "ii", TOOL, 0);
        Py_XDECREF(r);
        r = r ? PyObject_CallMethod(m, "free_tool_id", "i", TOOL) : NULL;
    } else {
        return 0;
    }
    Py_XDECREF(r);
    return r ? 0 : -1;
}

#else /* 3.11 */

static int dap_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj;
    moth_dap *d = moth_dap_current();
    moth_engine *e = moth_engine_active();
    if (what == PyTrace_EXCEPTION && d && PyTuple_Check(arg) && PyTuple_GET_SIZE(arg) == 3) {
        PyObject *exc = PyTuple_GET_ITEM(arg, 1);
        if (PyExceptionInstance_Check(exc) &&
            wanted(d, (PyObject *)frame, exc, PyTuple_GET_ITEM(arg, 2))) {
            d = moth_dap_use();
            int rc = moth_dap_stop_at_exception(d, (PyObject *)frame, exc, 0);
            moth_dap_done(d);
            return rc;
        }
    }
    if (!e || PyThreadState_Get() == e->stepping)
        return 0;
    /* what the engine's own trace function would have handed on (engine_trace.c) */
    if (what == PyTrace_LINE) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        int want = moth_engine_wants_line(e, (PyObject *)frame, code,
                                          PyFrame_GetLineNumber(frame));
        Py_DECREF(code);
        return want ? moth_engine_deliver(e, (PyObject *)frame, "line", Py_None) : 0;
    }
    if (what == PyTrace_RETURN && moth_engine_is_target(e, (PyObject *)frame))
        return moth_engine_deliver(e, (PyObject *)frame, "return", arg);
    if (what == PyTrace_EXCEPTION && moth_engine_is_target(e, (PyObject *)frame))
        return moth_engine_deliver(e, (PyObject *)frame, "exception", arg);
    return 0;
}

/* threading.settrace's function: puts the C trace function on each new thread. */
static PyObject *trace_new_thread(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    moth_dap *d = moth_dap_current();
    if (d && d->break_raised)
        PyEval_SetTrace(dap_trace, NULL);
    Py_RETURN_NONE;
}

static PyMethodDef trace_new_thread_def = {"moth_dap_trace", trace_new_thread, METH_VARARGS,
                                           NULL};

int moth_dap_watch_raises(moth_dap *d, int on)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts)) {
        if (d->reader_running && ts->thread_id == d->reader_ident)
            continue;
        /* A thread traced by Python (pdb stepping: its function is the trace object) keeps
         * its tracer; a C one (the engine's) is replaced: this one does its work too. */
        if (on && ts->c_traceobj == NULL && ts->c_tracefunc != dap_trace)
            _PyEval_SetTrace(ts, dap_trace, NULL);
        if (!on && ts->c_tracefunc == dap_trace)
            _PyEval_SetTrace(ts, NULL, NULL);
    }
    PyErr_Clear();
    PyObject *f = on ? PyCFunction_New(&trace_new_thread_def, NULL) : Py_NewRef(Py_None);
    PyObject *r = f ? moth_call_function("threading", "settrace", "(O)", f) : NULL;
    Py_XDECREF(f);
    Py_XDECREF(r);
    return r ? 0 : -1;
}

#endif
