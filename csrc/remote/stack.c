/* stack.c: reading one thread's frames from outside; see stack.h. */
#include "stack.h"

#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "linetable.h"
#include "remote.h"

#define MAX_CHUNK_COPY (4u << 20)
#define ATTEMPTS 4

void moth_stack_reader_free(moth_stack_reader *r)
{
    free(r->chunk);
    free(r->plans);
    free(r->pieces);
    free(r->prefetch);
    memset(r, 0, sizeof *r);
}

void moth_rstack_free(moth_rstack *s)
{
    free(s->frames);
    memset(s, 0, sizeof *s);
}

/* Where the thread's frames stand, read just before and just after the chunk's copies in the
 * same system call: the _PyCFrame (3.11/3.12), the current frame, the chunk and its top. */
typedef struct frame_words {
    uint64_t cframe, frame, chunk, top;
} frame_words;

static size_t frame_word_pieces(const moth_remote *t, const moth_rthread *th, frame_words *w,
                                moth_read_piece *out)
{
    const moth_py_layout *L = t->L;
    size_t n = 0;
    if (L->tstate.current_frame == MOTH_NO_FIELD)
        out[n++] = (moth_read_piece){th->tstate + L->tstate.cframe, &w->cframe, 8};
    if (th->frame_slot)
        out[n++] = (moth_read_piece){th->frame_slot, &w->frame, 8};
    out[n++] = (moth_read_piece){th->tstate + L->tstate.datastack_chunk, &w->chunk, 8};
    out[n++] = (moth_read_piece){th->tstate + L->tstate.datastack_top, &w->top, 8};
    return n;
}

/* Copies the thread's current data stack chunk, up to a little past the top known (frames
 * pushed since), twice in one read, between two readings of where the frames stand, so that
 * what changed while it was copied is seen. 0 when the copy holds the frames the thread had
 * when the read began (th->frame and th->chunk_top updated to that moment); 1 when it cannot
 * (another chunk, another C-level entry, frames beyond what was copied: th's fields refreshed
 * from what was read, try again); -1 when nothing was copied (frames are then read one by one).
 *
 * The thread may call and return while it is read: the stack is then walked from the frame
 * that was current when the read began, through both copies. Each frame must be the same in
 * both (walk), so each was what the copies show at one moment between them, and none may lie
 * above the top as read before or after (a frame returned from). Such a stack is one the
 * thread had, its innermost frame at the read's start, the frames below it as they stood a
 * few microseconds later. Retrying whenever the thread moved instead would not only cost
 * rounds: it would drop the samples of code that calls often (the caller between its calls)
 * more than those of long-running frames, and bias the shares. */
#define CHUNK_SLACK 1024
#define CHUNK_MIN_SIZE 16384 /* CPython's smallest chunk: mapped whole, page-aligned */

/* How many bytes of th's chunk to copy (from th->chunk to *end); 0 when it has none to copy. */
static size_t chunk_span(const moth_rthread *th, uint64_t *end)
{
    if (!th->chunk || th->chunk_top <= th->chunk || th->chunk_top - th->chunk > MAX_CHUNK_COPY)
        return 0;
    *end = th->chunk_top + CHUNK_SLACK;
    uint64_t mapped = th->chunk + CHUNK_MIN_SIZE;
    uint64_t top_page = (th->chunk_top + 4095) & ~(uint64_t)4095;
    if (mapped < top_page)
        mapped = top_page;
    if (*end > mapped)
        *end = mapped;
    return (size_t)(*end - th->chunk);
}

/* The pieces of one copy: where the frames stand, the chunk twice into copy (n bytes each),
 * where they stand again. At most COPY_PIECES. */
#define COPY_PIECES 10

static size_t copy_pieces(const moth_remote *t, const moth_rthread *th, uint8_t *copy, size_t n,
                          frame_words *before, frame_words *after, moth_read_piece *pieces)
{
    size_t k = frame_word_pieces(t, th, before, pieces);
    pieces[k++] = (moth_read_piece){th->chunk, copy, n};
    pieces[k++] = (moth_read_piece){th->chunk, copy + n, n};
    return k + frame_word_pieces(t, th, after, pieces + k);
}

/* Whether the copy read for a thread that stood as `was` holds the frames it had when the read
 * began: 0, with th->frame and th->chunk_top set to that moment and r reading from the copy; 1
 * when it moved beyond what the copy can show (th's fields refreshed from `after`). */
static int accept_copy(moth_remote *t, moth_stack_reader *r, moth_rthread *th,
                       const moth_rthread *was, uint64_t end, const uint8_t *copy,
                       const frame_words *before, const frame_words *after)
{
    const moth_py_layout *L = t->L;
    uint64_t cframe_known = was->frame_slot ? was->frame_slot - L->cframe.current_frame : 0;
    int cframe_moved = L->tstate.current_frame == MOTH_NO_FIELD &&
                       (before->cframe != cframe_known || after->cframe != cframe_known);
    if (cframe_moved || before->chunk != was->chunk || after->chunk != was->chunk ||
        before->top > end) {
        /* Moved on: start again from where it is now. */
        th->chunk = after->chunk;
        th->chunk_top = after->top;
        if (L->tstate.current_frame == MOTH_NO_FIELD)
            th->frame_slot = after->cframe ? after->cframe + L->cframe.current_frame : 0;
        else
            th->frame = after->frame;
        return 1;
    }
    th->frame_slot = was->frame_slot;
    th->frame = before->frame;
    th->chunk = was->chunk;
    th->chunk_top = before->top;
    r->copy = copy;
    r->chunk_lo = was->chunk;
    r->chunk_hi = end;
    r->live_hi = after->top < before->top ? after->top : before->top;
    return 0;
}

