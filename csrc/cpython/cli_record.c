/*
 * cli_record.c: `moth record`: sample a Python program's stacks from outside (csrc/remote's
 * sampler) and report them as moth profile does: cProfile's table from the samples, moth's
 * file, a pstats file, a flame graph.
 *
 *   moth record [options] -p PID
 *   moth record [options] (script.py [args] | -m module [args] | -c code [args])
 *
 * With a command, moth starts it with its own Python as a child process and samples it until
 * it ends; its exit status becomes moth's. The program runs unchanged: moth only reads it.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "lines_report.h"
#include "mothfile.h"
#include "proc.h"
#include "pstats.h"
#include "remote.h"
#include "follow.h"
#include "sample_profile.h"
#include "sampler.h"
#include "unwind.h"

static const char HELP[] =
    "usage: moth record [options] -p PID\n"
    "       moth record [options] (script.py [args] | -m module [args] | -c code [args])\n"
    "\n"
    "Sample a Python program's stacks from outside (it is not stopped or changed) until it\n"
    "ends, Ctrl-C, or --duration; then print cProfile's table from the samples and write the\n"
    "files asked for. With a command, moth runs it with this Python and samples it.\n"
    "\n"
    "options:\n"
    "  -p, --pid PID       sample the running process PID\n"
    "  --rate HZ           samples per second (default 1000)\n"
    "  --duration S        stop after S seconds\n"
    "  --mode MODE         wall: every thread (default); cpu: only threads running on a CPU;\n"
    "                      gil: only the thread holding the GIL\n"
    "  --blocking          stop the program's threads while each sample is read (ptrace):\n"
    "                      every stack exact, at a cost to the program\n"
    "  --native            also the C functions between the Python ones (each sample holds\n"
    "                      the threads as --blocking does, and walks their C stacks)\n"
    "  --subprocesses      also sample the Python processes the program starts (forks,\n"
    "                      multiprocessing workers, Python subprocesses), each a run of its\n"
    "                      own in the -o FILE.moth\n"
    "  -o, --outfile FILE  also write the profile: FILE.moth is moth's own file (the calling-\n"
    "                      context trees and line hits); any other name gets the pstats format\n"
    "  --append            with -o FILE.moth: add this run to the file's runs\n"
    "  --flame FILE.html   also draw the interactive flame graph\n"
    "  --lines             also print the sampled lines of the hottest functions\n"
    "  -s, --sort KEY      sort the table by KEY (pstats keys: tottime, cumulative, ...)\n"
    "  --limit N           print the first N rows (default 30; 0 prints every row)\n"
    "  -q, --quiet         print no table (with -o or --flame)\n"
    "  -h, --help          show this help\n";

typedef struct record_options {
    int pid;
    double rate, duration;
    moth_sample_mode mode;
    const char *outfile, *flame;
    int append, lines, quiet, blocking, subprocesses, native;
    const char *sort_keys[MOTH_SORT_MAX_KEYS];
    size_t nsort;
    long limit;
    int first_arg;   /* the program's command line starts here (no -p) */
} record_options;

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int parse_number(const char *text, const char *name, double *out)
{
    char *end;
    double v = strtod(text, &end);
    if (!*text || *end || !(v > 0) || v > 1e9)
        return moth_cli_error("%s takes a positive number, not '%s'", name, text);
    *out = v;
    return 0;
}

