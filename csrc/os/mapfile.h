/*
 * mapfile.h: a whole file mapped read-only, for the readers of ELF files, core files and the
 * files a core names. Only regular files are mapped: a FIFO or a device named by a hostile core
 * is refused without blocking.
 */
#ifndef MOTH_MAPFILE_H
#define MOTH_MAPFILE_H

#include "common.h"

/* Maps the file at path: *data and *size (NULL and 0 for an empty file). Errors: cannot open
 * (why), not a regular file, cannot map (why). */
int moth_file_map(const char *path, const uint8_t **data, size_t *size, moth_error *err);

/* Unmaps what moth_file_map gave (nothing for an empty file). */
void moth_file_unmap(const uint8_t *data, size_t size);

#endif
