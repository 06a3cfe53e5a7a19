/* labels.c: labels for code objects and C functions; see labels.h. */
#include "labels.h"

#include <string.h>

#include "profile_type.h"

void moth_label_release(moth_label *label)
{
    for (int i = 0; i < 3; i++)
        Py_CLEAR(label->owned[i]);
}

/* UTF-8 of s, or with undecodable characters escaped (file names may hold surrogates). */
static const char *utf8_of(PyObject *s, PyObject **owned)
{
    if (!s || !PyUnicode_Check(s))
        return "?";
    const char *u = PyUnicode_AsUTF8(s);
    if (u)
        return u;
    PyErr_Clear();
    *owned = PyUnicode_AsEncodedString(s, "utf-8", "backslashreplace");
    if (!*owned) {
        PyErr_Clear();
        return "?";
    }
    return PyBytes_AS_STRING(*owned);
}

PyObject *moth_cfunction_name(PyObject *obj)
{
    PyCFunctionObject *fn = (PyCFunctionObject *)obj;
    const char *name = fn->m_ml->ml_name;
    PyObject *self = fn->m_self;
    if (self == NULL) {
        /* A built-in function without a module object bound: name it by its module. */
        PyObject *mod = fn->m_module, *modname = NULL;
        if (mod && PyUnicode_Check(mod)) {
            modname = Py_NewRef(mod);
        } else if (mod && PyModule_Check(mod)) {
            modname = PyModule_GetNameObject(mod);
            if (!modname)
                PyErr_Clear();
        }
        if (modname) {
            PyObject *r = NULL;
            if (!PyUnicode_Check(modname) || PyUnicode_CompareWithASCIIString(modname, "builtins"))
                r = PyUnicode_FromFormat("<%S.%s>", modname, name);
            Py_DECREF(modname);
            if (r)
                return r;
        }
        return PyUnicode_FromFormat("<%s>", name);
    }
    /* The profiler's own disable() is the last call a session sees; cProfile's profile lists
     * it under its own name, and pstats sizes its callers/callees columns by the longest. */
    if (PyObject_TypeCheck(self, &MothProfile_Type) && strcmp(name, "disable") == 0)
        return PyUnicode_FromString("<method 'disable' of '_lsprof.Profiler' objects>");
    /* A built-in method: repr(getattr(type(self), name)), else "<built-in method mod.name>". */
    PyObject *attr = PyUnicode_FromString(name);
    if (attr) {
        PyObject *descr = _PyType_Lookup(Py_TYPE(self), attr);
        Py_DECREF(attr);
        if (descr) {
            Py_INCREF(descr);
            PyObject *r = PyObject_Repr(descr);
            Py_DECREF(descr);
            if (r)
                return r;
        }
    }
    PyErr_Clear();
    PyObject *modname = fn->m_module;
    if (modname && PyUnicode_Check(modname))
        return PyUnicode_FromFormat("<built-in method %S.%s>", modname, name);
    return PyUnicode_FromFormat("<built-in method %s>", name);
}

int moth_label_of(PyObject *what, moth_label *label)
{
    memset(label, 0, sizeof *label);
    if (PyCode_Check(what)) {
        PyCodeObject *code = (PyCodeObject *)what;
        label->file = utf8_of(code->co_filename, &label->owned[0]);
        label->name = utf8_of(code->co_name, &label->owned[1]);
        label->qualname = utf8_of(code->co_qualname, &label->owned[2]);
        label->line = code->co_firstlineno > 0 ? (unsigned)code->co_firstlineno : 0;
        return 0;
    }
    label->file = "~";
    label->line = 0;
    label->qualname = NULL;
    if (PyCFunction_Check(what)) {
        label->owned[1] = moth_cfunction_name(what);
        if (!label->owned[1])
            return -1;
        label->name = utf8_of(label->owned[1], &label->owned[0]);
        return 0;
    }
    label->owned[1] = PyObject_Repr(what);
    if (!label->owned[1])
        return -1;
    label->name = utf8_of(label->owned[1], &label->owned[0]);
    return 0;
}
