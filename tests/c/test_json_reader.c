/* Unit tests of the JSON reader and writer (csrc/core/json.c) and of the Debug Adapter
 * Protocol's framing (csrc/core/dap_wire.c). */
#include "check.h"
#include "dap_wire.h"
#include "json.h"

#include <stdlib.h>

static moth_json_doc *parse(const char *text)
{
    moth_json_doc *doc = NULL;
    moth_error err;
    CHECK(moth_json_parse(text, strlen(text), &doc, &err) == 0);
    return doc;
}

/* The parse error for text, or "" when it parsed. */
static char *error_of(const char *text, size_t len)
{
    static moth_error err;
    moth_json_doc *doc = NULL;
    if (moth_json_parse(text, len, &doc, &err) == 0) {
        moth_json_free(doc);
        return "";
    }
    CHECK(doc == NULL);
    return err.msg;
}

static char *written(const moth_json *v)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_json_write_value(&sb, v);
    return moth_sb_take(&sb);
}

static void test_a_request_reads(void)
{
    moth_json_doc *doc = parse(" {\"seq\": 7, \"type\": \"request\", \"command\": \"setBreakpoints\","
                               " \"arguments\": {\"source\": {\"path\": \"/tmp/a b.py\"},"
                               " \"breakpoints\": [{\"line\": 3}, {\"line\": 12, \"condition\":"
                               " \"x > 1\"}], \"sourceModified\": false}}\n");
    const moth_json *root = moth_json_root(doc);
    int64_t seq = 0, line = 0;
    CHECK(moth_json_int(moth_json_get(root, "seq"), &seq) && seq == 7);
    CHECK_STR(moth_json_text(moth_json_get(root, "command")), "setBreakpoints");
    const moth_json *args = moth_json_get(root, "arguments");
    CHECK_STR(moth_json_text(moth_json_get(moth_json_get(args, "source"), "path")),
              "/tmp/a b.py");
    const moth_json *bps = moth_json_get(args, "breakpoints");
    CHECK_EQ_U(bps->count, 2);
    CHECK(moth_json_int(moth_json_get(moth_json_at(bps, 1), "line"), &line) && line == 12);
    CHECK_STR(moth_json_text(moth_json_get(moth_json_at(bps, 1), "condition")), "x > 1");
    CHECK(moth_json_at(bps, 2) == NULL);
    CHECK(moth_json_bool(moth_json_get(args, "sourceModified"), 1) == 0);
    CHECK(moth_json_bool(moth_json_get(args, "missing"), 1) == 1);
    /* asking the wrong shape gives nothing, never a crash */
    CHECK(moth_json_get(bps, "line") == NULL);
    CHECK(moth_json_at(args, 0) == NULL);
    CHECK(moth_json_text(moth_json_get(root, "seq")) == NULL);
    CHECK(!moth_json_int(moth_json_get(root, "command"), &seq));
    CHECK(moth_json_get(NULL, "x") == NULL);
    moth_json_free(doc);
}

static void test_strings_decode(void)
{
    moth_json_doc *doc = parse("[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", \"\\u00e9\\u20ac\", "
                               "\"\\ud83d\\ude00\", \"\\ud800x\", \"\\u0000z\", \"h\xc3\xa9\"]");
    const moth_json *a = moth_json_root(doc);
    CHECK_STR(moth_json_at(a, 0)->str, "a\"b\\c/d\b\f\n\r\t");
    CHECK_STR(moth_json_at(a, 1)->str, "\xc3\xa9\xe2\x82\xac");
    CHECK_STR(moth_json_at(a, 2)->str, "\xf0\x9f\x98\x80");
    CHECK_STR(moth_json_at(a, 3)->str, "\xef\xbf\xbdx"); /* a lone surrogate: U+FFFD */
    CHECK_EQ_U(moth_json_at(a, 4)->len, 2);                /* an escaped NUL is kept */
    CHECK(memcmp(moth_json_at(a, 4)->str, "\0z", 2) == 0);
    CHECK_STR(moth_json_at(a, 5)->str, "h\xc3\xa9");
    moth_json_free(doc);
}

