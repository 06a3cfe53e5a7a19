/* dump.c: collecting a snapshot of every thread's stack from a target; see dump.h. */
#include "dump.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "dump_native.h"
#include "locals.h"
#include "proc.h"
#include "source.h"
#include "stack.h"
#include "remote.h"
#include "threads.h"
#include "values.h"

#define MAX_NAMED 4096

static void free_frame(moth_dump_frame *f)
{
    free(f->file);
    free(f->func);
    free(f->qualname);
    free(f->source);
    free(f->c_file);
    for (size_t i = 0; i < f->nvars; i++) {
        free(f->vars[i].name);
        free(f->vars[i].value);
    }
    free(f->vars);
}

static void free_task(moth_dump_task *task)
{
    for (size_t k = 0; k < task->nframes; k++)
        free_frame(&task->frames[k]);
    free(task->frames);
    free(task->name);
    free(task->type);
    free(task->loop_type);
    free(task->note);
    free(task->awaiting.type);
    free(task->awaiting.name);
    for (size_t k = 0; k < task->awaiting.ngathered; k++)
        free(task->awaiting.gathered[k].name);
    free(task->awaiting.gathered);
}

void moth_dump_free(moth_dump *d)
{
    for (size_t i = 0; i < d->ntasks; i++)
        free_task(&d->tasks[i]);
    free(d->tasks);
    free(d->async_note);
    for (size_t i = 0; i < d->nthreads; i++) {
        moth_dump_thread *th = &d->threads[i];
        for (size_t k = 0; k < th->nframes; k++)
            free_frame(&th->frames[k]);
        free(th->frames);
        free(th->name);
        free(th->native_note);
    }
    free(d->threads);
    free(d->command);
    free(d->binary);
    free(d->source_kind);
    free(d->core_path);
    free(d->notes);
    memset(d, 0, sizeof *d);
}

moth_dump_thread *moth_dump_add_thread(moth_dump *d)
{
    if (moth_grow((void **)&d->threads, sizeof *d->threads, &d->threads_cap, d->nthreads + 1,
                  NULL) < 0)
        return NULL;
    moth_dump_thread *th = &d->threads[d->nthreads++];
    memset(th, 0, sizeof *th);
    return th;
}

moth_dump_frame *moth_dump_add_frame(moth_dump_thread *th)
{
    if (moth_grow((void **)&th->frames, sizeof *th->frames, &th->frames_cap, th->nframes + 1,
                  NULL) < 0)
        return NULL;
    moth_dump_frame *f = &th->frames[th->nframes++];
    memset(f, 0, sizeof *f);
    return f;
}

int moth_dump_add_var(moth_dump_frame *f, const char *name, const char *value, int is_arg)
{
    if (moth_grow((void **)&f->vars, sizeof *f->vars, &f->vars_cap, f->nvars + 1, NULL) < 0)
        return -1;
    moth_dump_var *v = &f->vars[f->nvars];
    v->name = strdup(name);
    v->value = strdup(value);
    v->is_arg = is_arg;
    if (!v->name || !v->value) {
        free(v->name);
        free(v->value);
        return -1;
    }
    f->nvars++;
    return 0;
}

void moth_dump_note(moth_dump *d, const char *fmt, ...)
{
    moth_sb sb = MOTH_SB_INIT;
    if (d->notes)
        moth_sb_puts(&sb, d->notes);
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    moth_sb_puts(&sb, line);
    moth_sb_putc(&sb, '\n');
    if (sb.failed) {
        moth_sb_free(&sb);
        return;
    }
    free(d->notes);
    d->notes = moth_sb_take(&sb);
}

typedef struct vars_fill {
    moth_remote *t;
    moth_dump_frame *f;
    int failed;
} vars_fill;

static int add_var(void *ctx, const char *name, uint64_t value, int is_arg)
{
    vars_fill *v = ctx;
    char *text = moth_value_repr(v->t, value, NULL);
    if (!text || moth_dump_add_var(v->f, name, text, is_arg) < 0)
        v->failed = 1;
    free(text);
    return v->failed;
}

/* --locals: the variables of the frame at frame_addr (running code entry `code`) into f. A
 * frame whose variables cannot be read is marked so; -1 only when out of memory. */
int moth_dump_frame_vars(moth_remote *t, uint64_t frame_addr, uint32_t code, moth_dump_frame *f)
{
    vars_fill v = {t, f, 0};
    if (moth_frame_vars(t, frame_addr, code, add_var, &v) < 0)
        f->vars_error = 1;
    return v.failed ? -1 : 0;
}

