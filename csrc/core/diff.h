/*
 * diff.h: comparing two profiles function by function ("did my change make it faster?").
 *
 * Functions are matched by pstats label; each gets its calls, own and total time before and
 * after. Rows are ordered by the largest regression of own time first.
 */
#ifndef MOTH_DIFF_H
#define MOTH_DIFF_H

#include "pstats.h"

typedef struct moth_diff_row {
    const moth_func *func;          /* label, from whichever side has it */
    int in_before, in_after;
    uint64_t calls_before, calls_after;
    double own_before, own_after;
    double total_before, total_after;
} moth_diff_row;

typedef struct moth_diff {
    moth_diff_row *rows;
    size_t nrows;
    double total_before, total_after;     /* pstats' header totals (sum of own times) */
    uint64_t calls_before, calls_after;
    size_t slower, faster, added, removed;
} moth_diff;

/* Compares two views (they must outlive the diff: rows point at their labels). Only changes
 * larger than `noise` seconds of own time count as slower or faster. */
int moth_diff_build(moth_diff *d, const moth_pstats *before, const moth_pstats *after,
                    double noise, moth_error *err);
void moth_diff_free(moth_diff *d);

/* The report: a summary, then the first `limit` rows (0: all). */
int moth_diff_report(const moth_diff *d, const char *before_name, const char *after_name,
                     size_t limit, moth_sb *out, moth_error *err);

/* Total time growth in percent (negative when faster). */
double moth_diff_growth(const moth_diff *d);

#endif
