/* profile.c: the profile model; see profile.h. */
#include "profile.h"

#include <stdlib.h>
#include <string.h>

void moth_profile_init(moth_profile *p)
{
    memset(p, 0, sizeof *p);
    p->tick_seconds = 1e-9;
    moth_lines_init(&p->lines);
    moth_memory_init(&p->memory);
}

void moth_profile_free(moth_profile *p)
{
    moth_funcs_free(&p->funcs);
    for (size_t i = 0; i < p->nthreads; i++) {
        free(p->threads[i].name);
        moth_cct_free(&p->threads[i].tree);
    }
    free(p->threads);
    for (size_t i = 0; i < p->nmeta; i++) {
        free(p->meta[i].key);
        free(p->meta[i].value);
    }
    free(p->meta);
    for (size_t i = 0; i < p->nprocesses; i++)
        moth_process_free(&p->processes[i]);
    free(p->processes);
    moth_lines_free(&p->lines);
    moth_memory_free(&p->memory);
    moth_profile_init(p);
}

int moth_profile_add_thread(moth_profile *p, uint64_t id, const char *name,
                            moth_thread_profile **out, moth_error *err)
{
    if (moth_grow((void **)&p->threads, sizeof *p->threads, &p->threads_cap, p->nthreads + 1,
                  err) < 0)
        return -1;
    moth_thread_profile *t = &p->threads[p->nthreads];
    memset(t, 0, sizeof *t);
    t->id = id;
    t->process = p->nprocesses ? (uint32_t)(p->nprocesses - 1) : 0;
    if (name && !(t->name = moth_strdup(name, err)))
        return -1;
    if (moth_cct_init(&t->tree, err) < 0) {
        free(t->name);
        return -1;
    }
    p->nthreads++;
    *out = t;
    return 0;
}

int moth_profile_add_process(moth_profile *p, const moth_process *proc, uint32_t *index,
                             moth_error *err)
{
    if (moth_grow((void **)&p->processes, sizeof *p->processes, &p->processes_cap,
                  p->nprocesses + 1, err) < 0 ||
        moth_process_copy(&p->processes[p->nprocesses], proc, err) < 0)
        return -1;
    if (index)
        *index = (uint32_t)p->nprocesses;
    p->nprocesses++;
    return 0;
}

int moth_profile_set_meta(moth_profile *p, const char *key, const char *value, moth_error *err)
{
    for (size_t i = 0; i < p->nmeta; i++) {
        if (strcmp(p->meta[i].key, key) == 0) {
            char *v = moth_strdup(value, err);
            if (!v)
                return -1;
            free(p->meta[i].value);
            p->meta[i].value = v;
            return 0;
        }
    }
    if (moth_grow((void **)&p->meta, sizeof *p->meta, &p->meta_cap, p->nmeta + 1, err) < 0)
        return -1;
    char *k = moth_strdup(key, err);
    char *v = k ? moth_strdup(value, err) : NULL;
    if (!v) {
        free(k);
        return -1;
    }
    p->meta[p->nmeta].key = k;
    p->meta[p->nmeta].value = v;
    p->nmeta++;
    return 0;
}

const char *moth_profile_get_meta(const moth_profile *p, const char *key)
{
    for (size_t i = 0; i < p->nmeta; i++)
        if (strcmp(p->meta[i].key, key) == 0)
            return p->meta[i].value;
    return NULL;
}

int moth_cct_add_by_func(moth_cct *dst, const moth_cct *src, moth_error *err)
{
    /* where[i]: the dst node matching src node i; parents precede children in src. */
    uint32_t *where = moth_malloc((src->count ? src->count : 1) * sizeof *where, err);
    if (!where)
        return -1;
    where[0] = MOTH_CCT_ROOT;
    for (size_t i = 1; i < src->count; i++) {
        const moth_cct_node *s = &src->nodes[i];
        uint32_t d;
        /* key = func + 1: keys must be non-zero (0 is the root's). */
        if (moth_cct_add_child(dst, where[s->parent], (uint64_t)s->func + 1, &d, err) < 0) {
            free(where);
            return -1;
        }
        moth_cct_node *n = &dst->nodes[d];
        n->func = s->func;
        n->calls += s->calls;
        n->inline_calls += s->inline_calls;
        n->total += s->total;
        n->self += s->self;
        where[i] = d;
    }
    if (src->count) {
        dst->nodes[0].total += src->nodes[0].total;
        dst->nodes[0].self += src->nodes[0].self;
    }
    free(where);
    return 0;
}

int moth_profile_merged_tree(const moth_profile *p, moth_cct *out, moth_error *err)
{
    if (moth_cct_init(out, err) < 0)
        return -1;
    for (size_t t = 0; t < p->nthreads; t++) {
        if (moth_cct_add_by_func(out, &p->threads[t].tree, err) < 0) {
            moth_cct_free(out);
            return -1;
        }
    }
    return 0;
}

double moth_profile_total_seconds(const moth_profile *p)
{
    uint64_t ticks = 0;
    for (size_t t = 0; t < p->nthreads; t++) {
        const moth_cct *tree = &p->threads[t].tree;
        for (uint32_t c = tree->count ? tree->nodes[0].first_child : MOTH_NODE_NONE;
             c != MOTH_NODE_NONE; c = tree->nodes[c].next_sibling)
            ticks += tree->nodes[c].total;
    }
    return (double)ticks * p->tick_seconds;
}
