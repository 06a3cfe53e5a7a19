/*
 * report.c: pstats' sorting and printed reports, byte for byte (Lib/pstats.py of CPython
 * 3.11-3.13: sort_stats, eval_print_amount, print_stats, print_callers, print_callees).
 */
#include "pstats.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Field codes: the indexes of pstats' sort tuples (cc, nc, tt, ct, file, line, name, std). */
enum { F_CC, F_NC, F_TT, F_CT, F_FILE, F_LINE, F_NAME, F_STD };

typedef struct sort_key {
    const char *word;
    int fields[3];
    int nfields;
    const char *description;
} sort_key;

/* pstats.Stats.sort_arg_dict_default, in its order (which decides abbreviations). */
static const sort_key SORT_KEYS[] = {
    {"calls", {F_NC}, 1, "call count"},
    {"ncalls", {F_NC}, 1, "call count"},
    {"cumtime", {F_CT}, 1, "cumulative time"},
    {"cumulative", {F_CT}, 1, "cumulative time"},
    {"filename", {F_FILE}, 1, "file name"},
    {"line", {F_LINE}, 1, "line number"},
    {"module", {F_FILE}, 1, "file name"},
    {"name", {F_NAME}, 1, "function name"},
    {"nfl", {F_NAME, F_FILE, F_LINE}, 3, "name/file/line"},
    {"pcalls", {F_CC}, 1, "primitive call count"},
    {"stdname", {F_STD}, 1, "standard name"},
    {"time", {F_TT}, 1, "internal time"},
    {"tottime", {F_TT}, 1, "internal time"},
};
#define NKEYS (sizeof SORT_KEYS / sizeof SORT_KEYS[0])

const char *moth_pstats_sort_keys_help(void)
{
    return "calls, cumtime, cumulative, filename, line, module, name, ncalls, nfl, pcalls, "
           "stdname, time, tottime (or a unique abbreviation)";
}

/* pstats accepts every prefix of a key that is not a prefix met earlier in the table (and not
 * shared with a later key that reaches it first): get_sort_arg_defs. */
static const sort_key *find_key(const char *word)
{
    size_t n = strlen(word);
    if (n == 0)
        return NULL;
    const sort_key *found = NULL;
    for (size_t i = 0; i < NKEYS; i++) {
        const char *w = SORT_KEYS[i].word;
        if (strncmp(w, word, n) != 0)
            continue;
        /* Is this fragment of w claimed by an earlier key (then it is ambiguous and removed),
         * or was it reached by w before w hit an earlier key's fragment? Walk w's fragments
         * from longest to `word`, stopping at the first one an earlier key owns. */
        int reachable = 1;
        for (size_t len = strlen(w); len >= n && reachable; len--) {
            for (size_t j = 0; j < i; j++) {
                if (strlen(SORT_KEYS[j].word) >= len &&
                    strncmp(SORT_KEYS[j].word, w, len) == 0) {
                    reachable = 0; /* w stopped here: shorter fragments are not w's */
                    if (len == n)
                        return NULL; /* the fragment itself is shared: pstats deletes it */
                    break;
                }
            }
            if (len == n)
                break;
        }
        if (!reachable)
            continue;
        if (found)
            return NULL;
        found = &SORT_KEYS[i];
    }
    return found;
}

int moth_sort_spec_parse(moth_sort_spec *spec, const char *const *keys, size_t nkeys,
                         moth_error *err)
{
    static const char *const legacy[] = {"stdname", "calls", "time", "cumulative"};
    memset(spec, 0, sizeof *spec);
    if (nkeys == 1 && (!strcmp(keys[0], "-1") || !strcmp(keys[0], "0") ||
                       !strcmp(keys[0], "1") || !strcmp(keys[0], "2"))) {
        const char *word = legacy[atoi(keys[0]) + 1];
        return moth_sort_spec_parse(spec, &word, 1, err);
    }
    for (size_t i = 0; i < nkeys; i++) {
        const sort_key *k = find_key(keys[i]);
        if (!k)
            return moth_fail(err, "unknown sort key '%s'; valid keys: %s", keys[i],
                             moth_pstats_sort_keys_help());
        for (int f = 0; f < k->nfields; f++) {
            if (spec->nfields == MOTH_SORT_MAX_KEYS)
                return moth_fail(err, "too many sort keys");
            spec->fields[spec->nfields++] = k->fields[f];
        }
        size_t used = strlen(spec->description);
        snprintf(spec->description + used, sizeof spec->description - used, "%s%s",
                 i ? ", " : "", k->description);
    }
    return 0;
}

