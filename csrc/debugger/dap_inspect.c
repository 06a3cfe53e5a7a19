/*
 * dap_inspect.c: what the client reads of a stopped program: threads, the stack, scopes,
 * variables (expandable, paged), evaluation (hover, watch, REPL, clipboard), setVariable,
 * the exception of an exception stop, and source text.
 *
 * Values are shown with a bounded repr: containers show their first items and their
 * length, long text is cut, so that a variable holding a million items answers as fast as
 * one holding three. Children come in pages (indexed for sequences, named for the rest).
 */
#include "dap.h"

#include <stdlib.h>
#include <string.h>

#include "pycall.h"

#define REPR_LIMIT 1000     /* characters of a value shown */
#define REPR_ITEMS 30       /* items of a container shown in its value */
#define PAGE_LIMIT 1000     /* children answered at most when no count is asked */
#define CODE_SOURCE 1       /* the sourceReference of a launched `code` program's text */

/* ---- threads ---- */

int moth_dap_req_threads(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    PyObject *threads = moth_call_function("threading", "enumerate", "()");
    if (!threads)
        return moth_dap_fail_exception(ctx, "cannot list the threads");
    moth_jw_array(&ctx->w, "threads");
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(threads); i++) {
        PyObject *t = PyList_GET_ITEM(threads, i);
        PyObject *ident = PyObject_GetAttrString(t, "ident");
        PyObject *name = ident ? PyObject_GetAttrString(t, "name") : NULL;
        const char *text = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
        if (ident && ident != Py_None && text) {
            moth_jw_object(&ctx->w, NULL);
            moth_jw_int(&ctx->w, "id", moth_dap_thread_id(d, PyLong_AsUnsignedLong(ident)));
            moth_jw_str(&ctx->w, "name", text);
            moth_jw_end(&ctx->w);
        }
        Py_XDECREF(name);
        Py_XDECREF(ident);
        PyErr_Clear();
    }
    moth_jw_end(&ctx->w);
    Py_DECREF(threads);
    return 0;
}

/* ---- the stack ---- */

int moth_dap_is_debugger_frame(PyObject *frame)
{
    PyObject *globals = PyObject_GetAttrString(frame, "f_globals");
    PyObject *name = globals && PyDict_Check(globals) ? PyDict_GetItemString(globals, "__name__")
                                                      : NULL;
    const char *n = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : NULL;
    int ours = n && (strcmp(n, "bdb") == 0 || strcmp(n, "pdb") == 0 ||
                     strncmp(n, "moth.", 5) == 0);
    Py_XDECREF(globals);
    PyErr_Clear();
    return ours;
}

PyObject *moth_dap_stack_frames(moth_dap *d)
{
    PyObject *stack = PyObject_GetAttrString(d->dbg, "stack");
    PyObject *out = stack && PyList_Check(stack) ? PyList_New(0) : NULL;
    for (Py_ssize_t i = out ? PyList_GET_SIZE(stack) - 1 : -1; i >= 0; i--) {
        PyObject *entry = PyList_GET_ITEM(stack, i); /* (frame, lineno) */
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2 ||
            moth_dap_is_debugger_frame(PyTuple_GET_ITEM(entry, 0)))
            continue;
        if (PyList_Append(out, entry) < 0) {
            Py_CLEAR(out);
            break;
        }
    }
    Py_XDECREF(stack);
    return out;
}

void moth_dap_write_source(moth_dap *d, moth_jw *w, const char *key, PyObject *filename)
{
    const char *path = PyUnicode_AsUTF8(filename);
    if (!path) {
        PyErr_Clear();
        path = "?";
    }
    const char *slash = strrchr(path, '/');
    moth_jw_object(w, key);
    moth_jw_str(w, "name", slash ? slash + 1 : path);
    if (path[0] != '<')
        moth_jw_str(w, "path", path);
    else if (strcmp(path, "<string>") == 0 && d->target.kind == MOTH_TARGET_CODE && d->prepared)
        moth_jw_int(w, "sourceReference", CODE_SOURCE); /* a launched -c program's text */
    if (d->just_my_code && moth_dap_is_library(d, filename))
        moth_jw_str(w, "presentationHint", "deemphasize");
    moth_jw_end(w);
}

