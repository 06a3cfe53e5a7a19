/* subprocs.c: every Python process of the program profiled into one moth file; see
 * subprocs.h. */
#include "subprocs.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "calibrate.h"
#include "fatal_signals.h"
#include "mothfile.h"
#include "pycall.h"

/* What children inherit: "1:FLAGS:SESSION:PATH" (the path last: it may hold ':'), and the
 * parent's calibration "HEXVERSION INNER INLINE OTHER SPREAD DELTA PROBE", which a child of the
 * same Python takes instead of calibrating again (tens of milliseconds per child). */
#define ENV_RUN "MOTH_SUBPROCESSES"
#define ENV_CALIBRATION "MOTH_SUBPROCESSES_CALIBRATION"

/* This process's part (a fork copies it; the pid fields tell whose it is). */
static struct {
    int active;
    char *path, *session;
    moth_subprocs_opts opts;
    moth_profiler *prof;       /* what records this process */
    moth_profiler own;         /* a new interpreter's profiler (prof points here) */
    pid_t main_pid;            /* moth profile's process: its run is the command's to write */
    pid_t child_pid;           /* the child this state records (forked or bootstrapped) */
    pid_t written_pid;         /* the process whose run was written */
    pid_t parent_pid;          /* the child's parent when it started (a parent that ended
                                  first leaves it to init) */
    char how[16];
    double started;            /* Unix time the child's recording began */
    uint64_t t0;               /* monotonic ns then */
    PyObject *real_exit;       /* os._exit as it was */
} subs;

void moth_subprocs_new_session(char *out, size_t size)
{
    unsigned char bits[8] = {0};
    if (getrandom(bits, sizeof bits, GRND_NONBLOCK) != (ssize_t)sizeof bits)
        memset(bits, 0, sizeof bits); /* pid and time still tell sessions apart */
    char host[64] = "";
    if (gethostname(host, sizeof host) != 0)
        host[0] = '\0';
    host[sizeof host - 1] = '\0';
    snprintf(out, size, "%s-%ld-%.6f-%02x%02x%02x%02x%02x%02x%02x%02x", host, (long)getpid(),
             moth_unix_time(), bits[0], bits[1], bits[2], bits[3], bits[4], bits[5], bits[6], bits[7]);
}

static const char *getenv_lookup(const char *name, void *ctx)
{
    (void)ctx;
    return getenv(name);
}

int moth_subprocs_describe_process(moth_profile *p, const char *how, const char *session,
                                   int64_t parent_pid, moth_error *err)
{
    moth_process proc;
    moth_process_init(&proc);
    char *job = NULL;
    int rc = -1;
    if (moth_process_self(&proc, err) < 0 ||
        moth_process_mpi(&proc, getenv_lookup, NULL, &job, err) < 0)
        goto done;
    if (parent_pid)
        proc.parent_pid = parent_pid;
    if ((how && !(proc.how = moth_strdup(how, err))) ||
        (session && !(proc.session = moth_strdup(session, err))))
        goto done;
    p->nprocesses = 0; /* a snapshot's only process is this one */
    rc = moth_profile_add_process(p, &proc, NULL, err);
done:
    free(job);
    moth_process_free(&proc);
    return rc;
}

/* ---- a child's run ---- */

