/* check.h: a minimal harness for the C unit tests of csrc/core. A test file defines test
 * functions, lists them in main with RUN(name), and returns check_summary(). */
#ifndef MOTH_CHECK_H
#define MOTH_CHECK_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int check_failures, check_count;

#define CHECK(cond)                                                                    \
    do {                                                                               \
        check_count++;                                                                 \
        if (!(cond)) {                                                                 \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
        }                                                                              \
    } while (0)

#define CHECK_EQ_U(a, b)                                                               \
    do {                                                                               \
        unsigned long long a_ = (unsigned long long)(a), b_ = (unsigned long long)(b); \
        check_count++;                                                                 \
        if (a_ != b_) {                                                                \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s == %llu, expected %s == %llu\n", __FILE__,      \
                    __LINE__, #a, a_, #b, b_);                                         \
        }                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                \
    do {                                                                               \
        const char *a_ = (a), *b_ = (b);                                               \
        check_count++;                                                                 \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                       \
            check_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s:\n---got---\n%s\n---expected---\n%s\n",        \
                    __FILE__, __LINE__, #a, a_ ? a_ : "(null)", b_ ? b_ : "(null)");   \
        }                                                                              \
    } while (0)

#define CHECK_NEAR(a, b, eps) CHECK(fabs((double)(a) - (double)(b)) <= (eps))

#define RUN(fn)                                                                        \
    do {                                                                               \
        int before_ = check_failures;                                                  \
        fn();                                                                          \
        printf("%s %s\n", check_failures == before_ ? "ok  " : "FAIL", #fn);            \
    } while (0)

static inline int check_summary(void)
{
    printf("%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
