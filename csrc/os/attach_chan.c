/* attach_chan.c: framed messages over the attach socket; see attach_chan.h. */
#define _GNU_SOURCE
#include "attach_chan.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int send_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int moth_chan_send(int fd, char type, const void *data, size_t len)
{
    if (len > MOTH_CHAN_MAX)
        return -1;
    unsigned char head[5] = {(unsigned char)type, (unsigned char)len,
                             (unsigned char)(len >> 8), (unsigned char)(len >> 16),
                             (unsigned char)(len >> 24)};
    if (send_all(fd, head, sizeof head) < 0)
        return -1;
    return len ? send_all(fd, data, len) : 0;
}

/* Reads exactly len bytes: 0, -1 (closed or failed) or -2 (interrupted before any byte). */
static int recv_all(int fd, void *buf, size_t len, int first)
{
    char *p = buf;
    while (len) {
        ssize_t n = recv(fd, p, len, 0);
        if (n < 0 && errno == EINTR) {
            if (first && p == buf)
                return -2;
            continue;
        }
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int moth_chan_recv(int fd, char *type, char **data, size_t *len)
{
    unsigned char head[5];
    int rc = recv_all(fd, head, sizeof head, 1);
    if (rc < 0)
        return rc;
    size_t n = (size_t)head[1] | (size_t)head[2] << 8 | (size_t)head[3] << 16 |
               (size_t)head[4] << 24;
    if (n > MOTH_CHAN_MAX)
        return -1;
    char *buf = malloc(n + 1);
    if (!buf)
        return -1;
    if (n && recv_all(fd, buf, n, 0) < 0) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *type = (char)head[0];
    *data = buf;
    *len = n;
    return 0;
}

int moth_chan_peer(int fd, pid_t *pid, uid_t *uid)
{
    struct ucred cred;
    socklen_t size = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &size) < 0)
        return -1;
    *pid = cred.pid;
    *uid = cred.uid;
    return 0;
}

int moth_chan_claim(pid_t pid)
{
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    int n = snprintf(addr.sun_path + 1, sizeof addr.sun_path - 1, "moth-attached-%d", (int)pid);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&addr,
             (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int moth_chan_claimed(pid_t pid)
{
    int fd = moth_chan_claim(pid);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EADDRINUSE;
}
