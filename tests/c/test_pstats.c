/* Unit tests of the pstats view: folding trees (cProfile's rules), marshal round trips, the
 * reader's errors on malformed input, sort keys. */
#include "check.h"
#include "marshal.h"
#include "pstats.h"

#include <stdlib.h>

/* A profile with one thread: main -> f -> f -> f (recursion) and main -> g -> f. Ticks: each
 * node's total given; selves derived. */
static void build_recursive(moth_profile *p)
{
    moth_profile_init(p);
    p->tick_seconds = 0.5;
    uint32_t fmain, ff, fg;
    moth_funcs_intern(&p->funcs, "m.py", 1, "main", NULL, &fmain, NULL);
    moth_funcs_intern(&p->funcs, "m.py", 5, "f", NULL, &ff, NULL);
    moth_funcs_intern(&p->funcs, "m.py", 9, "g", NULL, &fg, NULL);
    moth_thread_profile *th;
    moth_profile_add_thread(p, 1, "MainThread", &th, NULL);
    moth_cct *t = &th->tree;
    uint32_t m = moth_cct_child(t, MOTH_CCT_ROOT, 1);
    uint32_t f1 = moth_cct_child(t, m, 2);
    uint32_t f2 = moth_cct_child(t, f1, 2);
    uint32_t f3 = moth_cct_child(t, f2, 2);
    uint32_t g = moth_cct_child(t, m, 3);
    uint32_t gf = moth_cct_child(t, g, 2);
    struct { uint32_t n, func; uint64_t calls, total; } set[] = {
        {m, fmain, 1, 100}, {f1, ff, 2, 60}, {f2, ff, 2, 40}, {f3, ff, 2, 10},
        {g, fg, 1, 30}, {gf, ff, 3, 20},
    };
    for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
        t->nodes[set[i].n].func = set[i].func;
        t->nodes[set[i].n].calls = set[i].calls;
        t->nodes[set[i].n].total = set[i].total;
    }
    moth_cct_finish_from_totals(t);
}

static void test_fold_follows_cprofile_rules(void)
{
    moth_profile p;
    build_recursive(&p);
    moth_pstats s;
    moth_pstats_init(&s);
    CHECK(moth_pstats_from_profile(&s, &p, NULL) == 0);
    uint32_t f = moth_funcs_find(&s.funcs, "m.py", 5, "f");
    uint32_t g = moth_funcs_find(&s.funcs, "m.py", 9, "g");
    uint32_t m = moth_funcs_find(&s.funcs, "m.py", 1, "main");
    moth_pstats_row *rf = moth_pstats_row_for(&s, f);
    /* f: 2+2+2+3 = 9 calls; primitive: the outermost ones, f1 (2) and gf (3) */
    CHECK_EQ_U(rf->nc, 9);
    CHECK_EQ_U(rf->cc, 5);
    /* own: selves 20 + 30 + 10 + 20 ticks = 80 * 0.5 s; cumulative: outermost 60 + 20 */
    CHECK_NEAR(rf->tt, 40.0, 1e-12);
    CHECK_NEAR(rf->ct, 40.0, 1e-12);
    /* edges into f: from main (2 calls, primitive), from f (4, primitive once: f2 under f1),
     * from g (3, primitive) */
    int seen = 0;
    for (size_t e = 0; e < rf->ncallers; e++) {
        const moth_pstats_edge *edge = &rf->callers[e];
        if (edge->caller == m) {
            CHECK_EQ_U(edge->nc, 2);
            CHECK_EQ_U(edge->cc, 2);
            CHECK_NEAR(edge->ct, 30.0, 1e-12);
            seen++;
        } else if (edge->caller == f) {
            CHECK_EQ_U(edge->nc, 4);
            CHECK_EQ_U(edge->cc, 2);       /* f2 is the outermost f->f activation */
            CHECK_NEAR(edge->ct, 20.0, 1e-12);
            CHECK_NEAR(edge->tt, 20.0, 1e-12); /* selves of f2 (30) and f3 (10) */
            seen++;
        } else if (edge->caller == g) {
            CHECK_EQ_U(edge->nc, 3);
            CHECK_EQ_U(edge->cc, 3);
            seen++;
        }
    }
    CHECK_EQ_U(seen, 3);
    CHECK(moth_pstats_row_for(&s, m)->ncallers == 0); /* top level: no caller edge */
    CHECK(moth_pstats_row_for(&s, g) != NULL);
    uint64_t nc, cc;
    double tt;
    moth_pstats_totals(&s, &nc, &cc, &tt);
    CHECK_EQ_U(nc, 1 + 9 + 1);
    CHECK_EQ_U(cc, 1 + 5 + 1);
    CHECK_NEAR(tt, 50.0, 1e-12); /* every tick once: main's total */
    moth_pstats_free(&s);
    moth_profile_free(&p);
}

