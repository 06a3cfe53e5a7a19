/* module.c: the moth._moth extension module: its functions and types. */
#include "pyver.h"

#include "cli.h"
#include "common.h"
#include "interp.h"
#include "profile_type.h"

moth_interp moth_the_interp;

static PyMethodDef module_functions[] = {
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
    if (PyType_Ready(&MothProfile_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moth_module);
    if (!m)
        return NULL;
    if (PyModule_AddStringConstant(m, "__version__", MOTH_VERSION) < 0 ||
        PyModule_AddObjectRef(m, "Profile", (PyObject *)&MothProfile_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
