/*
 * calibrate.c: what recording one call costs, measured on this machine at start-up.
 *
 * Intercepting a call is not free, and a report that charged that cost to the user's functions
 * would make them look slower than they are. So before a profiled run moth times calls to
 * small functions with and without a scratch profiler of the same mode and clock, several
 * rounds, paired, and keeps the median of the rounds' differences, from which:
 *  - inner: the part measured inside the callee's own interval (an empty function's recorded
 *    time per call);
 *  - outer, the rest, charged to the caller, for two kinds of calls that cost differently in
 *    frames mode: calls straight from Python bytecode, which CPython inlines when no frame
 *    evaluator is installed, and calls made by C code (map calling f), which it never inlines.
 *    The hook tells them apart by C stack distance (frame_eval.c) and learns the distance of
 *    the first kind here.
 * The first kind is timed on a binary recursion of a global function taking an argument, not on
 * a flat loop calling a local: under the hook every Python call nests a C evaluator, and calls
 * that go deeper and come back (as real programs' do) cost it more than a loop's, which stays
 * at one depth (measured on 3.11 under chrt: 41 ns a call in fib or such a tree, 27 in a loop
 * calling an empty local, 36 a global with an argument). Calibrating on the loop left fib's
 * times 9% long.
 * The loops are timed in the thread's CPU time, which other processes on the machine do not
 * add to. A fixed piece of C work (core/drift.h's probe) is timed
 * too: through the run, each thread compares its CPU share and the probe with these, so that the
 * cost subtracted is what recording took as the run went (moth_drift_factor).
 * Snapshots then subtract the cost (moth_cct_subtract_overhead). Takes a few tens of ms.
 */
#include "calibrate.h"

#include <stdlib.h>

#define CALLS 8000
/* _moth_tree(13) calls itself 2^13 - 2 times below the first, and the empty leaf 2^12 times */
#define TREE_DEPTH 13
#define TREE_CALLS ((1 << TREE_DEPTH) - 2 + (1 << (TREE_DEPTH - 1)))
#define ROUNDS 9

static const char SOURCE[] =
    "def _moth_tree(n):\n"
    "    if n > 1:\n"
    "        _moth_tree(n - 1)\n"
    "        _moth_tree(n - 1)\n"
    "    else:\n"
    "        _moth_empty_arg(n)\n"
    "def _moth_from_c(n):\n"
    "    for _ in map(_moth_empty_arg, range(n)):\n"
    "        pass\n"
    "def _moth_empty_arg(x):\n"
    "    pass\n";

typedef struct loop_timing {
    double cost;           /* per call: the profiler's round less the plain round next to it,
                              seconds, the median of the rounds */
    double inner;          /* the recorded time per call of the empty function, the median */
    double spread;         /* how far the rounds' costs lie apart: half their interquartile
                              range over the median */
    size_t delta;          /* C stack distance of its calls (frames mode) */
} loop_timing;

/* Runs loop(n) once, under `scratch` when given; returns the seconds it took, or -1 on a
 * Python error. With scratch, also sets *inner and *delta from what it recorded. */
