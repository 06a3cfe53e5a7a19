/*
 * pycall.h: calling Python from C in one line: a module's function, an object's method, with
 * the arguments built as Py_BuildValue builds them.
 */
#ifndef MOTH_PYCALL_H
#define MOTH_PYCALL_H

#include "pyver.h"

#include <stdarg.h>

/* module.name (a new reference), or NULL with the exception set. */
PyObject *moth_module_attr(const char *module, const char *name);

/* obj.name(*args), args built as by Py_VaBuildValue(fmt, ap), which must make a tuple: "(O)",
 * "()". A new reference, or NULL with the exception set. */
PyObject *moth_call_attr_v(PyObject *obj, const char *name, const char *fmt, va_list ap);

/* module.name(*args), the same way. */
PyObject *moth_call_function(const char *module, const char *name, const char *fmt, ...);

#endif
