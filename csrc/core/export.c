/* export.c: profile exports; see export.h. */
#include "export.h"
#include "memreport.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

const char *moth_export_formats(void)
{
    return "pstats, speedscope, collapsed, callgrind, chrome, dot";
}

/* ---- shared helpers ---- */

static size_t utf8_sequence(const unsigned char *p)
{
    /* length of a valid UTF-8 sequence at p, or 0: no overlong forms, no surrogates, nothing
     * past U+10FFFF (what a strict decoder such as Python's refuses) */
    if (p[0] < 0x80)
        return 1;
    size_t n = (p[0] & 0xE0) == 0xC0 ? 2 : (p[0] & 0xF0) == 0xE0 ? 3 : (p[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (n == 0 || (n == 2 && p[0] < 0xC2) || p[0] > 0xF4)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
        (p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
        return 0;
    return n;
}

void moth_json_string(moth_sb *out, const char *s)
{
    moth_sb_putc(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            moth_sb_putc(out, '\\');
            moth_sb_putc(out, (char)c);
            p++;
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7F) {
            moth_sb_printf(out, "\\u%04x", c);
            p++;
        } else if (c < 0x80) {
            moth_sb_putc(out, (char)c);
            p++;
        } else {
            size_t n = utf8_sequence(p);
            if (n) {
                moth_sb_append(out, p, n);
                p += n;
            } else {
                moth_sb_puts(out, "\\ufffd");
                p++;
            }
        }
    }
    moth_sb_putc(out, '"');
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A frame's display name: qualname (or name) and where it is; C functions by their name. */
static void frame_name(const moth_func *f, moth_sb *out)
{
    if (moth_func_is_builtin(f)) {
        moth_func_label(f, out);
        return;
    }
    moth_sb_printf(out, "%s (%s:%u)", f->qualname ? f->qualname : f->name, base_name(f->file),
                   f->line);
}

void moth_func_display_name(const moth_func *f, moth_sb *out)
{
    if (moth_func_is_builtin(f))
        moth_func_label(f, out);
    else
        moth_sb_puts(out, f->qualname ? f->qualname : f->name);
}

static int need_tree(const moth_loaded *in, const char *format, moth_error *err)
{
    if (in->has_tree)
        return 0;
    return moth_fail(err, "the %s format is drawn from the calling-context tree, which a "
                     "pstats file does not keep: profile with 'moth profile -o FILE.moth'",
                     format);
}

/* ---- collapsed stacks ---- */

/* Appends the stack from the root to node n, names joined by ';' (a ';' inside a name would
 * split the frame, so it becomes ':'). */
static void stack_of(const moth_profile *p, const moth_cct *t, uint32_t n, moth_sb *out)
{
    uint32_t path[4096];
    size_t depth = 0;
    for (uint32_t m = n; m != MOTH_CCT_ROOT && depth < 4096; m = t->nodes[m].parent)
        path[depth++] = m;
    while (depth--) {
        moth_sb name = MOTH_SB_INIT;
        frame_name(&p->funcs.items[t->nodes[path[depth]].func], &name);
        for (size_t i = 0; i < name.len; i++)
            if (name.data[i] == ';' || name.data[i] == '\n')
                name.data[i] = ':';
        moth_sb_append(out, name.data, name.len);
        moth_sb_drop(&name, out);
        if (depth)
            moth_sb_putc(out, ';');
    }
}

static int export_collapsed(const moth_profile *p, moth_sb *out)
{
    /* microseconds of own time, or bytes of a memory profile */
    double scale = moth_profile_weighs_bytes(p) ? p->tick_seconds : p->tick_seconds * 1e6;
    for (size_t th = 0; th < p->nthreads; th++) {
        const moth_cct *t = &p->threads[th].tree;
        for (uint32_t i = 1; i < t->count; i++) {
            long long us = llround((double)t->nodes[i].self * scale);
            if (us <= 0)
                continue;
            if (p->nthreads > 1) {
                const char *name = p->threads[th].name;
                moth_sb_printf(out, "thread %s;", name ? name : "?");
            }
            stack_of(p, t, i, out);
            moth_sb_printf(out, " %lld\n", us);
        }
    }
    return 0;
}

/* ---- speedscope ---- */

static int export_speedscope(const moth_profile *p, moth_sb *out)
{
    const char *command = moth_profile_get_meta(p, "command");
    moth_sb_puts(out, "{\"$schema\":\"https://www.speedscope.app/file-format-schema.json\","
                      "\"exporter\":\"moth " MOTH_VERSION "\",\"name\":");
    moth_json_string(out, command ? command : "moth profile");
    moth_sb_puts(out, ",\"activeProfileIndex\":0,\"shared\":{\"frames\":[");
    for (size_t i = 0; i < p->funcs.count; i++) {
        const moth_func *f = &p->funcs.items[i];
        moth_sb name = MOTH_SB_INIT;
        moth_func_display_name(f, &name);
        moth_sb_puts(out, i ? ",{\"name\":" : "{\"name\":");
        moth_json_string(out, name.data ? name.data : "");
        moth_sb_drop(&name, out);
        if (!moth_func_is_builtin(f)) {
            moth_sb_puts(out, ",\"file\":");
            moth_json_string(out, f->file);
            moth_sb_printf(out, ",\"line\":%u", f->line);
        }
        moth_sb_putc(out, '}');
    }
    moth_sb_puts(out, "]},\"profiles\":[");
    int first = 1;
    for (size_t th = 0; th < p->nthreads; th++) {
        const moth_thread_profile *tp = &p->threads[th];
        const moth_cct *t = &tp->tree;
        double total = 0;
        for (uint32_t i = 1; i < t->count; i++)
            total += (double)t->nodes[i].self * p->tick_seconds;
        moth_sb_puts(out, first ? "{" : ",{");
        first = 0;
        moth_sb_puts(out, "\"type\":\"sampled\",\"name\":");
        char fallback[64];
        snprintf(fallback, sizeof fallback, "thread %llu", (unsigned long long)tp->id);
        moth_json_string(out, tp->name ? tp->name : fallback);
        moth_sb_printf(out, ",\"unit\":\"%s\",\"startValue\":0,\"endValue\":%.9g,"
                            "\"samples\":[", moth_profile_weighs_bytes(p) ? "bytes" : "seconds",
                       total);
        int any = 0;
        for (uint32_t i = 1; i < t->count; i++) {
            if (t->nodes[i].self == 0)
                continue;
            uint32_t path[4096];
            size_t depth = 0;
            for (uint32_t m = i; m != MOTH_CCT_ROOT && depth < 4096; m = t->nodes[m].parent)
                path[depth++] = m;
            moth_sb_puts(out, any ? ",[" : "[");
            any = 1;
            while (depth--)
                moth_sb_printf(out, "%u%s", t->nodes[path[depth]].func, depth ? "," : "");
            moth_sb_putc(out, ']');
        }
        moth_sb_puts(out, "],\"weights\":[");
        any = 0;
        for (uint32_t i = 1; i < t->count; i++) {
            if (t->nodes[i].self == 0)
                continue;
            moth_sb_printf(out, "%s%.9g", any ? "," : "",
                           (double)t->nodes[i].self * p->tick_seconds);
            any = 1;
        }
        moth_sb_puts(out, "]}");
    }
    moth_sb_puts(out, "]}\n");
    return 0;
}

/* ---- chrome trace events ---- */

static void chrome_node(const moth_profile *p, const moth_cct *t, uint32_t n, uint64_t start_ns,
                        uint64_t dur_ns, size_t tid, moth_sb *out, int *first)
{
    const moth_cct_node *node = &t->nodes[n];
    const moth_func *f = &p->funcs.items[node->func];
    moth_sb name = MOTH_SB_INIT;
    moth_func_display_name(f, &name);
    moth_sb_puts(out, *first ? "\n{" : ",\n{");
    *first = 0;
    moth_sb_puts(out, "\"name\":");
    moth_json_string(out, name.data ? name.data : "");
    moth_sb_drop(&name, out);
    /* whole nanoseconds printed as exact microseconds: siblings meet, never overlap */
    moth_sb_printf(out, ",\"cat\":\"python\",\"ph\":\"X\",\"ts\":%llu.%03llu,"
                        "\"dur\":%llu.%03llu,\"pid\":1,\"tid\":%zu,\"args\":{\"calls\":%llu,"
                        "\"file\":",
                   (unsigned long long)(start_ns / 1000), (unsigned long long)(start_ns % 1000),
                   (unsigned long long)(dur_ns / 1000), (unsigned long long)(dur_ns % 1000), tid,
                   (unsigned long long)node->calls);
    moth_json_string(out, f->file);
    moth_sb_printf(out, ",\"line\":%u}}", f->line);
}

/* Children are laid out one after the other from the parent's start, scaled down if (after
 * overhead subtraction) they add up to more than the parent. */
static int export_chrome(const moth_profile *p, moth_sb *out, moth_error *err)
{
    moth_sb_puts(out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"exporter\":\"moth "
                      MOTH_VERSION "\"},\"traceEvents\":[");
    int first = 1;
    for (size_t th = 0; th < p->nthreads; th++) {
        const moth_thread_profile *tp = &p->threads[th];
        const moth_cct *t = &tp->tree;
        moth_sb_printf(out, "%s\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":%zu,"
                            "\"args\":{\"name\":", first ? "" : ",", th + 1);
        first = 0;
        char fallback[64];
        snprintf(fallback, sizeof fallback, "thread %llu", (unsigned long long)tp->id);
        moth_json_string(out, tp->name ? tp->name : fallback);
        moth_sb_puts(out, "}}");
        uint64_t *start = moth_calloc(t->count ? t->count : 1, sizeof *start, err);
        uint64_t *dur = moth_calloc(t->count ? t->count : 1, sizeof *dur, err);
        if (!start || !dur) {
            free(start);
            free(dur);
            return -1;
        }
        /* The root spans its children; parents come before children in `nodes`. */
        uint64_t cursor = 0;
        for (uint32_t c = t->count ? t->nodes[0].first_child : MOTH_NODE_NONE;
             c != MOTH_NODE_NONE; c = t->nodes[c].next_sibling) {
            start[c] = cursor;
            dur[c] = (uint64_t)llround((double)t->nodes[c].total * p->tick_seconds * 1e9);
            cursor += dur[c];
        }
        for (uint32_t n = 1; n < t->count; n++) {
            uint64_t sum = 0;
            for (uint32_t c = t->nodes[n].first_child; c != MOTH_NODE_NONE;
                 c = t->nodes[c].next_sibling)
                sum += (uint64_t)llround((double)t->nodes[c].total * p->tick_seconds * 1e9);
            uint64_t at = start[n];
            for (uint32_t c = t->nodes[n].first_child; c != MOTH_NODE_NONE;
                 c = t->nodes[c].next_sibling) {
                uint64_t d = (uint64_t)llround((double)t->nodes[c].total * p->tick_seconds * 1e9);
                if (sum > dur[n]) /* scaled down (rounded down) to fit the parent */
                    d = (uint64_t)((long double)d * dur[n] / sum);
                start[c] = at;
                dur[c] = d;
                at += d;
            }
            chrome_node(p, t, n, start[n], dur[n], th + 1, out, &first);
        }
        free(start);
        free(dur);
    }
    moth_sb_puts(out, "\n]}\n");
    return 0;
}

/* ---- callgrind ---- */

static long long ns(double seconds)
{
    return llround(seconds * 1e9);
}

static int by_name(const void *a, const void *b)
{
    const moth_func *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* For each function of the table, whether another one has the same name. Callgrind readers
 * know a function by its name (callgrind_annotate shows "file:name", KCachegrind the name with
 * the file beside it), so the file goes in fl= alone and the line is added only where two
 * functions share a name. NULL when out of memory. */
static unsigned char *shared_names(const moth_funcs *funcs, moth_error *err)
{
    unsigned char *shared = moth_calloc(funcs->count + 1, 1, err);
    const moth_func **order = moth_malloc((funcs->count + 1) * sizeof *order, err);
    if (!shared || !order) {
        free(shared);
        free(order);
        return NULL;
    }
    for (size_t i = 0; i < funcs->count; i++)
        order[i] = &funcs->items[i];
    moth_qsort(order, funcs->count, sizeof *order, by_name);
    for (size_t i = 1; i < funcs->count; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            shared[order[i - 1] - funcs->items] = shared[order[i] - funcs->items] = 1;
    free(order);
    return shared;
}

static void callgrind_name(const moth_funcs *funcs, const unsigned char *shared, uint32_t f,
                           moth_sb *out)
{
    moth_sb_puts(out, funcs->items[f].name);
    if (shared[f])
        moth_sb_printf(out, ":%u", funcs->items[f].line);
}

static int export_callgrind(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    const moth_pstats *s = &in->view;
    const char *command = in->has_tree ? moth_profile_get_meta(&in->profile, "command") : NULL;
    moth_sb_printf(out, "# callgrind format\nversion: 1\ncreator: moth %s\n", MOTH_VERSION);
    if (command)
        moth_sb_printf(out, "cmd: %s\n", command);
    moth_sb_puts(out, "positions: line\nevents: Time_ns\n\n");
    /* Callees of each function: every row whose callers name it. */
    size_t *count = moth_calloc(s->funcs.count + 1, sizeof *count, err);
    size_t *offset = moth_calloc(s->funcs.count + 1, sizeof *offset, err);
    size_t nedges = 0;
    for (size_t r = 0; r < s->nrows; r++)
        nedges += s->rows[r].ncallers;
    size_t *edge_row = moth_malloc((nedges + 1) * sizeof *edge_row, err);
    size_t *edge_idx = moth_malloc((nedges + 1) * sizeof *edge_idx, err);
    unsigned char *shared = shared_names(&s->funcs, err);
    if (!count || !offset || !edge_row || !edge_idx || !shared) {
        free(shared);
        free(count);
        free(offset);
        free(edge_row);
        free(edge_idx);
        return -1;
    }
    for (size_t r = 0; r < s->nrows; r++)
        for (size_t e = 0; e < s->rows[r].ncallers; e++)
            count[s->rows[r].callers[e].caller]++;
    for (size_t f = 0, at = 0; f < s->funcs.count; f++) {
        offset[f] = at;
        at += count[f];
        count[f] = 0;
    }
    for (size_t r = 0; r < s->nrows; r++)
        for (size_t e = 0; e < s->rows[r].ncallers; e++) {
            uint32_t caller = s->rows[r].callers[e].caller;
            size_t k = offset[caller] + count[caller]++;
            edge_row[k] = r;
            edge_idx[k] = e;
        }
    for (size_t r = 0; r < s->nrows; r++) {
        const moth_pstats_row *row = &s->rows[r];
        const moth_func *f = &s->funcs.items[row->func];
        moth_sb_printf(out, "fl=%s\nfn=", f->file);
        callgrind_name(&s->funcs, shared, row->func, out);
        moth_sb_printf(out, "\n%u %lld\n", f->line, ns(row->tt));
        for (size_t k = 0; k < count[row->func]; k++) {
            const moth_pstats_row *callee = &s->rows[edge_row[offset[row->func] + k]];
            const moth_pstats_edge *e = &callee->callers[edge_idx[offset[row->func] + k]];
            const moth_func *g = &s->funcs.items[callee->func];
            moth_sb_printf(out, "cfl=%s\ncfn=", g->file);
            callgrind_name(&s->funcs, shared, callee->func, out);
            moth_sb_printf(out, "\ncalls=%llu %u\n%u %lld\n", (unsigned long long)e->nc, g->line,
                           f->line, ns(e->ct));
        }
        moth_sb_putc(out, '\n');
    }
    free(shared);
    free(count);
    free(offset);
    free(edge_row);
    free(edge_idx);
    return 0;
}

/* ---- dot ---- */

static void heat_colour(double share, moth_sb *out)
{
    /* cold blue (hue 0.65) to hot red (hue 0.0), by the square root of the share */
    double h = 0.65 * (1.0 - sqrt(share > 1 ? 1 : share < 0 ? 0 : share));
    moth_sb_printf(out, "\"%.3f 0.75 0.95\"", h);
}

static int export_dot(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    (void)err;
    const moth_pstats *s = &in->view;
    double total = 0;
    for (size_t r = 0; r < s->nrows; r++)
        total = s->rows[r].ct > total ? s->rows[r].ct : total;
    const double keep = 0.005; /* functions under 0.5% of the total time are left out */
    moth_sb_puts(out, "digraph moth {\n  graph [fontname=\"Helvetica\", ranksep=0.25];\n"
                      "  node [shape=box, style=filled, fontname=\"Helvetica\", fontsize=10];\n"
                      "  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (size_t r = 0; r < s->nrows; r++) {
        const moth_pstats_row *row = &s->rows[r];
        double share = total > 0 ? row->ct / total : 0;
        if (share < keep)
            continue;
        const moth_func *f = &s->funcs.items[row->func];
        moth_sb label = MOTH_SB_INIT;
        moth_func_label(f, &label);
        moth_sb text = MOTH_SB_INIT;
        moth_sb_printf(&text, "%s\\n%.2f%% (%.2f%% self)\\n%llu calls", label.data,
                       share * 100, total > 0 ? row->tt / total * 100 : 0,
                       (unsigned long long)row->nc);
        moth_sb_printf(out, "  f%u [label=", row->func);
        /* DOT strings: quotes and backslashes escaped (keeping our \n line breaks) */
        moth_sb_putc(out, '"');
        for (size_t i = 0; i < text.len; i++) {
            char c = text.data[i];
            if (c == '"')
                moth_sb_puts(out, "\\\"");
            else if (c == '\\' && i + 1 < text.len && text.data[i + 1] == 'n')
                moth_sb_putc(out, '\\');
            else if (c == '\\')
                moth_sb_puts(out, "\\\\");
            else
                moth_sb_putc(out, c);
        }
        moth_sb_puts(out, "\", fillcolor=");
        heat_colour(share, out);
        moth_sb_puts(out, "];\n");
        moth_sb_drop(&label, out);
        moth_sb_drop(&text, out);
    }
    for (size_t r = 0; r < s->nrows; r++) {
        const moth_pstats_row *row = &s->rows[r];
        if (total <= 0 || row->ct / total < keep)
            continue;
        for (size_t e = 0; e < row->ncallers; e++) {
            const moth_pstats_edge *edge = &row->callers[e];
            const moth_pstats_row *caller = moth_pstats_row_for(s, edge->caller);
            if (!caller || caller->ct / total < keep)
                continue;
            double share = edge->ct / total;
            moth_sb_printf(out, "  f%u -> f%u [label=\"%llu\\n%.2f%%\", penwidth=%.2f, color=",
                           edge->caller, row->func, (unsigned long long)edge->nc, share * 100,
                           0.5 + 6.0 * (share > 1 ? 1 : share));
            heat_colour(share, out);
            moth_sb_puts(out, "];\n");
        }
    }
    moth_sb_puts(out, "}\n");
    return 0;
}

int moth_export(const moth_loaded *in, const char *format, moth_sb *out, moth_error *err)
{
    int rc;
    if (!strcmp(format, "pstats"))
        rc = moth_pstats_write(&in->view, out, err);
    else if (!strcmp(format, "collapsed"))
        rc = need_tree(in, format, err) < 0 ? -1 : export_collapsed(&in->profile, out);
    else if (!strcmp(format, "speedscope"))
        rc = need_tree(in, format, err) < 0 ? -1 : export_speedscope(&in->profile, out);
    else if (!strcmp(format, "chrome"))
        rc = need_tree(in, format, err) < 0 ? -1 : export_chrome(&in->profile, out, err);
    else if (!strcmp(format, "callgrind"))
        rc = export_callgrind(in, out, err);
    else if (!strcmp(format, "dot"))
        rc = export_dot(in, out, err);
    else
        return moth_fail(err, "unknown format '%s'; formats: %s", format, moth_export_formats());
    return rc < 0 ? -1 : moth_sb_check(out, err);
}
