/* proctree.c: the processes of a profile as a tree; see proctree.h. */
#include "proctree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

long moth_proctree_parent(const moth_profile *p, size_t i)
{
    const moth_process *me = &p->processes[i];
    if (me->parent_pid <= 0)
        return -1;
    for (size_t j = 0; j < p->nprocesses; j++)
        if (j != i && p->processes[j].pid == me->parent_pid &&
            same_text(p->processes[j].session, me->session))
            return (long)j;
    return -1;
}

/* Appends i and its subtree to order (depth-first, children by index). `placed` stops a
 * cycle (pids reused across sessions of a damaged file) from looping. */
static void place(const moth_profile *p, const long *parent, size_t i, size_t d, size_t *order,
                  size_t *depth, size_t *n, unsigned char *placed)
{
    if (placed[i])
        return;
    placed[i] = 1;
    order[*n] = i;
    depth[(*n)++] = d;
    for (size_t c = 0; c < p->nprocesses; c++)
        if (parent[c] == (long)i)
            place(p, parent, c, d + 1, order, depth, n, placed);
}

void moth_proctree_order(const moth_profile *p, size_t *order, size_t *depth)
{
    size_t np = p->nprocesses, n = 0;
    if (!np)
        return;
    long *parent = moth_calloc(np, sizeof *parent, NULL);
    unsigned char *placed = moth_calloc(np, 1, NULL);
    if (!parent || !placed) {
        /* out of memory: run order, flat */
        for (size_t i = 0; i < np; i++) {
            order[i] = i;
            depth[i] = 0;
        }
        free(parent);
        free(placed);
        return;
    }
    for (size_t i = 0; i < np; i++)
        parent[i] = moth_proctree_parent(p, i);
    for (size_t i = 0; i < np; i++)
        if (parent[i] < 0)
            place(p, parent, i, 0, order, depth, &n, placed);
    for (size_t i = 0; i < np; i++) /* in a cycle only: shown at the top */
        if (!placed[i])
            place(p, parent, i, 0, order, depth, &n, placed);
    free(parent);
    free(placed);
}

double moth_proctree_seconds(const moth_profile *p, size_t i)
{
    uint64_t ticks = 0;
    for (size_t t = 0; t < p->nthreads; t++) {
        const moth_cct *tree = &p->threads[t].tree;
        if (p->threads[t].process != i)
            continue;
        for (uint32_t c = tree->count ? tree->nodes[0].first_child : MOTH_NODE_NONE;
             c != MOTH_NODE_NONE; c = tree->nodes[c].next_sibling)
            ticks += tree->nodes[c].total;
    }
    return (double)ticks * p->tick_seconds;
}

void moth_proctree_render(const moth_profile *p, moth_sb *out)
{
    size_t np = p->nprocesses;
    if (np < 2)
        return;
    size_t *order = moth_calloc(np, sizeof *order, NULL);
    size_t *depth = moth_calloc(np, sizeof *depth, NULL);
    if (!order || !depth) {
        free(order);
        free(depth);
        out->failed = 1;
        return;
    }
    moth_proctree_order(p, order, depth);
    moth_sb_printf(out, "   %zu processes (one run each):\n", np);
    moth_sb_printf(out, "   %4s %8s %8s  %-14s %5s %7s %10s  %s\n", "run", "pid", "parent", "how",
                   "rank", "threads", "time (s)", "command");
    for (size_t k = 0; k < np; k++) {
        size_t i = order[k];
        const moth_process *proc = &p->processes[i];
        size_t threads = 0;
        for (size_t t = 0; t < p->nthreads; t++)
            threads += p->threads[t].process == i;
        char how[64], rank[16] = "";
        size_t indent = depth[k] > 6 ? 6 : depth[k];
        snprintf(how, sizeof how, "%*s%s", (int)(2 * indent), "", proc->how ? proc->how : "?");
        if (proc->rank >= 0)
            snprintf(rank, sizeof rank, "%d", proc->rank);
        const char *cmd = proc->command ? proc->command : "";
        size_t len = strlen(cmd);
        moth_sb_printf(out, "   %4zu %8lld %8lld  %-14s %5s %7zu %10.3f  %.*s%s\n", i + 1,
                       (long long)proc->pid, (long long)proc->parent_pid, how, rank, threads,
                       moth_proctree_seconds(p, i), len > 70 ? 67 : (int)len, cmd,
                       len > 70 ? "..." : "");
    }
    free(order);
    free(depth);
}

void moth_proctree_keep(moth_profile *p, size_t i)
{
    size_t kept = 0;
    for (size_t t = 0; t < p->nthreads; t++) {
        if (p->threads[t].process == i) {
            p->threads[kept++] = p->threads[t];
            continue;
        }
        moth_cct_free(&p->threads[t].tree);
        free(p->threads[t].name);
    }
    p->nthreads = kept;
    /* memory rows name threads by their old places: they go too */
    moth_memory_free(&p->memory);
    moth_memory_init(&p->memory);
}
