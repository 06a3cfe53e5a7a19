/* mothfile.c: moth's SQLite profile file; see mothfile.h and docs/moth-file.md. */
#include "mothfile.h"
#include "pstats.h"
#include "strbuf.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char SCHEMA[] =
    "CREATE TABLE moth (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n"
    "CREATE TABLE runs (run INTEGER PRIMARY KEY, tick_seconds REAL NOT NULL,\n"
    "                   total_seconds REAL NOT NULL);\n"
    "CREATE TABLE run_meta (run INTEGER NOT NULL REFERENCES runs, key TEXT NOT NULL,\n"
    "                       value TEXT NOT NULL, PRIMARY KEY (run, key));\n"
    "CREATE TABLE functions (run INTEGER NOT NULL REFERENCES runs, id INTEGER NOT NULL,\n"
    "                        file TEXT NOT NULL, line INTEGER NOT NULL, name TEXT NOT NULL,\n"
    "                        qualname TEXT, PRIMARY KEY (run, id));\n"
    "CREATE TABLE threads (run INTEGER NOT NULL REFERENCES runs, id INTEGER NOT NULL,\n"
    "                      thread_id INTEGER NOT NULL, native_id INTEGER NOT NULL, name TEXT,\n"
    "                      PRIMARY KEY (run, id));\n"
    "CREATE TABLE nodes (run INTEGER NOT NULL, thread INTEGER NOT NULL, id INTEGER NOT NULL,\n"
    "                    parent INTEGER NOT NULL, function INTEGER NOT NULL,\n"
    "                    calls INTEGER NOT NULL, total_ticks INTEGER NOT NULL,\n"
    "                    self_ticks INTEGER NOT NULL, total REAL NOT NULL, self REAL NOT NULL,\n"
    "                    PRIMARY KEY (run, thread, id));\n"
    "CREATE TABLE function_stats (run INTEGER NOT NULL, function INTEGER NOT NULL,\n"
    "                    primitive_calls INTEGER NOT NULL, calls INTEGER NOT NULL,\n"
    "                    own REAL NOT NULL, cumulative REAL NOT NULL,\n"
    "                    PRIMARY KEY (run, function));\n"
    "CREATE TABLE lines (run INTEGER NOT NULL, function INTEGER NOT NULL, line INTEGER NOT NULL,\n"
    "                    hits INTEGER NOT NULL, time_ticks INTEGER NOT NULL, time REAL NOT NULL,\n"
    "                    PRIMARY KEY (run, function, line));\n"
    "CREATE TABLE function_lines (run INTEGER NOT NULL, function INTEGER NOT NULL,\n"
    "                    last_line INTEGER NOT NULL, PRIMARY KEY (run, function));\n"
    "CREATE TABLE samples (run INTEGER NOT NULL, thread INTEGER NOT NULL,\n"
    "                      node INTEGER NOT NULL, time REAL, weight REAL NOT NULL);\n"
    "CREATE VIEW function_times AS\n"
    "  SELECT f.run, f.file, f.line, f.name, f.qualname, s.calls, s.primitive_calls,\n"
    "         s.own, s.cumulative\n"
    "  FROM function_stats s JOIN functions f ON f.run = s.run AND f.id = s.function;\n";

/* The process of each run and the process tree (schema 3): files of earlier schemas get the
 * table when a run is appended. `parent_run` is the run of the parent process when the file
 * holds it (the same session, the parent's pid), found when read: a child often ends, and is
 * written, before its parent. */
