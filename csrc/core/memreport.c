/* memreport.c: the memory profile as text; see memreport.h. */
#include "memreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

int moth_mem_measure_parse(const char *word, moth_mem_measure *out, moth_error *err)
{
    static const struct {
        const char *word;
        moth_mem_measure m;
    } WORDS[] = {{"peak", MOTH_MEM_PEAK}, {"leaks", MOTH_MEM_LEAKED},
                 {"leaked", MOTH_MEM_LEAKED}, {"allocated", MOTH_MEM_ALLOCATED}};
    size_t n = strlen(word);
    int found = -1;
    for (size_t i = 0; n && i < sizeof WORDS / sizeof WORDS[0]; i++)
        if (strncmp(WORDS[i].word, word, n) == 0) {
            if (found >= 0 && WORDS[found].m != WORDS[i].m)
                found = -2;
            else if (found == -1)
                found = (int)i;
        }
    if (found < 0)
        return moth_fail(err, "memory is sorted by peak, leaks or allocated, not '%s'", word);
    *out = WORDS[found].m;
    return 0;
}

static double bytes_of(const moth_mem_row *r, moth_mem_measure m)
{
    return m == MOTH_MEM_PEAK     ? (double)r->peak_bytes
           : m == MOTH_MEM_LEAKED ? (double)r->leaked_bytes
                                  : (double)r->alloc_bytes;
}

static double count_of(const moth_mem_row *r, moth_mem_measure m)
{
    return m == MOTH_MEM_PEAK ? r->peak_count : m == MOTH_MEM_LEAKED ? r->leaked_count
                                                                     : r->alloc_count;
}

/* The function of a row's node; p->funcs.count for the root (outside any Python function). */
static uint32_t func_of(const moth_profile *p, const moth_mem_row *r)
{
    if (r->thread >= p->nthreads)
        return (uint32_t)p->funcs.count;
    const moth_cct *t = &p->threads[r->thread].tree;
    if (r->node == MOTH_CCT_ROOT || r->node >= t->count || t->nodes[r->node].func >= p->funcs.count)
        return (uint32_t)p->funcs.count;
    return t->nodes[r->node].func;
}

int moth_memory_by_function(const moth_profile *p, moth_mem_measure m, double *own,
                            double *cum, double *own_count, moth_error *err)
{
    size_t n = p->funcs.count + 1;
    size_t *stamp = moth_calloc(n, sizeof *stamp, err);
    if (!stamp)
        return -1;
    memset(own, 0, n * sizeof *own);
    memset(cum, 0, n * sizeof *cum);
    memset(own_count, 0, n * sizeof *own_count);
    for (size_t i = 0; i < p->memory.nrows; i++) {
        const moth_mem_row *r = &p->memory.rows[i];
        double b = bytes_of(r, m);
        uint32_t f = func_of(p, r);
        own[f] += b;
        own_count[f] += count_of(r, m);
        if (f == p->funcs.count) {
            cum[f] += b;
            continue;
        }
        /* every function on the path, once */
        const moth_cct *t = &p->threads[r->thread].tree;
        for (uint32_t node = r->node; node != MOTH_CCT_ROOT && node < t->count;
             node = t->nodes[node].parent) {
            uint32_t g = t->nodes[node].func;
            if (g < p->funcs.count && stamp[g] != i + 1) {
                stamp[g] = i + 1;
                cum[g] += b;
            }
        }
    }
    free(stamp);
    return 0;
}

static const char *measure_title(moth_mem_measure m)
{
    return m == MOTH_MEM_PEAK     ? "held at the peak"
           : m == MOTH_MEM_LEAKED ? "still held at the end (leaks)"
                                  : "allocated in total";
}

static void count_text(char *buf, size_t size, double count)
{
    /* sampled estimates that cancel out leave rounding dust: never "-0" */
    snprintf(buf, size, "%.0f", count < 0.5 && count > -0.5 ? 0.0 : count);
}

