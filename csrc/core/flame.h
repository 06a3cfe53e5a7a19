/*
 * flame.h: an interactive flame graph as one self-contained HTML file.
 *
 * Drawn from the calling-context trees exactly (not reconstructed from caller edges): every
 * box is a call path, as wide as its total time. The page has a thread selector (all threads
 * merged, or one), flame and icicle views, a tooltip with the function, file:line, calls, own
 * and total time and their shares, click to zoom (and back), and a search that highlights
 * matching frames and tells their share of the total. No server, no network: the data and the
 * script are inside the file.
 *
 * Large profiles stay light: nodes narrower than `min_share` of their view's total are folded
 * into one "(N small)" box per parent, so the page never draws more than a few tens of
 * thousands of boxes whatever the size of the profile.
 */
#ifndef MOTH_FLAME_H
#define MOTH_FLAME_H

#include "profile.h"
#include "strbuf.h"

typedef struct moth_flame_opts {
    const char *title;   /* shown at the top; NULL: "moth flame graph" */
    double min_share;    /* 0: the default, 1/20000 of the view's total */
    /* Other pictures than time by thread (the memory profile's: flame_memory.c). views writes
     * the page's views (moth_flame_emit_view, comma separated) instead of the threads'; data
     * is more keys of the page's data ("unit":"bytes" draws bytes); script runs after the
     * page's own. NULL: the time profile's page. */
    int (*views)(void *ctx, const moth_profile *p, double min_share, moth_sb *out,
                 moth_error *err);
    void *views_ctx;
    const char *data;
    const char *script;
} moth_flame_opts;

int moth_flame_html(const moth_profile *p, const moth_flame_opts *o, moth_sb *out,
                    moth_error *err);

/* One view of the page: the tree t of p's functions, its nodes narrower than min_share of its
 * total folded into one "(N small)" box per parent. */
int moth_flame_emit_view(const moth_profile *p, const moth_cct *t, const char *name,
                         double min_share, moth_sb *out, moth_error *err);

/* The memory profile of p (p->memory) as the page: views of what was held at the peak, still
 * held at the end and allocated in total, and a strip of memory over time whose click shows
 * what was held at that moment (flame_memory.c). -1 with a message when p has no memory data. */
int moth_flame_memory_html(const moth_profile *p, const char *title, moth_sb *out,
                           moth_error *err);

#endif
