/*
 * calibrate.c: what recording one call costs, measured on this machine at start-up.
 *
 * Intercepting a call is not free (DESIGN.md: about a third of a tiny call's time in frames
 * mode), and a report that charged that cost to the user's functions would make them look
 * slower than they are. So before a profiled run, moth times a loop of tiny Python calls with
 * and without a scratch profiler of the same mode and clock, several times, and keeps the
 * fastest of each: the difference per call is the overhead, split into the part measured inside
 * the callee's own interval (an empty function's recorded time) and the part left to its
 * caller. Snapshots then subtract it (moth_cct_subtract_overhead). Takes about 20 ms.
 */
#include "profiler.h"

#include "calibrate.h"

#define CALLS 20000
#define ROUNDS 15

static const char SOURCE[] =
    "def _moth_empty():\n"
    "    pass\n"
    "def _moth_loop(n):\n"
    "    f = _moth_empty\n"
    "    for _ in range(n):\n"
    "        f()\n";

static double seconds_now(void)
{
    return (double)moth_monotonic_ns() * 1e-9;
}

/* Times loop(CALLS) once; with `scratch` given, under it, adding the empty function's recorded
 * seconds per call to *inner. Returns the elapsed seconds, or -1 with a Python exception. */
static double time_loop(PyObject *loop, PyObject *n, moth_profiler *scratch, double *inner)
{
    if (scratch && moth_profiler_enable(scratch) < 0)
        return -1;
    double t0 = seconds_now();
    PyObject *r = PyObject_CallOneArg(loop, n);
    double elapsed = seconds_now() - t0;
    if (scratch)
        moth_profiler_disable(scratch);
    if (!r)
        return -1;
    Py_DECREF(r);
    if (scratch) {
        moth_profile snap;
        if (moth_profiler_snapshot(scratch, &snap) < 0)
            return -1;
        /* The empty function's node: the deepest node with CALLS activations. */
        for (size_t t = 0; t < snap.nthreads; t++) {
            const moth_cct *tree = &snap.threads[t].tree;
            for (size_t i = 1; i < tree->count; i++)
                if (tree->nodes[i].calls == CALLS && tree->nodes[i].first_child == MOTH_NODE_NONE)
                    *inner = (double)tree->nodes[i].total * snap.tick_seconds / CALLS;
        }
        moth_profile_free(&snap);
        moth_profiler_clear(scratch);
    }
    return elapsed;
}

int moth_calibrate(moth_profiler *p)
{
    p->overhead_inner = p->overhead_outer = 0;
    if (p->clock == MOTH_CLOCK_CUSTOM)
        return 0; /* a custom timer's user expects exactly what it returned */
    PyObject *globals = PyDict_New();
    PyObject *n = PyLong_FromLong(CALLS);
    PyObject *code = Py_CompileString(SOURCE, "<moth calibration>", Py_file_input);
    int rc = -1;
    moth_profiler scratch;
    int scratch_ready = 0;
    if (!globals || !n || !code ||
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0)
        goto done;
    PyObject *r = PyEval_EvalCode(code, globals, globals);
    if (!r)
        goto done;
    Py_DECREF(r);
    PyObject *loop = PyDict_GetItemString(globals, "_moth_loop"); /* borrowed */
    if (!loop || moth_profiler_init(&scratch, p->mode, p->clock, NULL, 0.0, p->builtins, 1) < 0)
        goto done;
    scratch_ready = 1;
    double plain = 1e9, hooked = 1e9, inner = 1e9;
    /* A first round of each warms the specialising interpreter up. */
    for (int round = 0; round <= ROUNDS; round++) {
        double in = 0, a = time_loop(loop, n, NULL, NULL), b = time_loop(loop, n, &scratch, &in);
        if (a < 0 || b < 0)
            goto done;
        if (round == 0)
            continue;
        plain = a < plain ? a : plain;
        hooked = b < hooked ? b : hooked;
        inner = in > 0 && in < inner ? in : inner;
    }
    double per_call = (hooked - plain) / CALLS;
    if (per_call > 0 && inner < 1e9) {
        p->overhead_inner = inner < per_call ? inner : per_call;
        p->overhead_outer = per_call - p->overhead_inner;
    }
    rc = 0;
done:
    if (scratch_ready)
        moth_profiler_free(&scratch);
    Py_XDECREF(code);
    Py_XDECREF(n);
    Py_XDECREF(globals);
    if (rc < 0)
        PyErr_Clear(); /* no calibration: times are reported as measured */
    return 0;
}
