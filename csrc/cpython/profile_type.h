/* profile_type.h: moth.Profile, the Python face of the profiler (profile_type.c). */
#ifndef MOTH_PROFILE_TYPE_H
#define MOTH_PROFILE_TYPE_H

#include "pyver.h"

#include "profiler.h"
#include "pstats.h"

typedef struct {
    PyObject_HEAD
    moth_profiler prof;
    int initialised;
    int calibrated;
    PyObject *dict; /* instance attributes: `stats`, and whatever subclasses add */
} MothProfileObject;

extern PyTypeObject MothProfile_Type;

/* Snapshot and fold into a pstats view (Python exception on failure). */
int moth_profile_object_fold(MothProfileObject *self, moth_pstats *view);

#endif
