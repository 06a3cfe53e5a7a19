/* diff.c: profile comparison; see diff.h. */
#include "diff.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void moth_diff_free(moth_diff *d)
{
    free(d->rows);
    memset(d, 0, sizeof *d);
}

static int by_label(const moth_diff_row *x, const moth_diff_row *y)
{
    int c = strcmp(x->func->file, y->func->file);
    if (c)
        return c;
    if (x->func->line != y->func->line)
        return x->func->line < y->func->line ? -1 : 1;
    return strcmp(x->func->name, y->func->name);
}

/* Regressions by growth of own time (then of total time), largest first; improvements by
 * their drop, largest first; unchanged rows by label. */
static int in_report_order(const void *a, const void *b)
{
    const moth_diff_row *x = a, *y = b;
    if (x->change != y->change)
        return x->change < y->change ? -1 : 1;
    if (x->change != MOTH_DIFF_SAME) {
        double sign = x->change == MOTH_DIFF_SLOWER ? 1.0 : -1.0;
        double dx = sign * (x->own_after - x->own_before);
        double dy = sign * (y->own_after - y->own_before);
        if (dx != dy)
            return dx > dy ? -1 : 1;
        double tx = sign * (x->total_after - x->total_before);
        double ty = sign * (y->total_after - y->total_before);
        if (tx != ty)
            return tx > ty ? -1 : 1;
    }
    return by_label(x, y);
}

static moth_diff_change change_of(const moth_diff_row *r, double noise)
{
    double own = r->own_after - r->own_before, total = r->total_after - r->total_before;
    if (fabs(own) > noise)
        return own > 0 ? MOTH_DIFF_SLOWER : MOTH_DIFF_FASTER;
    if (fabs(total) > noise)
        return total > 0 ? MOTH_DIFF_SLOWER : MOTH_DIFF_FASTER;
    return MOTH_DIFF_SAME;
}

int moth_diff_build(moth_diff *d, const moth_pstats *before, const moth_pstats *after,
                    double noise, moth_error *err)
{
    memset(d, 0, sizeof *d);
    d->rows = moth_calloc(before->nrows + after->nrows + 1, sizeof *d->rows, err);
    if (!d->rows)
        return -1;
    uint64_t cc;
    moth_pstats_totals(before, &d->calls_before, &cc, &d->total_before);
    moth_pstats_totals(after, &d->calls_after, &cc, &d->total_after);
    for (size_t i = 0; i < before->nrows; i++) {
        const moth_pstats_row *r = &before->rows[i];
        moth_diff_row *o = &d->rows[d->nrows++];
        o->func = &before->funcs.items[r->func];
        o->in_before = 1;
        o->calls_before = r->nc;
        o->own_before = r->tt;
        o->total_before = r->ct;
        uint32_t f = moth_funcs_find(&after->funcs, o->func->file, o->func->line, o->func->name);
        const moth_pstats_row *a = f == MOTH_MAP_ABSENT ? NULL : moth_pstats_row_for(after, f);
        if (a) {
            o->in_after = 1;
            o->calls_after = a->nc;
            o->own_after = a->tt;
            o->total_after = a->ct;
        }
    }
    for (size_t i = 0; i < after->nrows; i++) {
        const moth_pstats_row *a = &after->rows[i];
        const moth_func *f = &after->funcs.items[a->func];
        uint32_t g = moth_funcs_find(&before->funcs, f->file, f->line, f->name);
        if (g != MOTH_MAP_ABSENT && moth_pstats_row_for(before, g))
            continue;
        moth_diff_row *o = &d->rows[d->nrows++];
        o->func = f;
        o->in_after = 1;
        o->calls_after = a->nc;
        o->own_after = a->tt;
        o->total_after = a->ct;
    }
    for (size_t i = 0; i < d->nrows; i++) {
        moth_diff_row *r = &d->rows[i];
        double delta = r->own_after - r->own_before;
        r->change = change_of(r, noise);
        d->nchange[r->change]++;
        if (!r->in_before)
            d->added++;
        else if (!r->in_after)
            d->removed++;
        else if (delta > noise)
            d->slower++;
        else if (delta < -noise)
            d->faster++;
    }
    moth_qsort(d->rows, d->nrows, sizeof *d->rows, in_report_order);
    return 0;
}

