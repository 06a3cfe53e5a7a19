/* Fuzz target: the core file reader (notes, threads, mapped files, segments, memory of the core
 * itself, build ids from its pages, maps) on any bytes. Must never crash or read out of bounds.
 * The files a core names are not opened here: their paths come from the input. */
#include "corefile.h"

#include <elf.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moth_core c;
    moth_error err;
    if (moth_core_from_buffer(&c, data, size, "fuzz", &err) < 0)
        return 0;
    uint8_t buf[256], id[64];
    for (size_t i = 0; i < c.nthreads; i++) {
        uint64_t sp = moth_core_sp(&c, &c.threads[i]);
        moth_core_read_dumped(&c, sp, buf, sizeof buf);
        moth_core_read_dumped(&c, moth_core_pc(&c, &c.threads[i]) + moth_core_fp(&c, &c.threads[i]),
                              buf, 8);
    }
    for (size_t i = 0; i < c.nsegments; i++) {
        moth_core_read_dumped(&c, c.segments[i].vaddr, buf, sizeof buf);
        moth_core_read_dumped(&c, c.segments[i].vaddr + c.segments[i].filesz - 4, buf, 8);
    }
    for (uint32_t i = 0; i < c.nfiles; i++)
        moth_core_build_id(&c, i, id, sizeof id);
    moth_core_auxv(&c, AT_ENTRY);
    char line[64];
    moth_core_command_line(&c, line, sizeof line);
    moth_maps m = MOTH_MAPS_INIT;
    moth_core_maps(&c, &m, &err);
    moth_maps_free(&m);
    moth_core_close(&c);
    return 0;
}
