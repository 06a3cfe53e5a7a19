/* Unit tests of core/drift.h: the recording cost's factor through a run, window by window. */
#include "drift.h"
#include "check.h"

static moth_drift_reading at(uint64_t run, uint64_t wait, int exact, uint64_t probe)
{
    moth_drift_reading r = {run, wait, exact, probe};
    return r;
}

static void test_a_quiet_run_keeps_the_calibration(void)
{
    moth_drift d = {0};
    CHECK(moth_drift_factor(&d) == 1.0);          /* nothing closed yet */
    moth_drift_reading r = at(1000, 0, 1, 600);
    moth_drift_window(&d, 50, &r, 600, 1);        /* opens the first window: its calls count not */
    CHECK_EQ_U(d.calls, 0);
    r = at(11000000, 0, 1, 600);
    moth_drift_window(&d, 1000, &r, 600, 1);
    CHECK_EQ_U(d.calls, 1000);
    CHECK_NEAR(moth_drift_factor(&d), 1.0, 1e-12);
}

static void test_waiting_for_a_cpu_and_a_slower_cpu_weigh_by_calls(void)
{
    moth_drift d = {0};
    moth_drift_reading r = at(0 + 1, 0, 1, 600);
    moth_drift_window(&d, 0, &r, 600, 1);
    /* 10 ms on the CPU, 30 ms waiting for one: each call's recording took 4x as much wall time */
    r = at(10000001, 30000000, 1, 600);
    moth_drift_window(&d, 1000, &r, 600, 1);
    CHECK_NEAR(moth_drift_factor(&d), 4.0, 1e-9);
    /* then 3000 calls at full speed but on a CPU 1.5x slower than at calibration; the probe of
     * an earlier, faster window still counts (fastest of the last four) */
    r = at(20000001, 30000000, 1, 900);
    moth_drift_window(&d, 3000, &r, 600, 1);
    CHECK_NEAR(moth_drift_factor(&d), (1000 * 4.0 + 3000 * 1.0) / 4000, 1e-9);
    for (int i = 0; i < 4; i++) {
        r = at(30000001 + 10000000ull * (uint64_t)i, 30000000, 1, 900);
        moth_drift_window(&d, 1000, &r, 600, 1);
    }
    /* two more windows still see a fast probe among the last four; the last two do not: 1.5 */
    CHECK_NEAR(moth_drift_factor(&d),
               (1000 * 4.0 + 3000 * 1.0 + 2000 * 1.0 + 2000 * 1.5) / 8000, 1e-9);
}

static void test_ceilings_and_other_clocks(void)
{
    moth_drift d = {0};
    moth_drift_reading r = at(1, 0, 0, 0);
    moth_drift_window(&d, 0, &r, 0, 1);
    /* without the scheduler's counts, a mostly asleep window is not taken at its word */
    r = at(1000001, 99000000, 0, 0);
    moth_drift_window(&d, 10, &r, 0, 1);
    CHECK_NEAR(moth_drift_factor(&d), MOTH_DRIFT_MAX_WAIT_INEXACT, 1e-12);
    moth_drift e = {0};
    r = at(1, 0, 1, 6000);
    moth_drift_window(&e, 0, &r, 600, 0);
    /* the thread's CPU time as the profile's clock: waits are in no time it measured; a CPU
     * ten times slower than at calibration is taken as twice as slow at most */
    r = at(1000001, 99000000, 1, 6000);
    moth_drift_window(&e, 10, &r, 600, 0);
    CHECK_NEAR(moth_drift_factor(&e), MOTH_DRIFT_MAX_SPEED, 1e-12);
    /* a window with no calls, or no CPU time, changes nothing */
    r = at(1000001, 99000000, 1, 600);
    moth_drift_window(&e, 0, &r, 600, 0);
    moth_drift_window(&e, 5, &r, 600, 0);
    CHECK_EQ_U(e.calls, 10);
}

static void test_the_probe_takes_time(void)
{
    uint64_t a = moth_drift_probe(), b = moth_drift_probe();
    CHECK(a > 0 && b > 0);
}

int main(void)
{
    RUN(test_a_quiet_run_keeps_the_calibration);
    RUN(test_waiting_for_a_cpu_and_a_slower_cpu_weigh_by_calls);
    RUN(test_ceilings_and_other_clocks);
    RUN(test_the_probe_takes_time);
    return check_summary();
}
