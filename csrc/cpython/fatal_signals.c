/* fatal_signals.c: write the profile, then die of SIGTERM or SIGHUP; see fatal_signals.h. */
#include "fatal_signals.h"
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const int CAUGHT[] = {SIGTERM, SIGHUP};
#define NCAUGHT ((int)(sizeof CAUGHT / sizeof CAUGHT[0]))

/* A signal handler reaches only static storage: this is the guard of the process that armed
 * it. The fields other than `pid` and `pipe` are read and written with the GIL held. */
static struct {
    int armed;
    pid_t pid;                   /* the process that armed: a forked child is not it */
    int pipe[2];                 /* the handler writes the signal's number, the watcher reads;
                                    a 0 tells the watcher to stop */
    pthread_t watcher;
    int caught[NCAUGHT];         /* 1 where moth's handler was installed */
    struct sigaction previous[NCAUGHT];
    moth_finish_fn finish;
    void *ctx;
    int settled;                 /* the program is over: signals are only noted */
    int paused;                  /* no watcher: it could not start again after a fork */
    int finishing;               /* the watcher is writing: the process dies next */
    int noted;                   /* a signal that came after settle */
} guard = {.pipe = {-1, -1}};

static void on_signal(int signo)
{
    int saved = errno;
    if (getpid() != guard.pid) {
        /* A fork of the program, which has no watcher: the default action, as without moth
         * (the signal is blocked while this runs, and taken as soon as it returns). */
        signal(signo, SIG_DFL);
        raise(signo);
    } else {
        unsigned char b = (unsigned char)signo;
        ssize_t n = write(guard.pipe[1], &b, 1);
        (void)n; /* a full pipe already holds a signal for the watcher */
    }
    errno = saved;
}

/* Dies of signo as the process would have without moth (its default action). */
static void die_of(int signo)
{
    fflush(NULL);
    MOTH_COVERAGE_FLUSH();
    signal(signo, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, signo);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    raise(signo);
    _exit(128 + signo); /* not reached: both signals terminate by default */
}

static void *watch(void *unused)
{
    (void)unused;
    for (;;) {
        unsigned char b;
        ssize_t n = read(guard.pipe[0], &b, 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || b == 0)
            return NULL;
        PyGILState_STATE gil = PyGILState_Ensure();
        if (guard.settled) {
            /* the command is writing its output already: it dies once that is done */
            guard.noted = b;
            PyGILState_Release(gil);
            continue;
        }
        guard.finishing = 1;
        guard.finish(guard.ctx, b);
        die_of(b);
    }
}

