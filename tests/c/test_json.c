/* JSON strings of the exports (speedscope, chrome, the flame graph's data): escapes, and text
 * that is not UTF-8 (a hostile profile file's names) made valid for a strict decoder. */
#include "check.h"
#include "export.h"

static void check_json(const char *in, const char *expect)
{
    moth_sb out = MOTH_SB_INIT;
    moth_json_string(&out, in);
    CHECK_STR(out.data, expect);
    moth_sb_free(&out);
}

static void test_escapes(void)
{
    check_json("", "\"\"");
    check_json("plain", "\"plain\"");
    check_json("a\"b\\c", "\"a\\\"b\\\\c\"");
    check_json("tab\there\nnl\x7f", "\"tab\\u0009here\\u000anl\\u007f\"");
    check_json("<script>&", "\"\\u003cscript\\u003e\\u0026\"");
}

static void test_utf8_kept_when_valid_replaced_when_not(void)
{
    check_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf",
               "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xed\x9f\xbf \xf4\x8f\xbf\xbf\"");
    /* each byte that starts no valid sequence becomes U+FFFD, the rest is read again */
    check_json("\xc0\xaf", "\"\\ufffd\\ufffd\"");                     /* overlong '/' */
    check_json("\xe0\x80\x80", "\"\\ufffd\\ufffd\\ufffd\"");          /* overlong */
    check_json("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");          /* a surrogate */
    check_json("\xf0\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* overlong */
    check_json("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* past U+10FFFF */
    check_json("\xf5\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    check_json("\xe2\x82", "\"\\ufffd\\ufffd\"");                     /* cut short */
    check_json("x\xffy", "\"x\\ufffdy\"");
}

int main(void)
{
    RUN(test_escapes);
    RUN(test_utf8_kept_when_valid_replaced_when_not);
    return check_summary();
}
