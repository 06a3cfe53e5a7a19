/* native_merge.c: C frames and Python frames in one stack; see native_merge.h. */
#include "native_merge.h"

#include <stdlib.h>
#include <string.h>

#define EVAL_LOOP "_PyEval_EvalFrameDefault"

int moth_is_eval_loop(const moth_native_name *name)
{
    size_t n = sizeof EVAL_LOOP - 1;
    return !name->inlined && name->function && name->function_len >= n &&
           memcmp(name->function, EVAL_LOOP, n) == 0 &&
           (name->function_len == n || name->function[n] == '.');
}

/* Appends the Python frames of the entry starting at py[first] (its newest frame). */
static size_t put_entry(const moth_rframe *py, size_t npy, size_t first, moth_merged *out,
                        size_t at)
{
    for (size_t k = first; k < npy && (k == first || !py[k].entry); k++)
        out[at++] = (moth_merged){1, (uint32_t)k};
    return at;
}

size_t moth_native_merge(const uint8_t *is_loop, size_t nnames, int complete,
                         const moth_rframe *py, size_t npy, moth_merged *out)
{
    size_t loops = 0, entries = 0;
    for (size_t i = 0; i < nnames; i++)
        loops += is_loop[i] != 0;
    for (size_t k = 0; k < npy; k++)
        entries += py[k].entry || k == 0;
    size_t paired = loops < entries ? loops : entries;
    /* Counted innermost first: loop number `first_loop` is paired with entry `first_entry`,
     * the next loop with the next entry, and so on for `paired` pairs. */
    size_t first_loop = complete ? loops - paired : 0;
    size_t first_entry = complete ? entries - paired : 0;
    size_t at = 0, entry = 0, k = 0;
    /* Entries left unpaired innermost (complete walk) go first. */
    for (; entry < first_entry; entry++) {
        size_t end = put_entry(py, npy, k, out, at);
        k += end - at;
        at = end;
    }
    size_t loop = 0;
    for (size_t i = 0; i < nnames; i++) {
        if (is_loop[i]) {
            size_t this_loop = loop++;
            if (this_loop >= first_loop && this_loop < first_loop + paired) {
                size_t end = put_entry(py, npy, k, out, at);
                k += end - at;
                at = end;
                entry++;
                continue;
            }
        }
        out[at++] = (moth_merged){0, (uint32_t)i};
    }
    /* Entries left unpaired outermost (the walk stopped early) go last. */
    while (k < npy) {
        size_t end = put_entry(py, npy, k, out, at);
        k += end - at;
        at = end;
    }
    return at;
}

/* The interpreter's call machinery, by name prefix: each passes a call on to what is called
 * (a C function, a Python function's frame) and does nothing of its own worth a row. */
static const char *const PLUMBING[] = {
    "_PyEval_EvalFrame",   /* the loop (unpaired ones), its inline entry */
    "_PyEval_Vector",       "PyEval_EvalCode",     "run_eval_code_obj",
    "_PyFunction_Vectorcall", "PyObject_Vectorcall", "_PyObject_Vectorcall",
    "PyObject_Call",        "_PyObject_Call",       "_PyObject_MakeTpCall",
    "_PyObject_FastCall",   "PyVectorcall_Call",    "_PyVectorcall_Call",
    "cfunction_vectorcall_", "cfunction_call",      "method_vectorcall",
    "slot_tp_call",         "vectorcall_method",    "vectorcall_unbound",
    "call_unbound",         "object_vacall",
};

int moth_is_call_plumbing(const char *function, size_t len)
{
    if (!function)
        return 0;
    for (size_t i = 0; i < sizeof PLUMBING / sizeof PLUMBING[0]; i++) {
        size_t n = strlen(PLUMBING[i]);
        if (len >= n && memcmp(function, PLUMBING[i], n) == 0)
            return 1;
    }
    return 0;
}
