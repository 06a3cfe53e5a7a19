/* pyver/py312.h: CPython 3.12 specifics. Included only through pyver.h. */
#include "internal/pycore_frame.h"
#include "internal/pycore_pystate.h"

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

/* cProfile uses sys.monitoring here: sys.getprofile() stays None while it is enabled. */
#define MOTH_PROFILER_IS_PROFILE_OBJECT 0

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
 * mode reads the call path of a sampled allocation from the frames: memory_walk.c). The C
 * stack's shim frames and a frame that only creates a generator are not calls. */
static inline moth_iframe *moth_mem_iframe_caller(moth_iframe *f)
{
    return f->previous;
}

static inline int moth_mem_iframe_counts(moth_iframe *f)
{
    return f->owner != FRAME_OWNED_BY_CSTACK && !moth_iframe_creates_generator(f, f->f_code);
}

/* What identifies a frame's place in a call path for memory's cached walk (memory_walk.c):
 * its code and owner (which decide whether it counts as a call). Code objects are aligned, so
 * the owner fits in the low bits. */
static inline uint64_t moth_mem_iframe_key(moth_iframe *f)
{
    return (uint64_t)(uintptr_t)f->f_code | (uint64_t)(unsigned char)f->owner;
}

/* The calling thread's state when it holds the GIL, else NULL (the current state is
 * thread-local since 3.12, and cleared when the thread lets the GIL go). */
static inline PyThreadState *moth_mem_gil_tstate(void)
{
    return _PyThreadState_GET();
}

/* ---- debugger (engine_globals.c): dictionary watchers (PyDict_AddWatcher, new in 3.12) ---- */
#define MOTH_HAVE_DICT_WATCHERS 1

/* ---- advice (bytecode.c): CPython 3.12's opcodes as moth's instruction kinds (see
 * py311.h for the argument kinds). 3.12 folds LOAD_METHOD into LOAD_ATTR (low bit) and
 * has only forward conditional jumps. */
#ifdef MOTH_ADVICE_H /* only where advice.h (the instruction kinds) is included */
#include "opcode.h"
static inline int moth_opcode_kind(int op, int arg, int *argkind, int *method, int *binop)
{
    *argkind = 0;
    *method = 0;
    *binop = -1;
    switch (op) {
    case CACHE: case EXTENDED_ARG: case NOP: case RESUME: case PUSH_NULL: case KW_NAMES:
    case COPY_FREE_VARS: case MAKE_CELL:
        return MOTH_I_SKIP;
    case LOAD_GLOBAL: *argkind = 4; return MOTH_I_LOAD_GLOBAL;
    case LOAD_ATTR: *argkind = 6; *method = arg & 1; return MOTH_I_LOAD_ATTR;
    case LOAD_FAST: case LOAD_FAST_CHECK: case LOAD_FAST_AND_CLEAR:
        *argkind = 2; return MOTH_I_LOAD_FAST;
    case STORE_FAST: *argkind = 2; return MOTH_I_STORE_FAST;
    case LOAD_CONST: *argkind = 3; return MOTH_I_LOAD_CONST;
    case CALL: case CALL_FUNCTION_EX: return MOTH_I_CALL;
    case BINARY_OP: *binop = arg; return MOTH_I_BINARY_OP;
    case BINARY_SUBSCR: return MOTH_I_SUBSCR;
    case STORE_SUBSCR: return MOTH_I_STORE_SUBSCR;
    case GET_ITER: return MOTH_I_GET_ITER;
    case FOR_ITER: return MOTH_I_FOR_ITER;
    case JUMP_BACKWARD: *argkind = 5; return MOTH_I_JUMP_BACK;
    case COMPARE_OP: return MOTH_I_COMPARE;
    case BUILD_LIST: return MOTH_I_BUILD_LIST;
    case POP_TOP: return MOTH_I_POP_TOP;
    case RETURN_VALUE: case RETURN_CONST: return MOTH_I_RETURN;
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
