/*
 * fatal_signals.h: a run ended by SIGTERM or SIGHUP still writes what was asked for.
 *
 * Without moth, SIGTERM or SIGHUP ends a program that installed no handler for it at once (a
 * `timeout`, a job scheduler, a closed terminal). Under moth that would lose the whole
 * profile. So, while the program runs, moth catches those of the two whose disposition is the
 * default, at the C level: signal.getsignal() still says SIG_DFL, and a handler the program
 * installs replaces moth's, as it would replace the default. When one arrives, a watcher thread
 * takes the GIL, calls `finish` (which ends the profiler and writes the table and files), and
 * the process then dies of the same signal. The program's own code (finally blocks, atexit)
 * does not run, as without moth; other threads may run on while the writing waits on I/O.
 *
 * A process forked from the program while armed dies of those signals at once, as it would
 * without moth, unless it arms again itself.
 */
#ifndef MOTH_FATAL_SIGNALS_H
#define MOTH_FATAL_SIGNALS_H

#include "pyver.h"

/* Called once, with the GIL, on the watcher thread: end the recording and write everything.
 * What it returns is ignored: the process dies of `signo` next. */
typedef void (*moth_finish_fn)(void *ctx, int signo);

/* Starts catching SIGTERM and SIGHUP (those at their default disposition). 0, or -1 when it
 * could not (nothing is caught then; the signals stay fatal as without moth). */
int moth_fatal_signals_arm(moth_finish_fn finish, void *ctx);

/* The program is over (called with the GIL, before the command writes its output): from here
 * a signal is only noted. If the watcher is already finishing, never returns. */
void moth_fatal_signals_settle(void);

/* The command wrote everything: stops catching, and dies of a signal noted since settle. */
void moth_fatal_signals_disarm(void);

#endif
