/*
 * subprocs.h: `moth profile --subprocesses`: the Python processes a program starts are
 * profiled too, each writing its own run into the one moth file.
 *
 * How each kind of child is reached:
 *  - a new interpreter (subprocess running Python, multiprocessing's spawn and forkserver,
 *    the forkserver's own process): the environment it inherits names the file, the session
 *    and the options (MOTH_SUBPROCESSES), and puts moth's bootstrap directory first on
 *    PYTHONPATH; its `sitecustomize` (src/moth/_bootstrap) takes itself off sys.path, runs the
 *    sitecustomize it stood in front of, and calls moth._moth._subprocess_start(), which starts
 *    a profiler with the same options and writes the run when the interpreter exits;
 *  - a fork (os.fork, multiprocessing's fork, forkserver's workers): an os.register_at_fork
 *    handler empties the child's copy of the recording (the parent's is untouched), so the
 *    child's run holds what ran after the fork.
 * A child writes its run when it ends: at interpreter exit, at os._exit (multiprocessing's
 * forked children end that way; os._exit is wrapped), or at SIGTERM/SIGHUP where the program
 * has no handler (Pool.terminate); one killed outright (SIGKILL) or crashed loses only its own
 * run, since each run is one SQLite transaction (core/mothfile.h's sessions).
 *
 * Process-wide state (a fork copies it): one file per process.
 */
#ifndef MOTH_SUBPROCS_H
#define MOTH_SUBPROCS_H

#include "pyver.h"

#include "profiler.h"

/* Options children are profiled with (flags in the environment). */
typedef struct moth_subprocs_opts {
    int builtins;
    moth_clock_kind clock;
    int raw_times;
    int create; /* children may create the file (MPI jobs: no process starts the session) */
} moth_subprocs_opts;

/* In moth profile's own process, before the program runs: children of it go to the moth file
 * at path (made absolute), session `session`; prof records this process. Sets the environment
 * children inherit, hooks fork and os._exit. 0, or -1 with a message in *err. */
int moth_subprocs_start(moth_profiler *prof, const char *path, const char *session,
                        const moth_subprocs_opts *o, moth_error *err);

/* 1 in a process forked from the one that called moth_subprocs_start (and not yet written):
 * its run is a child's, written by moth_subprocs_finish_child rather than by the command. */
int moth_subprocs_in_child(void);
/* Writes this child's run into the file (once). */
void moth_subprocs_finish_child(void);

/* Without --subprocesses: a child the program forks stops recording at once (prof, the
 * command's profiler, records only this process). */
void moth_subprocs_parent_only(moth_profiler *prof);

/* A new session's identifier: host, pid, time and random bits, into out. */
void moth_subprocs_new_session(char *out, size_t size);

/* Fills the process row of a run: this process, `how`, session, MPI rank and size; the
 * parent pid given (0: the parent now). */
int moth_subprocs_describe_process(moth_profile *p, const char *how, const char *session,
                                   int64_t parent_pid, moth_error *err);

/* moth._moth._subprocess_start(): the bootstrap's entry in a new interpreter. */
PyObject *moth_py_subprocess_start(PyObject *module, PyObject *unused);

#endif
