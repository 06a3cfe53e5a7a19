/*
 * unwind.h: the C stack of a thread of another process, walked by elfutils' libdw, and the
 * functions its frames run, named.
 *
 * A session (moth_unwinder) is opened once per process: libdw learns the process's mapped
 * files then, and loads each file's unwind tables (.eh_frame, .debug_frame) and symbols the
 * first time a frame lands in it, so later walks of the same process cost only the walk. For
 * each walk of a live process one thread is held still (threadstop.h) while its registers and
 * stack are read; the caller may read anything else that must match the C stack (the Python
 * frames) before letting it go. Stack memory is read through the caller's moth_memsrc, a page
 * at a time, cached for the duration of one hold.
 *
 * Names come from the files' symbol tables, and from DWARF where the file (or its separate
 * debug file under /usr/lib/debug) has it: the source file and line, and the functions that
 * the compiler inlined into the one the frame runs, each as a frame of its own, as gdb shows
 * them.
 *
 * moth is built without libdw when its headers were missing (setup.py looks for them): then
 * moth_unwind_available() is 0 and opening a session fails with a message that says what to
 * install.
 *
 * A session is used from one thread of moth (ptrace's rule).
 */
#ifndef MOTH_UNWIND_H
#define MOTH_UNWIND_H

#include <sys/types.h>

#include "common.h"
#include "readmem.h"
#include "threadstop.h"

/* Deeper C stacks are cut here (innermost frames kept). */
#define MOTH_MAX_NATIVE_DEPTH 2048

typedef struct moth_unwinder moth_unwinder;

typedef struct moth_native_pc {
    uint64_t pc;        /* where the frame is: the thread's pc, else a return address */
    int exact;          /* pc is the instruction being run (the innermost frame, or one a signal
                         * interrupted); otherwise the call that will return there is at pc - 1 */
} moth_native_pc;

typedef struct moth_native_stack {
    moth_native_pc *frames;  /* innermost first */
    size_t count, cap;
    int complete;            /* the walk reached the thread's first function (_start, clone) */
    char why[160];           /* when not complete: where and why the walk stopped */
} moth_native_stack;

#define MOTH_NATIVE_STACK_INIT {NULL, 0, 0, 0, ""}

void moth_native_stack_free(moth_native_stack *s);

/* One function a frame runs. A frame whose pc lies in code that was inlined names several:
 * the inlined functions innermost first, then the function the code belongs to. Strings belong
 * to the session and live until it is closed. */
typedef struct moth_native_name {
    const char *function;   /* NULL when nothing names it (no symbol covers the pc) */
    size_t function_len;    /* its length without a symbol version ("@GLIBC_2.2.5") */
    uint64_t offset;        /* pc - the function's start (0 for inlined functions) */
    const char *module;     /* the mapped file (its path), NULL when the pc is in none */
    const char *src_file;   /* DWARF: the source file, NULL when unknown */
    int src_line;           /* DWARF: its line, 0 when unknown */
    int inlined;            /* an inlined function: the next name is the one it was inlined in */
    const char *decl_file;  /* DWARF: the source file the function is defined in, NULL when
                             * unknown (a function's identity, where src_file is the pc's) */
    int decl_line;          /* DWARF: the line it begins on, 0 when unknown */
} moth_native_name;

/* What a moth built without libdw says when asked to walk C stacks. */
#define MOTH_UNWIND_MISSING                                                                   \
    "this moth was built without libdw, so it cannot walk C stacks: install libdw-dev "       \
    "(Debian, Ubuntu) or elfutils-devel (Fedora) and reinstall moth"

/* 1 when this build of moth has libdw. */
int moth_unwind_available(void);

/* Opens a session over live process pid, whose memory mem reads (the caller keeps it open
 * while the session lives). Errors: built without libdw, the process gone or unreadable. */
int moth_unwind_open_pid(moth_unwinder **out, pid_t pid, moth_memsrc *mem, moth_error *err);

/* Every thread of the process is already stopped by the caller's ptrace (ptrace_stop.h,
 * `--blocking`): holds then only read the thread's registers, and releases leave it stopped. */
void moth_unwind_threads_held(moth_unwinder *u);

/* Lets any held thread go and frees everything. NULL is allowed. */
void moth_unwind_close(moth_unwinder *u);

/* Stops thread tid of a live process and keeps it stopped until moth_unwind_release (or the
 * next hold, or close). *why says why it failed (the thread ended, no permission, ...). */
int moth_unwind_hold(moth_unwinder *u, pid_t tid, moth_stop_failure *why, moth_error *err);
void moth_unwind_release(moth_unwinder *u);

/* The function a frame runs, by its symbol alone (no inlined functions, no DWARF): what a
 * sampler asks for every frame of every sample. Each file's function symbols are sorted once,
 * the first time a pc lands in it, so later looks cost a binary search. */
typedef struct moth_native_func {
    const char *function;   /* NULL when no symbol covers the pc */
    size_t function_len;    /* without a symbol version */
    uint64_t start;         /* where the function begins (0 when unnamed) */
    const char *module;     /* the mapped file, NULL when the pc is in none */
} moth_native_func;

/* Names frame f's function: 0 named, 1 in a known file but no symbol covers it, -1 in no known
 * file. Strings belong to the session until the next refresh or close. */
int moth_unwind_function(moth_unwinder *u, const moth_native_pc *f, moth_native_func *out);

/* DWARF: the source file and first line of the function that begins at start (a pc that
 * moth_unwind_function gave); *file NULL and *line 0 when the file has no DWARF for it. */
void moth_unwind_decl(moth_unwinder *u, uint64_t start, const char **file, int *line);

/* Reads the process's mapped files again, after it mapped new ones (an import that loaded an
 * extension module): files still mapped keep the tables already loaded, files gone are
 * forgotten (names given before then must not be used again). -1 when the map cannot be read
 * (the process ended). */
int moth_unwind_refresh(moth_unwinder *u, moth_error *err);

/* Walks the held thread's C stack into *out (its contents replaced). A walk that ends early
 * (code without unwind tables, a corrupt stack, deeper than MOTH_MAX_NATIVE_DEPTH) is not an
 * error: out->complete is 0 and out->why says where it stopped. -1 only when nothing could be
 * read (no thread held, out of memory). */
int moth_unwind_stack(moth_unwinder *u, moth_native_stack *out, moth_error *err);

/* Names frame f: fills up to max names (innermost inlined function first, the frame's own
 * function last) and returns how many (at least 1 when max >= 1: an unnamed pc gives one name
 * with function NULL). */
size_t moth_unwind_names(moth_unwinder *u, const moth_native_pc *f, moth_native_name *out,
                         size_t max);

#endif
