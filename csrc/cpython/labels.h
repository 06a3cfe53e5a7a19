/* labels.h: the pstats label of what a call ran: a code object, or a C function named the way
 * cProfile names it ("<built-in method builtins.len>", "<method 'append' of 'list' objects>"). */
#ifndef MOTH_LABELS_H
#define MOTH_LABELS_H

#include "pyver.h"

typedef struct moth_label {
    const char *file, *name, *qualname; /* UTF-8, valid until moth_label_release */
    unsigned line;
    PyObject *owned[3];
} moth_label;

/* Fills label for a code object or a C function object. -1 with a Python exception set when a
 * name could not be made. moth_label_release must be called either way. */
int moth_label_of(PyObject *what, moth_label *label);
void moth_label_release(moth_label *label);

/* cProfile's name of a C function object (normalizeUserObj in Modules/_lsprof.c). */
PyObject *moth_cfunction_name(PyObject *fn);

#endif
