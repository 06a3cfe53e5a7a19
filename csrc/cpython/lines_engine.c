/*
 * lines_engine.c: the line profiler's engine. It traces only the code objects selected for
 * line profiling; everything else runs as it would under the function profiler alone.
 *
 * Selection happens once per code object, when the frame hook first records a call to it
 * (moth_lines_table_for, from moth_label_node): the program's own code by default (not the
 * standard library, not installed packages), fnmatch patterns on qualified names, and code
 * marked from Python with moth.profile_lines. A selected code object gets a table of hits and
 * ticks per line, and its tree nodes carry the table's number (node.aux), so the frame hook
 * pays one test of a field it already has in hand.
 *
 * A line's time runs from its line event to the next line event of the same activation (or
 * the activation's end), so calls count in the line that makes them. The frame hook keeps a
 * stack of the running line-profiled activations per thread (moth_lines_enter / _leave), which
 * stays exact through exceptions, generators and threads, since the hook sees every start and
 * end. Where line events come from differs by version (pyver.h, MOTH_LINES_BY_TRACE):
 *  - 3.12+: sys.monitoring LINE events, enabled only on the selected code objects;
 *  - 3.11: probes in a twin of each selected code object (lines_rewrite.c), which functions
 *    run instead of their code while the session lasts: a function's code is swapped for its
 *    twin at its first call, and code objects made inside twins (closures, comprehensions)
 *    are twins already. What runs the original code (that first call, code run by exec)
 *    gets a C trace function instead, installed on the thread while that frame is innermost
 *    and removed around the calls it makes to other code, which then run untraced.
 */
#include "bytecode.h"
#include "lines_rewrite.h"
#include "profiler.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#define MOTH_LINES_TOOL 4 /* sys.monitoring tool id: not the debugger's, coverage's or cProfile's */
#define MOTH_EVENT_LINE 5 /* sys.monitoring.events.LINE is 1 << 5 */

/* ---- selection ---- */

static int under(const char *file, PyObject *dir)
{
    const char *d = dir && PyUnicode_Check(dir) ? PyUnicode_AsUTF8(dir) : NULL;
    if (!d || !*d)
        return 0;
    size_t n = strlen(d);
    return strncmp(file, d, n) == 0 && (file[n] == '/' || file[n] == '\0');
}

/* Whether a file is the program's own: not Python's library, not an installed package, not
 * moth, not frozen or generated code (except `-c` code, "<string>"). */
static int is_user_file(const char *file)
{
    if (file[0] == '<')
        return strcmp(file, "<string>") == 0 || strncmp(file, "<ipython-input", 14) == 0;
    int user = 1;
    PyObject *sysconfig = PyImport_ImportModule("sysconfig");
    PyObject *paths = sysconfig ? PyObject_CallMethod(sysconfig, "get_paths", NULL) : NULL;
    const char *keys[] = {"stdlib", "platstdlib", "purelib", "platlib"};
    for (size_t i = 0; paths && PyDict_Check(paths) && i < 4; i++)
        if (under(file, PyDict_GetItemString(paths, keys[i])))
            user = 0;
    Py_XDECREF(paths);
    Py_XDECREF(sysconfig);
    PyObject *site = user ? PyImport_ImportModule("site") : NULL;
    PyObject *dirs = site ? PyObject_CallMethod(site, "getsitepackages", NULL) : NULL;
    for (Py_ssize_t i = 0; dirs && PyList_Check(dirs) && i < PyList_GET_SIZE(dirs); i++)
        if (under(file, PyList_GET_ITEM(dirs, i)))
            user = 0;
    PyObject *usersite = site ? PyObject_CallMethod(site, "getusersitepackages", NULL) : NULL;
    if (usersite && under(file, usersite))
        user = 0;
    Py_XDECREF(usersite);
    Py_XDECREF(dirs);
    Py_XDECREF(site);
    if (strstr(file, "site-packages/") || strstr(file, "dist-packages/"))
        user = 0;
    PyErr_Clear();
    return user;
}

static const char *module_of(const char *file, char *buf, size_t size)
{
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    snprintf(buf, size, "%s", base);
    char *dot = strrchr(buf, '.');
    if (dot && strcmp(dot, ".py") == 0)
        *dot = '\0';
    return buf;
}

