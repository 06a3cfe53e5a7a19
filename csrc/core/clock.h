/*
 * clock.h: the clocks a profile is timed with.
 *
 * The wall clock is the CPU's time-stamp counter where it runs at a constant rate (x86-64 with
 * constant_tsc, aarch64's virtual counter): one instruction, a few nanoseconds, against about
 * 20 ns for clock_gettime. Its rate is calibrated against CLOCK_MONOTONIC over the whole run
 * (moth_tick_rate), so the longer the run, the more exact. Elsewhere it falls back to
 * CLOCK_MONOTONIC in nanoseconds. The CPU clock is the calling thread's CPU time.
 */
#ifndef MOTH_CLOCK_H
#define MOTH_CLOCK_H

#include <stdint.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#  include <x86intrin.h>
#  define MOTH_HAVE_CYCLE_COUNTER 1
static inline uint64_t moth_cycles(void) { return __rdtsc(); }
#elif defined(__aarch64__)
#  define MOTH_HAVE_CYCLE_COUNTER 1
static inline uint64_t moth_cycles(void)
{
    uint64_t v;
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
}
#else
#  define MOTH_HAVE_CYCLE_COUNTER 0
static inline uint64_t moth_cycles(void) { return 0; }
#endif

static inline uint64_t moth_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Seconds since the epoch: when a run started, as its file records it. */
static inline double moth_unix_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t moth_thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Whether the cycle counter can serve as a wall clock on this machine (constant rate, not
 * stopped in idle states); decided once from /proc/cpuinfo. */
int moth_cycles_are_wall_clock(void);

/* A pair of readings of the cycle counter and CLOCK_MONOTONIC, taken together. */
typedef struct moth_clock_anchor {
    uint64_t cycles;
    uint64_t ns;
} moth_clock_anchor;

void moth_clock_anchor_now(moth_clock_anchor *a);

/* Seconds per cycle, measured between anchor `from` and now. Waits (busy) until at least
 * `min_ns` have passed since `from`, so short runs still get a usable rate. */
double moth_seconds_per_cycle(const moth_clock_anchor *from, uint64_t min_ns);

#endif
