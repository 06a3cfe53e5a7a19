/*
 * attach.h: asking a running CPython (3.11-3.13) to run a bootstrap, at a point where running
 * Python is safe, without calling into it from outside.
 *
 * The interpreter's own pending-call queue is that point: the main thread runs the queued
 * calls between two bytecode instructions, holding the GIL (it is how CPython runs signal
 * handlers and how 3.14's sys.remote_exec runs its script). moth stops every thread for a
 * moment (ptrace), and while the queue's lock is free and nothing runs:
 *   1. maps one page in the target with a raw mmap system call run in its main thread, and
 *      writes the bootstrap's text there;
 *   2. queues the call PyRun_SimpleString(page) and sets the eval-breaker bit that makes the
 *      main thread look at the queue;
 *   3. when the main thread is blocked in a call CPython retries after EINTR (time.sleep, a
 *      lock, a socket read), makes that call return EINTR, and lends one unused slot of the
 *      signal handlers' table a harmless Python function (importlib's _verbose_message, which
 *      does nothing unless python -v): CPython runs its signal handlers before retrying, that
 *      function's first instruction runs the queue, and the call then goes on as if nothing
 *      had happened. The bootstrap gives the slot back (plan->handler_*).
 * then lets every thread go. Nothing of the target's runs while it is stopped.
 */
#ifndef MOTH_ATTACH_H
#define MOTH_ATTACH_H

#include "common.h"
#include "remote.h"

typedef struct moth_attach_plan {
    uint64_t page, page_size;   /* moth's page in the target, holding the bootstrap's text */
    uint64_t run_string;        /* PyRun_SimpleString */
    uint32_t slot;              /* the queue's slot the call went in */
    /* the signal-handler slot lent to wake a blocked main thread (0: none was needed) */
    uint64_t handler;           /* address of the handler entry {tripped, func} */
    uint64_t handler_saved;     /* its func before */
    uint64_t wake_func;         /* the function lent */
    long woken_syscall;         /* the system call the main thread was in, interrupted (-1) */
    int unwakeable;             /* the main thread is blocked in such a call and cannot be
                                 * woken: note says why */
    char note[256];             /* why no handler slot can be lent */
} moth_attach_plan;

/* Writes the bootstrap's text for `plan` (NUL-terminated, < size bytes) into buf; -1 when it
 * does not fit. Called with the target stopped: it must not block. */
typedef int (*moth_attach_compose)(void *ctx, const moth_attach_plan *plan, char *buf,
                                   size_t size);

/* Queues the bootstrap in t (a live process) as described above. Errors name the cause (the
 * process gone, ptrace refused and why, the queue full or its lock held for a second). */
int moth_attach_inject(moth_remote *t, moth_attach_compose compose, void *ctx,
                       moth_attach_plan *plan, moth_error *err);

/* Takes the bootstrap back when it has not run yet: 1 when it was withdrawn (its call removed
 * from the queue, or made to run an empty text when others follow it, and the handler slot
 * given back), 0 when it had already started (it will connect), -1 with err. */
int moth_attach_withdraw(moth_remote *t, const moth_attach_plan *plan, moth_error *err);

/* Unmaps the bootstrap's page (when the bootstrap ran but could not do it itself). */
int moth_attach_release_page(moth_remote *t, const moth_attach_plan *plan, moth_error *err);

/* Wakes the main thread as step 3 does, for a call the agent queued itself (Ctrl-C at moth's
 * terminal: Py_AddPendingCall inside the target): when it is blocked in a call CPython
 * retries, that call returns EINTR and a handler slot is lent (plan->handler, 0 when none was
 * needed or none could be). moth_attach_give_back gives the slot back (its function and its
 * tripped flag, together, while the target is stopped: CPython then finds nothing to run). */
int moth_attach_wake(moth_remote *t, moth_attach_plan *plan, moth_error *err);
int moth_attach_give_back(moth_remote *t, const moth_attach_plan *plan, moth_error *err);

#endif
