/* dump_render.c: a dump as text (traceback order) or JSON; see dump.h. */
#include "dump.h"

#include <string.h>

#include "export.h"

#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RESET "\033[0m"
#define GATHERED_SHOWN 8

static const char *state_word(char state)
{
    switch (state) {
    case 'R': return "running";
    case 'S': return "waiting";
    case 'D': return "waiting for I/O";
    case 'T': return "stopped";
    case 't': return "stopped by a tracer";
    case 'Z': return "exited";
    case 'I': return "idle";
    default: return NULL;
    }
}

static void thread_heading(const moth_dump_thread *th, int colour, moth_sb *out)
{
    moth_sb_printf(out, "%sThread %llu", colour ? BOLD : "", (unsigned long long)th->native_id);
    if (th->name)
        moth_sb_printf(out, " \"%s\"", th->name);
    const char *state = state_word(th->state);
    const char *sep = " (";
    if (state) {
        moth_sb_printf(out, "%s%s", sep, state);
        sep = ", ";
    }
    if (th->holds_gil) {
        moth_sb_printf(out, "%sholds the GIL", sep);
        sep = ", ";
    }
    if (th->signalled) {
        moth_sb_printf(out, "%sreceived the fatal signal", sep);
        sep = ", ";
    }
    if (!th->python) {
        moth_sb_printf(out, "%snot a Python thread", sep);
        sep = ", ";
    }
    if (sep[0] == ',')
        moth_sb_putc(out, ')');
    moth_sb_printf(out, "%s\n", colour ? RESET : "");
}

static void vars_block(const moth_dump_frame *f, int args, moth_sb *out)
{
    size_t shown = 0;
    for (size_t i = 0; i < f->nvars; i++) {
        if (f->vars[i].is_arg != args)
            continue;
        if (!shown++)
            moth_sb_printf(out, "      %s:\n", args ? "Arguments" : "Locals");
        moth_sb_printf(out, "        %s = %s\n", f->vars[i].name, f->vars[i].value);
    }
}

static void frame_text(const moth_dump_frame *f, const moth_dump_opts *o, int colour,
                       moth_sb *out)
{
    if (f->native) {
        /* (C) function+offset at file.c:line [library], the library by its file name alone */
        moth_sb_printf(out, "  %s(C)%s %s", colour ? DIM : "", colour ? RESET : "",
                       f->func ? f->func : "???");
        if (f->inlined)
            moth_sb_puts(out, " (inlined)");
        else if (f->func && f->offset)
            moth_sb_printf(out, "+%#llx", (unsigned long long)f->offset);
        if (f->c_file && f->line > 0)
            moth_sb_printf(out, " at %s:%d", f->c_file, f->line);
        else if (f->c_file)
            moth_sb_printf(out, " at %s", f->c_file);
        else if (!f->func)
            moth_sb_printf(out, " at %#llx", (unsigned long long)f->pc);
        const char *lib = f->file ? strrchr(f->file, '/') : NULL;
        moth_sb_printf(out, " [%s]\n", lib ? lib + 1 : f->file ? f->file : "?");
        return;
    }
    moth_sb_printf(out, "  File \"%s\", line %d, in %s\n", f->file, f->line, f->func);
    if (f->source && *f->source)
        moth_sb_printf(out, "    %s\n", f->source);
    if (o->locals) {
        if (f->vars_error)
            moth_sb_puts(out, "      (its variables could not be read)\n");
        vars_block(f, 1, out);
        vars_block(f, 0, out);
    }
}

/* " Task \"name\"", or " Task at 0x..." when it has no name moth could read. */
static void task_ref_text(const char *name, uint64_t addr, moth_sb *out)
{
    if (name)
        moth_sb_printf(out, "Task \"%s\"", name);
    else
        moth_sb_printf(out, "Task at %#llx", (unsigned long long)addr);
}

