/*
 * cli_profile.c: `moth profile`, cProfile's job at a fraction of its cost.
 *
 *   moth profile [options] (script.py [args] | -m module [args] | -c code [args])
 *
 * Runs the program exactly as python would (runner.c) with the profiler on for every thread,
 * then prints cProfile's table and writes the files asked for, whatever way the program ended.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "lines_report.h"
#include "memreport.h"
#include "mothfile.h"
#include "profiler.h"
#include "pstats.h"
#include "pstats_py.h"

static const char HELP[] =
    "usage: moth profile [options] (script.py [args] | -m module [args] | -c code [args])\n"
    "       moth profile -p PID [--duration S] [options]\n"
    "\n"
    "Run a program under moth's deterministic profiler (every thread) and print cProfile's\n"
    "table when it ends, however it ends. With -p, profile a running program instead (3.11-\n"
    "3.13): the profiler is put into it until Ctrl-C or S seconds, then taken out.\n"
    "\n"
    "options:\n"
    "  -p, --pid PID       attach to running process PID (same user, or ptrace allowed)\n"
    "  --duration S        with -p: stop after S seconds (default: at Ctrl-C)\n"
    "  -o, --outfile FILE  also write the profile: FILE.moth is moth's own file (SQLite:\n"
    "                      every thread's calling-context tree and the run's details);\n"
    "                      any other name gets the pstats format (pstats, snakeviz and\n"
    "                      gprof2dot read it)\n"
    "  --append            with -o FILE.moth: add this run to the file's runs\n"
    "  --flame FILE.html   also draw the interactive flame graph (one self-contained file)\n"
    "  --lines             also profile line by line the program's own code (not the standard\n"
    "                      library or installed packages) and print it as line_profiler does\n"
    "  --func PATTERN      line-profile the functions whose qualified name (Class.method) or\n"
    "                      module.qualname matches the fnmatch PATTERN; may be repeated\n"
    "  -s, --sort KEY      sort the table by KEY (any pstats key: tottime, cumulative, calls,\n"
    "                      ncalls, pcalls, filename, name, line, nfl, stdname, ...); may be\n"
    "                      given more than once; default: tottime\n"
    "  --limit N           print the first N rows (default 30; 0 prints every row)\n"
    "  --clock wall|cpu    time by the wall clock (default) or the threads' CPU time\n"
    "  --builtins          list C functions (len, list.append, ...) as rows of their own, as\n"
    "                      cProfile does; slower. By default their time is counted in the\n"
    "                      Python function that called them.\n"
    "  --raw-times         report times as measured, without subtracting what recording a\n"
    "                      call costs (measured at start-up)\n"
    "  --memory            profile memory instead of time: every allocation (Python's\n"
    "                      allocators and native malloc/mmap of C extensions) by call path\n"
    "                      and line; prints what was held at the peak, what was still held\n"
    "                      at the end (leaks) and what was allocated in total\n"
    "  --leaks             with --memory: order by what was still held at the end\n"
    "  --memory-sample BYTES\n"
    "                      with --memory: sample one allocation per BYTES allocated on\n"
    "                      average (e.g. 512KiB): estimates, at a fraction of the cost\n"
    "  -q, --quiet         print no table (with -o)\n"
    "  -h, --help          show this help\n";

typedef struct profile_options {
    const char *outfile;
    const char *sort_keys[MOTH_SORT_MAX_KEYS];
    size_t nsort;
    long limit;
    moth_clock_kind clock;
    int builtins;
    int quiet;
    int raw_times;
    int append;
    const char *flame;
    int lines;
    const char *funcs[32];
    size_t nfuncs;
    int memory;
    int leaks;
    uint64_t memory_sample;
} profile_options;

/* Parses the options and the program; with target NULL (the half of `moth profile -p` inside
 * the target) there is no program to name. */
