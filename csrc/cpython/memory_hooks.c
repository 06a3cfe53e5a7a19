/*
 * memory_hooks.c: where the memory profiler sees allocations.
 *
 *  - Python's allocators: PyMem_SetAllocator wraps the raw, mem and object domains (every
 *    object, every PyMem_Malloc), as tracemalloc does;
 *  - native allocations of C extensions and libraries: their calls to malloc, calloc, realloc,
 *    free, posix_memalign, aligned_alloc, memalign, valloc, pvalloc, reallocarray and anonymous
 *    mmap/munmap reach moth's functions here, by rewriting the GOT entries of every loaded ELF
 *    object (csrc/os/got_patch.c; no LD_PRELOAD). dlopen is redirected too, to patch the
 *    libraries loaded later.
 *
 * Each hook calls the real function, then records the block under moth_the_interp.memory_lock
 * into the recorder (core/memtrack.h) at the site the thread is at: its calling-context node
 * (the profiler's tree: read from the thread's frames, memory_walk.c, or kept by the frame hook
 * when the session also times calls) and the instruction its innermost frame runs.
 * A thread-local depth counter keeps nested calls from counting twice: pymalloc taking a large
 * block from the raw domain, or an arena from mmap, is inside the object-domain call that is
 * recorded. Blocks are forgotten before the real free so that an address reused by another
 * thread at once is never mistaken for the old block.
 *
 * moth's own library is not patched: its calls to malloc are its own, and the hooks call the
 * real functions through it. Allocations made while moth runs its own Python code (a thread's
 * `busy`) are not recorded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "memory_hooks.h"

#include <dlfcn.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "memtrack.h"
#include "profiler.h"

/* Nested allocator calls on this thread (inside a hook's call to the real function). */
static __thread int hook_depth __attribute__((tls_model("initial-exec")));
/* Sampled mode: bytes to allocate on this thread until the next sample, and its generator. */
static __thread int64_t sample_countdown __attribute__((tls_model("initial-exec")));
static __thread uint64_t sample_rng __attribute__((tls_model("initial-exec")));

#define NO_THREAD UINT32_MAX

/* The calling thread's profiler state, when a session runs and it has one. */
static inline moth_tstate *thread_state(void)
{
    uint64_t session = __atomic_load_n(&moth_the_interp.session, __ATOMIC_RELAXED);
    return session != 0 && moth_tls_session == session ? moth_tls_state : NULL;
}

/* The instruction the thread's innermost frame runs, when that frame is the node's code. */
static inline int32_t current_unit(moth_tstate *st, uint32_t node)
{
    moth_iframe *f = st->pyts ? moth_mem_current_iframe(st->pyts) : NULL;
    if (!f || (uint64_t)(uintptr_t)moth_iframe_code(f) != st->tree.nodes[node].key)
        return -1;
    return moth_mem_iframe_unit(f);
}

static uint64_t next_random(void)
{
    if (!sample_rng)
        sample_rng = ((uint64_t)(uintptr_t)&sample_rng ^ moth_monotonic_ns()) | 1;
    /* xorshift64* */
    sample_rng ^= sample_rng >> 12;
    sample_rng ^= sample_rng << 25;
    sample_rng ^= sample_rng >> 27;
    return sample_rng * 0x2545F4914F6CDD1Dull;
}

/* Bytes until the next sample: exponential with the given mean (a Poisson process). */
static int64_t draw_countdown(uint64_t mean)
{
    double u = ((double)(next_random() >> 11) + 0.5) / 9007199254740992.0; /* (0, 1) */
    return (int64_t)(-log(u) * (double)mean) + 1;
}

/* Sampled mode: the countdown crossed zero inside this allocation; draws the next one. */
static __attribute__((noinline)) void next_sample(uint64_t mean)
{
    do
        sample_countdown += draw_countdown(mean);
    while (sample_countdown <= 0);
}

static int run_checkpoint(void *unused)
{
    (void)unused;
    moth_the_interp.memory_checkpoint_pending = 0;
    void (*fn)(void *) = moth_the_interp.memory_checkpoint;
    if (fn)
        fn(moth_the_interp.memory_checkpoint_arg);
    return 0;
}

/* Under the lock, after a block is recorded: whether a checkpoint is to be queued now (the
 * peak passed the recorder's mark; one at a time, and not too often). */
static inline int checkpoint_now(moth_memtrack *t)
{
    if (MOTH_LIKELY(!t->checkpoint_due))
        return 0;
    t->checkpoint_due = 0; /* set again by the next peak above the mark */
    if (!moth_the_interp.memory_checkpoint || moth_the_interp.memory_checkpoint_pending ||
        moth_monotonic_ns() < moth_the_interp.memory_checkpoint_not_before)
        return 0;
    moth_the_interp.memory_checkpoint_pending = 1;
    return 1;
}

