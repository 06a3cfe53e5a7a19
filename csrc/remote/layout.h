/*
 * layout.h: where things are in one CPython version's memory, for reading it from outside.
 *
 * The out-of-process reader includes no interpreter header (it reads a 3.13 process from a moth
 * running on 3.11), so each supported version has a table of the offsets it needs, written
 * from that version's own headers: layout_py311.c, layout_py312.c, layout_py313.c. A new
 * version is one new file and one line in layout.c. tests/c/layout_check.c compiles each table
 * against the real headers of each installed Python and compares every offset.
 *
 * Offsets are in bytes from the start of the structure named by the group. MOTH_NO_FIELD marks
 * a field this version does not have.
 */
#ifndef MOTH_LAYOUT_H
#define MOTH_LAYOUT_H

#include <stdint.h>

#define MOTH_NO_FIELD UINT32_MAX
#define MOTH_NO_STATE INT8_MAX

/* How a frame's instruction pointer is to be read: the code unit before the next instruction
 * (3.11 and 3.12's prev_instr) or the instruction running or about to run (3.13's instr_ptr).
 * Both give the frame's current line the same way: unit index = (ptr - code start) / 2. */
enum moth_ip_kind { MOTH_IP_PREV_INSTR = 0, MOTH_IP_INSTR_PTR = 1 };

/* Where an object without __slots__ keeps its attributes. */
enum moth_dict_style {
    MOTH_DICT_311 = 0, /* values array at obj - 4 words, dict at obj - 3 words */
    MOTH_DICT_312 = 1, /* one word at obj - 3 words: odd, the values pointer - 1; else the dict */
    MOTH_DICT_313 = 2, /* dict at obj - 3 words; else values inline at obj + tp_basicsize */
};

