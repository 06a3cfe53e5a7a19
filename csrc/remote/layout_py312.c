/* layout_py312.c: CPython 3.12's offsets (see layout.h), from its own headers; checked by
 * tests/c/layout_check.c against every installed 3.12. */
#include "layout.h"

const moth_py_layout moth_layout_py312 = {
    .version = 0x030c,
    .name = "3.12",
    .runtime =
        {.interpreters_head = 40, .gil_locked = MOTH_NO_FIELD, .gil_last_holder = MOTH_NO_FIELD},
    .interp = {.modules = 944, .gil = 384, .next = 0, .threads_head = 72, .runtime = 96, .id = 8},
    .gil = {.locked = 16, .last_holder = 8},
    .tstate =
        {.next = 8, .interp = 16, .cframe = 56, .current_frame = MOTH_NO_FIELD, .thread_id = 136,
         .native_thread_id = 144, .datastack_chunk = 232, .datastack_top = 240},
    .cframe = {.current_frame = 0},
    .chunk = {.previous = 0, .size = 8, .top = 16},
    .frame =
        {.code = 0, .instr = 56, .ip_kind = MOTH_IP_PREV_INSTR, .funcobj = 16,
         .is_entry = MOTH_NO_FIELD, .owner_cstack = 3, .owner_generator = 1, .previous = 8,
         .stacktop = 64, .owner = 70, .localsplus = 72, .size = 72},
    .code =
        {.size = 16, .flags = 48, .argcount = 52, .posonlyargcount = 56, .kwonlyargcount = 60,
         .firstlineno = 68, .nlocalsplus = 72, .localsplusnames = 96, .localspluskinds = 104,
         .filename = 112, .name = 120, .qualname = 128, .linetable = 136, .code_adaptive = 192},
    .type =
        {.name = 24, .basicsize = 32, .flags = 168, .base = 256, .dictoffset = 288, .dict = 264,
         .mro = 344},
    .heaptype_cached_keys = 880,
    .unicode =
        {.length = 16, .state = 32, .ascii_size = 40, .compact_size = 56, .kind_shift = 2,
         .compact_bit = 5, .ascii_bit = 6},
    .bytes = {.size = 16, .sval = 32},
    .integer = {.size_or_tag = 16, .digit = 24, .tagged = 1},
    .float_value = 16,
    .tuple = {.size = 16, .item = 24},
    .list = {.size = 16, .item = 24},
    .dict =
        {.used = 16, .keys = 32, .values = 40, .keys_log2_size = 8, .keys_log2_index_bytes = 9,
         .keys_kind = 10, .keys_nentries = 24, .keys_indices = 32, .entry_size = 24,
         .unicode_entry_size = 16, .values_array = 0, .style = MOTH_DICT_312},
    .set = {.used = 24, .mask = 32, .table = 40, .entry_size = 16},
    .gen =
        {.iframe = 72, .frame_state = 67, .created = -2, .suspended = -1,
         .suspended_yield_from = MOTH_NO_STATE, .completed = 1},
    .module_dict = 16,
    .opcode = {.resume = 151, .resume_alt = 240},
    .asend_gen = 16,
    .cell_ref = 16,
    .weakref_object = 16,
    .asyncio =
        {.future_size = 128, .task_size = 176, .loop = 16, .state = 88, .fut_waiter = 128,
         .coro = 136, .name = 144, .num_cancels_requested = 168, .futureiter_future = 16},
    .pending =
        {.queue = 2016, .queue_in_runtime = 1, .lock = 8, .calls_to_do = 16, .npending = MOTH_NO_FIELD,
         .max = MOTH_NO_FIELD, .calls = 24, .call_size = 16, .ncalls = 32, .first = 536,
         .last = 540, .interp_eval_breaker = 368, .tstate_eval_breaker = MOTH_NO_FIELD,
         .calls_bit = 0, .lock_is_mutex = 0},
    .signals = {.handlers = 464, .is_tripped = 1512, .handler_size = 16, .handler_func = 8,
                .nsig = 65},
};
