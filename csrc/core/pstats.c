/* pstats.c: the pstats view: folding trees into it, adding, stripping, writing. See pstats.h. */
#include "pstats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "marshal.h"

void moth_pstats_init(moth_pstats *s)
{
    memset(s, 0, sizeof *s);
}

void moth_pstats_free(moth_pstats *s)
{
    for (size_t i = 0; i < s->nrows; i++)
        free(s->rows[i].callers);
    free(s->rows);
    moth_map_free(&s->row_of_func);
    moth_map_free(&s->edge_of);
    moth_funcs_free(&s->funcs);
    for (size_t i = 0; i < s->nfiles; i++)
        free(s->files[i]);
    free(s->files);
    moth_pstats_init(s);
}

moth_pstats_row *moth_pstats_row_for(const moth_pstats *s, uint32_t func)
{
    uint32_t r = moth_map_get(&s->row_of_func, func, 0);
    return r == MOTH_MAP_ABSENT ? NULL : &s->rows[r];
}

/* The row of func, created (zeroed) when new. */
static moth_pstats_row *row_of(moth_pstats *s, uint32_t func, moth_error *err)
{
    uint32_t r = moth_map_get(&s->row_of_func, func, 0);
    if (r != MOTH_MAP_ABSENT)
        return &s->rows[r];
    if (moth_grow((void **)&s->rows, sizeof *s->rows, &s->rows_cap, s->nrows + 1, err) < 0 ||
        moth_map_put(&s->row_of_func, func, 0, (uint32_t)s->nrows, err) < 0)
        return NULL;
    moth_pstats_row *row = &s->rows[s->nrows++];
    memset(row, 0, sizeof *row);
    row->func = func;
    return row;
}

/* The caller edge of `row` for function `caller`, created (zeroed) when new. */
static moth_pstats_edge *edge_of(moth_pstats *s, moth_pstats_row *row, uint32_t caller,
                                 moth_error *err)
{
    uint32_t e = moth_map_get(&s->edge_of, row->func, caller);
    if (e != MOTH_MAP_ABSENT)
        return &row->callers[e];
    if (moth_grow((void **)&row->callers, sizeof *row->callers, &row->callers_cap,
                  row->ncallers + 1, err) < 0 ||
        moth_map_put(&s->edge_of, row->func, caller, (uint32_t)row->ncallers, err) < 0)
        return NULL;
    moth_pstats_edge *edge = &row->callers[row->ncallers++];
    memset(edge, 0, sizeof *edge);
    edge->caller = caller;
    return edge;
}

/* Integer tick sums of one function (or one edge) while folding: cProfile sums integer ticks
 * and converts once, and so must we for the floats to come out identical. */
typedef struct tick_sums {
    uint64_t tt, ct;
} tick_sums;

typedef struct fold_state {
    moth_pstats *s;
    const moth_cct *tree;
    uint32_t *active;          /* per function: activations on the current path */
    moth_map active_edge;      /* (caller func, callee func) -> count on the current path */
    tick_sums *row_ticks;      /* per row */
    tick_sums **edge_ticks;    /* per row, per edge */
    size_t *edge_ticks_cap;
} fold_state;

static int edge_count_add(moth_map *m, uint32_t g, uint32_t f, int delta, uint32_t *before,
                          moth_error *err)
{
    uint32_t c = moth_map_get(m, g, f);
    if (c == MOTH_MAP_ABSENT)
        c = 0;
    *before = c;
    return moth_map_put(m, g, f, (uint32_t)((int64_t)c + delta), err);
}

static int ensure_edge_ticks(fold_state *st, size_t row, size_t edge, moth_error *err)
{
    size_t old = st->edge_ticks_cap[row];
    if (moth_grow((void **)&st->edge_ticks[row], sizeof **st->edge_ticks,
                  &st->edge_ticks_cap[row], edge + 1, err) < 0)
        return -1;
    memset(st->edge_ticks[row] + old, 0,
           (st->edge_ticks_cap[row] - old) * sizeof **st->edge_ticks);
    return 0;
}

/* Visits the tree depth first, keeping on the path the count of each function and each
 * (caller, callee) pair, which is what decides whether a call is primitive (pstats.h). */
