/* threadstop.c: holding one thread of another process still for a moment; see threadstop.h. */
#define _GNU_SOURCE
#include "threadstop.h"

#include <elf.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

#define STOP_TIMEOUT_NS 1000000000LL

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The kernel's state letter of tid ('Z' for a zombie), 0 when it is gone. */
static char task_state(pid_t pid, pid_t tid)
{
    moth_task task = {.tid = tid};
    return moth_proc_task_state(pid, &task) == 0 ? task.state : 0;
}

/* Which process traces tid (0: none or unknown). */
static pid_t tracer_of(pid_t pid, pid_t tid)
{
    char path[96], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/task/%d/status", (int)pid, (int)tid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *line = strstr(buf, "\nTracerPid:");
    return line ? (pid_t)strtol(line + 11, NULL, 10) : 0;
}

/* What waitpid said about a seized thread: 1 stopped (*signal: a signal it was about to
 * receive, to hand back), 0 not yet, -1 gone. */
static int stop_status(pid_t tid, int *signal)
{
    int status;
    pid_t got = waitpid(tid, &status, __WALL | WNOHANG);
    if (got == 0)
        return 0;
    if (got < 0 || WIFEXITED(status) || WIFSIGNALED(status))
        return -1;
    if (!WIFSTOPPED(status))
        return 0;
    /* PTRACE_EVENT_STOP: our interrupt, or a group stop (Ctrl-Z) that release keeps. Any other
     * stop is a signal on its way to the thread. */
    *signal = (status >> 16) == PTRACE_EVENT_STOP ? 0 : WSTOPSIG(status);
    return 1;
}

/* Releases the threads that had not stopped in time, once they have. */
static void release_lost(moth_thread_stop *s)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < s->nlost; i++) {
        int signal = 0;
        int st = stop_status(s->lost[i], &signal);
        if (st > 0)
            ptrace(PTRACE_DETACH, s->lost[i], NULL, (void *)(long)signal);
        else if (st == 0)
            s->lost[kept++] = s->lost[i];
    }
    s->nlost = kept;
}

int moth_thread_registers(pid_t tid, moth_regs *regs, moth_error *err)
{
    memset(regs, 0, sizeof *regs);
#if defined(__x86_64__)
    struct user_regs_struct u;
    struct iovec iov = {&u, sizeof u};
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
        return moth_fail(err, "cannot read the registers of thread %d: %s", (int)tid,
                         strerror(errno));
    if (iov.iov_len != sizeof u)
        return moth_fail(err, "thread %d is not a 64-bit thread", (int)tid);
    uint64_t r[17] = {u.rax, u.rdx, u.rcx, u.rbx, u.rsi, u.rdi, u.rbp, u.rsp, u.r8,
                      u.r9,  u.r10, u.r11, u.r12, u.r13, u.r14, u.r15, u.rip};
    memcpy(regs->r, r, sizeof r);
    regs->count = 17;
    regs->pc = u.rip;
    regs->sp = u.rsp;
    return 0;
#elif defined(__aarch64__)
    struct user_regs_struct u;
    struct iovec iov = {&u, sizeof u};
    if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_PRSTATUS, &iov) < 0)
        return moth_fail(err, "cannot read the registers of thread %d: %s", (int)tid,
                         strerror(errno));
    if (iov.iov_len != sizeof u)
        return moth_fail(err, "thread %d is not a 64-bit thread", (int)tid);
    memcpy(regs->r, u.regs, sizeof u.regs);
    regs->r[31] = u.sp;
    regs->count = 32;
    regs->pc = u.pc;
    regs->sp = u.sp;
    return 0;
#else
    (void)tid;
    return moth_fail(err, "moth cannot read registers on this architecture");
#endif
}

static int gone(pid_t pid, pid_t tid, moth_stop_failure *why, moth_error *err)
{
    *why = MOTH_STOP_GONE;
    if (moth_proc_exists(pid, NULL) < 0)
        return moth_fail(err, "process %d has exited", (int)pid);
    return moth_fail(err, "thread %d of process %d has ended", (int)tid, (int)pid);
}

