/*
 * dap_code.c: bytecode as the client sees it: instruction pointer references in stack
 * frames, the disassemble request, and goto (pdb's jump) with its targets.
 *
 * An instruction's address is (handle << 32) + its byte offset, written "0x..." (clients
 * order and compare addresses as numbers): the handle names a code object for the session,
 * so the addresses of one function are contiguous and never collide with another's.
 */
#include "dap.h"
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "pycall.h"

/* The session's handle of code (1, 2, ...), made on first sight; 0 on failure. */
static int64_t code_handle(moth_dap *d, PyObject *code)
{
    PyObject *h = PyDict_GetItemWithError(d->code_handles, code);
    if (h)
        return PyLong_AsLongLong(h);
    if (PyErr_Occurred() || PyList_Append(d->codes, code) < 0)
        goto fail;
    h = PyLong_FromSsize_t(PyList_GET_SIZE(d->codes));
    if (!h || PyDict_SetItem(d->code_handles, code, h) < 0) {
        Py_XDECREF(h);
        goto fail;
    }
    Py_DECREF(h);
    return PyList_GET_SIZE(d->codes);
fail:
    PyErr_Clear();
    return 0;
}

void moth_dap_instruction_ref(moth_dap *d, PyObject *frame, char *buf, size_t size)
{
    buf[0] = '\0';
    long offset;
    int at_probe; /* (3.11: a breakpoint's twin is shown as the program's own code) */
    PyObject *code = PyFrame_Check(frame) ? moth_engine_position(frame, &offset, &at_probe)
                                          : NULL;
    int64_t handle = code ? code_handle(d, code) : 0;
    if (handle && offset >= 0)
        snprintf(buf, size, "0x%llx", (unsigned long long)((handle << 32) + offset));
    Py_XDECREF(code);
    PyErr_Clear();
}

/* The code's instructions as dis lists them (cached per handle; borrowed), or NULL. */
static PyObject *instructions(moth_dap *d, int64_t handle)
{
    PyObject *key = PyLong_FromLongLong(handle);
    PyObject *list = key ? PyDict_GetItemWithError(d->disassembled, key) : NULL;
    if (!list && key && !PyErr_Occurred() && handle >= 1 &&
        handle <= PyList_GET_SIZE(d->codes)) {
        PyObject *code = PyList_GET_ITEM(d->codes, handle - 1);
        PyObject *it = moth_call_function("dis", "get_instructions", "(O)", code);
        list = it ? PySequence_List(it) : NULL;
        Py_XDECREF(it);
        if (list && PyDict_SetItem(d->disassembled, key, list) < 0)
            Py_CLEAR(list);
        Py_XDECREF(list); /* the dict holds it */
    }
    Py_XDECREF(key);
    PyErr_Clear();
    return list;
}

static long attr_long(PyObject *obj, const char *name)
{
    PyObject *v = PyObject_GetAttrString(obj, name);
    long r = v && PyLong_Check(v) ? PyLong_AsLong(v) : -1;
    Py_XDECREF(v);
    PyErr_Clear();
    return r;
}

/* The line of an instruction (its positions' line), or -1. */
static long instruction_line(PyObject *ins)
{
    PyObject *pos = PyObject_GetAttrString(ins, "positions");
    long line = pos && pos != Py_None ? attr_long(pos, "lineno") : -1;
    Py_XDECREF(pos);
    PyErr_Clear();
    return line;
}

