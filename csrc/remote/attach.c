/* attach.c: queueing a bootstrap in a running CPython at its own safe point; see attach.h. */
#define _GNU_SOURCE
#include "attach.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "elffile.h"
#include "inject.h"
#include "objects.h"
#include "ptrace_stop.h"

#define PAGE_BYTES 16384

enum { S_RUN, S_VERBOSE, S_HANDLERS, S_TRIPPED, S_COUNT };
static const char *const SYMS[S_COUNT] = {"PyRun_SimpleString", "Py_VerboseFlag", "Handlers",
                                          "is_tripped"};

/* The symbols attaching needs, as addresses in the target (0: absent). */
static int find_symbols(moth_remote *t, uint64_t *out, moth_error *err)
{
    memset(out, 0, S_COUNT * sizeof *out);
    const moth_mapping *m = moth_maps_find_file(&t->maps, t->binary);
    if (!m)
        return moth_fail(err, "cannot find %s in the memory map of process %d", t->binary,
                         (int)t->pid);
    moth_elf elf;
    char path[8192];
    snprintf(path, sizeof path, "%s%s", t->root, t->binary);
    if (moth_elf_open(&elf, path, NULL) < 0 && moth_elf_open(&elf, t->binary, err) < 0)
        return -1;
    uint64_t bias = moth_maps_bias(m, moth_elf_lowest_load(&elf));
    int found = moth_elf_symbols(&elf, SYMS, S_COUNT, out, NULL, err);
    moth_elf_close(&elf);
    if (found < 0)
        return -1;
    for (int i = 0; i < S_COUNT; i++)
        if (out[i])
            out[i] += bias;
    if (!out[S_RUN])
        return moth_fail(err, "%s has no PyRun_SimpleString: moth cannot attach to it",
                         t->binary);
    return 0;
}

static int write_u32(moth_remote *t, uint64_t addr, uint32_t v, moth_error *err)
{
    return moth_proc_write(t->pid, addr, &v, sizeof v, err);
}

static int write_u64(moth_remote *t, uint64_t addr, uint64_t v, moth_error *err)
{
    return moth_proc_write(t->pid, addr, &v, sizeof v, err);
}

static uint64_t queue_address(const moth_remote *t)
{
    const moth_py_layout *L = t->L;
    return (L->pending.queue_in_runtime ? t->runtime : t->interp) + L->pending.queue;
}

/* The queue as read while the target is stopped. */
typedef struct queue_view {
    uint8_t *bytes;
    size_t size;
    uint32_t first, last, npending, max;
    int locked;
} queue_view;

static int read_queue(moth_remote *t, queue_view *q, moth_error *err)
{
    const moth_py_layout *L = t->L;
    q->size = L->pending.last + 4;
    if (!(q->bytes = moth_malloc(q->size, err)))
        return -1;
    uint64_t base = queue_address(t);
    if (moth_remote_read(t, base, q->bytes, q->size) < 0)
        goto unreadable;
    q->first = moth_u32_at(q->bytes, L->pending.first);
    q->last = moth_u32_at(q->bytes, L->pending.last);
    if (q->first >= L->pending.ncalls || q->last >= L->pending.ncalls)
        goto unreadable;
    if (L->pending.lock_is_mutex) {
        q->locked = q->bytes[L->pending.lock] != 0;
        q->npending = moth_u32_at(q->bytes, L->pending.npending);
        q->max = moth_u32_at(q->bytes, L->pending.max);
        if (q->npending > L->pending.ncalls || q->max > L->pending.ncalls)
            goto unreadable;
    } else {
        /* a PyThread lock: a POSIX semaphore whose count is 1 when free */
        uint64_t sem = moth_u64_at(q->bytes, L->pending.lock);
        uint32_t count = 0;
        if (sem && moth_remote_read(t, sem, &count, sizeof count) < 0)
            goto unreadable;
        q->locked = sem && count == 0;
    }
    return 0;
unreadable:
    free(q->bytes);
    q->bytes = NULL;
    return moth_fail(err, "cannot read the pending-call queue of process %d", (int)t->pid);
}

static int queue_full(const moth_remote *t, const queue_view *q)
{
    if (t->L->pending.lock_is_mutex)
        return q->npending >= q->max;
    return (q->last + 1) % t->L->pending.ncalls == q->first;
}

/* Sets the eval-breaker bit that sends the main thread to the queue: 3.11/3.12 the
 * interpreter's flag; 3.13 a bit of each thread state (only the main thread acts on it). */
