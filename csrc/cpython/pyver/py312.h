/* pyver/py312.h: CPython 3.12 specifics. Included only through pyver.h. */
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

/* 3.12 charges PY_EVAL_C_STACK_UNITS (2) of a small C-recursion budget (C_RECURSION_LIMIT,
 * 1500) at every evaluator entry. Without the hook, Python-to-Python calls are inlined and never
 * re-enter the evaluator; with it, every call does, and recursion deeper than ~750 frames would
 * fail. The hook gives those units back and guards the real C stack itself (frame_hook.c). */
static inline void moth_c_stack_credit(PyThreadState *ts) { ts->c_recursion_remaining += 2; }
static inline void moth_c_stack_debit(PyThreadState *ts) { ts->c_recursion_remaining -= 2; }

static inline void moth_force_recursion_error(PyThreadState *ts, int *saved)
{
    *saved = ts->c_recursion_remaining;
    ts->c_recursion_remaining = 0;
}

static inline void moth_restore_recursion(PyThreadState *ts, int saved)
{
    ts->c_recursion_remaining = saved;
}

/* Installs (or with NULL removes) a C profile function on every thread of the interpreter. */
static inline void moth_set_profile_all(Py_tracefunc func, PyObject *arg)
{
    PyEval_SetProfileAllThreads(func, arg);
}

/* The pending exception as one object (normalised, traceback attached), cleared; NULL if none. */
static inline PyObject *moth_take_exception(void) { return PyErr_GetRaisedException(); }

/* Makes exc (a reference it steals; NULL for none) the pending exception again. */
static inline void moth_give_exception(PyObject *exc)
{
    if (exc)
        PyErr_SetRaisedException(exc);
}

/* Whether this evaluation only creates a generator or coroutine (the frame runs to its
 * RETURN_GENERATOR and is copied into the new object): not a call, as cProfile counts them. */
static inline int moth_iframe_creates_generator(moth_iframe *f, PyCodeObject *code)
{
    return (code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR)) &&
           f->owner != FRAME_OWNED_BY_GENERATOR;
}

/* ---- lines (lines_engine.c) ----
 * sys.monitoring's LINE events, enabled only on the line-profiled code objects. */
#define MOTH_LINES_BY_TRACE 0
