/* json.c: JSON reader and writer; see json.h. */
#define _GNU_SOURCE /* strtod_l, uselocale: numbers read and written in the C locale */
#include "json.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the document: values and strings in blocks that never move ---- */

typedef struct block {
    struct block *next;
    size_t used, size;
    max_align_t data[];
} block;

struct moth_json_doc {
    block *blocks;
    moth_json *root;
};

static void *doc_alloc(moth_json_doc *doc, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    block *b = doc->blocks;
    if (!b || b->size - b->used < n) {
        size_t size = n > 8192 ? n : 8192;
        b = malloc(sizeof *b + size);
        if (!b)
            return NULL;
        b->size = size;
        b->used = 0;
        b->next = doc->blocks;
        doc->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    return p;
}

void moth_json_free(moth_json_doc *doc)
{
    if (!doc)
        return;
    for (block *b = doc->blocks, *next; b; b = next) {
        next = b->next;
        free(b);
    }
    free(doc);
}

const moth_json *moth_json_root(const moth_json_doc *doc)
{
    return doc ? doc->root : NULL;
}

/* ---- the parser ---- */

typedef struct parser {
    const unsigned char *p, *start, *end;
    moth_json_doc *doc;
    moth_error *err;
    int depth;
} parser;

static int fail_at(parser *ps, const char *what)
{
    return moth_fail(ps->err, "malformed JSON at byte %zu: %s", (size_t)(ps->p - ps->start),
                     what);
}

static void skip_space(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' ||
                               *ps->p == '\r'))
        ps->p++;
}

