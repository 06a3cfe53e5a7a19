/* Every reader and writer of the core driven through every allocation failure (fault.h): each
 * failure gives -1 and "out of memory", never a crash, and frees what it had made (ASan's leak
 * check at exit); the run with no failure left gives the same output as a run without any. */
#include "diff.h"
#include "export.h"
#include "fault.h"
#include "flame.h"
#include "lines_report.h"
#include "loadfile.h"
#include "mothfile.h"
#include "pstats.h"

#include <stdlib.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/moth-oom-XXXXXX";

static char *path_in_tmp(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

/* Two threads, a recursion, a C function, qualnames, line data and metadata: something of
 * every kind that readers and writers handle. Builds everything through the checked
 * allocators, so it is a fault-injection subject itself. */
static int make_profile(moth_profile *p, moth_error *err)
{
    moth_profile_init(p);
    p->tick_seconds = 1e-6;
    uint32_t fmain, fwork, flen, fhelp;
    moth_thread_profile *th;
    if (moth_funcs_intern(&p->funcs, "/src/app/main.py", 1, "main", "main", &fmain, err) < 0 ||
        moth_funcs_intern(&p->funcs, "/src/app/work.py", 10, "work", "Worker.work", &fwork,
                          err) < 0 ||
        moth_funcs_intern(&p->funcs, "~", 0, "<built-in method builtins.len>", NULL, &flen,
                          err) < 0 ||
        moth_funcs_intern(&p->funcs, "/src/lib/work.py", 3, "help<&>\"", NULL, &fhelp,
                          err) < 0 ||
        moth_profile_set_meta(p, "command", "moth profile main.py", err) < 0 ||
        moth_profile_set_meta(p, "python", "3.11.7", err) < 0)
        return -1;
    for (uint64_t id = 1; id <= 2; id++) {
        if (moth_profile_add_thread(p, id, id == 1 ? "MainThread" : "worker", &th, err) < 0)
            return -1;
        moth_cct *t = &th->tree;
        uint32_t m = moth_cct_child(t, MOTH_CCT_ROOT, fmain + 1);
        uint32_t w1 = m == MOTH_NODE_NONE ? m : moth_cct_child(t, m, fwork + 1);
        uint32_t w2 = w1 == MOTH_NODE_NONE ? w1 : moth_cct_child(t, w1, fwork + 1);
        uint32_t l = w2 == MOTH_NODE_NONE ? w2 : moth_cct_child(t, w2, flen + 1);
        uint32_t h = m == MOTH_NODE_NONE ? m : moth_cct_child(t, m, fhelp + 1);
        if (h == MOTH_NODE_NONE || l == MOTH_NODE_NONE)
            return moth_fail(err, "out of memory (tree)");
        struct { uint32_t n, func; uint64_t calls, total; } set[] = {
            {m, fmain, 1, 1000 * id}, {w1, fwork, 3, 700 * id}, {w2, fwork, 6, 300 * id},
            {l, flen, 6, 100}, {h, fhelp, 2, 200},
        };
        for (size_t i = 0; i < sizeof set / sizeof set[0]; i++) {
            t->nodes[set[i].n].func = set[i].func;
            t->nodes[set[i].n].calls = set[i].calls;
            t->nodes[set[i].n].total = set[i].total;
        }
        moth_cct_finish_from_totals(t);
    }
    if (moth_lines_add(&p->lines, fwork, 11, 9, 400, err) < 0 ||
        moth_lines_add(&p->lines, fwork, 12, 9, 300, err) < 0 ||
        moth_lines_add(&p->lines, fmain, 2, 1, 900, err) < 0 ||
        moth_lines_set_last(&p->lines, fwork, 13, err) < 0)
        return -1;
    moth_lines_finish(&p->lines);
    return 0;
}

/* A new function's qualname is only for display: out of memory, the function goes without
 * (funcs.c). Every other failure fails the call. */
static void test_building_a_profile(void)
{
    int absorbed = 0;
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_profile p;
        moth_error err = {{0}};
        int rc = make_profile(&p, &err);
        int happened = FAULT_HAPPENED();
        if (rc == 0 && happened) {
            absorbed++;
            CHECK(p.funcs.items[1].qualname == NULL && p.funcs.count == 4);
        }
        moth_profile_free(&p);
        if (!happened) {
            CHECK(rc == 0);
            break;
        }
        if (rc != 0)
            CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    CHECK_EQ_U(absorbed, 1); /* Worker.work's qualname */
}

static void test_folding_and_merging(void)
{
    moth_profile p;
    int absorbed = 0;
    CHECK(make_profile(&p, NULL) == 0);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_pstats s, sum;
        moth_cct merged;
        moth_error err = {{0}};
        moth_pstats_init(&s);
        moth_pstats_init(&sum);
        memset(&merged, 0, sizeof merged);
        int rc = moth_pstats_from_profile(&s, &p, &err);
        if (rc == 0)
            rc = moth_pstats_add(&sum, &s, &err);
        if (rc == 0)
            rc = moth_pstats_add(&sum, &s, &err);
        if (rc == 0)
            rc = moth_pstats_strip_dirs(&sum, &err);
        if (rc == 0)
            rc = moth_profile_merged_tree(&p, &merged, &err);
        int happened = FAULT_HAPPENED();
        absorbed += happened && rc == 0;
        if (rc == 0) {
            /* work.py in two directories became one row: 3+6 calls per thread, twice added */
            uint32_t w = moth_funcs_find(&sum.funcs, "work.py", 10, "work");
            CHECK(w != MOTH_MAP_ABSENT && moth_pstats_row_for(&sum, w)->nc == 36);
            CHECK_EQ_U(merged.count, 6);
        }
        moth_cct_free(&merged);
        moth_pstats_free(&s);
        moth_pstats_free(&sum);
        if (!happened) {
            CHECK(rc == 0);
            break;
        }
        if (rc != 0)
            CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    /* Worker.work's qualname, where each of the view, the sum and the stripped view get it */
    CHECK_EQ_U(absorbed, 3);
    moth_profile_free(&p);
}

static void test_pstats_file_round_trip(void)
{
    moth_profile p;
    moth_pstats s;
    moth_sb good = MOTH_SB_INIT;
    CHECK(make_profile(&p, NULL) == 0);
    moth_pstats_init(&s);
    CHECK(moth_pstats_from_profile(&s, &p, NULL) == 0);
    CHECK(moth_pstats_write(&s, &good, NULL) == 0);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_pstats back;
        moth_sb again = MOTH_SB_INIT;
        moth_error err = {{0}};
        moth_pstats_init(&back);
        int rc = moth_pstats_read(&back, good.data, good.len, &err);
        if (rc == 0) {
            moth_pstats_write(&back, &again, NULL);
            rc = moth_sb_check(&again, &err);
        }
        int happened = FAULT_HAPPENED();
        if (!happened) {
            CHECK(rc == 0);
            CHECK(again.len == good.len && memcmp(again.data, good.data, good.len) == 0);
        }
        moth_pstats_free(&back);
        moth_sb_free(&again);
        if (!happened)
            break;
        CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    moth_sb_free(&good);
    moth_pstats_free(&s);
    moth_profile_free(&p);
}

/* Runs one renderer of `in` through every failure; returns the output of the run with none.
 * *absorbed counts the failures that still gave output (those must be expected). */
typedef int (*render_fn)(const moth_loaded *in, moth_sb *out, moth_error *err);

static char *render_through_failures(render_fn render, const moth_loaded *in, int *absorbed)
{
    char *text = NULL;
    *absorbed = 0;
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_sb out = MOTH_SB_INIT;
        moth_error err = {{0}};
        int rc = render(in, &out, &err);
        if (rc == 0)
            rc = moth_sb_check(&out, &err);
        if (!FAULT_HAPPENED()) {
            CHECK(rc == 0);
            text = moth_sb_take(&out);
            break;
        }
        moth_sb_free(&out);
        if (rc == 0)
            ++*absorbed;
        else
            CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    return text;
}

static int render_table(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    moth_report_opts o;
    memset(&o, 0, sizeof o);
    const char *keys[] = {"cumulative", "name"};
    if (moth_sort_spec_parse(&o.sort, keys, 2, err) < 0)
        return -1;
    o.sorted = 1;
    o.restrictions[0] = (moth_restriction){MOTH_RESTRICT_REGEX, "work", 0, 0};
    o.restrictions[1] = (moth_restriction){MOTH_RESTRICT_COUNT, NULL, 0, 5};
    o.nrestrictions = 2;
    if (moth_report_stats(&in->view, &o, out, err) < 0 ||
        moth_report_callers(&in->view, &o, out, err) < 0)
        return -1;
    o.reversed = 1;
    return moth_report_callees(&in->view, &o, out, err);
}

static const char *export_format;

static int render_export(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    return moth_export(in, export_format, out, err);
}

static int render_flame(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    moth_flame_opts o = {"flame <test>", 0};
    return moth_flame_html(&in->profile, &o, out, err);
}

static char *source_of(const char *path, void *ctx)
{
    (void)ctx;
    moth_sb sb = MOTH_SB_INIT;
    if (strstr(path, "main.py"))
        moth_sb_puts(&sb, "def main():\n    work()\n");
    else
        for (int i = 1; i <= 13; i++)
            moth_sb_printf(&sb, "x%d = 'line %d'  # %s\n", i, i, path);
    return moth_sb_take(&sb);
}

static int render_lines(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    if (moth_lines_report_with(&in->profile, 0, source_of, NULL, 0, out, err) < 0)
        return -1;
    return moth_lines_report_with(&in->profile, 1, source_of, NULL, 1, out, err);
}

static int render_diff(const moth_loaded *in, moth_sb *out, moth_error *err)
{
    moth_diff d;
    moth_pstats less;
    moth_pstats_init(&less);
    int rc = moth_pstats_add(&less, &in->view, err);
    if (rc == 0 && less.nrows > 1)
        less.rows[1].tt /= 2; /* one function got faster */
    if (rc == 0)
        rc = moth_diff_build(&d, &in->view, &less, 0.0, err);
    if (rc == 0) {
        rc = moth_diff_report(&d, "before.prof", "after.prof", 0, 1, out, err);
        moth_diff_free(&d);
    }
    moth_pstats_free(&less);
    return rc;
}

static void test_renderers(void)
{
    moth_loaded in;
    memset(&in, 0, sizeof in);
    CHECK(make_profile(&in.profile, NULL) == 0);
    moth_pstats_init(&in.view);
    CHECK(moth_pstats_from_profile(&in.view, &in.profile, NULL) == 0);
    in.has_tree = 1;

    int absorbed;
    char *table = render_through_failures(render_table, &in, &absorbed);
    CHECK(table && strstr(table, "Ordered by: cumulative time, function name"));
    CHECK_EQ_U(absorbed, 0);
    free(table);
    const char *formats[] = {"pstats", "speedscope", "collapsed", "callgrind", "chrome", "dot"};
    const char *expect[] = {"{", /* a marshal dict; its bytes: test_pstats_file_round_trip */
                            "\"name\":\"Worker.work\"", "Worker.work (work.py:10)",
                            "fl=/src/app/work.py\nfn=work\n", "\"name\":\"Worker.work\"", "work.py:10(work)"};
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++) {
        export_format = formats[i];
        char *text = render_through_failures(render_export, &in, &absorbed);
        if (!text || !strstr(text, expect[i]))
            fprintf(stderr, "%s: no %s in:\n%s\n", formats[i], expect[i], text ? text : "");
        CHECK(text && strstr(text, expect[i]));
        CHECK_EQ_U(absorbed, 0);
        free(text);
    }
    char *flame = render_through_failures(render_flame, &in, &absorbed);
    CHECK(flame && strstr(flame, "flame \\u003ctest\\u003e"));
    CHECK_EQ_U(absorbed, 0);
    free(flame);
    /* The line report shows a function's lines without their source when the source cannot be
     * had (as for a missing file), and plain text when colouring runs out of memory. */
    char *lines = render_through_failures(render_lines, &in, &absorbed);
    CHECK(lines && strstr(lines, "x11 = 'line 11'"));
    CHECK(absorbed > 0);
    free(lines);
    char *diff = render_through_failures(render_diff, &in, &absorbed);
    CHECK(diff && strstr(diff, "before.prof"));
    CHECK_EQ_U(absorbed, 1); /* Worker.work's qualname, copying the view */
    free(diff);
    moth_loaded_free(&in);
}