/* What a moth file keeps about a child's run (the command's describe_run for the main one). */
static void describe_child(moth_profile *p)
{
    char text[128];
    moth_process *proc = p->nprocesses ? &p->processes[0] : NULL;
    moth_profile_set_meta(p, "command", proc && proc->command ? proc->command : "", NULL);
    PyObject *argv_obj = PySys_GetObject("argv");
    PyObject *repr = argv_obj ? PyObject_Repr(argv_obj) : NULL;
    const char *argv_text = repr ? PyUnicode_AsUTF8(repr) : NULL;
    moth_profile_set_meta(p, "argv", argv_text ? argv_text : "", NULL);
    Py_XDECREF(repr);
    PyErr_Clear();
    moth_profile_set_meta(p, "python", Py_GetVersion(), NULL);
    moth_profile_set_meta(p, "clock", subs.opts.clock == MOTH_CLOCK_CPU ? "cpu" : "wall", NULL);
    moth_profile_set_meta(p, "mode", subs.opts.builtins ? "builtins (profile hook)"
                                                        : "frames (frame evaluation)", NULL);
    snprintf(text, sizeof text, "%.6f", subs.started);
    moth_profile_set_meta(p, "start", text, NULL);
    snprintf(text, sizeof text, "%.6f", (double)(moth_monotonic_ns() - subs.t0) * 1e-9);
    moth_profile_set_meta(p, "duration", text, NULL);
    moth_profile_set_meta(p, "moth_version", MOTH_VERSION, NULL);
    if (gethostname(text, sizeof text) == 0) {
        text[sizeof text - 1] = '\0';
        moth_profile_set_meta(p, "host", text, NULL);
    }
    snprintf(text, sizeof text, "%ld", (long)getpid());
    moth_profile_set_meta(p, "pid", text, NULL);
    moth_profile_set_meta(p, "times", subs.opts.raw_times ? "as measured"
                                                          : "measured cost of recording subtracted",
                          NULL);
}

int moth_subprocs_in_child(void)
{
    return subs.active && subs.child_pid == getpid() && subs.written_pid != getpid();
}

void moth_subprocs_finish_child(void)
{
    if (!moth_subprocs_in_child())
        return;
    subs.written_pid = getpid();
    moth_profiler_disable(subs.prof);
    moth_profile profile;
    if (moth_profiler_snapshot(subs.prof, &profile) < 0) {
        PyErr_Clear();
        return;
    }
    moth_error err;
    int run;
    if (moth_subprocs_describe_process(&profile, subs.how, subs.session, subs.parent_pid,
                                       &err) < 0 ||
        (describe_child(&profile), 0) ||
        moth_mothfile_add_to_session(&profile, subs.path, subs.session, subs.opts.create, &run,
                                     &err) < 0) {
        /* the program's output stays as it is; only this says a run is missing */
        fprintf(stderr, "moth: process %ld: %s\n", (long)getpid(), err.msg);
    }
    moth_profile_free(&profile);
}

/* SIGTERM or SIGHUP in a child (fatal_signals.c): its run, then the signal's death. */
static void finish_on_signal(void *ctx, int signo)
{
    (void)ctx;
    (void)signo;
    moth_subprocs_finish_child();
}

/* Registered with atexit in a new interpreter, first, so that it runs after the program's own
 * exit handlers. */
static PyObject *at_exit(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (moth_subprocs_in_child()) {
        moth_fatal_signals_settle();
        moth_subprocs_finish_child();
        moth_fatal_signals_disarm();
    }
    Py_RETURN_NONE;
}

/* os._exit(status) in place of the real one: a forked child (multiprocessing's, forkserver's)
 * ends there without running atexit, so its run is written first. */
static PyObject *exit_now(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs == 1 && PyLong_Check(args[0]) && moth_subprocs_in_child()) {
        moth_fatal_signals_settle();
        moth_subprocs_finish_child();
    }
    return PyObject_Vectorcall(subs.real_exit, args, (size_t)nargs, NULL);
}

/* SIGTERM and SIGHUP are held from just before a fork until the child can write its run when
 * they come: a child that has not run yet when Pool.terminate() signals it (a busy machine)
 * would otherwise die of them at once. Held, they wait for the child's handler. */
static int signals_held; /* by before_fork, in this fork (the GIL keeps forks apart) */

static void hold_signals(int hold)
{
    if (hold == signals_held)
        return; /* a program that blocks them itself keeps them blocked */
    signals_held = hold;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(hold ? SIG_BLOCK : SIG_UNBLOCK, &set, NULL);
}

static PyObject *before_fork(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (subs.active && subs.prof && moth_profiler_is_enabled(subs.prof))
        hold_signals(1);
    Py_RETURN_NONE;
}

static PyObject *after_fork_parent(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    hold_signals(0);
    Py_RETURN_NONE;
}

/* os.register_at_fork(after_in_child=...): the child's recording starts empty at the fork
 * (the activations running then end unrecorded), the parent's stays as it is. */
