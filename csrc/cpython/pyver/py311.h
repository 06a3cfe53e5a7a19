/* pyver/py311.h: CPython 3.11 specifics. Included only through pyver.h. */
#include <pthread.h>
#include "internal/pycore_pystate.h"
#include "internal/pycore_frame.h"
#include "opcode.h"

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

/* cProfile on 3.11 installs itself as the profile object: sys.getprofile() returns the profiler
 * while it is enabled. (From 3.12 on cProfile uses sys.monitoring and sys.getprofile() is None.) */
#define MOTH_PROFILER_IS_PROFILE_OBJECT 1

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

/* The code unit a frame last ran (-1 before its first), and the function it runs. */
static inline int moth_iframe_lasti(moth_iframe *f)
{
    return _PyInterpreterFrame_LASTI(f);
}

static inline PyObject *moth_iframe_function(moth_iframe *f)
{
    return (PyObject *)f->f_func;
}

/* Installs (or with NULL removes) a C trace function on every thread of the interpreter. */
static inline void moth_set_trace_all(Py_tracefunc func, PyObject *arg)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (PyThreadState *ts = PyInterpreterState_ThreadHead(interp); ts; ts = PyThreadState_Next(ts))
        if (_PyEval_SetTrace(ts, func, arg) < 0)
            PyErr_Clear();
}

/* The interpreter frame of a frame object. */
static inline moth_iframe *moth_frame_iframe(PyFrameObject *f)
{
    return f->f_frame;
}

/* The frame the thread is running now (before a new frame starts: its caller), or NULL
 * (the debugger's engine_trace.c). */
static inline moth_iframe *moth_thread_current_iframe(PyThreadState *ts)
{
    return ts->cframe ? ts->cframe->current_frame : NULL;
}

/* ---- memory (memory_hooks.c): where a thread is when it allocates ---- */
static inline moth_iframe *moth_mem_current_iframe(PyThreadState *ts)
{
    return ts->cframe ? ts->cframe->current_frame : NULL;
}

/* The code unit the frame runs (its line: PyCode_Addr2Line(code, 2 * unit)). */
static inline int moth_mem_iframe_unit(moth_iframe *f)
{
    return _PyInterpreterFrame_LASTI(f);
}

/* The frame below f in its thread, and whether f is Python code memory's walk counts (sampled
 * mode reads the call path of a sampled allocation from the frames: memory_walk.c). A frame
 * that only creates a generator is not a call (as for the frame hook). */
static inline moth_iframe *moth_mem_iframe_caller(moth_iframe *f)
{
    return f->previous;
}

static inline int moth_mem_iframe_counts(moth_iframe *f)
{
    return !moth_iframe_creates_generator(f, f->f_code);
}

/* What identifies a frame's place in a call path for memory's cached walk (memory_walk.c):
 * its code and owner (which decide whether it counts as a call). Code objects are aligned, so
 * the owner fits in the low bits. */
static inline uint64_t moth_mem_iframe_key(moth_iframe *f)
{
    return (uint64_t)(uintptr_t)f->f_code | (uint64_t)(unsigned char)f->owner;
}

/* The calling thread's state when it holds the GIL, else NULL: 3.11's current state is the
 * GIL holder's, whichever thread that is. */
static inline PyThreadState *moth_mem_gil_tstate(void)
{
    PyThreadState *ts = _PyThreadState_GET();
    return ts && ts->thread_id == (unsigned long)pthread_self() ? ts : NULL;
}

/* ---- debugger (engine_trace.c): a SEND run without a trace function ----
 * 3.11's SEND runs its generator or coroutine the fast way when the thread has no trace
 * function as it starts, and otherwise the slow way, which reports the StopIteration that
 * hands it the result as an exception event (pdb stops at those). */

/* Whether frame is running a SEND instruction (yield from, await, async for). */
static inline int moth_iframe_in_send(moth_iframe *f)
{
    return f->prev_instr && _Py_OPCODE(*f->prev_instr) == SEND;
}

/* Objects/genobject.c's _PyAsyncGenWrappedValue: what an async generator's frame yields to
 * the `async for` that asked for its next value. */
typedef struct {
    PyObject_HEAD
    PyObject *agw_val;
} moth_async_gen_wrapped;

/* When frame (of a generator, coroutine or async generator) has just given result to a SEND
 * that ran the fast way: whether the slow way would have reported a StopIteration, and its
 * value in *value (borrowed; None: no arguments). A generator receiving None is assumed (as
 * from `for` and next()). */
