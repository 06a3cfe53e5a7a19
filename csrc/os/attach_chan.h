/*
 * attach_chan.h: the channel between `moth debug -p` / `moth profile -p` and the agent moth's
 * bootstrap starts inside the target: a Unix socket in a directory only the attaching user can
 * enter, whose peer is checked (the agent must be the target process, moth must be the user's
 * own moth), carrying framed messages: a type byte, a 4-byte little-endian length, the bytes.
 *
 *   agent -> moth: 'A' hello (the token moth put in the bootstrap, then the agent's Python),
 *                  'F' refused or failed (a line to show), 'O'/'E' text for moth's
 *                  stdout/stderr, 'R' a prompt (a line wanted), 'W' wake the main thread,
 *                  'M' completions (each ended by a NUL), 'X' the session ended (debug: what
 *                  to say, may be empty; profile: "STATUS[ exit|SIGTERM]")
 *   moth -> agent: 'P' profile / 'G' debug (payload: the options, NUL-separated), 'S' stop,
 *                  'I' a line typed at moth's terminal, 'T' complete ("BEGIDX ENDIDX LINE"),
 *                  'C' Ctrl-C, 'D' detach,
 *                  'V' a DAP session (payload: its state, JSON); the agent answers 'K' (the
 *                  session is ready: from then on the socket carries DAP messages, framed as
 *                  the protocol frames them) or 'X' (why not)
 */
#ifndef MOTH_ATTACH_CHAN_H
#define MOTH_ATTACH_CHAN_H

#include <stddef.h>
#include <sys/types.h>

#include "common.h"

#define MOTH_CHAN_MAX (16u << 20) /* the largest message either side accepts */

/* Sends one message (never raises SIGPIPE); -1 when the peer has gone. */
int moth_chan_send(int fd, char type, const void *data, size_t len);

/* Receives one message into *data (malloc'd, NUL-terminated, *len bytes before the NUL).
 * 0, or -1 when the peer closed, the message is malformed or larger than MOTH_CHAN_MAX
 * (EINTR is not retried: -2, so that a caller can look at its Ctrl-C). */
int moth_chan_recv(int fd, char *type, char **data, size_t *len);

/* The process id of the peer of a connected Unix socket (SO_PEERCRED), and its user. */
int moth_chan_peer(int fd, pid_t *pid, uid_t *uid);

/* One session per process: the agent holds an abstract Unix socket named after its process
 * while a session runs (moth_chan_claim: the descriptor, -1 when another holds it), and moth
 * asks before it attaches (moth_chan_claimed: 1 when a session runs in pid). */
int moth_chan_claim(pid_t pid);
int moth_chan_claimed(pid_t pid);

#endif
