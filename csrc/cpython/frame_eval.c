/*
 * frame_eval.c: frames mode, the profiler's fast way of seeing calls.
 *
 * CPython lets an extension replace the function that evaluates a frame (PEP 523). Ours
 * records the activation around a call to the evaluator that was installed before (normally
 * _PyEval_EvalFrameDefault, so specialisation stays on: see DESIGN.md for why this is several
 * times cheaper than a profile hook). While it is installed CPython stops inlining
 * Python-to-Python calls, so each call re-enters the C evaluator: this costs C stack, which
 * 3.12+ count against a small budget (pyver.h gives those units back) and which the guard below
 * keeps from overflowing.
 */
#include "profiler.h"

static inline PyObject *eval_next(PyThreadState *ts, moth_iframe *frame, int throwflag)
{
    _PyFrameEvalFunction next = moth_the_interp.previous_eval;
    if (MOTH_UNLIKELY(next != NULL))
        return next(ts, frame, throwflag);
    return moth_eval_default(ts, frame, throwflag);
}

/* Deep recursion through the evaluator near the end of the thread's C stack: let CPython raise
 * RecursionError at this entry (it unwinds the frame itself) instead of overflowing. */
static PyObject *eval_refusing(PyThreadState *ts, moth_iframe *frame, int throwflag)
{
    int saved;
    moth_force_recursion_error(ts, &saved);
    PyObject *r = eval_next(ts, frame, throwflag);
    moth_restore_recursion(ts, saved);
    return r;
}

static PyObject *profile_frame(PyThreadState *ts, moth_iframe *frame, int throwflag)
{
    moth_tstate *st = moth_current_tstate();
    if (MOTH_UNLIKELY(st == NULL || st->busy))
        return eval_next(ts, frame, throwflag);
    PyCodeObject *code = moth_iframe_code(frame);
    if (MOTH_UNLIKELY(code == NULL || moth_iframe_creates_generator(frame, code)))
        return eval_next(ts, frame, throwflag);
    char *sp = (char *)__builtin_frame_address(0);
    if (MOTH_UNLIKELY(sp < st->stack_limit))
        return eval_refusing(ts, frame, throwflag);

    uint64_t session = moth_tls_session;
    uint32_t node = moth_record_enter(st, (uint64_t)(uintptr_t)code, (PyObject *)code);
    if (MOTH_UNLIKELY(node == MOTH_NODE_NONE))
        return eval_next(ts, frame, throwflag);
    /* A call straight from the caller's bytecode sits at a fixed C stack distance below the
     * caller's hook frame; anything in between (a C function calling back) adds to it. Only
     * the first kind would have been inlined without moth, and costs moth more. */
    char *caller_sp = st->hook_sp;
    size_t delta = (size_t)(caller_sp - sp);
    st->last_delta = delta;
    st->hook_sp = sp;
    /* Line profiling: only around line-profiled code (and, on 3.11, the calls it makes). */
    uint32_t lines = st->tree.nodes[node].aux;
    int lines_token = MOTH_UNLIKELY(lines | st->line_tracing) ? moth_lineprof_enter(st, lines, frame) : 0;
    moth_c_stack_credit(ts);
    PyObject *result = eval_next(ts, frame, throwflag);
    moth_c_stack_debit(ts);
    /* The session may have ended (and st been freed) while this frame ran. */
    if (MOTH_LIKELY(moth_the_interp.session == session)) {
        if (MOTH_UNLIKELY(lines_token))
            moth_lineprof_leave(st, lines_token);
        st->hook_sp = caller_sp;
        moth_record_leave(st, node, caller_sp != NULL && delta == st->inline_delta);
    }
    return result;
}

int moth_frames_install(void)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    _PyFrameEvalFunction current = _PyInterpreterState_GetEvalFrameFunc(interp);
    if (current == profile_frame)
        return 0;
    moth_the_interp.previous_eval = current == _PyEval_EvalFrameDefault ? NULL : current;
    _PyInterpreterState_SetEvalFrameFunc(interp, profile_frame);
    return 0;
}

void moth_frames_uninstall(void)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    if (_PyInterpreterState_GetEvalFrameFunc(interp) != profile_frame)
        return;
    _PyFrameEvalFunction previous = moth_the_interp.previous_eval;
    _PyInterpreterState_SetEvalFrameFunc(interp, previous ? previous : _PyEval_EvalFrameDefault);
    moth_the_interp.previous_eval = NULL;
}
