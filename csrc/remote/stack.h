/*
 * stack.h: one thread's Python stack, read from outside.
 *
 * Frames of 3.11-3.13 live in each thread's frame data stack (contiguous chunks, frames pushed
 * and popped at the top), so the current chunk is copied and the frames in it walked locally;
 * frames elsewhere (generators' and coroutines', older chunks) are read one by one. The stack
 * is read while the thread runs, and a stack that changed while it was read must never be
 * reported: in one system call the reader reads where the frames stand (the current frame, the
 * chunk and its top; 3.11/3.12: the _PyCFrame), copies the chunk twice, and reads where they
 * stand again. The two readings must agree; every frame walked in the chunk must lie below its
 * top (above it lie only what returned frames left) and be the same in both copies (code,
 * caller, owner; the instruction too, but for the innermost frame, which runs). Otherwise the
 * stack is read again (up to four times), else dropped and counted. A frame whose code object
 * cannot be read, or whose instruction lies outside its code, also means the read was torn.
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
    uint64_t torn;        /* reads whose two copies of a frame differed (then read again) */
    uint64_t prefetched;  /* rounds whose threads and stacks were read in one call */
} moth_stack_stats;

struct moth_stack_plan;
struct moth_read_piece;

/* Reuses its buffers from one read to the next: one per sampler. */
typedef struct moth_stack_reader {
    uint8_t *chunk;        /* copy of the current data stack chunk */
    size_t chunk_cap;
    const uint8_t *copy;          /* the copy being walked: chunk, or a part of prefetch */
    uint64_t chunk_lo, chunk_hi;  /* the target addresses each copy holds */
    uint64_t live_hi;             /* the chunk's top when copied: frames start below it */
    /* The round's copies, read with the thread list (moth_remote_threads_prefetch). */
    struct moth_stack_plan *plans;
    size_t plans_cap, plan_count, plan_next;
    struct moth_read_piece *pieces;
    size_t pieces_cap;
    uint8_t *prefetch;
    size_t prefetch_cap;
    moth_stack_stats stats;
} moth_stack_reader;

void moth_stack_reader_free(moth_stack_reader *r);
void moth_rstack_free(moth_rstack *s);

/* Reads thread th's stack into *out. th's fields come from moth_remote_threads; they are
 * updated to where the thread stood when its stack was read (its frame and chunk top). 0; -1 when the stack kept changing or could not be read (counted in
 * r->stats.dropped). A thread with no Python frame gives an empty stack. */
int moth_remote_stack(struct moth_remote *t, moth_stack_reader *r, moth_rthread *th,
                      moth_rstack *out);

/* A sampler's round in one system call: moth_remote_threads, with each known thread's chunk
 * copied (and where its frames stand read around the copies) in the same read, on the
 * addresses of the round before; moth_remote_stack then walks those copies, checked as its
 * own reads are, and reads again only for a thread that moved beyond them. A list that changed,
 * or one of more than 64 threads, is read as moth_remote_threads reads it. */
int moth_remote_threads_prefetch(struct moth_remote *t, moth_stack_reader *r, moth_rthreads *l,
                                 moth_error *err);

#endif
