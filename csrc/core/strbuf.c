/* strbuf.c: growable text buffer; see strbuf.h. */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(moth_sb *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (extra > SIZE_MAX - sb->len - 1) {
        sb->failed = 1;
        return -1;
    }
    if (moth_grow((void **)&sb->data, 1, &sb->cap, sb->len + extra + 1, NULL) < 0) {
        sb->failed = 1;
        return -1;
    }
    return 0;
}

void moth_sb_free(moth_sb *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = 0;
}

void moth_sb_clear(moth_sb *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

void moth_sb_append(moth_sb *sb, const void *bytes, size_t n)
{
    if (reserve(sb, n) < 0)
        return;
    if (n)
        memcpy(sb->data + sb->len, bytes, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void moth_sb_puts(moth_sb *sb, const char *s)
{
    moth_sb_append(sb, s, strlen(s));
}

void moth_sb_putc(moth_sb *sb, char c)
{
    moth_sb_append(sb, &c, 1);
}

void moth_sb_pad(moth_sb *sb, char c, size_t n)
{
    if (reserve(sb, n) < 0)
        return;
    memset(sb->data + sb->len, c, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void moth_sb_printf(moth_sb *sb, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        sb->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        moth_sb_append(sb, small, (size_t)n);
        return;
    }
    if (reserve(sb, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

int moth_sb_check(const moth_sb *sb, moth_error *err)
{
    return sb->failed ? moth_fail(err, "out of memory while building text") : 0;
}

char *moth_sb_take(moth_sb *sb)
{
    char *p = sb->data;
    if (!p)
        p = moth_calloc(1, 1, NULL);
    sb->data = NULL;
    sb->len = sb->cap = 0;
    sb->failed = 0;
    return p;
}

void moth_sb_drop(moth_sb *scratch, moth_sb *into)
{
    if (scratch->failed)
        into->failed = 1;
    moth_sb_free(scratch);
}
