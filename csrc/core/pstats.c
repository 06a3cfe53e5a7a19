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

static void settle_total(moth_pstats *s);

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
    int sampled;               /* the nodes count own samples (moth_cct_node.own_samples) */
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
        if (st->sampled)
            row->own_samples += node->own_samples;
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
    const char *clock = moth_profile_get_meta(p, "clock");
    st.sampled = clock && strcmp(clock, "samples") == 0;
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
    if (rc == 0)
        settle_total(s);
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
    *total_tt = s->total_tt_known ? s->total_tt : tt;
}

/* Fixes the header's total as pstats computes it when it loads statistics. */
static void settle_total(moth_pstats *s)
{
    uint64_t nc, cc;
    s->total_tt_known = 0;
    moth_pstats_totals(s, &nc, &cc, &s->total_tt);
    s->total_tt_known = 1;
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
    row->own_samples += sr->own_samples;
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
    double before = 0, added = 0;
    uint64_t nc, cc;
    moth_pstats_totals(dst, &nc, &cc, &before);
    moth_pstats_totals(src, &nc, &cc, &added);
    for (size_t i = 0; i < src->nrows; i++)
        if (add_row(dst, src, &src->rows[i], 0, err) < 0)
            return -1;
    if (src->callers_are_counts)
        dst->callers_are_counts = 1;
    dst->total_tt = before + added;
    dst->total_tt_known = 1;
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
    out.total_tt = s->total_tt; /* strip_dirs keeps pstats' total as it was */
    out.total_tt_known = s->total_tt_known;
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

/* ---- reading pstats files ---- */

/* A label (file, line, name) from a marshalled 3-tuple; interned into s->funcs. Marshal writes
 * a label met again as a reference to the same tuple, so each tuple is interned once:
 * func_of[value index] remembers it. */
static int read_label(moth_pstats *s, const moth_mread *r, const moth_mvalue *v,
                      uint32_t *func_of, uint32_t *func, moth_error *err)
{
    uint32_t vi = (uint32_t)(v - r->values);
    if (func_of[vi] != MOTH_MAP_ABSENT) {
        *func = func_of[vi];
        return 0;
    }
    if (v->type != MOTH_MV_TUPLE || v->n != 3)
        return moth_fail(err, "not a valid pstats file: a function key is not (file, line, name)");
    const moth_mvalue *file = moth_mread_kid(r, v, 0), *line = moth_mread_kid(r, v, 1),
                      *name = moth_mread_kid(r, v, 2);
    if (file->type != MOTH_MV_STR || line->type != MOTH_MV_INT || name->type != MOTH_MV_STR ||
        line->u.i < 0 || line->u.i > UINT32_MAX)
        return moth_fail(err, "not a valid pstats file: a function key is not (file, line, name)");
    if (moth_funcs_intern_n(&s->funcs, file->u.s, file->n, (uint32_t)line->u.i, name->u.s,
                            name->n, func, err) < 0)
        return -1;
    func_of[vi] = *func;
    return 0;
}

static int read_count(const moth_mvalue *v, uint64_t *out)
{
    if (v->type != MOTH_MV_INT || v->u.i < 0)
        return -1;
    *out = (uint64_t)v->u.i;
    return 0;
}

static int read_seconds(const moth_mvalue *v, double *out)
{
    if (v->type == MOTH_MV_FLOAT)
        *out = v->u.f;
    else if (v->type == MOTH_MV_INT)
        *out = (double)v->u.i;
    else
        return -1;
    return 0;
}

int moth_pstats_read(moth_pstats *s, const void *data, size_t len, moth_error *err)
{
    moth_mread r;
    if (moth_marshal_read(&r, data, len, "pstats file", err) < 0)
        return -1;
    const moth_mvalue *top = moth_mread_value(&r, r.root);
    int rc = -1;
    uint32_t *func_of = moth_malloc((r.nvalues ? r.nvalues : 1) * sizeof *func_of, err);
    if (!func_of)
        goto done;
    for (size_t i = 0; i < r.nvalues; i++)
        func_of[i] = MOTH_MAP_ABSENT;
    if (top->type != MOTH_MV_DICT) {
        moth_fail(err, "not a valid pstats file: it holds no statistics dictionary");
        goto done;
    }
    if (top->n == 0) {
        moth_fail(err, "empty pstats file: no function was profiled");
        goto done;
    }
    int counts_seen = 0, tuples_seen = 0;
    for (uint32_t i = 0; i < top->n; i++) {
        const moth_mvalue *key = moth_mread_kid(&r, top, 2 * i);
        const moth_mvalue *val = moth_mread_kid(&r, top, 2 * i + 1);
        uint32_t func;
        if (read_label(s, &r, key, func_of, &func, err) < 0)
            goto done;
        if (val->type != MOTH_MV_TUPLE || val->n != 5) {
            moth_fail(err, "not a valid pstats file: statistics are not (cc, nc, tt, ct, callers)");
            goto done;
        }
        moth_pstats_row *row = row_of(s, func, err);
        if (!row)
            goto done;
        const moth_mvalue *callers = moth_mread_kid(&r, val, 4);
        uint64_t cc, nc;
        double tt, ct;
        if (read_count(moth_mread_kid(&r, val, 0), &cc) < 0 ||
            read_count(moth_mread_kid(&r, val, 1), &nc) < 0 ||
            read_seconds(moth_mread_kid(&r, val, 2), &tt) < 0 ||
            read_seconds(moth_mread_kid(&r, val, 3), &ct) < 0 || callers->type != MOTH_MV_DICT) {
            moth_fail(err, "not a valid pstats file: statistics are not (cc, nc, tt, ct, callers)");
            goto done;
        }
        row->cc += cc;
        row->nc += nc;
        row->tt += tt;
        row->ct += ct;
        for (uint32_t e = 0; e < callers->n; e++) {
            const moth_mvalue *ck = moth_mread_kid(&r, callers, 2 * e);
            const moth_mvalue *cv = moth_mread_kid(&r, callers, 2 * e + 1);
            uint32_t caller;
            if (read_label(s, &r, ck, func_of, &caller, err) < 0)
                goto done;
            row = moth_pstats_row_for(s, func); /* may have moved */
            moth_pstats_edge *edge = edge_of(s, row, caller, err);
            if (!edge)
                goto done;
            if (cv->type == MOTH_MV_INT) { /* the pure-Python profile module's format */
                uint64_t count;
                if (read_count(cv, &count) < 0) {
                    moth_fail(err, "not a valid pstats file: a negative call count");
                    goto done;
                }
                edge->nc += count;
                edge->cc += count;
                counts_seen = 1;
            } else if (cv->type == MOTH_MV_TUPLE && cv->n == 4) {
                uint64_t enc, ecc;
                double ett, ect;
                if (read_count(moth_mread_kid(&r, cv, 0), &enc) < 0 ||
                    read_count(moth_mread_kid(&r, cv, 1), &ecc) < 0 ||
                    read_seconds(moth_mread_kid(&r, cv, 2), &ett) < 0 ||
                    read_seconds(moth_mread_kid(&r, cv, 3), &ect) < 0) {
                    moth_fail(err, "not a valid pstats file: malformed caller statistics");
                    goto done;
                }
                edge->nc += enc;
                edge->cc += ecc;
                edge->tt += ett;
                edge->ct += ect;
                tuples_seen = 1;
            } else {
                moth_fail(err, "not a valid pstats file: malformed caller statistics");
                goto done;
            }
        }
    }
    if (counts_seen && tuples_seen) {
        moth_fail(err, "not a valid pstats file: callers in two different formats");
        goto done;
    }
    s->callers_are_counts = counts_seen;
    settle_total(s);
    rc = 0;
done:
    free(func_of);
    moth_mread_free(&r);
    return rc;
}

int moth_pstats_read_file(moth_pstats *s, const char *path, moth_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return moth_fail(err, "cannot open %s: %s", path, strerror(errno));
    moth_sb data = MOTH_SB_INIT;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        moth_sb_append(&data, buf, n);
    int failed = ferror(f);
    fclose(f);
    if (failed || moth_sb_check(&data, err) < 0) {
        moth_sb_free(&data);
        return failed ? moth_fail(err, "cannot read %s", path) : -1;
    }
    moth_error inner;
    int rc = moth_pstats_read(s, data.data ? data.data : "", data.len, &inner);
    moth_sb_free(&data);
    if (rc < 0)
        return moth_fail(err, "%s: %s", path, inner.msg);
    return 0;
}
