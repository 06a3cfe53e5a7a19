/* The marshal writer: the bytes CPython's marshal writes for the same values (its FLAG_REF bit
 * aside, which only marks objects for sharing), and every value read back by the reader. */
#include "check.h"
#include "marshal.h"

#include <stdint.h>
#include <stdlib.h>

#define BYTES(s) (s), sizeof(s) - 1

static int written_as(void (*write)(moth_sb *, void *), void *value, const char *expect,
                      size_t len)
{
    moth_sb out = MOTH_SB_INIT;
    write(&out, value);
    int same = out.len == len && memcmp(out.data, expect, len) == 0;
    if (!same) {
        fprintf(stderr, "wrote %zu bytes:", out.len);
        for (size_t i = 0; i < out.len; i++)
            fprintf(stderr, " %02x", (unsigned char)out.data[i]);
        fprintf(stderr, "\n");
    }
    moth_sb_free(&out);
    return same;
}

static void put_int(moth_sb *out, void *v) { moth_marshal_int(out, *(int64_t *)v); }
static void put_uint(moth_sb *out, void *v) { moth_marshal_uint(out, *(uint64_t *)v); }
static void put_float(moth_sb *out, void *v) { moth_marshal_float(out, *(double *)v); }
static void put_str(moth_sb *out, void *v) { moth_marshal_str(out, (const char *)v); }

/* python3 -c "import marshal; print(marshal.dumps(V))", first byte's 0x80 cleared */
static void test_bytes_are_cpythons(void)
{
    int64_t i;
    uint64_t u;
    double d;
    i = 5;
    CHECK(written_as(put_int, &i, BYTES("i\x05\x00\x00\x00")));
    i = -2;
    CHECK(written_as(put_int, &i, BYTES("i\xfe\xff\xff\xff")));
    i = INT64_C(2147483648);
    CHECK(written_as(put_int, &i, BYTES("l\x03\x00\x00\x00\x00\x00\x00\x00\x02\x00")));
    i = -INT64_C(2147483649);
    CHECK(written_as(put_int, &i, BYTES("l\xfd\xff\xff\xff\x01\x00\x00\x00\x02\x00")));
    i = INT64_C(4611686018427387904);
    CHECK(written_as(put_int, &i, BYTES("l\x05\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00")));
    i = -INT64_C(4611686018427387904);
    CHECK(written_as(put_int, &i, BYTES("l\xfb\xff\xff\xff\x00\x00\x00\x00\x00\x00\x00\x00\x04\x00")));
    i = INT64_MAX;
    CHECK(written_as(put_int, &i, BYTES("l\x05\x00\x00\x00\xff\x7f\xff\x7f\xff\x7f\xff\x7f\x07\x00")));
    i = -INT64_MAX;
    CHECK(written_as(put_int, &i, BYTES("l\xfb\xff\xff\xff\xff\x7f\xff\x7f\xff\x7f\xff\x7f\x07\x00")));
    u = 7;
    CHECK(written_as(put_uint, &u, BYTES("i\x07\x00\x00\x00")));
    u = UINT64_C(2147483648);
    CHECK(written_as(put_uint, &u, BYTES("l\x03\x00\x00\x00\x00\x00\x00\x00\x02\x00")));
    d = 1.5;
    CHECK(written_as(put_float, &d, BYTES("g\x00\x00\x00\x00\x00\x00\xf8?")));
    CHECK(written_as(put_str, "f.py", BYTES("z\x04" "f.py")));
    CHECK(written_as(put_str, "\xc3\xa9", BYTES("u\x02\x00\x00\x00\xc3\xa9")));
}

/* A tuple of every kind of value, long texts and a tuple of 300 items, written and read. */
static void test_round_trip(void)
{
    static const int64_t ints[] = {0, 1, -1, INT32_MAX, INT32_MIN, (int64_t)INT32_MAX + 1,
                                   (int64_t)INT32_MIN - 1, INT64_C(1) << 45, -(INT64_C(1) << 50),
                                   INT64_MAX, -INT64_MAX};
    const size_t nints = sizeof ints / sizeof ints[0];
    char long_text[400];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    moth_sb out = MOTH_SB_INIT;
    moth_marshal_tuple(&out, nints + 5);
    for (size_t k = 0; k < nints; k++)
        moth_marshal_int(&out, ints[k]);
    moth_marshal_uint(&out, (uint64_t)INT64_MAX);
    moth_marshal_none(&out);
    moth_marshal_str(&out, long_text);
    moth_marshal_tuple(&out, 300);
    for (int k = 0; k < 300; k++)
        moth_marshal_float(&out, k * 0.25);
    moth_marshal_dict_begin(&out);
    moth_marshal_str(&out, "k");
    moth_marshal_int(&out, -3);
    moth_marshal_dict_end(&out);
    CHECK(!out.failed);

    moth_mread r;
    moth_error err;
    CHECK(moth_marshal_read(&r, out.data, out.len, "test", &err) == 0);
    const moth_mvalue *top = moth_mread_value(&r, r.root);
    CHECK(top->type == MOTH_MV_TUPLE && top->n == nints + 5);
    for (size_t k = 0; k < nints; k++) {
        const moth_mvalue *v = moth_mread_kid(&r, top, (uint32_t)k);
        CHECK(v->type == MOTH_MV_INT && v->u.i == ints[k]);
    }
    CHECK(moth_mread_kid(&r, top, (uint32_t)nints)->u.i == INT64_MAX);
    CHECK(moth_mread_kid(&r, top, (uint32_t)nints + 1)->type == MOTH_MV_NONE);
    const moth_mvalue *s = moth_mread_kid(&r, top, (uint32_t)nints + 2);
    CHECK(s->type == MOTH_MV_STR && s->n == sizeof long_text - 1);
    const moth_mvalue *t = moth_mread_kid(&r, top, (uint32_t)nints + 3);
    CHECK(t->type == MOTH_MV_TUPLE && t->n == 300 && moth_mread_kid(&r, t, 299)->u.f == 74.75);
    const moth_mvalue *dict = moth_mread_kid(&r, top, (uint32_t)nints + 4);
    CHECK(dict->type == MOTH_MV_DICT && dict->n == 1 && moth_mread_kid(&r, dict, 1)->u.i == -3);
    moth_mread_free(&r);
    moth_sb_free(&out);
}

int main(void)
{
    RUN(test_bytes_are_cpythons);
    RUN(test_round_trip);
    return check_summary();
}
