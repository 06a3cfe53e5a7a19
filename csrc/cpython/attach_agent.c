/*
 * attach_agent.c: moth inside a program it attached to (`moth profile -p`; `moth debug -p`
 * is to come: the channel and the 'G' command are reserved for it).
 *
 * moth's bootstrap (remote/attach.h) imports this extension in the target and calls
 * _attach_agent from the interpreter's pending-call point, in the main thread with the GIL.
 * The agent first undoes what the injector did (gives back the lent signal-handler slot, unmaps
 * the bootstrap's page), then connects back to moth's socket (attach_chan.h), checks that its
 * peer is the moth that attached, says hello with moth's token and runs the session moth asks
 * for. One session at a time: a second moth is told that another is attached.
 *
 * A profile session enables the profiler and returns at once: the program runs on, profiled.
 * A thread of the agent's own (plain C, no Python thread object, so the program's threading
 * does not see it) waits on the socket; at moth's 'S' (or when the socket closes because moth
 * is gone) it stops the profiler, sends the report, and ends. Nothing of moth's stays behind:
 * no hook, no thread (the module stays imported).
 */
#include "pyver.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "attach_chan.h"
#include "cli.h"

/* The one session of this process (the GIL guards it). */
static struct {
    int active;
    int fd;
    long moth_pid;
    void *profile;     /* moth_profile_attach_start's session */
    char *command;     /* moth's command: the session's argv point into it */
    char *argv[64];
} agent;

static int channel_sink(void *ctx, int is_err, const char *text, size_t len)
{
    int fd = *(int *)ctx;
    return moth_chan_send(fd, is_err ? 'E' : 'O', text, len);
}

