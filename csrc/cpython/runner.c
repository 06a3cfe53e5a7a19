/* runner.c: run the user's program as `python` would; see runner.h. */
#include "runner.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "interp.h"
#include "pycall.h"

/* Replaces sys.argv with [first] + args. */
static int set_argv(PyObject *first, PyObject *args)
{
    PyObject *argv = PyList_New(0);
    if (!argv || PyList_Append(argv, first) < 0 ||
        PyList_SetSlice(argv, 1, 1, args) < 0 || PySys_SetObject("argv", argv) < 0) {
        Py_XDECREF(argv);
        return -1;
    }
    Py_DECREF(argv);
    return 0;
}

static int set_path0(PyObject *entry)
{
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    if (!path || !PyList_Check(path)) {
        PyErr_SetString(PyExc_RuntimeError, "sys.path is not a list");
        return -1;
    }
    if (PyList_GET_SIZE(path) == 0)
        return PyList_Append(path, entry);
    return PyList_SetItem(path, 0, Py_NewRef(entry));
}

/* Installs a fresh module __main__ in sys.modules and returns a new reference to its dict. */
static PyObject *fresh_main(void)
{
    PyObject *main = PyModule_New("__main__");
    if (!main)
        return NULL;
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    PyObject *d = PyModule_GetDict(main);          /* borrowed */
    PyObject *ann = PyDict_New();
    int rc = ann && PyDict_SetItemString(modules, "__main__", main) == 0 &&
                     PyDict_SetItemString(d, "__annotations__", ann) == 0 &&
                     PyDict_SetItemString(d, "__builtins__", PyEval_GetBuiltins()) == 0
                 ? 0 : -1;
    Py_XDECREF(ann);
    Py_XINCREF(d);
    Py_DECREF(main); /* sys.modules holds it */
    if (rc < 0)
        Py_CLEAR(d);
    return d;
}

/* The pending exception's str(), for one-line messages; clears it. */
static void take_error_text(char *out, size_t size, const char *fallback)
{
    PyObject *value = moth_take_exception();
    PyObject *text = value ? PyObject_Str(value) : NULL;
    const char *utf8 = text && PyUnicode_Check(text) ? PyUnicode_AsUTF8(text) : NULL;
    snprintf(out, size, "%s", utf8 ? utf8 : fallback);
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(value);
}

/* The pending OSError as "[Errno N] text" (without the file name), cleared. */
static void take_os_error_text(char *out, size_t size)
{
    PyObject *exc = moth_take_exception();
    PyObject *no = exc ? PyObject_GetAttrString(exc, "errno") : NULL;
    PyObject *text = no ? PyObject_GetAttrString(exc, "strerror") : NULL;
    PyErr_Clear();
    if (no && PyLong_Check(no) && text && PyUnicode_Check(text))
        snprintf(out, size, "[Errno %ld] %s", PyLong_AsLong(no), PyUnicode_AsUTF8(text));
    else
        snprintf(out, size, "cannot read it");
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(no);
    Py_XDECREF(exc);
}

static int prepare_script(moth_target *t, char *message, size_t size, int *status)
{
    PyObject *abspath = moth_call_function("os.path", "abspath", "(O)", t->what);
    if (!abspath)
        return -1;
    PyObject *source = NULL, *file = moth_call_function("io", "open_code", "(O)", abspath);
    if (file) {
        source = PyObject_CallMethod(file, "read", NULL);
        PyObject *closed = PyObject_CallMethod(file, "close", NULL);
        Py_XDECREF(closed);
        Py_DECREF(file);
    }
    if (!source || !PyBytes_Check(source)) {
        /* As python says it: can't open file '/abs/x.py': [Errno 2] No such file or directory */
        char why[300];
        take_os_error_text(why, sizeof why);
        snprintf(message, size, "can't open file '%s': %s", PyUnicode_AsUTF8(abspath), why);
        Py_XDECREF(source);
        Py_DECREF(abspath);
        *status = 2;
        return -1;
    }
    int rc = -1;
    /* sys.path[0]: the script's directory with symbolic links resolved, as python sets it. */
    PyObject *real = moth_call_function("os.path", "realpath", "(O)", t->what);
    PyObject *dir = real ? moth_call_function("os.path", "dirname", "(O)", real) : NULL;
    PyObject *loader = NULL;
    if (!dir || set_path0(dir) < 0 || set_argv(t->what, t->args) < 0 ||
        !(t->globals = fresh_main()))
        goto done;
    loader = moth_call_function("importlib.machinery", "SourceFileLoader", "(sO)", "__main__", abspath);
    if (!loader || PyDict_SetItemString(t->globals, "__loader__", loader) < 0 ||
        PyDict_SetItemString(t->globals, "__file__", abspath) < 0 ||
        PyDict_SetItemString(t->globals, "__cached__", Py_None) < 0)
        goto done;
    t->code = Py_CompileStringObject(PyBytes_AS_STRING(source), abspath, Py_file_input, NULL, -1);
    rc = t->code ? 0 : -2;
done:
    Py_XDECREF(loader);
    Py_XDECREF(dir);
    Py_XDECREF(real);
    Py_DECREF(source);
    Py_DECREF(abspath);
    return rc;
}

