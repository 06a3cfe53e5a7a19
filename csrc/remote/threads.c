/* threads.c: the target's thread list and the GIL; see threads.h. */
#include "threads.h"

#include <stdlib.h>
#include <string.h>

#include "objects.h"
#include "remote.h"
#include "rstring.h"

#define MAX_THREADS 100000

void moth_rthreads_free(moth_rthreads *l)
{
    free(l->items);
    l->items = NULL;
    l->count = l->cap = 0;
}

/* Where the GIL's `locked` and `last_holder` words are: in _PyRuntime (3.11), or in the
 * struct interp->ceval.gil points to (3.12+, set once when the interpreter starts: read once,
 * not a system call every sampler round). -1 when unknown. */
static int gil_words(moth_remote *t, uint64_t *locked_at, uint64_t *holder_at)
{
    const moth_py_layout *L = t->L;
    if (L->runtime.gil_locked != MOTH_NO_FIELD) {
        *locked_at = t->runtime + L->runtime.gil_locked;
        *holder_at = t->runtime + L->runtime.gil_last_holder;
        return 0;
    }
    if (!t->gil && (moth_mem_u64(&t->mem, t->interp + L->interp.gil, &t->gil) < 0 || !t->gil)) {
        t->gil = 0;
        return -1;
    }
    *locked_at = t->gil + L->gil.locked;
    *holder_at = t->gil + L->gil.last_holder;
    return 0;
}

uint64_t moth_remote_gil_holder(moth_remote *t)
{
    uint64_t locked_at, holder_at, holder;
    uint32_t locked;
    if (gil_words(t, &locked_at, &holder_at) < 0 ||
        moth_remote_read(t, locked_at, &locked, 4) < 0 ||
        moth_mem_u64(&t->mem, holder_at, &holder) < 0)
        return 0;
    return locked ? holder : 0;
}

static uint32_t tstate_bytes(const moth_py_layout *L)
{
    return L->tstate.datastack_top + 8;
}

/* Fills th from the thread state's bytes; *next is the next thread state in the list. -1 when
 * they are not a thread state of this interpreter (freed, or not one at all). On 3.11/3.12 the
 * current frame hangs off the _PyCFrame on the thread's C stack: th->frame_slot says where, and
 * th->frame is left for the caller to read. */
static int parse_thread_state(moth_remote *t, moth_rthread *th, const uint8_t *buf,
                              uint64_t *next)
{
    const moth_py_layout *L = t->L;
    if (moth_u64_at(buf, L->tstate.interp) != t->interp)
        return -1;
    *next = moth_u64_at(buf, L->tstate.next);
    th->thread_id = moth_u64_at(buf, L->tstate.thread_id);
    th->native_id = moth_u64_at(buf, L->tstate.native_thread_id);
    th->chunk = moth_u64_at(buf, L->tstate.datastack_chunk);
    th->chunk_top = moth_u64_at(buf, L->tstate.datastack_top);
    th->frame = 0;
    if (L->tstate.current_frame != MOTH_NO_FIELD) {
        th->frame_slot = th->tstate + L->tstate.current_frame;
        th->frame = moth_u64_at(buf, L->tstate.current_frame);
    } else {
        uint64_t cframe = moth_u64_at(buf, L->tstate.cframe);
        th->frame_slot = cframe ? cframe + L->cframe.current_frame : 0;
    }
    return 0;
}

/* Whether th's current frame is still to be read through its _PyCFrame. */
static int frame_behind_cframe(const moth_remote *t, const moth_rthread *th)
{
    return t->L->tstate.current_frame == MOTH_NO_FIELD && th->frame_slot;
}

int moth_remote_thread_state(moth_remote *t, moth_rthread *th, uint64_t *next)
{
    uint8_t buf[MOTH_TSTATE_READ_MAX];
    uint32_t size = tstate_bytes(t->L);
    if (size > sizeof buf || moth_remote_read(t, th->tstate, buf, size) < 0 ||
        parse_thread_state(t, th, buf, next) < 0)
        return -1;
    if (frame_behind_cframe(t, th) && moth_mem_u64(&t->mem, th->frame_slot, &th->frame) < 0)
        return -1;
    return 0;
}

/* One walk of the list from its head: 0, or 1 when a link led to memory that is no thread state
 * of this interpreter any more (a thread ended and its state was freed while the walk ran), or
 * -1 on an error err explains. */
static int walk_threads(moth_remote *t, moth_rthreads *l, moth_error *err)
{
    l->count = 0;
    uint64_t ts;
    if (moth_mem_u64(&t->mem, t->interp + t->L->interp.threads_head, &ts) < 0)
        return moth_fail(err, "cannot read the interpreter's thread list");
    uint64_t holder = moth_remote_gil_holder(t);
    while (ts) {
        if (l->count >= MAX_THREADS)
            return 1; /* a cycle: links read while they changed */
        if (moth_grow((void **)&l->items, sizeof *l->items, &l->cap, l->count + 1, err) < 0)
            return -1;
        moth_rthread *th = &l->items[l->count];
        th->tstate = ts;
        if (moth_remote_thread_state(t, th, &ts) < 0)
            return 1;
        th->holds_gil = holder && holder == th->tstate;
        l->count++;
    }
    return 0;
}