static int signal_queue(moth_remote *t, moth_error *err)
{
    const moth_py_layout *L = t->L;
    if (!L->pending.lock_is_mutex) {
        uint64_t q = queue_address(t);
        if (write_u32(t, q + L->pending.calls_to_do, 1, err) < 0)
            return -1;
        return write_u32(t, t->interp + L->pending.interp_eval_breaker, 1, err);
    }
    uint64_t ts = 0;
    if (moth_remote_read(t, t->interp + L->interp.threads_head, &ts, sizeof ts) < 0)
        return moth_fail(err, "cannot read the thread list of process %d", (int)t->pid);
    for (int n = 0; ts && n < 100000; n++) {
        uint64_t eb;
        if (moth_remote_read(t, ts + L->pending.tstate_eval_breaker, &eb, sizeof eb) < 0)
            break;
        eb |= L->pending.calls_bit;
        if (write_u64(t, ts + L->pending.tstate_eval_breaker, eb, err) < 0)
            return -1;
        if (moth_remote_read(t, ts + L->tstate.next, &ts, sizeof ts) < 0)
            break;
    }
    return 0;
}

static int push_call(moth_remote *t, queue_view *q, uint64_t func, uint64_t arg,
                     moth_attach_plan *plan, moth_error *err)
{
    const moth_py_layout *L = t->L;
    uint64_t base = queue_address(t);
    uint32_t i = q->last;
    uint64_t entry = base + L->pending.calls + (uint64_t)i * L->pending.call_size;
    uint8_t call[32] = {0}; /* {func, arg} and 3.13's flags (0: no flags) */
    memcpy(call, &func, 8);
    memcpy(call + 8, &arg, 8);
    if (moth_proc_write(t->pid, entry, call, L->pending.call_size, err) < 0)
        return -1;
    if (L->pending.lock_is_mutex &&
        write_u32(t, base + L->pending.npending, q->npending + 1, err) < 0)
        return -1;
    if (write_u32(t, base + L->pending.last, (i + 1) % L->pending.ncalls, err) < 0)
        return -1;
    plan->slot = i;
    return signal_queue(t, err);
}

/* The handler slot to lend and the function to lend it (attach.h, step 3); 0 when the target
 * offers none (python -v, a 3.11 without its static symbols, every real-time slot in use). */
static int choose_handler(moth_remote *t, const uint64_t *sym, moth_attach_plan *plan,
                          uint64_t *is_tripped)
{
    const moth_py_layout *L = t->L;
    int32_t verbose = 0;
    if (sym[S_VERBOSE] && moth_remote_read(t, sym[S_VERBOSE], &verbose, sizeof verbose) == 0 &&
        verbose) {
        snprintf(plan->note, sizeof plan->note, "the program runs with python -v");
        return 0;
    }
    uint64_t table = L->signals.handlers == MOTH_NO_FIELD ? sym[S_HANDLERS]
                                                         : t->runtime + L->signals.handlers;
    *is_tripped = L->signals.is_tripped == MOTH_NO_FIELD ? sym[S_TRIPPED]
                                                        : t->runtime + L->signals.is_tripped;
    if (!table || !*is_tripped) {
        snprintf(plan->note, sizeof plan->note, "%.180s was stripped of the symbols Handlers and "
                 "is_tripped", t->binary);
        return 0;
    }
    uint64_t importlib = moth_remote_module(t, "_frozen_importlib");
    uint64_t dict = importlib ? moth_module_dict(t, importlib) : 0;
    plan->wake_func = dict ? moth_dict_get_str(t, dict, "_verbose_message") : 0;
    if (!plan->wake_func) {
        snprintf(plan->note, sizeof plan->note, "importlib's _verbose_message was not found");
        return 0;
    }
    /* the highest real-time signal whose handler the program never set from Python (its
     * entry still holds SIG_DFL or SIG_IGN, which are ints, or nothing) */
    for (uint32_t sig = L->signals.nsig - 1; sig >= 34; sig--) {
        uint64_t entry = table + (uint64_t)sig * L->signals.handler_size;
        uint64_t func;
        if (moth_remote_read(t, entry + L->signals.handler_func, &func, sizeof func) < 0)
            break;
        if (func == 0 || moth_obj_type(t, func) == t->known.int_type) {
            plan->handler = entry;
            plan->handler_saved = func;
            return 1;
        }
    }
    snprintf(plan->note, sizeof plan->note, "every real-time signal has a Python handler");
    return 0;
}

/* The held thread that runs moth's system calls: the main thread, else any. */
static moth_held_thread *worker_thread(moth_stopper *s)
{
    for (size_t i = 0; i < s->count; i++)
        if (s->threads[i].tid == s->pid)
            return &s->threads[i];
    return s->count ? &s->threads[0] : NULL;
}

/* Makes the main thread's blocked call return EINTR when a handler slot can be lent (lend);
 * otherwise notes whether it is blocked in a call that would need it (plan->unwakeable). */