/* Queues the checkpoint: it runs between two instructions of the main thread, with the GIL
 * (inside an allocator no Python code may run, nor a file be written). */
static __attribute__((noinline)) void queue_checkpoint(void)
{
    if (Py_AddPendingCall(run_checkpoint, NULL) < 0)
        moth_the_interp.memory_checkpoint_pending = 0;
}

/* Records a block at a site the caller found. */
static void record_at(void *p, size_t size, uint32_t thread, uint32_t node, int32_t unit)
{
    int queue = 0;
    moth_spin_lock(&moth_the_interp.memory_lock);
    moth_memtrack *t = moth_the_interp.memory;
    if (t) {
        moth_memtrack_alloc(t, (uintptr_t)p, size, moth_memtrack_site(t, thread, node, unit));
        queue = checkpoint_now(t);
    }
    moth_spin_unlock(&moth_the_interp.memory_lock);
    if (MOTH_UNLIKELY(queue))
        queue_checkpoint();
}

/* The site the calling thread allocates at: its state (or NULL), thread, node and unit, from
 * its frames (memory_walk.c) or the frame hook's node. -1: moth's own code, not recorded. */
static inline int find_site(moth_tstate **st, uint32_t *thread, uint32_t *node, int32_t *unit)
{
    if (moth_the_interp.memory_walk) {
        /* what the walk allocates (a thread's first state; the C library's own calls, which
         * reach these hooks too) is moth's */
        hook_depth++;
        int rc = moth_memwalk_site(st, thread, node, unit);
        hook_depth--;
        return rc;
    }
    moth_tstate *s = *st = thread_state();
    if (s && s->busy)
        return -1;
    *thread = s ? s->index : NO_THREAD;
    *node = s ? s->current : MOTH_CCT_ROOT;
    *unit = s && *node != MOTH_CCT_ROOT ? current_unit(s, *node) : -1;
    return 0;
}

/* A sampled allocation. */
static __attribute__((noinline)) void record_sampled(void *p, size_t size)
{
    moth_tstate *st;
    uint32_t thread, node;
    int32_t unit;
    if (find_site(&st, &thread, &node, &unit) < 0)
        return;
    record_at(p, size, thread, node, unit);
}

static void record_alloc(void *p, size_t size)
{
    if (MOTH_UNLIKELY(!p))
        return;
    uint64_t mean = moth_the_interp.memory_sample_bytes;
    if (mean) {
        /* sampled mode: one subtraction, unless the countdown crosses zero in this block */
        if (MOTH_LIKELY((sample_countdown -= (int64_t)size) > 0))
            return;
        next_sample(mean);
        record_sampled(p, size);
        return;
    }
    moth_tstate *st;
    uint32_t thread, node;
    int32_t unit;
    if (find_site(&st, &thread, &node, &unit) < 0)
        return;
    int queue = 0;
    moth_spin_lock(&moth_the_interp.memory_lock);
    moth_memtrack *t = moth_the_interp.memory;
    if (t) {
        uint32_t site;
        if (st) {
            /* a small cache in front of the recorder's table of sites */
            uint32_t gen = moth_the_interp.memory_generation;
            __typeof__(st->mem_sites[0]) *c =
                &st->mem_sites[((node * 0x9E3779B1u) ^ (uint32_t)unit * 0x85EBCA6Bu) >> 26];
            if (c->gen == gen && c->node == node && c->unit == unit) {
                site = c->site;
            } else {
                site = moth_memtrack_site(t, thread, node, unit);
                if (site != UINT32_MAX)
                    *c = (__typeof__(*c)){gen, node, site, unit};
            }
        } else {
            site = moth_memtrack_site(t, thread, node, unit);
        }
        moth_memtrack_alloc(t, (uintptr_t)p, size, site);
        queue = checkpoint_now(t);
    }
    moth_spin_unlock(&moth_the_interp.memory_lock);
    if (MOTH_UNLIKELY(queue))
        queue_checkpoint();
}

/* Forgets the block at p; 1 (and its record in *was) when it was recorded. */
static int forget(void *p, moth_mem_live *was)
{
    if (!p)
        return 0;
    moth_spin_lock(&moth_the_interp.memory_lock);
    int found = moth_the_interp.memory &&
                moth_memtrack_free_block(moth_the_interp.memory, (uintptr_t)p, was);
    moth_spin_unlock(&moth_the_interp.memory_lock);
    return found;
}