static const char PROCESS_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS processes (run INTEGER PRIMARY KEY, pid INTEGER NOT NULL,\n"
    "                    parent_pid INTEGER NOT NULL, command TEXT, how TEXT, session TEXT,\n"
    "                    rank INTEGER, size INTEGER);\n"
    "CREATE VIEW IF NOT EXISTS process_tree AS\n"
    "  SELECT p.run, p.pid, p.parent_pid,\n"
    "         (SELECT q.run FROM processes q WHERE q.pid = p.parent_pid AND q.run != p.run\n"
    "            AND q.session IS p.session ORDER BY q.run LIMIT 1) AS parent_run,\n"
    "         p.command, p.how, p.session, p.rank, p.size\n"
    "  FROM processes p;\n";

/* Memory profiling's tables (schema 2): files of schema 1 have none, and get them when a run
 * is appended. */
static const char MEMORY_SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS memory_summary (run INTEGER PRIMARY KEY,\n"
    "                    peak_bytes INTEGER NOT NULL, peak_time REAL NOT NULL,\n"
    "                    sample_bytes INTEGER NOT NULL, untracked_bytes INTEGER NOT NULL,\n"
    "                    untracked_blocks INTEGER NOT NULL, own_bytes INTEGER NOT NULL);\n"
    "CREATE TABLE IF NOT EXISTS memory_rows (run INTEGER NOT NULL, id INTEGER NOT NULL,\n"
    "                    thread INTEGER NOT NULL, node INTEGER NOT NULL, line INTEGER NOT NULL,\n"
    "                    peak_bytes INTEGER NOT NULL, peak_blocks REAL NOT NULL,\n"
    "                    leaked_bytes INTEGER NOT NULL, leaked_blocks REAL NOT NULL,\n"
    "                    allocated_bytes INTEGER NOT NULL, allocated_blocks REAL NOT NULL,\n"
    "                    PRIMARY KEY (run, id));\n"
    "CREATE TABLE IF NOT EXISTS memory_timeline (run INTEGER NOT NULL, point INTEGER NOT NULL,\n"
    "                    time REAL NOT NULL, bytes INTEGER NOT NULL, high INTEGER NOT NULL,\n"
    "                    PRIMARY KEY (run, point));\n"
    "CREATE TABLE IF NOT EXISTS memory_changes (run INTEGER NOT NULL, point INTEGER NOT NULL,\n"
    "                    row INTEGER NOT NULL, bytes INTEGER NOT NULL);\n"
    "CREATE INDEX IF NOT EXISTS memory_changes_by_point ON memory_changes (run, point);\n"
    "CREATE VIEW IF NOT EXISTS memory_lines AS\n"
    "  SELECT m.run, m.thread, m.node, f.file, m.line, f.name AS function, f.qualname,\n"
    "         m.peak_bytes, m.peak_blocks, m.leaked_bytes, m.leaked_blocks,\n"
    "         m.allocated_bytes, m.allocated_blocks\n"
    "  FROM memory_rows m\n"
    "  LEFT JOIN nodes n ON n.run = m.run AND n.thread = m.thread AND n.id = m.node\n"
    "  LEFT JOIN functions f ON f.run = n.run AND f.id = n.function;\n";

static int sql_fail(sqlite3 *db, moth_error *err, const char *doing)
{
    return moth_fail(err, "%s: %s", doing, db ? sqlite3_errmsg(db) : "cannot open");
}

/* Inserts one row with the prepared statement st: its values in column order, each of the
 * type its letter in `types` says (i: int, I: sqlite3_int64, d: double, t: text, NULL for a
 * SQL NULL); st is reset for the next row. 0, or -1 with a message. */
static int insert_row(sqlite3 *db, sqlite3_stmt *st, moth_error *err, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    for (int col = 1; types[col - 1]; col++) {
        switch (types[col - 1]) {
        case 'i':
            sqlite3_bind_int(st, col, va_arg(ap, int));
            break;
        case 'I':
            sqlite3_bind_int64(st, col, va_arg(ap, sqlite3_int64));
            break;
        case 'd':
            sqlite3_bind_double(st, col, va_arg(ap, double));
            break;
        default: {
            const char *text = va_arg(ap, const char *);
            if (text)
                sqlite3_bind_text(st, col, text, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, col);
        }
        }
    }
    va_end(ap);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, "moth file");
    sqlite3_reset(st);
    return rc;
}

static int exec(sqlite3 *db, const char *sql, moth_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        moth_fail(err, "moth file: %s", msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* ---- writing ---- */

static int insert_meta(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO run_meta VALUES (?, ?, ?)", -1, &st, NULL))
        return sql_fail(db, err, "moth file");
    int rc = 0;
    for (size_t i = 0; i < p->nmeta && rc == 0; i++) {
        sqlite3_bind_int(st, 1, run);
        sqlite3_bind_text(st, 2, p->meta[i].key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, p->meta[i].value, -1, SQLITE_STATIC);
        if (sqlite3_step(st) != SQLITE_DONE)
            rc = sql_fail(db, err, "moth file");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int insert_functions(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO functions VALUES (?, ?, ?, ?, ?, ?)", -1, &st, NULL))
        return sql_fail(db, err, "moth file");
    int rc = 0;
    for (size_t i = 0; i < p->funcs.count && rc == 0; i++) {
        const moth_func *f = &p->funcs.items[i];
        rc = insert_row(db, st, err, "iItItt", run, (sqlite3_int64)i, f->file,
                        (sqlite3_int64)f->line, f->name, f->qualname);
    }
    sqlite3_finalize(st);
    return rc;
}

static int insert_threads(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    sqlite3_stmt *th, *nd;
    if (sqlite3_prepare_v2(db, "INSERT INTO threads VALUES (?, ?, ?, ?, ?)", -1, &th, NULL))
        return sql_fail(db, err, "moth file");
    if (sqlite3_prepare_v2(db, "INSERT INTO nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1,
                           &nd, NULL)) {
        sqlite3_finalize(th);
        return sql_fail(db, err, "moth file");
    }
    int rc = 0;
    for (size_t t = 0; t < p->nthreads && rc == 0; t++) {
        const moth_thread_profile *tp = &p->threads[t];
        rc = insert_row(db, th, err, "iIIIt", run, (sqlite3_int64)t, (sqlite3_int64)tp->id,
                        (sqlite3_int64)tp->native_id, tp->name);
        /* The root (node 0) is implicit; every other node is a row. */
        for (size_t i = 1; i < tp->tree.count && rc == 0; i++) {
            const moth_cct_node *n = &tp->tree.nodes[i];
            rc = insert_row(db, nd, err, "iIIIIIIIdd", run, (sqlite3_int64)t,
                            (sqlite3_int64)i, (sqlite3_int64)n->parent, (sqlite3_int64)n->func,
                            (sqlite3_int64)n->calls, (sqlite3_int64)n->total,
                            (sqlite3_int64)n->self, (double)n->total * p->tick_seconds,
                            (double)n->self * p->tick_seconds);
        }
    }
    sqlite3_finalize(th);
    sqlite3_finalize(nd);
    return rc;
}

static int insert_function_stats(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    moth_pstats view;
    moth_pstats_init(&view);
    if (moth_pstats_from_profile(&view, p, err) < 0) {
        moth_pstats_free(&view);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO function_stats VALUES (?, ?, ?, ?, ?, ?)", -1, &st,
                           NULL)) {
        moth_pstats_free(&view);
        return sql_fail(db, err, "moth file");
    }
    int rc = 0;
    for (size_t i = 0; i < view.nrows && rc == 0; i++) {
        const moth_pstats_row *row = &view.rows[i];
        /* The view's function table is a copy of the profile's, index for index. */
        rc = insert_row(db, st, err, "iIIIdd", run, (sqlite3_int64)row->func,
                        (sqlite3_int64)row->cc, (sqlite3_int64)row->nc, row->tt, row->ct);
    }
    sqlite3_finalize(st);
    moth_pstats_free(&view);
    return rc;
}

static int insert_lines(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    sqlite3_stmt *ln, *fl;
    if (sqlite3_prepare_v2(db, "INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?)", -1, &ln, NULL))
        return sql_fail(db, err, "moth file");
    if (sqlite3_prepare_v2(db, "INSERT INTO function_lines VALUES (?, ?, ?)", -1, &fl, NULL)) {
        sqlite3_finalize(ln);
        return sql_fail(db, err, "moth file");
    }
    int rc = 0;
    for (size_t i = 0; i < p->lines.count && rc == 0; i++) {
        const moth_func_lines *f = &p->lines.funcs[i];
        rc = insert_row(db, fl, err, "iII", run, (sqlite3_int64)f->func,
                        (sqlite3_int64)f->last_line);
        for (size_t k = 0; k < f->nlines && rc == 0; k++)
            rc = insert_row(db, ln, err, "iIIIId", run, (sqlite3_int64)f->func,
                            (sqlite3_int64)f->lines[k].line, (sqlite3_int64)f->lines[k].hits,
                            (sqlite3_int64)f->lines[k].time,
                            (double)f->lines[k].time * p->tick_seconds);
    }
    sqlite3_finalize(ln);
    sqlite3_finalize(fl);
    return rc;
}

/* The run's process: the profile's first (a run is one process). */
static int insert_process(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    if (p->nprocesses == 0 || !moth_process_known(&p->processes[0]))
        return 0;
    const moth_process *proc = &p->processes[0];
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO processes VALUES (?, ?, ?, ?, ?, ?, ?, ?)", -1, &st,
                           NULL))
        return sql_fail(db, err, "moth file");
    sqlite3_bind_int(st, 1, run);
    sqlite3_bind_int64(st, 2, proc->pid);
    sqlite3_bind_int64(st, 3, proc->parent_pid);
    const char *texts[] = {proc->command, proc->how, proc->session};
    for (int i = 0; i < 3; i++) {
        if (texts[i])
            sqlite3_bind_text(st, 4 + i, texts[i], -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4 + i);
    }
    if (proc->rank >= 0) {
        sqlite3_bind_int(st, 7, proc->rank);
        if (proc->size >= 0)
            sqlite3_bind_int(st, 8, proc->size);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, "moth file");
    sqlite3_finalize(st);
    return rc;
}

static int insert_memory(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    const moth_memory *m = &p->memory;
    if (!m->recorded)
        return 0;
    sqlite3_stmt *st = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "INSERT INTO memory_summary VALUES (?, ?, ?, ?, ?, ?, ?)", -1, &st,
                           NULL))
        goto sqlerr;
    if (insert_row(db, st, err, "iIdIIII", run, (sqlite3_int64)m->peak_bytes, m->peak_time,
                   (sqlite3_int64)m->sample_bytes, (sqlite3_int64)m->untracked_bytes,
                   (sqlite3_int64)m->untracked_count, (sqlite3_int64)m->own_bytes) < 0)
        goto done;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT INTO memory_rows VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           -1, &st, NULL))
        goto sqlerr;
    for (size_t i = 0; i < m->nrows; i++) {
        const moth_mem_row *r = &m->rows[i];
        if (insert_row(db, st, err, "iIIIIIdIdId", run, (sqlite3_int64)i,
                       (sqlite3_int64)r->thread, (sqlite3_int64)r->node, (sqlite3_int64)r->line,
                       (sqlite3_int64)r->peak_bytes, r->peak_count,
                       (sqlite3_int64)r->leaked_bytes, r->leaked_count,
                       (sqlite3_int64)r->alloc_bytes, r->alloc_count) < 0)
            goto done;
    }
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT INTO memory_timeline VALUES (?, ?, ?, ?, ?)", -1, &st,
                           NULL))
        goto sqlerr;
    for (size_t i = 0; i < m->npoints; i++)
        if (insert_row(db, st, err, "iIdII", run, (sqlite3_int64)i, m->points[i].time,
                       (sqlite3_int64)m->points[i].bytes, (sqlite3_int64)m->points[i].high) < 0)
            goto done;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "INSERT INTO memory_changes VALUES (?, ?, ?, ?)", -1, &st, NULL))
        goto sqlerr;
    for (size_t i = 0; i < m->npoints; i++) {
        size_t end = i + 1 < m->npoints ? m->points[i + 1].first_change : m->nchanges;
        for (size_t c = m->points[i].first_change; c < end; c++)
            if (insert_row(db, st, err, "iIII", run, (sqlite3_int64)i,
                           (sqlite3_int64)m->changes[c].row,
                           (sqlite3_int64)m->changes[c].bytes) < 0)
                goto done;
    }
    rc = 0;
    goto done;
