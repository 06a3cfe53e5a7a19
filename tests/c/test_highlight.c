/* Unit tests of the terminal colouring of Python source (csrc/core/highlight.c). */
#include "check.h"
#include "highlight.h"

#include <stdlib.h>

#define K(s) "\x1b[35m" s "\x1b[0m"
#define D(s) "\x1b[1;34m" s "\x1b[0m"
#define S(s) "\x1b[33m" s "\x1b[0m"
#define N(s) "\x1b[36m" s "\x1b[0m"
#define C(s) "\x1b[90m" s "\x1b[0m"

static char *coloured(const char *src)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_highlight_python(&sb, src, strlen(src));
    moth_sb_putc(&sb, '\0'); /* an empty input still gives a string */
    return moth_sb_take(&sb);
}

/* The output without its escape sequences. */
static char *plain(const char *text)
{
    char *out = malloc(strlen(text) + 1), *o = out;
    for (const char *p = text; *p;) {
        if (*p == '\x1b') {
            while (*p && *p != 'm')
                p++;
            if (*p)
                p++;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void expect(const char *src, const char *want)
{
    char *got = coloured(src);
    CHECK_STR(got, want);
    char *back = plain(got);
    CHECK_STR(back, src);
    free(back);
    free(got);
}

static void test_keywords_and_defined_names(void)
{
    expect("def area(r):\n", K("def") " " D("area") "(r):\n");
    expect("class Shape(object): pass", K("class") " " D("Shape") "(object): " K("pass"));
    expect("if x is not None:", K("if") " x " K("is") " " K("not") " " K("None") ":");
    /* names that merely contain a keyword, and soft keywords, stay plain */
    expect("format(ifx, match, _in)", "format(ifx, match, _in)");
}

static void test_strings_hide_what_they_hold(void)
{
    expect("s = 'if # not'", "s = " S("'if # not'"));
    expect("t = \"a\\\"b\" + ''", "t = " S("\"a\\\"b\"") " + " S("''"));
    expect("p = rb'\\d' f\"{x}\"", "p = " S("rb'\\d'") " " S("f\"{x}\""));
    /* a name that is not a prefix is a name followed by a string */
    expect("xy'a'", "xy" S("'a'"));
    expect("x = 'open\nif", "x = " S("'open") "\n" K("if"));
}

static void test_triple_quotes_span_lines(void)
{
    expect("\"\"\"one\nif two\n\"\"\" if",
           S("\"\"\"one") "\n" S("if two") "\n" S("\"\"\"") " " K("if"));
    expect("'''a ' '' b'''", S("'''a ' '' b'''"));
    expect("'''never closed\nfor", S("'''never closed") "\n" S("for"));
}

static void test_numbers_comments_decorators(void)
{
    expect("x = 1_000 + 0x1F + 2.5e-3 + .5j", "x = " N("1_000") " + " N("0x1F") " + "
           N("2.5e-3") " + " N(".5j"));
    expect("v2 = a[1]  # while\n", "v2 = a[" N("1") "]  " C("# while") "\n");
    expect("@functools.cache\ndef f(): return a @ b",
           "\x1b[36m@functools.cache\x1b[0m\n" K("def") " " D("f") "(): " K("return") " a @ b");
}

/* A number that ends a line is reset before the line break, whatever breaks it. */
static void test_numbers_ending_lines(void)
{
    expect("LIMIT = 3\nx", "LIMIT = " N("3") "\nx");
    expect("f(1.5e-3)\r\nreturn 0x1F\n", "f(" N("1.5e-3") ")\r\n" K("return") " " N("0x1F") "\n");
    expect("a = 1e\n-2", "a = " N("1e") "\n-" N("2"));
    expect("b = 2j\r", "b = " N("2j") "\r");
    expect("c = .5\n\n7", "c = " N(".5") "\n\n" N("7"));
}

static void test_odd_input_is_copied(void)
{
    const char *odd[] = {"", "'", "\"\"\"", "\\", "x = '\\", "r", "0x", "@", "# ü\r\nif",
                         "naïve = 1", "\t\t  \n\n"};
    for (size_t k = 0; k < sizeof odd / sizeof odd[0]; k++) {
        char *got = coloured(odd[k]);
        char *back = plain(got);
        CHECK_STR(back, odd[k]);
        free(back);
        free(got);
    }
}

int main(void)
{
    RUN(test_keywords_and_defined_names);
    RUN(test_strings_hide_what_they_hold);
    RUN(test_triple_quotes_span_lines);
    RUN(test_numbers_comments_decorators);
    RUN(test_numbers_ending_lines);
    RUN(test_odd_input_is_copied);
    return check_summary();
}
