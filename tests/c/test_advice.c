/* Unit tests of the pitfall analysis on hand-made instruction streams (the shapes CPython
 * compiles the patterns to, normalised as bytecode.c does). */
#include "advice.h"
#include "check.h"

#define G(n, l) {MOTH_I_LOAD_GLOBAL, 0, 0, 0, 0, n, l, 0}
#define A(n, l, m) {MOTH_I_LOAD_ATTR, 0, m, 0, 0, n, l, 0}
#define F(n, l) {MOTH_I_LOAD_FAST, 0, 0, 0, 0, n, l, 0}
#define S(n, l) {MOTH_I_STORE_FAST, 0, 0, 0, 0, n, l, 0}
#define K(kind, v, l) {MOTH_I_LOAD_CONST, 0, 0, kind, v, NULL, l, 0}
#define I(kind, arg, l) {kind, arg, 0, 0, 0, NULL, l, 0}
#define BACK(target, l) {MOTH_I_JUMP_BACK, 0, 0, 0, 0, NULL, l, target}

static size_t run(const moth_insn *in, size_t n, const char *const *mods, size_t nmods,
                  moth_findings *f)
{
    moth_code_view v = {in, n, mods, nmods};
    memset(f, 0, sizeof *f);
    CHECK(moth_advise_code(&v, f, NULL) == 0);
    return f->count;
}

static void test_module_attribute_and_its_alias(void)
{
    const char *mods[] = {"math"};
    /* total = 0.0; for x in xs: total += math.sqrt(x) */
    moth_insn slow[] = {
        F("xs", 2), I(MOTH_I_GET_ITER, 0, 2), I(MOTH_I_FOR_ITER, 0, 2), S("x", 2),
        F("total", 3), G("math", 3), A("sqrt", 3, 1), F("x", 3), I(MOTH_I_CALL, 1, 3),
        I(MOTH_I_BINARY_OP, MOTH_OP_INPLACE_ADD, 3), S("total", 3), BACK(2, 3),
    };
    moth_findings f;
    CHECK_EQ_U(run(slow, sizeof slow / sizeof slow[0], mods, 1, &f), 1);
    CHECK(f.items[0].kind == MOTH_PIT_MODULE_ATTR_IN_LOOP);
    CHECK_STR(f.items[0].what, "math.sqrt");
    CHECK_EQ_U(f.items[0].loop_first, 2);
    CHECK_EQ_U(f.items[0].loop_last, 3);
    moth_findings_free(&f);
    /* sqrt = math.sqrt (before the loop); the loop calls the local */
    moth_insn fast[] = {
        G("math", 1), A("sqrt", 1, 0), S("sqrt", 1),
        F("xs", 2), I(MOTH_I_GET_ITER, 0, 2), I(MOTH_I_FOR_ITER, 0, 2), S("x", 2),
        F("total", 3), F("sqrt", 3), F("x", 3), I(MOTH_I_CALL, 1, 3),
        I(MOTH_I_BINARY_OP, MOTH_OP_INPLACE_ADD, 3), S("total", 3), BACK(5, 3),
    };
    CHECK_EQ_U(run(fast, sizeof fast / sizeof fast[0], mods, 1, &f), 0);
    moth_findings_free(&f);
}

static void test_range_len_and_direct_iteration(void)
{
    moth_insn slow[] = {
        G("range", 2), G("len", 2), F("xs", 2), I(MOTH_I_CALL, 1, 2), I(MOTH_I_CALL, 1, 2),
        I(MOTH_I_GET_ITER, 0, 2), I(MOTH_I_FOR_ITER, 0, 2), S("i", 2),
        F("xs", 3), F("i", 3), I(MOTH_I_SUBSCR, 0, 3), S("v", 3), BACK(6, 3),
    };
    moth_findings f;
    CHECK_EQ_U(run(slow, sizeof slow / sizeof slow[0], NULL, 0, &f), 1);
    CHECK(f.items[0].kind == MOTH_PIT_RANGE_LEN);
    CHECK_STR(f.items[0].what, "xs");
    moth_findings_free(&f);
    moth_insn fast[] = {
        F("xs", 2), I(MOTH_I_GET_ITER, 0, 2), I(MOTH_I_FOR_ITER, 0, 2), S("v", 2),
        F("v", 3), S("w", 3), BACK(2, 3),
    };
    CHECK_EQ_U(run(fast, sizeof fast / sizeof fast[0], NULL, 0, &f), 0);
    moth_findings_free(&f);
}