static int matches_patterns(moth_profiler *p, PyCodeObject *code)
{
    if (!p->line_patterns || PyList_GET_SIZE(p->line_patterns) == 0)
        return 0;
    const char *qual = PyUnicode_AsUTF8(code->co_qualname);
    const char *file = PyUnicode_AsUTF8(code->co_filename);
    if (!qual || !file) {
        PyErr_Clear();
        return 0;
    }
    char mod[256], full[1024];
    snprintf(full, sizeof full, "%s.%s", module_of(file, mod, sizeof mod), qual);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(p->line_patterns); i++) {
        const char *pat = PyUnicode_AsUTF8(PyList_GET_ITEM(p->line_patterns, i));
        if (pat && (fnmatch(pat, qual, 0) == 0 || fnmatch(pat, full, 0) == 0))
            return 1;
    }
    PyErr_Clear();
    return 0;
}

int moth_lineprof_mark(PyObject *code)
{
    if (!moth_the_interp.marked_code && !(moth_the_interp.marked_code = PySet_New(NULL)))
        return -1;
    return PySet_Add(moth_the_interp.marked_code, code);
}

static int selected(moth_profiler *p, PyCodeObject *code)
{
    if (moth_the_interp.marked_code &&
        PySet_Contains(moth_the_interp.marked_code, (PyObject *)code) == 1)
        return 1;
    if (p->line_codes && PySet_Contains(p->line_codes, (PyObject *)code) == 1)
        return 1;
    if (matches_patterns(p, code))
        return 1;
    if (p->lines != MOTH_LINES_USER)
        return 0;
    const char *file = PyUnicode_AsUTF8(code->co_filename);
    if (!file) {
        PyErr_Clear();
        return 0;
    }
    /* A module's body holds every call the program makes, so it would always come first and
     * say little: it is line-profiled only when asked for by pattern or decorator. */
    if (PyUnicode_CompareWithASCIIString(code->co_name, "<module>") == 0)
        return 0;
    return is_user_file(file);
}

#if !MOTH_LINES_BY_TRACE
static int set_local_events(PyObject *code, int events)
{
    PyObject *monitoring = PySys_GetObject("monitoring"); /* borrowed */
    PyObject *r = monitoring ? PyObject_CallMethod(monitoring, "set_local_events", "iOi",
                                                   MOTH_LINES_TOOL, code, events) : NULL;
    Py_XDECREF(r);
    return r ? 0 : -1;
}
#endif

#if MOTH_LINES_BY_TRACE
/* ---- 3.11 twins (lines_rewrite.c) ---- */

static PyObject *twin_of(moth_profiler *p, PyCodeObject *code);

/* What a selected code object's constants that are code become in its twin: their twins. */
static PyObject *nested_twin(void *arg, PyCodeObject *inner)
{
    moth_profiler *p = arg;
    PyObject *twin = selected(p, inner) ? twin_of(p, inner) : NULL;
    PyErr_Clear();
    return Py_NewRef(twin ? twin : (PyObject *)inner);
}

/* The twin of a selected code object (borrowed), made on first need; NULL when it cannot be
 * made: that code is traced. */
static PyObject *twin_of(moth_profiler *p, PyCodeObject *code)
{
    uint32_t i = moth_map_get(&p->twin_of, (uint64_t)(uintptr_t)code, 0);
    if (i == MOTH_MAP_ABSENT) {
        if (!p->twins && !(p->twins = PyList_New(0)))
            return NULL;
        PyObject *twin = moth_lines_twin(code, nested_twin, p, moth_lineprof_probe);
        PyErr_Clear();
        /* the code itself stands in for a twin that could not be made */
        if (PyList_Append(p->twins, twin ? twin : (PyObject *)code) < 0 ||
            moth_map_put(&p->twin_of, (uint64_t)(uintptr_t)code, 0,
                         (uint32_t)PyList_GET_SIZE(p->twins), NULL) < 0) {
            Py_XDECREF(twin);
            PyErr_Clear();
            return NULL;
        }
        Py_XDECREF(twin);
        i = (uint32_t)PyList_GET_SIZE(p->twins);
    }
    PyObject *twin = PyList_GET_ITEM(p->twins, i - 1);
    return twin != (PyObject *)code ? twin : NULL;
}

