/*
 * remote.h: a CPython interpreter read from outside: a live process or a core file.
 *
 * Opening a target finds the interpreter in the process's memory map (the python executable or
 * libpython, whichever holds `_PyRuntime`), reads its exact version (`Py_Version`), picks the
 * layout of that version (layout.h), checks the layout against 3.13's own debug offsets where
 * the interpreter has them, and validates the runtime address before trusting it (its first
 * interpreter must point back to it). Nothing is ever written to the target and it is not
 * stopped: structures are read while they change, so everything read is checked again.
 */
#ifndef MOTH_REMOTE_H
#define MOTH_REMOTE_H

#include <sys/types.h>

#include "code.h"
#include "common.h"
#include "layout.h"
#include "maps.h"
#include "readmem.h"

/* The type objects and singletons the reader recognises objects by; 0 when unknown. */
typedef struct moth_known_objects {
    uint64_t code_type, type_type, none, true_obj, false_obj;
    uint64_t int_type, bool_type, float_type, str_type, bytes_type;
    uint64_t tuple_type, list_type, dict_type, set_type, frozenset_type;
    uint64_t module_type, gen_type, coro_type, asyncgen_type;
    uint64_t cell_type, weakref_type;
} moth_known_objects;

struct moth_core;

typedef struct moth_remote {
    pid_t pid;                   /* 0 for a core file */
    struct moth_core *core;      /* a core file: its threads, registers, signal, files; else NULL */
    moth_memsrc mem;
    moth_maps maps;
    moth_py_layout layout;       /* the version's table, with 3.13's debug offsets applied */
    const moth_py_layout *L;     /* == &layout */
    uint32_t version_hex;        /* Py_Version: 0x030b07f0 for 3.11.7 final */
    uint64_t runtime;            /* address of _PyRuntime */
    uint64_t interp;             /* the main interpreter */
    uint64_t gil;                /* 3.12+: the GIL's struct (interp->ceval.gil), once read */
    char binary[4096];           /* the file that holds the interpreter */
    char root[64];               /* "/proc/PID/root" for a live target (files as it sees them) */
    char cwd[4096];              /* the target's working directory, "" when unknown */
    moth_known_objects known;
    moth_code_cache codes;
    char layout_note[256];       /* when 3.13's debug offsets corrected the table: what */
} moth_remote;

/* Opens live process pid. Errors, one line each: no such process; no permission (why, and how
 * to grant it); not a Python process; a Python moth does not read (its version named); an
 * interpreter not started yet or already finalised. */
int moth_remote_open_pid(moth_remote *t, pid_t pid, moth_error *err);

/* Opens core file `path` of a Python process (the files it mapped are read from this
 * machine; `executable`, when not NULL, is the program's executable to read instead of the
 * one the core names). Errors, one line each: not a core file; truncated; a core of another
 * executable (its build id differs); the executable or libpython missing here, or another
 * build of it; not a core of a Python program; and those of moth_remote_locate. */
int moth_remote_open_core(moth_remote *t, const char *path, const char *executable,
                          moth_error *err);

/* The part of opening shared by live processes and core files: t->mem and t->maps are set
 * (and t->pid, t->root); finds, checks and describes the interpreter. `what` names the target
 * in messages ("process 123", "core file x"). */
int moth_remote_locate(moth_remote *t, const char *what, moth_error *err);

void moth_remote_close(moth_remote *t);

/* "3.11.7" into buf. */
void moth_remote_version_string(const moth_remote *t, char *buf, size_t size);

/* Reads n bytes at addr of the target; -1 on failure (err untouched). */
static inline int moth_remote_read(moth_remote *t, uint64_t addr, void *buf, size_t n)
{
    return moth_mem_read(&t->mem, addr, buf, n);
}

/* Little-endian fields out of a buffer read from the target (bounds are the caller's). */
static inline uint64_t moth_u64_at(const void *buf, uint32_t off)
{
    uint64_t v;
    __builtin_memcpy(&v, (const char *)buf + off, sizeof v);
    return v;
}
static inline uint32_t moth_u32_at(const void *buf, uint32_t off)
{
    uint32_t v;
    __builtin_memcpy(&v, (const char *)buf + off, sizeof v);
    return v;
}

#endif
