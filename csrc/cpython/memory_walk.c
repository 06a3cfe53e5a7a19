/*
 * memory_walk.c: memory profiling without the frame hook.
 *
 * The frame-evaluation hook keeps each thread's current calling-context node, and costs on
 * every Python call (1.3-1.6x on code made of tiny calls, whatever it allocates). So a memory
 * session installs no hook: an allocation reads its call path from the thread's own frames,
 * innermost first, and follows it down the thread's tree from the root.
 *
 * The path is cached per thread: each frame's key (its code and owner) bottom first, with the
 * node reached after it. The next allocation reads the keys again (a few loads a frame: the
 * frames lie together on the thread's frame stack) and follows the tree only below the part
 * that matches, usually nothing or a frame or two. Frames themselves cannot be the key: a
 * frame that returned leaves its address to the next call at that depth, from any caller. The
 * codes along the path decide its node, whichever frames run them.
 *
 * A thread that holds the GIL walks and adds nodes: its frames are its own and stay put while
 * it is inside the allocator, and it may take references. A thread that let the GIL go (a C
 * extension working without it) only reads: its frames still stay put, its tree only it
 * changes, and the cache hits the path it had when it last held the GIL; a node it has never
 * made stops the path there (the line is then unknown). It reads under the recorder's lock,
 * which the end of a session and a clear take before they free anything. Inside an allocator
 * no Python code may run (the caller may be in the middle of changing an object): a new node
 * keeps a reference to its code object and gets its label later (moth_memwalk_label, at the
 * end of a session and before a snapshot).
 */
#include "profiler.h"

#include "memtrack.h"

#include <stdlib.h>
#include <string.h>

#define NO_THREAD UINT32_MAX

