/* elffile.c: a bounds-checked reader of 64-bit ELF files; see elffile.h. */
#include "elffile.h"

#include <elf.h>
#include <string.h>

#include "mapfile.h"

/* 1 when [off, off + len) lies inside the buffer (no overflow). */
static int in_file(const moth_elf *e, uint64_t off, uint64_t len)
{
    return off <= e->size && len <= e->size - off;
}

/* Headers are copied out, not cast in place: the buffer need not be aligned. */
static void read_ehdr(const moth_elf *e, Elf64_Ehdr *h) { memcpy(h, e->data, sizeof *h); }

int moth_elf_from_buffer(moth_elf *e, const void *data, size_t size, moth_error *err)
{
    memset(e, 0, sizeof *e);
    e->data = data;
    e->size = size;
    if (size < sizeof(Elf64_Ehdr) || memcmp(data, ELFMAG, SELFMAG) != 0)
        return moth_fail(err, "not an ELF file");
    Elf64_Ehdr h;
    read_ehdr(e, &h);
    if (h.e_ident[EI_CLASS] != ELFCLASS64 || h.e_ident[EI_DATA] != ELFDATA2LSB)
        return moth_fail(err, "not a 64-bit little-endian ELF file");
    if (h.e_machine != EM_X86_64 && h.e_machine != EM_AARCH64)
        return moth_fail(err, "ELF file for another machine (e_machine %u)", h.e_machine);
    e->type = h.e_type;
    if (h.e_phnum) {
        if (h.e_phentsize != sizeof(Elf64_Phdr) ||
            !in_file(e, h.e_phoff, (uint64_t)h.e_phnum * sizeof(Elf64_Phdr)))
            return moth_fail(err, "ELF program headers lie outside the file (truncated?)");
        e->phoff = h.e_phoff;
        e->phnum = h.e_phnum;
    }
    if (h.e_shnum) {
        /* A file can lose its section headers (a truncated copy) and still be usable through
         * its program headers; only malformed entries are an error. */
        if (h.e_shentsize == sizeof(Elf64_Shdr) &&
            in_file(e, h.e_shoff, (uint64_t)h.e_shnum * sizeof(Elf64_Shdr))) {
            e->shoff = h.e_shoff;
            e->shnum = h.e_shnum;
            if (h.e_shstrndx < h.e_shnum) {
                Elf64_Shdr s;
                memcpy(&s, e->data + e->shoff + (uint64_t)h.e_shstrndx * sizeof s, sizeof s);
                if (s.sh_type != SHT_NOBITS && in_file(e, s.sh_offset, s.sh_size)) {
                    e->shstrtab = e->data + s.sh_offset;
                    e->shstrtab_size = s.sh_size;
                }
            }
        }
    }
    return 0;
}

int moth_elf_open(moth_elf *e, const char *path, moth_error *err)
{
    memset(e, 0, sizeof *e);
    const uint8_t *map;
    size_t size;
    if (moth_file_map(path, &map, &size, err) < 0)
        return -1;
    if (size < sizeof(Elf64_Ehdr)) {
        moth_file_unmap(map, size);
        return moth_fail(err, "%s: not an ELF file (too short)", path);
    }
    moth_error inner;
    if (moth_elf_from_buffer(e, map, size, &inner) < 0) {
        moth_file_unmap(map, size);
        return moth_fail(err, "%s: %s", path, inner.msg);
    }
    e->mapped = 1;
    return 0;
}

void moth_elf_close(moth_elf *e)
{
    if (e->mapped)
        moth_file_unmap(e->data, e->size);
    memset(e, 0, sizeof *e);
}

void moth_elf_segment_at(const moth_elf *e, unsigned i, moth_elf_segment *out)
{
    Elf64_Phdr p;
    memcpy(&p, e->data + e->phoff + (uint64_t)i * sizeof p, sizeof p);
    *out = (moth_elf_segment){p.p_type, p.p_flags, p.p_offset, p.p_vaddr, p.p_filesz,
                              p.p_memsz};
}

