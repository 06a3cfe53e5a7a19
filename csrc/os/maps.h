/*
 * maps.h: the memory mappings of a process, as /proc/PID/maps lists them (or as a core file's
 * NT_FILE note names them).
 *
 * The out-of-process reader finds the interpreter's binary and libraries here (their load
 * addresses, for turning ELF symbol values into addresses) and checks that an address it is
 * about to read lies in mapped memory at all.
 */
#ifndef MOTH_MAPS_H
#define MOTH_MAPS_H

#include "common.h"

#define MOTH_MAP_READ 1u
#define MOTH_MAP_WRITE 2u
#define MOTH_MAP_EXEC 4u

typedef struct moth_mapping {
    uint64_t start, end;  /* [start, end) */
    uint64_t offset;      /* offset in the mapped file */
    uint64_t inode;       /* 0 for anonymous memory */
    uint32_t perms;       /* MOTH_MAP_* bits */
    char *path;           /* the file, a pseudo-name such as "[heap]", or NULL */
} moth_mapping;

typedef struct moth_maps {
    moth_mapping *items;  /* in address order */
    size_t count, cap;
} moth_maps;

#define MOTH_MAPS_INIT {NULL, 0, 0}

void moth_maps_free(moth_maps *m);

/* Parses the text of a /proc/PID/maps file (len bytes, need not be NUL-terminated) into *m,
 * appending. A malformed line is an error naming it. */
int moth_maps_parse(moth_maps *m, const char *text, size_t len, moth_error *err);

/* Reads /proc/PID/maps. Errors say whether the process is gone or not readable; errno is
 * left as the failed call set it (EACCES: not permitted). */
int moth_maps_read_pid(moth_maps *m, int pid, moth_error *err);

/* Appends one mapping (path copied; may be NULL). Keeps the list in address order. */
int moth_maps_add(moth_maps *m, uint64_t start, uint64_t end, uint64_t offset, uint32_t perms,
                  uint64_t inode, const char *path, moth_error *err);

/* The mapping holding addr, or NULL. */
const moth_mapping *moth_maps_find(const moth_maps *m, uint64_t addr);

/* The lowest mapping of the file whose path ends in "/" + name or equals name, at file offset 0;
 * NULL when none. `name` may be a prefix pattern ending in '*' ("libpython3*"). */
const moth_mapping *moth_maps_find_file(const moth_maps *m, const char *name);

/* The load bias of the file mapped by `first` (its mapping at offset 0): what is added to the
 * ELF's virtual addresses to get addresses in the process, given the file's lowest PT_LOAD
 * virtual address (page-aligned). */
static inline uint64_t moth_maps_bias(const moth_mapping *first, uint64_t lowest_vaddr)
{
    return first->start - (lowest_vaddr & ~(uint64_t)0xfff);
}

#endif