static inline int moth_send_would_stop(moth_iframe *frame, PyObject *result, PyObject **value)
{
    if (frame->owner != FRAME_OWNED_BY_GENERATOR || !result)
        return 0;
    PyGenObject *gen = _PyFrame_GetGenerator(frame);
    if (PyAsyncGen_CheckExact(gen)) { /* its value, through the asend object */
        if (!Py_IS_TYPE(result, &_PyAsyncGenWrappedValue_Type))
            return 0;
        *value = ((moth_async_gen_wrapped *)result)->agw_val;
        return 1;
    }
    if (gen->gi_frame_state == FRAME_SUSPENDED) /* it yielded: the SEND yields on */
        return 0;
    *value = result; /* it returned: coroutine.send() always raises, a generator's next() */
    return PyCoro_CheckExact(gen) || result != Py_None; /* only for a value */
}

/* ---- debugger (engine_globals.c): dictionary watchers (3.11 has none) ---- */
#define MOTH_HAVE_DICT_WATCHERS 0

/* ---- advice (bytecode.c): CPython 3.11's opcodes as moth's instruction kinds ----
 * *argkind: 0 plain argument; 1 co_names index; 2 local index; 3 co_consts index;
 * 4 co_names index of LOAD_GLOBAL (>> 1); 5 jump back by the argument. *method: a method load. */
#ifdef MOTH_ADVICE_H /* only where advice.h (the instruction kinds) is included */
static inline int moth_opcode_kind(int op, int arg, int *argkind, int *method, int *binop)
{
    *argkind = 0;
    *method = 0;
    *binop = -1;
    switch (op) {
    case CACHE: case EXTENDED_ARG: case PRECALL: case NOP: case RESUME: case PUSH_NULL:
    case KW_NAMES: case COPY_FREE_VARS: case MAKE_CELL:
        return MOTH_I_SKIP;
    case LOAD_GLOBAL: *argkind = 4; return MOTH_I_LOAD_GLOBAL;
    case LOAD_ATTR: *argkind = 1; return MOTH_I_LOAD_ATTR;
    case LOAD_METHOD: *argkind = 1; *method = 1; return MOTH_I_LOAD_ATTR;
    case LOAD_FAST: case LOAD_FAST__LOAD_FAST: *argkind = 2; return MOTH_I_LOAD_FAST;
    case STORE_FAST: *argkind = 2; return MOTH_I_STORE_FAST;
    case LOAD_CONST: *argkind = 3; return MOTH_I_LOAD_CONST;
    case CALL: case CALL_FUNCTION_EX: return MOTH_I_CALL;
    case BINARY_OP: *binop = arg; return MOTH_I_BINARY_OP;
    case BINARY_SUBSCR: return MOTH_I_SUBSCR;
    case STORE_SUBSCR: return MOTH_I_STORE_SUBSCR;
    case GET_ITER: return MOTH_I_GET_ITER;
    case FOR_ITER: return MOTH_I_FOR_ITER;
    case JUMP_BACKWARD: case POP_JUMP_BACKWARD_IF_FALSE: case POP_JUMP_BACKWARD_IF_TRUE:
    case POP_JUMP_BACKWARD_IF_NONE: case POP_JUMP_BACKWARD_IF_NOT_NONE:
        *argkind = 5; return MOTH_I_JUMP_BACK;
    case COMPARE_OP: return MOTH_I_COMPARE;
    case BUILD_LIST: return MOTH_I_BUILD_LIST;
    case POP_TOP: return MOTH_I_POP_TOP;
    case RETURN_VALUE: return MOTH_I_RETURN;
    case IMPORT_NAME: *argkind = 1; return MOTH_I_IMPORT_NAME;
    case STORE_NAME: case STORE_GLOBAL: *argkind = 1; return MOTH_I_STORE_NAME;
    default:
        return MOTH_I_OTHER;
    }
}
#endif

/* ---- a stopped frame's locals changed through frame.f_locals (moth dap's setVariable and
 * evaluate, `!a = 99` at moth debug's prompt) ----
 * f_locals is a snapshot dict here: the frame runs on with the changes once they are copied
 * back into its fast locals (names deleted from the dict are deleted from the frame, as after
 * a Python trace function). moth_frame_locals_fresh first brings the snapshot up to date, so
 * that writing it back changes nothing the debugger did not change. */
#include "frameobject.h"
static inline int moth_frame_locals_fresh(PyFrameObject *f)
{
    return PyFrame_FastToLocalsWithError(f);
}

static inline void moth_frame_locals_written(PyFrameObject *f)
{
    PyFrame_LocalsToFast(f, 1);
}
