/* reprfmt.c: Python's repr of numbers, strings and bytes from their raw parts; see reprfmt.h. */
#include "reprfmt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rstring.h"

/* Reads back "%.*e" text: whether it is exactly x. */
static int reads_back(const char *text, double x)
{
    return strtod(text, NULL) == x;
}

/* Adds delta (+1 or -1) to the last digit of a "d.ddde+XX" mantissa, carrying; returns 0 when
 * the result is still a mantissa of the same length (no carry out of the first digit, no
 * leading zero), -1 otherwise. */
static int step_last_digit(char *text, int delta)
{
    char *e = strchr(text, 'e');
    for (char *p = e - 1; p >= text; p--) {
        if (*p == '.')
            continue;
        if (delta > 0 && *p < '9') {
            (*p)++;
            return 0;
        }
        if (delta < 0 && *p > '0') {
            (*p)--;
            return text[0] == '0' ? -1 : 0;
        }
        *p = delta > 0 ? '0' : '9';
    }
    return -1;
}

/* The shortest decimal digits that read back as x (x finite and >= 0), as CPython's dtoa mode 0
 * finds them: digits (no trailing zeros) and decpt, the value being 0.DIGITS * 10**decpt. At
 * each length the correctly rounded candidate comes first; where it misses x's rounding
 * interval (which is lopsided at powers of two) its neighbour on the other side may hit it. */
static void shortest_digits(double x, char *digits, int *decpt)
{
    char text[40];
    for (int precision = 0; precision <= 16; precision++) {
        snprintf(text, sizeof text, "%.*e", precision, x);
        int found = reads_back(text, x);
        for (int delta = -1; !found && delta <= 1; delta += 2) {
            char step[40];
            memcpy(step, text, sizeof step);
            if (step_last_digit(step, delta) == 0 && reads_back(step, x)) {
                memcpy(text, step, sizeof text);
                found = 1;
            }
        }
        if (found || precision == 16)
            break;
    }
    size_t n = 0;
    const char *p = text;
    for (; *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *decpt = atoi(p + 1) + 1;
}

void moth_repr_double(double x, char out[MOTH_DOUBLE_REPR_MAX])
{
    if (isnan(x)) {
        strcpy(out, "nan");
        return;
    }
    if (isinf(x)) {
        strcpy(out, x < 0 ? "-inf" : "inf");
        return;
    }
    char digits[24];
    int decpt;
    shortest_digits(fabs(x), digits, &decpt);
    int n = (int)strlen(digits);
    char *o = out;
    if (signbit(x))
        *o++ = '-';
    if (decpt <= -4 || decpt > 16) {
        /* d.ddd, then the exponent with a sign and at least two digits */
        *o++ = digits[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)n - 1);
            o += n - 1;
        }
        int e = abs(decpt - 1); /* at most 324 */
        *o++ = 'e';
        *o++ = decpt - 1 < 0 ? '-' : '+';
        if (e >= 100)
            *o++ = (char)('0' + e / 100);
        *o++ = (char)('0' + e / 10 % 10);
        *o++ = (char)('0' + e % 10);
        *o = '\0';
        return;
    }
    if (decpt <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -decpt; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)n);
        o += n;
    } else if (decpt >= n) {
        memcpy(o, digits, (size_t)n);
        o += n;
        for (int i = n; i < decpt; i++)
            *o++ = '0';
        *o++ = '.';
        *o++ = '0';
    } else {
        memcpy(o, digits, (size_t)decpt);
        o += decpt;
        *o++ = '.';
        memcpy(o, digits + decpt, (size_t)(n - decpt));
        o += n - decpt;
    }
    *o = '\0';
}

