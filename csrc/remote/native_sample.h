/*
 * native_sample.h: a thread's C frames and Python frames as one stack, sample after sample
 * (`moth record --native`).
 *
 * The caller holds every thread of the target still for the round (ptrace_stop.h). For each
 * thread sampled, its registers are read, its C stack is walked by one libdw session kept for
 * the whole recording (unwind.h), its Python stack is read, and the two are merged
 * (native_merge.h). A frame is named by its function's symbol (a binary search in the file's
 * sorted symbols; functions the compiler inlined count as the function they were inlined
 * into), and a function's source file and line are looked up in DWARF once, so a sample
 * costs the walk. A return address in no file the
 * session knows means the program mapped a new one (an import that loaded an extension): the
 * mapped files are read again, at most ten times a second, and the stack walked again.
 *
 * The stack handed on reads as a profile should: the interpreter's call machinery (its
 * evaluation loop, vectorcall and friends: moth_is_call_plumbing) is left out, and so are the
 * C frames above the outermost Python frame (the process's or thread's start-up, the same in
 * every sample). A thread with no Python frame is not sampled.
 */
#ifndef MOTH_NATIVE_SAMPLE_H
#define MOTH_NATIVE_SAMPLE_H

#include "common.h"
#include "hashmap.h"
#include "native_merge.h"
#include "stack.h"
#include "threads.h"
#include "unwind.h"

struct moth_remote;

/* A C function as a sampled profile names it: (file, line, name) is its label. */
typedef struct moth_cfunc {
    char *name;        /* the function, "??" when no symbol names it */
    char *file;        /* its source file when DWARF says, else the mapped file, else "?" */
    uint32_t line;     /* the line it begins on when DWARF says, else 0 */
    uint8_t plumbing;  /* the interpreter's call machinery: left out of stacks */
    uint8_t loop;      /* the evaluation loop: its frames are replaced by Python frames */
    uint32_t func;     /* the profile's function (the sink's business), MOTH_NO_FUNC at first */
} moth_cfunc;

typedef struct moth_native_stats {
    uint64_t walks;      /* C stacks walked */
    uint64_t partial;    /* walks that stopped before the thread's first function */
    uint64_t skipped;    /* threads not read in a round: ended, or started after it began */
    uint64_t refreshes;  /* times the mapped files were read again */
} moth_native_stats;

typedef struct moth_native_sampler {
    moth_unwinder *unwinder;
    moth_native_stack stack;
    moth_cfunc *cfuncs;            /* every C function met, never reordered */
    size_t ncfuncs, cfuncs_cap;
    moth_map cfunc_by_label;       /* (hash of file and name, line | probe << 32) -> cfunc */
    moth_map by_start;             /* (function start, kind) -> cfunc */
    uint32_t *cf;                  /* per sample: the C stack's functions, innermost first */
    uint8_t *loop;                 /* ... and which are the evaluation loop */
    size_t cf_cap, loop_cap;
    moth_merged *merged;           /* the sample: Python frames (index into the Python
                                    * stack) and C functions (index into cfuncs), innermost
                                    * first */
    size_t nmerged, merged_cap;
    double refreshed_at;
    moth_native_stats stats;
} moth_native_sampler;

/* Opens the libdw session over live target t. Errors: built without libdw, the process gone,
 * not permitted. */
int moth_native_sampler_open(moth_native_sampler *ns, struct moth_remote *t, moth_error *err);
void moth_native_sampler_close(moth_native_sampler *ns);

/* Samples thread th, which the caller holds still, into ns->merged (its Python frames read
 * into *py through r). 0; 1 when the thread gives no sample this round (it ended or started
 * meanwhile, its Python stack could not be read, or it has no Python frame); -1 out of
 * memory (err). */
int moth_native_sample(moth_native_sampler *ns, struct moth_remote *t, moth_stack_reader *r,
                       moth_rthread *th, moth_rstack *py, moth_error *err);

#endif
