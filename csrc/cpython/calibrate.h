/* calibrate.h: the profiler's own cost per recorded call, measured (calibrate.c). */
#ifndef MOTH_CALIBRATE_H
#define MOTH_CALIBRATE_H

#include "profiler.h"

/* Sets p->overhead_* (seconds per call) and p->inline_delta for p's mode and clock.
 * Never fails: when it cannot measure, both stay 0 and times are reported as measured. */
int moth_calibrate(moth_profiler *p);

#endif