typedef struct sort_ctx {
    const moth_pstats *s;
    const moth_sort_spec *spec;
    char **labels;
} sort_ctx;

static int compare_rows(const sort_ctx *c, uint32_t a, uint32_t b)
{
    const moth_pstats_row *ra = &c->s->rows[a], *rb = &c->s->rows[b];
    const moth_func *fa = &c->s->funcs.items[ra->func], *fb = &c->s->funcs.items[rb->func];
    for (int i = 0; i < c->spec->nfields; i++) {
        int cmp = 0;
        switch (c->spec->fields[i]) {
        case F_CC: cmp = ra->cc < rb->cc ? -1 : ra->cc > rb->cc; cmp = -cmp; break;
        case F_NC: cmp = ra->nc < rb->nc ? -1 : ra->nc > rb->nc; cmp = -cmp; break;
        case F_TT: cmp = ra->tt < rb->tt ? -1 : ra->tt > rb->tt; cmp = -cmp; break;
        case F_CT: cmp = ra->ct < rb->ct ? -1 : ra->ct > rb->ct; cmp = -cmp; break;
        case F_FILE: cmp = strcmp(fa->file, fb->file); break;
        case F_LINE: cmp = fa->line < fb->line ? -1 : fa->line > fb->line; break;
        case F_NAME: cmp = strcmp(fa->name, fb->name); break;
        case F_STD: cmp = strcmp(c->labels[a], c->labels[b]); break;
        }
        if (cmp)
            return cmp;
    }
    return 0;
}

/* A stable merge sort (Python's sort is stable: ties keep the view's row order). */
static void merge_sort(const sort_ctx *c, uint32_t *a, uint32_t *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(c, a, tmp, h);
    merge_sort(c, a + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = compare_rows(c, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static char **make_labels(const moth_pstats *s, moth_error *err)
{
    char **labels = moth_calloc(s->nrows ? s->nrows : 1, sizeof *labels, err);
    for (size_t i = 0; labels && i < s->nrows; i++) {
        moth_sb sb = MOTH_SB_INIT;
        moth_func_label(&s->funcs.items[s->rows[i].func], &sb);
        if (moth_sb_check(&sb, err) < 0) {
            moth_sb_free(&sb);
            for (size_t j = 0; j < i; j++)
                free(labels[j]);
            free(labels);
            return NULL;
        }
        labels[i] = moth_sb_take(&sb);
    }
    return labels;
}

static void free_labels(const moth_pstats *s, char **labels)
{
    for (size_t i = 0; labels && i < s->nrows; i++)
        free(labels[i]);
    free(labels);
}

int moth_pstats_sorted(const moth_pstats *s, const moth_sort_spec *spec, uint32_t **order,
                       size_t *n, moth_error *err)
{
    uint32_t *a = moth_malloc((s->nrows ? s->nrows : 1) * sizeof *a, err);
    uint32_t *tmp = moth_malloc((s->nrows ? s->nrows : 1) * sizeof *tmp, err);
    char **labels = NULL;
    int needs_labels = 0;
    for (int i = 0; i < spec->nfields; i++)
        needs_labels |= spec->fields[i] == F_STD;
    if (!a || !tmp || (needs_labels && !(labels = make_labels(s, err)))) {
        free(a);
        free(tmp);
        return -1;
    }
    for (size_t i = 0; i < s->nrows; i++)
        a[i] = (uint32_t)i;
    sort_ctx c = {s, spec, labels};
    merge_sort(&c, a, tmp, s->nrows);
    free(tmp);
    free_labels(s, labels);
    *order = a;
    *n = s->nrows;
    return 0;
}

/* Width in characters of UTF-8 text (pstats pads by len() of str). */
static size_t text_width(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void pad_right(moth_sb *out, const char *s, size_t width)
{
    moth_sb_puts(out, s);
    size_t w = text_width(s);
    if (w < width)
        moth_sb_pad(out, ' ', width - w);
}

static void pad_left(moth_sb *out, const char *s, size_t width)
{
    size_t w = text_width(s);
    if (w < width)
        moth_sb_pad(out, ' ', width - w);
    moth_sb_puts(out, s);
}

/* Python's repr() of a str, for "<restriction 'regex'>" messages. */
static void py_repr(moth_sb *out, const char *s)
{
    char quote = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    moth_sb_putc(out, quote);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '\\' || *p == (unsigned char)quote)
            moth_sb_printf(out, "\\%c", *p);
        else if (*p == '\n')
            moth_sb_puts(out, "\\n");
        else if (*p == '\t')
            moth_sb_puts(out, "\\t");
        else if (*p == '\r')
            moth_sb_puts(out, "\\r");
        else if (*p < 0x20 || *p == 0x7F)
            moth_sb_printf(out, "\\x%02x", *p);
        else
            moth_sb_putc(out, (char)*p);
    }
    moth_sb_putc(out, quote);
}

/* Python's repr() of a float as pstats prints restrictions (shortest round trip). */
static void float_repr(moth_sb *out, double v)
{
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".eninf"))
        strcat(buf, ".0");
    moth_sb_puts(out, buf);
}

