/* C unit tests of `moth dump --async` (coro.c, asyncio_tasks.c, dump_async.c and the tasks'
 * rendering) on a made-up target laid out as each CPython version lays it out: asyncio's
 * registries, C and pure-Python tasks and futures, coroutine chains, gather(); then what the
 * target's memory can do wrong: missing modules, other layouts, corrupt pointers, cycles,
 * endless chains, and every allocation failing in turn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "asyncio_tasks.h"
#include "check.h"
#include "coro.h"
#include "dump.h"
#include "fake_asyncio.h"
#include "fault.h"
#include "linetable.h"
#include "objects.h"
#include "source.h"

/* Collects the tasks into *d (with a thread 1234 named MainThread, native id 99). */
static int collect(moth_dump *d, const moth_dump_opts *o, moth_error *err)
{
    memset(d, 0, sizeof *d);
    moth_dump_thread *th = moth_dump_add_thread(d);
    if (!th)
        return moth_fail(err, "out of memory");
    th->python = 1;
    th->thread_id = 1234;
    th->native_id = 99;
    th->name = strdup("MainThread");
    moth_sources src;
    moth_sources_init(&src, "", "");
    int rc = moth_dump_collect_tasks(&T, &src, o, d, err);
    moth_sources_free(&src);
    return rc;
}

static char *render_text(const moth_dump *d)
{
    moth_dump_opts o = {.source = 1};
    moth_sb out = MOTH_SB_INIT;
    moth_dump_render_text(d, &o, 0, &out);
    return moth_sb_take(&out);
}

static char *render_json(const moth_dump *d)
{
    moth_sb out = MOTH_SB_INIT;
    moth_dump_render_json(d, &out);
    return moth_sb_take(&out);
}

/* The world of test_tasks_of_every_layout; sets *fut to the future "worker" waits on and
 * *gathering to gather()'s. */
typedef struct world {
    uint64_t worker, boss, done, gather, sleepy, fut, gathering;
} world;

static void build_world(world *w, int py_boss)
{
    uint64_t fut = w->fut = mk_c_future(C_FUTURE, 0);
    uint64_t sleep = mk_coro(mk_code("asyncio/tasks.py", "sleep", 30), mk_future_iter(fut));
    uint64_t inner = mk_coro(mk_code("app.py", "inner", 20), sleep);
    uint64_t outer = mk_coro(mk_code("app.py", "outer", 10), inner);
    w->worker = mk_c_task(mk_text("worker"), 0, outer, fut);
    /* A pure-Python task awaiting the C one; its _state is still its class's. */
    uint64_t boss_coro = mk_coro(mk_code("app.py", "boss", 40), mk_future_iter(w->worker));
    if (py_boss) {
        static const char *const ATTRS[] = {"_loop", "_coro", "_name", "_fut_waiter",
                                            "_num_cancels_requested"};
        uint64_t values[] = {LOOP, boss_coro, mk_text("boss"), w->worker, mk_small(1)};
        w->boss = mk_instance(PY_TASK, 24, ATTRS, values, 5);
    } else {
        w->boss = mk_c_task(mk_text("boss"), 0, boss_coro, w->worker);
        put32(w->boss + T.L->asyncio.num_cancels_requested, 1);
    }
    /* Done, named by its number as 3.12+ leave it. */
    uint64_t finished = mk_coro(mk_code("app.py", "quick", 70), 0);
    set_state(finished, T.L->gen.completed);
    w->done = mk_c_task(mk_small(7), 2, finished, 0);
    w->sleepy = mk_c_task(mk_text("sleepy"), 0, mk_coro(mk_code("app.py", "nap", 60), 0), 0);
    static const char *const CHILDREN[] = {"_children"};
    uint64_t kids[] = {w->worker, w->sleepy};
    uint64_t list = mk_list(kids, 2);
    w->gathering = mk_instance(GATHERING, T.L->asyncio.future_size, CHILDREN, &list, 1);
    const moth_py_layout *L = T.L;
    put64(w->gathering + L->asyncio.loop, LOOP);
    w->gather = mk_c_task(mk_text("gather"), 0,
                          mk_coro(mk_code("app.py", "gather", 50), mk_future_iter(w->gathering)),
                          w->gathering);
}

