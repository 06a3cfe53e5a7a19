/*
 * dap_conn.h: one Debug Adapter Protocol connection: framed JSON messages in and out over a
 * pair of descriptors (a socket twice, or stdin and stdout).
 *
 * Any thread may send; sends are whole messages, numbered in the order they go out (the
 * protocol's `seq`), never interleaved. One thread receives, blocking; moth_dap_conn_close
 * from another thread wakes it. Nothing here knows Python: the session (csrc/debugger/dap*.c)
 * reads and answers the messages.
 */
#ifndef MOTH_DAP_CONN_H
#define MOTH_DAP_CONN_H

#include "common.h"
#include "json.h"

#include <stdint.h>

typedef struct moth_dap_conn moth_dap_conn;

/* A connection reading in_fd and writing out_fd (they may be the same), owning both, and
 * numbering its messages from first_seq. NULL with err. */
moth_dap_conn *moth_dap_conn_open(int in_fd, int out_fd, int64_t first_seq, moth_error *err);
/* Closes the descriptors (once no thread uses the connection any more). */
void moth_dap_conn_free(moth_dap_conn *c);

/* Sends a message whose text begins `{"seq":0,`; the real number is put in its place.
 * 0, or -1 when the connection is gone (closed, or the peer left). */
int moth_dap_conn_send(moth_dap_conn *c, const char *message, size_t len);
/* The number the next message will have. */
int64_t moth_dap_conn_next_seq(moth_dap_conn *c);

typedef enum {
    MOTH_DAP_RECV_MESSAGE, /* *doc: a parsed message (the caller frees it) */
    MOTH_DAP_RECV_BAD,     /* err: a framing or JSON error; the connection goes on */
    MOTH_DAP_RECV_CLOSED,  /* the peer left, reading failed, or moth_dap_conn_close */
} moth_dap_recv_result;

moth_dap_recv_result moth_dap_conn_receive(moth_dap_conn *c, moth_json_doc **doc,
                                           moth_error *err);
/* The same, the message's body as it came (valid until the next receive), not parsed. */
moth_dap_recv_result moth_dap_conn_receive_body(moth_dap_conn *c, const char **body,
                                                size_t *len, moth_error *err);
/* Sends a body received elsewhere (a relay): as it is, or renumbered in this connection's
 * order when it begins `{"seq":N,` (else -1). 0, or -1 when the connection is gone. */
int moth_dap_conn_send_body(moth_dap_conn *c, const char *body, size_t len, int renumber);
/* Wakes a blocked receive (which then says CLOSED) and makes later sends fail. */
void moth_dap_conn_close(moth_dap_conn *c);
/* The descriptors, for a process that replaces itself (restart) and keeps the connection. */
int moth_dap_conn_in_fd(const moth_dap_conn *c);
int moth_dap_conn_out_fd(const moth_dap_conn *c);

#endif
