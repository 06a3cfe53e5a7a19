/* memory.c: the memory data of a profile; see memory.h. */
#include "memory.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void moth_memory_init(moth_memory *m)
{
    memset(m, 0, sizeof *m);
}

void moth_memory_free(moth_memory *m)
{
    free(m->rows);
    moth_map_free(&m->row_of);
    free(m->points);
    free(m->changes);
    moth_memory_init(m);
}

int moth_memory_row(moth_memory *m, uint32_t thread, uint32_t node, uint32_t line,
                    uint32_t *row, moth_error *err)
{
    uint64_t a = (uint64_t)thread << 32 | node;
    uint32_t found = moth_map_get(&m->row_of, a, line);
    if (found != MOTH_MAP_ABSENT) {
        *row = found;
        return 0;
    }
    if (m->nrows >= MOTH_MAP_ABSENT - 1)
        return moth_fail(err, "too many memory rows");
    if (moth_grow((void **)&m->rows, sizeof *m->rows, &m->rows_cap, m->nrows + 1, err) < 0 ||
        moth_map_put(&m->row_of, a, line, (uint32_t)m->nrows, err) < 0)
        return -1;
    moth_mem_row *r = &m->rows[m->nrows];
    memset(r, 0, sizeof *r);
    r->thread = thread;
    r->node = node;
    r->line = line;
    *row = (uint32_t)m->nrows++;
    m->recorded = 1;
    return 0;
}

static void add_values(moth_mem_row *r, const moth_mem_row *add)
{
    r->peak_bytes += add->peak_bytes;
    r->leaked_bytes += add->leaked_bytes;
    r->alloc_bytes += add->alloc_bytes;
    r->peak_count += add->peak_count;
    r->leaked_count += add->leaked_count;
    r->alloc_count += add->alloc_count;
}

void moth_memory_add(moth_memory *m, uint32_t row, const moth_mem_row *add)
{
    add_values(&m->rows[row], add);
}

int moth_memory_add_point(moth_memory *m, double time, uint64_t bytes, uint64_t high,
                          moth_error *err)
{
    if (moth_grow((void **)&m->points, sizeof *m->points, &m->points_cap, m->npoints + 1,
                  err) < 0)
        return -1;
    m->points[m->npoints++] = (moth_mem_point){time, bytes, high, m->nchanges};
    m->recorded = 1;
    return 0;
}

int moth_memory_add_change(moth_memory *m, uint32_t row, uint64_t bytes, moth_error *err)
{
    if (moth_grow((void **)&m->changes, sizeof *m->changes, &m->changes_cap, m->nchanges + 1,
                  err) < 0)
        return -1;
    m->changes[m->nchanges++] = (moth_mem_change){row, bytes};
    return 0;
}

void moth_memory_totals(const moth_memory *m, moth_mem_row *sum)
{
    memset(sum, 0, sizeof *sum);
    for (size_t i = 0; i < m->nrows; i++)
        add_values(sum, &m->rows[i]);
}

int moth_parse_bytes(const char *text, uint64_t *bytes, moth_error *err)
{
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    char *end;
    double v = strtod(p, &end);
    if (end == p || !(v >= 0) || isinf(v))
        return moth_fail(err, "'%s' is not a size (say 24 MB, 512 KiB or 1000000)", text);
    while (isspace((unsigned char)*end))
        end++;
    static const struct {
        const char *unit;
        double scale;
    } UNITS[] = {{"", 1},           {"b", 1},
                 {"k", 1024.0},     {"kb", 1024.0},     {"kib", 1024.0},
                 {"m", 1048576.0},  {"mb", 1048576.0},  {"mib", 1048576.0},
                 {"g", 1073741824.0}, {"gb", 1073741824.0}, {"gib", 1073741824.0},
                 {"t", 1099511627776.0}, {"tb", 1099511627776.0}, {"tib", 1099511627776.0}};
    size_t n = strlen(end);
    while (n && isspace((unsigned char)end[n - 1]))
        n--;
    for (size_t i = 0; i < sizeof UNITS / sizeof UNITS[0]; i++) {
        if (strlen(UNITS[i].unit) == n && strncasecmp(end, UNITS[i].unit, n) == 0) {
            double b = v * UNITS[i].scale;
            if (b >= 18446744073709551615.0)
                return moth_fail(err, "'%s' is too large", text);
            *bytes = (uint64_t)(b + 0.5);
            return 0;
        }
    }
    return moth_fail(err, "'%s' is not a size (units: B, KB, MB, GB, TB; KiB... too)", text);
}

void moth_format_bytes(char *buf, size_t size, double bytes)
{
    static const char *UNITS[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = bytes < 0 ? -bytes : bytes;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (bytes < 0)
        v = -v;
    if (u == 0)
        snprintf(buf, size, "%.0f B", v);
    else
        snprintf(buf, size, "%.1f %s", v, UNITS[u]);
}