static int fold_tree(fold_state *st, moth_error *err)
{
    const moth_cct *t = st->tree;
    if (t->count <= 1)
        return 0;
    uint32_t *stack = moth_malloc(t->count * sizeof *stack, err);
    if (!stack)
        return -1;
    /* Each stack entry is a node; a node is pushed when entered and popped after its
     * children, which are pushed above it. `entered` marks the second visit. */
    unsigned char *entered = moth_calloc(t->count, 1, err);
    if (!entered) {
        free(stack);
        return -1;
    }
    size_t sp = 0;
    for (uint32_t c = t->nodes[0].first_child; c != MOTH_NODE_NONE; c = t->nodes[c].next_sibling)
        stack[sp++] = c;
    int rc = 0;
    while (sp && rc == 0) {
        uint32_t n = stack[sp - 1];
        const moth_cct_node *node = &t->nodes[n];
        uint32_t f = node->func;
        uint32_t g = node->parent == MOTH_CCT_ROOT ? MOTH_NODE_NONE : t->nodes[node->parent].func;
        if (entered[n]) {
            sp--;
            st->active[f]--;
            uint32_t before;
            if (g != MOTH_NODE_NONE)
                rc = edge_count_add(&st->active_edge, g, f, -1, &before, err);
            continue;
        }
        entered[n] = 1;
        int recursive = st->active[f] > 0;
        st->active[f]++;
        moth_pstats_row *row = row_of(st->s, f, err);
        if (!row) {
            rc = -1;
            break;
        }
        size_t r = (size_t)(row - st->s->rows);
        row->nc += node->calls;
        st->row_ticks[r].tt += node->self;
        if (!recursive) {
            row->cc += node->calls;
            st->row_ticks[r].ct += node->total;
        }
        if (g != MOTH_NODE_NONE) {
            uint32_t before;
            if (edge_count_add(&st->active_edge, g, f, +1, &before, err) < 0) {
                rc = -1;
                break;
            }
            moth_pstats_edge *edge = edge_of(st->s, row, g, err);
            if (!edge) {
                rc = -1;
                break;
            }
            size_t e = (size_t)(edge - row->callers);
            if (ensure_edge_ticks(st, r, e, err) < 0) {
                rc = -1;
                break;
            }
            edge->nc += node->calls;
            st->edge_ticks[r][e].tt += node->self;
            if (before == 0) {
                edge->cc += node->calls;
                st->edge_ticks[r][e].ct += node->total;
            }
        }
        for (uint32_t c = node->first_child; c != MOTH_NODE_NONE; c = t->nodes[c].next_sibling)
            stack[sp++] = c;
    }
    free(entered);
    free(stack);
    return rc;
}

int moth_pstats_from_profile(moth_pstats *s, const moth_profile *p, moth_error *err)
{
    /* The view's function table is a copy of the profile's, so indexes carry over. */
    for (size_t i = 0; i < p->funcs.count; i++) {
        const moth_func *f = &p->funcs.items[i];
        uint32_t index;
        if (moth_funcs_intern(&s->funcs, f->file, f->line, f->name, f->qualname, &index, err) < 0)
            return -1;
    }
    size_t nf = p->funcs.count;
    fold_state st;
    memset(&st, 0, sizeof st);
    st.s = s;
    st.active = moth_calloc(nf ? nf : 1, sizeof *st.active, err);
    st.row_ticks = moth_calloc(nf ? nf : 1, sizeof *st.row_ticks, err);
    st.edge_ticks = moth_calloc(nf ? nf : 1, sizeof *st.edge_ticks, err);
    st.edge_ticks_cap = moth_calloc(nf ? nf : 1, sizeof *st.edge_ticks_cap, err);
    int rc = st.active && st.row_ticks && st.edge_ticks && st.edge_ticks_cap ? 0 : -1;
    for (size_t t = 0; rc == 0 && t < p->nthreads; t++) {
        st.tree = &p->threads[t].tree;
        rc = fold_tree(&st, err);
    }
    if (rc == 0) {
        /* Rows were created in order of first call; put them in function-table order, which
         * is also first-seen order but independent of the walk. */
        for (size_t r = 0; r < s->nrows; r++) {
            moth_pstats_row *row = &s->rows[r];
            row->tt = (double)st.row_ticks[r].tt * p->tick_seconds;
            row->ct = (double)st.row_ticks[r].ct * p->tick_seconds;
            for (size_t e = 0; e < row->ncallers; e++) {
                row->callers[e].tt = (double)st.edge_ticks[r][e].tt * p->tick_seconds;
                row->callers[e].ct = (double)st.edge_ticks[r][e].ct * p->tick_seconds;
            }
        }
    }
    for (size_t r = 0; st.edge_ticks && r < nf; r++)
        free(st.edge_ticks[r]);
    free(st.edge_ticks);
    free(st.edge_ticks_cap);
    free(st.row_ticks);
    free(st.active);
    moth_map_free(&st.active_edge);
    return rc;
}

