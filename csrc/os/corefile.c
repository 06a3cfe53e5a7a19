/*
 * corefile.c: opening a core file and reading its notes; see corefile.h.
 *
 * Note layouts (Linux, 64-bit; the same on x86-64 and aarch64 up to the registers):
 *   NT_PRSTATUS  struct elf_prstatus: pr_cursig (short) at 12, pr_pid at 32, pr_reg at 112
 *   NT_PRPSINFO  struct elf_prpsinfo: pr_pid at 24, pr_fname[16] at 40, pr_psargs[80] at 56
 *   NT_SIGINFO   siginfo_t: si_signo at 0, si_code at 8, si_addr (or si_pid) at 16
 *   NT_AUXV      (type, value) pairs of 64-bit words
 *   NT_FILE      count, page size, count x (start, end, offset in pages), count names
 */
#define _GNU_SOURCE /* memmem */
#include "corefile.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapfile.h"

#define PRSTATUS_CURSIG 12
#define PRSTATUS_PID 32
#define PRSTATUS_REGS 112
#define PRPSINFO_PID 24
#define PRPSINFO_FNAME 40
#define PRPSINFO_PSARGS 56
#define PRPSINFO_SIZE 136
#define SIGINFO_MIN 24
#define MAX_FILE_NAME 4096
#define MAX_ARGS 100000

