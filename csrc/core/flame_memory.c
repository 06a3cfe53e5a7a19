/*
 * flame_memory.c: the memory profile as a flame graph page (flame.h's page, bytes for time).
 *
 * Views, all threads merged: what was held at the peak, what was still held at the end
 * (leaks), what was allocated in total; and a fourth, "at a moment", filled by the page's
 * script when a moment is picked on the memory-over-time strip above the graph. With several
 * threads, the first three again for each thread ("NAME: held at the peak"...), after them. For it the
 * page carries the timeline's points and, per point, the rows (call path and line) that
 * changed and their bytes then: replaying them up to the picked point gives every call path's
 * bytes at that moment. That view's tree holds every call path that ever allocated (the tree
 * of "allocated"), unfolded, so that any moment's boxes are there.
 */
#include "flame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "memreport.h"

/* The strip and the moment view. DATA.timeline: t (seconds), b (bytes held), h (the most held
 * since the point before), pt / pb (the peak's time and bytes), rows (each memory row's node in
 * the moment view), ch (per point: row, bytes, row, bytes...), view (the moment view). */
static const char MEMORY_SCRIPT[] =
    "<script>\n'use strict';\n"
    "(function () {\n"
    "  const T = DATA.timeline; if (!T || !T.t.length) return;\n"
    "  const NS = 'http://www.w3.org/2000/svg', H = 56;\n"
    "  const strip = document.createElementNS(NS, 'svg'); strip.id = 'strip';\n"
    "  strip.setAttribute('height', H); strip.style.flexBasis = '100%'; strip.style.cursor = 'crosshair';\n"
    "  bar.appendChild(strip);\n"
    "  const end = Math.max(T.t[T.t.length - 1], T.pt, 1e-9);\n"
    "  const top = Math.max(T.pb, ...T.h, 1);\n"
    "  let picked = T.t.length - 1;\n"
    "  function drawStrip() {\n"
    "    const w = Math.max(300, strip.parentNode.clientWidth - 24); strip.setAttribute('width', w);\n"
    "    const x = t => 4 + (w - 8) * t / end, y = b => H - 4 - (H - 12) * b / top;\n"
    "    /* steps: between two points nothing is known but what the later one says, and an idle\n"
    "       program (no allocation, no point) holds what it held */\n"
    "    let hi = 'M' + x(0) + ',' + y(0), now = hi, hb = 0, bb = 0;\n"
    "    for (let i = 0; i < T.t.length; i++) { const X = x(T.t[i]);\n"
    "      hi += 'L' + X + ',' + y(hb) + 'L' + X + ',' + y(T.h[i]); hb = T.h[i];\n"
    "      now += 'L' + X + ',' + y(bb) + 'L' + X + ',' + y(T.b[i]); bb = T.b[i]; }\n"
    "    strip.innerHTML = '<rect width=\"' + w + '\" height=\"' + H + '\" fill=\"#f4f6fa\"></rect>' +\n"
    "      '<path d=\"' + hi + '\" fill=\"none\" stroke=\"#e0a0a0\"></path>' +\n"
    "      '<path d=\"' + now + '\" fill=\"none\" stroke=\"#3060c0\" stroke-width=\"1.5\"></path>' +\n"
    "      '<circle cx=\"' + x(T.pt) + '\" cy=\"' + y(T.pb) + '\" r=\"3.5\" fill=\"#d02020\"></circle>' +\n"
    "      '<line x1=\"' + x(T.t[picked]) + '\" x2=\"' + x(T.t[picked]) + '\" y1=\"0\" y2=\"' + H + '\" stroke=\"#222\" stroke-dasharray=\"3,2\"></line>' +\n"
    "      '<text x=\"8\" y=\"12\" font-size=\"11\" fill=\"#333\">memory over time: peak ' + fmt(T.pb) + ' at ' + T.pt.toFixed(3) +\n"
    "      ' s (red dot); click to see what was held then</text>';\n"
    "  }\n"
    "  function moment(k) {\n"
    "    picked = k;\n"
    "    const v = DATA.views[T.view], held = new Float64Array(T.rows.length);\n"
    "    for (let p = 0; p <= k; p++) { const c = T.ch[p]; for (let i = 0; i < c.length; i += 2) held[c[i]] = c[i + 1]; }\n"
    "    v.s.fill(0); v.t.fill(0); v.c.fill(0);\n"
    "    for (let r = 0; r < held.length; r++) v.s[T.rows[r]] += held[r];\n"
    "    for (let i = v.p.length - 1; i > 0; i--) { v.t[i] += v.s[i]; v.t[v.p[i]] += v.t[i]; }\n"
    "    v.t[0] += v.s[0];\n"
    "    v.name = 'held at ' + T.t[k].toFixed(3) + ' s (' + fmt(T.b[k]) + ')';\n"
    "    sel.options[T.view].textContent = v.name;\n"
    "  }\n"
    "  strip.addEventListener('click', e => {\n"
    "    const r = strip.getBoundingClientRect(), t = (e.clientX - r.left - 4) / (r.width - 8) * end;\n"
    "    let k = 0; for (let i = 0; i < T.t.length; i++) if (Math.abs(T.t[i] - t) < Math.abs(T.t[k] - t)) k = i;\n"
    "    moment(k); sel.value = T.view; prepare(); drawStrip(); redraw(); });\n"
    "  const resized = window.onresize; window.onresize = () => { drawStrip(); resized(); };\n"
    "  moment(picked); drawStrip(); redraw();\n"
    "})();\n"
    "</script>\n";