static int traced_by(pid_t pid, pid_t tid, pid_t tracer, moth_error *err)
{
    moth_task who = {.tid = tracer};
    if (moth_proc_task_state(tracer, &who) < 0)
        strcpy(who.comm, "?");
    return moth_fail(err,
                     "thread %d of process %d is already traced by process %d (%s); a thread "
                     "has one tracer at a time: detach that one first, or leave out --native",
                     (int)tid, (int)pid, (int)tracer, who.comm);
}

int moth_thread_check_untraced(pid_t pid, moth_error *err)
{
    moth_tasks tasks = MOTH_TASKS_INIT;
    if (moth_proc_tasks(pid, &tasks, err) < 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < tasks.count && rc == 0; i++) {
        pid_t tracer = tracer_of(pid, tasks.items[i].tid);
        if (tracer > 0 && tracer != getpid())
            rc = traced_by(pid, tasks.items[i].tid, tracer, err);
    }
    moth_tasks_free(&tasks);
    return rc;
}

/* Why PTRACE_SEIZE was refused. */
static int seize_refused(pid_t pid, pid_t tid, int errno_value, moth_stop_failure *why,
                         moth_error *err)
{
    char state = task_state(pid, tid);
    if (errno_value == ESRCH || state == 0 || state == 'Z' || state == 'X')
        return gone(pid, tid, why, err);
    *why = MOTH_STOP_DENIED;
    pid_t tracer = tracer_of(pid, tid);
    if (tracer > 0)
        return traced_by(pid, tid, tracer, err);
    if (errno_value == EPERM || errno_value == EACCES)
        return moth_proc_explain_denied(pid, errno_value, err);
    *why = MOTH_STOP_ERROR;
    return moth_fail(err, "cannot stop thread %d of process %d: %s", (int)tid, (int)pid,
                     strerror(errno_value));
}

int moth_thread_hold(moth_thread_stop *s, pid_t pid, pid_t tid, moth_regs *regs,
                     moth_stop_failure *why, moth_error *err)
{
    moth_stop_failure ignored;
    if (!why)
        why = &ignored;
    *why = MOTH_STOP_OK;
    moth_thread_release(s);
    release_lost(s);
    /* A thread id is only a number: make sure it is one of pid's threads (again once it is
     * held, when it can no longer end and have its number reused). */
    char state = task_state(pid, tid);
    if (!state || state == 'Z' || state == 'X')
        return gone(pid, tid, why, err);
    if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0)
        return seize_refused(pid, tid, errno, why, err);
    if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) < 0) {
        /* Seized but gone before the interrupt: nothing to release. */
        return gone(pid, tid, why, err);
    }
    int signal = 0, st;
    long long deadline = now_ns() + STOP_TIMEOUT_NS;
    for (unsigned spins = 0; (st = stop_status(tid, &signal)) == 0; spins++) {
        if (now_ns() > deadline) {
            if (s->nlost < sizeof s->lost / sizeof s->lost[0])
                s->lost[s->nlost++] = tid;
            *why = MOTH_STOP_STUCK;
            return moth_fail(err, "thread %d of process %d did not stop within a second (state "
                             "%c)", (int)tid, (int)pid, task_state(pid, tid) ?: '?');
        }
        if (spins < 64) {
            sched_yield();
        } else {
            struct timespec pause = {0, 50000};
            nanosleep(&pause, NULL);
        }
    }
    if (st < 0)
        return gone(pid, tid, why, err);
    s->pid = pid;
    s->tid = tid;
    s->held = 1;
    s->pending_signal = signal;
    if (!task_state(pid, tid)) {
        moth_thread_release(s);
        return gone(pid, tid, why, err);
    }
    if (regs && moth_thread_registers(tid, regs, err) < 0) {
        *why = MOTH_STOP_ERROR;
        moth_thread_release(s);
        return -1;
    }
    return 0;
}

void moth_thread_release(moth_thread_stop *s)
{
    if (s->held) {
        /* A thread that died while held (SIGKILL) cannot be detached: it is a zombie only its
         * tracer can reap, which release_lost does, else its process could not end. */
        if (ptrace(PTRACE_DETACH, s->tid, NULL, (void *)(long)s->pending_signal) < 0 &&
            s->nlost < sizeof s->lost / sizeof s->lost[0])
            s->lost[s->nlost++] = s->tid;
        s->held = 0;
        s->pending_signal = 0;
    }
    release_lost(s);
}
