/*
 * rank_report.h: `moth stats --by-rank`, the spread of each function's time across the ranks
 * of an MPI job (a moth file into which every rank wrote its run).
 *
 * An MPI program runs as fast as its slowest rank: the others wait for it in their collective
 * calls. So for each function the table gives its own time on the fastest, median and slowest
 * rank, and which rank was slowest; above it, each rank's whole time. Processes that are not
 * ranks (none of the file's runs came from MPI) are refused with a message.
 */
#ifndef MOTH_RANK_REPORT_H
#define MOTH_RANK_REPORT_H

#include "profile.h"
#include "strbuf.h"

/* Appends the table of the `limit` functions with the most own time on their slowest rank
 * (0: every one); cumulative: rank by cumulative time instead of own time. -1 with a message
 * when p holds no MPI rank, or out of memory. */
int moth_rank_report(const moth_profile *p, size_t limit, int cumulative, moth_sb *out,
                     moth_error *err);

#endif
