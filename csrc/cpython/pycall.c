/* pycall.c: calling Python from C; see pycall.h. */
#include "pycall.h"

PyObject *moth_module_attr(const char *module, const char *name)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (!mod)
        return NULL;
    PyObject *attr = PyObject_GetAttrString(mod, name);
    Py_DECREF(mod);
    return attr;
}

PyObject *moth_call_attr_v(PyObject *obj, const char *name, const char *fmt, va_list ap)
{
    PyObject *fn = PyObject_GetAttrString(obj, name);
    if (!fn)
        return NULL;
    PyObject *args = Py_VaBuildValue(fmt, ap);
    PyObject *r = args ? PyObject_CallObject(fn, args) : NULL;
    Py_XDECREF(args);
    Py_DECREF(fn);
    return r;
}

PyObject *moth_call_function(const char *module, const char *name, const char *fmt, ...)
{
    PyObject *mod = PyImport_ImportModule(module);
    if (!mod)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    PyObject *r = moth_call_attr_v(mod, name, fmt, ap);
    va_end(ap);
    Py_DECREF(mod);
    return r;
}