void moth_pstats_totals(const moth_pstats *s, uint64_t *total_calls, uint64_t *prim_calls,
                        double *total_tt)
{
    uint64_t nc = 0, cc = 0;
    double tt = 0;
    for (size_t i = 0; i < s->nrows; i++) {
        nc += s->rows[i].nc;
        cc += s->rows[i].cc;
        tt += s->rows[i].tt; /* in row order, as pstats sums in dict order */
    }
    *total_calls = nc;
    *prim_calls = cc;
    *total_tt = tt;
}

/* Adds one row's numbers (and its callers, summing edges with the same caller) into dst,
 * whose function table gets src's labels. */
static int add_row(moth_pstats *dst, const moth_pstats *src, const moth_pstats_row *sr,
                   int overwrite_callers, moth_error *err)
{
    const moth_func *f = &src->funcs.items[sr->func];
    uint32_t func;
    if (moth_funcs_intern(&dst->funcs, f->file, f->line, f->name, f->qualname, &func, err) < 0)
        return -1;
    moth_pstats_row *row = row_of(dst, func, err);
    if (!row)
        return -1;
    row->cc += sr->cc;
    row->nc += sr->nc;
    row->tt += sr->tt;
    row->ct += sr->ct;
    for (size_t e = 0; e < sr->ncallers; e++) {
        const moth_pstats_edge *se = &sr->callers[e];
        const moth_func *g = &src->funcs.items[se->caller];
        uint32_t caller;
        if (moth_funcs_intern(&dst->funcs, g->file, g->line, g->name, g->qualname, &caller,
                              err) < 0)
            return -1;
        row = moth_pstats_row_for(dst, func); /* rows may have moved */
        moth_pstats_edge *edge = edge_of(dst, row, caller, err);
        if (!edge)
            return -1;
        if (overwrite_callers) {
            edge->nc = se->nc;
            edge->cc = se->cc;
            edge->tt = se->tt;
            edge->ct = se->ct;
        } else {
            edge->nc += se->nc;
            edge->cc += se->cc;
            edge->tt += se->tt;
            edge->ct += se->ct;
        }
    }
    return 0;
}

int moth_pstats_add(moth_pstats *dst, const moth_pstats *src, moth_error *err)
{
    for (size_t i = 0; i < src->nrows; i++)
        if (add_row(dst, src, &src->rows[i], 0, err) < 0)
            return -1;
    if (src->callers_are_counts)
        dst->callers_are_counts = 1;
    for (size_t i = 0; i < src->nfiles; i++) {
        if (moth_grow((void **)&dst->files, sizeof *dst->files, &dst->files_cap,
                      dst->nfiles + 1, err) < 0 ||
            !(dst->files[dst->nfiles] = moth_strdup(src->files[i], err)))
            return -1;
        dst->nfiles++;
    }
    return 0;
}

static const char *basename_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int moth_pstats_strip_dirs(moth_pstats *s, moth_error *err)
{
    /* pstats.strip_dirs: every label loses its directories; rows that then share a label are
     * added together; within one row, callers that collapse onto one label replace each other
     * (a dict assignment in pstats), and across merged rows they add up. */
    moth_pstats out;
    moth_pstats_init(&out);
    out.callers_are_counts = s->callers_are_counts;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->nrows; i++) {
        const moth_pstats_row *sr = &s->rows[i];
        const moth_func *f = &s->funcs.items[sr->func];
        uint32_t func;
        rc = moth_funcs_intern(&out.funcs, basename_of(f->file), f->line, f->name, f->qualname,
                               &func, err);
        if (rc < 0)
            break;
        int existed = moth_pstats_row_for(&out, func) != NULL;
        moth_pstats_row *row = row_of(&out, func, err);
        if (!row) {
            rc = -1;
            break;
        }
        row->cc += sr->cc;
        row->nc += sr->nc;
        row->tt += sr->tt;
        row->ct += sr->ct;
        /* Stripped callers of this row alone, later ones replacing earlier ones. */
        moth_pstats single;
        moth_pstats_init(&single);
        for (size_t e = 0; rc == 0 && e < sr->ncallers; e++) {
            const moth_pstats_edge *se = &sr->callers[e];
            const moth_func *g = &s->funcs.items[se->caller];
            uint32_t caller;
            rc = moth_funcs_intern(&out.funcs, basename_of(g->file), g->line, g->name,
                                   g->qualname, &caller, err);
            if (rc < 0)
                break;
            uint32_t k = moth_map_get(&single.edge_of, caller, 0);
            if (k == MOTH_MAP_ABSENT) {
                k = (uint32_t)single.nrows;
                moth_pstats_row tmp;
                memset(&tmp, 0, sizeof tmp);
                if (moth_grow((void **)&single.rows, sizeof *single.rows, &single.rows_cap,
                              single.nrows + 1, err) < 0 ||
                    moth_map_put(&single.edge_of, caller, 0, k, err) < 0) {
                    rc = -1;
                    break;
                }
                single.rows[single.nrows++] = tmp;
            }
            /* reuse a row struct as a holder for one edge */
            moth_pstats_row *h = &single.rows[k];
            h->func = caller;
            h->nc = se->nc;
            h->cc = se->cc;
            h->tt = se->tt;
            h->ct = se->ct;
        }
        for (size_t k = 0; rc == 0 && k < single.nrows; k++) {
            const moth_pstats_row *h = &single.rows[k];
            row = moth_pstats_row_for(&out, func);
            moth_pstats_edge *edge = edge_of(&out, row, h->func, err);
            if (!edge) {
                rc = -1;
                break;
            }
            if (existed) {
                edge->nc += h->nc;
                edge->cc += h->cc;
                edge->tt += h->tt;
                edge->ct += h->ct;
            } else {
                edge->nc = h->nc;
                edge->cc = h->cc;
                edge->tt = h->tt;
                edge->ct = h->ct;
            }
        }
        free(single.rows);
        moth_map_free(&single.edge_of);
    }
    if (rc < 0) {
        moth_pstats_free(&out);
        return -1;
    }
    out.files = s->files;
    out.nfiles = s->nfiles;
    out.files_cap = s->files_cap;
    s->files = NULL;
    s->nfiles = s->files_cap = 0;
    moth_pstats_free(s);
    *s = out;
    return 0;
}

