/* sample_profile.c: sampled stacks into calling-context trees; see sample_profile.h. */
#include "sample_profile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "remote.h"

void moth_sample_profile_init(moth_sample_profile *sp, moth_profile *p, int lines)
{
    memset(sp, 0, sizeof *sp);
    sp->profile = p;
    sp->lines = lines;
}

void moth_sample_profile_free(moth_sample_profile *sp)
{
    free(sp->seen);
    sp->seen = NULL;
}

/* The profile's function for code entry c, interned on first use. */
static int func_of(moth_sample_profile *sp, moth_rcode *c, uint32_t *func)
{
    if (c->func == MOTH_NO_FUNC) {
        if (moth_funcs_intern(&sp->profile->funcs, c->filename, (uint32_t)c->firstlineno,
                              c->name, c->qualname, &c->func, &sp->err) < 0)
            return -1;
        if (sp->lines && moth_lines_set_last(&sp->profile->lines, c->func,
                                             (uint32_t)c->lastlineno, &sp->err) < 0)
            return -1;
    }
    *func = c->func;
    return 0;
}

/* The profile's thread for th, added on first sight. Threads are few: a linear search from
 * the last one found is enough. */
static moth_thread_profile *thread_of(moth_sample_profile *sp, const moth_rthread *th)
{
    moth_profile *p = sp->profile;
    for (size_t i = 0; i < p->nthreads; i++)
        if (p->threads[i].id == th->thread_id && p->threads[i].native_id == th->native_id)
            return &p->threads[i];
    moth_thread_profile *tp;
    if (moth_profile_add_thread(p, th->thread_id, NULL, &tp, &sp->err) < 0)
        return NULL;
    tp->native_id = th->native_id;
    sp->unnamed = 1;
    return tp;
}

/* Names the profile's threads that have none yet from threading's table, at most twice a
 * second (a thread is registered there a moment after it starts). */
static void name_threads(void *ctx, moth_remote *t)
{
    moth_sample_profile *sp = ctx;
    double now = moth_now();
    if (!sp->unnamed || now - sp->names_read_at < 0.5)
        return;
    sp->names_read_at = now;
    enum { MAX = 1024 };
    uint64_t idents[MAX];
    char *names[MAX];
    size_t n = moth_remote_thread_names(t, idents, names, MAX);
    moth_profile *p = sp->profile;
    sp->unnamed = 0;
    for (size_t i = 0; i < p->nthreads; i++) {
        for (size_t k = 0; k < n && !p->threads[i].name; k++)
            if (idents[k] == p->threads[i].id)
                p->threads[i].name = strdup(names[k]);
        if (!p->threads[i].name)
            sp->unnamed = 1;
    }
    for (size_t k = 0; k < n; k++)
        free(names[k]);
}

/* Adds one hit and tick to (func, line) unless this stack already did. */
static int add_line(moth_sample_profile *sp, size_t *nseen, uint32_t func, int line)
{
    uint64_t key = (uint64_t)func << 32 | (uint32_t)line;
    for (size_t i = 0; i < *nseen; i++)
        if (sp->seen[i] == key)
            return 0;
    if (moth_grow((void **)&sp->seen, sizeof *sp->seen, &sp->seen_cap, *nseen + 1, &sp->err) < 0)
        return -1;
    sp->seen[(*nseen)++] = key;
    return moth_lines_add(&sp->profile->lines, func, (uint32_t)line, 1, 1, &sp->err);
}

/* One step of a sample down the tree, from *node into func's child (line: the frame's line,
 * 0 for none). 1 when the tree is full: the sample counts where it got to. */
static int step(moth_sample_profile *sp, moth_cct *tree, uint32_t *node, size_t *nseen,
                uint32_t func, int line)
{
    uint32_t child = moth_cct_child(tree, *node, (uint64_t)func + 1);
    if (child == MOTH_NODE_NONE)
        return 1;
    *node = child;
    tree->nodes[child].func = func;
    tree->nodes[child].calls++;
    if (sp->lines && line > 0 && add_line(sp, nseen, func, line) < 0)
        return -1;
    return 0;
}

