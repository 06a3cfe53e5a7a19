/*
 * dap_wire.h: the Debug Adapter Protocol's framing, read incrementally.
 *
 * Each message is a header block ("Content-Length: N\r\n", other header lines ignored, an
 * empty line) and N bytes of JSON. The reader is fed bytes as they arrive and hands out whole
 * bodies. Hostile input is survived: a header block without a usable Content-Length, longer
 * than MOTH_DAP_MAX_HEADER, or announcing more than MOTH_DAP_MAX_BODY is reported as a framing
 * error and skipped (the announced body too, when there was one), so the reader finds the next
 * message instead of giving up on the connection.
 */
#ifndef MOTH_DAP_WIRE_H
#define MOTH_DAP_WIRE_H

#include "common.h"
#include "strbuf.h"

#define MOTH_DAP_MAX_HEADER 8192
#define MOTH_DAP_MAX_BODY (64u << 20)

typedef struct moth_dap_wire {
    moth_sb buf;       /* bytes received and not yet handed out */
    size_t start;      /* where the unread part of buf begins */
    size_t skipping;   /* bytes still to drop: the body of a message refused for its size */
} moth_dap_wire;

#define MOTH_DAP_WIRE_INIT {MOTH_SB_INIT, 0, 0}

void moth_dap_wire_free(moth_dap_wire *w);
/* Adds bytes as they came from the connection. -1 (err) when out of memory. */
int moth_dap_wire_feed(moth_dap_wire *w, const void *bytes, size_t n, moth_error *err);

typedef enum {
    MOTH_DAP_NEED_MORE,   /* no whole message yet */
    MOTH_DAP_MESSAGE,     /* *body, *len: one message's body, valid until the next call */
    MOTH_DAP_BAD_FRAME,   /* err says what was wrong; that part of the stream was skipped */
} moth_dap_wire_result;

moth_dap_wire_result moth_dap_wire_next(moth_dap_wire *w, const char **body, size_t *len,
                                        moth_error *err);

/* The header for a body of len bytes. */
void moth_dap_wire_header(moth_sb *sb, size_t len);

#endif
