/* asyncio_tasks.c: the target's asyncio tasks and futures; see asyncio_tasks.h. */
#include "asyncio_tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hashmap.h"
#include "objects.h"
#include "remote.h"
#include "rstring.h"
#include "values.h"

#define MAX_TYPE_DEPTH 64
#define MAX_NAME_CHARS 200

/* The registries' names in asyncio.tasks, in every supported version. */
static const char *const REGISTRIES[] = {"_all_tasks", "_scheduled_tasks", "_eager_tasks"};

/* Whether type is base or derives from it (tp_base chain, bounded). */
static int derives_from(moth_remote *t, uint64_t type, uint64_t base)
{
    for (int i = 0; type && base && i < MAX_TYPE_DEPTH; i++) {
        if (type == base)
            return 1;
        if (moth_mem_u64(&t->mem, type + t->L->type.base, &type) < 0)
            return 0;
    }
    return 0;
}

void moth_asyncio_close(moth_asyncio *a)
{
    for (size_t i = 0; i < a->ntypes; i++)
        free(a->type_names[i]);
    free(a->type_names);
    moth_map_free(&a->type_index);
    moth_map_free(&a->type_kinds);
    a->type_names = NULL;
    a->ntypes = a->types_cap = 0;
}

const char *moth_asyncio_type_name(moth_remote *t, moth_asyncio *a, uint64_t obj)
{
    return moth_asyncio_name_of_type(t, a, moth_obj_type(t, obj));
}

const char *moth_asyncio_name_of_type(moth_remote *t, moth_asyncio *a, uint64_t type)
{
    uint32_t i = moth_map_get(&a->type_index, type, 0);
    if (i != MOTH_MAP_ABSENT)
        return a->type_names[i];
    char buf[200];
    if (moth_type_name(t, type, buf, sizeof buf) < 0)
        strcpy(buf, "?");
    char *name = moth_strdup(buf, NULL);
    if (!name || moth_grow((void **)&a->type_names, sizeof *a->type_names, &a->types_cap,
                           a->ntypes + 1, NULL) < 0 ||
        moth_map_put(&a->type_index, type, 0, (uint32_t)a->ntypes, NULL) < 0) {
        free(name);
        return NULL;
    }
    a->type_names[a->ntypes++] = name;
    return name;
}

/* Whether obj's type is named `name` (false when out of memory too). */
static int type_named(moth_remote *t, moth_asyncio *a, uint64_t obj, const char *name)
{
    const char *got = moth_asyncio_type_name(t, a, obj);
    return got && strcmp(got, name) == 0;
}

/* Takes the C types from _asyncio when their sizes are the ones the layout was written for. */
static void find_c_types(moth_remote *t, moth_asyncio *a)
{
    const moth_py_layout *L = t->L;
    uint64_t dict = moth_module_dict(t, moth_remote_module(t, "_asyncio"));
    if (!dict)
        return; /* no accelerator: every task is a pure-Python one */
    a->c_task_type = moth_dict_get_str(t, dict, "Task");
    a->c_future_type = moth_dict_get_str(t, dict, "Future");
    uint64_t task_size = 0, future_size = 0;
    if (!a->c_task_type || !a->c_future_type ||
        moth_mem_u64(&t->mem, a->c_task_type + L->type.basicsize, &task_size) < 0 ||
        moth_mem_u64(&t->mem, a->c_future_type + L->type.basicsize, &future_size) < 0 ||
        task_size != L->asyncio.task_size || future_size != L->asyncio.future_size) {
        a->c_unreadable = 1;
        snprintf(a->note, sizeof a->note,
                 "this Python's _asyncio.Task and Future are not laid out as CPython %s's "
                 "(%llu and %llu bytes, not %u and %u): its C tasks are left out",
                 L->name, (unsigned long long)task_size, (unsigned long long)future_size,
                 L->asyncio.task_size, L->asyncio.future_size);
    }
}

int moth_asyncio_open(moth_remote *t, moth_asyncio *a)
{
    memset(a, 0, sizeof *a);
    uint64_t dict = moth_module_dict(t, moth_remote_module(t, "asyncio.tasks"));
    if (!dict) {
        snprintf(a->note, sizeof a->note, "asyncio is not imported");
        return -1;
    }
    for (size_t i = 0; i < sizeof REGISTRIES / sizeof REGISTRIES[0]; i++) {
        uint64_t r = moth_dict_get_str(t, dict, REGISTRIES[i]);
        if (r)
            a->registries[a->nregistries++] = r;
    }
    if (!a->nregistries) {
        snprintf(a->note, sizeof a->note, "asyncio.tasks holds none of the task registries "
                 "moth knows (_all_tasks, _scheduled_tasks, _eager_tasks)");
        return -1;
    }
    find_c_types(t, a);
    return 0;
}

typedef struct task_collect {
    moth_remote *t;
    uint64_t *items;
    size_t count, cap;
    moth_map seen;
    int weak;        /* the set holds weak references to the tasks */
    int failed;      /* out of memory */
} task_collect;

