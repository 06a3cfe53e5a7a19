/* Fuzz target: the ELF reader (headers, sections, symbol tables, notes, build id) on any
 * bytes. Must never crash or read out of bounds. */
#include "elffile.h"

#include <stddef.h>
#include <stdint.h>

static int count_note(void *ctx, uint32_t type, const char *name, size_t name_len,
                      const uint8_t *desc, size_t desc_len)
{
    (void)type;
    size_t *n = ctx;
    *n += name_len + desc_len + (name_len ? (unsigned char)name[0] : 0) +
          (desc_len ? desc[desc_len - 1] : 0);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    moth_elf e;
    moth_error err;
    if (moth_elf_from_buffer(&e, data, size, &err) < 0)
        return 0;
    const char *names[] = {"_PyRuntime", "Py_Version", "main"};
    uint64_t values[3], sizes[3];
    moth_elf_symbols(&e, names, 3, values, sizes, &err);
    const char *name;
    uint64_t off;
    moth_elf_symbolize(&e, values[0] + 1, &name, &off);
    moth_elf_section sec;
    moth_elf_section_named(&e, ".PyRuntime", &sec);
    moth_elf_lowest_load(&e);
    const uint8_t *id;
    size_t id_len;
    moth_elf_build_id(&e, &id, &id_len);
    moth_elf_vaddr_bytes(&e, values[1], 4);
    size_t total = 0;
    for (unsigned i = 0; i < e.phnum; i++) {
        moth_elf_segment seg;
        moth_elf_segment_at(&e, i, &seg);
        moth_elf_notes(&e, &seg, count_note, &total, &err);
    }
    return 0;
}
