/*
 * dap_launch.c: a session's program: launch (the program runs in this process, under
 * moth dap's debugger, as `moth debug` runs it), attach (to the program that called
 * moth.listen(), or by its process id: dap_pid.c), configurationDone, restart, terminate,
 * disconnect, and the program's console.
 *
 * Console. "internalConsole" (the default): the program's stdout and stderr become pipes that
 * a C thread turns into `output` events, and stdin reads nothing. "integratedTerminal" and
 * "externalTerminal": the client is asked (runInTerminal) to start `moth dap --terminal PATH`
 * in a terminal; that helper hands its terminal's descriptors over a private Unix socket, and
 * they become the program's stdin, stdout and stderr (Ctrl-C there interrupts the program).
 *
 * Restart replaces the process with a new moth dap (execv) that keeps the connection and the
 * breakpoints: a program restarts as fresh as it first started.
 */
#define _GNU_SOURCE /* pipe2 */
#include "dap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "interp.h"
#include "pycall.h"
#include "sock.h"

/* ---- justMyCode: what is library code ---- */

int moth_dap_is_library(moth_dap *d, PyObject *filename)
{
    const char *f = PyUnicode_Check(filename) ? PyUnicode_AsUTF8(filename) : NULL;
    if (!f) {
        PyErr_Clear();
        return 0;
    }
    if (strncmp(f, "<frozen ", 8) == 0)
        return 1;
    for (int i = 0; i < d->nprefixes; i++)
        if (strncmp(f, d->stdlib_prefixes[i], strlen(d->stdlib_prefixes[i])) == 0)
            return 1;
    return 0;
}

static void add_prefix(moth_dap *d, PyObject *path)
{
    const char *p = path && PyUnicode_Check(path) ? PyUnicode_AsUTF8(path) : NULL;
    if (!p || !*p || d->nprefixes >= (int)(sizeof d->stdlib_prefixes /
                                           sizeof *d->stdlib_prefixes))
        return;
    size_t n = strlen(p);
    char *copy = malloc(n + 2);
    if (!copy)
        return;
    memcpy(copy, p, n);
    copy[n] = '/';
    copy[n + 1] = '\0';
    if (n && p[n - 1] == '/')
        copy[n] = '\0';
    d->stdlib_prefixes[d->nprefixes++] = copy;
}

/* Where the standard library, installed packages and moth itself are. */
static void find_library(moth_dap *d)
{
    if (d->nprefixes)
        return;
    PyObject *paths = moth_call_function("sysconfig", "get_paths", "()");
    const char *keys[] = {"stdlib", "platstdlib", "purelib", "platlib"};
    for (size_t i = 0; paths && PyDict_Check(paths) && i < 4; i++)
        add_prefix(d, PyDict_GetItemString(paths, keys[i]));
    Py_XDECREF(paths);
    PyObject *moth = PyImport_ImportModule("moth");
    PyObject *file = moth ? PyObject_GetAttrString(moth, "__file__") : NULL;
    PyObject *dir = file ? moth_call_function("os.path", "dirname", "(O)", file) : NULL;
    add_prefix(d, dir);
    Py_XDECREF(dir);
    Py_XDECREF(file);
    Py_XDECREF(moth);
    PyErr_Clear();
}

/* ---- the debugger ---- */

static int make_debugger(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (d->mode != MOTH_DAP_NONE)
        return moth_dap_fail(ctx, "this session has a program already");
    PyObject *cls = moth_module_attr("moth.dap", "DapPdb");
    d->dbg = cls ? PyObject_CallNoArgs(cls) : NULL;
    Py_XDECREF(cls);
    if (!d->dbg)
        return moth_dap_fail_exception(ctx, "cannot start the debugger");
    d->just_my_code = moth_json_bool(moth_json_get(ctx->args, "justMyCode"), 1);
    find_library(d);
    return 0;
}

static void send_initialized(moth_dap_ctx *ctx)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_dap_event_begin(&sb, &w, "initialized");
    moth_dap_send_event(ctx->d, ctx, &sb, &w);
}

