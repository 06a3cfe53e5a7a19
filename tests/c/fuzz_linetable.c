/* Fuzz target: location-table decoding and maps-file parsing, both fed bytes from outside. The
 * first byte picks the first line; every code unit's line is asked for. */
#include "linetable.h"
#include "maps.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size)
        return 0;
    int first = data[0];
    for (long unit = -1; unit < (long)size * 8 + 2; unit++)
        moth_linetable_line(data + 1, size - 1, first, unit);
    moth_linetable_last_line(data + 1, size - 1, first);
    moth_maps m = MOTH_MAPS_INIT;
    moth_error err;
    moth_maps_parse(&m, (const char *)data, size, &err);
    for (size_t i = 0; i < m.count; i++)
        moth_maps_find(&m, m.items[i].start);
    moth_maps_find_file(&m, "libpython3*");
    moth_maps_free(&m);
    return 0;
}