double moth_diff_growth(const moth_diff *d)
{
    if (d->total_before <= 0)
        return d->total_after > 0 ? INFINITY : 0;
    return (d->total_after - d->total_before) / d->total_before * 100.0;
}

static void percent(moth_sb *out, double before, double after)
{
    if (before > 0)
        moth_sb_printf(out, "%+.1f%%", (after - before) / before * 100.0);
    else
        moth_sb_puts(out, after > 0 ? "new" : "0%");
}

static void report_rows(const moth_diff_row *rows, size_t n, moth_sb *out)
{
    moth_sb_puts(out, "        ncalls             tottime                    cumtime\n"
                      "   before    after   before    after   change   before    after   change"
                      "  filename:lineno(function)\n");
    for (size_t i = 0; i < n; i++) {
        const moth_diff_row *r = &rows[i];
        char cb[32] = "-", ca[32] = "-";
        if (r->in_before)
            snprintf(cb, sizeof cb, "%llu", (unsigned long long)r->calls_before);
        if (r->in_after)
            snprintf(ca, sizeof ca, "%llu", (unsigned long long)r->calls_after);
        moth_sb_printf(out, "%9s%9s %8.3f %8.3f %+8.3f %8.3f %8.3f %+8.3f  ", cb, ca,
                       r->own_before, r->own_after, r->own_after - r->own_before,
                       r->total_before, r->total_after, r->total_after - r->total_before);
        moth_func_label(r->func, out);
        moth_sb_putc(out, '\n');
    }
    moth_sb_putc(out, '\n');
}

int moth_diff_report(const moth_diff *d, const char *before_name, const char *after_name,
                     size_t limit, int unchanged, moth_sb *out, moth_error *err)
{
    moth_sb_printf(out, "   before: %s\n   after:  %s\n\n", before_name, after_name);
    moth_sb_printf(out, "   total time %.3f -> %.3f seconds (", d->total_before, d->total_after);
    percent(out, d->total_before, d->total_after);
    moth_sb_printf(out, "), function calls %llu -> %llu (",
                   (unsigned long long)d->calls_before, (unsigned long long)d->calls_after);
    percent(out, (double)d->calls_before, (double)d->calls_after);
    moth_sb_printf(out, ")\n   %zu function%s slower, %zu faster, %zu new, %zu gone\n",
                   d->slower, d->slower == 1 ? "" : "s", d->faster, d->added, d->removed);
    size_t same = d->nchange[MOTH_DIFF_SAME];
    if (same && !unchanged)
        moth_sb_printf(out, "   %zu function%s unchanged, not shown (--all shows them)\n", same,
                       same == 1 ? "" : "s");
    moth_sb_putc(out, '\n');
    static const char *const title[] = {"Regressions", "Improvements", "Unchanged"};
    const moth_diff_row *rows = d->rows;
    for (int c = MOTH_DIFF_SLOWER; c <= MOTH_DIFF_SAME; c++) {
        size_t count = d->nchange[c];
        const moth_diff_row *group = rows;
        rows += count;
        if (c == MOTH_DIFF_SAME && (!unchanged || !count))
            break;
        if (!count) {
            moth_sb_printf(out, "   %s: none\n\n", title[c]);
            continue;
        }
        size_t n = c != MOTH_DIFF_SAME && limit && limit < count ? limit : count;
        if (c == MOTH_DIFF_SAME)
            moth_sb_printf(out, "   %s (%zu)\n\n", title[c], count);
        else if (n < count)
            moth_sb_printf(out, "   %s, largest first: %zu of %zu shown\n\n", title[c], n, count);
        else
            moth_sb_printf(out, "   %s, largest first (%zu)\n\n", title[c], count);
        report_rows(group, n, out);
    }
    return moth_sb_check(out, err);
}