void moth_func_label(const moth_func *f, moth_sb *out)
{
    if (f->line == 0 && strcmp(f->file, "~") == 0) {
        size_t n = strlen(f->name);
        if (n >= 2 && f->name[0] == '<' && f->name[n - 1] == '>') {
            moth_sb_putc(out, '{');
            moth_sb_append(out, f->name + 1, n - 2);
            moth_sb_putc(out, '}');
        } else {
            moth_sb_puts(out, f->name);
        }
        return;
    }
    moth_sb_printf(out, "%s:%u(%s)", f->file, f->line, f->name);
}

int moth_pstats_write(const moth_pstats *s, moth_sb *out, moth_error *err)
{
    moth_marshal_dict_begin(out);
    for (size_t i = 0; i < s->nrows; i++) {
        const moth_pstats_row *row = &s->rows[i];
        const moth_func *f = &s->funcs.items[row->func];
        moth_marshal_tuple(out, 3);
        moth_marshal_str(out, f->file);
        moth_marshal_uint(out, f->line);
        moth_marshal_str(out, f->name);
        moth_marshal_tuple(out, 5);
        moth_marshal_uint(out, row->cc);
        moth_marshal_uint(out, row->nc);
        moth_marshal_float(out, row->tt);
        moth_marshal_float(out, row->ct);
        moth_marshal_dict_begin(out);
        for (size_t e = 0; e < row->ncallers; e++) {
            const moth_pstats_edge *edge = &row->callers[e];
            const moth_func *g = &s->funcs.items[edge->caller];
            moth_marshal_tuple(out, 3);
            moth_marshal_str(out, g->file);
            moth_marshal_uint(out, g->line);
            moth_marshal_str(out, g->name);
            if (s->callers_are_counts) {
                moth_marshal_uint(out, edge->nc);
            } else {
                moth_marshal_tuple(out, 4);
                moth_marshal_uint(out, edge->nc);
                moth_marshal_uint(out, edge->cc);
                moth_marshal_float(out, edge->tt);
                moth_marshal_float(out, edge->ct);
            }
        }
        moth_marshal_dict_end(out);
    }
    moth_marshal_dict_end(out);
    return moth_sb_check(out, err);
}

int moth_pstats_write_file(const moth_pstats *s, const char *path, moth_error *err)
{
    moth_sb data = MOTH_SB_INIT;
    if (moth_pstats_write(s, &data, err) < 0) {
        moth_sb_free(&data);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        int e = errno;
        moth_sb_free(&data);
        return moth_fail(err, "cannot write %s: %s", path, strerror(e));
    }
    size_t len = data.len;
    size_t n = fwrite(data.data, 1, len, f);
    int closed = fclose(f);
    moth_sb_free(&data);
    if (n != len || closed != 0)
        return moth_fail(err, "cannot write %s: %s", path, strerror(errno));
    return 0;
}
