/*
 * threads.h: the Python threads of a target, and which of them holds the GIL.
 *
 * The interpreter keeps its thread states in a list (interp->threads.head, tstate->next). Each
 * entry records what the stack reader needs next (where the thread's current frame is found,
 * its frame data stack), so a sample reads each thread state once.
 */
#ifndef MOTH_THREADS_H
#define MOTH_THREADS_H

#include "common.h"

struct moth_remote;
struct moth_read_piece;

typedef struct moth_rthread {
    uint64_t tstate;        /* the PyThreadState in the target */
    uint64_t thread_id;     /* threading.get_ident() */
    uint64_t native_id;     /* the kernel's thread id (threading.get_native_id()) */
    uint64_t frame_slot;    /* where the current frame pointer lives (tstate or its cframe) */
    uint64_t frame;         /* the current frame when the list was read (0: none) */
    uint64_t chunk, chunk_top;  /* the frame data stack: current chunk and its used top */
    int holds_gil;
} moth_rthread;

/* The most of a thread state read (up to its datastack_top field) on any version. */
#define MOTH_TSTATE_READ_MAX 512

typedef struct moth_rthreads {
    moth_rthread *items;
    size_t count, cap;
} moth_rthreads;

#define MOTH_RTHREADS_INIT {NULL, 0, 0}

void moth_rthreads_free(moth_rthreads *l);

/* Reads the thread list of the target's main interpreter into *l (replacing its contents),
 * in the interpreter's order (newest thread first). When *l holds the list read last time (a
 * sampler's rounds), it is checked and refreshed in one or two batched reads; a list that
 * changed, or a fresh *l, is walked link by link, from the head again when a link was freed
 * while it was followed. -1 when the list cannot be read consistently (it kept changing, a
 * loop, more than 100,000 threads). */
int moth_remote_threads(struct moth_remote *t, moth_rthreads *l, moth_error *err);

/* moth_remote_threads, reading the caller's pieces `more` (planned from the list as l holds
 * it) in the same system call as the known threads' states: a sampler's whole round in one
 * read. *more_read says whether they were read (the list was the same chain as before). When
 * they were, the current frames of 3.11/3.12 threads (behind their _PyCFrame) are left to the
 * caller, whose pieces read where each thread's frames stand: th->frame is then 0. */
int moth_remote_threads_with(struct moth_remote *t, moth_rthreads *l,
                             struct moth_read_piece *more, size_t n_more, int *more_read,
                             moth_error *err);

/* Reads one thread state's fields into th (th->tstate set by the caller). -1 when unreadable.
 * *next receives the next thread state in the list. */
int moth_remote_thread_state(struct moth_remote *t, moth_rthread *th, uint64_t *next);

/* The thread state holding the GIL, 0 when it is free or unknown. */
uint64_t moth_remote_gil_holder(struct moth_remote *t);

/* threading's name of each thread the program started through `threading` (threading._active:
 * ident -> Thread, its `_name`), for as many as `max`: idents[i] and names[i] (malloc'd; the
 * caller frees them). Returns how many were found; 0 when threading is not imported. */
size_t moth_remote_thread_names(struct moth_remote *t, uint64_t *idents, char **names,
                                size_t max);

#endif