int moth_repr_bigint(const uint32_t *digits, size_t n, int negative, moth_sb *out)
{
    const uint32_t BASE = 1000000000u; /* nine decimal digits per output word */
    for (size_t i = 0; i < n; i++)
        if (digits[i] >> 30)
            return -1;
    while (n && !digits[n - 1])
        n--;
    if (!n) {
        moth_sb_putc(out, '0');
        return 0;
    }
    /* CPython's own way (long_to_decimal_string): shift each 30-bit digit, most significant
     * first, into a number kept in base 10**9. */
    size_t cap = n + n / 99 + 2, size = 0;
    uint32_t *dec = malloc(cap * sizeof *dec);
    if (!dec) {
        out->failed = 1;
        return 0;
    }
    for (size_t i = n; i-- > 0;) {
        uint32_t hi = digits[i];
        for (size_t j = 0; j < size; j++) {
            uint64_t z = (uint64_t)dec[j] << 30 | hi;
            hi = (uint32_t)(z / BASE);
            dec[j] = (uint32_t)(z - (uint64_t)hi * BASE);
        }
        while (hi) {
            dec[size++] = hi % BASE;
            hi /= BASE;
        }
    }
    if (negative)
        moth_sb_putc(out, '-');
    moth_sb_printf(out, "%u", dec[size - 1]);
    for (size_t j = size - 1; j-- > 0;)
        moth_sb_printf(out, "%09u", dec[j]);
    free(dec);
    return 0;
}

static const char HEX[] = "0123456789abcdef";

/* The quote Python picks: ' unless the text has ' and no ". */
static char pick_quote(int has_single, int has_double)
{
    return has_single && !has_double ? '"' : '\'';
}

/* The escape both str and bytes use for c, or 0 when c needs none from this rule. */
static int common_escape(uint32_t c, char quote, moth_sb *out)
{
    if (c == (uint32_t)quote || c == '\\') {
        moth_sb_putc(out, '\\');
        moth_sb_putc(out, (char)c);
    } else if (c == '\t') {
        moth_sb_puts(out, "\\t");
    } else if (c == '\n') {
        moth_sb_puts(out, "\\n");
    } else if (c == '\r') {
        moth_sb_puts(out, "\\r");
    } else if (c < ' ' || c == 0x7f) {
        char e[4] = {'\\', 'x', HEX[c >> 4], HEX[c & 15]};
        moth_sb_append(out, e, 4);
    } else {
        return 0;
    }
    return 1;
}

void moth_repr_str(const uint32_t *cps, size_t n, uint32_t version, moth_sb *out)
{
    int has_single = 0, has_double = 0;
    for (size_t i = 0; i < n; i++) {
        has_single |= cps[i] == '\'';
        has_double |= cps[i] == '"';
    }
    char quote = pick_quote(has_single, has_double);
    moth_sb_putc(out, quote);
    for (size_t i = 0; i < n; i++) {
        uint32_t c = cps[i];
        if (common_escape(c, quote, out))
            continue;
        if (c < 0x7f || (c <= 0x10ffff && moth_unicode_printable(c, version))) {
            char utf8[4];
            moth_sb_append(out, utf8, moth_utf8_encode(c, utf8));
        } else if (c <= 0xff) {
            moth_sb_printf(out, "\\x%02x", c);
        } else if (c <= 0xffff) {
            moth_sb_printf(out, "\\u%04x", c);
        } else {
            moth_sb_printf(out, "\\U%08x", c);
        }
    }
    moth_sb_putc(out, quote);
}

void moth_repr_bytes(const uint8_t *b, size_t n, moth_sb *out)
{
    int has_single = memchr(b, '\'', n) != NULL, has_double = memchr(b, '"', n) != NULL;
    char quote = pick_quote(has_single, has_double);
    moth_sb_putc(out, 'b');
    moth_sb_putc(out, quote);
    for (size_t i = 0; i < n; i++) {
        if (common_escape(b[i], quote, out))
            continue;
        if (b[i] < 0x7f) {
            moth_sb_putc(out, (char)b[i]);
        } else {
            char e[4] = {'\\', 'x', HEX[b[i] >> 4], HEX[b[i] & 15]};
            moth_sb_append(out, e, 4);
        }
    }
    moth_sb_putc(out, quote);
}
