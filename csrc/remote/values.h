/*
 * values.h: the target's objects shown as its own repr() would show them, read from outside
 * (`moth dump --locals`).
 *
 * Decoded: None, bool, int of any size, float, str, bytes, tuple, list, dict, set and
 * frozenset, nested. Anything else, subclasses of those included, is `<TypeName at 0x...>`
 * with the name read from its type's tp_name. Every object is recognised by its type pointer
 * against the type objects found by symbol, and every size read is bounded, so a torn or
 * garbage pointer gives `<unreadable object at 0x...>`, never a crash or an endless walk.
 *
 * Limits: the text of one value is cut after max_chars characters, with "..." added; the
 * cut is exact (the text is the first max_chars characters of what repr() gives), and the
 * reading stops there, so a list of a million items costs a few reads. Containers nested
 * deeper than max_depth, and a container met again inside itself, show as [...], (...) or
 * {...}, as repr() shows the latter.
 */
#ifndef MOTH_VALUES_H
#define MOTH_VALUES_H

#include <stddef.h>
#include <stdint.h>

struct moth_remote;

#define MOTH_VALUE_MAX_CHARS 200
#define MOTH_VALUE_MAX_DEPTH 8
/* Ints above this many 30-bit digits (about 37,000 decimal digits) show their size only. */
#define MOTH_VALUE_MAX_INT_DIGITS 4096

typedef struct moth_value_limits {
    size_t max_chars;
    int max_depth;
} moth_value_limits;

/* The text of the object at obj as a malloc'd UTF-8 string; NULL only when out of memory. */
char *moth_value_repr(struct moth_remote *t, uint64_t obj, const moth_value_limits *limits);

/* The name of the type object at type (its tp_name) into buf; -1 when type is not a readable
 * type object. */
int moth_type_name(struct moth_remote *t, uint64_t type, char *buf, size_t size);

#endif
