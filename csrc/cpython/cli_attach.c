/*
 * cli_attach.c: moth's side of `moth profile -p PID` and `moth debug -p PID [--thread TID]`
 * (and of `moth dap`'s attach by process id: moth_attach_session, dap_pid.c).
 *
 * Opens the target as `moth dump` does (same messages when it is gone, not Python or not
 * permitted), listens on a Unix socket in a directory only this user can enter, queues the
 * bootstrap in the target (remote/attach.h) and waits for the agent to connect back: its peer
 * must be the target process and its hello must carry the token only the bootstrap knew. Then
 * it sends the command and relays the session: the agent's text to moth's stdout/stderr;
 * Ctrl-C or the duration ends a profile ('S'). The target's own stdin and stdout are never
 * used.
 *
 * The target imports moth's extension built for its own Python: the bootstrap puts moth's
 * own installation on its sys.path (for the import only) when moth has a build for that
 * version beside its own; otherwise it relies on the target's environment, and when that
 * fails moth says what to install.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "attach_chan.h"
#include "attach_prompt.h"
#include "clock.h"
#include "proc.h"
#include "remote.h"
#include "sock.h"
#include "strbuf.h"

/* How long the program may take to reach a point where it runs Python. */
#define REACH_SECONDS 5.0

typedef struct bootstrap_ctx {
    const char *socket_path;
    char token[33];
    char site[4096];   /* moth's installation to import from ("" : the target's own) */
    long moth_pid;
    uint32_t handler_func_offset;
} bootstrap_ctx;

/* Python's repr of a str without quotes or backslashes in it: moth's paths are checked. */
static int plain_path(const char *s)
{
    for (; *s; s++)
        if (*s == '\'' || *s == '\\' || *s == '\n' || (unsigned char)*s < 0x20)
            return 0;
    return 1;
}

static int compose(void *ctx, const moth_attach_plan *plan, char *buf, size_t size)
{
    const bootstrap_ctx *b = ctx;
    /* One statement run in __main__'s namespace by PyRun_SimpleString: exec() of the real
     * text in a namespace of its own, so that the program's __main__ gains no name; nothing
     * escapes it (an exception there would be the program's). */
    int n = snprintf(
        buf, size,
        "exec('''\n"
        "try:\n"
        "    import sys\n"
        "    site = '%s'\n"
        "    added = bool(site) and site not in sys.path\n"
        "    if added:\n"
        "        sys.path.insert(0, site)\n"
        "    try:\n"
        "        import moth._moth as m\n"
        "    finally:\n"
        "        if added:\n"
        "            try:\n"
        "                sys.path.remove(site)\n"
        "            except ValueError:\n"
        "                pass\n"
        "    m._attach_agent('%s', '%s', %llu, %llu, %llu, %llu, %llu, %ld, %u)\n"
        "except BaseException as e:\n"
        "    try:\n"
        "        import _socket\n"
        "        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)\n"
        "        s.connect('%s')\n"
        "        t = ('%s' + chr(10) + type(e).__name__ + ': ' + str(e)).encode()\n"
        "        s.sendall(b'F' + len(t).to_bytes(4, 'little') + t)\n"
        "        s.close()\n"
        "    except BaseException:\n"
        "        pass\n"
        "''', {'__name__': '__moth_attach__'})\n",
        b->site, b->socket_path, b->token, (unsigned long long)plan->page,
        (unsigned long long)plan->page_size, (unsigned long long)plan->handler,
        (unsigned long long)plan->handler_saved, (unsigned long long)plan->wake_func,
        b->moth_pid, b->handler_func_offset, b->socket_path, b->token);
    return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The directory moth itself was imported from (the one holding the `moth` package), when it
 * has a build of the extension for Python 3.minor. */
static void find_own_build(unsigned minor, char *site, size_t size)
{
    site[0] = '\0';
    Dl_info info;
    if (!dladdr((void *)&moth_attach_command, &info) || !info.dli_fname)
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", info.dli_fname);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0'; /* .../moth */
    char want[32];
    snprintf(want, sizeof want, "_moth.cpython-3%u-", minor);
    DIR *d = opendir(dir);
    if (!d)
        return;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d));)
        found = strncmp(e->d_name, want, strlen(want)) == 0;
    closedir(d);
    slash = strrchr(dir, '/');
    if (found && slash && plain_path(dir)) {
        *slash = '\0';
        snprintf(site, size, "%s", dir);
    }
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* Waits for the agent's connection; the accepted socket, -1 on timeout or Ctrl-C, -2 when
 * the target ended. */
