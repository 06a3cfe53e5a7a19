/* dap_conn.c: a Debug Adapter Protocol connection; see dap_conn.h. */
#define _GNU_SOURCE /* pipe2 */
#include "dap_conn.h"

#include "dap_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct moth_dap_conn {
    int in_fd, out_fd;
    int wake[2];              /* written by moth_dap_conn_close: the receiver's poll returns */
    pthread_mutex_t send_lock;
    int64_t next_seq;
    int closed;               /* under send_lock */
    moth_dap_wire wire;       /* the receiver's */
    char buf[65536];
};

moth_dap_conn *moth_dap_conn_open(int in_fd, int out_fd, int64_t first_seq, moth_error *err)
{
    moth_dap_conn *c = moth_calloc(1, sizeof *c, err);
    if (!c)
        return NULL;
    if (pipe2(c->wake, O_CLOEXEC) < 0) {
        moth_fail(err, "cannot make a pipe: %s", strerror(errno));
        free(c);
        return NULL;
    }
    c->in_fd = in_fd;
    c->out_fd = out_fd;
    c->next_seq = first_seq;
    pthread_mutex_init(&c->send_lock, NULL);
    moth_dap_wire w = MOTH_DAP_WIRE_INIT;
    c->wire = w;
    return c;
}

void moth_dap_conn_free(moth_dap_conn *c)
{
    if (!c)
        return;
    close(c->in_fd);
    if (c->out_fd != c->in_fd)
        close(c->out_fd);
    close(c->wake[0]);
    close(c->wake[1]);
    moth_dap_wire_free(&c->wire);
    pthread_mutex_destroy(&c->send_lock);
    free(c);
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == ENOTSOCK)
            k = write(fd, p, n); /* a pipe (stdout): SIGPIPE is ignored by Python */
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

int moth_dap_conn_send(moth_dap_conn *c, const char *message, size_t len)
{
    static const char prefix[] = "{\"seq\":0,";
    size_t skip = sizeof prefix - 1;
    if (len < skip || memcmp(message, prefix, skip) != 0)
        return -1; /* a bug in the caller: never send a message without its number's place */
    moth_sb out = MOTH_SB_INIT;
    pthread_mutex_lock(&c->send_lock);
    int rc = -1;
    if (!c->closed) {
        char seq[40];
        int n = snprintf(seq, sizeof seq, "{\"seq\":%lld,", (long long)c->next_seq);
        moth_dap_wire_header(&out, (size_t)n + len - skip);
        moth_sb_append(&out, seq, (size_t)n);
        moth_sb_append(&out, message + skip, len - skip);
        if (!out.failed && write_all(c->out_fd, out.data, out.len) == 0) {
            c->next_seq++;
            rc = 0;
        } else {
            c->closed = 1;
        }
    }
    pthread_mutex_unlock(&c->send_lock);
    moth_sb_free(&out);
    return rc;
}

int64_t moth_dap_conn_next_seq(moth_dap_conn *c)
{
    pthread_mutex_lock(&c->send_lock);
    int64_t seq = c->next_seq;
    pthread_mutex_unlock(&c->send_lock);
    return seq;
}

moth_dap_recv_result moth_dap_conn_receive_body(moth_dap_conn *c, const char **body,
                                                size_t *len, moth_error *err)
{
    *body = NULL;
    *len = 0;
    for (;;) {
        switch (moth_dap_wire_next(&c->wire, body, len, err)) {
        case MOTH_DAP_MESSAGE:
            return MOTH_DAP_RECV_MESSAGE;
        case MOTH_DAP_BAD_FRAME:
            return MOTH_DAP_RECV_BAD;
        case MOTH_DAP_NEED_MORE:
            break;
        }
        struct pollfd fds[2] = {{c->in_fd, POLLIN, 0}, {c->wake[0], POLLIN, 0}};
        int rc = poll(fds, 2, -1);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc < 0 || fds[1].revents)
            return MOTH_DAP_RECV_CLOSED;
        ssize_t n = read(c->in_fd, c->buf, sizeof c->buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0 || moth_dap_wire_feed(&c->wire, c->buf, (size_t)n, err) < 0)
            return MOTH_DAP_RECV_CLOSED;
    }
}

moth_dap_recv_result moth_dap_conn_receive(moth_dap_conn *c, moth_json_doc **doc,
                                           moth_error *err)
{
    const char *body;
    size_t len;
    *doc = NULL;
    moth_dap_recv_result r = moth_dap_conn_receive_body(c, &body, &len, err);
    if (r == MOTH_DAP_RECV_MESSAGE && moth_json_parse(body, len, doc, err) < 0)
        return MOTH_DAP_RECV_BAD;
    return r;
}

int moth_dap_conn_send_body(moth_dap_conn *c, const char *body, size_t len, int renumber)
{
    if (renumber) {
        /* `{"seq":DIGITS,` becomes this connection's `{"seq":0,` for moth_dap_conn_send */
        static const char prefix[] = "{\"seq\":";
        size_t p = sizeof prefix - 1, i = p;
        if (len < p || memcmp(body, prefix, p) != 0)
            return -1;
        while (i < len && body[i] >= '0' && body[i] <= '9')
            i++;
        if (i == p || i >= len || body[i] != ',')
            return -1;
        moth_sb text = MOTH_SB_INIT;
        moth_sb_append(&text, "{\"seq\":0,", 9);
        moth_sb_append(&text, body + i + 1, len - i - 1);
        int rc = text.failed ? -1 : moth_dap_conn_send(c, text.data, text.len);
        moth_sb_free(&text);
        return rc;
    }
    moth_sb out = MOTH_SB_INIT;
    moth_dap_wire_header(&out, len);
    moth_sb_append(&out, body, len);
    pthread_mutex_lock(&c->send_lock);
    int rc = -1;
    if (!c->closed && !out.failed && write_all(c->out_fd, out.data, out.len) == 0)
        rc = 0;
    else
        c->closed = 1;
    pthread_mutex_unlock(&c->send_lock);
    moth_sb_free(&out);
    return rc;
}

void moth_dap_conn_close(moth_dap_conn *c)
{
    pthread_mutex_lock(&c->send_lock);
    c->closed = 1;
    pthread_mutex_unlock(&c->send_lock);
    char byte = 1; /* (the pipe stays readable: every later receive returns too) */
    ssize_t rc = write(c->wake[1], &byte, 1);
    (void)rc;
}

int moth_dap_conn_in_fd(const moth_dap_conn *c)
{
    return c->in_fd;
}

int moth_dap_conn_out_fd(const moth_dap_conn *c)
{
    return c->out_fd;
}