static int prepare_code(moth_target *t)
{
    PyObject *dash_c = PyUnicode_FromString("-c"), *empty = PyUnicode_FromString("");
    PyObject *filename = PyUnicode_FromString("<string>");
    PyObject *importer = NULL;
    const char *text = PyUnicode_AsUTF8(t->what);
    int rc = -1;
    if (!dash_c || !empty || !filename || !text || set_argv(dash_c, t->args) < 0 ||
        set_path0(empty) < 0 || !(t->globals = fresh_main()))
        goto done;
    importer = moth_module_attr("importlib.machinery", "BuiltinImporter");
    if (!importer || PyDict_SetItemString(t->globals, "__loader__", importer) < 0)
        goto done;
    t->code = Py_CompileStringObject(text, filename, Py_file_input, NULL, -1);
    rc = t->code ? 0 : -2;
done:
    Py_XDECREF(importer);
    Py_XDECREF(filename);
    Py_XDECREF(empty);
    Py_XDECREF(dash_c);
    return rc;
}

/* `-m name`: found and compiled as runpy finds it (packages run their __main__), then run in a
 * fresh __main__ with runpy's globals, without runpy's own frames in the profile. */
static int prepare_module(moth_target *t, char *message, size_t size, int *status)
{
    PyObject *dash_m = PyUnicode_FromString("-m");
    int rc = dash_m ? set_argv(dash_m, t->args) : -1;
    Py_XDECREF(dash_m);
    PyObject *cwd = rc == 0 ? moth_call_function("os", "getcwd", "()") : NULL;
    rc = cwd ? set_path0(cwd) : -1;
    Py_XDECREF(cwd);
    if (rc < 0)
        return -1;
    PyObject *details = moth_call_function("runpy", "_get_module_details", "(O)", t->what);
    if (!details) {
        if (PyErr_ExceptionMatches(PyExc_ImportError)) {
            take_error_text(message, size, "module not found");
            *status = 1;
            return -1;
        }
        return PyErr_ExceptionMatches(PyExc_SyntaxError) ? -2 : -1;
    }
    PyObject *name, *spec, *code;
    if (!PyArg_ParseTuple(details, "OOO", &name, &spec, &code) || !(t->globals = fresh_main())) {
        Py_DECREF(details);
        return -1;
    }
    Py_SETREF(t->what, Py_NewRef(name)); /* now the resolved module name */
    rc = -1;
    PyObject *origin = PyObject_GetAttrString(spec, "origin");
    PyObject *cached = origin ? PyObject_GetAttrString(spec, "cached") : NULL;
    PyObject *loader = cached ? PyObject_GetAttrString(spec, "loader") : NULL;
    PyObject *parent = loader ? PyObject_GetAttrString(spec, "parent") : NULL;
    if (parent && PyDict_SetItemString(t->globals, "__file__", origin) == 0 &&
        PyDict_SetItemString(t->globals, "__cached__", cached) == 0 &&
        PyDict_SetItemString(t->globals, "__loader__", loader) == 0 &&
        PyDict_SetItemString(t->globals, "__package__", parent) == 0 &&
        PyDict_SetItemString(t->globals, "__spec__", spec) == 0) {
        PyObject *argv = PySys_GetObject("argv");
        if (argv && PyList_Check(argv) && PyList_SetItem(argv, 0, Py_NewRef(origin)) == 0) {
            t->code = Py_NewRef(code);
            rc = 0;
        }
    }
    Py_XDECREF(parent);
    Py_XDECREF(loader);
    Py_XDECREF(cached);
    Py_XDECREF(origin);
    Py_DECREF(details);
    return rc;
}

