/* Unit tests of core/process.h (a run's process, MPI environments) and of the moth file's
 * sessions, processes and merging (core/mothfile.h). */
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "check.h"
#include "mothfile.h"
#include "process.h"

static char dir[] = "/tmp/moth-test-process-XXXXXX";

static const char *in_dir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void test_command_line_quoted_as_a_shell_reads_it(void)
{
    static const char cmdline[] = "python\0-c\0print('hi there')\0a b\0\0--x=1";
    char *c = moth_command_line(cmdline, sizeof cmdline, NULL);
    CHECK_STR(c, "python -c 'print('\\''hi there'\\'')' 'a b' '' --x=1");
    free(c);
    c = moth_command_line("", 0, NULL);
    CHECK_STR(c, "");
    free(c);
}

static const char *from_table(const char *name, void *ctx)
{
    const char *const *t = ctx;
    for (; t[0]; t += 2)
        if (strcmp(t[0], name) == 0)
            return t[1];
    return NULL;
}

static void test_mpi_environments(void)
{
    static const char *const ompi[] = {"OMPI_COMM_WORLD_RANK", "3", "OMPI_COMM_WORLD_SIZE", "4",
                                       "PMIX_RANK", "3", "PMIX_NAMESPACE", "1292173313", NULL};
    static const char *const hydra[] = {"PMI_RANK", "1", "PMI_SIZE", "2", "PMI_KVSNAME",
                                        "kvs_42", NULL};
    static const char *const slurm[] = {"SLURM_PROCID", "7", "SLURM_NTASKS", "8",
                                        "SLURM_STEP_ID", "0", "SLURM_JOB_ID", "1234", NULL};
    static const char *const bad[] = {"OMPI_COMM_WORLD_RANK", "three", "PMI_RANK", "-1", NULL};
    static const char *const none[] = {"HOME", "/root", NULL};
    moth_process p;
    char *job;
    moth_process_init(&p);
    CHECK(moth_process_mpi(&p, from_table, (void *)ompi, &job, NULL) == 1);
    CHECK(p.rank == 3 && p.size == 4);
    CHECK_STR(job, "1292173313");
    free(job);
    moth_process_init(&p);
    CHECK(moth_process_mpi(&p, from_table, (void *)hydra, &job, NULL) == 1);
    CHECK(p.rank == 1 && p.size == 2);
    CHECK_STR(job, "kvs_42");
    free(job);
    moth_process_init(&p);
    CHECK(moth_process_mpi(&p, from_table, (void *)slurm, &job, NULL) == 1);
    CHECK(p.rank == 7 && p.size == 8);
    CHECK_STR(job, "1234.0");
    free(job);
    moth_process_init(&p);
    CHECK(moth_process_mpi(&p, from_table, (void *)bad, &job, NULL) == 0 && !job);
    CHECK(moth_process_mpi(&p, from_table, (void *)none, &job, NULL) == 0 && !job);
    CHECK(p.rank == -1 && p.size == -1);
}

static void test_environment_blocks(void)
{
    static const char env[] = "A=1\0PMI_RANK=5\0PMI_RANKX=9\0EMPTY=\0TAIL=unended";
    moth_env_block b = {env, sizeof env - 1};
    CHECK_STR(moth_env_block_lookup("PMI_RANK", &b), "5");
    CHECK_STR(moth_env_block_lookup("EMPTY", &b), "");
    CHECK(moth_env_block_lookup("PMI", &b) == NULL);
    CHECK(moth_env_block_lookup("TAIL", &b) == NULL); /* no NUL at the end: not taken */
}

static void test_self(void)
{
    moth_process p;
    moth_process_init(&p);
    CHECK(moth_process_self(&p, NULL) == 0);
    CHECK(p.pid == getpid() && p.parent_pid == getppid());
    CHECK(p.command && strstr(p.command, "test_process"));
    moth_process copy;
    CHECK(moth_process_copy(&copy, &p, NULL) == 0);
    CHECK_STR(copy.command, p.command);
    CHECK(moth_process_known(&copy));
    moth_process_free(&copy);
    moth_process_free(&p);
    CHECK(!moth_process_known(&p));
}

