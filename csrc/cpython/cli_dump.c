/*
 * cli_dump.c: `moth dump PID` and `moth dump CORE`: every thread's Python stack, read from
 * outside the program (csrc/remote), which is neither stopped nor changed, or from the core
 * file of a crashed one (a non-numeric argument that names a file).
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dump.h"
#include "proc.h"
#include "ptrace_stop.h"
#include "remote.h"
#include "unwind.h"

static const char HELP[] =
    "usage: moth dump [options] PID\n"
    "       moth dump [options] CORE [--executable PATH]\n"
    "\n"
    "Print every thread of a running Python program (CPython 3.11, 3.12 or 3.13, whichever\n"
    "Python moth runs under) with its Python stack, outermost call first, as a traceback\n"
    "prints it. The program is not stopped, not changed and needs no preparation.\n"
    "Given a core file of a crashed Python instead, print the same from the core, with the\n"
    "fatal signal and the thread that received it.\n"
    "\n"
    "options:\n"
    "  -l, --locals        show each frame's arguments and local variables\n"
    "  --native            show the C frames between the Python frames (each thread is\n"
    "                      stopped for the moment its stack is read), and the threads\n"
    "                      that run no Python\n"
    "  --async             also list every asyncio task: its name, state, the task or\n"
    "                      future it awaits, and its chain of awaiting coroutines\n"
    "  --json              print JSON for tools\n"
    "  --no-source         leave out the source lines\n"
    "  --blocking          stop the program's threads while they are read (ptrace), for a\n"
    "                      snapshot of every stack at one instant\n"
    "  --executable PATH   the core's executable, when it is not where the core says\n"
    "  -h, --help          show this help\n";

/* Parses a process id: digits only, > 0. */
static int parse_pid(const char *s, int *pid)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v <= 0 || v > 0x7fffffff)
        return -1;
    *pid = (int)v;
    return 0;
}

int moth_cmd_dump(int argc, char **argv)
{
    moth_dump_opts opts = {.source = 1};
    int json = 0, blocking = 0;
    const char *what = NULL, *executable = NULL;
    moth_opts o = {argc, argv, 0, NULL};
    while (o.i < argc) {
        const char *a = argv[o.i];
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(HELP, sizeof HELP - 1);
            return 0;
        } else if (moth_opt_is(&o, "-l", "--locals")) {
            opts.locals = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--native")) {
            opts.native = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--async")) {
            opts.async_tasks = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--json")) {
            json = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--blocking")) {
            blocking = 1;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--no-source")) {
            opts.source = 0;
            o.i++;
        } else if (moth_opt_is(&o, NULL, "--executable")) {
            if (!(executable = moth_opt_value(&o, "--executable")))
                return 2;
        } else if (a[0] == '-' && a[1]) {
            return moth_cli_error("unknown option '%s' for 'moth dump' (try 'moth dump --help')",
                                  a);
        } else {
            if (what)
                return moth_cli_error("moth dump reads one process at a time");
            what = a;
            o.i++;
        }
    }
    if (!what)
        return moth_cli_error("moth dump needs a process id or a core file (try 'moth dump "
                              "--help')");
    int pid = 0;
    struct stat st;
    if (parse_pid(what, &pid) == 0 && executable)
        return moth_cli_error("--executable goes with a core file, not a process id");
    if (!pid && (stat(what, &st) < 0 || S_ISDIR(st.st_mode)))
        return moth_cli_error("'%s' is neither a process id nor a core file", what);
    if (opts.native && !moth_unwind_available())
        return moth_cli_error("%s", MOTH_UNWIND_MISSING);

    moth_remote t;
    moth_error err;
    if ((pid ? moth_remote_open_pid(&t, pid, &err)
             : moth_remote_open_core(&t, what, executable, &err)) < 0)
        return moth_cli_error("%s", err.msg);
    moth_dump d;
    memset(&d, 0, sizeof d);
    if (pid) {
        d.pid = pid;
        char cmd[4096];
        moth_proc_cmdline(pid, cmd, sizeof cmd);
        d.command = strdup(cmd);
    }
    int status = 0;
    moth_stopper stopper;
    moth_tasks states = MOTH_TASKS_INIT;
    int held = 0;
    if (blocking && pid) { /* a core is a snapshot already */
        /* The kernel's states as they were before moth stopped the threads. */
        int stopped = moth_proc_tasks(pid, &states, &err) == 0 &&
                      moth_stopper_attach(&stopper, pid, &err) == 0;
        if (stopped && moth_stopper_stop(&stopper) < 0) {
            moth_stopper_detach(&stopper);
            stopped = 0;
            moth_fail(&err, "no process %d", pid);
        }
        if (!stopped) {
            moth_tasks_free(&states);
            moth_dump_free(&d);
            moth_remote_close(&t);
            return moth_cli_error("%s", err.msg);
        }
        opts.states = &states;
        opts.held = held = 1;
    }
    /* Ctrl-C ends moth at once, as a C program would, rather than at the end of the dump: the
     * threads it holds (--native, --blocking) are let go by the kernel when moth dies. */
    struct sigaction python_sigint, die = {.sa_handler = SIG_DFL};
    sigaction(SIGINT, NULL, &python_sigint);
    if (python_sigint.sa_handler != SIG_IGN)
        sigaction(SIGINT, &die, NULL);
    int collected = moth_dump_collect(&t, &opts, &d, &err);
    sigaction(SIGINT, &python_sigint, NULL);
    if (held)
        moth_stopper_detach(&stopper); /* before printing: the program waits no longer */
    if (collected < 0 || (!pid && moth_dump_core_facts(&t, what, &d, &err) < 0)) {
        status = pid ? moth_cli_error("process %d: %s", pid, err.msg)
                     : moth_cli_error("core file %s: %s", what, err.msg);
    } else {
        moth_sb out = MOTH_SB_INIT;
        if (json)
            moth_dump_render_json(&d, &out);
        else
            moth_dump_render_text(&d, &opts, moth_cli_colour(), &out);
        if (moth_sb_check(&out, &err) < 0)
            status = moth_cli_error("%s", err.msg);
        else if (moth_cli_out(out.data, out.len) < 0)
            status = 1;
        moth_sb_free(&out);
    }
    moth_tasks_free(&states);
    moth_dump_free(&d);
    moth_remote_close(&t);
    return status;
}
