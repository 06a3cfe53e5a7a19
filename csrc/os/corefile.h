/*
 * corefile.h: the core file of a Linux process (ELF ET_CORE, written by the kernel or by gdb's
 * gcore): its threads and their registers, the fatal signal, the command, the files it had
 * mapped, and its memory.
 *
 * A core holds what the process had written (heap, stacks, the written pages of its libraries'
 * data); read-only text and data are left out (a segment with no file bytes, or no segment at
 * all in gdb's cores) and come from the mapped files on disk, which the NT_FILE note names. So
 * the memory of a core is two layers: the core's PT_LOAD segments, then the files. A file on
 * disk that is not the one the process mapped (another build: its GNU build id differs from
 * the one in the core's copy of its first page) is never read.
 *
 * The core is treated as hostile (a crash leaves anything behind; a core cut short by a size
 * limit is common): every note and segment is bounds-checked, and a truncated core is refused
 * with what is missing.
 *
 * For native unwinders: moth_core_thread.regs are the registers each thread stopped with, in
 * the kernel's order (x86-64: user_regs_struct, aarch64: user_pt_regs); moth_core_pc/sp/fp pick
 * the usual three; moth_core_memsrc reads the rest. The thread that took the fatal signal is
 * threads[0] (the kernel writes the dumping thread first).
 */
#ifndef MOTH_COREFILE_H
#define MOTH_COREFILE_H

#include "common.h"
#include "elffile.h"
#include "maps.h"
#include "readmem.h"

/* Enough for x86-64's 27 general registers and aarch64's 34. */
#define MOTH_CORE_MAX_REGS 34

typedef struct moth_core_thread {
    int tid;                   /* the kernel's thread id (pr_pid) */
    int signal;                /* pr_cursig: the signal it stopped with, 0 for none */
    uint64_t regs[MOTH_CORE_MAX_REGS];
    unsigned nregs;            /* 27 on x86-64, 34 on aarch64 */
} moth_core_thread;

/* What is known of a mapped file on this machine. */
enum {
    MOTH_CORE_FILE_UNCHECKED,  /* not looked at yet */
    MOTH_CORE_FILE_OK,         /* readable, and its build id agrees with the core (or no id to compare) */
    MOTH_CORE_FILE_MISSING,    /* cannot be opened */
    MOTH_CORE_FILE_DIFFERENT,  /* its build id is not the one the process mapped */
};

typedef struct moth_core_file {
    char *path;                /* as the process named it, or as the caller replaced it */
    int status;                /* MOTH_CORE_FILE_* */
    const uint8_t *data;       /* the file mapped read-only, once checked and OK */
    size_t size;
} moth_core_file;

/* One mapping of NT_FILE: [start, end) of the process held bytes offset.. of file `file`. */
typedef struct moth_core_mapping {
    uint64_t start, end, offset;
    uint32_t file;             /* index into moth_core.files */
} moth_core_mapping;

/* A PT_LOAD segment: [vaddr, vaddr + memsz) of the process, of which the first filesz bytes
 * are in the core at offset. */
typedef struct moth_core_segment {
    uint64_t vaddr, memsz, filesz, offset;
    uint32_t flags;            /* PF_R, PF_W, PF_X */
} moth_core_segment;

typedef struct moth_core {
    char *name;                /* the core's path, for messages */
    moth_elf elf;              /* the core itself */
    uint16_t machine;          /* EM_X86_64 or EM_AARCH64 */
    int pid;                   /* the process (NT_PRPSINFO), else the first thread's id */
    char fname[17];            /* the process's name (NT_PRPSINFO: 15 characters at most) */
    char psargs[81];           /* the start of its command line (NT_PRPSINFO: 80 characters) */
    int signal;                /* the fatal signal (NT_SIGINFO, else the first thread's), 0 for none */
    int signal_code;           /* si_code: > 0 sent by the kernel (a fault), <= 0 by a process */
    uint64_t signal_addr;      /* faults: the address; sent signals: the sender's pid */
    moth_core_thread *threads; /* the dumping thread first */
    size_t nthreads, threads_cap;
    moth_core_segment *segments;   /* PT_LOAD, by address */
    size_t nsegments;
    moth_core_mapping *mappings;   /* NT_FILE, by address */
    size_t nmappings;
    moth_core_file *files;         /* the distinct files of the mappings */
    size_t nfiles, files_cap;
    uint64_t *auxv;                /* NT_AUXV: (type, value) pairs */
    size_t auxv_count;             /* pairs */
    int executable;                /* index into files of the executable, -1 when unknown */
    uint64_t page_size;            /* NT_FILE's unit of file offsets */
    size_t file_size;              /* of the core */
    const uint8_t *map;            /* the core mapped (moth_core_open), or NULL */
} moth_core;

/* Opens and checks the core file at path. Errors, one line each: cannot open; not a core file
 * (not ELF, or another kind of ELF file); truncated (how many bytes of how many); malformed
 * notes; no thread; no list of mapped files. */
int moth_core_open(moth_core *c, const char *path, moth_error *err);
/* The same over data[0, size) (kept, not copied): the fuzz target's entry. `name` names the
 * core in messages. */
int moth_core_from_buffer(moth_core *c, const void *data, size_t size, const char *name,
                          moth_error *err);
void moth_core_close(moth_core *c);

/* The value of auxiliary vector entry `type` (AT_ENTRY...), 0 when absent. */
uint64_t moth_core_auxv(const moth_core *c, uint64_t type);

/* The process's command line, its arguments joined by spaces, into out (cut to size): read
 * from the argument strings at the top of its stack, found below the auxiliary vector there;
 * NT_PRPSINFO's first 80 characters when the stack does not have them. */
void moth_core_command_line(const moth_core *c, char *out, size_t size);

/* Program counter, stack pointer and frame pointer of a thread. */
uint64_t moth_core_pc(const moth_core *c, const moth_core_thread *t);
uint64_t moth_core_sp(const moth_core *c, const moth_core_thread *t);
uint64_t moth_core_fp(const moth_core *c, const moth_core_thread *t);

/* Copies the bytes at [addr, addr + len) that the core itself holds (no file is read): how many
 * leading bytes were copied. */
size_t moth_core_read_dumped(const moth_core *c, uint64_t addr, void *buf, size_t len);

/* The GNU build id of file i as the process had it, from the core's copy of the file's first
 * page (copied into id, at most `size` bytes): its length, 0 when the core does not hold it. */
size_t moth_core_build_id(const moth_core *c, uint32_t i, uint8_t *id, size_t size);

/* Opens file i and compares it with the core (once; later calls return the same): its
 * MOTH_CORE_FILE_* status. */
int moth_core_check_file(moth_core *c, uint32_t i);

/* Reads file i from `path` instead of the path the core names (an executable copied elsewhere,
 * a library from another root). Checks it: 0 when it is the file the process mapped (same build
 * id, or no build id in the core and the same name); else -1 with a message naming both. */
int moth_core_replace_file(moth_core *c, uint32_t i, const char *path, moth_error *err);

/* The process's mappings as a maps list: every NT_FILE mapping (path and offset) and every
 * other segment (anonymous), with the segments' permissions. */
int moth_core_maps(const moth_core *c, moth_maps *m, moth_error *err);

/* A moth_memsrc over the core and its files (c must outlive it; closing it leaves c open). */
void moth_core_memsrc(moth_core *c, moth_memsrc *m);

#endif