static int wait_for_agent(int listener, long pid, double seconds)
{
    double until = (double)moth_monotonic_ns() * 1e-9 + seconds;
    while (!interrupted) {
        struct pollfd p = {listener, POLLIN, 0};
        int rc = poll(&p, 1, 50);
        if (rc > 0)
            return moth_sock_accept(listener, NULL);
        if (moth_proc_exists((pid_t)pid, NULL) < 0)
            return -2;
        if ((double)moth_monotonic_ns() * 1e-9 > until)
            return -1;
    }
    return -1;
}

static void describe_main_thread(long pid, char *buf, size_t size)
{
    moth_tasks tasks = MOTH_TASKS_INIT;
    buf[0] = '\0';
    if (moth_proc_tasks((pid_t)pid, &tasks, NULL) == 0)
        for (size_t i = 0; i < tasks.count; i++)
            if (tasks.items[i].tid == pid)
                snprintf(buf, size, " (its main thread is in state %c)", tasks.items[i].state);
    moth_tasks_free(&tasks);
}

typedef struct message {
    char type;
    char *data; /* malloc'd, NUL-terminated */
    size_t len;
} message;

/* Messages that came while moth waited for another (completions): handled next. */
static message held[8];
static size_t nheld;

/* The next message from the agent: 1 with it (m->data for the caller to free), 0 when none
 * came within 100 ms or Ctrl-C came first, -1 when the channel has closed. */
static int next_message(int fd, message *m)
{
    if (nheld) {
        *m = held[0];
        memmove(held, held + 1, --nheld * sizeof *held);
        return 1;
    }
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0)
        return 0;
    int rc = moth_chan_recv(fd, &m->type, &m->data, &m->len);
    return rc == -2 ? 0 : rc < 0 ? -1 : 1;
}

/* Text for moth's stdout ('O') or stderr ('E'): shown (and freed), 1; else 0. */
static int show(message *m)
{
    if (m->type != 'O' && m->type != 'E')
        return 0;
    if (m->type == 'O')
        moth_cli_out(m->data, m->len);
    else
        moth_cli_err(m->data, m->len);
    free(m->data);
    return 1;
}

/* The channel closed without the agent's 'X': says why; 1 when the program has ended. A
 * dying process closes its files before it is a zombie: it is given a second to be one. */
