/*
 * dump_native.h: `moth dump --native`: each thread's C frames, unwound while the thread is
 * held still (unwind.h), merged with the Python frames read during the same hold
 * (native_merge.h). Threads that have no Python thread state (started by C libraries) are
 * shown too, with their C frames alone.
 */
#ifndef MOTH_DUMP_NATIVE_H
#define MOTH_DUMP_NATIVE_H

#include "dump.h"
#include "native_merge.h"
#include "source.h"
#include "stack.h"
#include "threads.h"
#include "unwind.h"

struct moth_remote;

/* What one dump reuses from thread to thread. */
typedef struct moth_native_reader {
    moth_unwinder *unwinder;
    moth_native_stack stack;
    moth_rstack python;
    moth_native_name *names;
    uint32_t *name_frame;        /* names[i] belongs to stack.frames[name_frame[i]] */
    uint8_t *loop;               /* names[i] is the evaluation loop */
    size_t nnames, names_cap, name_frame_cap, loop_cap;
    moth_merged *merged;
    size_t merged_cap;
} moth_native_reader;

/* Opens the unwinder over the target (whose threads the caller holds when o->held). Errors: not a live process, built without libdw, no
 * permission. */
int moth_native_reader_open(moth_native_reader *nr, struct moth_remote *t,
                            const moth_dump_opts *o, moth_error *err);
void moth_native_reader_close(moth_native_reader *nr);

/* Holds thread tid, walks its C stack and reads its Python stack (rt; NULL for a thread
 * without Python), lets it go, and appends the merged frames to th, outermost first. A thread
 * that ended or would not stop gets a note instead. -1 when the dump cannot go on (err): the
 * process ended, stopping threads is not permitted, out of memory. */
int moth_native_thread(moth_native_reader *nr, struct moth_remote *t, moth_stack_reader *r,
                       moth_rthread *rt, moth_sources *src, const moth_dump_opts *o,
                       moth_dump_thread *th, moth_error *err);

/* Appends the threads of the process that have no Python thread state (not in py), with
 * their kernel state, OS name and C frames. */
int moth_native_other_threads(moth_native_reader *nr, struct moth_remote *t,
                              const moth_rthreads *py, moth_sources *src,
                              const moth_dump_opts *o, moth_dump *d, moth_error *err);

#endif
