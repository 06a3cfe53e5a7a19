/* Unit tests of a Debug Adapter Protocol connection (csrc/os/dap_conn.c) and of the sockets
 * moth dap uses (csrc/os/sock.c). */
#include "check.h"
#include "dap_conn.h"
#include "sock.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static moth_dap_conn *pair(int *other)
{
    int fds[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    moth_error err;
    moth_dap_conn *c = moth_dap_conn_open(fds[0], fds[0], 1, &err);
    CHECK(c != NULL);
    *other = fds[1];
    return c;
}

static char *read_some(int fd)
{
    static char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static void test_sends_are_numbered(void)
{
    int peer;
    moth_dap_conn *c = pair(&peer);
    const char *m = "{\"seq\":0,\"type\":\"event\",\"event\":\"x\"}";
    CHECK(moth_dap_conn_send(c, m, strlen(m)) == 0);
    CHECK_STR(read_some(peer), "Content-Length: 36\r\n\r\n{\"seq\":1,\"type\":\"event\",\"event\":\"x\"}");
    CHECK(moth_dap_conn_send(c, m, strlen(m)) == 0);
    CHECK_STR(read_some(peer), "Content-Length: 36\r\n\r\n{\"seq\":2,\"type\":\"event\",\"event\":\"x\"}");
    CHECK_EQ_U(moth_dap_conn_next_seq(c), 3);
    /* a message without the place of its number is a caller's bug: refused, not sent */
    CHECK(moth_dap_conn_send(c, "{}", 2) == -1);
    CHECK_EQ_U(moth_dap_conn_next_seq(c), 3);
    close(peer); /* the peer gone: sends fail */
    CHECK(moth_dap_conn_send(c, m, strlen(m)) == -1);
    CHECK(moth_dap_conn_send(c, m, strlen(m)) == -1);
    moth_dap_conn_free(c);
}

static void test_receives_messages_garbage_and_the_end(void)
{
    int peer;
    moth_dap_conn *c = pair(&peer);
    const char *in = "Content-Length: 2\r\n\r\n{}Content-Length: 3\r\n\r\n{x}Foo: 1\r\n\r\n"
                     "Content-Length: 7\r\n\r\n[1,\"a\"]";
    CHECK(write(peer, in, strlen(in)) == (ssize_t)strlen(in));
    close(peer);
    moth_json_doc *doc;
    moth_error err;
    CHECK(moth_dap_conn_receive(c, &doc, &err) == MOTH_DAP_RECV_MESSAGE);
    CHECK(moth_json_is(moth_json_root(doc), MOTH_JSON_OBJECT));
    moth_json_free(doc);
    CHECK(moth_dap_conn_receive(c, &doc, &err) == MOTH_DAP_RECV_BAD);
    CHECK_STR(err.msg, "malformed JSON at byte 1: expected a member name");
    CHECK(moth_dap_conn_receive(c, &doc, &err) == MOTH_DAP_RECV_BAD);
    CHECK_STR(err.msg, "message header without a valid Content-Length");
    CHECK(moth_dap_conn_receive(c, &doc, &err) == MOTH_DAP_RECV_MESSAGE);
    CHECK_EQ_U(moth_json_root(doc)->count, 2);
    moth_json_free(doc);
    CHECK(moth_dap_conn_receive(c, &doc, &err) == MOTH_DAP_RECV_CLOSED);
    CHECK(doc == NULL);
    moth_dap_conn_free(c);
}

static void *closer(void *arg)
{
    usleep(50000);
    moth_dap_conn_close(arg);
    return NULL;
}

static void test_close_wakes_a_waiting_receive(void)
{
    int peer;
    moth_dap_conn *c = pair(&peer);
    pthread_t t;
    pthread_create(&t, NULL, closer, c);
    moth_json_doc *doc;
    moth_error err;
    CHECK(moth_dap_conn_receive(c, &doc, &err) == MOTH_DAP_RECV_CLOSED);
    pthread_join(t, NULL);
    const char *m = "{\"seq\":0}";
    CHECK(moth_dap_conn_send(c, m, strlen(m)) == -1); /* closed: nothing more goes out */
    CHECK(moth_dap_conn_in_fd(c) == moth_dap_conn_out_fd(c));
    close(peer);
    moth_dap_conn_free(c);
}

static void test_addresses(void)
{
    char host[64];
    int port;
    moth_error err;
    CHECK(moth_sock_parse_address("5678", host, sizeof host, &port, &err) == 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK(port == 5678);
    CHECK(moth_sock_parse_address("0.0.0.0:0", host, sizeof host, &port, &err) == 0);
    CHECK_STR(host, "0.0.0.0");
    CHECK(moth_sock_parse_address("[::1]:80", host, sizeof host, &port, &err) == 0);
    CHECK_STR(host, "::1");
    CHECK(port == 80);
    CHECK(moth_sock_parse_address("localhost:", host, sizeof host, &port, &err) == -1);
    CHECK_STR(err.msg, "'localhost:' is not HOST:PORT (a port is 0 to 65535)");
    CHECK(moth_sock_parse_address("h:65536", host, sizeof host, &port, &err) == -1);
    CHECK(moth_sock_parse_address("a-very-long-host-name-indeed:1", host, 8, &port, &err) == -1);
    CHECK_STR(err.msg, "host name too long in 'a-very-long-host-name-indeed:1'");
}

static void test_tcp_round_trip(void)
{
    moth_error err;
    int port;
    int listener = moth_sock_listen_tcp("127.0.0.1", 0, &port, &err);
    CHECK(listener >= 0 && port > 0);
    int client = moth_sock_connect_tcp("127.0.0.1", port, &err);
    CHECK(client >= 0);
    int server = moth_sock_accept(listener, &err);
    CHECK(server >= 0);
    CHECK(write(client, "hi", 2) == 2);
    CHECK_STR(read_some(server), "hi");
    close(client);
    close(server);
    /* the port is taken while the listener lives */
    CHECK(moth_sock_listen_tcp("127.0.0.1", port, &port, &err) == -1);
    CHECK(strstr(err.msg, "cannot listen on 127.0.0.1:") != NULL);
    close(listener);
    CHECK(moth_sock_accept(listener, &err) == -1);
    CHECK(moth_sock_connect_tcp("no.such.host.invalid", 1, &err) == -1);
    CHECK(strncmp(err.msg, "cannot resolve 'no.such.host.invalid'", 37) == 0);
}

static void test_descriptors_pass_over_a_private_socket(void)
{
    moth_error err;
    char path[128];
    int listener = moth_sock_listen_unix(path, sizeof path, &err);
    CHECK(listener >= 0);
    int client = moth_sock_connect_unix(path, &err);
    int server = moth_sock_accept(listener, &err);
    CHECK(client >= 0 && server >= 0);
    int p[2];
    CHECK(pipe(p) == 0);
    int fds[3] = {p[0], p[1], p[1]};
    CHECK(moth_sock_send_fds(client, fds, 3, &err) == 0);
    int got[3], n = 0;
    CHECK(moth_sock_recv_fds(server, got, 3, &n, &err) == 0);
    CHECK(n == 3);
    CHECK(write(got[1], "ok", 2) == 2); /* the same pipe, through the passed copies */
    CHECK_STR(read_some(p[0]), "ok");
    for (int i = 0; i < 3; i++)
        close(got[i]);
    CHECK(moth_sock_send_fds(client, fds, 9, &err) == -1);
    close(client);
    CHECK(moth_sock_recv_fds(server, got, 3, &n, &err) == -1); /* the peer left */
    CHECK_STR(err.msg, "no descriptors came: closed");
    close(server);
    close(p[0]);
    close(p[1]);
    close(listener);
    moth_sock_unix_remove(path);
    CHECK(moth_sock_connect_unix(path, &err) == -1);
    CHECK(access(path, F_OK) != 0);
}

int main(void)
{
    RUN(test_sends_are_numbered);
    RUN(test_receives_messages_garbage_and_the_end);
    RUN(test_close_wakes_a_waiting_receive);
    RUN(test_addresses);
    RUN(test_tcp_round_trip);
    RUN(test_descriptors_pass_over_a_private_socket);
    return check_summary();
}
