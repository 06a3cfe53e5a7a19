/*
 * attach_agent.c: moth inside a program it attached to (`moth profile -p`, `moth debug -p`).
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
 *
 * A debug session starts moth.attach's debugger (a moth.Pdb whose terminal is the channel) on
 * the program's frame: the program stops at its next line. A reader thread of the agent's own
 * is the only one to read the socket: lines typed at moth's terminal go to a queue the
 * debugger's readline waits on; moth's Ctrl-C becomes a pending call (Py_AddPendingCall) that
 * stops the program where its main thread is (moth wakes that thread from outside if it is
 * blocked); moth's end (detach, its terminal closed, moth killed) takes everything out.
 *
 * A DAP session (`moth dap`'s attach by processId) runs moth dap's debugger in the program on
 * the channel itself, which carries the protocol's messages from then on: a thread of the
 * agent's own is its request thread (dap_pid.c); when it ends, nothing of moth's is left.
 */
#include "pyver.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include "strbuf.h"

/* The one session of this process (the GIL guards it). */
static struct {
    int active;
    int fd;
    long moth_pid;
    void *profile;     /* moth_profile_attach_start's session */
    char *command;     /* moth's command: the session's argv point into it */
    char *argv[64];
    /* debug sessions: the lines typed at moth's terminal, and whether the session ended */
    pthread_mutex_t lock;
    pthread_cond_t arrived;
    char **lines;
    size_t nlines, lines_cap;
    int ended;         /* moth has gone or detached: readline gives '' */
    int debugging;
    int claim;         /* moth_chan_claim's socket while a session runs, else -1 */
} agent = {.claim = -1, .lock = PTHREAD_MUTEX_INITIALIZER, .arrived = PTHREAD_COND_INITIALIZER};

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

static void release_claim(void)
{
    if (agent.claim >= 0)
        close(agent.claim);
    agent.claim = -1;
}

/* Ends the session: 'X' with the status and, when the program is ending, how ("exit",
 * "SIGTERM") for moth to say so. */
static void end_session(int status, const char *how)
{
    release_claim();
    char text[64];
    int n = snprintf(text, sizeof text, "%d%s%s", status, how ? " " : "", how ? how : "");
    moth_chan_send(agent.fd, 'X', text, (size_t)n);
    close(agent.fd);
    agent.fd = -1;
    agent.active = 0;
}

/*
 * A profile session also ends when the program does, and hands over what it collected:
 * an exit through the interpreter's finalization (the end of the program, sys.exit, an
 * uncaught exception) runs an atexit function of moth's, and SIGTERM (when the program has
 * no handler of its own: it would die at once) a C handler; both wake the watcher thread,
 * which reports, and the program then ends as it would have (the signal raised again with
 * its default action). Only a death no code sees (SIGKILL, os._exit) loses the profile.
 */
enum { PROFILE_IDLE, PROFILE_RUNNING, PROFILE_ENDING };
static struct {
    int state;                /* under lock */
    int wake[2];              /* the atexit function and the SIGTERM handler write a byte */
    int term_hooked;          /* moth's SIGTERM handler is installed */
    pid_t pid;                /* the program's: a child it forks inherits the handler, the
                               * atexit function and the pipe, and must not use them */
    volatile int gil_taken;   /* after SIGTERM: the watcher got the GIL to report */
    pthread_mutex_t lock;
    pthread_cond_t ended;
} ending = {.wake = {-1, -1}, .lock = PTHREAD_MUTEX_INITIALIZER,
            .ended = PTHREAD_COND_INITIALIZER};

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

static void on_term(int sig)
{
    int saved = errno;
    if (getpid() != ending.pid) {
        /* a forked child's SIGTERM: its own default action */
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(sig, &dfl, NULL);
        raise(sig);
        errno = saved;
        return;
    }
    if (write(ending.wake[1], "t", 1) < 0) {
        /* (the pipe holds at most a few bytes: it is never full) */
    }
    errno = saved;
}

/* SIGTERM's handler is moth's only while the program has none of its own (its disposition
 * SIG_DFL): a program that handles or ignores SIGTERM does so unchanged. */
