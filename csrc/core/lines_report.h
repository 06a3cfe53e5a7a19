/* lines_report.h: the line_profiler-style report of a profile's line data (lines_report.c). */
#ifndef MOTH_LINES_REPORT_H
#define MOTH_LINES_REPORT_H

#include "profile.h"
#include "strbuf.h"

/* Where the source text of a file comes from: returns malloc'd text or NULL. */
typedef char *(*moth_source_fn)(const char *path, void *ctx);

/* Appends the report for the `limit` functions with the most line time (0: all). Prints
 * nothing when the profile has no line data. moth_lines_finish must have run. Sources are read
 * from the files; moth_lines_report_with lets the caller provide them (e.g. code typed into an
 * interactive session, which has no file). With `colour` (for a terminal), the source is
 * coloured (highlight.h) and the lines' shares of their function's time stand out by size. */
int moth_lines_report(const moth_profile *p, size_t limit, int colour, moth_sb *out,
                      moth_error *err);
int moth_lines_report_with(const moth_profile *p, size_t limit, moth_source_fn source, void *ctx,
                           int colour, moth_sb *out, moth_error *err);

#endif