/* The rows to print and the "Ordered by" message, as get_print_list builds them. */
typedef struct print_list {
    uint32_t *rows;
    size_t n;
    moth_sb msg;
    char **labels; /* per row, made when first needed (most reports print few rows) */
    size_t width;  /* name column for callers/callees */
} print_list;

static void free_print_list(const moth_pstats *s, print_list *pl)
{
    free(pl->rows);
    moth_sb_free(&pl->msg);
    free_labels(s, pl->labels);
}

/* Row r's label, or NULL when out of memory. */
static const char *label_of(const moth_pstats *s, print_list *pl, uint32_t r)
{
    if (!pl->labels[r]) {
        moth_sb sb = MOTH_SB_INIT;
        moth_func_label(&s->funcs.items[s->rows[r].func], &sb);
        if (sb.failed) {
            moth_sb_free(&sb);
            return NULL;
        }
        pl->labels[r] = moth_sb_take(&sb);
    }
    return pl->labels[r];
}

static int build_print_list(const moth_pstats *s, const moth_report_opts *o, int need_width,
                            print_list *pl, moth_error *err)
{
    memset(pl, 0, sizeof *pl);
    if (!(pl->labels = moth_calloc(s->nrows ? s->nrows : 1, sizeof *pl->labels, err)))
        return -1;
    if (o->sorted) {
        if (moth_pstats_sorted(s, &o->sort, &pl->rows, &pl->n, err) < 0)
            return -1;
        moth_sb_printf(&pl->msg, "   Ordered by: %s\n", o->sort.description);
        for (size_t i = 0, j = pl->n; o->reversed && i + 1 < j; i++, j--) {
            uint32_t t = pl->rows[i];
            pl->rows[i] = pl->rows[j - 1];
            pl->rows[j - 1] = t;
        }
    } else {
        pl->rows = moth_malloc((s->nrows ? s->nrows : 1) * sizeof *pl->rows, err);
        if (!pl->rows)
            return -1;
        for (size_t i = 0; i < s->nrows; i++)
            pl->rows[i] = (uint32_t)i;
        pl->n = s->nrows;
        moth_sb_puts(&pl->msg, "   Random listing order was used\n");
    }
    for (size_t r = 0; r < o->nrestrictions; r++) {
        const moth_restriction *x = &o->restrictions[r];
        size_t before = pl->n;
        if (x->kind == MOTH_RESTRICT_REGEX) {
            regex_t re;
            if (regcomp(&re, x->regex, REG_EXTENDED | REG_NOSUB) != 0) {
                moth_sb_puts(&pl->msg, "   <Invalid regular expression ");
                py_repr(&pl->msg, x->regex);
                moth_sb_puts(&pl->msg, ">\n");
                continue;
            }
            size_t k = 0;
            for (size_t i = 0; i < pl->n; i++) {
                const char *label = label_of(s, pl, pl->rows[i]);
                if (!label) {
                    regfree(&re);
                    return moth_fail(err, "out of memory");
                }
                if (regexec(&re, label, 0, NULL, 0) == 0)
                    pl->rows[k++] = pl->rows[i];
            }
            regfree(&re);
            pl->n = k;
        } else if (x->kind == MOTH_RESTRICT_FRACTION) {
            if (x->fraction >= 0.0 && x->fraction < 1.0)
                pl->n = (size_t)((double)pl->n * x->fraction + .5);
        } else if (x->count < pl->n) {
            pl->n = x->count;
        }
        if (pl->n != before) {
            moth_sb_printf(&pl->msg, "   List reduced from %zu to %zu due to restriction <",
                           before, pl->n);
            if (x->kind == MOTH_RESTRICT_REGEX)
                py_repr(&pl->msg, x->regex);
            else if (x->kind == MOTH_RESTRICT_FRACTION)
                float_repr(&pl->msg, x->fraction);
            else
                moth_sb_printf(&pl->msg, "%zu", x->count);
            moth_sb_puts(&pl->msg, ">\n");
        }
    }
    /* The name column (callers, callees): the widest label of the whole view, or of the list
     * when reduced. */
    size_t width = 0;
    size_t count = need_width ? (pl->n < s->nrows ? pl->n : s->nrows) : 0;
    for (size_t i = 0; i < count; i++) {
        const char *label = label_of(s, pl, pl->n < s->nrows ? pl->rows[i] : (uint32_t)i);
        if (!label)
            return moth_fail(err, "out of memory");
        size_t w = text_width(label);
        width = w > width ? w : width;
    }
    pl->width = width + 2;
    for (size_t i = 0; i < pl->n; i++) /* every printed row needs its label */
        if (!label_of(s, pl, pl->rows[i]))
            return moth_fail(err, "out of memory");
    return moth_sb_check(&pl->msg, err);
}