static void hook_term(void)
{
    struct sigaction now;
    if (sigaction(SIGTERM, NULL, &now) < 0 || now.sa_handler != SIG_DFL ||
        (now.sa_flags & SA_SIGINFO))
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sa.sa_flags = SA_RESTART; /* the program's own calls go on as if nothing came */
    sigfillset(&sa.sa_mask);
    ending.term_hooked = sigaction(SIGTERM, &sa, NULL) == 0;
}

/* Puts SIGTERM's default action back, when the handler there is still moth's. */
static void unhook_term(void)
{
    struct sigaction now;
    if (ending.term_hooked && sigaction(SIGTERM, NULL, &now) == 0 &&
        now.sa_handler == on_term) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof dfl);
        dfl.sa_handler = SIG_DFL;
        sigaction(SIGTERM, &dfl, NULL);
    }
    ending.term_hooked = 0;
}

/* Calls atexit.<name>(_moth._attach_exit), with the GIL; errors are dropped (the function
 * does nothing once the session has ended). */
static void atexit_call(const char *name)
{
    PyObject *atexit = PyImport_ImportModule("atexit");
    PyObject *mod = atexit ? PyImport_ImportModule("moth._moth") : NULL;
    PyObject *fn = mod ? PyObject_GetAttrString(mod, "_attach_exit") : NULL;
    PyObject *r = fn ? PyObject_CallMethod(atexit, name, "O", fn) : NULL;
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(fn);
    Py_XDECREF(mod);
    Py_XDECREF(atexit);
}

/* After SIGTERM: the program must die even when the watcher never gets the GIL (a main
 * thread in a long C call that holds it): then without its profile. */
static void *term_deadline(void *unused)
{
    (void)unused;
    struct timespec ts = {5, 0};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    if (!ending.gil_taken) {
        unhook_term();
        kill(getpid(), SIGTERM);
    }
    return NULL;
}

/* Waits for what ends the profile: 'S' from moth or moth gone (""), the program's exit
 * ("exit") or SIGTERM ("SIGTERM"). */
static const char *wait_for_end(void)
{
    for (;;) {
        struct pollfd p[2] = {{agent.fd, POLLIN, 0}, {ending.wake[0], POLLIN, 0}};
        if (poll(p, ending.wake[0] >= 0 ? 2 : 1, -1) < 0)
            continue;
        char c = 0;
        if (p[1].revents && read(ending.wake[0], &c, 1) == 1)
            return c == 't' ? "SIGTERM" : "exit";
        if (!p[0].revents)
            continue;
        char type = 0;
        char *data;
        size_t len;
        int rc = moth_chan_recv(agent.fd, &type, &data, &len);
        if (rc == -2)
            continue;
        if (rc < 0)
            return ""; /* moth has gone: stop profiling all the same */
        free(data);
        if (type == 'S')
            return "";
    }
}

/* The profile session's watcher: waits for the end, then reports. */
static void *profile_watcher(void *unused)
{
    (void)unused;
    const char *why = wait_for_end();
    int term = strcmp(why, "SIGTERM") == 0;
    pthread_mutex_lock(&ending.lock);
    ending.state = PROFILE_ENDING;
    pthread_mutex_unlock(&ending.lock);
    if (term)
        start_thread(term_deadline);
    PyGILState_STATE g = PyGILState_Ensure();
    ending.gil_taken = 1;
    if (strcmp(why, "exit") != 0) /* (not while atexit runs it: it holds it) */
        atexit_call("unregister");
    moth_cli_redirect(channel_sink, &agent.fd, 0);
    int failed = moth_profile_attach_finish(agent.profile);
    moth_cli_redirect(NULL, NULL, 0);
    agent.profile = NULL;
    free(agent.command);
    agent.command = NULL;
    end_session(failed, *why ? why : NULL);
    unhook_term(); /* before its pipe closes: the handler writes there */
    if (ending.wake[0] >= 0) {
        close(ending.wake[0]);
        close(ending.wake[1]);
    }
    ending.wake[0] = ending.wake[1] = -1;
    PyGILState_Release(g);
    pthread_mutex_lock(&ending.lock);
    ending.state = PROFILE_IDLE;
    pthread_cond_broadcast(&ending.ended);
    pthread_mutex_unlock(&ending.lock);
    if (term) {
        /* the program ends as SIGTERM would have ended it (this thread blocks every signal:
         * another takes it, with the default action) */
        kill(getpid(), SIGTERM);
    }
    return NULL;
}

