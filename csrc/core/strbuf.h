/*
 * strbuf.h: a growable byte buffer, always NUL-terminated, for building text and files.
 *
 * Appends never fail halfway: on out-of-memory the buffer remembers the failure (`failed`),
 * further appends do nothing, and the caller checks once at the end with moth_sb_check().
 */
#ifndef MOTH_STRBUF_H
#define MOTH_STRBUF_H

#include "common.h"

typedef struct moth_sb {
    char *data;
    size_t len;
    size_t cap;
    int failed;
} moth_sb;

#define MOTH_SB_INIT {NULL, 0, 0, 0}

void moth_sb_free(moth_sb *sb);
void moth_sb_clear(moth_sb *sb);
void moth_sb_append(moth_sb *sb, const void *bytes, size_t n);
void moth_sb_puts(moth_sb *sb, const char *s);
void moth_sb_putc(moth_sb *sb, char c);
void moth_sb_printf(moth_sb *sb, const char *fmt, ...) MOTH_PRINTF(2, 3);
/* Appends n copies of c. */
void moth_sb_pad(moth_sb *sb, char c, size_t n);
/* 0, or -1 with err filled when an append ran out of memory. */
int moth_sb_check(const moth_sb *sb, moth_error *err);
/* Hands the buffer to the caller (free() it) and resets sb. */
char *moth_sb_take(moth_sb *sb);
/* Frees a scratch buffer whose text went into `into`: when the scratch ran out of memory,
 * `into` is marked failed too, so that one check of `into` at the end covers its pieces. */
void moth_sb_drop(moth_sb *scratch, moth_sb *into);

#endif