static void write_instruction(moth_dap *d, moth_jw *w, PyObject *code, int64_t handle,
                              PyObject *ins, long *last_line)
{
    long offset = attr_long(ins, "offset");
    PyObject *opname = PyObject_GetAttrString(ins, "opname");
    PyObject *argrepr = opname ? PyObject_GetAttrString(ins, "argrepr") : NULL;
    PyObject *bytes = argrepr ? PyObject_GetAttrString(code, "co_code") : NULL;
    const char *op = opname ? PyUnicode_AsUTF8(opname) : NULL;
    const char *arg = argrepr ? PyUnicode_AsUTF8(argrepr) : NULL;
    char text[64];
    snprintf(text, sizeof text, "0x%llx", (unsigned long long)((handle << 32) + offset));
    moth_jw_object(w, NULL);
    moth_jw_str(w, "address", text);
    if (bytes && PyBytes_Check(bytes) && offset >= 0 && offset + 1 < PyBytes_GET_SIZE(bytes)) {
        const unsigned char *b = (const unsigned char *)PyBytes_AS_STRING(bytes) + offset;
        snprintf(text, sizeof text, "%02x %02x", b[0], b[1]);
        moth_jw_str(w, "instructionBytes", text);
    }
    moth_sb sb = MOTH_SB_INIT;
    moth_sb_printf(&sb, "%-24s %s", op ? op : "?", arg ? arg : "");
    while (sb.len && sb.data[sb.len - 1] == ' ')
        sb.data[--sb.len] = '\0';
    moth_jw_str(w, "instruction", sb.data);
    moth_sb_free(&sb);
    if (offset == 0) {
        PyObject *qual = PyObject_GetAttrString(code, "co_qualname");
        const char *q = qual ? PyUnicode_AsUTF8(qual) : NULL;
        if (q)
            moth_jw_str(w, "symbol", q);
        Py_XDECREF(qual);
    }
    long line = instruction_line(ins);
    if (line > 0) {
        PyObject *file = PyObject_GetAttrString(code, "co_filename");
        if (file && line != *last_line)
            moth_dap_write_source(d, w, "location", file);
        Py_XDECREF(file);
        moth_jw_int(w, "line", moth_dap_line_out(d, line));
        *last_line = line;
    }
    moth_jw_end(w);
    Py_XDECREF(bytes);
    Py_XDECREF(argrepr);
    Py_XDECREF(opname);
    PyErr_Clear();
}

int moth_dap_req_disassemble(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const char *ref = moth_json_text(moth_json_get(ctx->args, "memoryReference"));
    int64_t offset = 0, ins_offset = 0, count;
    if (!ref || !moth_json_int(moth_json_get(ctx->args, "instructionCount"), &count))
        return moth_dap_fail(ctx, "disassemble needs memoryReference and instructionCount");
    moth_json_int(moth_json_get(ctx->args, "offset"), &offset);
    moth_json_int(moth_json_get(ctx->args, "instructionOffset"), &ins_offset);
    char *end;
    unsigned long long address = strtoull(ref, &end, 0);
    if (*end || end == ref)
        return moth_dap_fail(ctx, "'%s' is not a memory reference of moth's", ref);
    if (count < 0 || count > 100000)
        return moth_dap_fail(ctx, "instructionCount must be 0 to 100000");
    address += (unsigned long long)offset;
    int64_t handle = (int64_t)(address >> 32);
    long at = (long)(address & 0xffffffffu);
    PyObject *list = instructions(d, handle);
    if (!list)
        return moth_dap_fail(ctx, "no code at %s", ref);
    PyObject *code = PyList_GET_ITEM(d->codes, handle - 1);
    Py_ssize_t n = PyList_GET_SIZE(list), here = 0;
    for (Py_ssize_t i = 0; i < n; i++)
        if (attr_long(PyList_GET_ITEM(list, i), "offset") <= at)
            here = i;
    long last_line = -1;
    moth_jw_array(&ctx->w, "instructions");
    for (int64_t k = 0; k < count; k++) {
        int64_t i = here + ins_offset + k;
        if (i >= 0 && i < n) {
            write_instruction(d, &ctx->w, code, handle, PyList_GET_ITEM(list, i), &last_line);
            continue;
        }
        /* outside the function: placeholders the client shows as nothing */
        long past = i < 0 ? (long)(2 * i) : attr_long(PyList_GET_ITEM(list, n - 1), "offset") +
                                                 (long)(2 * (i - n + 1));
        char text[64];
        snprintf(text, sizeof text, "0x%llx", (unsigned long long)((handle << 32) + past));
        moth_jw_object(&ctx->w, NULL);
        moth_jw_str(&ctx->w, "address", text);
        moth_jw_str(&ctx->w, "instruction", "");
        moth_jw_str(&ctx->w, "presentationHint", "invalid");
        moth_jw_end(&ctx->w);
    }
    moth_jw_end(&ctx->w);
    return 0;
}

/* ---- goto: pdb's jump ---- */

