/* Fuzz target: the value reader (values.c, locals.c) on target memory made of the fuzz input.
 * The made-up target of fake_target.h holds the known type objects; the input is copied after
 * them, and its first byte picks the CPython version whose layout reads it. The object at the
 * input's start is shown as --locals shows it, and the input's words 1-3 are taken as a frame
 * (its address, the names tuple and the kinds bytes of a code entry) whose variables are read.
 * So that the fuzzer reaches objects of every type, words are relocated as they are copied:
 * 0xFEFE000000000000 | i is the i-th known object (KNOWN below), 0xFDFD000000000000 | off the
 * address of the input's byte off. */
#include <stddef.h>
#include <stdint.h>

#include "dump.h"
#include "fake_target.h"
#include "values.h"

#define INPUT_AT (HEAP_SIZE / 2)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 32 || size > HEAP_SIZE / 2)
        return 0;
    if (!H.bytes)
        H.bytes = calloc(1, HEAP_SIZE);
    static const moth_py_layout *const LAYOUTS[] = {&moth_layout_py311, &moth_layout_py312,
                                                    &moth_layout_py313};
    target_open(LAYOUTS[data[0] % 3]);
    memcpy(H.bytes + INPUT_AT, data, size);
    uint64_t input = HEAP_BASE + INPUT_AT;
    const moth_known_objects *k = &T.known;
    const uint64_t KNOWN[16] = {k->none, k->true_obj, k->false_obj, k->int_type, k->float_type,
                                k->str_type, k->bytes_type, k->tuple_type, k->list_type,
                                k->dict_type, k->set_type, k->frozenset_type, k->cell_type,
                                k->type_type, k->bool_type, 0};
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
    moth_value_limits limits = {1 + data[1] % 250, 1 + data[2] % 12};
    free(moth_value_repr(&T, input + 8, &limits));

    uint64_t words[4];
    memcpy(words, data, sizeof words);
    T.codes.items = calloc(1, sizeof *T.codes.items);
    T.codes.count = T.codes.cap = 1;
    T.codes.items[0].nlocalsplus = (uint32_t)(words[0] >> 40) % 64;
    T.codes.items[0].argcount = (uint32_t)(words[0] >> 8) % 8;
    T.codes.items[0].flags = (uint32_t)(words[0] >> 16);
    T.codes.items[0].localsplusnames_obj = words[2];
    T.codes.items[0].localspluskinds_obj = words[3];
    moth_dump_frame f;
    memset(&f, 0, sizeof f);
    moth_dump_frame_vars(&T, words[1], 0, &f);
    for (size_t i = 0; i < f.nvars; i++) {
        free(f.vars[i].name);
        free(f.vars[i].value);
    }
    free(f.vars);
    moth_remote_close(&T);
    return 0;
}
