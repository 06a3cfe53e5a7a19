/*
 * cli_dap.c: `moth dap`, the Debug Adapter Protocol server (csrc/debugger/dap*.c).
 *
 * Over stdin and stdout (an editor starts it as its debug adapter), or with --listen
 * HOST:PORT on TCP: each client that connects gets a process of its own (a fork of this one,
 * which has run nothing yet), so sessions never share a program. Two forms are moth's own:
 * `--terminal PATH`, the helper a client runs in a terminal to lend it to the program, and
 * `--resume FILE`, the process a restart becomes.
 */
#define _GNU_SOURCE /* dup3 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dap.h"
#include "interp.h"
#include "sock.h"

static const char USAGE[] =
    "usage: moth dap [--listen HOST:PORT]\n"
    "\n"
    "A Debug Adapter Protocol server on moth's debugger, for VS Code, nvim-dap, Emacs and\n"
    "other editors: the editor launches a program under it (or attaches to a running\n"
    "program by its process id, or to one that called moth.listen()), sets breakpoints and\n"
    "steps, inspects and changes variables.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT   serve clients that connect to this address (a port alone: on\n"
    "                       127.0.0.1; port 0: any free port, told on stderr), each in a\n"
    "                       process of its own, instead of one client on stdin/stdout\n";

