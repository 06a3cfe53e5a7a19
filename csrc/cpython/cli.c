/* cli.c: the `moth` command line; see cli.h. */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char USAGE[] =
    "usage: moth <command> [options] ...\n"
    "\n"
    "commands:\n"
    "  profile   run a program under the deterministic profiler and print cProfile's table\n"
    "            moth profile [options] (script.py [args] | -m module [args] | -c code [args])\n"
    "  debug     run a program under the debugger: pdb's commands, watchpoints, stepi\n"
    "            moth debug [--command CMD] (script.py [args] | -m module [args] | -c code)\n"
    "  dap       a Debug Adapter Protocol server for editors (VS Code, nvim-dap, Emacs)\n"
    "            moth dap [--listen HOST:PORT]\n"
    "  stats     print or browse (-i) profile files: moth's own and any pstats file\n"
    "  diff      compare two profiles, function by function\n"
    "  export    write a profile for speedscope, flamegraph.pl, KCachegrind, Perfetto, dot\n"
    "  flame     draw a profile as an interactive flame graph (one HTML file)\n"
    "  merge     write the runs of several moth files into one (per-rank files of an MPI job)\n"
    "  advise    find the bytecode-level performance pitfalls in the code that takes the time\n"
    "  dump      print every thread's stack of a running Python program (moth dump PID)\n"
    "  record    sample a running program (-p PID) or a command from outside: cProfile's\n"
    "            table from the samples, moth's file, a flame graph\n"
    "  top       a live view of where a running program's time goes (moth top -p PID)\n"
    "\n"
    "Run `moth <command> --help` for a command's options.\n";

static int write_stream(const char *name, const char *text, size_t len)
{
    PyObject *stream = PySys_GetObject(name); /* borrowed */
    if (!stream || stream == Py_None)
        return 0;
    PyObject *s = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "replace");
    PyObject *r = s ? PyObject_CallMethod(stream, "write", "O", s) : NULL;
    Py_XDECREF(s);
    if (r) {
        Py_DECREF(r);
        r = PyObject_CallMethod(stream, "flush", NULL);
    }
    if (!r) {
        PyErr_Clear();
        return -1;
    }
    Py_DECREF(r);
    return 0;
}

static __thread moth_cli_sink redirect_sink;
static __thread void *redirect_ctx;
static __thread int redirect_colour;

void moth_cli_redirect(moth_cli_sink sink, void *ctx, int colour)
{
    redirect_sink = sink;
    redirect_ctx = ctx;
    redirect_colour = colour;
}

int moth_cli_out(const char *text, size_t len)
{
    if (redirect_sink)
        return redirect_sink(redirect_ctx, 0, text, len);
    return write_stream("stdout", text, len);
}

int moth_cli_err(const char *text, size_t len)
{
    if (redirect_sink)
        return redirect_sink(redirect_ctx, 1, text, len);
    return write_stream("stderr", text, len);
}

int moth_wants_colour(PyObject *stream)
{
    const char *no_colour = getenv("NO_COLOR"), *term = getenv("TERM");
    if ((no_colour && *no_colour) || (term && strcmp(term, "dumb") == 0))
        return 0;
    PyObject *tty = stream && stream != Py_None ? PyObject_CallMethod(stream, "isatty", NULL)
                                                : NULL;
    int colour = tty && PyObject_IsTrue(tty) == 1;
    Py_XDECREF(tty);
    PyErr_Clear();
    return colour;
}

int moth_cli_colour(void)
{
    if (redirect_sink)
        return redirect_colour;
    return moth_wants_colour(PySys_GetObject("stdout")); /* borrowed */
}

int moth_cli_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg - 8, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof msg - 8)
        n = (int)(sizeof msg - 8);
    char line[1100];
    int len = snprintf(line, sizeof line, "moth: %.*s\n", n, msg);
    moth_cli_err(line, (size_t)len);
    return 2;
}