static int channel_lost(long pid)
{
    for (int i = 0; i < 100; i++) {
        if (moth_proc_exists((pid_t)pid, NULL) < 0) {
            moth_cli_error("process %ld ended while moth was attached", pid);
            return 1;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    moth_cli_error("the session with process %ld broke off", pid);
    return 0;
}

/* Relays a profile session until the agent ends it. Its 'X' is "STATUS[ HOW]": HOW says the
 * program is ending ("exit", "SIGTERM") and the report came before it did. */
static int relay(int fd, long pid, double duration)
{
    double stop_at = duration > 0 ? (double)moth_monotonic_ns() * 1e-9 + duration : 0;
    int stop_sent = 0;
    for (;;) {
        if (!stop_sent && (interrupted || (stop_at && (double)moth_monotonic_ns() * 1e-9 >= stop_at))) {
            moth_chan_send(fd, 'S', NULL, 0);
            stop_sent = 1;
        }
        message m;
        int rc = next_message(fd, &m);
        if (rc < 0) {
            channel_lost(pid);
            return 1; /* nothing was reported */
        }
        if (rc == 0 || show(&m))
            continue;
        if (m.type == 'X') {
            int status = atoi(m.data);
            const char *how = strchr(m.data, ' ');
            if (how && strcmp(how + 1, "SIGTERM") == 0)
                moth_cli_error("process %ld was ended by SIGTERM while moth was attached; the "
                               "profile covers it until then", pid);
            else if (how)
                moth_cli_error("process %ld ended while moth was attached; the profile covers "
                               "it until its end", pid);
            free(m.data);
            return status;
        }
        free(m.data);
    }
}

static struct sigaction saved_int;

/* moth_prompt_ask over the channel: 'T' out, the agent's 'M' back. Text that comes meanwhile
 * is shown; anything else is held for the relay. */
static int ask_completions(void *ctx, const char *request, char **reply, size_t *len)
{
    int fd = *(int *)ctx;
    if (moth_chan_send(fd, 'T', request, strlen(request)) < 0)
        return -1;
    for (int waited = 0; waited < 50;) { /* 5 s */
        message m;
        int rc = next_message(fd, &m);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            waited++;
            continue;
        }
        if (m.type == 'M') {
            *reply = m.data;
            *len = m.len;
            return 0;
        }
        if (show(&m))
            continue;
        if (nheld < sizeof held / sizeof *held)
            held[nheld++] = m;
        else
            free(m.data);
    }
    return -1;
}

/* Relays a debug session: the debugger's text out, the lines typed in, Ctrl-C as 'C' (and,
 * when the agent asks, the main thread woken from outside). */
static int relay_debug(int fd, moth_remote *t, long pid)
{
    moth_attach_plan wake;
    int lent = 0;
    moth_error err;
    for (;;) {
        if (interrupted) {
            interrupted = 0;
            moth_chan_send(fd, 'C', NULL, 0);
        }
        message m;
        int rc = next_message(fd, &m);
        if (rc < 0) {
            if (lent)
                moth_attach_give_back(t, &wake, NULL);
            return channel_lost(pid) ? 0 : 1;
        }
        if (rc == 0 || show(&m))
            continue;
        if (m.type == 'W') {
            if (moth_attach_wake(t, &wake, &err) == 0)
                lent = wake.handler != 0;
            if (wake.unwakeable)
                moth_cli_error("process %ld's main thread waits in a system call and moth "
                               "cannot wake it (%s): it stops when it next runs Python", pid,
                               wake.note);
        } else if (m.type == 'R') {
            if (lent) { /* stopped: the main thread has run the pending call */
                moth_attach_give_back(t, &wake, NULL);
                lent = 0;
            }
            char *line = moth_prompt_read(m.data, ask_completions, &fd, &saved_int);
            interrupted = 0;
            if (!line)
                moth_chan_send(fd, 'I', "EOF", 3);
            else
                moth_chan_send(fd, 'I', line, strlen(line));
            free(line);
        } else if (m.type == 'X') {
            if (lent)
                moth_attach_give_back(t, &wake, NULL);
            if (m.len) {
                moth_cli_err(m.data, m.len);
                moth_cli_err("\n", 1);
            }
            free(m.data);
            return 0;
        }
        free(m.data);
    }
}

int moth_attach_session(long pid, char kind, const char *payload, size_t payload_len,
                        moth_attach_run run, void *run_ctx)
{
    moth_remote t;
    moth_error err;
    if (moth_remote_open_pid(&t, (pid_t)pid, &err) < 0)
        return moth_cli_error("%s", err.msg);
    unsigned minor = (t.version_hex >> 16) & 0xff;
    if (minor >= 14) {
        /* 3.14's sys.remote_exec is the way in there: one more branch here */
        moth_remote_close(&t);
        return moth_cli_error("process %ld runs Python 3.%u: attach with its own "
                              "sys.remote_exec (moth attaches to 3.11-3.13)", pid, minor);
    }
    if (moth_chan_claimed((pid_t)pid)) {
        moth_remote_close(&t);
        return moth_cli_error("another moth is attached to process %ld: one session at a time",
                              pid);
    }
    bootstrap_ctx b;
    memset(&b, 0, sizeof b);
    b.moth_pid = (long)getpid();
    b.handler_func_offset = t.L->signals.handler_func;
    find_own_build(minor, b.site, sizeof b.site);
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) {
        moth_remote_close(&t);
        return moth_cli_error("cannot draw a random token: %s", strerror(errno));
    }
    for (int i = 0; i < 16; i++)
        snprintf(b.token + 2 * i, 3, "%02x", raw[i]);
    char path[128];
    int listener = moth_sock_listen_unix(path, sizeof path, &err);
    if (listener < 0) {
        moth_remote_close(&t);
        return moth_cli_error("%s", err.msg);
    }
    b.socket_path = path;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint; /* no SA_RESTART: a wait returns at Ctrl-C */
    sigaction(SIGINT, &sa, &saved_int);
    interrupted = 0;

    int status = 1, fd = -1;
    moth_attach_plan plan;
    if (moth_attach_inject(&t, compose, &b, &plan, &err) < 0) {
        moth_cli_error("%s", err.msg);
        goto out;
    }
    if (plan.unwakeable)
        moth_cli_error("process %ld's main thread waits in a system call and moth cannot wake "
                       "it (%s): moth attaches if it runs Python within %.0f s", pid, plan.note,
                       REACH_SECONDS);
    for (double wait = REACH_SECONDS;; wait = REACH_SECONDS) {
        fd = wait_for_agent(listener, pid, wait);
        if (fd >= 0 || fd == -2)
            break;
        /* not reached in time (or Ctrl-C): take the bootstrap back if it has not started
         * (the main thread's state read first: moth's stop leaves it running for a moment) */
        char state[64];
        describe_main_thread(pid, state, sizeof state);
        int withdrawn = moth_attach_withdraw(&t, &plan, &err);
        if (withdrawn < 0) {
            moth_cli_error("%s", err.msg);
            goto out;
        }
        if (withdrawn) {
            if (interrupted)
                moth_cli_error("interrupted before process %ld ran moth's bootstrap; nothing "
                               "of moth's was left in it", pid);
            else
                moth_cli_error("process %ld did not reach a point where it runs Python within "
                               "%.0f s%s: it may be in a long call of C code; nothing of moth's "
                               "was left in it", pid, REACH_SECONDS, state);
            goto out;
        }
        interrupted = 0; /* started: it will connect */
    }
    if (fd == -2) {
        moth_cli_error("process %ld ended before moth could attach", pid);
        goto out;
    }
    moth_sock_unix_remove(path); /* nobody else connects from now on */
    pid_t peer;
    uid_t uid;
    char type = 0;
    char *data = NULL;
    size_t len = 0;
    if (moth_chan_peer(fd, &peer, &uid) < 0 || peer != (pid_t)pid) {
        moth_cli_error("a process other than %ld connected to moth's socket: refused", pid);
        goto out;
    }
    int rc;
    while ((rc = moth_chan_recv(fd, &type, &data, &len)) == -2)
        ;
    size_t tlen = strlen(b.token);
    if (rc < 0 || len < tlen || memcmp(data, b.token, tlen) != 0 || (type != 'A' && type != 'F')) {
        moth_cli_error("process %ld answered moth's bootstrap with something else", pid);
        free(data);
        goto out;
    }
    if (type == 'F') {
        const char *why = data + tlen + (data[tlen] == '\n');
        if (strstr(why, "another moth"))
            moth_cli_error("%s", why);
        else {
            char exe[4096] = "python";
            moth_proc_exe((pid_t)pid, exe, sizeof exe);
            moth_cli_error("process %ld (Python 3.%u, %s) cannot import moth (%s): install "
                           "moth for that Python (%s -m pip install moth) and attach again",
                           pid, minor, exe, why, exe);
            moth_attach_release_page(&t, &plan, NULL);
        }
        free(data);
        goto out;
    }
    free(data);
    if (moth_chan_send(fd, kind, payload, payload_len) < 0) {
        moth_cli_error("process %ld ended while moth was attaching", pid);
        goto out;
    }
    status = run(run_ctx, fd, &t, pid);
out:
    while (nheld)
        free(held[--nheld].data);
    if (fd >= 0)
        close(fd);
    close(listener);
    moth_sock_unix_remove(path);
    sigaction(SIGINT, &saved_int, NULL);
    moth_remote_close(&t);
    return status;
}

