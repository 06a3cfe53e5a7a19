/*
 * engine_globals.c: watches on module-level names, seen wherever the name is rebound.
 *
 * A watch compares its value after each line of the frame it was set in. For a module-level
 * name set in the module's frame, that frame's lines are the module's: a function the module
 * calls that rebinds the name (`global total; total += 1`) would only be seen at the module
 * line that called it. CPython 3.12 added dictionary watchers: a callback before each change
 * of a watched dict. The engine watches the globals of the modules holding such watches and,
 * when one of the watched names is rebound, tells pdb which frame is rebinding it, so pdb
 * follows that frame and compares the value after the line that did it. Nothing else is
 * slowed: a watched dict costs a test of a bit on each of its changes.
 *
 * 3.11 has no dictionary watchers; there, watch_globals returns False and watches keep the
 * module frame's lines.
 */
#include "engine.h"

#include "common.h"

#if MOTH_HAVE_DICT_WATCHERS

/* Before a change of a watched dict: if it rebinds a watched name, on_change(frame). */
static int globals_changing(PyDict_WatchEvent event, PyObject *dict, PyObject *key,
                            PyObject *new_value)
{
    (void)new_value;
    moth_engine *e = moth_the_interp.globals_engine;
    if (!e || !e->watched_globals || !e->on_global_change || event == PyDict_EVENT_DEALLOCATED)
        return 0;
    if (event != PyDict_EVENT_ADDED && event != PyDict_EVENT_MODIFIED &&
        event != PyDict_EVENT_DELETED)
        key = NULL; /* cleared, or filled from another dict: any name may have changed */
    PyObject *names = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(e->watched_globals); i++) {
        PyObject *pair = PyList_GET_ITEM(e->watched_globals, i);
        if (PyTuple_GET_ITEM(pair, 0) == dict)
            names = PyTuple_GET_ITEM(pair, 1);
    }
    if (!names || (key && PySet_Contains(names, key) != 1)) {
        PyErr_Clear();
        return 0;
    }
    PyFrameObject *frame = PyEval_GetFrame(); /* borrowed: the frame making the change */
    if (!frame)
        return 0;
    /* pdb's Python, not the program's: no trace function may see it */
    PyThreadState *ts = PyThreadState_Get();
    PyObject *pending = moth_take_exception();
    PyThreadState_EnterTracing(ts);
    Py_INCREF(e); /* the callback may end the session */
    PyObject *r = PyObject_CallOneArg(e->on_global_change, (PyObject *)frame);
    if (!r)
        PyErr_WriteUnraisable(e->on_global_change);
    Py_XDECREF(r);
    Py_DECREF(e);
    PyThreadState_LeaveTracing(ts);
    moth_give_exception(pending);
    return 0;
}

void moth_engine_unwatch_globals(moth_engine *e)
{
    for (Py_ssize_t i = 0; e->watched_globals && i < PyList_GET_SIZE(e->watched_globals); i++)
        if (PyDict_Unwatch(moth_the_interp.globals_watcher,
                           PyTuple_GET_ITEM(PyList_GET_ITEM(e->watched_globals, i), 0)) < 0)
            PyErr_Clear();
    Py_CLEAR(e->watched_globals);
    Py_CLEAR(e->on_global_change);
    if (moth_the_interp.globals_engine == e)
        moth_the_interp.globals_engine = NULL;
}

PyObject *moth_engine_watch_globals(moth_engine *e, PyObject *args)
{
    PyObject *pairs, *on_change;
    if (!PyArg_ParseTuple(args, "O!O:watch_globals", &PyTuple_Type, &pairs, &on_change))
        return NULL;
    PyObject *watched = PyList_New(0);
    for (Py_ssize_t i = 0; watched && i < PyTuple_GET_SIZE(pairs); i++) {
        PyObject *dict, *names, *pair = PyTuple_GET_ITEM(pairs, i), *name_set;
        if (!PyArg_ParseTuple(pair, "O!O:watch_globals pair", &PyDict_Type, &dict, &names) ||
            !(name_set = PyFrozenSet_New(names))) {
            Py_CLEAR(watched);
            break;
        }
        PyObject *entry = PyTuple_Pack(2, dict, name_set);
        Py_DECREF(name_set);
        if (!entry || PyList_Append(watched, entry) < 0)
            Py_CLEAR(watched);
        Py_XDECREF(entry);
    }
    if (!watched)
        return NULL;
    if (moth_the_interp.globals_watcher == 0) { /* stored + 1: 0 is "none yet" */
        int id = PyDict_AddWatcher(globals_changing);
        if (id < 0) {
            Py_DECREF(watched);
            return NULL;
        }
        moth_the_interp.globals_watcher = id + 1;
    }
    int id = moth_the_interp.globals_watcher - 1;
    /* Watch the new dicts before unwatching the old, so that a dict in both stays watched. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(watched); i++)
        if (PyDict_Watch(id, PyTuple_GET_ITEM(PyList_GET_ITEM(watched, i), 0)) < 0) {
            Py_DECREF(watched);
            return NULL;
        }
    for (Py_ssize_t i = 0; e->watched_globals && i < PyList_GET_SIZE(e->watched_globals); i++) {
        PyObject *old = PyTuple_GET_ITEM(PyList_GET_ITEM(e->watched_globals, i), 0);
        int kept = 0;
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(watched); k++)
            kept |= PyTuple_GET_ITEM(PyList_GET_ITEM(watched, k), 0) == old;
        if (!kept && PyDict_Unwatch(id, old) < 0)
            PyErr_Clear();
    }
    Py_XSETREF(e->watched_globals, watched);
    Py_XSETREF(e->on_global_change, Py_NewRef(on_change));
    if (PyList_GET_SIZE(watched) == 0)
        moth_engine_unwatch_globals(e);
    else
        moth_the_interp.globals_engine = e;
    Py_RETURN_TRUE;
}

#else

PyObject *moth_engine_watch_globals(moth_engine *e, PyObject *args)
{
    (void)e;
    (void)args;
    Py_RETURN_FALSE; /* no dictionary watchers before 3.12 */
}

void moth_engine_unwatch_globals(moth_engine *e)
{
    (void)e;
}

#endif