sqlerr:
    sql_fail(db, err, "moth file");
done:
    sqlite3_finalize(st);
    return rc;
}

/* Adds p as run number `run` inside the current transaction. */
static int insert_run(sqlite3 *db, int run, const moth_profile *p, moth_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT INTO runs VALUES (?, ?, ?)", -1, &st, NULL))
        return sql_fail(db, err, "moth file");
    sqlite3_bind_int(st, 1, run);
    sqlite3_bind_double(st, 2, p->tick_seconds);
    sqlite3_bind_double(st, 3, moth_profile_total_seconds(p));
    int done = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
    if (!done)
        return sql_fail(db, err, "moth file");
    return insert_meta(db, run, p, err) < 0 || insert_functions(db, run, p, err) < 0 ||
                   insert_threads(db, run, p, err) < 0 ||
                   insert_function_stats(db, run, p, err) < 0 ||
                   insert_lines(db, run, p, err) < 0 || insert_memory(db, run, p, err) < 0 ||
                   insert_process(db, run, p, err) < 0
               ? -1
               : 0;
}

static int create_schema(sqlite3 *db, moth_error *err)
{
    char header[200];
    snprintf(header, sizeof header,
             "PRAGMA user_version = %d;\n"
             "INSERT INTO moth VALUES ('format', 'moth profile');\n"
             "INSERT INTO moth VALUES ('moth_version', '%s');\n",
             MOTH_FILE_SCHEMA, MOTH_VERSION);
    return exec(db, SCHEMA, err) < 0 || exec(db, MEMORY_SCHEMA, err) < 0 ||
                   exec(db, PROCESS_SCHEMA, err) < 0 || exec(db, header, err) < 0
               ? -1
               : 0;
}

/* The session a file's runs belong to ("" when none), into out. */
static void get_session(sqlite3 *db, char *out, size_t size)
{
    sqlite3_stmt *st;
    out[0] = '\0';
    if (sqlite3_prepare_v2(db, "SELECT value FROM moth WHERE key = 'session'", -1, &st, NULL))
        return;
    const unsigned char *v;
    if (sqlite3_step(st) == SQLITE_ROW && (v = sqlite3_column_text(st, 0)))
        snprintf(out, size, "%s", (const char *)v);
    sqlite3_finalize(st);
}

