/*
 * cli_advise.c: `moth advise`: the bytecode-level performance pitfalls in the code that
 * measurably takes the time, ranked by that time.
 *
 *   moth advise [options] (script.py [args] | -m module [args] | -c code [args] | FILE.moth)
 *
 * Runs the program with the line profiler on its own code (or reads a moth file made with
 * --lines), takes the functions with the most line time, decodes their bytecode (bytecode.c)
 * and looks for the pitfalls (core/advice.c), each weighed by the time its loop took.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "advice.h"
#include "advise_costs.h"
#include "bytecode.h"
#include "calibrate.h"
#include "export.h"
#include "loadfile.h"
#include "profile_type.h"
#include "profiler.h"

static const char HELP[] =
    "usage: moth advise [options] (script.py [args] | -m module [args] | -c code [args] | FILE.moth)\n"
    "\n"
    "Run the program with its own code profiled line by line (or read a moth file made with\n"
    "'moth profile --lines -o FILE.moth'), then scan the bytecode of the functions that took\n"
    "the most time for known performance pitfalls: globals and module attributes looked up in\n"
    "loops, attribute chains, range(len(x)) index loops, counter while loops, strings built\n"
    "with +=, append loops, numeric loops NumPy would run in C. Each finding gives its line,\n"
    "what its loop cost, the bytecode that makes it slow, and the rewrite.\n"
    "\n"
    "options:\n"
    "  --json              findings as JSON, for tools\n"
    "  --limit N           at most N findings (default 20; 0: all)\n"
    "  --min-share PCT     leave out loops under PCT%% of the run's time (default 1)\n"
    "  --func PATTERN      look at the functions matching PATTERN (fnmatch) as well\n"
    "  -h, --help          show this help\n";

typedef struct ranked_finding {
    moth_finding f;
    const char *file;
    const char *function;
    double seconds;           /* what its loop (or line) took */
    uint64_t iterations;      /* how many times that loop went round (or the line ran) */
    int measured;             /* the shapes below could be timed here */
    moth_shape_cost shape;    /* the pitfall's loop as written and rewritten, here */
    double saving;            /* expected seconds saved by the rewrite */
} ranked_finding;

static int by_cost(const void *a, const void *b)
{
    const ranked_finding *x = a, *y = b;
    if (x->seconds != y->seconds)
        return x->seconds > y->seconds ? -1 : 1;
    int c = strcmp(x->file, y->file);
    return c ? c : x->f.line - y->f.line;
}

/* The code object in `code` (or its nested constants) that starts at line and is named name. */
static PyCodeObject *find_code(PyObject *code, unsigned line, const char *name, int depth)
{
    if (!PyCode_Check(code) || depth > 50)
        return NULL;
    PyCodeObject *c = (PyCodeObject *)code;
    const char *n = PyUnicode_AsUTF8(c->co_name);
    if (n && (unsigned)c->co_firstlineno == line && strcmp(n, name) == 0)
        return c;
    PyErr_Clear();
    for (Py_ssize_t i = 0; c->co_consts && i < PyTuple_GET_SIZE(c->co_consts); i++) {
        PyCodeObject *found = find_code(PyTuple_GET_ITEM(c->co_consts, i), line, name, depth + 1);
        if (found)
            return found;
    }
    return NULL;
}

char *moth_source_from_linecache(const char *path, void *ctx);

/* The module code of a file, compiled again from its source (linecache's, so that code typed
 * into IPython is found too). */
static PyObject *compile_file(const char *path)
{
    char *text = moth_source_from_linecache(path, NULL);
    if (!text)
        return NULL;
    PyObject *filename = PyUnicode_DecodeFSDefault(path);
    PyObject *code = filename ? Py_CompileStringObject(text, filename, Py_file_input, NULL, -1)
                              : NULL;
    Py_XDECREF(filename);
    free(text);
    PyErr_Clear();
    return code;
}

/* What a finding costs, measured: for a lookup, the time of its line; for the other
 * pitfalls, the time of its loop. A pitfall matters only in a tight loop that runs many times:
 * the line (or an iteration) must be cheap, or the lookup is lost in the work it feeds (a
 * loop of three calls to big functions has nothing to gain from a local alias). Returns the
 * cost in seconds and sets *iterations, or -1 when the finding does not matter. */
