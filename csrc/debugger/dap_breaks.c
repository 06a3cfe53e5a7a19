/*
 * dap_breaks.c: the client's breakpoints on pdb's.
 *
 * Line and function breakpoints are bdb's own (so conditions, hit counts and where a
 * function breakpoint stops are pdb's), and moth's engine makes them cost nothing until
 * reached. What bdb does not have is added at the moment bdb says a breakpoint matched
 * (moth_dap_breakpoint_hit): a hit condition ("5", ">= 5", "% 5": on the hit count) and a log
 * message (a logpoint: "x is {x}" printed, no stop). A line with no code moves to the next line
 * that has some, as editors expect. Data breakpoints are moth's watches. Exception
 * breakpoints are the "raised" and "uncaught" filters (dap_raise.c, dap_launch.c).
 */
#include "dap.h"
#include "engine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pycall.h"

static const char *const FILTERS[][2] = {
    {"raised", "Raised Exceptions"},
    {"uncaught", "Uncaught Exceptions"},
};

void moth_dap_write_exception_filters(moth_jw *w)
{
    moth_jw_array(w, "exceptionBreakpointFilters");
    for (size_t i = 0; i < sizeof FILTERS / sizeof *FILTERS; i++) {
        moth_jw_object(w, NULL);
        moth_jw_str(w, "filter", FILTERS[i][0]);
        moth_jw_str(w, "label", FILTERS[i][1]);
        moth_jw_bool(w, "default", i == 1);
        moth_jw_end(w);
    }
    moth_jw_end(w);
}

/* ---- the records ---- */

static void clear_record(moth_dap_bp *b)
{
    free(b->where);
    free(b->condition);
    free(b->log);
    free(b->message);
    memset(b, 0, sizeof *b);
}

void moth_dap_free_breakpoints(moth_dap *d)
{
    for (size_t i = 0; i < d->nbps; i++)
        clear_record(&d->bps[i]);
    free(d->bps);
    d->bps = NULL;
    d->nbps = d->cap_bps = 0;
}

static moth_dap_bp *new_record(moth_dap *d, moth_dap_bp_kind kind)
{
    if (moth_grow((void **)&d->bps, sizeof *d->bps, &d->cap_bps, d->nbps + 1, NULL) < 0)
        return NULL;
    moth_dap_bp *b = &d->bps[d->nbps++];
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->id = d->next_bp_id++;
    b->first_lasti = -1;
    return b;
}

static char *copy(const char *s)
{
    return s && *s ? strdup(s) : NULL;
}

/* Removes the records of one kind (and, for lines, one file), clearing bdb's breakpoints or
 * moth's watches behind them. */
static void remove_records(moth_dap *d, moth_dap_bp_kind kind, const char *where)
{
    size_t kept = 0;
    for (size_t i = 0; i < d->nbps; i++) {
        moth_dap_bp *b = &d->bps[i];
        if (b->kind != kind || (where && (!b->where || strcmp(b->where, where) != 0))) {
            d->bps[kept++] = *b;
            continue;
        }
        if (b->number) {
            PyObject *r = kind == MOTH_DAP_BP_DATA
                              ? moth_dap_call_dbg(d, "do_unwatch", "(s)", "")
                              : moth_dap_call_dbg(d, "clear_bpbynumber", "(i)", b->number);
            if (kind == MOTH_DAP_BP_DATA && r) {
                Py_DECREF(r); /* (do_unwatch "" drops every watch; only DAP makes them here) */
                r = NULL;
            }
            Py_XDECREF(r);
            PyErr_Clear();
        }
        clear_record(b);
    }
    d->nbps = kept;
}

/* "5", "== 5", ">= 5", "> 5", "< 5", "<= 5", "% 5" into the record; -1 when not one. */
static int parse_hit_condition(moth_dap_bp *b, const char *text)
{
    static const char *ops[] = {"==", ">=", "<=", ">", "<", "%", "="};
    while (*text == ' ')
        text++;
    const char *op = "==";
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        size_t n = strlen(ops[i]);
        if (strncmp(text, ops[i], n) == 0) {
            op = strcmp(ops[i], "=") == 0 ? "==" : ops[i];
            text += n;
            break;
        }
    }
    char *end;
    long long n = strtoll(text, &end, 10);
    while (*end == ' ')
        end++;
    if (end == text || *end || n < 0 || (strcmp(op, "%") == 0 && n == 0))
        return -1;
    snprintf(b->hit_op, sizeof b->hit_op, "%s", op);
    b->hit_n = n;
    return 0;
}

