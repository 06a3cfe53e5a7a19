/* Fuzz target: `moth dump --async` (coro.c, asyncio_tasks.c, dump_async.c, the tasks'
 * rendering) on target memory made of the fuzz input. The made-up target of fake_asyncio.h
 * holds asyncio's types and an event loop; the input is copied after them, its first
 * byte picks the CPython version whose layout reads it, and the object at its byte 8 is
 * registered in asyncio.tasks under the name its second byte picks (a WeakSet, a set, or
 * anything). Every task found is read (coroutine chains, what each awaits, gather()) and
 * rendered as text and JSON. Words are relocated as they are copied, so that the fuzzer
 * reaches real objects: 0xFEFE000000000000 | i is the i-th known object (KNOWN below),
 * 0xFDFD000000000000 | off the address of the input's byte off. */
#include <stddef.h>
#include <stdint.h>

#include "dump.h"
#include "fake_asyncio.h"
#include "source.h"

#define INPUT_AT (HEAP_SIZE / 2)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 16 || size > HEAP_SIZE / 2)
        return 0;
    if (!H.bytes)
        H.bytes = calloc(1, HEAP_SIZE);
    static const moth_py_layout *const LAYOUTS[] = {&moth_layout_py311, &moth_layout_py312,
                                                    &moth_layout_py313};
    world_open(LAYOUTS[data[0] % 3]);
    const moth_known_objects *k = &T.known;
    const uint64_t KNOWN[16] = {k->none, k->int_type, k->str_type, k->tuple_type, k->list_type,
                                k->set_type, k->weakref_type, k->coro_type, k->gen_type,
                                C_TASK, C_FUTURE, FUTURE_ITER, GATHERING, WEAKSET,
                                k->code_type, k->bytes_type};
    uint64_t input = HEAP_BASE + INPUT_AT;
    static const char *const NAMES[] = {"_all_tasks", "_scheduled_tasks", "_eager_tasks"};
    uint64_t registry = input + 8;
    set_modules(&NAMES[data[1] % 3], &registry, 1, asyncio_dict());
    memcpy(H.bytes + INPUT_AT, data, size);
    for (size_t at = 0; at + 8 <= size; at += 8) {
        uint64_t w;
        memcpy(&w, data + at, 8);
        if (w >> 48 == 0xFEFE)
            w = KNOWN[w & 15];
        else if (w >> 48 == 0xFDFD)
            w = input + (w & 0xffff);
        else
            continue;
        memcpy(H.bytes + INPUT_AT + at, &w, 8);
    }
    moth_dump d;
    memset(&d, 0, sizeof d);
    moth_sources src;
    moth_sources_init(&src, "", "");
    moth_dump_opts o = {.source = 1, .async_tasks = 1, .locals = data[2] & 1};
    moth_error err;
    if (moth_dump_collect_tasks(&T, &src, &o, &d, &err) == 0) {
        moth_sb out = MOTH_SB_INIT;
        moth_dump_render_text(&d, &o, data[2] & 2, &out);
        moth_dump_render_json(&d, &out);
        moth_sb_free(&out);
    }
    moth_sources_free(&src);
    moth_dump_free(&d);
    moth_remote_close(&T);
    return 0;
}
