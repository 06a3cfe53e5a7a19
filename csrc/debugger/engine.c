/*
 * engine.c: the debugger engine's decisions and its Python type, moth._moth.Engine.
 *
 * moth.Pdb owns one Engine. Each time pdb's stop information changes (a step, next, continue,
 * a new breakpoint, a watch) it calls engine.configure(breaks, targets, stepping); the engine
 * bumps its generation, so every code object's cached decision is made again when next seen,
 * and re-arms the mechanism (engine_monitor.c or engine_trace.c) for the new wants.
 */
#include "engine.h"

#include "bytecode.h"
#include "interp.h"
#include "lines_rewrite.h"

#include <stdlib.h>

/* ---- per code object decisions, cached on the code object (co_extra) ---- */

static int by_value(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

PyObject *moth_engine_file_breaks(moth_engine *e, PyCodeObject *code)
{
    if (PyDict_GET_SIZE(e->breaks) == 0)
        return NULL;
    PyObject *lines = PyDict_GetItemWithError(e->breaks, code->co_filename);
    if (!lines && !PyErr_Occurred()) {
        PyObject *canonic = PyObject_CallOneArg(e->canonic, code->co_filename);
        lines = canonic ? PyDict_GetItemWithError(e->breaks, canonic) : NULL;
        Py_XDECREF(canonic); /* the dict holds the list */
    }
    return lines && PyList_Check(lines) ? lines : NULL;
}

/* Fills e->lines with the breakpoint lines among code's own lines; returns what the
 * breakpoints want of code, and in *in_file whether its file holds any. (canonic may run
 * Python, and so this again for other code: the cache is written only after it.) */
static moth_want break_lines(moth_engine *e, PyCodeObject *code, int *in_file)
{
    /* The Python this runs is moth's, not the program's: no trace function may see it (a
     * debugger pdb's `debug` command starts, stepping). */
    PyThreadState *ts = PyThreadState_Get();
    PyThreadState_EnterTracing(ts);
    PyObject *lines = moth_engine_file_breaks(e, code);
    uint32_t first, last;
    moth_want want = MOTH_WANT_NONE;
    e->nlines = 0;
    int spanned = lines && moth_code_line_span(code, &first, &last) == 0;
    PyThreadState_LeaveTracing(ts);
    *in_file = lines != NULL;
    if (spanned) {
        Py_ssize_t n = PyList_GET_SIZE(lines);
        uint32_t *room = realloc(e->lines, sizeof *room * (size_t)(n ? n : 1));
        if (room) {
            e->lines = room;
            for (Py_ssize_t i = 0; i < n; i++) {
                long line = PyLong_AsLong(PyList_GET_ITEM(lines, i));
                /* bdb matches any line of a function whose first line holds a breakpoint */
                if (line == code->co_firstlineno)
                    want = MOTH_WANT_ALL_LINES;
                if (line >= (long)first && line <= (long)last)
                    e->lines[e->nlines++] = (uint32_t)line;
            }
            qsort(e->lines, e->nlines, sizeof *e->lines, by_value);
        }
    }
    Py_XSETREF(e->lines_code, Py_NewRef((PyObject *)code));
    e->lines_generation = e->generation;
    return want == MOTH_WANT_NONE && e->nlines ? MOTH_WANT_BREAK_LINES : want;
}

moth_code_info moth_engine_decide(moth_engine *e, PyCodeObject *code)
{
    moth_code_info ci = {MOTH_WANT_NONE, 0, 0};
    /* Deciding runs Python (bdb's canonic): meanwhile this code counts as decided, unwanted. */
    if (_PyCode_SetExtra((PyObject *)code, moth_the_interp.code_extra_index,
                         moth_code_info_pack(e->generation, ci)) < 0) {
        PyErr_Clear();
        return ci;
    }
    PyObject *pending = moth_take_exception(); /* a generator may be resumed by a throw */
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(e->targets); i++) {
        PyCodeObject *c = PyFrame_GetCode((PyFrameObject *)PyTuple_GET_ITEM(e->targets, i));
        ci.target_code |= c == code;
        Py_DECREF(c);
    }
    ci.want = break_lines(e, code, &ci.break_file);
    PyErr_Clear();
    if (_PyCode_SetExtra((PyObject *)code, moth_the_interp.code_extra_index,
                         moth_code_info_pack(e->generation, ci)) < 0)
        PyErr_Clear();
    moth_give_exception(pending);
    return ci;
}

