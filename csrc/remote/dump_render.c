/* dump_render.c: a dump as text (traceback order) or JSON; see dump.h. */
#include "dump.h"

#include <string.h>

#include "export.h"

#define BOLD "\033[1m"
#define DIM "\033[2m"
#define RESET "\033[0m"

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
    moth_sb_puts(out, "]}\n");
}
