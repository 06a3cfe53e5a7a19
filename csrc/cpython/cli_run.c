/* cli_run.c: what `moth profile` and `moth advise` share: running the program under the
 * profiler, exactly as python would run it, whatever way it ends. */
#include "cli.h"

#include <time.h>

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

int moth_cli_run_profiled(moth_target *target, moth_profiler *prof, int *status,
                          double *started, double *duration)
{
    if (moth_profiler_enable(prof) < 0) {
        PyObject *exc = moth_take_exception();
        PyObject *text = exc ? PyObject_Str(exc) : NULL;
        const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
        moth_cli_error("cannot start the profiler: %s", msg ? msg : "another profiler is running");
        PyErr_Clear();
        Py_XDECREF(text);
        Py_XDECREF(exc);
        return -1;
    }
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    *started = (double)wall.tv_sec + (double)wall.tv_nsec * 1e-9;
    uint64_t t0 = moth_monotonic_ns();
    PyObject *result = moth_target_run(target);
    *status = moth_program_exit_status(result); /* prints an uncaught exception's traceback */
    Py_XDECREF(result);
    /* Waiting for the program's threads is the interpreter's exit, not the program's work:
     * the main thread records nothing meanwhile; the threads it waits for still do. */
    moth_tstate *me = moth_current_tstate();
    if (me)
        me->busy++;
    moth_wait_for_threads();
    if (me && moth_tls_session == prof->session)
        me->busy--;
    moth_profiler_disable(prof);
    *duration = (double)(moth_monotonic_ns() - t0) * 1e-9;
    return 0;
}
