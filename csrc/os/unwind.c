/*
 * unwind.c: C stacks of another process walked by libdw, and named; see unwind.h.
 *
 * libdw is given its own thread callbacks rather than dwfl_linux_proc_attach's: that one stops
 * threads with PTRACE_ATTACH (which leaves a SIGSTOP behind if moth dies at the wrong moment)
 * and reads the stack one word per ptrace call. Here the thread is held by threadstop.c, and
 * stack memory comes a page at a time through the caller's moth_memsrc (process_vm_readv).
 */
#define _GNU_SOURCE
#include "unwind.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void moth_native_stack_free(moth_native_stack *s)
{
    free(s->frames);
    memset(s, 0, sizeof *s);
}

#ifdef MOTH_HAVE_LIBDW

#include <dwarf.h>
#include <elfutils/libdwfl.h>

#include "proc.h"

#define PAGE_SIZE_READ 4096u
#define CACHE_PAGES 16u

/* A file's function symbols, sorted by address. */
typedef struct func_sym {
    uint64_t start, end;    /* end 0: the symbol gave no size (it runs to the next one) */
    const char *name;
    int local;              /* STB_LOCAL */
} func_sym;

typedef struct module_syms {
    Dwfl_Module *mod;
    func_sym *syms;
    size_t count;
} module_syms;

struct moth_unwinder {
    Dwfl *dwfl;
    module_syms *mods;          /* the files moth_unwind_function has looked into */
    size_t nmods, mods_cap;
    Dwfl_Callbacks callbacks;   /* libdw keeps a pointer to it */
    char *debuginfo_path;       /* NULL: libdw's default (.debug dirs, /usr/lib/debug) */
    pid_t pid;
    char root[64];              /* /proc/PID/root: the files as the process sees them */
    moth_memsrc *mem;
    moth_thread_stop stop;
    int caller_holds;           /* every thread is stopped by the caller (--blocking) */
    pid_t held;                 /* the thread being walked, 0 when none */
    moth_regs regs;             /* its registers */
    /* Stack pages read during the current hold; a tag is the page's address + 1 (0: empty). */
    uint64_t page_tag[CACHE_PAGES];
    uint8_t pages[CACHE_PAGES][PAGE_SIZE_READ];
};

int moth_unwind_available(void)
{
    return 1;
}

/* Opens a mapped file through /proc/PID/root first, so a process in a container gets its own
 * files; anything else (the vDSO, deleted files) is libdw's own business. */
static int find_elf(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr base,
                    char **file_name, Elf **elfp)
{
    moth_unwinder *u = *userdata;
    if (u && name[0] == '/') {
        char path[8192];
        snprintf(path, sizeof path, "%s%s", u->root, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            *file_name = strdup(path);
            if (*file_name)
                return fd;
            close(fd);
        }
    }
    return dwfl_linux_proc_find_elf(mod, userdata, name, base, file_name, elfp);
}

static int set_userdata(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
                        void *arg)
{
    (void)mod, (void)name, (void)start;
    *userdata = arg;
    return DWARF_CB_OK;
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_arg)
{
    (void)dwfl, (void)arg, (void)thread_arg;
    return 0; /* threads are named by the caller, never listed through libdw */
}

static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_arg)
{
    (void)dwfl;
    moth_unwinder *u = arg;
    *thread_arg = u;
    return u->held && u->held == tid;
}

static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
    (void)dwfl;
    moth_unwinder *u = arg;
    uint64_t page = addr & ~(uint64_t)(PAGE_SIZE_READ - 1);
    uint64_t at = addr - page;
    if (at > PAGE_SIZE_READ - sizeof *result) /* a word across two pages */
        return moth_mem_read(u->mem, addr, result, sizeof *result) == 0;
    unsigned slot = (unsigned)(page / PAGE_SIZE_READ) % CACHE_PAGES;
    if (u->page_tag[slot] != page + 1) {
        if (moth_mem_read(u->mem, page, u->pages[slot], PAGE_SIZE_READ) < 0) {
            u->page_tag[slot] = 0;
            return moth_mem_read(u->mem, addr, result, sizeof *result) == 0;
        }
        u->page_tag[slot] = page + 1;
    }
    memcpy(result, u->pages[slot] + at, sizeof *result);
    return true;
}

