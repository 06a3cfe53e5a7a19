/*
 * rstring.h: str and bytes objects of the target, copied out.
 *
 * A str is read from its header (length and state: compact or not, ASCII or not, 1, 2 or 4
 * bytes per character) and its characters, and handed back as UTF-8. Lengths are capped: the
 * target's memory is not trusted to hold sane sizes.
 */
#ifndef MOTH_RSTRING_H
#define MOTH_RSTRING_H

#include <stddef.h>
#include <stdint.h>

struct moth_remote;

/* The str object at addr as a malloc'd, NUL-terminated UTF-8 string of at most max_chars
 * characters (*truncated, when not NULL, tells whether it was cut). NULL when addr is not a
 * readable str. Lone surrogates come out as U+FFFD. */
char *moth_remote_str(struct moth_remote *t, uint64_t addr, size_t max_chars, int *truncated);

/* The code points of the str object at addr: the first max_chars of them (or all) in *out
 * (malloc'd), how many in *n, and the str's whole length in *length. -1 when addr is not a
 * readable str. */
int moth_remote_str_chars(struct moth_remote *t, uint64_t addr, size_t max_chars,
                          uint32_t **out, size_t *n, size_t *length);

/* The bytes object at addr: *out (malloc'd; NUL-terminated for convenience) and *len, at most
 * max bytes (*truncated as above). -1 when addr is not a readable bytes object. */
int moth_remote_bytes(struct moth_remote *t, uint64_t addr, size_t max, uint8_t **out,
                      size_t *len, int *truncated);

/* Encodes code point c as UTF-8 into out (4 bytes of room); the number of bytes written. */
size_t moth_utf8_encode(uint32_t c, char *out);

#endif
