/*
 * cli_stats.c: `moth stats FILE...`, pstats' reports for moth and pstats files.
 *
 *   moth stats [options] FILE...        print the table (or callers/callees) and exit
 *   moth stats -i [FILE...]             the interactive browser of `python -m pstats`
 *
 * Files are moth's own (SQLite) or any pstats file (cProfile, profile, pstats.dump_stats);
 * several are added together as pstats.Stats(a, b, ...) does. The output is pstats' own, byte
 * for byte, given the same sort, restrictions and strip_dirs.
 */
#include "cli.h"

#include "mothfile.h"

#include <stdlib.h>
#include <string.h>

#include "lines_report.h"
#include "loadfile.h"
#include "memreport.h"
#include "proctree.h"
#include "pstats.h"
#include "rank_report.h"

static const char HELP[] =
    "usage: moth stats [options] FILE...\n"
    "\n"
    "Print pstats' report of profile files: moth's own (.moth) or pstats files written by\n"
    "moth, cProfile, profile or pstats. Several files are added together.\n"
    "\n"
    "options:\n"
    "  -s, --sort KEY      sort by KEY (calls, cumulative, cumtime, filename, line, module,\n"
    "                      name, ncalls, nfl, pcalls, stdname, time, tottime, or a unique\n"
    "                      prefix); repeat for ties; default: cumulative\n"
    "  --limit N           print the first N rows (default 30; 0 prints every row)\n"
    "  --filter REGEX      keep rows whose file:line(function) matches REGEX (POSIX extended)\n"
    "  --strip-dirs        drop directories from file names (pstats' strip_dirs)\n"
    "  --reverse           reverse the sorted order\n"
    "  --callers           who called each function (pstats' print_callers)\n"
    "  --callees           what each function called (pstats' print_callees)\n"
    "  --run N             read run N of a moth file holding several (default: all, merged)\n"
    "  --pid PID           read the run of process PID of a moth file of many processes\n"
    "                      (moth profile --subprocesses, MPI ranks); the table of a file of\n"
    "                      several processes is followed by their tree\n"
    "  --by-rank           each function's time across the MPI ranks of a moth file (min,\n"
    "                      median, max, the slowest rank); -s cumulative ranks by cumulative\n"
    "  --lines             the line-by-line report of moth files made with --lines\n"
    "  --memory            the memory report of moth files made with --memory (-s peak,\n"
    "                      leaks or allocated orders it; default peak)\n"
    "  --leaks             the memory report ordered by what was still held at the end\n"
    "  -i, --interactive   browse interactively, with pstats' browser commands\n"
    "  -h, --help          show this help\n";

typedef struct stats_options {
    const char *sort_keys[MOTH_SORT_MAX_KEYS];
    size_t nsort;
    long limit;
    const char *filters[MOTH_MAX_RESTRICTIONS];
    size_t nfilters;
    int strip, reverse, callers, callees, interactive, lines, memory;
    moth_mem_measure measure;
    int run;
    int64_t pid;    /* --pid, 0: every process */
    int sorted;     /* -s given (before the default is filled in) */
    int by_rank;
    char **files;
    int nfiles;
} stats_options;

int moth_cmd_stats_interactive(char **files, int nfiles, int run);

