/* layout_py311.c: CPython 3.11's offsets (see layout.h), from its own headers; checked by
 * tests/c/layout_check.c against every installed 3.11. */
#include "layout.h"

const moth_py_layout moth_layout_py311 = {
    .version = 0x030b,
    .name = "3.11",
    .runtime = {.interpreters_head = 40, .gil_locked = 376, .gil_last_holder = 368},
    .interp =
        {.modules = 888, .gil = MOTH_NO_FIELD, .next = 0, .threads_head = 16, .runtime = 40,
         .id = 48},
    .gil = {.locked = MOTH_NO_FIELD, .last_holder = MOTH_NO_FIELD},
    .tstate =
        {.next = 8, .interp = 16, .cframe = 56, .current_frame = MOTH_NO_FIELD, .thread_id = 152,
         .native_thread_id = 160, .datastack_chunk = 296, .datastack_top = 304},
    .cframe = {.current_frame = 8},
    .chunk = {.previous = 0, .size = 8, .top = 16},
    .frame =
        {.code = 32, .instr = 56, .ip_kind = MOTH_IP_PREV_INSTR, .funcobj = 0, .is_entry = 68,
         .owner_cstack = 255, .owner_generator = 1, .previous = 48, .stacktop = 64, .owner = 69,
         .localsplus = 72, .size = 72},
    .code =
        {.size = 16, .flags = 48, .argcount = 56, .posonlyargcount = 60, .kwonlyargcount = 64,
         .firstlineno = 72, .nlocalsplus = 76, .localsplusnames = 96, .localspluskinds = 104,
         .filename = 112, .name = 120, .qualname = 128, .linetable = 136, .code_adaptive = 184},
    .type =
        {.name = 24, .basicsize = 32, .flags = 168, .base = 256, .dictoffset = 288, .dict = 264,
         .mro = 344},
    .heaptype_cached_keys = 872,
    .unicode =
        {.length = 16, .state = 32, .ascii_size = 48, .compact_size = 72, .kind_shift = 2,
         .compact_bit = 5, .ascii_bit = 6},
    .bytes = {.size = 16, .sval = 32},
    .integer = {.size_or_tag = 16, .digit = 24, .tagged = 0},
    .float_value = 16,
    .tuple = {.size = 16, .item = 24},
    .list = {.size = 16, .item = 24},
    .dict =
        {.used = 16, .keys = 32, .values = 40, .keys_log2_size = 8, .keys_log2_index_bytes = 9,
         .keys_kind = 10, .keys_nentries = 24, .keys_indices = 32, .entry_size = 24,
         .unicode_entry_size = 16, .values_array = 0, .style = MOTH_DICT_311},
    .set = {.used = 24, .mask = 32, .table = 40, .entry_size = 16},
    .gen =
        {.iframe = 80, .frame_state = 75, .created = -2, .suspended = -1,
         .suspended_yield_from = MOTH_NO_STATE, .completed = 1},
    .module_dict = 16,
    .opcode = {.resume = 151, .resume_alt = 150},
    .asend_gen = 16,
    .cell_ref = 16,
    .weakref_object = 16,
    .asyncio =
        {.future_size = 128, .task_size = 176, .loop = 16, .state = 88, .fut_waiter = 128,
         .coro = 136, .name = 144, .num_cancels_requested = 168, .futureiter_future = 16},
    .pending =
        {.queue = 112, .queue_in_runtime = 0, .lock = 0, .calls_to_do = 8, .npending = MOTH_NO_FIELD,
         .max = MOTH_NO_FIELD, .calls = 16, .call_size = 16, .ncalls = 32, .first = 528,
         .last = 532, .interp_eval_breaker = 100, .tstate_eval_breaker = MOTH_NO_FIELD,
         .calls_bit = 0, .lock_is_mutex = 0},
    .signals =
        {.handlers = MOTH_NO_FIELD, .is_tripped = MOTH_NO_FIELD, .handler_size = 16,
         .handler_func = 8, .nsig = 65},
};
