/* common.c: errors and checked allocation for the pure core. */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int moth_fail(moth_error *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

#ifdef MOTH_FAULT_INJECTION
long moth_fault_countdown;
long moth_fault_injected;

int moth_fault_now(void)
{
    if (moth_fault_countdown <= 0 || --moth_fault_countdown > 0)
        return 0;
    moth_fault_injected++;
    return 1;
}
#else
#  define moth_fault_now() 0
#endif

void *moth_malloc(size_t size, moth_error *err)
{
    void *p = moth_fault_now() ? NULL : malloc(size ? size : 1);
    if (!p)
        moth_fail(err, "out of memory (%zu bytes)", size);
    return p;
}

void *moth_calloc(size_t count, size_t size, moth_error *err)
{
    void *p = moth_fault_now() ? NULL : calloc(count ? count : 1, size ? size : 1);
    if (!p)
        moth_fail(err, "out of memory (%zu x %zu bytes)", count, size);
    return p;
}

void *moth_realloc(void *ptr, size_t size, moth_error *err)
{
    void *p = moth_fault_now() ? NULL : realloc(ptr, size ? size : 1); /* NULL leaves ptr as it was */
    if (!p)
        moth_fail(err, "out of memory (%zu bytes)", size);
    return p;
}

char *moth_strndup(const char *s, size_t n, moth_error *err)
{
    char *p = moth_malloc(n + 1, err);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *moth_strdup(const char *s, moth_error *err)
{
    return moth_strndup(s, strlen(s), err);
}

int moth_grow(void **items, size_t item_size, size_t *cap, size_t need, moth_error *err)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 8;
    while (n < need) {
        if (n > SIZE_MAX / 2 / item_size)
            return moth_fail(err, "out of memory (table of %zu items)", need);
        n *= 2;
    }
    void *p = moth_realloc(*items, n * item_size, err);
    if (!p)
        return -1;
    *items = p;
    *cap = n;
    return 0;
}

void moth_qsort(void *items, size_t count, size_t item_size,
               int (*compare)(const void *, const void *))
{
    if (count > 1)
        qsort(items, count, item_size, compare);
}