static int parse(int argc, char **argv, profile_options *po, moth_target *target)
{
    memset(po, 0, sizeof *po);
    po->limit = 30;
    po->clock = MOTH_CLOCK_CYCLES;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i];
        const char *v;
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 1;
        } else if (moth_opt_is(&o, "-o", "--outfile")) {
            if (!(po->outfile = moth_opt_value(&o, "--outfile")))
                return 2;
        } else if (moth_opt_is(&o, "-s", "--sort")) {
            if (!(v = moth_opt_value(&o, "--sort")))
                return 2;
            if (po->nsort == MOTH_SORT_MAX_KEYS)
                return moth_cli_error("too many sort keys (at most %d)", MOTH_SORT_MAX_KEYS);
            po->sort_keys[po->nsort++] = v;
        } else if (moth_opt_is(&o, NULL, "--limit")) {
            if (!(v = moth_opt_value(&o, "--limit")) || (po->limit = moth_opt_count(v, "--limit")) < 0)
                return 2;
        } else if (moth_opt_is(&o, NULL, "--clock")) {
            if (!(v = moth_opt_value(&o, "--clock")))
                return 2;
            if (strcmp(v, "wall") == 0)
                po->clock = MOTH_CLOCK_CYCLES;
            else if (strcmp(v, "cpu") == 0)
                po->clock = MOTH_CLOCK_CPU;
            else
                return moth_cli_error("--clock takes 'wall' or 'cpu', not '%s'", v);
        } else if (moth_opt_is(&o, NULL, "--builtins")) {
            po->builtins = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--lines")) {
            po->lines = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--func")) {
            if (!(v = moth_opt_value(&o, "--func")))
                return 2;
            if (po->nfuncs == 32)
                return moth_cli_error("too many --func patterns (at most 32)");
            po->funcs[po->nfuncs++] = v;
        } else if (moth_opt_is(&o, NULL, "--flame")) {
            if (!(po->flame = moth_opt_value(&o, "--flame")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--memory-sample")) {
            if (!(v = moth_opt_value(&o, "--memory-sample")))
                return 2;
            moth_error err;
            if (moth_parse_bytes(v, &po->memory_sample, &err) < 0 || po->memory_sample == 0)
                return moth_cli_error("--memory-sample takes a size in bytes above 0 (e.g. "
                                      "512KiB), not '%s'", v);
            po->memory = 1;
        } else if (moth_opt_is(&o, NULL, "--memory")) {
            po->memory = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--leaks")) {
            po->leaks = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--append")) {
            po->append = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--raw-times")) {
            po->raw_times = 1;
            o.i++;
        } else if (moth_opt_is(&o, "-q", "--quiet")) {
            po->quiet = 1;
            o.i++;
        } else if (strcmp(a, "--") == 0) {
            o.i++;
            break;
        } else if (a[0] == '-' && a[1] != '\0' && strcmp(a, "-m") != 0 && strcmp(a, "-c") != 0) {
            return moth_cli_error("unknown option '%s' for 'moth profile' (try 'moth profile --help')", a);
        } else {
            break;
        }
    }
    if (!target && o.i < argc)
        return moth_cli_error("moth profile -p takes no program ('%s')", argv[o.i]);
    if (target && o.i >= argc)
        return moth_cli_error("profile what? give a script, -m module or -c code (try 'moth profile --help')");
    if (po->leaks && !po->memory)
        return moth_cli_error("--leaks goes with --memory");
    if (po->memory && (po->builtins || po->lines || po->nfuncs))
        return moth_cli_error("--memory does not combine with --builtins, --lines or --func");
    if (po->memory) {
        /* -s/--sort names a memory measure here */
        moth_mem_measure measure;
        moth_error err;
        for (size_t i = 0; i < po->nsort; i++)
            if (moth_mem_measure_parse(po->sort_keys[i], &measure, &err) < 0)
                return moth_cli_error("%s", err.msg);
        return target ? moth_opt_target(&o, target) : 0;
    }
    if (po->nsort == 0)
        po->sort_keys[po->nsort++] = "tottime";
    if ((po->lines || po->nfuncs) && po->builtins)
        return moth_cli_error("--lines and --func work in the default mode, not with --builtins");
    moth_sort_spec check;
    moth_error err;
    if (moth_sort_spec_parse(&check, po->sort_keys, po->nsort, &err) < 0)
        return moth_cli_error("%s", err.msg);
    return target ? moth_opt_target(&o, target) : 0;
}

