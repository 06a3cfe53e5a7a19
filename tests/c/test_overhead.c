/* Subtracting the profiler's own cost from a tree: the times it leaves, and a tree that stays
 * consistent (self + children's totals == total) when the estimate exceeds a node's own work. */
#include "cct.h"
#include "check.h"

/* root -> A -> B -> C, with totals in ticks; returns the tree, selfs derived. */
static void chain(moth_cct *t, uint64_t a, uint64_t b, uint64_t c, uint64_t calls)
{
    CHECK(moth_cct_init(t, NULL) == 0);
    uint32_t na = moth_cct_child(t, MOTH_CCT_ROOT, 0xA);
    uint32_t nb = moth_cct_child(t, na, 0xB);
    uint32_t nc = moth_cct_child(t, nb, 0xC);
    t->nodes[na].total = a;
    t->nodes[nb].total = b;
    t->nodes[nc].total = c;
    t->nodes[na].calls = t->nodes[nb].calls = t->nodes[nc].calls = calls;
    moth_cct_finish_from_totals(t);
}

static void check_consistent(const moth_cct *t)
{
    for (uint32_t i = 1; i < t->count; i++) {
        uint64_t kids = 0;
        for (uint32_t c = t->nodes[i].first_child; c != MOTH_NODE_NONE; c = t->nodes[c].next_sibling)
            kids += t->nodes[c].total;
        CHECK_EQ_U(t->nodes[i].self + kids, t->nodes[i].total);
    }
}

static void test_estimate_within_each_nodes_work(void)
{
    moth_cct t;
    chain(&t, 1000, 600, 200, 10);
    /* each call: 2 ticks inside its interval, 3 in its caller's */
    moth_cct_subtract_overhead(&t, 2, 0, 3);
    /* C: 200 - 10*2; B: 600 - 10*2 - (C's 10*(2+3)); A: 1000 - 20 - (B's 50 + C's 50) */
    CHECK_EQ_U(t.nodes[3].total, 180);
    CHECK_EQ_U(t.nodes[2].total, 530);
    CHECK_EQ_U(t.nodes[1].total, 880);
    check_consistent(&t);
    moth_cct_free(&t);
}

static void test_estimate_beyond_a_nodes_own_work(void)
{
    moth_cct t;
    /* A's own work is 5 ticks over 10 calls: less than what 10 calls of B cost it */
    chain(&t, 605, 600, 100, 10);
    moth_cct_subtract_overhead(&t, 1, 0, 1);
    /* C: 90; B: 600 - 10 - 20 = 570; A: 605 - 10 - 40 = 555 < 570: A keeps B's 570 */
    CHECK_EQ_U(t.nodes[3].total, 90);
    CHECK_EQ_U(t.nodes[2].total, 570);
    CHECK_EQ_U(t.nodes[1].total, 570);
    CHECK_EQ_U(t.nodes[1].self, 0);
    check_consistent(&t);
    moth_cct_free(&t);
}

static void test_nothing_to_subtract(void)
{
    moth_cct t;
    chain(&t, 10, 5, 1, 1);
    moth_cct_subtract_overhead(&t, 0, 0, 0);
    CHECK_EQ_U(t.nodes[1].total, 10);
    CHECK_EQ_U(t.nodes[1].self, 5);
    /* an estimate larger than everything leaves zeros, still consistent */
    moth_cct_subtract_overhead(&t, 100, 100, 100);
    CHECK_EQ_U(t.nodes[1].total, 0);
    check_consistent(&t);
    moth_cct_free(&t);
}

int main(void)
{
    RUN(test_estimate_within_each_nodes_work);
    RUN(test_estimate_beyond_a_nodes_own_work);
    RUN(test_nothing_to_subtract);
    return check_summary();
}