static moth_json *new_value(parser *ps, moth_json_type type)
{
    moth_json *v = doc_alloc(ps->doc, sizeof *v);
    if (!v) {
        moth_fail(ps->err, "out of memory reading JSON");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = type;
    return v;
}

static int literal(parser *ps, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail_at(ps, "unknown word");
    ps->p += n;
    return 0;
}

/* The length of the UTF-8 sequence at p (valid, shortest form, no surrogates), or 0. */
static size_t utf8_length(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    unsigned min;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, min = 0x10000;
    else
        return 0;
    if ((size_t)(end - p) < n)
        return 0;
    unsigned cp = c & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static int hex4(const unsigned char *p, const unsigned char *end, unsigned *out)
{
    if (end - p < 4)
        return -1;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    *out = v;
    return 0;
}

/* A string at ps->p (the opening quote): decoded into the document. */
static int string(parser *ps, const char **out, size_t *out_len)
{
    const unsigned char *p = ps->p + 1;
    /* The decoded text is never longer than the literal: measure the literal first. */
    const unsigned char *q = p;
    while (q < ps->end && *q != '"')
        q += (*q == '\\' && q + 1 < ps->end) ? 2 : 1;
    if (q >= ps->end)
        return fail_at(ps, "unterminated string");
    char *buf = doc_alloc(ps->doc, (size_t)(q - p) + 1);
    if (!buf)
        return moth_fail(ps->err, "out of memory reading JSON");
    size_t n = 0;
    while (*p != '"') {
        if (*p < 0x20) {
            ps->p = p;
            return fail_at(ps, "control character in string");
        }
        if (*p != '\\') {
            size_t k = utf8_length(p, q);
            if (!k) {
                ps->p = p;
                return fail_at(ps, "string is not UTF-8");
            }
            memcpy(buf + n, p, k);
            n += k;
            p += k;
            continue;
        }
        p++; /* (p < q: the scan above paired each backslash with a byte) */
        switch (*p++) {
        case '"': buf[n++] = '"'; break;
        case '\\': buf[n++] = '\\'; break;
        case '/': buf[n++] = '/'; break;
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u': {
            unsigned cp, low;
            if (hex4(p, q, &cp) < 0) {
                ps->p = p;
                return fail_at(ps, "bad \\u escape");
            }
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && q - p >= 6 && p[0] == '\\' && p[1] == 'u' &&
                hex4(p + 2, q, &low) == 0 && low >= 0xDC00 && low <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                p += 6;
            } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* a lone surrogate */
            }
            /* 6 or 12 bytes of escape make at most 3 or 4 bytes of UTF-8 */
            n += put_utf8(buf + n, cp);
            break;
        }
        default:
            ps->p = p - 2; /* the backslash */
            return fail_at(ps, "bad escape");
        }
    }
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    ps->p = q + 1;
    return 0;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void make_c_locale(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

static int number(parser *ps, moth_json *v)
{
    const unsigned char *s = ps->p, *p = s;
    int integral = 1;
    if (p < ps->end && *p == '-')
        p++;
    if (p >= ps->end || !(*p >= '0' && *p <= '9'))
        return fail_at(ps, "bad number");
    if (*p == '0')
        p++;
    else
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    if (p < ps->end && *p == '.') {
        integral = 0;
        p++;
        if (p >= ps->end || !(*p >= '0' && *p <= '9'))
            return fail_at(ps, "bad number");
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        integral = 0;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || !(*p >= '0' && *p <= '9'))
            return fail_at(ps, "bad number");
        while (p < ps->end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - s);
    char small[64];
    char *text = n < sizeof small ? small : malloc(n + 1);
    if (!text)
        return moth_fail(ps->err, "out of memory reading JSON");
    memcpy(text, s, n);
    text[n] = '\0';
    if (integral) {
        /* exact when it fits in int64 */
        int negative = text[0] == '-';
        uint64_t mag = 0;
        int fits = 1;
        for (const char *d = text + negative; *d; d++) {
            if (mag > (UINT64_MAX - 9) / 10) {
                fits = 0;
                break;
            }
            mag = mag * 10 + (uint64_t)(*d - '0');
        }
        if (fits && (negative ? mag <= (uint64_t)INT64_MAX + 1 : mag <= (uint64_t)INT64_MAX)) {
            v->is_int = 1;
            v->integer = negative ? (int64_t)(0 - mag) : (int64_t)mag;
        }
    }
    pthread_once(&c_locale_once, make_c_locale);
    v->number = c_locale ? strtod_l(text, NULL, c_locale) : strtod(text, NULL);
    if (text != small)
        free(text);
    ps->p = p;
    return 0;
}

static moth_json *value(parser *ps);

static void append(moth_json *parent, moth_json *child)
{
    if (parent->last)
        parent->last->next = child;
    else
        parent->first = child;
    parent->last = child;
    parent->count++;
}

static moth_json *container(parser *ps, moth_json_type type)
{
    char close = type == MOTH_JSON_ARRAY ? ']' : '}';
    if (++ps->depth > MOTH_JSON_MAX_DEPTH) {
        fail_at(ps, "nested too deeply");
        return NULL;
    }
    moth_json *v = new_value(ps, type);
    if (!v)
        return NULL;
    ps->p++;
    skip_space(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return v;
    }
    for (;;) {
        const char *key = NULL;
        size_t key_len = 0;
        if (type == MOTH_JSON_OBJECT) {
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != '"') {
                fail_at(ps, "expected a member name");
                return NULL;
            }
            if (string(ps, &key, &key_len) < 0)
                return NULL;
            skip_space(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                fail_at(ps, "expected ':'");
                return NULL;
            }
            ps->p++;
        }
        moth_json *item = value(ps);
        if (!item)
            return NULL;
        item->key = key;
        item->key_len = key_len;
        append(v, item);
        skip_space(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            ps->depth--;
            return v;
        }
        fail_at(ps, type == MOTH_JSON_ARRAY ? "expected ',' or ']'" : "expected ',' or '}'");
        return NULL;
    }
}

static moth_json *value(parser *ps)
{
    skip_space(ps);
    if (ps->p >= ps->end) {
        fail_at(ps, "unexpected end");
        return NULL;
    }
    moth_json *v;
    switch (*ps->p) {
    case '{':
        return container(ps, MOTH_JSON_OBJECT);
    case '[':
        return container(ps, MOTH_JSON_ARRAY);
    case '"':
        v = new_value(ps, MOTH_JSON_STRING);
        return v && string(ps, &v->str, &v->len) == 0 ? v : NULL;
    case 'n':
        v = new_value(ps, MOTH_JSON_NULL);
        return v && literal(ps, "null") == 0 ? v : NULL;
    case 't':
        v = new_value(ps, MOTH_JSON_TRUE);
        return v && literal(ps, "true") == 0 ? v : NULL;
    case 'f':
        v = new_value(ps, MOTH_JSON_FALSE);
        return v && literal(ps, "false") == 0 ? v : NULL;
    default:
        v = new_value(ps, MOTH_JSON_NUMBER);
        return v && number(ps, v) == 0 ? v : NULL;
    }
}

