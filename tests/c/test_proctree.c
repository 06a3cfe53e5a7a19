/* Unit tests of a profile's processes (core/proctree.h: the tree, its table, keeping one),
 * the spread across MPI ranks (core/rank_report.h), one process of a file (loadfile.h) and
 * the flame page's process views (flame.h). */
#include <stdlib.h>
#include <unistd.h>

#include "fault.h"
#include "flame.h"
#include "loadfile.h"
#include "mothfile.h"
#include "proctree.h"
#include "rank_report.h"

static char dir[] = "/tmp/moth-test-proctree-XXXXXX";

/* Adds a process (pid, parent, how, rank) with one thread calling f `calls` times, each
 * taking `ticks`, and g once below it when g_ticks. */
static void add_process(moth_profile *p, int64_t pid, int64_t ppid, const char *how, int rank,
                        uint64_t calls, uint64_t ticks, uint64_t g_ticks)
{
    moth_process proc;
    moth_process_init(&proc);
    proc.pid = pid;
    proc.parent_pid = ppid;
    proc.command = (char *)"python prog.py";
    proc.how = (char *)how;
    proc.session = (char *)"s1";
    proc.rank = rank;
    CHECK(moth_profile_add_process(p, &proc, NULL, NULL) == 0);
    uint32_t f, g;
    moth_thread_profile *th;
    CHECK(moth_funcs_intern(&p->funcs, "prog.py", 1, "f", NULL, &f, NULL) == 0);
    CHECK(moth_funcs_intern(&p->funcs, "prog.py", 5, "g", NULL, &g, NULL) == 0);
    CHECK(moth_profile_add_thread(p, 1, "MainThread", &th, NULL) == 0);
    uint32_t n = moth_cct_child(&th->tree, MOTH_CCT_ROOT, f + 1);
    th->tree.nodes[n].func = f;
    th->tree.nodes[n].calls = calls;
    th->tree.nodes[n].total = calls * ticks + g_ticks;
    if (g_ticks) {
        uint32_t m = moth_cct_child(&th->tree, n, g + 1);
        th->tree.nodes[m].func = g;
        th->tree.nodes[m].calls = 1;
        th->tree.nodes[m].total = g_ticks;
    }
    moth_cct_finish_from_totals(&th->tree);
}

/* main 100 <- fork 101, spawn 102 <- fork 103; and 200, whose parent 99 is not there. */
static void make_family(moth_profile *p)
{
    moth_profile_init(p);
    p->tick_seconds = 0.001;
    add_process(p, 103, 102, "fork", -1, 3, 10, 0);
    add_process(p, 100, 1, "main", -1, 2, 10, 0);
    add_process(p, 101, 100, "fork", -1, 4, 10, 0);
    add_process(p, 102, 100, "spawn", -1, 5, 10, 0);
    add_process(p, 200, 99, "subprocess", -1, 1, 10, 0);
}

static void test_tree(void)
{
    moth_profile p;
    make_family(&p);
    CHECK(moth_proctree_parent(&p, 0) == 3);
    CHECK(moth_proctree_parent(&p, 1) == -1);
    CHECK(moth_proctree_parent(&p, 4) == -1);
    size_t order[5], depth[5];
    moth_proctree_order(&p, order, depth);
    size_t want_order[] = {1, 2, 3, 0, 4}, want_depth[] = {0, 1, 1, 2, 0};
    for (int i = 0; i < 5; i++) {
        CHECK_EQ_U(order[i], want_order[i]);
        CHECK_EQ_U(depth[i], want_depth[i]);
    }
    CHECK(fabs(moth_proctree_seconds(&p, 3) - 0.05) < 1e-9);
    moth_sb out = MOTH_SB_INIT;
    moth_proctree_render(&p, &out);
    CHECK_STR(out.data,
              "   5 processes (one run each):\n"
              "    run      pid   parent  how             rank threads   time (s)  command\n"
              "      2      100        1  main                       1      0.020  python prog.py\n"
              "      3      101      100    fork                     1      0.040  python prog.py\n"
              "      4      102      100    spawn                    1      0.050  python prog.py\n"
              "      1      103      102      fork                   1      0.030  python prog.py\n"
              "      5      200       99  subprocess                 1      0.010  python prog.py\n");
    moth_sb_free(&out);
    /* one process: nothing to list */
    moth_proctree_keep(&p, 2);
    CHECK_EQ_U(p.nthreads, 1);
    CHECK_EQ_U(p.threads[0].tree.nodes[1].calls, 4);
    moth_profile_free(&p);
    moth_profile one;
    moth_profile_init(&one);
    add_process(&one, 7, 1, "main", -1, 1, 1, 0);
    out = (moth_sb)MOTH_SB_INIT;
    moth_proctree_render(&one, &out);
    CHECK(out.len == 0);
    moth_profile_free(&one);
}

