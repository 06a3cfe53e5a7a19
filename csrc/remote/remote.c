/*
 * remote.c: finding and checking the interpreter of a process read from outside; see remote.h.
 *
 * Where the runtime is: `_PyRuntime` in the dynamic symbols of libpython or of the python
 * executable (`strip` keeps those), else the start of the `.PyRuntime` section the runtime has
 * to itself. Each candidate is trusted only once its first interpreter points back to it.
 */
#include "remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corefile.h"
#include "elffile.h"
#include "proc.h"

enum {
    SYM_RUNTIME, SYM_VERSION, SYM_CODE, SYM_TYPE, SYM_NONE, SYM_TRUE, SYM_FALSE, SYM_INT,
    SYM_BOOL, SYM_FLOAT, SYM_STR, SYM_BYTES, SYM_TUPLE, SYM_LIST, SYM_DICT, SYM_SET,
    SYM_FROZENSET, SYM_MODULE, SYM_GEN, SYM_CORO, SYM_ASYNCGEN, SYM_CELL, SYM_WEAKREF, SYM_COUNT
};

static const char *const SYMBOLS[SYM_COUNT] = {
    "_PyRuntime", "Py_Version", "PyCode_Type", "PyType_Type", "_Py_NoneStruct",
    "_Py_TrueStruct", "_Py_FalseStruct", "PyLong_Type", "PyBool_Type", "PyFloat_Type",
    "PyUnicode_Type", "PyBytes_Type", "PyTuple_Type", "PyList_Type", "PyDict_Type",
    "PySet_Type", "PyFrozenSet_Type", "PyModule_Type", "PyGen_Type", "PyCoro_Type",
    "PyAsyncGen_Type", "PyCell_Type", "_PyWeakref_RefType",
};

void moth_remote_version_string(const moth_remote *t, char *buf, size_t size)
{
    uint32_t v = t->version_hex;
    snprintf(buf, size, "%u.%u.%u", v >> 24, (v >> 16) & 0xff, (v >> 8) & 0xff);
}

/* Opens the file of mapping m as the target sees it: through /proc/PID/root (its mount
 * namespace: a container's files), else by its path. */
static int open_mapped_file(moth_remote *t, const moth_mapping *m, moth_elf *elf)
{
    char path[8192];
    if (t->root[0]) {
        snprintf(path, sizeof path, "%s%s", t->root, m->path);
        if (moth_elf_open(elf, path, NULL) == 0)
            return 0;
    }
    return moth_elf_open(elf, m->path, NULL);
}

/* The version from a file name such as "libpython3.12.so.1.0" or "python3.11": major.minor as
 * a Py_Version value with micro 0, or 0. */
static uint32_t version_from_name(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *p = strstr(base, "python3.");
    unsigned minor;
    if (!p || sscanf(p + 8, "%u", &minor) != 1 || minor > 99)
        return 0;
    return 3u << 24 | minor << 16;
}

typedef struct candidate {
    uint64_t runtime;
    uint32_t version;
    uint64_t symbols[SYM_COUNT];
    uint64_t bias;
} candidate;

/* What the file mapped at m says about the interpreter: 1 when it holds one. */
static int inspect_file(moth_remote *t, const moth_mapping *m, candidate *c)
{
    moth_elf elf;
    if (open_mapped_file(t, m, &elf) < 0)
        return 0;
    memset(c, 0, sizeof *c);
    c->bias = moth_maps_bias(m, moth_elf_lowest_load(&elf));
    int found = moth_elf_symbols(&elf, SYMBOLS, SYM_COUNT, c->symbols, NULL, NULL);
    if (found < 0)
        found = 0;
    uint64_t runtime_vaddr = c->symbols[SYM_RUNTIME];
    moth_elf_section sec;
    if (!runtime_vaddr && moth_elf_section_named(&elf, ".PyRuntime", &sec) == 0)
        runtime_vaddr = sec.addr;
    if (runtime_vaddr)
        c->runtime = c->bias + runtime_vaddr;
    if (c->symbols[SYM_VERSION]) {
        const uint8_t *v = moth_elf_vaddr_bytes(&elf, c->symbols[SYM_VERSION], 4);
        if (v)
            memcpy(&c->version, v, 4);
    }
    if (!c->version)
        c->version = version_from_name(m->path);
    for (int i = 0; i < SYM_COUNT; i++)
        if (c->symbols[i])
            c->symbols[i] += c->bias;
    moth_elf_close(&elf);
    if (c->runtime)
        snprintf(t->binary, sizeof t->binary, "%s", m->path);
    return c->runtime != 0;
}