static void wake_main(moth_stopper *s, moth_remote *t, int lend, moth_attach_plan *plan)
{
    moth_held_thread *main = worker_thread(s);
    if (!main || main->tid != t->pid)
        return;
    if (lend)
        plan->woken_syscall = moth_inject_interrupt_syscall(main->tid);
    else
        plan->unwakeable = moth_inject_blocked_syscall(main->tid) >= 0;
}

static int run_syscall(moth_stopper *s, uint64_t gadget, long nr, const uint64_t args[6],
                       long *result, moth_error *err)
{
    moth_held_thread *h = worker_thread(s);
    if (!h)
        return moth_fail(err, "process %d has no thread left", (int)s->pid);
    int sig = 0;
    if (moth_inject_syscall(h->tid, gadget, nr, args, result, &sig, err) < 0)
        return -1;
    if (sig && !h->signal)
        h->signal = sig;
    return 0;
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int moth_attach_inject(moth_remote *t, moth_attach_compose compose, void *ctx,
                       moth_attach_plan *plan, moth_error *err)
{
    memset(plan, 0, sizeof *plan);
    plan->woken_syscall = -1;
    uint64_t sym[S_COUNT];
    if (find_symbols(t, sym, err) < 0)
        return -1;
    plan->run_string = sym[S_RUN];
    uint64_t gadget = moth_inject_find_syscall(t->pid, &t->maps, err);
    if (!gadget)
        return -1;
    char *text = moth_malloc(PAGE_BYTES, err);
    if (!text)
        return -1;
    moth_stopper s;
    if (moth_stopper_attach(&s, t->pid, err) < 0) {
        free(text);
        return -1;
    }
    int rc = -1;
    queue_view q = {0};
    for (int attempt = 0;; attempt++) {
        if (moth_stopper_stop(&s) < 0) {
            moth_fail(err, "process %d ended while moth was attaching", (int)t->pid);
            goto out;
        }
        if (read_queue(t, &q, err) < 0)
            goto out;
        if (!q.locked && !queue_full(t, &q))
            break;
        free(q.bytes);
        q.bytes = NULL;
        if (attempt == 500) {
            moth_fail(err, "the pending-call queue of process %d stayed %s for a second",
                      (int)t->pid, q.locked ? "locked" : "full");
            goto out;
        }
        moth_stopper_resume(&s);
        pause_ms(2);
    }
    /* every thread is stopped and nobody holds the queue's lock */
    long mapped;
    uint64_t args[6] = {0, PAGE_BYTES, 3 /* PROT_READ | PROT_WRITE */,
                        0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, (uint64_t)-1, 0};
    if (run_syscall(&s, gadget, SYS_mmap, args, &mapped, err) < 0)
        goto out;
    if (mapped < 0 && mapped > -4096) {
        moth_fail(err, "process %d could not map memory for moth: %s", (int)t->pid,
                  strerror((int)-mapped));
        goto out;
    }
    plan->page = (uint64_t)mapped;
    plan->page_size = PAGE_BYTES;
    uint64_t is_tripped = 0;
    int lend = choose_handler(t, sym, plan, &is_tripped);
    if (compose(ctx, plan, text, PAGE_BYTES) < 0) {
        moth_fail(err, "moth's bootstrap does not fit in a page");
        goto unmap;
    }
    if (moth_proc_write(t->pid, plan->page, text, strlen(text) + 1, err) < 0 ||
        push_call(t, &q, plan->run_string, plan->page, plan, err) < 0)
        goto unmap;
    wake_main(&s, t, lend, plan);
    if (plan->woken_syscall >= 0) {
        if (write_u64(t, plan->handler + t->L->signals.handler_func, plan->wake_func, err) < 0 ||
            write_u32(t, plan->handler, 1, err) < 0 || write_u32(t, is_tripped, 1, err) < 0)
            goto out; /* the call is queued: it runs at the main thread's next instruction */
    } else {
        plan->handler = 0;
    }
    rc = 0;
    goto out;
unmap:
    {
        long ignored;
        uint64_t margs[6] = {plan->page, PAGE_BYTES, 0, 0, 0, 0};
        run_syscall(&s, gadget, SYS_munmap, margs, &ignored, NULL);
        plan->page = 0;
    }
out:
    free(q.bytes);
    free(text);
    moth_stopper_detach(&s);
    return rc;
}

/* Gives the lent handler slot back, when it still holds moth's function. */
static int give_back_handler(moth_remote *t, const moth_attach_plan *plan, moth_error *err)
{
    if (!plan->handler)
        return 0;
    uint64_t func;
    uint64_t at = plan->handler + t->L->signals.handler_func;
    if (moth_remote_read(t, at, &func, sizeof func) < 0 || func != plan->wake_func)
        return 0;
    if (write_u64(t, at, plan->handler_saved, err) < 0)
        return -1;
    return write_u32(t, plan->handler, 0, err);
}

int moth_attach_withdraw(moth_remote *t, const moth_attach_plan *plan, moth_error *err)
{
    const moth_py_layout *L = t->L;
    moth_stopper s;
    if (moth_stopper_attach(&s, t->pid, err) < 0)
        return -1;
    int rc = -1;
    queue_view q = {0};
    if (moth_stopper_stop(&s) < 0) {
        moth_fail(err, "process %d has ended", (int)t->pid);
        goto out;
    }
    if (read_queue(t, &q, err) < 0)
        goto out;
    uint32_t n = L->pending.ncalls, i = plan->slot;
    int queued = L->pending.lock_is_mutex
                     ? q.npending && (i - q.first + n) % n < q.npending
                     : (i - q.first + n) % n < (q.last - q.first + n) % n;
    uint64_t entry = queue_address(t) + L->pending.calls + (uint64_t)i * L->pending.call_size;
    uint64_t call[2] = {0, 0};
    if (queued && moth_remote_read(t, entry, call, sizeof call) < 0)
        queued = 0;
    if (!queued || call[0] != plan->run_string || call[1] != plan->page) {
        rc = 0; /* taken from the queue: the bootstrap runs */
        goto out;
    }
    if (q.locked || (i + 1) % n != q.last) {
        /* not the last call, or the lock held: leave the call, with nothing to run */
        uint8_t nul = 0;
        if (moth_proc_write(t->pid, plan->page, &nul, 1, err) < 0)
            goto out;
    } else {
        uint8_t zero[32] = {0};
        if (moth_proc_write(t->pid, entry, zero, L->pending.call_size, err) < 0 ||
            write_u32(t, queue_address(t) + L->pending.last, i, err) < 0 ||
            (L->pending.lock_is_mutex &&
             write_u32(t, queue_address(t) + L->pending.npending, q.npending - 1, err) < 0))
            goto out;
    }
    if (give_back_handler(t, plan, err) < 0)
        goto out;
    rc = 1;
out:
    free(q.bytes);
    moth_stopper_detach(&s);
    return rc;
}

int moth_attach_release_page(moth_remote *t, const moth_attach_plan *plan, moth_error *err)
{
    if (give_back_handler(t, plan, err) < 0)
        return -1;
    if (!plan->page)
        return 0;
    uint64_t gadget = moth_inject_find_syscall(t->pid, &t->maps, err);
    if (!gadget)
        return -1;
    moth_stopper s;
    if (moth_stopper_attach(&s, t->pid, err) < 0)
        return -1;
    int rc = -1;
    long result;
    uint64_t args[6] = {plan->page, plan->page_size, 0, 0, 0, 0};
    if (moth_stopper_stop(&s) < 0)
        moth_fail(err, "process %d has ended", (int)t->pid);
    else if (run_syscall(&s, gadget, SYS_munmap, args, &result, err) == 0)
        rc = 0;
    moth_stopper_detach(&s);
    return rc;
}

int moth_attach_wake(moth_remote *t, moth_attach_plan *plan, moth_error *err)
{
    memset(plan, 0, sizeof *plan);
    plan->woken_syscall = -1;
    uint64_t sym[S_COUNT];
    if (find_symbols(t, sym, err) < 0)
        return -1;
    moth_stopper s;
    if (moth_stopper_attach(&s, t->pid, err) < 0)
        return -1;
    int rc = -1;
    if (moth_stopper_stop(&s) < 0) {
        moth_fail(err, "process %d has ended", (int)t->pid);
        goto out;
    }
    uint64_t is_tripped = 0;
    wake_main(&s, t, choose_handler(t, sym, plan, &is_tripped), plan);
    if (plan->woken_syscall >= 0) {
        if (write_u64(t, plan->handler + t->L->signals.handler_func, plan->wake_func, err) < 0 ||
            write_u32(t, plan->handler, 1, err) < 0 || write_u32(t, is_tripped, 1, err) < 0)
            goto out;
    } else {
        plan->handler = 0;
    }
    rc = 0;
out:
    moth_stopper_detach(&s);
    return rc;
}

int moth_attach_give_back(moth_remote *t, const moth_attach_plan *plan, moth_error *err)
{
    if (!plan->handler)
        return 0;
    moth_stopper s;
    if (moth_stopper_attach(&s, t->pid, err) < 0)
        return -1;
    int rc = -1;
    if (moth_stopper_stop(&s) < 0)
        moth_fail(err, "process %d has ended", (int)t->pid);
    else
        rc = give_back_handler(t, plan, err);
    moth_stopper_detach(&s);
    return rc;
}
