/* top.c: tallies for moth top's live view, and its rendering; see top.h. */
#include "top.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "remote.h"

void moth_top_init(moth_top *t)
{
    memset(t, 0, sizeof *t);
}

void moth_top_free(moth_top *t)
{
    moth_funcs_free(&t->funcs);
    free(t->rows);
    moth_map_free(&t->row_of);
    free(t->seen);
    memset(t, 0, sizeof *t);
}

static uint32_t row_for(moth_top *t, uint32_t func, uint32_t line)
{
    uint32_t r = moth_map_get(&t->row_of, func, line);
    if (r != MOTH_MAP_ABSENT)
        return r;
    if (moth_grow((void **)&t->rows, sizeof *t->rows, &t->rows_cap, t->nrows + 1, &t->err) < 0 ||
        moth_map_put(&t->row_of, func, line, (uint32_t)t->nrows, &t->err) < 0)
        return MOTH_MAP_ABSENT;
    t->rows[t->nrows] = (moth_top_row){.func = func, .line = line};
    return (uint32_t)t->nrows++;
}

/* Counts row r as on the stack, once per stack; 1 when it was new to this stack. */
static int count_total(moth_top *t, size_t *nseen, uint32_t r)
{
    for (size_t i = 0; i < *nseen; i++)
        if (t->seen[i] == r)
            return 0;
    if (moth_grow((void **)&t->seen, sizeof *t->seen, &t->seen_cap, *nseen + 1, &t->err) < 0)
        return -1;
    t->seen[(*nseen)++] = r;
    t->rows[r].total_now++;
    t->rows[r].total_all++;
    return 1;
}

static int add_stack(void *ctx, moth_remote *remote, const moth_rthread *th,
                     const moth_rstack *stack)
{
    moth_top *t = ctx;
    if (th->holds_gil)
        t->gil_seen = 1;
    if (!stack->count)
        return 0;
    t->threads_now++;
    size_t nseen = 0;
    uint32_t leaf_rows[2] = {MOTH_MAP_ABSENT, MOTH_MAP_ABSENT};
    for (size_t k = 0; k < stack->count; k++) {
        moth_rcode *c = &remote->codes.items[stack->frames[k].code];
        if (c->func == MOTH_NO_FUNC &&
            moth_funcs_intern(&t->funcs, c->filename, (uint32_t)c->firstlineno, c->name,
                              c->qualname, &c->func, &t->err) < 0)
            return -1;
        int line = stack->frames[k].line > 0 ? stack->frames[k].line : 0;
        uint32_t rf = row_for(t, c->func, 0), rl = row_for(t, c->func, (uint32_t)line);
        if (rf == MOTH_MAP_ABSENT || rl == MOTH_MAP_ABSENT)
            return -1;
        if (k == 0) {
            leaf_rows[0] = rf;
            leaf_rows[1] = rl;
        }
        if (count_total(t, &nseen, rf) < 0 || (rl != rf && count_total(t, &nseen, rl) < 0))
            return -1;
    }
    for (int i = 0; i < 2; i++) {
        if (i && leaf_rows[1] == leaf_rows[0])
            break;
        t->rows[leaf_rows[i]].own_now++;
        t->rows[leaf_rows[i]].own_all++;
    }
    t->samples_now++;
    t->samples_all++;
    return 0;
}

static void round_done(void *ctx, moth_remote *remote)
{
    (void)remote;
    moth_top *t = ctx;
    t->rounds_now++;
    t->gil_rounds_now += t->gil_seen;
    t->gil_seen = 0;
}

moth_sample_sink moth_top_sink(moth_top *t)
{
    return (moth_sample_sink){add_stack, NULL, round_done, t};
}

void moth_top_next_interval(moth_top *t)
{
    for (size_t i = 0; i < t->nrows; i++)
        t->rows[i].own_now = t->rows[i].total_now = 0;
    t->samples_now = t->rounds_now = t->gil_rounds_now = t->threads_now = 0;
}

void moth_top_reset(moth_top *t)
{
    moth_top_next_interval(t);
    for (size_t i = 0; i < t->nrows; i++)
        t->rows[i].own_all = t->rows[i].total_all = 0;
    t->samples_all = 0;
}

typedef struct sort_ctx {
    const moth_top *t;
    moth_top_sort by;
} sort_ctx;

static uint64_t key_of(const moth_top_row *r, moth_top_sort by)
{
    switch (by) {
    case MOTH_TOP_TOTAL_NOW: return r->total_now;
    case MOTH_TOP_OWN_ALL: return r->own_all;
    case MOTH_TOP_TOTAL_ALL: return r->total_all;
    default: return r->own_now;
    }
}

