/*
 * readmem.h: reading the memory of another program, live or from its core file.
 *
 * The out-of-process reader never runs code in its target and never writes to it: everything
 * it knows comes through a moth_memsrc, which copies bytes at a remote address into a local
 * buffer. A live process is read with process_vm_readv (procmem.c); a core file from its
 * PT_LOAD segments and the files it mapped (core.c). A failed read is not an error to report
 * on its own: the remote structures change while they are read, so callers validate what they
 * got and retry or drop the sample.
 */
#ifndef MOTH_READMEM_H
#define MOTH_READMEM_H

#include <sys/types.h>

#include "common.h"

/* One piece of a batched read. */
typedef struct moth_read_piece {
    uint64_t addr;
    void *buf;
    size_t len;
} moth_read_piece;

typedef struct moth_memsrc {
    /* Copies len bytes at addr into buf; 0 when all were read, -1 otherwise. */
    int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
    /* Reads several ranges at once (one system call where the source allows); returns how many
     * of the leading pieces were read completely. NULL means: one read per piece. */
    size_t (*readv)(void *ctx, moth_read_piece *pieces, size_t count);
    void (*close)(void *ctx);
    void *ctx;
    uint64_t reads;  /* calls made through moth_mem_read / moth_mem_readv, for statistics */
} moth_memsrc;

static inline int moth_mem_read(moth_memsrc *m, uint64_t addr, void *buf, size_t len)
{
    m->reads++;
    return m->read(m->ctx, addr, buf, len);
}

/* Reads a pointer-sized word. */
static inline int moth_mem_u64(moth_memsrc *m, uint64_t addr, uint64_t *out)
{
    return moth_mem_read(m, addr, out, sizeof *out);
}

size_t moth_mem_readv(moth_memsrc *m, moth_read_piece *pieces, size_t count);

void moth_mem_close(moth_memsrc *m);

/* A live process: process_vm_readv, else /proc/PID/mem when the kernel refuses the former. */
int moth_procmem_open(moth_memsrc *m, pid_t pid, moth_error *err);

#endif