int moth_engine_is_target(moth_engine *e, PyObject *frame)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(e->targets); i++)
        if (PyTuple_GET_ITEM(e->targets, i) == frame)
            return 1;
    return 0;
}

int moth_engine_wants_line(moth_engine *e, PyObject *frame, PyCodeObject *code, int line)
{
    if (moth_engine_is_target(e, frame))
        return 1;
    moth_code_info ci = moth_engine_code_info(e, code);
    if (ci.want != MOTH_WANT_BREAK_LINES)
        return ci.want == MOTH_WANT_ALL_LINES;
    if (e->lines_code != (PyObject *)code || e->lines_generation != e->generation) {
        PyObject *pending = moth_take_exception();
        int in_file;
        break_lines(e, code, &in_file);
        PyErr_Clear();
        moth_give_exception(pending);
    }
    uint32_t key = (uint32_t)line;
    return line > 0 && bsearch(&key, e->lines, e->nlines, sizeof key, by_value) != NULL;
}

int moth_engine_wants_code(moth_engine *e, PyCodeObject *code)
{
    moth_code_info ci = moth_engine_code_info(e, code);
    return ci.want != MOTH_WANT_NONE || ci.target_code || (e->generator_exits && ci.break_file);
}

int moth_engine_wants_exception(moth_engine *e, PyObject *frame, PyCodeObject *code,
                                PyObject *type)
{
    if (moth_engine_is_target(e, frame))
        return 1;
    /* bdb's dispatch_exception, while it waits in a generator: the exact types, in a frame
     * it traces (its trace function set, or its file holding a breakpoint) */
    if (!e->generator_exits || (type != PyExc_StopIteration && type != PyExc_GeneratorExit))
        return 0;
    return ((PyFrameObject *)frame)->f_trace != NULL || moth_engine_code_info(e, code).break_file;
}

void moth_engine_activate(moth_engine *e)
{
    if (!e->installed)
        Py_INCREF(e);
    e->installed = 1;
    moth_the_interp.debugger = e;
}

void moth_engine_deactivate(moth_engine *e)
{
    if (moth_the_interp.debugger == e)
        moth_the_interp.debugger = NULL;
    if (e->installed) {
        e->installed = 0;
        Py_DECREF(e);
    }
}

int moth_engine_each_frame(moth_engine *e, PyFrameObject *f,
                           int (*visit)(moth_engine *e, PyCodeObject *code))
{
    int result = 0;
    Py_XINCREF(f);
    while (f && result == 0) {
        PyCodeObject *code = PyFrame_GetCode(f);
        result = visit(e, code);
        Py_DECREF(code);
        PyFrameObject *back = PyFrame_GetBack(f);
        Py_DECREF(f);
        f = back;
    }
    Py_XDECREF(f);
    return result;
}

int moth_engine_deliver(moth_engine *e, PyObject *frame, const char *event, PyObject *arg)
{
    Py_INCREF(e); /* the callback may end the session */
    /* As CPython does around a Python trace function (3.11, 3.12): frame.f_locals up to date
     * for pdb, and what pdb's commands assigned there (`!a = 99`) written back to the frame. */
    if (moth_frame_locals_fresh((PyFrameObject *)frame) < 0) {
        Py_DECREF(e);
        return -1;
    }
    PyObject *name = PyUnicode_InternFromString(event);
    PyObject *r = name ? PyObject_CallFunctionObjArgs(e->callback, frame, name,
                                                      arg ? arg : Py_None, NULL)
                       : NULL;
    Py_XDECREF(name);
    moth_frame_locals_written((PyFrameObject *)frame); /* (raised or not, as CPython does) */
    Py_XDECREF(r);
    Py_DECREF(e);
    return r ? 0 : -1;
}

PyObject *moth_engine_position(PyObject *frame, long *offset, int *at_probe)
{
    PyCodeObject *code = PyFrame_GetCode((PyFrameObject *)frame);
    *offset = PyFrame_GetLasti((PyFrameObject *)frame);
    *at_probe = 0;
#if MOTH_LINES_BY_TRACE
    int unit = *offset >= 0 ? (int)(*offset / 2) : -1;
    PyCodeObject *original = moth_twin_original(code, &unit, at_probe);
    if (original) {
        Py_SETREF(code, (PyCodeObject *)Py_NewRef((PyObject *)original));
        *offset = 2L * unit;
    }
#endif
    return (PyObject *)code;
}