static const char *section_name(const moth_elf *e, uint32_t off)
{
    if (!e->shstrtab || off >= e->shstrtab_size)
        return "";
    const char *s = (const char *)e->shstrtab + off;
    /* The name must end inside the table. */
    return memchr(s, '\0', e->shstrtab_size - off) ? s : "";
}

void moth_elf_section_at(const moth_elf *e, unsigned i, moth_elf_section *out)
{
    Elf64_Shdr s;
    memcpy(&s, e->data + e->shoff + (uint64_t)i * sizeof s, sizeof s);
    *out = (moth_elf_section){section_name(e, s.sh_name), s.sh_type, s.sh_addr, s.sh_offset,
                              s.sh_size, s.sh_entsize, s.sh_link};
}

int moth_elf_section_named(const moth_elf *e, const char *name, moth_elf_section *out)
{
    for (unsigned i = 0; i < e->shnum; i++) {
        moth_elf_section_at(e, i, out);
        if (strcmp(out->name, name) == 0)
            return 0;
    }
    return -1;
}

uint64_t moth_elf_lowest_load(const moth_elf *e)
{
    uint64_t lowest = UINT64_MAX;
    for (unsigned i = 0; i < e->phnum; i++) {
        moth_elf_segment s;
        moth_elf_segment_at(e, i, &s);
        if (s.type == PT_LOAD && s.vaddr < lowest)
            lowest = s.vaddr;
    }
    return lowest == UINT64_MAX ? 0 : lowest & ~(uint64_t)0xfff;
}

/* A symbol table section and the string table it links to, checked. */
typedef struct symtab {
    const uint8_t *syms;
    size_t count;
    const char *strs;
    size_t strs_size;
} symtab;

static int open_symtab(const moth_elf *e, uint32_t type, symtab *t, moth_error *err)
{
    memset(t, 0, sizeof *t);
    for (unsigned i = 0; i < e->shnum; i++) {
        moth_elf_section s;
        moth_elf_section_at(e, i, &s);
        if (s.type != type)
            continue;
        moth_elf_section strs;
        if (s.link >= e->shnum)
            return moth_fail(err, "ELF symbol table links to a missing string table");
        moth_elf_section_at(e, s.link, &strs);
        if (s.entsize != sizeof(Elf64_Sym) || !in_file(e, s.offset, s.size) ||
            strs.type == SHT_NOBITS || !in_file(e, strs.offset, strs.size))
            return moth_fail(err, "ELF symbol table lies outside the file (truncated?)");
        t->syms = e->data + s.offset;
        t->count = s.size / sizeof(Elf64_Sym);
        t->strs = (const char *)e->data + strs.offset;
        t->strs_size = strs.size;
        return 1;
    }
    return 0;
}

static const char *symbol_name(const symtab *t, const Elf64_Sym *s)
{
    if (s->st_name >= t->strs_size)
        return NULL;
    const char *name = t->strs + s->st_name;
    return memchr(name, '\0', t->strs_size - s->st_name) ? name : NULL;
}

int moth_elf_symbols(const moth_elf *e, const char *const *names, size_t count,
                     uint64_t *values, uint64_t *sizes, moth_error *err)
{
    memset(values, 0, count * sizeof *values);
    if (sizes)
        memset(sizes, 0, count * sizeof *sizes);
    int found = 0;
    static const uint32_t kinds[] = {SHT_DYNSYM, SHT_SYMTAB};
    for (size_t k = 0; k < 2 && (size_t)found < count; k++) {
        symtab t;
        int has = open_symtab(e, kinds[k], &t, err);
        if (has < 0)
            return -1;
        for (size_t i = 0; has && i < t.count && (size_t)found < count; i++) {
            Elf64_Sym s;
            memcpy(&s, t.syms + i * sizeof s, sizeof s);
            if (s.st_shndx == SHN_UNDEF || !s.st_value)
                continue;
            const char *name = symbol_name(&t, &s);
            if (!name)
                continue;
            for (size_t n = 0; n < count; n++) {
                if (!values[n] && strcmp(name, names[n]) == 0) {
                    values[n] = s.st_value;
                    if (sizes)
                        sizes[n] = s.st_size;
                    found++;
                    break;
                }
            }
        }
    }
    return found;
}

