/* clock.c: cycle-counter calibration; see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <string.h>

int moth_cycles_are_wall_clock(void)
{
#if defined(__aarch64__)
    return 1; /* the architected virtual counter runs at a fixed frequency */
#elif MOTH_HAVE_CYCLE_COUNTER
    static int known = -1;
    if (known >= 0)
        return known;
    int constant = 0, nonstop = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[4096];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "flags", 5) != 0)
                continue;
            constant = strstr(line, " constant_tsc") != NULL;
            nonstop = strstr(line, " nonstop_tsc") != NULL;
            break;
        }
        fclose(f);
    }
    known = constant && nonstop;
    return known;
#else
    return 0;
#endif
}

void moth_clock_anchor_now(moth_clock_anchor *a)
{
    /* Read the slower clock between two cycle reads and take their middle; of a few tries,
     * the tightest pair, so that a thread preempted between the reads (a virtual machine's
     * steal) cannot put the anchor off by the time it was away. The error left is half the
     * pair's gap, tens of nanoseconds, which makes a millisecond's span enough for the rate. */
    uint64_t best_gap = UINT64_MAX;
    for (int attempt = 0; attempt < 5; attempt++) {
        uint64_t c0 = moth_cycles();
        uint64_t ns = moth_monotonic_ns();
        uint64_t c1 = moth_cycles();
        if (c1 - c0 < best_gap) {
            best_gap = c1 - c0;
            a->ns = ns;
            a->cycles = c0 + (c1 - c0) / 2;
        }
    }
}

double moth_seconds_per_cycle(const moth_clock_anchor *from, uint64_t min_ns)
{
    moth_clock_anchor now;
    do
        moth_clock_anchor_now(&now);
    while (now.ns - from->ns < min_ns);
    if (now.cycles <= from->cycles)
        return 1e-9;
    return (double)(now.ns - from->ns) * 1e-9 / (double)(now.cycles - from->cycles);
}