int moth_dump_fill_frame(moth_remote *t, moth_sources *src, uint64_t frame_addr, uint32_t code,
                         int line, const moth_dump_opts *o, moth_dump_frame *f)
{
    const moth_rcode *c = &t->codes.items[code];
    f->file = strdup(c->filename);
    f->func = strdup(c->name);
    f->qualname = strdup(c->qualname ? c->qualname : c->name);
    f->line = line;
    if (!f->file || !f->func || !f->qualname)
        return -1;
    if (o->source && line > 0)
        f->source = moth_source_line(src, c->filename, line);
    if (o->locals && moth_dump_frame_vars(t, frame_addr, code, f) < 0)
        return -1;
    return 0;
}

int moth_dump_python_frame(moth_remote *t, moth_sources *src, const moth_rframe *rf,
                           const moth_dump_opts *o, moth_dump_thread *th)
{
    moth_dump_frame *f = moth_dump_add_frame(th);
    if (!f)
        return -1;
    return moth_dump_fill_frame(t, src, rf->addr, rf->code, rf->line, o, f);
}

/* The frames of one thread, outermost first. */
static int fill_frames(moth_remote *t, moth_sources *src, const moth_rstack *stack,
                       const moth_dump_opts *o, moth_dump_thread *th)
{
    for (size_t k = stack->count; k-- > 0;)
        if (moth_dump_python_frame(t, src, &stack->frames[k], o, th) < 0)
            return -1;
    return 0;
}

int moth_dump_collect(moth_remote *t, const moth_dump_opts *o, moth_dump *d, moth_error *err)
{
    moth_rthreads threads = MOTH_RTHREADS_INIT;
    moth_stack_reader reader;
    memset(&reader, 0, sizeof reader);
    moth_rstack stack = MOTH_RSTACK_INIT;
    moth_sources src;
    moth_sources_init(&src, t->root, t->cwd);
    uint64_t idents[MAX_NAMED];
    char *names[MAX_NAMED];
    size_t nnames = 0;
    int rc = -1;
    moth_native_reader native;
    memset(&native, 0, sizeof native);
    if (o->native && moth_native_reader_open(&native, t, o, err) < 0)
        goto done;

    moth_remote_version_string(t, d->version, sizeof d->version);
    d->binary = strdup(t->binary);
    if (t->layout_note[0])
        moth_dump_note(d, "%s", t->layout_note);
    if (moth_remote_threads(t, &threads, err) < 0)
        goto done;
    nnames = moth_remote_thread_names(t, idents, names, MAX_NAMED);
    /* The interpreter lists its newest thread first; a dump reads best oldest first, with the
     * main thread on top. */
    for (size_t i = threads.count; i-- > 0;) {
        moth_rthread *rt = &threads.items[i];
        moth_dump_thread *th = moth_dump_add_thread(d);
        if (!th) {
            moth_fail(err, "out of memory");
            goto done;
        }
        th->python = 1;
        th->native_id = rt->native_id;
        th->thread_id = rt->thread_id;
        th->holds_gil = rt->holds_gil;
        for (size_t k = 0; k < nnames && !th->name; k++)
            if (idents[k] == rt->thread_id)
                th->name = strdup(names[k]);
        if (o->states) {
            for (size_t k = 0; k < o->states->count; k++)
                if (o->states->items[k].tid == (pid_t)rt->native_id) {
                    th->state = o->states->items[k].state;
                    if (!th->name)
                        th->name = strdup(o->states->items[k].comm);
                }
        } else if (t->pid) {
            moth_task task = {.tid = (pid_t)rt->native_id};
            if (moth_proc_task_state(t->pid, &task) == 0) {
                th->state = task.state;
                if (!th->name)
                    th->name = strdup(task.comm); /* a thread threading does not know */
            }
        }
        if (o->native) {
            if (moth_native_thread(&native, t, &reader, rt, &src, o, th, err) < 0)
                goto done;
            continue;
        }
        if (moth_remote_stack(t, &reader, rt, &stack) < 0) {
            th->dropped = 1;
            continue;
        }
        th->truncated = stack.truncated;
        if (fill_frames(t, &src, &stack, o, th) < 0) {
            moth_fail(err, "out of memory");
            goto done;
        }
    }
    if (o->native && moth_native_other_threads(&native, t, &threads, &src, o, d, err) < 0)
        goto done;
    if (o->async_tasks && moth_dump_collect_tasks(t, &src, o, d, err) < 0)
        goto done;
    rc = 0;
done:
    moth_native_reader_close(&native);
    moth_rstack_free(&stack);
    moth_stack_reader_free(&reader);
    moth_rthreads_free(&threads);
    moth_sources_free(&src);
    for (size_t k = 0; k < nnames; k++)
        free(names[k]);
    return rc;
}
