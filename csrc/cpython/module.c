/* module.c: the moth._moth extension module: its functions and types. */
#include "pyver.h"

#include "common.h"

static struct PyModuleDef moth_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "moth._moth",
    .m_doc = "moth's engines: profiler, debugger, readers and renderers, in C.",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__moth(void)
{
    PyObject *m = PyModule_Create(&moth_module);
    if (!m)
        return NULL;
    if (PyModule_AddStringConstant(m, "__version__", MOTH_VERSION) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
