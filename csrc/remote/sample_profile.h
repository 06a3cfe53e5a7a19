/*
 * sample_profile.h: a profile built from sampled stacks (`moth record`), so that everything
 * that reads moth's profiles (the table, moth's file, flame graphs, exports, diff, the line
 * report) reads sampled ones too.
 *
 * Each thread gets a calling-context tree. A sample walks its stack from the outermost frame
 * down, adds one to `calls` of every node on the path (so the pstats view's primitive count of
 * a function is the number of samples it was on the stack in) and one tick of own time to the
 * leaf; a tick is one sampling interval, the run's length divided by its rounds. With line
 * data on, every distinct (function, line) on the stack gets one hit and one tick, so a line's
 * time includes the calls it makes, as in the deterministic line report.
 */
#ifndef MOTH_SAMPLE_PROFILE_H
#define MOTH_SAMPLE_PROFILE_H

#include "profile.h"
#include "sampler.h"

typedef struct moth_sample_profile {
    moth_profile *profile;   /* being filled (funcs, threads, lines) */
    int lines;               /* record line hits */
    uint64_t samples;        /* stacks added */
    int unnamed;             /* a thread still has no name: look again after a round */
    double names_read_at;    /* when thread names were last read */
    moth_error err;          /* why a sink call failed */
    /* Per-sample scratch: the (function, line) pairs seen on the current stack. */
    uint64_t *seen;
    size_t seen_cap;
} moth_sample_profile;

void moth_sample_profile_init(moth_sample_profile *sp, moth_profile *p, int lines);
void moth_sample_profile_free(moth_sample_profile *sp);

/* The sink to give the sampler. */
moth_sample_sink moth_sample_profile_sink(moth_sample_profile *sp);

/* Ends recording: derives totals, sorts line data, sets the tick length from the sampler's
 * statistics (seconds per round), and records how the profile was made in its metadata. */
void moth_sample_profile_finish(moth_sample_profile *sp, const moth_sampler_stats *stats,
                                double rate, moth_sample_mode mode);

#endif
