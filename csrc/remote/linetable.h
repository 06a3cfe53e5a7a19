/*
 * linetable.h: the line of an instruction, from a code object's location table (co_linetable,
 * the format of CPython 3.11, 3.12 and 3.13; Objects/locations.md in CPython's sources).
 *
 * The table comes from another process's memory: it is decoded defensively, and a table that
 * runs out or is malformed gives "no line" rather than reading past its end.
 */
#ifndef MOTH_LINETABLE_H
#define MOTH_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

#define MOTH_NO_LINE (-1)

/* The line of the instruction at code unit `unit` (an index into the bytecode in units of
 * two bytes) for a code object whose first line is `firstlineno`. A negative unit (a frame
 * that has not started) gives firstlineno, as CPython's PyCode_Addr2Line does. MOTH_NO_LINE
 * when the instruction has no location or lies past the table. */
int moth_linetable_line(const uint8_t *table, size_t len, int firstlineno, long unit);

/* The largest line the table mentions (a function's last line), or firstlineno. */
int moth_linetable_last_line(const uint8_t *table, size_t len, int firstlineno);

#endif
