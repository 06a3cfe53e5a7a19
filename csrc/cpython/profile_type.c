/*
 * profile_type.c: moth.Profile, a drop-in for cProfile.Profile.
 *
 * Same constructor (timer, timeunit, subcalls, builtins), methods and attributes, so code
 * written for cProfile.Profile, and pstats.Stats(profile), work unchanged. builtins=True (the
 * default, as in cProfile) lists C functions as rows of their own at cProfile's cost (classic
 * mode); builtins=False counts their time in the caller and runs far faster (frames mode).
 * Unlike cProfile, every thread is profiled. Keyword `clock="wall"|"cpu"` picks the clock when
 * no timer is given.
 */
#include "profile_type.h"

#include <string.h>

#include "calibrate.h"
#include "lines_report.h"
#include "memreport.h"
#include "pstats_py.h"

static moth_mode mode_for(int builtins)
{
    return builtins ? MOTH_MODE_CLASSIC : MOTH_MODE_FRAMES;
}

static int Profile_init(MothProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"timer", "timeunit", "subcalls", "builtins", "clock", "compensate",
                             "lines", "memory", "memory_sample", NULL};
    PyObject *timer = NULL, *lines = NULL, *memory_sample = NULL;
    double timeunit = 0.0;
    int subcalls = 1, builtins = 1, compensate = 0, memory = 0;
    const char *clock = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|Odpp$zpOpO:Profile", kwlist, &timer, &timeunit,
                                     &subcalls, &builtins, &clock, &compensate, &lines, &memory,
                                     &memory_sample))
        return -1;
    /* memory_sample: bytes (int) or a size ("512 KiB"); implies memory */
    uint64_t sample_bytes = 0;
    if (memory_sample && memory_sample != Py_None) {
        moth_error err;
        if (PyLong_Check(memory_sample)) {
            long long v = PyLong_AsLongLong(memory_sample);
            if (v <= 0) {
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_ValueError, "memory_sample must be above 0 bytes");
                return -1;
            }
            sample_bytes = (uint64_t)v;
        } else if (!PyUnicode_Check(memory_sample) ||
                   moth_parse_bytes(PyUnicode_AsUTF8(memory_sample), &sample_bytes, &err) < 0 ||
                   sample_bytes == 0) {
            PyErr_SetString(PyExc_ValueError,
                            "memory_sample takes bytes above 0: an int or a size like '512 KiB'");
            return -1;
        }
        memory = 1;
    }
    if (memory && builtins) {
        if (kw && PyDict_GetItemString(kw, "builtins")) {
            PyErr_SetString(PyExc_ValueError, "memory profiling needs builtins=False");
            return -1;
        }
        builtins = 0; /* memory implies the frames mode */
    }
    /* lines: False (off), True (the program's own code), or "selected" (only the functions
     * given to add_function or marked with moth.profile_lines) */
    moth_lines_mode lines_mode = MOTH_LINES_OFF;
    if (lines && PyUnicode_Check(lines) && PyUnicode_CompareWithASCIIString(lines, "selected") == 0)
        lines_mode = MOTH_LINES_SELECTED;
    else if (lines && PyUnicode_Check(lines)) {
        PyErr_SetString(PyExc_ValueError, "lines must be True, False or 'selected'");
        return -1;
    } else if (lines && PyObject_IsTrue(lines))
        lines_mode = MOTH_LINES_USER;
    if (lines_mode != MOTH_LINES_OFF && builtins) {
        if (kw && PyDict_GetItemString(kw, "builtins")) {
            PyErr_SetString(PyExc_ValueError, "line profiling needs builtins=False");
            return -1;
        }
        builtins = 0; /* lines imply the frames mode */
    }
    moth_clock_kind kind;
    if (timer && timer != Py_None)
        kind = MOTH_CLOCK_CUSTOM;
    else if (!clock && memory)
        kind = MOTH_CLOCK_NONE; /* memory profiling times nothing unless a clock is asked for */
    else if (!clock || strcmp(clock, "wall") == 0)
        kind = MOTH_CLOCK_CYCLES;
    else if (strcmp(clock, "cpu") == 0)
        kind = MOTH_CLOCK_CPU;
    else {
        PyErr_Format(PyExc_ValueError, "clock must be 'wall' or 'cpu', not '%s'", clock);
        return -1;
    }
    if (self->initialised) {
        if (moth_profiler_is_enabled(&self->prof)) {
            PyErr_SetString(PyExc_RuntimeError, "cannot re-initialise an enabled profiler");
            return -1;
        }
        moth_profiler_free(&self->prof);
        self->initialised = 0;
    }
    if (moth_profiler_init(&self->prof, mode_for(builtins), kind,
                           kind == MOTH_CLOCK_CUSTOM ? timer : NULL, timeunit, builtins,
                           subcalls) < 0)
        return -1;
    self->prof.owner = (PyObject *)self;
    self->prof.lines = lines_mode;
    self->prof.memory = memory;
    self->prof.memory_sample = sample_bytes;
    self->prof.compensate = compensate && kind != MOTH_CLOCK_CUSTOM && kind != MOTH_CLOCK_NONE;
    self->calibrated = 0;
    self->initialised = 1;
    return 0;
}