static int parse(int argc, char **argv, stats_options *so)
{
    memset(so, 0, sizeof *so);
    so->limit = 30;
    so->run = -1;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i], *v;
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 1;
        } else if (moth_opt_is(&o, "-s", "--sort")) {
            if (!(v = moth_opt_value(&o, "--sort")))
                return 2;
            if (so->nsort == MOTH_SORT_MAX_KEYS)
                return moth_cli_error("too many sort keys (at most %d)", MOTH_SORT_MAX_KEYS);
            so->sort_keys[so->nsort++] = v;
        } else if (moth_opt_is(&o, NULL, "--limit")) {
            if (!(v = moth_opt_value(&o, "--limit")) || (so->limit = moth_opt_count(v, "--limit")) < 0)
                return 2;
        } else if (moth_opt_is(&o, NULL, "--filter")) {
            if (!(v = moth_opt_value(&o, "--filter")))
                return 2;
            if (so->nfilters == MOTH_MAX_RESTRICTIONS - 1)
                return moth_cli_error("too many filters");
            so->filters[so->nfilters++] = v;
        } else if (moth_opt_is(&o, NULL, "--run")) {
            long r;
            if (!(v = moth_opt_value(&o, "--run")) || (r = moth_opt_count(v, "--run")) < 0)
                return 2;
            so->run = (int)r;
        } else if (moth_opt_is(&o, NULL, "--pid")) {
            long pid;
            if (!(v = moth_opt_value(&o, "--pid")) || (pid = moth_opt_count(v, "--pid")) < 0)
                return 2;
            if (pid == 0)
                return moth_cli_error("--pid takes a process id above 0");
            so->pid = pid;
        } else if (moth_opt_is(&o, NULL, "--by-rank")) {
            so->by_rank = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--strip-dirs")) {
            so->strip = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--reverse")) {
            so->reverse = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--lines")) {
            so->lines = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--memory")) {
            so->memory = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--leaks")) {
            so->memory = 1;
            so->measure = MOTH_MEM_LEAKED;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--callers")) {
            so->callers = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--callees")) {
            so->callees = 1;
            o.i++;
        } else if (moth_opt_is(&o, "-i", "--interactive")) {
            so->interactive = 1;
            o.i++;
        } else if (strcmp(a, "--") == 0) {
            o.i++;
            break;
        } else if (a[0] == '-' && a[1]) {
            return moth_cli_error("unknown option '%s' for 'moth stats' (try 'moth stats --help')", a);
        } else {
            break;
        }
    }
    so->files = argv + o.i;
    so->nfiles = argc - o.i;
    if (so->nfiles == 0 && !so->interactive)
        return moth_cli_error("which profile? give one or more files (try 'moth stats --help')");
    if (so->callers && so->callees)
        return moth_cli_error("--callers and --callees: pick one");
    if ((so->pid || so->by_rank) && (so->interactive || so->lines || so->memory))
        return moth_cli_error("--pid and --by-rank go with the table, not with -i, --lines or "
                              "--memory");
    if (so->by_rank && (so->pid || so->callers || so->callees))
        return moth_cli_error("--by-rank is a table of its own: without --pid, --callers or "
                              "--callees");
    moth_error err;
    if (so->memory) {
        if (so->nsort && moth_mem_measure_parse(so->sort_keys[0], &so->measure, &err) < 0)
            return moth_cli_error("%s", err.msg);
        return 0;
    }
    so->sorted = so->nsort > 0;
    if (so->nsort == 0)
        so->sort_keys[so->nsort++] = "cumulative";
    moth_sort_spec check;
    if (moth_sort_spec_parse(&check, so->sort_keys, so->nsort, &err) < 0)
        return moth_cli_error("%s", err.msg);
    return 0;
}

static int load_all(char **files, int nfiles, int run, int64_t pid, moth_pstats *out);

int moth_stats_load_all(char **files, int nfiles, int run, moth_pstats *out)
{
    return load_all(files, nfiles, run, 0, out);
}

/* As moth_stats_load_all, keeping only process `pid` of each file (0: every process). */
static int load_all(char **files, int nfiles, int run, int64_t pid, moth_pstats *out)
{
    /* pstats.Stats(a, b, c): a first, then add(b, c), which adds in reverse order. */
    moth_pstats_init(out);
    for (int k = 0; k < nfiles; k++) {
        int i = k == 0 ? 0 : nfiles - k;
        moth_loaded one;
        moth_error err;
        if (moth_load_profile_file(files[i], run, &one, &err) < 0) {
            moth_pstats_free(out);
            return moth_cli_error("%s", err.msg);
        }
        if (pid && moth_loaded_keep_pid(&one, files[i], pid, &err) < 0) {
            moth_loaded_free(&one);
            moth_pstats_free(out);
            return moth_cli_error("%s", err.msg);
        }
        int rc = 0;
        if (nfiles == 1) { /* nothing to add to: take the view as it is */
            moth_pstats_free(out);
            *out = one.view;
            moth_pstats_init(&one.view);
        } else {
            rc = moth_pstats_add(out, &one.view, &err);
        }
        moth_loaded_free(&one);
        if (rc < 0) {
            moth_pstats_free(out);
            return moth_cli_error("%s", err.msg);
        }
    }
    return 0;
}

