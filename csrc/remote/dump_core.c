/* dump_core.c: what a core file adds to a dump; see dump.h. */
#include "dump.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "corefile.h"
#include "remote.h"

#define MAX_NAMED_FILES 5

/* Where the signal came from: the faulting address, or the process that sent it. */
static void signal_origin(const moth_core *c, moth_dump *d)
{
    int fault = c->signal == SIGSEGV || c->signal == SIGBUS || c->signal == SIGILL ||
                c->signal == SIGFPE || c->signal == SIGTRAP;
    if (c->signal_code > 0 && fault)
        moth_dump_note(d, "the fault was at address 0x%llx", (unsigned long long)c->signal_addr);
    else if (c->signal_code <= 0 && c->signal_addr == (uint64_t)c->pid)
        moth_dump_note(d, "the signal was sent by the process itself");
    else if (c->signal_code <= 0 && c->signal_addr)
        moth_dump_note(d, "the signal was sent by process %llu",
                       (unsigned long long)c->signal_addr);
}

/* 1 for the signals whose default action dumps core: the only ones a kernel core comes from.
 * Another (gcore's SIGSTOP) only stopped a process that was running. */
static int dumps_core(int sig)
{
    return sig == SIGQUIT || sig == SIGILL || sig == SIGTRAP || sig == SIGABRT ||
           sig == SIGBUS || sig == SIGFPE || sig == SIGSEGV || sig == SIGXCPU ||
           sig == SIGXFSZ || sig == SIGSYS;
}

/* Marks the thread that took the signal (the first one the core lists), adding it when it has
 * no Python thread state; names the main thread by the process's name when threading did not. */
static int mark_threads(const moth_core *c, moth_dump *d)
{
    uint64_t tid = (uint64_t)(uint32_t)c->threads[0].tid;
    int found = !d->signal;
    for (size_t i = 0; i < d->nthreads; i++) {
        moth_dump_thread *th = &d->threads[i];
        if (d->signal && th->native_id == tid)
            found = th->signalled = 1;
        if (th->native_id == (uint64_t)(uint32_t)c->pid && !th->name && c->fname[0] &&
            !(th->name = strdup(c->fname)))
            return -1;
    }
    if (found)
        return 0;
    moth_dump_thread *th = moth_dump_add_thread(d);
    if (!th)
        return -1;
    th->native_id = tid;
    th->signalled = 1;
    return 0;
}

/* Files the process had mapped that this machine lacks (or has in another build): their
 * memory is what the core holds and nothing more. */
static void note_missing_files(moth_core *c, moth_dump *d)
{
    size_t count = 0;
    moth_sb names = MOTH_SB_INIT;
    for (uint32_t i = 0; i < c->nfiles; i++) {
        int status = moth_core_check_file(c, i);
        if (status != MOTH_CORE_FILE_MISSING && status != MOTH_CORE_FILE_DIFFERENT)
            continue;
        if (count++ < MAX_NAMED_FILES)
            moth_sb_printf(&names, "%s%s%s", count > 1 ? ", " : "", c->files[i].path,
                           status == MOTH_CORE_FILE_DIFFERENT ? " (another build)" : "");
    }
    if (count > MAX_NAMED_FILES)
        moth_sb_printf(&names, " and %zu more", count - MAX_NAMED_FILES);
    if (count && !names.failed)
        moth_dump_note(d, "files the process had mapped that this machine lacks (their memory "
                       "is what the core holds): %s", names.data);
    moth_sb_free(&names);
}

int moth_dump_core_facts(moth_remote *t, const char *core_path, moth_dump *d, moth_error *err)
{
    moth_core *c = t->core;
    d->pid = c->pid;
    char command[4096];
    moth_core_command_line(c, command, sizeof command);
    d->command = strdup(command[0] ? command : c->fname);
    d->core_path = strdup(core_path);
    d->source_kind = strdup("core file");
    d->signal = dumps_core(c->signal) ? c->signal : 0;
    if (!d->command || !d->core_path || !d->source_kind || mark_threads(c, d) < 0)
        return moth_fail(err, "out of memory");
    if (d->signal)
        signal_origin(c, d);
    else if (c->signal)
        moth_dump_note(d, "the core was made while the process ran (its threads stopped by "
                       "signal %d, %s, as gdb's gcore does), not by a crash", c->signal,
                       strsignal(c->signal));
    note_missing_files(c, d);
    return 0;
}
