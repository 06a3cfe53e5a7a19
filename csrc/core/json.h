/*
 * json.h: JSON (RFC 8259) read into a tree, and written, for the Debug Adapter Protocol.
 *
 * The reader treats its input as hostile: it is strict (one value, nothing after it but
 * white space; no comments, trailing commas, leading zeros, control characters in strings),
 * bounded (nesting depth, see MOTH_JSON_MAX_DEPTH) and never reads past the length it is
 * given. Strings come out decoded as UTF-8 and NUL-terminated (they may hold NULs: use the
 * length); input that is not UTF-8 is refused, and a lone surrogate escape becomes U+FFFD. A
 * parsed document owns all its values: they live until moth_json_free.
 *
 * The writer appends JSON text to a moth_sb and always writes valid UTF-8: bytes of a string
 * that are not UTF-8 are written as U+FFFD, so a program's arbitrary output can be sent.
 */
#ifndef MOTH_JSON_H
#define MOTH_JSON_H

#include "common.h"
#include "strbuf.h"

#include <stdint.h>

#define MOTH_JSON_MAX_DEPTH 128

typedef enum {
    MOTH_JSON_NULL,
    MOTH_JSON_FALSE,
    MOTH_JSON_TRUE,
    MOTH_JSON_NUMBER,
    MOTH_JSON_STRING,
    MOTH_JSON_ARRAY,
    MOTH_JSON_OBJECT,
} moth_json_type;

typedef struct moth_json moth_json;
struct moth_json {
    moth_json_type type;
    size_t count;              /* arrays and objects: how many items or members */
    const char *key;           /* the member's name when this is an object's member */
    size_t key_len;
    const char *str;           /* strings: decoded, NUL-terminated */
    size_t len;
    double number;             /* numbers */
    int is_int;                /* numbers: integral and within int64 */
    int64_t integer;
    moth_json *first, *last;   /* arrays and objects: the items or members in order */
    moth_json *next;           /* the next item or member of the parent */
};

typedef struct moth_json_doc moth_json_doc;

/* Parses text[0..len). 0 and *doc (free with moth_json_free), or -1 with err saying what and
 * where (byte offset) it is wrong. */
int moth_json_parse(const char *text, size_t len, moth_json_doc **doc, moth_error *err);
void moth_json_free(moth_json_doc *doc);
const moth_json *moth_json_root(const moth_json_doc *doc);

/* Lookups that take any value (NULL included) and give NULL or 0 when the shape is not the
 * one asked for, so that a request's arguments can be read without checking each level. */
const moth_json *moth_json_get(const moth_json *obj, const char *key); /* first such member */
const moth_json *moth_json_at(const moth_json *array, size_t index);
/* The string's text (NUL-terminated), or NULL when v is not a string. */
const char *moth_json_text(const moth_json *v);
/* 1 and *out when v is an integral number within int64. */
int moth_json_int(const moth_json *v, int64_t *out);
/* 1 for true, 0 for false, fallback for anything else (missing included). */
int moth_json_bool(const moth_json *v, int fallback);
int moth_json_is(const moth_json *v, moth_json_type type);

/* ---- writing ---- */

/* A string as a JSON string literal (quotes included). */
void moth_json_write_string(moth_sb *sb, const char *s, size_t len);
/* A value read by the parser, written back (compact). */
void moth_json_write_value(moth_sb *sb, const moth_json *v);

/* A writer that places commas and keys: begin an object or array, add members, end it.
 * Keys are used inside objects and ignored (pass NULL) inside arrays and at the top. */
typedef struct moth_jw {
    moth_sb *sb;
    int depth;
    uint8_t in_object[MOTH_JSON_MAX_DEPTH];
    uint8_t has_items[MOTH_JSON_MAX_DEPTH];
} moth_jw;

void moth_jw_init(moth_jw *w, moth_sb *sb);
void moth_jw_object(moth_jw *w, const char *key);
void moth_jw_array(moth_jw *w, const char *key);
void moth_jw_end(moth_jw *w);
void moth_jw_str(moth_jw *w, const char *key, const char *s);
void moth_jw_strn(moth_jw *w, const char *key, const char *s, size_t len);
void moth_jw_int(moth_jw *w, const char *key, int64_t v);
void moth_jw_bool(moth_jw *w, const char *key, int v);
void moth_jw_null(moth_jw *w, const char *key);
void moth_jw_value(moth_jw *w, const char *key, const moth_json *v);
/* JSON text the caller vouches for, as a member's value. */
void moth_jw_raw(moth_jw *w, const char *key, const char *json, size_t len);

#endif