static void test_numbers(void)
{
    moth_json_doc *doc = parse("[0, -0, 12, -9223372036854775808, 9223372036854775807, "
                               "9223372036854775808, 1.5, -2e3, 1E-2]");
    const moth_json *a = moth_json_root(doc);
    int64_t v;
    CHECK(moth_json_int(moth_json_at(a, 0), &v) && v == 0);
    CHECK(moth_json_int(moth_json_at(a, 2), &v) && v == 12);
    CHECK(moth_json_int(moth_json_at(a, 3), &v) && v == INT64_MIN);
    CHECK(moth_json_int(moth_json_at(a, 4), &v) && v == INT64_MAX);
    CHECK(!moth_json_int(moth_json_at(a, 5), &v)); /* too big for int64: a double */
    CHECK_NEAR(moth_json_at(a, 5)->number, 9223372036854775808.0, 1);
    CHECK(!moth_json_int(moth_json_at(a, 6), &v));
    CHECK_NEAR(moth_json_at(a, 6)->number, 1.5, 0);
    CHECK_NEAR(moth_json_at(a, 7)->number, -2000, 0);
    CHECK_NEAR(moth_json_at(a, 8)->number, 0.01, 1e-15);
    char *text = written(a);
    CHECK_STR(text, "[0,0,12,-9223372036854775808,9223372036854775807,9.2233720368547758e+18,"
                    "1.5,-2000.0,0.01]");
    free(text);
    moth_json_free(doc);
}