/* _attach_exit(): atexit's call at the program's end: the watcher reports while the main
 * thread waits here (without the GIL, which the watcher needs). */
static PyObject *attach_exit(PyObject *module, PyObject *unused)
{
    (void)module, (void)unused;
    if (getpid() != ending.pid)
        Py_RETURN_NONE; /* a forked child ends: the profile is its parent's */
    pthread_mutex_lock(&ending.lock);
    if (ending.state == PROFILE_RUNNING && write(ending.wake[1], "x", 1) < 0)
        ending.state = PROFILE_IDLE; /* (cannot happen: the pipe is empty) */
    int wait = ending.state != PROFILE_IDLE;
    pthread_mutex_unlock(&ending.lock);
    if (wait) {
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&ending.lock);
        while (ending.state != PROFILE_IDLE)
            pthread_cond_wait(&ending.ended, &ending.lock);
        pthread_mutex_unlock(&ending.lock);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
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
    if (pipe2(ending.wake, O_CLOEXEC | O_NONBLOCK) == 0) {
        ending.state = PROFILE_RUNNING;
        ending.pid = getpid();
        atexit_call("register");
        hook_term();
    }
    if (start_thread(profile_watcher) < 0) {
        ending.state = PROFILE_IDLE;
        atexit_call("unregister");
        unhook_term();
        close(ending.wake[0]);
        close(ending.wake[1]);
        ending.wake[0] = ending.wake[1] = -1;
        moth_cli_redirect(channel_sink, &agent.fd, 0);
        moth_profile_attach_finish(agent.profile);
        moth_cli_redirect(NULL, NULL, 0);
        agent.profile = NULL;
        moth_chan_send(agent.fd, 'E', "moth: cannot start the agent's thread\n", 38);
        return 1;
    }
    return 0;
}


/* Calls moth.attach.<name>(*args) with the GIL; a failure is shown at moth's terminal. */
static int call_attach(const char *name, PyObject *args)
{
    PyObject *mod = PyImport_ImportModule("moth.attach");
    PyObject *fn = mod ? PyObject_GetAttrString(mod, name) : NULL;
    PyObject *r = fn ? PyObject_CallObject(fn, args) : NULL;
    Py_XDECREF(mod);
    Py_XDECREF(fn);
    if (r) {
        Py_DECREF(r);
        return 0;
    }
    PyObject *exc = moth_take_exception();
    PyObject *text = exc ? PyObject_Str(exc) : NULL;
    const char *msg = text ? PyUnicode_AsUTF8(text) : NULL;
    char line[600];
    int n = snprintf(line, sizeof line, "moth: the debugger in the program failed: %s\n",
                     msg ? msg : "?");
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(exc);
    if (agent.fd >= 0)
        moth_chan_send(agent.fd, 'E', line, (size_t)n);
    return -1;
}

/* The main thread, at the interpreter's pending-call point: moth's Ctrl-C. */
static int interrupt_call(void *unused)
{
    (void)unused;
    if (agent.debugging && !agent.ended)
        call_attach("interrupt", NULL);
    return 0;
}

static void push_line(char *line)
{
    pthread_mutex_lock(&agent.lock);
    if (moth_grow((void **)&agent.lines, sizeof *agent.lines, &agent.lines_cap,
                  agent.nlines + 1, NULL) == 0)
        agent.lines[agent.nlines++] = line;
    else
        free(line);
    pthread_cond_broadcast(&agent.arrived);
    pthread_mutex_unlock(&agent.lock);
}

/* moth's tab at the prompt: "BEGIDX ENDIDX LINE" -> 'M' with pdb's completions there, each
 * ended by a NUL (none when the debugger has none or fails). */