static int ensure_init(MothProfileObject *self)
{
    if (self->initialised)
        return 0;
    PyObject *args = PyTuple_New(0);
    int rc = args ? Profile_init(self, args, NULL) : -1;
    Py_XDECREF(args);
    return rc;
}

/* enable() with cProfile's defaults; 0, or -1 with an exception. */
static int enable_now(MothProfileObject *self)
{
    if (ensure_init(self) < 0)
        return -1;
    if (self->prof.compensate && !self->calibrated) {
        moth_calibrate(&self->prof);
        self->calibrated = 1;
    }
    return moth_profiler_enable(&self->prof);
}

static int disable_now(MothProfileObject *self)
{
    return self->initialised ? moth_profiler_disable(&self->prof) : 0;
}

/* Ends a session that runcall, runctx or `with` began. cProfile's are Python and call
 * self.disable(), which its profile then lists (and pstats' column widths follow): record that
 * call the same way. */
static int disable_as_cprofile(MothProfileObject *self)
{
    if (self->initialised && moth_profiler_is_enabled(&self->prof) && self->prof.builtins) {
        PyObject *method = PyObject_GetAttrString((PyObject *)self, "disable");
        if (method)
            moth_classic_enter_cfunction(method);
        else
            PyErr_Clear();
        Py_XDECREF(method);
    }
    return disable_now(self);
}

static PyObject *Profile_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    MothProfileObject *self = (MothProfileObject *)type->tp_alloc(type, 0);
    return (PyObject *)self;
}

static int Profile_traverse(MothProfileObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->dict);
    Py_VISIT(self->prof.timer);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int Profile_clear_refs(MothProfileObject *self)
{
    Py_CLEAR(self->dict);
    return 0;
}

static void Profile_dealloc(MothProfileObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->initialised)
        moth_profiler_free(&self->prof);
    Py_CLEAR(self->dict);
    PyTypeObject *tp = Py_TYPE(self);
    tp->tp_free((PyObject *)self);
}