int moth_dap_req_stack_trace(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t id, start = 0, levels = 0;
    if (!moth_json_int(moth_json_get(ctx->args, "threadId"), &id))
        return moth_dap_fail(ctx, "stackTrace needs a threadId");
    if (moth_dap_thread_ident(d, id) != d->stop_thread)
        return moth_dap_fail(ctx, "thread %lld is running (only the stopped thread has a stack "
                             "to show)", (long long)id);
    moth_json_int(moth_json_get(ctx->args, "startFrame"), &start);
    moth_json_int(moth_json_get(ctx->args, "levels"), &levels);
    if (start < 0 || levels < 0)
        return moth_dap_fail(ctx, "startFrame and levels cannot be negative");
    PyObject *frames = moth_dap_stack_frames(d);
    if (!frames)
        return moth_dap_fail_exception(ctx, "cannot read the stack");
    Py_ssize_t n = PyList_GET_SIZE(frames);
    Py_ssize_t end = levels && start + levels < n ? (Py_ssize_t)(start + levels) : n;
    moth_jw_array(&ctx->w, "stackFrames");
    for (Py_ssize_t i = (Py_ssize_t)start; i < end; i++) {
        PyObject *entry = PyList_GET_ITEM(frames, i);
        PyObject *frame = PyTuple_GET_ITEM(entry, 0);
        long line = PyLong_AsLong(PyTuple_GET_ITEM(entry, 1));
        PyObject *code = PyObject_GetAttrString(frame, "f_code");
        PyObject *name = code ? PyObject_GetAttrString(code, "co_qualname") : NULL;
        PyObject *file = name ? PyObject_GetAttrString(code, "co_filename") : NULL;
        const char *text = name ? PyUnicode_AsUTF8(name) : NULL;
        if (!text || !file) {
            Py_XDECREF(file);
            Py_XDECREF(name);
            Py_XDECREF(code);
            Py_DECREF(frames);
            return moth_dap_fail_exception(ctx, "cannot read a frame");
        }
        moth_jw_object(&ctx->w, NULL);
        moth_jw_int(&ctx->w, "id", moth_dap_ref(d, "frame", frame, NULL));
        moth_jw_str(&ctx->w, "name", text);
        moth_dap_write_source(d, &ctx->w, "source", file);
        moth_jw_int(&ctx->w, "line", moth_dap_line_out(d, line > 0 ? line : 1));
        moth_jw_int(&ctx->w, "column", d->columns_at1 ? 1 : 0);
        char ip[40];
        moth_dap_instruction_ref(d, frame, ip, sizeof ip);
        if (ip[0])
            moth_jw_str(&ctx->w, "instructionPointerReference", ip);
        if (d->just_my_code && moth_dap_is_library(d, file))
            moth_jw_str(&ctx->w, "presentationHint", "subtle");
        moth_jw_end(&ctx->w);
        Py_DECREF(file);
        Py_DECREF(name);
        Py_DECREF(code);
    }
    moth_jw_end(&ctx->w);
    moth_jw_int(&ctx->w, "totalFrames", n);
    Py_DECREF(frames);
    return 0;
}

int moth_dap_req_scopes(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t id;
    PyObject *entry = moth_json_int(moth_json_get(ctx->args, "frameId"), &id)
                          ? moth_dap_deref(d, id, "frame")
                          : NULL;
    if (!entry)
        return moth_dap_fail(ctx, "no frame %lld in this stop", (long long)id);
    PyObject *frame = PyTuple_GET_ITEM(entry, 1);
    PyObject *locals = PyObject_GetAttrString(frame, "f_locals");
    PyObject *globals = locals ? PyObject_GetAttrString(frame, "f_globals") : NULL;
    if (!globals) {
        Py_XDECREF(locals);
        return moth_dap_fail_exception(ctx, "cannot read the frame");
    }
    Py_ssize_t nlocals = PyObject_Length(locals);
    PyErr_Clear();
    moth_jw_array(&ctx->w, "scopes");
    moth_jw_object(&ctx->w, NULL);
    moth_jw_str(&ctx->w, "name", locals == globals ? "Globals" : "Locals");
    moth_jw_str(&ctx->w, "presentationHint", "locals");
    moth_jw_int(&ctx->w, "variablesReference",
                moth_dap_ref(d, locals == globals ? "globals" : "locals", frame, NULL));
    if (nlocals >= 0)
        moth_jw_int(&ctx->w, "namedVariables", nlocals);
    moth_jw_bool(&ctx->w, "expensive", 0);
    moth_jw_end(&ctx->w);
    if (locals != globals) {
        moth_jw_object(&ctx->w, NULL);
        moth_jw_str(&ctx->w, "name", "Globals");
        moth_jw_int(&ctx->w, "variablesReference", moth_dap_ref(d, "globals", frame, NULL));
        moth_jw_bool(&ctx->w, "expensive", 0);
        moth_jw_end(&ctx->w);
    }
    moth_jw_end(&ctx->w);
    Py_DECREF(locals);
    Py_DECREF(globals);
    return 0;
}

