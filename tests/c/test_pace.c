/* test_pace.c: the sampler's round deadlines (moth_pace, sampler.c), on made-up clock readings:
 * rounds fall due at fixed deadlines, and a sampler that fell behind skips the rounds it
 * missed, counted, instead of taking them in a burst. */
#include "check.h"
#include "sampler.h"

static void test_rounds_fall_due_at_their_deadlines(void)
{
    moth_pace p;
    moth_pace_start(&p, 1000.0, 10.0); /* 1 kHz from t = 10 s */
    CHECK_EQ_U(moth_pace_due(&p, 10.0), 0);      /* the first round at once */
    CHECK_NEAR(p.next, 10.001, 1e-12);
    CHECK(moth_pace_due(&p, 10.0005) < 0);       /* not yet: it says when */
    CHECK_NEAR(p.next, 10.001, 1e-12);
    CHECK_EQ_U(moth_pace_due(&p, 10.0012), 0);   /* a little late: on time, no round missed */
    CHECK_NEAR(p.next, 10.002, 1e-12);           /* the deadlines do not drift with lateness */
}

static void test_a_sampler_behind_skips_the_missed_rounds(void)
{
    moth_pace p;
    moth_pace_start(&p, 100.0, 0.0);
    CHECK_EQ_U(moth_pace_due(&p, 0.0), 0);
    /* Woken 55 ms late for the round due at 10 ms: rounds at 10..50 ms missed, 60 ms taken. */
    CHECK_EQ_U(moth_pace_due(&p, 0.065), 5);
    CHECK_NEAR(p.next, 0.07, 1e-12);
    CHECK(moth_pace_due(&p, 0.066) < 0);
    CHECK_EQ_U(moth_pace_due(&p, 0.07), 0);
}

int main(void)
{
    RUN(test_rounds_fall_due_at_their_deadlines);
    RUN(test_a_sampler_behind_skips_the_missed_rounds);
    return check_summary();
}
