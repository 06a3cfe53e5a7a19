/* cct.c: calling-context tree; see cct.h. */
#include "cct.h"

#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_NODES (16u << 20) /* 16 M nodes, 1 GiB: a bound, not an expectation */

static int append_node(moth_cct *t, uint32_t parent, uint64_t key, uint32_t *index,
                       moth_error *err)
{
    if (t->count >= t->max_nodes)
        return moth_fail(err, "calling-context tree is full (%zu nodes)", t->max_nodes);
    if (moth_grow((void **)&t->nodes, sizeof *t->nodes, &t->cap, t->count + 1, err) < 0)
        return -1;
    uint32_t i = (uint32_t)t->count;
    moth_cct_node *n = &t->nodes[i];
    memset(n, 0, sizeof *n);
    n->key = key;
    n->parent = parent;
    n->func = MOTH_NODE_NONE;
    n->first_child = MOTH_NODE_NONE;
    n->next_sibling = MOTH_NODE_NONE;
    n->last_child = MOTH_NODE_NONE;
    n->last_key = 0; /* key 0 is the root's: never a child's, so the cache starts empty */
    if (parent != MOTH_NODE_NONE) {
        moth_cct_node *p = &t->nodes[parent];
        n->depth = p->depth + 1;
        n->next_sibling = p->first_child;
        p->first_child = i;
    }
    t->count++;
    *index = i;
    return 0;
}

int moth_cct_init(moth_cct *t, moth_error *err)
{
    memset(t, 0, sizeof *t);
    t->max_nodes = DEFAULT_MAX_NODES;
    uint32_t root;
    return append_node(t, MOTH_NODE_NONE, 0, &root, err);
}

void moth_cct_free(moth_cct *t)
{
    free(t->nodes);
    moth_map_free(&t->children);
    memset(t, 0, sizeof *t);
}

uint32_t moth_cct_find_child(const moth_cct *t, uint32_t parent, uint64_t key)
{
    return moth_map_get(&t->children, parent, key);
}

int moth_cct_add_child(moth_cct *t, uint32_t parent, uint64_t key, uint32_t *child,
                       moth_error *err)
{
    uint32_t found = moth_map_get(&t->children, parent, key);
    if (found != MOTH_MAP_ABSENT) {
        *child = found;
        return 0;
    }
    uint32_t i;
    if (append_node(t, parent, key, &i, err) < 0)
        return -1;
    if (moth_map_put(&t->children, parent, key, i, err) < 0) {
        /* Unlink the node again so the tree stays consistent. */
        t->nodes[parent].first_child = t->nodes[i].next_sibling;
        t->count--;
        return -1;
    }
    *child = i;
    return 0;
}

uint32_t moth_cct_child_slow(moth_cct *t, uint32_t parent, uint64_t key)
{
    uint32_t child;
    if (moth_cct_add_child(t, parent, key, &child, NULL) < 0)
        return MOTH_NODE_NONE;
    moth_cct_node *p = &t->nodes[parent];
    p->last_key = key;
    p->last_child = child;
    return child;
}

/* Children always come after their parent in `nodes`, so one backward pass sees every child
 * before its parent. */
void moth_cct_finish_from_totals(moth_cct *t)
{
    for (size_t i = 0; i < t->count; i++)
        t->nodes[i].self = t->nodes[i].total;
    for (size_t i = t->count; i-- > 1;) {
        moth_cct_node *n = &t->nodes[i];
        moth_cct_node *p = &t->nodes[n->parent];
        p->self = p->self > n->total ? p->self - n->total : 0;
    }
}

void moth_cct_finish_from_selfs(moth_cct *t)
{
    for (size_t i = 0; i < t->count; i++)
        t->nodes[i].total = t->nodes[i].self;
    for (size_t i = t->count; i-- > 1;) {
        moth_cct_node *n = &t->nodes[i];
        t->nodes[n->parent].total += n->total;
    }
}

