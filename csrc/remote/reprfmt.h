/*
 * reprfmt.h: Python's repr of numbers, strings and bytes, made from their raw parts in C.
 *
 * The out-of-process reader copies an object's parts out of the target (an int's 30-bit
 * digits, a float's double, a str's code points) and shows them as the target's own repr()
 * would: these functions are that last step, with no memory reads, so they are tested alone.
 */
#ifndef MOTH_REPRFMT_H
#define MOTH_REPRFMT_H

#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

#define MOTH_DOUBLE_REPR_MAX 32

/* repr(x) of a Python float: the shortest digits that read back as x, in fixed notation when
 * the decimal point falls between 10**-4 and 10**16, else with an exponent ("1e+16",
 * "5e-324"); "nan", "inf", "-inf", "-0.0" as Python writes them. */
void moth_repr_double(double x, char out[MOTH_DOUBLE_REPR_MAX]);

/* The decimal of an int given as CPython stores it: n digits of 30 bits, least significant
 * first, and a sign. -1 (nothing appended) when a digit is not below 2**30. */
int moth_repr_bigint(const uint32_t *digits, size_t n, int negative, moth_sb *out);

/* repr() of a str of n code points, as CPython `version` (0x030b for 3.11) writes it: quotes
 * chosen as Python chooses them, escapes for what that version's Unicode database calls not
 * printable. The text is UTF-8. */
void moth_repr_str(const uint32_t *cps, size_t n, uint32_t version, moth_sb *out);

/* repr() of a bytes object of n bytes: b'...' with Python's escapes. */
void moth_repr_bytes(const uint8_t *b, size_t n, moth_sb *out);

/* Whether str.isprintable() holds for code point c in CPython `version` (unicode_printable.c,
 * generated from each version's own Unicode database). */
int moth_unicode_printable(uint32_t c, uint32_t version);

#endif
