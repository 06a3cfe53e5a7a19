/*
 * asyncio_tasks.h: the target's asyncio tasks and futures, read from outside.
 *
 * Where the tasks are: asyncio registers every task it creates in asyncio.tasks, a WeakSet
 * `_all_tasks` in 3.11, a WeakSet `_scheduled_tasks` and a set `_eager_tasks` (tasks running
 * eagerly, before their first suspension) in 3.12 and 3.13; when the C accelerator _asyncio is
 * there, asyncio.tasks takes those objects from it, so the one place holds the C tasks and the
 * pure-Python ones alike. A WeakSet keeps weak references in its attribute `data`, a set.
 *
 * What a task is: the C _asyncio.Task and _asyncio.Future keep their fields in a struct of
 * Modules/_asynciomodule.c (the layout's asyncio offsets, taken from each version's source and
 * checked against tp_basicsize of the target's own types before any is read); the
 * pure-Python classes (asyncio.tasks._PyTask, asyncio.futures._PyFuture) and their subclasses
 * keep them as instance attributes (_state, _loop, _coro, _name, _fut_waiter). Subclasses of
 * the C types are C-laid out.
 *
 * Everything read is checked (types, states, sizes); a task freed while it was read is left
 * out or shown unreadable, never wrong.
 */
#ifndef MOTH_ASYNCIO_TASKS_H
#define MOTH_ASYNCIO_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "hashmap.h"

struct moth_remote;

#define MOTH_ASYNCIO_MAX_TASKS 100000

/* What was found of asyncio in the target, once per dump. */
typedef struct moth_asyncio {
    uint64_t registries[3];        /* the WeakSets and sets tasks are registered in */
    size_t nregistries;
    uint64_t c_task_type, c_future_type;   /* _asyncio.Task and .Future, 0 when absent */
    int c_unreadable;              /* _asyncio is there but laid out otherwise: its tasks and
                                    * futures cannot be read (note says why) */
    char note[256];                /* what the reader could not do, or "" */
    /* The names of the types met so far, by address: thousands of tasks share a few types. */
    moth_map type_index;
    char **type_names;
    size_t ntypes, types_cap;
    moth_map type_kinds;           /* type -> C task, C future or neither (tp_base walked once) */
} moth_asyncio;

/* Finds asyncio in the target. 0; -1 when asyncio.tasks is not imported (no task can exist)
 * or its registries cannot be found, with a->note saying which. Either way
 * moth_asyncio_close frees what a holds. */
int moth_asyncio_open(struct moth_remote *t, moth_asyncio *a);
void moth_asyncio_close(moth_asyncio *a);

/* The name of obj's type (its tp_name; "?" when it cannot be read), kept in a until it is
 * closed; NULL only when out of memory. */
const char *moth_asyncio_type_name(struct moth_remote *t, moth_asyncio *a, uint64_t obj);
/* The same for the type object `type` itself. */
const char *moth_asyncio_name_of_type(struct moth_remote *t, moth_asyncio *a, uint64_t type);

/* The address of every live registered task, each once, into *out (malloc'd, *n of them).
 * 0; -1 when out of memory. Registries that cannot be read give nothing. */
int moth_asyncio_task_list(struct moth_remote *t, moth_asyncio *a, uint64_t **out,
                           size_t *n);

enum moth_future_state {
    MOTH_FUTURE_PENDING = 0,
    MOTH_FUTURE_CANCELLED = 1,
    MOTH_FUTURE_DONE = 2,
};

typedef struct moth_rfuture {
    uint64_t obj, type;
    int is_task;
    int state;                     /* enum moth_future_state */
    uint64_t loop;
    /* Tasks only: */
    uint64_t name;                 /* a str; an int (the task's number) where 3.12+ leave the
                                    * name unformatted until it is asked for */
    uint64_t coro;                 /* the coroutine it drives (0 once cleared) */
    uint64_t waiter;               /* the future it waits on (_fut_waiter), 0 when none */
    int64_t cancels;               /* cancel() requests not yet answered */
} moth_rfuture;

/* Reads the Future or Task at obj: C ones, pure-Python ones, subclasses of either. -1 when obj
 * is not a future moth can read. */
int moth_asyncio_future(struct moth_remote *t, moth_asyncio *a, uint64_t obj,
                        moth_rfuture *out);

/* A task's name as its get_name() gives it ("Task-7" from a number), malloc'd; NULL when it
 * cannot be read. */
char *moth_asyncio_task_name(struct moth_remote *t, const moth_rfuture *task);

/* The future behind something a coroutine awaits: a future itself, or the future of the C
 * iterator (_asyncio.FutureIter) that `await future` awaits. 0 when obj is neither. */
uint64_t moth_asyncio_awaited_future(struct moth_remote *t, moth_asyncio *a,
                                     uint64_t obj);

/* The futures gather() waits for, when `future` is gather()'s (its `_children` list), into
 * *out (malloc'd; NULL and *n 0 for any other future). 0; -1 when out of memory. */
int moth_asyncio_gathered(struct moth_remote *t, moth_asyncio *a, uint64_t future,
                          uint64_t **out, size_t *n);

/* The tasks of the asyncio.TaskGroup `group` (its `_tasks` set), into *out as
 * moth_asyncio_gathered does. */
int moth_asyncio_group_tasks(struct moth_remote *t, uint64_t group, uint64_t **out, size_t *n);

/* The thread running the event loop `loop` (its `_thread_id`, threading.get_ident() of that
 * thread), 0 when it is not running or cannot be read. */
uint64_t moth_asyncio_loop_thread(struct moth_remote *t, uint64_t loop);

#endif
