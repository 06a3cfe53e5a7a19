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

#define MOTH_FILE_SCHEMA 3 /* 2: memory profiling's tables; 3: processes */

/* Writes p as the only run of a new file at path (replacing any file there). */
int moth_mothfile_write(const moth_profile *p, const char *path, moth_error *err);

/* Adds p as a new run to the moth file at path, creating the file when it does not exist.
 * *run (when not NULL) receives the new run's number. */
int moth_mothfile_append(const moth_profile *p, const char *path, int *run, moth_error *err);

/* The runs of one session (the processes of one `moth profile --subprocesses`, the ranks of one
 * MPI job) going into one file, each process writing its own run as it ends, several at once
 * (SQLite serialises them; a writer killed midway leaves the others' runs as they were).
 *
 * moth_mothfile_start_session makes path an empty file of the session, replacing what was
 * there. moth_mothfile_add_to_session adds p as the session's next run (*run: its number). With
 * `create`, a missing file is made (safely when other processes make it at the same moment) and
 * a file of another session (an earlier job's) is emptied first, in the same transaction;
 * without, a missing file or one another session has taken gets no run, and *run is 0. */
int moth_mothfile_start_session(const char *path, const char *session, moth_error *err);
int moth_mothfile_add_to_session(const moth_profile *p, const char *path, const char *session,
                                 int create, int *run, moth_error *err);

/* Writes every run of the moth files `inputs`, in order, as the runs of a new file at path
 * (written aside, put in place complete); *runs (when not NULL) receives how many. */
int moth_mothfile_merge(const char *const *inputs, size_t n, const char *path, int *runs,
                        moth_error *err);

/* Reads the file into *out (freshly initialised by this call): run `run`, or with run < 0
 * every run, each run's threads kept as threads of their own. Run metadata of the first run
 * read comes along; with several runs, "runs" tells how many. */
int moth_mothfile_read(moth_profile *out, const char *path, int run, moth_error *err);

/* Number of runs in the file. */
int moth_mothfile_count_runs(const char *path, int *count, moth_error *err);

/* 1 when the file starts like a SQLite database (moth's file), 0 otherwise (e.g. pstats). */
int moth_mothfile_sniff(const char *path);

#endif