/* A realloc that failed leaves the block where it was: record it again. */
static void reinstate(void *p, const moth_mem_live *was)
{
    moth_spin_lock(&moth_the_interp.memory_lock);
    if (moth_the_interp.memory)
        moth_memtrack_alloc(moth_the_interp.memory, (uintptr_t)p, moth_mem_live_size(was),
                            moth_mem_live_site(was));
    moth_spin_unlock(&moth_the_interp.memory_lock);
}

/* ---- Python's allocator domains ---- */

static void *py_malloc(void *ctx, size_t size)
{
    PyMemAllocatorEx *real = ctx;
    hook_depth++;
    void *p = real->malloc(real->ctx, size);
    if (--hook_depth == 0)
        record_alloc(p, size);
    return p;
}

static void *py_calloc(void *ctx, size_t n, size_t elsize)
{
    PyMemAllocatorEx *real = ctx;
    hook_depth++;
    void *p = real->calloc(real->ctx, n, elsize);
    if (--hook_depth == 0)
        record_alloc(p, n * elsize);
    return p;
}

static void *py_realloc(void *ctx, void *ptr, size_t size)
{
    PyMemAllocatorEx *real = ctx;
    if (hook_depth)
        return real->realloc(real->ctx, ptr, size);
    moth_mem_live was;
    int had = forget(ptr, &was);
    hook_depth++;
    void *p = real->realloc(real->ctx, ptr, size);
    hook_depth--;
    if (p)
        record_alloc(p, size);
    else if (had)
        reinstate(ptr, &was);
    return p;
}

static void py_free(void *ctx, void *ptr)
{
    PyMemAllocatorEx *real = ctx;
    if (hook_depth == 0)
        forget(ptr, NULL);
    hook_depth++;
    real->free(real->ctx, ptr);
    hook_depth--;
}

/* ---- native calls, through the GOT ---- */

static void *native_malloc(size_t size)
{
    if (hook_depth)
        return malloc(size);
    hook_depth++;
    void *p = malloc(size);
    hook_depth--;
    record_alloc(p, size);
    return p;
}

static void *native_calloc(size_t n, size_t elsize)
{
    if (hook_depth)
        return calloc(n, elsize);
    hook_depth++;
    void *p = calloc(n, elsize);
    hook_depth--;
    record_alloc(p, n * elsize);
    return p;
}

static void *native_realloc(void *ptr, size_t size)
{
    if (hook_depth)
        return realloc(ptr, size);
    moth_mem_live was;
    int had = forget(ptr, &was);
    hook_depth++;
    void *p = realloc(ptr, size);
    hook_depth--;
    if (p)
        record_alloc(p, size);
    else if (had && size)
        reinstate(ptr, &was);
    return p;
}

static void *native_reallocarray(void *ptr, size_t n, size_t elsize)
{
    size_t size;
    if (__builtin_mul_overflow(n, elsize, &size))
        return reallocarray(ptr, n, elsize); /* fails as it should */
    return native_realloc(ptr, size);
}

static void native_free(void *ptr)
{
    if (hook_depth == 0)
        forget(ptr, NULL);
    hook_depth++;
    free(ptr);
    hook_depth--;
}

static int native_posix_memalign(void **out, size_t align, size_t size)
{
    hook_depth++;
    int rc = posix_memalign(out, align, size);
    if (--hook_depth == 0 && rc == 0)
        record_alloc(*out, size);
    return rc;
}

static void *native_aligned_alloc(size_t align, size_t size)
{
    hook_depth++;
    void *p = aligned_alloc(align, size);
    if (--hook_depth == 0)
        record_alloc(p, size);
    return p;
}

static void *native_memalign(size_t align, size_t size)
{
    hook_depth++;
    void *p = memalign(align, size);
    if (--hook_depth == 0)
        record_alloc(p, size);
    return p;
}

static void *native_valloc(size_t size)
{
    hook_depth++;
    void *p = valloc(size);
    if (--hook_depth == 0)
        record_alloc(p, size);
    return p;
}

static void *native_pvalloc(size_t size)
{
    hook_depth++;
    void *p = pvalloc(size);
    if (--hook_depth == 0) {
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        record_alloc(p, (size + page - 1) / page * page);
    }
    return p;
}

/* Anonymous mappings are memory the program asked for; file mappings are not counted. */
static void *native_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    hook_depth++;
    void *p = mmap(addr, len, prot, flags, fd, off);
    if (--hook_depth == 0 && p != MAP_FAILED && (flags & MAP_ANONYMOUS))
        record_alloc(p, len);
    return p;
}

static int native_munmap(void *addr, size_t len)
{
    if (hook_depth == 0)
        forget(addr, NULL);
    hook_depth++;
    int rc = munmap(addr, len);
    hook_depth--;
    return rc;
}