static bool set_initial_registers(Dwfl_Thread *thread, void *arg)
{
    moth_unwinder *u = arg;
    if (!dwfl_thread_state_registers(thread, 0, u->regs.count, u->regs.r))
        return false;
    dwfl_thread_state_register_pc(thread, u->regs.pc);
    return true;
}

static void detach(Dwfl *dwfl, void *arg)
{
    (void)dwfl, (void)arg;
}

static void thread_detach(Dwfl_Thread *thread, void *arg)
{
    (void)thread, (void)arg; /* the hold ends in moth_unwind_release, not when a walk ends */
}

static const Dwfl_Thread_Callbacks THREAD_CALLBACKS = {
    next_thread, get_thread, memory_read, set_initial_registers, detach, thread_detach,
};

static const char *tidy_path(const char *path)
{
    while (path && path[0] == '.' && path[1] == '/')
        path += 2;
    return path;
}

/* Where the function of a DIE is defined (an inlined copy's: its origin's). */
static void decl_of(Dwarf_Die *die, moth_native_name *n)
{
    n->decl_file = tidy_path(dwarf_decl_file(die));
    if (!n->decl_file || dwarf_decl_line(die, &n->decl_line) != 0)
        n->decl_line = 0;
}

/* Reports the process's mapped files to libdw (dwfl_report_begin forgets those not reported
 * again; those that are keep what was loaded of them). */
static int report_modules(moth_unwinder *u, moth_error *err)
{
    dwfl_report_begin(u->dwfl);
    int rc = dwfl_linux_proc_report(u->dwfl, u->pid);
    if (rc != 0) {
        dwfl_report_end(u->dwfl, NULL, NULL);
        if (rc == EACCES || rc == EPERM)
            return moth_proc_explain_denied(u->pid, rc, err);
        if (rc > 0)
            return moth_fail(err, "no process %d", (int)u->pid);
        return moth_fail(err, "cannot read the mapped files of process %d: %s", (int)u->pid,
                         dwfl_errmsg(-1));
    }
    dwfl_report_end(u->dwfl, NULL, NULL);
    dwfl_getmodules(u->dwfl, set_userdata, u, 0);
    return 0;
}

int moth_unwind_open_pid(moth_unwinder **out, pid_t pid, moth_memsrc *mem, moth_error *err)
{
    *out = NULL;
    moth_unwinder *u = moth_calloc(1, sizeof *u, err);
    if (!u)
        return -1;
    u->pid = pid;
    u->mem = mem;
    snprintf(u->root, sizeof u->root, "/proc/%d/root", (int)pid);
    u->callbacks = (Dwfl_Callbacks){
        .find_elf = find_elf,
        .find_debuginfo = dwfl_standard_find_debuginfo,
        .debuginfo_path = &u->debuginfo_path,
    };
    u->dwfl = dwfl_begin(&u->callbacks);
    if (!u->dwfl) {
        moth_fail(err, "libdw: %s", dwfl_errmsg(-1));
        goto fail;
    }
    if (report_modules(u, err) < 0)
        goto fail;
    if (!dwfl_attach_state(u->dwfl, NULL, pid, &THREAD_CALLBACKS, u)) {
        moth_fail(err, "cannot unwind the stacks of process %d: %s", (int)pid, dwfl_errmsg(-1));
        goto fail;
    }
    *out = u;
    return 0;
fail:
    moth_unwind_close(u);
    return -1;
}

static void forget_symbols(moth_unwinder *u)
{
    for (size_t i = 0; i < u->nmods; i++)
        free(u->mods[i].syms);
    u->nmods = 0;
}

int moth_unwind_refresh(moth_unwinder *u, moth_error *err)
{
    forget_symbols(u); /* their modules may be gone */
    return report_modules(u, err);
}

static int by_start(const void *a, const void *b)
{
    const func_sym *x = a, *y = b;
    return x->start < y->start ? -1 : x->start > y->start ? 1 : 0;
}