static int copy_chunk(moth_remote *t, moth_stack_reader *r, moth_rthread *th)
{
    r->chunk_lo = r->chunk_hi = r->live_hi = 0;
    uint64_t end = 0;
    size_t n = chunk_span(th, &end);
    if (!n)
        return -1;
    if (2 * n > r->chunk_cap) {
        uint8_t *bigger = realloc(r->chunk, 2 * n);
        if (!bigger)
            return -1;
        r->chunk = bigger;
        r->chunk_cap = 2 * n;
    }
    frame_words before = {0}, after = {0};
    moth_read_piece pieces[COPY_PIECES];
    size_t k = copy_pieces(t, th, r->chunk, n, &before, &after, pieces);
    if (moth_mem_readv(&t->mem, pieces, k) != k)
        return -1;
    moth_rthread was = *th;
    return accept_copy(t, r, th, &was, end, r->chunk, &before, &after);
}

/* A thread's copy planned for the round's one read, from where it stood the round before. */
struct moth_stack_plan {
    moth_rthread was;
    uint64_t end;
    size_t at, n;  /* its two copies at r->prefetch + at, n bytes each; n == 0: none (or used) */
    frame_words before, after;
};

/* More threads or bytes than this, and the round reads its stacks one call per thread. */
#define PREFETCH_MAX_THREADS 64
#define PREFETCH_MAX_BYTES (8u << 20)

int moth_remote_threads_prefetch(moth_remote *t, moth_stack_reader *r, moth_rthreads *l,
                                 moth_error *err)
{
    size_t n = l->count, total = 0, k = 0;
    r->plan_count = r->plan_next = 0;
    int read = 0;
    if (!n || n > PREFETCH_MAX_THREADS ||
        moth_grow((void **)&r->plans, sizeof *r->plans, &r->plans_cap, n, NULL) < 0 ||
        moth_grow((void **)&r->pieces, sizeof *r->pieces, &r->pieces_cap, n * COPY_PIECES,
                  NULL) < 0)
        return moth_remote_threads(t, l, err);
    for (size_t i = 0; i < n; i++) {
        struct moth_stack_plan *p = &r->plans[i];
        p->was = l->items[i];
        p->n = chunk_span(&p->was, &p->end);
        p->at = total;
        total += 2 * p->n;
    }
    if (total > PREFETCH_MAX_BYTES ||
        moth_grow((void **)&r->prefetch, 1, &r->prefetch_cap, total, NULL) < 0)
        return moth_remote_threads(t, l, err);
    for (size_t i = 0; i < n; i++) {
        struct moth_stack_plan *p = &r->plans[i];
        if (p->n)
            k += copy_pieces(t, &p->was, r->prefetch + p->at, p->n, &p->before, &p->after,
                             r->pieces + k);
    }
    int rc = moth_remote_threads_with(t, l, r->pieces, k, &read, err);
    if (rc == 0 && read) {
        r->plan_count = n;
        r->stats.prefetched++;
    }
    return rc;
}

/* The copy planned for th in this round's read, taken once; NULL when there is none. The
 * sampler reads the threads in the list's order, so the next plan is looked at first. */
static struct moth_stack_plan *take_plan(moth_stack_reader *r, const moth_rthread *th)
{
    for (size_t seen = 0; seen < r->plan_count; seen++) {
        size_t i = (r->plan_next + seen) % r->plan_count;
        struct moth_stack_plan *p = &r->plans[i];
        if (p->was.tstate != th->tstate)
            continue;
        r->plan_next = i + 1;
        return p->n ? p : NULL;
    }
    return NULL;
}

/* The fixed part of the frame at addr: from the chunk copy, or read into buf. NULL when it
 * cannot be read. *again is the same frame in the chunk's second copy, NULL when the frame
 * was read on its own. *dead is set for a frame in the copied chunk at or above the top: no
 * frame of the thread's, only what a returned one left there. */
static const uint8_t *frame_bytes(moth_remote *t, moth_stack_reader *r, uint64_t addr,
                                  uint8_t *buf, const uint8_t **again, int *dead)
{
    uint32_t size = t->L->frame.size;
    *again = NULL;
    *dead = 0;
    if (addr >= r->chunk_lo && addr < r->chunk_hi) {
        if (addr + size > r->live_hi) {
            *dead = 1;
            return NULL;
        }
        size_t at = (size_t)(addr - r->chunk_lo);
        *again = r->copy + (r->chunk_hi - r->chunk_lo) + at;
        return r->copy + at;
    }
    return moth_remote_read(t, addr, buf, size) == 0 ? buf : NULL;
}

