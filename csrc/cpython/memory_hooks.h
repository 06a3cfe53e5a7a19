/*
 * memory_hooks.h: the memory profiler's allocation hooks (Python's allocator domains and the
 * native calls of every loaded library); see memory_hooks.c.
 */
#ifndef MOTH_MEMORY_HOOKS_H
#define MOTH_MEMORY_HOOKS_H

#include "pyver.h"

#include "common.h"

struct moth_memtrack;

/* Records every allocation into t from now on (sample_bytes > 0: sampled mode with that mean;
 * walk: allocations read their call path from the frames, memory_walk.c, instead of the frame
 * hook's node), installing the hooks when they are not. Call with the GIL held. */
int moth_memory_hooks_install(struct moth_memtrack *t, uint64_t sample_bytes, int walk,
                              moth_error *err);

/* Stops recording and removes the hooks (a Python domain someone wrapped since keeps moth's
 * hook inside theirs, passing calls on). Call with the GIL held. */
void moth_memory_hooks_uninstall(void);

#endif
