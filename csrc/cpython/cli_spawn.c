/*
 * cli_spawn.c: the program `moth record` and `moth top` run and watch from outside: started
 * with moth's own Python as a child process, and opened for reading once its interpreter
 * is up.
 */
#include "cli.h"

#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "remote.h"
#include "sampler.h"

extern char **environ;

pid_t moth_cli_spawn_python(int argc, char **argv, int first)
{
    PyObject *exe = PySys_GetObject("executable"); /* borrowed */
    const char *python = exe && PyUnicode_Check(exe) ? PyUnicode_AsUTF8(exe) : NULL;
    if (!python || !*python) {
        PyErr_Clear();
        moth_cli_error("cannot tell which Python to run the program with (sys.executable)");
        return -1;
    }
    char **args = calloc((size_t)(argc - first) + 2, sizeof *args);
    if (!args) {
        moth_cli_error("out of memory");
        return -1;
    }
    args[0] = (char *)python;
    for (int i = first; i < argc; i++)
        args[i - first + 1] = argv[i];
    pid_t pid;
    int rc = posix_spawn(&pid, python, NULL, NULL, args, environ);
    free(args);
    if (rc != 0) {
        moth_cli_error("cannot start %s: %s", python, strerror(rc));
        return -1;
    }
    return pid;
}

int moth_cli_open_child(struct moth_remote *t, pid_t child, volatile sig_atomic_t *stop, int *ended,
                        int *status)
{
    moth_error err = {{0}};
    double deadline = moth_now() + 30;
    while (moth_now() < deadline && !*stop) {
        if (moth_remote_open_pid(t, child, &err) == 0)
            return 0;
        if (waitpid(child, status, WNOHANG) == child) {
            *ended = 1;
            return -1; /* ended before its interpreter could be read: nothing to sample */
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    moth_cli_error("%s", err.msg[0] ? err.msg : "the program showed no Python interpreter");
    return -1;
}