static void test_tasks_of_every_layout(void)
{
    static const moth_py_layout *const LAYOUTS[] = {&moth_layout_py311, &moth_layout_py312,
                                                    &moth_layout_py313};
    for (int v = 0; v < 3; v++) {
        world_open(LAYOUTS[v]);
        world w;
        build_world(&w, 1);
        /* 3.11's one WeakSet; 3.12+'s WeakSet and eager set (sleepy runs eagerly); a dead weak
         * reference and a task registered twice are left out. */
        uint64_t scheduled[8] = {w.worker, w.boss, w.done, w.gather, T.known.none, w.worker};
        uint64_t eager_slots[8] = {w.sleepy};
        uint64_t registries[] = {mk_weakset(scheduled), mk_set(T.known.set_type, eager_slots)};
        static const char *const NAMES_311[] = {"_all_tasks", "_eager_tasks"};
        static const char *const NAMES_312[] = {"_scheduled_tasks", "_eager_tasks"};
        set_modules(v ? NAMES_312 : NAMES_311, registries, 2, asyncio_dict());

        moth_dump d;
        moth_error err = {{0}};
        moth_dump_opts o = {.source = 1, .async_tasks = 1};
        CHECK(collect(&d, &o, &err) == 0);
        CHECK(d.async_read && !d.async_note);
        CHECK_EQ_U(d.ntasks, 5);
        char *text = render_text(&d);
        char want[4096];
        snprintf(want, sizeof want,
                 "\nasyncio tasks: 5 in 1 event loop\n"
                 "\nEvent loop _UnixSelectorEventLoop at %#llx, running in thread 99 "
                 "\"MainThread\"\n"
                 "\nTask \"boss\" (pending, cancel requested), awaiting Task \"worker\"\n"
                 "  File \"app.py\", line 41, in boss\n"
                 "\nTask \"worker\" (pending), awaiting _asyncio.Future at %#llx (pending)\n"
                 "  File \"app.py\", line 11, in outer\n"
                 "  File \"app.py\", line 21, in inner\n"
                 "  File \"asyncio/tasks.py\", line 31, in sleep\n"
                 "\nTask \"gather\" (pending), awaiting _GatheringFuture at %#llx (pending), "
                 "gathering Task \"worker\", Task \"sleepy\"\n"
                 "  File \"app.py\", line 51, in gather\n"
                 "\nTask \"sleepy\" (pending)\n"
                 "  File \"app.py\", line 61, in nap\n"
                 "\nTask \"Task-7\" (done)\n",
                 (unsigned long long)LOOP, (unsigned long long)w.fut,
                 (unsigned long long)w.gathering);
        CHECK(text && strstr(text, want) != NULL);
        if (!text || !strstr(text, want))
            fprintf(stderr, "got:\n%s\nwanted:\n%s\n", text, want);
        free(text);

        char *json = render_json(&d);
        snprintf(want, sizeof want,
                 "{\"name\": \"boss\", \"address\": %llu, \"type\": \"Task\", \"state\": "
                 "\"pending\", \"running\": false, \"cancels_requested\": 1, \"loop\": "
                 "{\"address\": %llu, \"type\": \"_UnixSelectorEventLoop\", \"thread_id\": "
                 "1234}, \"awaiting\": {\"kind\": \"task\", \"address\": %llu, \"type\": "
                 "\"_asyncio.Task\", \"name\": \"worker\", \"state\": \"pending\", "
                 "\"gathering\": [], \"taskgroup\": []}, \"note\": null, \"coroutines\": [{\"kind\": \"python\", "
                 "\"file\": \"app.py\", \"function\": \"boss\", \"qualname\": \"boss\", "
                 "\"line\": 41, \"source\": null}]}",
                 (unsigned long long)w.boss, (unsigned long long)LOOP,
                 (unsigned long long)w.worker);
        CHECK(json && strstr(json, want) != NULL);
        snprintf(want, sizeof want,
                 "\"gathering\": [{\"name\": \"worker\", \"address\": %llu}, {\"name\": "
                 "\"sleepy\", \"address\": %llu}], \"taskgroup\": []}",
                 (unsigned long long)w.worker, (unsigned long long)w.sleepy);
        CHECK(json && strstr(json, want) != NULL);
        CHECK(json && strstr(json, "\"awaiting\": null") != NULL);
        CHECK(json && strstr(json, "], \"tasks_note\": null}\n") != NULL);
        free(json);
        moth_dump_free(&d);
        moth_remote_close(&T);
    }
}