static int collect_one(void *ctx, uint64_t key, uint64_t unused)
{
    (void)unused;
    task_collect *c = ctx;
    moth_remote *t = c->t;
    uint64_t task = key;
    if (c->weak) {
        if (!derives_from(t, moth_obj_type(t, key), t->known.weakref_type) ||
            moth_mem_u64(&t->mem, key + t->L->weakref_object, &task) < 0)
            return 0;
    }
    if (!task || task == t->known.none || moth_map_get(&c->seen, task, 0) != MOTH_MAP_ABSENT)
        return 0;
    if (c->count >= MOTH_ASYNCIO_MAX_TASKS)
        return 1;
    if (moth_grow((void **)&c->items, sizeof *c->items, &c->cap, c->count + 1, NULL) < 0 ||
        moth_map_put(&c->seen, task, 0, (uint32_t)c->count, NULL) < 0) {
        c->failed = 1;
        return 1;
    }
    c->items[c->count++] = task;
    return 0;
}

int moth_asyncio_task_list(moth_remote *t, moth_asyncio *a, uint64_t **out, size_t *n)
{
    task_collect c = {t, NULL, 0, 0, MOTH_MAP_INIT, 0, 0};
    for (size_t i = 0; i < a->nregistries && !c.failed; i++) {
        uint64_t r = a->registries[i], type = moth_obj_type(t, r);
        c.weak = type != t->known.set_type;
        /* A WeakSet's weak references are in its `data` set. */
        uint64_t set = c.weak ? moth_obj_attr(t, r, "data") : r;
        moth_set_items(t, set, collect_one, &c);
    }
    moth_map_free(&c.seen);
    if (c.failed) {
        free(c.items);
        return -1;
    }
    *out = c.items;
    *n = c.count;
    return 0;
}

/* A pure-Python future's attributes, gathered in one walk of its __dict__. */
enum { A_STATE, A_LOOP, A_CORO, A_NAME, A_WAITER, A_CANCELS, A_COUNT };
static const char *const ATTRS[A_COUNT] = {"_state", "_loop", "_coro", "_name", "_fut_waiter",
                                           "_num_cancels_requested"};

typedef struct attr_walk {
    moth_remote *t;
    uint64_t values[A_COUNT];
    int found[A_COUNT];
} attr_walk;

static int take_attr(void *ctx, uint64_t key, uint64_t value)
{
    attr_walk *w = ctx;
    char *name = moth_remote_str(w->t, key, 32, NULL);
    for (int i = 0; name && i < A_COUNT; i++)
        if (strcmp(name, ATTRS[i]) == 0) {
            w->values[i] = value == w->t->known.none ? 0 : value;
            w->found[i] = 1;
        }
    free(name);
    return 0;
}

static int python_future(moth_remote *t, uint64_t obj, moth_rfuture *out)
{
    attr_walk w;
    memset(&w, 0, sizeof w);
    w.t = t;
    if (moth_obj_attrs(t, obj, take_attr, &w) < 0 || !w.found[A_LOOP])
        return -1;
    /* A future keeps the class's _state (PENDING) until its state changes. */
    if (!w.found[A_STATE] && !(w.values[A_STATE] = moth_class_attr(t, out->type, "_state")))
        return -1;
    static const char *const STATES[] = {"PENDING", "CANCELLED", "FINISHED"};
    char *state = moth_remote_str(t, w.values[A_STATE], 16, NULL);
    out->state = -1;
    for (int i = 0; state && i < 3; i++)
        if (strcmp(state, STATES[i]) == 0)
            out->state = i;
    free(state);
    if (out->state < 0)
        return -1;
    out->loop = w.values[A_LOOP];
    out->is_task = w.found[A_CORO];
    if (out->is_task) {
        int64_t cancels = 0;
        out->coro = w.values[A_CORO];
        out->name = w.values[A_NAME];
        out->waiter = w.values[A_WAITER];
        if (w.values[A_CANCELS] && moth_obj_int64(t, w.values[A_CANCELS], &cancels) == 0)
            out->cancels = cancels;
    }
    return 0;
}

static int c_future(moth_remote *t, uint64_t obj, int is_task, moth_rfuture *out)
{
    const moth_py_layout *L = t->L;
    uint8_t buf[512];
    uint32_t size = is_task ? L->asyncio.task_size : L->asyncio.future_size;
    if (size > sizeof buf || moth_remote_read(t, obj, buf, size) < 0)
        return -1;
    uint32_t state = moth_u32_at(buf, L->asyncio.state);
    if (state > MOTH_FUTURE_DONE || !moth_u64_at(buf, L->asyncio.loop))
        return -1; /* not initialised, or not a future at all */
    out->state = (int)state;
    out->loop = moth_u64_at(buf, L->asyncio.loop);
    out->is_task = is_task;
    if (is_task) {
        out->coro = moth_u64_at(buf, L->asyncio.coro);
        out->name = moth_u64_at(buf, L->asyncio.name);
        out->waiter = moth_u64_at(buf, L->asyncio.fut_waiter);
        out->cancels = (int32_t)moth_u32_at(buf, L->asyncio.num_cancels_requested);
        if (out->waiter == t->known.none)
            out->waiter = 0;
    }
    return 0;
}

