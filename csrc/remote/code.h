/*
 * code.h: the target's code objects, read once and kept.
 *
 * A sampler meets the same few hundred code objects thousands of times a second, so each is
 * read once (names, first line, location table) and found again by its address. An address
 * can be reused by another code object once the first is freed: entries are checked again
 * (one small read) when they are older than the caller's "epoch", and re-read when what they
 * point to changed.
 */
#ifndef MOTH_CODE_H
#define MOTH_CODE_H

#include "common.h"
#include "hashmap.h"

struct moth_remote;

#define MOTH_NO_FUNC UINT32_MAX

typedef struct moth_rcode {
    uint64_t addr;                  /* the code object in the target */
    uint64_t filename_obj, name_obj, linetable_obj;  /* what identifies it, for re-checks */
    char *filename, *name, *qualname;
    int32_t firstlineno, lastlineno;
    uint32_t units;                 /* length of the bytecode in code units */
    uint32_t flags, argcount, posonlyargcount, kwonlyargcount, nlocalsplus;
    uint64_t localsplusnames_obj, localspluskinds_obj;
    uint8_t *linetable;
    size_t linetable_len;
    char **local_names;             /* nlocalsplus names, read on first need (NULL until) */
    uint8_t *local_kinds;
    uint64_t epoch;                 /* when it was last checked */
    uint32_t func;                  /* the consumer's function index, MOTH_NO_FUNC until set */
} moth_rcode;

typedef struct moth_code_cache {
    moth_rcode *items;
    size_t count, cap;
    moth_map by_addr;               /* (address, 0) -> index */
    uint64_t epoch;                 /* entries checked before this are checked again */
} moth_code_cache;

void moth_code_cache_free(moth_code_cache *c);

/* The cached code object at addr, read (or checked again) as needed; its index, or
 * MOTH_NO_FUNC when addr is not a readable code object. The pointer &items[index] stays valid
 * until the next call. */
uint32_t moth_code_get(struct moth_remote *t, uint64_t addr);

/* The line of code unit `unit` of code entry c (MOTH_NO_LINE when outside its bytecode). */
int moth_code_line(const moth_rcode *c, long unit);

/* Reads the names and kinds of c's locals (co_localsplusnames, co_localspluskinds) when not
 * read yet. 0, or -1 when the target's tuples could not be read. */
int moth_code_load_locals(struct moth_remote *t, moth_rcode *c);

#endif