static void test_cycles_and_long_commands(void)
{
    /* pids reused across a damaged file: 5's parent is 6 and 6's is 5 */
    moth_profile p;
    moth_profile_init(&p);
    p.tick_seconds = 1;
    add_process(&p, 5, 6, NULL, -1, 1, 1, 0);
    add_process(&p, 6, 5, "fork", 2, 1, 1, 0);
    free(p.processes[1].command);
    p.processes[1].command = strdup("python -c 'a very long command line that goes on and on "
                                    "past the width of the table'");
    size_t order[2], depth[2];
    moth_proctree_order(&p, order, depth);
    CHECK(order[0] != order[1]);
    moth_sb out = MOTH_SB_INIT;
    moth_proctree_render(&p, &out);
    CHECK(strstr(out.data, "  ?  ") != NULL);
    CHECK(strstr(out.data, " fork ") && strstr(out.data, "    2 "));
    CHECK(strstr(out.data, "python -c 'a very long command line that goes on and on past the wi...\n"));
    moth_sb_free(&out);
    moth_profile_free(&p);
}

static void make_ranks(moth_profile *p)
{
    moth_profile_init(p);
    p->tick_seconds = 0.001;
    /* f: rank 0 2 calls of 10 ticks, rank 1 2 x 30, rank 2 2 x 20 (and g 100 below it);
     * a subprocess of rank 1 counts in rank 1 */
    add_process(p, 10, 1, "mpi", 0, 2, 10, 0);
    add_process(p, 11, 1, "mpi", 1, 2, 30, 0);
    add_process(p, 12, 1, "mpi", 2, 2, 20, 100);
    add_process(p, 13, 11, "subprocess", 1, 1, 40, 0);
}

static void test_rank_report(void)
{
    moth_profile p;
    make_ranks(&p);
    moth_sb out = MOTH_SB_INIT;
    CHECK(moth_rank_report(&p, 0, 0, &out, NULL) == 0);
    CHECK_STR(out.data,
              "   3 MPI ranks; time in each (own time of every function, s):\n"
              "   rank    0     0.020000\n"
              "   rank    1     0.100000\n"
              "   rank    2     0.140000   <- slowest\n"
              "\n"
              "   own time across ranks, functions by their slowest rank's:\n"
              "\n"
              "      ncalls        min     median        max slowest  filename:lineno(function)\n"
              "           7   0.020000   0.040000   0.100000       1  prog.py:1(f)\n"
              "           1   0.000000   0.000000   0.100000       2  prog.py:5(g)\n"
              "\n");
    moth_sb_free(&out);
    out = (moth_sb)MOTH_SB_INIT;
    CHECK(moth_rank_report(&p, 1, 1, &out, NULL) == 0);
    CHECK(strstr(out.data, "   cumulative time across") != NULL);
    CHECK(strstr(out.data, "           7   0.020000   0.100000   0.140000       2  prog.py:1(f)\n"));
    CHECK(!strstr(out.data, "(g)"));
    moth_sb_free(&out);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_error err = {{0}};
        moth_sb o = MOTH_SB_INIT;
        int rc = moth_rank_report(&p, 0, 0, &o, &err);
        moth_sb_free(&o);
        if (!FAULT_HAPPENED()) {
            CHECK(rc == 0);
            break;
        }
        CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    moth_profile_free(&p);
    /* two ranks: the median is between them */
    moth_profile two;
    moth_profile_init(&two);
    two.tick_seconds = 1;
    add_process(&two, 10, 1, "mpi", 1, 1, 4, 0);
    add_process(&two, 11, 1, "mpi", 0, 1, 2, 0);
    out = (moth_sb)MOTH_SB_INIT;
    CHECK(moth_rank_report(&two, 0, 0, &out, NULL) == 0);
    CHECK(strstr(out.data, "           2   2.000000   3.000000   4.000000       1  prog.py:1(f)"));
    moth_sb_free(&out);
    moth_profile_free(&two);
    moth_profile family;
    make_family(&family);
    moth_error err;
    out = (moth_sb)MOTH_SB_INIT;
    CHECK(moth_rank_report(&family, 0, 0, &out, &err) == -1);
    CHECK(strstr(err.msg, "no MPI ranks in this profile") == err.msg);
    moth_sb_free(&out);
    moth_profile_free(&family);
}

