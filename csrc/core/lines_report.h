/* lines_report.h: the line_profiler-style report of a profile's line data (lines_report.c). */
#ifndef MOTH_LINES_REPORT_H
#define MOTH_LINES_REPORT_H

#include "profile.h"
#include "strbuf.h"

/* Appends the report for the `limit` functions with the most line time (0: all). Prints
 * nothing when the profile has no line data. moth_lines_finish must have run. */
int moth_lines_report(const moth_profile *p, size_t limit, moth_sb *out, moth_error *err);

#endif
