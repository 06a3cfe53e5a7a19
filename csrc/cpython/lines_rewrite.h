/* lines_rewrite.h: 3.11's line events without a trace function (lines_rewrite.c). */
#ifndef MOTH_LINES_REWRITE_H
#define MOTH_LINES_REWRITE_H

#include "pyver.h"

#include <stdint.h>

#if MOTH_LINES_BY_TRACE

/* What the probes of one twin share: the line table they count into, and how to find the line
 * a resumed frame of the twin stopped at. */
typedef struct moth_probe_ctx {
    PyObject_HEAD
    PyObject *origin;      /* the code object the twin was made from (strong reference) */
    uint32_t table;        /* the profiler's line table + 1 while one records it; 0: none */
    uint32_t body_start;   /* the twin's first code unit after its opening RESUME */
    uint32_t nunits;
    int32_t *unit_lines;   /* the line of each code unit of the twin, -1 for none */
} moth_probe_ctx;

/* Called by each probe that runs (lines_engine.c): `line` -1 marks code with no line. */
void moth_lineprof_probe(moth_probe_ctx *ctx, int32_t line, int forced);

/* Supplies what a code constant of the code being rewritten becomes in its twin (a new
 * reference; the constant itself to keep it). NULL with a Python exception fails the twin. */
typedef PyObject *(*moth_twin_nested)(void *arg, PyCodeObject *inner);

/* Makes the twin of code: its bytecode with probes where tracing would report lines, the same
 * positions, exception handlers and behaviour. Returns a new reference; NULL with a Python
 * exception when code holds something the rewriter does not know. */
PyObject *moth_lines_twin(PyCodeObject *code, moth_twin_nested nested, void *arg);

/* The probes' context when code is a twin made by moth_lines_twin (borrowed), else NULL. */
moth_probe_ctx *moth_twin_ctx(PyCodeObject *code);

#endif
#endif
