/* threads.c: the target's thread list and the GIL; see threads.h. */
#include "threads.h"

#include <stdlib.h>

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

uint64_t moth_remote_gil_holder(moth_remote *t)
{
    const moth_py_layout *L = t->L;
    uint64_t gil, holder;
    uint32_t locked;
    if (L->runtime.gil_locked != MOTH_NO_FIELD) {
        if (moth_remote_read(t, t->runtime + L->runtime.gil_locked, &locked, 4) < 0 ||
            moth_mem_u64(&t->mem, t->runtime + L->runtime.gil_last_holder, &holder) < 0)
            return 0;
    } else if (moth_mem_u64(&t->mem, t->interp + L->interp.gil, &gil) < 0 || !gil ||
               moth_remote_read(t, gil + L->gil.locked, &locked, 4) < 0 ||
               moth_mem_u64(&t->mem, gil + L->gil.last_holder, &holder) < 0) {
        return 0;
    }
    return locked ? holder : 0;
}

int moth_remote_thread_state(moth_remote *t, moth_rthread *th, uint64_t *next)
{
    const moth_py_layout *L = t->L;
    uint8_t buf[512];
    uint32_t size = L->tstate.datastack_top + 8;
    if (size > sizeof buf || moth_remote_read(t, th->tstate, buf, size) < 0)
        return -1;
    if (moth_u64_at(buf, L->tstate.interp) != t->interp)
        return -1; /* not a thread state of this interpreter (freed, or not one at all) */
    *next = moth_u64_at(buf, L->tstate.next);
    th->thread_id = moth_u64_at(buf, L->tstate.thread_id);
    th->native_id = moth_u64_at(buf, L->tstate.native_thread_id);
    th->chunk = moth_u64_at(buf, L->tstate.datastack_chunk);
    th->chunk_top = moth_u64_at(buf, L->tstate.datastack_top);
    if (L->tstate.current_frame != MOTH_NO_FIELD) {
        th->frame_slot = th->tstate + L->tstate.current_frame;
        th->frame = moth_u64_at(buf, L->tstate.current_frame);
        return 0;
    }
    /* 3.11/3.12: the current frame hangs off the _PyCFrame on the thread's C stack. */
    uint64_t cframe = moth_u64_at(buf, L->tstate.cframe);
    th->frame_slot = cframe + L->cframe.current_frame;
    th->frame = 0;
    if (cframe && moth_mem_u64(&t->mem, th->frame_slot, &th->frame) < 0)
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

/* The list changes under a running target's feet as threads start and end; a walk that met a
 * freed link starts again from the head. */
#define THREAD_WALK_TRIES 50

int moth_remote_threads(moth_remote *t, moth_rthreads *l, moth_error *err)
{
    for (int attempt = 0; attempt < THREAD_WALK_TRIES; attempt++) {
        int r = walk_threads(t, l, err);
        if (r <= 0)
            return r;
    }
    l->count = 0;
    return moth_fail(err, "the thread list kept changing while it was read");
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