static void send_completions(const char *request)
{
    moth_sb out = MOTH_SB_INIT;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *mod = PyImport_ImportModule("moth.attach");
    PyObject *r = mod ? PyObject_CallMethod(mod, "complete", "s", request) : NULL;
    PyObject *seq = r ? PySequence_Fast(r, "completions") : NULL;
    for (Py_ssize_t i = 0; seq && i < PySequence_Fast_GET_SIZE(seq); i++) {
        const char *match = PyUnicode_AsUTF8(PySequence_Fast_GET_ITEM(seq, i));
        if (match) {
            moth_sb_puts(&out, match);
            moth_sb_putc(&out, '\0');
        }
    }
    PyErr_Clear();
    Py_XDECREF(seq);
    Py_XDECREF(r);
    Py_XDECREF(mod);
    PyGILState_Release(g);
    moth_chan_send(agent.fd, 'M', out.data ? out.data : "", out.len);
    moth_sb_free(&out);
}

static void *debug_reader(void *unused)
{
    (void)unused;
    for (;;) {
        char type;
        char *data;
        size_t len;
        int rc = moth_chan_recv(agent.fd, &type, &data, &len);
        if (rc == -2)
            continue;
        if (rc < 0 || type == 'D') {
            if (rc == 0)
                free(data);
            break;
        }
        if (type == 'I') {
            push_line(data);
            continue;
        }
        if (type == 'T') {
            send_completions(data);
            free(data);
            continue;
        }
        if (type == 'C') {
            Py_AddPendingCall(interrupt_call, NULL);
            moth_chan_send(agent.fd, 'W', NULL, 0); /* moth wakes the main thread */
        }
        free(data);
    }
    pthread_mutex_lock(&agent.lock);
    int was_ended = agent.ended;
    agent.ended = 1;
    pthread_cond_broadcast(&agent.arrived);
    pthread_mutex_unlock(&agent.lock);
    PyGILState_STATE g = PyGILState_Ensure();
    if (!was_ended)
        call_attach("detach", NULL); /* moth has gone: take everything out */
    for (size_t i = 0; i < agent.nlines; i++)
        free(agent.lines[i]);
    free(agent.lines);
    agent.lines = NULL;
    agent.nlines = agent.lines_cap = 0;
    free(agent.command);
    agent.command = NULL;
    close(agent.fd);
    agent.fd = -1;
    agent.debugging = 0;
    release_claim();
    agent.active = 0;
    PyGILState_Release(g);
    return NULL;
}

/* The debugger has taken itself out (or could not start): tell moth, and let the reader see
 * the end and clean up. */
static void end_debug(const char *text)
{
    pthread_mutex_lock(&agent.lock);
    int was_ended = agent.ended;
    agent.ended = 1;
    pthread_cond_broadcast(&agent.arrived);
    pthread_mutex_unlock(&agent.lock);
    if (!was_ended && agent.fd >= 0) {
        moth_chan_send(agent.fd, 'X', text, strlen(text));
        shutdown(agent.fd, SHUT_RDWR);
    }
}

static int start_debug(char *data, size_t len)
{
    char **argv = agent.argv;
    int argc = split_args(data, len, argv, 64);
    int colour = 0;
    long thread = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "colour=1") == 0)
            colour = 1;
        else if (strncmp(argv[i], "thread=", 7) == 0)
            thread = atol(argv[i] + 7);
    }
    agent.ended = 0;
    agent.debugging = 1;
    /* the reader first: the debugger may stop the program right away and wait for a line */
    if (start_thread(debug_reader) < 0) {
        agent.debugging = 0;
        moth_chan_send(agent.fd, 'E', "moth: cannot start the agent's thread\n", 38);
        return 1;
    }
    PyObject *args = Py_BuildValue("(il)", colour, thread);
    if (!args || call_attach("start", args) < 0)
        end_debug(""); /* the reader owns the session now: it ends it */
    Py_XDECREF(args);
    return 0;
}

/* The DAP session's request thread: the session runs on the channel until it ends. */
static void *dap_session_thread(void *unused)
{
    (void)unused;
    moth_dap_in_program(agent.fd, agent.command);
    PyGILState_STATE g = PyGILState_Ensure();
    free(agent.command);
    agent.command = NULL;
    agent.fd = -1; /* (the session closed it) */
    release_claim();
    agent.active = 0;
    PyGILState_Release(g);
    return NULL;
}

