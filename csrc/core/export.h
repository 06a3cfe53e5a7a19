/*
 * export.h: writing profiles in the formats other tools read.
 *
 *   pstats      pstats.Stats / snakeviz / gprof2dot (the marshal file)
 *   speedscope  speedscope's JSON file format: one sampled profile per thread, each stack of
 *               the calling-context tree weighted by its own time
 *   collapsed   folded stacks for flamegraph.pl and inferno: "a;b;c <microseconds>"
 *   callgrind   KCachegrind / QCachegrind: per function its own time, per call edge the
 *               calls and inclusive time (nanoseconds)
 *   chrome      trace events for Perfetto and chrome://tracing: one complete event per tree
 *               node, laid out deterministically (the tree has no timeline: a node starts where
 *               its previous sibling ended)
 *   dot         a Graphviz call graph: functions above a share of the total time, coloured
 *               from cold to hot, edges labelled with calls and time, the hot path thickest
 *
 * Formats drawn from the calling-context tree (speedscope, collapsed, chrome) need moth's own
 * file; the others also work from a pstats file.
 */
#ifndef MOTH_EXPORT_H
#define MOTH_EXPORT_H

#include "loadfile.h"
#include "strbuf.h"

/* The names of the formats, comma separated, for help and errors. */
const char *moth_export_formats(void);

/* Writes `in` in `format` to out. -1 with a message for an unknown format, or a format that
 * needs the calling-context tree when `in` is a pstats file. */
int moth_export(const moth_loaded *in, const char *format, moth_sb *out, moth_error *err);

/* A function's name for pictures: its qualname (or name), or pstats' label of a C function. */
void moth_func_display_name(const moth_func *f, moth_sb *out);

/* JSON string literal (quotes included) of UTF-8 text; invalid bytes become U+FFFD. Also
 * escapes '<', '>' and '&' so the text is safe inside an HTML <script>. */
void moth_json_string(moth_sb *out, const char *s);

#endif