static void test_counter_while_against_for_range(void)
{
    /* i = 0; while i < n: i += 1   (3.12 shape: test at the top, jump back to it) */
    moth_insn slow[] = {
        K(MOTH_CONST_INT, 0, 1), S("i", 1),
        F("i", 2), F("n", 2), I(MOTH_I_COMPARE, 0, 2), I(MOTH_I_OTHER, 0, 2),
        F("i", 3), K(MOTH_CONST_INT, 1, 3), I(MOTH_I_BINARY_OP, MOTH_OP_INPLACE_ADD, 3),
        S("i", 3), BACK(2, 3),
    };
    moth_findings f;
    CHECK_EQ_U(run(slow, sizeof slow / sizeof slow[0], NULL, 0, &f), 1);
    CHECK(f.items[0].kind == MOTH_PIT_COUNTER_WHILE);
    moth_findings_free(&f);
    /* for i in range(n): s += 1  (an increment by one, but a for loop) */
    moth_insn fast[] = {
        G("range", 1), F("n", 1), I(MOTH_I_CALL, 1, 1), I(MOTH_I_GET_ITER, 0, 1),
        I(MOTH_I_FOR_ITER, 0, 1), S("i", 1),
        F("s", 2), K(MOTH_CONST_INT, 1, 2), I(MOTH_I_BINARY_OP, MOTH_OP_INPLACE_ADD, 2),
        S("s", 2), BACK(4, 2),
    };
    CHECK_EQ_U(run(fast, sizeof fast / sizeof fast[0], NULL, 0, &f), 0);
    moth_findings_free(&f);
}

static void test_string_concat_only_for_strings(void)
{
    moth_insn slow[] = {
        K(MOTH_CONST_STR, 0, 1), S("s", 1), F("xs", 2), I(MOTH_I_GET_ITER, 0, 2),
        I(MOTH_I_FOR_ITER, 0, 2), S("x", 2), F("s", 3), F("x", 3),
        I(MOTH_I_BINARY_OP, MOTH_OP_INPLACE_ADD, 3), S("s", 3), BACK(4, 3),
    };
    moth_findings f;
    CHECK_EQ_U(run(slow, sizeof slow / sizeof slow[0], NULL, 0, &f), 1);
    CHECK(f.items[0].kind == MOTH_PIT_STRING_CONCAT);
    moth_findings_free(&f);
    moth_insn number = slow[0];
    number.const_kind = MOTH_CONST_INT; /* s = 0: a number, not a string */
    moth_insn fast[sizeof slow / sizeof slow[0]];
    memcpy(fast, slow, sizeof slow);
    fast[0] = number;
    CHECK_EQ_U(run(fast, sizeof fast / sizeof fast[0], NULL, 0, &f), 0);
    moth_findings_free(&f);
}

static void test_append_loop_and_comprehension(void)
{
    moth_insn slow[] = {
        I(MOTH_I_BUILD_LIST, 0, 1), S("out", 1), F("xs", 2), I(MOTH_I_GET_ITER, 0, 2),
        I(MOTH_I_FOR_ITER, 0, 2), S("x", 2), F("out", 3), A("append", 3, 1), F("x", 3),
        I(MOTH_I_CALL, 1, 3), I(MOTH_I_POP_TOP, 0, 3), BACK(4, 3),
    };
    moth_findings f;
    CHECK_EQ_U(run(slow, sizeof slow / sizeof slow[0], NULL, 0, &f), 1);
    CHECK(f.items[0].kind == MOTH_PIT_APPEND_LOOP);
    moth_findings_free(&f);
    /* the loop also stores something else: a comprehension would not fit as is */
    moth_insn busy[] = {
        I(MOTH_I_BUILD_LIST, 0, 1), S("out", 1), F("xs", 2), I(MOTH_I_GET_ITER, 0, 2),
        I(MOTH_I_FOR_ITER, 0, 2), S("x", 2), F("x", 3), S("last", 3), F("out", 4),
        A("append", 4, 1), F("x", 4), I(MOTH_I_CALL, 1, 4), I(MOTH_I_POP_TOP, 0, 4), BACK(4, 4),
    };
    CHECK_EQ_U(run(busy, sizeof busy / sizeof busy[0], NULL, 0, &f), 0);
    moth_findings_free(&f);
}

static void test_expected_saving(void)
{
    /* a counter loop at 45 ns per iteration, 15 ns as for-in-range: 30 ns saved per iteration */
    moth_shape_cost c = {45.0, 15.0};
    CHECK_NEAR(moth_advice_saving(1.0, 1000000, &c), 0.030, 1e-12);
    /* never more than the shape's share of the loop's time: 2/3 of 0.02 s */
    CHECK_NEAR(moth_advice_saving(0.02, 1000000, &c), 0.02 * (1 - 15.0 / 45.0), 1e-12);
    /* nothing when the rewrite is not faster here, or nothing was measured */
    moth_shape_cost same = {20.0, 20.0}, slower = {10.0, 12.0}, nan = {NAN, 1.0};
    CHECK(moth_advice_saving(1.0, 1000, &same) == 0);
    CHECK(moth_advice_saving(1.0, 1000, &slower) == 0);
    CHECK(moth_advice_saving(1.0, 1000, &nan) == 0);
    CHECK(moth_advice_saving(0.0, 1000, &c) == 0);
    CHECK_NEAR(moth_shape_speedup(&c), 3.0, 1e-12);
    moth_shape_cost unknown = {20.0, 0.0};
    CHECK(moth_shape_speedup(&unknown) == 1.0);
}

int main(void)
{
    RUN(test_expected_saving);
    RUN(test_module_attribute_and_its_alias);
    RUN(test_range_len_and_direct_iteration);
    RUN(test_counter_while_against_for_range);
    RUN(test_string_concat_only_for_strings);
    RUN(test_append_loop_and_comprehension);
    return check_summary();
}