/* For a moth file recorded by sampling (moth record): its tick length and the line above its
 * table, so it prints as moth record printed it; *tick stays 0 for any other file. -1 after
 * reporting when the file cannot be read. */
static int sampled_summary(const char *path, int run, double *tick, char *summary, size_t size)
{
    if (!moth_mothfile_sniff(path))
        return 0;
    moth_profile p;
    moth_error err;
    if (moth_mothfile_read(&p, path, run, &err) < 0) {
        moth_cli_error("%s", err.msg);
        return -1;
    }
    const char *clock = moth_profile_get_meta(&p, "clock");
    const char *duration = moth_profile_get_meta(&p, "duration");
    if (clock && strcmp(clock, "samples") == 0 && p.tick_seconds > 0) {
        /* every run's samples (the metadata is the first run's) */
        unsigned long long samples = 0;
        for (size_t t = 0; t < p.nthreads; t++)
            for (size_t n = 0; n < p.threads[t].tree.count; n++)
                samples += p.threads[t].tree.nodes[n].own_samples;
        *tick = p.tick_seconds;
        snprintf(summary, size, "%llu samples of %zu thread%s in %.3f seconds", samples,
                 p.nthreads, p.nthreads == 1 ? "" : "s", duration ? atof(duration) : 0.0);
    }
    moth_profile_free(&p);
    return 0;
}

/* A report that only moth files hold (--lines, --memory): each file's, in turn. `has` tells
 * whether a file holds the data; `what` and `how` complete the message when it does not. */
typedef int (*file_report)(const stats_options *so, const moth_profile *p, moth_sb *out,
                           moth_error *err);

static int print_each_file(const stats_options *so, int (*has)(const moth_profile *),
                           const char *what, const char *how, file_report report)
{
    int status = 0;
    for (int i = 0; i < so->nfiles; i++) {
        moth_loaded l;
        moth_error err;
        if (moth_load_profile_file(so->files[i], so->run, &l, &err) < 0)
            return moth_cli_error("%s", err.msg);
        if (!l.has_tree || !has(&l.profile)) {
            status = moth_cli_error("%s has no %s data: profile with 'moth profile %s -o "
                                    "FILE.moth'", so->files[i], what, how);
            moth_loaded_free(&l);
            continue;
        }
        moth_sb text = MOTH_SB_INIT;
        if (report(so, &l.profile, &text, &err) < 0)
            status = moth_cli_error("%s", err.msg);
        else
            moth_cli_out(text.data, text.len);
        moth_sb_free(&text);
        moth_loaded_free(&l);
    }
    return status;
}

static int has_lines(const moth_profile *p)
{
    return p->lines.count != 0;
}

static int lines_report(const stats_options *so, const moth_profile *p, moth_sb *out,
                        moth_error *err)
{
    return moth_lines_report(p, (size_t)so->limit, moth_cli_colour(), out, err);
}

static int has_memory(const moth_profile *p)
{
    return p->memory.recorded;
}

static int memory_report(const stats_options *so, const moth_profile *p, moth_sb *out,
                         moth_error *err)
{
    moth_memreport_opts mo = {so->measure, (size_t)so->limit, so->strip};
    return moth_memory_report(p, &mo, out, err);
}