static void *native_dlopen(const char *file, int mode)
{
    void *handle = dlopen(file, mode);
    if (handle && moth_the_interp.memory_hooked)
        moth_got_patch_apply(&moth_the_interp.memory_got, NULL, NULL);
    return handle;
}

static const moth_got_hook NATIVE_HOOKS[] = {
    {"malloc", (void *)native_malloc},
    {"calloc", (void *)native_calloc},
    {"realloc", (void *)native_realloc},
    {"reallocarray", (void *)native_reallocarray},
    {"free", (void *)native_free},
    {"posix_memalign", (void *)native_posix_memalign},
    {"aligned_alloc", (void *)native_aligned_alloc},
    {"memalign", (void *)native_memalign},
    {"valloc", (void *)native_valloc},
    {"pvalloc", (void *)native_pvalloc},
    {"mmap", (void *)native_mmap},
    {"mmap64", (void *)native_mmap},
    {"munmap", (void *)native_munmap},
    {"dlopen", (void *)native_dlopen},
};

/* ---- fork: the child records nothing (its parent's profile is not its own) ---- */

static void before_fork(void)
{
    moth_spin_lock(&moth_the_interp.memory_lock);
}

static void after_fork_parent(void)
{
    moth_spin_unlock(&moth_the_interp.memory_lock);
}

static void after_fork_child(void)
{
    moth_the_interp.memory = NULL;
    moth_spin_unlock(&moth_the_interp.memory_lock);
}

/* ---- installing ---- */

static const PyMemAllocatorDomain DOMAINS[3] = {PYMEM_DOMAIN_RAW, PYMEM_DOMAIN_MEM,
                                                PYMEM_DOMAIN_OBJ};

int moth_memory_hooks_install(moth_memtrack *t, uint64_t sample_bytes, int walk,
                              moth_error *err)
{
    if (!moth_the_interp.memory_atfork) {
        if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0)
            return moth_fail(err, "cannot register the memory profiler's fork handlers");
        moth_the_interp.memory_atfork = 1;
    }
    moth_spin_lock(&moth_the_interp.memory_lock);
    moth_the_interp.memory = t;
    moth_the_interp.memory_sample_bytes = sample_bytes;
    moth_the_interp.memory_walk = walk;
    moth_the_interp.memory_generation++;
    /* this thread's countdown may come from another mean: start it again (other threads that
     * sampled before draw theirs anew when it runs out) */
    sample_countdown = 0;
    moth_spin_unlock(&moth_the_interp.memory_lock);
    if (moth_the_interp.memory_hooked)
        return 0;
    for (int d = 0; d < 3; d++) {
        if (moth_the_interp.memory_domains_kept & (1 << d))
            continue; /* our hook is still in that domain's chain (see uninstall) */
        PyMemAllocatorEx *real = &moth_the_interp.memory_original[d];
        PyMem_GetAllocator(DOMAINS[d], real);
        PyMemAllocatorEx mine = {real, py_malloc, py_calloc, py_realloc, py_free};
        PyMem_SetAllocator(DOMAINS[d], &mine);
    }
    const void *self[] = {(const void *)moth_memory_hooks_install};
    moth_got_patch_init(&moth_the_interp.memory_got, NATIVE_HOOKS,
                        sizeof NATIVE_HOOKS / sizeof NATIVE_HOOKS[0], self, 1);
    moth_the_interp.memory_hooked = 1;
    if (moth_got_patch_apply(&moth_the_interp.memory_got, NULL, err) < 0) {
        moth_memory_hooks_uninstall();
        return -1;
    }
    return 0;
}

void moth_memory_hooks_uninstall(void)
{
    moth_spin_lock(&moth_the_interp.memory_lock);
    moth_the_interp.memory = NULL;
    moth_spin_unlock(&moth_the_interp.memory_lock);
    if (!moth_the_interp.memory_hooked)
        return;
    moth_the_interp.memory_hooked = 0;
    moth_got_patch_restore(&moth_the_interp.memory_got);
    moth_got_patch_free(&moth_the_interp.memory_got);
    /* A domain that someone wrapped after us keeps our hook inside theirs (it only passes
     * calls on from now): taking it out would cut their chain. */
    for (int d = 0; d < 3; d++) {
        PyMemAllocatorEx now;
        PyMem_GetAllocator(DOMAINS[d], &now);
        if (now.malloc == py_malloc && now.ctx == &moth_the_interp.memory_original[d])
            PyMem_SetAllocator(DOMAINS[d], &moth_the_interp.memory_original[d]);
        else
            moth_the_interp.memory_domains_kept |= 1 << d;
    }
}