/* A one-thread profile of one process: `calls` calls of f. */
static void make_run(moth_profile *p, int64_t pid, int64_t ppid, const char *session, int rank,
                     uint64_t calls)
{
    moth_profile_init(p);
    p->tick_seconds = 1e-6;
    moth_process proc;
    moth_process_init(&proc);
    proc.pid = pid;
    proc.parent_pid = ppid;
    proc.command = (char *)"python work.py";
    proc.how = (char *)(ppid == 1 ? "main" : "fork");
    proc.session = (char *)session;
    proc.rank = rank;
    proc.size = rank >= 0 ? 4 : -1;
    CHECK(moth_profile_add_process(p, &proc, NULL, NULL) == 0);
    uint32_t f;
    moth_thread_profile *th;
    CHECK(moth_funcs_intern(&p->funcs, "work.py", 1, "f", NULL, &f, NULL) == 0);
    CHECK(moth_profile_add_thread(p, 1, "MainThread", &th, NULL) == 0);
    uint32_t n = moth_cct_child(&th->tree, MOTH_CCT_ROOT, f + 1);
    th->tree.nodes[n].func = f;
    th->tree.nodes[n].calls = calls;
    th->tree.nodes[n].total = 10 * calls;
    moth_cct_finish_from_totals(&th->tree);
}

static uint64_t calls_in(const char *path, int run, size_t *nprocesses)
{
    moth_profile p;
    if (moth_mothfile_read(&p, path, run, NULL) < 0)
        return 0;
    uint64_t calls = 0;
    for (size_t t = 0; t < p.nthreads; t++)
        for (size_t i = 1; i < p.threads[t].tree.count; i++)
            calls += p.threads[t].tree.nodes[i].calls;
    if (nprocesses)
        *nprocesses = p.nprocesses;
    moth_profile_free(&p);
    return calls;
}

static void test_sessions(void)
{
    const char *path = in_dir("s.moth");
    char file[256];
    snprintf(file, sizeof file, "%s", path);
    moth_profile a, b, c;
    make_run(&a, 100, 1, "job-1", 0, 1);
    make_run(&b, 101, 100, "job-1", 1, 2);
    make_run(&c, 200, 1, "job-2", 0, 4);
    int run;
    /* a child of a session whose file does not exist yet, without `create`: nothing */
    CHECK(moth_mothfile_add_to_session(&b, file, "job-1", 0, &run, NULL) == 0 && run == 0);
    CHECK(access(file, F_OK) != 0);
    /* the first writer makes the file; the next adds to it */
    CHECK(moth_mothfile_add_to_session(&a, file, "job-1", 1, &run, NULL) == 0 && run == 1);
    CHECK(moth_mothfile_add_to_session(&b, file, "job-1", 0, &run, NULL) == 0 && run == 2);
    size_t np = 0;
    CHECK_EQ_U(calls_in(file, -1, &np), 3);
    CHECK_EQ_U(np, 2);
    /* the process tree, as written and as the view links it */
    sqlite3 *db;
    CHECK(sqlite3_open(file, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(db, "SELECT run, pid, parent_pid, parent_run, how, rank, size "
                                 "FROM process_tree ORDER BY run", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 1) == 100 && sqlite3_column_type(st, 3) == SQLITE_NULL);
    CHECK_STR((const char *)sqlite3_column_text(st, 4), "main");
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 2) == 100 && sqlite3_column_int(st, 3) == 1);
    CHECK(sqlite3_column_int(st, 5) == 1 && sqlite3_column_int(st, 6) == 4);
    sqlite3_finalize(st);
    sqlite3_close(db);
    /* a late child of another session does not write into a file a new session took */
    CHECK(moth_mothfile_add_to_session(&c, file, "job-2", 0, &run, NULL) == 0 && run == 0);
    CHECK_EQ_U(calls_in(file, -1, NULL), 3);
    /* a new job takes the file over: the old runs go, in the same transaction */
    CHECK(moth_mothfile_add_to_session(&c, file, "job-2", 1, &run, NULL) == 0 && run == 1);
    CHECK_EQ_U(calls_in(file, -1, &np), 4);
    CHECK_EQ_U(np, 1);
    /* start_session empties the file for the session */
    CHECK(moth_mothfile_start_session(file, "job-3", NULL) == 0);
    int count = -1;
    CHECK(moth_mothfile_count_runs(file, &count, NULL) == 0 && count == 0);
    CHECK(moth_mothfile_add_to_session(&b, file, "job-3", 0, &run, NULL) == 0 && run == 1);
    CHECK(moth_mothfile_add_to_session(&a, file, "job-1", 0, &run, NULL) == 0 && run == 0);
    CHECK(moth_mothfile_count_runs(file, &count, NULL) == 0 && count == 1);
    moth_profile_free(&a);
    moth_profile_free(&b);
    moth_profile_free(&c);
}

