/* dump_native.c: C frames merged with Python frames for `moth dump --native`; see
 * dump_native.h. */
#include "dump_native.h"

#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "remote.h"

/* Names per C frame at most: its function and the functions inlined into it. */
#define MAX_NAMES_PER_FRAME 32

#define EXITED "it exited while it was read"

int moth_native_reader_open(moth_native_reader *nr, moth_remote *t, const moth_dump_opts *o,
                            moth_error *err)
{
    memset(nr, 0, sizeof *nr);
    if (!t->pid)
        return moth_fail(err, "--native reads running processes only");
    if (moth_unwind_open_pid(&nr->unwinder, t->pid, &t->mem, err) < 0)
        return -1;
    if (o->held)
        moth_unwind_threads_held(nr->unwinder);
    return 0;
}

void moth_native_reader_close(moth_native_reader *nr)
{
    moth_unwind_close(nr->unwinder);
    moth_native_stack_free(&nr->stack);
    moth_rstack_free(&nr->python);
    free(nr->names);
    free(nr->name_frame);
    free(nr->loop);
    free(nr->merged);
    memset(nr, 0, sizeof *nr);
}

/* Names every frame of nr->stack into nr->names. */
static int name_frames(moth_native_reader *nr)
{
    nr->nnames = 0;
    for (size_t f = 0; f < nr->stack.count; f++) {
        size_t need = nr->nnames + MAX_NAMES_PER_FRAME;
        if (moth_grow((void **)&nr->names, sizeof *nr->names, &nr->names_cap, need, NULL) < 0 ||
            moth_grow((void **)&nr->name_frame, sizeof *nr->name_frame, &nr->name_frame_cap,
                      need, NULL) < 0 ||
            moth_grow((void **)&nr->loop, sizeof *nr->loop, &nr->loop_cap, need, NULL) < 0)
            return -1;
        size_t n = moth_unwind_names(nr->unwinder, &nr->stack.frames[f], nr->names + nr->nnames,
                                     MAX_NAMES_PER_FRAME);
        for (size_t i = 0; i < n; i++) {
            nr->name_frame[nr->nnames + i] = (uint32_t)f;
            nr->loop[nr->nnames + i] = (uint8_t)moth_is_eval_loop(&nr->names[nr->nnames + i]);
        }
        nr->nnames += n;
    }
    return 0;
}

static char *dup_or_null(const char *s, size_t n)
{
    return s ? strndup(s, n) : NULL;
}

static int add_c_frame(moth_native_reader *nr, size_t i, moth_dump_thread *th)
{
    const moth_native_name *n = &nr->names[i];
    moth_dump_frame *f = moth_dump_add_frame(th);
    if (!f)
        return -1;
    f->native = 1;
    f->pc = nr->stack.frames[nr->name_frame[i]].pc;
    f->offset = n->offset;
    f->inlined = n->inlined;
    f->line = n->src_line;
    f->func = dup_or_null(n->function, n->function_len);
    f->file = dup_or_null(n->module, n->module ? strlen(n->module) : 0);
    f->c_file = dup_or_null(n->src_file, n->src_file ? strlen(n->src_file) : 0);
    if ((n->function && !f->func) || (n->module && !f->file) || (n->src_file && !f->c_file))
        return -1;
    return 0;
}

/* th's frames, outermost first, from nr->stack and (python) nr->python. */
static int fill_merged(moth_native_reader *nr, moth_remote *t, int python, moth_sources *src,
                       const moth_dump_opts *o, moth_dump_thread *th)
{
    if (name_frames(nr) < 0)
        return -1;
    size_t npy = python ? nr->python.count : 0;
    if (moth_grow((void **)&nr->merged, sizeof *nr->merged, &nr->merged_cap,
                  nr->nnames + npy + 1, NULL) < 0)
        return -1;
    size_t n = moth_native_merge(nr->loop, nr->nnames, nr->stack.complete,
                                 nr->python.frames, npy, nr->merged);
    for (size_t k = n; k-- > 0;) {
        const moth_merged *m = &nr->merged[k];
        int rc = m->python
                     ? moth_dump_python_frame(t, src, &nr->python.frames[m->index], o, th)
                     : add_c_frame(nr, m->index, th);
        if (rc < 0)
            return -1;
    }
    if (!nr->stack.complete && nr->stack.why[0] && !(th->native_note = strdup(nr->stack.why)))
        return -1;
    return 0;
}

