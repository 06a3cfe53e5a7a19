/*
 * dap_pid.c: `moth dap`'s attach by process id: the editor's attach request names a running
 * program that moth did not start ({"processId": PID}, debugpy's name; "pid" too).
 *
 * Two halves, one in each process:
 *  - The adapter (the moth dap the editor started) answers initialize itself. At attach it
 *    gets into the program exactly as `moth debug -p` does (cli_attach.c, the same checks and
 *    one-line messages, which become the error response), and sends the agent the client's
 *    initialize flags and attach arguments ('V'). Once the agent says the session is ready, it
 *    answers attach and from then on relays: the client's messages to the program's session
 *    as they came, the program's messages to the client renumbered in the adapter's order (the
 *    client sees one numbering, 1, 2, 3, ...). When the program's side ends without having
 *    answered a disconnect (the program exited, was killed or terminated), the adapter answers
 *    what is left, says `terminated` and answers the rest of the session itself.
 *  - The program (moth_dap_in_program, on the agent's thread): a moth dap session on the
 *    channel, already attached (moth_dap_adopt), whose request thread is the agent's. When it
 *    ends (disconnect, the adapter gone or killed) the debugger takes itself out as moth.listen()
 *    sessions do: no breakpoint, watch, hook or trace function stays, and the thread ends.
 *    terminate, and disconnect with terminateDebuggee, end the program with SIGTERM once the
 *    answer is out (as `kill` in `moth debug -p`).
 */
#include "dap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attach_chan.h"
#include "cli.h"
#include "clock.h"
#include "interp.h"
#include "proc.h"

/* How long the program's agent may take to start the session once it has the command. */
#define SESSION_SECONDS 30.0

typedef struct forwarded {
    int64_t seq;
    char command[40];
} forwarded;

struct moth_dap_relay {
    moth_dap_conn *conn;        /* to the program's session */
    long pid;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;       /* guards the fields below */
    int gone;                   /* the program's side ended */
    int disconnect_sent, disconnect_answered;
    forwarded *pending;         /* requests sent there and not answered yet */
    size_t npending, cap;
};

/* ---- the adapter's half ---- */

typedef struct handoff {
    int fd;                     /* the channel, ready for DAP, or -1 */
} handoff;

/* moth_attach_session's run: waits for the agent's word on the DAP session. */
static int take_channel(void *ctx, int fd, struct moth_remote *t, long pid)
{
    (void)t;
    handoff *h = ctx;
    double until = (double)moth_monotonic_ns() * 1e-9 + SESSION_SECONDS;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            break;
        if (moth_proc_exists((pid_t)pid, NULL) < 0)
            return moth_cli_error("process %ld ended while moth was attaching", pid), 1;
        if ((double)moth_monotonic_ns() * 1e-9 > until)
            return moth_cli_error("process %ld did not start the debugging session within "
                                  "%.0f s", pid, SESSION_SECONDS), 1;
    }
    char type = 0;
    char *data = NULL;
    size_t len = 0;
    int rc;
    while ((rc = moth_chan_recv(fd, &type, &data, &len)) == -2)
        ;
    if (rc < 0)
        return moth_cli_error("process %ld ended while moth was attaching", pid), 1;
    int status = 1;
    if (type == 'K' && (h->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) >= 0)
        status = 0;
    else if (type == 'X' && len)
        moth_cli_error("%s", data);
    else
        moth_cli_error("process %ld could not start the debugging session", pid);
    free(data);
    return status;
}

/* What moth_cli_error said while attaching: the error response's message. */
static int capture(void *ctx, int is_err, const char *text, size_t len)
{
    (void)is_err;
    moth_sb_append(ctx, text, len);
    return 0;
}