static void awaited_text(const moth_dump_awaited *aw, moth_sb *out)
{
    moth_sb_puts(out, ", awaiting ");
    if (aw->kind == MOTH_AWAIT_TASK) {
        task_ref_text(aw->name, aw->addr, out);
        if (aw->state && strcmp(aw->state, "pending") != 0)
            moth_sb_printf(out, " (%s)", aw->state);
        return;
    }
    moth_sb_printf(out, "%s at %#llx", aw->type ? aw->type : "?", (unsigned long long)aw->addr);
    if (aw->state)
        moth_sb_printf(out, " (%s)", aw->state);
    /* A gather() of thousands: the first few, then how many more (JSON lists them all). */
    size_t shown = aw->ngathered <= GATHERED_SHOWN + 1 ? aw->ngathered : GATHERED_SHOWN;
    for (size_t k = 0; k < shown; k++) {
        moth_sb_puts(out, k ? ", " : aw->taskgroup ? ", for its TaskGroup: " : ", gathering ");
        if (aw->gathered[k].name)
            task_ref_text(aw->gathered[k].name, aw->gathered[k].addr, out);
        else
            moth_sb_printf(out, "future at %#llx", (unsigned long long)aw->gathered[k].addr);
    }
    if (shown < aw->ngathered)
        moth_sb_printf(out, " and %zu more", aw->ngathered - shown);
}

static void loop_heading(const moth_dump *d, const moth_dump_task *task, int colour,
                         moth_sb *out)
{
    moth_sb_printf(out, "\n%sEvent loop %s at %#llx", colour ? BOLD : "",
                   task->loop_type ? task->loop_type : "?", (unsigned long long)task->loop);
    const moth_dump_thread *th = NULL;
    for (size_t i = 0; task->loop_thread && i < d->nthreads && !th; i++)
        if (d->threads[i].python && d->threads[i].thread_id == task->loop_thread)
            th = &d->threads[i];
    if (th) {
        moth_sb_printf(out, ", running in thread %llu", (unsigned long long)th->native_id);
        if (th->name)
            moth_sb_printf(out, " \"%s\"", th->name);
    } else if (task->loop_thread) {
        moth_sb_printf(out, ", running in thread with ident %llu",
                       (unsigned long long)task->loop_thread);
    } else {
        moth_sb_puts(out, ", not running");
    }
    moth_sb_printf(out, "%s\n", colour ? RESET : "");
}

static void tasks_text(const moth_dump *d, const moth_dump_opts *o, int colour, moth_sb *out)
{
    size_t nloops = 0;
    for (size_t i = 0; i < d->ntasks; i++)
        nloops += !i || d->tasks[i].loop != d->tasks[i - 1].loop;
    moth_sb_printf(out, "\n%sasyncio tasks%s: ", colour ? BOLD : "", colour ? RESET : "");
    if (!d->ntasks)
        moth_sb_puts(out, "none\n");
    else
        moth_sb_printf(out, "%zu in %zu event loop%s\n", d->ntasks, nloops, nloops == 1 ? "" : "s");
    for (size_t i = 0; i < d->ntasks; i++) {
        const moth_dump_task *task = &d->tasks[i];
        if (!i || task->loop != d->tasks[i - 1].loop)
            loop_heading(d, task, colour, out);
        moth_sb_printf(out, "\n%s", colour ? BOLD : "");
        task_ref_text(task->name, task->addr, out);
        moth_sb_printf(out, "%s (%s", colour ? RESET : "", task->state);
        if (task->running)
            moth_sb_puts(out, ", running");
        if (task->cancels > 0 && strcmp(task->state, "pending") == 0)
            moth_sb_puts(out, ", cancel requested");
        moth_sb_putc(out, ')');
        if (task->awaiting.kind != MOTH_AWAIT_NONE)
            awaited_text(&task->awaiting, out);
        moth_sb_putc(out, '\n');
        if (task->note)
            moth_sb_printf(out, "  (%s)\n", task->note);
        for (size_t k = 0; k < task->nframes; k++)
            frame_text(&task->frames[k], o, colour, out);
    }
    if (d->async_note)
        moth_sb_printf(out, "(%s)\n", d->async_note);
}

