/* The file readers' error paths, each malformation with the exact message it gets: the marshal
 * reader (every type code truncated or malformed, references, nesting), the pstats reader
 * (shapes of a statistics dictionary), and the moth file reader (SQLite files that are damaged,
 * foreign or newer). */
#include "check.h"
#include "loadfile.h"
#include "marshal.h"
#include "mothfile.h"
#include "pstats.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#define BYTES(s) (s), sizeof(s) - 1
#define STR(x) #x
#define XSTR(x) STR(x)

/* Reads data; returns the error message ("" on success, the value read then in *out). */
static const char *marshal_error(const char *data, size_t len, moth_mread *out)
{
    static moth_error err;
    moth_mread r;
    err.msg[0] = '\0';
    if (moth_marshal_read(&r, data, len, "test file", &err) == 0) {
        if (out)
            *out = r;
        else
            moth_mread_free(&r);
        return "";
    }
    return err.msg;
}

static void test_marshal_malformations(void)
{
    static const struct {
        const char *data;
        size_t len;
        const char *message;
    } cases[] = {
        {BYTES(""), "empty test file"},
        {BYTES("i\x01\x02"), "truncated test file"},
        {BYTES("r"), "truncated test file"},
        {BYTES("r\x05\x00\x00\x00"), "not a valid test file: a reference to nothing"},
        {BYTES("l"), "truncated test file"},
        {BYTES("l\x06\x00\x00\x00"), "not a valid test file: an integer too large"},
        {BYTES("l\xfa\xff\xff\xff"), "not a valid test file: an integer too large"},
        {BYTES("l\x01\x00\x00\x00\x01"), "truncated test file"},
        {BYTES("l\x01\x00\x00\x00\xff\xff"), "not a valid test file: a malformed integer"},
        {BYTES("l\x05\x00\x00\x00\x01\x00\x01\x00\x01\x00\x01\x00\x08\x00"),
         "not a valid test file: an integer too large"},
        {BYTES("g\x00\x00\x00\x00"), "truncated test file"},
        {BYTES("f"), "truncated test file"},
        {BYTES("f\x05" "1.5"), "truncated test file"},
        {BYTES("f\x00"), "not a valid test file: a malformed float"},
        {BYTES("f\x04" "1.5x"), "not a valid test file: a malformed float"},
        {BYTES("z"), "truncated test file"},
        {BYTES("z\x05" "ab"), "truncated test file"},
        {BYTES("z\x03" "a\x00" "b"), "not a valid test file: a name with a NUL character"},
        {BYTES("a\x03\x00\x00"), "truncated test file"},
        {BYTES("s\x09\x00\x00\x00" "abc"), "truncated test file"},
        {BYTES(")"), "truncated test file"},
        {BYTES("(\x02\x00\x00"), "truncated test file"},
        {BYTES(")\x05N"), "truncated test file"},
        {BYTES("{N"), "truncated test file"},
        {BYTES("{NN"), "truncated test file"},
        {BYTES("c\x00\x00\x00\x00"), "truncated test file"},
        {BYTES("X"), "not a valid test file: an unexpected kind of value (type code 0x58)"},
        {BYTES("NN"), "not a valid test file: data after the end"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = marshal_error(cases[i].data, cases[i].len, NULL);
        if (strcmp(got, cases[i].message) != 0)
            fprintf(stderr, "case %zu:\n", i);
        CHECK_STR(got, cases[i].message);
    }
    /* 70 nested one-item tuples: deeper than any profile */
    char deep[160];
    for (int i = 0; i < 70; i++)
        memcpy(deep + 2 * i, ")\x01", 2);
    deep[140] = 'N';
    CHECK_STR(marshal_error(deep, 141, NULL), "not a valid test file: nesting too deep");
}

static void test_marshal_values(void)
{
    moth_mread r;
    /* a flagged tuple holding a reference to itself, True, None, a text float, bytes, -2**40
     * as a long, and an interned short string */
    static const char data[] = "\xa8\x07\x00\x00\x00r\x00\x00\x00\x00TNf\x03" "2.5"
                               "s\x02\x00\x00\x00hi"
                               "l\xfd\xff\xff\xff\x00\x00\x00\x00\x00\x04" "Z\x01x";
    CHECK_STR(marshal_error(data, sizeof data - 1, &r), "");
    const moth_mvalue *top = moth_mread_value(&r, r.root);
    CHECK(top->type == MOTH_MV_TUPLE && top->n == 7);
    CHECK(moth_mread_kid(&r, top, 0) == top);
    CHECK(moth_mread_kid(&r, top, 1)->type == MOTH_MV_BOOL && moth_mread_kid(&r, top, 1)->u.i);
    CHECK(moth_mread_kid(&r, top, 2)->type == MOTH_MV_NONE);
    CHECK(moth_mread_kid(&r, top, 3)->type == MOTH_MV_FLOAT && moth_mread_kid(&r, top, 3)->u.f == 2.5);
    CHECK(moth_mread_kid(&r, top, 4)->type == MOTH_MV_BYTES && moth_mread_kid(&r, top, 4)->n == 2);
    CHECK(moth_mread_kid(&r, top, 5)->type == MOTH_MV_INT &&
          moth_mread_kid(&r, top, 5)->u.i == -(INT64_C(1) << 40));
    CHECK(moth_mread_kid(&r, top, 6)->type == MOTH_MV_STR && moth_mread_kid(&r, top, 6)->n == 1);
    moth_mread_free(&r);

    /* a code object, as the pure-Python profile module's labels hold one: kept as its repr */
    static const char code[] = "c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                               "\x00\x00\x00\x00"
                               "s\x00\x00\x00\x00)\x00)\x00)\x00s\x00\x00\x00\x00"
                               "z\x04" "f.py" "z\x01" "f" "z\x01" "f"
                               "\x07\x00\x00\x00"
                               "s\x00\x00\x00\x00s\x00\x00\x00\x00";
    CHECK_STR(marshal_error(code, sizeof code - 1, &r), "");
    top = moth_mread_value(&r, r.root);
    CHECK(top->type == MOTH_MV_STR);
    char text[128];
    snprintf(text, sizeof text, "%.*s", (int)top->n, top->u.s);
    CHECK_STR(text, "<code object f, file \"f.py\", line 7>");
    moth_mread_free(&r);
    /* the same with a file name that is not text */
    static const char bad[] = "c\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                              "\x00\x00\x00\x00"
                              "s\x00\x00\x00\x00)\x00)\x00)\x00s\x00\x00\x00\x00"
                              "i\x04\x00\x00\x00" "z\x01" "f" "z\x01" "f"
                              "\x07\x00\x00\x00"
                              "s\x00\x00\x00\x00s\x00\x00\x00\x00";
    CHECK_STR(marshal_error(bad, sizeof bad - 1, NULL),
              "not a valid test file: a malformed code object");
    for (size_t cut = 1; cut < sizeof code - 1; cut++)
        CHECK_STR(marshal_error(code, cut, NULL), "truncated test file");
}

/* The pstats reader: valid marshal, wrong shapes. */
static const char *pstats_error(const char *data, size_t len)
{
    static moth_error err;
    moth_pstats s;
    moth_pstats_init(&s);
    err.msg[0] = '\0';
    int rc = moth_pstats_read(&s, data, len, &err);
    moth_pstats_free(&s);
    return rc == 0 ? "" : err.msg;
}

#define KEY "\xa9\x03z\x04" "f.py" "i\x01\x00\x00\x00" "z\x01" "f"
#define KEY2 ")\x03z\x04" "g.py" "i\x02\x00\x00\x00" "z\x01" "g"
#define STATS(callers) ")\x05i\x01\x00\x00\x00i\x02\x00\x00\x00g\x00\x00\x00\x00\x00\x00\xe0?" \
                       "i\x01\x00\x00\x00" callers

static void test_pstats_shapes(void)
{
    static const struct {
        const char *data;
        size_t len;
        const char *message;
    } cases[] = {
        {BYTES("{" KEY STATS("{0") "0"), ""},
        {BYTES("{" KEY STATS("{" KEY2 "i\x03\x00\x00\x00" "0") "0"), ""},
        {BYTES("[\x00\x00\x00\x00"), "not a valid pstats file: it holds no statistics dictionary"},
        {BYTES("{0"), "empty pstats file: no function was profiled"},
        {BYTES("{N" STATS("{0") "0"), "not a valid pstats file: a function key is not (file, line, name)"},
        {BYTES("{)\x03z\x01" "fi\xff\xff\xff\xffz\x01" "f" STATS("{0") "0"),
         "not a valid pstats file: a function key is not (file, line, name)"},
        {BYTES("{" KEY ")\x02NN0"), "not a valid pstats file: statistics are not (cc, nc, tt, ct, callers)"},
        {BYTES("{" KEY ")\x05i\xff\xff\xff\xffNNNN0"),
         "not a valid pstats file: statistics are not (cc, nc, tt, ct, callers)"},
        {BYTES("{" KEY STATS("N") "0"), "not a valid pstats file: statistics are not (cc, nc, tt, ct, callers)"},
        {BYTES("{" KEY STATS("{" KEY2 "i\xff\xff\xff\xff" "0") "0"),
         "not a valid pstats file: a negative call count"},
        {BYTES("{" KEY STATS("{" KEY2 ")\x04NNNN" "0") "0"),
         "not a valid pstats file: malformed caller statistics"},
        {BYTES("{" KEY STATS("{" KEY2 "z\x01x" "0") "0"),
         "not a valid pstats file: malformed caller statistics"},
        /* a caller named by a reference to the function's own key, with a 5-tuple */
        {BYTES("{" KEY STATS("{" KEY2 "i\x01\x00\x00\x00r\x00\x00\x00\x00" STATS("{0") "0") "0"),
         "not a valid pstats file: malformed caller statistics"},
        {BYTES("{" KEY STATS("{" KEY2 "i\x01\x00\x00\x00" ")\x03z\x01hi\x03\x00\x00\x00z\x01h"
                             ")\x04i\x01\x00\x00\x00i\x01\x00\x00\x00i\x00\x00\x00\x00"
                             "i\x00\x00\x00\x00" "0") "0"),
         "not a valid pstats file: callers in two different formats"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = pstats_error(cases[i].data, cases[i].len);
        if (strcmp(got, cases[i].message) != 0)
            fprintf(stderr, "case %zu:\n", i);
        CHECK_STR(got, cases[i].message);
    }
}

/* ---- moth files ---- */

static char dir[] = "/tmp/moth-readers-XXXXXX";

static const char *in_dir(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

static void write_small_moth_file(const char *path)
{
    moth_profile p;
    moth_profile_init(&p);
    p.tick_seconds = 1e-6;
    uint32_t f, g;
    moth_thread_profile *th;
    CHECK(moth_funcs_intern(&p.funcs, "m.py", 1, "main", NULL, &f, NULL) == 0);
    CHECK(moth_funcs_intern(&p.funcs, "m.py", 5, "g", NULL, &g, NULL) == 0);
    CHECK(moth_profile_add_thread(&p, 1, "MainThread", &th, NULL) == 0);
    uint32_t m = moth_cct_child(&th->tree, MOTH_CCT_ROOT, f + 1);
    uint32_t c = moth_cct_child(&th->tree, m, g + 1);
    th->tree.nodes[m].func = f;
    th->tree.nodes[m].calls = 1;
    th->tree.nodes[m].total = 100;
    th->tree.nodes[c].func = g;
    th->tree.nodes[c].calls = 2;
    th->tree.nodes[c].total = 40;
    moth_cct_finish_from_totals(&th->tree);
    CHECK(moth_lines_add(&p.lines, g, 6, 2, 40, NULL) == 0);
    CHECK(moth_lines_set_last(&p.lines, g, 7, NULL) == 0);
    CHECK(moth_profile_set_meta(&p, "python", "3.12.1", NULL) == 0);
    moth_lines_finish(&p.lines);
    CHECK(moth_mothfile_write(&p, path, NULL) == 0);
    moth_profile_free(&p);
}

static void sql(const char *path, const char *statement)
{
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    char *msg = NULL;
    if (sqlite3_exec(db, statement, NULL, NULL, &msg) != SQLITE_OK)
        fprintf(stderr, "%s: %s\n", statement, msg);
    sqlite3_free(msg);
    sqlite3_close(db);
}

static const char *moth_file_error(const char *path, int run)
{
    static moth_error err;
    moth_profile p;
    err.msg[0] = '\0';
    int rc = moth_mothfile_read(&p, path, run, &err);
    if (rc == 0)
        moth_profile_free(&p);
    return rc == 0 ? "" : err.msg;
}

static void test_moth_file_damage(void)
{
    static const struct {
        const char *sql;
        const char *message; /* after "PATH " */
    } cases[] = {
        {"SELECT 1", ""},
        {"UPDATE runs SET tick_seconds = 0", "is a damaged moth profile: bad tick length"},
        {"UPDATE functions SET id = id + 10", "is a damaged moth profile: function ids are not 0..N-1"},
        {"UPDATE functions SET line = -1 WHERE id = 0",
         "is a damaged moth profile: a function line out of range"},
        {"UPDATE threads SET name = x'00ff'", ""},
        {"UPDATE functions SET qualname = 12 WHERE id = 0", ""},
        {"UPDATE nodes SET parent = 7 WHERE id = 2", "is a damaged moth profile: inconsistent calling-context tree"},
        {"UPDATE nodes SET function = 9 WHERE id = 2", "is a damaged moth profile: inconsistent calling-context tree"},
        {"UPDATE nodes SET calls = -1 WHERE id = 1", "is a damaged moth profile: inconsistent calling-context tree"},
        {"UPDATE lines SET hits = -3", "is a damaged moth profile: inconsistent line data"},
        {"UPDATE lines SET function = 5", "is a damaged moth profile: inconsistent line data"},
        {"UPDATE function_lines SET last_line = -1", "is a damaged moth profile: inconsistent line data"},
        {"DELETE FROM runs", "is a damaged moth profile: it holds no run"},
        {"DELETE FROM moth", "is a SQLite database but not a moth profile"},
        {"PRAGMA user_version = 99", "was written by a newer moth (file version 99; this moth reads "
                                     "up to " XSTR(MOTH_FILE_SCHEMA) "): upgrade moth"},
        {"DROP TABLE run_meta", "no such table: run_meta"},
        {"DROP TABLE nodes", "no such table: nodes"},
        {"DROP TABLE lines", "no such table: lines"},
        {"DROP TABLE function_lines", "no such table: function_lines"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *path = in_dir("damaged.moth");
        write_small_moth_file(path);
        sql(path, cases[i].sql);
        char expect[512];
        if (cases[i].message[0])
            snprintf(expect, sizeof expect, "%s%s%s", path,
                     strncmp(cases[i].message, "no such", 7) == 0 ? ": " : " ", cases[i].message);
        else
            expect[0] = '\0';
        const char *got = moth_file_error(path, -1);
        if (strcmp(got, expect) != 0)
            fprintf(stderr, "case %zu (%s):\n", i, cases[i].sql);
        CHECK_STR(got, expect);
        unlink(path);
    }
    /* a function without a name: only a schema changed by hand allows it */
    const char *path = in_dir("small.moth");
    write_small_moth_file(path);
    sql(path, "PRAGMA writable_schema = 1; UPDATE sqlite_schema SET sql = "
              "replace(sql, 'name TEXT NOT NULL', 'name TEXT') WHERE name = 'functions'");
    sql(path, "UPDATE functions SET name = NULL WHERE id = 1");
    char expect[512];
    snprintf(expect, sizeof expect, "%s is a damaged moth profile: a function without a file or "
             "name", path);
    CHECK_STR(moth_file_error(path, -1), expect);
    unlink(path);
    /* a run that is not there, and files that are not moth files at all */
    write_small_moth_file(path);
    snprintf(expect, sizeof expect, "%s has no run 3", path);
    CHECK_STR(moth_file_error(path, 3), expect);
    int runs = 0;
    CHECK(moth_mothfile_count_runs(path, &runs, NULL) == 0 && runs == 1);
    unlink(path);
    snprintf(expect, sizeof expect, "cannot open %s: No such file or directory", path);
    CHECK_STR(moth_file_error(path, -1), expect);
    moth_error err;
    CHECK(moth_mothfile_count_runs(path, &runs, &err) == -1);
    CHECK_STR(err.msg, expect);
    FILE *f = fopen(path, "wb");
    fputs("SQLite format 3", f);
    fputc('\0', f);
    for (int i = 0; i < 2000; i++)
        fputc(i * 7, f);
    fclose(f);
    CHECK(moth_mothfile_sniff(path));
    snprintf(expect, sizeof expect, "%s is not a moth profile (not a SQLite database)", path);
    CHECK_STR(moth_file_error(path, -1), expect);
    unlink(path);
}

/* Appending: two runs of different tick lengths merge at the first run's tick. */
static void test_moth_file_runs(void)
{
    const char *path = in_dir("runs.moth");
    write_small_moth_file(path);
    sql(path, "INSERT INTO runs SELECT 2, tick_seconds * 2, total_seconds FROM runs;"
              "INSERT INTO functions SELECT 2, id, file, line, name, qualname FROM functions;"
              "INSERT INTO threads SELECT 2, id, thread_id, native_id, name FROM threads;"
              "INSERT INTO nodes SELECT 2, thread, id, parent, function, calls, total_ticks,"
              " self_ticks, total, self FROM nodes");
    moth_profile p;
    moth_error err;
    CHECK(moth_mothfile_read(&p, path, -1, &err) == 0);
    CHECK_EQ_U(p.nthreads, 2);
    CHECK_STR(moth_profile_get_meta(&p, "runs"), "2");
    CHECK_EQ_U(p.threads[1].tree.nodes[1].total, 200); /* 100 ticks of twice the length */
    moth_profile_free(&p);
    moth_loaded l;
    CHECK(moth_load_profile_file(path, 2, &l, &err) == 0);
    CHECK(l.has_tree && l.profile.nthreads == 1);
    moth_loaded_free(&l);
    unlink(path);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_marshal_malformations);
    RUN(test_marshal_values);
    RUN(test_pstats_shapes);
    RUN(test_moth_file_damage);
    RUN(test_moth_file_runs);
    rmdir(dir);
    return check_summary();
}