/* ---- values ---- */

static void put_repr(moth_sb *sb, PyObject *v, int depth);

/* Items of a builtin container, bounded: "[1, 2, ...]" with at most REPR_ITEMS items. */
static void put_items(moth_sb *sb, PyObject *v, int depth)
{
    int dict = PyDict_Check(v);
    const char *open = PyList_Check(v) ? "[" : PyTuple_Check(v) ? "(" : "{";
    const char *close = PyList_Check(v) ? "]" : PyTuple_Check(v) ? ")" : "}";
    Py_ssize_t n = PyObject_Length(v);
    if (PyAnySet_Check(v) && n == 0) {
        moth_sb_puts(sb, Py_TYPE(v)->tp_name);
        moth_sb_puts(sb, "()");
        return;
    }
    int frozen = PyFrozenSet_CheckExact(v);
    if (frozen)
        moth_sb_puts(sb, "frozenset(");
    moth_sb_puts(sb, open);
    PyObject *it = dict ? NULL : PyObject_GetIter(v);
    Py_ssize_t pos = 0, shown = 0;
    PyObject *key, *value;
    while (shown < REPR_ITEMS && sb->len < REPR_LIMIT) {
        if (dict) {
            if (!PyDict_Next(v, &pos, &key, &value))
                break;
        } else if (!it || !(key = PyIter_Next(it))) {
            break;
        }
        if (shown)
            moth_sb_puts(sb, ", ");
        put_repr(sb, key, depth + 1);
        if (dict) {
            moth_sb_puts(sb, ": ");
            put_repr(sb, value, depth + 1);
        } else {
            Py_DECREF(key);
        }
        shown++;
    }
    Py_XDECREF(it);
    PyErr_Clear();
    if (shown < n)
        moth_sb_puts(sb, shown ? ", ..." : "...");
    else if (PyTuple_Check(v) && n == 1)
        moth_sb_putc(sb, ',');
    moth_sb_puts(sb, close);
    if (frozen)
        moth_sb_putc(sb, ')');
}

static void put_repr(moth_sb *sb, PyObject *v, int depth)
{
    int builtin_container = PyList_CheckExact(v) || PyTuple_CheckExact(v) ||
                            PyDict_CheckExact(v) || PySet_CheckExact(v) ||
                            PyFrozenSet_CheckExact(v);
    if (builtin_container && depth < 3) {
        put_items(sb, v, depth);
        return;
    }
    if (builtin_container) {
        moth_sb_puts(sb, "...");
        return;
    }
    PyObject *shown = v;
    if (PyUnicode_Check(v) && PyUnicode_GET_LENGTH(v) > REPR_LIMIT)
        shown = PyUnicode_Substring(v, 0, REPR_LIMIT);
    PyObject *r = shown ? PyObject_Repr(shown) : NULL;
    if (shown != v)
        Py_XDECREF(shown);
    Py_ssize_t n;
    const char *text = r ? PyUnicode_AsUTF8AndSize(r, &n) : NULL;
    if (text) {
        moth_sb_append(sb, text, (size_t)n);
    } else {
        PyObject *exc = moth_take_exception();
        moth_sb_printf(sb, "<repr failed: %s>", exc ? Py_TYPE(exc)->tp_name : "?");
        Py_XDECREF(exc);
    }
    Py_XDECREF(r);
}

