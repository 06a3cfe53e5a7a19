/*
 * diff.h: comparing two profiles function by function ("did my change make it faster?").
 *
 * Functions are matched by pstats label; each gets its calls, own and total time before and
 * after. Rows are grouped by the way they changed: regressions (the largest growth of own time
 * first), improvements (the largest drop first), then the rows whose times did not change by
 * more than the noise.
 */
#ifndef MOTH_DIFF_H
#define MOTH_DIFF_H

#include "pstats.h"

typedef enum {
    MOTH_DIFF_SLOWER,
    MOTH_DIFF_FASTER,
    MOTH_DIFF_SAME,  /* own and total time moved by no more than the noise */
} moth_diff_change;

typedef struct moth_diff_row {
    const moth_func *func;          /* label, from whichever side has it */
    int in_before, in_after;
    moth_diff_change change;        /* by own time; by total time when own time held still */
    uint64_t calls_before, calls_after;
    double own_before, own_after;
    double total_before, total_after;
} moth_diff_row;

typedef struct moth_diff {
    moth_diff_row *rows;
    size_t nrows;
    double total_before, total_after;     /* pstats' header totals (sum of own times) */
    uint64_t calls_before, calls_after;
    size_t slower, faster, added, removed;  /* by own time, as the summary counts them */
    size_t nchange[3];                       /* rows per moth_diff_change */
} moth_diff;

/* Compares two views (they must outlive the diff: rows point at their labels). Only changes
 * larger than `noise` seconds count as slower or faster. Rows come out grouped and ordered as
 * the report shows them: nchange[SLOWER] regressions, nchange[FASTER] improvements, the rest. */
int moth_diff_build(moth_diff *d, const moth_pstats *before, const moth_pstats *after,
                    double noise, moth_error *err);
void moth_diff_free(moth_diff *d);

/* The report: a summary, then the `limit` largest regressions and the `limit` largest
 * improvements (0: all of them), and with `unchanged` every other row too. */
int moth_diff_report(const moth_diff *d, const char *before_name, const char *after_name,
                     size_t limit, int unchanged, moth_sb *out, moth_error *err);

/* Total time growth in percent (negative when faster). */
double moth_diff_growth(const moth_diff *d);

#endif