/* The session over conn: answers it until it ends (the launched program runs here). */
static int serve(moth_dap_conn *conn, int stderr_fd, const moth_json *resume_state)
{
    moth_error err;
    moth_dap *d = moth_dap_new(conn, &err);
    if (!d) {
        moth_dap_conn_free(conn);
        return moth_cli_error("%s", err.msg);
    }
    d->stderr_fd = stderr_fd;
    moth_the_interp.dap = d;
    int status = 0;
    if (resume_state && moth_dap_resume(d, resume_state, &err) < 0) {
        moth_dap_output(d, "console", err.msg, strlen(err.msg));
        moth_dap_end(d);
    }
    if (moth_dap_start_reader(d, &err) < 0) {
        status = moth_cli_error("%s", err.msg);
    } else {
        moth_dap_run_launched(d);
        moth_dap_join_reader(d);
    }
    if (d->dbg) {
        PyObject *r = PyObject_CallMethod(d->dbg, "_moth_stop", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    /* threads of the program still in the session's code leave it now that it is over */
    for (int i = 0; i < 100 && d->users; i++) {
        Py_BEGIN_ALLOW_THREADS
        usleep(10000);
        Py_END_ALLOW_THREADS
    }
    moth_dap_retire(d);
    return status;
}

/* stdin and stdout are the protocol's: the program gets /dev/null and moth's stderr until
 * its console is set up. */
static int serve_stdio(void)
{
    int in = fcntl(0, F_DUPFD_CLOEXEC, 3), out = fcntl(1, F_DUPFD_CLOEXEC, 3);
    int err_fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (in < 0 || out < 0 || null < 0)
        return moth_cli_error("cannot set up stdin and stdout: %s", strerror(errno));
    dup2(null, 0);
    dup2(2, 1);
    close(null);
    moth_error err;
    moth_dap_conn *conn = moth_dap_conn_open(in, out, 1, &err);
    if (!conn)
        return moth_cli_error("%s", err.msg);
    return serve(conn, err_fd, NULL);
}

static void reap_children(void)
{
    while (waitpid(-1, NULL, WNOHANG) > 0)
        ;
}

static int serve_tcp(const char *address)
{
    char host[256];
    int port, bound;
    moth_error err;
    if (moth_sock_parse_address(address, host, sizeof host, &port, &err) < 0)
        return moth_cli_error("--listen: %s", err.msg);
    int listener = moth_sock_listen_tcp(host, port, &bound, &err);
    if (listener < 0)
        return moth_cli_error("%s", err.msg);
    char line[400];
    int n = snprintf(line, sizeof line, "moth dap: listening on %s:%d\n", host, bound);
    moth_cli_err(line, (size_t)n);
    for (;;) {
        int fd = -1;
        Py_BEGIN_ALLOW_THREADS
        struct pollfd p = {listener, POLLIN, 0};
        if (poll(&p, 1, 500) > 0)
            fd = moth_sock_accept(listener, NULL);
        Py_END_ALLOW_THREADS
        reap_children();
        if (PyErr_CheckSignals() < 0) { /* Ctrl-C: the server stops; sessions go on */
            PyErr_Clear();
            close(listener);
            return 0;
        }
        if (fd < 0)
            continue;
        PyOS_BeforeFork();
        pid_t pid = fork();
        if (pid == 0) {
            PyOS_AfterFork_Child();
            close(listener);
            moth_dap_conn *conn = moth_dap_conn_open(fd, fd, 1, &err);
            if (!conn)
                return moth_cli_error("%s", err.msg);
            return serve(conn, fcntl(2, F_DUPFD_CLOEXEC, 3), NULL);
        }
        PyOS_AfterFork_Parent();
        close(fd);
        if (pid < 0)
            moth_cli_error("cannot start a session: %s", strerror(errno));
    }
}

/* The restarted process: the state its predecessor left in path. */
static int serve_resumed(const char *path)
{
    moth_error err;
    moth_sb text = MOTH_SB_INIT;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char buf[8192];
    ssize_t n = 0;
    while (fd >= 0 && (n = read(fd, buf, sizeof buf)) > 0)
        moth_sb_append(&text, buf, (size_t)n);
    if (fd >= 0)
        close(fd);
    unlink(path);
    moth_json_doc *doc = NULL;
    int rc = fd < 0 || n < 0 || text.failed
                 ? moth_fail(&err, "cannot read %s", path)
                 : moth_json_parse(text.data ? text.data : "", text.len, &doc, &err);
    moth_sb_free(&text);
    if (rc < 0)
        return moth_cli_error("cannot restart: %s", err.msg);
    const moth_json *state = moth_json_root(doc);
    int64_t in, out, err_fd = -1, seq;
    if (!moth_json_int(moth_json_get(state, "in"), &in) ||
        !moth_json_int(moth_json_get(state, "out"), &out) ||
        !moth_json_int(moth_json_get(state, "seq"), &seq)) {
        moth_json_free(doc);
        return moth_cli_error("cannot restart: the saved state is incomplete");
    }
    moth_json_int(moth_json_get(state, "stderr"), &err_fd);
    int fds[3] = {(int)in, (int)out, (int)err_fd};
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            fcntl(fds[i], F_SETFD, FD_CLOEXEC);
    moth_dap_conn *conn = moth_dap_conn_open((int)in, (int)out, seq, &err);
    int status = conn ? serve(conn, (int)err_fd, state) : moth_cli_error("%s", err.msg);
    moth_json_free(doc);
    return status;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    interrupted = 1;
}

/* The terminal helper: lends this terminal (stdin, stdout, stderr) to the program and waits
 * until the session lets it go; Ctrl-C here is passed on to the program. */
static int lend_terminal(const char *path)
{
    moth_error err;
    int fd = moth_sock_connect_unix(path, &err);
    int fds[3] = {0, 1, 2};
    if (fd < 0 || moth_sock_send_fds(fd, fds, 3, &err) < 0)
        return moth_cli_error("%s", err.msg);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_interrupt;
    sigaction(SIGINT, &sa, NULL);
    for (;;) {
        char byte;
        Py_BEGIN_ALLOW_THREADS
        ssize_t n = read(fd, &byte, 1);
        if (n == 0 || (n < 0 && errno != EINTR))
            byte = 0;
        else
            byte = 1;
        Py_END_ALLOW_THREADS
        if (!byte)
            break;
        if (interrupted) {
            interrupted = 0;
            char ctrl_c = 'I';
            if (write(fd, &ctrl_c, 1) < 0)
                break;
        }
    }
    close(fd);
    return 0;
}

int moth_cmd_dap(int argc, char **argv)
{
    moth_opts o = {argc, argv, 0, NULL};
    const char *listen = NULL, *terminal = NULL, *resume = NULL;
    while (o.i < argc) {
        const char *a = argv[o.i];
        if (moth_opt_is(&o, "-h", "--help")) {
            moth_cli_out(USAGE, sizeof USAGE - 1);
            return 0;
        } else if (moth_opt_is(&o, NULL, "--listen")) {
            if (!(listen = moth_opt_value(&o, "--listen")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--terminal")) {
            if (!(terminal = moth_opt_value(&o, "--terminal")))
                return 2;
        } else if (moth_opt_is(&o, NULL, "--resume")) {
            if (!(resume = moth_opt_value(&o, "--resume")))
                return 2;
        } else {
            return moth_cli_error("unknown argument '%s' for 'moth dap' (the program to debug "
                                  "comes in the client's launch request; try 'moth dap --help')",
                                  a);
        }
    }
    if (terminal)
        return lend_terminal(terminal);
    if (resume)
        return serve_resumed(resume);
    return listen ? serve_tcp(listen) : serve_stdio();
}
