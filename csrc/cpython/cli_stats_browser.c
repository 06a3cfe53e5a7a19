/*
 * cli_stats_browser.c: `moth stats -i`, the profile statistics browser of `python -m pstats`.
 *
 * The same commands, messages and prompts (read, add, sort, stats, callers, callees, strip,
 * reverse, quit, EOF, help; plus dump, to write the statistics as a pstats file), the same
 * cmd.Cmd habits (an empty line repeats the last command), backed by moth's C reports. Lines are
 * read through Python's input(), so readline editing and completion work at a terminal and
 * piped commands work too; history is kept in ~/.moth_stats_history.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadfile.h"
#include "pstats.h"

int moth_stats_load_all(char **files, int nfiles, int run, moth_pstats *out);

typedef struct browser {
    moth_pstats view;
    int loaded;
    char prompt[4200];
    moth_sort_spec sort;
    int sorted;          /* sort_stats was called with keys */
    int reversed;
    int run;
    char last[4096];     /* the last command, for an empty line */
} browser;

static void say(const char *fmt, ...) MOTH_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > 0)
        moth_cli_out(buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

static int no_stats(browser *b)
{
    if (b->loaded)
        return 0;
    say("No statistics object is loaded.\n");
    return 1;
}

/* pstats' generic(): each argument is an int (count), a fraction in [0, 1], or a regex. */
static void report(browser *b, int (*fn)(const moth_pstats *, const moth_report_opts *,
                                         moth_sb *, moth_error *), char *args)
{
    moth_report_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.sort = b->sort;
    ro.sorted = b->sorted;
    ro.reversed = b->reversed;
    for (char *tok = strtok(args, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (ro.nrestrictions == MOTH_MAX_RESTRICTIONS)
            break;
        moth_restriction *r = &ro.restrictions[ro.nrestrictions];
        char *end;
        long v = strtol(tok, &end, 10);
        if (*tok && !*end) {
            /* a negative count restricts nothing, as in pstats */
            if (v < 0)
                continue;
            r->kind = MOTH_RESTRICT_COUNT;
            r->count = (size_t)v;
            ro.nrestrictions++;
            continue;
        }
        double f = strtod(tok, &end);
        if (*tok && !*end) {
            if (f > 1 || f < 0) {
                say("Fraction argument must be in [0, 1]\n");
                continue;
            }
            r->kind = MOTH_RESTRICT_FRACTION;
            r->fraction = f;
            ro.nrestrictions++;
            continue;
        }
        r->kind = MOTH_RESTRICT_REGEX;
        r->regex = tok;
        ro.nrestrictions++;
    }
    if (no_stats(b))
        return;
    moth_sb text = MOTH_SB_INIT;
    moth_error err;
    if (fn(&b->view, &ro, &text, &err) < 0)
        say("*** %s\n", err.msg);
    else
        moth_cli_out(text.data ? text.data : "", text.len);
    moth_sb_free(&text);
}

static void do_read(browser *b, const char *arg)
{
    if (!*arg) {
        size_t n = strlen(b->prompt);
        if (n > 2) {
            char file[sizeof b->prompt];
            snprintf(file, sizeof file, "%.*s", (int)(n - 2), b->prompt);
            do_read(b, file);
        } else {
            say("No statistics object is current -- cannot reload.\n");
        }
        return;
    }
    char *files[1] = {(char *)arg};
    moth_pstats fresh;
    moth_loaded probe;
    moth_error err;
    /* Check the file first so a bad one leaves the current statistics alone. */
    if (moth_load_profile_file(arg, b->run, &probe, &err) < 0) {
        say("%s\n", err.msg);
        return;
    }
    moth_loaded_free(&probe);
    if (moth_stats_load_all(files, 1, b->run, &fresh) != 0)
        return;
    if (b->loaded)
        moth_pstats_free(&b->view);
    b->view = fresh;
    b->loaded = 1;
    b->sorted = b->reversed = 0;
    snprintf(b->prompt, sizeof b->prompt, "%s%% ", arg);
}

static void do_add(browser *b, const char *arg)
{
    if (no_stats(b))
        return;
    moth_loaded one;
    moth_error err;
    if (moth_load_profile_file(arg, b->run, &one, &err) < 0) {
        say("Failed to load statistics for %s: %s\n", arg, err.msg);
        return;
    }
    if (moth_pstats_add(&b->view, &one.view, &err) < 0)
        say("Failed to load statistics for %s: %s\n", arg, err.msg);
    moth_loaded_free(&one);
    b->sorted = b->reversed = 0; /* pstats drops its sorted list when adding */
}

static const struct {
    const char *key, *description;
} SORT_HELP[] = {
    {"calls", "call count"}, {"ncalls", "call count"}, {"cumtime", "cumulative time"},
    {"cumulative", "cumulative time"}, {"filename", "file name"}, {"line", "line number"},
    {"module", "file name"}, {"name", "function name"}, {"nfl", "name/file/line"},
    {"pcalls", "primitive call count"}, {"stdname", "standard name"},
    {"time", "internal time"}, {"tottime", "internal time"},
};

static void do_sort(browser *b, char *arg)
{
    if (no_stats(b))
        return;
    const char *keys[MOTH_SORT_MAX_KEYS];
    size_t n = 0;
    int ok = 1;
    for (char *tok = strtok(arg, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (n == MOTH_SORT_MAX_KEYS || !strcmp(tok, "-1") || !strcmp(tok, "0") ||
            !strcmp(tok, "1") || !strcmp(tok, "2")) {
            ok = 0; /* pstats' browser only takes key words */
            break;
        }
        keys[n++] = tok;
    }
    moth_sort_spec spec;
    if (ok && n && moth_sort_spec_parse(&spec, keys, n, NULL) == 0) {
        b->sort = spec;
        b->sorted = 1;
        b->reversed = 0;
        return;
    }
    say("Valid sort keys (unique prefixes are accepted):\n");
    for (size_t i = 0; i < sizeof SORT_HELP / sizeof SORT_HELP[0]; i++)
        say("%s -- %s\n", SORT_HELP[i].key, SORT_HELP[i].description);
}

static void do_dump(browser *b, const char *arg)
{
    if (no_stats(b))
        return;
    if (!*arg) {
        say("*** dump needs a file name\n");
        return;
    }
    moth_error err;
    if (moth_pstats_write_file(&b->view, arg, &err) < 0)
        say("*** %s\n", err.msg);
}

static const struct {
    const char *name, *help;
} COMMANDS[] = {
    {"EOF", "Leave the profile browser.\n"},
    {"add", "Add profile info from given file to current statistics object.\n"},
    {"callees", "Print callees statistics from the current stat object.\n"},
    {"callers", "Print callers statistics from the current stat object.\n"},
    {"dump", "Write the current statistics to a file, as pstats.Stats.dump_stats does.\n"},
    {"help", "Show help for a given command.\n"},
    {"quit", "Leave the profile browser.\n"},
    {"read", "Read in profile data from a specified file.\nWithout argument, reload the current file.\n"},
    {"reverse", "Reverse the sort order of the profiling report.\n"},
    {"sort", "Sort profile data according to specified keys.\n(Typing `sort' without arguments lists valid keys.)\n"},
    {"stats", "Print statistics from the current stat object.\n"},
    {"strip", "Strip leading path information from filenames in the report.\n"},
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const char AMOUNT_HELP[] =
    "Arguments may be:\n"
    "* An integer maximum number of entries to print.\n"
    "* A decimal fractional number between 0 and 1, controlling\n"
    "  what fraction of selected entries to print.\n"
    "* A regular expression; only entries with function names\n"
    "  that match it are printed.\n";

static void do_help(const char *arg)
{
    if (*arg) {
        for (size_t i = 0; i < NCOMMANDS; i++) {
            if (strcmp(arg, COMMANDS[i].name) == 0) {
                say("%s", COMMANDS[i].help);
                if (!strcmp(arg, "stats") || !strcmp(arg, "callers") || !strcmp(arg, "callees"))
                    say("%s", AMOUNT_HELP);
                return;
            }
        }
        say("*** No help on %s\n", arg);
        return;
    }
    say("\nDocumented commands (type help <topic>):\n"
        "========================================\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        say("%s%s", COMMANDS[i].name, i + 1 < NCOMMANDS ? "  " : "\n\n");
}

/* Runs one command line; returns 1 to leave the browser. */
static int run_command(browser *b, char *line)
{
    while (*line && isspace((unsigned char)*line))
        line++;
    size_t n = strlen(line);
    while (n && isspace((unsigned char)line[n - 1]))
        line[--n] = '\0';
    if (!*line) {
        if (!b->last[0])
            return 0;
        char again[sizeof b->last];
        snprintf(again, sizeof again, "%s", b->last);
        return run_command(b, again);
    }
    snprintf(b->last, sizeof b->last, "%s", line);
    if (line[0] == '?') {
        do_help(line + 1 + strspn(line + 1, " "));
        return 0;
    }
    char *arg = line;
    while (*arg && (isalnum((unsigned char)*arg) || *arg == '_'))
        arg++;
    char cmd[64];
    snprintf(cmd, sizeof cmd, "%.*s", (int)(arg - line), line);
    while (*arg == ' ' || *arg == '\t')
        arg++;
    if (!strcmp(cmd, "EOF")) {
        say("\n");
        return 1;
    }
    if (!strcmp(cmd, "quit"))
        return 1;
    if (!strcmp(cmd, "read"))
        do_read(b, arg);
    else if (!strcmp(cmd, "add"))
        do_add(b, arg);
    else if (!strcmp(cmd, "sort"))
        do_sort(b, arg);
    else if (!strcmp(cmd, "stats"))
        report(b, moth_report_stats, arg);
    else if (!strcmp(cmd, "callers"))
        report(b, moth_report_callers, arg);
    else if (!strcmp(cmd, "callees"))
        report(b, moth_report_callees, arg);
    else if (!strcmp(cmd, "strip")) {
        moth_error err;
        if (!no_stats(b) && moth_pstats_strip_dirs(&b->view, &err) < 0)
            say("*** %s\n", err.msg);
        b->sorted = b->reversed = 0; /* pstats drops its sorted list */
    } else if (!strcmp(cmd, "reverse")) {
        if (!no_stats(b) && b->sorted)
            b->reversed = !b->reversed;
    } else if (!strcmp(cmd, "dump"))
        do_dump(b, arg);
    else if (!strcmp(cmd, "help"))
        do_help(arg);
    else
        say("*** Unknown syntax: %s\n", line);
    return 0;
}

/* ---- readline: history and completion (only when at a terminal) ---- */

/* Candidates for `text`: command names at the start of the line, sort keys after "sort",
 * file names after read/add/dump. */
static PyObject *complete(PyObject *self, PyObject *args)
{
    (void)self;
    const char *text;
    int state;
    if (!PyArg_ParseTuple(args, "si", &text, &state))
        return NULL;
    PyObject *readline = PyImport_ImportModule("readline");
    PyObject *buffer = readline ? PyObject_CallMethod(readline, "get_line_buffer", NULL) : NULL;
    Py_XDECREF(readline);
    const char *line = buffer && PyUnicode_Check(buffer) ? PyUnicode_AsUTF8(buffer) : "";
    while (*line == ' ')
        line++;
    size_t tl = strlen(text);
    int found = 0;
    PyObject *result = NULL;
    if (strchr(line, ' ') == NULL) {
        for (size_t i = 0; i < NCOMMANDS && !result; i++)
            if (strncmp(COMMANDS[i].name, text, tl) == 0 && found++ == state)
                result = PyUnicode_FromFormat("%s ", COMMANDS[i].name);
    } else if (strncmp(line, "sort ", 5) == 0) {
        for (size_t i = 0; i < sizeof SORT_HELP / sizeof SORT_HELP[0] && !result; i++)
            if (strncmp(SORT_HELP[i].key, text, tl) == 0 && found++ == state)
                result = PyUnicode_FromString(SORT_HELP[i].key);
    } else if (!strncmp(line, "read ", 5) || !strncmp(line, "add ", 4) ||
               !strncmp(line, "dump ", 5)) {
        const char *slash = strrchr(text, '/');
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - text + 1) : 0, text);
        const char *base = slash ? slash + 1 : text;
        DIR *d = opendir(dir[0] ? dir : ".");
        for (struct dirent *e; d && !result && (e = readdir(d));) {
            if (e->d_name[0] == '.' && base[0] != '.')
                continue;
            if (strncmp(e->d_name, base, strlen(base)) == 0 && found++ == state)
                result = PyUnicode_FromFormat("%s%s%s", dir, e->d_name,
                                              e->d_type == DT_DIR ? "/" : "");
        }
        if (d)
            closedir(d);
    }
    Py_XDECREF(buffer);
    PyErr_Clear();
    if (result)
        return result;
    Py_RETURN_NONE;
}

static PyMethodDef complete_def = {"_moth_stats_complete", complete, METH_VARARGS, NULL};

static PyObject *history_path(void)
{
    const char *home = getenv("HOME");
    return home ? PyUnicode_FromFormat("%s/.moth_stats_history", home) : NULL;
}

/* Sets readline up when stdin is a terminal; returns the readline module or NULL. */
static PyObject *setup_readline(void)
{
    if (!isatty(0) || !isatty(1))
        return NULL;
    PyObject *rl = PyImport_ImportModule("readline");
    if (!rl) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *fn = PyCFunction_New(&complete_def, NULL);
    PyObject *path = history_path();
    PyObject *r;
    if (fn && (r = PyObject_CallMethod(rl, "set_completer", "O", fn)))
        Py_DECREF(r);
    if ((r = PyObject_CallMethod(rl, "set_completer_delims", "s", " \t\n")))
        Py_DECREF(r);
    if ((r = PyObject_CallMethod(rl, "parse_and_bind", "s", "tab: complete")))
        Py_DECREF(r);
    if (path && (r = PyObject_CallMethod(rl, "read_history_file", "O", path)))
        Py_DECREF(r);
    PyErr_Clear();
    Py_XDECREF(fn);
    Py_XDECREF(path);
    return rl;
}

static void save_history(PyObject *rl)
{
    if (!rl)
        return;
    PyObject *path = history_path(), *r;
    if (path && (r = PyObject_CallMethod(rl, "set_history_length", "i", 1000)))
        Py_DECREF(r);
    if (path && (r = PyObject_CallMethod(rl, "write_history_file", "O", path)))
        Py_DECREF(r);
    PyErr_Clear();
    Py_XDECREF(path);
}

int moth_cmd_stats_interactive(char **files, int nfiles, int run)
{
    browser *b = calloc(1, sizeof *b);
    if (!b)
        return moth_cli_error("out of memory");
    b->run = run;
    snprintf(b->prompt, sizeof b->prompt, "%% ");
    if (nfiles > 0) {
        do_read(b, files[0]);
        for (int i = 1; i < nfiles; i++)
            do_add(b, files[i]);
    }
    PyObject *rl = setup_readline();
    PyObject *input = PyDict_GetItemString(PyEval_GetBuiltins(), "input"); /* borrowed */
    say("Welcome to the profile statistics browser.\n");
    int interrupted = 0;
    for (;;) {
        PyObject *line = input ? PyObject_CallFunction(input, "s", b->prompt) : NULL;
        char *text;
        if (!line) {
            if (PyErr_ExceptionMatches(PyExc_KeyboardInterrupt)) {
                PyErr_Clear();
                interrupted = 1;
                break;
            }
            PyErr_Clear(); /* EOFError: the EOF command */
            text = strdup("EOF");
        } else {
            const char *utf8 = PyUnicode_Check(line) ? PyUnicode_AsUTF8(line) : "";
            text = strdup(utf8 ? utf8 : "");
            Py_DECREF(line);
        }
        int stop = !text || run_command(b, text);
        free(text);
        if (stop)
            break;
    }
    if (!interrupted)
        say("Goodbye.\n");
    save_history(rl);
    Py_XDECREF(rl);
    if (b->loaded)
        moth_pstats_free(&b->view);
    free(b);
    return 0;
}