#define MIN_HITS 1000
#define MAX_SECONDS_PER_HIT 5e-6
static double finding_cost(const moth_profile *p, const moth_func_lines *fl, const moth_finding *f,
                           uint64_t *iterations)
{
    uint64_t ticks = 0, max_hits = 0, line_hits = 0, line_ticks = 0;
    for (size_t i = 0; i < fl->nlines; i++) {
        const moth_line *l = &fl->lines[i];
        if ((int)l->line >= f->loop_first && (int)l->line <= f->loop_last) {
            ticks += l->time;
            max_hits = l->hits > max_hits ? l->hits : max_hits;
        }
        if ((int)l->line == f->line) {
            line_hits = l->hits;
            line_ticks = l->time;
        }
    }
    int lookup = f->kind == MOTH_PIT_GLOBAL_IN_LOOP || f->kind == MOTH_PIT_MODULE_ATTR_IN_LOOP ||
                 f->kind == MOTH_PIT_ATTR_CHAIN_IN_LOOP;
    uint64_t hits = lookup ? line_hits : max_hits;
    double seconds = (double)(lookup ? line_ticks : ticks) * p->tick_seconds;
    /* Building a string by += copies it on every iteration: a slow iteration is the pitfall
     * itself there, not work that hides it. */
    int slow_is_the_pitfall = f->kind == MOTH_PIT_STRING_CONCAT;
    if (hits < MIN_HITS ||
        (!slow_is_the_pitfall && seconds / (double)hits > MAX_SECONDS_PER_HIT))
        return -1;
    *iterations = hits;
    return seconds;
}

/* Iterations the shapes are timed over: enough to be well above the clock's resolution. A
 * string built with += is timed at the length the program built it to, since its cost per
 * iteration grows with the length. */
#define SHAPE_ITERATIONS 20000
#define SHAPE_MAX_ITERATIONS 200000

/* Times the shapes of every finding's pitfall on this interpreter (once per kind) and sets
 * what each rewrite would save. */
static void estimate_savings(ranked_finding *r, size_t n)
{
    moth_shape_cost by_kind[MOTH_PIT_NUMERIC_LOOP + 1];
    int state[MOTH_PIT_NUMERIC_LOOP + 1] = {0}; /* 0: not yet, 1: measured, -1: cannot */
    PyObject *shapes = n ? moth_shapes_load() : NULL;
    PyErr_Clear();
    for (size_t i = 0; i < n; i++) {
        moth_pitfall k = r[i].f.kind;
        if (k == MOTH_PIT_STRING_CONCAT) {
            size_t at = r[i].iterations < SHAPE_MAX_ITERATIONS ? (size_t)r[i].iterations
                                                                : SHAPE_MAX_ITERATIONS;
            r[i].measured = moth_measure_shape(shapes, k, at, &r[i].shape) == 0;
        } else {
            if (!state[k])
                state[k] = moth_measure_shape(shapes, k, SHAPE_ITERATIONS, &by_kind[k]) == 0 ? 1 : -1;
            r[i].measured = state[k] == 1;
            if (r[i].measured)
                r[i].shape = by_kind[k];
        }
        r[i].saving = r[i].measured
                          ? moth_advice_saving(r[i].seconds, r[i].iterations, &r[i].shape)
                          : 0;
    }
    moth_shapes_release(shapes);
}

/* Scans the line-profiled functions of p; fills *out (malloc'd) with ranked findings, each
 * with its expected saving. */
