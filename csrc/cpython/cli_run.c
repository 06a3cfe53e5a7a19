/* cli_run.c: what `moth profile` and `moth advise` share: running the program under the
 * profiler, exactly as python would run it, whatever way it ends. */
#include "cli.h"

#include <time.h>

#include "fatal_signals.h"
#include "profiler.h"

int moth_cli_prepare(moth_target *target, int *status)
{
    char message[600];
    int rc = moth_target_prepare(target, message, sizeof message, status);
    if (rc == -1) {
        moth_target_clear(target);
        if (message[0])
            moth_cli_error("%s", message);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            *status = moth_cli_error("cannot prepare the program");
        }
        return -1;
    }
    if (rc == -2) { /* the program does not compile: report it as python would */
        *status = moth_program_exit_status(NULL);
        moth_target_clear(target);
        return -1;
    }
    return 0;
}

/* SIGTERM or SIGHUP during the run (fatal_signals.c): end the recording where it is and
 * write everything, from the watcher thread; the process then dies of the signal. */
static void finish_on_signal(void *ctx, int signo)
{
    moth_cli_run *run = ctx;
    moth_profiler_disable(run->prof);
    run->duration = (double)(moth_monotonic_ns() - run->t0) * 1e-9;
    run->status = 128 + signo;
    run->report(run);
}

int moth_cli_run_profiled(moth_cli_run *run)
{
    if (moth_profiler_enable(run->prof) < 0) {
        PyObject *exc = moth_take_exception();
        PyObject *text = exc ? PyObject_Str(exc) : NULL;
        const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
        moth_cli_error("cannot start the profiler: %s", msg ? msg : "another profiler is running");
        PyErr_Clear();
        Py_XDECREF(text);
        Py_XDECREF(exc);
        return -1;
    }
    run->started = moth_unix_time();
    run->t0 = moth_monotonic_ns();
    if (run->report)
        moth_fatal_signals_arm(finish_on_signal, run); /* if it cannot, the signals stay fatal */
    PyObject *result = moth_target_run(run->target);
    run->status = moth_program_exit_status(result); /* prints an uncaught exception's traceback */
    Py_XDECREF(result);
    /* Waiting for the program's threads is the interpreter's exit, not the program's work:
     * the main thread records nothing meanwhile; the threads it waits for still do. */
    moth_tstate *me = moth_current_tstate();
    if (me)
        me->busy++;
    moth_wait_for_threads();
    if (me && moth_tls_session == run->prof->session)
        me->busy--;
    moth_fatal_signals_settle();
    moth_profiler_disable(run->prof);
    run->duration = (double)(moth_monotonic_ns() - run->t0) * 1e-9;
    return 0;
}

void moth_cli_run_end(moth_cli_run *run)
{
    (void)run;
    moth_fatal_signals_disarm();
}
