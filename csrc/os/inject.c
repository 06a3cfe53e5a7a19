/* inject.c: one system call run in a stopped thread, a blocked call turned into EINTR, and
 * writes to another process's memory; see inject.h. */
#define _GNU_SOURCE
#include "inject.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

#include "readmem.h"

/* The kernel's "restart me" results (include/linux/errno.h; not in user headers): what a
 * system call interrupted by a stop leaves in the return register until it is restarted. */
#define MOTH_ERESTARTSYS 512
#define MOTH_ERESTARTNOINTR 513
#define MOTH_ERESTARTNOHAND 514
#define MOTH_ERESTART_RESTARTBLOCK 516

uint64_t moth_inject_find_syscall(pid_t pid, const moth_maps *maps, moth_error *err)
{
    moth_memsrc mem;
    if (moth_procmem_open(&mem, pid, err) < 0)
        return 0;
    uint64_t found = 0;
    /* libc first (every process has it), then any executable file mapping */
    for (int pass = 0; pass < 2 && !found; pass++) {
        for (size_t i = 0; i < maps->count && !found; i++) {
            const moth_mapping *m = &maps->items[i];
            if (!(m->perms & MOTH_MAP_EXEC) || !m->path || m->path[0] != '/')
                continue;
            const char *base = strrchr(m->path, '/') + 1;
            if (pass == 0 && strncmp(base, "libc.so", 7) != 0 && strncmp(base, "libc-", 5) != 0)
                continue;
            uint8_t buf[4096 + 1];
            for (uint64_t a = m->start; a < m->end && !found; a += 4096) {
                size_t n = m->end - a >= sizeof buf ? sizeof buf : (size_t)(m->end - a);
                if (moth_mem_read(&mem, a, buf, n) < 0)
                    break;
                for (size_t j = 0; j + 1 < n; j++)
                    if (buf[j] == 0x0f && buf[j + 1] == 0x05) {
                        found = a + j;
                        break;
                    }
            }
        }
    }
    moth_mem_close(&mem);
    if (!found)
        moth_fail(err, "process %d has no system call instruction moth can use", (int)pid);
    return found;
}

#if defined(__x86_64__)

/* Waits for the next stop of tid; -1 when it has ended. */
static int wait_stop(pid_t tid, int *status)
{
    pid_t got;
    while ((got = waitpid(tid, status, __WALL)) < 0 && errno == EINTR)
        ;
    if (got != tid || !WIFSTOPPED(*status))
        return -1;
    return 0;
}

int moth_inject_syscall(pid_t tid, uint64_t gadget, long nr, const uint64_t args[6],
                        long *result, int *signal, moth_error *err)
{
    struct user_regs_struct saved, r;
    if (ptrace(PTRACE_GETREGS, tid, NULL, &saved) < 0)
        return moth_fail(err, "cannot read the registers of thread %d: %s", (int)tid,
                         strerror(errno));
    r = saved;
    r.rip = gadget;
    r.rax = (unsigned long long)nr;
    /* -1: not in a system call, so the kernel does not restart the one the thread was in
     * before running ours */
    r.orig_rax = (unsigned long long)-1;
    r.rdi = args[0];
    r.rsi = args[1];
    r.rdx = args[2];
    r.r10 = args[3];
    r.r8 = args[4];
    r.r9 = args[5];
    if (ptrace(PTRACE_SETREGS, tid, NULL, &r) < 0)
        return moth_fail(err, "cannot set the registers of thread %d: %s", (int)tid,
                         strerror(errno));
    int done = 0;
    for (int tries = 0; tries < 16 && !done; tries++) {
        int status;
        if (ptrace(PTRACE_SINGLESTEP, tid, NULL, NULL) < 0 || wait_stop(tid, &status) < 0)
            return moth_fail(err, "thread %d ended while moth was attaching", (int)tid);
        if (ptrace(PTRACE_GETREGS, tid, NULL, &r) < 0)
            return moth_fail(err, "thread %d ended while moth was attaching", (int)tid);
        if (r.rip == gadget + 2) {
            done = 1;
        } else if (WSTOPSIG(status) != SIGTRAP && (status >> 16) == 0 && signal) {
            *signal = WSTOPSIG(status); /* the program's: handed back when the thread goes */
        }
    }
    long value = (long)r.rax;
    if (ptrace(PTRACE_SETREGS, tid, NULL, &saved) < 0)
        return moth_fail(err, "cannot restore the registers of thread %d: %s", (int)tid,
                         strerror(errno));
    if (!done)
        return moth_fail(err, "thread %d did not run moth's system call", (int)tid);
    *result = value;
    return 0;
}

/* The calls CPython itself retries after EINTR, having run its signal handlers (PEP 475). */
static int retried_by_cpython(long nr)
{
    switch (nr) {
    case SYS_clock_nanosleep: case SYS_nanosleep: case SYS_futex: case SYS_select:
    case SYS_pselect6: case SYS_poll: case SYS_ppoll: case SYS_epoll_wait:
    case SYS_epoll_pwait: case SYS_read: case SYS_readv: case SYS_recvfrom: case SYS_recvmsg:
    case SYS_accept: case SYS_accept4: case SYS_wait4: case SYS_waitid:
        return 1;
    default:
        return 0;
    }
}

/* The retried call tid is blocked in (its registers in *r), -1 when none. */
static long blocked_call(pid_t tid, struct user_regs_struct *r)
{
    if (ptrace(PTRACE_GETREGS, tid, NULL, r) < 0)
        return -1;
    long nr = (long)r->orig_rax, ax = (long)r->rax;
    if (nr < 0 || !retried_by_cpython(nr))
        return -1;
    /* only a call the stop interrupted (never ERESTARTNOINTR: that one must restart) */
    if (ax != -MOTH_ERESTARTSYS && ax != -MOTH_ERESTARTNOHAND && ax != -MOTH_ERESTART_RESTARTBLOCK)
        return -1;
    return nr;
}

long moth_inject_blocked_syscall(pid_t tid)
{
    struct user_regs_struct r;
    return blocked_call(tid, &r);
}

long moth_inject_interrupt_syscall(pid_t tid)
{
    struct user_regs_struct r;
    long nr = blocked_call(tid, &r);
    if (nr < 0)
        return -1;
    r.rax = (unsigned long long)(long)-EINTR;
    if (ptrace(PTRACE_SETREGS, tid, NULL, &r) < 0)
        return -1;
    return nr;
}

#else

int moth_inject_syscall(pid_t tid, uint64_t gadget, long nr, const uint64_t args[6],
                        long *result, int *signal, moth_error *err)
{
    (void)gadget, (void)nr, (void)args, (void)result, (void)signal;
    return moth_fail(err, "attaching to thread %d: moth attaches on x86-64 only", (int)tid);
}

long moth_inject_interrupt_syscall(pid_t tid)
{
    (void)tid;
    return -1;
}

long moth_inject_blocked_syscall(pid_t tid)
{
    (void)tid;
    return -1;
}

#endif

int moth_proc_write(pid_t pid, uint64_t addr, const void *buf, size_t len, moth_error *err)
{
    struct iovec local = {(void *)buf, len}, remote = {(void *)(uintptr_t)addr, len};
    ssize_t n = process_vm_writev(pid, &local, 1, &remote, 1, 0);
    if (n == (ssize_t)len)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        n = pwrite(fd, buf, len, (off_t)addr);
        close(fd);
        if (n == (ssize_t)len)
            return 0;
    }
    return moth_fail(err, "cannot write to the memory of process %d at 0x%llx: %s", (int)pid,
                     (unsigned long long)addr, strerror(errno));
}