/* The coroutine reader alone: states, what is awaited, and frames that make no sense. */
static void test_coroutines(void)
{
    world_open(&moth_layout_py312);
    const moth_py_layout *L = T.L;
    uint64_t code = mk_code("c.py", "f", 1);
    uint64_t fut = mk_c_future(C_FUTURE, 0);
    uint64_t coro = mk_coro(code, fut);
    moth_rcoro c;
    CHECK(moth_coro_read(&T, coro, &c) == 0);
    CHECK(c.state == MOTH_CORO_SUSPENDED && c.awaits == fut && c.line == 2);
    /* Running, not started, done, or a state no version has. */
    set_state(coro, 0);
    CHECK(moth_coro_read(&T, coro, &c) == 0 && c.state == MOTH_CORO_RUNNING && !c.awaits);
    set_state(coro, L->gen.created);
    CHECK(moth_coro_read(&T, coro, &c) == 0 && c.state == MOTH_CORO_CREATED && c.line == 2);
    set_state(coro, 4);
    CHECK(moth_coro_read(&T, coro, &c) == 0 && c.state == MOTH_CORO_DONE);
    CHECK(c.code == MOTH_NO_FUNC && c.line == MOTH_NO_LINE);
    set_state(coro, -9);
    CHECK(moth_coro_read(&T, coro, &c) == -1);
    set_state(coro, L->gen.suspended);
    /* A stack top below the frame's variables or absurdly high: nothing awaited. */
    put32(coro + L->gen.iframe + L->frame.stacktop, 0);
    CHECK(moth_coro_read(&T, coro, &c) == 0 && !c.awaits);
    put32(coro + L->gen.iframe + L->frame.stacktop, 1u << 20);
    CHECK(moth_coro_read(&T, coro, &c) == 0 && !c.awaits);
    /* Its instruction outside its code; its code not a code object; not a coroutine. */
    put64(coro + L->gen.iframe + L->frame.instr, code + L->code.code_adaptive + 64);
    CHECK(moth_coro_read(&T, coro, &c) == -1);
    put64(coro + L->gen.iframe + L->frame.code, fut);
    CHECK(moth_coro_read(&T, coro, &c) == -1);
    CHECK(moth_coro_read(&T, fut, &c) == 1 && !moth_is_coro(&T, fut));
    CHECK(moth_coro_read(&T, 0xdead0000, &c) == -1);
    /* Objects at the end of memory, too small for a coroutine: an int is no coroutine; a
     * coroutine cut short cannot be read. */
    uint64_t tail = HEAP_BASE + HEAP_SIZE - 32;
    put64(tail + 8, T.known.int_type);
    CHECK(moth_coro_read(&T, tail, &c) == 1);
    put64(tail + 8, T.known.coro_type);
    CHECK(moth_coro_read(&T, tail, &c) == -1);
    put64(tail + 8, 0);
    /* A generator at a plain yield; then one whose code ends with the end of memory, two
     * code units after its header: the instruction after its yield cannot be read. */
    uint64_t gen = mk_coro(code, 0);
    put64(gen + 8, T.known.gen_type);
    CHECK(moth_coro_read(&T, gen, &c) == 0 && c.state == MOTH_CORO_SUSPENDED && !c.awaits);
    uint64_t last = HEAP_BASE + HEAP_SIZE - L->code.code_adaptive - 4;
    memcpy(H.bytes + (last - HEAP_BASE), H.bytes + (code - HEAP_BASE), L->code.code_adaptive);
    put64(gen + L->gen.iframe + L->frame.code, last);
    put64(gen + L->gen.iframe + L->frame.instr, last + L->code.code_adaptive + 2);
    CHECK(moth_coro_read(&T, gen, &c) == 0 && c.state == MOTH_CORO_SUSPENDED && !c.awaits);
    moth_remote_close(&T);
}