/* Reads the list l held last time again in at most two system calls: the head, the GIL's words
 * and every known thread state at once (and the caller's `more` pieces, in the same call), then
 * (3.11/3.12, unless `more` reads where the frames stand) every thread's current frame. 0 when
 * the list is the same chain of threads as before (their fields refreshed); 1 when it changed,
 * or a batch could not be built or read: then the list is walked link by link. */
#define BATCH_MAX 256

static int reread_known(moth_remote *t, moth_rthreads *l, moth_read_piece *more, size_t n_more)
{
    size_t n = l->count;
    uint64_t locked_at, holder_at;
    if (!n || n > BATCH_MAX || gil_words(t, &locked_at, &holder_at) < 0)
        return 1;
    uint32_t size = tstate_bytes(t->L);
    uint8_t *bytes = malloc((size_t)size * n);
    moth_read_piece *pieces = malloc(sizeof *pieces * (n + 3 + n_more));
    uint64_t head = 0, holder = 0;
    uint32_t locked = 0;
    int rc = 1;
    if (!bytes || !pieces)
        goto out;
    pieces[0] = (moth_read_piece){t->interp + t->L->interp.threads_head, &head, 8};
    pieces[1] = (moth_read_piece){locked_at, &locked, 4};
    pieces[2] = (moth_read_piece){holder_at, &holder, 8};
    for (size_t i = 0; i < n; i++)
        pieces[3 + i] = (moth_read_piece){l->items[i].tstate, bytes + (size_t)size * i, size};
    if (n_more)
        memcpy(pieces + n + 3, more, sizeof *more * n_more);
    if (moth_mem_readv(&t->mem, pieces, n + 3 + n_more) != n + 3 + n_more ||
        head != l->items[0].tstate)
        goto out;
    size_t behind = 0;
    for (size_t i = 0; i < n; i++) {
        moth_rthread *th = &l->items[i];
        uint64_t next;
        if (parse_thread_state(t, th, bytes + (size_t)size * i, &next) < 0 ||
            next != (i + 1 < n ? l->items[i + 1].tstate : 0))
            goto out;
        th->holds_gil = locked && holder == th->tstate;
        if (frame_behind_cframe(t, th) && !n_more)
            pieces[behind++] = (moth_read_piece){th->frame_slot, &th->frame, 8};
    }
    if (behind && moth_mem_readv(&t->mem, pieces, behind) != behind)
        goto out;
    rc = 0;
out:
    free(bytes);
    free(pieces);
    return rc;
}

/* The list changes under a running target's feet as threads start and end; a walk that met a
 * freed link starts again from the head. */
#define THREAD_WALK_TRIES 50

int moth_remote_threads_with(moth_remote *t, moth_rthreads *l, moth_read_piece *more,
                             size_t n_more, int *more_read, moth_error *err)
{
    *more_read = 0;
    if (reread_known(t, l, more, n_more) == 0) {
        *more_read = n_more > 0;
        return 0;
    }
    for (int attempt = 0; attempt < THREAD_WALK_TRIES; attempt++) {
        int r = walk_threads(t, l, err);
        if (r <= 0)
            return r;
    }
    l->count = 0;
    return moth_fail(err, "the thread list kept changing while it was read");
}

int moth_remote_threads(moth_remote *t, moth_rthreads *l, moth_error *err)
{
    int unused;
    return moth_remote_threads_with(t, l, NULL, 0, &unused, err);
}

typedef struct names_walk {
    moth_remote *t;
    uint64_t *idents;
    char **names;
    size_t count, max;
} names_walk;

static int name_one(void *ctx, uint64_t key, uint64_t thread)
{
    names_walk *w = ctx;
    int64_t ident;
    if (w->count >= w->max)
        return 1;
    if (moth_obj_int64(w->t, key, &ident) < 0)
        return 0;
    char *name = moth_remote_str(w->t, moth_obj_attr(w->t, thread, "_name"), 200, NULL);
    if (!name)
        return 0;
    w->idents[w->count] = (uint64_t)ident;
    w->names[w->count++] = name;
    return 0;
}

size_t moth_remote_thread_names(moth_remote *t, uint64_t *idents, char **names, size_t max)
{
    uint64_t active = moth_dict_get_str(t, moth_module_dict(t, moth_remote_module(t, "threading")),
                                        "_active");
    names_walk w = {t, idents, names, 0, max};
    if (active)
        moth_dict_items(t, active, name_one, &w);
    return w.count;
}