/* mod's function symbols, read and sorted the first time; NULL when out of memory. */
static module_syms *symbols_of(moth_unwinder *u, Dwfl_Module *mod)
{
    for (size_t i = 0; i < u->nmods; i++)
        if (u->mods[i].mod == mod)
            return &u->mods[i];
    if (moth_grow((void **)&u->mods, sizeof *u->mods, &u->mods_cap, u->nmods + 1, NULL) < 0)
        return NULL;
    module_syms *m = &u->mods[u->nmods];
    *m = (module_syms){mod, NULL, 0};
    int n = dwfl_module_getsymtab(mod);
    if (n > 1 && !(m->syms = malloc((size_t)n * sizeof *m->syms)))
        return NULL;
    for (int i = 1; i < n; i++) {
        GElf_Sym sym;
        GElf_Addr addr;
        const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);
        int type = GELF_ST_TYPE(sym.st_info);
        if (name && name[0] && addr && sym.st_shndx != SHN_UNDEF &&
            (type == STT_FUNC || type == STT_GNU_IFUNC))
            m->syms[m->count++] = (func_sym){addr, sym.st_size ? addr + sym.st_size : 0, name,
                                             GELF_ST_BIND(sym.st_info) == STB_LOCAL};
    }
    qsort(m->syms, m->count, sizeof *m->syms, by_start);
    /* Aliases (one address, several names) are one function, named by its global name, the
     * shortest ("f" rather than "f.localalias"). */
    size_t kept = 0;
    for (size_t i = 0; i < m->count; i++) {
        func_sym *last = kept ? &m->syms[kept - 1] : NULL, *s = &m->syms[i];
        if (!last || last->start != s->start) {
            m->syms[kept++] = *s;
            continue;
        }
        if (!last->end)
            last->end = s->end;
        if (s->local < last->local ||
            (s->local == last->local && strlen(s->name) < strlen(last->name))) {
            last->name = s->name;
            last->local = s->local;
        }
    }
    m->count = kept;
    u->nmods++;
    return m;
}

int moth_unwind_function(moth_unwinder *u, const moth_native_pc *f, moth_native_func *out)
{
    uint64_t at = f->exact || !f->pc ? f->pc : f->pc - 1;
    *out = (moth_native_func){NULL, 0, 0, NULL};
    Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, at);
    if (!mod)
        return -1;
    out->module = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    module_syms *m = symbols_of(u, mod);
    if (!m || !m->count || at < m->syms[0].start)
        return 1;
    size_t lo = 0, hi = m->count; /* the last symbol starting at or below `at` */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->syms[mid].start <= at)
            lo = mid;
        else
            hi = mid;
    }
    const func_sym *s = &m->syms[lo];
    if (s->end && at >= s->end)
        return 1;
    out->function = s->name;
    out->function_len = strcspn(s->name, "@");
    out->start = s->start;
    return 0;
}

void moth_unwind_decl(moth_unwinder *u, uint64_t start, const char **file, int *line)
{
    *file = NULL;
    *line = 0;
    Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, start);
    Dwarf_Addr bias;
    Dwarf_Die *cu = mod ? dwfl_module_addrdie(mod, start, &bias) : NULL;
    Dwarf_Die *scopes = NULL;
    int n = cu ? dwarf_getscopes(cu, start - bias, &scopes) : 0;
    if (n > 0) { /* the DIE tree's own nesting, as in moth_unwind_names */
        Dwarf_Die innermost = scopes[0];
        free(scopes);
        scopes = NULL;
        n = dwarf_getscopes_die(&innermost, &scopes);
    }
    for (int i = 0; i < n; i++)
        if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
            moth_native_name name = {0};
            decl_of(&scopes[i], &name);
            *file = name.decl_file;
            *line = name.decl_line;
            break;
        }
    free(scopes);
}

void moth_unwind_close(moth_unwinder *u)
{
    if (!u)
        return;
    moth_thread_release(&u->stop);
    forget_symbols(u);
    free(u->mods);
    if (u->dwfl)
        dwfl_end(u->dwfl);
    free(u);
}

void moth_unwind_threads_held(moth_unwinder *u)
{
    u->caller_holds = 1;
}

