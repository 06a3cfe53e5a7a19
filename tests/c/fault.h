/* fault.h: driving code through every allocation failure (the C unit tests are built with
 * MOTH_FAULT_INJECTION; see common.h).
 *
 *     FOR_EACH_ALLOCATION_FAILURE(n) {
 *         moth_error err = {{0}};
 *         int rc = the_call(..., &err);
 *         ... free what the call returned ...
 *         if (!FAULT_HAPPENED()) { CHECK(rc == 0); break; }   the run with no failure left
 *         CHECK_OUT_OF_MEMORY(rc, err, n);
 *     }
 *
 * The loop runs the body with the 1st, 2nd, 3rd ... allocation failing until a run reaches its
 * end with no allocation left to fail. Leaks on any failure path are reported by ASan at exit. */
#ifndef MOTH_FAULT_H
#define MOTH_FAULT_H

#include <sqlite3.h>

#include "check.h"
#include "common.h"

static long fault_before_;

static inline int fault_arm(long n)
{
    moth_fault_countdown = n;
    fault_before_ = moth_fault_injected;
    return 1;
}

/* Whether the run just made had an allocation fail; disarms the countdown. */
static inline int fault_happened(void)
{
    moth_fault_countdown = 0;
    return moth_fault_injected != fault_before_;
}

#define FOR_EACH_ALLOCATION_FAILURE(n) for (long n = 1; fault_arm(n); n++)
#define FAULT_HAPPENED() fault_happened()

/* SQLite's allocations count as failure points too (the moth file's reader and writer): its
 * allocator, wrapped. Call once, before anything opens a database. */
static sqlite3_mem_methods fault_sqlite_real_;

static void *fault_sqlite_malloc_(int n)
{
    return moth_fault_now() ? NULL : fault_sqlite_real_.xMalloc(n);
}

static void *fault_sqlite_realloc_(void *p, int n)
{
    return moth_fault_now() ? NULL : fault_sqlite_real_.xRealloc(p, n);
}

static inline void fault_include_sqlite(void)
{
    sqlite3_mem_methods m;
    sqlite3_config(SQLITE_CONFIG_GETMALLOC, &fault_sqlite_real_);
    m = fault_sqlite_real_;
    m.xMalloc = fault_sqlite_malloc_;
    m.xRealloc = fault_sqlite_realloc_;
    sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
    /* SQLite's lookaside and page caches would hide allocations behind its own pools. */
    sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0);
}

/* The call failed as out of memory should: -1 and a message that says so. Names the failure
 * point (the n of the loop) when not. */
#define CHECK_OUT_OF_MEMORY(rc, err, n)                                                \
    do {                                                                               \
        int before_oom_ = check_failures;                                              \
        CHECK((rc) == -1);                                                             \
        CHECK(strstr((err).msg, "out of memory") != NULL);                             \
        if (check_failures != before_oom_)                                             \
            fprintf(stderr, "  at allocation failure %ld: rc %d, \"%s\"\n", (long)(n),          \
                    (int)(rc), (err).msg);                                             \
    } while (0)

#endif
