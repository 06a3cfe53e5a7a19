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
