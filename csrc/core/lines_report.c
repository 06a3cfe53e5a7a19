/*
 * lines_report.c: line data shown as line_profiler shows it: per function, its source with
 * hits, time, time per hit and share of the function's time beside each line; the functions
 * that took the most time first.
 */
#include "lines_report.h"

#include "highlight.h"
#include "readfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *read_file_text(const char *path, void *ctx)
{
    (void)ctx;
    return moth_read_file(path, NULL);
}

/* The text of lines first..last of a file (NULL entries where the file has none); the caller
 * frees the array and the buffer. */
static char **source_lines(const char *path, uint32_t first, uint32_t last, char **buffer,
                           moth_source_fn source, void *ctx)
{
    size_t n = last >= first ? last - first + 1 : 0;
    char **out = moth_calloc(n, sizeof *out, NULL);
    *buffer = NULL;
    if (!out || !(*buffer = source(path, ctx)))
        return out;
    uint32_t lineno = 1;
    for (char *p = *buffer; *p && lineno <= last;) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r')
            p[len - 1] = '\0';
        if (lineno >= first)
            out[lineno - first] = p;
        lineno++;
        if (!eol)
            break;
        p = eol + 1;
    }
    return out;
}

/* text[0..n) coloured as one piece of source, so that a string over several lines is known
 * as one; the same shape as text (NULL where text has NULL). The caller frees the array and
 * the buffer. NULL (and the caller shows text as it is) when out of memory. */
static char **coloured_lines(char **text, size_t n, char **buffer)
{
    moth_sb src = MOTH_SB_INIT, out = MOTH_SB_INIT;
    for (size_t i = 0; i < n; i++) {
        moth_sb_puts(&src, text[i] ? text[i] : "");
        moth_sb_putc(&src, '\n');
    }
    moth_highlight_python(&out, src.data ? src.data : "", src.len);
    moth_sb_free(&src);
    char **lines = moth_calloc(n, sizeof *lines, NULL);
    if (!lines || out.failed || !out.data) {
        free(lines);
        moth_sb_free(&out);
        return NULL;
    }
    char *p = out.data;
    for (size_t i = 0; i < n && p; i++) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        lines[i] = text[i] ? p : NULL;
        p = eol ? eol + 1 : NULL;
    }
    *buffer = moth_sb_take(&out);
    return lines;
}

/* A line's share of its function's time, padded to the column, coloured by size. */
static void put_share(moth_sb *out, const char *pct, double share, int colour)
{
    const char *on = !colour ? NULL : share >= 10.0 ? "\x1b[1;31m" : share >= 1.0 ? "\x1b[33m"
                                                                                : NULL;
    moth_sb_puts(out, on ? on : "");
    moth_sb_printf(out, "%8s", pct);
    moth_sb_puts(out, on ? "\x1b[0m" : "");
}

typedef struct ranked {
    const moth_func_lines *lines;
    uint64_t total;
} ranked;

static int by_total(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->total != y->total)
        return x->total > y->total ? -1 : 1;
    return x->lines->func < y->lines->func ? -1 : x->lines->func > y->lines->func;
}

int moth_lines_report(const moth_profile *p, size_t limit, int colour, moth_sb *out,
                      moth_error *err)
{
    return moth_lines_report_with(p, limit, read_file_text, NULL, colour, out, err);
}

int moth_lines_report_with(const moth_profile *p, size_t limit, moth_source_fn source, void *ctx,
                           int colour, moth_sb *out, moth_error *err)
{
    const moth_lines *l = &p->lines;
    if (l->count == 0)
        return 0;
    ranked *order = moth_malloc(l->count * sizeof *order, err);
    if (!order)
        return -1;
    for (size_t i = 0; i < l->count; i++) {
        order[i].lines = &l->funcs[i];
        order[i].total = moth_func_lines_total(&l->funcs[i]);
    }
    moth_qsort(order, l->count, sizeof *order, by_total);
    size_t n = limit && limit < l->count ? limit : l->count;
    const double unit = 1e-6; /* the times in the table: microseconds, as line_profiler */
    moth_sb_printf(out, "Timer unit: %g s\n\n", unit);
    for (size_t k = 0; k < n; k++) {
        const moth_func_lines *fl = order[k].lines;
        const moth_func *f = &p->funcs.items[fl->func];
        double total = (double)order[k].total * p->tick_seconds;
        moth_sb_printf(out, "Total time: %g s\nFile: %s\nFunction: %s at line %u\n\n", total,
                       f->file, f->qualname ? f->qualname : f->name, f->line);
        moth_sb_printf(out, "%6s %9s %12s %8s %8s  %s\n", "Line #", "Hits", "Time", "Per Hit",
                       "% Time", "Line Contents");
        moth_sb_pad(out, '=', 62);
        moth_sb_putc(out, '\n');
        uint32_t first = f->line ? f->line : (fl->nlines ? fl->lines[0].line : 0);
        uint32_t last = fl->last_line > first ? fl->last_line : first;
        if (last - first > 100000) /* a corrupt file's line numbers: show the lines alone */
            last = first;
        char *buffer;
        char **text = source_lines(f->file, first, last, &buffer, source, ctx);
        char *coloured_buffer = NULL;
        char **shown = colour && text && buffer
                           ? coloured_lines(text, last - first + 1, &coloured_buffer) : NULL;
        if (!shown)
            shown = text;
        size_t at = 0;
        for (uint32_t line = first; line <= last; line++) {
            while (at < fl->nlines && fl->lines[at].line < line)
                at++;
            const char *src = shown ? shown[line - first] : NULL;
            const moth_line *d = at < fl->nlines && fl->lines[at].line == line ? &fl->lines[at] : NULL;
            if (d) {
                double t = (double)d->time * p->tick_seconds;
                char hits[32], tm[32], per[32], pct[32];
                snprintf(hits, sizeof hits, "%llu", (unsigned long long)d->hits);
                snprintf(tm, sizeof tm, "%.1f", t / unit);
                snprintf(per, sizeof per, "%.1f", d->hits ? t / unit / (double)d->hits : 0.0);
                double share = total > 0 ? 100.0 * t / total : 0.0;
                snprintf(pct, sizeof pct, "%.1f", share);
                moth_sb_printf(out, "%6u %9s %12s %8s ", line, hits, tm, per);
                put_share(out, pct, share, colour);
                moth_sb_printf(out, "  %s\n", src ? src : "");
            } else {
                moth_sb_printf(out, "%6u %9s %12s %8s %8s  %s\n", line, "", "", "", "",
                               src ? src : "");
            }
        }
        /* lines outside the shown range (a decorator above, say) still appear */
        for (size_t i = 0; i < fl->nlines; i++) {
            const moth_line *d = &fl->lines[i];
            if (d->line >= first && d->line <= last)
                continue;
            double t = (double)d->time * p->tick_seconds;
            moth_sb_printf(out, "%6u %9llu %12.1f %8.1f %8.1f\n", d->line,
                           (unsigned long long)d->hits, t / unit,
                           d->hits ? t / unit / (double)d->hits : 0.0,
                           total > 0 ? 100.0 * t / total : 0.0);
        }
        moth_sb_puts(out, "\n\n");
        if (shown != text)
            free(shown);
        free(coloured_buffer);
        free(text);
        free(buffer);
    }
    free(order);
    return moth_sb_check(out, err);
}
