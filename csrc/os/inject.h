/*
 * inject.h: the few things moth's attach does to a thread of another process that ptrace
 * holds stopped (ptrace_stop.h): run one raw system call in it, make the system call it is
 * blocked in return EINTR, and write its memory.
 *
 * None of these runs code of the target's: a raw system call takes no lock of the program's,
 * so it is safe at any instruction (CRIU's parasite and gdb's `call` rely on the same). The
 * thread's registers are saved before and put back after, so it goes on exactly where it was;
 * a system call it was blocked in is restarted by the kernel as after any stop.
 *
 * x86-64 only (the functions fail with a message elsewhere).
 */
#ifndef MOTH_INJECT_H
#define MOTH_INJECT_H

#include <sys/types.h>

#include "common.h"
#include "maps.h"

/* The address of a `syscall` instruction in an executable mapping of the process (the C
 * library's first), read through pid's memory; 0 with err when there is none. */
uint64_t moth_inject_find_syscall(pid_t pid, const moth_maps *maps, moth_error *err);

/* Runs system call `nr` with args[0..5] in thread tid, which the caller holds stopped, by
 * pointing it at the `syscall` instruction at `gadget` and stepping over it once. *result
 * is the call's return value (a negative errno on failure). A signal that arrives for the
 * thread meanwhile is stored in *signal (0: none) for the caller to pass on when it lets the
 * thread go. The thread is left stopped with its registers as they were. */
int moth_inject_syscall(pid_t tid, uint64_t gadget, long nr, const uint64_t args[6],
                        long *result, int *signal, moth_error *err);

/* When thread tid (held stopped) is blocked in one of the system calls CPython retries after
 * EINTR (PEP 475: sleeps, lock waits, socket and pipe reads, select and poll), makes that
 * call return EINTR when the thread runs on, as a signal with a handler would: CPython then
 * runs its signal handlers and calls again. Returns the system call's number when it did,
 * -1 when the thread is not in such a call (nothing changed). */
long moth_inject_interrupt_syscall(pid_t tid);

/* The same test without changing anything: the number of the system call CPython retries
 * after EINTR that thread tid (held stopped) is blocked in, -1 when none. */
long moth_inject_blocked_syscall(pid_t tid);

/* Copies len bytes into the process's memory at addr (process_vm_writev, else
 * /proc/PID/mem). */
int moth_proc_write(pid_t pid, uint64_t addr, const void *buf, size_t len, moth_error *err);

#endif