/* Registered with atexit before the program starts, so that it runs after the program's own
 * exit handlers: CPython too dies of SIGINT only after finalising. */
static PyObject *exit_hook(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (moth_the_interp.die_of_sigint_at_exit) {
        const char *streams[] = {"stdout", "stderr"};
        for (int i = 0; i < 2; i++) {
            PyObject *f = PySys_GetObject(streams[i]);
            PyObject *r = f ? PyObject_CallMethod(f, "flush", NULL) : NULL;
            Py_XDECREF(r);
            PyErr_Clear();
        }
        fflush(NULL);
        MOTH_COVERAGE_FLUSH();
        signal(SIGINT, SIG_DFL);
        kill(getpid(), SIGINT);
    }
    Py_RETURN_NONE;
}

static PyMethodDef exit_hook_def = {"_moth_exit_hook", exit_hook, METH_NOARGS, NULL};

static int register_exit_hook(void)
{
    if (moth_the_interp.exit_hook_registered)
        return 0; /* the first registration runs last, after every handler of the program's */
    PyObject *hook = PyCFunction_New(&exit_hook_def, NULL);
    PyObject *r = hook ? moth_call_function("atexit", "register", "(O)", hook) : NULL;
    Py_XDECREF(hook);
    Py_XDECREF(r);
    moth_the_interp.exit_hook_registered = r != NULL;
    return r ? 0 : -1;
}

int moth_target_prepare(moth_target *t, char *message, size_t size, int *status)
{
    message[0] = '\0';
    *status = 1;
    t->code = t->globals = NULL;
    if (register_exit_hook() < 0)
        return -1;
    switch (t->kind) {
    case MOTH_TARGET_SCRIPT:
        return prepare_script(t, message, size, status);
    case MOTH_TARGET_MODULE:
        return prepare_module(t, message, size, status);
    default:
        return prepare_code(t);
    }
}

PyObject *moth_target_run(moth_target *t)
{
    return PyEval_EvalCode(t->code, t->globals, t->globals);
}

void moth_target_clear(moth_target *t)
{
    Py_CLEAR(t->code);
    Py_CLEAR(t->globals);
    Py_CLEAR(t->what);
    Py_CLEAR(t->args);
}

void moth_wait_for_threads(void)
{
    PyObject *name = PyUnicode_FromString("threading");
    PyObject *threading = name ? PyImport_GetModule(name) : NULL;
    Py_XDECREF(name);
    if (threading) {
        PyObject *r = PyObject_CallMethod(threading, "_shutdown", NULL);
        if (!r)
            PyErr_WriteUnraisable(threading);
        Py_XDECREF(r);
        Py_DECREF(threading);
    }
    PyErr_Clear();
}

/* SystemExit's code as the interpreter turns it into a status (Py_HandleSystemExit). */
static int system_exit_status(void)
{
    PyObject *value = moth_take_exception();
    int status = 0;
    PyObject *code = value ? PyObject_GetAttrString(value, "code") : NULL;
    PyErr_Clear();
    if (code == NULL || code == Py_None) {
        status = 0;
    } else if (PyLong_Check(code)) {
        status = (int)PyLong_AsLong(code);
        PyErr_Clear();
    } else {
        PyObject *err = PySys_GetObject("stderr");
        if (err && err != Py_None) {
            PyFile_WriteObject(code, err, Py_PRINT_RAW);
            PyFile_WriteString("\n", err);
        }
        PyErr_Clear();
        status = 1;
    }
    Py_XDECREF(code);
    Py_XDECREF(value);
    return status;
}

int moth_program_exit_status(PyObject *result)
{
    if (result)
        return 0;
    if (PyErr_ExceptionMatches(PyExc_SystemExit))
        return system_exit_status();
    if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt))
        moth_the_interp.die_of_sigint_at_exit = 1;
    PyErr_Print();
    return 1;
}