/* The value as shown to the client (bounded unless whole). */
static void value_text(moth_sb *sb, PyObject *v, int whole, int hex)
{
    if (hex && PyLong_CheckExact(v)) {
        PyObject *h = PyNumber_ToBase(v, 16);
        const char *t = h ? PyUnicode_AsUTF8(h) : NULL;
        if (t) {
            moth_sb_puts(sb, t);
            Py_DECREF(h);
            return;
        }
        Py_XDECREF(h);
        PyErr_Clear();
    }
    if (whole) {
        PyObject *r = PyObject_Repr(v);
        const char *t = r ? PyUnicode_AsUTF8(r) : NULL;
        if (t) {
            moth_sb_puts(sb, t);
            Py_DECREF(r);
            return;
        }
        Py_XDECREF(r);
        PyErr_Clear();
    }
    put_repr(sb, v, 0);
    if (sb->len > REPR_LIMIT + 20) {
        sb->len = REPR_LIMIT;
        while (sb->len && (sb->data[sb->len] & 0xC0) == 0x80)
            sb->len--; /* not inside a UTF-8 sequence */
        sb->data[sb->len] = '\0';
        moth_sb_puts(sb, "...");
    }
}

/* An object's attributes shown as children: its __dict__ (not the dunder names). */
static PyObject *attribute_dict(PyObject *v)
{
    if (PyType_Check(v) || PyModule_Check(v) || PyFunction_Check(v) || PyCFunction_Check(v))
        return PyType_Check(v) || PyModule_Check(v) ? PyObject_GetAttrString(v, "__dict__")
                                                    : NULL;
    PyObject **slot = _PyObject_GetDictPtr(v);
    if (slot && *slot && PyDict_Check(*slot))
        return Py_NewRef(*slot);
    PyObject *d = PyObject_GenericGetDict(v, NULL); /* 3.11+ may keep values inline */
    if (!d)
        PyErr_Clear();
    return d;
}

static int is_dunder(PyObject *name)
{
    if (!PyUnicode_Check(name))
        return 0;
    Py_ssize_t n = PyUnicode_GET_LENGTH(name);
    return n > 4 && PyUnicode_READ_CHAR(name, 0) == '_' && PyUnicode_READ_CHAR(name, 1) == '_' &&
           PyUnicode_READ_CHAR(name, n - 1) == '_' && PyUnicode_READ_CHAR(name, n - 2) == '_';
}

typedef struct {
    Py_ssize_t indexed, named;
} child_counts;

/* How many children v has, of each kind (0, 0: not expandable). */
static child_counts count_children(PyObject *v)
{
    child_counts c = {0, 0};
    if (PyUnicode_Check(v) || PyBytes_Check(v) || PyByteArray_Check(v) || PyLong_Check(v) ||
        PyFloat_Check(v) || PyComplex_Check(v) || v == Py_None || PyBool_Check(v))
        return c;
    if (PyList_Check(v) || PyTuple_Check(v) || PyAnySet_Check(v)) {
        c.indexed = PyObject_Length(v);
    } else if (PyDict_Check(v)) {
        c.named = PyDict_GET_SIZE(v);
    } else {
        PyObject *attrs = attribute_dict(v);
        if (attrs && PyDict_Check(attrs)) {
            PyObject *key, *value;
            Py_ssize_t pos = 0;
            while (PyDict_Next(attrs, &pos, &key, &value))
                c.named += !is_dunder(key);
        }
        Py_XDECREF(attrs);
    }
    PyErr_Clear();
    if (c.indexed < 0)
        c.indexed = 0;
    return c;
}

static const char *type_name(PyObject *v)
{
    const char *name = Py_TYPE(v)->tp_name;
    const char *dot = strrchr(name, '.');
    return dot ? dot + 1 : name;
}

/* A value's members of a variable, an evaluation or a setVariable answer: the value shown
 * (under value_key), its type, its evaluateName, and a reference (with the counts of its
 * children) when it has children and may be expanded (make_ref). */
