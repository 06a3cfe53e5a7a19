/*
 * procmem.c: reading a live process's memory; see readmem.h.
 *
 * process_vm_readv copies straight from the target's pages without stopping it, several
 * ranges per call. Where it is unavailable (ENOSYS: old kernels, some sandboxes) the same
 * bytes come from /proc/PID/mem with pread, one range per call.
 */
#define _GNU_SOURCE
#include "readmem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_PIECES 256

typedef struct procmem {
    pid_t pid;
    int mem_fd;   /* /proc/PID/mem, opened on first need */
    int use_fd;   /* process_vm_readv is unavailable */
} procmem;

static int fd_read(procmem *p, uint64_t addr, void *buf, size_t len)
{
    if (p->mem_fd < 0) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/mem", (int)p->pid);
        if ((p->mem_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
            return -1;
    }
    if (addr > (uint64_t)INT64_MAX)
        return -1;
    ssize_t got = pread(p->mem_fd, buf, len, (off_t)addr);
    return got == (ssize_t)len ? 0 : -1;
}

static int proc_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    procmem *p = ctx;
    if (!len)
        return 0;
    if (!p->use_fd) {
        struct iovec local = {buf, len}, remote = {(void *)(uintptr_t)addr, len};
        ssize_t got = process_vm_readv(p->pid, &local, 1, &remote, 1, 0);
        if (got == (ssize_t)len)
            return 0;
        if (got >= 0 || errno != ENOSYS)
            return -1;
        p->use_fd = 1;
    }
    return fd_read(p, addr, buf, len);
}

static size_t proc_readv(void *ctx, moth_read_piece *pieces, size_t count)
{
    procmem *p = ctx;
    size_t done = 0;
    while (done < count && !p->use_fd) {
        struct iovec local[MAX_PIECES], remote[MAX_PIECES];
        size_t n = count - done < MAX_PIECES ? count - done : MAX_PIECES;
        size_t want = 0;
        for (size_t i = 0; i < n; i++) {
            local[i] = (struct iovec){pieces[done + i].buf, pieces[done + i].len};
            remote[i] = (struct iovec){(void *)(uintptr_t)pieces[done + i].addr,
                                       pieces[done + i].len};
            want += pieces[done + i].len;
        }
        ssize_t got = process_vm_readv(p->pid, local, n, remote, n, 0);
        if (got < 0 && errno == ENOSYS) {
            p->use_fd = 1;
            break;
        }
        if (got == (ssize_t)want) {
            done += n;
            continue;
        }
        /* A partial read stops at the first piece that failed: count the whole ones. */
        size_t left = got > 0 ? (size_t)got : 0;
        while (done < count && left >= pieces[done].len) {
            left -= pieces[done].len;
            done++;
        }
        return done;
    }
    for (; done < count; done++)
        if (fd_read(p, pieces[done].addr, pieces[done].buf, pieces[done].len) < 0)
            break;
    return done;
}

static void proc_close(void *ctx)
{
    procmem *p = ctx;
    if (p->mem_fd >= 0)
        close(p->mem_fd);
    free(p);
}

int moth_procmem_open(moth_memsrc *m, pid_t pid, moth_error *err)
{
    procmem *p = moth_calloc(1, sizeof *p, err);
    if (!p)
        return -1;
    p->pid = pid;
    p->mem_fd = -1;
    *m = (moth_memsrc){proc_read, proc_readv, proc_close, p, 0};
    return 0;
}
