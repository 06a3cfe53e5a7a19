/* highlight.c: Python source coloured for a terminal. See highlight.h. */
#include "highlight.h"

#include <string.h>

#define RESET "\x1b[0m"
static const char KEYWORD[] = "\x1b[35m";
static const char DEFINED_NAME[] = "\x1b[1;34m";
static const char STRING[] = "\x1b[33m";
static const char NUMBER[] = "\x1b[36m";
static const char COMMENT[] = "\x1b[90m";
static const char DECORATOR[] = "\x1b[36m";

static const char *const keywords[] = {
    "False", "None",   "True",    "and",      "as",     "assert", "async",  "await",
    "break", "class",  "continue", "def",     "del",    "elif",   "else",   "except",
    "finally", "for",  "from",    "global",   "if",     "import", "in",     "is",
    "lambda", "nonlocal", "not",  "or",       "pass",   "raise",  "return", "try",
    "while", "with",   "yield",
};

static int is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int is_ident_char(unsigned char c)
{
    return is_ident_start(c) || is_digit(c);
}

static int is_word(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int is_keyword(const char *s, size_t n)
{
    for (size_t k = 0; k < sizeof keywords / sizeof keywords[0]; k++)
        if (is_word(s, n, keywords[k]))
            return 1;
    return 0;
}

/* r, b, u, f and their pairs (rb, br, fr, rf) in either case: what may stand before a quote. */
static int is_string_prefix(const char *s, size_t n)
{
    if (n == 0 || n > 2)
        return 0;
    int r = 0, b = 0, u = 0, f = 0;
    for (size_t i = 0; i < n; i++) {
        switch (s[i] | 0x20) {
        case 'r': r++; break;
        case 'b': b++; break;
        case 'u': u++; break;
        case 'f': f++; break;
        default: return 0;
        }
    }
    if (r > 1 || b > 1 || u > 1 || f > 1)
        return 0;
    return n == 1 || (r == 1 && (b == 1 || f == 1));
}

/* The end of the string literal whose opening quote is at s[q]: one past its closing quote,
 * or the end of the line for an unterminated one-line string, or n. */
static size_t string_end(const char *s, size_t n, size_t q)
{
    char quote = s[q];
    int triple = q + 2 < n && s[q + 1] == quote && s[q + 2] == quote;
    size_t i = q + (triple ? 3 : 1);
    while (i < n) {
        if (s[i] == '\\') {
            i += 2;
            continue;
        }
        if (!triple && s[i] == '\n')
            return i;
        if (s[i] == quote) {
            if (!triple)
                return i + 1;
            if (i + 2 < n && s[i + 1] == quote && s[i + 2] == quote)
                return i + 3;
        }
        i++;
    }
    return n;
}

static size_t number_end(const char *s, size_t n, size_t i)
{
    int hex = s[i] == '0' && i + 1 < n && (s[i + 1] | 0x20) == 'x';
    size_t j = i + 1;
    while (j < n) {
        unsigned char c = (unsigned char)s[j];
        int exponent_sign = !hex && (c == '+' || c == '-') && (s[j - 1] | 0x20) == 'e';
        if (!is_ident_char(c) && c != '.' && !exponent_sign)
            break;
        j++;
    }
    return j;
}

/* Appends s[0..n) in colour, the colour closed before each line break and opened after it. */
static void put_coloured(moth_sb *out, const char *colour, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != '\n' && s[i] != '\r')
            continue;
        if (i > start) {
            moth_sb_puts(out, colour);
            moth_sb_append(out, s + start, i - start);
            moth_sb_puts(out, RESET);
        }
        if (i < n)
            moth_sb_putc(out, s[i]);
        start = i + 1;
    }
}

void moth_highlight_python(moth_sb *out, const char *s, size_t n)
{
    int names_definition = 0; /* the last word was def or class */
    int line_start = 1;       /* only blanks since the last line break */
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t j;
        const char *colour = NULL;
        if (c == '#') {
            for (j = i; j < n && s[j] != '\n' && s[j] != '\r'; j++)
                ;
            colour = COMMENT;
        } else if (c == '\'' || c == '"') {
            j = string_end(s, n, i);
            colour = STRING;
        } else if (is_ident_start(c)) {
            for (j = i; j < n && is_ident_char((unsigned char)s[j]); j++)
                ;
            if (j < n && (s[j] == '\'' || s[j] == '"') && is_string_prefix(s + i, j - i)) {
                j = string_end(s, n, j);
                colour = STRING;
            } else if (names_definition) {
                colour = DEFINED_NAME;
            } else if (is_keyword(s + i, j - i)) {
                colour = KEYWORD;
            }
        } else if (is_digit(c) || (c == '.' && i + 1 < n && is_digit((unsigned char)s[i + 1]))) {
            j = number_end(s, n, i);
            colour = NUMBER;
        } else if (c == '@' && line_start) {
            for (j = i + 1; j < n && (is_ident_char((unsigned char)s[j]) || s[j] == '.'); j++)
                ;
            colour = DECORATOR;
        } else {
            moth_sb_putc(out, (char)c);
            if (c == '\n' || c == '\r')
                line_start = 1;
            else if (c != ' ' && c != '\t')
                line_start = names_definition = 0;
            i++;
            continue;
        }
        names_definition = colour == KEYWORD && (is_word(s + i, j - i, "def") ||
                                                 is_word(s + i, j - i, "class"));
        line_start = 0;
        if (colour)
            put_coloured(out, colour, s + i, j - i);
        else
            moth_sb_append(out, s + i, j - i);
        i = j;
    }
}