static PyObject *after_fork_child(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (!subs.active || !subs.prof || !moth_profiler_is_enabled(subs.prof)) {
        hold_signals(0);
        return Py_NewRef(Py_None); /* forked after the recording ended: nothing to write */
    }
    moth_profiler_clear(subs.prof);
    subs.child_pid = getpid();
    subs.parent_pid = getppid();
    snprintf(subs.how, sizeof subs.how, "fork");
    subs.started = moth_unix_time();
    subs.t0 = moth_monotonic_ns();
    moth_fatal_signals_arm(finish_on_signal, NULL); /* if it cannot, the signals stay fatal */
    hold_signals(0);
    Py_RETURN_NONE;
}

static PyMethodDef at_exit_def = {"_moth_subprocess_exit", at_exit, METH_NOARGS, NULL};
static PyMethodDef exit_def = {"_exit", (PyCFunction)(void (*)(void))exit_now, METH_FASTCALL,
                               "_exit(status)\n\nExit to the system with the status, without "
                               "cleanup (moth writes this process's profile first)."};
static PyMethodDef fork_defs[] = {
    {"_moth_before_fork", before_fork, METH_NOARGS, NULL},
    {"_moth_after_fork_parent", after_fork_parent, METH_NOARGS, NULL},
    {"_moth_after_fork_child", after_fork_child, METH_NOARGS, NULL},
};

/* The fork handler and the os._exit wrapper, once per process. */
static int hook_process(void)
{
    PyObject *before = PyCFunction_New(&fork_defs[0], NULL);
    PyObject *parent = PyCFunction_New(&fork_defs[1], NULL);
    PyObject *child = PyCFunction_New(&fork_defs[2], NULL);
    PyObject *os = before && parent && child ? PyImport_ImportModule("os") : NULL;
    PyObject *reg = os ? PyObject_GetAttrString(os, "register_at_fork") : NULL;
    PyObject *kw = reg ? Py_BuildValue("{sOsOsO}", "before", before, "after_in_parent", parent,
                                       "after_in_child", child)
                       : NULL;
    PyObject *args = kw ? PyTuple_New(0) : NULL;
    PyObject *r = args ? PyObject_Call(reg, args, kw) : NULL;
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_XDECREF(reg);
    Py_XDECREF(before);
    Py_XDECREF(parent);
    Py_XDECREF(child);
    int rc = -1;
    if (r) {
        Py_DECREF(r);
        PyObject *wrapper = NULL;
        if (!subs.real_exit && (subs.real_exit = PyObject_GetAttrString(os, "_exit")) &&
            (wrapper = PyCFunction_NewEx(&exit_def, NULL, NULL)))
            rc = PyObject_SetAttrString(os, "_exit", wrapper);
        Py_XDECREF(wrapper);
    }
    Py_XDECREF(os);
    return rc;
}

/* ---- the main process ---- */

static char *absolute_path(const char *path, moth_error *err)
{
    if (path[0] == '/')
        return moth_strdup(path, err);
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd)) {
        moth_fail(err, "cannot find the current directory: %s", strerror(errno));
        return NULL;
    }
    size_t n = strlen(cwd) + strlen(path) + 2;
    char *out = moth_malloc(n, err);
    if (out)
        snprintf(out, n, "%s/%s", cwd, path);
    return out;
}

/* os.environ[name] = value, so that the program sees what its children get. */
static int set_environ(const char *name, const char *value)
{
    PyObject *environ = moth_module_attr("os", "environ");
    PyObject *v = environ ? PyUnicode_DecodeFSDefault(value) : NULL;
    int rc = v ? PyMapping_SetItemString(environ, name, v) : -1;
    Py_XDECREF(v);
    Py_XDECREF(environ);
    return rc;
}

/* The directory of moth's bootstrap sitecustomize: `_bootstrap` beside moth's __init__. */
static PyObject *bootstrap_dir(void)
{
    PyObject *file = moth_module_attr("moth", "__file__");
    PyObject *dir = file ? moth_call_function("os.path", "dirname", "(O)", file) : NULL;
    Py_XDECREF(file);
    PyObject *boot = dir ? moth_call_function("os.path", "join", "(Os)", dir, "_bootstrap") : NULL;
    Py_XDECREF(dir);
    return boot;
}