static const char *clock_name(moth_clock_kind k)
{
    return k == MOTH_CLOCK_CPU ? "cpu" : "wall";
}

/* How sure the times are: what recording the calls cost, subtracted, and how well calibration
 * knows that cost (the spread of its rounds), as it bears on the times left. */
static void describe_certainty(const moth_profile *p, moth_sb *out)
{
    const char *measured = moth_profile_get_meta(p, "measured_seconds");
    const char *cost = moth_profile_get_meta(p, "recording_cost_seconds");
    const char *spread = moth_profile_get_meta(p, "recording_cost_spread");
    if (!measured || !cost || !spread)
        return;
    double m = atof(measured), c = atof(cost), s = atof(spread);
    if (m <= 0 || c <= 0 || m - c <= 0)
        return;
    moth_sb_printf(out, "   moth: %.3f s of the %.3f s measured was moth's own recording, subtracted; its\n"
                        "         calibration's rounds spread +-%.0f%%, which moves these times by +-%.0f%%\n",
                   c, m, 100 * s, 100 * s * c / (m - c));
}

/* Prints the table and a line on how it was measured. */
static int print_report(const profile_options *po, moth_profiler *prof, const moth_pstats *view,
                        const moth_profile *profile_lines)
{
    moth_report_opts ro;
    memset(&ro, 0, sizeof ro);
    moth_error err;
    if (moth_sort_spec_parse(&ro.sort, po->sort_keys, po->nsort, &err) < 0)
        return moth_cli_error("%s", err.msg);
    ro.sorted = 1;
    if (po->limit > 0) {
        ro.restrictions[0].kind = MOTH_RESTRICT_COUNT;
        ro.restrictions[0].count = (size_t)po->limit;
        ro.nrestrictions = 1;
    }
    moth_sb text = MOTH_SB_INIT;
    if (moth_report_stats(view, &ro, &text, &err) < 0) {
        moth_sb_free(&text);
        return moth_cli_error("%s", err.msg);
    }
    size_t threads = 0;
    for (size_t i = 0; i < prof->nthreads; i++)
        threads += prof->threads[i]->tree.count > 1;
    if (profile_lines && profile_lines->lines.count) {
        moth_sb_puts(&text, "\n");
        moth_lines_report(profile_lines, po->limit > 0 ? (size_t)po->limit : 0,
                          moth_cli_colour(), &text, &err);
    }
    moth_sb_printf(&text, "   moth: %zu thread%s, %s clock; %s\n", threads,
                   threads == 1 ? "" : "s", clock_name(prof->clock),
                   po->builtins ? "C functions listed as their own rows (--builtins)"
                                : "time in C functions counted in their callers (--builtins lists them)");
    describe_certainty(profile_lines, &text);
    moth_sb_putc(&text, '\n');
    int rc = moth_sb_check(&text, &err) == 0 ? moth_cli_out(text.data, text.len) : -1;
    moth_sb_free(&text);
    return rc;
}