static const char *base_name(const char *file, int strip)
{
    const char *slash = strip ? strrchr(file, '/') : NULL;
    return slash ? slash + 1 : file;
}

static void func_label(const moth_profile *p, uint32_t f, int strip, moth_sb *out)
{
    if (f >= p->funcs.count) {
        moth_sb_puts(out, "(outside Python code)");
        return;
    }
    const moth_func *fn = &p->funcs.items[f];
    moth_sb_printf(out, "%s:%u(%s)", base_name(fn->file, strip), fn->line, fn->name);
}

static double *sort_values;
static int by_value_desc(const void *a, const void *b)
{
    double x = sort_values[*(const uint32_t *)a], y = sort_values[*(const uint32_t *)b];
    if (x != y)
        return x > y ? -1 : 1;
    return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/* Indexes 0..n-1 with a non-zero value, largest first. */
static uint32_t *ranked(double *values, size_t n, size_t *count, moth_error *err)
{
    uint32_t *order = moth_malloc((n ? n : 1) * sizeof *order, err);
    if (!order)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (values[i] > 0)
            order[k++] = (uint32_t)i;
    sort_values = values;
    moth_qsort(order, k, sizeof *order, by_value_desc);
    *count = k;
    return order;
}

static void summary(const moth_profile *p, moth_sb *out)
{
    const moth_memory *m = &p->memory;
    moth_mem_row sum;
    moth_memory_totals(m, &sum);
    char peak[32], leaked[32], alloc[32];
    moth_format_bytes(peak, sizeof peak, (double)m->peak_bytes);
    moth_format_bytes(leaked, sizeof leaked, (double)sum.leaked_bytes);
    moth_format_bytes(alloc, sizeof alloc, (double)sum.alloc_bytes);
    const char *checkpoint = moth_profile_get_meta(p, "checkpoint");
    if (checkpoint)
        moth_sb_printf(out, "moth memory: the run did not end (killed: by the OOM killer?); this "
                            "is its last checkpoint, %.3f s in\n", atof(checkpoint));
    moth_sb_printf(out, "moth memory: peak %s at %.3f s; %s still held %s in %.0f blocks; "
                   "%s allocated in total in %.0f blocks\n\n", peak, m->peak_time, leaked,
                   checkpoint ? "then" : "at the end", sum.leaked_count, alloc, sum.alloc_count);
}

/* The path of a row's node, outermost first: "<module> > main > make". */
static void path_of(const moth_profile *p, const moth_mem_row *r, moth_sb *out)
{
    if (func_of(p, r) == p->funcs.count) {
        moth_sb_puts(out, "outside Python code");
        return;
    }
    const moth_cct *t = &p->threads[r->thread].tree;
    uint32_t chain[64];
    size_t n = 0, depth = 0;
    for (uint32_t node = r->node; node != MOTH_CCT_ROOT && node < t->count;
         node = t->nodes[node].parent, depth++)
        if (n < 64)
            chain[n++] = node;
    if (depth > n)
        moth_sb_puts(out, "... > ");
    for (size_t i = n; i-- > 0;) {
        moth_sb name = MOTH_SB_INIT;
        uint32_t f = t->nodes[chain[i]].func;
        if (f < p->funcs.count)
            moth_func_display_name(&p->funcs.items[f], &name);
        moth_sb_printf(out, "%s%s", name.data ? name.data : "?", i ? " > " : "");
        moth_sb_free(&name);
    }
}

int moth_memory_report(const moth_profile *p, const moth_memreport_opts *o, moth_sb *out,
                       moth_error *err)
{
    const moth_memory *m = &p->memory;
    if (!m->recorded)
        return moth_fail(err, "this profile has no memory data (profile with --memory)");
    size_t nf = p->funcs.count + 1;
    double *own = moth_malloc(nf * sizeof *own, err), *cum = moth_malloc(nf * sizeof *cum, err),
           *cnt = moth_malloc(nf * sizeof *cnt, err);
    double *leak = moth_malloc(nf * sizeof *leak, err), *lcum = moth_malloc(nf * sizeof *lcum, err),
           *lcnt = moth_malloc(nf * sizeof *lcnt, err);
    double *al = moth_malloc(nf * sizeof *al, err), *acum = moth_malloc(nf * sizeof *acum, err),
           *acnt = moth_malloc(nf * sizeof *acnt, err);
    double *rowv = moth_malloc((m->nrows ? m->nrows : 1) * sizeof *rowv, err);
    uint32_t *order = NULL, *rows = NULL;
    int rc = -1;
    if (!own || !cum || !cnt || !leak || !lcum || !lcnt || !al || !acum || !acnt || !rowv ||
        moth_memory_by_function(p, MOTH_MEM_PEAK, own, cum, cnt, err) < 0 ||
        moth_memory_by_function(p, MOTH_MEM_LEAKED, leak, lcum, lcnt, err) < 0 ||
        moth_memory_by_function(p, MOTH_MEM_ALLOCATED, al, acum, acnt, err) < 0)
        goto done;
    summary(p, out);
    /* functions, by the chosen measure's cumulative bytes, then its own */
    double *key = o->order == MOTH_MEM_PEAK ? cum : o->order == MOTH_MEM_LEAKED ? lcum : acum;
    size_t nrank;
    if (!(order = ranked(key, nf, &nrank, err)))
        goto done;
    size_t shown = o->limit && o->limit < nrank ? o->limit : nrank;
    moth_sb_printf(out, "   Functions by memory %s\n", measure_title(o->order));
    if (shown < nrank)
        moth_sb_printf(out, "   List reduced from %zu to %zu due to restriction <%zu>\n",
                       nrank, shown, o->limit);
    moth_sb_puts(out, "\n   peak own   peak cum     leaked   blocks  allocated   allocs  "
                      "filename:lineno(function)\n");
    for (size_t i = 0; i < shown; i++) {
        uint32_t f = order[i];
        char a[32], b[32], c[32], d[32], e[32], g[32];
        moth_format_bytes(a, sizeof a, own[f]);
        moth_format_bytes(b, sizeof b, cum[f]);
        moth_format_bytes(c, sizeof c, leak[f]);
        count_text(d, sizeof d, lcnt[f]);
        moth_format_bytes(e, sizeof e, al[f]);
        count_text(g, sizeof g, acnt[f]);
        moth_sb_printf(out, "%11s%11s%11s%9s%11s%9s  ", a, b, c, d, e, g);
        func_label(p, f, o->strip_dirs, out);
        moth_sb_putc(out, '\n');
    }
    /* call paths and lines */
    for (size_t i = 0; i < m->nrows; i++)
        rowv[i] = bytes_of(&m->rows[i], o->order);
    if (!(rows = ranked(rowv, m->nrows, &nrank, err)))
        goto done;
    shown = o->limit && o->limit < nrank ? o->limit : nrank;
    moth_sb_printf(out, "\n   Lines (and the call path to them) by memory %s\n\n",
                   measure_title(o->order));
    moth_sb_puts(out, "      bytes   blocks  line  (call path)\n");
    for (size_t i = 0; i < shown; i++) {
        const moth_mem_row *r = &m->rows[rows[i]];
        char a[32], b[32];
        moth_format_bytes(a, sizeof a, bytes_of(r, o->order));
        count_text(b, sizeof b, count_of(r, o->order));
        moth_sb_printf(out, "%11s%9s  ", a, b);
        uint32_t f = func_of(p, r);
        if (f < p->funcs.count)
            moth_sb_printf(out, "%s:%u", base_name(p->funcs.items[f].file, o->strip_dirs),
                           r->line);
        else
            moth_sb_puts(out, "-");
        moth_sb_puts(out, "  (");
        path_of(p, r, out);
        moth_sb_puts(out, ")\n");
    }
    moth_sb_putc(out, '\n');
    if (m->sample_bytes) {
        char mean[32];
        moth_format_bytes(mean, sizeof mean, (double)m->sample_bytes);
        moth_sb_printf(out, "   moth: sampled, one sample per %s allocated on average: bytes and "
                       "blocks are estimates\n", mean);
    }
    if (m->untracked_count) {
        char lost[32];
        moth_format_bytes(lost, sizeof lost, (double)m->untracked_bytes);
        moth_sb_printf(out, "   moth: %llu allocations (%s) were not tracked: the table of live "
                       "blocks reached its bound (use --memory-sample)\n",
                       (unsigned long long)m->untracked_count, lost);
    }
    rc = moth_sb_check(out, err);
done:
    free(own);
    free(cum);
    free(cnt);
    free(leak);
    free(lcum);
    free(lcnt);
    free(al);
    free(acum);
    free(acnt);
    free(rowv);
    free(order);
    free(rows);
    return rc;
}

int moth_profile_weighs_bytes(const moth_profile *p)
{
    const char *w = moth_profile_get_meta(p, "weight");
    return w && strcmp(w, "bytes") == 0;
}

int moth_memory_weighted_profile(const moth_profile *p, moth_mem_measure m, moth_profile *out,
                                 moth_error *err)
{
    moth_profile_init(out);
    out->tick_seconds = 1.0;
    uint32_t outside = MOTH_NODE_NONE;
    for (size_t i = 0; i < p->funcs.count; i++) {
        const moth_func *f = &p->funcs.items[i];
        uint32_t index;
        if (moth_funcs_intern(&out->funcs, f->file, f->line, f->name, f->qualname, &index,
                              err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < p->nmeta; i++)
        if (moth_profile_set_meta(out, p->meta[i].key, p->meta[i].value, err) < 0)
            goto fail;
    if (moth_profile_set_meta(out, "weight", "bytes", err) < 0)
        goto fail;
    for (size_t t = 0; t < p->nthreads; t++) {
        moth_thread_profile *th;
        if (moth_profile_add_thread(out, p->threads[t].id, p->threads[t].name, &th, err) < 0)
            goto fail;
        moth_cct_free(&th->tree); /* the copy replaces the empty tree the thread came with */
        if (moth_cct_copy(&th->tree, &p->threads[t].tree, err) < 0) {
            moth_cct_init(&th->tree, NULL);
            goto fail;
        }
        th->native_id = p->threads[t].native_id;
        for (size_t n = 0; n < th->tree.count; n++) {
            th->tree.nodes[n].self = th->tree.nodes[n].total = 0;
            th->tree.nodes[n].calls = 0;
        }
    }
    for (size_t i = 0; i < p->memory.nrows; i++) {
        const moth_mem_row *r = &p->memory.rows[i];
        if (r->thread >= out->nthreads)
            continue;
        moth_cct *tree = &out->threads[r->thread].tree;
        uint32_t node = r->node < tree->count ? r->node : MOTH_CCT_ROOT;
        if (node == MOTH_CCT_ROOT) {
            if (outside == MOTH_NODE_NONE &&
                moth_funcs_intern(&out->funcs, "~", 0, "(outside Python code)", NULL, &outside,
                                  err) < 0)
                goto fail;
            if (moth_cct_add_child(tree, MOTH_CCT_ROOT, (uint64_t)outside + 1, &node, err) < 0)
                goto fail;
            tree->nodes[node].func = outside;
        }
        tree->nodes[node].self += (uint64_t)bytes_of(r, m);
        tree->nodes[node].calls += (uint64_t)(count_of(r, m) + 0.5);
    }
    for (size_t t = 0; t < out->nthreads; t++)
        moth_cct_finish_from_selfs(&out->threads[t].tree);
    return 0;
fail:
    moth_profile_free(out);
    return -1;
}