int moth_subprocs_start(moth_profiler *prof, const char *path, const char *session,
                        const moth_subprocs_opts *o, moth_error *err)
{
    char *abs = absolute_path(path, err);
    char *sess = abs ? moth_strdup(session, err) : NULL;
    if (!sess) {
        free(abs);
        return -1;
    }
    free(subs.path);
    free(subs.session);
    subs.path = abs;
    subs.session = sess;
    subs.opts = *o;
    subs.prof = prof;
    subs.main_pid = getpid();
    subs.child_pid = 0;
    subs.written_pid = 0;
    subs.active = 1;
    char flags[8], *f = flags;
    if (o->builtins)
        *f++ = 'b';
    if (o->clock == MOTH_CLOCK_CPU)
        *f++ = 'c';
    if (o->raw_times)
        *f++ = 'r';
    if (o->create)
        *f++ = 'n';
    *f = '\0';
    moth_sb run = MOTH_SB_INIT, cal = MOTH_SB_INIT;
    moth_sb_printf(&run, "1:%s:%s:%s", flags, sess, abs);
    moth_sb_printf(&cal, "%lx %.17g %.17g %.17g %.17g %zu %llu", (unsigned long)PY_VERSION_HEX,
                   prof->overhead_inner, prof->overhead_inline, prof->overhead_other,
                   prof->overhead_spread, prof->inline_delta,
                   (unsigned long long)prof->calibrated_probe);
    PyObject *boot = NULL;
    int rc = -1;
    if (moth_sb_check(&run, err) < 0 || moth_sb_check(&cal, err) < 0)
        goto done;
    const char *old = getenv("PYTHONPATH");
    PyObject *value = NULL;
    if ((boot = bootstrap_dir()))
        value = old && *old ? PyUnicode_FromFormat("%U:%s", boot, old) : Py_NewRef(boot);
    const char *text = value ? PyUnicode_AsUTF8(value) : NULL;
    if (!text || set_environ("PYTHONPATH", text) < 0 || set_environ(ENV_RUN, run.data) < 0 ||
        set_environ(ENV_CALIBRATION, cal.data) < 0 || hook_process() < 0) {
        Py_XDECREF(value);
        PyErr_Clear();
        moth_fail(err, "cannot prepare the program's children for profiling");
        goto done;
    }
    Py_DECREF(value);
    rc = 0;
done:
    Py_XDECREF(boot);
    moth_sb_free(&run);
    moth_sb_free(&cal);
    if (rc < 0)
        subs.active = 0;
    return rc;
}

/* ---- a new interpreter ---- */

/* How the interpreter came to be, from its command line: multiprocessing's spawn children
 * carry --multiprocessing-fork; its fork server runs multiprocessing.forkserver. */
static const char *how_started(void)
{
    PyObject *argv = PySys_GetObject("orig_argv");
    const char *how = "subprocess";
    if (!argv || !PyList_Check(argv))
        return how;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(argv); i++) {
        PyObject *a = PyList_GET_ITEM(argv, i);
        const char *s = PyUnicode_Check(a) ? PyUnicode_AsUTF8(a) : NULL;
        if (!s) {
            PyErr_Clear();
            continue;
        }
        if (strcmp(s, "--multiprocessing-fork") == 0)
            return "spawn";
        if (strstr(s, "multiprocessing.forkserver"))
            how = "forkserver";
    }
    return how;
}

/* Takes the parent's calibration when this is the same Python. */
static int inherit_calibration(moth_profiler *p)
{
    const char *text = getenv(ENV_CALIBRATION);
    unsigned long version;
    double inner, inl, other, spread;
    size_t delta;
    unsigned long long probe;
    if (!text || sscanf(text, "%lx %lg %lg %lg %lg %zu %llu", &version, &inner, &inl, &other,
                        &spread, &delta, &probe) != 7 ||
        version != (unsigned long)PY_VERSION_HEX)
        return 0;
    p->overhead_inner = inner;
    p->overhead_inline = inl;
    p->overhead_other = other;
    p->overhead_spread = spread;
    p->inline_delta = delta;
    p->calibrated_probe = probe;
    return 1;
}