int moth_json_parse(const char *text, size_t len, moth_json_doc **out, moth_error *err)
{
    *out = NULL;
    moth_json_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return moth_fail(err, "out of memory reading JSON");
    parser ps = {(const unsigned char *)text, (const unsigned char *)text,
                 (const unsigned char *)text + len, doc, err, 0};
    doc->root = value(&ps);
    if (doc->root) {
        skip_space(&ps);
        if (ps.p != ps.end) {
            fail_at(&ps, "text after the value");
            doc->root = NULL;
        }
    }
    if (!doc->root) {
        moth_json_free(doc);
        return -1;
    }
    *out = doc;
    return 0;
}

/* ---- lookups ---- */

const moth_json *moth_json_get(const moth_json *obj, const char *key)
{
    if (!obj || obj->type != MOTH_JSON_OBJECT)
        return NULL;
    size_t n = strlen(key);
    for (const moth_json *m = obj->first; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0)
            return m;
    return NULL;
}

const moth_json *moth_json_at(const moth_json *array, size_t index)
{
    if (!array || array->type != MOTH_JSON_ARRAY || index >= array->count)
        return NULL;
    const moth_json *v = array->first;
    while (index--)
        v = v->next;
    return v;
}

const char *moth_json_text(const moth_json *v)
{
    return v && v->type == MOTH_JSON_STRING ? v->str : NULL;
}

int moth_json_int(const moth_json *v, int64_t *out)
{
    if (!v || v->type != MOTH_JSON_NUMBER || !v->is_int)
        return 0;
    *out = v->integer;
    return 1;
}

int moth_json_bool(const moth_json *v, int fallback)
{
    if (v && v->type == MOTH_JSON_TRUE)
        return 1;
    if (v && v->type == MOTH_JSON_FALSE)
        return 0;
    return fallback;
}

int moth_json_is(const moth_json *v, moth_json_type type)
{
    return v && v->type == type;
}

/* ---- writing ---- */

