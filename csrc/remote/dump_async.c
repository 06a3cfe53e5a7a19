/*
 * dump_async.c: `moth dump --async`: every asyncio task of the target, with its coroutine
 * chain and what it awaits, into the dump model (dump.h).
 *
 * A task's chain starts at the coroutine it drives and follows what each coroutine awaits
 * (coro.h) while that is another coroutine or generator, or the async generator an `async for`
 * steps: the frames of `await` calls that asyncio keeps suspended, outermost first as a
 * traceback lists them. What the task waits on
 * is its _fut_waiter (the future its last step yielded), else the future the chain ends at.
 *
 * Order: tasks are grouped by event loop, and a task comes right before the tasks it waits
 * for (depth first from the tasks nothing waits for, in the order of their names), so the
 * text reads from the top of a program's tree of tasks down to its leaves.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncio_tasks.h"
#include "coro.h"
#include "dump.h"
#include "hashmap.h"
#include "remote.h"
#include "source.h"

#define MAX_CHAIN 256      /* coroutines followed from one task */

/* Adds a line to d->async_note; -1 when out of memory. */
static int async_note(moth_dump *d, const char *fmt, ...) MOTH_PRINTF(2, 3);
static int async_note(moth_dump *d, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t old = d->async_note ? strlen(d->async_note) : 0;
    char *more = moth_realloc(d->async_note, old + strlen(line) + 2, NULL);
    if (!more)
        return -1;
    if (old)
        more[old++] = '\n';
    strcpy(more + old, line);
    d->async_note = more;
    return 0;
}

static const char *future_state(int state)
{
    return state == MOTH_FUTURE_DONE ? "done" : state == MOTH_FUTURE_CANCELLED ? "cancelled"
                                                                                : "pending";
}

/* One collection's state: the reader, and what was learnt of each event loop (read once, as
 * thousands of tasks share one loop). */
typedef struct tasks_read {
    moth_remote *t;
    moth_sources *src;
    const moth_dump_opts *o;
    moth_asyncio a;
    moth_map loop_index;
    struct loop_seen {
        uint64_t thread;
        const char *type;      /* kept in a's type names */
    } *loops;
    size_t nloops, loops_cap;
} tasks_read;

/* The name of obj's type, malloc'd ("?" when unreadable); NULL only when out of memory. */
static char *type_name_of(tasks_read *r, uint64_t obj)
{
    const char *name = moth_asyncio_type_name(r->t, &r->a, obj);
    return name ? moth_strdup(name, NULL) : NULL;
}

/* What was learnt of event loop `loop`: the thread running it and its type's name; NULL when
 * out of memory. */
static const struct loop_seen *loop_seen(tasks_read *r, uint64_t loop)
{
    uint32_t i = moth_map_get(&r->loop_index, loop, 0);
    if (i != MOTH_MAP_ABSENT)
        return &r->loops[i];
    struct loop_seen seen = {moth_asyncio_loop_thread(r->t, loop),
                             moth_asyncio_type_name(r->t, &r->a, loop)};
    if (!seen.type ||
        moth_grow((void **)&r->loops, sizeof *r->loops, &r->loops_cap, r->nloops + 1, NULL) < 0 ||
        moth_map_put(&r->loop_index, loop, 0, (uint32_t)r->nloops, NULL) < 0)
        return NULL;
    r->loops[r->nloops] = seen;
    return &r->loops[r->nloops++];
}

