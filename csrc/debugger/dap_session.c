/*
 * dap_session.c: the Debug Adapter Protocol session: who answers a request (see dap.h),
 * the dispatch table, the capabilities, a stop (moth_dap_serve), stepping and pausing, and
 * the hooks moth.dap.DapPdb calls (moth._moth.dap_*).
 */
#include "dap.h"

#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "interp.h"
#include "pycall.h"

moth_dap *moth_dap_current(void)
{
    return moth_the_interp.dap;
}

moth_dap *moth_dap_use(void)
{
    moth_dap *d = moth_the_interp.dap;
    if (d)
        d->users++;
    return d;
}

void moth_dap_done(moth_dap *d)
{
    if (d && --d->users == 0 && d->retired)
        moth_dap_free(d);
}

void moth_dap_retire(moth_dap *d)
{
    if (moth_the_interp.dap == d)
        moth_the_interp.dap = NULL;
    d->retired = 1;
    if (d->users == 0)
        moth_dap_free(d);
}

/* ---- answers ---- */

int moth_dap_fail(moth_dap_ctx *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->message, sizeof ctx->message, fmt, ap);
    va_end(ap);
    return -1;
}

int moth_dap_fail_exception(moth_dap_ctx *ctx, const char *prefix)
{
    PyObject *exc = moth_take_exception();
    PyObject *text = exc ? PyObject_Str(exc) : NULL;
    const char *utf8 = text ? PyUnicode_AsUTF8(text) : NULL;
    PyErr_Clear();
    moth_dap_fail(ctx, "%s: %s%s%s", prefix, exc ? Py_TYPE(exc)->tp_name : "error",
                  utf8 && *utf8 ? ": " : "", utf8 ? utf8 : "");
    Py_XDECREF(text);
    Py_XDECREF(exc);
    return -1;
}

static void message_begin(moth_jw *w, const char *type)
{
    moth_jw_object(w, NULL);
    moth_jw_int(w, "seq", 0); /* the connection puts the real number in */
    moth_jw_str(w, "type", type);
}

void moth_dap_event_begin(moth_sb *sb, moth_jw *w, const char *event)
{
    moth_jw_init(w, sb);
    message_begin(w, "event");
    moth_jw_str(w, "event", event);
    moth_jw_object(w, "body");
}

void moth_dap_send_event(moth_dap *d, moth_dap_ctx *ctx, moth_sb *sb, moth_jw *w)
{
    moth_jw_end(w);
    moth_jw_end(w);
    if (ctx) {
        moth_sb_append(&ctx->after, sb->data, sb->len);
        moth_sb_putc(&ctx->after, '\n');
    } else if (!sb->failed && d->conn) {
        moth_dap_conn_send(d->conn, sb->data, sb->len);
    }
    moth_sb_free(sb);
}

void moth_dap_output(moth_dap *d, const char *category, const char *text, size_t len)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_dap_event_begin(&sb, &w, "output");
    moth_jw_str(&w, "category", category);
    moth_jw_strn(&w, "output", text, len);
    moth_dap_send_event(d, NULL, &sb, &w);
}

/* A response to a request the reader could not read: no seq or command to answer with. */
void moth_dap_refuse(moth_dap *d, int64_t seq, const char *command, const char *why)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_jw_init(&w, &sb);
    message_begin(&w, "response");
    moth_jw_int(&w, "request_seq", seq);
    moth_jw_bool(&w, "success", 0);
    moth_jw_str(&w, "command", command);
    moth_jw_str(&w, "message", why);
    moth_jw_object(&w, "body");
    moth_jw_end(&w);
    moth_jw_end(&w);
    moth_dap_conn_send(d->conn, sb.data, sb.len);
    moth_sb_free(&sb);
}

/* ---- references handed out during a stop ---- */

void moth_dap_forget_stop(moth_dap *d)
{
    if (d->refs)
        PyList_SetSlice(d->refs, 0, PyList_GET_SIZE(d->refs), NULL);
    Py_CLEAR(d->stop_exception);
    Py_CLEAR(d->stop_frame);
    d->stop_uncaught = 0;
    d->stop_thread = 0;
}

int64_t moth_dap_ref(moth_dap *d, const char *kind, PyObject *obj, PyObject *extra)
{
    PyObject *entry = Py_BuildValue("(sOO)", kind, obj, extra ? extra : Py_None);
    if (!entry || PyList_Append(d->refs, entry) < 0) {
        Py_XDECREF(entry);
        PyErr_Clear();
        return 0;
    }
    Py_DECREF(entry);
    return (int64_t)PyList_GET_SIZE(d->refs);
}

