/* sock.c: TCP and Unix sockets, descriptor passing; see sock.h. */
#define _GNU_SOURCE /* accept4, mkdtemp */
#include "sock.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int moth_sock_parse_address(const char *text, char *host, size_t host_size, int *port,
                            moth_error *err)
{
    const char *colon = strrchr(text, ':');
    const char *port_text = colon ? colon + 1 : text;
    size_t host_len = colon ? (size_t)(colon - text) : 0;
    const char *h = text;
    if (host_len >= 2 && h[0] == '[' && h[host_len - 1] == ']') {
        h++;
        host_len -= 2;
    }
    char *end;
    long p = strtol(port_text, &end, 10);
    if (!*port_text || *end || p < 0 || p > 65535)
        return moth_fail(err, "'%s' is not HOST:PORT (a port is 0 to 65535)", text);
    if (host_len == 0) {
        h = "127.0.0.1";
        host_len = strlen(h);
    }
    if (host_len >= host_size)
        return moth_fail(err, "host name too long in '%s'", text);
    memcpy(host, h, host_len);
    host[host_len] = '\0';
    *port = (int)p;
    return 0;
}

static struct addrinfo *resolve(const char *host, int port, int passive, moth_error *err)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    int rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        moth_fail(err, "cannot resolve '%s': %s", host, gai_strerror(rc));
        return NULL;
    }
    return res;
}

int moth_sock_listen_tcp(const char *host, int port, int *bound_port, moth_error *err)
{
    struct addrinfo *res = resolve(host, port, 1, err);
    if (!res)
        return -1;
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 8) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return moth_fail(err, "cannot listen on %s:%d: %s", host, port, strerror(saved));
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    *bound_port = port;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) == 0)
        *bound_port = ntohs(addr.ss_family == AF_INET6
                                ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                : ((struct sockaddr_in *)&addr)->sin_port);
    return fd;
}

int moth_sock_accept(int listener, moth_error *err)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            int one = 1; /* messages are small and answered at once */
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return fd;
        }
        if (errno != EINTR && errno != ECONNABORTED)
            return moth_fail(err, "cannot accept a connection: %s", strerror(errno));
    }
}

int moth_sock_connect_tcp(const char *host, int port, moth_error *err)
{
    struct addrinfo *res = resolve(host, port, 0, err);
    if (!res)
        return -1;
    int fd = -1, saved = 0;
    for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
            saved = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return moth_fail(err, "cannot connect to %s:%d: %s", host, port, strerror(saved));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int unix_address(struct sockaddr_un *addr, const char *path, moth_error *err)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr->sun_path)
        return moth_fail(err, "socket path too long: %s", path);
    strcpy(addr->sun_path, path);
    return 0;
}

int moth_sock_listen_unix(char *path, size_t path_size, moth_error *err)
{
    const char *tmp = getenv("TMPDIR");
    char dir[80];
    snprintf(dir, sizeof dir, "%s/moth-XXXXXX",
             tmp && *tmp && strlen(tmp) < 40 ? tmp : "/tmp");
    if (!mkdtemp(dir)) /* mode 0700: only this user reaches the socket */
        return moth_fail(err, "cannot make a directory for a socket: %s", strerror(errno));
    snprintf(path, path_size, "%s/terminal", dir);
    struct sockaddr_un addr;
    int fd = unix_address(&addr, path, err) == 0 ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)
                                                  : -1;
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 1) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        moth_sock_unix_remove(path);
        return moth_fail(err, "cannot listen on %s: %s", path, strerror(saved));
    }
    return fd;
}

void moth_sock_unix_remove(const char *path)
{
    unlink(path);
    char dir[128];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        rmdir(dir);
    }
}

int moth_sock_connect_unix(const char *path, moth_error *err)
{
    struct sockaddr_un addr;
    if (unix_address(&addr, path, err) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return moth_fail(err, "cannot connect to %s: %s", path, strerror(saved));
    }
    return fd;
}

int moth_sock_send_fds(int sock, const int *fds, int n, moth_error *err)
{
    if (n < 0 || n > 8)
        return moth_fail(err, "cannot pass %d descriptors", n);
    char byte = 'T';
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE((size_t)n * sizeof(int));
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN((size_t)n * sizeof(int));
    memcpy(CMSG_DATA(c), fds, (size_t)n * sizeof(int));
    ssize_t rc;
    do
        rc = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (rc < 0 && errno == EINTR);
    return rc == 1 ? 0 : moth_fail(err, "cannot pass descriptors: %s", strerror(errno));
}

int moth_sock_recv_fds(int sock, int *fds, int max, int *n, moth_error *err)
{
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buf[CMSG_SPACE(8 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    ssize_t rc;
    do
        rc = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (rc < 0 && errno == EINTR);
    if (rc <= 0)
        return moth_fail(err, "no descriptors came: %s", rc < 0 ? strerror(errno) : "closed");
    *n = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int count = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int got[8];
        memcpy(got, CMSG_DATA(c), (size_t)(count > 8 ? 8 : count) * sizeof(int));
        for (int i = 0; i < count && i < 8; i++) {
            if (*n < max)
                fds[(*n)++] = got[i];
            else
                close(got[i]);
        }
    }
    return *n ? 0 : moth_fail(err, "no descriptors came");
}