/* ---- the console ---- */

/* Sends what a pipe holds as output events; holds back a UTF-8 sequence cut at the end of a
 * read, so that no character is split across two events. -1 at the end of the pipe. */
static int forward(moth_dap *d, int fd, const char *category, char *carry, size_t *ncarry)
{
    char buf[16384 + 4];
    memcpy(buf, carry, *ncarry);
    ssize_t n = read(fd, buf + *ncarry, sizeof buf - 4);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        if (*ncarry)
            moth_dap_output(d, category, buf, *ncarry);
        *ncarry = 0;
        return -1;
    }
    size_t total = *ncarry + (size_t)n, keep = 0;
    /* a lead byte in the last three bytes whose sequence is not complete */
    for (size_t k = 1; k <= 3 && k <= total; k++) {
        unsigned char c = (unsigned char)buf[total - k];
        if ((c & 0xC0) == 0x80)
            continue;
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        if (need > k)
            keep = k;
        break;
    }
    moth_dap_output(d, category, buf, total - keep);
    memcpy(carry, buf + total - keep, keep);
    *ncarry = keep;
    return 0;
}

static void *output_main(void *arg)
{
    moth_dap *d = arg;
    const char *categories[2] = {"stdout", "stderr"};
    char carry[2][4];
    size_t ncarry[2] = {0, 0};
    int open[2] = {d->output_fds[0] >= 0, d->output_fds[1] >= 0};
    while (open[0] || open[1]) {
        struct pollfd fds[2] = {{open[0] ? d->output_fds[0] : -1, POLLIN, 0},
                                {open[1] ? d->output_fds[1] : -1, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++)
            if (open[i] && fds[i].revents &&
                forward(d, d->output_fds[i], categories[i], carry[i], &ncarry[i]) < 0)
                open[i] = 0;
    }
    return NULL;
}

/* The program's stdout and stderr into pipes read by the output thread; stdin from nothing. */
static int console_internal(moth_dap *d, moth_error *err)
{
    int out[2], errp[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return moth_fail(err, "cannot make a pipe: %s", strerror(errno));
    if (pipe2(errp, O_CLOEXEC) < 0) {
        close(out[0]);
        close(out[1]);
        return moth_fail(err, "cannot make a pipe: %s", strerror(errno));
    }
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        close(null);
    }
    dup2(out[1], 1);
    dup2(errp[1], 2);
    close(out[1]);
    close(errp[1]);
    d->output_fds[0] = out[0];
    d->output_fds[1] = errp[0];
    if (pthread_create(&d->output_thread, NULL, output_main, d) != 0) {
        close(out[0]);
        close(errp[0]);
        d->output_fds[0] = d->output_fds[1] = -1;
        return moth_fail(err, "cannot start the output thread");
    }
    d->output_running = 1;
    /* a print shows when it is printed, as at a terminal */
    const char *streams[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(streams[i]);
        PyObject *r = f ? PyObject_CallMethod(f, "reconfigure", "{s:O}", "line_buffering",
                                             Py_True)
                        : NULL;
        Py_XDECREF(r);
        PyErr_Clear();
    }
    return 0;
}

/* The program's output is all sent: its streams flushed, the pipes' write ends closed, the
 * output thread done. */
static void drain_output(moth_dap *d)
{
    const char *streams[] = {"stdout", "stderr"};
    for (int i = 0; i < 2; i++) {
        PyObject *f = PySys_GetObject(streams[i]);
        PyObject *r = f ? PyObject_CallMethod(f, "flush", NULL) : NULL;
        Py_XDECREF(r);
        PyErr_Clear();
    }
    if (!d->output_running)
        return;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 1);
        dup2(d->stderr_fd >= 0 ? d->stderr_fd : null, 2);
        close(null);
    }
    Py_BEGIN_ALLOW_THREADS
    pthread_join(d->output_thread, NULL);
    Py_END_ALLOW_THREADS
    d->output_running = 0;
    close(d->output_fds[0]);
    close(d->output_fds[1]);
    d->output_fds[0] = d->output_fds[1] = -1;
}

