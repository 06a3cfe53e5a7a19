/* flame.c: the flame graph page; see flame.h. The page's script is below as one C string. */
#include "flame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"
#include "proctree.h"

static const char PAGE_HEAD[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>";

static const char PAGE_STYLE[] =
    "</title>\n<style>\n"
    "body{font:13px system-ui,sans-serif;margin:0;background:#fafafa;color:#222;overflow:hidden}\n"
    "#bar{display:flex;gap:10px;align-items:center;padding:8px 12px;background:#fff;"
    "border-bottom:1px solid #ddd;position:sticky;top:0;z-index:2;flex-wrap:wrap}\n"
    "#bar h1{font-size:15px;margin:0 12px 0 0}\n"
    "#info{color:#555;margin-left:auto}\n"
    "#pane{overflow-y:scroll;overflow-x:hidden}\n"
    "#graph{display:block}\n"
    "#graph rect{stroke:#fff;stroke-width:0.5}\n"
    "#graph text{font:11px monospace;pointer-events:none;fill:#111}\n"
    "#graph g.match rect{fill:#d040c0!important}\n"
    "#graph g.above rect{opacity:0.45}\n"
    "#tip{position:fixed;display:none;background:#fffde8;border:1px solid #999;padding:6px 8px;"
    "font:12px monospace;white-space:pre;pointer-events:none;z-index:3;max-width:70vw;"
    "overflow:hidden}\n"
    "</style></head><body>\n"
    "<div id=\"bar\"><h1 id=\"title\"></h1>"
    "<label id=\"procl\" hidden>process <select id=\"proc\"></select></label>"
    "<label>thread <select id=\"thread\"></select></label>"
    "<label><input type=\"checkbox\" id=\"icicle\"> icicle</label>"
    "<input id=\"search\" placeholder=\"search (regex)\" size=\"24\">"
    "<button id=\"reset\">reset zoom</button><span id=\"info\"></span></div>\n"
    "<div id=\"pane\"><svg id=\"graph\" xmlns=\"http://www.w3.org/2000/svg\"></svg></div>"
    "<div id=\"tip\"></div>\n"
    "<script>const DATA = ";

static const char PAGE_SCRIPT[] =
    ";</script>\n<script>\n"
    "'use strict';\n"
    "const ROW = 18, svg = document.getElementById('graph'), tip = document.getElementById('tip');\n"
    "const sel = document.getElementById('thread'), search = document.getElementById('search');\n"
    "const info = document.getElementById('info'), icicle = document.getElementById('icicle');\n"
    "document.getElementById('title').textContent = DATA.title;\n"
    "document.title = DATA.title;\n"
    "/* A file of many processes: the process selector picks which views the thread selector\n"
    "   offers (each view's q is its process, -1 for every process). */\n"
    "const psel = document.getElementById('proc');\n"
    "if (DATA.procs) { document.getElementById('procl').hidden = false;\n"
    "  ['all processes'].concat(DATA.procs).forEach((n, i) => { const o = document.createElement('option');\n"
    "    o.value = i - 1; o.textContent = n; psel.appendChild(o); }); }\n"
    "function fillThreads() { const q = DATA.procs ? +psel.value : -1; sel.innerHTML = '';\n"
    "  DATA.views.forEach((v, i) => { if ((v.q === undefined ? -1 : v.q) !== q) return;\n"
    "    const o = document.createElement('option'); o.value = i; o.textContent = v.name; sel.appendChild(o); }); }\n"
    "fillThreads();\n"
    "let view, kids, zoom = 0;\n"
    "function prepare() {\n"
    "  view = DATA.views[+sel.value];\n"
    "  kids = view.p.map(() => []);\n"
    "  for (let i = 1; i < view.p.length; i++) kids[view.p[i]].push(i);\n"
    "  for (const k of kids) k.sort((a, b) => view.t[b] - view.t[a]);\n"
    "  zoom = 0;\n"
    "}\n"
    "function nameOf(i) { const f = view.f[i];\n"
    "  return f < 0 ? '(' + (-f) + ' small)' : f === 0x7fffffff ? view.name : DATA.funcs[f].n; }\n"
    "function whereOf(i) { const f = view.f[i];\n"
    "  if (f < 0 || f === 0x7fffffff) return ''; const d = DATA.funcs[f];\n"
    "  return d.l ? d.file + ':' + d.l : d.file; }\n"
    "function hash(s) { let h = 0; for (let i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) | 0;\n"
    "  return Math.abs(h); }\n"
    "function colour(i) { const f = view.f[i]; const share = view.s[i] / (view.t[0] || 1);\n"
    "  if (f < 0) return '#c8c8c8'; if (f === 0x7fffffff) return '#b0b8c8';\n"
    "  const d = DATA.funcs[f]; const builtin = d.file === '~';\n"
    "  const hue = builtin ? 200 : hash(d.file) % 50; const light = 72 - 30 * Math.sqrt(Math.min(1, share * 4));\n"
    "  return 'hsl(' + hue + ',' + (builtin ? 35 : 80) + '%,' + light + '%)'; }\n"
    "function fmt(s) { if (DATA.unit === 'bytes') { let u = 0; const U = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];\n"
    "    while (s >= 1024 && u < 4) { s /= 1024; u++; } return (u ? s.toFixed(1) : s.toFixed(0)) + ' ' + U[u]; }\n"
    "  return s >= 1 ? s.toFixed(3) + ' s' : s >= 1e-3 ? (s * 1e3).toFixed(3) + ' ms' : (s * 1e6).toFixed(1) + ' us'; }\n"
    "function draw() {\n"
    "  const width = Math.max(300, pane.clientWidth);\n"
    "  const total = view.t[zoom] || 1;\n"
    "  let rx = null; try { rx = search.value ? new RegExp(search.value, 'i') : null; } catch (e) { rx = null; }\n"
    "  const chain = []; for (let a = zoom; a >= 0; a = a ? view.p[a] : -1) { chain.push(a); if (!a) break; }\n"
    "  chain.reverse();\n"
    "  const boxes = [];\n"
    "  chain.forEach((n, depth) => boxes.push([n, 0, width, depth, n !== zoom]));\n"
    "  const stack = [[zoom, 0, width, chain.length - 1]];\n"
    "  let maxDepth = chain.length - 1, matched = 0;\n"
    "  while (stack.length) { const [n, x, w, depth] = stack.pop();\n"
    "    if (depth > maxDepth) maxDepth = depth;\n"
    "    if (n !== zoom) boxes.push([n, x, w, depth, false]);\n"
    "    let cx = x; for (const c of kids[n]) { const cw = view.t[c] / total * width;\n"
    "      if (cw >= 0.3) stack.push([c, cx, cw, depth + 1]); cx += cw; } }\n"
    "  const height = (maxDepth + 1) * ROW + 4;\n"
    "  svg.setAttribute('width', width); svg.setAttribute('height', height);\n"
    "  const parts = [], matches = new Set();\n"
    "  if (rx) for (let i = 1; i < view.p.length; i++) if (rx.test(nameOf(i)) || rx.test(whereOf(i))) matches.add(i);\n"
    "  for (const [n, x, w, depth, above] of boxes) {\n"
    "    const y = icicle.checked ? depth * ROW : height - (depth + 1) * ROW;\n"
    "    const name = nameOf(n); const m = matches.has(n);\n"
    "    const label = w > 30 ? name.slice(0, Math.floor((w - 6) / 6.6)) : '';\n"
    "    parts.push('<g class=\"' + (m ? 'match' : '') + (above ? ' above' : '') + '\" data-i=\"' + n + '\">' +\n"
    "      '<rect x=\"' + x.toFixed(2) + '\" y=\"' + y + '\" width=\"' + w.toFixed(2) + '\" height=\"' + (ROW - 1) +\n"
    "      '\" fill=\"' + colour(n) + '\" data-name=\"' + esc(name) + '\" data-total=\"' + view.t[n] + '\"></rect>' +\n"
    "      (label ? '<text x=\"' + (x + 3).toFixed(2) + '\" y=\"' + (y + 12) + '\">' + esc(label) + '</text>' : '') + '</g>'); }\n"
    "  svg.innerHTML = parts.join('');\n"
    "  for (const i of matches) { let a = view.p[i], nested = false;\n"
    "    while (a > 0) { if (matches.has(a)) { nested = true; break; } a = view.p[a]; }\n"
    "    if (!nested) matched += view.t[i]; }\n"
    "  info.textContent = (rx ? 'matched: ' + (100 * matched / (view.t[0] || 1)).toFixed(1) + '% of the total; ' : '') +\n"
    "    'total ' + fmt(view.t[0]) + (zoom ? '; zoomed on ' + nameOf(zoom) : '');\n"
    "}\n"
    "function lines(i) { const f = view.f[i]; if (f < 0 || f === 0x7fffffff || !DATA.funcs[f].ln) return '';\n"
    "  return '\\nhottest lines:' + DATA.funcs[f].ln.map(l => '\\n  line ' + l[0] + ': ' + fmt(l[2]) + ', ' + l[1] + ' hits').join(''); }\n"
    "function esc(s) { return String(s).replace(/[&<>\"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','\"':'&quot;'})[c]); }\n"
    "svg.addEventListener('mousemove', e => { const g = e.target.closest('g'); if (!g) { tip.style.display = 'none'; return; }\n"
    "  const i = +g.dataset.i, T = view.t[0] || 1;\n"
    "  tip.textContent = nameOf(i) + '\\n' + whereOf(i) + (view.c[i] ? (DATA.unit === 'bytes' ? '\\nblocks: ' : '\\ncalls: ') + view.c[i] : '') +\n"
    "    '\\ntotal: ' + fmt(view.t[i]) + ' (' + (100 * view.t[i] / T).toFixed(2) + '%)' +\n"
    "    '\\nown:   ' + fmt(view.s[i]) + ' (' + (100 * view.s[i] / T).toFixed(2) + '%)' + lines(i);\n"
    "  tip.style.display = 'block';\n"
    "  tip.style.left = Math.min(e.clientX + 12, window.innerWidth - tip.offsetWidth - 4) + 'px';\n"
    "  tip.style.top = (e.clientY + 14) + 'px'; });\n"
    "svg.addEventListener('mouseleave', () => { tip.style.display = 'none'; });\n"
    "/* A deep profile is taller than the window: the graph scrolls in a pane below the bar,\n"
    "   which opens on the root and the widest frames (the bottom of a flame graph, the top of\n"
    "   an icicle graph). */\n"
    "const pane = document.getElementById('pane'), bar = document.getElementById('bar');\n"
    "function fitPane() { pane.style.height = Math.max(100, window.innerHeight - bar.offsetHeight) + 'px'; }\n"
    "function showRoot() { pane.scrollTop = icicle.checked ? 0 : pane.scrollHeight; }\n"
    "function redraw() { fitPane(); draw(); showRoot(); }\n"
    "svg.addEventListener('click', e => { const g = e.target.closest('g'); if (!g) return;\n"
    "  zoom = +g.dataset.i; redraw(); });\n"
    "document.getElementById('reset').onclick = () => { zoom = 0; redraw(); };\n"
    "sel.onchange = () => { prepare(); redraw(); };\n"
    "psel.onchange = () => { fillThreads(); prepare(); redraw(); };\n"
    "search.oninput = draw; icicle.onchange = redraw;\n"
    "window.onresize = () => { fitPane(); draw(); };\n"
    "icicle.checked = location.hash === '#icicle';\n"
    "prepare(); redraw();\n"
    "</script>\n";

static const char PAGE_END[] = "</body></html>\n";

/* One view (all threads, or one thread) as parallel arrays: parent, function, total, self,
 * calls. Node 0 is the root; nodes narrower than min_share of the total fold into one
 * "(N small)" node per parent (function -N). */
int moth_flame_emit_view(const moth_profile *p, const moth_cct *t, const char *name,
                         double min_share, moth_sb *out, moth_error *err)
{
    double total = 0;
    for (uint32_t c = t->count ? t->nodes[0].first_child : MOTH_NODE_NONE; c != MOTH_NODE_NONE;
         c = t->nodes[c].next_sibling)
        total += (double)t->nodes[c].total;
    double threshold = total * min_share;
    /* out_index[i]: the node's index in the page's arrays, or MOTH_NODE_NONE when folded */
    uint32_t *out_index = moth_malloc((t->count ? t->count : 1) * sizeof *out_index, err);
    moth_sb par = MOTH_SB_INIT, fun = MOTH_SB_INIT, tot = MOTH_SB_INIT, slf = MOTH_SB_INIT,
            cal = MOTH_SB_INIT;
    if (!out_index)
        return -1;
    for (size_t i = 0; i < t->count; i++)
        out_index[i] = MOTH_NODE_NONE; /* folded, or under something folded */
    uint32_t next = 1;
    out_index[0] = 0;
    moth_sb_printf(&par, "-1");
    moth_sb_printf(&fun, "%d", 0x7fffffff); /* the root: the view itself */
    moth_sb_printf(&tot, "%.9g", total * p->tick_seconds);
    moth_sb_printf(&slf, "0");
    moth_sb_printf(&cal, "0");
    for (uint32_t n = 0; n < t->count; n++) {
        if (out_index[n] == MOTH_NODE_NONE)
            continue;
        /* children of n: kept ones get an index; small ones add up into one box */
        uint64_t small_total = 0, small_self = 0, small_calls = 0;
        int small_count = 0;
        for (uint32_t c = t->nodes[n].first_child; c != MOTH_NODE_NONE; c = t->nodes[c].next_sibling) {
            const moth_cct_node *node = &t->nodes[c];
            if ((double)node->total < threshold) {
                small_total += node->total;
                small_self += node->total; /* what is folded counts as the box's own */
                small_calls += node->calls;
                small_count++;
                continue; /* its subtree stays unnumbered: folded with it */
            }
            out_index[c] = next++;
            moth_sb_printf(&par, ",%u", out_index[n]);
            moth_sb_printf(&fun, ",%u", node->func);
            moth_sb_printf(&tot, ",%.9g", (double)node->total * p->tick_seconds);
            moth_sb_printf(&slf, ",%.9g", (double)node->self * p->tick_seconds);
            moth_sb_printf(&cal, ",%llu", (unsigned long long)node->calls);
        }
        if (small_count) {
            next++;
            moth_sb_printf(&par, ",%u", out_index[n]);
            moth_sb_printf(&fun, ",%d", -small_count);
            moth_sb_printf(&tot, ",%.9g", (double)small_total * p->tick_seconds);
            moth_sb_printf(&slf, ",%.9g", (double)small_self * p->tick_seconds);
            moth_sb_printf(&cal, ",%llu", (unsigned long long)small_calls);
        }
    }
    free(out_index);
    moth_sb_puts(out, "{\"name\":");
    moth_json_string(out, name);
    moth_sb_printf(out, ",\"p\":[%s],\"f\":[%s],\"t\":[%s],\"s\":[%s],\"c\":[%s]}", par.data,
                   fun.data, tot.data, slf.data, cal.data);
    int rc = moth_sb_check(&par, err) | moth_sb_check(&fun, err) | moth_sb_check(&tot, err) |
             moth_sb_check(&slf, err) | moth_sb_check(&cal, err);
    moth_sb_free(&par);
    moth_sb_free(&fun);
    moth_sb_free(&tot);
    moth_sb_free(&slf);
    moth_sb_free(&cal);
    return rc ? -1 : 0;
}

/* A view of process q's (the page's process selector: -1 for every process's). */
static int emit_process_view(const moth_profile *p, const moth_cct *t, const char *name,
                             double min_share, long q, moth_sb *out, moth_error *err)
{
    if (moth_flame_emit_view(p, t, name, min_share, out, err) < 0)
        return -1;
    if (out->len && !out->failed && out->data[out->len - 1] == '}') {
        out->len--; /* the view's object stays open for its process */
        moth_sb_printf(out, ",\"q\":%ld}", q);
    }
    return moth_sb_check(out, err);
}

/* A file of several processes: for each, its threads merged, then each of its threads. */
static int process_views(const moth_profile *p, double min_share, moth_sb *out, moth_error *err)
{
    int rc = 0;
    for (size_t q = 0; rc == 0 && q < p->nprocesses; q++) {
        moth_cct merged;
        size_t threads = 0;
        if (moth_cct_init(&merged, err) < 0)
            return -1;
        for (size_t t = 0; rc == 0 && t < p->nthreads; t++)
            if (p->threads[t].process == q) {
                threads++;
                rc = moth_cct_add_by_func(&merged, &p->threads[t].tree, err);
            }
        char name[64];
        snprintf(name, sizeof name, "all threads (%zu)", threads);
        moth_sb_putc(out, ',');
        if (rc == 0)
            rc = emit_process_view(p, &merged, name, min_share, (long)q, out, err);
        moth_cct_free(&merged);
        for (size_t t = 0; rc == 0 && threads > 1 && t < p->nthreads; t++) {
            if (p->threads[t].process != q)
                continue;
            snprintf(name, sizeof name, "thread %llu", (unsigned long long)p->threads[t].id);
            moth_sb_putc(out, ',');
            rc = emit_process_view(p, &p->threads[t].tree,
                                   p->threads[t].name ? p->threads[t].name : name, min_share,
                                   (long)q, out, err);
        }
    }
    return rc;
}

/* The processes' names for the selector: pid, how, command. */
static void process_names(const moth_profile *p, moth_sb *out)
{
    moth_sb_puts(out, ",\"procs\":[");
    for (size_t q = 0; q < p->nprocesses; q++) {
        const moth_process *proc = &p->processes[q];
        moth_sb name = MOTH_SB_INIT;
        moth_sb_printf(&name, "%lld", (long long)proc->pid);
        if (proc->rank >= 0)
            moth_sb_printf(&name, " rank %d", proc->rank);
        else if (proc->how)
            moth_sb_printf(&name, " %s", proc->how);
        if (proc->command)
            moth_sb_printf(&name, ": %.60s", proc->command);
        if (q)
            moth_sb_putc(out, ',');
        moth_json_string(out, name.data && !name.failed ? name.data : "?");
        moth_sb_drop(&name, out);
    }
    moth_sb_putc(out, ']');
}

/* The time profile's views: all threads merged, then each thread (of each process, when
 * there are several). */
static int thread_views(const moth_profile *p, double min_share, moth_sb *out, moth_error *err)
{
    moth_cct merged;
    if (moth_profile_merged_tree(p, &merged, err) < 0)
        return -1;
    int rc = moth_flame_emit_view(p, &merged, p->nthreads == 1 ? "all threads (1)" : "all threads",
                                  min_share, out, err);
    moth_cct_free(&merged);
    if (p->nprocesses > 1)
        return rc == 0 ? process_views(p, min_share, out, err) : rc;
    for (size_t t = 0; rc == 0 && p->nthreads > 1 && t < p->nthreads; t++) {
        char fallback[64];
        snprintf(fallback, sizeof fallback, "thread %llu", (unsigned long long)p->threads[t].id);
        moth_sb_putc(out, ',');
        rc = moth_flame_emit_view(p, &p->threads[t].tree,
                                  p->threads[t].name ? p->threads[t].name : fallback, min_share,
                                  out, err);
    }
    return rc;
}

int moth_flame_html(const moth_profile *p, const moth_flame_opts *o, moth_sb *out,
                    moth_error *err)
{
    const char *title = o && o->title ? o->title : "moth flame graph";
    double min_share = o && o->min_share > 0 ? o->min_share : 1.0 / 20000;
    moth_sb_puts(out, PAGE_HEAD);
    /* the <title>: HTML-escaped */
    for (const char *c = title; *c; c++) {
        if (*c == '<')
            moth_sb_puts(out, "&lt;");
        else if (*c == '>')
            moth_sb_puts(out, "&gt;");
        else if (*c == '&')
            moth_sb_puts(out, "&amp;");
        else
            moth_sb_putc(out, *c);
    }
    moth_sb_puts(out, PAGE_STYLE);
    moth_sb_puts(out, "{\"title\":");
    moth_json_string(out, title);
    moth_sb_puts(out, ",\"funcs\":[");
    for (size_t i = 0; i < p->funcs.count; i++) {
        const moth_func *f = &p->funcs.items[i];
        moth_sb name = MOTH_SB_INIT;
        moth_func_display_name(f, &name);
        moth_sb_puts(out, i ? ",{\"n\":" : "{\"n\":");
        moth_json_string(out, name.data ? name.data : "");
        moth_sb_drop(&name, out);
        moth_sb_puts(out, ",\"file\":");
        moth_json_string(out, f->file);
        moth_sb_printf(out, ",\"l\":%u", f->line);
        /* line-profiled: its three costliest lines, for the tooltip */
        const moth_func_lines *fl = moth_lines_of(&p->lines, (uint32_t)i);
        if (fl && fl->nlines) {
            size_t top[3] = {SIZE_MAX, SIZE_MAX, SIZE_MAX};
            for (size_t k = 0; k < fl->nlines; k++)
                for (int r = 0; r < 3; r++)
                    if (top[r] == SIZE_MAX || fl->lines[k].time > fl->lines[top[r]].time) {
                        for (int q = 2; q > r; q--)
                            top[q] = top[q - 1];
                        top[r] = k;
                        break;
                    }
            moth_sb_puts(out, ",\"ln\":[");
            for (int r = 0; r < 3 && top[r] != SIZE_MAX; r++)
                moth_sb_printf(out, "%s[%u,%llu,%.9g]", r ? "," : "", fl->lines[top[r]].line,
                               (unsigned long long)fl->lines[top[r]].hits,
                               (double)fl->lines[top[r]].time * p->tick_seconds);
            moth_sb_putc(out, ']');
        }
        moth_sb_putc(out, '}');
    }
    moth_sb_puts(out, "],\"views\":[");
    int rc = o && o->views ? o->views(o->views_ctx, p, min_share, out, err) : thread_views(p, min_share, out, err);
    if (rc < 0)
        return -1;
    moth_sb_puts(out, "]");
    if (!(o && o->views) && p->nprocesses > 1)
        process_names(p, out);
    if (o && o->data) {
        moth_sb_putc(out, ',');
        moth_sb_puts(out, o->data);
    }
    moth_sb_puts(out, "}");
    moth_sb_puts(out, PAGE_SCRIPT);
    if (o && o->script)
        moth_sb_puts(out, o->script);
    moth_sb_puts(out, PAGE_END);
    return moth_sb_check(out, err);
}
