/*
 * memory_verdict.c: the pytest plugin's judgement of one test's memory (src/moth/pytest_plugin.py
 * only wires it into pytest): its peak against a limit (@pytest.mark.moth_limit_memory), what it
 * left allocated against a tolerance (@pytest.mark.moth_no_leaks), and the message that names
 * the lines responsible; and the summary of every test's peak (--moth-memory).
 */
#include "pyver.h"

#include <stdlib.h>
#include <string.h>

#include "memreport.h"
#include "profile_type.h"

/* The lines (call path and line) holding the most by `m`, as text: "  12.0 MiB  file:line  (path)". */
static void top_lines(const moth_profile *p, moth_mem_measure m, size_t limit, moth_sb *out)
{
    moth_memreport_opts o = {m, limit, 1};
    moth_sb all = MOTH_SB_INIT;
    moth_error err;
    if (moth_memory_report(p, &o, &all, &err) < 0 || !all.data) {
        moth_sb_free(&all);
        return;
    }
    /* the report's second table: the lines */
    const char *lines = strstr(all.data, "   Lines (and the call path");
    if (lines)
        moth_sb_puts(out, lines);
    moth_sb_free(&all);
}

/* parse_bytes(text) -> int: "24 MB", "512 KiB", "1000" (K/M/G/T are powers of 1024). */
PyObject *moth_py_parse_bytes(PyObject *module, PyObject *text)
{
    (void)module;
    const char *s = PyUnicode_Check(text) ? PyUnicode_AsUTF8(text) : NULL;
    if (!s) {
        if (!PyErr_Occurred())
            PyErr_Format(PyExc_TypeError, "a size is a str like '24 MB', not %.100s",
                         Py_TYPE(text)->tp_name);
        return NULL;
    }
    uint64_t bytes;
    moth_error err;
    if (moth_parse_bytes(s, &bytes, &err) < 0) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(bytes);
}

/* memory_verdict(profile, limit=None, leaks=None) -> (peak, leaked, failure or None):
 * profile ran the test with memory=True; limit: the most its peak may be; leaks: the most it
 * may leave allocated (after a full collection). */
PyObject *moth_py_memory_verdict(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    static char *kwlist[] = {"profile", "limit", "leaks", NULL};
    PyObject *prof, *limit_obj = Py_None, *leaks_obj = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|OO:memory_verdict", kwlist,
                                     &MothProfile_Type, &prof, &limit_obj, &leaks_obj))
        return NULL;
    long long limit = -1, leaks = -1;
    if ((limit_obj != Py_None && (limit = PyLong_AsLongLong(limit_obj)) < 0) ||
        (leaks_obj != Py_None && (leaks = PyLong_AsLongLong(leaks_obj)) < 0)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_ValueError, "limits are bytes, 0 or more");
        return NULL;
    }
    moth_profile p;
    if (moth_profiler_snapshot(&((MothProfileObject *)prof)->prof, &p) < 0)
        return NULL;
    moth_mem_row sum;
    moth_memory_totals(&p.memory, &sum);
    uint64_t peak = p.memory.peak_bytes, leaked = sum.leaked_bytes;
    moth_sb msg = MOTH_SB_INIT;
    char a[32], b[32];
    if (limit >= 0 && peak > (uint64_t)limit) {
        moth_format_bytes(a, sizeof a, (double)limit);
        moth_format_bytes(b, sizeof b, (double)peak);
        moth_sb_printf(&msg, "Test was limited to %s but held %s at its peak\n\n", a, b);
        top_lines(&p, MOTH_MEM_PEAK, 5, &msg);
    }
    if (leaks >= 0 && leaked > (uint64_t)leaks) {
        moth_format_bytes(a, sizeof a, (double)leaked);
        moth_sb_printf(&msg, "%sTest leaked %s in %.0f blocks (still allocated after it "
                       "returned and a full garbage collection)", msg.len ? "\n" : "", a,
                       sum.leaked_count);
        if (leaks > 0) {
            moth_format_bytes(b, sizeof b, (double)leaks);
            moth_sb_printf(&msg, ", more than the %s allowed", b);
        }
        moth_sb_puts(&msg, "\n\n");
        top_lines(&p, MOTH_MEM_LEAKED, 5, &msg);
    }
    moth_profile_free(&p);
    PyObject *failure = msg.failed ? PyErr_NoMemory()
                        : msg.len  ? PyUnicode_DecodeUTF8(msg.data, (Py_ssize_t)msg.len, "replace")
                                   : Py_NewRef(Py_None);
    moth_sb_free(&msg);
    if (!failure)
        return NULL;
    return Py_BuildValue("(KKN)", (unsigned long long)peak, (unsigned long long)leaked, failure);
}

typedef struct test_peak {
    unsigned long long peak, leaked;
    Py_ssize_t index;
} test_peak;

static int by_peak(const void *a, const void *b)
{
    const test_peak *x = a, *y = b;
    if (x->peak != y->peak)
        return x->peak > y->peak ? -1 : 1;
    return x->index < y->index ? -1 : 1;
}

/* memory_summary(results, limit=20) -> str: results are (test id, peak, leaked); the tests
 * with the highest peaks first, as pytest's terminal summary shows them. */
PyObject *moth_py_memory_summary(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *results;
    Py_ssize_t limit = 20;
    if (!PyArg_ParseTuple(args, "O!|n:memory_summary", &PyList_Type, &results, &limit))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(results);
    test_peak *tests = PyMem_Calloc(n ? (size_t)n : 1, sizeof *tests);
    if (!tests)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(results, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3 ||
            !PyUnicode_Check(PyTuple_GET_ITEM(item, 0))) {
            PyMem_Free(tests);
            PyErr_SetString(PyExc_TypeError, "results are (test id, peak, leaked) tuples");
            return NULL;
        }
        tests[i].peak = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 1));
        tests[i].leaked = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(item, 2));
        tests[i].index = i;
        if (PyErr_Occurred()) {
            PyMem_Free(tests);
            return NULL;
        }
    }
    qsort(tests, (size_t)n, sizeof *tests, by_peak);
    moth_sb text = MOTH_SB_INIT;
    moth_sb_puts(&text, "      peak     leaked  test\n");
    for (Py_ssize_t i = 0; i < n && (limit <= 0 || i < limit); i++) {
        const char *id = PyUnicode_AsUTF8(PyTuple_GET_ITEM(PyList_GET_ITEM(results, tests[i].index), 0));
        if (!id) {
            PyMem_Free(tests);
            moth_sb_free(&text);
            return NULL;
        }
        char a[32], b[32];
        moth_format_bytes(a, sizeof a, (double)tests[i].peak);
        moth_format_bytes(b, sizeof b, (double)tests[i].leaked);
        moth_sb_printf(&text, "%10s %10s  %s\n", a, b, id);
    }
    PyMem_Free(tests);
    PyObject *r = text.failed ? PyErr_NoMemory()
                              : PyUnicode_DecodeUTF8(text.data, (Py_ssize_t)text.len, "replace");
    moth_sb_free(&text);
    return r;
}
