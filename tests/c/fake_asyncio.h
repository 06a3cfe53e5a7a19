/* fake_asyncio.h: asyncio in the made-up target of fake_target.h, for the C tests and the fuzz
 * target of `moth dump --async`: the C and pure-Python Task and Future types, an event loop,
 * code objects, coroutines suspended at an await or a yield, weak sets, and sys.modules with
 * asyncio.tasks' registries, each laid out as the chosen CPython version lays it out. */
#ifndef MOTH_FAKE_ASYNCIO_H
#define MOTH_FAKE_ASYNCIO_H

#include "fake_target.h"

/* The made-up world: asyncio's types and an event loop. */
static uint64_t C_TASK, C_FUTURE, FUTURE_ITER, PY_FUTURE, PY_TASK, GATHERING, LOOP, WEAKSET;

/* A code object of 8 code units, all on line firstline + 1, whose unit 3 is RESUME 3 (after an
 * await) and unit 5 RESUME 1 (after a plain yield). */
static inline uint64_t mk_code(const char *file, const char *name, int firstline)
{
    const moth_py_layout *L = T.L;
    uint64_t code = new_object(T.known.code_type, L->code.code_adaptive + 16);
    put64(code + L->code.size, 8);
    put32(code + L->code.firstlineno, (uint32_t)firstline);
    put64(code + L->code.filename, mk_text(file));
    put64(code + L->code.name, mk_text(name));
    put64(code + L->code.qualname, mk_text(name));
    put64(code + L->code.linetable, mk_bytes("\xef\x02", 2)); /* 8 units, line delta +1 */
    put64(code + L->code.localsplusnames, mk_tuple(NULL, 0));
    put64(code + L->code.localspluskinds, mk_bytes("", 0));
    put8(code + L->code.code_adaptive + 6, L->opcode.resume);
    put8(code + L->code.code_adaptive + 7, 3);
    put8(code + L->code.code_adaptive + 10, L->opcode.resume_alt);
    put8(code + L->code.code_adaptive + 11, 1);
    return code;
}

/* A coroutine suspended in an await of `awaits`, or at a plain yield when awaits is 0. */
static inline uint64_t mk_coro(uint64_t code, uint64_t awaits)
{
    const moth_py_layout *L = T.L;
    uint64_t coro = new_object(T.known.coro_type, L->gen.iframe + L->frame.localsplus + 32);
    uint64_t f = coro + L->gen.iframe;
    /* 3.11/3.12 point at the yield, before the RESUME; 3.13 at the RESUME itself. */
    int unit = (awaits ? 2 : 4) + (L->frame.ip_kind == MOTH_IP_INSTR_PTR);
    put64(f + L->frame.code, code);
    put64(f + L->frame.instr, code + L->code.code_adaptive + 2 * (uint64_t)unit);
    put32(f + L->frame.stacktop, 1);
    put64(f + L->frame.localsplus, awaits ? awaits : T.known.none);
    int8_t state = awaits && L->gen.suspended_yield_from != MOTH_NO_STATE
                       ? L->gen.suspended_yield_from
                       : L->gen.suspended;
    put8(coro + L->gen.frame_state, (uint8_t)state);
    return coro;
}

static inline void set_state(uint64_t coro, int8_t state)
{
    put8(coro + T.L->gen.frame_state, (uint8_t)state);
}

static inline uint64_t mk_class(const char *name, uint64_t base, int64_t dictoffset, uint64_t dict)
{
    uint64_t type = new_type(name);
    put64(type + T.L->type.base, base);
    put64(type + T.L->type.dictoffset, (uint64_t)dictoffset);
    put64(type + T.L->type.dict, dict);
    return type;
}

static inline void set_mro(uint64_t type, const uint64_t *classes, size_t n)
{
    put64(type + T.L->type.mro, mk_tuple(classes, n));
}

/* An instance keeping its attributes in a dict at its type's tp_dictoffset. */
static inline uint64_t mk_instance(uint64_t type, size_t size, const char *const *names,
                            const uint64_t *values, size_t n)
{
    uint64_t keys[8];
    for (size_t i = 0; i < n; i++)
        keys[i] = mk_text(names[i]);
    uint64_t offset;
    memcpy(&offset, H.bytes + (type + T.L->type.dictoffset - HEAP_BASE), 8);
    uint64_t obj = new_object(type, size > offset + 8 ? size : offset + 8);
    put64(obj + offset, mk_dict(keys, values, n));
    return obj;
}

static inline uint64_t mk_c_future(uint64_t type, uint32_t state)
{
    const moth_py_layout *L = T.L;
    uint64_t f = new_object(type, L->asyncio.future_size);
    put64(f + L->asyncio.loop, LOOP);
    put32(f + L->asyncio.state, state);
    return f;
}

