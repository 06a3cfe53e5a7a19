/* sampler.c: rounds of stack reads at a steady rate; see sampler.h. */
#include "sampler.h"

#include <string.h>
#include <time.h>

#include "proc.h"
#include "remote.h"

double moth_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void moth_sampler_init(moth_sampler *s, moth_remote *t, moth_sample_mode mode,
                       moth_sample_sink sink)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->mode = mode;
    s->sink = sink;
}

void moth_sampler_free(moth_sampler *s)
{
    moth_rthreads_free(&s->threads);
    moth_rstack_free(&s->stack);
    moth_stack_reader_free(&s->reader);
    moth_tasks_free(&s->running);
}

/* Whether the target is still there to be read. */
static int target_gone(moth_remote *t)
{
    if (t->pid && moth_proc_exists(t->pid, NULL) < 0)
        return 1;
    uint64_t head;
    return moth_mem_u64(&t->mem, t->runtime + t->L->runtime.interpreters_head, &head) < 0 ||
           head != t->interp;
}

/* Whether the mode keeps this thread in this round. */
static int wanted(moth_sampler *s, const moth_rthread *th)
{
    if (s->mode == MOTH_SAMPLE_GIL)
        return th->holds_gil;
    if (s->mode == MOTH_SAMPLE_CPU && s->t->pid && s->stopper) {
        for (size_t i = 0; i < s->running.count; i++)
            if (s->running.items[i].tid == (pid_t)th->native_id)
                return 1;
        return 0;
    }
    if (s->mode == MOTH_SAMPLE_CPU && s->t->pid) {
        moth_task task = {.tid = (pid_t)th->native_id};
        return moth_proc_task_state(s->t->pid, &task) == 0 && task.state == 'R';
    }
    return 1;
}

static int read_round(moth_sampler *s);

int moth_sampler_round(moth_sampler *s)
{
    if (!s->stopper)
        return read_round(s);
    /* --mode cpu: once stopped, a thread shows as stopped, so which ran is read before; and
     * only those are stopped (stopping one that sleeps would wake it). */
    const moth_tasks *only = NULL;
    if (s->mode == MOTH_SAMPLE_CPU) {
        if (moth_proc_tasks(s->t->pid, &s->running, NULL) < 0)
            s->running.count = 0;
        size_t kept = 0;
        for (size_t i = 0; i < s->running.count; i++)
            if (s->running.items[i].state == 'R')
                s->running.items[kept++] = s->running.items[i];
        s->running.count = kept;
        only = &s->running;
    }
    if (moth_stopper_stop_only(s->stopper, only) < 0)
        return 1; /* no thread left to stop: the process has gone */
    int rc = read_round(s);
    moth_stopper_resume(s->stopper);
    return rc;
}

static int read_round(moth_sampler *s)
{
    moth_remote *t = s->t;
    if (moth_remote_threads_prefetch(t, &s->reader, &s->threads, NULL) < 0) {
        s->stats.failed_rounds++;
        return target_gone(t) ? 1 : 0;
    }
    s->stats.rounds++;
    for (size_t i = 0; i < s->threads.count; i++) {
        moth_rthread *th = &s->threads.items[i];
        if (!wanted(s, th))
            continue;
        if (s->native) {
            int rc = moth_native_sample(s->native, t, &s->reader, th, &s->stack, &s->err);
            if (rc < 0)
                return -1;
            if (rc == 0 && s->sink.native(s->sink.ctx, t, th, &s->stack, s->native) < 0)
                return -1;
            continue;
        }
        if (moth_remote_stack(t, &s->reader, th, &s->stack) < 0)
            continue; /* dropped, counted by the reader */
        if (s->sink.stack(s->sink.ctx, t, th, &s->stack) < 0)
            return -1;
    }
    if (s->sink.round_done)
        s->sink.round_done(s->sink.ctx, t);
    return 0;
}

void moth_sleep_until(double when)
{
    struct timespec ts;
    ts.tv_sec = (time_t)when;
    ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    /* Interrupted by a signal (EINTR): return, so the caller looks at its stop flag. */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void moth_pace_start(moth_pace *p, double rate, double now)
{
    p->interval = 1.0 / rate;
    p->next = now;
}

int64_t moth_pace_due(moth_pace *p, double now)
{
    if (now < p->next)
        return -1;
    int64_t missed = 0;
    if (now - p->next > p->interval) { /* behind by more than a round */
        missed = (int64_t)((now - p->next) / p->interval);
        p->next += (double)missed * p->interval;
    }
    p->next += p->interval;
    return missed;
}

int moth_sampler_run(moth_sampler *s, double rate, double duration,
                     volatile sig_atomic_t *stop, int (*tick)(void *ctx, double elapsed),
                     void *tick_ctx)
{
    double start = moth_now(), next_tick = start + 0.1;
    moth_pace pace;
    moth_pace_start(&pace, rate, start);
    int rc = 0;
    for (;;) {
        if (stop && *stop)
            break;
        double now = moth_now();
        if (duration > 0 && now - start >= duration)
            break;
        int64_t missed = moth_pace_due(&pace, now);
        if (missed < 0) {
            if (s->stopper)
                moth_stopper_wait(s->stopper, pace.next); /* passes the program's signals on */
            else
                moth_sleep_until(pace.next);
            continue;
        }
        s->stats.late += (uint64_t)missed;
        double before = moth_now();
        rc = moth_sampler_round(s);
        s->stats.busy_seconds += moth_now() - before;
        if (rc)
            break;
        if (before >= next_tick) {
            next_tick = before + 0.1;
            s->t->codes.epoch++; /* code objects seen before are checked again, once */
            if (tick && tick(tick_ctx, before - start))
                break;
        }
    }
    s->stats.seconds = moth_now() - start;
    return rc;
}