PyObject *moth_py_subprocess_start(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    const char *env = getenv(ENV_RUN);
    if (!env || strncmp(env, "1:", 2) != 0 || subs.active || moth_the_interp.session)
        Py_RETURN_FALSE; /* not asked, already on, or another profiler runs */
    const char *flags = env + 2, *session = strchr(flags, ':');
    const char *path = session ? strchr(session + 1, ':') : NULL;
    if (!path || path[1] != '/')
        Py_RETURN_FALSE;
    moth_error err;
    char *sess = moth_malloc((size_t)(path - session), &err);
    char *file = sess ? moth_strdup(path + 1, &err) : NULL;
    if (!file) {
        free(sess);
        return PyErr_NoMemory();
    }
    memcpy(sess, session + 1, (size_t)(path - session - 1));
    sess[path - session - 1] = '\0';
    moth_subprocs_opts o = {0};
    for (const char *f = flags; f < session; f++) {
        o.builtins |= *f == 'b';
        o.raw_times |= *f == 'r';
        o.create |= *f == 'n';
        if (*f == 'c')
            o.clock = MOTH_CLOCK_CPU;
    }
    if (o.clock != MOTH_CLOCK_CPU)
        o.clock = MOTH_CLOCK_CYCLES;
    moth_profiler *p = &subs.own;
    if (moth_profiler_init(p, o.builtins ? MOTH_MODE_CLASSIC : MOTH_MODE_FRAMES, o.clock, NULL,
                           0.0, o.builtins, 1) < 0) {
        free(sess);
        free(file);
        return NULL;
    }
    if (!o.raw_times) {
        p->compensate = 1;
        if (!inherit_calibration(p))
            moth_calibrate(p);
    }
    free(subs.path);
    free(subs.session);
    subs.path = file;
    subs.session = sess;
    subs.opts = o;
    subs.prof = p;
    subs.main_pid = 0;
    subs.child_pid = getpid();
    subs.parent_pid = getppid();
    subs.written_pid = 0;
    snprintf(subs.how, sizeof subs.how, "%s", how_started());
    subs.active = 1;
    PyObject *hook = PyCFunction_New(&at_exit_def, NULL);
    PyObject *r = hook ? moth_call_function("atexit", "register", "(O)", hook) : NULL;
    Py_XDECREF(hook);
    if (!r || hook_process() < 0 || moth_profiler_enable(p) < 0) {
        Py_XDECREF(r);
        subs.active = 0;
        moth_profiler_free(p);
        return NULL;
    }
    Py_DECREF(r);
    subs.started = moth_unix_time();
    subs.t0 = moth_monotonic_ns();
    moth_fatal_signals_arm(finish_on_signal, NULL);
    Py_RETURN_TRUE;
}

/* ---- a program profiled without --subprocesses ---- */

/* A forked child's copy of the recording would be thrown away when it ends (its run is not
 * the command's to write): it stops recording at the fork instead, and runs at full speed
 * (multiprocessing's fork workers took 1.87x as long as without moth). */
static moth_profiler *parent_only;

static PyObject *stop_in_fork(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    if (parent_only && moth_profiler_is_enabled(parent_only))
        moth_profiler_disable(parent_only);
    Py_RETURN_NONE;
}

static PyMethodDef stop_def = {"_moth_stop_in_fork", stop_in_fork, METH_NOARGS, NULL};

void moth_subprocs_parent_only(moth_profiler *prof)
{
    parent_only = prof;
    PyObject *stop = PyCFunction_New(&stop_def, NULL);
    PyObject *reg = stop ? moth_module_attr("os", "register_at_fork") : NULL;
    PyObject *kw = reg ? Py_BuildValue("{sO}", "after_in_child", stop) : NULL;
    PyObject *args = kw ? PyTuple_New(0) : NULL;
    PyObject *r = args ? PyObject_Call(reg, args, kw) : NULL;
    if (!r)
        PyErr_Clear(); /* children record, as before, and throw it away */
    Py_XDECREF(r);
    Py_XDECREF(args);
    Py_XDECREF(kw);
    Py_XDECREF(reg);
    Py_XDECREF(stop);
}