typedef struct command_run {
    const char *what;
    double duration;
} command_run;

/* moth profile -p / moth debug -p once the agent has the command: the session, relayed. */
static int run_command(void *ctx, int fd, moth_remote *t, long pid)
{
    const command_run *c = ctx;
    if (strcmp(c->what, "profile") != 0)
        return relay_debug(fd, t, pid);
    char version[32], line[160];
    moth_remote_version_string(t, version, sizeof version);
    int n = snprintf(line, sizeof line, "moth: profiling process %ld (Python %s)%s\n", pid,
                     version, c->duration > 0 ? "" : "; Ctrl-C stops");
    moth_cli_err(line, (size_t)n);
    return relay(fd, pid, c->duration);
}

int moth_attach_command(const char *what, long pid, double duration, int argc, char **argv)
{
    /* the command: "colour=N" then the options */
    moth_sb cmd = MOTH_SB_INIT;
    moth_sb_printf(&cmd, "colour=%d", moth_cli_colour());
    for (int i = 0; i < argc; i++) {
        moth_sb_putc(&cmd, '\0');
        const char *a = argv[i];
        int is_path = i > 0 && (strcmp(argv[i - 1], "-o") == 0 ||
                                strcmp(argv[i - 1], "--outfile") == 0 ||
                                strcmp(argv[i - 1], "--flame") == 0);
        if (is_path && a[0] != '/') {
            /* files are written by the target, whose working directory is its own */
            char cwd[4096];
            if (getcwd(cwd, sizeof cwd))
                moth_sb_printf(&cmd, "%s/", cwd);
        }
        moth_sb_puts(&cmd, a);
    }
    command_run c = {what, duration};
    int status = moth_attach_session(pid, strcmp(what, "profile") == 0 ? 'P' : 'G', cmd.data,
                                     cmd.len, run_command, &c);
    moth_sb_free(&cmd);
    return status;
}