/* The function running the original of a selected code object runs its twin from its next
 * call on (put back when the session ends). */
static void swap_in_twin(moth_tstate *st, moth_iframe *frame, moth_code_lines *t)
{
    PyObject *func = moth_iframe_function(frame);
    if (!func || !PyFunction_Check(func) || PyFunction_GET_CODE(func) != t->code)
        return;
    moth_profiler *p = st->prof;
    moth_saved_exc exc;
    moth_exc_save(&exc);
    st->busy++;
    PyObject *twin = twin_of(p, (PyCodeObject *)t->code);
    PyObject *ref = twin ? PyWeakref_NewRef(func, NULL) : NULL;
    PyObject *entry = ref ? PyTuple_Pack(3, ref, t->code, twin) : NULL;
    if (entry && (p->swapped || (p->swapped = PyList_New(0))) &&
        PyList_Append(p->swapped, entry) == 0 &&
        PyObject_SetAttrString(func, "__code__", twin) < 0)
        PyList_SetSlice(p->swapped, PyList_GET_SIZE(p->swapped) - 1,
                        PyList_GET_SIZE(p->swapped), NULL);
    Py_XDECREF(entry);
    Py_XDECREF(ref);
    PyErr_Clear();
    st->busy--;
    moth_exc_restore(&exc);
}

/* Functions get their own code back. */
static void swap_out_twins(moth_profiler *p)
{
    for (Py_ssize_t i = 0; p->swapped && i < PyList_GET_SIZE(p->swapped); i++) {
        PyObject *entry = PyList_GET_ITEM(p->swapped, i);
        PyObject *func = PyWeakref_GetObject(PyTuple_GET_ITEM(entry, 0)); /* borrowed */
        if (func && PyFunction_Check(func) &&
            PyFunction_GET_CODE(func) == PyTuple_GET_ITEM(entry, 2) &&
            PyObject_SetAttrString(func, "__code__", PyTuple_GET_ITEM(entry, 1)) < 0)
            PyErr_Clear();
    }
    Py_CLEAR(p->swapped);
}

/* A twin counts into its original's table. */
static uint32_t twin_table(moth_profiler *p, moth_probe_ctx *ctx, uint32_t func)
{
    uint32_t table = moth_lineprof_table_for(p, (PyCodeObject *)ctx->origin, func);
    if (!table)
        return 0;
    ctx->table = table;
    return table | MOTH_LINES_PROBED;
}
#endif

#if MOTH_LINES_SILENT_FIRST_LINE
/* Whether the line of code's opening RESUME is also the line of the instruction after it (see
 * py313.h). Only the prologue (MAKE_CELL, COPY_FREE_VARS, RETURN_GENERATOR, POP_TOP: no inline
 * caches) comes before RESUME. */
static void find_silent_first_line(PyCodeObject *code, moth_code_lines *t)
{
    PyObject *bytes = PyObject_GetAttrString((PyObject *)code, "co_code");
    if (!bytes || !PyBytes_Check(bytes)) {
        Py_XDECREF(bytes);
        PyErr_Clear();
        return;
    }
    const uint8_t *units = (const uint8_t *)PyBytes_AS_STRING(bytes);
    Py_ssize_t n = PyBytes_GET_SIZE(bytes) / 2, i = 0;
    while (i < n && i < 8 && units[2 * i] != RESUME)
        i++;
    if (i + 1 < n && units[2 * i] == RESUME) {
        int at_resume = PyCode_Addr2Line(code, (int)(2 * i));
        if (at_resume >= 0 && PyCode_Addr2Line(code, (int)(2 * (i + 1))) == at_resume) {
            t->silent_first = at_resume;
            t->resume_unit = (int32_t)i;
        }
    }
    Py_DECREF(bytes);
}
#endif