enum { KIND_OTHER = 0, KIND_C_FUTURE = 1, KIND_C_TASK = 2 };

/* What instances of type are laid out as (tp_base walked once per type). */
static uint32_t type_kind(moth_remote *t, moth_asyncio *a, uint64_t type)
{
    uint32_t kind = moth_map_get(&a->type_kinds, type, 0);
    if (kind != MOTH_MAP_ABSENT)
        return kind;
    kind = derives_from(t, type, a->c_task_type)     ? KIND_C_TASK
           : derives_from(t, type, a->c_future_type) ? KIND_C_FUTURE
                                                     : KIND_OTHER;
    moth_map_put(&a->type_kinds, type, 0, kind, NULL); /* not kept: walked again next time */
    return kind;
}

int moth_asyncio_future(moth_remote *t, moth_asyncio *a, uint64_t obj, moth_rfuture *out)
{
    memset(out, 0, sizeof *out);
    out->obj = obj;
    out->type = moth_obj_type(t, obj);
    if (!out->type)
        return -1;
    uint32_t kind = type_kind(t, a, out->type);
    if (kind != KIND_OTHER)
        return a->c_unreadable ? -1 : c_future(t, obj, kind == KIND_C_TASK, out);
    return python_future(t, obj, out);
}

char *moth_asyncio_task_name(moth_remote *t, const moth_rfuture *task)
{
    int64_t number;
    if (task->name && moth_obj_type(t, task->name) == t->known.str_type)
        return moth_remote_str(t, task->name, MAX_NAME_CHARS, NULL);
    if (task->name && moth_obj_int64(t, task->name, &number) == 0) {
        char buf[32];
        snprintf(buf, sizeof buf, "Task-%lld", (long long)number);
        return moth_strdup(buf, NULL);
    }
    return NULL;
}

uint64_t moth_asyncio_awaited_future(moth_remote *t, moth_asyncio *a, uint64_t obj)
{
    moth_rfuture f;
    uint64_t future;
    if (!obj)
        return 0;
    if (moth_asyncio_future(t, a, obj, &f) == 0)
        return obj;
    if (type_named(t, a, obj, "_asyncio.FutureIter") &&
        moth_mem_u64(&t->mem, obj + t->L->asyncio.futureiter_future, &future) == 0 &&
        moth_asyncio_future(t, a, future, &f) == 0)
        return future;
    return 0;
}

typedef struct child_walk {
    uint64_t *items;
    size_t count, cap;
    int failed;
} child_walk;

static int take_child(void *ctx, uint64_t index, uint64_t item)
{
    (void)index;
    child_walk *w = ctx;
    if (!item)
        return 0;
    if (w->count >= MOTH_ASYNCIO_MAX_TASKS)
        return 1;
    if (moth_grow((void **)&w->items, sizeof *w->items, &w->cap, w->count + 1, NULL) < 0) {
        w->failed = 1;
        return 1;
    }
    w->items[w->count++] = item;
    return 0;
}

int moth_asyncio_gathered(moth_remote *t, moth_asyncio *a, uint64_t future, uint64_t **out,
                          size_t *n)
{
    child_walk w = {NULL, 0, 0, 0};
    *out = NULL;
    *n = 0;
    if (!type_named(t, a, future, "_GatheringFuture"))
        return 0;
    if (moth_list_items(t, moth_obj_attr(t, future, "_children"), take_child, &w) < 0 ||
        w.failed) {
        free(w.items);
        return w.failed ? -1 : 0;
    }
    *out = w.items;
    *n = w.count;
    return 0;
}

static int take_member(void *ctx, uint64_t key, uint64_t unused)
{
    (void)unused;
    return take_child(ctx, 0, key);
}

int moth_asyncio_group_tasks(moth_remote *t, uint64_t group, uint64_t **out, size_t *n)
{
    child_walk w = {NULL, 0, 0, 0};
    *out = NULL;
    *n = 0;
    if (moth_set_items(t, moth_obj_attr(t, group, "_tasks"), take_member, &w) < 0 || w.failed) {
        free(w.items);
        return w.failed ? -1 : 0;
    }
    *out = w.items;
    *n = w.count;
    return 0;
}

uint64_t moth_asyncio_loop_thread(moth_remote *t, uint64_t loop)
{
    int64_t ident;
    uint64_t value = loop ? moth_obj_attr(t, loop, "_thread_id") : 0;
    if (!value || moth_obj_int64(t, value, &ident) < 0)
        return 0;
    return (uint64_t)ident;
}
