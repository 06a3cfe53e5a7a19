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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "lines_report.h"
#include "memreport.h"
#include "mothfile.h"
#include "profiler.h"
#include "pstats.h"
#include "process.h"
#include "proctree.h"
#include "pstats_py.h"
#include "subprocs.h"

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
    "  --subprocesses      also profile the Python processes the program starts (os.fork,\n"
    "                      multiprocessing's fork, spawn and forkserver, subprocess running\n"
    "                      Python), with the same options, each as a run of its own in the\n"
    "                      moth file (-o FILE.moth); the table is of every process\n"
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
    int subprocesses;
} profile_options;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

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
        } else if (moth_opt_is(&o, NULL, "--subprocesses")) {
            po->subprocesses = 1;
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
    if (po->subprocesses && (po->memory || po->lines || po->nfuncs))
        return moth_cli_error("--subprocesses profiles time: it does not combine with --memory, "
                              "--lines or --func");
    if (po->subprocesses && po->append)
        return moth_cli_error("--subprocesses writes a new file: it does not combine with --append");
    if (po->subprocesses && po->outfile && !ends_with(po->outfile, ".moth"))
        return moth_cli_error("--subprocesses writes moth's own file, one run per process: "
                              "give -o FILE.moth");
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

/* session: the runs of many processes go into one file (--subprocesses, an MPI job). */
static int write_outfile(const char *outfile, const profile_options *po, const char *session,
                         const moth_profile *profile, const moth_pstats *view)
{
    moth_error err;
    int rc, run;
    if (ends_with(outfile, ".moth") && session)
        rc = moth_mothfile_add_to_session(profile, outfile, session, 1, &run, &err);
    else if (ends_with(outfile, ".moth"))
        rc = po->append ? moth_mothfile_append(profile, outfile, NULL, &err)
                        : moth_mothfile_write(profile, outfile, &err);
    else
        rc = moth_pstats_write_file(view, outfile, &err);
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
    const char *outfile;   /* -o, or with --subprocesses and no -o a file in tmpdir */
    char tmpdir[64];       /* that file's directory, removed at the end ("" when none) */
    const char *how;       /* the process row's: "main" or "mpi" */
    char session[300];     /* --subprocesses' or the MPI job's session ("" when none) */
    int rank;              /* MPI rank, -1 when not an MPI rank */
} profile_command;

/* The pstats view of p for the report; -1 (p freed, the command failed) when memory ran out. */
static int fold_for_report(profile_command *cmd, moth_profile *p, moth_pstats *view)
{
    if (moth_pstats_fold(p, view) == 0)
        return 0;
    PyErr_Clear();
    moth_profile_free(p);
    moth_cli_error("out of memory while building the report");
    cmd->failed = 1;
    return -1;
}

/* The table of every process's run in the file (--subprocesses), and the process tree. */
static void print_all_processes(profile_command *cmd)
{
    const profile_options *po = &cmd->po;
    moth_profile all;
    moth_pstats view;
    moth_error err;
    if (moth_mothfile_read(&all, cmd->outfile, -1, &err) < 0) {
        moth_cli_error("%s", err.msg);
        cmd->failed = 1;
        return;
    }
    if (fold_for_report(cmd, &all, &view) < 0)
        return;
    moth_report_opts ro;
    memset(&ro, 0, sizeof ro);
    moth_sort_spec_parse(&ro.sort, po->sort_keys, po->nsort, &err);
    ro.sorted = 1;
    if (po->limit > 0) {
        ro.restrictions[0].kind = MOTH_RESTRICT_COUNT;
        ro.restrictions[0].count = (size_t)po->limit;
        ro.nrestrictions = 1;
    }
    moth_sb text = MOTH_SB_INIT;
    if (moth_report_stats(&view, &ro, &text, &err) == 0) {
        moth_sb_puts(&text, "\n");
        moth_proctree_render(&all, &text);
        moth_sb_printf(&text, "   moth: %zu process%s, every one's time in the table above",
                       all.nprocesses, all.nprocesses == 1 ? "" : "es");
        if (!cmd->tmpdir[0])
            moth_sb_printf(&text, "; `moth stats --pid PID %s` shows one; processes still "
                                  "running (multiprocessing's helpers) add theirs as they end",
                           cmd->outfile);
        moth_sb_puts(&text, "\n\n");
    }
    if (moth_sb_check(&text, &err) == 0)
        moth_cli_out(text.data, text.len);
    else
        moth_cli_error("%s", err.msg);
    moth_sb_free(&text);
    moth_pstats_free(&view);
    moth_profile_free(&all);
}

static void remove_tmpdir(profile_command *cmd)
{
    if (!cmd->tmpdir[0] || getpid() != cmd->pid)
        return;
    unlink(cmd->outfile);
    rmdir(cmd->tmpdir);
}

/* Prints the table and writes the files asked for (moth_cli_run's report). */
static void report_run(moth_cli_run *run)
{
    profile_command *cmd = run->ctx;
    const profile_options *po = &cmd->po;
    if (getpid() != cmd->pid) {
        /* a child forked by the program ran to its end: the profile is the parent's, and
         * with --subprocesses the child writes its own run */
        moth_subprocs_finish_child();
        return;
    }
    moth_profile profile;
    moth_pstats view;
    if (moth_profiler_snapshot(run->prof, &profile) < 0) {
        PyErr_Clear();
        moth_cli_error("out of memory while building the report");
        cmd->failed = 1;
        return;
    }
    if (fold_for_report(cmd, &profile, &view) < 0)
        return;
    describe_run(&profile, po, cmd->argc, cmd->argv, run->started, run->duration);
    moth_error err;
    if (moth_subprocs_describe_process(&profile, cmd->how, cmd->session[0] ? cmd->session : NULL,
                                       0, &err) < 0) {
        moth_cli_error("%s", err.msg);
        cmd->failed = 1;
    }
    if (cmd->outfile && write_outfile(cmd->outfile, po, cmd->session[0] ? cmd->session : NULL,
                                      &profile, &view) < 0)
        cmd->failed = 1;
    if (po->flame && moth_flame_write(&profile, moth_profile_get_meta(&profile, "command"),
                                      po->flame) != 0)
        cmd->failed = 1;
    if (!po->quiet && po->memory)
        print_memory_report(po, run->prof, &profile);
    else if (!po->quiet && po->subprocesses && !cmd->failed)
        print_all_processes(cmd);
    else if (!po->quiet && cmd->rank <= 0)
        print_report(po, run->prof, &view, &profile);
    if (!po->quiet && cmd->rank == 0 && cmd->outfile && !po->subprocesses) {
        moth_sb note = MOTH_SB_INIT;
        moth_sb_printf(&note, "   moth: MPI rank 0's table; every rank writes its run into %s "
                              "(moth stats --by-rank %s)\n\n", cmd->outfile, cmd->outfile);
        if (moth_sb_check(&note, &err) == 0)
            moth_cli_out(note.data, note.len);
        moth_sb_free(&note);
    }
    moth_pstats_free(&view);
    moth_profile_free(&profile);
    remove_tmpdir(cmd);
}

/* --memory -o FILE.moth: the run so far, saved at each checkpoint (memory_profile.c), so that
 * a process the OOM killer ends still leaves its peak in the file. The run's end replaces it. */
static int save_checkpoint(moth_profile *so_far, void *arg)
{
    moth_cli_run *run = arg;
    profile_command *cmd = run->ctx;
    if (getpid() != cmd->pid)
        return 0;
    double elapsed = run->t0 ? (double)(moth_monotonic_ns() - run->t0) * 1e-9 : 0.0;
    describe_run(so_far, &cmd->po, cmd->argc, cmd->argv, run->started, elapsed);
    char text[32];
    snprintf(text, sizeof text, "%.6f", elapsed);
    moth_error err;
    if (moth_profile_set_meta(so_far, "checkpoint", text, &err) < 0 ||
        moth_subprocs_describe_process(so_far, cmd->how, NULL, 0, &err) < 0)
        return -1;
    return moth_mothfile_write(so_far, cmd->outfile, &err);
}

static const char *getenv_lookup(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

/* Where the runs go and which session they share: an MPI rank's (every rank of the job adds
 * its run to the one file), --subprocesses' (a new session, the file emptied now; without -o a
 * file of its own in a temporary directory). 0, or the exit status after reporting. */
static int plan_output(profile_command *cmd, moth_profiler *prof)
{
    profile_options *po = &cmd->po;
    moth_process mpi;
    moth_process_init(&mpi);
    char *job = NULL;
    moth_error err;
    cmd->how = "main";
    cmd->rank = -1;
    cmd->outfile = po->outfile;
    int is_mpi = moth_process_mpi(&mpi, getenv_lookup, NULL, &job, &err);
    if (is_mpi < 0)
        return moth_cli_error("%s", err.msg);
    if (is_mpi && cmd->outfile && ends_with(cmd->outfile, ".moth") && !po->append) {
        /* ranks of one job share a session; without the launcher's job id, the ranks that
         * share a launcher (its pid) and size */
        cmd->how = "mpi";
        cmd->rank = mpi.rank;
        if (job)
            snprintf(cmd->session, sizeof cmd->session, "mpi:%s", job);
        else
            snprintf(cmd->session, sizeof cmd->session, "mpi:%ld:%d", (long)getppid(), mpi.size);
    }
    free(job);
    if (!po->subprocesses) {
        moth_subprocs_parent_only(prof);
        return 0;
    }
    if (!cmd->outfile) {
        const char *dir = getenv("TMPDIR");
        snprintf(cmd->tmpdir, sizeof cmd->tmpdir, "%s/moth-XXXXXX",
                 dir && *dir && strlen(dir) < 40 ? dir : "/tmp");
        if (!mkdtemp(cmd->tmpdir)) {
            cmd->tmpdir[0] = '\0';
            return moth_cli_error("cannot make a temporary directory for the processes' runs");
        }
        static char path[128];
        snprintf(path, sizeof path, "%s/run.moth", cmd->tmpdir);
        cmd->outfile = path;
    }
    moth_subprocs_opts o = {po->builtins, po->clock, po->raw_times, cmd->rank >= 0};
    if (cmd->rank < 0) {
        moth_subprocs_new_session(cmd->session, sizeof cmd->session);
        if (moth_mothfile_start_session(cmd->outfile, cmd->session, &err) < 0)
            return moth_cli_error("%s", err.msg);
    }
    if (moth_subprocs_start(prof, cmd->outfile, cmd->session, &o, &err) < 0)
        return moth_cli_error("%s", err.msg);
    return 0;
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
    a->cmd.outfile = a->cmd.po.outfile;
    a->cmd.how = "main";
    a->cmd.rank = -1;
    if (!rc && a->cmd.po.subprocesses)
        rc = moth_cli_error("--subprocesses profiles a program moth starts, not one it attaches to");
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
    a->run.started = moth_unix_time();
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
        if (check.subprocesses)
            return moth_cli_error("--subprocesses profiles a program moth starts, not one it "
                                  "attaches to");
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
    if ((rc = plan_output(&cmd, &prof)) != 0) {
        remove_tmpdir(&cmd);
        moth_profiler_free(&prof);
        moth_target_clear(&target);
        return rc;
    }
    moth_cli_run run = {.target = &target, .prof = &prof, .report = report_run, .ctx = &cmd};
    if (po->memory && cmd.outfile && ends_with(cmd.outfile, ".moth") && !po->append &&
        !cmd.session[0]) {
        prof.memory_checkpoint = save_checkpoint;
        prof.memory_checkpoint_arg = &run;
    }
    if (moth_cli_run_profiled(&run) < 0) {
        remove_tmpdir(&cmd);
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
