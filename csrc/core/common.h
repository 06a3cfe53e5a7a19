/*
 * common.h: what every file of the pure core shares.
 *
 * The core holds no interpreter: no Python.h here or anywhere under csrc/core. Functions that
 * can fail return 0 on success and -1 on failure, and fill a moth_error with one line a person
 * can read; the CPython boundary turns that line into an exception or a message on stderr.
 */
#ifndef MOTH_COMMON_H
#define MOTH_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define MOTH_VERSION "0.1.0"

#if defined(__GNUC__)
#  define MOTH_LIKELY(x)   __builtin_expect(!!(x), 1)
#  define MOTH_UNLIKELY(x) __builtin_expect(!!(x), 0)
#  define MOTH_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define MOTH_LIKELY(x)   (x)
#  define MOTH_UNLIKELY(x) (x)
#  define MOTH_PRINTF(f, a)
#endif

/* Coverage builds (scripts/coverage): a process about to die of a signal writes its counts
 * first, which gcov does only at a normal exit. Nothing in other builds. */
#ifdef MOTH_COVERAGE
void __gcov_dump(void);
#  define MOTH_COVERAGE_FLUSH() __gcov_dump()
#else
#  define MOTH_COVERAGE_FLUSH() ((void)0)
#endif

/* One line that says what went wrong, ready to show a user. */
typedef struct moth_error {
    char msg[512];
} moth_error;

/* Formats the message into err (when err is not NULL) and returns -1, so callers can write
 * `return moth_fail(err, "...")`. */
int moth_fail(moth_error *err, const char *fmt, ...) MOTH_PRINTF(2, 3);

/* Allocation that reports failure through err. */
void *moth_malloc(size_t size, moth_error *err);
void *moth_calloc(size_t count, size_t size, moth_error *err);
void *moth_realloc(void *ptr, size_t size, moth_error *err);
char *moth_strdup(const char *s, moth_error *err);
char *moth_strndup(const char *s, size_t n, moth_error *err);

#ifdef MOTH_FAULT_INJECTION
/* Test builds only (tests/c; never the extension), as SQLite's test builds do: when
 * moth_fault_countdown is N > 0, the Nth checked allocation from then on (moth_malloc,
 * moth_calloc, moth_realloc and what uses them) fails as if memory had run out, the ones after
 * it succeed, and moth_fault_injected counts the failures made. A test drives a reader or
 * writer through every failure point in turn (tests/c/fault.h). moth_fault_now() is that
 * decision, for a test's own allocators (SQLite's). */
extern long moth_fault_countdown;
extern long moth_fault_injected;
int moth_fault_now(void);
#endif

/* Grows *items (of item_size bytes each) so that it holds at least `need` items; *cap is the
 * current capacity in items. Doubles, so appends are amortised O(1). */
int moth_grow(void **items, size_t item_size, size_t *cap, size_t need, moth_error *err);

/* qsort that accepts an empty (possibly NULL) array, which qsort itself must not be given. */
void moth_qsort(void *items, size_t count, size_t item_size,
               int (*compare)(const void *, const void *));

#endif
