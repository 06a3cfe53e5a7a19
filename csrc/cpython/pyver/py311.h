/* pyver/py311.h: CPython 3.11 specifics. Included only through pyver.h. */
#include "internal/pycore_frame.h"

typedef _PyInterpreterFrame moth_iframe;

static inline PyCodeObject *moth_iframe_code(moth_iframe *f)
{
    return f->f_code;
}

static inline PyObject *moth_eval_default(PyThreadState *ts, moth_iframe *f, int throwflag)
{
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}

/* 3.11 counts one recursion unit per evaluator entry and one per Python frame against the same
 * limit, and an entry through the eval-frame hook is not charged twice: nothing to undo. */
static inline void moth_c_stack_credit(PyThreadState *ts) { (void)ts; }
static inline void moth_c_stack_debit(PyThreadState *ts) { (void)ts; }

/* Near the end of the C stack, the evaluator is entered with no recursion budget left so that it
 * raises RecursionError itself and cleans the frame up as usual. */
static inline void moth_force_recursion_error(PyThreadState *ts, int *saved)
{
    *saved = ts->recursion_remaining;
    ts->recursion_remaining = 0;
}

static inline void moth_restore_recursion(PyThreadState *ts, int saved)
{
    ts->recursion_remaining = saved;
}

/* Installs (or with NULL removes) a C profile function on every thread of the interpreter. */
static inline void moth_set_profile_all(Py_tracefunc func, PyObject *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts))
        if (_PyEval_SetProfile(ts, func, arg) < 0)
            PyErr_Clear();
}

/* The pending exception as one object (normalised, traceback attached), cleared; NULL if none. */
static inline PyObject *moth_take_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* Makes exc (a reference it steals; NULL for none) the pending exception again. */
static inline void moth_give_exception(PyObject *exc)
{
    if (!exc)
        return;
    PyObject *tb = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef((PyObject *)Py_TYPE(exc)), exc, tb);
}

/* Whether this evaluation only creates a generator or coroutine (the frame runs to its
 * RETURN_GENERATOR and is copied into the new object): not a call, as cProfile counts them. */
static inline int moth_iframe_creates_generator(moth_iframe *f, PyCodeObject *code)
{
    return (code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) &&
           f->owner != FRAME_OWNED_BY_GENERATOR;
}

/* ---- lines (lines_engine.c) ----
 * 3.11 has no per-code line events: a C trace function runs while a line-profiled frame is
 * innermost, switched off around the calls it makes to other code. */
#define MOTH_LINES_BY_TRACE 1

/* Installs (or with NULL removes) a C trace function on every thread of the interpreter. */
static inline void moth_set_trace_all(Py_tracefunc func, PyObject *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts))
        if (_PyEval_SetTrace(ts, func, arg) < 0)
            PyErr_Clear();
}
