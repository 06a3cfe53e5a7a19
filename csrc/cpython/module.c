/* module.c: the moth._moth extension module: its functions and types. */
#include "pyver.h"

#include "cli.h"
#include "common.h"
#include "dap.h"
#include "engine.h"
#include "highlight.h"
#include "interp.h"
#include "profile_type.h"
#include "profiler.h"
#include "subprocs.h"

moth_interp moth_the_interp;

/* moth.profile_lines(func): marks func for line profiling wherever moth profiles lines
 * (moth profile --lines or --func, Profile(lines=...)); returns func unchanged. */
static PyObject *profile_lines(PyObject *module, PyObject *func)
{
    (void)module;
    PyObject *code = PyObject_GetAttrString(func, "__code__");
    if (!code || !PyCode_Check(code)) {
        Py_XDECREF(code);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "moth.profile_lines decorates Python functions, not %R",
                     func);
        return NULL;
    }
    int rc = moth_lineprof_mark(code);
    Py_DECREF(code);
    return rc < 0 ? NULL : Py_NewRef(func);
}

/* highlight(source): the text coloured for a terminal (csrc/core/highlight.c). */
static PyObject *highlight(PyObject *module, PyObject *source)
{
    (void)module;
    Py_ssize_t n;
    const char *text = PyUnicode_AsUTF8AndSize(source, &n);
    if (!text)
        return NULL;
    moth_sb out = MOTH_SB_INIT;
    moth_highlight_python(&out, text, (size_t)n);
    /* the input was UTF-8 and escapes are ASCII, so the output decodes */
    PyObject *coloured = out.failed ? PyErr_NoMemory()
                                    : PyUnicode_FromStringAndSize(out.data, (Py_ssize_t)out.len);
    moth_sb_free(&out);
    return coloured;
}

static PyObject *wants_colour(PyObject *module, PyObject *stream)
{
    (void)module;
    return PyBool_FromLong(moth_wants_colour(stream));
}

/* async_raise(thread_id, exception_type): the exception is raised in that thread when it next
 * runs Python code (the debugger's `quit` typed at a prompt in another thread). */
static PyObject *async_raise(PyObject *module, PyObject *args)
{
    (void)module;
    unsigned long ident;
    PyObject *type;
    if (!PyArg_ParseTuple(args, "kO:async_raise", &ident, &type))
        return NULL;
    if (!PyExceptionClass_Check(type)) {
        PyErr_SetString(PyExc_TypeError, "async_raise: an exception type is needed");
        return NULL;
    }
    return PyLong_FromLong(PyThreadState_SetAsyncExc(ident, type));
}

PyObject *moth_py_advise(PyObject *module, PyObject *args, PyObject *kw);
PyObject *moth_py_parse_bytes(PyObject *module, PyObject *text);
PyObject *moth_py_memory_verdict(PyObject *module, PyObject *args, PyObject *kw);
PyObject *moth_py_memory_summary(PyObject *module, PyObject *args);
extern PyMethodDef moth_attach_functions[];

static PyMethodDef module_functions[] = {
    {"advise", (PyCFunction)(void (*)(void))moth_py_advise, METH_VARARGS | METH_KEYWORDS,
     "advise(profile, min_share=0.01, limit=20, json=False)\n\n"
     "The performance pitfalls in what a Profile(lines=True) recorded, as text."},
    {"async_raise", (PyCFunction)async_raise, METH_VARARGS,
     "async_raise(thread_id, exception_type) -> threads affected\n\n"
     "Raises the exception in that thread when it next runs Python code."},
    {"highlight", (PyCFunction)highlight, METH_O,
     "highlight(source)\n\nPython source coloured for a terminal with ANSI escapes."},
    {"wants_colour", (PyCFunction)wants_colour, METH_O,
     "wants_colour(stream)\n\nWhether to colour what goes to stream: a terminal, and neither\n"
     "NO_COLOR nor TERM=dumb set."},
    {"profile_lines", (PyCFunction)profile_lines, METH_O,
     "profile_lines(func)\n\nDecorator: profile func line by line when moth profiles lines."},
    {"parse_bytes", (PyCFunction)moth_py_parse_bytes, METH_O,
     "parse_bytes(text) -> int\n\nA size such as '24 MB' or '512 KiB' in bytes (powers of 1024)."},
    {"memory_verdict", (PyCFunction)(void (*)(void))moth_py_memory_verdict,
     METH_VARARGS | METH_KEYWORDS,
     "memory_verdict(profile, limit=None, leaks=None) -> (peak, leaked, failure)\n\n"
     "Judges a test run under Profile(memory=True): failure is the message, or None."},
    {"memory_summary", (PyCFunction)moth_py_memory_summary, METH_VARARGS,
     "memory_summary(results, limit=20) -> str\n\n(test id, peak, leaked) as a table."},
    {"_subprocess_start", moth_py_subprocess_start, METH_NOARGS,
     "_subprocess_start() -> bool\n\nmoth profile --subprocesses: profile this new interpreter\n"
     "as its environment asks (src/moth/_bootstrap/sitecustomize.py calls this)."},
    {"main", (PyCFunction)moth_cli_main, METH_O,
     "main(argv)\n\nThe moth command line; returns the exit status."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moth_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "moth._moth",
    .m_doc = "moth's engines: profiler, debugger, readers and renderers, in C.",
    .m_size = -1,
    .m_methods = module_functions,
};

PyMODINIT_FUNC PyInit__moth(void)
{
    moth_clock_anchor_now(&moth_the_interp.clock_anchor);
    if (PyType_Ready(&MothProfile_Type) < 0 || PyType_Ready(&MothEngine_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moth_module);
    if (!m)
        return NULL;
    if (PyModule_AddStringConstant(m, "__version__", MOTH_VERSION) < 0 ||
        PyModule_AddObjectRef(m, "Profile", (PyObject *)&MothProfile_Type) < 0 ||
        PyModule_AddObjectRef(m, "Engine", (PyObject *)&MothEngine_Type) < 0 ||
        PyModule_AddFunctions(m, moth_dap_hooks) < 0 ||
        PyModule_AddFunctions(m, moth_dap_listen_functions) < 0 ||
        PyModule_AddFunctions(m, moth_attach_functions) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