static void write_value(moth_dap *d, moth_jw *w, const char *value_key, PyObject *value,
                        PyObject *evaluate_name, int whole, int hex, int make_ref)
{
    moth_sb text = MOTH_SB_INIT;
    value_text(&text, value, whole, hex);
    moth_jw_strn(w, value_key, text.data ? text.data : "", text.len);
    moth_sb_free(&text);
    moth_jw_str(w, "type", type_name(value));
    const char *evaluate = evaluate_name ? PyUnicode_AsUTF8(evaluate_name) : NULL;
    if (evaluate && strcmp(value_key, "value") == 0)
        moth_jw_str(w, "evaluateName", evaluate);
    child_counts c = count_children(value);
    int64_t ref = make_ref && (c.indexed || c.named)
                      ? moth_dap_ref(d, "object", value, evaluate_name)
                      : 0;
    moth_jw_int(w, "variablesReference", ref);
    if (ref && c.indexed)
        moth_jw_int(w, "indexedVariables", c.indexed);
    if (ref && c.named)
        moth_jw_int(w, "namedVariables", c.named);
    PyErr_Clear();
}

/* One variable: its name (a key's repr when it is a mapping's key), then its value's
 * members. */
static void write_variable(moth_dap *d, moth_jw *w, PyObject *name, int is_key,
                           PyObject *value, PyObject *evaluate_name, int hex)
{
    moth_jw_object(w, NULL);
    if (PyUnicode_Check(name) && !is_key) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(name, &n);
        moth_jw_strn(w, "name", s ? s : "?", s ? (size_t)n : 1);
    } else {
        moth_sb text = MOTH_SB_INIT;
        put_repr(&text, name, 1);
        moth_jw_strn(w, "name", text.data ? text.data : "", text.len);
        moth_sb_free(&text);
    }
    write_value(d, w, "value", value, evaluate_name, 0, hex, 1);
    moth_jw_end(w);
    PyErr_Clear();
}

/* "parent" + suffix, or NULL when parent has no evaluateName. */
static PyObject *child_name(PyObject *parent, const char *format, PyObject *part)
{
    if (!parent || parent == Py_None)
        return NULL;
    PyObject *r = PyUnicode_FromFormat(format, parent, part);
    if (!r)
        PyErr_Clear();
    return r;
}

/* The mapping a scope's variables come from (a new reference). */
static PyObject *scope_mapping(PyObject *entry)
{
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(entry, 0));
    PyObject *obj = PyTuple_GET_ITEM(entry, 1);
    if (strcmp(kind, "locals") == 0)
        return PyObject_GetAttrString(obj, "f_locals");
    if (strcmp(kind, "globals") == 0)
        return PyObject_GetAttrString(obj, "f_globals");
    return Py_NewRef(obj);
}