static uint64_t minus(uint64_t value, double cost)
{
    if (cost <= 0)
        return value;
    return (double)value > cost ? value - (uint64_t)(cost + 0.5) : 0;
}

void moth_cct_subtract_overhead(moth_cct *t, double inner, double outer_inline,
                                double outer_other)
{
    if (t->count == 0 || (inner <= 0 && outer_inline <= 0 && outer_other <= 0))
        return;
    /* below[i]: the whole cost of the activations under node i. Children come after their
     * parent in `nodes`, so one backward pass fills it. */
    double *below = moth_calloc(t->count, sizeof *below, NULL);
    if (!below)
        return; /* times stay as measured: better than wrong */
    for (size_t i = t->count; i-- > 1;) {
        const moth_cct_node *n = &t->nodes[i];
        uint64_t inl = n->inline_calls < n->calls ? n->inline_calls : n->calls;
        double outer = (double)inl * outer_inline + (double)(n->calls - inl) * outer_other;
        below[n->parent] += (double)n->calls * inner + outer + below[i];
    }
    for (size_t i = 1; i < t->count; i++) {
        moth_cct_node *n = &t->nodes[i];
        n->total = minus(n->total, (double)n->calls * inner + below[i]);
    }
    /* A node whose own work was cheaper than the estimate would keep less time than its
     * children: it keeps theirs (its self becomes 0), so that every total stays its self plus
     * its children's totals. `below` now sums each node's children's totals. */
    memset(below, 0, t->count * sizeof *below);
    for (size_t i = t->count; i-- > 1;) {
        moth_cct_node *n = &t->nodes[i];
        if ((double)n->total < below[i])
            n->total = (uint64_t)below[i];
        below[n->parent] += (double)n->total;
    }
    /* Self times follow from the totals (self = total - children's totals), which is what the
     * subtraction amounts to, and keeps the two exactly consistent after rounding. */
    moth_cct_finish_from_totals(t);
    free(below);
}

int moth_cct_merge(moth_cct *dst, const moth_cct *src, moth_error *err)
{
    if (src->count == 0)
        return 0;
    /* where[i]: the dst node matching src node i. Parents precede children in src. */
    uint32_t *where = moth_malloc(src->count * sizeof *where, err);
    if (!where)
        return -1;
    where[0] = MOTH_CCT_ROOT;
    dst->nodes[0].calls += src->nodes[0].calls;
    dst->nodes[0].total += src->nodes[0].total;
    dst->nodes[0].self += src->nodes[0].self;
    for (size_t i = 1; i < src->count; i++) {
        const moth_cct_node *s = &src->nodes[i];
        uint32_t d;
        if (moth_cct_add_child(dst, where[s->parent], s->key, &d, err) < 0) {
            free(where);
            return -1;
        }
        moth_cct_node *n = &dst->nodes[d];
        n->calls += s->calls;
        n->inline_calls += s->inline_calls;
        n->total += s->total;
        n->self += s->self;
        if (n->func == MOTH_NODE_NONE)
            n->func = s->func;
        where[i] = d;
    }
    free(where);
    return 0;
}

int moth_cct_copy(moth_cct *dst, const moth_cct *src, moth_error *err)
{
    memset(dst, 0, sizeof *dst);
    dst->max_nodes = src->max_nodes;
    dst->nodes = moth_malloc((src->count ? src->count : 1) * sizeof *dst->nodes, err);
    if (!dst->nodes)
        return -1;
    memcpy(dst->nodes, src->nodes, src->count * sizeof *dst->nodes);
    dst->count = dst->cap = src->count;
    if (src->children.slots) {
        size_t bytes = (src->children.mask + 1) * sizeof *src->children.slots;
        dst->children.slots = moth_malloc(bytes, err);
        if (!dst->children.slots) {
            moth_cct_free(dst);
            return -1;
        }
        memcpy(dst->children.slots, src->children.slots, bytes);
        dst->children.mask = src->children.mask;
        dst->children.count = src->children.count;
    }
    return 0;
}