static int hit_condition_met(const moth_dap_bp *b, int64_t hits)
{
    const char *op = b->hit_op;
    if (!*op)
        return 1;
    if (strcmp(op, "==") == 0)
        return hits == b->hit_n;
    if (strcmp(op, ">=") == 0)
        return hits >= b->hit_n;
    if (strcmp(op, "<=") == 0)
        return hits <= b->hit_n;
    if (strcmp(op, ">") == 0)
        return hits > b->hit_n;
    if (strcmp(op, "<") == 0)
        return hits < b->hit_n;
    return hits % b->hit_n == 0;
}

/* A breakpoint's hit condition and log message from the client's object; -1 with the reason
 * in b->message. */
static int read_extras(moth_dap_bp *b, const moth_json *spec)
{
    b->condition = copy(moth_json_text(moth_json_get(spec, "condition")));
    b->log = copy(moth_json_text(moth_json_get(spec, "logMessage")));
    const char *hit = moth_json_text(moth_json_get(spec, "hitCondition"));
    if (hit && *hit && parse_hit_condition(b, hit) < 0) {
        char text[200];
        snprintf(text, sizeof text, "moth cannot read the hit condition '%.100s' (it takes "
                 "N, == N, >= N, > N, <= N, < N or %% N)", hit);
        b->message = strdup(text);
        return -1;
    }
    return 0;
}

static void write_record(moth_dap *d, moth_jw *w, const moth_dap_bp *b)
{
    moth_jw_object(w, NULL);
    moth_jw_int(w, "id", b->id);
    moth_jw_bool(w, "verified", b->number != 0);
    if (b->message)
        moth_jw_str(w, "message", b->message);
    if (b->kind == MOTH_DAP_BP_LINE && b->where) {
        PyObject *file = PyUnicode_DecodeFSDefault(b->where);
        if (file)
            moth_dap_write_source(d, w, "source", file);
        Py_XDECREF(file);
        PyErr_Clear();
        moth_jw_int(w, "line", moth_dap_line_out(d, b->line));
    }
    moth_jw_end(w);
}

/* ---- where code is ---- */

static int collect_lines(PyObject *code, PyObject *lines)
{
    PyObject *spans = PyObject_CallMethod(code, "co_lines", NULL);
    PyObject *it = spans ? PyObject_GetIter(spans) : NULL;
    PyObject *span;
    int rc = it ? 0 : -1;
    while (it && (span = PyIter_Next(it))) {
        PyObject *line = PyTuple_Check(span) && PyTuple_GET_SIZE(span) == 3
                             ? PyTuple_GET_ITEM(span, 2)
                             : Py_None;
        if (line != Py_None && PySet_Add(lines, line) < 0)
            rc = -1;
        Py_DECREF(span);
    }
    Py_XDECREF(it);
    Py_XDECREF(spans);
    PyObject *consts = rc == 0 ? PyObject_GetAttrString(code, "co_consts") : NULL;
    for (Py_ssize_t i = 0; consts && i < PyTuple_GET_SIZE(consts); i++)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i)) &&
            collect_lines(PyTuple_GET_ITEM(consts, i), lines) < 0)
            rc = -1;
    Py_XDECREF(consts);
    return PyErr_Occurred() ? -1 : rc;
}

/* The file compiled (not run), or NULL with the exception set (or none when the file cannot
 * be read). */
static PyObject *compile_file(const char *path)
{
    PyObject *lines = moth_call_function("linecache", "getlines", "(s)", path);
    if (lines && PyList_Check(lines) && PyList_GET_SIZE(lines) == 0)
        Py_CLEAR(lines);
    PyObject *empty = lines ? PyUnicode_FromString("") : NULL;
    PyObject *source = empty ? PyUnicode_Join(empty, lines) : NULL;
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    PyObject *code = source ? moth_call_function("builtins", "compile", "(Oss)", source, path,
                                                 "exec")
                            : NULL;
    Py_XDECREF(source);
    return code;
}

/* The first line at or after `line` that has code in path; 0 when none (or it does not
 * compile: bdb then judges the line itself). */