/* Whether path names the file the stopped frame runs, and line is one of its code's lines. */
static int can_jump_to(moth_dap *d, const char *path, long line)
{
    PyObject *code = PyObject_GetAttrString(d->stop_frame, "f_code");
    PyObject *file = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
    PyObject *mine = file ? moth_dap_call_dbg(d, "canonic", "(O)", file) : NULL;
    PyObject *theirs = mine ? moth_dap_call_dbg(d, "canonic", "(s)", path) : NULL;
    int ok = theirs && PyObject_RichCompareBool(mine, theirs, Py_EQ) == 1;
    PyObject *spans = ok ? PyObject_CallMethod(code, "co_lines", NULL) : NULL;
    PyObject *it = spans ? PyObject_GetIter(spans) : NULL, *span;
    int found = 0;
    while (it && !found && (span = PyIter_Next(it))) {
        PyObject *l = PyTuple_Check(span) && PyTuple_GET_SIZE(span) == 3 ? PyTuple_GET_ITEM(span, 2)
                                                                          : Py_None;
        found = l != Py_None && PyLong_AsLong(l) == line;
        Py_DECREF(span);
    }
    Py_XDECREF(it);
    Py_XDECREF(spans);
    Py_XDECREF(theirs);
    Py_XDECREF(mine);
    Py_XDECREF(file);
    Py_XDECREF(code);
    PyErr_Clear();
    return found;
}

int moth_dap_req_goto_targets(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const char *path = moth_json_text(moth_json_get(moth_json_get(ctx->args, "source"), "path"));
    int64_t line;
    if (!path || !moth_json_int(moth_json_get(ctx->args, "line"), &line))
        return moth_dap_fail(ctx, "gotoTargets needs source.path and line");
    line = moth_dap_line_in(d, line);
    moth_jw_array(&ctx->w, "targets");
    if (!d->stop_uncaught && can_jump_to(d, path, (long)line)) {
        char label[40];
        snprintf(label, sizeof label, "line %lld", (long long)line);
        moth_jw_object(&ctx->w, NULL);
        moth_jw_int(&ctx->w, "id", line);
        moth_jw_str(&ctx->w, "label", label);
        moth_jw_int(&ctx->w, "line", moth_dap_line_out(d, line));
        moth_jw_end(&ctx->w);
    }
    moth_jw_end(&ctx->w);
    return 0;
}

int moth_dap_req_goto(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t target, thread;
    if (!moth_json_int(moth_json_get(ctx->args, "targetId"), &target))
        return moth_dap_fail(ctx, "goto needs a targetId");
    if (moth_json_int(moth_json_get(ctx->args, "threadId"), &thread) &&
        moth_dap_thread_ident(d, thread) != d->stop_thread)
        return moth_dap_fail(ctx, "thread %lld is not the stopped thread", (long long)thread);
    if (d->stop_uncaught)
        return moth_dap_fail(ctx, "the program has ended: there is nowhere to jump");
    char line[32];
    snprintf(line, sizeof line, "%lld", (long long)target);
    PyList_SetSlice(d->messages, 0, PyList_GET_SIZE(d->messages), NULL);
    PyObject *r = moth_dap_call_dbg(d, "do_jump", "(s)", line);
    if (!r)
        return moth_dap_fail_exception(ctx, "cannot jump");
    Py_DECREF(r);
    PyObject *said = moth_dap_take_messages(d);
    const char *text = said ? PyUnicode_AsUTF8(said) : NULL;
    const char *error = text ? strstr(text, "*** ") : NULL;
    int rc = error ? moth_dap_fail(ctx, "%s", error + 4) : 0;
    Py_XDECREF(said);
    PyErr_Clear();
    if (rc == 0) {
        /* the frame moved: the client reads the stack again after this stop event */
        PyList_SetSlice(d->refs, 0, PyList_GET_SIZE(d->refs), NULL);
        moth_sb sb = MOTH_SB_INIT;
        moth_jw w;
        moth_dap_event_begin(&sb, &w, "stopped");
        moth_jw_str(&w, "reason", "goto");
        moth_jw_int(&w, "threadId", moth_dap_thread_id(d, d->stop_thread));
        moth_jw_bool(&w, "allThreadsStopped", 0);
        moth_dap_send_event(d, ctx, &sb, &w);
    }
    return rc;
}