uint32_t moth_lineprof_table_for(moth_profiler *p, PyCodeObject *code, uint32_t func)
{
    if (p->lines == MOTH_LINES_OFF || p->mode != MOTH_MODE_FRAMES)
        return 0;
    uint32_t known = moth_map_get(&p->lines_of_code, (uint64_t)(uintptr_t)code, 0);
    if (known != MOTH_MAP_ABSENT)
        return known;
    uint32_t result = 0;
#if MOTH_LINES_BY_TRACE
    moth_probe_ctx *ctx = moth_twin_ctx(code);
    if (ctx && ctx->fire == moth_lineprof_probe) { /* (a breakpoint's twin is code as any) */
        result = twin_table(p, ctx, func);
        moth_map_put(&p->lines_of_code, (uint64_t)(uintptr_t)code, 0, result, NULL);
        return result;
    }
#endif
    uint32_t first, last;
    if (selected(p, code) && moth_code_line_span(code, &first, &last) == 0 &&
        moth_grow((void **)&p->code_lines, sizeof *p->code_lines, &p->code_lines_cap,
                  p->ncode_lines + 1, NULL) == 0) {
        moth_code_lines *t = &p->code_lines[p->ncode_lines];
        t->count = last - first + 1;
        t->first = first;
        t->func = func;
        t->silent_first = -1;
#if MOTH_LINES_SILENT_FIRST_LINE
        find_silent_first_line(code, t);
#endif
        t->hits = calloc(t->count, sizeof *t->hits);
        t->ticks = calloc(t->count, sizeof *t->ticks);
        if (t->hits && t->ticks) {
            t->code = Py_NewRef((PyObject *)code);
            result = (uint32_t)++p->ncode_lines;
#if !MOTH_LINES_BY_TRACE
            if (set_local_events(t->code, 1 << MOTH_EVENT_LINE) < 0)
                PyErr_Clear();
#endif
        } else {
            free(t->hits);
            free(t->ticks);
        }
    }
    PyErr_Clear();
    moth_map_put(&p->lines_of_code, (uint64_t)(uintptr_t)code, 0, result, NULL);
    return result;
}

/* ---- line events ---- */

/* A line event of lf, the innermost line-profiled activation of st's thread. */
static void count_line(moth_tstate *st, moth_line_frame *lf, int line)
{
    moth_code_lines *t = &st->prof->code_lines[lf->table];
    uint64_t now = moth_clock_read(st);
    if (lf->line >= 0)
        t->ticks[lf->line - (int32_t)t->first] += now - lf->since;
    if (line >= (int)t->first && (uint32_t)line < t->first + t->count) {
        t->hits[line - (int)t->first]++;
        lf->line = line;
    } else {
        lf->line = -1;
    }
    lf->since = now; /* one clock read per line: the counter costs more than the bookkeeping */
}

static void line_event(moth_tstate *st, PyObject *code, int line)
{
    if (st->nlframes == 0)
        return;
    moth_line_frame *lf = &st->lframes[st->nlframes - 1];
    if (st->prof->code_lines[lf->table].code != code) /* an activation not seen starting */
        return;
    count_line(st, lf, line);
}

#if MOTH_LINES_BY_TRACE
void moth_lineprof_probe(moth_probe_ctx *ctx, int32_t line, int forced)
{
    moth_tstate *st = ctx->table ? moth_current_tstate() : NULL;
    if (!st || st->busy || st->nlframes == 0)
        return;
    moth_line_frame *lf = &st->lframes[st->nlframes - 1];
    if (!lf->probed || lf->table != ctx->table - 1 || (line == lf->cur && !forced))
        return;
    lf->cur = line;
    if (line >= 0)
        count_line(st, lf, line);
}

/* The line a twin's frame starts from: the line of the instruction it stopped at when it is
 * resumed (a generator), none when it is fresh (it reports its first line whatever it is). */
static int32_t resumed_line(moth_iframe *frame)
{
    moth_probe_ctx *ctx = moth_twin_ctx(moth_iframe_code(frame));
    int lasti = moth_iframe_lasti(frame);
    if (!ctx || lasti < (int)ctx->body_start || (uint32_t)lasti >= ctx->nunits)
        return INT32_MIN;
    return ctx->unit_lines[lasti];
}
#endif

