/* ptrace_stop.c: holding a process's threads still for a snapshot; see ptrace_stop.h. */
#define _GNU_SOURCE
#include "ptrace_stop.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>

#include "proc.h"

static int seized(const moth_stopper *s, pid_t tid)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->threads[i].tid == tid)
            return 1;
    return 0;
}

/* Seizes the threads not held yet; -1 when none could be (err says why). */
static int seize_new(moth_stopper *s, moth_error *err)
{
    moth_tasks tasks = MOTH_TASKS_INIT;
    if (moth_proc_tasks(s->pid, &tasks, err) < 0)
        return -1;
    int first_errno = 0;
    for (size_t i = 0; i < tasks.count; i++) {
        pid_t tid = tasks.items[i].tid;
        if (seized(s, tid))
            continue;
        if (ptrace(PTRACE_SEIZE, tid, NULL, NULL) < 0) {
            if (!first_errno && errno != ESRCH)
                first_errno = errno; /* ESRCH: the thread ended meanwhile */
            continue;
        }
        if (moth_grow((void **)&s->threads, sizeof *s->threads, &s->cap, s->count + 1, err) < 0) {
            ptrace(PTRACE_DETACH, tid, NULL, NULL);
            moth_tasks_free(&tasks);
            return -1;
        }
        s->threads[s->count++] = (moth_held_thread){tid, 0, 0, 0};
    }
    moth_tasks_free(&tasks);
    if (!s->count && first_errno)
        return moth_proc_explain_denied(s->pid, first_errno, err);
    return 0;
}

int moth_stopper_attach(moth_stopper *s, pid_t pid, moth_error *err)
{
    memset(s, 0, sizeof *s);
    s->pid = pid;
    if (seize_new(s, err) < 0) {
        moth_stopper_detach(s);
        return -1;
    }
    return 0;
}

/* What a wait status means for held thread i. Returns 0 when the thread is still held, 1 when
 * it was forgotten (it ended). */
static int take_status(moth_stopper *s, size_t i, int status)
{
    moth_held_thread *h = &s->threads[i];
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
        if (h->tid == s->pid) {
            s->leader_exited = 1;
            s->leader_status = status;
        }
        s->threads[i] = s->threads[--s->count];
        return 1;
    }
    if (WIFSTOPPED(status)) {
        h->stopped = 1;
        if ((status >> 16) == PTRACE_EVENT_STOP)
            h->interrupt_pending = 0; /* moth's interrupt (or a group stop) */
        else
            h->signal = WSTOPSIG(status); /* a signal on its way to the program */
    }
    return 0;
}

/* Continues held thread i from its stop, passing on the signal it caught. When an interrupt of
 * moth's is still pending (the thread stopped for a signal first), it will stop again at once:
 * that stop is waited for and continued too. */
static void continue_thread(moth_stopper *s, size_t i)
{
    moth_held_thread *h = &s->threads[i];
    while (h->stopped) {
        int sig = h->signal;
        h->signal = 0;
        h->stopped = 0;
        if (ptrace(PTRACE_CONT, h->tid, NULL, (void *)(long)sig) < 0)
            return;
        if (!h->interrupt_pending)
            return;
        int status;
        pid_t got;
        while ((got = waitpid(h->tid, &status, __WALL)) < 0 && errno == EINTR)
            ;
        if (got != h->tid || take_status(s, i, status))
            return;
    }
}

/* Collects stops that happened on their own (signals) without blocking. */
static void collect_stops(moth_stopper *s)
{
    for (size_t i = 0; i < s->count;) {
        int status;
        pid_t got = s->threads[i].stopped ? 0
                                           : waitpid(s->threads[i].tid, &status, __WALL | WNOHANG);
        if (got == s->threads[i].tid && take_status(s, i, status))
            continue;
        i++;
    }
}

static int listed(const moth_tasks *only, pid_t tid)
{
    for (size_t i = 0; i < only->count; i++)
        if (only->items[i].tid == tid)
            return 1;
    return 0;
}

int moth_stopper_stop(moth_stopper *s)
{
    return moth_stopper_stop_only(s, NULL);
}

int moth_stopper_stop_only(moth_stopper *s, const moth_tasks *only)
{
    seize_new(s, NULL);
    collect_stops(s);
    for (size_t i = 0; i < s->count; i++) {
        moth_held_thread *h = &s->threads[i];
        if (!h->stopped && !h->interrupt_pending && (!only || listed(only, h->tid)) &&
            ptrace(PTRACE_INTERRUPT, h->tid, NULL, NULL) == 0)
            h->interrupt_pending = 1;
    }
    /* The leader last: when the process is killed, the leader's end is reported only once
     * its other threads are reaped, so a blocking wait on it first would never return. */
    for (int leader = 0; leader < 2; leader++)
        for (size_t i = 0; i < s->count;) {
            moth_held_thread *h = &s->threads[i];
            if (h->stopped || !h->interrupt_pending || (h->tid == s->pid) != leader) {
                i++;
                continue;
            }
            int status;
            /* Other threads held too: one of them may be ending (the process killed) and
             * must be reaped before the leader can report, so poll them all. */
            int poll = leader && s->count > 1;
            pid_t got = waitpid(h->tid, &status, __WALL | (poll ? WNOHANG : 0));
            if (got == 0) {
                collect_stops(s);
                struct timespec pause_ = {0, 20000};
                nanosleep(&pause_, NULL);
                i = 0;
                continue;
            }
            if (got < 0 && errno == EINTR)
                continue;
            if (got != h->tid) {
                s->threads[i] = s->threads[--s->count]; /* gone without a word */
                continue;
            }
            if (!take_status(s, i, status))
                i++;
        }
    return s->count ? 0 : -1;
}

void moth_stopper_resume(moth_stopper *s)
{
    for (size_t i = 0; i < s->count; i++)
        continue_thread(s, i);
}

void moth_stopper_wait(moth_stopper *s, double until)
{
    sigset_t chld, old;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &chld, &old);
    for (;;) {
        collect_stops(s);
        for (size_t i = 0; i < s->count; i++)
            if (s->threads[i].stopped)
                continue_thread(s, i);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        double left = until - ((double)now.tv_sec + (double)now.tv_nsec * 1e-9);
        if (left <= 0)
            break;
        struct timespec wait = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        /* A tracee's stop sends moth SIGCHLD: wake for it, else sleep out the time. */
        if (sigtimedwait(&chld, NULL, &wait) < 0 && errno != EAGAIN && errno != EINTR)
            break;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void moth_stopper_detach(moth_stopper *s)
{
    for (size_t i = 0; i < s->count; i++) {
        moth_held_thread *h = &s->threads[i];
        if (!h->stopped) {
            /* Only a stopped tracee can be let go: stop it (or take the stop it is in). */
            if (!h->interrupt_pending && ptrace(PTRACE_INTERRUPT, h->tid, NULL, NULL) < 0)
                continue;
            h->interrupt_pending = 1;
            int status;
            pid_t got;
            while ((got = waitpid(h->tid, &status, __WALL)) < 0 && errno == EINTR)
                ;
            if (got != h->tid)
                continue;
            if (take_status(s, i, status)) {
                i--; /* the last thread moved into slot i: look at it next */
                continue;
            }
        }
        /* A signal caught in this last stop goes to the program with the detach. A pending
         * interrupt of moth's dies with the tracing. */
        ptrace(PTRACE_DETACH, h->tid, NULL, (void *)(long)h->signal);
    }
    free(s->threads);
    memset(s, 0, sizeof *s);
}
