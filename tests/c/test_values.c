/* C unit tests of the value reader (`moth dump --locals`): Python's repr of floats, big ints,
 * str and bytes from their parts (reprfmt.c), and objects read from a made-up target memory
 * laid out as each CPython version lays them out (values.c, locals.c), bad memory included. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "code.h"
#include "dump.h"
#include "fake_target.h"
#include "locals.h"
#include "remote.h"
#include "reprfmt.h"
#include "values.h"

static char *take_repr_str(const uint32_t *cps, size_t n, uint32_t version)
{
    moth_sb sb = MOTH_SB_INIT;
    moth_repr_str(cps, n, version, &sb);
    return moth_sb_take(&sb);
}

/* Values and the text Python's repr() gives them (CPython 3.11-3.13 agree). */
static const struct {
    uint64_t bits;
    const char *repr;
} DOUBLES[] = {
    {0x0000000000000000ull, "0.0"},
    {0x8000000000000000ull, "-0.0"},
    {0x3fb999999999999aull, "0.1"},
    {0x7e37e43c8800759cull, "1e+300"},
    {0x7ff8000000000000ull, "nan"},
    {0xfff8000000000000ull, "nan"},
    {0x7ff0000000000000ull, "inf"},
    {0xfff0000000000000ull, "-inf"},
    {0x0000000000000001ull, "5e-324"},
    {0x0000000000000003ull, "1.5e-323"},
    {0x4341c37937e08000ull, "1e+16"},
    {0x430c6bf526340000ull, "1000000000000000.0"},
    {0x3ee4f8b588e368f1ull, "1e-05"},
    {0x3f1a36e2eb1c432dull, "0.0001"},
    {0x419d6f34547df3b6ull, "123456789.123"},
    {0x3fd3333333333334ull, "0.30000000000000004"},
    {0x7fefffffffffffffull, "1.7976931348623157e+308"},
    {0x0010000000000000ull, "2.2250738585072014e-308"},
    {0x4340000000000000ull, "9007199254740992.0"},
    {0x4480f0cf064dd592ull, "1e+22"},
    {0x44b52d02c7e14af6ull, "1e+23"},
    {0x43e0000000000000ull, "9.223372036854776e+18"},
    {0x3ff8000000000000ull, "1.5"},
    {0x4059000000000000ull, "100.0"},
    {0xbe90c6f7a0b5ed8dull, "-2.5e-07"},
    {0x4011666666666666ull, "4.35"},
    {0x4bdba8493ceb3ffdull, "2.7126267136355693e+57"},
    {0x10b1b1b48b529b4aull, "2.9176505403442687e-228"},
    {0x753dadfa5eb561a4ull, "5.5705027106665415e+256"},
    {0x3cadc94f9a9a80fdull, "2.0668446752292503e-16"},
    {0x4a595c7ea02f34a6ull, "1.4826236772844953e+50"},
    {0x4d84491e10c67fd9ull, "2.670405756230503e+65"},
};

static void test_double_repr(void)
{
    for (size_t i = 0; i < sizeof DOUBLES / sizeof DOUBLES[0]; i++) {
        double x;
        memcpy(&x, &DOUBLES[i].bits, sizeof x);
        char out[MOTH_DOUBLE_REPR_MAX];
        moth_repr_double(x, out);
        CHECK_STR(out, DOUBLES[i].repr);
    }
    /* Every power of two, where the rounding interval is lopsided, reads back as itself. */
    for (int e = -1074; e < 1024; e++) {
        char out[MOTH_DOUBLE_REPR_MAX];
        double x = ldexp(1.0, e);
        moth_repr_double(x, out);
        CHECK(strtod(out, NULL) == x);
    }
}