/* --by-rank: each file's spread across its MPI ranks. */
static int print_by_rank(const stats_options *so)
{
    int status = 0;
    int cumulative = so->sorted && strncmp(so->sort_keys[0], "cum", 3) == 0;
    for (int i = 0; i < so->nfiles; i++) {
        moth_loaded l;
        moth_error err;
        if (moth_load_profile_file(so->files[i], so->run, &l, &err) < 0)
            return moth_cli_error("%s", err.msg);
        moth_sb text = MOTH_SB_INIT;
        if (!l.has_tree)
            status = moth_cli_error("%s is a pstats file: it keeps no MPI ranks (mpirun -n N "
                                    "moth profile -o FILE.moth prog.py keeps them)", so->files[i]);
        else if (moth_rank_report(&l.profile, (size_t)so->limit, cumulative, &text, &err) < 0)
            status = moth_cli_error("%s: %s", so->files[i], err.msg);
        else
            moth_cli_out(text.data, text.len);
        moth_sb_free(&text);
        moth_loaded_free(&l);
    }
    return status;
}

/* The process tree of a moth file of several processes, below its table. */
static void print_process_tree(const stats_options *so, moth_sb *out)
{
    if (so->nfiles != 1 || so->pid || !moth_mothfile_sniff(so->files[0]))
        return;
    moth_profile p;
    moth_error err;
    if (moth_mothfile_read(&p, so->files[0], so->run, &err) < 0)
        return; /* read once already: the table said what was wrong */
    if (p.nprocesses > 1) {
        moth_proctree_render(&p, out);
        moth_sb_puts(out, "\n");
    }
    moth_profile_free(&p);
}

int moth_cmd_stats(int argc, char **argv)
{
    stats_options so;
    int rc = parse(argc, argv, &so);
    if (rc)
        return rc == 1 ? 0 : rc;
    if (so.interactive)
        return moth_cmd_stats_interactive(so.files, so.nfiles, so.run);
    if (so.lines)
        return print_each_file(&so, has_lines, "line", "--lines", lines_report);
    if (so.memory)
        return print_each_file(&so, has_memory, "memory", "--memory", memory_report);
    if (so.by_rank)
        return print_by_rank(&so);
    moth_pstats view;
    if ((rc = load_all(so.files, so.nfiles, so.run, so.pid, &view)) != 0)
        return rc;
    moth_error err;
    double tick = 0;
    char summary[256];
    if (so.nfiles == 1 && !so.callers && !so.callees &&
        sampled_summary(so.files[0], so.run, &tick, summary, sizeof summary) < 0) {
        moth_pstats_free(&view);
        return 1;
    }
    moth_report_opts ro;
    memset(&ro, 0, sizeof ro);
    moth_sort_spec_parse(&ro.sort, so.sort_keys, so.nsort, &err);
    ro.sorted = 1;
    ro.reversed = so.reverse;
    for (size_t i = 0; i < so.nfilters; i++) {
        ro.restrictions[ro.nrestrictions].kind = MOTH_RESTRICT_REGEX;
        ro.restrictions[ro.nrestrictions++].regex = so.filters[i];
    }
    if (so.limit > 0) {
        ro.restrictions[ro.nrestrictions].kind = MOTH_RESTRICT_COUNT;
        ro.restrictions[ro.nrestrictions++].count = (size_t)so.limit;
    }
    moth_sb text = MOTH_SB_INIT;
    rc = so.strip ? moth_pstats_strip_dirs(&view, &err) : 0;
    if (rc == 0)
        rc = so.callers   ? moth_report_callers(&view, &ro, &text, &err)
             : so.callees ? moth_report_callees(&view, &ro, &text, &err)
              : tick > 0  ? moth_report_samples(&view, &ro, summary, &text, &err)
                          : moth_report_stats(&view, &ro, &text, &err);
    moth_pstats_free(&view);
    if (rc == 0 && !so.callers && !so.callees)
        print_process_tree(&so, &text);
    if (rc < 0) {
        moth_sb_free(&text);
        return moth_cli_error("%s", err.msg);
    }
    rc = moth_cli_out(text.data ? text.data : "", text.len);
    moth_sb_free(&text);
    return rc < 0 ? 1 : 0;
}