int moth_dap_req_variables(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t ref, start = 0, count = 0;
    if (!moth_json_int(moth_json_get(ctx->args, "variablesReference"), &ref))
        return moth_dap_fail(ctx, "variables needs a variablesReference");
    PyObject *entry = moth_dap_deref(d, ref, NULL);
    if (!entry)
        return moth_dap_fail(ctx, "no variables %lld in this stop", (long long)ref);
    moth_json_int(moth_json_get(ctx->args, "start"), &start);
    moth_json_int(moth_json_get(ctx->args, "count"), &count);
    if (start < 0 || count < 0)
        return moth_dap_fail(ctx, "start and count cannot be negative");
    if (count == 0 || count > PAGE_LIMIT)
        count = count ? count : PAGE_LIMIT;
    const char *filter = moth_json_text(moth_json_get(ctx->args, "filter"));
    int hex = moth_json_bool(moth_json_get(moth_json_get(ctx->args, "format"), "hex"), 0);
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(entry, 0));
    int scope = strcmp(kind, "object") != 0;
    int globals = strcmp(kind, "globals") == 0;
    PyObject *parent_name = scope ? NULL : PyTuple_GET_ITEM(entry, 2);
    PyObject *v = scope_mapping(entry);
    if (!v)
        return moth_dap_fail_exception(ctx, "cannot read the variables");
    moth_jw_array(&ctx->w, "variables");
    int sequence = !scope && (PyList_Check(v) || PyTuple_Check(v) || PyAnySet_Check(v));
    int rc = 0;
    if (sequence && !(filter && strcmp(filter, "named") == 0)) {
        /* indexed children, a page of them */
        PyObject *it = PyAnySet_Check(v) ? PyObject_GetIter(v) : NULL;
        Py_ssize_t n = PyObject_Length(v);
        for (Py_ssize_t i = 0; i < n && i < start + count; i++) {
            PyObject *item = it ? PyIter_Next(it) : PySequence_GetItem(v, i);
            if (!item)
                break;
            if (i >= start) {
                PyObject *index = PyLong_FromSsize_t(i);
                PyObject *name = index ? PyObject_Str(index) : NULL;
                PyObject *evaluate = it ? NULL : child_name(parent_name, "%U[%S]", index);
                if (name)
                    write_variable(d, &ctx->w, name, 0, item, evaluate, hex);
                Py_XDECREF(evaluate);
                Py_XDECREF(name);
                Py_XDECREF(index);
            }
            Py_DECREF(item);
        }
        Py_XDECREF(it);
    } else if (!sequence && !(filter && strcmp(filter, "indexed") == 0)) {
        /* named children: a mapping's items, or an object's attributes */
        int mapping = scope || PyDict_Check(v);
        PyObject *items = NULL;
        if (mapping) {
            items = PyMapping_Items(v);
        } else {
            PyObject *attrs = attribute_dict(v);
            items = attrs && PyDict_Check(attrs) ? PyDict_Items(attrs) : PyList_New(0);
            Py_XDECREF(attrs);
        }
        if (!items) {
            rc = moth_dap_fail_exception(ctx, "cannot read the variables");
        } else {
            Py_ssize_t shown = 0;
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(items) && shown < start + count; i++) {
                PyObject *pair = PyList_GET_ITEM(items, i);
                PyObject *key = PyTuple_GET_ITEM(pair, 0), *value = PyTuple_GET_ITEM(pair, 1);
                if ((!mapping || globals) && is_dunder(key))
                    continue; /* dunder attributes are the object's machinery */
                if (shown++ < start)
                    continue;
                PyObject *evaluate;
                if (scope)
                    evaluate = PyUnicode_Check(key) ? Py_NewRef(key) : NULL;
                else if (mapping)
                    evaluate = child_name(parent_name, "%U[%R]", key);
                else
                    evaluate = child_name(parent_name, "%U.%U", key);
                PyErr_Clear();
                write_variable(d, &ctx->w, key, mapping && !scope, value, evaluate, hex);
                Py_XDECREF(evaluate);
            }
            Py_DECREF(items);
        }
    }
    moth_jw_end(&ctx->w);
    Py_DECREF(v);
    PyErr_Clear();
    return rc;
}

/* ---- evaluation ---- */

PyObject *moth_dap_evaluate(PyObject *frame, const char *text, int allow_statements)
{
    PyObject *globals, *locals;
    if (frame) {
        globals = PyObject_GetAttrString(frame, "f_globals");
        locals = globals ? PyObject_GetAttrString(frame, "f_locals") : NULL;
    } else {
        PyObject *main = PyImport_AddModule("__main__"); /* borrowed */
        globals = main ? Py_NewRef(PyModule_GetDict(main)) : NULL;
        locals = Py_XNewRef(globals);
    }
    if (!locals) {
        Py_XDECREF(globals);
        return NULL;
    }
    PyObject *code = Py_CompileString(text, "<evaluate>", Py_eval_input);
    int statements = 0;
    if (!code && allow_statements && PyErr_ExceptionMatches(PyExc_SyntaxError)) {
        PyErr_Clear();
        code = Py_CompileString(text, "<evaluate>", Py_file_input);
        statements = 1;
    }
    PyObject *result = code ? PyEval_EvalCode(code, globals, locals) : NULL;
    if (result && statements && frame && locals != globals)
        moth_frame_locals_written((PyFrameObject *)frame);
    Py_XDECREF(code);
    Py_DECREF(locals);
    Py_DECREF(globals);
    return result;
}

