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