int moth_memprof_walks(const moth_profiler *p)
{
    return p->memory && p->clock == MOTH_CLOCK_NONE && p->mode == MOTH_MODE_FRAMES &&
           p->lines == MOTH_LINES_OFF;
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

/* Makes room for n levels in the thread's cached path; 0, or -1 when out of memory. */
static int path_room(moth_tstate *st, size_t n)
{
    if (n <= st->path_cap)
        return 0;
    size_t cap = st->path_cap ? st->path_cap : 32;
    while (cap < n)
        cap *= 2;
    void **frames = realloc(st->path_frame, cap * sizeof *frames);
    if (!frames)
        return -1;
    st->path_frame = frames;
    uint64_t *keys = realloc(st->path_key, cap * sizeof *keys);
    if (!keys)
        return -1;
    st->path_key = keys;
    uint32_t *nodes = realloc(st->path_node, cap * sizeof *nodes);
    if (!nodes)
        return -1;
    st->path_node = nodes;
    st->path_cap = (uint32_t)cap;
    return 0;
}

/* Whether the thread's frames are still exactly the cached path: the same frames, linked the
 * same way, with the same keys. A cached frame is read only once the frame above it is found
 * to link to it (until then it may be gone); the next address to read comes from the cache,
 * not from the load before, so the loads need not wait on each other as a walk's do. */
static inline int path_holds(const moth_tstate *st, moth_iframe *top)
{
    size_t n = st->path_len;
    if (n == 0 || st->path_gen != moth_the_interp.memory_generation ||
        (void *)top != st->path_frame[n - 1])
        return 0;
    for (size_t i = n - 1; i > 0; i--) {
        moth_iframe *f = st->path_frame[i]; /* live: the top, or linked to from above */
        if ((void *)moth_mem_iframe_caller(f) != st->path_frame[i - 1] ||
            moth_mem_iframe_key(f) != st->path_key[i])
            return 0;
    }
    moth_iframe *bottom = st->path_frame[0];
    moth_iframe *end = moth_mem_iframe_caller(bottom);
    const moth_profiler *p = st->prof;
    return moth_mem_iframe_key(bottom) == st->path_key[0] && (void *)end == st->path_end &&
           (!end || (end == p->walk_base && (void *)moth_iframe_code(end) == p->walk_base_code));
}

#define NEAR_FRAMES 128

/* The node and code unit of the thread running ts, from its frames (see the top). With add,
 * nodes are made as needed; without, the path stops at the first node not made yet. */
static void walk(moth_tstate *st, PyThreadState *ts, int add, uint32_t *node, int32_t *unit)
{
    moth_iframe *top = moth_mem_current_iframe(ts);
    if (MOTH_LIKELY(path_holds(st, top))) {
        *node = st->path_node[st->path_len - 1];
        *unit = st->path_top ? moth_mem_iframe_unit(st->path_frame[st->path_top - 1]) : -1;
        return;
    }
    moth_iframe *near[NEAR_FRAMES], **frames = near;
    uint64_t near_keys[NEAR_FRAMES], *keys = near_keys;
    size_t depth = 0, cap = NEAR_FRAMES;
    moth_profiler *p = st->prof;
    moth_iframe *end = NULL;
    /* the frames and their keys, innermost first (moth's own malloc is not hooked) */
    for (moth_iframe *f = top; f; f = moth_mem_iframe_caller(f)) {
        if (f == p->walk_base && (void *)moth_iframe_code(f) == p->walk_base_code) {
            end = f; /* the session began in this frame: what called it is not profiled */
            break;
        }
        if (MOTH_UNLIKELY(depth == cap)) {
            moth_iframe **more = malloc(2 * cap * sizeof *more);
            uint64_t *more_keys = more ? malloc(2 * cap * sizeof *more_keys) : NULL;
            if (!more_keys) {
                free(more);
                end = f; /* counted from the innermost frames it has */
                break;
            }
            memcpy(more, frames, depth * sizeof *more);
            memcpy(more_keys, keys, depth * sizeof *more_keys);
            if (frames != near) {
                free(frames);
                free(keys);
            }
            frames = more;
            keys = more_keys;
            cap *= 2;
        }
        frames[depth] = f;
        keys[depth++] = moth_mem_iframe_key(f);
    }
    /* the part of the cached path that still holds, from the bottom */
    if (st->path_gen != moth_the_interp.memory_generation) {
        st->path_gen = moth_the_interp.memory_generation;
        st->path_len = 0;
    }
    size_t same = 0, known = st->path_len < depth ? st->path_len : depth;
    while (same < known && st->path_key[same] == keys[depth - 1 - same])
        same++;
    uint32_t at = same ? st->path_node[same - 1] : MOTH_CCT_ROOT;
    int room = path_room(st, depth) == 0;
    for (size_t i = 0; room && i < same; i++)
        st->path_frame[i] = frames[depth - 1 - i];
    size_t level = same;
    moth_iframe *bottom = NULL;
    for (; level < depth; level++) {
        moth_iframe *f = frames[depth - 1 - level];
        if (moth_mem_iframe_counts(f)) {
            PyCodeObject *code = moth_iframe_code(f);
            uint32_t child;
            if (add) {
                size_t before = st->tree.count;
                child = moth_cct_child(&st->tree, at, (uint64_t)(uintptr_t)code);
                if (child == MOTH_NODE_NONE) {
                    st->dropped++;
                    break; /* the tree is full: count it where the path is known */
                }
                if (st->tree.count != before && remember(st, child, (PyObject *)code) < 0)
                    break; /* unlabelled, it would lose its code: leave it unused */
            } else if ((child = moth_cct_find_child(&st->tree, at, (uint64_t)(uintptr_t)code)) ==
                       MOTH_NODE_NONE) {
                break;
            }
            if (at == MOTH_CCT_ROOT)
                bottom = f;
            at = child;
        }
        if (room) {
            st->path_frame[level] = f;
            st->path_key[level] = keys[depth - 1 - level];
            st->path_node[level] = at;
        }
    }
    *node = at;
    *unit = -1;
    size_t top_counted = 0;
    for (size_t i = 0; i < depth; i++) {
        if (moth_mem_iframe_counts(frames[i])) {
            top_counted = depth - i;
            break;
        }
    }
    if (level == depth && top_counted)
        /* the innermost frame that counts runs the instruction that allocates */
        *unit = moth_mem_iframe_unit(frames[depth - top_counted]);
    /* the whole path is cached, or none of it (one cut short would not hold next time) */
    st->path_len = room && level == depth ? (uint32_t)depth : 0;
    st->path_end = end;
    st->path_top = (uint32_t)top_counted;
    if (add && bottom && !st->name && !st->thread_obj)
        keep_thread_object(st, bottom);
    if (frames != near) {
        free(frames);
        free(keys);
    }
}

int moth_memwalk_site(moth_tstate **stp, uint32_t *thread, uint32_t *node, int32_t *unit)
{
    *stp = NULL;
    *thread = NO_THREAD;
    *node = MOTH_CCT_ROOT;
    *unit = -1;
    uint64_t session = __atomic_load_n(&moth_the_interp.session, __ATOMIC_RELAXED);
    if (!session)
        return 0;
    PyThreadState *ts = moth_mem_gil_tstate();
    moth_tstate *st = moth_tls_session == session ? moth_tls_state : NULL;
    if (ts) {
        if (!st && !(st = moth_tstate_quietly(session)))
            return 0;
        *stp = st;
        *thread = st->index;
        if (st->busy)
            return -1; /* moth's own code: not recorded */
        walk(st, ts, 1, node, unit);
        return 0;
    }
    /* without the GIL: reads only, under the lock (see the top) */
    if (!st)
        return 0;
    *stp = st;
    *thread = st->index;
    if (st->busy)
        return -1;
    ts = PyGILState_GetThisThreadState();
    if (!ts)
        return 0;
    moth_spin_lock(&moth_the_interp.memory_lock);
    if (moth_the_interp.memory && moth_the_interp.session == session)
        walk(st, ts, 0, node, unit);
    moth_spin_unlock(&moth_the_interp.memory_lock);
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
    free(st->path_frame);
    free(st->path_key);
    free(st->path_node);
    st->path_frame = NULL;
    st->path_key = NULL;
    st->path_node = NULL;
    st->path_len = st->path_cap = 0;
    Py_CLEAR(st->thread_obj);
    for (size_t k = 0; k < st->nunlabelled; k++)
        Py_DECREF(st->unlabelled[k].code);
    free(st->unlabelled);
    st->unlabelled = NULL;
    st->nunlabelled = st->unlabelled_cap = 0;
}
