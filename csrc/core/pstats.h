/*
 * pstats.h: the pstats view of a profile, the table cProfile prints, and pstats files.
 *
 * The view is what pstats.Stats holds: per function (cc, nc, tt, ct, callers) where cc counts
 * primitive calls, nc all calls, tt own seconds, ct cumulative seconds, and callers maps each
 * calling function to the same four numbers for that edge. It is folded exactly from the
 * calling-context trees (cProfile's rules, Modules/_lsprof.c), or read from a pstats file.
 *
 * Folding rules, per tree node n with function f and parent function g:
 *  - n's calls count towards nc(f); towards cc(f) only when f is not the function of any proper
 *    ancestor of n (the call was not recursive); tt(f) += self(n); ct(f) += total(n) only when
 *    the call was not recursive (cumulative time counts the outermost activation once).
 *  - the edge g -> f (stored in f's callers under g) gets nc += calls(n), tt += self(n), and
 *    cc, ct only when no proper ancestor m of n has function f with parent function g.
 *  - children of the root have no caller edge.
 * Threads are folded one by one and summed.
 */
#ifndef MOTH_PSTATS_H
#define MOTH_PSTATS_H

#include "common.h"
#include "funcs.h"
#include "profile.h"
#include "strbuf.h"

typedef struct moth_pstats_edge {
    uint32_t caller;  /* function index */
    uint64_t nc, cc;  /* calls along this edge, and the primitive ones */
    double tt, ct;
} moth_pstats_edge;

typedef struct moth_pstats_row {
    uint32_t func;    /* function index */
    uint64_t cc, nc;
    double tt, ct;
    uint64_t own_samples; /* sampled profiles: the samples with the function innermost (0 for
                             others) */
    moth_pstats_edge *callers;
    size_t ncallers, callers_cap;
} moth_pstats_row;

typedef struct moth_pstats {
    moth_funcs funcs;      /* owned: labels of every row and caller */
    moth_pstats_row *rows; /* one per function that was called, in no particular order */
    size_t nrows, rows_cap;
    moth_map row_of_func;  /* (func, 0) -> row index */
    moth_map edge_of;      /* (callee func, caller func) -> index in the callee row's callers */
    /* The pure-Python `profile` module stores a bare call count per caller instead of the
     * 4-tuple; a view read from such a file remembers it so it can be written back alike. */
    int callers_are_counts;
    /* pstats keeps the header's total time as the sum of each file's own total, added file by
     * file; kept the same way so that the header rounds identically. */
    double total_tt;
    int total_tt_known;
    /* Files this view was loaded from, for the table's header (as pstats prints them). */
    char **files;
    size_t nfiles, files_cap;
} moth_pstats;

void moth_pstats_init(moth_pstats *s);
void moth_pstats_free(moth_pstats *s);

/* Folds every thread of p into s (which must be freshly initialised). */
int moth_pstats_from_profile(moth_pstats *s, const moth_profile *p, moth_error *err);

/* Adds src into dst as pstats.Stats.add does: rows and caller edges with the same label sum. */
int moth_pstats_add(moth_pstats *dst, const moth_pstats *src, moth_error *err);

/* The row for a function index, or NULL. */
moth_pstats_row *moth_pstats_row_for(const moth_pstats *s, uint32_t func);

/* Sums over all rows: nc, cc and tt, as pstats' header line reports them. */
void moth_pstats_totals(const moth_pstats *s, uint64_t *total_calls, uint64_t *prim_calls,
                        double *total_tt);

/* pstats files: the marshal of {(file, line, name): (cc, nc, tt, ct, {caller: (nc, cc, tt,
 * ct)})}. Reading treats the bytes as hostile: anything malformed is an error, never a crash. */
int moth_pstats_write(const moth_pstats *s, moth_sb *out, moth_error *err);
int moth_pstats_read(moth_pstats *s, const void *data, size_t len, moth_error *err);
int moth_pstats_write_file(const moth_pstats *s, const char *path, moth_error *err);
int moth_pstats_read_file(moth_pstats *s, const char *path, moth_error *err);

/* Sort keys: every key pstats.Stats.sort_stats accepts, by full name or unique prefix
 * ("calls", "cumulative", "cumtime", "file", "filename", "module", "ncalls", "pcalls", "line",
 * "name", "nfl", "stdname", "time", "tottime"), plus pstats' legacy integers -1, 0, 1, 2 as the
 * strings "-1", "0", "1", "2". moth_pstats_sort_keys_help lists the valid ones for an error. */
#define MOTH_SORT_MAX_KEYS 8
typedef struct moth_sort_spec {
    int fields[MOTH_SORT_MAX_KEYS]; /* internal field codes */
    int nfields;
    char description[160];          /* "cumulative time", "call count, file name", ... */
} moth_sort_spec;
int moth_sort_spec_parse(moth_sort_spec *spec, const char *const *keys, size_t nkeys,
                         moth_error *err);
const char *moth_pstats_sort_keys_help(void);

/* Row order under spec, as pstats sorts: *order (malloc'd, *n entries) holds row indexes. */
int moth_pstats_sorted(const moth_pstats *s, const moth_sort_spec *spec, uint32_t **order,
                       size_t *n, moth_error *err);

/* Replaces every file name by its last path component and merges rows (and caller edges)
 * whose labels then coincide, as pstats.Stats.strip_dirs does. */
int moth_pstats_strip_dirs(moth_pstats *s, moth_error *err);

/* What to print: the pstats.Stats.print_stats/print_callers/print_callees output, byte for
 * byte, given the same sort and restrictions. Restrictions apply in order, as pstats'
 * eval_print_amount does: a regex (searched in "file:line(name)"), a fraction (0.0-1.0 of
 * the remaining rows), or a count. */
typedef enum { MOTH_RESTRICT_REGEX, MOTH_RESTRICT_FRACTION, MOTH_RESTRICT_COUNT } moth_restrict_kind;
typedef struct moth_restriction {
    moth_restrict_kind kind;
    const char *regex;
    double fraction;
    size_t count;
} moth_restriction;

#define MOTH_MAX_RESTRICTIONS 8
typedef struct moth_report_opts {
    moth_sort_spec sort;  /* used when `sorted` */
    int sorted;           /* whether sort_stats was called: prints "Ordered by:" */
    int reversed;         /* reverse_order() after sorting (ignored when not sorted) */
    moth_restriction restrictions[MOTH_MAX_RESTRICTIONS];
    size_t nrestrictions;
} moth_report_opts;

int moth_report_stats(const moth_pstats *s, const moth_report_opts *o, moth_sb *out,
                      moth_error *err);
/* The table of a sampled profile (moth record): own and total samples of each function (own:
 * the rows' own_samples; total: samples with the function anywhere on the stack, the view's
 * primitive count), both exact counts however many runs were merged, and the times they
 * estimate; `summary` is the line above it ("N samples of ... in S seconds"). The same
 * options as moth_report_stats. */
int moth_report_samples(const moth_pstats *s, const moth_report_opts *o, const char *summary,
                        moth_sb *out, moth_error *err);
int moth_report_callers(const moth_pstats *s, const moth_report_opts *o, moth_sb *out,
                        moth_error *err);
int moth_report_callees(const moth_pstats *s, const moth_report_opts *o, moth_sb *out,
                        moth_error *err);

/* pstats' func_std_string: "file:line(name)", or "{name}" for C functions, or "~:0(name)" for
 * a C function whose name is not bracketed. */
void moth_func_label(const moth_func *f, moth_sb *out);

#endif