static int start_watcher(void)
{
    /* The watcher blocks every signal, so that none is handled on it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&guard.watcher, NULL, watch, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

/* Stops the watcher: a 0 byte after any signal already in the pipe. The GIL is released while
 * waiting, for a watcher that waits for it to note a signal. */
static void stop_watcher(void)
{
    unsigned char stop = 0;
    ssize_t n = write(guard.pipe[1], &stop, 1);
    (void)n;
    Py_BEGIN_ALLOW_THREADS
    pthread_join(guard.watcher, NULL);
    Py_END_ALLOW_THREADS
}

/* A fork while armed: CPython 3.12+ warn of a fork in a process with threads (a
 * DeprecationWarning on the program's stderr), which the program alone would not get. So on
 * those versions os.fork is wrapped while armed: the watcher thread stops just before the
 * fork and starts again after it, in the parent (a forked child has no watcher until it arms
 * again). A signal that comes meanwhile waits in the pipe. (3.13 counts the threads before
 * any os.register_at_fork hook runs, so a hook cannot do this.) */
static PyObject *real_fork;

static PyObject *fork_unthreaded(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    pid_t me = getpid();
    int paused = guard.armed && guard.pid == me && !guard.finishing;
    if (paused)
        stop_watcher();
    PyObject *r = PyObject_CallNoArgs(real_fork);
    /* in the child, getpid() differs: it arms again itself if it needs a watcher */
    if (paused && getpid() == me && guard.armed && guard.pid == me && start_watcher() != 0)
        guard.paused = 1; /* no watcher: the signals wait in the pipe until disarm */
    return r;
}

static PyMethodDef fork_def = {"fork", fork_unthreaded, METH_NOARGS,
                               "fork()\n\nFork a child process (moth: its thread that "
                               "writes the profile on SIGTERM stops around the fork)."};

/* Puts the wrapper in place of os.fork (install) or the real one back. */
static void wrap_fork(int install)
{
    if (PY_VERSION_HEX < 0x030C0000)
        return;
    PyObject *os = PyImport_ImportModule("os");
    PyObject *now = os ? PyObject_GetAttrString(os, "fork") : NULL;
    int ours = now && PyCFunction_Check(now) &&
               ((PyCFunctionObject *)now)->m_ml == &fork_def;
    if (install && now && !ours) {
        PyObject *wrapper = PyCFunction_New(&fork_def, NULL);
        if (wrapper && PyObject_SetAttrString(os, "fork", wrapper) == 0) {
            Py_XSETREF(real_fork, Py_NewRef(now));
        }
        Py_XDECREF(wrapper);
    } else if (!install && ours && real_fork) {
        PyObject_SetAttrString(os, "fork", real_fork); /* a program's own os.fork stays */
    }
    Py_XDECREF(now);
    Py_XDECREF(os);
    PyErr_Clear(); /* without the wrapper, a fork only warns as with any thread */
}

static void close_pipe(void)
{
    for (int i = 0; i < 2; i++) {
        if (guard.pipe[i] >= 0)
            close(guard.pipe[i]);
        guard.pipe[i] = -1;
    }
}

int moth_fatal_signals_arm(moth_finish_fn finish, void *ctx)
{
    if (guard.armed && guard.pid == getpid())
        return 0;
    if (guard.armed) {
        /* Armed by the parent this process was forked from: its watcher did not come along. */
        close_pipe();
        guard.armed = 0;
    }
    if (pipe2(guard.pipe, O_CLOEXEC) < 0)
        return -1;
    guard.pid = getpid();
    guard.finish = finish;
    guard.ctx = ctx;
    guard.settled = guard.finishing = guard.noted = guard.paused = 0;
    if (start_watcher() != 0) {
        close_pipe();
        return -1;
    }
    for (int i = 0; i < NCAUGHT; i++) {
        guard.caught[i] = 0;
        if (sigaction(CAUGHT[i], NULL, &guard.previous[i]) < 0 ||
            (guard.previous[i].sa_flags & SA_SIGINFO) ||
            guard.previous[i].sa_handler != SIG_DFL)
            continue; /* ignored (nohup), or the program's (or an embedder's) own */
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        guard.caught[i] = sigaction(CAUGHT[i], &sa, NULL) == 0;
    }
    guard.armed = 1;
    wrap_fork(1);
    return 0;
}

void moth_fatal_signals_settle(void)
{
    if (!guard.armed || guard.pid != getpid())
        return;
    if (guard.finishing) {
        /* The watcher is writing the report and kills the process when done. */
        Py_BEGIN_ALLOW_THREADS
        for (;;)
            pause();
        Py_END_ALLOW_THREADS
    }
    guard.settled = 1;
}

void moth_fatal_signals_disarm(void)
{
    if (!guard.armed || guard.pid != getpid())
        return;
    /* The watcher may be waiting for the GIL to note a signal: let it. */
    if (!guard.paused)
        stop_watcher();
    guard.paused = 0;
    for (int i = 0; i < NCAUGHT; i++) {
        struct sigaction now;
        /* A handler the program installed since stays. */
        if (guard.caught[i] && sigaction(CAUGHT[i], NULL, &now) == 0 &&
            !(now.sa_flags & SA_SIGINFO) && now.sa_handler == on_signal)
            sigaction(CAUGHT[i], &guard.previous[i], NULL);
    }
    /* Signals that came after the watcher stopped are still in the pipe. */
    fcntl(guard.pipe[0], F_SETFL, O_NONBLOCK);
    unsigned char b;
    while (read(guard.pipe[0], &b, 1) == 1)
        if (b)
            guard.noted = b;
    close_pipe();
    guard.armed = 0;
    wrap_fork(0);
    if (guard.noted)
        die_of(guard.noted);
}
