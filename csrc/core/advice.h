/*
 * advice.h: performance pitfalls found in bytecode (`moth advise`).
 *
 * The CPython boundary decodes a function's bytecode into this normalised instruction stream
 * (the opcodes and their arguments differ between CPython versions; these kinds do not), and
 * the analysis below finds, inside loops, the patterns that make Python code slow:
 *  - a global or a module attribute looked up on every iteration (LOAD_GLOBAL [+ LOAD_ATTR]
 *    where a local alias would be one LOAD_FAST),
 *  - attribute chains (a.b.c.f()) read again on every iteration,
 *  - index loops over range(len(x)) that then read x[i],
 *  - counter `while` loops (i = 0 ... i += 1) that `for i in range(n)` runs in C,
 *  - strings built with += in a loop,
 *  - lists built by append in a loop where a comprehension fits,
 *  - numeric loops over lists that NumPy would vectorise.
 * Each finding names its line, its loop (first and last line), the names involved, and the
 * bytecode that makes it slow; the caller weighs it with the loop's measured time.
 */
#ifndef MOTH_ADVICE_H
#define MOTH_ADVICE_H

#include "common.h"
#include "strbuf.h"

typedef enum {
    MOTH_I_OTHER,
    MOTH_I_LOAD_GLOBAL,   /* name */
    MOTH_I_LOAD_ATTR,     /* name; method: loads a method to call */
    MOTH_I_LOAD_FAST,     /* name (a local) */
    MOTH_I_STORE_FAST,    /* name */
    MOTH_I_LOAD_CONST,    /* const_kind */
    MOTH_I_CALL,          /* arg: argument count */
    MOTH_I_BINARY_OP,     /* arg: MOTH_OP_* */
    MOTH_I_SUBSCR,        /* x[i] */
    MOTH_I_STORE_SUBSCR,  /* x[i] = v */
    MOTH_I_GET_ITER,
    MOTH_I_FOR_ITER,
    MOTH_I_JUMP_BACK,     /* target: index of the instruction jumped to */
    MOTH_I_COMPARE,
    MOTH_I_BUILD_LIST,    /* arg: item count */
    MOTH_I_POP_TOP,
    MOTH_I_RETURN,
    MOTH_I_IMPORT_NAME,   /* name: the module imported */
    MOTH_I_STORE_NAME,    /* name: a module-level store */
    MOTH_I_SKIP,          /* no effect on the analysis (dropped by the decoder) */
} moth_insn_kind;

enum { MOTH_OP_ADD = 1, MOTH_OP_SUB, MOTH_OP_MUL, MOTH_OP_DIV, MOTH_OP_OTHER_ARITH,
       MOTH_OP_INPLACE_ADD, MOTH_OP_INPLACE_ARITH, MOTH_OP_OTHER };
enum { MOTH_CONST_OTHER, MOTH_CONST_STR, MOTH_CONST_INT, MOTH_CONST_FLOAT, MOTH_CONST_NONE };

typedef struct moth_insn {
    moth_insn_kind kind;
    int arg;
    int method;           /* LOAD_ATTR for a method call */
    int const_kind;       /* LOAD_CONST */
    long const_int;       /* LOAD_CONST of a small int: its value */
    const char *name;     /* LOAD_GLOBAL / LOAD_ATTR / LOAD_FAST / STORE_FAST */
    int line;
    size_t target;        /* JUMP_BACK */
} moth_insn;

typedef enum {
    MOTH_PIT_GLOBAL_IN_LOOP,
    MOTH_PIT_MODULE_ATTR_IN_LOOP,
    MOTH_PIT_ATTR_CHAIN_IN_LOOP,
    MOTH_PIT_RANGE_LEN,
    MOTH_PIT_COUNTER_WHILE,
    MOTH_PIT_STRING_CONCAT,
    MOTH_PIT_APPEND_LOOP,
    MOTH_PIT_NUMERIC_LOOP,
} moth_pitfall;

typedef struct moth_finding {
    moth_pitfall kind;
    int line;                 /* where it happens */
    int loop_first, loop_last;/* the enclosing loop's lines */
    char what[256];           /* the names involved: "math.sqrt", "x", "result" */
} moth_finding;

typedef struct moth_findings {
    moth_finding *items;
    size_t count, cap;
} moth_findings;

/* The function's code as the analysis sees it. `modules` lists the names the function's
 * module binds to imported modules (import math, import numpy as np). */
typedef struct moth_code_view {
    const moth_insn *insns;
    size_t ninsns;
    const char *const *modules;
    size_t nmodules;
} moth_code_view;

/* Appends the pitfalls of one function to f. */
int moth_advise_code(const moth_code_view *code, moth_findings *f, moth_error *err);
void moth_findings_free(moth_findings *f);

/* A pitfall's loop as written and as its advice rewrites it: nanoseconds per iteration, both
 * measured on one interpreter. */
typedef struct moth_shape_cost {
    double written_ns, rewritten_ns;
} moth_shape_cost;

/* What rewriting a finding is expected to save, in seconds: `iterations` times what the
 * rewrite saves per iteration, but never more than the part of the finding's measured time
 * (`seconds`, its loop or line) the shape itself can account for, seconds * (1 - rewritten /
 * written). 0 when the rewrite is not faster on this interpreter. */
double moth_advice_saving(double seconds, uint64_t iterations, const moth_shape_cost *cost);

/* How many times faster the rewrite runs an iteration: 1 when unknown. */
double moth_shape_speedup(const moth_shape_cost *cost);

/* What a pitfall is, what in the bytecode makes it slow, and the rewrite. */
const char *moth_pitfall_title(moth_pitfall p);
void moth_pitfall_explain(const moth_finding *f, moth_sb *out);
const char *moth_pitfall_id(moth_pitfall p);

#endif
