/* lines_rewrite.h: 3.11's line events without a trace function (lines_rewrite.c). */
#ifndef MOTH_LINES_REWRITE_H
#define MOTH_LINES_REWRITE_H

#include "pyver.h"

#include <stdint.h>

#if MOTH_LINES_BY_TRACE

typedef struct moth_probe_ctx moth_probe_ctx;

/* What a probe that runs calls: `line` -1 marks code with no line; `forced`, a backward
 * jump's probe (it counts its target's line even when that is the line it jumps from). */
typedef void (*moth_probe_fn)(moth_probe_ctx *ctx, int32_t line, int forced);

/* What the probes of one twin share: who they report to, the line table they count into, and
 * how to find the line a resumed frame of the twin stopped at. */
struct moth_probe_ctx {
    PyObject_HEAD
    moth_probe_fn fire;    /* the line profiler's (lines_engine.c) or the debugger's */
    PyObject *origin;      /* the code object the twin was made from (strong reference) */
    uint32_t table;        /* the profiler's line table + 1 while one records it; 0: none */
    uint32_t body_start;   /* the twin's first code unit after its opening RESUME */
    uint32_t first_end;    /* the first unit after the probe at body_start: a frame whose
                              last unit is below it has just started */
    uint32_t nunits;
    int32_t *unit_lines;   /* the line of each code unit of the twin, -1 for none */
    int32_t *unit_origin;  /* each unit's instruction in the original (its opcode's unit);
                              -1 - that for a probe's units (the instruction it precedes) */
};

/* The line profiler's probes (lines_engine.c). */
void moth_lineprof_probe(moth_probe_ctx *ctx, int32_t line, int forced);

/* Supplies what a code constant of the code being rewritten becomes in its twin (a new
 * reference; the constant itself to keep it). NULL with a Python exception fails the twin. */
typedef PyObject *(*moth_twin_nested)(void *arg, PyCodeObject *inner);

/* Makes the twin of code: its bytecode with probes where tracing would report lines, the same
 * positions, exception handlers and behaviour; its probes call fire. Returns a new reference;
 * NULL with a Python exception when code holds something the rewriter does not know. */
PyObject *moth_lines_twin(PyCodeObject *code, moth_twin_nested nested, void *arg,
                          moth_probe_fn fire);

/* The probes' context when code is a twin made by moth_lines_twin (borrowed), else NULL. */
moth_probe_ctx *moth_twin_ctx(PyCodeObject *code);

/* When code is a twin: its original (borrowed), and *unit (a twin's code unit) made the
 * original's unit of the same instruction; *at_probe whether it was a probe's (then: the
 * instruction the probe precedes). NULL when code is no twin or *unit is outside it. */
PyCodeObject *moth_twin_original(PyCodeObject *code, int *unit, int *at_probe);

#endif
#endif
