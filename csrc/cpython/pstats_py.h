/* pstats_py.h: the pstats view as the Python dict pstats.Stats holds (Profile.stats). */
#ifndef MOTH_PSTATS_PY_H
#define MOTH_PSTATS_PY_H

#include "pyver.h"

#include "pstats.h"

/* {(file, line, name): (cc, nc, tt, ct, {caller: (nc, cc, tt, ct)})}; with subcalls false the
 * caller dicts are empty, as cProfile leaves them. */
PyObject *moth_pstats_to_dict(const moth_pstats *s, int subcalls);

/* Folds a profile into a new view; Python exception on failure. */
int moth_pstats_fold(const moth_profile *p, moth_pstats *out);

/* Writes text to sys.stdout (or the given file object). */
int moth_write_text(PyObject *file, const char *text, size_t len);

#endif