/* Asks the client to start the terminal helper (runInTerminal): its answer is not waited for
 * here (the reader receives it); the program's start waits for the helper instead. */
static int console_terminal(moth_dap *d, int external, moth_error *err)
{
    char path[128];
    int fd = moth_sock_listen_unix(path, sizeof path, err);
    if (fd < 0)
        return -1;
    d->terminal_listener = fd;
    snprintf(d->terminal_path, sizeof d->terminal_path, "%s", path);
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    PyObject *exe = PySys_GetObject("executable");
    const char *python = exe && PyUnicode_Check(exe) ? PyUnicode_AsUTF8(exe) : NULL;
    PyObject *cwd = moth_call_function("os", "getcwd", "()");
    const char *c = cwd ? PyUnicode_AsUTF8(cwd) : NULL;
    moth_jw_init(&w, &sb);
    moth_jw_object(&w, NULL);
    moth_jw_int(&w, "seq", 0);
    moth_jw_str(&w, "type", "request");
    moth_jw_str(&w, "command", "runInTerminal");
    moth_jw_object(&w, "arguments");
    moth_jw_str(&w, "kind", external ? "external" : "integrated");
    moth_jw_str(&w, "title", "moth dap");
    moth_jw_str(&w, "cwd", c ? c : "/");
    moth_jw_array(&w, "args");
    moth_jw_str(&w, NULL, python ? python : "python3");
    moth_jw_str(&w, NULL, "-m");
    moth_jw_str(&w, NULL, "moth");
    moth_jw_str(&w, NULL, "dap");
    moth_jw_str(&w, NULL, "--terminal");
    moth_jw_str(&w, NULL, path);
    moth_jw_end(&w);
    moth_jw_end(&w);
    moth_jw_end(&w);
    Py_XDECREF(cwd);
    PyErr_Clear();
    int rc = moth_dap_conn_send(d->conn, sb.data, sb.len);
    moth_sb_free(&sb);
    return rc < 0 ? moth_fail(err, "cannot ask the client for a terminal") : 0;
}

static void *terminal_watch(void *arg)
{
    moth_dap *d = arg;
    char byte;
    ssize_t n;
    while ((n = read(d->terminal_fd, &byte, 1)) > 0 || (n < 0 && errno == EINTR))
        if (n > 0 && byte == 'I')
            kill(getpid(), SIGINT); /* Ctrl-C at the program's terminal */
    return NULL;
}

/* The helper's terminal as the program's stdin, stdout and stderr. 0, or -1 when no helper
 * came (the client refused, or took too long): the output then goes to events. */