static void test_concurrent_writers_lose_no_run(void)
{
    /* eight processes write their run into a file that does not exist yet, all at once */
    const char *path = in_dir("many.moth");
    char file[256];
    snprintf(file, sizeof file, "%s", path);
    pid_t kids[8];
    for (int i = 0; i < 8; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            moth_profile p;
            make_run(&p, 1000 + i, 999, "job-mpi", i, 1);
            int run;
            int rc = moth_mothfile_add_to_session(&p, file, "job-mpi", 1, &run, NULL);
            moth_profile_free(&p);
            _exit(rc == 0 && run >= 1 ? 0 : 1);
        }
    }
    int ok = 1;
    for (int i = 0; i < 8; i++) {
        int status;
        waitpid(kids[i], &status, 0);
        ok &= WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    CHECK(ok);
    int count = 0;
    CHECK(moth_mothfile_count_runs(file, &count, NULL) == 0);
    CHECK_EQ_U(count, 8);
    size_t np;
    CHECK_EQ_U(calls_in(file, -1, &np), 8);
    CHECK_EQ_U(np, 8);
}

static void test_merge(void)
{
    char one[256], two[256], out[256];
    snprintf(one, sizeof one, "%s", in_dir("one.moth"));
    snprintf(two, sizeof two, "%s", in_dir("two.moth"));
    snprintf(out, sizeof out, "%s", in_dir("all.moth"));
    moth_profile a, b, c;
    make_run(&a, 1, 0, NULL, 0, 1);
    make_run(&b, 2, 0, NULL, 1, 2);
    make_run(&c, 3, 0, NULL, 2, 4);
    CHECK(moth_mothfile_write(&a, one, NULL) == 0);
    CHECK(moth_mothfile_write(&b, two, NULL) == 0);
    CHECK(moth_mothfile_append(&c, two, NULL, NULL) == 0);
    const char *inputs[] = {one, two};
    int runs = 0;
    CHECK(moth_mothfile_merge(inputs, 2, out, &runs, NULL) == 0 && runs == 3);
    size_t np;
    CHECK_EQ_U(calls_in(out, -1, &np), 7);
    CHECK_EQ_U(np, 3);
    CHECK_EQ_U(calls_in(out, 3, NULL), 4);
    /* bad input: one clear line, no output file */
    moth_error err;
    const char *bad[] = {one, in_dir("missing.moth")};
    unlink(out);
    CHECK(moth_mothfile_merge(bad, 2, out, NULL, &err) == -1);
    CHECK(strstr(err.msg, "missing.moth") != NULL);
    CHECK(access(out, F_OK) != 0);
    CHECK(moth_mothfile_merge(NULL, 0, out, NULL, &err) == -1);
    CHECK_STR(err.msg, "no runs to merge");
    moth_profile_free(&a);
    moth_profile_free(&b);
    moth_profile_free(&c);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    RUN(test_command_line_quoted_as_a_shell_reads_it);
    RUN(test_mpi_environments);
    RUN(test_environment_blocks);
    RUN(test_self);
    RUN(test_sessions);
    RUN(test_concurrent_writers_lose_no_run);
    RUN(test_merge);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return check_summary();
}