int moth_unwind_hold(moth_unwinder *u, pid_t tid, moth_stop_failure *why, moth_error *err)
{
    moth_unwind_release(u);
    memset(u->page_tag, 0, sizeof u->page_tag);
    if (!u->caller_holds) {
        if (moth_thread_hold(&u->stop, u->pid, tid, &u->regs, why, err) < 0)
            return -1;
    } else if (moth_thread_registers(tid, &u->regs, NULL) < 0) {
        /* Only then is the kernel asked why: a sampler holds threads a thousand times a
         * second, and reading a thread's state costs more than its registers. */
        moth_task task = {.tid = tid};
        if (moth_proc_task_state(u->pid, &task) < 0) {
            *why = MOTH_STOP_GONE;
            return moth_fail(err, "thread %d of process %d has ended", (int)tid, (int)u->pid);
        }
        *why = MOTH_STOP_STUCK;
        return moth_fail(err, "it started after the threads were stopped");
    }
    u->held = tid;
    return 0;
}

void moth_unwind_release(moth_unwinder *u)
{
    if (!u->caller_holds)
        moth_thread_release(&u->stop);
    u->held = 0;
}

typedef struct walk {
    moth_native_stack *out;
    int failed;         /* out of memory */
} walk;

static int on_frame(Dwfl_Frame *frame, void *arg)
{
    walk *w = arg;
    moth_native_stack *s = w->out;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(frame, &pc, &activation))
        return DWARF_CB_ABORT;
    if (s->count >= MOTH_MAX_NATIVE_DEPTH) {
        snprintf(s->why, sizeof s->why, "deeper than %d frames: the outermost are left out",
                 MOTH_MAX_NATIVE_DEPTH);
        return DWARF_CB_ABORT;
    }
    if (moth_grow((void **)&s->frames, sizeof *s->frames, &s->cap, s->count + 1, NULL) < 0) {
        w->failed = 1;
        return DWARF_CB_ABORT;
    }
    s->frames[s->count++] = (moth_native_pc){pc, activation};
    return DWARF_CB_OK;
}

/* A thread caught in its first instructions is still inside clone, whose unwind tables
 * describe the parent's side: the walk goes on into the new stack's garbage. clone is where
 * every thread begins, so a walk that went wrong after it is complete there. */
static int ends_at_thread_start(moth_unwinder *u, moth_native_stack *s)
{
    static const char *const starts[] = {"__clone3", "__clone", "clone3", "clone"};
    for (size_t i = 0; i < s->count; i++) {
        Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, s->frames[i].pc);
        const char *name = mod ? dwfl_module_addrname(mod, s->frames[i].pc) : NULL;
        for (size_t k = 0; name && k < sizeof starts / sizeof starts[0]; k++)
            if (strcmp(name, starts[k]) == 0) {
                s->count = i + 1;
                return 1;
            }
    }
    return 0;
}

int moth_unwind_stack(moth_unwinder *u, moth_native_stack *out, moth_error *err)
{
    out->count = 0;
    out->complete = 0;
    out->why[0] = '\0';
    if (!u->held)
        return moth_fail(err, "no thread is held to unwind");
    walk w = {out, 0};
    int rc = dwfl_getthread_frames(u->dwfl, u->held, on_frame, &w);
    if (w.failed)
        return moth_fail(err, "out of memory");
    if (rc == 0 || ends_at_thread_start(u, out)) {
        out->complete = 1;
    } else if (!out->why[0]) {
        const char *msg = rc < 0 ? dwfl_errmsg(-1) : "its pc could not be read";
        if (out->count)
            snprintf(out->why, sizeof out->why, "unwinding stopped after %#llx: %s",
                     (unsigned long long)out->frames[out->count - 1].pc, msg);
        else
            snprintf(out->why, sizeof out->why, "unwinding failed: %s", msg);
    }
    return 0;
}

/* A DIE's name, following DW_AT_abstract_origin (inlined copies name their origin). */
static const char *die_name(Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    return name;
}