static int set_note(moth_dump_task *task, const char *fmt, ...) MOTH_PRINTF(2, 3);
static int set_note(moth_dump_task *task, const char *fmt, ...)
{
    char text[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    free(task->note);
    task->note = moth_strdup(text, NULL);
    return task->note ? 0 : -1;
}

/* Whether obj is an `async for` step (async_generator_asend), and the async generator it
 * drives into *agen. */
static int is_asend(tasks_read *r, uint64_t obj, uint64_t *agen)
{
    const char *type = moth_asyncio_type_name(r->t, &r->a, obj);
    return type && strcmp(type, "async_generator_asend") == 0 &&
           moth_mem_u64(&r->t->mem, obj + r->t->L->asend_gen, agen) == 0 &&
           moth_is_coro(r->t, *agen);
}

/* Follows the task's coroutine chain; *end is what its innermost coroutine awaits that is not
 * a coroutine (0 when nothing), *group the TaskGroup whose __aexit__ is in the chain (its
 * `self`; 0 when none). -1 only when out of memory. */
/* Whether code entry `code` is asyncio.TaskGroup.__aexit__, which waits for the group's
 * tasks. */
static int is_group_exit(moth_remote *t, uint32_t code)
{
    const moth_rcode *c = &t->codes.items[code];
    size_t len = strlen(c->filename), tail = strlen("asyncio/taskgroups.py");
    return strcmp(c->name, "__aexit__") == 0 && len >= tail &&
           strcmp(c->filename + len - tail, "asyncio/taskgroups.py") == 0 && c->nlocalsplus;
}

static int read_chain(tasks_read *r, uint64_t coro, moth_dump_task *task, uint64_t *end,
                      uint64_t *group)
{
    moth_remote *t = r->t;
    uint64_t seen[MAX_CHAIN];
    *end = 0;
    if (!coro)
        return 0;
    for (size_t depth = 0; coro; depth++) {
        if (depth == MAX_CHAIN)
            return set_note(task, "its chain goes on past %d coroutines", MAX_CHAIN);
        for (size_t k = 0; k < depth; k++)
            if (seen[k] == coro)
                return set_note(task, "its chain meets coroutine %#llx again (read while it "
                                "changed)", (unsigned long long)coro);
        seen[depth] = coro;
        moth_rcoro c;
        int rc = moth_coro_read(t, coro, &c);
        if (rc > 0 && !depth) {
            const char *type = moth_asyncio_type_name(t, &r->a, coro);
            return type ? set_note(task, "it drives a %s, which is not a coroutine moth reads",
                                   type)
                        : -1;
        }
        uint64_t agen;
        if (rc > 0 && is_asend(r, coro, &agen)) {
            coro = agen; /* an `async for` step: the chain goes on in the async generator */
            continue;
        }
        if (rc > 0) {
            *end = coro; /* what the last coroutine awaits: a future's iterator, most often */
            return 0;
        }
        if (rc < 0 && depth && !moth_is_coro(t, coro)) {
            *end = coro; /* an awaited object that cannot be read: shown by its address */
            return 0;
        }
        if (rc < 0)
            return set_note(task, "coroutine %#llx could not be read", (unsigned long long)coro);
        if (c.state == MOTH_CORO_DONE)
            return 0;
        if (c.state == MOTH_CORO_RUNNING)
            task->running = 1;
        if (moth_grow((void **)&task->frames, sizeof *task->frames, &task->frames_cap,
                      task->nframes + 1, NULL) < 0)
            return -1;
        moth_dump_frame *f = &task->frames[task->nframes++];
        memset(f, 0, sizeof *f);
        if (moth_dump_fill_frame(t, r->src, c.frame, c.code, c.line, r->o, f) < 0)
            return -1;
        if (is_group_exit(t, c.code) &&
            moth_mem_u64(&t->mem, c.frame + t->L->frame.localsplus, group) < 0)
            *group = 0;
        coro = c.awaits;
    }
    return 0;
}

/* Describes what the task waits on: its _fut_waiter, else what its chain ends at; with the
 * tasks gather() or its TaskGroup (`group`, 0 when none) waits for. */
static int read_awaited(tasks_read *r, uint64_t waiter, uint64_t end, uint64_t group,
                        moth_dump_awaited *aw)
{
    moth_remote *t = r->t;
    uint64_t target = waiter ? waiter : moth_asyncio_awaited_future(t, &r->a, end);
    moth_rfuture f;
    if (!target && !end)
        return 0;
    if (!target || moth_asyncio_future(t, &r->a, target, &f) < 0) {
        aw->kind = MOTH_AWAIT_OTHER;
        aw->addr = target ? target : end;
        return (aw->type = type_name_of(r, aw->addr)) ? 0 : -1;
    }
    aw->addr = target;
    aw->state = future_state(f.state);
    if (!(aw->type = type_name_of(r, target)))
        return -1;
    if (f.is_task) {
        aw->kind = MOTH_AWAIT_TASK;
        aw->name = moth_asyncio_task_name(t, &f);
        return 0;
    }
    aw->kind = MOTH_AWAIT_FUTURE;
    uint64_t *children;
    size_t n;
    if (moth_asyncio_gathered(t, &r->a, target, &children, &n) < 0)
        return -1;
    if (!n && group) {
        if (moth_asyncio_group_tasks(t, group, &children, &n) < 0)
            return -1;
        aw->taskgroup = n > 0;
    }
    if (!n)
        return 0;
    if (!(aw->gathered = moth_calloc(n, sizeof *aw->gathered, NULL))) {
        free(children);
        return -1;
    }
    aw->ngathered = n;
    for (size_t i = 0; i < n; i++) {
        moth_rfuture child;
        aw->gathered[i].addr = children[i];
        if (moth_asyncio_future(t, &r->a, children[i], &child) == 0 && child.is_task)
            aw->gathered[i].name = moth_asyncio_task_name(t, &child);
    }
    free(children);
    return 0;
}

static int read_task(tasks_read *r, const moth_rfuture *f, moth_dump_task *task)
{
    task->addr = f->obj;
    task->name = moth_asyncio_task_name(r->t, f);
    task->state = future_state(f->state);
    task->cancels = f->cancels;
    task->loop = f->loop;
    const struct loop_seen *loop = loop_seen(r, f->loop);
    const char *type = moth_asyncio_name_of_type(r->t, &r->a, f->type);
    if (!loop || !type || !(task->type = moth_strdup(type, NULL)) ||
        !(task->loop_type = moth_strdup(loop->type, NULL)))
        return -1;
    task->loop_thread = loop->thread;
    uint64_t end = 0, group = 0;
    if (f->state == MOTH_FUTURE_PENDING && read_chain(r, f->coro, task, &end, &group) < 0)
        return -1;
    if (f->state == MOTH_FUTURE_PENDING && !task->running &&
        read_awaited(r, f->waiter, end, group, &task->awaiting) < 0)
        return -1;
    return 0;
}

/* Compares names as people sort them: "Task-2" before "Task-10", "b" after "A"; no name
 * last. */
static int natural_cmp(const char *x, const char *y)
{
    if (!x || !y)
        return !x - !y;
    while (*x && *y) {
        if (isdigit((unsigned char)*x) && isdigit((unsigned char)*y)) {
            while (*x == '0')
                x++;
            while (*y == '0')
                y++;
            size_t nx = 0, ny = 0;
            while (isdigit((unsigned char)x[nx]))
                nx++;
            while (isdigit((unsigned char)y[ny]))
                ny++;
            if (nx != ny)
                return nx < ny ? -1 : 1;
            int c = strncmp(x, y, nx);
            if (c)
                return c;
            x += nx;
            y += ny;
        } else if (tolower((unsigned char)*x) != tolower((unsigned char)*y)) {
            return tolower((unsigned char)*x) - tolower((unsigned char)*y);
        } else {
            x++;
            y++;
        }
    }
    return (unsigned char)*x - (unsigned char)*y;
}

typedef struct named {
    const char *name;
    uint64_t addr;
    size_t index;
} named;

static int by_name(const void *a, const void *b)
{
    const named *x = a, *y = b;
    int c = natural_cmp(x->name, y->name);
    return c ? c : x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Which tasks each task waits for directly (the task it awaits, the tasks gather() waits
 * for), as index lists: task i's are edges[first[i] .. first[i + 1]). */
typedef struct waits {
    size_t *first;
    uint32_t *edges;
} waits;

static int build_waits(const moth_dump *d, waits *w)
{
    size_t n = d->ntasks, count = 0;
    moth_map index = MOTH_MAP_INIT;
    w->first = moth_calloc(n + 1, sizeof *w->first, NULL);
    for (size_t i = 0; i < n; i++)
        count += 1 + d->tasks[i].awaiting.ngathered;
    w->edges = moth_calloc(count, sizeof *w->edges, NULL);
    if (!w->first || !w->edges)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (moth_map_put(&index, d->tasks[i].addr, 0, (uint32_t)i, NULL) < 0) {
            moth_map_free(&index);
            return -1;
        }
    size_t e = 0;
    for (size_t i = 0; i < n; i++) {
        const moth_dump_awaited *aw = &d->tasks[i].awaiting;
        uint32_t j;
        w->first[i] = e;
        if (aw->kind == MOTH_AWAIT_TASK &&
            (j = moth_map_get(&index, aw->addr, 0)) != MOTH_MAP_ABSENT)
            w->edges[e++] = j;
        for (size_t k = 0; k < aw->ngathered; k++)
            if ((j = moth_map_get(&index, aw->gathered[k].addr, 0)) != MOTH_MAP_ABSENT)
                w->edges[e++] = j;
    }
    w->first[n] = e;
    moth_map_free(&index);
    return 0;
}

/* Puts the tasks in reading order (see the top of this file). -1 when out of memory. */
static int order_tasks(moth_dump *d)
{
    size_t n = d->ntasks;
    waits w = {NULL, NULL};
    named *names = moth_calloc(n, sizeof *names, NULL);
    size_t *order = moth_calloc(n, sizeof *order, NULL);
    size_t *stack = moth_calloc(n, sizeof *stack, NULL);
    uint8_t *awaited = moth_calloc(n, 1, NULL), *placed = moth_calloc(n, 1, NULL);
    moth_dump_task *sorted = moth_calloc(n, sizeof *sorted, NULL);
    int rc = -1;
    if (!names || !order || !stack || !awaited || !placed || !sorted || build_waits(d, &w) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        for (size_t e = w.first[i]; e < w.first[i + 1]; e++)
            awaited[w.edges[e]] = 1;
        names[i] = (named){d->tasks[i].name, d->tasks[i].addr, i};
    }
    qsort(names, n, sizeof *names, by_name);
    size_t count = 0;
    /* Roots first; then whatever only a cycle of tasks waiting on each other reaches. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t r = 0; r < n; r++) {
            size_t root = names[r].index;
            if (placed[root] || (pass == 0 && awaited[root]))
                continue;
            size_t depth = 0;
            stack[depth++] = root;
            placed[root] = 1;
            while (depth) {
                size_t i = stack[--depth];
                order[count++] = i;
                /* Pushed last first, so that they come out in gather()'s order. */
                for (size_t e = w.first[i + 1]; e-- > w.first[i];)
                    if (!placed[w.edges[e]]) {
                        placed[w.edges[e]] = 1;
                        stack[depth++] = w.edges[e];
                    }
            }
        }
    }
    /* Event loops in the order they first appear; each loop's tasks keep their order: a
     * counting sort on the loop's number (stack[i]: task i's loop; starts[l]: where loop l's
     * tasks go). */
    moth_map loops = MOTH_MAP_INIT;
    size_t nloops = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t loop = d->tasks[order[i]].loop;
        uint32_t l = moth_map_get(&loops, loop, 0);
        if (l == MOTH_MAP_ABSENT && moth_map_put(&loops, loop, 0, l = (uint32_t)nloops++,
                                                 NULL) < 0) {
            moth_map_free(&loops);
            goto done;
        }
        stack[order[i]] = l;
    }
    moth_map_free(&loops);
    size_t *starts = moth_calloc(nloops + 1, sizeof *starts, NULL);
    if (!starts)
        goto done;
    for (size_t i = 0; i < count; i++)
        starts[stack[order[i]] + 1]++;
    for (size_t l = 0; l < nloops; l++)
        starts[l + 1] += starts[l];
    for (size_t i = 0; i < count; i++)
        sorted[starts[stack[order[i]]]++] = d->tasks[order[i]];
    free(starts);
    free(d->tasks);
    d->tasks = sorted;
    d->tasks_cap = n ? n : 1;
    sorted = NULL;
    rc = 0;