/* 3.13 and later start _PyRuntime with _Py_DebugOffsets: the interpreter's own account of its
 * layout. Where it disagrees with moth's table (a patch release moved a field), its word wins,
 * and the difference is noted. Indexes are into the 3.13 struct read as 64-bit words. */
static void apply_debug_offsets(moth_remote *t)
{
    uint64_t w[73]; /* the 3.13 struct: 73 words */
    if (t->L->version < 0x030d || moth_remote_read(t, t->runtime, w, sizeof w) < 0 ||
        memcmp(w, "xdebugpy", 8) != 0 || (w[1] >> 16) != t->L->version)
        return;
    moth_py_layout *L = &t->layout;
    struct {
        uint32_t *field;
        unsigned index;
    } map[] = {
        {&L->runtime.interpreters_head, 5},
        {&L->interp.id, 7},           {&L->interp.next, 8},
        {&L->interp.threads_head, 9}, {&L->interp.modules, 11},
        {&L->interp.gil, 14},
        {&L->tstate.next, 21},        {&L->tstate.interp, 22},
        {&L->tstate.current_frame, 23}, {&L->tstate.thread_id, 24},
        {&L->tstate.native_thread_id, 25}, {&L->tstate.datastack_chunk, 26},
        {&L->frame.previous, 29},     {&L->frame.code, 30},
        {&L->frame.instr, 31},        {&L->frame.localsplus, 32},
        {&L->frame.owner, 33},
        {&L->code.filename, 35},      {&L->code.name, 36},
        {&L->code.qualname, 37},      {&L->code.linetable, 38},
        {&L->code.firstlineno, 39},   {&L->code.argcount, 40},
        {&L->code.localsplusnames, 41}, {&L->code.localspluskinds, 42},
        {&L->code.code_adaptive, 43},
        {&L->type.name, 47},          {&L->type.flags, 49},
        {&L->tuple.item, 51},         {&L->tuple.size, 52},
        {&L->list.item, 54},          {&L->list.size, 55},
        {&L->dict.keys, 57},          {&L->dict.values, 58},
        {&L->float_value, 60},
        {&L->integer.size_or_tag, 62}, {&L->integer.digit, 63},
        {&L->bytes.size, 65},         {&L->bytes.sval, 66},
        {&L->unicode.state, 68},      {&L->unicode.length, 69},
        {&L->unicode.ascii_size, 70},
    };
    size_t changed = 0;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        uint64_t v = w[map[i].index];
        if (v < 65536 && *map[i].field != (uint32_t)v) {
            *map[i].field = (uint32_t)v;
            changed++;
        }
    }
    if (changed)
        snprintf(t->layout_note, sizeof t->layout_note,
                 "%zu offsets taken from the interpreter's own debug offsets", changed);
}

/* Checks that a runtime address is real: its first interpreter points back to it. */
static int runtime_is_valid(moth_remote *t, uint64_t runtime, uint64_t *interp)
{
    uint64_t head, back;
    if (moth_mem_u64(&t->mem, runtime + t->L->runtime.interpreters_head, &head) < 0 || !head ||
        moth_mem_u64(&t->mem, head + t->L->interp.runtime, &back) < 0 || back != runtime)
        return 0;
    *interp = head;
    return 1;
}

static void set_known(moth_remote *t, const uint64_t *s)
{
    t->known = (moth_known_objects){
        s[SYM_CODE], s[SYM_TYPE], s[SYM_NONE], s[SYM_TRUE], s[SYM_FALSE], s[SYM_INT],
        s[SYM_BOOL], s[SYM_FLOAT], s[SYM_STR], s[SYM_BYTES], s[SYM_TUPLE], s[SYM_LIST],
        s[SYM_DICT], s[SYM_SET], s[SYM_FROZENSET], s[SYM_MODULE], s[SYM_GEN], s[SYM_CORO],
        s[SYM_ASYNCGEN], s[SYM_CELL], s[SYM_WEAKREF],
    };
}