static int set_session(sqlite3 *db, const char *session, moth_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO moth VALUES ('session', ?)", -1, &st, NULL))
        return sql_fail(db, err, "moth file");
    sqlite3_bind_text(st, 1, session, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : sql_fail(db, err, "moth file");
    sqlite3_finalize(st);
    return rc;
}

/* How a new file goes into place. */
enum { REPLACE, EXCLUSIVE };

/* Writes a new moth file at path: the profiles given as runs 1..n (none: an empty file), and
 * the session's identifier when not NULL. It is written aside and put in place complete: over
 * whatever was there (REPLACE), or only where nothing is (EXCLUSIVE: returns 1 when another
 * process made the file first, and writes nothing). */
static int write_new(const moth_profile *const *profiles, size_t n, const char *session,
                     const char *path, int how, moth_error *err)
{
    size_t len = strlen(path);
    char *tmp = moth_malloc(len + 32, err);
    if (!tmp)
        return -1;
    snprintf(tmp, len + 32, "%s.tmp-%ld", path, (long)getpid());
    unlink(tmp);
    sqlite3 *db = NULL;
    int rc = -1;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        moth_fail(err, "cannot write %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        goto done;
    }
    if (exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;", err) < 0 ||
        create_schema(db, err) < 0 || (session && set_session(db, session, err) < 0))
        goto done;
    for (size_t i = 0; i < n; i++)
        if (insert_run(db, (int)i + 1, profiles[i], err) < 0)
            goto done;
    if (exec(db, "COMMIT;", err) < 0)
        goto done;
    if (sqlite3_close(db) != SQLITE_OK) {
        moth_fail(err, "cannot write %s", path);
        db = NULL;
        goto done;
    }
    db = NULL;
    if (how == EXCLUSIVE) {
        /* link() puts the file in place only if the name is free: another process writing
         * its run at the same moment cannot be overwritten */
        if (link(tmp, path) != 0) {
            if (errno == EEXIST) {
                rc = 1;
                goto done;
            }
            /* a file system without hard links: put it in place the ordinary way */
            if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP) {
                moth_fail(err, "cannot write %s: %s", path, strerror(errno));
                goto done;
            }
            if (rename(tmp, path) != 0) {
                moth_fail(err, "cannot write %s: %s", path, strerror(errno));
                goto done;
            }
        }
    } else if (rename(tmp, path) != 0) {
        moth_fail(err, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (db)
        sqlite3_close(db);
    unlink(tmp); /* after a link, the file lives on under path */
    free(tmp);
    return rc;
}

int moth_mothfile_write(const moth_profile *p, const char *path, moth_error *err)
{
    return write_new(&p, 1, NULL, path, REPLACE, err);
}

/* Opens an existing moth file and checks it is one this moth can read. */
static int open_existing(const char *path, int writable, sqlite3 **out, moth_error *err)
{
    sqlite3 *db = NULL;
    *out = NULL;
    if (access(path, F_OK) != 0)
        return moth_fail(err, "cannot open %s: %s", path, strerror(errno));
    int flags = writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY;
    if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
        moth_fail(err, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        sqlite3_close(db);
        return -1;
    }
    sqlite3_busy_timeout(db, 10000); /* other processes may be appending runs */
    sqlite3_stmt *st = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version < 0) {
        sqlite3_close(db);
        return moth_fail(err, "%s is not a moth profile (not a SQLite database)", path);
    }
    const unsigned char *format = NULL;
    char fmt[64] = "";
    if (sqlite3_prepare_v2(db, "SELECT value FROM moth WHERE key = 'format'", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && (format = sqlite3_column_text(st, 0)))
        snprintf(fmt, sizeof fmt, "%s", (const char *)format);
    sqlite3_finalize(st);
    if (strcmp(fmt, "moth profile") != 0) {
        sqlite3_close(db);
        return moth_fail(err, "%s is a SQLite database but not a moth profile", path);
    }
    if (version > MOTH_FILE_SCHEMA) {
        sqlite3_close(db);
        return moth_fail(err, "%s was written by a newer moth (file version %d; this moth reads "
                         "up to %d): upgrade moth", path, version, MOTH_FILE_SCHEMA);
    }
    *out = db;
    return 0;
}

/* Empties a file of its runs, every table but `moth` (inside the caller's transaction). */
static int empty_runs(sqlite3 *db, moth_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND "
                               "name != 'moth' AND name NOT LIKE 'sqlite_%'", -1, &st, NULL))
        return sql_fail(db, err, "moth file");
    moth_sb sql = MOTH_SB_INIT;
    const unsigned char *name;
    while (sqlite3_step(st) == SQLITE_ROW && (name = sqlite3_column_text(st, 0)))
        moth_sb_printf(&sql, "DELETE FROM \"%s\";\n", (const char *)name);
    sqlite3_finalize(st);
    int rc = moth_sb_check(&sql, err) < 0 ? -1 : exec(db, sql.data ? sql.data : "", err);
    moth_sb_free(&sql);
    return rc;
}

/* What to do with a file of another session. */
enum { APPEND_ANY, SESSION_TAKE_OVER, SESSION_ONLY };

/* Adds p as a new run of the existing file at path, in one transaction. With a session,
 * a file of another session is emptied first (SESSION_TAKE_OVER) or left alone, *run = 0
 * (SESSION_ONLY). */