int moth_dap_req_evaluate(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const char *text = moth_json_text(moth_json_get(ctx->args, "expression"));
    const char *context = moth_json_text(moth_json_get(ctx->args, "context"));
    if (!text)
        return moth_dap_fail(ctx, "evaluate needs an expression");
    PyObject *frame = NULL;
    int64_t id;
    if (moth_json_int(moth_json_get(ctx->args, "frameId"), &id)) {
        PyObject *entry = ctx->serving ? moth_dap_deref(d, id, "frame") : NULL;
        if (!entry)
            return moth_dap_fail(ctx, "no frame %lld in this stop", (long long)id);
        frame = PyTuple_GET_ITEM(entry, 1);
    }
    int repl = context && strcmp(context, "repl") == 0;
    int whole = context && strcmp(context, "clipboard") == 0;
    PyObject *result = moth_dap_evaluate(frame, text, repl);
    if (!result) {
        PyObject *exc = moth_take_exception();
        PyObject *shown = exc ? PyObject_Str(exc) : NULL;
        const char *s = shown ? PyUnicode_AsUTF8(shown) : NULL;
        PyErr_Clear();
        moth_dap_fail(ctx, "%s%s%s", exc ? Py_TYPE(exc)->tp_name : "error", s && *s ? ": " : "",
                      s ? s : "");
        Py_XDECREF(shown);
        Py_XDECREF(exc);
        return -1;
    }
    int hex = moth_json_bool(moth_json_get(moth_json_get(ctx->args, "format"), "hex"), 0);
    if (repl && result == Py_None) { /* a statement, or a call for its effect: nothing to show */
        moth_jw_str(&ctx->w, "result", "");
        moth_jw_int(&ctx->w, "variablesReference", 0);
    } else {
        PyObject *name = PyUnicode_FromFormat("(%s)", text);
        write_value(d, &ctx->w, "result", result, name, whole, hex, ctx->serving);
        Py_XDECREF(name);
    }
    Py_DECREF(result);
    PyErr_Clear();
    return 0;
}

/* Finds the key of a dict whose repr is `shown` (a variable's name), NULL if none. */
static PyObject *key_shown_as(PyObject *dict, const char *shown)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    moth_sb sb = MOTH_SB_INIT;
    PyObject *found = NULL;
    while (!found && PyDict_Next(dict, &pos, &key, &value)) {
        moth_sb_clear(&sb);
        if (PyUnicode_Check(key) && PyUnicode_CompareWithASCIIString(key, shown) == 0)
            found = key;
        put_repr(&sb, key, 1);
        if (sb.data && strcmp(sb.data, shown) == 0)
            found = key;
    }
    moth_sb_free(&sb);
    return Py_XNewRef(found);
}

int moth_dap_req_set_variable(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t ref;
    const char *name = moth_json_text(moth_json_get(ctx->args, "name"));
    const char *text = moth_json_text(moth_json_get(ctx->args, "value"));
    if (!moth_json_int(moth_json_get(ctx->args, "variablesReference"), &ref) || !name || !text)
        return moth_dap_fail(ctx, "setVariable needs variablesReference, name and value");
    PyObject *entry = moth_dap_deref(d, ref, NULL);
    if (!entry)
        return moth_dap_fail(ctx, "no variables %lld in this stop", (long long)ref);
    const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(entry, 0));
    PyObject *obj = PyTuple_GET_ITEM(entry, 1);
    /* The new value is an expression evaluated where the program stands. */
    PyObject *value = moth_dap_evaluate(d->stop_frame, text, 0);
    if (!value)
        return moth_dap_fail_exception(ctx, "cannot evaluate the new value");
    int rc = -1;
    if (strcmp(kind, "locals") == 0 || strcmp(kind, "globals") == 0) {
        PyObject *scope = scope_mapping(entry);
        rc = scope ? PyMapping_SetItemString(scope, name, value) : -1;
        if (rc == 0 && strcmp(kind, "locals") == 0)
            moth_frame_locals_written((PyFrameObject *)obj);
        Py_XDECREF(scope);
    } else if (PyDict_Check(obj)) {
        PyObject *key = key_shown_as(obj, name);
        if (key)
            rc = PyObject_SetItem(obj, key, value);
        else
            PyErr_Format(PyExc_KeyError, "no key shown as %s", name);
        Py_XDECREF(key);
    } else if (PyList_Check(obj)) {
        char *end;
        long index = strtol(name, &end, 10);
        if (*name && !*end)
            rc = PySequence_SetItem(obj, index, value);
        else
            PyErr_Format(PyExc_IndexError, "no item %s", name);
    } else if (PyTuple_Check(obj) || PyAnySet_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "the items of a %s cannot change", Py_TYPE(obj)->tp_name);
    } else {
        rc = PyObject_SetAttrString(obj, name, value);
    }
    if (rc < 0) {
        Py_DECREF(value);
        return moth_dap_fail_exception(ctx, "cannot set it");
    }
    write_value(d, &ctx->w, "value", value, NULL, 0, 0, 1);
    Py_DECREF(value);
    return 0;
}