void moth_dump_render_text(const moth_dump *d, const moth_dump_opts *o, int colour,
                           moth_sb *out)
{
    if (d->core_path)
        moth_sb_printf(out, "Core file %s of process %d: %s\n", d->core_path, d->pid,
                       d->command ? d->command : "");
    else
        moth_sb_printf(out, "Process %d: %s\n", d->pid, d->command ? d->command : "");
    moth_sb_printf(out, "Python %s (%s)\n", d->version, d->binary ? d->binary : "?");
    if (d->signal)
        moth_sb_printf(out, "Ended by signal %d (%s)\n", d->signal, strsignal(d->signal));
    for (size_t i = 0; i < d->nthreads; i++) {
        const moth_dump_thread *th = &d->threads[i];
        moth_sb_putc(out, '\n');
        thread_heading(th, colour, out);
        if (th->dropped) {
            moth_sb_puts(out, "  (its stack changed on every read; run again or use --blocking)\n");
            continue;
        }
        if (th->native_note)
            moth_sb_printf(out, "  (C frames: %s)\n", th->native_note);
        if (th->truncated)
            moth_sb_puts(out, "  ... (outermost frames left out: the stack is too deep)\n");
        if (!th->nframes)
            moth_sb_puts(out, "  (no Python frames)\n");
        for (size_t k = 0; k < th->nframes; k++)
            frame_text(&th->frames[k], o, colour, out);
    }
    if (d->async_read)
        tasks_text(d, o, colour, out);
    if (d->notes)
        moth_sb_printf(out, "\n%s", d->notes);
}

static void json_str_or_null(moth_sb *out, const char *s)
{
    if (s)
        moth_json_string(out, s);
    else
        moth_sb_puts(out, "null");
}

static void frame_json(const moth_dump_frame *f, moth_sb *out)
{
    moth_sb_puts(out, "{\"kind\": ");
    moth_sb_puts(out, f->native ? "\"native\"" : "\"python\"");
    moth_sb_puts(out, ", \"file\": ");
    json_str_or_null(out, f->file);
    moth_sb_puts(out, ", \"function\": ");
    json_str_or_null(out, f->func);
    if (f->native) {
        moth_sb_printf(out, ", \"pc\": %llu, \"offset\": %llu, \"inlined\": %s, \"source_file\": ",
                       (unsigned long long)f->pc, (unsigned long long)f->offset,
                       f->inlined ? "true" : "false");
        json_str_or_null(out, f->c_file);
        moth_sb_printf(out, ", \"line\": %d}", f->line);
        return;
    }
    moth_sb_puts(out, ", \"qualname\": ");
    json_str_or_null(out, f->qualname);
    moth_sb_printf(out, ", \"line\": %d, \"source\": ", f->line);
    json_str_or_null(out, f->source);
    if (f->nvars || f->vars_error) {
        moth_sb_puts(out, ", \"variables\": [");
        for (size_t i = 0; i < f->nvars; i++) {
            moth_sb_puts(out, i ? ", {\"name\": " : "{\"name\": ");
            moth_json_string(out, f->vars[i].name);
            moth_sb_puts(out, ", \"value\": ");
            moth_json_string(out, f->vars[i].value);
            moth_sb_printf(out, ", \"argument\": %s}", f->vars[i].is_arg ? "true" : "false");
        }
        moth_sb_putc(out, ']');
        if (f->vars_error)
            moth_sb_puts(out, ", \"variables_unreadable\": true");
    }
    moth_sb_putc(out, '}');
}

static void task_ref_json(const char *name, uint64_t addr, moth_sb *out)
{
    moth_sb_puts(out, "{\"name\": ");
    json_str_or_null(out, name);
    moth_sb_printf(out, ", \"address\": %llu}", (unsigned long long)addr);
}

static void awaited_json(const moth_dump_awaited *aw, moth_sb *out)
{
    static const char *const KINDS[] = {"none", "task", "future", "other"};
    if (aw->kind == MOTH_AWAIT_NONE) {
        moth_sb_puts(out, "null");
        return;
    }
    moth_sb_printf(out, "{\"kind\": \"%s\", \"address\": %llu, \"type\": ", KINDS[aw->kind],
                   (unsigned long long)aw->addr);
    json_str_or_null(out, aw->type);
    moth_sb_puts(out, ", \"name\": ");
    json_str_or_null(out, aw->name);
    moth_sb_puts(out, ", \"state\": ");
    json_str_or_null(out, aw->state);
    moth_sb_puts(out, ", \"gathering\": [");
    for (size_t k = 0; !aw->taskgroup && k < aw->ngathered; k++) {
        if (k)
            moth_sb_puts(out, ", ");
        task_ref_json(aw->gathered[k].name, aw->gathered[k].addr, out);
    }
    moth_sb_puts(out, "], \"taskgroup\": [");
    for (size_t k = 0; aw->taskgroup && k < aw->ngathered; k++) {
        if (k)
            moth_sb_puts(out, ", ");
        task_ref_json(aw->gathered[k].name, aw->gathered[k].addr, out);
    }
    moth_sb_puts(out, "]}");
}

