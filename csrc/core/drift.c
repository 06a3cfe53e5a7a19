/* drift.c: the profiler's own cost through the run; see drift.h. */
#include "drift.h"

#include "clock.h"

static double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

void moth_drift_window(moth_drift *d, uint64_t calls, const moth_drift_reading *now,
                       uint64_t calibrated_probe, int wall_clock)
{
    /* the probe of a window can be slowed by an interrupt: the fastest of the last few */
    for (int i = 3; i > 0; i--)
        d->probes[i] = d->probes[i - 1];
    d->probes[0] = now->probe;
    if (d->open && calls && now->run_ns > d->at.run_ns) {
        double factor = 1.0;
        if (wall_clock && now->wait_ns > d->at.wait_ns) {
            double run = (double)(now->run_ns - d->at.run_ns);
            double wait = (double)(now->wait_ns - d->at.wait_ns);
            factor = clamp((run + wait) / run, 1.0,
                           now->exact ? MOTH_DRIFT_MAX_WAIT : MOTH_DRIFT_MAX_WAIT_INEXACT);
        }
        uint64_t fastest = 0;
        for (int i = 0; i < 4; i++)
            if (d->probes[i] && (!fastest || d->probes[i] < fastest))
                fastest = d->probes[i];
        if (fastest && calibrated_probe)
            factor *= clamp((double)fastest / (double)calibrated_probe, 1.0 / MOTH_DRIFT_MAX_SPEED,
                            MOTH_DRIFT_MAX_SPEED);
        d->calls += calls;
        d->weighted += (double)calls * factor;
    }
    d->at = *now;
    d->open = 1;
}

double moth_drift_factor(const moth_drift *d)
{
    return d->calls ? d->weighted / (double)d->calls : 1.0;
}

uint64_t moth_drift_probe(void)
{
    /* a dependent chain of multiplications and additions: its time follows the clock speed */
    volatile uint64_t seed = 0x9e3779b97f4a7c15u;
    uint64_t x = seed;
    uint64_t t0 = moth_cycles();
    for (int i = 0; i < 256; i++)
        x = x * 6364136223846793005u + 1442695040888963407u;
    uint64_t t1 = moth_cycles();
    seed = x;
    return t1 - t0;
}
