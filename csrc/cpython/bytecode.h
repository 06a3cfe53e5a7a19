/* bytecode.h: a code object's bytecode as advice.h's normalised instructions (bytecode.c). */
#ifndef MOTH_BYTECODE_H
#define MOTH_BYTECODE_H

#include "advice.h"
#include "pyver.h"

/* Decodes code into *insns (malloc'd, *n of them). Names point into `names`, a list that keeps
 * the strings alive (the caller releases it). -1 with a Python exception on failure. */
int moth_decode_code(PyCodeObject *code, moth_insn **insns, size_t *n, PyObject *names);

/* The names a module's code binds to imported modules (import x; import x.y as z). */
int moth_module_aliases(PyCodeObject *module_code, PyObject *names, const char ***aliases,
                        size_t *n);

/* The first and last line of code's own lines (co_lines()). -1 with a Python exception. */
int moth_code_line_span(PyCodeObject *code, uint32_t *first, uint32_t *last);

#endif
