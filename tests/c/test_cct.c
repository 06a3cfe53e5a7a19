/* Unit tests of the calling-context tree, the function table and the hash map. */
#include "cct.h"
#include "check.h"
#include "funcs.h"
#include "hashmap.h"
#include "profile.h"

#include <stdlib.h>

static void test_map_grows_and_finds(void)
{
    moth_map m = MOTH_MAP_INIT;
    for (uint32_t i = 0; i < 10000; i++)
        CHECK(moth_map_put(&m, i * 7919u, i % 13, i, NULL) == 0);
    CHECK_EQ_U(m.count, 10000);
    for (uint32_t i = 0; i < 10000; i++)
        CHECK_EQ_U(moth_map_get(&m, i * 7919u, i % 13), i);
    CHECK_EQ_U(moth_map_get(&m, 5, 99), MOTH_MAP_ABSENT);
    CHECK(moth_map_put(&m, 0, 0, 42, NULL) == 0); /* replaces */
    CHECK_EQ_U(moth_map_get(&m, 0, 0), 42);
    CHECK_EQ_U(m.count, 10000);
    moth_map_free(&m);
}

static void test_funcs_intern_dedupes_labels(void)
{
    moth_funcs t = MOTH_FUNCS_INIT;
    uint32_t a, b, c, d;
    CHECK(moth_funcs_intern(&t, "x.py", 3, "f", "C.f", &a, NULL) == 0);
    CHECK(moth_funcs_intern(&t, "x.py", 3, "f", NULL, &b, NULL) == 0);
    CHECK(moth_funcs_intern(&t, "x.py", 4, "f", NULL, &c, NULL) == 0);
    CHECK(moth_funcs_intern(&t, "~", 0, "<built-in method builtins.len>", NULL, &d, NULL) == 0);
    CHECK_EQ_U(a, b);
    CHECK(a != c);
    CHECK_EQ_U(t.count, 3);
    CHECK_STR(t.items[a].qualname, "C.f");
    CHECK(moth_func_is_builtin(&t.items[d]));
    CHECK(!moth_func_is_builtin(&t.items[a]));
    CHECK_EQ_U(moth_funcs_find(&t, "x.py", 4, "f"), c);
    CHECK_EQ_U(moth_funcs_find(&t, "x.py", 5, "f"), MOTH_MAP_ABSENT);
    moth_funcs_free(&t);
}

/* root -> A -> B, root -> A -> C, with totals; self is derived. */
static void test_cct_paths_and_self_time(void)
{
    moth_cct t;
    CHECK(moth_cct_init(&t, NULL) == 0);
    uint32_t a = moth_cct_child(&t, MOTH_CCT_ROOT, 0xA0);
    uint32_t b = moth_cct_child(&t, a, 0xB0);
    uint32_t c = moth_cct_child(&t, a, 0xC0);
    CHECK_EQ_U(moth_cct_child(&t, a, 0xB0), b); /* cached or hashed, same node */
    CHECK_EQ_U(moth_cct_child(&t, a, 0xC0), c);
    CHECK_EQ_U(moth_cct_child(&t, MOTH_CCT_ROOT, 0xA0), a);
    CHECK_EQ_U(t.count, 4);
    CHECK_EQ_U(t.nodes[b].depth, 2);
    t.nodes[a].total = 100;
    t.nodes[b].total = 30;
    t.nodes[c].total = 50;
    moth_cct_finish_from_totals(&t);
    CHECK_EQ_U(t.nodes[a].self, 20);
    CHECK_EQ_U(t.nodes[b].self, 30);
    /* children list: newest first */
    CHECK_EQ_U(t.nodes[a].first_child, c);
    CHECK_EQ_U(t.nodes[c].next_sibling, b);
    moth_cct_free(&t);
}

static void test_cct_max_nodes_refuses(void)
{
    moth_cct t;
    CHECK(moth_cct_init(&t, NULL) == 0);
    t.max_nodes = 3;
    uint32_t a = moth_cct_child(&t, MOTH_CCT_ROOT, 1);
    uint32_t b = moth_cct_child(&t, a, 2);
    CHECK(b != MOTH_NODE_NONE);
    CHECK_EQ_U(moth_cct_child(&t, b, 3), MOTH_NODE_NONE);
    CHECK_EQ_U(t.count, 3);
    moth_cct_free(&t);
}

/* root -> A (1 call) -> B (10 calls) -> C (20 calls): with inner 1 and outer 2 ticks per
 * call, A loses 1 + 30*3 from its total; B loses 10 + 20*3; A's self loses 1 + 10*2. Then
 * with C's calls all inline ones costing 5 outside instead of 2. */