static double run_loop(PyObject *loop, PyObject *n, moth_profiler *scratch, double *inner,
                       size_t *delta)
{
    if (scratch && moth_profiler_enable(scratch) < 0)
        return -1;
    uint64_t t0 = moth_thread_cpu_ns();
    PyObject *r = PyObject_CallOneArg(loop, n);
    double elapsed = (double)(moth_thread_cpu_ns() - t0) * 1e-9;
    moth_tstate *st = scratch ? moth_tls_state : NULL;
    if (st)
        *delta = st->last_delta;
    if (scratch)
        moth_profiler_disable(scratch);
    if (!r)
        return -1;
    Py_DECREF(r);
    if (!scratch)
        return elapsed;
    moth_profile snap;
    if (moth_profiler_snapshot(scratch, &snap) < 0)
        return -1;
    /* The innermost function's node: the leaf called most. */
    *inner = 0;
    uint64_t most = 0;
    for (size_t th = 0; th < snap.nthreads; th++) {
        const moth_cct *tree = &snap.threads[th].tree;
        for (size_t i = 1; i < tree->count; i++) {
            const moth_cct_node *node = &tree->nodes[i];
            if (node->first_child == MOTH_NODE_NONE && node->calls > most) {
                most = node->calls;
                *inner = (double)node->total * snap.tick_seconds / (double)node->calls;
            }
        }
    }
    moth_profile_free(&snap);
    moth_profiler_clear(scratch);
    return elapsed;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of n values (sorted in place), and their quartiles. */
static double median(double *v, size_t n, double *q1, double *q3)
{
    qsort(v, n, sizeof *v, by_value);
    *q1 = v[n / 4];
    *q3 = v[(3 * n) / 4];
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Times name(arg), which makes `calls` calls, plain and under scratch. */
static int time_loop(PyObject *globals, const char *name, long arg, long calls,
                     moth_profiler *scratch, loop_timing *t)
{
    PyObject *loop = PyDict_GetItemString(globals, name); /* borrowed */
    PyObject *n = loop ? PyLong_FromLong(arg) : NULL;
    if (!n)
        return -1;
    double cost[ROUNDS], inner[ROUNDS];
    /* Each round times the loop plain and under the profiler, one right after the other (which
     * goes first alternates), so that the machine's speed is the same for both; the median of
     * the rounds' differences is robust to a round the machine slowed. Round 0 warms the
     * specialising interpreter up and is not counted. */
    for (int round = 0; round <= ROUNDS; round++) {
        double in = 0, plain, hooked;
        if (round % 2) {
            hooked = run_loop(loop, n, scratch, &in, &t->delta);
            plain = hooked < 0 ? -1 : run_loop(loop, n, NULL, NULL, NULL);
        } else {
            plain = run_loop(loop, n, NULL, NULL, NULL);
            hooked = plain < 0 ? -1 : run_loop(loop, n, scratch, &in, &t->delta);
        }
        if (plain < 0 || hooked < 0 || in <= 0) {
            Py_DECREF(n);
            return -1;
        }
        if (round == 0)
            continue;
        cost[round - 1] = (hooked - plain) / (double)calls;
        inner[round - 1] = in;
    }
    double q1, q3;
    t->cost = median(cost, ROUNDS, &q1, &q3);
    t->spread = t->cost > 0 ? (q3 - q1) / 2 / t->cost : 1.0;
    t->inner = median(inner, ROUNDS, &q1, &q3);
    Py_DECREF(n);
    return 0;
}

static double positive(double x)
{
    return x > 0 ? x : 0;
}

/* The fastest of a few runs of the drift probe: what it takes at full speed now. */
static uint64_t probe_now(void)
{
    uint64_t best = 0;
    for (int i = 0; i < 32; i++) {
        uint64_t t = moth_drift_probe();
        if (!best || t < best)
            best = t;
    }
    return best;
}

int moth_calibrate(moth_profiler *p)
{
    p->overhead_inner = p->overhead_inline = p->overhead_other = 0;
    p->inline_delta = 0;
    p->calibrated_probe = probe_now();
    if (p->clock == MOTH_CLOCK_CUSTOM)
        return 0; /* a custom timer's user expects exactly what it returned */
    PyObject *globals = PyDict_New();
    PyObject *code = Py_CompileString(SOURCE, "<moth calibration>", Py_file_input);
    int ok = 0, scratch_ready = 0;
    moth_profiler scratch;
    if (!globals || !code ||
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0)
        goto done;
    PyObject *r = PyEval_EvalCode(code, globals, globals);
    if (!r)
        goto done;
    Py_DECREF(r);
    if (moth_profiler_init(&scratch, p->mode, p->clock, NULL, 0.0, p->builtins, 1) < 0)
        goto done;
    scratch_ready = 1;
    loop_timing direct, from_c;
    if (time_loop(globals, "_moth_tree", TREE_DEPTH, TREE_CALLS, &scratch, &direct) < 0 ||
        time_loop(globals, "_moth_from_c", CALLS, CALLS, &scratch, &from_c) < 0)
        goto done;
    double inner = direct.inner < from_c.inner ? direct.inner : from_c.inner;
    double direct_cost = positive(direct.cost);
    double from_c_cost = positive(from_c.cost);
    /* how sure: as sure as the larger of the two costs */
    p->overhead_spread = direct_cost >= from_c_cost ? direct.spread : from_c.spread;
    if (p->overhead_spread > 1)
        p->overhead_spread = 1;
    p->overhead_inner = inner < from_c_cost ? inner : from_c_cost;
    p->overhead_other = positive(from_c_cost - p->overhead_inner);
    if (p->mode == MOTH_MODE_FRAMES && direct.delta != from_c.delta) {
        p->overhead_inline = positive(direct_cost - p->overhead_inner);
        p->inline_delta = direct.delta;
    } else {
        /* Classic mode inlines nothing away: every call is "other", priced by the loop. */
        p->overhead_other = positive(direct_cost - p->overhead_inner);
    }
    ok = 1;
done:
    if (scratch_ready)
        moth_profiler_free(&scratch);
    Py_XDECREF(code);
    Py_XDECREF(globals);
    if (!ok) {
        PyErr_Clear(); /* no calibration: times are reported as measured */
        p->overhead_inner = p->overhead_inline = p->overhead_other = p->overhead_spread = 0;
        p->inline_delta = 0;
    }
    return 0;
}