PyObject *moth_dap_deref(moth_dap *d, int64_t ref, const char *kind)
{
    if (ref < 1 || ref > (int64_t)PyList_GET_SIZE(d->refs))
        return NULL;
    PyObject *entry = PyList_GET_ITEM(d->refs, ref - 1);
    if (kind) {
        const char *k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(entry, 0));
        if (!k || strcmp(k, kind) != 0)
            return NULL;
    }
    return entry;
}

int64_t moth_dap_thread_id(moth_dap *d, unsigned long ident)
{
    PyObject *key = PyLong_FromUnsignedLong(ident);
    PyObject *id = key ? PyDict_GetItemWithError(d->thread_ids, key) : NULL;
    int64_t result = 0;
    if (id) {
        result = PyLong_AsLongLong(id);
    } else if (key && !PyErr_Occurred()) {
        result = PyDict_GET_SIZE(d->thread_ids) + 1;
        PyObject *v = PyLong_FromLongLong(result);
        if (!v || PyDict_SetItem(d->thread_ids, key, v) < 0)
            result = 0;
        Py_XDECREF(v);
    }
    Py_XDECREF(key);
    PyErr_Clear();
    return result;
}

unsigned long moth_dap_thread_ident(moth_dap *d, int64_t id)
{
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d->thread_ids, &pos, &key, &value))
        if (PyLong_AsLongLong(value) == id)
            return PyLong_AsUnsignedLong(key);
    PyErr_Clear();
    return 0;
}

int64_t moth_dap_line_in(moth_dap *d, int64_t line)
{
    return d->lines_at1 ? line : line + 1;
}

int64_t moth_dap_line_out(moth_dap *d, int64_t line)
{
    return d->lines_at1 ? line : line - 1;
}

PyObject *moth_dap_call_dbg(moth_dap *d, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    PyObject *r = moth_call_attr_v(d->dbg, name, fmt, ap);
    va_end(ap);
    return r;
}

PyObject *moth_dap_take_messages(moth_dap *d)
{
    PyObject *sep = PyUnicode_FromString("\n");
    PyObject *text = sep ? PyUnicode_Join(sep, d->messages) : NULL;
    Py_XDECREF(sep);
    PyList_SetSlice(d->messages, 0, PyList_GET_SIZE(d->messages), NULL);
    if (!text)
        PyErr_Clear();
    return text;
}

/* ---- the requests that need no other file ---- */