static int analyse(const moth_profile *p, double min_share, ranked_finding **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    double total = moth_profile_total_seconds(p);
    size_t cap = 0;
    PyObject *names = PyList_New(0);
    PyObject *compiled = PyDict_New(); /* file -> module code, compiled once */
    if (!names || !compiled) {
        Py_XDECREF(names);
        Py_XDECREF(compiled);
        return -1;
    }
    for (size_t i = 0; i < p->lines.count; i++) {
        const moth_func_lines *fl = &p->lines.funcs[i];
        const moth_func *f = &p->funcs.items[fl->func];
        double spent = (double)moth_func_lines_total(fl) * p->tick_seconds;
        if (total > 0 && spent < total * min_share)
            continue; /* code that does not matter */
        PyObject *module = PyDict_GetItemString(compiled, f->file);
        if (!module) {
            module = compile_file(f->file);
            if (!module)
                continue;
            PyDict_SetItemString(compiled, f->file, module);
            Py_DECREF(module);
        }
        PyCodeObject *code = find_code(module, f->line, f->name, 0);
        if (!code)
            continue;
        const char **aliases = NULL;
        size_t naliases = 0;
        moth_insn *insns = NULL;
        size_t ninsns = 0;
        moth_findings found = {0};
        moth_error err;
        if (moth_module_aliases((PyCodeObject *)module, names, &aliases, &naliases) == 0 &&
            moth_decode_code(code, &insns, &ninsns, names) == 0) {
            moth_code_view view = {insns, ninsns, aliases, naliases};
            if (moth_advise_code(&view, &found, &err) == 0) {
                for (size_t k = 0; k < found.count; k++) {
                    uint64_t iterations = 0;
                    double cost = finding_cost(p, fl, &found.items[k], &iterations);
                    if (cost < 0 || (total > 0 && cost < total * min_share))
                        continue;
                    if (moth_grow((void **)out, sizeof **out, &cap, *nout + 1, NULL) < 0)
                        break;
                    ranked_finding *r = &(*out)[(*nout)++];
                    r->f = found.items[k];
                    r->file = f->file;
                    r->function = f->qualname ? f->qualname : f->name;
                    r->seconds = cost;
                    r->iterations = iterations;
                }
            }
        }
        PyErr_Clear();
        moth_findings_free(&found);
        free(insns);
        free((void *)aliases);
    }
    Py_DECREF(compiled);
    Py_DECREF(names); /* the names the findings hold were copied into them */
    moth_qsort(*out, *nout, sizeof **out, by_cost);
    estimate_savings(*out, *nout);
    return 0;
}

