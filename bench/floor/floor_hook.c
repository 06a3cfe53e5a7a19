/*
 * floor_hook.c: the cheapest possible frame-evaluation hook, as a yardstick.
 *
 * It does what any profiler at this layer must do and nothing more: a frame-evaluation function
 * (PEP 523) around CPython's evaluator that reads the time-stamp counter before and after each
 * frame and keeps no data. Benchmarks run it beside moth so that RESULTS.md shows how far moth's
 * bookkeeping is from this floor on the same machine at the same time. Not part of moth.
 */
#define Py_BUILD_CORE_MODULE 1
#include <Python.h>
#include <x86intrin.h>
#include "internal/pycore_frame.h"

static unsigned long long sink;

static PyObject *floor_eval(PyThreadState *ts, _PyInterpreterFrame *f, int throwflag)
{
    unsigned long long t0 = __rdtsc();
#if PY_VERSION_HEX >= 0x030C0000
    ts->c_recursion_remaining += 2;
#endif
    PyObject *r = _PyEval_EvalFrameDefault(ts, f, throwflag);
#if PY_VERSION_HEX >= 0x030C0000
    ts->c_recursion_remaining -= 2;
#endif
    sink += __rdtsc() - t0;
    return r;
}

static PyObject *install(PyObject *m, PyObject *unused)
{
    (void)m;
    (void)unused;
    _PyInterpreterState_SetEvalFrameFunc(PyInterpreterState_Get(), floor_eval);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {{"install", install, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "floor_hook", NULL, -1, methods};

PyMODINIT_FUNC PyInit_floor_hook(void)
{
    return PyModule_Create(&module);
}
