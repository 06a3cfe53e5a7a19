/*
 * layout_check.c: checks moth's table of one CPython version's offsets (csrc/remote/layout_*.c)
 * against that version's own headers. Compiled once per installed Python by
 * tests/test_remote_layout.py with that Python's include directories, and linked with the
 * layout tables; prints every field with both values and exits 1 on any difference.
 */
#define Py_BUILD_CORE 1
#include "Python.h"
#include "frameobject.h"
#include "internal/pycore_code.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_moduleobject.h"
#include "internal/pycore_runtime.h"
#include "internal/pycore_ceval.h"
#include "internal/pycore_signal.h"
#include "opcode.h"
#if PY_VERSION_HEX >= 0x030c0000
#include "internal/pycore_long.h"
#endif
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "layout.h"

#if PY_VERSION_HEX >= 0x030d0000
#define TABLE moth_layout_py313
#elif PY_VERSION_HEX >= 0x030c0000
#define TABLE moth_layout_py312
#else
#define TABLE moth_layout_py311
#endif

static int failures;

static void check(const char *name, uint64_t moth, uint64_t real)
{
    int ok = moth == real;
    printf("%-32s moth %6llu  headers %6llu%s\n", name, (unsigned long long)moth,
           (unsigned long long)real, ok ? "" : "   <-- differs");
    if (!ok)
        failures++;
}

#define CHECK(field, value) check(#field, TABLE.field, (uint64_t)(value))
#define ABSENT(field) check(#field, TABLE.field, MOTH_NO_FIELD)

/* The bit a one-bit field of the unicode state occupies. */
#define STATE_BIT(member)                                                   \
    ({                                                                      \
        PyASCIIObject o;                                                    \
        memset(&o, 0, sizeof o);                                            \
        o.state.member = 1;                                                 \
        unsigned int w;                                                     \
        memcpy(&w, (char *)&o + offsetof(PyASCIIObject, state), sizeof w);  \
        __builtin_ctz(w);                                                   \
    })