static inline uint64_t mk_c_task(uint64_t name, uint32_t state, uint64_t coro, uint64_t waiter)
{
    const moth_py_layout *L = T.L;
    uint64_t task = new_object(C_TASK, L->asyncio.task_size);
    put64(task + L->asyncio.loop, LOOP);
    put32(task + L->asyncio.state, state);
    put64(task + L->asyncio.name, name);
    put64(task + L->asyncio.coro, coro);
    put64(task + L->asyncio.fut_waiter, waiter ? waiter : T.known.none);
    return task;
}

static inline uint64_t mk_future_iter(uint64_t future)
{
    uint64_t it = new_object(FUTURE_ITER, 32);
    put64(it + T.L->asyncio.futureiter_future, future);
    return it;
}

static inline uint64_t mk_weakref(uint64_t obj)
{
    uint64_t ref = new_object(T.known.weakref_type, 48);
    put64(ref + T.L->weakref_object, obj);
    return ref;
}

/* A WeakSet of up to 8 objects (0 leaves a slot empty). */
static inline uint64_t mk_weakset(const uint64_t *objs)
{
    uint64_t slots[8];
    for (int i = 0; i < 8; i++)
        slots[i] = objs[i] ? mk_weakref(objs[i]) : 0;
    static const char *const DATA[] = {"data"};
    uint64_t data = mk_set(T.known.set_type, slots);
    return mk_instance(WEAKSET, 24, DATA, &data, 1);
}

/* sys.modules with asyncio.tasks holding `registries` under `names`, and _asyncio (0: none). */
static inline void set_modules(const char *const *names, const uint64_t *registries, size_t n,
                        uint64_t asyncio_dict)
{
    const moth_py_layout *L = T.L;
    uint64_t keys[8], mods[8];
    for (size_t i = 0; i < n; i++)
        keys[i] = mk_text(names[i]);
    uint64_t tasks_mod = new_object(T.known.module_type, 32);
    put64(tasks_mod + L->module_dict, mk_dict(keys, registries, n));
    size_t m = 0;
    keys[m] = mk_text("asyncio.tasks");
    mods[m++] = tasks_mod;
    if (asyncio_dict) {
        uint64_t mod = new_object(T.known.module_type, 32);
        put64(mod + L->module_dict, asyncio_dict);
        keys[m] = mk_text("_asyncio");
        mods[m++] = mod;
    }
    T.interp = alloc(L->interp.modules + 8);
    put64(T.interp + L->interp.modules, mk_dict(keys, mods, m));
}

/* The target with asyncio's types and a loop running in thread 1234. */
static inline void world_open(const moth_py_layout *layout)
{
    target_open(layout);
    const moth_py_layout *L = T.L;
    moth_known_objects *k = &T.known;
    k->code_type = new_type("code");
    k->coro_type = new_type("coroutine");
    k->gen_type = new_type("generator");
    k->asyncgen_type = new_type("async_generator");
    k->weakref_type = new_type("weakref.ReferenceType");
    k->module_type = new_type("module");
    C_FUTURE = mk_class("_asyncio.Future", 0, 0, 0);
    put64(C_FUTURE + L->type.basicsize, L->asyncio.future_size);
    C_TASK = mk_class("_asyncio.Task", C_FUTURE, 0, 0);
    put64(C_TASK + L->type.basicsize, L->asyncio.task_size);
    FUTURE_ITER = new_type("_asyncio.FutureIter");
    WEAKSET = mk_class("WeakSet", 0, 16, 0);
    GATHERING = mk_class("_GatheringFuture", C_FUTURE, L->asyncio.future_size, 0);
    uint64_t pending = mk_text("PENDING"), state_key = mk_text("_state");
    PY_FUTURE = mk_class("Future", 0, 16, mk_dict(&state_key, &pending, 1));
    PY_TASK = mk_class("Task", PY_FUTURE, 16, mk_dict(NULL, NULL, 0));
    uint64_t mro[] = {PY_TASK, PY_FUTURE};
    set_mro(PY_TASK, mro, 2);
    set_mro(PY_FUTURE, mro + 1, 1);
    static const char *const THREAD[] = {"_thread_id"};
    uint64_t ident = mk_small(1234);
    LOOP = mk_instance(mk_class("_UnixSelectorEventLoop", 0, 16, 0), 24, THREAD, &ident, 1);
}

static inline uint64_t asyncio_dict(void)
{
    uint64_t keys[] = {mk_text("Task"), mk_text("Future")}, values[] = {C_TASK, C_FUTURE};
    return mk_dict(keys, values, 2);
}

#endif