static int add_run(const moth_profile *p, const char *path, const char *session, int mode,
                   int *run, moth_error *err)
{
    sqlite3 *db;
    if (open_existing(path, 1, &db, err) < 0)
        return -1;
    /* other processes of the session may be writing theirs: wait for them as long as needed */
    sqlite3_busy_timeout(db, 600000);
    int rc = -1;
    if (exec(db, "BEGIN IMMEDIATE;", err) < 0)
        goto done;
    /* a file of an older schema gets the tables it lacks */
    char upgrade[64];
    snprintf(upgrade, sizeof upgrade, "PRAGMA user_version = %d;", MOTH_FILE_SCHEMA);
    if (exec(db, MEMORY_SCHEMA, err) < 0 || exec(db, PROCESS_SCHEMA, err) < 0 ||
        exec(db, upgrade, err) < 0)
        goto rollback;
    if (session) {
        char current[256];
        get_session(db, current, sizeof current);
        if (strcmp(current, session) != 0) {
            if (mode == SESSION_ONLY) {
                exec(db, "ROLLBACK;", NULL);
                *run = 0;
                rc = 0;
                goto done;
            }
            if (empty_runs(db, err) < 0 || set_session(db, session, err) < 0)
                goto rollback;
        }
    }
    sqlite3_stmt *st;
    int next = 0;
    if (sqlite3_prepare_v2(db, "SELECT COALESCE(MAX(run), 0) + 1 FROM runs", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        next = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (next == 0) {
        sql_fail(db, err, path);
        goto rollback;
    }
    if (insert_run(db, next, p, err) < 0 || exec(db, "COMMIT;", err) < 0)
        goto rollback;
    *run = next;
    rc = 0;
    goto done;
rollback:
    exec(db, "ROLLBACK;", NULL);
done:
    sqlite3_close(db);
    return rc;
}

int moth_mothfile_append(const moth_profile *p, const char *path, int *run, moth_error *err)
{
    int got = 0;
    if (access(path, F_OK) != 0) {
        int made = write_new(&p, 1, NULL, path, EXCLUSIVE, err);
        if (made <= 0) {
            if (run && made == 0)
                *run = 1;
            return made;
        }
        /* another process made it first: add to it */
    }
    int rc = add_run(p, path, NULL, APPEND_ANY, &got, err);
    if (run && rc == 0)
        *run = got;
    return rc;
}

int moth_mothfile_start_session(const char *path, const char *session, moth_error *err)
{
    return write_new(NULL, 0, session, path, REPLACE, err);
}

int moth_mothfile_add_to_session(const moth_profile *p, const char *path, const char *session,
                                 int create, int *run, moth_error *err)
{
    *run = 0;
    if (access(path, F_OK) != 0) {
        if (!create)
            return 0;
        int made = write_new(&p, 1, session, path, EXCLUSIVE, err);
        if (made <= 0) {
            if (made == 0)
                *run = 1;
            return made;
        }
    }
    return add_run(p, path, session, create ? SESSION_TAKE_OVER : SESSION_ONLY, run, err);
}

int moth_mothfile_merge(const char *const *inputs, size_t n, const char *path, int *runs,
                        moth_error *err)
{
    /* every run of every input, one at a time, into a new file written aside */
    size_t len = strlen(path);
    char *tmp = moth_malloc(len + 32, err);
    if (!tmp)
        return -1;
    snprintf(tmp, len + 32, "%s.tmp-%ld", path, (long)getpid());
    unlink(tmp);
    sqlite3 *db = NULL;
    int rc = -1, next = 1;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        moth_fail(err, "cannot write %s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
        goto done;
    }
    if (exec(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; BEGIN;", err) < 0 ||
        create_schema(db, err) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        int count;
        if (moth_mothfile_count_runs(inputs[i], &count, err) < 0)
            goto done;
        sqlite3 *in;
        if (open_existing(inputs[i], 0, &in, err) < 0)
            goto done;
        sqlite3_stmt *st;
        int *numbers = moth_malloc(((size_t)count + 1) * sizeof *numbers, err), got = 0;
        if (numbers && sqlite3_prepare_v2(in, "SELECT run FROM runs ORDER BY run", -1, &st,
                                          NULL) == SQLITE_OK) {
            while (got < count && sqlite3_step(st) == SQLITE_ROW)
                numbers[got++] = sqlite3_column_int(st, 0);
            sqlite3_finalize(st);
        }
        sqlite3_close(in);
        if (!numbers)
            goto done;
        for (int r = 0; r < got; r++) {
            moth_profile one;
            if (moth_mothfile_read(&one, inputs[i], numbers[r], err) < 0) {
                free(numbers);
                goto done;
            }
            int added = insert_run(db, next++, &one, err);
            moth_profile_free(&one);
            if (added < 0) {
                free(numbers);
                goto done;
            }
        }
        free(numbers);
    }
    if (next == 1) {
        moth_fail(err, "no runs to merge");
        goto done;
    }
    if (exec(db, "COMMIT;", err) < 0)
        goto done;
    if (sqlite3_close(db) != SQLITE_OK) {
        db = NULL;
        moth_fail(err, "cannot write %s", path);
        goto done;
    }
    db = NULL;
    if (rename(tmp, path) != 0) {
        moth_fail(err, "cannot write %s: %s", path, strerror(errno));
        goto done;
    }
    if (runs)
        *runs = next - 1;
    rc = 0;
done:
    if (db)
        sqlite3_close(db);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

/* ---- reading ---- */

static int bad_file(const char *path, const char *why, moth_error *err)
{
    return moth_fail(err, "%s is a damaged moth profile: %s", path, why);
}

static const char *column_text(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? (const char *)t : NULL;
}

/* A text the schema says is never NULL came back NULL: SQLite ran out of memory converting
 * it, or the file is damaged. */
static int null_text(sqlite3 *db, const char *path, const char *why, moth_error *err)
{
    if (sqlite3_errcode(db) == SQLITE_NOMEM)
        return moth_fail(err, "%s: out of memory", path);
    return bad_file(path, why, err);
}

/* A thread of the run being read: its id in the file, its place in the profile, and the tree
 * node of each of its node ids. */
typedef struct run_thread {
    sqlite3_int64 file_id;
    size_t index;
    uint32_t *where;
    size_t nwhere;
} run_thread;

static const run_thread *find_run_thread(const run_thread *t, size_t n, sqlite3_int64 id)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].file_id == id)
            return &t[i];
    return NULL;
}

static int has_table(sqlite3 *db, const char *name)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                           -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        found = sqlite3_step(st) == SQLITE_ROW;
    }
    sqlite3_finalize(st);
    return found;
}

static int read_memory(sqlite3 *db, const char *path, int run, moth_profile *out, int first,
                       const run_thread *threads, size_t nthreads, moth_error *err);

/* A text column copied (NULL for NULL); -1 when a copy could not be made. */
static int copy_column(sqlite3 *db, sqlite3_stmt *st, int i, char **out, const char *path,
                       moth_error *err)
{
    *out = NULL;
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return 0;
    const char *t = column_text(st, i);
    if (!t)
        return null_text(db, path, "a process's text that is not text", err);
    return (*out = moth_strdup(t, err)) ? 0 : -1;
}

/* The run's process, added to out->processes (the threads read next belong to it): from the
 * processes table, or in files from before it, the pid and command of the run's details. */
static int read_process(sqlite3 *db, const char *path, int run, moth_profile *out,
                        moth_error *err)
{
    moth_process proc;
    moth_process_init(&proc);
    sqlite3_stmt *st = NULL;
    int rc = -1, step;
    if (has_table(db, "processes")) {
        if (sqlite3_prepare_v2(db, "SELECT pid, parent_pid, command, how, session, rank, size "
                                   "FROM processes WHERE run = ?", -1, &st, NULL))
            goto sqlerr;
        sqlite3_bind_int(st, 1, run);
        if ((step = sqlite3_step(st)) == SQLITE_ROW) {
            proc.pid = sqlite3_column_int64(st, 0);
            proc.parent_pid = sqlite3_column_int64(st, 1);
            if (copy_column(db, st, 2, &proc.command, path, err) < 0 ||
                copy_column(db, st, 3, &proc.how, path, err) < 0 ||
                copy_column(db, st, 4, &proc.session, path, err) < 0)
                goto done;
            int64_t rank = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 5);
            int64_t size = sqlite3_column_type(st, 6) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 6);
            if (proc.pid <= 0 || proc.parent_pid < 0 || rank < -1 || rank > INT32_MAX ||
                size < -1 || size > INT32_MAX) {
                bad_file(path, "a process out of range", err);
                goto done;
            }
            proc.rank = (int32_t)rank;
            proc.size = (int32_t)size;
            goto add;
        }
        if (step != SQLITE_DONE)
            goto sqlerr;
        sqlite3_finalize(st);
        st = NULL;
    }
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM run_meta WHERE run = ? AND key IN "
                               "('pid', 'command')", -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = column_text(st, 0), *v = column_text(st, 1);
        if (!k || !v) {
            null_text(db, path, "run metadata without a key or value", err);
            goto done;
        }
        if (strcmp(k, "pid") == 0) {
            proc.pid = strtoll(v, NULL, 10);
        } else {
            free(proc.command);
            if (!(proc.command = moth_strdup(v, err)))
                goto done;
        }
    }
    if (step != SQLITE_DONE)
        goto sqlerr;