static void report(const moth_profile *p, ranked_finding *r, size_t n, size_t limit, int json,
                   moth_sb *out)
{
    double total = moth_profile_total_seconds(p);
    size_t shown = limit && limit < n ? limit : n;
    if (json) {
        moth_sb_printf(out, "{\"total_seconds\":%.9g,\"findings\":[", total);
        for (size_t i = 0; i < shown; i++) {
            moth_sb why = MOTH_SB_INIT;
            moth_pitfall_explain(&r[i].f, &why);
            moth_sb_puts(out, i ? ",\n{" : "\n{");
            moth_sb_puts(out, "\"file\":");
            moth_json_string(out, r[i].file);
            moth_sb_printf(out, ",\"line\":%d,\"function\":", r[i].f.line);
            moth_json_string(out, r[i].function);
            moth_sb_printf(out, ",\"kind\":\"%s\",\"title\":", moth_pitfall_id(r[i].f.kind));
            moth_json_string(out, moth_pitfall_title(r[i].f.kind));
            moth_sb_puts(out, ",\"what\":");
            moth_json_string(out, r[i].f.what);
            moth_sb_printf(out, ",\"loop\":{\"first\":%d,\"last\":%d},\"seconds\":%.9g,"
                                "\"share\":%.6f,\"iterations\":%llu,",
                           r[i].f.loop_first, r[i].f.loop_last, r[i].seconds,
                           total > 0 ? r[i].seconds / total : 0.0,
                           (unsigned long long)r[i].iterations);
            if (r[i].measured)
                moth_sb_printf(out, "\"saving_seconds\":%.9g,\"speedup\":%.9g,"
                                    "\"ns_per_iteration\":{\"written\":%.9g,\"rewritten\":%.9g},",
                               r[i].saving, moth_shape_speedup(&r[i].shape),
                               r[i].shape.written_ns, r[i].shape.rewritten_ns);
            else
                moth_sb_puts(out, "\"saving_seconds\":null,\"speedup\":null,"
                                  "\"ns_per_iteration\":null,");
            moth_sb_puts(out, "\"explanation\":");
            moth_json_string(out, why.data ? why.data : "");
            moth_sb_putc(out, '}');
            moth_sb_free(&why);
        }
        moth_sb_puts(out, "\n]}\n");
        return;
    }
    if (n == 0) {
        moth_sb_printf(out, "moth advise: no pitfall found in the code that takes the time "
                            "(the program ran %.3f s)\n", total);
        return;
    }
    moth_sb_printf(out, "moth advise: %zu finding%s in the code that takes the time (the "
                        "program ran %.3f s)%s\n\n", n, n == 1 ? "" : "s", total,
                   shown < n ? ", the costliest shown" : "");
    for (size_t i = 0; i < shown; i++) {
        moth_sb_printf(out, "%zu. %s:%d  %s: %s\n", i + 1, r[i].file, r[i].f.line,
                       moth_pitfall_title(r[i].f.kind), r[i].f.what);
        int lookup = r[i].f.kind == MOTH_PIT_GLOBAL_IN_LOOP ||
                     r[i].f.kind == MOTH_PIT_MODULE_ATTR_IN_LOOP ||
                     r[i].f.kind == MOTH_PIT_ATTR_CHAIN_IN_LOOP;
        moth_sb_printf(out, "   in %s (loop at lines %d-%d): %s took %.3f s, %.1f%% of the run\n",
                       r[i].function, r[i].f.loop_first, r[i].f.loop_last,
                       lookup ? "the line" : "the loop", r[i].seconds,
                       total > 0 ? 100.0 * r[i].seconds / total : 0.0);
        if (r[i].measured)
            moth_sb_printf(out, "   rewritten: %.2fx faster per iteration, about %.3f s saved over its %llu "
                                "iterations\n   (on this Python the shape takes %.1f ns per iteration "
                                "as written, %.1f ns rewritten)\n",
                           moth_shape_speedup(&r[i].shape), r[i].saving,
                           (unsigned long long)r[i].iterations, r[i].shape.written_ns,
                           r[i].shape.rewritten_ns);
        else
            moth_sb_puts(out, "   rewritten: no estimate (the program did not import NumPy, so its "
                              "rewrite was not timed)\n");
        moth_sb why = MOTH_SB_INIT;
        moth_pitfall_explain(&r[i].f, &why);
        for (char *line = why.data, *next; line; line = next) {
            next = strchr(line, '\n');
            if (next)
                *next++ = '\0';
            moth_sb_printf(out, "   %s\n", line);
        }
        moth_sb_free(&why);
        moth_sb_putc(out, '\n');
    }
}

/* moth._moth.advise(profile, min_share=0.01, limit=20, json=False) -> str: the advice on
 * what a moth.Profile with line data (lines=True) recorded; for the IPython magics. */