int main(void)
{
    CHECK(version, PY_VERSION_HEX >> 16);

    CHECK(runtime.interpreters_head, offsetof(_PyRuntimeState, interpreters.head));
#if PY_VERSION_HEX < 0x030c0000
    CHECK(runtime.gil_locked, offsetof(_PyRuntimeState, ceval.gil.locked));
    CHECK(runtime.gil_last_holder, offsetof(_PyRuntimeState, ceval.gil.last_holder));
    CHECK(interp.modules, offsetof(PyInterpreterState, modules));
    ABSENT(interp.gil);
    ABSENT(gil.locked);
    ABSENT(gil.last_holder);
#else
    ABSENT(runtime.gil_locked);
    ABSENT(runtime.gil_last_holder);
    CHECK(interp.modules, offsetof(PyInterpreterState, imports.modules));
    CHECK(interp.gil, offsetof(PyInterpreterState, ceval.gil));
    CHECK(gil.locked, offsetof(struct _gil_runtime_state, locked));
    CHECK(gil.last_holder, offsetof(struct _gil_runtime_state, last_holder));
#endif
    CHECK(interp.next, offsetof(PyInterpreterState, next));
    CHECK(interp.threads_head, offsetof(PyInterpreterState, threads.head));
    CHECK(interp.runtime, offsetof(PyInterpreterState, runtime));
    CHECK(interp.id, offsetof(PyInterpreterState, id));

    CHECK(tstate.next, offsetof(PyThreadState, next));
    CHECK(tstate.interp, offsetof(PyThreadState, interp));
#if PY_VERSION_HEX < 0x030d0000
    CHECK(tstate.cframe, offsetof(PyThreadState, cframe));
    ABSENT(tstate.current_frame);
    CHECK(cframe.current_frame, offsetof(_PyCFrame, current_frame));
#else
    ABSENT(tstate.cframe);
    CHECK(tstate.current_frame, offsetof(PyThreadState, current_frame));
    ABSENT(cframe.current_frame);
#endif
    CHECK(tstate.thread_id, offsetof(PyThreadState, thread_id));
    CHECK(tstate.native_thread_id, offsetof(PyThreadState, native_thread_id));
    CHECK(tstate.datastack_chunk, offsetof(PyThreadState, datastack_chunk));
    CHECK(tstate.datastack_top, offsetof(PyThreadState, datastack_top));
    CHECK(chunk.previous, offsetof(_PyStackChunk, previous));
    CHECK(chunk.size, offsetof(_PyStackChunk, size));
    CHECK(chunk.top, offsetof(_PyStackChunk, top));

#if PY_VERSION_HEX >= 0x030d0000
    CHECK(frame.code, offsetof(_PyInterpreterFrame, f_executable));
    CHECK(frame.instr, offsetof(_PyInterpreterFrame, instr_ptr));
    CHECK(frame.ip_kind, MOTH_IP_INSTR_PTR);
#else
    CHECK(frame.code, offsetof(_PyInterpreterFrame, f_code));
    CHECK(frame.instr, offsetof(_PyInterpreterFrame, prev_instr));
    CHECK(frame.ip_kind, MOTH_IP_PREV_INSTR);
#endif
#if PY_VERSION_HEX >= 0x030c0000
    CHECK(frame.funcobj, offsetof(_PyInterpreterFrame, f_funcobj));
    ABSENT(frame.is_entry);
    CHECK(frame.owner_cstack, FRAME_OWNED_BY_CSTACK);
#else
    CHECK(frame.funcobj, offsetof(_PyInterpreterFrame, f_func));
    CHECK(frame.is_entry, offsetof(_PyInterpreterFrame, is_entry));
    CHECK(frame.owner_cstack, 0xff);
#endif
    CHECK(frame.owner_generator, FRAME_OWNED_BY_GENERATOR);
    CHECK(frame.previous, offsetof(_PyInterpreterFrame, previous));
    CHECK(frame.stacktop, offsetof(_PyInterpreterFrame, stacktop));
    CHECK(frame.owner, offsetof(_PyInterpreterFrame, owner));
    CHECK(frame.localsplus, offsetof(_PyInterpreterFrame, localsplus));
    CHECK(frame.size, offsetof(_PyInterpreterFrame, localsplus));

    CHECK(code.size, offsetof(PyVarObject, ob_size));
    CHECK(code.flags, offsetof(PyCodeObject, co_flags));
    CHECK(code.argcount, offsetof(PyCodeObject, co_argcount));
    CHECK(code.posonlyargcount, offsetof(PyCodeObject, co_posonlyargcount));
    CHECK(code.kwonlyargcount, offsetof(PyCodeObject, co_kwonlyargcount));
    CHECK(code.firstlineno, offsetof(PyCodeObject, co_firstlineno));
    CHECK(code.nlocalsplus, offsetof(PyCodeObject, co_nlocalsplus));
    CHECK(code.localsplusnames, offsetof(PyCodeObject, co_localsplusnames));
    CHECK(code.localspluskinds, offsetof(PyCodeObject, co_localspluskinds));
    CHECK(code.filename, offsetof(PyCodeObject, co_filename));
    CHECK(code.name, offsetof(PyCodeObject, co_name));
    CHECK(code.qualname, offsetof(PyCodeObject, co_qualname));
    CHECK(code.linetable, offsetof(PyCodeObject, co_linetable));
    CHECK(code.code_adaptive, offsetof(PyCodeObject, co_code_adaptive));

    CHECK(type.name, offsetof(PyTypeObject, tp_name));
    CHECK(type.basicsize, offsetof(PyTypeObject, tp_basicsize));
    CHECK(type.flags, offsetof(PyTypeObject, tp_flags));
    CHECK(type.base, offsetof(PyTypeObject, tp_base));
    CHECK(type.dictoffset, offsetof(PyTypeObject, tp_dictoffset));
    CHECK(type.dict, offsetof(PyTypeObject, tp_dict));
    CHECK(type.mro, offsetof(PyTypeObject, tp_mro));
    CHECK(heaptype_cached_keys, offsetof(PyHeapTypeObject, ht_cached_keys));

    CHECK(unicode.length, offsetof(PyASCIIObject, length));
    CHECK(unicode.state, offsetof(PyASCIIObject, state));
    CHECK(unicode.ascii_size, sizeof(PyASCIIObject));
    CHECK(unicode.compact_size, sizeof(PyCompactUnicodeObject));
    CHECK(unicode.kind_shift, STATE_BIT(kind));
    CHECK(unicode.compact_bit, STATE_BIT(compact));
    CHECK(unicode.ascii_bit, STATE_BIT(ascii));

    CHECK(bytes.size, offsetof(PyBytesObject, ob_base.ob_size));
    CHECK(bytes.sval, offsetof(PyBytesObject, ob_sval));
#if PY_VERSION_HEX >= 0x030c0000
    CHECK(integer.size_or_tag, offsetof(PyLongObject, long_value.lv_tag));
    CHECK(integer.digit, offsetof(PyLongObject, long_value.ob_digit));
    CHECK(integer.tagged, 1);
#else
    CHECK(integer.size_or_tag, offsetof(PyLongObject, ob_base.ob_size));
    CHECK(integer.digit, offsetof(PyLongObject, ob_digit));
    CHECK(integer.tagged, 0);
#endif
    CHECK(float_value, offsetof(PyFloatObject, ob_fval));
    CHECK(tuple.size, offsetof(PyTupleObject, ob_base.ob_size));
    CHECK(tuple.item, offsetof(PyTupleObject, ob_item));
    CHECK(list.size, offsetof(PyListObject, ob_base.ob_size));
    CHECK(list.item, offsetof(PyListObject, ob_item));

    CHECK(dict.used, offsetof(PyDictObject, ma_used));
    CHECK(dict.keys, offsetof(PyDictObject, ma_keys));
    CHECK(dict.values, offsetof(PyDictObject, ma_values));
    CHECK(dict.keys_log2_size, offsetof(PyDictKeysObject, dk_log2_size));
    CHECK(dict.keys_log2_index_bytes, offsetof(PyDictKeysObject, dk_log2_index_bytes));
    CHECK(dict.keys_kind, offsetof(PyDictKeysObject, dk_kind));
    CHECK(dict.keys_nentries, offsetof(PyDictKeysObject, dk_nentries));
    CHECK(dict.keys_indices, offsetof(PyDictKeysObject, dk_indices));
    CHECK(dict.entry_size, sizeof(PyDictKeyEntry));
    CHECK(dict.unicode_entry_size, sizeof(PyDictUnicodeEntry));
    CHECK(dict.values_array, offsetof(PyDictValues, values));
#if PY_VERSION_HEX >= 0x030d0000
    CHECK(dict.style, MOTH_DICT_313);
#elif PY_VERSION_HEX >= 0x030c0000
    CHECK(dict.style, MOTH_DICT_312);
#else
    CHECK(dict.style, MOTH_DICT_311);
#endif

    CHECK(set.used, offsetof(PySetObject, used));
    CHECK(set.mask, offsetof(PySetObject, mask));
    CHECK(set.table, offsetof(PySetObject, table));
    CHECK(set.entry_size, sizeof(setentry));

    CHECK(gen.iframe, offsetof(PyGenObject, gi_iframe));
    CHECK(gen.frame_state, offsetof(PyGenObject, gi_frame_state));
    CHECK(gen.created, FRAME_CREATED);
    CHECK(gen.suspended, FRAME_SUSPENDED);
#if PY_VERSION_HEX >= 0x030d0000
    CHECK(gen.suspended_yield_from, FRAME_SUSPENDED_YIELD_FROM);
    CHECK(opcode.resume_alt, INSTRUMENTED_RESUME);
#elif PY_VERSION_HEX >= 0x030c0000
    CHECK(gen.suspended_yield_from, MOTH_NO_STATE);
    CHECK(opcode.resume_alt, INSTRUMENTED_RESUME);
#else
    CHECK(gen.suspended_yield_from, MOTH_NO_STATE);
    CHECK(opcode.resume_alt, RESUME_QUICK);
#endif
    CHECK(gen.completed, FRAME_COMPLETED);
    CHECK(opcode.resume, RESUME);
    CHECK(module_dict, offsetof(PyModuleObject, md_dict));
    CHECK(cell_ref, offsetof(PyCellObject, ob_ref));
    CHECK(weakref_object, offsetof(PyWeakReference, wr_object));

    /* attaching: the pending-call queue and the signal handlers (attach.c) */
    typedef struct _pending_calls Q;
#if PY_VERSION_HEX >= 0x030c0000
    CHECK(pending.queue, offsetof(_PyRuntimeState, ceval.pending_mainthread));
    CHECK(pending.queue_in_runtime, 1);
#else
    CHECK(pending.queue, offsetof(PyInterpreterState, ceval.pending));
    CHECK(pending.queue_in_runtime, 0);
#endif
    CHECK(pending.calls, offsetof(Q, calls));
    CHECK(pending.call_size, sizeof(((Q *)0)->calls[0]));
    CHECK(pending.ncalls, sizeof(((Q *)0)->calls) / sizeof(((Q *)0)->calls[0]));
    CHECK(pending.first, offsetof(Q, first));
#if PY_VERSION_HEX >= 0x030d0000
    CHECK(pending.lock, offsetof(Q, mutex));
    CHECK(pending.lock_is_mutex, 1);
    ABSENT(pending.calls_to_do);
    CHECK(pending.npending, offsetof(Q, npending));
    CHECK(pending.max, offsetof(Q, max));
    CHECK(pending.last, offsetof(Q, next));
    ABSENT(pending.interp_eval_breaker);
    CHECK(pending.tstate_eval_breaker, offsetof(PyThreadState, eval_breaker));
    CHECK(pending.calls_bit, _PY_CALLS_TO_DO_BIT);
#else
    CHECK(pending.lock, offsetof(Q, lock));
    CHECK(pending.lock_is_mutex, 0);
    CHECK(pending.calls_to_do, offsetof(Q, calls_to_do));
    ABSENT(pending.npending);
    ABSENT(pending.max);
    CHECK(pending.last, offsetof(Q, last));
    CHECK(pending.interp_eval_breaker, offsetof(PyInterpreterState, ceval.eval_breaker));
    ABSENT(pending.tstate_eval_breaker);
    CHECK(pending.calls_bit, 0);
#endif
#if PY_VERSION_HEX >= 0x030c0000
    typedef struct _signals_runtime_state S;
    CHECK(signals.handlers, offsetof(_PyRuntimeState, signals) + offsetof(S, handlers));
    CHECK(signals.is_tripped, offsetof(_PyRuntimeState, signals) + offsetof(S, is_tripped));
    CHECK(signals.handler_size, sizeof(((S *)0)->handlers[0]));
    CHECK(signals.handler_func, offsetof(S, handlers[0].func));
    CHECK(signals.nsig, sizeof(((S *)0)->handlers) / sizeof(((S *)0)->handlers[0]));
#else
    /* 3.11: a static array of signalmodule.c, {_Py_atomic_int tripped; _Py_atomic_address
     * func;}[Py_NSIG], found by its symbol; checked here by the same declaration */
    struct h311 { _Py_atomic_int tripped; _Py_atomic_address func; };
    ABSENT(signals.handlers);
    ABSENT(signals.is_tripped);
    CHECK(signals.handler_size, sizeof(struct h311));
    CHECK(signals.handler_func, offsetof(struct h311, func));
    CHECK(signals.nsig, Py_NSIG);
#endif

    if (failures)
        printf("%d offsets differ from CPython %s's headers\n", failures, PY_VERSION);
    return failures != 0;
}