/* Engine.position(frame) -> (code, f_lasti, at_probe) in the program's own code. */
static PyObject *engine_position(PyObject *unused, PyObject *frame)
{
    (void)unused;
    if (!PyFrame_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "Engine.position: a frame is needed");
        return NULL;
    }
    long offset;
    int at_probe;
    PyObject *code = moth_engine_position(frame, &offset, &at_probe);
    return Py_BuildValue("(NlN)", code, offset, PyBool_FromLong(at_probe));
}

/* ---- the Python type ---- */

static int engine_init(moth_engine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"callback", "canonic", NULL};
    PyObject *callback, *canonic;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO:Engine", kwlist, &callback, &canonic))
        return -1;
    if (!moth_the_interp.code_extra_ready) {
        Py_ssize_t index = _PyEval_RequestCodeExtraIndex(NULL);
        if (index < 0) {
            PyErr_SetString(PyExc_RuntimeError, "no code object extra slot left for moth");
            return -1;
        }
        moth_the_interp.code_extra_index = index;
        moth_the_interp.code_extra_ready = 1;
    }
    Py_XSETREF(self->callback, Py_NewRef(callback));
    Py_XSETREF(self->canonic, Py_NewRef(canonic));
    if (!self->breaks && !(self->breaks = PyDict_New()))
        return -1;
    if (!self->targets && !(self->targets = PyTuple_New(0)))
        return -1;
    return 0;
}

static PyObject *engine_stop(moth_engine *self, PyObject *unused)
{
    (void)unused;
    if (self->installed)
        moth_engine_uninstall(self);
    moth_engine_unwatch_globals(self);
    self->stepping = NULL;
    Py_RETURN_NONE;
}

/* configure(breaks, targets, stepping, frame=None, *, generator_exits=False): breaks is bdb's
 * {canonic file: [lines]}; targets the frames to follow; stepping, whether Python's trace
 * function traces this thread now; frame, where the program stands (it resumes when pdb's
 * command returns); generator_exits, whether pdb waits in a generator (engine.h). Returns
 * whether the engine is armed (it uninstalls itself when there is nothing to wait for). */
static PyObject *engine_configure(moth_engine *self, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"breaks", "targets", "stepping", "frame", "generator_exits", NULL};
    PyObject *breaks, *targets, *frame = Py_None;
    int stepping, generator_exits = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!p|O$p:configure", kwlist, &PyDict_Type,
                                     &breaks, &PyTuple_Type, &targets, &stepping, &frame,
                                     &generator_exits))
        return NULL;
    if (frame != Py_None && !PyFrame_Check(frame)) {
        PyErr_SetString(PyExc_TypeError, "Engine.configure: frame must be a frame or None");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(targets); i++)
        if (!PyFrame_Check(PyTuple_GET_ITEM(targets, i))) {
            PyErr_SetString(PyExc_TypeError, "Engine targets must be frames");
            return NULL;
        }
    PyObject *copy = PyDict_New(); /* lists copied: bdb changes its own in place */
    PyObject *file, *lines;
    Py_ssize_t pos = 0;
    while (copy && PyDict_Next(breaks, &pos, &file, &lines)) {
        PyObject *list = PySequence_List(lines); /* (files left with no lines are dropped) */
        if (!list || (PyList_GET_SIZE(list) && PyDict_SetItem(copy, file, list) < 0))
            Py_CLEAR(copy);
        Py_XDECREF(list);
    }
    if (!copy)
        return NULL;
    Py_SETREF(self->breaks, copy);
    Py_SETREF(self->targets, Py_NewRef(targets));
    self->stepping = stepping ? PyThreadState_Get() : NULL;
    self->generator_exits = generator_exits;
    self->generation++;
    int wanted = PyDict_GET_SIZE(self->breaks) > 0 || PyTuple_GET_SIZE(self->targets) > 0;
    if (!wanted) {
        if (self->installed)
            moth_engine_uninstall(self);
        Py_RETURN_FALSE;
    }
    if (!self->installed) {
        if (moth_the_interp.debugger && moth_the_interp.debugger != self)
            moth_engine_uninstall(moth_the_interp.debugger); /* one debugger at a time */
        if (moth_engine_install(self) < 0)
            return NULL;
    }
    if (moth_engine_rearm(self, frame == Py_None ? NULL : frame) < 0)
        return NULL;
    Py_RETURN_TRUE;
}

static int engine_traverse(moth_engine *self, visitproc visit, void *arg)
{
    Py_VISIT(self->callback);
    Py_VISIT(self->canonic);
    Py_VISIT(self->breaks);
    Py_VISIT(self->targets);
    Py_VISIT(self->instrumented);
    Py_VISIT(self->disable);
    Py_VISIT(self->pin_frame);
    Py_VISIT(self->lines_code);
    Py_VISIT(self->watched_globals);
    Py_VISIT(self->on_global_change);
    Py_VISIT(self->twins);
    Py_VISIT(self->probed_breaks);
    return 0;
}