/* _attach_read(prompt) -> a line typed at moth's terminal, '' when the session ended */
static PyObject *attach_read(PyObject *module, PyObject *args)
{
    (void)module;
    const char *prompt;
    Py_ssize_t plen;
    if (!PyArg_ParseTuple(args, "s#:_attach_read", &prompt, &plen))
        return NULL;
    char *line = NULL;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&agent.lock);
    if (!agent.ended && agent.fd >= 0)
        moth_chan_send(agent.fd, 'R', prompt, (size_t)plen);
    while (!agent.nlines && !agent.ended)
        pthread_cond_wait(&agent.arrived, &agent.lock);
    if (agent.nlines) {
        line = agent.lines[0];
        memmove(agent.lines, agent.lines + 1, --agent.nlines * sizeof *agent.lines);
    }
    pthread_mutex_unlock(&agent.lock);
    Py_END_ALLOW_THREADS
    if (!line)
        return PyUnicode_FromString("");
    PyObject *r = PyUnicode_FromFormat("%s\n", line);
    free(line);
    return r;
}

/* _attach_write(text): text for moth's terminal */
static PyObject *attach_write(PyObject *module, PyObject *args)
{
    (void)module;
    const char *text;
    Py_ssize_t len;
    if (!PyArg_ParseTuple(args, "s#:_attach_write", &text, &len))
        return NULL;
    if (agent.fd >= 0 && !agent.ended) {
        int fd = agent.fd;
        Py_BEGIN_ALLOW_THREADS
        moth_chan_send(fd, 'O', text, (size_t)len);
        Py_END_ALLOW_THREADS
    }
    Py_RETURN_NONE;
}

/* _attach_end(message): the debugger has taken itself out: tell moth and end the session */
static PyObject *attach_end(PyObject *module, PyObject *args)
{
    (void)module;
    const char *text = "";
    if (!PyArg_ParseTuple(args, "|s:_attach_end", &text))
        return NULL;
    end_debug(text);
    Py_RETURN_NONE;
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
    if (agent.active || (agent.claim = moth_chan_claim(getpid())) < 0) {
        char text[200];
        int n = snprintf(text, sizeof text, "%s\nanother moth is attached to process %ld: one "
                         "session at a time", token, (long)getpid());
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
    } else if (type == 'G') {
        agent.command = data; /* before the session starts: its threads read argv */
        rc = start_debug(data, len);
        data = rc ? data : NULL;
        if (rc)
            agent.command = NULL;
    } else if (type == 'V') {
        agent.command = data;
        rc = start_thread(dap_session_thread) < 0;
        data = rc ? data : NULL;
        if (rc)
            agent.command = NULL;
    } else {
        rc = 2;
    }
    if (rc) {
        free(data);
        end_session(rc, NULL);
    } else if (data) {
        agent.command = data; /* the session's options live as long as it does */
    }
    Py_RETURN_NONE;
}

PyMethodDef moth_attach_functions[] = {
    {"_attach_agent", (PyCFunction)attach_agent, METH_VARARGS,
     "_attach_agent(...)\n\nmoth's bootstrap in an attached program calls this (moth debug -p,\n"
     "moth profile -p); not for other use."},
    {"_attach_exit", (PyCFunction)attach_exit, METH_NOARGS,
     "_attach_exit()\n\nmoth's atexit function in a program `moth profile -p` profiles: the "
     "profile\nis handed over before the program ends."},
    {"_attach_read", (PyCFunction)attach_read, METH_VARARGS,
     "_attach_read(prompt) -> str\n\nA line typed at the attached moth's terminal ('' at the "
     "end)."},
    {"_attach_write", (PyCFunction)attach_write, METH_VARARGS,
     "_attach_write(text)\n\nText for the attached moth's terminal."},
    {"_attach_end", (PyCFunction)attach_end, METH_VARARGS,
     "_attach_end(message='')\n\nEnds the attached debugging session."},
    {NULL, NULL, 0, NULL},
};
