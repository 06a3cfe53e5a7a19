/*
 * sock.h: the sockets moth's Debug Adapter Protocol server uses: TCP for `moth dap --listen`
 * and `moth.listen()`, a private Unix socket to take a terminal's file descriptors from the
 * helper a client starts in that terminal (SCM_RIGHTS). Every descriptor is close-on-exec.
 */
#ifndef MOTH_SOCK_H
#define MOTH_SOCK_H

#include "common.h"

/* "HOST:PORT", "[V6HOST]:PORT" or "PORT" (host 127.0.0.1). 0, or -1 with err. */
int moth_sock_parse_address(const char *text, char *host, size_t host_size, int *port,
                            moth_error *err);
/* A listening TCP socket on host:port (port 0: any free port, told in *bound_port). */
int moth_sock_listen_tcp(const char *host, int port, int *bound_port, moth_error *err);
/* The next connection on a listening socket; -1 with err (EINTR is retried). */
int moth_sock_accept(int listener, moth_error *err);
int moth_sock_connect_tcp(const char *host, int port, moth_error *err);

/* A listening Unix socket at a new path in a directory only this user can enter; path
 * (size >= 108) receives it. moth_sock_unix_remove removes the socket and its directory. */
int moth_sock_listen_unix(char *path, size_t path_size, moth_error *err);
void moth_sock_unix_remove(const char *path);
int moth_sock_connect_unix(const char *path, moth_error *err);

/* Passes n (<= 8) descriptors over a Unix socket, with one byte of data. */
int moth_sock_send_fds(int sock, const int *fds, int n, moth_error *err);
/* Receives up to max descriptors (close-on-exec); *n how many came. -1 with err, or when the
 * peer closed without sending any. */
int moth_sock_recv_fds(int sock, int *fds, int max, int *n, moth_error *err);

#endif