size_t moth_unwind_names(moth_unwinder *u, const moth_native_pc *f, moth_native_name *out,
                         size_t max)
{
    if (!max)
        return 0;
    uint64_t at = f->exact || !f->pc ? f->pc : f->pc - 1;
    moth_native_name own = {0};
    Dwfl_Module *mod = dwfl_addrmodule(u->dwfl, at);
    if (!mod) {
        out[0] = own;
        return 1;
    }
    own.module = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    GElf_Off offset = 0;
    GElf_Sym sym;
    own.function = dwfl_module_addrinfo(mod, at, &offset, &sym, NULL, NULL, NULL);
    if (own.function) {
        own.function_len = strcspn(own.function, "@");
        own.offset = offset + (f->pc - at);
    }
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *src = dwfl_module_getsrc(mod, at);
    if (src)
        file = dwfl_lineinfo(src, NULL, &line, NULL, NULL, NULL);
    size_t count = 0;
    Dwarf_Addr bias;
    Dwarf_Die *cu = dwfl_module_addrdie(mod, at, &bias);
    Dwarf_Die *scopes = NULL;
    int nscopes = cu ? dwarf_getscopes(cu, at - bias, &scopes) : 0;
    if (nscopes > 0) {
        /* dwarf_getscopes continues from an inlined function into the scopes of its abstract
         * definition (for variables); the inlining chain is the DIE tree's own nesting. */
        Dwarf_Die innermost = scopes[0];
        free(scopes);
        scopes = NULL;
        nscopes = dwarf_getscopes_die(&innermost, &scopes);
    }
    Dwarf_Files *files = NULL;
    size_t nfiles = 0;
    if (nscopes > 0 && dwarf_getsrcfiles(cu, &files, &nfiles) != 0)
        files = NULL;
    for (int i = 0; i < nscopes && count + 1 < max; i++) {
        int tag = dwarf_tag(&scopes[i]);
        if (tag == DW_TAG_subprogram) {
            if (!own.function && (own.function = die_name(&scopes[i])))
                own.function_len = strlen(own.function);
            decl_of(&scopes[i], &own);
            break;
        }
        if (tag != DW_TAG_inlined_subroutine)
            continue;
        const char *name = die_name(&scopes[i]);
        out[count] = (moth_native_name){name, name ? strlen(name) : 0, 0, own.module,
                                        tidy_path(file), line, 1, NULL, 0};
        decl_of(&scopes[i], &out[count++]);
        /* Where it was inlined: the location of the function around it. */
        Dwarf_Attribute attr;
        Dwarf_Word value;
        file = NULL;
        line = 0;
        if (files && dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attr), &value) == 0)
            file = dwarf_filesrc(files, value, NULL, NULL);
        if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attr), &value) == 0)
            line = (int)value;
    }
    free(scopes);
    own.src_file = tidy_path(file);
    own.src_line = line;
    out[count++] = own;
    return count;
}

#else /* built without libdw */

struct moth_unwinder {
    int unused;
};

int moth_unwind_available(void)
{
    return 0;
}

int moth_unwind_open_pid(moth_unwinder **out, pid_t pid, moth_memsrc *mem, moth_error *err)
{
    (void)pid, (void)mem;
    *out = NULL;
    return moth_fail(err, "%s", MOTH_UNWIND_MISSING);
}

void moth_unwind_close(moth_unwinder *u)
{
    (void)u;
}

void moth_unwind_threads_held(moth_unwinder *u)
{
    (void)u;
}

int moth_unwind_refresh(moth_unwinder *u, moth_error *err)
{
    (void)u;
    return moth_fail(err, "built without libdw");
}

int moth_unwind_function(moth_unwinder *u, const moth_native_pc *f, moth_native_func *out)
{
    (void)u, (void)f;
    memset(out, 0, sizeof *out);
    return -1;
}

void moth_unwind_decl(moth_unwinder *u, uint64_t start, const char **file, int *line)
{
    (void)u, (void)start;
    *file = NULL;
    *line = 0;
}

int moth_unwind_hold(moth_unwinder *u, pid_t tid, moth_stop_failure *why, moth_error *err)
{
    (void)u, (void)tid;
    if (why)
        *why = MOTH_STOP_ERROR;
    return moth_fail(err, "built without libdw");
}

void moth_unwind_release(moth_unwinder *u)
{
    (void)u;
}

int moth_unwind_stack(moth_unwinder *u, moth_native_stack *out, moth_error *err)
{
    (void)u, (void)out;
    return moth_fail(err, "built without libdw");
}

size_t moth_unwind_names(moth_unwinder *u, const moth_native_pc *f, moth_native_name *out,
                         size_t max)
{
    (void)u, (void)f;
    if (!max)
        return 0;
    memset(out, 0, sizeof *out);
    return 1;
}

#endif