typedef struct moth_py_layout {
    uint32_t version;        /* PY_VERSION_HEX >> 16, e.g. 0x030b */
    const char *name;        /* "3.11" */

    struct {
        uint32_t interpreters_head;
        uint32_t gil_locked;      /* 3.11: the GIL lives in the runtime */
        uint32_t gil_last_holder;
    } runtime;

    struct {
        uint32_t next;
        uint32_t threads_head;
        uint32_t runtime;         /* points back at _PyRuntime: how candidates are checked */
        uint32_t id;
        uint32_t modules;         /* sys.modules */
        uint32_t gil;             /* 3.12+: pointer to the interpreter's GIL */
    } interp;

    struct {
        uint32_t locked, last_holder;  /* in struct _gil_runtime_state (3.12+) */
    } gil;

    struct {
        uint32_t next;
        uint32_t interp;
        uint32_t cframe;          /* 3.11/3.12: pointer to the _PyCFrame */
        uint32_t current_frame;   /* 3.13: the frame itself */
        uint32_t thread_id;
        uint32_t native_thread_id;
        uint32_t datastack_chunk;
        uint32_t datastack_top;
    } tstate;

    struct {
        uint32_t current_frame;
    } cframe;

    struct {
        uint32_t previous, size, top;  /* _PyStackChunk; top in words */
    } chunk;

    struct {
        uint32_t code;            /* f_code, or 3.13's f_executable */
        uint32_t previous;
        uint32_t funcobj;
        uint32_t instr;           /* prev_instr / instr_ptr */
        uint32_t stacktop;
        uint32_t owner;
        uint32_t is_entry;        /* 3.11 only */
        uint32_t localsplus;
        uint32_t size;            /* sizeof the fixed part (localsplus excluded) */
        uint8_t ip_kind;          /* enum moth_ip_kind */
        uint8_t owner_cstack;     /* 3.12+: FRAME_OWNED_BY_CSTACK; 0xff when none */
        uint8_t owner_generator;
    } frame;

    struct {
        uint32_t size;            /* ob_size: code units */
        uint32_t flags, argcount, posonlyargcount, kwonlyargcount, firstlineno, nlocalsplus;
        uint32_t localsplusnames, localspluskinds;
        uint32_t filename, name, qualname, linetable;
        uint32_t code_adaptive;   /* where the bytecode starts */
    } code;

    struct {
        uint32_t name, basicsize, flags;
        uint32_t base;            /* tp_base */
        uint32_t dictoffset;      /* tp_dictoffset: where an instance keeps its __dict__ */
        uint32_t dict;            /* tp_dict: a class's attributes (NULL for 3.12+'s static
                                   * builtin types, which keep theirs elsewhere) */
        uint32_t mro;             /* tp_mro: the tuple of classes attributes are looked up in */
    } type;

    uint32_t heaptype_cached_keys;

    struct {
        uint32_t length, state;
        uint32_t ascii_size, compact_size;  /* data follows these headers */
        uint8_t kind_shift, compact_bit, ascii_bit;
    } unicode;

    struct {
        uint32_t size, sval;
    } bytes;

    struct {
        uint32_t size_or_tag;     /* 3.11: signed digit count; 3.12+: lv_tag */
        uint32_t digit;
        uint8_t tagged;           /* 1 for 3.12's lv_tag encoding */
    } integer;

    uint32_t float_value;

    struct {
        uint32_t size, item;
    } tuple, list;

    struct {
        uint32_t used, keys, values;
        uint32_t keys_log2_size, keys_log2_index_bytes, keys_kind, keys_nentries, keys_indices;
        uint32_t entry_size, unicode_entry_size;
        uint32_t values_array;    /* offset of the values inside PyDictValues */
        uint8_t style;            /* enum moth_dict_style */
    } dict;

    struct {
        uint32_t used, mask, table, entry_size;
    } set;

    struct {
        uint32_t iframe, frame_state;
        /* gi_frame_state values: not started, suspended at a yield, suspended in a yield from
         * or await (3.13; MOTH_NO_STATE before: the instruction after the frame's tells), and
         * the first state of a finished frame */
        int8_t created, suspended, suspended_yield_from, completed;
    } gen;

    /* The RESUME instruction that follows a frame's yield, and its other form (3.11's quickened
     * RESUME_QUICK, INSTRUMENTED_RESUME since 3.12): an argument >= 2 means the frame waits in
     * a yield from or await (3.11, 3.12). */
    struct {
        uint8_t resume, resume_alt;
    } opcode;

    /* PyAsyncGenASend.ags_gen: the async generator an `async for` step (its __anext__())
     * drives; private to Objects/genobject.c, the same in 3.11-3.13. */
    uint32_t asend_gen;

    uint32_t cell_ref;            /* PyCellObject.ob_ref: a closure variable's value */
    uint32_t weakref_object;      /* PyWeakReference.wr_object (None once dead) */

    /* _asyncio's FutureObj and TaskObj: private to Modules/_asynciomodule.c, so taken from that
     * version's source, and checked at run time against the sizes of _asyncio.Future and
     * _asyncio.Task (tp_basicsize) before anything is read through them. */
    struct {
        uint32_t future_size, task_size;
        uint32_t loop, state;     /* fut_state: 0 pending, 1 cancelled, 2 finished */
        uint32_t fut_waiter, coro, name, num_cancels_requested;
        uint32_t futureiter_future;
    } asyncio;

    uint32_t module_dict;

    /* What attaching writes (attach.c). The interpreter's pending-call queue: 3.11 and 3.12
     * keep {lock: a PyThread lock, that is a sem_t pointer; calls_to_do; calls[] {func, arg};
     * first; last} with interp->ceval.eval_breaker; 3.13 keeps {mutex: a PyMutex byte;
     * npending; max; calls[] {func, arg, flags}; first; next}, signalled by a bit of each
     * thread state's eval_breaker. */
    struct {
        /* The queue only the main thread runs, where its calls can stop the program where its
         * main thread is: 3.11's interp->ceval.pending (from the interpreter state), 3.12's
         * and 3.13's _PyRuntime.ceval.pending_mainthread (from the runtime). */
        uint32_t queue;
        uint8_t queue_in_runtime;
        uint32_t lock;               /* in the queue */
        uint32_t calls_to_do;        /* 3.11, 3.12 */
        uint32_t npending, max;      /* 3.13 */
        uint32_t calls, call_size, ncalls;
        uint32_t first, last;        /* last: the next free slot (3.13's `next`) */
        uint32_t interp_eval_breaker; /* 3.11, 3.12: interp->ceval.eval_breaker */
        uint32_t tstate_eval_breaker; /* 3.13: tstate->eval_breaker ... */
        uint32_t calls_bit;          /* ... and its _PY_CALLS_TO_DO_BIT */
        uint8_t lock_is_mutex;       /* 3.13 */
    } pending;
    /* The signal handlers' table {tripped, func}[nsig] and is_tripped: in _PyRuntime.signals
     * since 3.12; 3.11 has them as static variables of signalmodule.c (symbols `Handlers`,
     * `is_tripped`: handlers and is_tripped are MOTH_NO_FIELD). */
    struct {
        uint32_t handlers, is_tripped;
        uint32_t handler_size, handler_func, nsig;
    } signals;
} moth_py_layout;

extern const moth_py_layout moth_layout_py311;
extern const moth_py_layout moth_layout_py312;
extern const moth_py_layout moth_layout_py313;

/* The layout for a version (major << 8 | minor), or NULL when moth does not know it. */
const moth_py_layout *moth_layout_for(uint32_t version);

#endif