static void test_malformed_is_refused_with_a_place(void)
{
    struct { const char *text; const char *message; } cases[] = {
        {"", "malformed JSON at byte 0: unexpected end"},
        {"{", "malformed JSON at byte 1: expected a member name"},
        {"{\"a\" 1}", "malformed JSON at byte 5: expected ':'"},
        {"{\"a\":1,}", "malformed JSON at byte 7: expected a member name"},
        {"[1,]", "malformed JSON at byte 3: bad number"},
        {"[1 2]", "malformed JSON at byte 3: expected ',' or ']'"},
        {"{\"a\":1 \"b\":2}", "malformed JSON at byte 7: expected ',' or '}'"},
        {"01", "malformed JSON at byte 1: text after the value"},
        {"1.", "malformed JSON at byte 0: bad number"},
        {"-", "malformed JSON at byte 0: bad number"},
        {"1e+", "malformed JSON at byte 0: bad number"},
        {"tru", "malformed JSON at byte 0: unknown word"},
        {"nul1", "malformed JSON at byte 0: unknown word"},
        {"\"abc", "malformed JSON at byte 0: unterminated string"},
        {"\"a\\", "malformed JSON at byte 0: unterminated string"},
        {"\"a\\x\"", "malformed JSON at byte 2: bad escape"},
        {"\"\\u12g4\"", "malformed JSON at byte 3: bad \\u escape"},
        {"\"tab\there\"", "malformed JSON at byte 4: control character in string"},
        {"\"\xff\"", "malformed JSON at byte 1: string is not UTF-8"},
        {"\"\xc0\xaf\"", "malformed JSON at byte 1: string is not UTF-8"},    /* overlong */
        {"\"\xed\xa0\x80\"", "malformed JSON at byte 1: string is not UTF-8"}, /* surrogate */
        {"\"\xe2\x82\"", "malformed JSON at byte 1: string is not UTF-8"},     /* cut short */
        {"[] []", "malformed JSON at byte 3: text after the value"},
        {"// c\n1", "malformed JSON at byte 0: bad number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        CHECK_STR(error_of(cases[i].text, strlen(cases[i].text)), cases[i].message);
    /* a NUL inside the length given is a byte like any other */
    CHECK_STR(error_of("1\0", 2), "malformed JSON at byte 1: text after the value");
}

static void test_depth_is_bounded(void)
{
    size_t n = MOTH_JSON_MAX_DEPTH;
    char *deep = malloc(2 * n + 3);
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    CHECK_STR(error_of(deep, 2 * n), "");
    memset(deep, '[', n + 1);
    memset(deep + n + 1, ']', n + 1);
    CHECK_STR(error_of(deep, 2 * n + 2), "malformed JSON at byte 128: nested too deeply");
    /* far deeper than the C stack would take unbounded */
    size_t huge = 1000000;
    char *very = malloc(huge);
    memset(very, '[', huge);
    CHECK_STR(error_of(very, huge), "malformed JSON at byte 128: nested too deeply");
    free(very);
    free(deep);
}

static void test_round_trip(void)
{
    const char *text = "{\"a\":[true,false,null,{\"\":\"\"}],\"b\":\"x\\u0001\\\"\\n\",\"c\":{},"
                       "\"d\":[],\"e\":-3}";
    moth_json_doc *doc = parse(text);
    char *back = written(moth_json_root(doc));
    CHECK_STR(back, text);
    free(back);
    moth_json_free(doc);
    /* a big document spans many blocks */
    moth_sb sb = MOTH_SB_INIT;
    moth_sb_putc(&sb, '[');
    for (int i = 0; i < 20000; i++)
        moth_sb_printf(&sb, "%s{\"k%d\":\"%0200d\"}", i ? "," : "", i, i);
    moth_sb_putc(&sb, ']');
    doc = parse(sb.data);
    CHECK_EQ_U(moth_json_root(doc)->count, 20000);
    CHECK_STR(moth_json_text(moth_json_get(moth_json_at(moth_json_root(doc), 19999), "k19999")) + 195,
              "19999");
    back = written(moth_json_root(doc));
    CHECK_STR(back, sb.data);
    free(back);
    moth_sb_free(&sb);
    moth_json_free(doc);
}

static void test_writer(void)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_jw w;
    moth_jw_init(&w, &sb);
    moth_jw_object(&w, NULL);
    moth_jw_int(&w, "seq", 3);
    moth_jw_str(&w, "type", "event");
    moth_jw_object(&w, "body");
    moth_jw_strn(&w, "output", "ok\n\x01\xff\xe2\x82\xac\"", 9);
    moth_jw_array(&w, "list");
    moth_jw_bool(&w, NULL, 1);
    moth_jw_null(&w, NULL);
    moth_jw_raw(&w, NULL, "{\"x\":1}", 7);
    moth_jw_int(&w, NULL, -5);
    moth_jw_end(&w);
    moth_jw_array(&w, "empty");
    moth_jw_end(&w);
    moth_jw_str(&w, "nul", NULL);
    moth_jw_end(&w);
    moth_jw_end(&w);
    CHECK_EQ_U(w.depth, 0);
    CHECK_STR(sb.data, "{\"seq\":3,\"type\":\"event\",\"body\":{\"output\":"
                       "\"ok\\n\\u0001\xef\xbf\xbd\xe2\x82\xac\\\"\",\"list\":[true,null,"
                       "{\"x\":1},-5],\"empty\":[],\"nul\":\"\"}}");
    /* and what it writes reads back */
    moth_json_doc *doc = parse(sb.data);
    CHECK_STR(moth_json_get(moth_json_get(moth_json_root(doc), "body"), "output")->str,
              "ok\n\x01\xef\xbf\xbd\xe2\x82\xac\"");
    moth_json_free(doc);
    /* an end too many is a writer bug, made visible */
    moth_jw_end(&w);
    CHECK(sb.failed);
    moth_sb_free(&sb);
}

/* ---- framing ---- */

static moth_dap_wire_result next(moth_dap_wire *w, char **out, moth_error *err)
{
    const char *body;
    size_t len;
    moth_dap_wire_result r = moth_dap_wire_next(w, &body, &len, err);
    *out = r == MOTH_DAP_MESSAGE ? strndup(body, len) : NULL;
    return r;
}

static void feed(moth_dap_wire *w, const char *text)
{
    moth_error err;
    CHECK(moth_dap_wire_feed(w, text, strlen(text), &err) == 0);
}

static void test_frames_in_pieces(void)
{
    moth_dap_wire w = MOTH_DAP_WIRE_INIT;
    moth_error err;
    char *body;
    const char *stream = "Content-Length: 2\r\n\r\n{}content-length:3\r\nX-Other: y\r\n\r\n[1]";
    /* byte by byte: each message comes out whole, once */
    int got = 0;
    for (const char *p = stream; *p; p++) {
        moth_dap_wire_feed(&w, p, 1, &err);
        moth_dap_wire_result r;
        while ((r = next(&w, &body, &err)) == MOTH_DAP_MESSAGE) {
            CHECK_STR(body, got == 0 ? "{}" : "[1]");
            free(body);
            got++;
        }
        CHECK(r == MOTH_DAP_NEED_MORE);
    }
    CHECK(got == 2);
    /* several at once */
    feed(&w, "Content-Length: 1\r\n\r\n1Content-Length: 1\r\n\r\n2Content-Length:  0 \r\n\r\n");
    CHECK(next(&w, &body, &err) == MOTH_DAP_MESSAGE);
    CHECK_STR(body, "1");
    free(body);
    CHECK(next(&w, &body, &err) == MOTH_DAP_MESSAGE);
    CHECK_STR(body, "2");
    free(body);
    CHECK(next(&w, &body, &err) == MOTH_DAP_MESSAGE);
    CHECK_STR(body, "");
    free(body);
    CHECK(next(&w, &body, &err) == MOTH_DAP_NEED_MORE);
    moth_dap_wire_free(&w);
}

static void test_bad_frames_are_skipped(void)
{
    moth_dap_wire w = MOTH_DAP_WIRE_INIT;
    moth_error err;
    char *body;
    feed(&w, "Foo: 1\r\n\r\nContent-Length: x\r\n\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"
             "Content-Length: 2\r\n\r\nok");
    for (int i = 0; i < 3; i++) {
        CHECK(next(&w, &body, &err) == MOTH_DAP_BAD_FRAME);
        CHECK_STR(err.msg, "message header without a valid Content-Length");
    }
    CHECK(next(&w, &body, &err) == MOTH_DAP_MESSAGE);
    CHECK_STR(body, "ok");
    free(body);
    /* a body too big is refused and skipped, however it arrives */
    feed(&w, "Content-Length: 67108865\r\n\r\n");
    CHECK(next(&w, &body, &err) == MOTH_DAP_BAD_FRAME);
    CHECK_STR(err.msg, "message of 67108865 bytes refused (the limit is 67108864)");
    char *chunk = malloc(1 << 20);
    memset(chunk, 'z', 1 << 20);
    for (int i = 0; i < 64; i++) {
        moth_dap_wire_feed(&w, chunk, 1 << 20, &err);
        CHECK(next(&w, &body, &err) == MOTH_DAP_NEED_MORE);
    }
    CHECK(w.buf.len - w.start == 0);
    feed(&w, "zContent-Length: 1\r\n\r\n7");
    CHECK(next(&w, &body, &err) == MOTH_DAP_MESSAGE);
    CHECK_STR(body, "7");
    free(body);
    /* a header that never ends */
    memset(chunk, 'h', MOTH_DAP_MAX_HEADER + 10);
    moth_dap_wire_feed(&w, chunk, MOTH_DAP_MAX_HEADER + 10, &err);
    CHECK(next(&w, &body, &err) == MOTH_DAP_BAD_FRAME);
    CHECK_STR(err.msg, "message header longer than 8192 bytes");
    feed(&w, "Content-Length: 2\r\n\r\n{}");
    CHECK(next(&w, &body, &err) == MOTH_DAP_MESSAGE);
    CHECK_STR(body, "{}");
    free(body);
    free(chunk);
    moth_sb sb = MOTH_SB_INIT;
    moth_dap_wire_header(&sb, 42);
    CHECK_STR(sb.data, "Content-Length: 42\r\n\r\n");
    moth_sb_free(&sb);
    moth_dap_wire_free(&w);
}

int main(void)
{
    RUN(test_a_request_reads);
    RUN(test_strings_decode);
    RUN(test_numbers);
    RUN(test_malformed_is_refused_with_a_place);
    RUN(test_depth_is_bounded);
    RUN(test_round_trip);
    RUN(test_writer);
    RUN(test_frames_in_pieces);
    RUN(test_bad_frames_are_skipped);
    return check_summary();
}
