/*
 * ptrace_stop.h: stopping every thread of a process for a moment, for a consistent snapshot of
 * its stacks (`--blocking`), and letting it go again.
 *
 * Threads are seized (PTRACE_SEIZE: no signal sent, nothing the program sees) and interrupted
 * only while a snapshot is read. A traced thread that receives a signal stops and waits for its
 * tracer to pass the signal on: moth_stopper_wait, which the sampler sleeps in between rounds,
 * passes each one on as soon as it arrives, and a signal caught while moth holds the threads
 * is passed on when they resume. So the program receives every signal it would have. Threads
 * that start later are seized at the next stop; threads that end are forgotten. Detaching
 * (also done by the kernel if moth dies) leaves the program running as before.
 */
#ifndef MOTH_PTRACE_STOP_H
#define MOTH_PTRACE_STOP_H

#include <sys/types.h>

#include "common.h"
#include "proc.h"

typedef struct moth_held_thread {
    pid_t tid;
    int signal;             /* the program's signal this stop caught: passed on at resume */
    int stopped;            /* in a ptrace-stop that moth has waited for */
    int interrupt_pending;  /* moth interrupted it and has not seen that stop yet */
} moth_held_thread;

typedef struct moth_stopper {
    pid_t pid;
    moth_held_thread *threads;
    size_t count, cap;
    int leader_exited;      /* the process's main thread was reaped here (our own child) ... */
    int leader_status;      /* ... with this wait status */
} moth_stopper;

/* Seizes every thread of pid. Errors name the cause (gone; not permitted, and why). */
int moth_stopper_attach(moth_stopper *s, pid_t pid, moth_error *err);
/* Stops every thread (seizing new ones first) and waits until each is stopped. 0, or -1 when
 * the process has gone. */
int moth_stopper_stop(moth_stopper *s);
/* As moth_stopper_stop, for the threads listed in only (NULL: every thread): the others run
 * on (a sleeping thread stopped is woken from its system call, which it then makes again). */
int moth_stopper_stop_only(moth_stopper *s, const moth_tasks *only);
/* Lets every stopped thread run on, with any signal it was about to receive. */
void moth_stopper_resume(moth_stopper *s);
/* Sleeps until the monotonic time `until` (seconds, as moth_now), passing on at once every
 * signal the program receives meanwhile. */
void moth_stopper_wait(moth_stopper *s, double until);
/* Resumes and lets go of every thread. */
void moth_stopper_detach(moth_stopper *s);

#endif