int moth_opt_is(moth_opts *o, const char *short_name, const char *long_name)
{
    const char *a = o->argv[o->i];
    if (short_name && strcmp(a, short_name) == 0)
        return 1;
    if (!long_name)
        return 0;
    size_t n = strlen(long_name);
    return strncmp(a, long_name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

const char *moth_opt_value(moth_opts *o, const char *long_name)
{
    const char *a = o->argv[o->i];
    const char *eq = strchr(a, '=');
    if (a[0] == '-' && a[1] == '-' && eq) {
        o->i++;
        return eq + 1;
    }
    if (o->i + 1 >= o->argc) {
        moth_cli_error("option %s needs a value", long_name);
        return NULL;
    }
    o->i += 2;
    return o->argv[o->i - 1];
}

long moth_opt_count(const char *text, const char *long_name)
{
    char *end;
    long v = strtol(text, &end, 10);
    if (!*text || *end || v < 0) {
        moth_cli_error("option %s takes a whole number, not '%s'", long_name, text);
        return -1;
    }
    return v;
}

int moth_opt_target(moth_opts *o, moth_target *target)
{
    memset(target, 0, sizeof *target);
    const char *a = o->argv[o->i];
    int first_arg;
    if (strcmp(a, "-m") == 0 || strcmp(a, "-c") == 0) {
        if (o->i + 1 >= o->argc)
            return moth_cli_error("%s needs %s", a, a[1] == 'm' ? "a module name" : "code to run");
        target->kind = a[1] == 'm' ? MOTH_TARGET_MODULE : MOTH_TARGET_CODE;
        target->what = PyUnicode_DecodeFSDefault(o->argv[o->i + 1]);
        first_arg = o->i + 2;
    } else {
        target->kind = MOTH_TARGET_SCRIPT;
        target->what = PyUnicode_DecodeFSDefault(a);
        first_arg = o->i + 1;
    }
    target->args = PyList_New(0);
    if (!target->what || !target->args)
        goto fail;
    for (int k = first_arg; k < o->argc; k++) {
        PyObject *s = PyUnicode_DecodeFSDefault(o->argv[k]);
        if (!s || PyList_Append(target->args, s) < 0) {
            Py_XDECREF(s);
            goto fail;
        }
        Py_DECREF(s);
    }
    o->i = o->argc;
    return 0;
fail:
    PyErr_Clear();
    moth_target_clear(target);
    return moth_cli_error("out of memory reading the command line");
}

static const struct {
    const char *name;
    moth_command_fn run;
} COMMANDS[] = {
    {"profile", moth_cmd_profile},
    {"stats", moth_cmd_stats},
    {"diff", moth_cmd_diff},
    {"export", moth_cmd_export},
    {"flame", moth_cmd_flame},
    {"merge", moth_cmd_merge},
    {"advise", moth_cmd_advise},
    {"debug", moth_cmd_debug},
    {"dump", moth_cmd_dump},
    {"record", moth_cmd_record},
    {"top", moth_cmd_top},
    {"dap", moth_cmd_dap},
};

static int dispatch(int argc, char **argv)
{
    if (argc < 2) {
        moth_cli_err(USAGE, sizeof USAGE - 1);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        moth_cli_out(USAGE, sizeof USAGE - 1);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        static const char v[] = "moth " MOTH_VERSION "\n";
        moth_cli_out(v, sizeof v - 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(cmd, COMMANDS[i].name) == 0)
            return COMMANDS[i].run(argc - 2, argv + 2);
    return moth_cli_error("unknown command '%s' (try 'moth --help')", cmd);
}

PyObject *moth_cli_main(PyObject *module, PyObject *argv_list)
{
    (void)module;
    if (!PyList_Check(argv_list)) {
        PyErr_SetString(PyExc_TypeError, "main() takes the list sys.argv");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(argv_list);
    char **argv = calloc((size_t)n + 1, sizeof *argv);
    PyObject **held = calloc((size_t)n + 1, sizeof *held);
    int status = 2;
    if (!argv || !held) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        /* Arguments as the OS gave them (surrogateescape round trip). */
        if (!PyUnicode_FSConverter(PyList_GET_ITEM(argv_list, i), &held[i]))
            goto done;
        argv[i] = PyBytes_AS_STRING(held[i]);
    }
    status = dispatch((int)n, argv);
done:
    for (Py_ssize_t i = 0; held && i < n; i++)
        Py_XDECREF(held[i]);
    free(held);
    free(argv);
    if (PyErr_Occurred()) {
        /* A command let an exception through: a bug in moth. Say so in one line. */
        PyObject *exc = moth_take_exception();
        PyObject *text = exc ? PyObject_Str(exc) : NULL;
        const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
        PyErr_Clear();
        moth_cli_error("internal error: %s: %s", exc ? Py_TYPE(exc)->tp_name : "?",
                       utf8 ? utf8 : "?");
        Py_XDECREF(text);
        Py_XDECREF(exc);
        status = 70;
    }
    return PyLong_FromLong(status);
}
