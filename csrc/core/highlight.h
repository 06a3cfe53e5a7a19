/*
 * highlight.h: Python source coloured for a terminal (ANSI escapes), for the debugger's
 * listings.
 *
 * A small lexer, not Python's tokenizer: it tells keywords, the names that def and class
 * introduce, strings (with their prefixes, escapes and triple quotes over several lines),
 * numbers, comments and decorators apart, and copies every other byte as it is. Removing the
 * escape sequences from the output gives back the input byte for byte. Each line's colour is
 * closed before its newline and opened again on the next line, so lines can be printed apart.
 */
#ifndef MOTH_HIGHLIGHT_H
#define MOTH_HIGHLIGHT_H

#include "strbuf.h"

/* Appends src[0..n) to out, coloured. Bytes >= 0x80 (UTF-8) count as identifier bytes. */
void moth_highlight_python(moth_sb *out, const char *src, size_t n);

#endif