static void test_overhead_subtraction(void)
{
    moth_cct t;
    CHECK(moth_cct_init(&t, NULL) == 0);
    uint32_t a = moth_cct_child(&t, MOTH_CCT_ROOT, 1);
    uint32_t b = moth_cct_child(&t, a, 2);
    uint32_t c = moth_cct_child(&t, b, 3);
    t.nodes[a].calls = 1;
    t.nodes[b].calls = 10;
    t.nodes[c].calls = 20;
    t.nodes[a].total = 1000;
    t.nodes[b].total = 800;
    t.nodes[c].total = 300;
    moth_cct_finish_from_totals(&t);
    moth_cct_subtract_overhead(&t, 1.0, 2.0, 2.0);
    CHECK_EQ_U(t.nodes[a].total, 1000 - 1 - 30 * 3);
    CHECK_EQ_U(t.nodes[b].total, 800 - 10 - 20 * 3);
    CHECK_EQ_U(t.nodes[c].total, 300 - 20);
    CHECK_EQ_U(t.nodes[a].self, 200 - 1 - 10 * 2);
    CHECK_EQ_U(t.nodes[b].self, 500 - 10 - 20 * 2);
    CHECK_EQ_U(t.nodes[c].self, 300 - 20);
    /* self + children's totals still equals total after the subtraction */
    CHECK_EQ_U(t.nodes[a].self + t.nodes[b].total, t.nodes[a].total);
    /* inline calls cost their own outer price */
    t.nodes[c].inline_calls = 20;
    uint64_t a_total = t.nodes[a].total, b_total = t.nodes[b].total, b_self = t.nodes[b].self;
    moth_cct_subtract_overhead(&t, 0.0, 5.0, 0.0);
    CHECK_EQ_U(t.nodes[b].total, b_total - 20 * 5);
    CHECK_EQ_U(t.nodes[a].total, a_total - 20 * 5);
    CHECK_EQ_U(t.nodes[b].self, b_self - 20 * 5);
    /* clamped, never wrapped */
    moth_cct_subtract_overhead(&t, 1e9, 1e9, 1e9);
    CHECK_EQ_U(t.nodes[a].total, 0);
    CHECK_EQ_U(t.nodes[c].self, 0);
    moth_cct_free(&t);
}

static void test_merge_threads_by_function(void)
{
    moth_profile p;
    moth_profile_init(&p);
    uint32_t f, g;
    CHECK(moth_funcs_intern(&p.funcs, "m.py", 1, "f", NULL, &f, NULL) == 0);
    CHECK(moth_funcs_intern(&p.funcs, "m.py", 9, "g", NULL, &g, NULL) == 0);
    for (int i = 0; i < 2; i++) {
        moth_thread_profile *th;
        CHECK(moth_profile_add_thread(&p, 100 + i, i ? "T" : "MainThread", &th, NULL) == 0);
        /* different keys per thread, same functions */
        uint32_t n1 = moth_cct_child(&th->tree, MOTH_CCT_ROOT, 10 + i);
        uint32_t n2 = moth_cct_child(&th->tree, n1, 20 + i);
        th->tree.nodes[n1].func = f;
        th->tree.nodes[n2].func = g;
        th->tree.nodes[n1].calls = 1;
        th->tree.nodes[n2].calls = 2 + i;
        th->tree.nodes[n1].total = 10;
        th->tree.nodes[n2].total = 4;
        moth_cct_finish_from_totals(&th->tree);
    }
    moth_cct m;
    CHECK(moth_profile_merged_tree(&p, &m, NULL) == 0);
    CHECK_EQ_U(m.count, 3);
    uint32_t mf = moth_cct_find_child(&m, MOTH_CCT_ROOT, (uint64_t)f + 1);
    uint32_t mg = moth_cct_find_child(&m, mf, (uint64_t)g + 1);
    CHECK_EQ_U(m.nodes[mf].calls, 2);
    CHECK_EQ_U(m.nodes[mg].calls, 5);
    CHECK_EQ_U(m.nodes[mf].self, 12);
    CHECK_EQ_U(m.nodes[mf].func, f);
    CHECK_NEAR(moth_profile_total_seconds(&p), 20e-9, 1e-15);
    moth_cct_free(&m);
    CHECK(moth_profile_set_meta(&p, "python", "3.11", NULL) == 0);
    CHECK(moth_profile_set_meta(&p, "python", "3.12", NULL) == 0);
    CHECK_STR(moth_profile_get_meta(&p, "python"), "3.12");
    CHECK_EQ_U(p.nmeta, 1);
    moth_profile_free(&p);
}

int main(void)
{
    RUN(test_map_grows_and_finds);
    RUN(test_funcs_intern_dedupes_labels);
    RUN(test_cct_paths_and_self_time);
    RUN(test_cct_max_nodes_refuses);
    RUN(test_overhead_subtraction);
    RUN(test_merge_threads_by_function);
    return check_summary();
}