/* The memory profile's report (--memory). */
static int print_memory_report(const profile_options *po, moth_profiler *prof,
                               const moth_profile *profile)
{
    moth_memreport_opts mo = {MOTH_MEM_PEAK, po->limit > 0 ? (size_t)po->limit : 0, 0};
    moth_error err;
    if (po->leaks)
        mo.order = MOTH_MEM_LEAKED;
    else if (po->nsort)
        moth_mem_measure_parse(po->sort_keys[0], &mo.order, &err);
    moth_sb text = MOTH_SB_INIT;
    if (moth_memory_report(profile, &mo, &text, &err) < 0) {
        moth_sb_free(&text);
        return moth_cli_error("%s", err.msg);
    }
    size_t threads = 0;
    for (size_t i = 0; i < prof->nthreads; i++)
        threads += prof->threads[i]->tree.count > 1;
    char own[32];
    moth_format_bytes(own, sizeof own, (double)profile->memory.own_bytes);
    moth_sb_printf(&text, "   moth: %zu thread%s; %s; moth's own tables: %s\n\n", threads,
                   threads == 1 ? "" : "s",
                   po->memory_sample ? "allocations sampled by bytes"
                                     : "every allocation recorded (Python's and native)",
                   own);
    int rc = moth_sb_check(&text, &err) == 0 ? moth_cli_out(text.data, text.len) : -1;
    moth_sb_free(&text);
    return rc;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int write_outfile(const profile_options *po, const moth_profile *profile,
                         const moth_pstats *view)
{
    moth_error err;
    int rc;
    if (ends_with(po->outfile, ".moth"))
        rc = po->append ? moth_mothfile_append(profile, po->outfile, NULL, &err)
                        : moth_mothfile_write(profile, po->outfile, &err);
    else
        rc = moth_pstats_write_file(view, po->outfile, &err);
    if (rc < 0) {
        moth_cli_error("%s", err.msg);
        return -1;
    }
    return 0;
}

/* What a moth file keeps about the run (docs/moth-file.md). */
static void describe_run(moth_profile *p, const profile_options *po, int argc, char **argv,
                         double started, double duration)
{
    moth_sb cmd = MOTH_SB_INIT;
    for (int i = 0; i < argc; i++)
        moth_sb_printf(&cmd, "%s%s", i ? " " : "moth profile ", argv[i]);
    char text[128];
    moth_profile_set_meta(p, "command", cmd.data ? cmd.data : "moth profile", NULL);
    moth_sb_free(&cmd);
    PyObject *argv_obj = PySys_GetObject("argv"); /* the program's, still in place */
    PyObject *repr = argv_obj ? PyObject_Repr(argv_obj) : NULL;
    const char *argv_text = repr ? PyUnicode_AsUTF8(repr) : NULL;
    moth_profile_set_meta(p, "argv", argv_text ? argv_text : "", NULL);
    Py_XDECREF(repr);
    PyErr_Clear();
    moth_profile_set_meta(p, "python", Py_GetVersion(), NULL);
    moth_profile_set_meta(p, "clock", po->memory ? "none (memory)"
                                      : po->clock == MOTH_CLOCK_CPU ? "cpu" : "wall", NULL);
    moth_profile_set_meta(p, "mode", po->builtins ? "builtins (profile hook)"
                                                  : "frames (frame evaluation)", NULL);
    snprintf(text, sizeof text, "%.6f", started);
    moth_profile_set_meta(p, "start", text, NULL);
    time_t t = (time_t)started;
    struct tm tm;
    if (localtime_r(&t, &tm)) {
        strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S%z", &tm);
        moth_profile_set_meta(p, "start_local", text, NULL);
    }
    snprintf(text, sizeof text, "%.6f", duration);
    moth_profile_set_meta(p, "duration", text, NULL);
    moth_profile_set_meta(p, "moth_version", MOTH_VERSION, NULL);
    if (gethostname(text, sizeof text) == 0) {
        text[sizeof text - 1] = '\0';
        moth_profile_set_meta(p, "host", text, NULL);
    }
    snprintf(text, sizeof text, "%ld", (long)getpid());
    moth_profile_set_meta(p, "pid", text, NULL);
    moth_profile_set_meta(p, "times", po->raw_times ? "as measured"
                                                    : "measured cost of recording subtracted", NULL);
    if (po->memory)
        moth_profile_set_meta(p, "memory", po->memory_sample ? "sampled" : "every allocation",
                              NULL);
}

/* What the report needs besides the run itself. */
typedef struct profile_command {
    profile_options po;
    int argc;
    char **argv;
    int failed;     /* a file could not be written */
    pid_t pid;      /* the process that started the program */
} profile_command;

/* Prints the table and writes the files asked for (moth_cli_run's report). */
static void report_run(moth_cli_run *run)
{
    profile_command *cmd = run->ctx;
    const profile_options *po = &cmd->po;
    if (getpid() != cmd->pid)
        return; /* a child forked by the program ran to its end: the profile is the parent's */
    moth_profile profile;
    moth_pstats view;
    if (moth_profiler_snapshot(run->prof, &profile) < 0) {
        PyErr_Clear();
        moth_cli_error("out of memory while building the report");
        cmd->failed = 1;
        return;
    }
    if (moth_pstats_fold(&profile, &view) < 0) {
        PyErr_Clear();
        moth_profile_free(&profile);
        moth_cli_error("out of memory while building the report");
        cmd->failed = 1;
        return;
    }
    describe_run(&profile, po, cmd->argc, cmd->argv, run->started, run->duration);
    if (po->outfile && write_outfile(po, &profile, &view) < 0)
        cmd->failed = 1;
    if (po->flame && moth_flame_write(&profile, moth_profile_get_meta(&profile, "command"),
                                      po->flame) != 0)
        cmd->failed = 1;
    if (!po->quiet && po->memory)
        print_memory_report(po, run->prof, &profile);
    else if (!po->quiet)
        print_report(po, run->prof, &view, &profile);
    moth_pstats_free(&view);
    moth_profile_free(&profile);
}

/* Sets up a profiler for po (not enabled); -1 after reporting. */
static int setup_profiler(const profile_options *po, moth_profiler *prof)
{
    /* memory profiling reads no clock: the tree is there for the call paths */
    if (moth_profiler_init(prof, po->builtins ? MOTH_MODE_CLASSIC : MOTH_MODE_FRAMES,
                           po->memory ? MOTH_CLOCK_NONE : po->clock, NULL, 0.0, po->builtins,
                           1) < 0) {
        moth_cli_error("cannot start the profiler");
        return -1;
    }
    if (po->memory) {
        prof->memory = 1;
        prof->memory_sample = po->memory_sample;
    } else if (!po->raw_times) {
        prof->compensate = 1;
        moth_calibrate(prof);
    }
    if (po->lines || po->nfuncs) {
        prof->lines = po->lines ? MOTH_LINES_USER : MOTH_LINES_SELECTED;
        prof->line_patterns = PyList_New(0);
        for (size_t i = 0; prof->line_patterns && i < po->nfuncs; i++) {
            PyObject *pat = PyUnicode_FromString(po->funcs[i]);
            if (!pat || PyList_Append(prof->line_patterns, pat) < 0)
                PyErr_Clear();
            Py_XDECREF(pat);
        }
    }
    return 0;
}

/* `moth profile -p PID`: the session inside the target (attach_agent.c). */
typedef struct attach_profile {
    profile_command cmd;
    moth_profiler prof;
    moth_cli_run run;
} attach_profile;

int moth_profile_attach_start(int argc, char **argv, void **session)
{
    attach_profile *a = PyMem_RawCalloc(1, sizeof *a);
    if (!a)
        return moth_cli_error("out of memory");
    a->cmd.argc = argc;
    a->cmd.argv = argv;
    a->cmd.pid = getpid();
    int rc = parse(argc, argv, &a->cmd.po, NULL);
    if (rc || setup_profiler(&a->cmd.po, &a->prof) < 0) {
        PyMem_RawFree(a);
        return rc ? rc : 2;
    }
    a->run.prof = &a->prof;
    a->run.ctx = &a->cmd;
    if (moth_profiler_enable(&a->prof) < 0) {
        PyErr_Clear();
        moth_profiler_free(&a->prof);
        PyMem_RawFree(a);
        return moth_cli_error("cannot start the profiler in the program: another profiler "
                              "runs there");
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    a->run.started = (double)wall.tv_sec + (double)wall.tv_nsec * 1e-9;
    a->run.t0 = moth_monotonic_ns();
    *session = a;
    return 0;
}

static void report_run(moth_cli_run *run);

int moth_profile_attach_finish(void *session)
{
    attach_profile *a = session;
    moth_profiler_disable(&a->prof);
    a->run.duration = (double)(moth_monotonic_ns() - a->run.t0) * 1e-9;
    report_run(&a->run);
    int failed = a->cmd.failed;
    moth_profiler_free(&a->prof);
    PyMem_RawFree(a);
    return failed;
}

/* Takes -p PID and --duration S out of argv; *pid 0 when there is no -p. */
static int take_attach_options(int *argc, char **argv, long *pid, double *duration)
{
    *pid = 0;
    *duration = 0;
    int out = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i];
        static const char *const with_value[] = {"-o", "--outfile", "-s", "--sort", "--limit",
                                                 "--clock", "--func", "--flame",
                                                 "--memory-sample", NULL};
        int takes_value = 0;
        for (int k = 0; with_value[k]; k++)
            takes_value |= strcmp(a, with_value[k]) == 0;
        if (strcmp(a, "--") == 0 || a[0] != '-' || strcmp(a, "-m") == 0 ||
            strcmp(a, "-c") == 0) {
            /* the program starts here: its arguments are its own */
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (takes_value && i + 1 < *argc) {
            argv[out++] = argv[i++];
            argv[out++] = argv[i];
            continue;
        }
        int is_pid = strcmp(a, "-p") == 0 || strcmp(a, "--pid") == 0;
        int is_dur = strcmp(a, "--duration") == 0;
        if (is_pid || is_dur) {
            if (i + 1 >= *argc)
                return moth_cli_error("option %s needs a value", a);
            char *end;
            const char *v = argv[++i];
            if (is_pid) {
                *pid = strtol(v, &end, 10);
                if (*end || *pid <= 0)
                    return moth_cli_error("-p takes a process id, not '%s'", v);
            } else {
                *duration = strtod(v, &end);
                if (*end || !(*duration > 0))
                    return moth_cli_error("--duration takes seconds above 0, not '%s'", v);
            }
            continue;
        }
        argv[out++] = argv[i];
    }
    *argc = out;
    if (*duration > 0 && !*pid)
        return moth_cli_error("--duration goes with -p PID");
    return 0;
}

int moth_cmd_profile(int argc, char **argv)
{
    long attach_pid;
    double duration;
    int taken = take_attach_options(&argc, argv, &attach_pid, &duration);
    if (taken)
        return taken;
    if (attach_pid) {
        profile_options check;
        int bad = parse(argc, argv, &check, NULL); /* bad options fail before attaching */
        if (bad)
            return bad == 1 ? 0 : bad;
        return moth_attach_command("profile", attach_pid, duration, argc, argv);
    }
    profile_command cmd = {.argc = argc, .argv = argv};
    profile_options *po = &cmd.po;
    moth_target target;
    int rc = parse(argc, argv, po, &target);
    if (rc)
        return rc == 1 ? 0 : rc;

    int status;
    if (moth_cli_prepare(&target, &status) < 0)
        return status;

    moth_profiler prof;
    if (setup_profiler(po, &prof) < 0) {
        moth_target_clear(&target);
        return 2;
    }
    cmd.pid = getpid();
    moth_cli_run run = {.target = &target, .prof = &prof, .report = report_run, .ctx = &cmd};
    if (moth_cli_run_profiled(&run) < 0) {
        moth_profiler_free(&prof);
        moth_target_clear(&target);
        return 2;
    }
    report_run(&run);
    moth_cli_run_end(&run);
    moth_target_clear(&target);
    moth_profiler_free(&prof);
    return run.status ? run.status : cmd.failed;
}