static int parse(int argc, char **argv, record_options *ro)
{
    memset(ro, 0, sizeof *ro);
    ro->rate = 1000;
    ro->limit = 30;
    ro->first_arg = -1;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i], *v;
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 1;
        } else if (moth_opt_is(&o, "-p", "--pid")) {
            if (!(v = moth_opt_value(&o, "--pid")))
                return 2;
            char *end;
            long pid = strtol(v, &end, 10);
            if (!*v || *end || pid <= 0 || pid > 0x7fffffff)
                return moth_cli_error("'%s' is not a process id", v);
            ro->pid = (int)pid;
        } else if (moth_opt_is(&o, NULL, "--rate")) {
            if (!(v = moth_opt_value(&o, "--rate")) || parse_number(v, "--rate", &ro->rate))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--duration")) {
            if (!(v = moth_opt_value(&o, "--duration")) ||
                parse_number(v, "--duration", &ro->duration))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--mode")) {
            if (!(v = moth_opt_value(&o, "--mode")))
                return 2;
            if (strcmp(v, "wall") == 0)
                ro->mode = MOTH_SAMPLE_WALL;
            else if (strcmp(v, "cpu") == 0)
                ro->mode = MOTH_SAMPLE_CPU;
            else if (strcmp(v, "gil") == 0)
                ro->mode = MOTH_SAMPLE_GIL;
            else
                return moth_cli_error("--mode takes 'wall', 'cpu' or 'gil', not '%s'", v);
        } else if (moth_opt_is(&o, "-o", "--outfile")) {
            if (!(ro->outfile = moth_opt_value(&o, "--outfile")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--flame")) {
            if (!(ro->flame = moth_opt_value(&o, "--flame")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--append")) {
            ro->append = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--lines")) {
            ro->lines = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--blocking")) {
            ro->blocking = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--native")) {
            ro->native = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--subprocesses")) {
            ro->subprocesses = 1;
            o.i++;
        } else if (moth_opt_is(&o, "-q", "--quiet")) {
            ro->quiet = 1;
            o.i++;
        } else if (moth_opt_is(&o, "-s", "--sort")) {
            if (!(v = moth_opt_value(&o, "--sort")))
                return 2;
            if (ro->nsort == MOTH_SORT_MAX_KEYS)
                return moth_cli_error("too many sort keys (at most %d)", MOTH_SORT_MAX_KEYS);
            ro->sort_keys[ro->nsort++] = v;
        } else if (moth_opt_is(&o, NULL, "--limit")) {
            if (!(v = moth_opt_value(&o, "--limit")) || (ro->limit = moth_opt_count(v, "--limit")) < 0)
                return 2;
        } else if (strcmp(a, "--") == 0) {
            o.i++;
            break;
        } else if (a[0] == '-' && a[1] && strcmp(a, "-m") != 0 && strcmp(a, "-c") != 0) {
            return moth_cli_error("unknown option '%s' for 'moth record' (try 'moth record --help')",
                                  a);
        } else {
            break;
        }
    }
    if (o.i < argc) {
        if (ro->pid)
            return moth_cli_error("give either -p PID or a program to run, not both");
        if ((!strcmp(argv[o.i], "-m") || !strcmp(argv[o.i], "-c")) && o.i + 1 >= argc)
            return moth_cli_error("%s needs %s", argv[o.i],
                                  argv[o.i][1] == 'm' ? "a module name" : "code to run");
        ro->first_arg = o.i;
    } else if (!ro->pid) {
        return moth_cli_error("record what? give -p PID, a script, -m module or -c code "
                              "(try 'moth record --help')");
    }
    if (ro->nsort == 0)
        ro->sort_keys[ro->nsort++] = "tottime";
    moth_sort_spec check;
    moth_error err;
    if (moth_sort_spec_parse(&check, ro->sort_keys, ro->nsort, &err) < 0)
        return moth_cli_error("%s", err.msg);
    if (ro->native && !moth_unwind_available())
        return moth_cli_error("%s", MOTH_UNWIND_MISSING);
    if (ro->subprocesses && ro->native)
        return moth_cli_error("--native does not follow subprocesses: use one or the other");
    if (ro->subprocesses && ro->blocking)
        return moth_cli_error("--blocking does not follow subprocesses: use one or the other");
    if (ro->subprocesses && ro->outfile && !ends_with(ro->outfile, ".moth"))
        return moth_cli_error("--subprocesses writes a run per process: give -o FILE.moth "
                              "(a pstats file holds one)");
    if (ro->quiet && !ro->outfile && !ro->flame)
        return moth_cli_error("--quiet with neither -o nor --flame would record for nothing");
    return 0;
}

/* Ctrl-C and SIGTERM end recording (the program, when it is ours, got the same Ctrl-C). */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* What the moth file keeps about the run. */
static void describe(moth_profile *p, moth_remote *t, int argc, char **argv, double started)
{
    moth_sb cmd = MOTH_SB_INIT;
    moth_sb_puts(&cmd, "moth record");
    for (int i = 0; i < argc; i++)
        moth_sb_printf(&cmd, " %s", argv[i]);
    moth_profile_set_meta(p, "command", cmd.data ? cmd.data : "moth record", NULL);
    moth_sb_free(&cmd);
    char text[4096];
    moth_proc_cmdline(t->pid, text, sizeof text);
    moth_profile_set_meta(p, "argv", text, NULL);
    moth_remote_version_string(t, text, sizeof text);
    moth_profile_set_meta(p, "python", text, NULL);
    snprintf(text, sizeof text, "%d", (int)t->pid);
    moth_profile_set_meta(p, "pid", text, NULL);
    snprintf(text, sizeof text, "%.6f", started);
    moth_profile_set_meta(p, "start", text, NULL);
    moth_profile_set_meta(p, "moth_version", MOTH_VERSION, NULL);
    if (gethostname(text, sizeof text) == 0) {
        text[sizeof text - 1] = '\0';
        moth_profile_set_meta(p, "host", text, NULL);
    }
}

/* The table, the line report and what the samples were. */
static int print_report(const record_options *ro, const moth_profile *p, const moth_pstats *view,
                        const moth_sampler_stats *st, const moth_stack_stats *reads,
                        const moth_native_stats *native, uint64_t samples)
{
    moth_report_opts opts;
    memset(&opts, 0, sizeof opts);
    moth_error err;
    if (moth_sort_spec_parse(&opts.sort, ro->sort_keys, ro->nsort, &err) < 0)
        return moth_cli_error("%s", err.msg);
    opts.sorted = 1;
    if (ro->limit > 0) {
        opts.restrictions[0] = (moth_restriction){.kind = MOTH_RESTRICT_COUNT,
                                                  .count = (size_t)ro->limit};
        opts.nrestrictions = 1;
    }
    char summary[256];
    snprintf(summary, sizeof summary, "%llu samples of %zu thread%s in %.3f seconds",
             (unsigned long long)samples, p->nthreads, p->nthreads == 1 ? "" : "s", st->seconds);
    moth_sb text = MOTH_SB_INIT;
    int rc = moth_report_samples(view, &opts, summary, &text, &err);
    if (rc == 0 && ro->lines && p->lines.count) {
        moth_sb_puts(&text, "\n");
        rc = moth_lines_report(p, ro->limit > 0 ? (size_t)ro->limit : 0, moth_cli_colour(),
                               &text, &err);
    }
    double requested = st->seconds * ro->rate;
    moth_sb_printf(&text, "   moth: sampled at %g Hz (%s threads): %llu rounds of %.0f asked for"
                   " (%.1f%%)", ro->rate,
                   ro->mode == MOTH_SAMPLE_CPU ? "running" : ro->mode == MOTH_SAMPLE_GIL
                                                                 ? "the GIL-holding" : "all",
                   (unsigned long long)st->rounds, requested,
                   requested > 0 ? 100.0 * (double)st->rounds / requested : 100.0);
    if (st->rounds)
        moth_sb_printf(&text, ", %.1f us per round", 1e6 * st->busy_seconds / (double)st->rounds);
    if (reads->retries || reads->dropped)
        moth_sb_printf(&text, "; stacks that changed while read: %llu read again, %llu dropped",
                       (unsigned long long)reads->retries, (unsigned long long)reads->dropped);
    if (native && native->partial)
        moth_sb_printf(&text, "; C stacks walked: %llu, of which %llu stopped short (code "
                       "without unwind tables)", (unsigned long long)native->walks,
                       (unsigned long long)native->partial);
    moth_sb_puts(&text, "\n\n");
    if (rc < 0 || moth_sb_check(&text, &err) < 0) {
        moth_sb_free(&text);
        return moth_cli_error("%s", err.msg);
    }
    moth_cli_out(text.data, text.len);
    moth_sb_free(&text);
    return 0;
}

/* Writes the files and prints the report; 0, or 1 when something could not be written. */
static int report(const record_options *ro, moth_profile *p, const moth_sampler_stats *st,
                  const moth_stack_stats *reads, const moth_native_stats *native,
                  uint64_t samples)
{
    moth_pstats view;
    moth_error err;
    moth_pstats_init(&view);
    if (moth_pstats_from_profile(&view, p, &err) < 0) {
        moth_pstats_free(&view);
        return moth_cli_error("%s", err.msg), 1;
    }
    int failed = 0;
    if (ro->outfile) {
        int rc;
        if (ends_with(ro->outfile, ".moth"))
            rc = ro->append ? moth_mothfile_append(p, ro->outfile, NULL, &err)
                            : moth_mothfile_write(p, ro->outfile, &err);
        else
            rc = moth_pstats_write_file(&view, ro->outfile, &err);
        if (rc < 0) {
            moth_cli_error("%s", err.msg);
            failed = 1;
        }
    }
    if (ro->flame && moth_flame_write(p, moth_profile_get_meta(p, "command"), ro->flame) != 0)
        failed = 1;
    if (!ro->quiet && print_report(ro, p, &view, st, reads, native, samples) != 0)
        failed = 1;
    moth_pstats_free(&view);
    return failed;
}

/* Writes one run per process followed into the moth file: a session of their own, or added to
 * the file's runs with --append. */
static int write_family(const record_options *ro, moth_follow *f, const char *session)
{
    moth_error err;
    if (!ro->append && moth_mothfile_start_session(ro->outfile, session, &err) < 0)
        return moth_cli_error("%s", err.msg), 1;
    for (size_t i = 0; i < f->count; i++) {
        const moth_member *m = f->members[i];
        if (!moth_member_has_samples(m))
            continue;
        int run, rc = ro->append
                          ? moth_mothfile_append(&m->profile, ro->outfile, &run, &err)
                          : moth_mothfile_add_to_session(&m->profile, ro->outfile, session, 1,
                                                         &run, &err);
        if (rc < 0)
            return moth_cli_error("%s", err.msg), 1;
    }
    return 0;
}

/* The flame graph of every process: the runs read back from the file just written, else the
 * program's own profile. */
static int draw_family(const record_options *ro, moth_follow *f)
{
    const moth_profile *root = &f->members[0]->profile;
    const char *title = moth_profile_get_meta(root, "command");
    if (!ro->outfile)
        return moth_flame_write(root, title, ro->flame) != 0;
    moth_profile all;
    moth_error err;
    if (moth_mothfile_read(&all, ro->outfile, -1, &err) < 0)
        return moth_cli_error("%s", err.msg), 1;
    int failed = moth_flame_write(&all, title, ro->flame) != 0;
    moth_profile_free(&all);
    return failed;
}

/* One line per child process sampled. */
static void print_children(const moth_follow *f, const char *outfile)
{
    moth_sb text = MOTH_SB_INIT;
    size_t shown = 0;
    for (size_t i = 1; i < f->count; i++) {
        const moth_member *m = f->members[i];
        if (!moth_member_has_samples(m))
            continue;
        if (!shown++)
            moth_sb_puts(&text, "   moth: child processes sampled, each a run of its own");
        moth_sb_printf(&text, "\n     pid %d (%s of %d): %llu samples  %.200s", (int)m->pid,
                       m->how, (int)m->parent, (unsigned long long)m->sp.samples, m->command);
    }
    if (shown && outfile)
        moth_sb_printf(&text, "\n   (in %s: moth stats %s shows them all together)", outfile,
                       outfile);
    if (shown)
        moth_sb_puts(&text, "\n\n");
    else
        moth_sb_puts(&text, "   moth: no child process of the program ran Python while it was "
                            "sampled\n\n");
    if (moth_sb_check(&text, NULL) == 0)
        moth_cli_out(text.data, text.len);
    moth_sb_free(&text);
}

/* moth record --subprocesses: the program and its children, sampled together (t taken over). */
static int record_family(const record_options *ro, moth_remote *t, int argc, char **argv)
{
    moth_follow f;
    moth_error err;
    if (moth_follow_init(&f, t, ro->mode, ro->lines, &err) < 0) {
        moth_remote_close(t);
        return moth_cli_error("%s", err.msg), 1;
    }
    double started = moth_unix_time();
    if (moth_follow_run(&f, ro->rate, ro->duration, &stop_requested) < 0)
        moth_cli_error("stopped recording: %s", f.err.msg);
    char session[64];
    snprintf(session, sizeof session, "record-%d-%lld", (int)getpid(), (long long)started);
    moth_follow_finish(&f, ro->rate, session);
    for (size_t i = 0; i < f.count; i++)
        if (moth_member_has_samples(f.members[i]))
            describe(&f.members[i]->profile, &f.members[i]->t, argc, argv, started);
    int failed = 0;
    if (ro->outfile)
        failed |= write_family(ro, &f, session);
    if (ro->flame)
        failed |= draw_family(ro, &f);
    moth_member *root = f.members[0];
    if (!ro->quiet) {
        moth_pstats view;
        moth_pstats_init(&view);
        if (moth_pstats_from_profile(&view, &root->profile, &err) < 0)
            failed = moth_cli_error("%s", err.msg);
        else if (print_report(ro, &root->profile, &view, &root->s.stats, &root->s.reader.stats,
                              NULL, root->sp.samples) != 0)
            failed = 1;
        moth_pstats_free(&view);
        print_children(&f, ro->outfile);
    }
    moth_follow_free(&f);
    return failed;
}

/* Lets the program's threads go (--blocking, --native), before the report: a signal the
 * program receives meanwhile would stop it until moth passed it on. */
static void release_threads(moth_sampler *s, int *child_ended, int *child_status)
{
    if (!s->stopper)
        return;
    if (s->stopper->leader_exited) { /* our own child, reaped while traced */
        *child_ended = 1;
        *child_status = s->stopper->leader_status;
    }
    moth_stopper_detach(s->stopper);
    s->stopper = NULL;
}

int moth_cmd_record(int argc, char **argv)
{
    record_options ro;
    int rc = parse(argc, argv, &ro);
    if (rc)
        return rc == 1 ? 0 : rc;

    struct sigaction on_stop = {.sa_handler = on_stop_signal}, old_int, old_term;
    sigemptyset(&on_stop.sa_mask);
    stop_requested = 0;
    sigaction(SIGINT, &on_stop, &old_int);
    sigaction(SIGTERM, &on_stop, &old_term);

    moth_remote t;
    moth_error err;
    pid_t child = -1;
    int child_status = 0, child_ended = 0, status = 0;
    int opened;
    if (ro.first_arg >= 0) {
        if ((child = moth_cli_spawn_python(argc, argv, ro.first_arg)) < 0) {
            status = 2;
            goto restore;
        }
        opened = moth_cli_open_child(&t, child, &stop_requested, &child_ended,
                                     &child_status) == 0;
    } else {
        opened = moth_remote_open_pid(&t, ro.pid, &err) == 0;
        if (!opened)
            moth_cli_error("%s", err.msg);
    }
    if (opened && ro.subprocesses) {
        status = record_family(&ro, &t, argc, argv);
    } else if (opened) {
        moth_profile profile;
        moth_profile_init(&profile);
        moth_sample_profile sp;
        moth_sample_profile_init(&sp, &profile, 1);
        moth_sampler s;
        moth_sampler_init(&s, &t, ro.mode, moth_sample_profile_sink(&sp));
        moth_stopper stopper;
        moth_native_sampler native;
        memset(&native, 0, sizeof native);
        if (ro.blocking || ro.native) {
            /* --native holds the threads as --blocking does; one tracer per thread. */
            if ((ro.native && moth_thread_check_untraced(t.pid, &err) < 0) ||
                moth_stopper_attach(&stopper, t.pid, &err) < 0) {
                status = moth_cli_error("%s", err.msg);
                goto sampled;
            }
            s.stopper = &stopper;
        }
        if (ro.native) {
            if (moth_native_sampler_open(&native, &t, &err) < 0) {
                status = moth_cli_error("%s", err.msg);
                goto sampled;
            }
            s.native = &native;
        }
        double started = moth_unix_time();
        int end = moth_sampler_run(&s, ro.rate, ro.duration, &stop_requested, NULL, NULL);
        release_threads(&s, &child_ended, &child_status);
        if (end < 0)
            moth_cli_error("stopped recording: %s", s.err.msg[0] ? s.err.msg : sp.err.msg);
        moth_sample_profile_finish(&sp, &s.stats, ro.rate, ro.mode);
        describe(&profile, &t, argc, argv, started);
        if (ro.native)
            moth_profile_set_meta(&profile, "native", "1", NULL);
        status = report(&ro, &profile, &s.stats, &s.reader.stats,
                        s.native ? &native.stats : NULL, sp.samples);
    sampled:
        release_threads(&s, &child_ended, &child_status);
        moth_native_sampler_close(&native);
        moth_sampler_free(&s);
        moth_sample_profile_free(&sp);
        moth_profile_free(&profile);
        moth_remote_close(&t);
    } else if (child < 0) {
        status = 1;
    }
    if (child > 0) {
        /* The program is ours: wait for it and end as it ended. */
        while (!child_ended && waitpid(child, &child_status, 0) < 0 && errno == EINTR)
            ;
        if (WIFEXITED(child_status))
            status = status ? status : WEXITSTATUS(child_status);
        else if (WIFSIGNALED(child_status))
            status = 128 + WTERMSIG(child_status);
    } else if (opened && !status) {
        status = 0;
    }
restore:
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return status;
}