static const struct {
    int negative;
    uint32_t digits[16];
    size_t n;
    const char *decimal;
} INTS[] = {
    {0, {720941217, 803994746, 175825445, 993902009, 906409603, 258341137, 875757527, 618569148,
         111067674, 418446017, 130392}, 11,
     "265613988875874769338781322035779626829233452653394495974574961739092490901302182994384699"
     "044001"},
    {1, {890768657, 521260229, 152302344, 134660222, 113999833, 396384057, 523021175, 265692362,
         800361159, 1063014465, 836820984, 857331123, 319779406, 159304403, 2}, 15,
     "-5817092933824343165432524003391691164919859649719340532627567207607656859034356995566589"
     "707894210757866827613621721127496191249"},
    {0, {0, 1}, 2, "1073741824"},
    {0, {1073741823, 1073741823}, 2, "1152921504606846975"},
    {0, {0, 747274240, 796297728, 565071672, 752316384}, 5,
     "1000000000000000000000000000000000000000000000"},
    {0, {0}, 0, "0"},
    {1, {0, 0}, 2, "-0"},  /* a zero with digits and a sign: not made by CPython, shown as is */
    {0, {5, 0, 0}, 3, "5"}, /* leading zero digits are skipped */
};

static void test_bigint_repr(void)
{
    for (size_t i = 0; i < sizeof INTS / sizeof INTS[0]; i++) {
        moth_sb sb = MOTH_SB_INIT;
        CHECK(moth_repr_bigint(INTS[i].digits, INTS[i].n, INTS[i].negative, &sb) == 0);
        if (INTS[i].n == 2 && INTS[i].negative && !INTS[i].digits[1])
            CHECK_STR(sb.data, "0");
        else
            CHECK_STR(sb.data, INTS[i].decimal);
        moth_sb_free(&sb);
    }
    uint32_t bad[] = {1, 1u << 30};
    moth_sb sb = MOTH_SB_INIT;
    CHECK(moth_repr_bigint(bad, 2, 0, &sb) < 0);
    CHECK_EQ_U(sb.len, 0);
    /* 2**300000: 90,309 decimal digits; the first and last ones. */
    size_t n = 10001;
    uint32_t *digits = calloc(n, sizeof *digits);
    digits[n - 1] = 1;
    CHECK(moth_repr_bigint(digits, n, 0, &sb) == 0);
    CHECK_EQ_U(sb.len, 90309);
    CHECK(strncmp(sb.data, "9970092655044752546204755591091119", 34) == 0);
    CHECK(strcmp(sb.data + sb.len - 6, "109376") == 0);
    free(digits);
    moth_sb_free(&sb);
}

static void test_str_repr(void)
{
    const uint32_t plain[] = {'a', '\'', 'b'};
    char *s = take_repr_str(plain, 3, 0x030d);
    CHECK_STR(s, "\"a'b\"");
    free(s);
    const uint32_t both[] = {'\'', '"', '\\', '\n', '\t', '\r', 0, 0x7f, 0xe9, 0xa0, 0x200b,
                             0xd800, 0x1f600, 0xe0001, 0x10ffff};
    s = take_repr_str(both, sizeof both / sizeof both[0], 0x030d);
    CHECK_STR(s, "'\\'\"\\\\\\n\\t\\r\\x00\\x7f\xc3\xa9\\xa0\\u200b\\ud800\xf0\x9f\x98\x80"
                 "\\U000e0001\\U0010ffff'");
    free(s);
    /* U+1FAE8 (SHAKING FACE) came with Unicode 15.0: 3.11 escapes it, 3.12 prints it. */
    const uint32_t face[] = {0x1fae8};
    s = take_repr_str(face, 1, 0x030b);
    CHECK_STR(s, "'\\U0001fae8'");
    free(s);
    s = take_repr_str(face, 1, 0x030c);
    CHECK_STR(s, "'\xf0\x9f\xab\xa8'");
    free(s);
    /* U+2FFC came with Unicode 15.1: 3.12 escapes it, 3.13 prints it. */
    const uint32_t ideo[] = {0x2ffc};
    s = take_repr_str(ideo, 1, 0x030c);
    CHECK_STR(s, "'\\u2ffc'");
    free(s);
    s = take_repr_str(ideo, 1, 0x030d);
    CHECK_STR(s, "'\xe2\xbf\xbc'");
    free(s);
    s = take_repr_str(NULL, 0, 0x030d);
    CHECK_STR(s, "''");
    free(s);
    CHECK(!moth_unicode_printable(0x110000 - 1, 0x030d));
    CHECK(moth_unicode_printable('A', 0x030b));

    moth_sb sb = MOTH_SB_INIT;
    moth_repr_bytes((const uint8_t *)"a'\"\\\n\x00\x80\xff~", 9, &sb);
    CHECK_STR(sb.data, "b'a\\'\"\\\\\\n\\x00\\x80\\xff~'");
    moth_sb_clear(&sb);
    moth_repr_bytes((const uint8_t *)"it's", 4, &sb);
    CHECK_STR(sb.data, "b\"it's\"");
    moth_sb_free(&sb);
}

