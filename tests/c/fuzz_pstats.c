/* Fuzz target: the pstats file reader (marshal parsing, validation), then everything that
 * reads a view: totals, sorting, strip_dirs and the three reports. Must never crash, leak or
 * read out of bounds, whatever the bytes. */
#include "pstats.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moth_pstats s;
    moth_pstats_init(&s);
    moth_error err;
    if (moth_pstats_read(&s, data, size, &err) == 0) {
        moth_report_opts o;
        memset(&o, 0, sizeof o);
        const char *keys[] = {"stdname"};
        moth_sort_spec_parse(&o.sort, keys, 1, &err);
        o.sorted = 1;
        o.restrictions[0].kind = MOTH_RESTRICT_COUNT;
        o.restrictions[0].count = 20;
        o.nrestrictions = 1;
        moth_sb out = MOTH_SB_INIT;
        moth_report_stats(&s, &o, &out, &err);
        moth_report_callers(&s, &o, &out, &err);
        moth_report_callees(&s, &o, &out, &err);
        moth_pstats_strip_dirs(&s, &err);
        moth_report_stats(&s, &o, &out, &err);
        moth_sb_free(&out);
        moth_sb again = MOTH_SB_INIT;
        moth_pstats_write(&s, &again, &err);
        moth_sb_free(&again);
    }
    moth_pstats_free(&s);
    return 0;
}
