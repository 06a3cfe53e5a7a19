/* rank_report.c: each function's time across MPI ranks; see rank_report.h. */
#include "rank_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proctree.h"
#include "pstats.h"

/* One function's times, one per rank (0 where the rank never called it). */
typedef struct rank_row {
    uint32_t func;
    uint64_t calls;
    double *times;
    double key; /* the slowest rank's time: the order of the table */
} rank_row;

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int by_key(const void *a, const void *b)
{
    const rank_row *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return (x->func > y->func) - (x->func < y->func);
}

/* The pstats view of the threads of the processes that are rank `rank` (a rank's own
 * children, profiled with --subprocesses, count in it). */
static int fold_rank(const moth_profile *p, int32_t rank, moth_pstats *view, moth_error *err)
{
    moth_pstats_init(view); /* the caller frees it, also when this fails */
    moth_profile part = *p; /* shares everything but the thread list */
    part.threads = moth_calloc(p->nthreads + 1, sizeof *part.threads, err);
    if (!part.threads)
        return -1;
    part.nthreads = 0;
    for (size_t t = 0; t < p->nthreads; t++) {
        uint32_t proc = p->threads[t].process;
        if (proc < p->nprocesses && p->processes[proc].rank == rank)
            part.threads[part.nthreads++] = p->threads[t];
    }
    int rc = moth_pstats_from_profile(view, &part, err);
    free(part.threads);
    return rc;
}

int moth_rank_report(const moth_profile *p, size_t limit, int cumulative, moth_sb *out,
                     moth_error *err)
{
    /* the ranks, in order: ranks[0..nranks-1] */
    int32_t *ranks = moth_calloc(p->nprocesses + 1, sizeof *ranks, err);
    if (!ranks)
        return -1;
    size_t nranks = 0;
    for (size_t i = 0; i < p->nprocesses; i++) {
        int32_t r = p->processes[i].rank;
        size_t k = 0;
        while (k < nranks && ranks[k] != r)
            k++;
        if (r >= 0 && k == nranks)
            ranks[nranks++] = r;
    }
    if (nranks == 0) {
        free(ranks);
        return moth_fail(err, "no MPI ranks in this profile: run each rank under moth "
                         "(mpirun -n N moth profile -o FILE.moth prog.py)");
    }
    for (size_t i = 1; i < nranks; i++) /* insertion sort: few ranks */
        for (size_t k = i; k > 0 && ranks[k - 1] > ranks[k]; k--) {
            int32_t t = ranks[k];
            ranks[k] = ranks[k - 1];
            ranks[k - 1] = t;
        }
    size_t nfuncs = p->funcs.count;
    rank_row *rows = moth_calloc(nfuncs + 1, sizeof *rows, err);
    double *times = rows ? moth_calloc(nfuncs * nranks + 1, sizeof *times, err) : NULL;
    double *rank_total = times ? moth_calloc(nranks, sizeof *rank_total, err) : NULL;
    double *sorted = rank_total ? moth_calloc(nranks, sizeof *sorted, err) : NULL;
    int rc = -1;
    if (!sorted)
        goto done;
    for (size_t f = 0; f < nfuncs; f++) {
        rows[f].func = (uint32_t)f;
        rows[f].times = times + f * nranks;
    }
    for (size_t k = 0; k < nranks; k++) {
        moth_pstats view;
        if (fold_rank(p, ranks[k], &view, err) < 0) {
            moth_pstats_free(&view);
            goto done;
        }
        for (size_t r = 0; r < view.nrows; r++) {
            const moth_pstats_row *row = &view.rows[r];
            if (row->func >= nfuncs)
                continue;
            rows[row->func].calls += row->nc;
            rows[row->func].times[k] = cumulative ? row->ct : row->tt;
            rank_total[k] += row->tt;
        }
        moth_pstats_free(&view);
    }
    size_t used = 0;
    for (size_t f = 0; f < nfuncs; f++) {
        if (!rows[f].calls)
            continue;
        rows[used] = rows[f];
        rows[used].key = 0;
        for (size_t k = 0; k < nranks; k++)
            if (rows[used].times[k] > rows[used].key)
                rows[used].key = rows[used].times[k];
        used++;
    }
    qsort(rows, used, sizeof *rows, by_key);
    size_t slowest = 0;
    for (size_t k = 1; k < nranks; k++)
        if (rank_total[k] > rank_total[slowest])
            slowest = k;
    moth_sb_printf(out, "   %zu MPI rank%s; time in each (own time of every function, s):\n",
                   nranks, nranks == 1 ? "" : "s");
    for (size_t k = 0; k < nranks; k++)
        moth_sb_printf(out, "   rank %4d %12.6f%s\n", ranks[k], rank_total[k],
                       nranks > 1 && k == slowest ? "   <- slowest" : "");
    moth_sb_printf(out, "\n   %s time across ranks, functions by their slowest rank's:\n\n",
                   cumulative ? "cumulative" : "own");
    moth_sb_printf(out, "   %9s %10s %10s %10s %7s  %s\n", "ncalls", "min", "median", "max",
                   "slowest", "filename:lineno(function)");
    for (size_t i = 0; i < used && (!limit || i < limit); i++) {
        memcpy(sorted, rows[i].times, nranks * sizeof *sorted);
        qsort(sorted, nranks, sizeof *sorted, by_double);
        double median = nranks % 2 ? sorted[nranks / 2]
                                   : (sorted[nranks / 2 - 1] + sorted[nranks / 2]) / 2;
        size_t worst = 0;
        for (size_t k = 1; k < nranks; k++)
            if (rows[i].times[k] > rows[i].times[worst])
                worst = k;
        moth_sb_printf(out, "   %9llu %10.6f %10.6f %10.6f %7d  ",
                       (unsigned long long)rows[i].calls, sorted[0], median, sorted[nranks - 1],
                       ranks[worst]);
        moth_func_label(&p->funcs.items[rows[i].func], out);
        moth_sb_putc(out, '\n');
    }
    moth_sb_putc(out, '\n');
    rc = moth_sb_check(out, err);
done:
    free(ranks);
    free(rows);
    free(times);
    free(rank_total);
    free(sorted);
    return rc;
}