add:
    rc = moth_profile_add_process(out, &proc, NULL, err);
    goto done;
sqlerr:
    sql_fail(db, err, path);
done:
    sqlite3_finalize(st);
    moth_process_free(&proc);
    return rc;
}

/* Reads one run: its functions interned into out->funcs (remapped by `map`), its threads
 * appended to out->threads. */
static int read_run(sqlite3 *db, const char *path, int run, moth_profile *out, int first,
                    moth_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = -1;
    uint32_t *map = NULL;
    size_t nfuncs = 0;
    double tick = 0;
    run_thread *threads = NULL; /* this run's threads, for its memory rows */
    size_t nthreads = 0, threads_cap = 0;
    int step;
    if (sqlite3_prepare_v2(db, "SELECT tick_seconds FROM runs WHERE run = ?", -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    if (sqlite3_step(st) != SQLITE_ROW) {
        moth_fail(err, "%s has no run %d", path, run);
        goto done;
    }
    tick = sqlite3_column_double(st, 0);
    sqlite3_finalize(st);
    st = NULL;
    if (!(tick > 0 && tick < 1)) {
        bad_file(path, "bad tick length", err);
        goto done;
    }
    /* All runs are brought to the first run's tick length. */
    if (first)
        out->tick_seconds = tick;
    double scale = tick / out->tick_seconds;
    /* A sampled run's self ticks are its own samples: kept as counts, which (unlike times
     * brought to another tick) add up exactly across runs sampled at different rates. */
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM run_meta WHERE run = ? AND key = 'clock' "
                               "AND value = 'samples'", -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    int sampled = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    st = NULL;

    if (first) {
        if (sqlite3_prepare_v2(db, "SELECT key, value FROM run_meta WHERE run = ?", -1, &st,
                               NULL))
            goto sqlerr;
        sqlite3_bind_int(st, 1, run);
        while ((step = sqlite3_step(st)) == SQLITE_ROW) {
            const char *k = column_text(st, 0), *v = column_text(st, 1);
            if (!k || !v) {
                null_text(db, path, "run metadata without a key or value", err);
                goto done;
            }
            if (moth_profile_set_meta(out, k, v, err) < 0)
                goto done;
        }
        if (step != SQLITE_DONE)
            goto sqlerr;
        sqlite3_finalize(st);
        st = NULL;
    }

    if (sqlite3_prepare_v2(db, "SELECT COUNT(*), COALESCE(MIN(id), 0), COALESCE(MAX(id), -1) "
                               "FROM functions WHERE run = ?", -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    if (sqlite3_step(st) != SQLITE_ROW)
        goto sqlerr;
    sqlite3_int64 count = sqlite3_column_int64(st, 0), lo = sqlite3_column_int64(st, 1),
                  hi = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    st = NULL;
    if (count > 0 && (lo != 0 || hi != count - 1 || count > 100000000)) {
        bad_file(path, "function ids are not 0..N-1", err);
        goto done;
    }
    nfuncs = (size_t)count;
    map = moth_malloc((nfuncs ? nfuncs : 1) * sizeof *map, err);
    if (!map)
        goto done;
    if (sqlite3_prepare_v2(db, "SELECT id, file, line, name, qualname FROM functions "
                               "WHERE run = ? ORDER BY id", -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    for (size_t i = 0; i < nfuncs; i++) {
        if (sqlite3_step(st) != SQLITE_ROW)
            goto sqlerr;
        const char *file = column_text(st, 1), *name = column_text(st, 3);
        sqlite3_int64 line = sqlite3_column_int64(st, 2);
        if (!file || !name) {
            null_text(db, path, "a function without a file or name", err);
            goto done;
        }
        if (line < 0 || line > UINT32_MAX) {
            bad_file(path, "a function line out of range", err);
            goto done;
        }
        const char *qualname = column_text(st, 4);
        if (!qualname && sqlite3_column_type(st, 4) != SQLITE_NULL) {
            null_text(db, path, "a qualified name that is not text", err);
            goto done;
        }
        if (moth_funcs_intern(&out->funcs, file, (uint32_t)line, name, qualname, &map[i],
                              err) < 0)
            goto done;
    }
    sqlite3_finalize(st);
    st = NULL;

    if (read_process(db, path, run, out, err) < 0)
        goto done;
    sqlite3_stmt *nodes = NULL;
    if (sqlite3_prepare_v2(db, "SELECT id, thread_id, native_id, name FROM threads "
                               "WHERE run = ? ORDER BY id", -1, &st, NULL) ||
        sqlite3_prepare_v2(db, "SELECT id, parent, function, calls, total_ticks, self_ticks "
                               "FROM nodes WHERE run = ? AND thread = ? ORDER BY id", -1, &nodes,
                           NULL)) {
        sqlite3_finalize(nodes);
        goto sqlerr;
    }
    sqlite3_bind_int(st, 1, run);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        moth_thread_profile *tp;
        const char *name = column_text(st, 3);
        if ((!name && sqlite3_column_type(st, 3) != SQLITE_NULL &&
             null_text(db, path, "a thread name that is not text", err) < 0) ||
            moth_profile_add_thread(out, (uint64_t)sqlite3_column_int64(st, 1), name, &tp,
                                    err) < 0) {
            sqlite3_finalize(nodes);
            goto done;
        }
        tp->native_id = (uint64_t)sqlite3_column_int64(st, 2);
        if (moth_grow((void **)&threads, sizeof *threads, &threads_cap, nthreads + 1, err) < 0) {
            sqlite3_finalize(nodes);
            goto done;
        }
        run_thread *rt = &threads[nthreads++];
        *rt = (run_thread){sqlite3_column_int64(st, 0), out->nthreads - 1, NULL, 0};
        sqlite3_reset(nodes);
        sqlite3_bind_int(nodes, 1, run);
        sqlite3_bind_int64(nodes, 2, sqlite3_column_int64(st, 0));
        /* where[id]: the tree node of the file's node id. Ids run 1..N, each after its
         * parent, so there can be no gap and no cycle. Siblings naming the same function
         * (a file moth does not write, but valid) merge. */
        uint32_t *where = NULL;
        size_t where_cap = 0, expect = 1;
        while ((step = sqlite3_step(nodes)) == SQLITE_ROW) {
            sqlite3_int64 id = sqlite3_column_int64(nodes, 0),
                          parent = sqlite3_column_int64(nodes, 1),
                          func = sqlite3_column_int64(nodes, 2),
                          calls = sqlite3_column_int64(nodes, 3),
                          total = sqlite3_column_int64(nodes, 4),
                          self = sqlite3_column_int64(nodes, 5);
            if ((size_t)id != expect || parent < 0 || parent >= id || func < 0 ||
                (size_t)func >= nfuncs || calls < 0 || total < 0 || self < 0) {
                free(where);
                sqlite3_finalize(nodes);
                bad_file(path, "inconsistent calling-context tree", err);
                goto done;
            }
            if (moth_grow((void **)&where, sizeof *where, &where_cap, (size_t)id + 1, err) < 0) {
                free(where);
                sqlite3_finalize(nodes);
                goto done;
            }
            where[0] = MOTH_CCT_ROOT;
            uint32_t child;
            /* Node keys: the function index + 1 (keys are non-zero), per path. */
            if (moth_cct_add_child(&tp->tree, where[parent], (uint64_t)map[func] + 1, &child,
                                   err) < 0) {
                free(where);
                sqlite3_finalize(nodes);
                goto done;
            }
            where[id] = child;
            moth_cct_node *n = &tp->tree.nodes[child];
            n->func = map[func];
            n->calls += (uint64_t)calls;
            n->total += (uint64_t)((double)total * scale + 0.5);
            n->self += (uint64_t)((double)self * scale + 0.5);
            if (sampled)
                n->own_samples += (uint64_t)self;
            expect++;
        }
        rt->where = where;
        rt->nwhere = expect;
        if (step != SQLITE_DONE)
            break;
    }
    if (step != SQLITE_DONE) {
        moth_fail(err, "%s: %s", path, sqlite3_errmsg(db));
        sqlite3_finalize(nodes);
        goto done;
    }
    sqlite3_finalize(nodes);
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT function, line, hits, time_ticks FROM lines WHERE run = ?",
                           -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 func = sqlite3_column_int64(st, 0), line = sqlite3_column_int64(st, 1),
                      hits = sqlite3_column_int64(st, 2), ticks = sqlite3_column_int64(st, 3);
        if (func < 0 || (size_t)func >= nfuncs || line < 0 || line > UINT32_MAX || hits < 0 ||
            ticks < 0) {
            bad_file(path, "inconsistent line data", err);
            goto done;
        }
        if (moth_lines_add(&out->lines, map[func], (uint32_t)line, (uint64_t)hits,
                           (uint64_t)((double)ticks * scale + 0.5), err) < 0)
            goto done;
    }
    if (step != SQLITE_DONE)
        goto sqlerr;
    sqlite3_finalize(st);
    st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT function, last_line FROM function_lines WHERE run = ?",
                           -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 func = sqlite3_column_int64(st, 0), last = sqlite3_column_int64(st, 1);
        if (func < 0 || (size_t)func >= nfuncs || last < 0 || last > UINT32_MAX) {
            bad_file(path, "inconsistent line data", err);
            goto done;
        }
        if (moth_lines_set_last(&out->lines, map[func], (uint32_t)last, err) < 0)
            goto done;
    }
    if (step != SQLITE_DONE)
        goto sqlerr;
    moth_lines_finish(&out->lines);
    if (read_memory(db, path, run, out, first, threads, nthreads, err) < 0)
        goto done;
    rc = 0;
    goto done;
sqlerr:
    moth_fail(err, "%s: %s", path, sqlite3_errmsg(db));
done:
    sqlite3_finalize(st);
    free(map);
    for (size_t i = 0; i < nthreads; i++)
        free(threads[i].where);
    free(threads);
    return rc;
}

/* The run's memory tables, when it has them. Rows name threads and nodes by their ids in the
 * file; with several runs, each run's rows stay with its own threads, the summary and the
 * timeline are the first run's and the peak the largest. */
static int read_memory(sqlite3 *db, const char *path, int run, moth_profile *out, int first,
                       const run_thread *threads, size_t nthreads, moth_error *err)
{
    if (!has_table(db, "memory_summary"))
        return 0;
    moth_memory *m = &out->memory;
    sqlite3_stmt *st = NULL;
    uint32_t *row_map = NULL;
    size_t nrows = 0, rows_cap = 0;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT peak_bytes, peak_time, sample_bytes, untracked_bytes, "
                               "untracked_blocks, own_bytes FROM memory_summary WHERE run = ?",
                           -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = 0; /* a run without memory data */
        goto done;
    }
    sqlite3_int64 peak = sqlite3_column_int64(st, 0), sample = sqlite3_column_int64(st, 2),
                  lost = sqlite3_column_int64(st, 3), lost_n = sqlite3_column_int64(st, 4),
                  own = sqlite3_column_int64(st, 5);
    double peak_time = sqlite3_column_double(st, 1);
    if (peak < 0 || sample < 0 || lost < 0 || lost_n < 0 || own < 0 || !(peak_time >= 0)) {
        bad_file(path, "inconsistent memory summary", err);
        goto done;
    }
    if (first || !m->recorded) {
        m->peak_time = peak_time;
        m->sample_bytes = (uint64_t)sample;
    }
    if ((uint64_t)peak > m->peak_bytes)
        m->peak_bytes = (uint64_t)peak;
    m->untracked_bytes += (uint64_t)lost;
    m->untracked_count += (uint64_t)lost_n;
    m->own_bytes += (uint64_t)own;
    m->recorded = 1;
    sqlite3_finalize(st);
    if (sqlite3_prepare_v2(db, "SELECT id, thread, node, line, peak_bytes, peak_blocks, "
                               "leaked_bytes, leaked_blocks, allocated_bytes, allocated_blocks "
                               "FROM memory_rows WHERE run = ? ORDER BY id", -1, &st, NULL))
        goto sqlerr;
    sqlite3_bind_int(st, 1, run);
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(st, 0), thread = sqlite3_column_int64(st, 1),
                      node = sqlite3_column_int64(st, 2), line = sqlite3_column_int64(st, 3);
        moth_mem_row add = {0};
        sqlite3_int64 pb = sqlite3_column_int64(st, 4), lb = sqlite3_column_int64(st, 6),
                      ab = sqlite3_column_int64(st, 8);
        add.peak_count = sqlite3_column_double(st, 5);
        add.leaked_count = sqlite3_column_double(st, 7);
        add.alloc_count = sqlite3_column_double(st, 9);
        /* sampled estimates of freed blocks written by moth before 2026-12-07: rounding dust */
        if (add.peak_count < 0 && add.peak_count > -1e-6)
            add.peak_count = 0;
        if (add.leaked_count < 0 && add.leaked_count > -1e-6)
            add.leaked_count = 0;
        const run_thread *rt = find_run_thread(threads, nthreads, thread);
        if ((size_t)id != nrows || !rt || node < 0 || (size_t)node >= (rt->nwhere ? rt->nwhere : 1) ||
            line < 0 || line > UINT32_MAX || pb < 0 || lb < 0 || ab < 0 ||
            !(add.peak_count >= 0) || !(add.leaked_count >= 0) || !(add.alloc_count >= 0)) {
            bad_file(path, "inconsistent memory rows", err);
            goto done;
        }
        add.peak_bytes = (uint64_t)pb;
        add.leaked_bytes = (uint64_t)lb;
        add.alloc_bytes = (uint64_t)ab;
        uint32_t tree_node = node == 0 ? MOTH_CCT_ROOT : rt->where[node];
        uint32_t row;
        if (moth_grow((void **)&row_map, sizeof *row_map, &rows_cap, nrows + 1, err) < 0 ||
            moth_memory_row(m, (uint32_t)rt->index, tree_node, (uint32_t)line, &row, err) < 0)
            goto done;
        moth_memory_add(m, row, &add);
        row_map[nrows++] = row;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (!first) {
        rc = 0;
        goto done;
    }
    /* the timeline: points 0..N-1 in order, each change naming one of the rows read */
    sqlite3_stmt *ch = NULL;
    if (sqlite3_prepare_v2(db, "SELECT point, time, bytes, high FROM memory_timeline "
                               "WHERE run = ? ORDER BY point", -1, &st, NULL) ||
        sqlite3_prepare_v2(db, "SELECT row, bytes FROM memory_changes WHERE run = ? AND point = ?",
                           -1, &ch, NULL)) {
        sqlite3_finalize(ch);
        goto sqlerr;
    }
    sqlite3_bind_int(st, 1, run);
    double last_time = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        sqlite3_int64 point = sqlite3_column_int64(st, 0), bytes = sqlite3_column_int64(st, 2),
                      high = sqlite3_column_int64(st, 3);
        double time = sqlite3_column_double(st, 1);
        if ((size_t)point != m->npoints || bytes < 0 || high < 0 || !(time >= last_time)) {
            sqlite3_finalize(ch);
            bad_file(path, "inconsistent memory timeline", err);
            goto done;
        }
        last_time = time;
        if (moth_memory_add_point(m, time, (uint64_t)bytes, (uint64_t)high, err) < 0) {
            sqlite3_finalize(ch);
            goto done;
        }
        sqlite3_reset(ch);
        sqlite3_bind_int(ch, 1, run);
        sqlite3_bind_int64(ch, 2, point);
        while (sqlite3_step(ch) == SQLITE_ROW) {
            sqlite3_int64 row = sqlite3_column_int64(ch, 0), b = sqlite3_column_int64(ch, 1);
            if (row < 0 || (size_t)row >= nrows || b < 0) {
                sqlite3_finalize(ch);
                bad_file(path, "inconsistent memory timeline", err);
                goto done;
            }
            if (moth_memory_add_change(m, row_map[row], (uint64_t)b, err) < 0) {
                sqlite3_finalize(ch);
                goto done;
            }
        }
    }
    sqlite3_finalize(ch);
    rc = 0;
    goto done;
sqlerr:
    moth_fail(err, "%s: %s", path, sqlite3_errmsg(db));
done:
    sqlite3_finalize(st);
    free(row_map);
    return rc;
}

int moth_mothfile_read(moth_profile *out, const char *path, int run, moth_error *err)
{
    moth_profile_init(out);
    sqlite3 *db;
    if (open_existing(path, 0, &db, err) < 0)
        return -1;
    int rc = 0, first = 1, nruns = 0;
    if (run >= 0) {
        rc = read_run(db, path, run, out, 1, err);
        nruns = 1;
    } else {
        sqlite3_stmt *st;
        int *runs = NULL;
        size_t n = 0, cap = 0;
        if (sqlite3_prepare_v2(db, "SELECT run FROM runs ORDER BY run", -1, &st, NULL)) {
            rc = sql_fail(db, err, path);
        } else {
            int step;
            while (rc == 0 && (step = sqlite3_step(st)) == SQLITE_ROW) {
                if (moth_grow((void **)&runs, sizeof *runs, &cap, n + 1, err) < 0)
                    rc = -1;
                else
                    runs[n++] = sqlite3_column_int(st, 0);
            }
            if (rc == 0 && step != SQLITE_DONE)
                rc = sql_fail(db, err, path);
            sqlite3_finalize(st);
        }
        if (rc == 0 && n == 0)
            rc = bad_file(path, "it holds no run", err);
        for (size_t i = 0; rc == 0 && i < n; i++, first = 0)
            rc = read_run(db, path, runs[i], out, first, err);
        nruns = (int)n;
        free(runs);
    }
    sqlite3_close(db);
    if (rc == 0 && nruns > 1) {
        char text[32];
        snprintf(text, sizeof text, "%d", nruns);
        rc = moth_profile_set_meta(out, "runs", text, err);
    }
    if (rc < 0)
        moth_profile_free(out);
    return rc;
}

int moth_mothfile_count_runs(const char *path, int *count, moth_error *err)
{
    sqlite3 *db;
    if (open_existing(path, 0, &db, err) < 0)
        return -1;
    sqlite3_stmt *st;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM runs", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
        *count = sqlite3_column_int(st, 0);
        rc = 0;
    } else {
        sql_fail(db, err, path);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int moth_mothfile_sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char head[16];
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == sizeof head && memcmp(head, "SQLite format 3", 16) == 0;
}
