/*
 * loadfile.h: opening any profile file a user hands moth.
 *
 * moth's own file (SQLite) brings the calling-context trees; a pstats file (cProfile's,
 * profile's, pstats.dump_stats', moth's -o x.prof) brings only the pstats view. Either way the
 * caller gets the pstats view, with the file's header line as pstats prints it.
 */
#ifndef MOTH_LOADFILE_H
#define MOTH_LOADFILE_H

#include "common.h"
#include "profile.h"
#include "pstats.h"

typedef struct moth_loaded {
    int has_tree;          /* a moth file: `profile` holds the trees */
    moth_profile profile;
    moth_pstats view;      /* always filled */
} moth_loaded;

/* Loads path; `run` picks one run of a moth file (< 0: all runs merged). */
int moth_load_profile_file(const char *path, int run, moth_loaded *out, moth_error *err);
void moth_loaded_free(moth_loaded *l);

/* Keeps only the process `pid` of a moth file's runs (a file of many processes): its threads,
 * and the pstats view folded again from them. -1 with a message naming the file's pids when
 * the file holds no such process (or is a pstats file). */
int moth_loaded_keep_pid(moth_loaded *l, const char *path, int64_t pid, moth_error *err);

/* pstats' header line for a file: "Tue Nov 24 15:00:00 2026    path" (its ctime). */
int moth_pstats_add_file_line(moth_pstats *s, const char *path, moth_error *err);

#endif