static int take_terminal(moth_dap *d)
{
    int fd = -1;
    Py_BEGIN_ALLOW_THREADS
    for (int waited = 0; waited < 30000 && fd < 0 && !d->terminal_refused && !d->over; waited += 100) {
        struct pollfd p = {d->terminal_listener, POLLIN, 0};
        if (poll(&p, 1, 100) > 0)
            fd = moth_sock_accept(d->terminal_listener, NULL);
    }
    Py_END_ALLOW_THREADS
    close(d->terminal_listener);
    d->terminal_listener = -1;
    moth_sock_unix_remove(d->terminal_path);
    int fds[3], n = 0;
    if (fd < 0 || moth_sock_recv_fds(fd, fds, 3, &n, NULL) < 0 || n != 3) {
        for (int i = 0; i < n; i++)
            close(fds[i]);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    for (int i = 0; i < 3; i++) {
        dup2(fds[i], i);
        close(fds[i]);
    }
    d->terminal_fd = fd;
    if (pthread_create(&d->terminal_thread, NULL, terminal_watch, d) == 0)
        d->terminal_running = 1;
    return 0;
}

/* ---- launch ---- */

/* Applies cwd and env of the launch arguments (before anything resolves a path). */
static int apply_environment(moth_dap_ctx *ctx)
{
    const char *cwd = moth_json_text(moth_json_get(ctx->args, "cwd"));
    if (cwd && *cwd && chdir(cwd) < 0)
        return moth_dap_fail(ctx, "cannot change to the directory %s: %s", cwd, strerror(errno));
    const moth_json *env = moth_json_get(ctx->args, "env");
    if (env && env->type != MOTH_JSON_OBJECT)
        return moth_dap_fail(ctx, "env must be an object of strings");
    PyObject *environ = env && env->count ? moth_module_attr("os", "environ") : NULL;
    for (const moth_json *v = env ? env->first : NULL; v && environ; v = v->next) {
        int rc = 0;
        if (v->type == MOTH_JSON_NULL) {
            PyObject *r = PyObject_CallMethod(environ, "pop", "sO", v->key, Py_None);
            rc = r ? 0 : -1;
            Py_XDECREF(r);
        } else if (v->type == MOTH_JSON_STRING) {
            PyObject *value = PyUnicode_FromString(v->str);
            rc = value ? PyMapping_SetItemString(environ, v->key, value) : -1;
            Py_XDECREF(value);
        } else {
            Py_DECREF(environ);
            return moth_dap_fail(ctx, "env's %s must be a string or null", v->key);
        }
        if (rc < 0) {
            Py_DECREF(environ);
            return moth_dap_fail_exception(ctx, "cannot set the environment");
        }
    }
    Py_XDECREF(environ);
    PyErr_Clear();
    return 0;
}

/* args: a list of strings, or one string split as a shell would split words. */
static PyObject *program_args(moth_dap_ctx *ctx)
{
    const moth_json *a = moth_json_get(ctx->args, "args");
    if (!a)
        return PyList_New(0);
    if (a->type == MOTH_JSON_STRING)
        return moth_call_function("shlex", "split", "(s)", a->str);
    if (a->type != MOTH_JSON_ARRAY) {
        moth_dap_fail(ctx, "args must be a list of strings");
        return NULL;
    }
    PyObject *list = PyList_New(0);
    for (const moth_json *v = a->first; v && list; v = v->next) {
        PyObject *s = v->type == MOTH_JSON_STRING ? PyUnicode_DecodeFSDefault(v->str) : NULL;
        if (!s || PyList_Append(list, s) < 0) {
            Py_XDECREF(s);
            Py_CLEAR(list);
            if (!PyErr_Occurred())
                moth_dap_fail(ctx, "args must be a list of strings");
        }
        Py_XDECREF(s);
    }
    return list;
}

/* The launch itself (also what a restarted process does with the arguments it kept). */
static int launch(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    const char *program = moth_json_text(moth_json_get(ctx->args, "program"));
    const char *module = moth_json_text(moth_json_get(ctx->args, "module"));
    const char *code = moth_json_text(moth_json_get(ctx->args, "code"));
    if ((program != NULL) + (module != NULL) + (code != NULL) != 1)
        return moth_dap_fail(ctx, "launch needs one of program, module or code");
    const char *console = moth_json_text(moth_json_get(ctx->args, "console"));
    if (!console)
        console = "internalConsole";
    if (strcmp(console, "internalConsole") != 0 && strcmp(console, "integratedTerminal") != 0 &&
        strcmp(console, "externalTerminal") != 0)
        return moth_dap_fail(ctx, "console must be internalConsole, integratedTerminal or "
                             "externalTerminal, not '%s'", console);
    if (make_debugger(ctx) < 0 || apply_environment(ctx) < 0)
        return -1;
    d->stop_on_entry = moth_json_bool(moth_json_get(ctx->args, "stopOnEntry"), 0);
    PyObject *args = program_args(ctx);
    if (!args)
        return PyErr_Occurred() ? moth_dap_fail_exception(ctx, "cannot read args") : -1;
    d->target.kind = program ? MOTH_TARGET_SCRIPT : module ? MOTH_TARGET_MODULE
                                                           : MOTH_TARGET_CODE;
    d->target.what = PyUnicode_DecodeFSDefault(program ? program : module ? module : code);
    d->target.args = args;
    if (!d->target.what)
        return moth_dap_fail_exception(ctx, "cannot read the program");
    char message[600];
    int status;
    int rc = moth_target_prepare(&d->target, message, sizeof message, &status);
    if (rc == -2) {
        return moth_dap_fail_exception(ctx, "the program does not compile");
    } else if (rc < 0) {
        if (!message[0])
            return moth_dap_fail_exception(ctx, "cannot prepare the program");
        return moth_dap_fail(ctx, "%s", message);
    }
    d->prepared = 1;
    d->mode = MOTH_DAP_LAUNCH;
    moth_error err;
    int terminal = strcmp(console, "internalConsole") != 0;
    if (terminal && !d->client_runs_terminals) {
        moth_dap_output(d, "console", "moth: this client cannot run a terminal "
                        "(runInTerminal): the program's output comes here\n", 75);
        terminal = 0;
    }
    if (terminal ? console_terminal(d, strcmp(console, "externalTerminal") == 0, &err)
                 : console_internal(d, &err) < 0)
        return moth_dap_fail(ctx, "%s", err.msg);
    free(d->console);
    d->console = strdup(console);
    return 0;
}

int moth_dap_req_launch(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (launch(ctx) < 0)
        return -1;
    moth_sb text = MOTH_SB_INIT;
    moth_json_write_value(&text, ctx->args);
    Py_XSETREF(d->launch_args, PyUnicode_FromStringAndSize(text.data, (Py_ssize_t)text.len));
    moth_sb_free(&text);
    PyErr_Clear();
    send_initialized(ctx);
    return 0;
}

/* ---- attach ---- */

/* The process id of attach's processId (debugpy's name; pid too), a number or a string of
 * digits (what an editor's process picker gives); 0 when there is none, -1 when it is not a
 * process id (the message set). */
static int64_t process_id(moth_dap_ctx *ctx)
{
    const moth_json *v = moth_json_get(ctx->args, "processId");
    if (!v)
        v = moth_json_get(ctx->args, "pid");
    if (!v)
        return 0;
    int64_t pid = 0;
    const char *text = moth_json_text(v);
    if (text) {
        char *end;
        long long n = strtoll(text, &end, 10);
        pid = *text && !*end ? n : -1;
    } else if (!moth_json_int(v, &pid)) {
        pid = -1;
    }
    if (pid <= 0 || pid > INT32_MAX) {
        moth_sb sb = MOTH_SB_INIT;
        moth_json_write_value(&sb, v);
        moth_dap_fail(ctx, "processId must be a process id, not %.*s", (int)(sb.len < 200 ? sb.len : 200),
                      sb.data ? sb.data : "?");
        moth_sb_free(&sb);
        return -1;
    }
    return pid;
}

int moth_dap_req_attach(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int64_t pid = process_id(ctx);
    if (pid < 0)
        return -1;
    if (pid && (d->listening ? pid != (int64_t)getpid() : 1)) {
        if (d->listening)
            return moth_dap_fail(ctx, "this session is in process %ld, not %lld: attach to that "
                                 "one with moth dap", (long)getpid(), (long long)pid);
        if (d->mode != MOTH_DAP_NONE || d->relay)
            return moth_dap_fail(ctx, "this session has a program already");
        if (moth_dap_attach_pid(ctx, pid) < 0)
            return -1;
        d->mode = MOTH_DAP_ATTACH;
        send_initialized(ctx);
        return 0;
    }
    if (!d->listening)
        return moth_dap_fail(ctx, "attach needs the processId of the program to attach to (or "
                             "the address a program's moth.listen() opened)");
    if (make_debugger(ctx) < 0)
        return -1;
    PyObject *r = moth_dap_call_dbg(d, "_dap_attach", "()");
    if (!r)
        return moth_dap_fail_exception(ctx, "cannot attach");
    Py_DECREF(r);
    d->mode = MOTH_DAP_ATTACH;
    send_initialized(ctx);
    return 0;
}

int moth_dap_adopt(moth_dap *d, const moth_json *state, moth_error *err)
{
    d->initialized = 1;
    d->by_pid = 1;
    d->lines_at1 = moth_json_bool(moth_json_get(state, "linesStartAt1"), 1);
    d->columns_at1 = moth_json_bool(moth_json_get(state, "columnsStartAt1"), 1);
    moth_dap_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.d = d;
    ctx.args = moth_json_get(state, "arguments");
    ctx.command = "attach";
    PyObject *r = NULL;
    if (make_debugger(&ctx) == 0 && !(r = moth_dap_call_dbg(d, "_dap_attach", "()")))
        moth_dap_fail_exception(&ctx, "cannot attach");
    if (!r) {
        PyErr_Clear();
        return moth_fail(err, "%s", ctx.message);
    }
    Py_DECREF(r);
    d->mode = MOTH_DAP_ATTACH;
    return 0;
}

int moth_dap_req_configuration_done(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (d->mode == MOTH_DAP_NONE)
        return moth_dap_fail(ctx, "launch or attach first");
    if (d->configured)
        return 0;
    d->configured = 1;
    if (d->mode == MOTH_DAP_ATTACH) {
        moth_dap_resolve_pending(d);
        PyObject *r = moth_dap_call_dbg(d, "_dap_rearm", "()");
        if (!r)
            return moth_dap_fail_exception(ctx, "cannot arm the breakpoints");
        Py_DECREF(r);
        moth_dap_listener_configured();
    }
    pthread_mutex_lock(&d->lock);
    d->started = 1;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

/* ---- the end ---- */

/* Asks the running program to end as pdb's quit ends it: BdbQuit in the main thread (and a
 * stopped thread resumes into it). Attach: the program is let go instead; one moth dap
 * attached to by its process id is then ended when end_attached (SIGTERM, as `kill` in
 * `moth debug -p`, once the answer is out). */
static void end_program(moth_dap *d, int serving, int end_attached)
{
    if (!d->dbg)
        return;
    if (d->mode == MOTH_DAP_ATTACH) {
        PyObject *r = moth_dap_call_dbg(d, "_dap_detach", "()");
        Py_XDECREF(r);
        PyErr_Clear();
        d->resumed = serving;
        if (d->by_pid && end_attached)
            d->end_when_answered = 1;
        return;
    }
    d->terminating = 1;
    PyObject *r = moth_dap_call_dbg(d, "set_quit", "()");
    Py_XDECREF(r);
    PyErr_Clear();
    if (serving) {
        d->resumed = 1;
    } else if (d->program_running) {
        PyObject *quit = moth_module_attr("bdb", "BdbQuit");
        if (quit)
            PyThreadState_SetAsyncExc(d->main_ident, quit);
        Py_XDECREF(quit);
        PyErr_Clear();
    }
}

int moth_dap_req_terminate(moth_dap_ctx *ctx)
{
    end_program(ctx->d, ctx->serving, 1);
    return 0;
}

int moth_dap_req_disconnect(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    int kill_it = moth_json_bool(moth_json_get(ctx->args, "terminateDebuggee"),
                                 d->mode != MOTH_DAP_ATTACH);
    if (d->mode == MOTH_DAP_ATTACH || kill_it)
        end_program(d, ctx->serving, kill_it);
    else if (ctx->serving)
        moth_dap_call_dbg(d, "set_continue", "()"), d->resumed = 1;
    moth_dap_end(d);
    return 0;
}

void moth_dap_client_gone(moth_dap *d)
{
    end_program(d, 0, 0);
    moth_dap_end(d);
}

/* ---- restart: a new process, same connection ---- */

int moth_dap_req_restart(moth_dap_ctx *ctx)
{
    moth_dap *d = ctx->d;
    if (d->mode != MOTH_DAP_LAUNCH)
        return moth_dap_fail(ctx, "only a launched program restarts");
    const moth_json *args = moth_json_get(ctx->args, "arguments");
    if (args) {
        moth_sb text = MOTH_SB_INIT;
        moth_json_write_value(&text, args);
        Py_XSETREF(d->launch_args, PyUnicode_FromStringAndSize(text.data, (Py_ssize_t)text.len));
        moth_sb_free(&text);
    }
    d->restart = 1; /* done once the response is out (moth_dap_restart_now) */
    return 0;
}

void moth_dap_restart_now(moth_dap *d)
{
    moth_sb state = MOTH_SB_INIT;
    moth_jw w;
    moth_jw_init(&w, &state);
    moth_jw_object(&w, NULL);
    moth_jw_int(&w, "in", moth_dap_conn_in_fd(d->conn));
    moth_jw_int(&w, "out", moth_dap_conn_out_fd(d->conn));
    moth_jw_int(&w, "stderr", d->stderr_fd);
    moth_jw_int(&w, "seq", moth_dap_conn_next_seq(d->conn));
    moth_jw_bool(&w, "linesStartAt1", d->lines_at1);
    moth_jw_bool(&w, "columnsStartAt1", d->columns_at1);
    moth_jw_bool(&w, "supportsRunInTerminalRequest", d->client_runs_terminals);
    const char *launch_args = d->launch_args ? PyUnicode_AsUTF8(d->launch_args) : NULL;
    moth_jw_raw(&w, "launch", launch_args ? launch_args : "{}",
                launch_args ? strlen(launch_args) : 2);
    moth_dap_write_breakpoint_state(d, &w);
    moth_jw_end(&w);
    PyErr_Clear();
    /* the program's output so far is sent before the process goes */
    drain_output(d);
    char path[] = "/tmp/moth-dap-restart-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, state.data, state.len) != (ssize_t)state.len) {
        moth_dap_output(d, "console", "moth: cannot restart (no room for its state)\n", 46);
        if (fd >= 0)
            close(fd);
        moth_sb_free(&state);
        d->restart = 0;
        return;
    }
    close(fd);
    moth_sb_free(&state);
    /* the connection and moth's stderr outlive the exec; the program's streams do not */
    int keep[3] = {moth_dap_conn_in_fd(d->conn), moth_dap_conn_out_fd(d->conn), d->stderr_fd};
    for (int i = 0; i < 3; i++)
        if (keep[i] >= 0)
            fcntl(keep[i], F_SETFD, 0);
    int null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2(null, 0);
        dup2(d->stderr_fd >= 0 ? d->stderr_fd : null, 1);
        dup2(d->stderr_fd >= 0 ? d->stderr_fd : null, 2);
    }
    PyObject *exe = PySys_GetObject("executable");
    const char *python = exe && PyUnicode_Check(exe) ? PyUnicode_AsUTF8(exe) : "python3";
    char *argv[] = {(char *)python, "-m", "moth", "dap", "--resume", path, NULL};
    execv(python, argv);
    moth_dap_output(d, "console", "moth: cannot restart (exec failed)\n", 36);
    unlink(path);
    d->restart = 0;
}