static void write_capabilities(moth_jw *w)
{
    static const char *yes[] = {
        "supportsConfigurationDoneRequest", "supportsFunctionBreakpoints",
        "supportsConditionalBreakpoints", "supportsHitConditionalBreakpoints",
        "supportsEvaluateForHovers", "supportsSetVariable", "supportsGotoTargetsRequest",
        "supportsRestartRequest", "supportsExceptionInfoRequest", "supportsLogPoints",
        "supportsTerminateRequest", "supportsDataBreakpoints", "supportsDisassembleRequest",
        "supportsSteppingGranularity", "supportTerminateDebuggee", "supportsDelayedStackTraceLoading",
        "supportsValueFormattingOptions", "supportsClipboardContext",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        moth_jw_bool(w, yes[i], 1);
    moth_dap_write_exception_filters(w);
}

static int req_initialize(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const moth_json *a = ctx->args;
    if (d->initialized)
        return moth_dap_fail(ctx, "the session is initialized already");
    d->initialized = 1;
    d->lines_at1 = moth_json_bool(moth_json_get(a, "linesStartAt1"), 1);
    d->columns_at1 = moth_json_bool(moth_json_get(a, "columnsStartAt1"), 1);
    d->client_runs_terminals = moth_json_bool(moth_json_get(a, "supportsRunInTerminalRequest"), 0);
    const char *format = moth_json_text(moth_json_get(a, "pathFormat"));
    if (format && strcmp(format, "path") != 0)
        return moth_dap_fail(ctx, "moth takes file paths, not '%s'", format);
    write_capabilities(&ctx->w);
    return 0;
}

static int req_pause(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t id;
    if (!moth_json_int(moth_json_get(ctx->args, "threadId"), &id))
        return moth_dap_fail(ctx, "pause needs a threadId");
    unsigned long ident = moth_dap_thread_ident(d, id);
    if (!ident)
        return moth_dap_fail(ctx, "no thread %lld", (long long)id);
    if (ctx->serving && ident == d->stop_thread)
        return 0; /* stopped already */
    PyObject *frames = _PyThread_CurrentFrames();
    PyObject *key = PyLong_FromUnsignedLong(ident);
    PyObject *frame = frames && key ? PyDict_GetItemWithError(frames, key) : NULL;
    int rc = frame ? PyDict_SetItem(d->pausing, key, frame) : -1;
    Py_XDECREF(key);
    Py_XDECREF(frames);
    if (rc < 0) {
        PyErr_Clear();
        return moth_dap_fail(ctx, "thread %lld is not running Python code", (long long)id);
    }
    if (!ctx->serving) { /* a stopped thread re-arms the engine when it resumes */
        PyObject *r = moth_dap_call_dbg(d, "_dap_rearm", "()");
        if (!r)
            return moth_dap_fail_exception(ctx, "cannot pause");
        Py_DECREF(r);
    }
    return 0;
}

/* Resumes the stopped thread with dbg.method: called with the stop's frame (STEP_FRAME),
 * with an empty argument line (STEP_LINE, pdb's do_ commands) or with nothing. */
typedef enum { STEP_NOTHING, STEP_FRAME, STEP_LINE } step_arg;

static int resume(moth_dap_ctx *ctx, const char *method, step_arg arg, const char *reason)
{
    moth_dap *d = ctx->d;
    int64_t id;
    if (moth_json_int(moth_json_get(ctx->args, "threadId"), &id) &&
        moth_dap_thread_ident(d, id) != d->stop_thread)
        return moth_dap_fail(ctx, "thread %lld is not the stopped thread", (long long)id);
    if (d->stop_uncaught) /* after the end: the program is left to finish */
        method = "set_continue", arg = STEP_NOTHING;
    PyObject *r = arg == STEP_FRAME  ? moth_dap_call_dbg(d, method, "(O)", d->stop_frame)
                  : arg == STEP_LINE ? moth_dap_call_dbg(d, method, "(s)", "")
                                     : moth_dap_call_dbg(d, method, "()");
    if (!r)
        return moth_dap_fail_exception(ctx, "cannot resume");
    Py_DECREF(r);
    d->reason = reason;
    d->resumed = 1;
    return 0;
}

static int by_instruction(moth_dap_ctx *ctx)
{
    const char *g = moth_json_text(moth_json_get(ctx->args, "granularity"));
    return g && strcmp(g, "instruction") == 0;
}

static int req_continue(moth_dap_ctx *ctx)
{
    moth_jw_bool(&ctx->w, "allThreadsContinued", 0);
    return ctx->serving ? resume(ctx, "set_continue", STEP_NOTHING, "breakpoint") : 0;
}

static int req_next(moth_dap_ctx *ctx)
{
    if (by_instruction(ctx))
        return resume(ctx, "do_nexti", STEP_LINE, "step");
    return resume(ctx, "set_next", STEP_FRAME, "step");
}

static int req_step_in(moth_dap_ctx *ctx)
{
    if (by_instruction(ctx))
        return resume(ctx, "do_stepi", STEP_LINE, "step");
    return resume(ctx, "set_step", STEP_NOTHING, "step");
}

static int req_step_out(moth_dap_ctx *ctx)
{
    return resume(ctx, "set_return", STEP_FRAME, "step");
}

typedef enum { ANY, STOPPED } need;

static const struct {
    const char *command;
    moth_dap_handler handler;
    need needs;
} HANDLERS[] = {
    {"initialize", req_initialize, ANY},
    {"launch", moth_dap_req_launch, ANY},
    {"attach", moth_dap_req_attach, ANY},
    {"configurationDone", moth_dap_req_configuration_done, ANY},
    {"setBreakpoints", moth_dap_req_set_breakpoints, ANY},
    {"setFunctionBreakpoints", moth_dap_req_set_function_breakpoints, ANY},
    {"setExceptionBreakpoints", moth_dap_req_set_exception_breakpoints, ANY},
    {"dataBreakpointInfo", moth_dap_req_data_breakpoint_info, STOPPED},
    {"setDataBreakpoints", moth_dap_req_set_data_breakpoints, ANY},
    {"threads", moth_dap_req_threads, ANY},
    {"stackTrace", moth_dap_req_stack_trace, STOPPED},
    {"scopes", moth_dap_req_scopes, STOPPED},
    {"variables", moth_dap_req_variables, STOPPED},
    {"setVariable", moth_dap_req_set_variable, STOPPED},
    {"evaluate", moth_dap_req_evaluate, ANY},
    {"exceptionInfo", moth_dap_req_exception_info, STOPPED},
    {"source", moth_dap_req_source, ANY},
    {"continue", req_continue, ANY},
    {"next", req_next, STOPPED},
    {"stepIn", req_step_in, STOPPED},
    {"stepOut", req_step_out, STOPPED},
    {"pause", req_pause, ANY},
    {"disassemble", moth_dap_req_disassemble, STOPPED},
    {"gotoTargets", moth_dap_req_goto_targets, STOPPED},
    {"goto", moth_dap_req_goto, STOPPED},
    {"restart", moth_dap_req_restart, ANY},
    {"terminate", moth_dap_req_terminate, ANY},
    {"disconnect", moth_dap_req_disconnect, ANY},
};

/* Answers one request (GIL held): runs its handler, sends the response, then its events. */
static void answer(moth_dap *d, moth_json_doc *doc, int serving)
{
    const moth_json *req = moth_json_root(doc);
    moth_dap_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.d = d;
    ctx.req = req;
    ctx.args = moth_json_get(req, "arguments");
    ctx.command = moth_json_text(moth_json_get(req, "command"));
    moth_json_int(moth_json_get(req, "seq"), &ctx.seq);
    ctx.serving = serving;
    moth_jw_init(&ctx.w, &ctx.body);
    moth_jw_object(&ctx.w, NULL);
    int rc = -1;
    size_t i;
    for (i = 0; i < sizeof HANDLERS / sizeof *HANDLERS; i++)
        if (strcmp(HANDLERS[i].command, ctx.command) == 0)
            break;
    if (i == sizeof HANDLERS / sizeof *HANDLERS)
        moth_dap_fail(&ctx, "moth does not know the request '%s'", ctx.command);
    else if (!d->initialized && strcmp(ctx.command, "initialize") != 0)
        moth_dap_fail(&ctx, "the first request must be 'initialize'");
    else if (HANDLERS[i].needs == STOPPED && !serving)
        moth_dap_fail(&ctx, "'%s' needs the program stopped, and it is running", ctx.command);
    else if (ctx.args && ctx.args->type != MOTH_JSON_OBJECT)
        moth_dap_fail(&ctx, "the arguments of '%s' must be an object", ctx.command);
    else
        rc = HANDLERS[i].handler(&ctx);
    if (PyErr_Occurred()) { /* a handler that left an exception behind has a bug: say it */
        if (rc == 0)
            moth_dap_fail_exception(&ctx, "internal error");
        PyErr_Clear();
        rc = -1;
    }
    moth_jw_end(&ctx.w);
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_jw_init(&w, &sb);
    message_begin(&w, "response");
    moth_jw_int(&w, "request_seq", ctx.seq);
    moth_jw_bool(&w, "success", rc == 0);
    moth_jw_str(&w, "command", ctx.command);
    if (rc == 0) {
        moth_jw_raw(&w, "body", ctx.body.data, ctx.body.len);
    } else {
        moth_jw_str(&w, "message", ctx.message);
        moth_jw_raw(&w, "body", "{}", 2);
    }
    moth_jw_end(&w);
    if (!sb.failed && !ctx.body.failed)
        moth_dap_conn_send(d->conn, sb.data, sb.len);
    else
        moth_dap_refuse(d, ctx.seq, ctx.command, "moth ran out of memory answering this");
    for (char *m = ctx.after.data, *end; m && (end = strchr(m, '\n')); m = end + 1)
        moth_dap_conn_send(d->conn, m, (size_t)(end - m));
    moth_sb_free(&sb);
    moth_sb_free(&ctx.body);
    moth_sb_free(&ctx.after);
    if (d->relay)
        moth_dap_relay_start(d);
    if (d->end_when_answered) { /* terminate of a program attached by its id: now */
        d->end_when_answered = 0;
        kill(getpid(), SIGTERM);
    }
    if (d->restart)
        moth_dap_restart_now(d);
    if (d->over) /* answered the last request (disconnect): the reader stops reading */
        moth_dap_conn_close(d->conn);
}

/* The shape every request must have, checked before anyone answers it: NULL when fine,
 * else why not. */
static const char *malformed(const moth_json *msg, int64_t *seq, const char **command)
{
    *seq = 0;
    *command = "";
    if (!moth_json_is(msg, MOTH_JSON_OBJECT))
        return "a message must be a JSON object";
    int has_seq = moth_json_int(moth_json_get(msg, "seq"), seq);
    const char *c = moth_json_text(moth_json_get(msg, "command"));
    if (c)
        *command = c;
    const char *type = moth_json_text(moth_json_get(msg, "type"));
    if (!type)
        return "a message needs a \"type\"";
    if (strcmp(type, "request") != 0)
        return "moth takes requests only";
    if (!has_seq)
        return "a request needs an integer \"seq\"";
    if (!c)
        return "a request needs a \"command\" string";
    const moth_json *args = moth_json_get(msg, "arguments");
    if (args && args->type != MOTH_JSON_OBJECT)
        return "a request's \"arguments\" must be an object";
    return NULL;
}

/* ---- the reader ---- */

static void enqueue(moth_dap *d, moth_json_doc *doc)
{
    moth_dap_request *r = malloc(sizeof *r);
    if (!r) {
        moth_json_free(doc);
        return;
    }
    r->next = NULL;
    r->doc = doc;
    if (d->queue_tail)
        d->queue_tail->next = r;
    else
        d->queue = r;
    d->queue_tail = r;
    pthread_cond_broadcast(&d->cond);
}

/* A request, to the serving thread if there is one, else answered here with the GIL. */
static void route(moth_dap *d, moth_json_doc *doc)
{
    pthread_mutex_lock(&d->lock);
    if (d->serving) {
        enqueue(d, doc);
        pthread_mutex_unlock(&d->lock);
        return;
    }
    pthread_mutex_unlock(&d->lock);
    PyGILState_STATE g = PyGILState_Ensure();
    pthread_mutex_lock(&d->lock);
    if (d->serving) { /* a thread stopped while this one waited for the GIL */
        enqueue(d, doc);
        pthread_mutex_unlock(&d->lock);
    } else {
        pthread_mutex_unlock(&d->lock);
        answer(d, doc, 0);
        moth_json_free(doc);
    }
    PyGILState_Release(g);
}

void *moth_dap_reader_main(void *arg)
{
    moth_dap *d = arg;
    for (;;) {
        moth_json_doc *doc = NULL;
        moth_error err;
        const char *body;
        size_t len;
        moth_dap_recv_result r = moth_dap_conn_receive_body(d->conn, &body, &len, &err);
        if (r == MOTH_DAP_RECV_CLOSED)
            break;
        if (r == MOTH_DAP_RECV_BAD || moth_json_parse(body, len, &doc, &err) < 0) {
            moth_dap_refuse(d, 0, "", err.msg);
            continue;
        }
        if (d->relay && moth_dap_relay_forward(d, moth_json_root(doc), body, len)) {
            moth_json_free(doc);
            continue;
        }
        int64_t seq;
        const char *command;
        const char *why = malformed(moth_json_root(doc), &seq, &command);
        const char *type = moth_json_text(moth_json_get(moth_json_root(doc), "type"));
        if (why && type && (strcmp(type, "response") == 0 || strcmp(type, "event") == 0)) {
            /* the only request moth makes is runInTerminal; a refusal ends the wait for it */
            if (strcmp(type, "response") == 0 && strcmp(command, "runInTerminal") == 0 &&
                !moth_json_bool(moth_json_get(moth_json_root(doc), "success"), 0))
                d->terminal_refused = 1;
            moth_json_free(doc);
            continue;
        }
        if (why) {
            moth_dap_refuse(d, seq, command, why);
            moth_json_free(doc);
            continue;
        }
        route(d, doc);
        pthread_mutex_lock(&d->lock);
        int over = d->over;
        pthread_mutex_unlock(&d->lock);
        if (over)
            break;
    }
    pthread_mutex_lock(&d->lock);
    int was_over = d->over;
    d->closed = 1;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (!was_over) { /* the client left without a disconnect */
        PyGILState_STATE g = PyGILState_Ensure();
        moth_dap_client_gone(d);
        PyGILState_Release(g);
    }
    return NULL;
}

void moth_dap_run_attached(moth_dap *d)
{
    moth_dap_reader_main(d);
    PyGILState_STATE g = PyGILState_Ensure();
    if (d->dbg) { /* (the client may have left without a disconnect) */
        PyObject *r = PyObject_CallMethod(d->dbg, "_dap_detach", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    moth_dap_retire(d);
    PyGILState_Release(g);
}

void moth_dap_end(moth_dap *d)
{
    pthread_mutex_lock(&d->lock);
    d->over = 1;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
}

/* ---- a stop ---- */

/* The next request for the serving thread, waiting without the GIL; NULL when the session
 * is over. */
static moth_json_doc *next_request(moth_dap *d)
{
    moth_json_doc *doc = NULL;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&d->lock);
    while (!d->queue && !d->over && !d->closed)
        pthread_cond_wait(&d->cond, &d->lock);
    if (d->queue) {
        moth_dap_request *r = d->queue;
        d->queue = r->next;
        if (!d->queue)
            d->queue_tail = NULL;
        doc = r->doc;
        free(r);
    }
    pthread_mutex_unlock(&d->lock);
    Py_END_ALLOW_THREADS
    return doc;
}

static void send_stopped(moth_dap *d, PyObject *description)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_dap_event_begin(&sb, &w, "stopped");
    moth_jw_str(&w, "reason", d->reason ? d->reason : "step");
    moth_jw_int(&w, "threadId", moth_dap_thread_id(d, d->stop_thread));
    moth_jw_bool(&w, "allThreadsStopped", 0);
    moth_jw_bool(&w, "preserveFocusHint", 0);
    if (d->nhits) {
        moth_jw_array(&w, "hitBreakpointIds");
        for (int i = 0; i < d->nhits; i++)
            moth_jw_int(&w, NULL, d->hit_ids[i]);
        moth_jw_end(&w);
    }
    const char *text = description ? PyUnicode_AsUTF8(description) : NULL;
    PyErr_Clear();
    if (text && *text) {
        moth_jw_str(&w, "description", d->reason);
        moth_jw_str(&w, "text", text);
    }
    moth_dap_send_event(d, NULL, &sb, &w);
}

/* Whether the watch text pdb printed says a watch changed (a data breakpoint). */
static int is_watch_stop(PyObject *text)
{
    const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
    PyErr_Clear();
    return s && strstr(s, "Watchpoint ") && strstr(s, "\nOld value = ");
}

/* Calls a hook with the session held for the call (moth_dap_use): the hooks below run Python,
 * during which another thread may end the session. */
static PyObject *held(PyObject *(*hook)(moth_dap *d, PyObject *arg), PyObject *arg)
{
    moth_dap *d = moth_dap_use();
    PyObject *r = hook(d, arg);
    moth_dap_done(d);
    return r;
}

/* The program resumes: 3.11's tracer of raised exceptions goes back on threads pdb stopped
 * tracing (dap_raise.c). */
static void after_resume(moth_dap *d)
{
#if MOTH_LINES_BY_TRACE
    if (d->break_raised && moth_dap_watch_raises(d, 1) < 0)
        PyErr_Clear();
#else
    (void)d;
#endif
}

/* moth._moth.dap_serve(dbg): pdb stopped (dbg.curframe, dbg.stack): tell the client and
 * answer its requests on this thread until one resumes the program. */
static PyObject *dap_serve_in(moth_dap *d, PyObject *dbg)
{
    if (!d || d->dbg != dbg || d->over || d->closed) {
        PyObject *r = PyObject_CallMethod(dbg, "set_continue", NULL);
        return r;
    }
    PyObject *frame = PyObject_GetAttrString(dbg, "curframe");
    if (!frame)
        return NULL;
    if (d->entry_pending) {
        d->entry_pending = 0;
        if (!d->stop_on_entry) {
            /* a breakpoint on the first line still stops */
            PyObject *hit = PyObject_CallMethod(dbg, "break_here", "O", frame);
            int stop = hit && PyObject_IsTrue(hit) == 1;
            Py_XDECREF(hit);
            PyErr_Clear();
            if (!stop) {
                Py_DECREF(frame);
                PyList_SetSlice(d->messages, 0, PyList_GET_SIZE(d->messages), NULL);
                PyObject *r = PyObject_CallMethod(dbg, "set_continue", NULL);
                after_resume(d);
                return r;
            }
        } else {
            d->reason = "entry";
        }
    }
    PyObject *said = moth_dap_take_messages(d);
    if (is_watch_stop(said))
        moth_dap_note_watch_stop(d, said);
    else
        Py_CLEAR(said);
    unsigned long me = PyThread_get_thread_ident();
    Py_XSETREF(d->stop_frame, frame);
    d->stop_thread = me;
    d->resumed = 0;
    moth_dap_thread_id(d, me);
    moth_dap_resolve_pending(d);
    pthread_mutex_lock(&d->lock);
    d->serving = me;
    pthread_mutex_unlock(&d->lock);
    send_stopped(d, said);
    Py_XDECREF(said);
    d->reason = NULL;
    d->nhits = 0;
    /* No garbage collection while stopped: a pass over the program's objects, set off by what
     * answering allocates, would cost a request tens of milliseconds and run the program's
     * finalizers while it is meant to stand still. */
    int collecting = PyGC_Disable();
    while (!d->resumed) {
        moth_json_doc *doc = next_request(d);
        if (!doc)
            break;
        answer(d, doc, 1);
        moth_json_free(doc);
    }
    if (collecting)
        PyGC_Enable();
    /* Requests that came after the one that resumed are answered as while running. */
    pthread_mutex_lock(&d->lock);
    d->serving = 0;
    moth_dap_request *rest = d->queue;
    d->queue = d->queue_tail = NULL;
    int gone = d->over || d->closed;
    pthread_mutex_unlock(&d->lock);
    moth_dap_forget_stop(d);
    PyList_SetSlice(d->messages, 0, PyList_GET_SIZE(d->messages), NULL);
    while (rest) {
        moth_dap_request *next = rest->next;
        answer(d, rest->doc, 0);
        moth_json_free(rest->doc);
        free(rest);
        rest = next;
    }
    after_resume(d);
    if (gone && !d->resumed) { /* the client left at this stop */
        PyObject *r = PyObject_CallMethod(dbg, d->mode == MOTH_DAP_ATTACH ? "set_continue"
                                                                          : "set_quit", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    Py_RETURN_NONE;
}

static PyObject *dap_serve(PyObject *module, PyObject *dbg)
{
    (void)module;
    return held(dap_serve_in, dbg);
}

/* ---- the hooks moth.dap.DapPdb calls ---- */

/* dap_message(text): pdb's output (message and error), kept for the stop's description. */
static PyObject *dap_message_in(moth_dap *d, PyObject *text)
{
    if (d && d->messages && PyList_Append(d->messages, text) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *dap_message(PyObject *module, PyObject *text)
{
    (void)module;
    return held(dap_message_in, text);
}

/* dap_stop_here(frame, pdb_would_stop): a pause asked for this thread stops here; justMyCode
 * and the debugger's own frames do not. */
static PyObject *dap_stop_here_in(moth_dap *d, PyObject *args)
{
    PyObject *frame;
    int base;
    if (!PyArg_ParseTuple(args, "Op:dap_stop_here", &frame, &base))
        return NULL;
    if (!d)
        return PyBool_FromLong(base);
    unsigned long me = PyThread_get_thread_ident();
    if (me == d->reader_ident)
        Py_RETURN_FALSE;
    PyObject *key = PyLong_FromUnsignedLong(me);
    int pausing = key && PyDict_GET_SIZE(d->pausing) ? PyDict_Contains(d->pausing, key) : 0;
    if (pausing == 1 && !moth_dap_is_debugger_frame(frame)) {
        PyDict_DelItem(d->pausing, key);
        Py_DECREF(key);
        d->reason = "pause";
        Py_RETURN_TRUE;
    }
    Py_XDECREF(key);
    PyErr_Clear();
    if (!base || moth_dap_is_debugger_frame(frame))
        Py_RETURN_FALSE;
    if (d->just_my_code) {
        PyObject *code = PyObject_GetAttrString(frame, "f_code");
        PyObject *file = code ? PyObject_GetAttrString(code, "co_filename") : NULL;
        int library = file && moth_dap_is_library(d, file);
        Py_XDECREF(file);
        Py_XDECREF(code);
        PyErr_Clear();
        if (library)
            Py_RETURN_FALSE;
    }
    Py_RETURN_TRUE;
}

static PyObject *dap_stop_here(PyObject *module, PyObject *args)
{
    (void)module;
    return held(dap_stop_here_in, args);
}

/* dap_breakpoint_hit(frame, number): bdb matched the breakpoint; whether to stop. */
static PyObject *dap_breakpoint_hit_in(moth_dap *d, PyObject *args)
{
    PyObject *frame;
    int number;
    if (!PyArg_ParseTuple(args, "Oi:dap_breakpoint_hit", &frame, &number))
        return NULL;
    if (!d)
        Py_RETURN_TRUE;
    if (PyThread_get_thread_ident() == d->reader_ident)
        Py_RETURN_FALSE;
    return PyBool_FromLong(moth_dap_breakpoint_hit(d, frame, number));
}

static PyObject *dap_breakpoint_hit(PyObject *module, PyObject *args)
{
    (void)module;
    return held(dap_breakpoint_hit_in, args);
}

/* dap_thread(): "request" on the reader, "serving" on a thread answering at a stop, else
 * None. Events on the first two are moth's own work, never the program's. */
static PyObject *dap_thread(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    moth_dap *d = moth_dap_current();
    unsigned long me = PyThread_get_thread_ident();
    if (d && me == d->reader_ident)
        return PyUnicode_FromString("request");
    if (d && me == d->serving)
        return PyUnicode_FromString("serving");
    Py_RETURN_NONE;
}

/* dap_pause_frames(): the frames of the threads a pause waits for (the engine follows them). */
static PyObject *dap_pause_frames(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    moth_dap *d = moth_dap_current();
    if (!d || !d->pausing)
        return PyTuple_New(0);
    PyObject *values = PyDict_Values(d->pausing);
    PyObject *t = values ? PyList_AsTuple(values) : NULL;
    Py_XDECREF(values);
    return t;
}

/* dap_exception(frame, exc_info): an exception pdb's stepping saw (Python's trace function). */
static PyObject *dap_exception_in(moth_dap *d, PyObject *args)
{
    PyObject *frame, *info;
    if (!PyArg_ParseTuple(args, "OO:dap_exception", &frame, &info))
        return NULL;
    if (d && moth_dap_raised_while_stepping(d, frame, info) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *dap_exception(PyObject *module, PyObject *args)
{
    (void)module;
    return held(dap_exception_in, args);
}

PyMethodDef moth_dap_hooks[] = {
    {"dap_serve", dap_serve, METH_O,
     "dap_serve(dbg)\n\nA stop of moth dap's debugger: answers the client until it resumes."},
    {"dap_message", dap_message, METH_O, "dap_message(text)\n\nWhat pdb says, kept."},
    {"dap_stop_here", dap_stop_here, METH_VARARGS,
     "dap_stop_here(frame, pdb_would_stop) -> whether to stop (pause, justMyCode)."},
    {"dap_breakpoint_hit", dap_breakpoint_hit, METH_VARARGS,
     "dap_breakpoint_hit(frame, number) -> whether to stop (hit condition, log message)."},
    {"dap_thread", dap_thread, METH_NOARGS,
     "dap_thread() -> 'request', 'serving' or None: what the calling thread is doing."},
    {"dap_pause_frames", dap_pause_frames, METH_NOARGS,
     "dap_pause_frames() -> the frames a pause waits in."},
    {"dap_exception", dap_exception, METH_VARARGS,
     "dap_exception(frame, exc_info): an exception seen while stepping."},
    {NULL, NULL, 0, NULL},
};

/* ---- the session's life ---- */

moth_dap *moth_dap_new(moth_dap_conn *conn, moth_error *err)
{
    moth_dap *d = moth_calloc(1, sizeof *d, err);
    if (!d)
        return NULL;
    d->conn = conn;
    d->lines_at1 = d->columns_at1 = 1;
    d->just_my_code = 1;
    d->break_uncaught = 1;
    d->output_fds[0] = d->output_fds[1] = -1;
    d->stderr_fd = d->terminal_listener = d->terminal_fd = -1;
    d->next_bp_id = 1;
    d->next_watch_token = 1;
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, NULL);
    d->refs = PyList_New(0);
    d->messages = PyList_New(0);
    d->thread_ids = PyDict_New();
    d->pausing = PyDict_New();
    d->watch_frames = PyDict_New();
    d->codes = PyList_New(0);
    d->code_handles = PyDict_New();
    d->disassembled = PyDict_New();
    if (!d->refs || !d->messages || !d->thread_ids || !d->pausing || !d->watch_frames ||
        !d->codes || !d->code_handles || !d->disassembled) {
        PyErr_Clear();
        moth_dap_free(d);
        moth_fail(err, "out of memory starting the session");
        return NULL;
    }
    PyObject *main = moth_call_function("threading", "main_thread", "()");
    PyObject *ident = main ? PyObject_GetAttrString(main, "ident") : NULL;
    if (ident && PyLong_Check(ident)) /* the main thread is the client's thread 1 */
        moth_dap_thread_id(d, PyLong_AsUnsignedLong(ident));
    Py_XDECREF(ident);
    Py_XDECREF(main);
    PyErr_Clear();
    return d;
}

int moth_dap_start_reader(moth_dap *d, moth_error *err)
{
    /* The reader's own thread state comes with its first PyGILState_Ensure. */
    if (pthread_create(&d->reader, NULL, moth_dap_reader_main, d) != 0)
        return moth_fail(err, "cannot start the request thread");
    d->reader_running = 1;
    d->reader_ident = (unsigned long)d->reader;
    return 0;
}

void moth_dap_join_reader(moth_dap *d)
{
    if (!d->reader_running)
        return;
    moth_dap_conn_close(d->conn);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(d->reader, NULL);
    Py_END_ALLOW_THREADS
    d->reader_running = 0;
}

void moth_dap_free(moth_dap *d)
{
    if (!d)
        return;
    moth_dap_relay_free(d);
    moth_dap_close_console(d);
    if (d->break_raised)
        moth_dap_watch_raises(d, 0);
    PyErr_Clear();
    moth_dap_free_breakpoints(d);
    while (d->queue) {
        moth_dap_request *r = d->queue;
        d->queue = r->next;
        moth_json_free(r->doc);
        free(r);
    }
    Py_CLEAR(d->refs);
    Py_CLEAR(d->messages);
    Py_CLEAR(d->thread_ids);
    Py_CLEAR(d->pausing);
    Py_CLEAR(d->watch_frames);
    Py_CLEAR(d->codes);
    Py_CLEAR(d->code_handles);
    Py_CLEAR(d->disassembled);
    Py_CLEAR(d->dbg);
    Py_CLEAR(d->stop_exception);
    Py_CLEAR(d->stop_frame);
    Py_CLEAR(d->launch_args);
    moth_target_clear(&d->target);
    if (d->stderr_fd >= 0)
        close(d->stderr_fd);
    for (int i = 0; i < d->nprefixes; i++)
        free(d->stdlib_prefixes[i]);
    free(d->console);
    moth_dap_conn_free(d->conn);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}