/* A thread whose C stack cannot be read (it ended, it would not stop, its OS thread id is
 * unknown): the note says why, and its Python stack is read as without --native. */
static int python_only(moth_native_reader *nr, moth_remote *t, moth_stack_reader *r,
                       moth_rthread *rt, moth_sources *src, const moth_dump_opts *o,
                       moth_dump_thread *th, const char *why, moth_error *err)
{
    if (!(th->native_note = strdup(why)))
        return moth_fail(err, "out of memory");
    if (!rt || moth_remote_stack(t, r, rt, &nr->python) < 0)
        return 0;
    th->truncated = nr->python.truncated;
    for (size_t k = nr->python.count; k-- > 0;)
        if (moth_dump_python_frame(t, src, &nr->python.frames[k], o, th) < 0)
            return moth_fail(err, "out of memory");
    return 0;
}

int moth_native_thread(moth_native_reader *nr, moth_remote *t, moth_stack_reader *r,
                       moth_rthread *rt, moth_sources *src, const moth_dump_opts *o,
                       moth_dump_thread *th, moth_error *err)
{
    if (!th->native_id)
        return python_only(nr, t, r, rt, src, o, th, "its OS thread id is unknown", err);
    moth_stop_failure why;
    moth_error held;
    if (moth_unwind_hold(nr->unwinder, (pid_t)th->native_id, &why, &held) < 0) {
        if (moth_proc_exists(t->pid, NULL) < 0)
            return moth_fail(err, "%s", EXITED);
        if (why == MOTH_STOP_GONE)
            return python_only(nr, t, r, rt, src, o, th, "it ended while it was read", err);
        if (why == MOTH_STOP_STUCK)
            return python_only(nr, t, r, rt, src, o, th, held.msg, err);
        *err = held; /* not permitted: no other thread will do better */
        return -1;
    }
    int rc = moth_unwind_stack(nr->unwinder, &nr->stack, err);
    int python = rt && rc == 0 && moth_remote_stack(t, r, rt, &nr->python) == 0;
    moth_unwind_release(nr->unwinder);
    if (rc < 0)
        return -1;
    if ((!nr->stack.complete || (rt && !python)) && moth_proc_exists(t->pid, NULL) < 0)
        return moth_fail(err, "%s", EXITED);
    if (rt && !python)
        th->dropped = 1;
    if (python)
        th->truncated = nr->python.truncated;
    if (fill_merged(nr, t, python, src, o, th) < 0)
        return moth_fail(err, "out of memory");
    return 0;
}

int moth_native_other_threads(moth_native_reader *nr, moth_remote *t, const moth_rthreads *py,
                              moth_sources *src, const moth_dump_opts *o, moth_dump *d,
                              moth_error *err)
{
    moth_tasks tasks = MOTH_TASKS_INIT;
    if (moth_proc_tasks(t->pid, &tasks, err) < 0)
        return moth_fail(err, "%s", EXITED);
    int rc = 0;
    for (size_t i = 0; i < tasks.count && rc == 0; i++) {
        const moth_task *task = &tasks.items[i];
        int known = 0;
        for (size_t k = 0; k < py->count && !known; k++)
            known = py->items[k].native_id == (uint64_t)task->tid;
        if (known)
            continue;
        moth_dump_thread *th = moth_dump_add_thread(d);
        if (!th || !(th->name = strdup(task->comm))) {
            rc = moth_fail(err, "out of memory");
            break;
        }
        th->native_id = (uint64_t)task->tid;
        th->state = task->state;
        for (size_t k = 0; o->states && k < o->states->count; k++)
            if (o->states->items[k].tid == task->tid)
                th->state = o->states->items[k].state; /* as it was before --blocking */
        rc = moth_native_thread(nr, t, NULL, NULL, src, o, th, err);
    }
    moth_tasks_free(&tasks);
    return rc;
}