static int code_line_from(const char *path, int line)
{
    PyObject *code = compile_file(path);
    PyObject *lines = code ? PySet_New(NULL) : NULL;
    int found = 0;
    if (lines && collect_lines(code, lines) == 0) {
        PyObject *it = PyObject_GetIter(lines), *v;
        while (it && (v = PyIter_Next(it))) {
            long l = PyLong_AsLong(v);
            if (l >= line && (found == 0 || l < found))
                found = (int)l;
            Py_DECREF(v);
        }
        Py_XDECREF(it);
    } else if (!code) {
        found = line;
    }
    Py_XDECREF(lines);
    Py_XDECREF(code);
    PyErr_Clear();
    return found;
}

/* bdb.set_break; then the number of the breakpoint it made, or 0 with the reason in b. */
static int set_bdb_break(moth_dap *d, moth_dap_bp *b, const char *file, int line,
                         const char *funcname)
{
    PyObject *cond = b->condition ? PyUnicode_FromString(b->condition) : Py_NewRef(Py_None);
    PyObject *func = funcname ? PyUnicode_FromString(funcname) : Py_NewRef(Py_None);
    PyObject *r = cond && func ? moth_dap_call_dbg(d, "set_break", "(siOOO)", file, line,
                                                   Py_False, cond, func)
                               : NULL;
    Py_XDECREF(cond);
    Py_XDECREF(func);
    if (!r) {
        PyObject *exc = moth_take_exception();
        PyObject *text = exc ? PyObject_Str(exc) : NULL;
        const char *t = text ? PyUnicode_AsUTF8(text) : NULL;
        PyErr_Clear();
        free(b->message);
        b->message = strdup(t ? t : "cannot set the breakpoint");
        Py_XDECREF(text);
        Py_XDECREF(exc);
        return 0;
    }
    if (r != Py_None) { /* bdb's own refusal, as text */
        const char *t = PyUnicode_Check(r) ? PyUnicode_AsUTF8(r) : NULL;
        free(b->message);
        b->message = strdup(t ? t : "cannot set the breakpoint");
        Py_DECREF(r);
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(r);
    PyObject *bps = moth_dap_call_dbg(d, "get_breaks", "(si)", file, line);
    Py_ssize_t n = bps && PyList_Check(bps) ? PyList_GET_SIZE(bps) : 0;
    PyObject *number = n ? PyObject_GetAttrString(PyList_GET_ITEM(bps, n - 1), "number") : NULL;
    int result = number ? (int)PyLong_AsLong(number) : 0;
    Py_XDECREF(number);
    Py_XDECREF(bps);
    PyErr_Clear();
    return result;
}

static int canonical(moth_dap *d, const char *path, char *out, size_t size)
{
    PyObject *c = moth_dap_call_dbg(d, "canonic", "(s)", path);
    const char *t = c ? PyUnicode_AsUTF8(c) : NULL;
    int rc = t ? 0 : -1;
    snprintf(out, size, "%s", t ? t : path);
    Py_XDECREF(c);
    PyErr_Clear();
    return rc;
}

int moth_dap_req_set_breakpoints(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (!d->dbg)
        return moth_dap_fail(ctx, "launch or attach first");
    const char *path = moth_json_text(moth_json_get(moth_json_get(ctx->args, "source"), "path"));
    if (!path || !*path)
        return moth_dap_fail(ctx, "setBreakpoints needs source.path");
    char file[4096];
    canonical(d, path, file, sizeof file);
    const moth_json *specs = moth_json_get(ctx->args, "breakpoints");
    if (specs && specs->type != MOTH_JSON_ARRAY)
        return moth_dap_fail(ctx, "breakpoints must be an array");
    remove_records(d, MOTH_DAP_BP_LINE, file);
    size_t first = d->nbps;
    for (const moth_json *spec = specs ? specs->first : NULL; spec; spec = spec->next) {
        int64_t line;
        if (!moth_json_int(moth_json_get(spec, "line"), &line))
            return moth_dap_fail(ctx, "a breakpoint needs a line");
        moth_dap_bp *b = new_record(d, MOTH_DAP_BP_LINE);
        if (!b)
            return moth_dap_fail(ctx, "out of memory");
        b->where = strdup(file);
        b->line = (int)moth_dap_line_in(d, line);
        if (b->line < 1 || read_extras(b, spec) < 0) {
            if (!b->message)
                b->message = strdup("no such line");
            continue;
        }
        int at = code_line_from(file, b->line);
        if (!at) {
            b->message = strdup("no code at or after this line");
            continue;
        }
        b->line = at;
        b->number = set_bdb_break(d, b, file, at, NULL);
    }
    moth_jw_array(&ctx->w, "breakpoints");
    for (size_t i = first; i < d->nbps; i++)
        write_record(d, &ctx->w, &d->bps[i]);
    moth_jw_end(&ctx->w);
    return 0;
}

/* ---- function breakpoints ---- */

/* The code object named qualname in code or below it (borrowed), or NULL. */
static PyObject *find_code(PyObject *code, const char *qualname)
{
    PyObject *name = PyObject_GetAttrString(code, "co_qualname");
    int match = name && PyUnicode_Check(name) &&
                PyUnicode_CompareWithASCIIString(name, qualname) == 0;
    Py_XDECREF(name);
    PyErr_Clear();
    if (match)
        return code;
    PyObject *consts = PyObject_GetAttrString(code, "co_consts");
    PyObject *found = NULL;
    for (Py_ssize_t i = 0; consts && !found && i < PyTuple_GET_SIZE(consts); i++)
        if (PyCode_Check(PyTuple_GET_ITEM(consts, i)))
            found = find_code(PyTuple_GET_ITEM(consts, i), qualname);
    Py_XDECREF(consts);
    return found;
}

/* The file of module `name` without importing it: loaded already, or found on sys.path. */
static PyObject *module_file(const char *name)
{
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *m = PyDict_GetItemString(modules, name);
    if (m) {
        PyObject *f = PyObject_GetAttrString(m, "__file__");
        if (f && PyUnicode_Check(f))
            return f;
        Py_XDECREF(f);
        PyErr_Clear();
        return NULL;
    }
    PyObject *path = PySys_GetObject("path");
    char rel[1024];
    snprintf(rel, sizeof rel, "%s", name);
    for (char *p = rel; *p; p++)
        if (*p == '.')
            *p = '/';
    for (Py_ssize_t i = 0; path && PyList_Check(path) && i < PyList_GET_SIZE(path); i++) {
        const char *dir = PyUnicode_Check(PyList_GET_ITEM(path, i))
                              ? PyUnicode_AsUTF8(PyList_GET_ITEM(path, i))
                              : NULL;
        if (!dir)
            continue;
        const char *forms[] = {"%s/%s.py", "%s/%s/__init__.py"};
        for (int k = 0; k < 2; k++) {
            char file[4096];
            snprintf(file, sizeof file, forms[k], *dir ? dir : ".", rel);
            if (access(file, R_OK) == 0)
                return PyUnicode_DecodeFSDefault(file);
        }
    }
    PyErr_Clear();
    return NULL;
}

/* The main program's file (launch: the script; attach: __main__.__file__). */
static PyObject *main_file(moth_dap *d)
{
    if (d->target.code)
        return PyObject_GetAttrString(d->target.code, "co_filename");
    return module_file("__main__");
}

/* Finds where a function named by the client is: sets bdb's function breakpoint. */
static void resolve_function(moth_dap *d, moth_dap_bp *b)
{
    const char *name = b->where;
    char module[512] = "";
    const char *qual = name;
    const char *colon = strchr(name, ':');
    PyObject *file = NULL, *code = NULL, *found = NULL;
    if (colon) {
        snprintf(module, sizeof module, "%.*s", (int)(colon - name), name);
        qual = colon + 1;
    }
    /* the program's own file first, then module.qualname split at each dot */
    for (const char *dot = name; !found;) {
        Py_CLEAR(file);
        Py_CLEAR(code);
        if (module[0])
            file = module_file(module);
        else if (dot == name)
            file = main_file(d);
        const char *path = file ? PyUnicode_AsUTF8(file) : NULL;
        code = path ? compile_file(path) : NULL;
        PyErr_Clear();
        found = code ? find_code(code, qual) : NULL;
        if (found || colon)
            break;
        dot = strchr(dot == name ? name : dot + 1, '.');
        if (!dot)
            break;
        snprintf(module, sizeof module, "%.*s", (int)(dot - name), name);
        qual = dot + 1;
    }
    if (found) {
        PyObject *first = PyObject_GetAttrString(found, "co_firstlineno");
        PyObject *co_name = PyObject_GetAttrString(found, "co_name");
        const char *path = PyUnicode_AsUTF8(file);
        const char *fname = co_name ? PyUnicode_AsUTF8(co_name) : NULL;
        if (first && fname && path) {
            free(b->message);
            b->message = NULL;
            b->number = set_bdb_break(d, b, path, (int)PyLong_AsLong(first), fname);
            b->line = (int)PyLong_AsLong(first);
        }
        Py_XDECREF(co_name);
        Py_XDECREF(first);
    } else if (!b->message) {
        b->message = strdup("no such function yet: moth looks for it again at every stop");
    }
    Py_XDECREF(code);
    Py_XDECREF(file);
    PyErr_Clear();
}

void moth_dap_resolve_pending(moth_dap *d)
{
    for (size_t i = 0; i < d->nbps; i++) {
        moth_dap_bp *b = &d->bps[i];
        if (b->kind != MOTH_DAP_BP_FUNCTION || b->number || (b->message &&
                                                             strncmp(b->message, "no such", 7)))
            continue;
        resolve_function(d, b);
        if (b->number) {
            moth_sb sb = MOTH_SB_INIT;
            moth_jw w;
            moth_dap_event_begin(&sb, &w, "breakpoint");
            moth_jw_str(&w, "reason", "changed");
            write_record(d, &w, b);
            moth_dap_send_event(d, NULL, &sb, &w);
        }
    }
}

int moth_dap_req_set_function_breakpoints(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (!d->dbg)
        return moth_dap_fail(ctx, "launch or attach first");
    const moth_json *specs = moth_json_get(ctx->args, "breakpoints");
    if (!moth_json_is(specs, MOTH_JSON_ARRAY))
        return moth_dap_fail(ctx, "setFunctionBreakpoints needs breakpoints");
    remove_records(d, MOTH_DAP_BP_FUNCTION, NULL);
    size_t first = d->nbps;
    for (const moth_json *spec = specs->first; spec; spec = spec->next) {
        const char *name = moth_json_text(moth_json_get(spec, "name"));
        if (!name || !*name)
            return moth_dap_fail(ctx, "a function breakpoint needs a name");
        moth_dap_bp *b = new_record(d, MOTH_DAP_BP_FUNCTION);
        if (!b)
            return moth_dap_fail(ctx, "out of memory");
        b->where = strdup(name);
        if (read_extras(b, spec) == 0)
            resolve_function(d, b);
    }
    moth_jw_array(&ctx->w, "breakpoints");
    for (size_t i = first; i < d->nbps; i++)
        write_record(d, &ctx->w, &d->bps[i]);
    moth_jw_end(&ctx->w);
    return 0;
}

/* ---- the moment bdb says a breakpoint matched ---- */

/* A log message with each {expression} replaced by its value in frame. */
static PyObject *format_log(PyObject *frame, const char *text)
{
    moth_sb out = MOTH_SB_INIT;
    for (const char *p = text; *p;) {
        if (p[0] == '{' && p[1] == '{') {
            moth_sb_putc(&out, '{');
            p += 2;
        } else if (p[0] == '}' && p[1] == '}') {
            moth_sb_putc(&out, '}');
            p += 2;
        } else if (*p == '{' && strchr(p, '}')) {
            const char *end = strchr(p, '}');
            char *expr = strndup(p + 1, (size_t)(end - p - 1));
            PyObject *v = expr ? moth_dap_evaluate(frame, expr, 0) : NULL;
            PyObject *s = v ? PyObject_Str(v) : NULL;
            const char *t = s ? PyUnicode_AsUTF8(s) : NULL;
            if (t) {
                moth_sb_puts(&out, t);
            } else {
                PyObject *exc = moth_take_exception();
                moth_sb_printf(&out, "<%s>", exc ? Py_TYPE(exc)->tp_name : "error");
                Py_XDECREF(exc);
            }
            PyErr_Clear();
            Py_XDECREF(s);
            Py_XDECREF(v);
            free(expr);
            p = end + 1;
        } else {
            moth_sb_putc(&out, *p++);
        }
    }
    moth_sb_putc(&out, '\n');
    PyObject *r = out.failed ? NULL : PyUnicode_DecodeUTF8(out.data, (Py_ssize_t)out.len,
                                                         "replace");
    moth_sb_free(&out);
    return r;
}

int moth_dap_breakpoint_hit(moth_dap *d, PyObject *frame, int number)
{
    moth_dap_bp *b = NULL;
    for (size_t i = 0; i < d->nbps && !b; i++)
        if (d->bps[i].number == number && d->bps[i].kind != MOTH_DAP_BP_DATA)
            b = &d->bps[i];
    /* bdb matches a function breakpoint whenever its first line runs: a line that the
     * function comes back to (a condition over several lines) stops once per call, at the
     * instruction where calls come in */
    if (b && b->kind == MOTH_DAP_BP_FUNCTION) {
        long at = -1;
        int at_probe; /* (3.11: the same instruction in a breakpoint's twin and its original) */
        Py_XDECREF(moth_engine_position(frame, &at, &at_probe));
        if (b->first_lasti < 0)
            b->first_lasti = at;
        else if (at != b->first_lasti)
            return 0;
    }
    /* as editors count them: the times the breakpoint was reached with its condition true */
    if (b && !hit_condition_met(b, ++b->hits))
        return 0;
    if (b && b->log) {
        PyObject *text = format_log(frame, b->log);
        Py_ssize_t len;
        const char *t = text ? PyUnicode_AsUTF8AndSize(text, &len) : NULL;
        if (t)
            moth_dap_output(d, "console", t, (size_t)len);
        Py_XDECREF(text);
        PyErr_Clear();
        return 0;
    }
    d->reason = b && b->kind == MOTH_DAP_BP_FUNCTION ? "function breakpoint" : "breakpoint";
    d->nhits = 0;
    if (b)
        d->hit_ids[d->nhits++] = b->id;
    return 1;
}

/* ---- exception breakpoints ---- */

int moth_dap_req_set_exception_breakpoints(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const moth_json *filters = moth_json_get(ctx->args, "filters");
    if (!moth_json_is(filters, MOTH_JSON_ARRAY))
        return moth_dap_fail(ctx, "setExceptionBreakpoints needs filters");
    int raised = 0, uncaught = 0;
    for (const moth_json *f = filters->first; f; f = f->next) {
        const char *name = moth_json_text(f);
        if (name && strcmp(name, "raised") == 0)
            raised = 1;
        else if (name && strcmp(name, "uncaught") == 0)
            uncaught = 1;
        else
            return moth_dap_fail(ctx, "moth has no exception filter '%s' (it has raised and "
                                 "uncaught)", name ? name : "?");
    }
    const moth_json *options = moth_json_get(ctx->args, "filterOptions");
    for (const moth_json *o = options ? options->first : NULL; o; o = o->next) {
        const char *name = moth_json_text(moth_json_get(o, "filterId"));
        raised |= name && strcmp(name, "raised") == 0;
        uncaught |= name && strcmp(name, "uncaught") == 0;
    }
    d->break_uncaught = uncaught;
    if (moth_dap_watch_raises(d, raised) < 0)
        return moth_dap_fail_exception(ctx, "cannot watch raised exceptions");
    d->break_raised = raised;
    moth_jw_array(&ctx->w, "breakpoints");
    for (int i = 0; i < raised + uncaught; i++) {
        moth_jw_object(&ctx->w, NULL);
        moth_jw_bool(&ctx->w, "verified", 1);
        moth_jw_end(&ctx->w);
    }
    moth_jw_end(&ctx->w);
    return 0;
}

/* ---- data breakpoints: moth's watches ---- */

int moth_dap_req_data_breakpoint_info(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const char *name = moth_json_text(moth_json_get(ctx->args, "name"));
    int64_t ref = 0, frame_id;
    if (!name || !*name)
        return moth_dap_fail(ctx, "dataBreakpointInfo needs a name");
    PyObject *frame = d->stop_frame, *expression = NULL;
    if (moth_json_int(moth_json_get(ctx->args, "variablesReference"), &ref) && ref) {
        PyObject *entry = moth_dap_deref(d, ref, NULL);
        if (!entry)
            return moth_dap_fail(ctx, "no variables %lld in this stop", (long long)ref);
        const char *kind = PyUnicode_AsUTF8(PyTuple_GET_ITEM(entry, 0));
        PyObject *obj = PyTuple_GET_ITEM(entry, 1), *parent = PyTuple_GET_ITEM(entry, 2);
        if (strcmp(kind, "object") != 0) {
            frame = obj;
            expression = PyUnicode_FromString(name);
        } else if (parent != Py_None) {
            expression = PyDict_Check(obj) || PyList_Check(obj)
                             ? PyUnicode_FromFormat("%U[%s]", parent, name)
                             : PyUnicode_FromFormat("%U.%s", parent, name);
        }
    } else {
        if (moth_json_int(moth_json_get(ctx->args, "frameId"), &frame_id)) {
            PyObject *entry = moth_dap_deref(d, frame_id, "frame");
            if (!entry)
                return moth_dap_fail(ctx, "no frame %lld in this stop", (long long)frame_id);
            frame = PyTuple_GET_ITEM(entry, 1);
        }
        expression = PyUnicode_FromString(name);
    }
    if (!expression || !frame) {
        PyErr_Clear();
        Py_XDECREF(expression);
        moth_jw_null(&ctx->w, "dataId");
        moth_jw_str(&ctx->w, "description", "moth cannot name this value to watch it");
        return 0;
    }
    int64_t token = d->next_watch_token++;
    PyObject *key = PyLong_FromLongLong(token);
    if (!key || PyDict_SetItem(d->watch_frames, key, frame) < 0) {
        Py_XDECREF(key);
        Py_DECREF(expression);
        return moth_dap_fail_exception(ctx, "cannot remember the frame");
    }
    Py_DECREF(key);
    const char *text = PyUnicode_AsUTF8(expression);
    char id[64];
    snprintf(id, sizeof id, "%lld:", (long long)token);
    moth_sb sb = MOTH_SB_INIT;
    moth_sb_puts(&sb, id);
    moth_sb_puts(&sb, text ? text : "");
    moth_jw_str(&ctx->w, "dataId", sb.data);
    moth_jw_str(&ctx->w, "description", text ? text : "");
    moth_jw_array(&ctx->w, "accessTypes");
    moth_jw_str(&ctx->w, NULL, "write");
    moth_jw_end(&ctx->w);
    moth_jw_bool(&ctx->w, "canPersist", 0);
    moth_sb_free(&sb);
    Py_DECREF(expression);
    return 0;
}

/* Makes moth's watch for a data breakpoint: `watch expression` in the dataId's frame. */
static void make_watch(moth_dap *d, moth_dap_bp *b)
{
    char *end;
    long long token = strtoll(b->where, &end, 10);
    PyObject *key = *end == ':' ? PyLong_FromLongLong(token) : NULL;
    PyObject *frame = key ? PyDict_GetItemWithError(d->watch_frames, key) : NULL;
    Py_XDECREF(key);
    if (!frame) {
        PyErr_Clear();
        b->message = strdup("this data breakpoint's frame is unknown to moth");
        return;
    }
    PyObject *saved = PyObject_GetAttrString(d->dbg, "curframe");
    PyObject *saved_locals = saved ? PyObject_GetAttrString(d->dbg, "curframe_locals") : NULL;
    PyErr_Clear();
    PyObject *locals = PyObject_GetAttrString(frame, "f_locals");
    PyObject *before = PyObject_GetAttrString(d->dbg, "_moth_watch_count");
    PyObject *r = NULL, *after = NULL;
    if (locals && before && PyObject_SetAttrString(d->dbg, "curframe", frame) == 0 &&
        PyObject_SetAttrString(d->dbg, "curframe_locals", locals) == 0) {
        r = moth_dap_call_dbg(d, "do_watch", "(s)", end + 1);
        after = PyObject_GetAttrString(d->dbg, "_moth_watch_count");
    }
    if (after && PyObject_RichCompareBool(after, before, Py_NE) == 1)
        b->number = (int)PyLong_AsLong(after);
    else
        b->message = strdup("moth cannot watch this expression");
    PyObject_SetAttrString(d->dbg, "curframe", saved ? saved : Py_None);
    PyObject_SetAttrString(d->dbg, "curframe_locals", saved_locals ? saved_locals : Py_None);
    Py_XDECREF(after);
    Py_XDECREF(r);
    Py_XDECREF(before);
    Py_XDECREF(locals);
    Py_XDECREF(saved_locals);
    Py_XDECREF(saved);
    PyErr_Clear();
}

int moth_dap_req_set_data_breakpoints(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (!d->dbg)
        return moth_dap_fail(ctx, "launch or attach first");
    const moth_json *specs = moth_json_get(ctx->args, "breakpoints");
    if (!moth_json_is(specs, MOTH_JSON_ARRAY))
        return moth_dap_fail(ctx, "setDataBreakpoints needs breakpoints");
    remove_records(d, MOTH_DAP_BP_DATA, NULL);
    size_t first = d->nbps;
    for (const moth_json *spec = specs->first; spec; spec = spec->next) {
        const char *id = moth_json_text(moth_json_get(spec, "dataId"));
        const char *access = moth_json_text(moth_json_get(spec, "accessType"));
        if (!id)
            return moth_dap_fail(ctx, "a data breakpoint needs a dataId");
        moth_dap_bp *b = new_record(d, MOTH_DAP_BP_DATA);
        if (!b)
            return moth_dap_fail(ctx, "out of memory");
        b->where = strdup(id);
        if (access && strcmp(access, "write") != 0)
            b->message = strdup("moth's data breakpoints stop when the value changes "
                                "(accessType write)");
        else
            make_watch(d, b);
    }
    PyList_SetSlice(d->messages, 0, PyList_GET_SIZE(d->messages), NULL);
    if (!ctx->serving) { /* running: the engine follows the watches' frames now */
        PyObject *r = moth_dap_call_dbg(d, "_dap_rearm", "()");
        Py_XDECREF(r);
        PyErr_Clear();
    }
    moth_jw_array(&ctx->w, "breakpoints");
    for (size_t i = first; i < d->nbps; i++)
        write_record(d, &ctx->w, &d->bps[i]);
    moth_jw_end(&ctx->w);
    return 0;
}

void moth_dap_note_watch_stop(moth_dap *d, PyObject *messages)
{
    const char *text = PyUnicode_AsUTF8(messages);
    PyErr_Clear();
    d->reason = "data breakpoint";
    d->nhits = 0;
    for (const char *p = text; p && (p = strstr(p, "Watchpoint ")); p++) {
        char *end;
        long number = strtol(p + 11, &end, 10);
        if (*end != ':')
            continue;
        for (size_t i = 0; i < d->nbps; i++)
            if (d->bps[i].kind == MOTH_DAP_BP_DATA && d->bps[i].number == number &&
                d->nhits < 8)
                d->hit_ids[d->nhits++] = d->bps[i].id;
    }
}

/* ---- across a restart ---- */

void moth_dap_write_breakpoint_state(moth_dap *d, moth_jw *w)
{
    moth_jw_int(w, "nextBreakpointId", d->next_bp_id);
    moth_jw_bool(w, "raised", d->break_raised);
    moth_jw_bool(w, "uncaught", d->break_uncaught);
    moth_jw_array(w, "breakpoints");
    for (size_t i = 0; i < d->nbps; i++) {
        const moth_dap_bp *b = &d->bps[i];
        if (b->kind == MOTH_DAP_BP_DATA || !b->where)
            continue; /* a watch belongs to a frame of the program that is going */
        moth_jw_object(w, NULL);
        moth_jw_str(w, "kind", b->kind == MOTH_DAP_BP_LINE ? "line" : "function");
        moth_jw_int(w, "id", b->id);
        moth_jw_str(w, "where", b->where);
        moth_jw_int(w, "line", b->line);
        if (b->condition)
            moth_jw_str(w, "condition", b->condition);
        if (b->hit_op[0]) {
            char hit[40];
            snprintf(hit, sizeof hit, "%s %lld", b->hit_op, (long long)b->hit_n);
            moth_jw_str(w, "hitCondition", hit);
        }
        if (b->log)
            moth_jw_str(w, "logMessage", b->log);
        moth_jw_end(w);
    }
    moth_jw_end(w);
}

int moth_dap_restore_breakpoints(moth_dap *d, const moth_json *state)
{
    int64_t next = 1;
    moth_json_int(moth_json_get(state, "nextBreakpointId"), &next);
    const moth_json *list = moth_json_get(state, "breakpoints");
    for (const moth_json *spec = list ? list->first : NULL; spec; spec = spec->next) {
        const char *kind = moth_json_text(moth_json_get(spec, "kind"));
        const char *where = moth_json_text(moth_json_get(spec, "where"));
        int64_t id, line = 0;
        if (!kind || !where || !moth_json_int(moth_json_get(spec, "id"), &id))
            continue;
        moth_json_int(moth_json_get(spec, "line"), &line);
        int function = strcmp(kind, "function") == 0;
        moth_dap_bp *b = new_record(d, function ? MOTH_DAP_BP_FUNCTION : MOTH_DAP_BP_LINE);
        if (!b)
            return -1;
        b->id = id;
        b->where = strdup(where);
        b->line = (int)line;
        if (read_extras(b, spec) < 0)
            continue;
        if (function)
            resolve_function(d, b);
        else
            b->number = set_bdb_break(d, b, where, b->line, NULL);
    }
    d->next_bp_id = next > d->next_bp_id ? next : d->next_bp_id;
    d->break_uncaught = moth_json_bool(moth_json_get(state, "uncaught"), 1);
    d->break_raised = moth_json_bool(moth_json_get(state, "raised"), 0);
    if (d->break_raised && moth_dap_watch_raises(d, 1) < 0)
        PyErr_Clear();
    return 0;
}
