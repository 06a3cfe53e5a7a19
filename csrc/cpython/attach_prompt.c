/* attach_prompt.c: the attached debugger's prompt at moth's terminal; see attach_prompt.h. */
#include "pyver.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach_prompt.h"
#include "cli.h"

/* What the completer asks through, while a line is read. */
static moth_prompt_ask asking;
static void *asking_ctx;

/* The matches of the word being completed (readline calls with state 0, 1, ... until None). */
static struct {
    char *data;
    size_t len;
    size_t next; /* offset of the next match to give */
} matches;

/* readline.<name>() as a C long, -1 on failure. */
static long readline_long(PyObject *rl, const char *name)
{
    PyObject *r = PyObject_CallMethod(rl, name, NULL);
    long v = r ? PyLong_AsLong(r) : -1;
    Py_XDECREF(r);
    PyErr_Clear();
    return v;
}

/* complete(text, state): readline's completer. */
static PyObject *complete(PyObject *self, PyObject *args)
{
    (void)self;
    const char *text;
    int state;
    if (!PyArg_ParseTuple(args, "si", &text, &state))
        return NULL;
    if (state == 0) {
        free(matches.data);
        matches.data = NULL;
        matches.len = matches.next = 0;
        PyObject *rl = PyImport_ImportModule("readline");
        PyObject *line = rl ? PyObject_CallMethod(rl, "get_line_buffer", NULL) : NULL;
        const char *buffer = line ? PyUnicode_AsUTF8(line) : NULL;
        if (buffer && asking) {
            size_t size = strlen(buffer) + 48;
            char *request = malloc(size);
            if (request) {
                snprintf(request, size, "%ld %ld %s", readline_long(rl, "get_begidx"),
                         readline_long(rl, "get_endidx"), buffer);
                if (asking(asking_ctx, request, &matches.data, &matches.len) < 0)
                    matches.data = NULL, matches.len = 0;
                free(request);
            }
        }
        Py_XDECREF(line);
        Py_XDECREF(rl);
        PyErr_Clear();
    }
    if (matches.next >= matches.len)
        Py_RETURN_NONE;
    const char *match = matches.data + matches.next;
    matches.next += strlen(match) + 1;
    return PyUnicode_FromString(match);
}

static PyMethodDef complete_def = {"complete", complete, METH_VARARGS, NULL};

/* readline with moth debug's history and pdb's word delimiters, and the completer. */
static void set_up_readline(void)
{
    PyObject *rl = PyImport_ImportModule("readline");
    PyObject *debugger = rl ? PyImport_ImportModule("moth.debugger") : NULL;
    PyObject *pdb = debugger ? PyObject_GetAttrString(debugger, "Pdb") : NULL;
    PyObject *r = pdb ? PyObject_CallMethod(pdb, "_moth_keep_history", NULL) : NULL;
    Py_XDECREF(r);
    PyObject *fn = rl ? PyCFunction_New(&complete_def, NULL) : NULL;
    r = fn ? PyObject_CallMethod(rl, "set_completer", "O", fn) : NULL;
    Py_XDECREF(r);
    r = rl ? PyObject_CallMethod(rl, "set_completer_delims", "s",
                                 " \t\n`@#%^&*()=+[{]}\\|;:'\",<>?") : NULL;
    Py_XDECREF(r);
    r = rl ? PyObject_CallMethod(rl, "parse_and_bind", "s", "tab: complete") : NULL;
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(pdb);
    Py_XDECREF(debugger);
    Py_XDECREF(rl);
    PyErr_Clear();
}

char *moth_prompt_read(const char *prompt, moth_prompt_ask ask, void *ctx,
                       const struct sigaction *python_sigint)
{
    static int readline_loaded;
    if (!readline_loaded) {
        readline_loaded = 1;
        if (isatty(0))
            set_up_readline();
    }
    asking = ask;
    asking_ctx = ctx;
    struct sigaction ours;
    sigaction(SIGINT, python_sigint, &ours); /* KeyboardInterrupt while input() reads */
    char *line = NULL;
    for (;;) {
        PyObject *builtins = PyEval_GetBuiltins(); /* borrowed */
        PyObject *input = builtins ? PyDict_GetItemString(builtins, "input") : NULL;
        PyObject *r = input ? PyObject_CallFunction(input, "s", prompt) : NULL;
        if (r) {
            const char *text = PyUnicode_AsUTF8(r);
            line = strdup(text ? text : "");
            Py_DECREF(r);
            break;
        }
        if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
            PyErr_Clear();
            moth_cli_out("\n", 1);
            continue;
        }
        PyErr_Clear(); /* EOFError: the end of moth's input */
        moth_cli_out("\n", 1);
        break;
    }
    sigaction(SIGINT, &ours, NULL);
    asking = NULL;
    free(matches.data);
    matches.data = NULL;
    matches.len = matches.next = 0;
    return line;
}
