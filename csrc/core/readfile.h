/* readfile.h: a whole file read into memory. */
#ifndef MOTH_READFILE_H
#define MOTH_READFILE_H

#include <stddef.h>

/* The file's bytes, NUL-terminated, as a malloc'd buffer (*len, when not NULL, is their count);
 * NULL when it cannot be read. Names in angle brackets ("<string>", "<stdin>": code with no
 * file) are not looked for. */
char *moth_read_file(const char *path, size_t *len);

#endif