/* ---- running the launched program (the main thread) ---- */

static int wait_until(moth_dap *d, int *flag)
{
    int over;
    Py_BEGIN_ALLOW_THREADS
    pthread_mutex_lock(&d->lock);
    while (!*flag && !d->over && !d->closed)
        pthread_cond_wait(&d->cond, &d->lock);
    over = d->over || d->closed;
    pthread_mutex_unlock(&d->lock);
    Py_END_ALLOW_THREADS
    return over;
}

static void send_end(moth_dap *d, int status)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_dap_event_begin(&sb, &w, "exited");
    moth_jw_int(&w, "exitCode", status);
    moth_dap_send_event(d, NULL, &sb, &w);
    moth_dap_event_begin(&sb, &w, "terminated");
    moth_dap_send_event(d, NULL, &sb, &w);
}

/* The program's end, as python ends it (exit status, traceback), with a stop first at an
 * uncaught exception when the client asked for those. */
static int program_status(moth_dap *d, PyObject *result)
{
    if (result)
        return 0;
    PyObject *exc = moth_take_exception();
    PyObject *quit = moth_module_attr("bdb", "BdbQuit");
    int quitted = quit && exc && PyErr_GivenExceptionMatches(exc, quit);
    Py_XDECREF(quit);
    PyErr_Clear();
    if (quitted || d->terminating) {
        Py_XDECREF(exc);
        return d->terminating ? 0 : 1;
    }
    if (exc && d->break_uncaught && !d->over &&
        !PyErr_GivenExceptionMatches(exc, PyExc_SystemExit)) {
        moth_dap_stop_at_exception(d, NULL, exc, 1);
        PyErr_Clear();
    }
    moth_give_exception(exc);
    return moth_program_exit_status(NULL);
}