int moth_elf_symbolize(const moth_elf *e, uint64_t addr, const char **name, uint64_t *offset)
{
    static const uint32_t kinds[] = {SHT_SYMTAB, SHT_DYNSYM};
    for (size_t k = 0; k < 2; k++) {
        symtab t;
        if (open_symtab(e, kinds[k], &t, NULL) <= 0)
            continue;
        const char *best = NULL;
        uint64_t best_value = 0;
        for (size_t i = 0; i < t.count; i++) {
            Elf64_Sym s;
            memcpy(&s, t.syms + i * sizeof s, sizeof s);
            if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF)
                continue;
            int inside = s.st_size ? addr >= s.st_value && addr - s.st_value < s.st_size
                                   : addr == s.st_value;
            if (!inside || (best && s.st_value < best_value))
                continue;
            const char *n = symbol_name(&t, &s);
            if (n && *n) {
                best = n;
                best_value = s.st_value;
            }
        }
        if (best) {
            *name = best;
            *offset = addr - best_value;
            return 0;
        }
    }
    return -1;
}

const uint8_t *moth_elf_vaddr_bytes(const moth_elf *e, uint64_t vaddr, size_t len)
{
    for (unsigned i = 0; i < e->phnum; i++) {
        moth_elf_segment s;
        moth_elf_segment_at(e, i, &s);
        if (s.type != PT_LOAD || vaddr < s.vaddr || vaddr - s.vaddr > s.filesz ||
            len > s.filesz - (vaddr - s.vaddr))
            continue;
        uint64_t off = s.offset + (vaddr - s.vaddr);
        return in_file(e, off, len) ? e->data + off : NULL;
    }
    return NULL;
}

static size_t align4(size_t n) { return (n + 3) & ~(size_t)3; }

int moth_elf_notes(const moth_elf *e, const moth_elf_segment *seg, moth_elf_note_fn visit,
                   void *ctx, moth_error *err)
{
    if (!in_file(e, seg->offset, seg->filesz))
        return moth_fail(err, "ELF notes lie outside the file (truncated?)");
    const uint8_t *p = e->data + seg->offset;
    size_t left = seg->filesz;
    while (left >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr n;
        memcpy(&n, p, sizeof n);
        size_t name_size = align4(n.n_namesz), desc_size = align4(n.n_descsz);
        if (n.n_namesz > left || n.n_descsz > left ||
            name_size + desc_size > left - sizeof n)
            return moth_fail(err, "a malformed ELF note (its size runs past its segment)");
        const char *name = (const char *)p + sizeof n;
        size_t name_len = n.n_namesz;
        if (name_len && name[name_len - 1] == '\0')
            name_len--;
        int stop = visit(ctx, n.n_type, name, name_len, p + sizeof n + name_size, n.n_descsz);
        if (stop)
            return stop;
        p += sizeof n + name_size + desc_size;
        left -= sizeof n + name_size + desc_size;
    }
    return 0;
}

typedef struct build_id_search {
    const uint8_t *id;
    size_t len;
} build_id_search;

static int find_build_id(void *ctx, uint32_t type, const char *name, size_t name_len,
                         const uint8_t *desc, size_t desc_len)
{
    build_id_search *s = ctx;
    if (type == NT_GNU_BUILD_ID && name_len == 3 && memcmp(name, "GNU", 3) == 0 && desc_len) {
        s->id = desc;
        s->len = desc_len;
        return 1;
    }
    return 0;
}

int moth_elf_build_id(const moth_elf *e, const uint8_t **id, size_t *len)
{
    for (unsigned i = 0; i < e->phnum; i++) {
        moth_elf_segment s;
        moth_elf_segment_at(e, i, &s);
        build_id_search found = {NULL, 0};
        if (s.type == PT_NOTE && moth_elf_notes(e, &s, find_build_id, &found, NULL) == 1) {
            *id = found.id;
            *len = found.len;
            return 0;
        }
    }
    return -1;
}