int moth_remote_locate(moth_remote *t, const char *what, moth_error *err)
{
    candidate c;
    int found = 0;
    /* libpython first (a python executable linked to it holds no runtime of its own), then
     * every other file whose name says python, then the rest (a program embedding Python). */
    for (int pass = 0; pass < 3 && !found; pass++) {
        const char *last = NULL;
        for (size_t i = 0; i < t->maps.count && !found; i++) {
            const moth_mapping *m = &t->maps.items[i];
            if (!m->path || m->offset != 0 || m->path[0] != '/' ||
                (last && strcmp(last, m->path) == 0))
                continue;
            last = m->path;
            const char *base = strrchr(m->path, '/') + 1;
            int is_lib = strncmp(base, "libpython3", 10) == 0;
            int says_python = strstr(base, "python") != NULL;
            if ((pass == 0 && !is_lib) || (pass == 1 && (is_lib || !says_python)) ||
                (pass == 2 && says_python))
                continue;
            found = inspect_file(t, m, &c);
        }
    }
    if (!found && !t->pid)
        return moth_fail(err, "%s is not a core of a Python program (no python executable or "
                         "libpython with an interpreter in its memory)", what);
    if (!found)
        return moth_fail(err, "%s is not running Python (no python executable or libpython with "
                         "an interpreter in its memory)", what);
    t->version_hex = c.version;
    const moth_py_layout *L = moth_layout_for(c.version >> 16);
    if (!L) {
        if (!c.version)
            return moth_fail(err, "%s runs a Python whose version moth cannot tell (%s)", what,
                             t->binary);
        return moth_fail(err, "%s runs Python %u.%u, which moth does not read (it reads 3.11, "
                         "3.12 and 3.13)", what, c.version >> 24, (c.version >> 16) & 0xff);
    }
    t->layout = *L;
    t->L = &t->layout;
    t->runtime = c.runtime;
    set_known(t, c.symbols);
    apply_debug_offsets(t);
    if (!runtime_is_valid(t, t->runtime, &t->interp))
        return moth_fail(err, "the Python interpreter of %s has not started yet or has already "
                         "shut down (no interpreter at its runtime state)", what);
    return 0;
}

int moth_remote_open_pid(moth_remote *t, pid_t pid, moth_error *err)
{
    memset(t, 0, sizeof *t);
    t->pid = pid;
    char what[64];
    snprintf(what, sizeof what, "process %d", (int)pid);
    if (moth_proc_exists(pid, err) < 0)
        goto fail;
    if (moth_maps_read_pid(&t->maps, pid, err) < 0) {
        if (errno == EACCES || errno == EPERM)
            moth_proc_explain_denied(pid, errno, err);
        goto fail;
    }
    if (moth_procmem_open(&t->mem, pid, err) < 0)
        goto fail;
    snprintf(t->root, sizeof t->root, "/proc/%d/root", (int)pid);
    if (moth_proc_cwd(pid, t->cwd, sizeof t->cwd) < 0)
        t->cwd[0] = '\0';
    /* One read tells whether memory may be read at all, before any search blames Python. */
    const moth_mapping *probe = NULL;
    for (size_t i = 0; i < t->maps.count && !probe; i++)
        if (t->maps.items[i].perms & MOTH_MAP_READ)
            probe = &t->maps.items[i];
    uint8_t byte;
    if (probe && moth_remote_read(t, probe->start, &byte, 1) < 0) {
        moth_proc_explain_denied(pid, errno, err);
        goto fail;
    }
    if (moth_remote_locate(t, what, err) < 0)
        goto fail;
    return 0;
fail:
    moth_remote_close(t);
    return -1;
}

void moth_remote_close(moth_remote *t)
{
    moth_code_cache_free(&t->codes);
    moth_mem_close(&t->mem);
    moth_maps_free(&t->maps);
    if (t->core) {
        moth_core_close(t->core);
        free(t->core);
        t->core = NULL;
    }
}