static void test_write_then_read_round_trips(void)
{
    moth_profile p;
    build_recursive(&p);
    moth_pstats s, back;
    moth_pstats_init(&s);
    moth_pstats_init(&back);
    CHECK(moth_pstats_from_profile(&s, &p, NULL) == 0);
    moth_sb bytes = MOTH_SB_INIT;
    CHECK(moth_pstats_write(&s, &bytes, NULL) == 0);
    moth_error err;
    CHECK(moth_pstats_read(&back, bytes.data, bytes.len, &err) == 0);
    CHECK_EQ_U(back.nrows, s.nrows);
    for (size_t i = 0; i < s.nrows; i++) {
        const moth_func *f = &s.funcs.items[s.rows[i].func];
        uint32_t j = moth_funcs_find(&back.funcs, f->file, f->line, f->name);
        const moth_pstats_row *r = moth_pstats_row_for(&back, j);
        CHECK(r != NULL);
        if (r) {
            CHECK_EQ_U(r->nc, s.rows[i].nc);
            CHECK_EQ_U(r->cc, s.rows[i].cc);
            CHECK(r->tt == s.rows[i].tt && r->ct == s.rows[i].ct); /* bit for bit */
            CHECK_EQ_U(r->ncallers, s.rows[i].ncallers);
        }
    }
    moth_sb_free(&bytes);
    moth_pstats_free(&back);
    moth_pstats_free(&s);
    moth_profile_free(&p);
}

static int reads(const char *data, size_t len)
{
    moth_pstats s;
    moth_pstats_init(&s);
    moth_error err;
    int rc = moth_pstats_read(&s, data, len, &err);
    moth_pstats_free(&s);
    return rc;
}

static void test_reader_rejects_malformed_input(void)
{
    CHECK(reads("", 0) < 0);
    CHECK(reads("{0", 2) < 0);                    /* empty dict: pstats rejects it too */
    CHECK(reads("N", 1) < 0);                     /* not a dict */
    CHECK(reads("{", 1) < 0);                     /* truncated */
    CHECK(reads("{)\x03z\x01ai\x01\x00\x00\x00z\x01f", 16) < 0); /* no value */
    CHECK(reads("r\x00\x00\x00\x00", 5) < 0);     /* reference to nothing */
    CHECK(reads("(\xff\xff\xff\x7f", 5) < 0);     /* a tuple longer than the data */
    char deep[2000];
    for (int i = 0; i < 400; i++)
        memcpy(deep + 5 * i, "(\x01\x00\x00\x00", 5);
    CHECK(reads(deep, sizeof deep) < 0);          /* nesting bounded */
    CHECK(reads("l\x06\x00\x00\x00\x01\x00\x01\x00\x01\x00\x01\x00\x01\x00\x01\x00", 17) < 0);
    /* every truncation of a valid file fails cleanly */
    moth_profile p;
    build_recursive(&p);
    moth_pstats s;
    moth_pstats_init(&s);
    moth_pstats_from_profile(&s, &p, NULL);
    moth_sb bytes = MOTH_SB_INIT;
    moth_pstats_write(&s, &bytes, NULL);
    for (size_t n = 0; n < bytes.len; n++)
        CHECK(reads(bytes.data, n) < 0);
    CHECK(reads(bytes.data, bytes.len) == 0);
    moth_sb_free(&bytes);
    moth_pstats_free(&s);
    moth_profile_free(&p);
}

static void test_sort_keys(void)
{
    moth_sort_spec spec;
    moth_error err;
    const char *cum[] = {"cumulative"}, *cu[] = {"cu"}, *bad[] = {"cum"}, *two[] = {"time", "name"};
    const char *legacy[] = {"-1"};
    CHECK(moth_sort_spec_parse(&spec, cum, 1, &err) == 0);
    CHECK_STR(spec.description, "cumulative time");
    CHECK(moth_sort_spec_parse(&spec, cu, 1, &err) == 0);   /* pstats keeps "cu" (cumtime's) */
    CHECK(moth_sort_spec_parse(&spec, bad, 1, &err) < 0);   /* ... and drops the shared "cum" */
    CHECK(strstr(err.msg, "tottime") != NULL);
    CHECK(moth_sort_spec_parse(&spec, two, 2, &err) == 0);
    CHECK_STR(spec.description, "internal time, function name");
    CHECK(moth_sort_spec_parse(&spec, legacy, 1, &err) == 0);
    CHECK_STR(spec.description, "standard name");
}

int main(void)
{
    RUN(test_fold_follows_cprofile_rules);
    RUN(test_write_then_read_round_trips);
    RUN(test_reader_rejects_malformed_input);
    RUN(test_sort_keys);
    return check_summary();
}
