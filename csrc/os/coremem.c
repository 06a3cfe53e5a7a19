/*
 * coremem.c: the memory of a core file's process: the core's own segments first, then the
 * files it had mapped, read from disk once each is known to be the file the process mapped;
 * see corefile.h.
 */
#include "corefile.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mapfile.h"

#define MAX_BUILD_ID 64
#define MAX_HEADER_PAGE 65536

/* How many of `count` items (each `size` bytes, sorted by the address they start with) start
 * at or below addr: the one that may hold addr is the last of them. */
static size_t count_at_or_below(const void *items, size_t count, size_t size, uint64_t addr)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t start;
        memcpy(&start, (const char *)items + mid * size, sizeof start);
        if (start <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

_Static_assert(offsetof(moth_core_segment, vaddr) == 0, "segments are searched by vaddr");
_Static_assert(offsetof(moth_core_mapping, start) == 0, "mappings are searched by start");

/* The segment holding addr, or NULL. */
static const moth_core_segment *segment_at(const moth_core *c, uint64_t addr)
{
    size_t n = count_at_or_below(c->segments, c->nsegments, sizeof *c->segments, addr);
    const moth_core_segment *s = n ? &c->segments[n - 1] : NULL;
    return s && addr - s->vaddr < s->memsz ? s : NULL;
}

/* The NT_FILE mapping holding addr, or NULL. */
static const moth_core_mapping *mapping_at(const moth_core *c, uint64_t addr)
{
    size_t n = count_at_or_below(c->mappings, c->nmappings, sizeof *c->mappings, addr);
    const moth_core_mapping *m = n ? &c->mappings[n - 1] : NULL;
    return m && addr < m->end ? m : NULL;
}

size_t moth_core_read_dumped(const moth_core *c, uint64_t addr, void *buf, size_t len)
{
    uint8_t *out = buf;
    size_t done = 0;
    while (done < len && addr + done >= addr) {
        uint64_t at = addr + done;
        const moth_core_segment *s = segment_at(c, at);
        if (!s || at - s->vaddr >= s->filesz)
            break;
        uint64_t in = at - s->vaddr, n = s->filesz - in;
        if (n > len - done)
            n = len - done;
        /* Segments were checked to end inside the core when it was opened. */
        memcpy(out + done, c->elf.data + s->offset + in, (size_t)n);
        done += (size_t)n;
    }
    return done;
}

/* The first mapping of file i, at file offset 0: where its ELF header was. */
static const moth_core_mapping *first_mapping(const moth_core *c, uint32_t i)
{
    for (size_t k = 0; k < c->nmappings; k++)
        if (c->mappings[k].file == i && c->mappings[k].offset == 0)
            return &c->mappings[k];
    return NULL;
}

size_t moth_core_build_id(const moth_core *c, uint32_t i, uint8_t *id, size_t size)
{
    const moth_core_mapping *m = first_mapping(c, i);
    if (!m)
        return 0;
    /* The kernel (and gcore) keep the first page of every mapped ELF file: its header, program
     * headers and, in practice, the build id note. In that page, file offsets are offsets from
     * the mapping's start, so the page reads as the start of the file. */
    size_t page = c->page_size >= 4096 && c->page_size <= MAX_HEADER_PAGE ? c->page_size : 4096;
    if (page > m->end - m->start)
        page = (size_t)(m->end - m->start);
    uint8_t *buf = malloc(page ? page : 1);
    if (!buf)
        return 0;
    size_t got = moth_core_read_dumped(c, m->start, buf, page), len = 0;
    moth_elf e;
    const uint8_t *found;
    size_t found_len;
    if (moth_elf_from_buffer(&e, buf, got, NULL) == 0 &&
        moth_elf_build_id(&e, &found, &found_len) == 0) {
        len = found_len < size ? found_len : size;
        memcpy(id, found, len);
    }
    free(buf);
    return len;
}

static void unmap_file(moth_core_file *f)
{
    moth_file_unmap(f->data, f->size);
    f->data = NULL;
    f->size = 0;
}

int moth_core_check_file(moth_core *c, uint32_t i)
{
    moth_core_file *f = &c->files[i];
    if (f->status != MOTH_CORE_FILE_UNCHECKED)
        return f->status;
    f->status = MOTH_CORE_FILE_MISSING;
    if (moth_file_map(f->path, &f->data, &f->size, NULL) < 0 || !f->data)
        return f->status; /* an empty file cannot be what a process mapped */
    f->status = MOTH_CORE_FILE_OK;
    uint8_t want[MAX_BUILD_ID];
    size_t want_len = moth_core_build_id(c, i, want, sizeof want);
    if (!want_len)
        return f->status; /* nothing to compare with */
    moth_elf e;
    const uint8_t *have;
    size_t have_len;
    if (moth_elf_from_buffer(&e, f->data, f->size, NULL) < 0 ||
        moth_elf_build_id(&e, &have, &have_len) < 0 || have_len != want_len ||
        memcmp(have, want, want_len) != 0) {
        unmap_file(f);
        f->status = MOTH_CORE_FILE_DIFFERENT;
    }
    return f->status;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void hex(const uint8_t *id, size_t len, char *out)
{
    for (size_t k = 0; k < len; k++)
        sprintf(out + 2 * k, "%02x", id[k]);
    out[2 * len] = '\0';
}

int moth_core_replace_file(moth_core *c, uint32_t i, const char *path, moth_error *err)
{
    moth_core_file *f = &c->files[i];
    char *copy = moth_strdup(path, err), *was = f->path;
    if (!copy)
        return -1;
    unmap_file(f);
    f->path = copy;
    f->status = MOTH_CORE_FILE_UNCHECKED;
    int status = moth_core_check_file(c, i), rc = -1;
    uint8_t id[MAX_BUILD_ID];
    size_t id_len = moth_core_build_id(c, i, id, sizeof id);
    char shown[2 * MAX_BUILD_ID + 1];
    hex(id, id_len, shown);
    if (status == MOTH_CORE_FILE_MISSING)
        moth_fail(err, "cannot read %s (no such file, or not a readable regular file)", path);
    else if (status == MOTH_CORE_FILE_DIFFERENT)
        moth_fail(err, "core file %s is not a core of %s: its process ran %s with build id %s",
                  c->name, path, base_name(was), shown);
    else if (!id_len && strcmp(base_name(was), base_name(path)) != 0 &&
             ((int)i != c->executable || strncmp(c->fname, base_name(path), 15) != 0))
        /* No build id to compare: the names must agree (the process's own name for the
         * executable, cut to 15 characters as the kernel keeps it). */
        moth_fail(err, "core file %s is not a core of %s: its process ran %s", c->name, path,
                  was);
    else
        rc = 0;
    free(was);
    return rc;
}

int moth_core_maps(const moth_core *c, moth_maps *m, moth_error *err)
{
    for (size_t i = 0; i < c->nmappings; i++) {
        const moth_core_mapping *x = &c->mappings[i];
        const moth_core_segment *s = segment_at(c, x->start);
        uint32_t flags = s ? s->flags : PF_R;
        uint32_t perms = (flags & PF_R ? MOTH_MAP_READ : 0) | (flags & PF_W ? MOTH_MAP_WRITE : 0) |
                         (flags & PF_X ? MOTH_MAP_EXEC : 0);
        if (moth_maps_add(m, x->start, x->end, x->offset, perms, 0, c->files[x->file].path,
                          err) < 0)
            return -1;
    }
    for (size_t i = 0; i < c->nsegments; i++) {
        const moth_core_segment *s = &c->segments[i];
        if (mapping_at(c, s->vaddr) || s->vaddr > UINT64_MAX - s->memsz)
            continue; /* a file's (listed above) */
        uint32_t perms = (s->flags & PF_R ? MOTH_MAP_READ : 0) |
                         (s->flags & PF_W ? MOTH_MAP_WRITE : 0) |
                         (s->flags & PF_X ? MOTH_MAP_EXEC : 0);
        if (moth_maps_add(m, s->vaddr, s->vaddr + s->memsz, 0, perms, 0, NULL, err) < 0)
            return -1;
    }
    return 0;
}

/* Copies what file mapping at addr holds there: how many leading bytes (0 when no mapping, or
 * its file is missing or another build). Past the end of the file, the rest of its last page
 * reads as zeros, as it does in the process. */
static size_t read_mapped(moth_core *c, uint64_t addr, uint8_t *out, size_t len)
{
    const moth_core_mapping *m = mapping_at(c, addr);
    if (!m || moth_core_check_file(c, m->file) != MOTH_CORE_FILE_OK)
        return 0;
    const moth_core_file *f = &c->files[m->file];
    uint64_t in = addr - m->start, n = m->end - addr;
    if (m->offset > UINT64_MAX - in)
        return 0;
    uint64_t off = m->offset + in;
    if (n > len)
        n = len;
    if (off < f->size) {
        if (n > f->size - off)
            n = f->size - off;
        memcpy(out, f->data + off, (size_t)n);
        return (size_t)n;
    }
    uint64_t page = c->page_size, page_end = (f->size + page - 1) / page * page;
    if (off >= page_end)
        return 0;
    if (n > page_end - off)
        n = page_end - off;
    memset(out, 0, (size_t)n);
    return (size_t)n;
}

static int core_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
    moth_core *c = ctx;
    uint8_t *out = buf;
    while (len) {
        size_t n = moth_core_read_dumped(c, addr, out, len);
        if (!n)
            n = read_mapped(c, addr, out, len);
        if (!n || (addr + n < addr && len > n))
            return -1;
        addr += n;
        out += n;
        len -= n;
    }
    return 0;
}

void moth_core_memsrc(moth_core *c, moth_memsrc *m)
{
    *m = (moth_memsrc){core_read, NULL, NULL, c, 0};
}