/* Rows to show, best first: larger key, then larger whole-run own count, then name. */
static int compare_rows(const moth_top *t, moth_top_sort by, uint32_t a, uint32_t b)
{
    const moth_top_row *x = &t->rows[a], *y = &t->rows[b];
    uint64_t kx = key_of(x, by), ky = key_of(y, by);
    if (kx != ky)
        return kx > ky ? -1 : 1;
    if (x->own_all != y->own_all)
        return x->own_all > y->own_all ? -1 : 1;
    int c = strcmp(t->funcs.items[x->func].name, t->funcs.items[y->func].name);
    if (c)
        return c;
    return x->line < y->line ? -1 : x->line > y->line;
}

/* An insertion sort of the few rows that fit on a screen would do; the tally has hundreds of
 * rows at most, so a plain sort of all of them each second is cheap. */
static void sort_rows(const moth_top *t, moth_top_sort by, uint32_t *order, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        uint32_t x = order[i];
        size_t j = i;
        while (j > 0 && compare_rows(t, by, order[j - 1], x) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = x;
    }
}

static const char *const HEADINGS[] = {"%Own", "%Total", "OwnTime", "TotalTime"};

static void heading(moth_sb *out, const moth_top_view *v, int column, const char *fmt)
{
    const char *h = HEADINGS[column];
    int on = (int)v->sort == column;
    if (on && v->colour)
        moth_sb_puts(out, "\033[7m");
    char text[32];
    snprintf(text, sizeof text, fmt, h);
    moth_sb_puts(out, text);
    if (on && v->colour)
        moth_sb_puts(out, "\033[0m");
}

void moth_top_render(const moth_top *t, const moth_top_view *v, moth_sb *out)
{
    moth_sb_printf(out, "%s\n", v->title);
    double gil = t->rounds_now ? 100.0 * (double)t->gil_rounds_now / (double)t->rounds_now : 0;
    double threads = t->rounds_now ? (double)t->threads_now / (double)t->rounds_now : 0;
    moth_sb_printf(out, "Samples: %llu (%llu in the last interval), active threads: %.1f, "
                   "GIL held: %.0f%%", (unsigned long long)t->samples_all,
                   (unsigned long long)t->samples_now, threads, gil);
    if (v->late || v->dropped)
        moth_sb_printf(out, ", late rounds: %llu, dropped stacks: %llu",
                       (unsigned long long)v->late, (unsigned long long)v->dropped);
    moth_sb_printf(out, "\nSorted by %s (keys 1-4), %s (l), reset (r), quit (q)\n\n",
                   HEADINGS[v->sort], v->lines ? "by line" : "by function");
    heading(out, v, 0, "%7s");
    moth_sb_putc(out, ' ');
    heading(out, v, 1, "%7s");
    moth_sb_putc(out, ' ');
    heading(out, v, 2, "%9s");
    moth_sb_putc(out, ' ');
    heading(out, v, 3, "%10s");
    moth_sb_puts(out, "  Function (file:line)\n");

    size_t n = 0;
    uint32_t *order = malloc((t->nrows ? t->nrows : 1) * sizeof *order);
    if (!order) {
        out->failed = 1;
        return;
    }
    for (size_t i = 0; i < t->nrows; i++)
        if ((t->rows[i].line != 0) == (v->lines != 0) && t->rows[i].total_all)
            order[n++] = (uint32_t)i;
    sort_rows(t, v->sort, order, n);
    size_t room = v->height > 6 ? (size_t)v->height - 6 : (v->height ? 1 : n);
    double now = t->samples_now ? 100.0 / (double)t->samples_now : 0;
    for (size_t i = 0; i < n && i < room; i++) {
        const moth_top_row *r = &t->rows[order[i]];
        const moth_func *f = &t->funcs.items[r->func];
        const char *slash = strrchr(f->file, '/');
        moth_sb line = MOTH_SB_INIT;
        moth_sb_printf(&line, "%6.1f%% %6.1f%% %8.2fs %9.2fs  %s (%s:%u)",
                       (double)r->own_now * now, (double)r->total_now * now,
                       (double)r->own_all * v->interval, (double)r->total_all * v->interval,
                       f->qualname ? f->qualname : f->name, slash ? slash + 1 : f->file,
                       r->line ? r->line : f->line);
        size_t len = line.len;
        if (v->width > 0 && len > (size_t)v->width) {
            len = (size_t)v->width; /* the file name is the least needed part */
            while (len > 0 && ((unsigned char)line.data[len] & 0xC0) == 0x80)
                len--; /* not inside a UTF-8 sequence */
        }
        moth_sb_append(out, line.data ? line.data : "", len);
        moth_sb_putc(out, '\n');
        moth_sb_free(&line);
    }
    free(order);
}