static void test_futures(void)
{
    world_open(&moth_layout_py313);
    const moth_py_layout *L = T.L;
    moth_asyncio a;
    set_modules(NULL, NULL, 0, asyncio_dict());
    CHECK(moth_asyncio_open(&T, &a) == -1);
    moth_asyncio_close(&a);
    CHECK_STR(a.note, "asyncio.tasks holds none of the task registries moth knows "
                      "(_all_tasks, _scheduled_tasks, _eager_tasks)");
    uint64_t reg = mk_weakset((uint64_t[8]){0});
    static const char *const NAME[] = {"_scheduled_tasks"};
    set_modules(NAME, &reg, 1, asyncio_dict());
    CHECK(moth_asyncio_open(&T, &a) == 0 && !a.note[0] && a.c_task_type == C_TASK);
    moth_rfuture f;
    /* C futures: states, an uninitialised one (no loop), a state past the last. */
    uint64_t fut = mk_c_future(C_FUTURE, 1);
    CHECK(moth_asyncio_future(&T, &a, fut, &f) == 0 && f.state == MOTH_FUTURE_CANCELLED);
    CHECK(!f.is_task && f.loop == LOOP);
    put32(fut + L->asyncio.state, 3);
    CHECK(moth_asyncio_future(&T, &a, fut, &f) == -1);
    put32(fut + L->asyncio.state, 0);
    put64(fut + L->asyncio.loop, 0);
    CHECK(moth_asyncio_future(&T, &a, fut, &f) == -1);
    CHECK(moth_asyncio_future(&T, &a, 0xdead0000, &f) == -1);
    /* Pure-Python futures: a state that is not one of the three, one that is not a str, no
     * loop; an object with no attributes at all. */
    static const char *const ATTRS[] = {"_loop", "_state"};
    uint64_t vals[] = {LOOP, mk_text("FINISHED")};
    uint64_t py = mk_instance(PY_FUTURE, 24, ATTRS, vals, 2);
    CHECK(moth_asyncio_future(&T, &a, py, &f) == 0 && f.state == MOTH_FUTURE_DONE);
    vals[1] = mk_text("WEIRD");
    CHECK(moth_asyncio_future(&T, &a, mk_instance(PY_FUTURE, 24, ATTRS, vals, 2), &f) == -1);
    vals[1] = mk_small(1);
    CHECK(moth_asyncio_future(&T, &a, mk_instance(PY_FUTURE, 24, ATTRS, vals, 2), &f) == -1);
    CHECK(moth_asyncio_future(&T, &a, mk_instance(PY_FUTURE, 24, ATTRS + 1, vals + 1, 1),
                              &f) == -1);
    CHECK(moth_asyncio_future(&T, &a, LOOP, &f) == -1); /* no _loop */
    CHECK(moth_asyncio_future(&T, &a, mk_small(3), &f) == -1);
    /* A class whose __mro__ is not a tuple: its _state cannot be found. */
    uint64_t odd = mk_class("Odd", 0, 16, 0);
    put64(odd + L->type.mro, mk_small(1));
    CHECK(moth_asyncio_future(&T, &a, mk_instance(odd, 24, ATTRS, vals, 1), &f) == -1);
    /* Names: a str, a number, neither. */
    uint64_t task = mk_c_task(mk_small(12), 0, 0, 0);
    CHECK(moth_asyncio_future(&T, &a, task, &f) == 0 && f.is_task && !f.waiter);
    char *name = moth_asyncio_task_name(&T, &f);
    CHECK_STR(name, "Task-12");
    free(name);
    f.name = mk_tuple(NULL, 0);
    CHECK(moth_asyncio_task_name(&T, &f) == NULL);
    /* What awaits stand for: a future, a FutureIter's future, a FutureIter of garbage. */
    CHECK(moth_asyncio_awaited_future(&T, &a, task) == task);
    CHECK(moth_asyncio_awaited_future(&T, &a, mk_future_iter(task)) == task);
    CHECK(moth_asyncio_awaited_future(&T, &a, mk_future_iter(0xdead0000)) == 0);
    CHECK(moth_asyncio_awaited_future(&T, &a, LOOP) == 0);
    CHECK(moth_asyncio_awaited_future(&T, &a, 0) == 0);
    /* gather()'s children: only from a _GatheringFuture, with a list, at most max. */
    uint64_t kids[] = {task, fut, 0};
    static const char *const CHILDREN[] = {"_children"};
    uint64_t list = mk_list(kids, 3);
    uint64_t gathering = mk_instance(GATHERING, L->asyncio.future_size, CHILDREN, &list, 1);
    uint64_t *out;
    size_t n;
    CHECK(moth_asyncio_gathered(&T, &a, gathering, &out, &n) == 0 && n == 2);
    CHECK(out && out[0] == task && out[1] == fut);
    free(out);
    CHECK(moth_asyncio_gathered(&T, &a, fut, &out, &n) == 0 && n == 0 && !out);
    uint64_t tuple = mk_tuple(kids, 2);
    uint64_t not_list = mk_instance(GATHERING, L->asyncio.future_size, CHILDREN, &tuple, 1);
    CHECK(moth_asyncio_gathered(&T, &a, not_list, &out, &n) == 0 && n == 0 && !out);
    put64(list + L->list.size, MOTH_MAX_DICT_ENTRIES + 1); /* no list is that long */
    CHECK(moth_asyncio_gathered(&T, &a, gathering, &out, &n) == 0 && n == 0 && !out);
    put64(list + L->list.size, 3);
    put64(list + L->list.item, 0xdead0000);
    CHECK(moth_asyncio_gathered(&T, &a, gathering, &out, &n) == 0 && n == 0 && !out);
    moth_asyncio_close(&a);
    /* A loop not running: no _thread_id, or None. */
    CHECK(moth_asyncio_loop_thread(&T, LOOP) == 1234);
    CHECK(moth_asyncio_loop_thread(&T, fut) == 0);
    CHECK(moth_asyncio_loop_thread(&T, 0) == 0);
    /* The lists' and sets' readers on things that are not lists and sets. */
    CHECK(moth_list_items(&T, tuple, NULL, NULL) == -1);
    CHECK(moth_set_items(&T, list, NULL, NULL) == -1);
    uint64_t slots[8] = {0};
    uint64_t set = mk_set(T.known.set_type, slots);
    put64(set + L->set.mask, 5);
    CHECK(moth_set_items(&T, set, NULL, NULL) == -1);
    put64(set + L->set.mask, 7);
    put64(set + L->set.table, 0xdead0000);
    put64(set + L->set.used, 1);
    CHECK(moth_set_items(&T, set, NULL, NULL) == -1);
    CHECK(moth_list_items(&T, list, NULL, NULL) == -1);
    moth_remote_close(&T);
}

