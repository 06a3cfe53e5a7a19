/*
 * native_merge.h: one stack from a thread's C frames and its Python frames, read at the same
 * moment: each run of the interpreter's evaluation loop (_PyEval_EvalFrameDefault) in the C
 * stack stands for the Python frames of that entry into the interpreter, and is replaced by
 * them.
 *
 * Since 3.11 one call of the evaluation loop runs every Python-to-Python call made inside it,
 * so the C stack has one evaluation loop frame per entry from C (a builtin calling back into
 * Python, a generator resumed from C, the program's start), and the Python stack reader marks
 * the newest Python frame of each entry (moth_rframe.entry). The k-th entry from the outermost
 * is the k-th evaluation loop frame from the outermost. Where the counts differ (a thread
 * caught between pushing a Python frame and entering the loop, or leaving it) the outermost
 * are paired and the rest stay as they are: Python frames without a loop go innermost, loop
 * frames without Python frames stay C frames. When the C walk stopped early (no unwind
 * tables), the innermost are paired instead and the Python frames left over go outermost.
 */
#ifndef MOTH_NATIVE_MERGE_H
#define MOTH_NATIVE_MERGE_H

#include "common.h"
#include "stack.h"
#include "unwind.h"

/* One frame of a merged stack: Python frame `index` of the Python stack, or C function
 * `index` of the names. */
typedef struct moth_merged {
    uint32_t python;
    uint32_t index;
} moth_merged;

/* Whether a C function is the interpreter's evaluation loop (or a part the compiler split off
 * it, such as "_PyEval_EvalFrameDefault.cold"). */
int moth_is_eval_loop(const moth_native_name *name);

/* Merges the functions of a C stack (innermost first, as moth_unwind_names gives them frame
 * after frame; loop[i] is 1 where function i is the evaluation loop: moth_is_eval_loop) with a
 * Python stack (innermost first). `complete`: the C walk reached the thread's first frame.
 * Writes innermost first to out, which has room for nnames + npy; returns the count. */
size_t moth_native_merge(const uint8_t *is_loop, size_t nnames, int complete,
                         const moth_rframe *py, size_t npy, moth_merged *out);

/* Whether a C function of the interpreter only passes a call on or runs Python frames
 * (PyObject_Vectorcall, _PyEval_Vector, cfunction_vectorcall_O, the evaluation loop itself,
 * ...): a sampled profile leaves them out, so that a builtin or an extension's function stands
 * right below the Python function that called it. */
int moth_is_call_plumbing(const char *function, size_t len);

#endif
