/*
 * drift.h: how much more of the run's time the profiler's own work took than calibration
 * measured, thread by thread.
 *
 * The cost of recording a call is measured once, at start-up, as CPU time (calibrate.c). A
 * run's times are wall times, and two things make the same work take a different share of
 * them later: the thread gets less of a CPU (other processes, other threads holding the GIL:
 * its functions' wall times then hold the waits, the profiler's work included), and the CPU
 * runs at another speed (frequency scaling, a shared virtual machine). So each thread closes a
 * window every few milliseconds of the run and notes, for the calls it recorded in it, the
 * window's wall time against its CPU time, and the time a fixed piece of C work (a probe) took
 * against what it took at calibration. The factor for a thread is the mean over its calls of
 * (wall / CPU) x (probe now / probe at calibration): the calibrated cost times it is what a
 * call's recording cost in that thread's measured times.
 */
#ifndef MOTH_DRIFT_H
#define MOTH_DRIFT_H

#include <stdint.h>

/* A thread's counters at one moment (cumulative, nanoseconds), and the probe's ticks. */
typedef struct moth_drift_reading {
    uint64_t run_ns;     /* time run on a CPU */
    uint64_t wait_ns;    /* time ready to run, waiting for a CPU */
    int exact;           /* wait_ns is the scheduler's count (else wall time less CPU time) */
    uint64_t probe;      /* ticks the probe took now (0: no probe) */
} moth_drift_reading;

typedef struct moth_drift {
    moth_drift_reading at;     /* where the open window began */
    int open;                  /* a window is open */
    uint64_t probes[4];        /* the last windows' probe times (ticks), 0 for none */
    uint64_t calls;            /* calls in the closed windows */
    double weighted;           /* those calls, each times its window's factor */
} moth_drift;

/* Ceilings of one window's factors. Without the scheduler's counts a window the thread spent
 * mostly asleep would look like one it spent waiting for a CPU, though its calls ran at full
 * speed. */
#define MOTH_DRIFT_MAX_WAIT 16.0
#define MOTH_DRIFT_MAX_WAIT_INEXACT 4.0
#define MOTH_DRIFT_MAX_SPEED 2.0

/* Closes the open window, which recorded `calls` calls, at reading `now`, and opens the next.
 * calibrated_probe: what the probe took at calibration (0: unknown, speed not corrected);
 * wall_clock: the profile's times are wall times (with the thread's CPU time as its clock, the
 * waits are in no measured time). */
void moth_drift_window(moth_drift *d, uint64_t calls, const moth_drift_reading *now,
                       uint64_t calibrated_probe, int wall_clock);

/* The thread's factor: 1 when no window closed. */
double moth_drift_factor(const moth_drift *d);

/* Runs the probe, a fixed piece of integer work of about a microsecond, and returns the ticks
 * of the cycle counter it took (0 where there is no cycle counter). */
uint64_t moth_drift_probe(void);

#endif