done:
    free(w.first);
    free(w.edges);
    free(names);
    free(order);
    free(stack);
    free(awaited);
    free(placed);
    free(sorted);
    return rc;
}

static int collect(tasks_read *r, moth_dump *d)
{
    uint64_t *list = NULL;
    size_t n = 0, unreadable = 0;
    if (moth_asyncio_open(r->t, &r->a) < 0)
        return async_note(d, "%s", r->a.note);
    if ((r->a.note[0] && async_note(d, "%s", r->a.note) < 0) ||
        moth_asyncio_task_list(r->t, &r->a, &list, &n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        moth_rfuture f;
        if (moth_asyncio_future(r->t, &r->a, list[i], &f) < 0 || !f.is_task) {
            unreadable++;
            continue;
        }
        if (moth_grow((void **)&d->tasks, sizeof *d->tasks, &d->tasks_cap, d->ntasks + 1,
                      NULL) < 0) {
            free(list);
            return -1;
        }
        moth_dump_task *task = &d->tasks[d->ntasks++];
        memset(task, 0, sizeof *task);
        if (read_task(r, &f, task) < 0) {
            free(list);
            return -1;
        }
    }
    free(list);
    if ((unreadable &&
         async_note(d, "%zu registered task%s could not be read (ended or changed while read)",
                    unreadable, unreadable == 1 ? "" : "s") < 0) ||
        (!d->ntasks && !unreadable && !r->a.c_unreadable &&
         async_note(d, "no asyncio task exists") < 0))
        return -1;
    return order_tasks(d);
}

int moth_dump_collect_tasks(moth_remote *t, moth_sources *src, const moth_dump_opts *o,
                            moth_dump *d, moth_error *err)
{
    tasks_read r;
    memset(&r, 0, sizeof r);
    r.t = t;
    r.src = src;
    r.o = o;
    d->async_read = 1;
    int rc = collect(&r, d);
    moth_asyncio_close(&r.a);
    moth_map_free(&r.loop_index);
    free(r.loops);
    return rc < 0 ? moth_fail(err, "out of memory") : 0;
}
