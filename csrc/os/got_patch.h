/*
 * got_patch.h: redirecting the calls that the ELF objects loaded in this process make to named
 * functions (malloc, free, dlopen, ...), by rewriting their GOT entries. No LD_PRELOAD, no
 * restart: the objects already loaded are patched in place, and moth_got_patch_apply() can be
 * called again to patch objects loaded since (from a dlopen hook).
 *
 * An object calls a function of another object through its global offset table: the dynamic
 * loader writes the function's address into a slot named by a JUMP_SLOT (the PLT's) or
 * GLOB_DAT relocation. This file reads each loaded object's dynamic section in memory (found
 * with dl_iterate_phdr), finds the relocations whose symbol has one of the hooked names, and
 * writes the replacement's address into their slots, lifting RELRO's write protection for the
 * moment of the write. Every slot's previous value is kept, so moth_got_patch_restore() puts
 * each back (only where the slot still holds moth's replacement and its object is still loaded).
 *
 * Calls an object makes to its own functions, or from inside libc to libc's internal aliases,
 * do not go through the GOT and are not seen. Objects named by `skip` addresses (moth itself:
 * its hooks call the real functions through its own, untouched GOT), the vDSO and the dynamic
 * loader are left alone.
 *
 * Pure C over Linux (glibc and musl's dl_iterate_phdr), x86-64 and AArch64. Thread-safe: a
 * mutex serialises apply and restore; each slot is written with one aligned store, so a thread
 * calling through it meanwhile sees either the old or the new function.
 */
#ifndef MOTH_GOT_PATCH_H
#define MOTH_GOT_PATCH_H

#include <pthread.h>

#include "common.h"

typedef struct moth_got_hook {
    const char *name;     /* the symbol: "malloc" */
    void *replacement;    /* what calls to it reach instead */
} moth_got_hook;

typedef struct moth_got_object {
    uintptr_t base;       /* load bias (dlpi_addr) */
    const void *phdr;     /* its program headers: with base and name, its identity */
    uint64_t name_hash;
    int present;          /* scratch: seen in the current walk */
} moth_got_object;

typedef struct moth_got_slot {
    void **where;         /* the GOT entry */
    void *original;       /* what it held before moth wrote there */
    void *replacement;
    uint32_t object;      /* index into objects */
    int relro;            /* inside PT_GNU_RELRO: read-only again after each write */
} moth_got_slot;

typedef struct moth_got_patch {
    const moth_got_hook *hooks;
    size_t nhooks;
    const void *skip[4];  /* objects containing one of these addresses are not patched */
    size_t nskip;
    moth_got_object *objects;
    size_t nobjects, objects_cap;
    moth_got_slot *slots;
    size_t nslots, slots_cap;
    pthread_mutex_t lock;
} moth_got_patch;

/* Prepares gp to patch calls to hooks[0..nhooks-1] (the array must outlive gp), leaving the
 * objects that contain one of skip[0..nskip-1] (at most 4) alone. */
void moth_got_patch_init(moth_got_patch *gp, const moth_got_hook *hooks, size_t nhooks,
                         const void *const *skip, size_t nskip);

/* Patches every loaded object not patched yet. *patched (when not NULL) gets the number of
 * slots written by this call. -1 when out of memory (the slots written so far stay patched and
 * known, so restore undoes them). */
int moth_got_patch_apply(moth_got_patch *gp, size_t *patched, moth_error *err);

/* Puts back the original value of every patched slot that still holds its replacement and
 * whose object is still loaded; forgets them all. gp can be applied again afterwards. */
void moth_got_patch_restore(moth_got_patch *gp);

/* Frees gp's memory (restore first: this does not touch the slots). */
void moth_got_patch_free(moth_got_patch *gp);

#endif