int moth_dap_attach_pid(moth_dap_ctx *ctx, int64_t pid)
{
    moth_dap *d = ctx->d;
    moth_sb state = MOTH_SB_INIT;
    moth_jw w;
    moth_jw_init(&w, &state);
    moth_jw_object(&w, NULL);
    moth_jw_bool(&w, "linesStartAt1", d->lines_at1);
    moth_jw_bool(&w, "columnsStartAt1", d->columns_at1);
    moth_jw_value(&w, "arguments", ctx->args);
    moth_jw_end(&w);
    moth_sb said = MOTH_SB_INIT;
    handoff h = {-1};
    moth_cli_redirect(capture, &said, 0);
    int status = state.failed ? moth_cli_error("out of memory") : moth_attach_session(
        (long)pid, 'V', state.data, state.len, take_channel, &h);
    moth_cli_redirect(NULL, NULL, 0);
    moth_sb_free(&state);
    struct moth_dap_relay *r = NULL;
    if (status == 0 && h.fd >= 0 && (r = calloc(1, sizeof *r))) {
        moth_error err;
        r->conn = moth_dap_conn_open(h.fd, h.fd, 1, &err);
        if (!r->conn) {
            free(r);
            r = NULL;
        }
    }
    if (!r) {
        if (h.fd >= 0)
            close(h.fd);
        /* the first line moth debug -p would have said, without its "moth: " */
        const char *text = said.data && !said.failed ? said.data : "";
        if (strncmp(text, "moth: ", 6) == 0)
            text += 6;
        size_t n = strcspn(text, "\n");
        if (!n)
            moth_dap_fail(ctx, "cannot attach to process %lld", (long long)pid);
        else
            moth_dap_fail(ctx, "%.*s", (int)n, text);
        moth_sb_free(&said);
        return -1;
    }
    moth_sb_free(&said);
    r->pid = (long)pid;
    pthread_mutex_init(&r->lock, NULL);
    d->relay = r;
    return 0;
}

/* A response of the adapter's own to a request the program's side did not answer. */
static void respond(moth_dap *d, int64_t seq, const char *command, const char *message)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_jw_init(&w, &sb);
    moth_jw_object(&w, NULL);
    moth_jw_int(&w, "seq", 0);
    moth_jw_str(&w, "type", "response");
    moth_jw_int(&w, "request_seq", seq);
    moth_jw_bool(&w, "success", message == NULL);
    moth_jw_str(&w, "command", command);
    if (message)
        moth_jw_str(&w, "message", message);
    moth_jw_object(&w, "body");
    moth_jw_end(&w);
    moth_jw_end(&w);
    if (!sb.failed)
        moth_dap_conn_send(d->conn, sb.data, sb.len);
    moth_sb_free(&sb);
}

/* The program's messages to the client; at their end, what the adapter says in its place. */
static void *relay_main(void *arg)
{
    moth_dap *d = arg;
    struct moth_dap_relay *r = d->relay;
    for (;;) {
        const char *body;
        size_t len;
        moth_error err;
        moth_dap_recv_result got = moth_dap_conn_receive_body(r->conn, &body, &len, &err);
        if (got == MOTH_DAP_RECV_CLOSED)
            break;
        if (got == MOTH_DAP_RECV_BAD)
            continue;
        moth_json_doc *doc = NULL;
        if (moth_json_parse(body, len, &doc, &err) == 0) {
            const moth_json *m = moth_json_root(doc);
            const char *type = moth_json_text(moth_json_get(m, "type"));
            int64_t seq;
            if (type && strcmp(type, "response") == 0 &&
                moth_json_int(moth_json_get(m, "request_seq"), &seq)) {
                pthread_mutex_lock(&r->lock);
                for (size_t i = 0; i < r->npending; i++)
                    if (r->pending[i].seq == seq) {
                        if (strcmp(r->pending[i].command, "disconnect") == 0)
                            r->disconnect_answered = 1;
                        r->pending[i] = r->pending[--r->npending];
                        break;
                    }
                pthread_mutex_unlock(&r->lock);
            }
            moth_json_free(doc);
        }
        moth_dap_conn_send_body(d->conn, body, len, 1);
    }
    pthread_mutex_lock(&r->lock);
    r->gone = 1;
    forwarded *left = r->pending;
    size_t nleft = r->npending;
    r->pending = NULL;
    r->npending = r->cap = 0;
    int disconnecting = r->disconnect_sent;
    pthread_mutex_unlock(&r->lock);
    char message[160];
    snprintf(message, sizeof message, "process %ld ended while moth was attached", r->pid);
    if (!disconnecting) {
        moth_sb sb = MOTH_SB_INIT;
        moth_jw w;
        moth_dap_event_begin(&sb, &w, "terminated");
        moth_dap_send_event(d, NULL, &sb, &w);
    }
    for (size_t i = 0; i < nleft; i++)
        respond(d, left[i].seq, left[i].command,
                strcmp(left[i].command, "disconnect") == 0 ? NULL : message);
    free(left);
    if (disconnecting) { /* the client's last word is answered: the adapter ends too */
        moth_dap_end(d);
        moth_dap_conn_close(d->conn);
    }
    return NULL;
}