/* ---- exceptions and sources ---- */

int moth_dap_req_exception_info(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    PyObject *exc = d->stop_exception;
    if (!exc)
        return moth_dap_fail(ctx, "this stop is not at an exception");
    PyObject *type = (PyObject *)Py_TYPE(exc);
    PyObject *module = PyObject_GetAttrString(type, "__module__");
    PyObject *qualname = module ? PyObject_GetAttrString(type, "__qualname__") : NULL;
    PyObject *full = NULL;
    if (qualname && module && PyUnicode_Check(module) &&
        PyUnicode_CompareWithASCIIString(module, "builtins") != 0)
        full = PyUnicode_FromFormat("%U.%U", module, qualname);
    else if (qualname)
        full = Py_NewRef(qualname);
    PyObject *text = PyObject_Str(exc);
    PyObject *lines = moth_call_function("traceback", "format_exception", "(O)", exc);
    PyObject *empty = PyUnicode_FromString("");
    PyObject *trace = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    const char *f = full ? PyUnicode_AsUTF8(full) : NULL;
    const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
    const char *tr = trace ? PyUnicode_AsUTF8(trace) : NULL;
    int rc = 0;
    if (!f || !t) {
        rc = moth_dap_fail_exception(ctx, "cannot describe the exception");
    } else {
        moth_jw_str(&ctx->w, "exceptionId", f);
        moth_jw_str(&ctx->w, "description", t);
        moth_jw_str(&ctx->w, "breakMode", d->stop_uncaught ? "unhandled" : "always");
        moth_jw_object(&ctx->w, "details");
        moth_jw_str(&ctx->w, "message", t);
        moth_jw_str(&ctx->w, "typeName", PyUnicode_AsUTF8(qualname));
        moth_jw_str(&ctx->w, "fullTypeName", f);
        if (tr)
            moth_jw_str(&ctx->w, "stackTrace", tr);
        moth_jw_end(&ctx->w);
    }
    PyErr_Clear();
    Py_XDECREF(trace);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(text);
    Py_XDECREF(full);
    Py_XDECREF(qualname);
    Py_XDECREF(module);
    return rc;
}

int moth_dap_req_source(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t ref = 0;
    if (!moth_json_int(moth_json_get(ctx->args, "sourceReference"), &ref))
        moth_json_int(moth_json_get(moth_json_get(ctx->args, "source"), "sourceReference"), &ref);
    if (ref == CODE_SOURCE && d->prepared && d->target.kind == MOTH_TARGET_CODE) {
        const char *text = PyUnicode_AsUTF8(d->target.what);
        if (!text)
            return moth_dap_fail_exception(ctx, "cannot read the program");
        moth_jw_str(&ctx->w, "content", text);
        moth_jw_str(&ctx->w, "mimeType", "text/x-python");
        return 0;
    }
    const char *path = moth_json_text(moth_json_get(moth_json_get(ctx->args, "source"), "path"));
    if (!path)
        return moth_dap_fail(ctx, "moth has no source for this reference");
    PyObject *lines = moth_call_function("linecache", "getlines", "(s)", path);
    PyObject *empty = PyUnicode_FromString("");
    PyObject *text = lines && empty ? PyUnicode_Join(empty, lines) : NULL;
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
    if (!t || !*t) {
        Py_XDECREF(text);
        PyErr_Clear();
        return moth_dap_fail(ctx, "no source for %s", path);
    }
    moth_jw_str(&ctx->w, "content", t);
    moth_jw_str(&ctx->w, "mimeType", "text/x-python");
    Py_DECREF(text);
    return 0;
}
