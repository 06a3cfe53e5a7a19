/*
 * interp.h: moth's per-interpreter state, the only mutable state outside per-thread structs.
 *
 * moth's module is single-phase (it refuses sub-interpreters), so there is one of these.
 */
#ifndef MOTH_INTERP_H
#define MOTH_INTERP_H

#include "pyver.h"

#include "clock.h"
#include "got_patch.h"

struct moth_profiler;
struct moth_memtrack;

typedef struct moth_interp {
    /* profiler (profiler.c) */
    uint64_t session;                    /* the enabled profiler's session, 0 when none */
    uint64_t last_session;
    struct moth_profiler *profiler;      /* the enabled profiler */
    _PyFrameEvalFunction previous_eval;  /* the frame evaluator before ours, to chain to */
    PyObject *previous_thread_profile;   /* threading.getprofile() before classic mode */
    moth_clock_anchor clock_anchor;      /* taken at import: the cycle counter's rate is
                                            measured from here, more exactly as time passes */
    /* lines (lines_engine.c) */
    PyObject *marked_code;               /* set of code objects marked by moth.profile_lines */
    /* debugger (csrc/debugger) */
    struct moth_engine *debugger;        /* the armed engine, or NULL */
    _PyFrameEvalFunction debug_previous_eval; /* 3.11: the evaluator before the engine's */
    Py_ssize_t code_extra_index;         /* the code objects' slot for the engine's decisions */
    int code_extra_ready;
    int debug_audit_hooked;              /* 3.11: engine_probes.c's audit hook is added (it
                                            stays: audit hooks cannot be removed) */
    struct moth_engine *globals_engine;  /* the engine watching module globals, or NULL */
    int globals_watcher;                 /* its dictionary watcher's id + 1 (0: none yet) */
    /* memory (memory_hooks.c): every allocation hook takes memory_lock, then records into
     * `memory` when a memory session runs (NULL: they only pass calls on) */
    int memory_lock;
    struct moth_memtrack *memory;
    uint64_t memory_sample_bytes;        /* sampled mode's mean bytes between samples, or 0 */
    int memory_walk;                     /* allocations read their frames (no hook) */
    /* checkpoints (memory_hooks.c): when the peak passes the recorder's checkpoint_bytes, a
     * pending call runs memory_checkpoint(memory_checkpoint_arg) with the GIL, in a safe place */
    void (*memory_checkpoint)(void *arg);
    void *memory_checkpoint_arg;
    int memory_checkpoint_pending;       /* a pending call is queued */
    uint64_t memory_checkpoint_not_before; /* no checkpoint before this (monotonic ns) */
    uint32_t memory_generation;          /* a new recorder: the threads' site caches are stale */
    int memory_hooked;                   /* the allocator hooks are installed */
    int memory_atfork;                   /* the fork handlers are registered (once) */
    int memory_domains_kept;             /* bit per domain: our hook stays wrapped inside
                                            someone else's (memory_hooks_uninstall) */
    PyMemAllocatorEx memory_original[3]; /* Python's allocators before ours (raw, mem, obj):
                                            our hooks' contexts, so they never move */
    moth_got_patch memory_got;           /* native allocation calls redirected to moth */
    struct moth_dap *dap;                /* moth dap / moth.listen(): the session, or NULL */
    struct moth_dap_listener *dap_listener; /* moth.listen()'s port, or NULL */
    /* runner (runner.c) */
    int die_of_sigint_at_exit;           /* an uncaught KeyboardInterrupt ended the program */
    int exit_hook_registered;            /* once per process, whatever moth debug restarts */
} moth_interp;

extern moth_interp moth_the_interp;

#endif