static PyObject *Profile_enable(MothProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"subcalls", "builtins", NULL};
    int subcalls = -1, builtins = -1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|pp:enable", kwlist, &subcalls, &builtins))
        return NULL;
    if (ensure_init(self) < 0)
        return NULL;
    if (!moth_profiler_is_enabled(&self->prof)) {
        if (subcalls >= 0)
            self->prof.subcalls = subcalls;
        if (builtins >= 0) {
            self->prof.builtins = builtins;
            self->prof.mode = mode_for(builtins);
        }
    }
    if (enable_now(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Profile_disable(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    if (self->initialised && moth_profiler_disable(&self->prof) < 0)
        return NULL;
    Py_RETURN_NONE;
}


static PyObject *Profile_clear(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    if (self->initialised)
        moth_profiler_clear(&self->prof);
    Py_RETURN_NONE;
}

int moth_profile_object_fold(MothProfileObject *self, moth_pstats *view)
{
    if (ensure_init(self) < 0)
        return -1;
    moth_profile profile;
    if (moth_profiler_snapshot(&self->prof, &profile) < 0)
        return -1;
    int rc = moth_pstats_fold(&profile, view);
    moth_profile_free(&profile);
    return rc;
}

static PyObject *Profile_snapshot_stats(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    moth_pstats view;
    if (moth_profile_object_fold(self, &view) < 0)
        return NULL;
    PyObject *stats = moth_pstats_to_dict(&view, self->prof.subcalls);
    moth_pstats_free(&view);
    if (!stats)
        return NULL;
    int rc = PyObject_SetAttrString((PyObject *)self, "stats", stats);
    Py_DECREF(stats);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Profile_create_stats(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    if (disable_now(self) < 0)
        return NULL;
    /* Through the attribute, so that subclasses overriding snapshot_stats are honoured. */
    return PyObject_CallMethod((PyObject *)self, "snapshot_stats", NULL);
}

/* pstats' sort argument: a key string, a legacy int, a SortKey enum, or a tuple of them. */
static int sort_spec_from(PyObject *sort, moth_sort_spec *spec)
{
    PyObject *items = PyTuple_Check(sort) ? Py_NewRef(sort) : PyTuple_Pack(1, sort);
    if (!items)
        return -1;
    const char *keys[MOTH_SORT_MAX_KEYS];
    PyObject *texts[MOTH_SORT_MAX_KEYS];
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    if (n > MOTH_SORT_MAX_KEYS) {
        Py_DECREF(items);
        PyErr_SetString(PyExc_ValueError, "too many sort keys");
        return -1;
    }
    int rc = 0;
    Py_ssize_t got = 0;
    for (; got < n; got++) {
        PyObject *item = PyTuple_GET_ITEM(items, got);
        /* SortKey members are str subclasses whose value is the key; ints are legacy keys. */
        texts[got] = PyLong_Check(item) ? PyObject_Str(item)
                     : PyUnicode_Check(item) ? PyObject_GetAttrString(item, "value")
                                             : NULL;
        if (texts[got] == NULL && PyUnicode_Check(item)) {
            PyErr_Clear();
            texts[got] = Py_NewRef(item);
        }
        if (!texts[got] || !PyUnicode_Check(texts[got]) ||
            !(keys[got] = PyUnicode_AsUTF8(texts[got]))) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "sort keys must be strings or ints, not %.100s",
                             Py_TYPE(item)->tp_name);
            if (texts[got])
                got++;
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        moth_error err = {{0}};
        if (moth_sort_spec_parse(spec, keys, (size_t)n, &err) < 0) {
            PyErr_SetString(PyExc_KeyError, err.msg);
            rc = -1;
        }
    }
    for (Py_ssize_t i = 0; i < got; i++)
        Py_DECREF(texts[i]);
    Py_DECREF(items);
    return rc;
}

static PyObject *Profile_print_stats(MothProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sort", NULL};
    PyObject *sort = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:print_stats", kwlist, &sort))
        return NULL;
    PyObject *minus_one = NULL;
    if (!sort)
        sort = minus_one = PyLong_FromLong(-1);
    moth_report_opts opts;
    memset(&opts, 0, sizeof opts);
    int ok = sort && sort_spec_from(sort, &opts.sort) == 0;
    Py_XDECREF(minus_one);
    if (!ok)
        return NULL;
    opts.sorted = 1;
    if (disable_now(self) < 0)
        return NULL;
    moth_pstats view;
    if (moth_profile_object_fold(self, &view) < 0)
        return NULL;
    moth_error err = {{0}};
    moth_sb text = MOTH_SB_INIT;
    int rc = moth_pstats_strip_dirs(&view, &err);
    if (rc == 0)
        rc = moth_report_stats(&view, &opts, &text, &err);
    moth_pstats_free(&view);
    if (rc < 0) {
        moth_sb_free(&text);
        PyErr_SetString(PyExc_RuntimeError, err.msg);
        return NULL;
    }
    rc = moth_write_text(NULL, text.data ? text.data : "", text.len);
    moth_sb_free(&text);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *Profile_dump_stats(MothProfileObject *self, PyObject *file)
{
    PyObject *path = PyOS_FSPath(file);
    if (!path)
        return NULL;
    PyObject *bytes = NULL;
    if (!PyUnicode_FSConverter(path, &bytes)) {
        Py_DECREF(path);
        return NULL;
    }
    Py_DECREF(path);
    if (disable_now(self) < 0) {
        Py_DECREF(bytes);
        return NULL;
    }
    moth_pstats view;
    if (moth_profile_object_fold(self, &view) < 0) {
        Py_DECREF(bytes);
        return NULL;
    }
    if (!self->prof.subcalls)
        for (size_t i = 0; i < view.nrows; i++)
            view.rows[i].ncallers = 0;
    moth_error err = {{0}};
    int rc = moth_pstats_write_file(&view, PyBytes_AS_STRING(bytes), &err);
    moth_pstats_free(&view);
    Py_DECREF(bytes);
    if (rc < 0) {
        PyErr_SetString(PyExc_OSError, err.msg);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *Profile_runctx(MothProfileObject *self, PyObject *args)
{
    PyObject *cmd, *globals, *locals;
    if (!PyArg_ParseTuple(args, "OOO:runctx", &cmd, &globals, &locals))
        return NULL;
    PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
    PyObject *exec = PyDict_GetItemString(builtins, "exec");
    if (!exec)
        return NULL;
    if (enable_now(self) < 0)
        return NULL;
    PyObject *r = PyObject_CallFunctionObjArgs(exec, cmd, globals, locals, NULL);
    PyObject *exc = r ? NULL : moth_take_exception();
    disable_as_cprofile(self);
    if (!r) {
        moth_give_exception(exc);
        return NULL;
    }
    Py_DECREF(r);
    return Py_NewRef(self);
}

static PyObject *Profile_run(MothProfileObject *self, PyObject *cmd)
{
    PyObject *main = PyImport_AddModule("__main__"); /* borrowed */
    if (!main)
        return NULL;
    PyObject *d = PyModule_GetDict(main);
    PyObject *args = PyTuple_Pack(3, cmd, d, d);
    if (!args)
        return NULL;
    PyObject *r = Profile_runctx(self, args);
    Py_DECREF(args);
    return r;
}

static PyObject *Profile_runcall(MothProfileObject *self, PyObject *args, PyObject *kw)
{
    if (PyTuple_GET_SIZE(args) < 1) {
        PyErr_SetString(PyExc_TypeError, "runcall expected at least 1 argument");
        return NULL;
    }
    PyObject *func = PyTuple_GET_ITEM(args, 0);
    PyObject *rest = PyTuple_GetSlice(args, 1, PyTuple_GET_SIZE(args));
    if (!rest)
        return NULL;
    if (enable_now(self) < 0) {
        Py_DECREF(rest);
        return NULL;
    }
    PyObject *r = PyObject_Call(func, rest, kw);
    PyObject *exc = r ? NULL : moth_take_exception();
    disable_as_cprofile(self);
    moth_give_exception(exc);
    Py_DECREF(rest);
    return r;
}

static PyObject *Profile_enter(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    if (enable_now(self) < 0)
        return NULL;
    return Py_NewRef(self);
}

static PyObject *Profile_exit(MothProfileObject *self, PyObject *args)
{
    (void)args;
    if (disable_as_cprofile(self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The calling-context trees as Python data, for tests and tools:
 * [{"id", "native_id", "name", "nodes": [(parent, file, line, name, calls, total, self)]}],
 * node 0 being each tree's root and times in seconds. */
static PyObject *Profile_tree(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    if (ensure_init(self) < 0)
        return NULL;
    moth_profile profile;
    if (moth_profiler_snapshot(&self->prof, &profile) < 0)
        return NULL;
    PyObject *threads = PyList_New(0);
    for (size_t t = 0; threads && t < profile.nthreads; t++) {
        const moth_thread_profile *th = &profile.threads[t];
        PyObject *nodes = PyList_New((Py_ssize_t)th->tree.count);
        for (size_t i = 0; nodes && i < th->tree.count; i++) {
            const moth_cct_node *n = &th->tree.nodes[i];
            const moth_func *f = i ? &profile.funcs.items[n->func] : NULL;
            PyObject *item = Py_BuildValue(
                "(isIsKdd)", i ? (int)n->parent : -1, f ? f->file : "", f ? f->line : 0u,
                f ? f->name : "", (unsigned long long)n->calls,
                (double)n->total * profile.tick_seconds, (double)n->self * profile.tick_seconds);
            if (!item) {
                Py_CLEAR(nodes);
                break;
            }
            PyList_SET_ITEM(nodes, (Py_ssize_t)i, item);
        }
        PyObject *d = nodes ? Py_BuildValue("{sKsKszsN}", "id", (unsigned long long)th->id,
                                            "native_id", (unsigned long long)th->native_id,
                                            "name", th->name, "nodes", nodes)
                            : NULL;
        if (!d || PyList_Append(threads, d) < 0) {
            Py_XDECREF(d);
            Py_CLEAR(threads);
            break;
        }
        Py_DECREF(d);
    }
    moth_profile_free(&profile);
    return threads;
}

/* add_function(f): line-profile f (a function, method, or anything with __code__ or
 * __wrapped__), as line_profiler's LineProfiler.add_function. */
static PyObject *Profile_add_function(MothProfileObject *self, PyObject *func)
{
    if (ensure_init(self) < 0)
        return NULL;
    PyObject *target = Py_NewRef(func);
    for (int hops = 0; hops < 16 && !PyCode_Check(target); hops++) {
        PyObject *next = NULL;
        const char *attrs[] = {"__code__", "__func__", "__wrapped__", "fget"};
        for (size_t i = 0; i < 4 && !next; i++) {
            next = PyObject_GetAttrString(target, attrs[i]);
            if (!next)
                PyErr_Clear();
        }
        Py_DECREF(target);
        if (!next) {
            PyErr_Format(PyExc_TypeError, "cannot line-profile %R: not a Python function", func);
            return NULL;
        }
        target = next;
    }
    if (!PyCode_Check(target)) {
        Py_DECREF(target);
        PyErr_Format(PyExc_TypeError, "cannot line-profile %R: not a Python function", func);
        return NULL;
    }
    if (!self->prof.line_codes && !(self->prof.line_codes = PySet_New(NULL))) {
        Py_DECREF(target);
        return NULL;
    }
    int rc = PySet_Add(self->prof.line_codes, target);
    Py_DECREF(target);
    if (rc < 0)
        return NULL;
    if (self->prof.lines == MOTH_LINES_OFF) {
        if (self->prof.mode != MOTH_MODE_FRAMES && moth_profiler_is_enabled(&self->prof)) {
            PyErr_SetString(PyExc_ValueError, "line profiling needs builtins=False");
            return NULL;
        }
        self->prof.lines = MOTH_LINES_SELECTED;
        self->prof.mode = MOTH_MODE_FRAMES;
        self->prof.builtins = 0;
    }
    Py_RETURN_NONE;
}

/* The source of a file as linecache knows it (files, and code typed into IPython). */
char *moth_source_from_linecache(const char *path, void *ctx)
{
    (void)ctx;
    PyObject *linecache = PyImport_ImportModule("linecache");
    PyObject *lines = linecache ? PyObject_CallMethod(linecache, "getlines", "s", path) : NULL;
    PyObject *empty = lines ? PyUnicode_FromString("") : NULL;
    PyObject *text = empty ? PyUnicode_Join(empty, lines) : NULL;
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    char *copy = utf8 && *utf8 ? strdup(utf8) : NULL;
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(linecache);
    PyErr_Clear();
    return copy;
}

/* print_lines(stream=None): the line_profiler-style report of what was line-profiled. */
static PyObject *Profile_print_lines(MothProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"stream", NULL};
    PyObject *stream = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O:print_lines", kwlist, &stream))
        return NULL;
    if (ensure_init(self) < 0 || disable_now(self) < 0)
        return NULL;
    moth_profile profile;
    if (moth_profiler_snapshot(&self->prof, &profile) < 0)
        return NULL;
    moth_sb text = MOTH_SB_INIT;
    moth_error err;
    int rc = moth_lines_report_with(&profile, 0, moth_source_from_linecache, NULL, 0,
                                    &text, &err);
    moth_profile_free(&profile);
    if (rc < 0) {
        moth_sb_free(&text);
        PyErr_SetString(PyExc_RuntimeError, err.msg);
        return NULL;
    }
    if (text.len == 0)
        moth_sb_puts(&text, "Timer unit: 1e-06 s\n\n");
    rc = moth_write_text(stream == Py_None ? NULL : stream, text.data, text.len);
    moth_sb_free(&text);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* print_memory(sort="peak", limit=30, stream=None): the memory report (memory=True). */
static PyObject *Profile_print_memory(MothProfileObject *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"sort", "limit", "stream", NULL};
    const char *sort = "peak";
    Py_ssize_t limit = 30;
    PyObject *stream = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|snO:print_memory", kwlist, &sort, &limit,
                                     &stream))
        return NULL;
    moth_memreport_opts mo = {MOTH_MEM_PEAK, limit > 0 ? (size_t)limit : 0, 1};
    moth_error err;
    if (moth_mem_measure_parse(sort, &mo.order, &err) < 0) {
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    if (ensure_init(self) < 0 || disable_now(self) < 0)
        return NULL;
    moth_profile profile;
    if (moth_profiler_snapshot(&self->prof, &profile) < 0)
        return NULL;
    moth_sb text = MOTH_SB_INIT;
    int rc = moth_memory_report(&profile, &mo, &text, &err);
    moth_profile_free(&profile);
    if (rc < 0) {
        moth_sb_free(&text);
        PyErr_SetString(PyExc_ValueError, err.msg);
        return NULL;
    }
    rc = moth_write_text(stream == Py_None ? NULL : stream, text.data, text.len);
    moth_sb_free(&text);
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* The memory profile as Python data, for tests and tools: {"peak", "peak_time", "rows":
 * [(thread name, (function names from the outermost), file, line, peak bytes, peak blocks,
 * leaked bytes, leaked blocks, allocated bytes, allocated blocks)], "timeline": [(time, bytes,
 * high)], "sample_bytes", "untracked": (bytes, count), "own_bytes"}. */
static PyObject *Profile_memory(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    if (ensure_init(self) < 0)
        return NULL;
    moth_profile profile;
    if (moth_profiler_snapshot(&self->prof, &profile) < 0)
        return NULL;
    const moth_memory *m = &profile.memory;
    PyObject *rows = PyList_New(0), *timeline = PyList_New(0), *result = NULL;
    for (size_t i = 0; rows && i < m->nrows; i++) {
        const moth_mem_row *r = &m->rows[i];
        const moth_thread_profile *th = &profile.threads[r->thread];
        PyObject *path = PyList_New(0);
        const char *file = "";
        for (uint32_t n = r->node; path && n != MOTH_CCT_ROOT; n = th->tree.nodes[n].parent) {
            const moth_func *f = &profile.funcs.items[th->tree.nodes[n].func];
            if (n == r->node)
                file = f->file;
            PyObject *name = PyUnicode_FromString(f->name);
            if (!name || PyList_Insert(path, 0, name) < 0)
                Py_CLEAR(path);
            Py_XDECREF(name);
        }
        PyObject *tpath = path ? PyList_AsTuple(path) : NULL;
        Py_XDECREF(path);
        PyObject *item = tpath ? Py_BuildValue("(zOsIKdKdKd)", th->name, tpath, file, r->line,
                                               (unsigned long long)r->peak_bytes, r->peak_count,
                                               (unsigned long long)r->leaked_bytes,
                                               r->leaked_count,
                                               (unsigned long long)r->alloc_bytes, r->alloc_count)
                               : NULL;
        Py_XDECREF(tpath);
        if (!item || PyList_Append(rows, item) < 0)
            Py_CLEAR(rows);
        Py_XDECREF(item);
    }
    for (size_t i = 0; timeline && i < m->npoints; i++) {
        PyObject *item = Py_BuildValue("(dKK)", m->points[i].time,
                                       (unsigned long long)m->points[i].bytes,
                                       (unsigned long long)m->points[i].high);
        if (!item || PyList_Append(timeline, item) < 0)
            Py_CLEAR(timeline);
        Py_XDECREF(item);
    }
    if (rows && timeline)
        result = Py_BuildValue("{sKsdsOsOsKs(KK)sK}", "peak", (unsigned long long)m->peak_bytes,
                               "peak_time", m->peak_time, "rows", rows, "timeline", timeline,
                               "sample_bytes", (unsigned long long)m->sample_bytes, "untracked",
                               (unsigned long long)m->untracked_bytes,
                               (unsigned long long)m->untracked_count, "own_bytes",
                               (unsigned long long)m->own_bytes);
    Py_XDECREF(rows);
    Py_XDECREF(timeline);
    moth_profile_free(&profile);
    return result;
}

/* What calibration measured (seconds per call), for tests and the curious. */
static PyObject *Profile_calibration(MothProfileObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *drift = PyList_New(0);
    for (size_t i = 0; drift && i < self->prof.nthreads; i++) {
        PyObject *f = PyFloat_FromDouble(moth_drift_factor(&self->prof.threads[i]->drift));
        if (!f || PyList_Append(drift, f) < 0)
            Py_CLEAR(drift);
        Py_XDECREF(f);
    }
    if (!drift)
        return NULL;
    return Py_BuildValue("{sdsdsdsdsnsKsN}", "spread", self->prof.overhead_spread, "inner", self->prof.overhead_inner, "inline",
                         self->prof.overhead_inline, "other", self->prof.overhead_other,
                         "inline_delta", (Py_ssize_t)self->prof.inline_delta, "probe",
                         (unsigned long long)self->prof.calibrated_probe, "drift", drift);
}

static PyMethodDef Profile_methods[] = {
    {"enable", (PyCFunction)(void (*)(void))Profile_enable, METH_VARARGS | METH_KEYWORDS,
     "enable(subcalls=True, builtins=True)\n\nStart collecting profiling information (all threads)."},
    {"disable", (PyCFunction)Profile_disable, METH_NOARGS,
     "disable()\n\nStop collecting profiling information."},
    {"clear", (PyCFunction)Profile_clear, METH_NOARGS,
     "clear()\n\nClear all profiling information collected so far."},
    {"create_stats", (PyCFunction)Profile_create_stats, METH_NOARGS,
     "create_stats()\n\nDisable and set self.stats as pstats.Stats expects it."},
    {"snapshot_stats", (PyCFunction)Profile_snapshot_stats, METH_NOARGS,
     "snapshot_stats()\n\nSet self.stats from what was collected."},
    {"print_stats", (PyCFunction)(void (*)(void))Profile_print_stats, METH_VARARGS | METH_KEYWORDS,
     "print_stats(sort=-1)\n\nPrint the table cProfile prints, directories stripped."},
    {"dump_stats", (PyCFunction)Profile_dump_stats, METH_O,
     "dump_stats(file)\n\nWrite the statistics as a pstats file."},
    {"run", (PyCFunction)Profile_run, METH_O, "run(cmd)\n\nProfile exec(cmd) in __main__."},
    {"runctx", (PyCFunction)Profile_runctx, METH_VARARGS,
     "runctx(cmd, globals, locals)\n\nProfile exec(cmd, globals, locals)."},
    {"runcall", (PyCFunction)(void (*)(void))Profile_runcall, METH_VARARGS | METH_KEYWORDS,
     "runcall(func, /, *args, **kw)\n\nProfile func(*args, **kw) and return its result."},
    {"_tree", (PyCFunction)Profile_tree, METH_NOARGS,
     "_tree()\n\nThe calling-context trees per thread (for tests and tools)."},
    {"add_function", (PyCFunction)Profile_add_function, METH_O,
     "add_function(func)\n\nProfile func line by line (this turns the fast mode on)."},
    {"print_lines", (PyCFunction)(void (*)(void))Profile_print_lines, METH_VARARGS | METH_KEYWORDS,
     "print_lines(stream=None)\n\nPrint the line-by-line report, as line_profiler does."},
    {"print_memory", (PyCFunction)(void (*)(void))Profile_print_memory,
     METH_VARARGS | METH_KEYWORDS,
     "print_memory(sort='peak', limit=30, stream=None)\n\nPrint the memory report (memory=True):\n"
     "sort by 'peak', 'leaks' or 'allocated'."},
    {"_memory", (PyCFunction)Profile_memory, METH_NOARGS,
     "_memory()\n\nThe memory profile as Python data (for tests and tools)."},
    {"_calibration", (PyCFunction)Profile_calibration, METH_NOARGS,
     "_calibration()\n\nThe measured cost of recording a call (compensate=True), and each thread's\n"
     "drift factor: how much more of its time recording took as it ran (core/drift.h)."},
    {"__enter__", (PyCFunction)Profile_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Profile_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject MothProfile_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "moth.Profile",
    .tp_basicsize = sizeof(MothProfileObject),
    .tp_dealloc = (destructor)Profile_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Profile(timer=None, timeunit=0.0, subcalls=True, builtins=True, *, clock='wall',\n"
              "        compensate=False, lines=False, memory=False, memory_sample=None)\n\n"
              "A drop-in for cProfile.Profile that profiles every thread. builtins=False is\n"
              "the fast mode: time in C functions counts as their caller's own time.\n"
              "compensate=True subtracts what recording each call costs (measured once).\n"
              "lines=True also profiles the program's own code line by line ('selected': only\n"
              "what add_function or moth.profile_lines chose); print_lines() shows it.\n"
              "memory=True profiles memory too (every allocation, by call path and line;\n"
              "memory_sample=BYTES samples instead); print_memory() shows it.",
    .tp_traverse = (traverseproc)Profile_traverse,
    .tp_clear = (inquiry)Profile_clear_refs,
    .tp_methods = Profile_methods,
    .tp_dictoffset = offsetof(MothProfileObject, dict),
    .tp_init = (initproc)Profile_init,
    .tp_new = Profile_new,
};
