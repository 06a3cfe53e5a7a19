/*
 * cli_debug.c: `moth debug`, the program under moth.Pdb as `python -m pdb` runs it.
 *
 * The program is prepared as python would run it (runner.c: sys.argv, sys.path[0], a fresh
 * __main__), pdb stops before its first line, and the session goes on as pdb's does: when the
 * program ends it says so and starts it again; `run`/`restart` restart it (with new
 * arguments if given); an uncaught exception enters post-mortem debugging at the frame that
 * raised it; `quit` (or the end of the commands) ends the session.
 */
#include "cli.h"
#include "pycall.h"

#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: moth debug [--command CMD]... (script.py [args] | -m module [args] | -c code [args])\n"
    "       moth debug -p PID [--thread TID]\n"
    "\n"
    "Debug the program with pdb's commands (and watch, stepi, nexti, disassemble, threads).\n"
    "It stops before the first line; breakpoints cost nothing until they are reached.\n"
    "With -p, debug a running program instead (3.11-3.13): it stops at the line its main\n"
    "thread (or thread TID, with --thread) is on; `detach` leaves it running as before, Ctrl-C\n"
    "stops it again, `kill` ends it.\n"
    "\n"
    "options:\n"
    "  -p, --pid PID   attach to running process PID (same user, or ptrace allowed)\n"
    "  --thread TID    with -p: stop that thread (its native id, as moth dump shows)\n"
    "  --command CMD   a pdb command to run at the first stop (repeatable), as pdb's -c;\n"
    "                  --command continue runs the program until a breakpoint or an error\n";

static PyObject *new_debugger(PyObject *commands)
{
    PyObject *cls = moth_module_attr("moth.debugger", "Pdb");
    PyObject *dbg = cls ? PyObject_CallNoArgs(cls) : NULL;
    PyObject *rc = dbg ? PyObject_GetAttrString(dbg, "rcLines") : NULL;
    PyObject *r = rc ? PyObject_CallMethod(rc, "extend", "O", commands) : NULL;
    Py_XDECREF(r);
    Py_XDECREF(rc);
    Py_XDECREF(cls);
    if (!r)
        Py_CLEAR(dbg);
    return dbg;
}

static int is_instance_of(PyObject *exc, const char *module, const char *name)
{
    PyObject *cls = moth_module_attr(module, name);
    int match = cls && PyErr_GivenExceptionMatches(exc, cls);
    Py_XDECREF(cls);
    PyErr_Clear();
    return match;
}

static void print_exception(PyObject *exc)
{
    PyObject *r = moth_call_function("traceback", "print_exception", "(O)", exc);
    Py_XDECREF(r);
    PyErr_Clear();
}

static void say(const char *text)
{
    moth_cli_out(text, strlen(text));
}

/* The program's arguments after `run ARGS` changed sys.argv. */
static void take_new_arguments(moth_target *target)
{
    PyObject *argv = PySys_GetObject("argv");
    PyObject *rest = argv && PyList_Check(argv) ? PyList_GetSlice(argv, 1, PY_SSIZE_T_MAX) : NULL;
    if (rest)
        Py_SETREF(target->args, rest);
    PyErr_Clear();
}

/* One run of the program under dbg. 1: the session is over; 0: run again; -1: status set. */
static int run_once(PyObject *dbg, moth_target *target, const char *shown, int *status)
{
    if (moth_cli_prepare(target, status) < 0)
        return -1;
    PyObject *filename = PyObject_GetAttrString(target->code, "co_filename");
    PyObject *r = filename ? PyObject_CallMethod(dbg, "_moth_run_program", "OOO", target->code,
                                                 target->globals, filename)
                           : NULL;
    Py_XDECREF(filename);
    Py_CLEAR(target->code);
    Py_CLEAR(target->globals);
    if (r) {
        Py_DECREF(r);
        PyObject *quit = PyObject_GetAttrString(dbg, "_user_requested_quit");
        int over = quit && PyObject_IsTrue(quit) == 1;
        Py_XDECREF(quit);
        PyErr_Clear();
        if (!over)
            say("The program finished and will be restarted\n");
        return over;
    }
    PyObject *exc = moth_take_exception();
    char line[1200];
    if (is_instance_of(exc, "pdb", "Restart")) {
        take_new_arguments(target);
        PyObject *args = PyUnicode_FromString(" ");
        PyObject *joined = args ? PyUnicode_Join(args, target->args) : NULL;
        const char *text = joined ? PyUnicode_AsUTF8(joined) : NULL;
        snprintf(line, sizeof line, "Restarting %s with arguments:\n\t%s\n", shown,
                 text ? text : "");
        say(line);
        Py_XDECREF(joined);
        Py_XDECREF(args);
    } else if (PyErr_GivenExceptionMatches(exc, PyExc_SystemExit)) {
        PyObject *code = PyObject_GetAttrString(exc, "code");
        PyObject *text = code ? PyObject_Str(code) : NULL;
        const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
        snprintf(line, sizeof line, "The program exited via sys.exit(). Exit status: %s\n",
                 utf8 ? utf8 : "");
        say(line);
        Py_XDECREF(text);
        Py_XDECREF(code);
    } else {
        print_exception(exc);
        say("Uncaught exception. Entering post mortem debugging\n"
            "Running 'cont' or 'step' will restart the program\n");
        PyObject *tb = PyException_GetTraceback(exc);
        PyObject *done = PyObject_CallMethod(dbg, "interaction", "OO", Py_None,
                                             tb ? tb : Py_None);
        Py_XDECREF(done);
        Py_XDECREF(tb);
        snprintf(line, sizeof line, "Post mortem debugger finished. The %s will be restarted\n",
                 shown);
        say(line);
    }
    Py_XDECREF(exc);
    PyErr_Clear();
    return 0;
}

