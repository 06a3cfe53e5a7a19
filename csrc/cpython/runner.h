/*
 * runner.h: running the user's program the way `python` runs it.
 *
 * moth profile / debug / advise run a program exactly as `python script.py`, `python -m mod`
 * or `python -c code` would: the same sys.argv, sys.path[0], a fresh __main__ module with the
 * same globals, the same traceback for an uncaught exception, the same exit status (including
 * dying of SIGINT after an uncaught KeyboardInterrupt, once the interpreter has finalised).
 */
#ifndef MOTH_RUNNER_H
#define MOTH_RUNNER_H

#include "pyver.h"

typedef enum { MOTH_TARGET_SCRIPT, MOTH_TARGET_MODULE, MOTH_TARGET_CODE } moth_target_kind;

typedef struct moth_target {
    moth_target_kind kind;
    PyObject *what;      /* the script path, module name or code text (str) */
    PyObject *args;      /* list of str: the program's own arguments */
    /* Filled by moth_target_prepare: */
    PyObject *code;      /* code object to execute (script, code); NULL for modules */
    PyObject *globals;   /* the new __main__'s dict */
} moth_target;

/* Sets sys.argv and sys.path[0], installs a fresh __main__, compiles the script or code.
 * Returns 0; or -1 with a one-line message in *message (caller prints "moth: <message>") and
 * *status the exit status python would give (2 for a missing script, 1 for a missing
 * module); or -2 when compiling raised (a SyntaxError: print it as an uncaught exception). */
int moth_target_prepare(moth_target *t, char *message, size_t message_size, int *status);

/* Executes the prepared program. NULL with the exception set when it raised. */
PyObject *moth_target_run(moth_target *t);

void moth_target_clear(moth_target *t);

/* Waits for the program's non-daemon threads, as the interpreter does at exit. */
void moth_wait_for_threads(void);

/* Deals with the program's end as the interpreter would: for an exception, prints it (through
 * sys.excepthook) unless it is SystemExit; returns the exit status. After an uncaught
 * KeyboardInterrupt it arranges for the process to die of SIGINT once the interpreter exits. */
int moth_program_exit_status(PyObject *result);

#endif