static void f8(moth_sb *out, double v)
{
    moth_sb_printf(out, "%8.3f", v);
}

int moth_report_stats(const moth_pstats *s, const moth_report_opts *o, moth_sb *out,
                      moth_error *err)
{
    for (size_t i = 0; i < s->nfiles; i++)
        moth_sb_printf(out, "%s\n", s->files[i]);
    if (s->nfiles)
        moth_sb_putc(out, '\n');
    uint64_t total_calls, prim_calls;
    double total_tt;
    moth_pstats_totals(s, &total_calls, &prim_calls, &total_tt);
    moth_sb_printf(out, "         %llu function calls ", (unsigned long long)total_calls);
    if (total_calls != prim_calls)
        moth_sb_printf(out, "(%llu primitive calls) ", (unsigned long long)prim_calls);
    moth_sb_printf(out, "in %.3f seconds\n\n", total_tt);
    print_list pl;
    if (build_print_list(s, o, 0, &pl, err) < 0) {
        free_print_list(s, &pl);
        return -1;
    }
    if (pl.n) {
        moth_sb_append(out, pl.msg.data, pl.msg.len);
        moth_sb_puts(out, "\n   ncalls  tottime  percall  cumtime  percall filename:lineno(function)\n");
        for (size_t i = 0; i < pl.n; i++) {
            const moth_pstats_row *row = &s->rows[pl.rows[i]];
            char calls[48];
            if (row->nc != row->cc)
                snprintf(calls, sizeof calls, "%llu/%llu", (unsigned long long)row->nc,
                         (unsigned long long)row->cc);
            else
                snprintf(calls, sizeof calls, "%llu", (unsigned long long)row->nc);
            pad_left(out, calls, 9);
            moth_sb_putc(out, ' ');
            f8(out, row->tt);
            moth_sb_putc(out, ' ');
            if (row->nc == 0)
                moth_sb_pad(out, ' ', 8);
            else
                f8(out, row->tt / (double)row->nc);
            moth_sb_putc(out, ' ');
            f8(out, row->ct);
            moth_sb_putc(out, ' ');
            if (row->cc == 0)
                moth_sb_pad(out, ' ', 8);
            else
                f8(out, row->ct / (double)row->cc);
            moth_sb_putc(out, ' ');
            moth_sb_puts(out, pl.labels[pl.rows[i]]);
            moth_sb_putc(out, '\n');
        }
        moth_sb_puts(out, "\n\n");
    }
    free_print_list(s, &pl);
    return moth_sb_check(out, err);
}

