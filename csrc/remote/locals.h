/*
 * locals.h: a frame's arguments and local variables, read from outside.
 *
 * In 3.11-3.13 a frame keeps its variables in `localsplus`, one slot per name of its code's
 * co_localsplusnames, whose co_localspluskinds say what each is: a plain local, a cell (a
 * variable an inner function closes over) or a free variable (one this function closes
 * over). Cell and free slots hold a cell object once the frame has started, whose ob_ref is
 * the value. Arguments come first: co_argcount positional ones, co_kwonlyargcount keyword-only
 * ones, then *args and **kwargs when the code has them.
 */
#ifndef MOTH_LOCALS_H
#define MOTH_LOCALS_H

#include <stdint.h>

struct moth_remote;

/* Returns nonzero to stop the walk. */
typedef int (*moth_var_visit)(void *ctx, const char *name, uint64_t value, int is_arg);

/* Calls visit for each bound variable of the frame at `frame`, which runs the code object of
 * cache entry `code` (an index into t->codes), in the code's order: arguments first, as the
 * code names them. Unbound variables (an empty slot or an empty cell) are left out. 0, or -1
 * when the names or the frame's slots cannot be read. */
int moth_frame_vars(struct moth_remote *t, uint64_t frame, uint32_t code, moth_var_visit visit,
                    void *ctx);

#endif