void moth_dap_relay_start(moth_dap *d)
{
    struct moth_dap_relay *r = d->relay;
    if (r->started)
        return;
    if (pthread_create(&r->thread, NULL, relay_main, d) == 0) {
        r->started = 1;
        return;
    }
    /* no thread: the program's session is let go, and the client hears that it ended */
    moth_dap_conn_close(r->conn);
    pthread_mutex_lock(&r->lock);
    r->gone = 1;
    pthread_mutex_unlock(&r->lock);
}

int moth_dap_relay_forward(moth_dap *d, const moth_json *msg, const char *body, size_t len)
{
    struct moth_dap_relay *r = d->relay;
    const char *type = moth_json_text(moth_json_get(msg, "type"));
    const char *command = moth_json_text(moth_json_get(msg, "command"));
    int64_t seq;
    pthread_mutex_lock(&r->lock);
    if (r->gone) {
        pthread_mutex_unlock(&r->lock);
        if (!type || strcmp(type, "request") != 0 || !command ||
            strcmp(command, "disconnect") == 0 || !moth_json_int(moth_json_get(msg, "seq"), &seq))
            return 0; /* answered here */
        char message[160];
        snprintf(message, sizeof message, "process %ld has ended", r->pid);
        respond(d, seq, command, message);
        return 1;
    }
    if (type && strcmp(type, "request") == 0 && command &&
        moth_json_int(moth_json_get(msg, "seq"), &seq) &&
        moth_grow((void **)&r->pending, sizeof *r->pending, &r->cap, r->npending + 1,
                  NULL) == 0) {
        forwarded *f = &r->pending[r->npending++];
        f->seq = seq;
        snprintf(f->command, sizeof f->command, "%s", command);
        if (strcmp(command, "disconnect") == 0)
            r->disconnect_sent = 1;
    }
    pthread_mutex_unlock(&r->lock);
    /* (a send that fails finds the program's side gone: relay_main answers what was sent) */
    moth_dap_conn_send_body(r->conn, body, len, 0);
    return 1;
}

void moth_dap_relay_free(moth_dap *d)
{
    struct moth_dap_relay *r = d->relay;
    if (!r)
        return;
    moth_dap_conn_close(r->conn);
    shutdown(moth_dap_conn_in_fd(r->conn), SHUT_RDWR); /* the program's session sees the end */
    if (r->started) {
        Py_BEGIN_ALLOW_THREADS
        pthread_join(r->thread, NULL);
        Py_END_ALLOW_THREADS
    }
    moth_dap_conn_free(r->conn);
    pthread_mutex_destroy(&r->lock);
    free(r->pending);
    free(r);
    d->relay = NULL;
}

/* ---- the program's half ---- */

void moth_dap_in_program(int fd, const char *state_text)
{
    PyGILState_STATE g = PyGILState_Ensure();
    moth_error err;
    err.msg[0] = '\0';
    moth_json_doc *doc = NULL;
    moth_dap_conn *conn = NULL;
    moth_dap *d = NULL;
    int ok = 0;
    if (moth_the_interp.dap || moth_the_interp.dap_listener)
        moth_fail(&err, "process %ld has a debugging session already (moth.listen())",
                  (long)getpid());
    else if (moth_json_parse(state_text, strlen(state_text), &doc, &err) == 0 &&
             (conn = moth_dap_conn_open(fd, fd, 1, &err)) && (d = moth_dap_new(conn, &err))) {
        d->reader_ident = PyThread_get_thread_ident();
        ok = moth_dap_adopt(d, moth_json_root(doc), &err) == 0;
    }
    moth_json_free(doc);
    if (!ok) {
        moth_chan_send(fd, 'X', err.msg, strlen(err.msg));
        if (d)
            moth_dap_free(d); /* (closes the connection, and fd with it) */
        else if (conn)
            moth_dap_conn_free(conn);
        else
            close(fd);
        PyErr_Clear();
        PyGILState_Release(g);
        return;
    }
    moth_the_interp.dap = d;
    if (moth_chan_send(fd, 'K', NULL, 0) < 0) /* moth has gone already */
        moth_dap_conn_close(d->conn);
    PyGILState_Release(g);
    moth_dap_run_attached(d);
}