static int add_stack(void *ctx, moth_remote *t, const moth_rthread *th, const moth_rstack *stack)
{
    moth_sample_profile *sp = ctx;
    if (!stack->count)
        return 0; /* a thread between Python calls: nothing to attribute */
    moth_thread_profile *tp = thread_of(sp, th);
    if (!tp)
        return -1;
    uint32_t node = MOTH_CCT_ROOT;
    size_t nseen = 0;
    int rc = 0;
    for (size_t k = stack->count; k-- > 0 && rc == 0;) {
        uint32_t func;
        if (func_of(sp, &t->codes.items[stack->frames[k].code], &func) < 0 ||
            (rc = step(sp, &tp->tree, &node, &nseen, func, stack->frames[k].line)) < 0)
            return -1;
    }
    tp->tree.nodes[node].self++;
    tp->tree.nodes[node].own_samples++;
    sp->samples++;
    return 0;
}

/* The profile's function for C function c, interned on first use. It has no line data: its
 * line is where it begins, and the source is seldom at hand. */
static int cfunc_of(moth_sample_profile *sp, moth_cfunc *c, uint32_t *func)
{
    if (c->func == MOTH_NO_FUNC && moth_funcs_intern(&sp->profile->funcs, c->file, c->line,
                                                     c->name, NULL, &c->func, &sp->err) < 0)
        return -1;
    *func = c->func;
    return 0;
}

/* --native: as add_stack, with C functions between the Python ones. */
static int add_native(void *ctx, moth_remote *t, const moth_rthread *th, const moth_rstack *py,
                      moth_native_sampler *ns)
{
    moth_sample_profile *sp = ctx;
    moth_thread_profile *tp = thread_of(sp, th);
    if (!tp)
        return -1;
    uint32_t node = MOTH_CCT_ROOT;
    size_t nseen = 0;
    int rc = 0;
    for (size_t k = ns->nmerged; k-- > 0 && rc == 0;) {
        const moth_merged *m = &ns->merged[k];
        const moth_rframe *f = m->python ? &py->frames[m->index] : NULL;
        uint32_t func;
        if ((f ? func_of(sp, &t->codes.items[f->code], &func)
               : cfunc_of(sp, &ns->cfuncs[m->index], &func)) < 0 ||
            (rc = step(sp, &tp->tree, &node, &nseen, func, f ? f->line : 0)) < 0)
            return -1;
    }
    tp->tree.nodes[node].self++;
    tp->tree.nodes[node].own_samples++;
    sp->samples++;
    return 0;
}

moth_sample_sink moth_sample_profile_sink(moth_sample_profile *sp)
{
    return (moth_sample_sink){add_stack, add_native, name_threads, sp};
}

static const char *mode_name(moth_sample_mode mode)
{
    return mode == MOTH_SAMPLE_CPU ? "cpu" : mode == MOTH_SAMPLE_GIL ? "gil" : "wall";
}

void moth_sample_profile_finish(moth_sample_profile *sp, const moth_sampler_stats *stats,
                                double rate, moth_sample_mode mode)
{
    moth_profile *p = sp->profile;
    for (size_t i = 0; i < p->nthreads; i++)
        moth_cct_finish_from_selfs(&p->threads[i].tree);
    moth_lines_finish(&p->lines);
    p->tick_seconds = stats->rounds ? stats->seconds / (double)stats->rounds : 1.0 / rate;
    char text[64];
    snprintf(text, sizeof text, "%g", rate);
    moth_profile_set_meta(p, "sampling_rate", text, NULL);
    moth_profile_set_meta(p, "sampling_mode", mode_name(mode), NULL);
    snprintf(text, sizeof text, "%llu", (unsigned long long)stats->rounds);
    moth_profile_set_meta(p, "sampling_rounds", text, NULL);
    snprintf(text, sizeof text, "%llu", (unsigned long long)sp->samples);
    moth_profile_set_meta(p, "samples", text, NULL);
    snprintf(text, sizeof text, "%llu", (unsigned long long)stats->late);
    moth_profile_set_meta(p, "sampling_late", text, NULL);
    snprintf(text, sizeof text, "%.6f", stats->seconds);
    moth_profile_set_meta(p, "duration", text, NULL);
    moth_profile_set_meta(p, "clock", "samples", NULL);
    moth_profile_set_meta(p, "mode", "sampled (moth record)", NULL);
}