static void task_json(const moth_dump_task *task, moth_sb *out)
{
    moth_sb_puts(out, "{\"name\": ");
    json_str_or_null(out, task->name);
    moth_sb_printf(out, ", \"address\": %llu, \"type\": ", (unsigned long long)task->addr);
    json_str_or_null(out, task->type);
    moth_sb_printf(out, ", \"state\": \"%s\", \"running\": %s, \"cancels_requested\": %lld, "
                   "\"loop\": {\"address\": %llu, \"type\": ", task->state,
                   task->running ? "true" : "false", task->cancels,
                   (unsigned long long)task->loop);
    json_str_or_null(out, task->loop_type);
    moth_sb_printf(out, ", \"thread_id\": %llu}, \"awaiting\": ",
                   (unsigned long long)task->loop_thread);
    awaited_json(&task->awaiting, out);
    moth_sb_puts(out, ", \"note\": ");
    json_str_or_null(out, task->note);
    moth_sb_puts(out, ", \"coroutines\": [");
    for (size_t k = 0; k < task->nframes; k++) {
        if (k)
            moth_sb_puts(out, ", ");
        frame_json(&task->frames[k], out);
    }
    moth_sb_puts(out, "]}");
}

void moth_dump_render_json(const moth_dump *d, moth_sb *out)
{
    moth_sb_printf(out, "{\"pid\": %d, \"command\": ", d->pid);
    json_str_or_null(out, d->command);
    moth_sb_puts(out, ", \"python\": ");
    moth_json_string(out, d->version);
    moth_sb_puts(out, ", \"binary\": ");
    json_str_or_null(out, d->binary);
    moth_sb_puts(out, ", \"core\": ");
    json_str_or_null(out, d->core_path);
    moth_sb_printf(out, ", \"signal\": %d, \"threads\": [", d->signal);
    for (size_t i = 0; i < d->nthreads; i++) {
        const moth_dump_thread *th = &d->threads[i];
        char state[2] = {th->state, 0};
        moth_sb_printf(out, "%s{\"native_id\": %llu, \"thread_id\": %llu, \"name\": ",
                       i ? ", " : "", (unsigned long long)th->native_id,
                       (unsigned long long)th->thread_id);
        json_str_or_null(out, th->name);
        moth_sb_puts(out, ", \"state\": ");
        json_str_or_null(out, th->state ? state : NULL);
        moth_sb_printf(out,
                       ", \"python\": %s, \"holds_gil\": %s, \"signalled\": %s, \"dropped\": %s, "
                       "\"truncated\": %s, \"native_note\": ",
                       th->python ? "true" : "false", th->holds_gil ? "true" : "false",
                       th->signalled ? "true" : "false", th->dropped ? "true" : "false",
                       th->truncated ? "true" : "false");
        json_str_or_null(out, th->native_note);
        moth_sb_puts(out, ", \"frames\": [");
        for (size_t k = 0; k < th->nframes; k++) {
            if (k)
                moth_sb_puts(out, ", ");
            frame_json(&th->frames[k], out);
        }
        moth_sb_puts(out, "]}");
    }
    moth_sb_putc(out, ']');
    if (d->async_read) {
        moth_sb_puts(out, ", \"tasks\": [");
        for (size_t i = 0; i < d->ntasks; i++) {
            if (i)
                moth_sb_puts(out, ", ");
            task_json(&d->tasks[i], out);
        }
        moth_sb_puts(out, "], \"tasks_note\": ");
        json_str_or_null(out, d->async_note);
    }
    moth_sb_puts(out, "}\n");
}
