/*
 * source.h: the source lines a stack points at, read from the files the target ran.
 *
 * A code object's file name is as the target saw it: relative to its working directory, and
 * inside its mount namespace (a container). Files are looked for there first (through
 * /proc/PID/root and the target's cwd), then as named. Each file is read once.
 */
#ifndef MOTH_SOURCE_H
#define MOTH_SOURCE_H

#include "common.h"
#include "hashmap.h"

typedef struct moth_source_file {
    char *path;       /* as the code object names it */
    char *text;       /* NULL when it could not be read */
    size_t len;
    uint32_t *line_starts;  /* offsets of each line's first byte */
    size_t nlines;
} moth_source_file;

typedef struct moth_sources {
    const char *root;    /* prefix for absolute paths ("/proc/PID/root"), or "" */
    const char *cwd;     /* the target's working directory, or "" */
    moth_source_file *files;
    size_t count, cap;
    moth_map by_path;
} moth_sources;

void moth_sources_init(moth_sources *s, const char *root, const char *cwd);
void moth_sources_free(moth_sources *s);

/* Line `line` (1-based) of file `path`, without its line break and leading blanks, as a
 * malloc'd string; NULL when the file or line cannot be read. */
char *moth_source_line(moth_sources *s, const char *path, int line);

#endif