/* Whether a frame read twice is the same frame in both copies: the same code, caller and
 * owner, and (except for the innermost frame, which runs) the same instruction. */
static int same_frame(const moth_py_layout *L, const uint8_t *a, const uint8_t *b, int innermost)
{
    return moth_u64_at(a, L->frame.code) == moth_u64_at(b, L->frame.code) &&
           moth_u64_at(a, L->frame.previous) == moth_u64_at(b, L->frame.previous) &&
           a[L->frame.owner] == b[L->frame.owner] &&
           (innermost || moth_u64_at(a, L->frame.instr) == moth_u64_at(b, L->frame.instr));
}

static int push(moth_rstack *s, moth_rframe f)
{
    if (moth_grow((void **)&s->frames, sizeof *s->frames, &s->cap, s->count + 1, NULL) < 0)
        return -1;
    s->frames[s->count++] = f;
    return 0;
}

/* One attempt: 0 when the walk was consistent, 1 when it should be tried again, -1 on a
 * failure that trying again will not mend (out of memory). */
static int walk(moth_remote *t, moth_stack_reader *r, moth_rthread *th,
                struct moth_stack_plan *plan, moth_rstack *out)
{
    const moth_py_layout *L = t->L;
    out->count = 0;
    out->truncated = 0;
    int copied;
    if (plan) {
        r->chunk_lo = r->chunk_hi = r->live_hi = 0;
        copied = accept_copy(t, r, th, &plan->was, plan->end, r->prefetch + plan->at,
                             &plan->before, &plan->after);
        plan->n = 0; /* used */
    } else {
        copied = copy_chunk(t, r, th);
    }
    if (copied > 0)
        return 1;
    /* Frame by frame: from the current frame as it is now (a round read in one call has
     * left it to the copy, which there is none of). */
    if (copied < 0 && th->frame_slot && moth_mem_u64(&t->mem, th->frame_slot, &th->frame) < 0)
        return 1;
    uint8_t buf[256];
    int entry_pending = 1; /* the innermost Python frame of each C-level entry */
    for (uint64_t addr = th->frame; addr;) {
        if (out->count >= MOTH_MAX_DEPTH) {
            out->truncated = 1;
            break;
        }
        const uint8_t *again;
        int dead;
        const uint8_t *f = frame_bytes(t, r, addr, buf, &again, &dead);
        if (!f) {
            r->stats.torn += dead;
            return 1;
        }
        if (again && !same_frame(L, f, again, addr == th->frame)) {
            r->stats.torn++;
            return 1; /* it changed between the two copies */
        }
        if (again)
            f = again; /* the later copy: the innermost frame's newest instruction */
        uint64_t code_addr = moth_u64_at(f, L->frame.code);
        uint64_t previous = moth_u64_at(f, L->frame.previous);
        uint8_t owner = f[L->frame.owner];
        if (previous == addr)
            return 1;
        if (owner == L->frame.owner_cstack) {
            /* 3.12+: the shim frame where C called into the interpreter. */
            entry_pending = 1;
            addr = previous;
            continue;
        }
        uint32_t code = moth_code_get(t, code_addr);
        if (code == MOTH_NO_FUNC) {
            /* 3.13 frames may run something other than a code object; elsewhere this is a
             * torn read. */
            if (L->version >= 0x030d && code_addr)
                goto next;
            return 1;
        }
        const moth_rcode *c = &t->codes.items[code];
        uint64_t start = code_addr + L->code.code_adaptive;
        int64_t unit = ((int64_t)(moth_u64_at(f, L->frame.instr) - start)) / 2;
        if (unit < -1 || unit >= (int64_t)c->units)
            return 1;
        moth_rframe rf = {addr, code, moth_code_line(c, (long)unit), owner, 0};
        if (entry_pending) {
            rf.entry = 1;
            entry_pending = 0;
        }
        if (L->frame.is_entry != MOTH_NO_FIELD && f[L->frame.is_entry])
            entry_pending = 1; /* 3.11: this frame began an entry; its caller is in another */
        if (push(out, rf) < 0)
            return -1;
    next:
        addr = previous;
    }
    if (copied == 0)
        return 0; /* where the frames stood was read around the copies, in the same read */
    /* Read frame by frame: did the thread move meanwhile? */
    uint64_t now = 0;
    if (th->frame_slot && moth_mem_u64(&t->mem, th->frame_slot, &now) < 0)
        return 1;
    return now == th->frame ? 0 : 1;
}

int moth_remote_stack(moth_remote *t, moth_stack_reader *r, moth_rthread *th, moth_rstack *out)
{
    r->stats.stacks++;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        if (attempt)
            r->stats.retries++;
        if (attempt > 1) { /* the fields a moved thread left may be stale too */
            uint64_t next;
            if (moth_remote_thread_state(t, th, &next) < 0)
                break;
        }
        int rc = walk(t, r, th, attempt ? NULL : take_plan(r, th), out);
        if (rc == 0)
            return 0;
        if (rc < 0)
            break;
    }
    out->count = 0;
    r->stats.dropped++;
    return -1;
}