#if MOTH_LINES_BY_TRACE
static int trace_lines(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj;
    (void)arg;
    if (what != PyTrace_LINE)
        return 0;
    moth_tstate *st = moth_current_tstate();
    if (!st || st->busy)
        return 0;
    PyCodeObject *code = PyFrame_GetCode(frame);
    line_event(st, (PyObject *)code, PyFrame_GetLineNumber(frame));
    Py_DECREF(code);
    return 0;
}
#else
/* sys.monitoring's LINE callback: (code, line_number). */
static PyObject *monitor_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    moth_tstate *st = nargs == 2 ? moth_current_tstate() : NULL;
    if (st && !st->busy)
        line_event(st, args[0], (int)PyLong_AsLong(args[1]));
    PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef monitor_line_def = {"_moth_line_event",
                                       (PyCFunction)(void (*)(void))monitor_line, METH_FASTCALL,
                                       NULL};
#endif

/* Tokens for moth_lines_leave: bit 0, an activation was pushed; bit 1, the tracer was
 * switched (3.11) and must be switched back. */
#define PUSHED 1
#define SWITCHED 2

int moth_lineprof_enter(moth_tstate *st, uint32_t aux, moth_iframe *frame)
{
    int token = 0;
    uint32_t table = aux & ~MOTH_LINES_PROBED;
    int probed = (aux & MOTH_LINES_PROBED) != 0;
    (void)frame;
    if (table) {
        if (moth_grow((void **)&st->lframes, sizeof *st->lframes, &st->lframes_cap,
                      st->nlframes + 1, NULL) == 0) {
            moth_line_frame *lf = &st->lframes[st->nlframes++];
            lf->table = table - 1;
            lf->line = -1;
            lf->probed = probed;
#if MOTH_LINES_BY_TRACE
            lf->cur = probed ? resumed_line(frame) : INT32_MIN;
            if (!probed)
                swap_in_twin(st, frame, &st->prof->code_lines[table - 1]);
#endif
            lf->since = moth_clock_read(st);
            token |= PUSHED;
#if MOTH_LINES_SILENT_FIRST_LINE
            moth_code_lines *t = &st->prof->code_lines[table - 1];
            if (t->silent_first >= 0 && moth_iframe_next_unit(frame) <= t->resume_unit)
                count_line(st, lf, t->silent_first); /* a fresh frame of a one-line function */
#endif
        }
    }
#if MOTH_LINES_BY_TRACE
    /* Trace while line-profiled code that has no probes is innermost, and only then. */
    int want = (token & PUSHED) != 0 && !probed;
    if (want != st->line_tracing) {
        PyEval_SetTrace(want ? trace_lines : NULL, NULL);
        st->line_tracing = want;
        token |= SWITCHED;
    }
#endif
    return token;
}

void moth_lineprof_leave(moth_tstate *st, int token)
{
    if (token & PUSHED) {
        moth_line_frame *lf = &st->lframes[--st->nlframes];
        moth_code_lines *t = &st->prof->code_lines[lf->table];
        if (lf->line >= 0)
            t->ticks[lf->line - (int32_t)t->first] += moth_clock_read(st) - lf->since;
    }
#if MOTH_LINES_BY_TRACE
    if (token & SWITCHED) {
        int want = !st->line_tracing;
        PyEval_SetTrace(want ? trace_lines : NULL, NULL);
        st->line_tracing = want;
    }
#endif
    /* the calling activation's current line resumes now: its call is in its line's time */
}

/* ---- sessions ---- */

int moth_lineprof_start(moth_profiler *p)
{
    if (p->lines == MOTH_LINES_OFF)
        return 0;
    if (p->mode != MOTH_MODE_FRAMES) {
        PyErr_SetString(PyExc_ValueError, "line profiling needs the frames mode (builtins=False)");
        return -1;
    }
#if !MOTH_LINES_BY_TRACE
    PyObject *monitoring = PySys_GetObject("monitoring");
    PyObject *cb = PyCFunction_New(&monitor_line_def, NULL);
    PyObject *r = monitoring && cb ? PyObject_CallMethod(monitoring, "use_tool_id", "is",
                                                         MOTH_LINES_TOOL, "moth lines") : NULL;
    if (!r) {
        Py_XDECREF(cb);
        PyErr_Format(PyExc_ValueError, "sys.monitoring tool %d is taken: cannot profile lines",
                     MOTH_LINES_TOOL);
        return -1;
    }
    Py_DECREF(r);
    r = PyObject_CallMethod(monitoring, "register_callback", "iiO", MOTH_LINES_TOOL, 1 << MOTH_EVENT_LINE, cb);
    Py_XDECREF(r);
    Py_DECREF(cb);
    if (!r)
        return -1;
    p->monitoring = 1;
    /* code selected in an earlier session is instrumented again */
    for (size_t i = 0; i < p->ncode_lines; i++)
        if (set_local_events(p->code_lines[i].code, 1 << MOTH_EVENT_LINE) < 0)
            PyErr_Clear();
#endif
    return 0;
}