static void test_one_process_of_a_file(void)
{
    char path[256];
    snprintf(path, sizeof path, "%s/family.moth", dir);
    moth_profile p;
    make_family(&p);
    /* each process as a run of its own, as the processes of a session write them */
    for (size_t i = 0; i < p.nprocesses; i++) {
        moth_profile one = p;
        moth_thread_profile th = p.threads[i];
        th.process = 0;
        one.threads = &th;
        one.nthreads = 1;
        one.processes = &p.processes[i];
        one.nprocesses = 1;
        int run;
        CHECK(moth_mothfile_add_to_session(&one, path, "s1", 1, &run, NULL) == 0);
        CHECK_EQ_U(run, i + 1);
    }
    moth_profile_free(&p);
    moth_loaded l;
    CHECK(moth_load_profile_file(path, -1, &l, NULL) == 0);
    CHECK_EQ_U(l.profile.nprocesses, 5);
    CHECK(moth_loaded_keep_pid(&l, path, 102, NULL) == 0);
    CHECK_EQ_U(l.view.nrows, 1);
    CHECK_EQ_U(l.view.rows[0].nc, 5);
    CHECK_EQ_U(l.view.nfiles, 1);
    moth_loaded_free(&l);
    moth_error err;
    CHECK(moth_load_profile_file(path, -1, &l, NULL) == 0);
    CHECK(moth_loaded_keep_pid(&l, path, 42, &err) == -1);
    CHECK(strstr(err.msg, "has no process 42 (its processes: 103, 100, 101, 102, 200)"));
    moth_loaded_free(&l);
    moth_loaded pst;
    memset(&pst, 0, sizeof pst);
    CHECK(moth_loaded_keep_pid(&pst, "x.prof", 1, &err) == -1);
    CHECK(strstr(err.msg, "x.prof is a pstats file") == err.msg);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_error e = {{0}};
        moth_fault_countdown = 0;
        CHECK(moth_load_profile_file(path, -1, &l, NULL) == 0);
        fault_arm(n);
        int rc = moth_loaded_keep_pid(&l, path, 101, &e);
        moth_loaded_free(&l);
        if (!FAULT_HAPPENED()) {
            CHECK(rc == 0);
            break;
        }
        CHECK_OUT_OF_MEMORY(rc, e, n);
    }
}

static void test_flame_process_views(void)
{
    moth_profile p;
    make_family(&p);
    moth_sb html = MOTH_SB_INIT;
    CHECK(moth_flame_html(&p, NULL, &html, NULL) == 0);
    CHECK(strstr(html.data, "\"procs\":[\"103 fork: python prog.py\",\"100 main: python prog.py\","));
    CHECK(strstr(html.data, "{\"name\":\"all threads (1)\",\"p\":[-1,0],") != NULL);
    CHECK(strstr(html.data, ",\"c\":[0,4],\"q\":2}") != NULL);
    CHECK(strstr(html.data, "id=\"proc\"") != NULL);
    moth_sb_free(&html);
    /* two threads in a process: a view of each, and ranks named as ranks */
    moth_thread_profile *th;
    CHECK(moth_profile_add_thread(&p, 2, NULL, &th, NULL) == 0);
    p.processes[4].rank = 3;
    html = (moth_sb)MOTH_SB_INIT;
    CHECK(moth_flame_html(&p, NULL, &html, NULL) == 0);
    CHECK(strstr(html.data, "\"name\":\"all threads (2)\"") != NULL);
    CHECK(strstr(html.data, "\"name\":\"thread 2\"") != NULL);
    CHECK(strstr(html.data, "\"200 rank 3: python prog.py\"") != NULL);
    moth_sb_free(&html);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_error err = {{0}};
        moth_sb o = MOTH_SB_INIT;
        int rc = moth_flame_html(&p, NULL, &o, &err);
        moth_sb_free(&o);
        if (!FAULT_HAPPENED()) {
            CHECK(rc == 0);
            break;
        }
        CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    moth_profile_free(&p);
}

int main(void)
{
    fault_include_sqlite();
    if (!mkdtemp(dir))
        return 1;
    RUN(test_tree);
    RUN(test_cycles_and_long_commands);
    RUN(test_rank_report);
    RUN(test_one_process_of_a_file);
    RUN(test_flame_process_views);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
