/* advise_costs.c: each pitfall's loop timed as written and rewritten; see advise_costs.h. */
#include "advise_costs.h"

#include "clock.h"

/* The shapes, as the advice describes them: `written_K` is the pitfall, `rewritten_K` the
 * rewrite, K the pitfall's id with '-' as '_'. Each takes (n, xs, cfg, arr): n iterations over
 * the list xs of n floats; cfg an object with cfg.limits.high; arr xs as a NumPy array (or
 * None). The loop bodies do as little as the shape allows, so that the difference per
 * iteration is the shape's own. */
static const char SHAPES[] =
    "import math\n"
    "class _Limits:\n"
    "    def __init__(self): self.high = 50.0\n"
    "class _Config:\n"
    "    def __init__(self): self.limits = _Limits()\n"
    "CONFIG = _Config()\n"
    "def written_global_in_loop(n, xs, cfg, arr):\n"
    "    for x in xs:\n"
    "        abs(x)\n"
    "def rewritten_global_in_loop(n, xs, cfg, arr):\n"
    "    _abs = abs\n"
    "    for x in xs:\n"
    "        _abs(x)\n"
    "def written_module_attribute_in_loop(n, xs, cfg, arr):\n"
    "    for x in xs:\n"
    "        math.sqrt(x)\n"
    "def rewritten_module_attribute_in_loop(n, xs, cfg, arr):\n"
    "    sqrt = math.sqrt\n"
    "    for x in xs:\n"
    "        sqrt(x)\n"
    "def written_attribute_chain_in_loop(n, xs, cfg, arr):\n"
    "    k = 0\n"
    "    for x in xs:\n"
    "        if x > cfg.limits.high:\n"
    "            k += 1\n"
    "def rewritten_attribute_chain_in_loop(n, xs, cfg, arr):\n"
    "    k = 0\n"
    "    high = cfg.limits.high\n"
    "    for x in xs:\n"
    "        if x > high:\n"
    "            k += 1\n"
    "def written_range_len_loop(n, xs, cfg, arr):\n"
    "    for i in range(len(xs)):\n"
    "        v = xs[i]\n"
    "def rewritten_range_len_loop(n, xs, cfg, arr):\n"
    "    for v in xs:\n"
    "        pass\n"
    "def written_counter_while_loop(n, xs, cfg, arr):\n"
    "    i = 0\n"
    "    while i < n:\n"
    "        i += 1\n"
    "def rewritten_counter_while_loop(n, xs, cfg, arr):\n"
    "    for i in range(n):\n"
    "        pass\n"
    "def written_string_concatenation_in_loop(n, xs, cfg, arr):\n"
    "    s = ''\n"
    "    for i in range(n):\n"
    "        s += 'x'\n"
    "    return s\n"
    "def rewritten_string_concatenation_in_loop(n, xs, cfg, arr):\n"
    "    parts = []\n"
    "    for i in range(n):\n"
    "        parts.append('x')\n"
    "    return ''.join(parts)\n"
    "def written_append_loop(n, xs, cfg, arr):\n"
    "    out = []\n"
    "    for x in xs:\n"
    "        out.append(x)\n"
    "    return out\n"
    "def rewritten_append_loop(n, xs, cfg, arr):\n"
    "    return [x for x in xs]\n"
    "def written_numeric_loop(n, xs, cfg, arr):\n"
    "    total = 0.0\n"
    "    for i in range(len(xs)):\n"
    "        total = total + xs[i] * xs[i]\n"
    "    return total\n"
    "def rewritten_numeric_loop(n, xs, cfg, arr):\n"
    "    return (arr * arr).sum()\n";

#define RUNS 5

PyObject *moth_shapes_load(void)
{
    PyObject *d = PyDict_New();
    if (!d || PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_XDECREF(d);
        return NULL;
    }
    PyObject *r = PyRun_String(SHAPES, Py_file_input, d, d);
    if (!r) {
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(r);
    return d;
}

void moth_shapes_release(PyObject *shapes)
{
    if (shapes)
        PyDict_Clear(shapes); /* its functions refer back to it */
    Py_XDECREF(shapes);
}

/* The fastest of RUNS calls of fn(*args), in nanoseconds; negative on error. */
static double best_ns(PyObject *fn, PyObject *args)
{
    double best = -1;
    for (int i = 0; i < RUNS; i++) {
        uint64_t t0 = moth_monotonic_ns();
        PyObject *r = PyObject_Call(fn, args, NULL);
        uint64_t t1 = moth_monotonic_ns();
        if (!r)
            return -1;
        Py_DECREF(r);
        if (best < 0 || (double)(t1 - t0) < best)
            best = (double)(t1 - t0);
    }
    return best;
}

static PyObject *shape(PyObject *ns, const char *which, moth_pitfall kind)
{
    char name[96];
    snprintf(name, sizeof name, "%s_%s", which, moth_pitfall_id(kind));
    for (char *c = name; *c; c++)
        if (*c == '-')
            *c = '_';
    return PyDict_GetItemString(ns, name); /* borrowed */
}

int moth_measure_shape(PyObject *ns, moth_pitfall kind, size_t n, moth_shape_cost *cost)
{
    PyObject *written = ns ? shape(ns, "written", kind) : NULL;
    PyObject *rewritten = ns ? shape(ns, "rewritten", kind) : NULL;
    PyObject *xs = written && rewritten ? PyList_New((Py_ssize_t)n) : NULL;
    for (size_t i = 0; xs && i < n; i++) {
        PyObject *x = PyFloat_FromDouble((double)(i % 97));
        if (!x)
            Py_CLEAR(xs);
        else
            PyList_SET_ITEM(xs, (Py_ssize_t)i, x);
    }
    PyObject *arr = NULL;
    if (xs && kind == MOTH_PIT_NUMERIC_LOOP) {
        /* Only a NumPy the program imported: importing it here would cost the user a tenth of
         * a second, and it leaves objects behind at exit (which the sanitizer run counts). */
        PyObject *name = PyUnicode_FromString("numpy");
        PyObject *numpy = name ? PyImport_GetModule(name) : NULL;
        arr = numpy ? PyObject_CallMethod(numpy, "asarray", "(O)", xs) : NULL;
        Py_XDECREF(numpy);
        Py_XDECREF(name);
    } else if (xs)
        arr = Py_NewRef(Py_None);
    PyObject *cfg = arr ? PyDict_GetItemString(ns, "CONFIG") : NULL;
    PyObject *args = cfg ? Py_BuildValue("(nOOO)", (Py_ssize_t)n, xs, cfg, arr) : NULL;
    double w = args ? best_ns(written, args) : -1;
    double r = w >= 0 ? best_ns(rewritten, args) : -1;
    Py_XDECREF(args);
    Py_XDECREF(arr);
    Py_XDECREF(xs);
    PyErr_Clear();
    if (r < 0 || n == 0)
        return -1;
    cost->written_ns = w / (double)n;
    cost->rewritten_ns = r / (double)n;
    return 0;
}