static int engine_clear(moth_engine *self)
{
    /* (never installed here: the interpreter holds installed engines) */
    moth_engine_unwatch_globals(self);
    Py_CLEAR(self->callback);
    Py_CLEAR(self->canonic);
    Py_CLEAR(self->breaks);
    Py_CLEAR(self->targets);
    Py_CLEAR(self->instrumented);
    Py_CLEAR(self->disable);
    Py_CLEAR(self->pin_frame);
    Py_CLEAR(self->lines_code);
    Py_CLEAR(self->twins);
    Py_CLEAR(self->probed_breaks);
    free(self->lines);
    self->lines = NULL;
    self->nlines = 0;
    return 0;
}

static void engine_dealloc(moth_engine *self)
{
    PyObject_GC_UnTrack(self);
    engine_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *engine_get_armed(moth_engine *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->installed);
}

/* Engine.frame_eval_hooked(): whether a frame-evaluation function (PEP 523) is installed. */
static PyObject *engine_frame_eval_hooked(PyObject *unused, PyObject *unused2)
{
    (void)unused;
    (void)unused2;
    PyInterpreterState *interp = PyInterpreterState_Get();
    return PyBool_FromLong(_PyInterpreterState_GetEvalFrameFunc(interp) !=
                           _PyEval_EvalFrameDefault);
}

static PyObject *engine_get_probing(moth_engine *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->installed && self->probing);
}

static PyMethodDef engine_methods[] = {
    {"position", (PyCFunction)engine_position, METH_O | METH_STATIC,
     "position(frame) -> (code, f_lasti, at_probe): where frame stands in the program's own\n"
     "code (3.11: a breakpoint's twin mapped back to its original; at_probe, at a probe)."},
    {"frame_eval_hooked", (PyCFunction)engine_frame_eval_hooked, METH_NOARGS | METH_STATIC,
     "frame_eval_hooked() -> whether a frame-evaluation function (PEP 523) is installed"},
    {"configure", (PyCFunction)(void (*)(void))engine_configure, METH_VARARGS | METH_KEYWORDS,
     "configure(breaks, targets, stepping, frame=None, *, generator_exits=False) -> armed\n\n"
     "breaks: {canonic filename: [lines]} (bdb.Bdb.breaks); targets: frames whose line,\n"
     "return and exception events are all wanted; stepping: Python's trace function traces\n"
     "the calling thread now, so the engine leaves it alone; frame: where the program\n"
     "stands; generator_exits: pdb waits in a generator, so StopIteration and GeneratorExit\n"
     "in the frames pdb traces are wanted too."},
    {"stop", (PyCFunction)engine_stop, METH_NOARGS, "stop()\n\nRemoves every hook."},
    {"watch_globals", (PyCFunction)moth_engine_watch_globals, METH_VARARGS,
     "watch_globals(pairs, on_change) -> whether it can (3.12+)\n\n"
     "pairs: ((globals dict, names), ...); before one of the names is rebound in its dict,\n"
     "on_change(frame) is called with the frame rebinding it. () stops watching."},
    {NULL, NULL, 0, NULL},
};

static PyObject *engine_get_stepping(moth_engine *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->stepping != NULL && self->stepping == PyThreadState_Get());
}

static PyGetSetDef engine_getset[] = {
    {"stepping", (getter)engine_get_stepping, NULL,
     "whether Python's trace function traces the calling thread (configure's stepping)", NULL},
    {"armed", (getter)engine_get_armed, NULL, "whether the engine's hooks are installed", NULL},
    {"probing", (getter)engine_get_probing, NULL,
     "3.11: whether probes in twins carry the breakpoints, with no frame hook", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject MothEngine_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "moth._moth.Engine",
    .tp_doc = "Engine(callback, canonic): where moth's debugger stops, beneath moth.Pdb.\n\n"
              "callback(frame, event, arg) is called for the 'line', 'return' and 'exception'\n"
              "events pdb may stop at; everything else runs untraced.",
    .tp_basicsize = sizeof(moth_engine),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)engine_init,
    .tp_dealloc = (destructor)engine_dealloc,
    .tp_traverse = (traverseproc)engine_traverse,
    .tp_clear = (inquiry)engine_clear,
    .tp_methods = engine_methods,
    .tp_getset = engine_getset,
};
