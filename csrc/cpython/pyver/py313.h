/* pyver/py313.h: CPython 3.13 specifics. Included only through pyver.h. */
#include "internal/pycore_frame.h"

typedef _PyInterpreterFrame moth_iframe;

/* 3.13 renamed f_code to f_executable, which may hold something other than a code object. */
static inline PyCodeObject *moth_iframe_code(moth_iframe *f)
{
    PyObject *x = f->f_executable;
    return PyCode_Check(x) ? (PyCodeObject *)x : NULL;
}

static inline PyObject *moth_eval_default(PyThreadState *ts, moth_iframe *f, int throwflag)
{
    return _PyEval_EvalFrameDefault(ts, f, throwflag);
}

/* As 3.12 (see py312.h), with Py_C_RECURSION_LIMIT as the budget. */
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
