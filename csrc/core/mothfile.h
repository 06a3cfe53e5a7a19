/*
 * mothfile.h: moth's own profile file, a SQLite database.
 *
 * It keeps everything a run collected (the calling-context tree of every thread, the function
 * table, run metadata, line data and samples when there are any) so that nothing is lost, and
 * it is plain SQL: users query it with the sqlite3 shell or pandas (docs/moth-file.md documents
 * the schema). One file can hold several runs (processes, MPI ranks, repeated runs): reading
 * merges them, or picks one.
 *
 * Writing a new file goes to a temporary file in the same directory, renamed over the target
 * only once complete, so a crash never leaves half a file. Appending a run is one SQLite
 * transaction. Reading treats the file as hostile: anything that is not a moth file of a
 * version this moth knows, or that is inconsistent, is a clear error.
 */
#ifndef MOTH_MOTHFILE_H
#define MOTH_MOTHFILE_H

#include "common.h"
#include "profile.h"

#define MOTH_FILE_SCHEMA 2 /* 2: memory profiling's tables */

/* Writes p as the only run of a new file at path (replacing any file there). */
int moth_mothfile_write(const moth_profile *p, const char *path, moth_error *err);

/* Adds p as a new run to the moth file at path, creating the file when it does not exist.
 * *run (when not NULL) receives the new run's number. */
int moth_mothfile_append(const moth_profile *p, const char *path, int *run, moth_error *err);

/* Reads the file into *out (freshly initialised by this call): run `run`, or with run < 0
 * every run, each run's threads kept as threads of their own. Run metadata of the first run
 * read comes along; with several runs, "runs" tells how many. */
int moth_mothfile_read(moth_profile *out, const char *path, int run, moth_error *err);

/* Number of runs in the file. */
int moth_mothfile_count_runs(const char *path, int *count, moth_error *err);

/* 1 when the file starts like a SQLite database (moth's file), 0 otherwise (e.g. pstats). */
int moth_mothfile_sniff(const char *path);

#endif