int moth_report_samples(const moth_pstats *s, const moth_report_opts *o, const char *summary,
                        moth_sb *out, moth_error *err)
{
    moth_sb_printf(out, "         %s\n\n", summary);
    print_list pl;
    if (build_print_list(s, o, 0, &pl, err) < 0) {
        free_print_list(s, &pl);
        return -1;
    }
    if (pl.n) {
        moth_sb_append(out, pl.msg.data, pl.msg.len);
        moth_sb_puts(out, "\n      own    total  tottime  cumtime filename:lineno(function)\n");
        for (size_t i = 0; i < pl.n; i++) {
            const moth_pstats_row *row = &s->rows[pl.rows[i]];
            moth_sb_printf(out, "%9llu %8llu ", (unsigned long long)row->own_samples,
                           (unsigned long long)row->cc);
            f8(out, row->tt);
            moth_sb_putc(out, ' ');
            f8(out, row->ct);
            moth_sb_putc(out, ' ');
            moth_sb_puts(out, pl.labels[pl.rows[i]]);
            moth_sb_putc(out, '\n');
        }
        moth_sb_puts(out, "\n\n");
    }
    free_print_list(s, &pl);
    return moth_sb_check(out, err);
}

/* pstats' print_call_heading: the sub-header appears when the first row (in view order) that
 * has callers stores them as tuples (cProfile) rather than counts (profile). */
static void call_heading(const moth_pstats *s, size_t width, const char *title, moth_sb *out)
{
    pad_right(out, "Function ", width);
    moth_sb_printf(out, "%s\n", title);
    for (size_t i = 0; i < s->nrows; i++) {
        if (s->rows[i].ncallers) {
            if (!s->callers_are_counts) {
                moth_sb_pad(out, ' ', width);
                moth_sb_puts(out, "    ncalls  tottime  cumtime\n");
            }
            break;
        }
    }
}

/* One call edge as listed under a function (pstats' print_call_line body). */
typedef struct call_item {
    uint32_t func;                 /* the other function */
    const moth_pstats_edge *edge;  /* numbers of the edge */
} call_item;

static int compare_funcs(const moth_pstats *s, uint32_t a, uint32_t b)
{
    /* Python compares label tuples: file, then line, then name. */
    const moth_func *fa = &s->funcs.items[a], *fb = &s->funcs.items[b];
    int c = strcmp(fa->file, fb->file);
    if (c)
        return c;
    if (fa->line != fb->line)
        return fa->line < fb->line ? -1 : 1;
    return strcmp(fa->name, fb->name);
}

static const moth_pstats *sort_items_view;
static int compare_items(const void *a, const void *b)
{
    return compare_funcs(sort_items_view, ((const call_item *)a)->func,
                         ((const call_item *)b)->func);
}

static void call_line(const moth_pstats *s, size_t width, const char *label, call_item *items,
                      size_t n, const char *arrow, moth_sb *out)
{
    pad_right(out, label, width);
    moth_sb_printf(out, "%s ", arrow);
    if (n == 0) {
        moth_sb_putc(out, '\n');
        return;
    }
    sort_items_view = s;
    moth_qsort(items, n, sizeof *items, compare_items);
    sort_items_view = NULL;
    for (size_t i = 0; i < n; i++) {
        moth_sb name = MOTH_SB_INIT;
        moth_func_label(&s->funcs.items[items[i].func], &name);
        const moth_pstats_edge *e = items[i].edge;
        if (!s->callers_are_counts) {
            char calls[48];
            if (e->nc != e->cc)
                snprintf(calls, sizeof calls, "%llu/%llu", (unsigned long long)e->nc,
                         (unsigned long long)e->cc);
            else
                snprintf(calls, sizeof calls, "%llu", (unsigned long long)e->nc);
            if (i)
                moth_sb_pad(out, ' ', width + 1);
            pad_left(out, calls, i ? 9 : 7);
            moth_sb_putc(out, ' ');
            f8(out, e->tt);
            moth_sb_putc(out, ' ');
            f8(out, e->ct);
            moth_sb_printf(out, "  %s\n", name.data ? name.data : "");
        } else {
            if (i)
                moth_sb_pad(out, ' ', width + 3);
            const moth_pstats_row *other = moth_pstats_row_for(s, items[i].func);
            moth_sb_printf(out, "%s(%llu) ", name.data ? name.data : "",
                           (unsigned long long)e->nc);
            f8(out, other ? other->ct : 0.0);
            moth_sb_putc(out, '\n');
        }
        moth_sb_drop(&name, out);
    }
}