int moth_dap_run_launched(moth_dap *d)
{
    if (wait_until(d, &d->started) || d->mode != MOTH_DAP_LAUNCH) {
        wait_until(d, &d->over);
        return 0;
    }
    if (d->terminal_listener >= 0 && take_terminal(d) < 0) {
        moth_error err;
        moth_dap_output(d, "console", "moth: no terminal came: the program's output comes "
                        "here\n", 57);
        if (console_internal(d, &err) < 0)
            moth_dap_output(d, "console", err.msg, strlen(err.msg));
    }
    d->main_ident = PyThread_get_thread_ident();
    d->entry_pending = 1;
    d->program_running = 1;
    PyObject *filename = PyObject_GetAttrString(d->target.code, "co_filename");
    PyObject *r = filename ? PyObject_CallMethod(d->dbg, "_moth_run_program", "OOO",
                                                 d->target.code, d->target.globals, filename)
                           : NULL;
    Py_XDECREF(filename);
    int status = program_status(d, r);
    Py_XDECREF(r);
    PyErr_Clear();
    moth_wait_for_threads();
    d->program_running = 0;
    d->exit_code = status;
    drain_output(d);
    if (!d->over)
        send_end(d, status);
    wait_until(d, &d->over);
    return status;
}

/* ---- a restarted process ---- */

