/*
 * sampler.h: sampling a Python program's stacks from outside, at a steady rate.
 *
 * Each round reads the thread list once and then the stacks of the threads the mode keeps
 * (wall: all; cpu: those the kernel shows running; gil: the one holding the GIL), and hands
 * each stack to a sink: the profile builder (sample_profile.c) for `moth record`, the live
 * table (top.c) for `moth top`. Rounds are timed against absolute deadlines; a round that
 * starts late skips the rounds it missed rather than bunching them, and counts them.
 *
 * The target is never written to, and never stopped unless the caller stops it (--blocking).
 */
#ifndef MOTH_SAMPLER_H
#define MOTH_SAMPLER_H

#include <signal.h>

#include "common.h"
#include "native_sample.h"
#include "proc.h"
#include "ptrace_stop.h"
#include "stack.h"
#include "threads.h"

struct moth_remote;

typedef enum moth_sample_mode {
    MOTH_SAMPLE_WALL = 0,
    MOTH_SAMPLE_CPU,
    MOTH_SAMPLE_GIL,
} moth_sample_mode;

/* Receives each stack of a round (innermost frame first, as the stack reader gives it).
 * Returns 0, or -1 to end recording (out of memory). */
typedef struct moth_sample_sink {
    int (*stack)(void *ctx, struct moth_remote *t, const moth_rthread *th,
                 const moth_rstack *stack);
    /* --native: a thread's merged stack instead (ns->merged, innermost first: Python frames
     * index into py, C functions into ns->cfuncs). NULL when the sink takes none. */
    int (*native)(void *ctx, struct moth_remote *t, const moth_rthread *th,
                  const moth_rstack *py, moth_native_sampler *ns);
    /* Called once per round after the stacks (may be NULL). */
    void (*round_done)(void *ctx, struct moth_remote *t);
    void *ctx;
} moth_sample_sink;

typedef struct moth_sampler_stats {
    uint64_t rounds;         /* rounds taken */
    uint64_t late;           /* rounds skipped because sampling ran behind */
    uint64_t failed_rounds;  /* rounds whose thread list could not be read */
    double seconds;          /* from the first round to the end */
    double busy_seconds;     /* time spent reading the target (moth's cost) */
} moth_sampler_stats;

typedef struct moth_sampler {
    struct moth_remote *t;
    moth_sample_mode mode;
    moth_sample_sink sink;
    moth_rthreads threads;
    moth_rstack stack;
    moth_stack_reader reader;
    moth_sampler_stats stats;
    /* --blocking: the target's threads are held still while a round reads them (NULL: the
     * target runs on while it is read). Attached and detached by the caller. */
    struct moth_stopper *stopper;
    /* --native (with a stopper): each thread's C frames too, given to sink.native. Opened and
     * closed by the caller. */
    moth_native_sampler *native;
    moth_error err;          /* why a round asked to stop (out of memory) */
    /* --mode cpu with a stopper: the threads running before the round stopped them (a
     * stopped thread shows as stopped). */
    moth_tasks running;
} moth_sampler;

void moth_sampler_init(moth_sampler *s, struct moth_remote *t, moth_sample_mode mode,
                       moth_sample_sink sink);
void moth_sampler_free(moth_sampler *s);

/* One round. 0; 1 when the target has gone (its process ended or its interpreter shut down);
 * -1 when the sink asked to stop. */
int moth_sampler_round(moth_sampler *s);

/* Rounds at `rate` per second until `duration` seconds (0: no limit), the target ends, *stop
 * becomes nonzero, or the sink stops. `tick` (may be NULL) is called about every 100 ms with
 * the time sampled so far, for progress or a live display; it returns nonzero to stop.
 * Returns 1 when the target ended, 0 otherwise (-1 as moth_sampler_round). */
int moth_sampler_run(moth_sampler *s, double rate, double duration,
                     volatile sig_atomic_t *stop, int (*tick)(void *ctx, double elapsed),
                     void *tick_ctx);

/* Monotonic time in seconds. */
double moth_now(void);

/* Rounds due at absolute deadlines, `interval` apart from `next` on. */
typedef struct moth_pace {
    double interval, next;
} moth_pace;

void moth_pace_start(moth_pace *p, double rate, double now);

/* At time `now`: -1 when the next round is not due yet (it is due at p->next); otherwise the
 * round is taken now and the deadline moves on, and the result is how many rounds were missed
 * (skipped rather than taken in a burst, so samples stay evenly spaced). */
int64_t moth_pace_due(moth_pace *p, double now);

/* Sleeps until monotonic time `when`; returns early when a signal arrives (so that the caller
 * looks at its stop flag). */
void moth_sleep_until(double when);

#endif