typedef struct memory_page {
    moth_cct peak, leaked, allocated; /* the three measures' trees, threads merged */
    const moth_profile *w[3];         /* the profiles weighed by each measure, per thread */
} memory_page;

static const char *const MEASURE_NAMES[3] = {"held at the peak", "still held at the end (leaks)",
                                             "allocated in total"};

/* Each thread's three views, when there are several threads. */
static int thread_views(const memory_page *page, double min_share, moth_sb *out,
                        moth_error *err)
{
    const moth_profile *w0 = page->w[0];
    for (size_t t = 0; w0->nthreads > 1 && t < w0->nthreads; t++) {
        char thread[64], name[320];
        if (w0->threads[t].name)
            snprintf(thread, sizeof thread, "%s", w0->threads[t].name);
        else
            snprintf(thread, sizeof thread, "thread %llu", (unsigned long long)w0->threads[t].id);
        for (int m = 0; m < 3; m++) {
            snprintf(name, sizeof name, "%s: %s", thread, MEASURE_NAMES[m]);
            moth_sb_putc(out, ',');
            if (moth_flame_emit_view(page->w[m], &page->w[m]->threads[t].tree, name, min_share,
                                     out, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* The moment view: every node of t, unfolded, with nothing in it yet. */
static void emit_empty_view(const moth_cct *t, moth_sb *out)
{
    moth_sb_puts(out, "{\"name\":\"at a moment (pick one on the strip)\",\"p\":[-1");
    for (size_t i = 1; i < t->count; i++)
        moth_sb_printf(out, ",%u", t->nodes[i].parent);
    moth_sb_printf(out, "],\"f\":[%d", 0x7fffffff);
    for (size_t i = 1; i < t->count; i++)
        moth_sb_printf(out, ",%u", t->nodes[i].func);
    static const char *const zeros[] = {"t", "s", "c"};
    for (int z = 0; z < 3; z++) {
        moth_sb_printf(out, "],\"%s\":[0", zeros[z]);
        for (size_t i = 1; i < t->count; i++)
            moth_sb_puts(out, ",0");
    }
    moth_sb_puts(out, "]}");
}

static int memory_views(void *ctx, const moth_profile *p, double min_share, moth_sb *out,
                        moth_error *err)
{
    memory_page *page = ctx;
    if (moth_flame_emit_view(p, &page->peak, MEASURE_NAMES[0], min_share, out, err) < 0)
        return -1;
    moth_sb_putc(out, ',');
    if (moth_flame_emit_view(p, &page->leaked, MEASURE_NAMES[1], min_share, out, err) < 0)
        return -1;
    moth_sb_putc(out, ',');
    if (moth_flame_emit_view(p, &page->allocated, MEASURE_NAMES[2], min_share, out, err) < 0)
        return -1;
    moth_sb_putc(out, ',');
    emit_empty_view(&page->allocated, out);
    return thread_views(page, min_share, out, err);
}

/* The node of `merged` (functions merged along paths, keys: function + 1) that row r of the
 * weighted profile w stands on. */
static uint32_t merged_node(const moth_profile *w, const moth_cct *merged, const moth_mem_row *r,
                            uint32_t outside)
{
    const moth_cct *t = &w->threads[r->thread].tree;
    uint32_t node = r->node;
    if (node == MOTH_CCT_ROOT)
        node = moth_cct_find_child(t, MOTH_CCT_ROOT, (uint64_t)outside + 1);
    if (node == MOTH_NODE_NONE || node >= t->count)
        return MOTH_CCT_ROOT;
    uint32_t path[512];
    size_t depth = 0;
    for (uint32_t n = node; n != MOTH_CCT_ROOT && depth < 512; n = t->nodes[n].parent)
        path[depth++] = t->nodes[n].func;
    uint32_t at = MOTH_CCT_ROOT;
    while (depth-- && at != MOTH_NODE_NONE)
        at = moth_cct_find_child(merged, at, (uint64_t)path[depth] + 1);
    return at == MOTH_NODE_NONE ? MOTH_CCT_ROOT : at;
}

/* DATA's "unit" and "timeline" keys. */
static int timeline_data(const moth_profile *p, const moth_profile *w, const moth_cct *merged,
                         moth_sb *data)
{
    const moth_memory *m = &p->memory;
    moth_sb_puts(data, "\"unit\":\"bytes\",\"timeline\":{\"t\":[");
    for (size_t i = 0; i < m->npoints; i++)
        moth_sb_printf(data, "%s%.6f", i ? "," : "", m->points[i].time);
    moth_sb_puts(data, "],\"b\":[");
    for (size_t i = 0; i < m->npoints; i++)
        moth_sb_printf(data, "%s%llu", i ? "," : "", (unsigned long long)m->points[i].bytes);
    moth_sb_puts(data, "],\"h\":[");
    for (size_t i = 0; i < m->npoints; i++)
        moth_sb_printf(data, "%s%llu", i ? "," : "", (unsigned long long)m->points[i].high);
    moth_sb_printf(data, "],\"pt\":%.6f,\"pb\":%llu,\"view\":3,\"rows\":[", m->peak_time,
                   (unsigned long long)m->peak_bytes);
    uint32_t outside = moth_funcs_find(&w->funcs, "~", 0, "(outside Python code)");
    for (size_t i = 0; i < m->nrows; i++)
        moth_sb_printf(data, "%s%u", i ? "," : "",
                       m->rows[i].thread < w->nthreads
                           ? merged_node(w, merged, &m->rows[i], outside)
                           : MOTH_CCT_ROOT);
    moth_sb_puts(data, "],\"ch\":[");
    for (size_t i = 0; i < m->npoints; i++) {
        size_t end = i + 1 < m->npoints ? m->points[i + 1].first_change : m->nchanges;
        moth_sb_puts(data, i ? ",[" : "[");
        for (size_t c = m->points[i].first_change; c < end; c++)
            moth_sb_printf(data, "%s%u,%llu", c > m->points[i].first_change ? "," : "",
                           m->changes[c].row, (unsigned long long)m->changes[c].bytes);
        moth_sb_putc(data, ']');
    }
    moth_sb_puts(data, "]}");
    return 0;
}

int moth_flame_memory_html(const moth_profile *p, const char *title, moth_sb *out,
                           moth_error *err)
{
    if (!p->memory.recorded)
        return moth_fail(err, "this profile has no memory data (profile with --memory)");
    moth_profile w[3];
    static const moth_mem_measure MEASURES[3] = {MOTH_MEM_PEAK, MOTH_MEM_LEAKED,
                                                 MOTH_MEM_ALLOCATED};
    memory_page page;
    memset(&page, 0, sizeof page);
    moth_cct *trees[3] = {&page.peak, &page.leaked, &page.allocated};
    int made = 0, rc = -1;
    moth_sb data = MOTH_SB_INIT;
    for (; made < 3; made++) {
        if (moth_memory_weighted_profile(p, MEASURES[made], &w[made], err) < 0)
            goto done;
        if (moth_profile_merged_tree(&w[made], trees[made], err) < 0) {
            moth_profile_free(&w[made]);
            goto done;
        }
        page.w[made] = &w[made];
    }
    timeline_data(p, &w[2], &page.allocated, &data);
    if (moth_sb_check(&data, err) < 0)
        goto done;
    moth_flame_opts fo = {title, 0, memory_views, &page, data.data, MEMORY_SCRIPT};
    rc = moth_flame_html(&w[2], &fo, out, err);
done:
    for (int i = 0; i < made; i++) {
        moth_profile_free(&w[i]);
        moth_cct_free(trees[i]);
    }
    moth_sb_free(&data);
    return rc;
}
