/*
 * elffile.h: reading 64-bit little-endian ELF files: executables, shared libraries and core files.
 *
 * The file is treated as hostile (a core of a crashed program, a binary on a broken disk):
 * every header, table and string is bounds-checked against the buffer before use, and
 * anything malformed is an error that says what is wrong. Reads are served from one buffer,
 * the file mapped read-only (moth_elf_open) or memory the caller owns (moth_elf_from_buffer,
 * which the fuzz target uses).
 */
#ifndef MOTH_ELFFILE_H
#define MOTH_ELFFILE_H

#include "common.h"

typedef struct moth_elf {
    const uint8_t *data;
    size_t size;
    int mapped;              /* data is our mmap of the file (unmapped by moth_elf_close) */
    uint16_t type;           /* ET_EXEC, ET_DYN, ET_CORE */
    uint64_t phoff, shoff;   /* header tables, already checked to lie in the file */
    uint16_t phnum, shnum;
    const uint8_t *shstrtab; /* section names, or NULL when there are no sections */
    size_t shstrtab_size;
} moth_elf;

typedef struct moth_elf_section {
    const char *name;
    uint32_t type;
    uint64_t addr, offset, size, entsize;
    uint32_t link;
} moth_elf_section;

typedef struct moth_elf_segment {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz;
} moth_elf_segment;

/* Maps the file read-only. Errors: missing, unreadable, not ELF, not 64-bit x86-64/aarch64
 * little-endian, truncated tables. */
int moth_elf_open(moth_elf *e, const char *path, moth_error *err);
/* Reads the ELF in data[0, size) (kept, not copied). */
int moth_elf_from_buffer(moth_elf *e, const void *data, size_t size, moth_error *err);
void moth_elf_close(moth_elf *e);

/* Program header i (0 <= i < phnum). */
void moth_elf_segment_at(const moth_elf *e, unsigned i, moth_elf_segment *out);
/* Section header i (0 <= i < shnum); its name "" when unnamed or out of bounds. */
void moth_elf_section_at(const moth_elf *e, unsigned i, moth_elf_section *out);
/* The first section with this name; 0 when found, -1 when absent (err not touched). */
int moth_elf_section_named(const moth_elf *e, const char *name, moth_elf_section *out);

/* The page-aligned lowest virtual address of the PT_LOAD segments (0 when there are none). */
uint64_t moth_elf_lowest_load(const moth_elf *e);

/* Looks up `count` symbols by name in the dynamic symbol table and then the full one (when
 * not stripped). values[i] receives the symbol's value (a virtual address) or 0 when absent,
 * sizes[i] (when sizes is not NULL) its size. Returns how many were found, or -1 when a symbol
 * table is malformed. */
int moth_elf_symbols(const moth_elf *e, const char *const *names, size_t count,
                     uint64_t *values, uint64_t *sizes, moth_error *err);

/* Finds the symbol covering addr (a virtual address): its name and addr - value, from the
 * full table else the dynamic one. 0 when found. The name points into the file. */
int moth_elf_symbolize(const moth_elf *e, uint64_t addr, const char **name, uint64_t *offset);

/* The bytes of the file backing [vaddr, vaddr + len) of a PT_LOAD segment (in its file part),
 * or NULL. */
const uint8_t *moth_elf_vaddr_bytes(const moth_elf *e, uint64_t vaddr, size_t len);

/* The GNU build id (from a PT_NOTE of type NT_GNU_BUILD_ID): *id points into the file and
 * *len is its length; -1 when absent. */
int moth_elf_build_id(const moth_elf *e, const uint8_t **id, size_t *len);

/* Walks the notes of segment seg; `visit` returns nonzero to stop (that value is returned).
 * Returns 0 after the last note, -1 when the notes are malformed (err set). */
typedef int (*moth_elf_note_fn)(void *ctx, uint32_t type, const char *name, size_t name_len,
                                const uint8_t *desc, size_t desc_len);
int moth_elf_notes(const moth_elf *e, const moth_elf_segment *seg, moth_elf_note_fn visit,
                   void *ctx, moth_error *err);

#endif
