/* pstats_py.c: between the core's pstats view and Python objects; see pstats_py.h. */
#include "pstats_py.h"

static PyObject *label_tuple(const moth_func *f)
{
    return Py_BuildValue("(sIs)", f->file, f->line, f->name);
}

PyObject *moth_pstats_to_dict(const moth_pstats *s, int subcalls)
{
    PyObject *stats = PyDict_New();
    if (!stats)
        return NULL;
    for (size_t r = 0; r < s->nrows; r++) {
        const moth_pstats_row *row = &s->rows[r];
        PyObject *callers = PyDict_New();
        if (!callers)
            goto fail;
        for (size_t e = 0; subcalls && e < row->ncallers; e++) {
            const moth_pstats_edge *edge = &row->callers[e];
            PyObject *key = label_tuple(&s->funcs.items[edge->caller]);
            PyObject *value = s->callers_are_counts
                                  ? PyLong_FromUnsignedLongLong(edge->nc)
                                  : Py_BuildValue("(KKdd)", (unsigned long long)edge->nc,
                                                  (unsigned long long)edge->cc, edge->tt, edge->ct);
            int rc = key && value ? PyDict_SetItem(callers, key, value) : -1;
            Py_XDECREF(key);
            Py_XDECREF(value);
            if (rc < 0) {
                Py_DECREF(callers);
                goto fail;
            }
        }
        PyObject *key = label_tuple(&s->funcs.items[row->func]);
        PyObject *value = Py_BuildValue("(KKddN)", (unsigned long long)row->cc,
                                        (unsigned long long)row->nc, row->tt, row->ct, callers);
        int rc = key && value ? PyDict_SetItem(stats, key, value) : -1;
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (rc < 0)
            goto fail;
    }
    return stats;
fail:
    Py_DECREF(stats);
    return NULL;
}

int moth_pstats_fold(const moth_profile *p, moth_pstats *out)
{
    moth_error err = {{0}};
    moth_pstats_init(out);
    if (moth_pstats_from_profile(out, p, &err) < 0) {
        moth_pstats_free(out);
        PyErr_Format(PyExc_MemoryError, "moth: %s", err.msg);
        return -1;
    }
    return 0;
}

int moth_write_text(PyObject *file, const char *text, size_t len)
{
    PyObject *out = file ? file : PySys_GetObject("stdout"); /* borrowed */
    if (!out || out == Py_None)
        return 0; /* like print(): nowhere to write is not an error */
    PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    if (!s)
        return -1;
    PyObject *r = PyObject_CallMethod(out, "write", "O", s);
    Py_DECREF(s);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}