void moth_json_write_string(moth_sb *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    moth_sb_putc(sb, '"');
    while (p < end) {
        /* the longest run that needs no escape */
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        moth_sb_append(sb, run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned c = *p;
        if (c >= 0x80) {
            size_t k = utf8_length(p, end);
            if (k) {
                moth_sb_append(sb, p, k);
                p += k;
            } else {
                moth_sb_puts(sb, "\xEF\xBF\xBD"); /* U+FFFD for a byte that is not UTF-8 */
                p++;
            }
            continue;
        }
        p++;
        switch (c) {
        case '"': moth_sb_puts(sb, "\\\""); break;
        case '\\': moth_sb_puts(sb, "\\\\"); break;
        case '\n': moth_sb_puts(sb, "\\n"); break;
        case '\r': moth_sb_puts(sb, "\\r"); break;
        case '\t': moth_sb_puts(sb, "\\t"); break;
        case '\b': moth_sb_puts(sb, "\\b"); break;
        case '\f': moth_sb_puts(sb, "\\f"); break;
        default: {
            char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            moth_sb_puts(sb, esc);
        }
        }
    }
    moth_sb_putc(sb, '"');
}

static void write_number(moth_sb *sb, const moth_json *v)
{
    if (v->is_int) {
        moth_sb_printf(sb, "%lld", (long long)v->integer);
        return;
    }
    if (!isfinite(v->number)) { /* cannot come from the parser, but JSON has no inf */
        moth_sb_puts(sb, "null");
        return;
    }
    char text[40];
    pthread_once(&c_locale_once, make_c_locale);
    locale_t previous = c_locale ? uselocale(c_locale) : (locale_t)0;
    snprintf(text, sizeof text, "%.17g", v->number);
    if (previous)
        uselocale(previous);
    moth_sb_puts(sb, text);
    if (!strpbrk(text, ".eE"))
        moth_sb_puts(sb, ".0"); /* a number read as a fraction stays one when read again */
}

void moth_json_write_value(moth_sb *sb, const moth_json *v)
{
    if (!v) {
        moth_sb_puts(sb, "null");
        return;
    }
    switch (v->type) {
    case MOTH_JSON_NULL: moth_sb_puts(sb, "null"); break;
    case MOTH_JSON_FALSE: moth_sb_puts(sb, "false"); break;
    case MOTH_JSON_TRUE: moth_sb_puts(sb, "true"); break;
    case MOTH_JSON_NUMBER: write_number(sb, v); break;
    case MOTH_JSON_STRING: moth_json_write_string(sb, v->str, v->len); break;
    case MOTH_JSON_ARRAY:
    case MOTH_JSON_OBJECT: {
        int object = v->type == MOTH_JSON_OBJECT;
        moth_sb_putc(sb, object ? '{' : '[');
        for (const moth_json *m = v->first; m; m = m->next) {
            if (m != v->first)
                moth_sb_putc(sb, ',');
            if (object) {
                moth_json_write_string(sb, m->key, m->key_len);
                moth_sb_putc(sb, ':');
            }
            moth_json_write_value(sb, m);
        }
        moth_sb_putc(sb, object ? '}' : ']');
    }
    }
}

void moth_jw_init(moth_jw *w, moth_sb *sb)
{
    memset(w, 0, sizeof *w);
    w->sb = sb;
}

/* The comma and key before a new value at the current level. */
static void member(moth_jw *w, const char *key)
{
    if (w->depth == 0)
        return;
    if (w->has_items[w->depth - 1])
        moth_sb_putc(w->sb, ',');
    w->has_items[w->depth - 1] = 1;
    if (w->in_object[w->depth - 1]) {
        moth_json_write_string(w->sb, key ? key : "", key ? strlen(key) : 0);
        moth_sb_putc(w->sb, ':');
    }
}

static void open_level(moth_jw *w, const char *key, int object)
{
    member(w, key);
    moth_sb_putc(w->sb, object ? '{' : '[');
    if (w->depth >= MOTH_JSON_MAX_DEPTH) { /* a writer bug: make it visible, not memory */
        w->sb->failed = 1;
        return;
    }
    w->in_object[w->depth] = (uint8_t)object;
    w->has_items[w->depth] = 0;
    w->depth++;
}

void moth_jw_object(moth_jw *w, const char *key)
{
    open_level(w, key, 1);
}

void moth_jw_array(moth_jw *w, const char *key)
{
    open_level(w, key, 0);
}

void moth_jw_end(moth_jw *w)
{
    if (w->depth == 0) {
        w->sb->failed = 1;
        return;
    }
    w->depth--;
    moth_sb_putc(w->sb, w->in_object[w->depth] ? '}' : ']');
}

void moth_jw_strn(moth_jw *w, const char *key, const char *s, size_t len)
{
    member(w, key);
    moth_json_write_string(w->sb, s, len);
}

void moth_jw_str(moth_jw *w, const char *key, const char *s)
{
    moth_jw_strn(w, key, s ? s : "", s ? strlen(s) : 0);
}

void moth_jw_int(moth_jw *w, const char *key, int64_t v)
{
    member(w, key);
    moth_sb_printf(w->sb, "%lld", (long long)v);
}

void moth_jw_bool(moth_jw *w, const char *key, int v)
{
    member(w, key);
    moth_sb_puts(w->sb, v ? "true" : "false");
}

void moth_jw_null(moth_jw *w, const char *key)
{
    member(w, key);
    moth_sb_puts(w->sb, "null");
}

void moth_jw_value(moth_jw *w, const char *key, const moth_json *v)
{
    member(w, key);
    moth_json_write_value(w->sb, v);
}

void moth_jw_raw(moth_jw *w, const char *key, const char *json, size_t len)
{
    member(w, key);
    moth_sb_append(w->sb, json, len);
}