/* The text of obj, checked against `want`. */
#define CHECK_VALUE(obj, want)                                      \
    do {                                                            \
        char *got_ = moth_value_repr(&T, (obj), NULL);              \
        CHECK_STR(got_, want);                                      \
        free(got_);                                                 \
    } while (0)

static void values_on(const moth_py_layout *layout)
{
    target_open(layout);
    const moth_known_objects *k = &T.known;
    CHECK_VALUE(k->none, "None");
    CHECK_VALUE(k->true_obj, "True");
    CHECK_VALUE(k->false_obj, "False");
    CHECK_VALUE(mk_small(0), "0");
    CHECK_VALUE(mk_small(-1), "-1");
    CHECK_VALUE(mk_small(1ll << 40), "1099511627776");
    CHECK_VALUE(mk_int(INTS[1].negative, INTS[1].digits, INTS[1].n), INTS[1].decimal);
    CHECK_VALUE(mk_float(0.1), "0.1");
    CHECK_VALUE(mk_float(-1e300), "-1e+300");
    const uint32_t word[] = {'h', 0xe9, 0x1f600, '\''};
    CHECK_VALUE(mk_str(word, 4), "\"h\xc3\xa9\xf0\x9f\x98\x80'\"");
    CHECK_VALUE(mk_text(""), "''");
    CHECK_VALUE(mk_bytes("a\0", 2), "b'a\\x00'");
    uint64_t one = mk_small(1), two = mk_small(2);
    uint64_t pair[] = {one, two};
    CHECK_VALUE(mk_tuple(pair, 1), "(1,)");
    CHECK_VALUE(mk_tuple(NULL, 0), "()");
    CHECK_VALUE(mk_list(pair, 2), "[1, 2]");
    uint64_t nested[] = {mk_list(pair, 2), mk_tuple(pair, 2), k->none};
    CHECK_VALUE(mk_list(nested, 3), "[[1, 2], (1, 2), None]");
    uint64_t keys[] = {mk_text("a"), 0, mk_tuple(pair, 2)};
    uint64_t vals[] = {one, two, mk_float(2.5)};
    CHECK_VALUE(mk_dict(keys, vals, 3), "{'a': 1, (1, 2): 2.5}");
    CHECK_VALUE(mk_dict(NULL, NULL, 0), "{}");
    uint64_t slots[8] = {0, one, 1, two, 0, 0, 0, 0};
    CHECK_VALUE(mk_set(k->set_type, slots), "{1, 2}");
    CHECK_VALUE(mk_set(k->frozenset_type, slots), "frozenset({1, 2})");
    uint64_t none_slots[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    CHECK_VALUE(mk_set(k->set_type, none_slots), "set()");
    CHECK_VALUE(mk_set(k->frozenset_type, none_slots), "frozenset()");

    /* Anything else: its type's name and its address. */
    uint64_t foo = new_object(new_type("Foo"), 32);
    char want[64];
    snprintf(want, sizeof want, "<Foo at %#llx>", (unsigned long long)foo);
    CHECK_VALUE(foo, want);

    /* A list that holds itself, and nesting deeper than the limit. */
    uint64_t self = mk_list(pair, 2);
    put64(H.used + HEAP_BASE - 8, self); /* its item array was the last thing allocated */
    CHECK_VALUE(self, "[1, [...]]");
    uint64_t deep = one;
    for (int i = 0; i < 10; i++)
        deep = mk_tuple(&deep, 1);
    CHECK_VALUE(deep, "((((((((" "(...)" ",),),),),),),),)");

    /* Cut after MOTH_VALUE_MAX_CHARS characters, counting characters, not bytes. */
    uint32_t long_text[300];
    for (int i = 0; i < 300; i++)
        long_text[i] = 0xe9;
    char *cut = moth_value_repr(&T, mk_str(long_text, 300), NULL);
    CHECK(cut && strlen(cut) == 1 + 2 * 199 + 3 && cut[0] == '\'' &&
          strcmp(cut + strlen(cut) - 3, "...") == 0);
    free(cut);
    moth_value_limits tight = {5, 8};
    char *small = moth_value_repr(&T, mk_list(nested, 3), &tight);
    CHECK_STR(small, "[[1, ...");
    free(small);
    tight.max_chars = 6;
    small = moth_value_repr(&T, mk_text("abcd"), &tight);
    CHECK_STR(small, "'abcd'"); /* exactly the limit: not cut */
    free(small);

    /* An int too large to be worth its digits: its size. */
    uint64_t huge = new_object(k->int_type, T.L->integer.digit + 4 * 5000);
    put64(huge + T.L->integer.size_or_tag, T.L->integer.tagged ? 5000u << 3 : 5000u);
    put32(huge + T.L->integer.digit + 4 * 4999, 3);
    snprintf(want, sizeof want, "<int of 149972 bits at %#llx>", (unsigned long long)huge);
    CHECK_VALUE(huge, want);
    moth_remote_close(&T);
}

static void test_values_of_every_layout(void)
{
    values_on(&moth_layout_py311);
    values_on(&moth_layout_py312);
    values_on(&moth_layout_py313);
}

/* Unreadable or malformed objects: a placeholder, never a crash. */
static void test_bad_objects(void)
{
    target_open(&moth_layout_py312);
    const moth_known_objects *k = &T.known;
    const moth_py_layout *L = T.L;
    char want[96];
#define CHECK_UNREADABLE(obj)                                                              \
    do {                                                                                   \
        uint64_t obj_ = (obj);                                                             \
        snprintf(want, sizeof want, "<unreadable object at %#llx>", (unsigned long long)obj_); \
        CHECK_VALUE(obj_, want);                                                           \
    } while (0)
    CHECK_UNREADABLE(0);
    CHECK_UNREADABLE(0xdead0000);
    /* A type pointer to something that is not a type, and a type whose name is garbage. */
    CHECK_UNREADABLE(new_object(mk_small(5), 32));
    uint64_t garbage = new_type("x");
    put64(garbage + L->type.name, cstring("\x01\x02"));
    CHECK_UNREADABLE(new_object(garbage, 32));
    put64(garbage + L->type.name, 0xdead0000);
    CHECK_UNREADABLE(new_object(garbage, 32));
    /* An int with a digit of 31 bits, one whose digits run off the heap. */
    uint32_t bad_digit = 1u << 30;
    CHECK_UNREADABLE(mk_int(0, &bad_digit, 1));
    uint64_t runaway = HEAP_BASE + HEAP_SIZE - 64; /* the last bytes of the memory */
    put64(runaway + 8, k->int_type);
    put64(runaway + L->integer.size_or_tag, 1000u << 3);
    CHECK_UNREADABLE(runaway);
    put64(runaway + L->integer.size_or_tag, 100000u << 3);
    CHECK_UNREADABLE(runaway);
    /* A list with a negative size, one with no item array, a tuple whose items are cut off. */
    uint64_t list = mk_list(NULL, 0);
    put64(list + L->list.size, (uint64_t)-3);
    CHECK_UNREADABLE(list);
    put64(list + L->list.size, 2);
    put64(list + L->list.item, 0);
    CHECK_UNREADABLE(list);
    put64(list + L->list.item, 0xdead0000);
    snprintf(want, sizeof want, "[<unreadable object at 0xdead0000>]");
    CHECK_VALUE(list, want);
    /* Strings and bytes with impossible lengths or kinds. */
    uint64_t s = mk_text("abc");
    put64(s + L->unicode.length, (uint64_t)-1);
    CHECK_UNREADABLE(s);
    put64(s + L->unicode.length, 3);
    put32(s + L->unicode.state, 3u << L->unicode.kind_shift);
    CHECK_UNREADABLE(s);
    uint64_t b = mk_bytes("ab", 2);
    put64(b + L->bytes.size, (uint64_t)-5);
    CHECK_UNREADABLE(b);
    uint64_t end = HEAP_BASE + HEAP_SIZE - 40;
    put64(end + 8, k->bytes_type);
    put64(end + L->bytes.size, 100);
    CHECK_UNREADABLE(end);
    put64(end + 8, k->str_type);
    CHECK_UNREADABLE(end);
    /* A dict whose keys object is gone, or claims more entries than its size. */
    uint64_t d = mk_dict(NULL, NULL, 0);
    put64(d + L->dict.keys, 0xdead0000);
    CHECK_UNREADABLE(d);
    uint64_t one = mk_small(1);
    uint64_t keys[] = {one}, vals[] = {one};
    d = mk_dict(keys, vals, 1);
    uint64_t k_obj;
    memcpy(&k_obj, H.bytes + (d + L->dict.keys - HEAP_BASE), 8);
    put64(k_obj + L->dict.keys_nentries, 9);
    CHECK_UNREADABLE(d);
    /* A set whose mask is not a power of two less one, or whose table is gone. */
    uint64_t slots[8] = {one, 0, 0, 0, 0, 0, 0, 0};
    uint64_t set = mk_set(k->set_type, slots);
    put64(set + L->set.mask, 6);
    CHECK_UNREADABLE(set);
    put64(set + L->set.mask, 7);
    put64(set + L->set.table, 0xdead0000);
    CHECK_VALUE(set, "{<unreadable object at 0xdead0000>}");
    put64(set + L->set.table, 0);
    CHECK_UNREADABLE(set);
    /* A float or a container header cut off by the end of memory. */
    CHECK_UNREADABLE(HEAP_BASE + HEAP_SIZE - 8);
    moth_remote_close(&T);
}

/* A frame of a made-up function f(a, *rest) with a local `c` closed over (a cell) and a free
 * variable `z` whose cell is empty. */
static uint32_t add_code(uint64_t names, uint64_t kinds)
{
    moth_code_cache *c = &T.codes;
    c->items = calloc(1, sizeof *c->items);
    c->count = c->cap = 1;
    moth_rcode *code = &c->items[0];
    code->argcount = 1;
    code->flags = 0x4; /* CO_VARARGS */
    code->nlocalsplus = 4;
    code->localsplusnames_obj = names;
    code->localspluskinds_obj = kinds;
    return 0;
}

/* Drops the names the code entry has read, so that they are read again. */
static void forget_names(void)
{
    moth_rcode *c = &T.codes.items[0];
    for (uint32_t i = 0; c->local_names && i < c->nlocalsplus; i++)
        free(c->local_names[i]);
    free(c->local_names);
    free(c->local_kinds);
    c->local_names = NULL;
    c->local_kinds = NULL;
}

static void test_frame_vars(void)
{
    target_open(&moth_layout_py313);
    const moth_py_layout *L = T.L;
    uint64_t names[] = {mk_text("a"), mk_text("rest"), mk_text("c"), mk_text("z")};
    uint64_t name_tuple = mk_tuple(names, 4);
    uint64_t kinds = mk_bytes("\x20\x20\x40\x80", 4);
    uint64_t empty_cell = new_object(T.known.cell_type, 24);
    uint64_t full_cell = new_object(T.known.cell_type, 24);
    put64(full_cell + L->cell_ref, mk_text("seen"));
    uint64_t frame = alloc(L->frame.localsplus + 4 * 8);
    uint64_t one = mk_small(1);
    put64(frame + L->frame.localsplus, one);
    put64(frame + L->frame.localsplus + 8, mk_tuple(&one, 1));
    put64(frame + L->frame.localsplus + 16, full_cell);
    put64(frame + L->frame.localsplus + 24, empty_cell);
    uint32_t code = add_code(name_tuple, kinds);

    moth_dump_frame f;
    memset(&f, 0, sizeof f);
    CHECK(moth_dump_frame_vars(&T, frame, code, &f) == 0);
    CHECK(!f.vars_error);
    CHECK_EQ_U(f.nvars, 3);
    if (f.nvars == 3) {
        CHECK_STR(f.vars[0].name, "a");
        CHECK_STR(f.vars[0].value, "1");
        CHECK(f.vars[0].is_arg);
        CHECK_STR(f.vars[1].name, "rest");
        CHECK_STR(f.vars[1].value, "(1,)");
        CHECK(f.vars[1].is_arg);
        CHECK_STR(f.vars[2].name, "c");
        CHECK_STR(f.vars[2].value, "'seen'");
        CHECK(!f.vars[2].is_arg);
    }

    /* Rendered: arguments, then locals; JSON lists them in order. */
    moth_dump d;
    memset(&d, 0, sizeof d);
    moth_dump_thread *th = moth_dump_add_thread(&d);
    moth_dump_frame *df = moth_dump_add_frame(th);
    *df = f;
    df->file = strdup("f.py");
    df->func = strdup("f");
    df->qualname = strdup("f");
    df->line = 3;
    moth_dump_frame *bad = moth_dump_add_frame(th);
    bad->file = strdup("g.py");
    bad->func = strdup("g");
    bad->qualname = strdup("g");
    bad->line = 9;
    /* Its names cannot be read: the frame says so. */
    forget_names();
    T.codes.items[0].localsplusnames_obj = 0xdead0000;
    CHECK(moth_dump_frame_vars(&T, frame, code, bad) == 0);
    CHECK(bad->vars_error && bad->nvars == 0);
    moth_dump_opts o = {.locals = 1};
    moth_sb out = MOTH_SB_INIT;
    moth_dump_render_text(&d, &o, 0, &out);
    CHECK(strstr(out.data, "  File \"f.py\", line 3, in f\n"
                           "      Arguments:\n"
                           "        a = 1\n"
                           "        rest = (1,)\n"
                           "      Locals:\n"
                           "        c = 'seen'\n"
                           "  File \"g.py\", line 9, in g\n"
                           "      (its variables could not be read)\n") != NULL);
    moth_sb_clear(&out);
    moth_dump_render_json(&d, &out);
    CHECK(strstr(out.data, "\"variables\": [{\"name\": \"a\", \"value\": \"1\", \"argument\": "
                           "true}, {\"name\": \"rest\", \"value\": \"(1,)\", \"argument\": "
                           "true}, {\"name\": \"c\", \"value\": \"'seen'\", \"argument\": "
                           "false}]}") != NULL);
    CHECK(strstr(out.data, "\"variables\": [], \"variables_unreadable\": true}") != NULL);
    moth_sb_free(&out);

    /* The kinds are not a bytes object of the right length; the frame's slots are gone; the
     * code index is out of range. */
    moth_dump_frame g;
    memset(&g, 0, sizeof g);
    T.codes.items[0].localsplusnames_obj = name_tuple;
    T.codes.items[0].localspluskinds_obj = mk_bytes("\x20", 1);
    forget_names();
    CHECK(moth_dump_frame_vars(&T, frame, code, &g) == 0 && g.vars_error);
    T.codes.items[0].localspluskinds_obj = kinds;
    forget_names();
    g.vars_error = 0;
    CHECK(moth_dump_frame_vars(&T, 0xdead0000, code, &g) == 0 && g.vars_error);
    g.vars_error = 0;
    CHECK(moth_dump_frame_vars(&T, frame, 7, &g) == 0 && g.vars_error);
    CHECK_EQ_U(g.nvars, 0);
    moth_dump_free(&d);
    moth_remote_close(&T);
}

int main(void)
{
    H.bytes = calloc(1, HEAP_SIZE);
    RUN(test_double_repr);
    RUN(test_bigint_repr);
    RUN(test_str_repr);
    RUN(test_values_of_every_layout);
    RUN(test_bad_objects);
    RUN(test_frame_vars);
    free(H.bytes);
    return check_summary();
}
