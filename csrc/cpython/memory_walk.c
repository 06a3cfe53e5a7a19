/*
 * memory_walk.c: sampled memory profiling without the frame hook.
 *
 * In sampled mode most allocations cost one subtraction (memory_hooks.c); what remained was the
 * frame-evaluation hook, which keeps each thread's current calling-context node for the few
 * allocations that are sampled and costs on every Python call (1.3-1.6x on code made of tiny
 * calls, whatever it allocates). So a sampled session installs no hook: a sampled allocation
 * reads its call path from the thread's own frames, innermost first, and follows it down the
 * thread's tree from the root. That costs the depth of the stack, once per sampled allocation
 * (one per BYTES allocated on average).
 *
 * Only a thread that holds the GIL walks: its frames are its own and stay put while it is inside
 * the allocator, and it may take references. An allocation made without the GIL (a C extension
 * working in a thread that released it) counts at the root of the threads outside Python code.
 * Inside an allocator no Python code may run (the caller may be in the middle of changing an
 * object): a new node keeps a reference to its code object and gets its label later
 * (moth_memwalk_label, at the end of a session and before a snapshot).
 */
#include "profiler.h"

#include <stdlib.h>
#include <string.h>

#define NO_THREAD UINT32_MAX

int moth_memprof_walks(const moth_profiler *p)
{
    return p->memory && p->memory_sample && p->clock == MOTH_CLOCK_NONE &&
           p->mode == MOTH_MODE_FRAMES && p->lines == MOTH_LINES_OFF;
}

/* Remembers that `node` needs the label of `code`. 0, or -1 when out of memory. */
static int remember(moth_tstate *st, uint32_t node, PyObject *code)
{
    if (moth_grow((void **)&st->unlabelled, sizeof *st->unlabelled, &st->unlabelled_cap,
                  st->nunlabelled + 1, NULL) < 0)
        return -1;
    Py_INCREF(code);
    st->unlabelled[st->nunlabelled++] = (moth_unlabelled){node, code};
    return 0;
}

/* A thread that threading started runs Thread._bootstrap(self) at the bottom of its stack:
 * that Thread names it (read after the allocation; the thread may be gone by then). */
static void keep_thread_object(moth_tstate *st, moth_iframe *bottom)
{
    PyCodeObject *code = moth_iframe_code(bottom);
    if (st->thread_obj || st->name || code->co_argcount < 1 || !bottom->localsplus[0] ||
        PyUnicode_CompareWithASCIIString(code->co_name, "_bootstrap") != 0)
        return;
    st->thread_obj = Py_NewRef(bottom->localsplus[0]);
}

int moth_memwalk_site(uint32_t *thread, uint32_t *node, int32_t *unit)
{
    *thread = NO_THREAD;
    *node = MOTH_CCT_ROOT;
    *unit = -1;
    uint64_t session = __atomic_load_n(&moth_the_interp.session, __ATOMIC_RELAXED);
    if (!session || !PyGILState_Check())
        return 0;
    moth_tstate *st = moth_tls_session == session ? moth_tls_state : moth_tstate_quietly(session);
    if (!st)
        return 0;
    *thread = st->index;
    if (st->busy)
        return -1; /* moth's own code: not recorded */
    /* the frames, innermost first (moth's own malloc is not hooked) */
    moth_iframe *near[128], **frames = near;
    size_t depth = 0, cap = sizeof near / sizeof near[0];
    moth_profiler *p = st->prof;
    moth_iframe *bottom = NULL;
    for (moth_iframe *f = moth_mem_current_iframe(st->pyts); f; f = moth_mem_iframe_caller(f)) {
        if (f == p->walk_base && (void *)moth_iframe_code(f) == p->walk_base_code)
            break; /* the session began in this frame: what called it is not profiled */
        if (!moth_mem_iframe_counts(f))
            continue;
        if (depth == cap) {
            moth_iframe **more = malloc(2 * cap * sizeof *more);
            if (!more)
                break; /* counted from the innermost frames it has */
            memcpy(more, frames, depth * sizeof *more);
            if (frames != near)
                free(frames);
            frames = more;
            cap *= 2;
        }
        frames[depth++] = f;
        bottom = f;
    }
    if (bottom && !st->name && !st->thread_obj)
        keep_thread_object(st, bottom);
    uint32_t at = MOTH_CCT_ROOT;
    while (depth--) {
        PyCodeObject *code = moth_iframe_code(frames[depth]);
        size_t before = st->tree.count;
        uint32_t child = moth_cct_child(&st->tree, at, (uint64_t)(uintptr_t)code);
        if (child == MOTH_NODE_NONE) {
            st->dropped++;
            break; /* the tree is full: count it where the path is known */
        }
        if (st->tree.count != before && remember(st, child, (PyObject *)code) < 0)
            break; /* unlabelled, it would lose its code: leave it unused */
        at = child;
        if (depth == 0)
            *unit = moth_mem_iframe_unit(frames[0]);
    }
    if (frames != near)
        free(frames);
    *node = at;
    return 0;
}

void moth_memwalk_label(moth_profiler *p)
{
    /* the labels' own allocations are moth's */
    moth_tstate *self = p->session && moth_tls_session == p->session ? moth_tls_state : NULL;
    if (self)
        self->busy++;
    /* A label runs Python code, which may let another thread allocate and add to its list:
     * each list is taken out before it is read, and the threads are looked at until none has
     * any left. */
    for (int again = 1; again;) {
        again = 0;
        for (size_t i = 0; i < p->nthreads; i++) {
            moth_tstate *st = p->threads[i];
            if (st->thread_obj) {
                PyObject *thread = st->thread_obj, *name;
                st->thread_obj = NULL;
                if (!st->name && (name = PyObject_GetAttrString(thread, "_name")) != NULL) {
                    const char *utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
                    st->name = utf8 ? strdup(utf8) : NULL;
                    Py_DECREF(name);
                }
                PyErr_Clear();
                Py_DECREF(thread);
            }
            moth_unlabelled *list = st->unlabelled;
            size_t n = st->nunlabelled;
            if (!n)
                continue;
            again = 1;
            st->unlabelled = NULL;
            st->nunlabelled = st->unlabelled_cap = 0;
            for (size_t k = 0; k < n; k++) {
                if (list[k].node < st->tree.count)
                    moth_label_node(st, list[k].node, st->tree.nodes[list[k].node].key,
                                    list[k].code);
                Py_DECREF(list[k].code);
            }
            free(list);
        }
    }
    if (self)
        self->busy--;
}

void moth_memwalk_forget(moth_tstate *st)
{
    Py_CLEAR(st->thread_obj);
    for (size_t k = 0; k < st->nunlabelled; k++)
        Py_DECREF(st->unlabelled[k].code);
    free(st->unlabelled);
    st->unlabelled = NULL;
    st->nunlabelled = st->unlabelled_cap = 0;
}
