/*
 * stack.h: one thread's Python stack, read from outside.
 *
 * Frames of 3.11-3.13 live in each thread's frame data stack (contiguous chunks), so the used
 * part of the current chunk is copied in one read and the frames in it are walked locally;
 * frames elsewhere (generators' and coroutines', older chunks) are read one by one. The stack
 * is read while the thread runs: after the walk the thread's current frame is read again, and
 * when it moved the stack is read again (up to three times), else dropped and counted. A frame
 * whose code object cannot be read, or whose instruction lies outside its code, also means the
 * copy was torn.
 */
#ifndef MOTH_STACK_H
#define MOTH_STACK_H

#include "common.h"
#include "threads.h"

struct moth_remote;

#define MOTH_MAX_DEPTH 4096

typedef struct moth_rframe {
    uint64_t addr;      /* the _PyInterpreterFrame in the target */
    uint32_t code;      /* index into the target's code cache */
    int32_t line;       /* MOTH_NO_LINE when unknown */
    uint8_t owner;      /* the frame's owner (thread, generator, frame object) */
    uint8_t entry;      /* the newest frame of one C-level entry into the interpreter */
} moth_rframe;

typedef struct moth_rstack {
    moth_rframe *frames;   /* innermost first */
    size_t count, cap;
    int truncated;         /* deeper than MOTH_MAX_DEPTH: the outermost frames are missing */
} moth_rstack;

#define MOTH_RSTACK_INIT {NULL, 0, 0, 0}

/* What stack reading cost and met, accumulated over calls. */
typedef struct moth_stack_stats {
    uint64_t stacks, retries, dropped;
} moth_stack_stats;

/* Reuses its buffer from one read to the next: one per sampler. */
typedef struct moth_stack_reader {
    uint8_t *chunk;        /* copy of the current data stack chunk */
    size_t chunk_cap;
    uint64_t chunk_lo, chunk_hi;  /* the target addresses the copy holds */
    moth_stack_stats stats;
} moth_stack_reader;

void moth_stack_reader_free(moth_stack_reader *r);
void moth_rstack_free(moth_rstack *s);

/* Reads thread th's stack into *out. th's fields come from moth_remote_threads and are read
 * again on a retry. 0; -1 when the stack kept changing or could not be read (counted in
 * r->stats.dropped). A thread with no Python frame gives an empty stack. */
int moth_remote_stack(struct moth_remote *t, moth_stack_reader *r, moth_rthread *th,
                      moth_rstack *out);

#endif