/* Collects and renders; returns the text (malloc'd). */
static char *dump_text(moth_dump *d)
{
    moth_error err = {{0}};
    moth_dump_opts o = {.source = 1, .async_tasks = 1};
    CHECK(collect(d, &o, &err) == 0);
    return render_text(d);
}

static void test_nothing_to_show(void)
{
    moth_dump d;
    /* No asyncio; asyncio without tasks; a C accelerator laid out otherwise. */
    world_open(&moth_layout_py311);
    T.interp = alloc(T.L->interp.modules + 8);
    put64(T.interp + T.L->interp.modules, mk_dict(NULL, NULL, 0));
    char *text = dump_text(&d);
    CHECK(text && strstr(text, "\nasyncio tasks: none\n(asyncio is not imported)\n"));
    free(text);
    char *json = render_json(&d);
    CHECK(json && strstr(json, "\"tasks\": [], \"tasks_note\": \"asyncio is not imported\"}"));
    free(json);
    moth_dump_free(&d);

    uint64_t reg = mk_weakset((uint64_t[8]){0});
    static const char *const NAME[] = {"_all_tasks"};
    set_modules(NAME, &reg, 1, 0);
    text = dump_text(&d);
    CHECK(text && strstr(text, "\nasyncio tasks: none\n(no asyncio task exists)\n"));
    free(text);
    moth_dump_free(&d);

    world w;
    build_world(&w, 1);
    uint64_t tasks[8] = {w.worker, w.boss};
    reg = mk_weakset(tasks);
    put64(C_TASK + T.L->type.basicsize, 200);
    set_modules(NAME, &reg, 1, asyncio_dict());
    text = dump_text(&d);
    /* The C task is left out; the pure-Python one still shows what it awaits, by address. */
    CHECK_EQ_U(d.ntasks, 1);
    char want[512];
    snprintf(want, sizeof want, "Task \"boss\" (pending, cancel requested), awaiting "
             "_asyncio.Task at %#llx\n", (unsigned long long)w.worker);
    CHECK(text && strstr(text, want));
    CHECK(text && strstr(text, "\n(this Python's _asyncio.Task and Future are not laid out as "
                               "CPython 3.11's (200 and 128 bytes, not 176 and 128): its C "
                               "tasks are left out\n1 registered task could not be read (ended "
                               "or changed while read))\n"));
    free(text);
    moth_dump_free(&d);
    /* Registries that cannot be read give nothing. */
    uint64_t garbage[] = {mk_small(5), mk_instance(WEAKSET, 24, NULL, NULL, 0)};
    static const char *const TWO[] = {"_scheduled_tasks", "_eager_tasks"};
    set_modules(TWO, garbage, 2, 0);
    text = dump_text(&d);
    CHECK(text && strstr(text, "\nasyncio tasks: none\n(no asyncio task exists)\n"));
    free(text);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

/* Everything about one task that can go wrong, each on its own task. */
static void test_broken_tasks(void)
{
    world_open(&moth_layout_py312);
    const moth_py_layout *L = T.L;
    uint64_t code = mk_code("b.py", "f", 1);
    uint64_t fut = mk_c_future(C_FUTURE, 0);
    /* a: drives something that is not a coroutine; b: a coroutine that cannot be read;
     * c: a coroutine awaiting itself; d: a chain of 300; e: running; f: awaits a FutureIter of
     * garbage; g: its name unreadable, its awaited task's too; h, i: wait on each other; j:
     * awaits an object that cannot be read. */
    uint64_t a = mk_c_task(mk_text("a"), 0, fut, 0);
    uint64_t bad = mk_coro(code, 0);
    set_state(bad, -9);
    uint64_t b = mk_c_task(mk_text("b"), 0, bad, 0);
    uint64_t self = mk_coro(code, 0);
    put64(self + L->gen.iframe + L->frame.localsplus, self);
    put64(self + L->gen.iframe + L->frame.instr, code + L->code.code_adaptive + 4);
    uint64_t c = mk_c_task(mk_text("c"), 0, self, 0);
    uint64_t link = mk_coro(code, fut);
    for (int i = 0; i < 300; i++)
        link = mk_coro(code, link);
    uint64_t d_ = mk_c_task(mk_text("d"), 0, link, 0);
    uint64_t running = mk_coro(code, fut);
    set_state(running, 0);
    uint64_t e = mk_c_task(mk_text("e"), 0, running, fut);
    uint64_t f = mk_c_task(mk_text("f"), 0, mk_coro(code, mk_future_iter(0xdead0000)), 0);
    uint64_t g = mk_c_task(0xdead0000, 0, mk_coro(code, 0), 0);
    put64(g + L->asyncio.fut_waiter, g);
    uint64_t h = mk_c_task(mk_text("h"), 0, mk_coro(code, 0), 0);
    uint64_t i = mk_c_task(mk_text("i"), 0, mk_coro(code, 0), h);
    put64(h + L->asyncio.fut_waiter, i);
    uint64_t garbage = mk_c_future(C_TASK, 9); /* a task in a state no task has */
    uint64_t j = mk_c_task(mk_text("j"), 0, mk_coro(code, 0xdead0000), 0);
    uint64_t set1[8] = {a, b, c, d_, e, f, g, h}, set2[8] = {i, garbage, j};
    uint64_t regs[] = {mk_weakset(set1), mk_weakset(set2)};
    static const char *const NAMES[] = {"_scheduled_tasks", "_all_tasks"};
    set_modules(NAMES, regs, 2, asyncio_dict());
    moth_dump d;
    char *text = dump_text(&d);
    char want[4096];
    snprintf(want, sizeof want,
             "\nasyncio tasks: 10 in 1 event loop\n"
             "\nEvent loop _UnixSelectorEventLoop at %#llx, running in thread 99 "
             "\"MainThread\"\n"
             "\nTask \"a\" (pending)\n"
             "  (it drives a _asyncio.Future, which is not a coroutine moth reads)\n"
             "\nTask \"b\" (pending)\n"
             "  (coroutine %#llx could not be read)\n"
             "\nTask \"c\" (pending)\n"
             "  (its chain meets coroutine %#llx again (read while it changed))\n"
             "  File \"b.py\", line 2, in f\n",
             (unsigned long long)LOOP, (unsigned long long)bad, (unsigned long long)self);
    CHECK(text && strstr(text, want));
    if (!text || !strstr(text, want))
        fprintf(stderr, "got:\n%s\nwanted:\n%s\n", text, want);
    CHECK(text && strstr(text, "\nTask \"d\" (pending)\n  (its chain goes on past 256 "
                               "coroutines)\n"));
    CHECK(text && strstr(text, "\nTask \"e\" (pending, running)\n  File \"b.py\", line 2, in f\n"
                               "\nTask \"f\" (pending), awaiting _asyncio.FutureIter at 0x"));
    CHECK(text && strstr(text, "\nTask \"j\" (pending), awaiting ? at 0xdead0000\n  File "
                               "\"b.py\", line 2, in f\n\nTask \"h\""));
    /* h and i wait on each other, g on itself: after the rest, in the order of their names
     * (no name last). */
    snprintf(want, sizeof want,
             "\nTask \"h\" (pending), awaiting Task \"i\"\n  File \"b.py\", line 2, in f\n"
             "\nTask \"i\" (pending), awaiting Task \"h\"\n  File \"b.py\", line 2, in f\n"
             "\nTask at %#llx (pending), awaiting Task at %#llx\n  File \"b.py\", line 2, in f\n"
             "(1 registered task could not be read (ended or changed while read))\n",
             (unsigned long long)g, (unsigned long long)g);
    CHECK(text && strstr(text, want));
    free(text);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

/* Tasks of two loops, one not running; names sorted as people sort them. */
static void test_order_and_loops(void)
{
    world_open(&moth_layout_py311);
    uint64_t code = mk_code("o.py", "f", 1);
    uint64_t other_loop = mk_instance(mk_class("EventLoop", 0, 16, 0), 24, NULL, NULL, 0);
    uint64_t t10 = mk_c_task(mk_text("t-10"), 0, mk_coro(code, 0), 0);
    uint64_t t2 = mk_c_task(mk_text("t-2"), 0, mk_coro(code, 0), 0);
    uint64_t t3 = mk_c_task(mk_text("T-3"), 0, mk_coro(code, 0), 0);
    uint64_t t1 = mk_c_task(mk_text("t-1"), 0, mk_coro(code, 0), 0);
    uint64_t x = mk_c_task(mk_text("x"), 0, mk_coro(code, 0), 0);
    put64(x + T.L->asyncio.loop, other_loop);
    uint64_t away = mk_c_task(mk_text("away"), 0, mk_coro(code, 0), 0);
    static const char *const THREAD[] = {"_thread_id"};
    uint64_t ident = mk_small(777);
    uint64_t far_loop = mk_instance(mk_class("EventLoop", 0, 16, 0), 24, THREAD, &ident, 1);
    put64(away + T.L->asyncio.loop, far_loop);
    uint64_t set[8] = {x, t10, away, t2, t3, t1};
    uint64_t reg = mk_weakset(set);
    static const char *const NAME[] = {"_all_tasks"};
    set_modules(NAME, &reg, 1, asyncio_dict());
    moth_dump d;
    char *text = dump_text(&d);
    const char *want[] = {"Task \"away\"", "Task \"t-1\"", "Task \"t-2\"", "Task \"T-3\"",
                          "Task \"t-10\"", "Task \"x\""};
    const char *at = text;
    for (size_t k = 0; k < 6 && at; k++)
        at = strstr(at, want[k]);
    CHECK(at != NULL);
    CHECK(text && strstr(text, "\nasyncio tasks: 6 in 3 event loops\n"));
    CHECK(text && strstr(text, ", running in thread with ident 777\n"));
    char line[256];
    snprintf(line, sizeof line, "\nEvent loop EventLoop at %#llx, not running\n",
             (unsigned long long)other_loop);
    CHECK(text && strstr(text, line));
    free(text);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

/* gather() of many tasks: the text names the first 8, JSON all of them; all come right
 * after the gathering task. */
static void test_big_gather(void)
{
    world_open(&moth_layout_py312);
    uint64_t code = mk_code("g.py", "f", 1);
    uint64_t kids[12], regs[2];
    char name[16];
    for (int i = 0; i < 12; i++) {
        snprintf(name, sizeof name, "kid-%d", i);
        kids[i] = mk_c_task(mk_text(name), 0, mk_coro(code, 0), 0);
    }
    static const char *const CHILDREN[] = {"_children"};
    uint64_t list = mk_list(kids, 12);
    uint64_t gathering = mk_instance(GATHERING, T.L->asyncio.future_size, CHILDREN, &list, 1);
    put64(gathering + T.L->asyncio.loop, LOOP);
    uint64_t boss = mk_c_task(mk_text("boss"), 0, mk_coro(code, mk_future_iter(gathering)),
                              gathering);
    uint64_t first[8] = {boss, kids[0], kids[1], kids[2], kids[3], kids[4], kids[5], kids[6]};
    uint64_t second[8] = {kids[7], kids[8], kids[9], kids[10], kids[11]};
    regs[0] = mk_weakset(first);
    regs[1] = mk_set(T.known.set_type, second);
    static const char *const NAMES[] = {"_scheduled_tasks", "_eager_tasks"};
    set_modules(NAMES, regs, 2, asyncio_dict());
    moth_dump d;
    char *text = dump_text(&d);
    CHECK(text && strstr(text, ", gathering Task \"kid-0\", Task \"kid-1\", Task \"kid-2\", "
                               "Task \"kid-3\", Task \"kid-4\", Task \"kid-5\", Task \"kid-6\", "
                               "Task \"kid-7\" and 4 more\n"));
    CHECK_EQ_U(d.ntasks, 13);
    for (size_t i = 0; i < d.ntasks && i < 13; i++) {
        snprintf(name, sizeof name, "kid-%zu", i - 1);
        CHECK_STR(d.tasks[i].name, i ? name : "boss");
    }
    char *json = render_json(&d);
    CHECK(json && strstr(json, "{\"name\": \"kid-11\", \"address\": "));
    free(json);
    free(text);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

/* `async for` over an async generator: the chain goes on through the step object
 * (async_generator_asend) into the generator's frame; a step whose generator is not one ends
 * the chain there. */
static void test_async_for(void)
{
    world_open(&moth_layout_py313);
    uint64_t fut = mk_c_future(C_FUTURE, 0);
    uint64_t sleep = mk_coro(mk_code("asyncio/tasks.py", "sleep", 30), mk_future_iter(fut));
    uint64_t agen = mk_coro(mk_code("s.py", "ticks", 10), sleep);
    put64(agen + 8, T.known.asyncgen_type);
    uint64_t asend_type = new_type("async_generator_asend");
    uint64_t step = new_object(asend_type, 40);
    put64(step + T.L->asend_gen, agen);
    uint64_t task = mk_c_task(mk_text("stream"), 0, mk_coro(mk_code("s.py", "consume", 20), step),
                              fut);
    uint64_t odd_step = new_object(asend_type, 40);
    put64(odd_step + T.L->asend_gen, fut);
    uint64_t odd = mk_c_task(mk_text("odd"), 0,
                             mk_coro(mk_code("s.py", "consume", 20), odd_step), 0);
    uint64_t set[8] = {task, odd};
    uint64_t reg = mk_weakset(set);
    static const char *const NAME[] = {"_scheduled_tasks"};
    set_modules(NAME, &reg, 1, asyncio_dict());
    moth_dump d;
    char *text = dump_text(&d);
    char want[512];
    snprintf(want, sizeof want, "\nTask \"stream\" (pending), awaiting _asyncio.Future at %#llx "
             "(pending)\n  File \"s.py\", line 21, in consume\n  File \"s.py\", line 11, in "
             "ticks\n  File \"asyncio/tasks.py\", line 31, in sleep\n",
             (unsigned long long)fut);
    CHECK(text && strstr(text, want));
    snprintf(want, sizeof want, "\nTask \"odd\" (pending), awaiting async_generator_asend at "
             "%#llx\n  File \"s.py\", line 21, in consume\n", (unsigned long long)odd_step);
    CHECK(text && strstr(text, want));
    free(text);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

/* A task at the end of its `async with asyncio.TaskGroup()` waits for the group's tasks:
 * TaskGroup.__aexit__'s self, its _tasks set. */
static void test_task_group(void)
{
    world_open(&moth_layout_py311);
    const moth_py_layout *L = T.L;
    uint64_t code = mk_code("t.py", "work", 1);
    uint64_t kid1 = mk_c_task(mk_text("kid-1"), 0, mk_coro(code, 0), 0);
    uint64_t kid2 = mk_c_task(mk_text("kid-2"), 0, mk_coro(code, 0), 0);
    uint64_t members[8] = {kid1, kid2};
    static const char *const TASKS[] = {"_tasks"};
    uint64_t set = mk_set(T.known.set_type, members);
    uint64_t group = mk_instance(mk_class("TaskGroup", 0, 16, 0), 24, TASKS, &set, 1);
    uint64_t fut = mk_c_future(C_FUTURE, 0);
    /* __aexit__(self, ...): self in its first slot, the awaited iterator on its stack. */
    uint64_t exit_code = mk_code("/nonexistent/asyncio/taskgroups.py", "__aexit__", 68);
    put32(exit_code + L->code.nlocalsplus, 1);
    uint64_t exit = mk_coro(exit_code, 0);
    uint64_t f = exit + L->gen.iframe;
    put64(f + L->frame.instr, exit_code + L->code.code_adaptive + 4);
    put32(f + L->frame.stacktop, 2);
    put64(f + L->frame.localsplus, group);
    put64(f + L->frame.localsplus + 8, mk_future_iter(fut));
    uint64_t owner = mk_c_task(mk_text("owner"), 0, mk_coro(mk_code("t.py", "main", 10), exit),
                               fut);
    uint64_t tasks[8] = {kid2, owner, kid1};
    uint64_t reg = mk_weakset(tasks);
    static const char *const NAME[] = {"_all_tasks"};
    set_modules(NAME, &reg, 1, asyncio_dict());
    moth_dump d;
    char *text = dump_text(&d);
    char want[1024];
    snprintf(want, sizeof want,
             "\nTask \"owner\" (pending), awaiting _asyncio.Future at %#llx (pending), for its "
             "TaskGroup: Task \"kid-1\", Task \"kid-2\"\n"
             "  File \"t.py\", line 11, in main\n"
             "  File \"/nonexistent/asyncio/taskgroups.py\", line 69, in __aexit__\n"
             "\nTask \"kid-1\" (pending)\n  File \"t.py\", line 2, in work\n"
             "\nTask \"kid-2\" (pending)\n", (unsigned long long)fut);
    CHECK(text && strstr(text, want));
    if (!text || !strstr(text, want))
        fprintf(stderr, "got:\n%s\nwanted:\n%s\n", text, want);
    char *json = render_json(&d);
    snprintf(want, sizeof want, "\"gathering\": [], \"taskgroup\": [{\"name\": \"kid-1\", "
             "\"address\": %llu}, {\"name\": \"kid-2\", \"address\": %llu}]}",
             (unsigned long long)kid1, (unsigned long long)kid2);
    CHECK(json && strstr(json, want));
    free(json);
    free(text);
    moth_dump_free(&d);
    /* A group whose _tasks cannot be read: the owner shows its future alone. */
    put64(group + 16, mk_dict(NULL, NULL, 0));
    text = dump_text(&d);
    snprintf(want, sizeof want, "\nTask \"owner\" (pending), awaiting _asyncio.Future at %#llx "
             "(pending)\n", (unsigned long long)fut);
    CHECK(text && strstr(text, want));
    free(text);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

/* Every allocation of collecting the tasks fails in turn: out of memory said, nothing leaked
 * (ASan checks at exit). */
static void test_out_of_memory(void)
{
    world_open(&moth_layout_py313);
    world w;
    build_world(&w, 0);
    uint64_t tasks[8] = {w.worker, w.boss, w.done, w.gather, w.sleepy};
    uint64_t reg = mk_weakset(tasks);
    static const char *const NAME[] = {"_scheduled_tasks"};
    set_modules(NAME, &reg, 1, asyncio_dict());
    moth_dump_opts o = {.source = 1, .async_tasks = 1, .locals = 1};
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_dump d;
        moth_error err = {{0}};
        int rc = collect(&d, &o, &err);
        int happened = FAULT_HAPPENED();
        if (rc < 0)
            CHECK(strstr(err.msg, "out of memory") != NULL);
        size_t ntasks = d.ntasks;
        moth_dump_free(&d);
        if (!happened) {
            CHECK(rc == 0 && ntasks == 5);
            break;
        }
    }
    moth_remote_close(&T);
}

int main(void)
{
    H.bytes = calloc(1, HEAP_SIZE);
    RUN(test_tasks_of_every_layout);
    RUN(test_coroutines);
    RUN(test_futures);
    RUN(test_nothing_to_show);
    RUN(test_broken_tasks);
    RUN(test_order_and_loops);
    RUN(test_big_gather);
    RUN(test_async_for);
    RUN(test_task_group);
    RUN(test_out_of_memory);
    free(H.bytes);
    return check_summary();
}
