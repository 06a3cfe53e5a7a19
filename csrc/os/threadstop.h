/*
 * threadstop.h: stopping one thread of another process for a moment, to read its registers
 * and a stack that does not move, and letting it go again exactly as it was.
 *
 * A thread is stopped with PTRACE_SEIZE and PTRACE_INTERRUPT, never PTRACE_ATTACH: seizing
 * sends no SIGSTOP, so if moth dies while the thread is stopped (Ctrl-C, SIGKILL, a crash) the
 * kernel detaches it and it runs on; nothing is left pending that could stop it later. A signal
 * that arrives for the thread while it is held is handed back to it when it is let go, and a
 * thread that was already stopped (Ctrl-Z) stays stopped. Only one thread is held at a time.
 *
 * All calls for one moth_thread_stop come from one thread of moth (ptrace's rule: the thread
 * that seized is the tracer).
 */
#ifndef MOTH_THREADSTOP_H
#define MOTH_THREADSTOP_H

#include <sys/types.h>

#include "common.h"

/* Why a stop failed. */
typedef enum moth_stop_failure {
    MOTH_STOP_OK = 0,
    MOTH_STOP_GONE,      /* the thread (or its whole process) has ended */
    MOTH_STOP_DENIED,    /* not permitted: another tracer (gdb, strace), or no ptrace right */
    MOTH_STOP_STUCK,     /* it did not stop in time (uninterruptible sleep), or, when the
                          * caller stopped the threads, it was not among them */
    MOTH_STOP_ERROR,     /* anything else */
} moth_stop_failure;

/* The registers of a stopped thread, numbered as DWARF numbers them for the architecture
 * (x86-64: rax rdx rcx rbx rsi rdi rbp rsp r8-r15 rip; AArch64: x0-x30 sp), and its pc. */
#define MOTH_MAX_DWARF_REGS 33
typedef struct moth_regs {
    uint64_t r[MOTH_MAX_DWARF_REGS];
    unsigned count;      /* how many of r are set, from DWARF register 0 on */
    uint64_t pc;
    uint64_t sp;
} moth_regs;

typedef struct moth_thread_stop {
    pid_t pid, tid;
    int held;            /* tid is seized and stopped */
    int pending_signal;  /* a signal that arrived for it while held, handed back on release */
    /* Threads seized that had not stopped when moth gave up waiting: they are released as
     * soon as they stop (checked on every hold and release), else by the kernel when moth
     * exits. */
    pid_t lost[8];
    unsigned nlost;
} moth_thread_stop;

#define MOTH_THREAD_STOP_INIT {0, 0, 0, 0, {0}, 0}

/* Stops thread tid of process pid and reads its registers into *regs (NULL: not wanted).
 * Waits at most about a second for the stop. 0 when it is held; -1 with err and *why. */
int moth_thread_hold(moth_thread_stop *s, pid_t pid, pid_t tid, moth_regs *regs,
                     moth_stop_failure *why, moth_error *err);

/* -1 with the message a refused hold gives when a thread of pid is traced by another process
 * (gdb, strace: one tracer per thread), or when pid has gone. */
int moth_thread_check_untraced(pid_t pid, moth_error *err);

/* Lets the held thread go (a no-op when none is held). */
void moth_thread_release(moth_thread_stop *s);

/* Reads the registers of thread tid, which this thread of moth traces and has stopped (held
 * here, or by ptrace_stop.h). -1 when it is not stopped by moth or is gone. */
int moth_thread_registers(pid_t tid, moth_regs *regs, moth_error *err);

#endif
