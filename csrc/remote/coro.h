/*
 * coro.h: a coroutine or generator of the target, read from outside: where it stands (the
 * code and line of its frame) and what it awaits.
 *
 * A generator, coroutine or async generator keeps its frame inside itself (gi_iframe), so its
 * code and instruction pointer are read from the object, not from a thread's stack. What it
 * awaits is what CPython's own cr_await / gi_yieldfrom give (_PyGen_yf in genobject.c): while
 * the frame is suspended inside a `yield from` or `await`, the object awaited is the top of
 * the frame's value stack. 3.13 says so in the frame state (FRAME_SUSPENDED_YIELD_FROM); 3.11
 * and 3.12 in the instruction after the one the frame stopped at: a RESUME whose argument is 2
 * (after a yield from) or 3 (after an await), where a plain `yield` has 1.
 */
#ifndef MOTH_CORO_H
#define MOTH_CORO_H

#include <stdint.h>

struct moth_remote;

enum moth_coro_state {
    MOTH_CORO_CREATED = 0,    /* not started: its frame is at the code's first line */
    MOTH_CORO_SUSPENDED = 1,  /* at a yield or await */
    MOTH_CORO_RUNNING = 2,    /* its frame is running now, on some thread's stack */
    MOTH_CORO_DONE = 3,       /* returned or raised: its frame is gone */
};

typedef struct moth_rcoro {
    uint64_t obj;             /* the generator or coroutine object */
    uint64_t frame;           /* its frame, inside the object */
    uint32_t code;            /* index into the target's code cache, MOTH_NO_FUNC when done */
    int32_t line;             /* where it stands; MOTH_NO_LINE when unknown or done */
    int state;                /* enum moth_coro_state */
    uint64_t awaits;          /* the object it awaits (cr_await), 0 when none */
} moth_rcoro;

/* Whether obj is a generator, coroutine or async generator (by its exact type: these types
 * cannot be subclassed). */
int moth_is_coro(struct moth_remote *t, uint64_t obj);

/* Reads the coroutine or generator at obj into *out. 0; 1 when obj is an object of another
 * type; -1 when it cannot be read (nor its type, or its frame state or instruction pointer is
 * not plausible, or its code is not a code object). */
int moth_coro_read(struct moth_remote *t, uint64_t obj, moth_rcoro *out);

#endif