int moth_cmd_debug(int argc, char **argv)
{
    moth_opts o = {argc, argv, 0, NULL};
    PyObject *commands = PyList_New(0);
    if (!commands)
        return moth_cli_error("out of memory");
    int status = 0;
    long pid = 0, thread = 0;
    while (o.i < argc) {
        const char *a = argv[o.i];
        const char *v;
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(USAGE, sizeof USAGE - 1);
            Py_DECREF(commands);
            return 0;
        } else if (moth_opt_is(&o, "-p", "--pid") || moth_opt_is(&o, NULL, "--thread")) {
            int is_pid = a[1] == 'p' || strcmp(a, "--pid") == 0 || strncmp(a, "--pid=", 6) == 0;
            if (!(v = moth_opt_value(&o, is_pid ? "--pid" : "--thread"))) {
                Py_DECREF(commands);
                return 2;
            }
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n <= 0) {
                Py_DECREF(commands);
                return moth_cli_error("%s takes a %s id, not '%s'", is_pid ? "-p" : "--thread",
                                      is_pid ? "process" : "thread", v);
            }
            *(is_pid ? &pid : &thread) = n;
        } else if (moth_opt_is(&o, NULL, "--command")) {
            PyObject *s = (v = moth_opt_value(&o, "--command")) ? PyUnicode_DecodeFSDefault(v)
                                                                 : NULL;
            if (!s || PyList_Append(commands, s) < 0) {
                Py_XDECREF(s);
                Py_DECREF(commands);
                PyErr_Clear();
                return 2;
            }
            Py_DECREF(s);
        } else if (strcmp(a, "--") == 0) {
            o.i++;
            break;
        } else if (a[0] == '-' && a[1] != '\0' && strcmp(a, "-m") != 0 && strcmp(a, "-c") != 0) {
            Py_DECREF(commands);
            return moth_cli_error("unknown option '%s' for 'moth debug' (try 'moth debug --help')", a);
        } else {
            break;
        }
    }
    if (pid || thread) {
        Py_DECREF(commands);
        if (!pid)
            return moth_cli_error("--thread goes with -p PID");
        if (o.i < argc)
            return moth_cli_error("moth debug -p takes no program ('%s')", argv[o.i]);
        char arg[48];
        snprintf(arg, sizeof arg, "thread=%ld", thread);
        char *args[1] = {arg};
        return moth_attach_command("debug", pid, 0, thread ? 1 : 0, args);
    }
    if (o.i >= argc) {
        Py_DECREF(commands);
        return moth_cli_error("debug what? give a script, -m module or -c code (try 'moth debug --help')");
    }
    char shown[1024];
    snprintf(shown, sizeof shown, "%s", argv[o.i][0] == '-' && o.i + 1 < argc ? argv[o.i + 1]
                                                                             : argv[o.i]);
    moth_target target;
    if (moth_opt_target(&o, &target) != 0) {
        Py_DECREF(commands);
        return 2;
    }
    PyObject *dbg = new_debugger(commands);
    Py_DECREF(commands);
    if (!dbg) {
        moth_target_clear(&target);
        PyErr_Clear();
        return moth_cli_error("cannot start the debugger");
    }
    int over;
    while ((over = run_once(dbg, &target, shown, &status)) == 0)
        ;
    Py_DECREF(dbg);
    moth_target_clear(&target);
    return over < 0 ? status : 0;
}