void moth_lineprof_stop(moth_profiler *p)
{
    moth_saved_exc exc;
    moth_exc_save(&exc);
#if MOTH_LINES_BY_TRACE
    for (size_t i = 0; i < p->nthreads; i++)
        p->threads[i]->line_tracing = 0;
    if (p->lines != MOTH_LINES_OFF)
        moth_set_trace_all(NULL, NULL);
    swap_out_twins(p);
#else
    if (p->monitoring) {
        PyObject *monitoring = PySys_GetObject("monitoring");
        for (size_t i = 0; monitoring && i < p->ncode_lines; i++)
            set_local_events(p->code_lines[i].code, 0);
        PyObject *r = monitoring ? PyObject_CallMethod(monitoring, "register_callback", "iiO",
                                                       MOTH_LINES_TOOL, 1 << MOTH_EVENT_LINE, Py_None) : NULL;
        Py_XDECREF(r);
        r = monitoring ? PyObject_CallMethod(monitoring, "free_tool_id", "i", MOTH_LINES_TOOL)
                       : NULL;
        Py_XDECREF(r);
        PyErr_Clear();
        p->monitoring = 0;
    }
#endif
    for (size_t i = 0; i < p->nthreads; i++)
        p->threads[i]->nlframes = 0;
    moth_exc_restore(&exc);
}

void moth_lineprof_free(moth_profiler *p)
{
    for (size_t i = 0; i < p->ncode_lines; i++) {
        Py_CLEAR(p->code_lines[i].code);
        free(p->code_lines[i].hits);
        free(p->code_lines[i].ticks);
    }
    free(p->code_lines);
    p->code_lines = NULL;
    p->ncode_lines = p->code_lines_cap = 0;
    moth_map_free(&p->lines_of_code);
#if MOTH_LINES_BY_TRACE
    /* twins that outlive the profiler (in functions made inside them) count nowhere */
    for (Py_ssize_t i = 0; p->twins && i < PyList_GET_SIZE(p->twins); i++) {
        moth_probe_ctx *ctx = moth_twin_ctx((PyCodeObject *)PyList_GET_ITEM(p->twins, i));
        if (ctx)
            ctx->table = 0;
    }
    swap_out_twins(p); /* cleared while enabled: no stop comes to put them back */
    Py_CLEAR(p->twins);
    moth_map_free(&p->twin_of);
#endif
    for (size_t i = 0; i < p->nthreads; i++) {
        free(p->threads[i]->lframes);
        p->threads[i]->lframes = NULL;
        p->threads[i]->nlframes = p->threads[i]->lframes_cap = 0;
    }
}

int moth_lineprof_snapshot(moth_profiler *p, moth_profile *out, moth_error *err)
{
    for (size_t i = 0; i < p->ncode_lines; i++) {
        const moth_code_lines *t = &p->code_lines[i];
        const moth_func *f = &p->funcs.items[t->func];
        uint32_t func = moth_funcs_find(&out->funcs, f->file, f->line, f->name);
        if (func == MOTH_MAP_ABSENT)
            continue;
        if (moth_lines_set_last(&out->lines, func, t->first + t->count - 1, err) < 0)
            return -1;
        for (uint32_t k = 0; k < t->count; k++)
            if (t->hits[k] && moth_lines_add(&out->lines, func, t->first + k, t->hits[k],
                                             t->ticks[k], err) < 0)
                return -1;
    }
    moth_lines_finish(&out->lines);
    return 0;
}
