/*
 * cli.h: the `moth` command line: subcommand dispatch and what every subcommand shares.
 *
 * Each subcommand is one file (cli_profile.c, ...) with one entry point of this shape:
 * it gets the arguments after its name and returns the process exit status. Messages for the
 * user go through moth_cli_error ("moth: ..." on stderr, one line); nothing raises out of here.
 */
#ifndef MOTH_CLI_H
#define MOTH_CLI_H

#include "pyver.h"

#include <signal.h>
#include <sys/types.h>

#include "common.h"
#include "runner.h"

typedef int (*moth_command_fn)(int argc, char **argv);

/* Entry point behind `moth` and `python -m moth`: argv as the list sys.argv. */
PyObject *moth_cli_main(PyObject *module, PyObject *argv);

/* "moth: <message>\n" on sys.stderr. Returns 2, the status for usage errors. */
int moth_cli_error(const char *fmt, ...) MOTH_PRINTF(1, 2);
/* Text to sys.stdout (or sys.stderr). -1 when the stream is gone (a closed pipe). */
int moth_cli_out(const char *text, size_t len);
int moth_cli_err(const char *text, size_t len);
/* 1 when stream is a terminal that takes colour (not with NO_COLOR or TERM=dumb): the one
 * rule for moth's colour, in the command line and in the debugger (moth._moth.wants_colour).
 * moth_cli_colour asks it of sys.stdout. */
int moth_wants_colour(PyObject *stream);
int moth_cli_colour(void);

/* Where moth_cli_out / moth_cli_err (and so moth_cli_error) write on the calling thread
 * instead of sys.stdout / sys.stderr, and whether to colour: the attach agent sends a report
 * made inside the target to moth's terminal, never to the program's streams. NULL: back to
 * the streams. */
typedef int (*moth_cli_sink)(void *ctx, int is_err, const char *text, size_t len);
void moth_cli_redirect(moth_cli_sink sink, void *ctx, int colour);

/* `moth profile -p PID` / `moth debug -p PID` (cli_attach.c): attaches, sends `what`
 * ("profile" or "debug") with the options, relays the session. duration <= 0: until Ctrl-C. */
int moth_attach_command(const char *what, long pid, double duration, int argc, char **argv);
/* What both commands and `moth dap`'s attach share: attaches to pid (the same checks and
 * messages, through moth_cli_error), sends the agent the command `kind` with its payload, and
 * hands the connected channel to run, whose status is returned (1 or 2 after reporting when
 * the attach failed). The channel and the target are closed when run returns. */
struct moth_remote;
typedef int (*moth_attach_run)(void *ctx, int fd, struct moth_remote *t, long pid);
int moth_attach_session(long pid, char kind, const char *payload, size_t len,
                        moth_attach_run run, void *ctx);
/* The half of `moth profile -p` that runs inside the target (attach_agent.c calls them):
 * parses the options (no program), starts the profiler; then stops it, prints the report
 * and writes the files as `moth profile` does. */
int moth_profile_attach_start(int argc, char **argv, void **session);
/* The half of `moth dap`'s attach by processId that runs inside the target (dap_pid.c), on
 * the agent's thread, without the GIL: a DAP session on the channel fd (which it closes) from
 * the state moth sent; returns when the session has ended and taken itself out. */
void moth_dap_in_program(int fd, const char *state);
int moth_profile_attach_finish(void *session);

/* Option parsing shared by subcommands. An option's value comes from "--name=value" or from
 * the next argument. moth_opt_value returns NULL (after reporting) when it is missing. */
typedef struct moth_opts {
    int argc;
    char **argv;
    int i;          /* next argument */
    const char *arg;
} moth_opts;

/* 1 when argv[i] is `short_name`, `long_name` or `long_name=...` */
int moth_opt_is(moth_opts *o, const char *short_name, const char *long_name);
const char *moth_opt_value(moth_opts *o, const char *long_name);
/* Parses a non-negative integer option value; -1 (after reporting) when invalid. */
long moth_opt_count(const char *text, const char *long_name);

/* Reads the program to run: `script.py args...`, `-m module args...` or `-c code args...`
 * from o (the first positional argument ends the options). 0, or 2 after reporting. */
int moth_opt_target(moth_opts *o, moth_target *target);

/* Prepares the program (cli_run.c); -1 after reporting, with the exit status to return. */
int moth_cli_prepare(moth_target *target, int *status);
/* A program run under the profiler, and what the command writes when it ends. */
struct moth_profiler;
typedef struct moth_cli_run {
    moth_target *target;
    struct moth_profiler *prof;   /* set up, not yet enabled */
    /* Writes what the command was asked for (the table, files), with the GIL, once the
     * program ended, whatever way. NULL: nothing to write. When SIGTERM or SIGHUP ends the
     * program, it is called from another thread, and the process then dies of the signal. */
    void (*report)(struct moth_cli_run *run);
    void *ctx;                    /* for report */
    /* Filled by moth_cli_run_profiled: */
    int status;                   /* the program's exit status */
    double started;               /* Unix time */
    double duration;              /* seconds */
    uint64_t t0;                  /* monotonic ns at the start */
} moth_cli_run;

/* Runs the prepared program under run->prof, waits for its threads, disables the profiler.
 * -1 after reporting when the profiler cannot start. Then the command calls run->report and
 * moth_cli_run_end. */
int moth_cli_run_profiled(moth_cli_run *run);
/* After the report: a SIGTERM or SIGHUP that came while it was written ends the process now. */
void moth_cli_run_end(moth_cli_run *run);

int moth_cmd_profile(int argc, char **argv);
int moth_cmd_advise(int argc, char **argv);
int moth_cmd_dump(int argc, char **argv);
int moth_cmd_record(int argc, char **argv);
int moth_cmd_top(int argc, char **argv);

/* moth record and moth top with a command (cli_spawn.c): starts `python argv[first...]` with
 * this Python (sys.executable) as a child; its pid, or -1 after reporting. */
pid_t moth_cli_spawn_python(int argc, char **argv, int first);
/* Opens the child's interpreter once it has one (the process exists at once, its interpreter
 * a few milliseconds later). -1 when the child ended first (*ended set, *status its wait
 * status), when *stop was set, or when no interpreter showed within 30 s (after reporting). */
struct moth_remote;
int moth_cli_open_child(struct moth_remote *t, pid_t child, volatile sig_atomic_t *stop,
                        int *ended, int *status);
int moth_cmd_debug(int argc, char **argv);
int moth_cmd_dap(int argc, char **argv);
int moth_cmd_stats(int argc, char **argv);
int moth_cmd_diff(int argc, char **argv);
int moth_cmd_export(int argc, char **argv);
int moth_cmd_flame(int argc, char **argv);
int moth_cmd_merge(int argc, char **argv);

/* Writes the flame graph of p to path; 0, or 2 after reporting. */
struct moth_profile;
int moth_flame_write(const struct moth_profile *p, const char *title, const char *path);

/* Writes data to path ("-" or NULL: standard output); 0, or 2 after reporting. */
int moth_write_output(const char *path, const char *data, size_t len);

#endif