int moth_dap_resume(moth_dap *d, const moth_json *state, moth_error *err)
{
    d->initialized = 1;
    d->lines_at1 = moth_json_bool(moth_json_get(state, "linesStartAt1"), 1);
    d->columns_at1 = moth_json_bool(moth_json_get(state, "columnsStartAt1"), 1);
    d->client_runs_terminals = moth_json_bool(moth_json_get(state, "supportsRunInTerminalRequest"),
                                              0);
    moth_dap_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.d = d;
    ctx.args = moth_json_get(state, "launch");
    ctx.command = "restart";
    if (launch(&ctx) < 0) {
        PyErr_Clear();
        return moth_fail(err, "%s", ctx.message);
    }
    moth_sb text = MOTH_SB_INIT;
    moth_json_write_value(&text, ctx.args);
    Py_XSETREF(d->launch_args, PyUnicode_FromStringAndSize(text.data, (Py_ssize_t)text.len));
    moth_sb_free(&text);
    moth_dap_restore_breakpoints(d, state);
    PyErr_Clear();
    d->configured = d->started = 1;
    return 0;
}

/* ---- the end of a session ---- */

void moth_dap_close_console(moth_dap *d)
{
    drain_output(d);
    if (d->terminal_running) {
        shutdown(d->terminal_fd, SHUT_RDWR); /* the helper ends, and with it the wait below */
        Py_BEGIN_ALLOW_THREADS
        pthread_join(d->terminal_thread, NULL);
        Py_END_ALLOW_THREADS
        d->terminal_running = 0;
    }
    if (d->terminal_fd >= 0)
        close(d->terminal_fd);
    d->terminal_fd = -1;
    if (d->terminal_listener >= 0) {
        close(d->terminal_listener);
        moth_sock_unix_remove(d->terminal_path);
        d->terminal_listener = -1;
    }
}