static int connect_back(const char *path)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path)
        return -1;
    strcpy(addr.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = connect(fd, (struct sockaddr *)&addr, sizeof addr);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int recv_released(int fd, char *type, char **data, size_t *len)
{
    int rc;
    Py_BEGIN_ALLOW_THREADS
    do
        rc = moth_chan_recv(fd, type, data, len);
    while (rc == -2);
    Py_END_ALLOW_THREADS
    return rc;
}

/* Splits a NUL-separated payload into argv (pointers into data). */
static int split_args(char *data, size_t len, char **argv, int max)
{
    int argc = 0;
    for (size_t i = 0; i < len && argc < max;) {
        argv[argc++] = data + i;
        i += strlen(data + i) + 1;
    }
    return argc;
}

static void end_session(int status)
{
    char text[32];
    int n = snprintf(text, sizeof text, "%d", status);
    moth_chan_send(agent.fd, 'X', text, (size_t)n);
    close(agent.fd);
    agent.fd = -1;
    agent.active = 0;
}

/* The profile session's watcher: waits for moth's stop (or moth's end), then reports. */
static void *profile_watcher(void *unused)
{
    (void)unused;
    char type = 0;
    char *data;
    size_t len;
    for (;;) {
        int rc = moth_chan_recv(agent.fd, &type, &data, &len);
        if (rc == -2)
            continue;
        if (rc < 0)
            break; /* moth has gone: stop profiling all the same */
        free(data);
        if (type == 'S')
            break;
    }
    PyGILState_STATE g = PyGILState_Ensure();
    moth_cli_redirect(channel_sink, &agent.fd, 0);
    int failed = moth_profile_attach_finish(agent.profile);
    moth_cli_redirect(NULL, NULL, 0);
    agent.profile = NULL;
    free(agent.command);
    agent.command = NULL;
    end_session(failed);
    PyGILState_Release(g);
    return NULL;
}

/* Starts a thread that takes no signal of the program's (they stay the main thread's). */
static int start_thread(void *(*fn)(void *))
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int rc = pthread_create(&th, &attr, fn, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

static int start_profile(char *data, size_t len)
{
    char **argv = agent.argv;
    int argc = split_args(data, len, argv, 64);
    int colour = argc > 0 && strcmp(argv[0], "colour=1") == 0;
    moth_cli_redirect(channel_sink, &agent.fd, colour);
    int rc = moth_profile_attach_start(argc - 1, argv + 1, &agent.profile);
    moth_cli_redirect(NULL, NULL, 0);
    if (rc)
        return rc;
    if (start_thread(profile_watcher) < 0) {
        moth_cli_redirect(channel_sink, &agent.fd, 0);
        moth_profile_attach_finish(agent.profile);
        moth_cli_redirect(NULL, NULL, 0);
        agent.profile = NULL;
        moth_chan_send(agent.fd, 'E', "moth: cannot start the agent's thread\n", 38);
        return 1;
    }
    return 0;
}

/* _attach_agent(socket_path, token, page, page_size, handler, handler_saved, wake, moth_pid,
 * handler_func_offset) */
static PyObject *attach_agent(PyObject *module, PyObject *args)
{
    (void)module;
    const char *path, *token;
    unsigned long long page, page_size, handler, saved, wake, func_off;
    long moth_pid;
    if (!PyArg_ParseTuple(args, "ssKKKKKlK:_attach_agent", &path, &token, &page, &page_size,
                          &handler, &saved, &wake, &moth_pid, &func_off))
        return NULL;
    /* what the injector lent: the handler slot first (it must hold the program's own again
     * before any signal handler runs), then the page of the bootstrap's text (compiled: no
     * longer read) */
    if (handler) {
        PyObject *volatile *func = (PyObject *volatile *)(uintptr_t)(handler + func_off);
        if ((uintptr_t)*func == wake) {
            *func = (PyObject *)(uintptr_t)saved;
            *(volatile int *)(uintptr_t)handler = 0;
        }
    }
    if (page)
        munmap((void *)(uintptr_t)page, (size_t)page_size);
    int fd = connect_back(path);
    if (fd < 0)
        Py_RETURN_NONE; /* moth has gone */
    pid_t peer;
    uid_t uid;
    if (moth_chan_peer(fd, &peer, &uid) < 0 || peer != moth_pid ||
        (uid != getuid() && uid != 0)) {
        close(fd);
        Py_RETURN_NONE; /* not the moth that attached: say nothing to it */
    }
    if (agent.active) {
        char text[200];
        int n = snprintf(text, sizeof text, "%s\nanother moth (process %ld) is attached to "
                         "process %ld: one session at a time", token, agent.moth_pid,
                         (long)getpid());
        moth_chan_send(fd, 'F', text, (size_t)n);
        close(fd);
        Py_RETURN_NONE;
    }
    char hello[300];
    int n = snprintf(hello, sizeof hello, "%s\n%s", token, Py_GetVersion());
    char type;
    char *data = NULL;
    size_t len;
    if (moth_chan_send(fd, 'A', hello, (size_t)n) < 0 || recv_released(fd, &type, &data, &len) < 0) {
        close(fd);
        Py_RETURN_NONE;
    }
    agent.active = 1;
    agent.fd = fd;
    agent.moth_pid = moth_pid;
    int rc;
    if (type == 'P') {
        rc = start_profile(data, len);
    } else {
        /* 'G' (moth debug -p) is not built yet: moth does not send it */
        moth_chan_send(fd, 'E', "moth: this agent runs profile sessions only\n", 44);
        rc = 2;
    }
    if (rc) {
        free(data);
        end_session(rc);
    } else {
        agent.command = data; /* the session's options live as long as it does */
    }
    Py_RETURN_NONE;
}

PyMethodDef moth_attach_functions[] = {
    {"_attach_agent", (PyCFunction)attach_agent, METH_VARARGS,
     "_attach_agent(...)\n\nmoth's bootstrap in an attached program calls this (moth debug -p,\n"
     "moth profile -p); not for other use."},
    {NULL, NULL, 0, NULL},
};
