/*
 * classic_hook.c: classic mode, the profiler's way of seeing C function calls too.
 *
 * CPython's profile hook (PyEval_SetProfile) reports calls and returns of Python functions and
 * of C functions, which lets C functions become rows of their own, named as cProfile names them.
 * It costs what cProfile costs (DESIGN.md), so it is the opt-in `--builtins` mode and what
 * moth.Profile(builtins=True) uses, cProfile's default. Unlike cProfile it covers every thread:
 * the running ones directly, new ones through threading.setprofile.
 */
#include "profiler.h"

/* A C function's node key: its PyMethodDef address (as cProfile keys it) tagged with bit 0,
 * which no code object address has. */
static inline uint64_t cfunction_key(PyObject *fn)
{
    return (uint64_t)(uintptr_t)((PyCFunctionObject *)fn)->m_ml | 1u;
}

static int profile_event(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg)
{
    (void)obj;
    moth_tstate *st = moth_current_tstate();
    if (MOTH_UNLIKELY(st == NULL || st->busy))
        return 0;
    uint32_t current = st->current;
    switch (what) {
    case PyTrace_CALL: {
        PyCodeObject *code = PyFrame_GetCode(frame);
        moth_record_enter(st, (uint64_t)(uintptr_t)code, (PyObject *)code);
        Py_DECREF(code);
        break;
    }
    case PyTrace_RETURN:
        /* Returns of frames entered before the session began match nothing: skip them. */
        if (current != MOTH_CCT_ROOT) {
            PyCodeObject *code = PyFrame_GetCode(frame);
            if (st->tree.nodes[current].key == (uint64_t)(uintptr_t)code)
                moth_record_leave(st, current, 0);
            Py_DECREF(code);
        }
        break;
    case PyTrace_C_CALL:
        if (st->prof->builtins && PyCFunction_Check(arg))
            moth_record_enter(st, cfunction_key(arg), arg);
        break;
    case PyTrace_C_RETURN:
    case PyTrace_C_EXCEPTION:
        if (st->prof->builtins && current != MOTH_CCT_ROOT && PyCFunction_Check(arg) &&
            st->tree.nodes[current].key == cfunction_key(arg))
            moth_record_leave(st, current, 0);
        break;
    default:
        break;
    }
    return 0;
}

void moth_classic_enter_cfunction(PyObject *fn)
{
    moth_tstate *st = moth_current_tstate();
    if (st && !st->busy && st->prof->builtins && PyCFunction_Check(fn))
        moth_record_enter(st, cfunction_key(fn), fn);
}

/* The object sys.getprofile() shows while the hook is installed: the moth.Profile, where
 * cProfile shows itself (3.11), else none. */
static PyObject *visible_profile_object(void)
{
    moth_profiler *p = moth_the_interp.profiler;
    return MOTH_PROFILER_IS_PROFILE_OBJECT && p ? p->owner : NULL;
}

/* threading.setprofile target: the first event of each new thread installs the C hook in that
 * thread, then is handled like any other. */
static PyObject *thread_bootstrap(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyFrame_Check(args[0]) || !PyUnicode_Check(args[1]))
        Py_RETURN_NONE;
    PyEval_SetProfile(profile_event, visible_profile_object());
    static const struct {
        const char *name;
        int what;
    } events[] = {{"call", PyTrace_CALL}, {"return", PyTrace_RETURN},
                  {"c_call", PyTrace_C_CALL}, {"c_return", PyTrace_C_RETURN},
                  {"c_exception", PyTrace_C_EXCEPTION}};
    for (size_t i = 0; i < sizeof events / sizeof events[0]; i++)
        if (PyUnicode_CompareWithASCIIString(args[1], events[i].name) == 0)
            profile_event(NULL, (PyFrameObject *)args[0], events[i].what, args[2]);
    Py_RETURN_NONE;
}

static PyMethodDef bootstrap_def = {"_moth_thread_profile", (PyCFunction)(void (*)(void))thread_bootstrap,
                                    METH_FASTCALL, NULL};

static int set_thread_hook(PyObject *hook, PyObject **previous)
{
    PyObject *threading = PyImport_ImportModule("threading");
    if (!threading)
        return -1;
    if (previous) {
        *previous = PyObject_CallMethod(threading, "getprofile", NULL);
        if (!*previous) {
            Py_DECREF(threading);
            return -1;
        }
    }
    PyObject *r = PyObject_CallMethod(threading, "setprofile", "O", hook);
    Py_DECREF(threading);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

int moth_classic_install(moth_profiler *p)
{
    (void)p;
    PyObject *bootstrap = PyCFunction_New(&bootstrap_def, NULL);
    if (!bootstrap)
        return -1;
    int rc = set_thread_hook(bootstrap, &moth_the_interp.previous_thread_profile);
    Py_DECREF(bootstrap);
    if (rc < 0)
        return -1;
    moth_set_profile_all(profile_event, MOTH_PROFILER_IS_PROFILE_OBJECT ? p->owner : NULL);
    return 0;
}

void moth_classic_uninstall(moth_profiler *p)
{
    (void)p;
    moth_set_profile_all(NULL, NULL);
    moth_saved_exc exc;
    moth_exc_save(&exc);
    if (set_thread_hook(moth_the_interp.previous_thread_profile ? moth_the_interp.previous_thread_profile : Py_None, NULL) < 0)
        PyErr_Clear();
    moth_exc_restore(&exc);
    Py_CLEAR(moth_the_interp.previous_thread_profile);
}
