/*
 * advise_costs.h: what each pitfall of `moth advise` costs per iteration on the running
 * interpreter, as written and rewritten.
 *
 * Each pitfall has a small loop in its slow shape and the same loop in the shape its advice
 * gives (a counter `while` and `for ... in range`, `math.sqrt` and a local alias, ...). Both
 * are run here, on the interpreter moth runs on, and timed; their difference per iteration,
 * times the iterations a finding's loop ran, is what the rewrite would save (advice.h).
 */
#ifndef MOTH_ADVISE_COSTS_H
#define MOTH_ADVISE_COSTS_H

#include "pyver.h"

#include "advice.h"

/* The shapes, compiled: a namespace to give moth_measure_shape, and to release when done.
 * NULL with an exception set on failure. */
PyObject *moth_shapes_load(void);
void moth_shapes_release(PyObject *shapes);

/* Measures the shapes of `kind` over n iterations (the best of a few runs each) into *cost.
 * 0; or -1 when they cannot be measured here (the NumPy rewrite where the program did not
 * import NumPy; no shapes),
 * with no exception left set. Runs Python code: the profiler must be off. */
int moth_measure_shape(PyObject *shapes, moth_pitfall kind, size_t n, moth_shape_cost *cost);

#endif