/* The moth file: moth's allocations and SQLite's alike fail in turn, writing and reading.
 * SQLite absorbs some of its own failures (it retries, or does without a cache), so a failure
 * point may still succeed: then the file must be whole. */
static void check_profile_read_back(const moth_profile *p)
{
    CHECK_EQ_U(p->nthreads, 2);
    CHECK_EQ_U(p->funcs.count, 4);
    CHECK_EQ_U(p->threads[1].tree.count, 6);
    CHECK_STR(p->threads[1].name, "worker");
    CHECK_STR(moth_profile_get_meta(p, "python"), "3.11.7");
    uint32_t w = moth_funcs_find(&p->funcs, "/src/app/work.py", 10, "work");
    CHECK(w != MOTH_MAP_ABSENT && moth_lines_of(&p->lines, w) &&
          moth_lines_of(&p->lines, w)->nlines == 2);
}

static void test_moth_file(void)
{
    moth_profile p;
    CHECK(make_profile(&p, NULL) == 0);
    char good[256];
    snprintf(good, sizeof good, "%s", path_in_tmp("good.moth"));
    CHECK(moth_mothfile_write(&p, good, NULL) == 0);
    long failed = 0;
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_error err = {{0}};
        int run = 0;
        /* appending to a copy of the good file: a second run */
        moth_profile back;
        char copy[256];
        snprintf(copy, sizeof copy, "%s", path_in_tmp("append.moth"));
        moth_fault_countdown = 0;
        CHECK(moth_mothfile_write(&p, copy, NULL) == 0);
        moth_fault_countdown = n;
        int rc = moth_mothfile_append(&p, copy, &run, &err);
        int happened = FAULT_HAPPENED();
        CHECK(moth_mothfile_read(&back, copy, 1, NULL) == 0); /* the first run is always there */
        check_profile_read_back(&back);
        moth_profile_free(&back);
        if (rc == 0) {
            CHECK(run == 2);
            CHECK(moth_mothfile_read(&back, copy, 2, NULL) == 0);
            check_profile_read_back(&back);
            moth_profile_free(&back);
        } else {
            failed++;
            CHECK(rc == -1 && err.msg[0] != '\0');
        }
        unlink(copy);
        if (!happened) {
            CHECK(rc == 0);
            break;
        }
    }
    CHECK(failed > 10);
    failed = 0;
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_loaded l;
        moth_error err = {{0}};
        int rc = moth_load_profile_file(good, -1, &l, &err);
        int happened = FAULT_HAPPENED();
        if (rc == 0) {
            check_profile_read_back(&l.profile);
            moth_loaded_free(&l);
        } else {
            failed++;
            CHECK(rc == -1 && err.msg[0] != '\0');
        }
        if (!happened) {
            CHECK(rc == 0);
            break;
        }
    }
    CHECK(failed > 20);
    unlink(good);
    moth_profile_free(&p);
}

int main(void)
{
    fault_include_sqlite();
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_building_a_profile);
    RUN(test_folding_and_merging);
    RUN(test_pstats_file_round_trip);
    RUN(test_renderers);
    RUN(test_moth_file);
    rmdir(tmpdir);
    return check_summary();
}