/* The edges to list under each row: a row's callers, or (callees) every edge naming the row's
 * function as caller, grouped once by caller so that listing stays linear. */
typedef struct edge_index {
    size_t *start;        /* per function: first slot in `items` */
    size_t *count;        /* per function: how many */
    call_item *items;
} edge_index;

static void free_edge_index(edge_index *x)
{
    free(x->start);
    free(x->count);
    free(x->items);
}

static int index_callees(const moth_pstats *s, edge_index *x, moth_error *err)
{
    size_t nf = s->funcs.count ? s->funcs.count : 1, nedges = 0;
    for (size_t r = 0; r < s->nrows; r++)
        nedges += s->rows[r].ncallers;
    x->start = moth_calloc(nf, sizeof *x->start, err);
    x->count = moth_calloc(nf, sizeof *x->count, err);
    x->items = moth_malloc((nedges ? nedges : 1) * sizeof *x->items, err);
    if (!x->start || !x->count || !x->items)
        return -1;
    for (size_t r = 0; r < s->nrows; r++)
        for (size_t e = 0; e < s->rows[r].ncallers; e++)
            x->count[s->rows[r].callers[e].caller]++;
    for (size_t f = 0, at = 0; f < s->funcs.count; f++) {
        x->start[f] = at;
        at += x->count[f];
        x->count[f] = 0;
    }
    for (size_t r = 0; r < s->nrows; r++)
        for (size_t e = 0; e < s->rows[r].ncallers; e++) {
            uint32_t caller = s->rows[r].callers[e].caller;
            call_item *it = &x->items[x->start[caller] + x->count[caller]++];
            it->func = s->rows[r].func;
            it->edge = &s->rows[r].callers[e];
        }
    return 0;
}

/* print_callers / print_callees: `callees` picks which edges go under each function. */
static int call_report(const moth_pstats *s, const moth_report_opts *o, int callees,
                       moth_sb *out, moth_error *err)
{
    print_list pl;
    edge_index x = {0};
    call_item *items = NULL;
    int rc = build_print_list(s, o, 1, &pl, err);
    if (rc == 0 && pl.n) {
        moth_sb_append(out, pl.msg.data, pl.msg.len);
        moth_sb_putc(out, '\n');
        call_heading(s, pl.width, callees ? "called..." : "was called by...", out);
        if (callees) {
            rc = index_callees(s, &x, err);
        } else { /* one buffer, as large as the longest list of callers */
            size_t most = 1;
            for (size_t r = 0; r < s->nrows; r++)
                most = s->rows[r].ncallers > most ? s->rows[r].ncallers : most;
            if (!(items = moth_malloc(most * sizeof *items, err)))
                rc = -1;
        }
        for (size_t i = 0; rc == 0 && i < pl.n; i++) {
            const moth_pstats_row *row = &s->rows[pl.rows[i]];
            const char *label = pl.labels[pl.rows[i]];
            if (callees) {
                /* call_line sorts them: each function's group, sorted in place */
                call_line(s, pl.width, label, x.items + x.start[row->func], x.count[row->func],
                          "->", out);
                continue;
            }
            for (size_t e = 0; e < row->ncallers; e++) {
                items[e].func = row->callers[e].caller;
                items[e].edge = &row->callers[e];
            }
            call_line(s, pl.width, label, items, row->ncallers, "<-", out);
        }
        moth_sb_puts(out, "\n\n");
    }
    free(items);
    free_edge_index(&x);
    free_print_list(s, &pl);
    return rc < 0 ? -1 : moth_sb_check(out, err);
}

int moth_report_callers(const moth_pstats *s, const moth_report_opts *o, moth_sb *out,
                        moth_error *err)
{
    return call_report(s, o, 0, out, err);
}

int moth_report_callees(const moth_pstats *s, const moth_report_opts *o, moth_sb *out,
                        moth_error *err)
{
    return call_report(s, o, 1, out, err);
}
