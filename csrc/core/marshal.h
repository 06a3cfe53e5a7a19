/*
 * marshal.h: Python's marshal format, the subset pstats files use.
 *
 * Writing: values are appended to a moth_sb with the type codes every CPython since 3.4 reads
 * (marshal versions 0-4 share them): dict, tuple, str, int, float, None. No object references
 * are emitted, so the bytes are valid at any marshal version.
 */
#ifndef MOTH_MARSHAL_H
#define MOTH_MARSHAL_H

#include "strbuf.h"

void moth_marshal_none(moth_sb *out);
void moth_marshal_int(moth_sb *out, int64_t v);
void moth_marshal_uint(moth_sb *out, uint64_t v);
void moth_marshal_float(moth_sb *out, double v);
/* A str from UTF-8 text. */
void moth_marshal_str(moth_sb *out, const char *utf8);
/* A tuple of n items: the n items follow. */
void moth_marshal_tuple(moth_sb *out, size_t n);
/* A dict: key/value pairs follow, then moth_marshal_dict_end. */
void moth_marshal_dict_begin(moth_sb *out);
void moth_marshal_dict_end(moth_sb *out);

#endif

/*
 * Reading: the bytes are parsed into a tree of values held in a moth_mread. Everything read is
 * checked (lengths against the bytes left, reference indexes, nesting depth, integer range):
 * malformed input gives -1 and a one-line error, never a crash. Strings point into the input,
 * which must outlive the moth_mread.
 */
typedef enum {
    MOTH_MV_NONE,
    MOTH_MV_BOOL,
    MOTH_MV_INT,
    MOTH_MV_FLOAT,
    MOTH_MV_STR,   /* text; a code object reads as its repr (pstats prints it so) */
    MOTH_MV_BYTES,
    MOTH_MV_TUPLE, /* also lists */
    MOTH_MV_DICT,  /* children: key, value, key, value, ... */
} moth_mv_type;

typedef struct moth_mvalue {
    moth_mv_type type;
    uint32_t n;            /* STR: byte length; TUPLE: items; DICT: pairs */
    union {
        int64_t i;         /* INT, BOOL */
        double f;          /* FLOAT */
        const char *s;     /* STR: UTF-8, not NUL-terminated */
        uint32_t first;    /* TUPLE, DICT: index of the first child in `kids` */
    } u;
} moth_mvalue;

typedef struct moth_mread {
    moth_mvalue *values;
    size_t nvalues, values_cap;
    uint32_t *kids;        /* children of tuples and dicts, as value indexes */
    size_t nkids, kids_cap;
    uint32_t *refs;        /* FLAG_REF objects, in order: their value indexes */
    size_t nrefs, refs_cap;
    char **owned;          /* text made by the reader (code objects' reprs) */
    size_t nowned, owned_cap;
    uint32_t root;
} moth_mread;

/* Parses one marshalled value from data[0..len). `what` names the input in errors ("pstats
 * file"). On success the caller frees r with moth_mread_free. */
int moth_marshal_read(moth_mread *r, const void *data, size_t len, const char *what,
                      moth_error *err);
void moth_mread_free(moth_mread *r);

static inline const moth_mvalue *moth_mread_value(const moth_mread *r, uint32_t index)
{
    return &r->values[index];
}

/* The i-th child value of a tuple or dict (dict children alternate key, value). */
static inline const moth_mvalue *moth_mread_kid(const moth_mread *r, const moth_mvalue *v,
                                                uint32_t i)
{
    return &r->values[r->kids[v->u.first + i]];
}