static uint64_t u64_at(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static int32_t i32_at(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Where the machine keeps its program counter, stack pointer and frame pointer in pr_reg. */
typedef struct reg_layout {
    unsigned count, pc, sp, fp;
} reg_layout;

static reg_layout regs_of(uint16_t machine)
{
    if (machine == EM_AARCH64)
        return (reg_layout){34, 32, 31, 29};  /* x0..x30, sp, pc, pstate */
    return (reg_layout){27, 16, 19, 4};       /* user_regs_struct: rip, rsp, rbp */
}

typedef struct note_walk {
    moth_core *c;
    moth_error *err;
    int has_prpsinfo, has_siginfo, has_file;
} note_walk;

static int add_thread(note_walk *w, const uint8_t *desc, size_t len)
{
    moth_core *c = w->c;
    reg_layout r = regs_of(c->machine);
    if (len < PRSTATUS_REGS + 8 * (size_t)r.count) {
        moth_fail(w->err, "core file %s: a thread's registers are cut short (NT_PRSTATUS of %zu "
                  "bytes)", c->name, len);
        return -1;
    }
    if (moth_grow((void **)&c->threads, sizeof *c->threads, &c->threads_cap, c->nthreads + 1,
                  w->err) < 0)
        return -1;
    moth_core_thread *t = &c->threads[c->nthreads++];
    memset(t, 0, sizeof *t);
    int16_t cursig;
    memcpy(&cursig, desc + PRSTATUS_CURSIG, sizeof cursig);
    t->signal = cursig;
    t->tid = i32_at(desc + PRSTATUS_PID);
    t->nregs = r.count;
    memcpy(t->regs, desc + PRSTATUS_REGS, 8 * (size_t)r.count);
    return 0;
}

/* A fixed-size text field, NUL-terminated into out (size - 1 bytes at most). */
static void text_field(char *out, size_t size, const uint8_t *p, size_t len)
{
    size_t n = strnlen((const char *)p, len < size - 1 ? len : size - 1);
    memcpy(out, p, n);
    out[n] = '\0';
}

static void read_prpsinfo(note_walk *w, const uint8_t *desc, size_t len)
{
    if (len < PRPSINFO_SIZE)
        return;
    w->has_prpsinfo = 1;
    w->c->pid = i32_at(desc + PRPSINFO_PID);
    text_field(w->c->fname, sizeof w->c->fname, desc + PRPSINFO_FNAME, 16);
    text_field(w->c->psargs, sizeof w->c->psargs, desc + PRPSINFO_PSARGS, 80);
    /* The kernel keeps the arguments' separating NULs as spaces, and pads with spaces. */
    size_t n = strlen(w->c->psargs);
    while (n && w->c->psargs[n - 1] == ' ')
        w->c->psargs[--n] = '\0';
}

static void read_siginfo(note_walk *w, const uint8_t *desc, size_t len)
{
    if (len < SIGINFO_MIN)
        return;
    w->has_siginfo = 1;
    w->c->signal = i32_at(desc);
    w->c->signal_code = i32_at(desc + 8);
    w->c->signal_addr = u64_at(desc + 16);
    if (w->c->signal_code <= 0)
        w->c->signal_addr = (uint32_t)i32_at(desc + 16); /* si_pid of the sender */
}

static int read_auxv(note_walk *w, const uint8_t *desc, size_t len)
{
    moth_core *c = w->c;
    size_t count = len / 16;
    free(c->auxv);
    c->auxv = NULL;
    c->auxv_count = 0;
    if (!count)
        return 0;
    if (!(c->auxv = moth_malloc(count * 16, w->err)))
        return -1;
    memcpy(c->auxv, desc, count * 16);
    c->auxv_count = count;
    return 0;
}

/* The index of the file named path, added when new. */
static int file_index(moth_core *c, const char *path, size_t len, uint32_t *index,
                      moth_error *err)
{
    for (size_t i = c->nfiles; i-- > 0;)  /* a file's mappings come together: look back */
        if (strlen(c->files[i].path) == len && memcmp(c->files[i].path, path, len) == 0) {
            *index = (uint32_t)i;
            return 0;
        }
    if (moth_grow((void **)&c->files, sizeof *c->files, &c->files_cap, c->nfiles + 1, err) < 0)
        return -1;
    moth_core_file *f = &c->files[c->nfiles];
    memset(f, 0, sizeof *f);
    if (!(f->path = moth_strndup(path, len, err)))
        return -1;
    *index = (uint32_t)c->nfiles++;
    return 0;
}

static int read_files(note_walk *w, const uint8_t *desc, size_t len)
{
    moth_core *c = w->c;
    if (w->has_file++) /* one list per core; a second one is ignored */
        return 0;
    if (len < 16)
        goto bad;
    uint64_t count = u64_at(desc), page = u64_at(desc + 8);
    if (!page || (page & (page - 1)) || count > (len - 16) / 24)
        goto bad;
    c->page_size = page;
    if (count && !(c->mappings = moth_calloc((size_t)count, sizeof *c->mappings, w->err)))
        return -1;
    const char *name = (const char *)desc + 16 + count * 24;
    size_t left = len - 16 - (size_t)count * 24;
    for (uint64_t i = 0; i < count; i++) {
        const uint8_t *e = desc + 16 + i * 24;
        uint64_t start = u64_at(e), end = u64_at(e + 8), pages = u64_at(e + 16);
        size_t n = strnlen(name, left < MAX_FILE_NAME ? left : MAX_FILE_NAME);
        if (n == left || n == MAX_FILE_NAME || end < start || pages > UINT64_MAX / page)
            goto bad;
        moth_core_mapping *m = &c->mappings[c->nmappings];
        *m = (moth_core_mapping){start, end, pages * page, 0};
        if (file_index(c, name, n, &m->file, w->err) < 0)
            return -1;
        c->nmappings++;
        name += n + 1;
        left -= n + 1;
    }
    return 0;
bad:
    moth_fail(w->err, "core file %s: its list of mapped files (NT_FILE) is malformed", c->name);
    return -1;
}

static int visit_note(void *ctx, uint32_t type, const char *name, size_t name_len,
                      const uint8_t *desc, size_t desc_len)
{
    note_walk *w = ctx;
    if (name_len != 4 || memcmp(name, "CORE", 4) != 0)
        return 0;  /* "LINUX" (extended registers), "GDB" (gdb's target description) */
    switch (type) {
    case NT_PRSTATUS: return add_thread(w, desc, desc_len);
    case NT_PRPSINFO: read_prpsinfo(w, desc, desc_len); return 0;
    case NT_SIGINFO: read_siginfo(w, desc, desc_len); return 0;
    case NT_AUXV: return read_auxv(w, desc, desc_len);
    case NT_FILE: return read_files(w, desc, desc_len);
    default: return 0;
    }
}

static int by_vaddr(const void *a, const void *b)
{
    uint64_t x = ((const moth_core_segment *)a)->vaddr, y = ((const moth_core_segment *)b)->vaddr;
    return x < y ? -1 : x > y;
}

static int by_start(const void *a, const void *b)
{
    uint64_t x = ((const moth_core_mapping *)a)->start, y = ((const moth_core_mapping *)b)->start;
    return x < y ? -1 : x > y;
}

static const char *elf_kind(uint16_t type)
{
    switch (type) {
    case ET_EXEC: return "an ELF executable";
    case ET_DYN: return "an ELF shared object or executable";
    case ET_REL: return "an ELF object file";
    default: return "an ELF file of another kind";
    }
}

/* The segments; refuses a core whose segments or notes end past its end. */
static int read_segments(moth_core *c, moth_error *err)
{
    uint64_t need = 0;
    size_t loads = 0;
    for (unsigned i = 0; i < c->elf.phnum; i++) {
        moth_elf_segment s;
        moth_elf_segment_at(&c->elf, i, &s);
        if (s.type != PT_LOAD && s.type != PT_NOTE)
            continue;
        loads += s.type == PT_LOAD;
        if (s.offset > UINT64_MAX - s.filesz)
            return moth_fail(err, "core file %s: a segment lies past any file size", c->name);
        if (s.offset + s.filesz > need)
            need = s.offset + s.filesz;
    }
    if (need > c->elf.size)
        return moth_fail(err, "core file %s is truncated: it has %zu bytes of the %llu its "
                         "segments need (cut short by the core size limit, ulimit -c, or a "
                         "full disk?)", c->name, c->elf.size, (unsigned long long)need);
    if (loads && !(c->segments = moth_calloc(loads, sizeof *c->segments, err)))
        return -1;
    for (unsigned i = 0; i < c->elf.phnum; i++) {
        moth_elf_segment s;
        moth_elf_segment_at(&c->elf, i, &s);
        if (s.type == PT_LOAD)
            c->segments[c->nsegments++] =
                (moth_core_segment){s.vaddr, s.memsz, s.filesz < s.memsz ? s.filesz : s.memsz,
                                    s.offset, s.flags};
    }
    moth_qsort(c->segments, c->nsegments, sizeof *c->segments, by_vaddr);
    return 0;
}

/* The file whose mapping holds the entry point is the executable. */
static void find_executable(moth_core *c)
{
    c->executable = -1;
    uint64_t entry = moth_core_auxv(c, AT_ENTRY);
    for (size_t i = 0; i < c->nmappings; i++)
        if (entry >= c->mappings[i].start && entry < c->mappings[i].end) {
            c->executable = (int)c->mappings[i].file;
            return;
        }
}

/* Reads the core in data[0, size) into c (zeroed but for map); on failure c holds what was
 * read so far, for moth_core_close. */
static int parse(moth_core *c, const void *data, size_t size, const char *name, moth_error *err)
{
    c->executable = -1;
    c->file_size = size;
    if (!(c->name = moth_strdup(name, err)))
        return -1;
    moth_error inner;
    if (moth_elf_from_buffer(&c->elf, data, size, &inner) < 0) {
        if (strstr(inner.msg, "program headers"))
            return moth_fail(err, "core file %s: %s", name, inner.msg);
        return moth_fail(err, "%s is not a core file (%s)", name, inner.msg);
    }
    if (c->elf.type != ET_CORE)
        return moth_fail(err, "%s is not a core file (it is %s)", name, elf_kind(c->elf.type));
    Elf64_Ehdr h;
    memcpy(&h, data, sizeof h);
    c->machine = h.e_machine;
    if (read_segments(c, err) < 0)
        return -1;
    note_walk w = {c, err, 0, 0, 0};
    for (unsigned i = 0; i < c->elf.phnum; i++) {
        moth_elf_segment s;
        moth_elf_segment_at(&c->elf, i, &s);
        if (s.type != PT_NOTE)
            continue;
        inner.msg[0] = '\0';
        if (moth_elf_notes(&c->elf, &s, visit_note, &w, &inner) != 0)
            /* A note of ours failed (err says why), or the notes are malformed (inner). */
            return inner.msg[0] ? moth_fail(err, "core file %s: %s", name, inner.msg) : -1;
    }
    if (!c->nthreads)
        return moth_fail(err, "core file %s holds no thread (no NT_PRSTATUS note)", name);
    if (!w.has_file)
        return moth_fail(err, "core file %s does not list the files its process mapped (no "
                         "NT_FILE note)", name);
    if (!w.has_prpsinfo)
        c->pid = c->threads[0].tid;
    if (!w.has_siginfo)
        c->signal = c->threads[0].signal;
    moth_qsort(c->mappings, c->nmappings, sizeof *c->mappings, by_start);
    find_executable(c);
    return 0;
}

int moth_core_from_buffer(moth_core *c, const void *data, size_t size, const char *name,
                          moth_error *err)
{
    memset(c, 0, sizeof *c);
    if (parse(c, data, size, name, err) < 0) {
        moth_core_close(c);
        return -1;
    }
    return 0;
}

int moth_core_open(moth_core *c, const char *path, moth_error *err)
{
    memset(c, 0, sizeof *c);
    c->executable = -1;
    const uint8_t *map;
    size_t size;
    if (moth_file_map(path, &map, &size, err) < 0)
        return -1;
    c->map = map;
    c->file_size = size;
    if (parse(c, map ? map : (const uint8_t *)"", size, path, err) < 0) {
        moth_core_close(c);
        return -1;
    }
    return 0;
}

void moth_core_close(moth_core *c)
{
    for (size_t i = 0; i < c->nfiles; i++) {
        moth_file_unmap(c->files[i].data, c->files[i].size);
        free(c->files[i].path);
    }
    free(c->files);
    free(c->threads);
    free(c->segments);
    free(c->mappings);
    free(c->auxv);
    free(c->name);
    moth_file_unmap(c->map, c->file_size);
    memset(c, 0, sizeof *c);
    c->executable = -1;
}

uint64_t moth_core_auxv(const moth_core *c, uint64_t type)
{
    for (size_t i = 0; i < c->auxv_count; i++)
        if (c->auxv[2 * i] == type)
            return c->auxv[2 * i + 1];
    return 0;
}

uint64_t moth_core_pc(const moth_core *c, const moth_core_thread *t)
{
    return t->regs[regs_of(c->machine).pc];
}

uint64_t moth_core_sp(const moth_core *c, const moth_core_thread *t)
{
    return t->regs[regs_of(c->machine).sp];
}

uint64_t moth_core_fp(const moth_core *c, const moth_core_thread *t)
{
    return t->regs[regs_of(c->machine).fp];
}

/* The dumped bytes of the segment holding addr, from its start: *len of them, or NULL. */
static const uint8_t *dumped_segment(const moth_core *c, uint64_t addr, uint64_t *start,
                                     size_t *len)
{
    for (size_t i = 0; i < c->nsegments; i++) {
        const moth_core_segment *s = &c->segments[i];
        if (addr >= s->vaddr && addr - s->vaddr < s->filesz) {
            *start = s->vaddr;
            *len = (size_t)s->filesz;
            return c->elf.data + s->offset;
        }
    }
    return NULL;
}

/* The process started with argc, argv[], NULL, envp[], NULL, then the auxiliary vector, on
 * the stack that also holds the strings (AT_EXECFN points at one): find the vector there and
 * walk back to argc. 0 when found (*argv_at: where argv[0] is, in the segment). */
static int find_argv(const uint8_t *stack, size_t len, const moth_core *c, size_t *argv_at,
                     uint64_t *argc)
{
    size_t auxv_len = c->auxv_count * 16;
    const uint8_t *hit = auxv_len ? memmem(stack, len, c->auxv, auxv_len) : NULL;
    if (!hit || (hit - stack) % 8)
        return -1;
    size_t at = (size_t)(hit - stack) / 8;  /* in words */
    uint64_t w;
    /* envp's terminator, envp, argv's terminator. */
    if (at < 1 || (memcpy(&w, stack + (at - 1) * 8, 8), w))
        return -1;
    size_t k = at - 1;
    while (k > 0 && (memcpy(&w, stack + (k - 1) * 8, 8), w))
        k--;
    if (k == 0)
        return -1;
    size_t argv_end = --k;  /* the word of argv's NULL */
    for (uint64_t n = 0; n <= MAX_ARGS && k > 0; n++, k--) {
        memcpy(&w, stack + (k - 1) * 8, 8);
        if (w == n) {
            *argv_at = k * 8;
            *argc = n;
            return argv_end - k == n ? 0 : -1;
        }
    }
    return -1;
}

void moth_core_command_line(const moth_core *c, char *out, size_t size)
{
    snprintf(out, size, "%s", c->psargs);
    uint64_t execfn = moth_core_auxv(c, AT_EXECFN), start, argc;
    size_t len, argv_at;
    const uint8_t *stack = dumped_segment(c, execfn, &start, &len);
    if (!stack || find_argv(stack, len, c, &argv_at, &argc) < 0 || !argc)
        return;
    for (uint64_t i = 0; i < argc; i++) {
        uint64_t p;
        memcpy(&p, stack + argv_at + i * 8, 8);
        if (p < start || p - start >= len)
            return;  /* not a string of this stack: keep psargs */
    }
    size_t used = 0;
    for (uint64_t i = 0; i < argc && used + 1 < size; i++) {
        uint64_t p;
        memcpy(&p, stack + argv_at + i * 8, 8);
        const char *arg = (const char *)stack + (p - start);
        size_t n = strnlen(arg, len - (size_t)(p - start));
        if (i)
            out[used++] = ' ';
        if (n > size - 1 - used)
            n = size - 1 - used;
        memcpy(out + used, arg, n);
        used += n;
        out[used] = '\0';
    }
}