PyObject *moth_py_advise(PyObject *module, PyObject *args, PyObject *kw)
{
    (void)module;
    static char *kwlist[] = {"profile", "min_share", "limit", "json", NULL};
    PyObject *prof;
    double min_share = 0.01;
    Py_ssize_t limit = 20;
    int json = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!|dnp:advise", kwlist, &MothProfile_Type,
                                     &prof, &min_share, &limit, &json))
        return NULL;
    MothProfileObject *self = (MothProfileObject *)prof;
    if (!self->initialised || moth_profiler_disable(&self->prof) < 0) {
        PyErr_SetString(PyExc_ValueError, "the profile has not run");
        return NULL;
    }
    moth_profile profile;
    if (moth_profiler_snapshot(&self->prof, &profile) < 0)
        return NULL;
    ranked_finding *found;
    size_t n;
    if (analyse(&profile, min_share, &found, &n) < 0) {
        moth_profile_free(&profile);
        return PyErr_NoMemory();
    }
    moth_sb text = MOTH_SB_INIT;
    report(&profile, found, n, limit > 0 ? (size_t)limit : 0, json, &text);
    PyObject *result = PyUnicode_DecodeUTF8(text.data ? text.data : "", (Py_ssize_t)text.len,
                                            "replace");
    moth_sb_free(&text);
    free(found);
    moth_profile_free(&profile);
    return result;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int moth_cmd_advise(int argc, char **argv)
{
    int json = 0;
    long limit = 20;
    double min_share = 0.01;
    const char *funcs[32];
    size_t nfuncs = 0;
    moth_opts o = {argc, argv, 0, NULL};
    const char *v;
    while (o.i < argc) {
        const char *a = argv[o.i];
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 0;
        } else if (moth_opt_is(&o, NULL, "--json")) {
            json = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--limit")) {
            if (!(v = moth_opt_value(&o, "--limit")) || (limit = moth_opt_count(v, "--limit")) < 0)
                return 2;
        } else if (moth_opt_is(&o, NULL, "--min-share")) {
            if (!(v = moth_opt_value(&o, "--min-share")))
                return 2;
            char *end;
            min_share = strtod(v, &end) / 100.0;
            if (!*v || *end || min_share < 0 || min_share > 1)
                return moth_cli_error("--min-share takes a percentage, not '%s'", v);
        } else if (moth_opt_is(&o, NULL, "--func")) {
            if (!(v = moth_opt_value(&o, "--func")))
                return 2;
            if (nfuncs == 32)
                return moth_cli_error("too many --func patterns (at most 32)");
            funcs[nfuncs++] = v;
        } else if (strcmp(a, "--") == 0) {
            o.i++;
            break;
        } else if (a[0] == '-' && a[1] && strcmp(a, "-m") != 0 && strcmp(a, "-c") != 0) {
            return moth_cli_error("unknown option '%s' for 'moth advise' (try 'moth advise --help')", a);
        } else {
            break;
        }
    }
    if (o.i >= argc)
        return moth_cli_error("advise on what? give a script, -m module, -c code or a moth file "
                              "(try 'moth advise --help')");
    moth_profile profile;
    int status = 0;
    struct stat sb;
    if (ends_with(argv[o.i], ".moth") && o.i + 1 == argc && stat(argv[o.i], &sb) == 0) {
        moth_error err;
        moth_loaded in;
        if (moth_load_profile_file(argv[o.i], -1, &in, &err) < 0)
            return moth_cli_error("%s", err.msg);
        if (!in.has_tree || in.profile.lines.count == 0) {
            moth_loaded_free(&in);
            return moth_cli_error("%s has no line data: make it with 'moth profile --lines -o "
                                  "FILE.moth'", argv[o.i]);
        }
        profile = in.profile;
        moth_profile_init(&in.profile);
        moth_loaded_free(&in);
    } else {
        moth_target target;
        int rc = moth_opt_target(&o, &target);
        if (rc)
            return rc;
        if (moth_cli_prepare(&target, &status) < 0)
            return status;
        moth_profiler prof;
        if (moth_profiler_init(&prof, MOTH_MODE_FRAMES, MOTH_CLOCK_CYCLES, NULL, 0.0, 0, 1) < 0) {
            moth_target_clear(&target);
            return moth_cli_error("cannot start the profiler");
        }
        prof.compensate = 1;
        moth_calibrate(&prof);
        prof.lines = MOTH_LINES_USER;
        prof.line_patterns = PyList_New(0);
        for (size_t i = 0; prof.line_patterns && i < nfuncs; i++) {
            PyObject *pat = PyUnicode_FromString(funcs[i]);
            if (!pat || PyList_Append(prof.line_patterns, pat) < 0)
                PyErr_Clear();
            Py_XDECREF(pat);
        }
        moth_cli_run run = {.target = &target, .prof = &prof};
        rc = moth_cli_run_profiled(&run);
        status = run.status;
        moth_target_clear(&target);
        if (rc < 0 || moth_profiler_snapshot(&prof, &profile) < 0) {
            PyErr_Clear();
            moth_profiler_free(&prof);
            return rc < 0 ? 2 : moth_cli_error("out of memory while analysing");
        }
        moth_profiler_free(&prof);
    }
    ranked_finding *found;
    size_t n;
    if (analyse(&profile, min_share, &found, &n) < 0) {
        PyErr_Clear();
        moth_profile_free(&profile);
        return moth_cli_error("out of memory while analysing");
    }
    moth_sb text = MOTH_SB_INIT;
    report(&profile, found, n, (size_t)limit, json, &text);
    moth_cli_out(text.data ? text.data : "", text.len);
    moth_sb_free(&text);
    free(found);
    moth_profile_free(&profile);
    return status;
}
