/* C unit tests of the core file reader (csrc/os/corefile.c, coremem.c): cores built here byte by
 * byte as the kernel lays them out, with files on disk for what they leave out. */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "corefile.h"
#include "fault.h"
#include "remote.h"

/* A growing byte buffer. */
typedef struct bytes {
    uint8_t *data;
    size_t len;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    b->data = realloc(b->data, b->len + n + 8);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put_u64(bytes *b, uint64_t v) { put(b, &v, 8); }

static void align4(bytes *b)
{
    static const uint8_t zero[4];
    put(b, zero, (4 - b->len % 4) % 4);
}

static void note(bytes *b, const char *name, uint32_t type, const void *desc, size_t len)
{
    Elf64_Nhdr h = {(uint32_t)strlen(name) + 1, (uint32_t)len, type};
    put(b, &h, sizeof h);
    put(b, name, strlen(name) + 1);
    align4(b);
    put(b, desc, len);
    align4(b);
}

typedef struct seg {
    uint64_t vaddr, memsz;
    uint32_t flags;
    const void *data;
    size_t filesz;
} seg;

/* An ET_CORE file: the header, a PT_NOTE of `notes`, then one PT_LOAD per seg. */
static bytes core_of(const bytes *notes, const seg *segs, size_t nsegs, uint16_t machine)
{
    bytes b = {NULL, 0};
    size_t phnum = 1 + nsegs;
    Elf64_Ehdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = ELFCLASS64;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_ident[EI_VERSION] = EV_CURRENT;
    h.e_type = ET_CORE;
    h.e_machine = machine;
    h.e_version = EV_CURRENT;
    h.e_phoff = sizeof h;
    h.e_ehsize = sizeof h;
    h.e_phentsize = sizeof(Elf64_Phdr);
    h.e_phnum = (uint16_t)phnum;
    put(&b, &h, sizeof h);
    uint64_t off = sizeof h + phnum * sizeof(Elf64_Phdr);
    Elf64_Phdr p = {PT_NOTE, 0, off, 0, 0, notes->len, 0, 4};
    put(&b, &p, sizeof p);
    off += notes->len;
    for (size_t i = 0; i < nsegs; i++) {
        Elf64_Phdr l = {PT_LOAD, segs[i].flags, off, segs[i].vaddr, 0, segs[i].filesz,
                        segs[i].memsz, 0x1000};
        put(&b, &l, sizeof l);
        off += segs[i].filesz;
    }
    put(&b, notes->data, notes->len);
    for (size_t i = 0; i < nsegs; i++)
        put(&b, segs[i].data, segs[i].filesz);
    return b;
}

static void prstatus(bytes *notes, int tid, int sig, uint64_t pc, uint64_t sp, uint64_t fp)
{
    uint8_t d[336];
    memset(d, 0, sizeof d);
    int16_t cursig = (int16_t)sig;
    memcpy(d + 12, &cursig, 2);
    memcpy(d + 32, &tid, 4);
    memcpy(d + 112 + 16 * 8, &pc, 8);
    memcpy(d + 112 + 19 * 8, &sp, 8);
    memcpy(d + 112 + 4 * 8, &fp, 8);
    note(notes, "CORE", NT_PRSTATUS, d, sizeof d);
}

static void prpsinfo(bytes *notes, int pid, const char *fname, const char *psargs)
{
    uint8_t d[136];
    memset(d, 0, sizeof d);
    memcpy(d + 24, &pid, 4);
    strncpy((char *)d + 40, fname, 16);
    memset(d + 56, ' ', 80);
    memcpy(d + 56, psargs, strlen(psargs));
    note(notes, "CORE", NT_PRPSINFO, d, sizeof d);
}

static void siginfo(bytes *notes, int signo, int code, uint64_t addr)
{
    uint8_t d[128];
    memset(d, 0, sizeof d);
    memcpy(d, &signo, 4);
    memcpy(d + 8, &code, 4);
    memcpy(d + 16, &addr, 8);
    note(notes, "CORE", NT_SIGINFO, d, sizeof d);
}

typedef struct filemap {
    uint64_t start, end, pages;
    const char *path;
} filemap;

static void file_note(bytes *notes, const filemap *f, size_t n)
{
    bytes d = {NULL, 0};
    put_u64(&d, n);
    put_u64(&d, 4096);
    for (size_t i = 0; i < n; i++) {
        put_u64(&d, f[i].start);
        put_u64(&d, f[i].end);
        put_u64(&d, f[i].pages);
    }
    for (size_t i = 0; i < n; i++)
        put(&d, f[i].path, strlen(f[i].path) + 1);
    note(notes, "CORE", NT_FILE, d.data, d.len);
    free(d.data);
}

/* A small ELF file with a GNU build id note in its first page, and `size` bytes in all: byte
 * i past the headers is (uint8_t)(i * 7 + seed). */
static uint8_t *elf_with_id(uint8_t id_byte, size_t size, uint8_t seed)
{
    uint8_t *f = calloc(1, size);
    for (size_t i = 512; i < size; i++)
        f[i] = (uint8_t)(i * 7 + seed);
    Elf64_Ehdr h;
    memset(&h, 0, sizeof h);
    memcpy(h.e_ident, ELFMAG, SELFMAG);
    h.e_ident[EI_CLASS] = ELFCLASS64;
    h.e_ident[EI_DATA] = ELFDATA2LSB;
    h.e_type = ET_DYN;
    h.e_machine = EM_X86_64;
    h.e_phoff = sizeof h;
    h.e_phentsize = sizeof(Elf64_Phdr);
    h.e_phnum = 2;
    memcpy(f, &h, sizeof h);
    Elf64_Phdr load = {PT_LOAD, PF_R, 0, 0, 0, size, size, 0x1000};
    Elf64_Phdr nt = {PT_NOTE, PF_R, 256, 256, 0, 16 + 20, 16 + 20, 4};
    memcpy(f + sizeof h, &load, sizeof load);
    memcpy(f + sizeof h + sizeof load, &nt, sizeof nt);
    Elf64_Nhdr n = {4, 20, NT_GNU_BUILD_ID};
    memcpy(f + 256, &n, sizeof n);
    memcpy(f + 256 + sizeof n, "GNU", 4);
    memset(f + 256 + sizeof n + 4, id_byte, 20);
    return f;
}

static char dir[64];

/* Every file written, for the cleanup at the end. */
static char *written[16];
static size_t nwritten;

/* Writes dir/name; the path returned stays valid to the end of the tests. */
static char *write_file(const char *name, const void *data, size_t len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, len, f);
    fclose(f);
    for (size_t i = 0; i < nwritten; i++)
        if (strcmp(written[i], path) == 0)
            return written[i];
    if (nwritten == sizeof written / sizeof written[0])
        abort();
    return written[nwritten++] = strdup(path);
}

/* The core every test starts from: two threads (the second took SIGSEGV at 0xdead), an
 * executable of 3 pages whose first page the core holds (the rest read from the file), a
 * library whose second page is mapped and not in the core, a missing file, a heap segment
 * in two adjacent parts and an anonymous segment the core left out. */
#define EXE_SIZE (2 * 4096 + 100)
#define LIB_SIZE (3 * 4096)
static uint8_t *exe_file, *lib_file;
static char *exe_path, *lib_path;
static uint8_t heap[2][4096];

static bytes core_variant(const char *exe, int with_header_page, const char *lib, int auxv_too)
{
    bytes notes = {NULL, 0};
    prstatus(&notes, 4242, 11, 0x401010, 0x7ff000, 0x7ff100);
    prstatus(&notes, 4241, 11, 0x401000, 0x7fe000, 0x7fe100);
    prpsinfo(&notes, 4241, "python3.11", "python3.11 crash.py");
    siginfo(&notes, 11, 1, 0xdead);
    uint64_t auxv[] = {AT_PHDR, 0x400040, AT_ENTRY, 0x401000, AT_NULL, 0};
    if (auxv_too)
        note(&notes, "CORE", NT_AUXV, auxv, sizeof auxv);
    note(&notes, "LINUX", 0x202, "xstate", 6);  /* ignored */
    filemap files[] = {
        {0x400000, 0x401000, 0, exe},
        {0x401000, 0x403000, 1, exe},
        {0x500000, 0x501000, 1, lib},
        {0x600000, 0x601000, 0, "/nonexistent/libgone.so"},
    };
    file_note(&notes, files, 4);
    for (int i = 0; i < 2; i++)
        memset(heap[i], 0x30 + i, sizeof heap[i]);
    seg segs[] = {
        {0x401000, 0x2000, PF_R | PF_X, NULL, 0},
        {0x400000, 0x1000, PF_R, exe_file, with_header_page ? 4096 : 0},
        {0x900000, 0x1000, PF_R | PF_W, heap[0], 4096},
        {0x901000, 0x1000, PF_R | PF_W, heap[1], 4096},
        {0xa00000, 0x1000, PF_R | PF_W, NULL, 0},
    };
    bytes core = core_of(&notes, segs, 5, EM_X86_64);
    free(notes.data);
    return core;
}

static bytes standard_core(const char *exe, int with_header_page)
{
    return core_variant(exe, with_header_page, lib_path, 1);
}

static void test_notes(void)
{
    bytes b = standard_core(exe_path, 1);
    moth_core c;
    moth_error err;
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.1", &err) == 0);
    CHECK_EQ_U(c.pid, 4241);
    CHECK_STR(c.fname, "python3.11");
    CHECK_STR(c.psargs, "python3.11 crash.py");
    CHECK_EQ_U(c.signal, 11);
    CHECK_EQ_U(c.signal_code, 1);
    CHECK_EQ_U(c.signal_addr, 0xdead);
    CHECK_EQ_U(c.nthreads, 2);
    CHECK_EQ_U(c.threads[0].tid, 4242);
    CHECK_EQ_U(c.threads[0].signal, 11);
    CHECK_EQ_U(c.threads[0].nregs, 27);
    CHECK_EQ_U(moth_core_pc(&c, &c.threads[0]), 0x401010);
    CHECK_EQ_U(moth_core_sp(&c, &c.threads[0]), 0x7ff000);
    CHECK_EQ_U(moth_core_fp(&c, &c.threads[1]), 0x7fe100);
    CHECK_EQ_U(moth_core_auxv(&c, AT_PHDR), 0x400040);
    CHECK_EQ_U(moth_core_auxv(&c, AT_EXECFN), 0);
    CHECK_EQ_U(c.page_size, 4096);
    CHECK_EQ_U(c.nfiles, 3);
    CHECK_EQ_U(c.nmappings, 4);
    CHECK(c.executable == 0);
    CHECK_STR(c.files[c.executable].path, exe_path);
    CHECK_EQ_U(c.mappings[1].offset, 4096);
    /* Segments come sorted by address whatever the core's order. */
    CHECK_EQ_U(c.nsegments, 5);
    CHECK_EQ_U(c.segments[0].vaddr, 0x400000);
    moth_core_close(&c);
    free(b.data);
}

static void test_memory(void)
{
    bytes b = standard_core(exe_path, 1);
    moth_core c;
    moth_error err;
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.1", &err) == 0);
    moth_memsrc m;
    moth_core_memsrc(&c, &m);
    uint8_t buf[8192];
    /* Within the core: one segment, and across two adjacent ones. */
    CHECK(moth_mem_read(&m, 0x900010, buf, 16) == 0 && buf[0] == 0x30 && buf[15] == 0x30);
    CHECK(moth_mem_read(&m, 0x900ff8, buf, 16) == 0 && buf[7] == 0x30 && buf[8] == 0x31);
    CHECK_EQ_U(moth_core_read_dumped(&c, 0x900ff8, buf, 16), 16);
    CHECK_EQ_U(moth_core_read_dumped(&c, 0x901ff8, buf, 16), 8);
    /* Text the core left out comes from the file: page 1 of the executable at 0x401000. */
    CHECK(moth_mem_read(&m, 0x401000, buf, 64) == 0);
    CHECK(memcmp(buf, exe_file + 4096, 64) == 0);
    /* A read from the core's header page into the file's next page. */
    CHECK(moth_mem_read(&m, 0x400ff0, buf, 32) == 0);
    CHECK(memcmp(buf, exe_file + 4096 - 16, 32) == 0);
    /* Past the end of the file: zeros to the end of its last page, then nothing. */
    CHECK(moth_mem_read(&m, 0x402000 + 90, buf, 20) == 0);
    CHECK(memcmp(buf, exe_file + 8192 + 90, 10) == 0 && buf[10] == 0 && buf[19] == 0);
    CHECK(moth_mem_read(&m, 0x402ff0, buf, 16) == 0 && buf[0] == 0);
    CHECK(moth_mem_read(&m, 0x402ff0, buf, 32) < 0);
    /* The library's second page (offset 1 page). */
    CHECK(moth_mem_read(&m, 0x500000, buf, 16) == 0 && memcmp(buf, lib_file + 4096, 16) == 0);
    /* A missing file, an anonymous segment the core left out, unmapped memory. */
    CHECK(moth_mem_read(&m, 0x600000, buf, 1) < 0);
    CHECK(moth_mem_read(&m, 0xa00000, buf, 1) < 0);
    CHECK(moth_mem_read(&m, 0x10, buf, 1) < 0);
    CHECK(moth_mem_read(&m, UINT64_MAX - 3, buf, 8) < 0);
    CHECK(moth_mem_read(&m, 0x900000, buf, 0) == 0);
    moth_read_piece pieces[2] = {{0x900000, buf, 4}, {0x600000, buf + 4, 4}};
    CHECK_EQ_U(moth_mem_readv(&m, pieces, 2), 1);
    CHECK(moth_core_check_file(&c, 0) == MOTH_CORE_FILE_OK);
    CHECK(moth_core_check_file(&c, 2) == MOTH_CORE_FILE_MISSING);
    moth_mem_close(&m);  /* leaves the core open */
    CHECK(c.nfiles == 3);
    moth_core_close(&c);
    free(b.data);
}

static void test_maps(void)
{
    bytes b = standard_core(exe_path, 1);
    moth_core c;
    moth_error err;
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.1", &err) == 0);
    moth_maps m = MOTH_MAPS_INIT;
    CHECK(moth_core_maps(&c, &m, &err) == 0);
    /* 4 file mappings, 3 anonymous segments (the two heap parts and the one left out). */
    CHECK_EQ_U(m.count, 7);
    const moth_mapping *x = moth_maps_find(&m, 0x401800);
    CHECK(x && x->perms == (MOTH_MAP_READ | MOTH_MAP_EXEC) && x->offset == 4096);
    CHECK_STR(x->path, exe_path);
    x = moth_maps_find(&m, 0x600000);
    CHECK(x && x->perms == MOTH_MAP_READ); /* no segment: readable, as NT_FILE says no more */
    x = moth_maps_find(&m, 0x901000);
    CHECK(x && !x->path && x->perms == (MOTH_MAP_READ | MOTH_MAP_WRITE));
    CHECK(moth_maps_find_file(&m, "exe") != NULL);
    moth_maps_free(&m);
    moth_core_close(&c);
    free(b.data);
}

static void test_build_ids(void)
{
    /* The core's copy of the executable's first page carries build id 0xAA...; a file with id
     * 0xBB is another build: never read, and refused as a replacement. */
    uint8_t *other = elf_with_id(0xBB, EXE_SIZE, 1);
    char *other_path = write_file("python-other", other, EXE_SIZE);
    bytes b = standard_core(other_path, 1);
    moth_core c;
    moth_error err;
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.2", &err) == 0);
    uint8_t id[64];
    CHECK_EQ_U(moth_core_build_id(&c, 0, id, sizeof id), 20);
    CHECK(id[0] == 0xAA && id[19] == 0xAA);
    CHECK_EQ_U(moth_core_build_id(&c, 1, id, sizeof id), 0); /* the library's page is not in it */
    CHECK(moth_core_check_file(&c, 0) == MOTH_CORE_FILE_DIFFERENT);
    moth_memsrc m;
    moth_core_memsrc(&c, &m);
    uint8_t buf[16];
    CHECK(moth_mem_read(&m, 0x401000, buf, 16) < 0);
    /* Replacing it with the right build is accepted and read. */
    CHECK(moth_core_replace_file(&c, 0, exe_path, &err) == 0);
    CHECK(moth_mem_read(&m, 0x401000, buf, 16) == 0 && memcmp(buf, exe_file + 4096, 16) == 0);
    CHECK(moth_core_replace_file(&c, 0, other_path, &err) < 0);
    char want[512];
    snprintf(want, sizeof want, "core file core.2 is not a core of %s: its process ran exe with "
             "build id aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", other_path);
    CHECK_STR(err.msg, want);
    CHECK(moth_core_replace_file(&c, 0, "/nonexistent/python", &err) < 0);
    CHECK_STR(err.msg, "cannot read /nonexistent/python (no such file, or not a readable "
                       "regular file)");
    moth_core_close(&c);
    free(b.data);

    /* Without the header page there is no id to compare: the names decide (the file's, or for
     * the executable the process's own name). */
    b = standard_core(exe_path, 0);
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.3", &err) == 0);
    CHECK(moth_core_check_file(&c, 0) == MOTH_CORE_FILE_OK);
    CHECK(moth_core_replace_file(&c, 0, other_path, &err) < 0);
    snprintf(want, sizeof want, "core file core.3 is not a core of %s: its process ran %s",
             other_path, exe_path);
    CHECK_STR(err.msg, want);
    char *named = write_file("python3.11", other, EXE_SIZE);
    CHECK(moth_core_replace_file(&c, 0, named, &err) == 0);       /* the process's name */
    CHECK(moth_core_replace_file(&c, 1, lib_path, &err) == 0);    /* the same file name */
    CHECK(moth_core_replace_file(&c, 1, other_path, &err) < 0);   /* not the executable */
    moth_core_close(&c);
    free(b.data);
    free(other);
}

/* Every error a core can have, one line each. */
static void test_bad_cores(void)
{
    moth_core c;
    moth_error err;
    CHECK(moth_core_from_buffer(&c, "#!/bin/sh\n", 10, "x", &err) < 0);
    CHECK_STR(err.msg, "x is not a core file (not an ELF file)");
    CHECK(moth_core_from_buffer(&c, exe_file, EXE_SIZE, "exe", &err) < 0);
    CHECK_STR(err.msg, "exe is not a core file (it is an ELF shared object or executable)");
    CHECK(moth_core_open(&c, "/nonexistent/core", &err) < 0);
    CHECK_STR(err.msg, "cannot open /nonexistent/core: No such file or directory");
    CHECK(moth_core_open(&c, "/tmp", &err) < 0);
    CHECK_STR(err.msg, "/tmp is not a regular file");
    char *empty = write_file("empty", "", 0);
    CHECK(moth_core_open(&c, empty, &err) < 0);
    CHECK(strstr(err.msg, "empty is not a core file (not an ELF file)") != NULL);

    bytes b = standard_core(exe_path, 1);
    /* Truncated: the segments' bytes, then the program headers. */
    CHECK(moth_core_from_buffer(&c, b.data, b.len - 100, "core.t", &err) < 0);
    char want[256];
    snprintf(want, sizeof want, "core file core.t is truncated: it has %zu bytes of the %zu its "
             "segments need (cut short by the core size limit, ulimit -c, or a full disk?)",
             b.len - 100, b.len);
    CHECK_STR(err.msg, want);
    CHECK(moth_core_from_buffer(&c, b.data, 100, "core.t", &err) < 0);
    CHECK_STR(err.msg, "core file core.t: ELF program headers lie outside the file (truncated?)");
    /* Every cut is refused or read safely (ASan watches). */
    for (size_t cut = 0; cut <= b.len; cut += 7)
        if (moth_core_from_buffer(&c, b.data, cut, "cut", &err) == 0)
            moth_core_close(&c);
    free(b.data);

    /* Malformed notes. */
    bytes notes = {NULL, 0};
    uint8_t small[64] = {0};
    note(&notes, "CORE", NT_PRSTATUS, small, sizeof small);
    b = core_of(&notes, NULL, 0, EM_X86_64);
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.n", &err) < 0);
    CHECK_STR(err.msg, "core file core.n: a thread's registers are cut short (NT_PRSTATUS of 64 "
                       "bytes)");
    free(b.data);
    free(notes.data);

    notes = (bytes){NULL, 0};
    prpsinfo(&notes, 1, "a", "a");
    b = core_of(&notes, NULL, 0, EM_X86_64);
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.n", &err) < 0);
    CHECK_STR(err.msg, "core file core.n holds no thread (no NT_PRSTATUS note)");
    free(b.data);

    prstatus(&notes, 7, 0, 0, 0, 0);
    b = core_of(&notes, NULL, 0, EM_X86_64);
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.n", &err) < 0);
    CHECK_STR(err.msg, "core file core.n does not list the files its process mapped (no NT_FILE "
                       "note)");
    free(b.data);

    uint64_t bad_files[] = {1000, 4096, 0, 0, 0};
    bytes bad = {NULL, 0};
    put(&bad, notes.data, notes.len);
    note(&bad, "CORE", NT_FILE, bad_files, sizeof bad_files);
    b = core_of(&bad, NULL, 0, EM_X86_64);
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.n", &err) < 0);
    CHECK_STR(err.msg, "core file core.n: its list of mapped files (NT_FILE) is malformed");
    free(b.data);
    free(bad.data);

    /* A name without its NUL, a mapping that ends before it starts, a page size of 3. */
    const uint64_t variants[][6] = {{1, 4096, 0x1000, 0x2000, 0, 0x6161616161616161ull},
                                    {1, 4096, 0x2000, 0x1000, 0, 0x61},
                                    {1, 3, 0x1000, 0x2000, 0, 0x61}};
    for (size_t v = 0; v < 3; v++) {
        bad = (bytes){NULL, 0};
        put(&bad, notes.data, notes.len);
        note(&bad, "CORE", NT_FILE, variants[v], sizeof variants[v]);
        b = core_of(&bad, NULL, 0, EM_X86_64);
        CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.n", &err) < 0);
        CHECK_STR(err.msg, "core file core.n: its list of mapped files (NT_FILE) is malformed");
        free(b.data);
        free(bad.data);
    }

    /* A note whose size runs past its segment. */
    bad = (bytes){NULL, 0};
    Elf64_Nhdr h = {5, 4000, NT_PRSTATUS};
    put(&bad, &h, sizeof h);
    put(&bad, "CORE\0\0\0", 8);
    b = core_of(&bad, NULL, 0, EM_X86_64);
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.n", &err) < 0);
    CHECK_STR(err.msg, "core file core.n: a malformed ELF note (its size runs past its segment)");
    free(b.data);
    free(bad.data);
    free(notes.data);
}

/* aarch64 keeps 34 registers: pc at 32, sp at 31, the frame pointer in x29. No NT_PRPSINFO
 * or NT_SIGINFO: the first thread gives the process id and the signal. */
static void test_aarch64(void)
{
    bytes notes = {NULL, 0};
    uint8_t d[392];
    memset(d, 0, sizeof d);
    int tid = 99;
    int16_t sig = 6;
    uint64_t pc = 0xfeed, sp = 0xbeef, fp = 0xf00d;
    memcpy(d + 12, &sig, 2);
    memcpy(d + 32, &tid, 4);
    memcpy(d + 112 + 32 * 8, &pc, 8);
    memcpy(d + 112 + 31 * 8, &sp, 8);
    memcpy(d + 112 + 29 * 8, &fp, 8);
    note(&notes, "CORE", NT_PRSTATUS, d, sizeof d);
    file_note(&notes, NULL, 0);
    bytes b = core_of(&notes, NULL, 0, EM_AARCH64);
    moth_core c;
    moth_error err;
    CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.a", &err) == 0);
    CHECK_EQ_U(c.threads[0].nregs, 34);
    CHECK_EQ_U(moth_core_pc(&c, &c.threads[0]), 0xfeed);
    CHECK_EQ_U(moth_core_sp(&c, &c.threads[0]), 0xbeef);
    CHECK_EQ_U(moth_core_fp(&c, &c.threads[0]), 0xf00d);
    CHECK_EQ_U(c.pid, 99);
    CHECK_EQ_U(c.signal, 6);
    CHECK(c.executable == -1);
    moth_core_close(&c);
    free(b.data);
    free(notes.data);
}

/* A core whose stack holds argc, argv, envp, the auxiliary vector and their strings, as the
 * kernel starts a process. `execfn_in_note` is the AT_EXECFN the NT_AUXV note says; `arg1`
 * where argv[1] points. */
static bytes core_with_stack(uint64_t execfn_in_note, uint64_t arg1)
{
    const uint64_t base = 0x7ff000;
    static uint8_t stack[4096];
    memset(stack, 0, sizeof stack);
    uint64_t words[] = {2, base + 0x800, arg1, 0, base + 0x820, 0,
                        AT_PHDR, 0x400040, AT_EXECFN, base + 0x830, AT_NULL, 0};
    memcpy(stack + 0x100, words, sizeof words);
    memcpy(stack + 0x800, "python3.11", 11);
    memcpy(stack + 0x810, "a b.py", 7);
    memcpy(stack + 0x820, "HOME=/", 7);
    memcpy(stack + 0x830, "/usr/bin/python3.11", 20);
    bytes notes = {NULL, 0};
    prstatus(&notes, 5, 0, 0, base, 0);
    prpsinfo(&notes, 5, "python3.11", "python3.11 a b.p");
    uint64_t auxv[] = {AT_PHDR, 0x400040, AT_EXECFN, execfn_in_note, AT_NULL, 0};
    note(&notes, "CORE", NT_AUXV, auxv, sizeof auxv);
    file_note(&notes, NULL, 0);
    seg segs[] = {{base, 4096, PF_R | PF_W, stack, 4096}};
    bytes b = core_of(&notes, segs, 1, EM_X86_64);
    free(notes.data);
    return b;
}

static void test_command_line(void)
{
    const uint64_t base = 0x7ff000;
    struct {
        uint64_t execfn, arg1;
        size_t size;
        const char *want;
    } cases[] = {
        {base + 0x830, base + 0x810, 256, "python3.11 a b.py"},   /* the whole line */
        {base + 0x830, base + 0x810, 14, "python3.11 a "},        /* cut to the room given */
        {base + 0x830, 0x1234, 256, "python3.11 a b.p"},          /* argv[1] is not a string */
        {base + 0x840, base + 0x810, 256, "python3.11 a b.p"},    /* no such vector: psargs */
        {0x10, base + 0x810, 256, "python3.11 a b.p"},            /* AT_EXECFN not dumped */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes b = core_with_stack(cases[i].execfn, cases[i].arg1);
        moth_core c;
        moth_error err;
        CHECK(moth_core_from_buffer(&c, b.data, b.len, "core.s", &err) == 0);
        char line[256];
        moth_core_command_line(&c, line, cases[i].size);
        CHECK_STR(line, cases[i].want);
        moth_core_close(&c);
        free(b.data);
    }
}

/* Opening a core as a Python process: what is checked before the interpreter is looked for. */
static void test_remote_open_core(void)
{
    struct {
        const char *exe, *lib, *executable;
        int auxv;
        const char *want; /* after "core file PATH" */
    } cases[] = {
        {exe_path, lib_path, NULL, 1, " is not a core of a Python program (no python executable "
                                      "or libpython with an interpreter in its memory)"},
        {exe_path, "/nonexistent/libpython3.11.so.1.0", NULL, 1,
         ": /nonexistent/libpython3.11.so.1.0, which its process had loaded, is missing on this "
         "machine"},
        {"/nonexistent/python3.11", lib_path, NULL, 1,
         ": its executable /nonexistent/python3.11 is missing on this machine (give a copy with "
         "--executable PATH)"},
        {exe_path, lib_path, exe_path, 0,
         " does not say which file is its executable (no entry point in NT_AUXV), so "
         "--executable cannot replace it"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bytes b = core_variant(cases[i].exe, 1, cases[i].lib, cases[i].auxv);
        char *path = write_file("core.r", b.data, b.len);
        moth_remote t;
        moth_error err;
        CHECK(moth_remote_open_core(&t, path, cases[i].executable, &err) < 0);
        char want[512];
        snprintf(want, sizeof want, "core file %s%s", path, cases[i].want);
        CHECK_STR(err.msg, want);
        free(b.data);
    }
    moth_remote t;
    moth_error err;
    CHECK(moth_remote_open_core(&t, "/nonexistent/core", NULL, &err) < 0);
    CHECK_STR(err.msg, "cannot open /nonexistent/core: No such file or directory");
}

/* Every allocation of reading a core, its maps, replacing a file and opening it as a Python
 * process fails in turn: each failure says "out of memory" and leaks nothing. */
static void test_out_of_memory(void)
{
    bytes b = standard_core(exe_path, 1);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_error err = {{0}};
        moth_core c;
        moth_maps m = MOTH_MAPS_INIT;
        int rc = moth_core_from_buffer(&c, b.data, b.len, "core.m", &err);
        if (rc == 0) {
            rc = moth_core_maps(&c, &m, &err);
            if (rc == 0)
                rc = moth_core_replace_file(&c, 1, lib_path, &err);
            moth_maps_free(&m);
            moth_core_close(&c);
        }
        if (!FAULT_HAPPENED()) {
            CHECK(rc == 0);
            break;
        }
        CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    char *path = write_file("core.m", b.data, b.len);
    FOR_EACH_ALLOCATION_FAILURE(n) {
        moth_error err = {{0}};
        moth_remote t;
        int rc = moth_remote_open_core(&t, path, NULL, &err);
        if (!FAULT_HAPPENED()) {
            /* Read to the end: not a Python program. */
            CHECK(rc < 0 && strstr(err.msg, "is not a core of a Python program"));
            break;
        }
        CHECK_OUT_OF_MEMORY(rc, err, n);
    }
    free(b.data);
}

/* A core file on disk, opened by path. */
static void test_open(void)
{
    bytes b = standard_core(exe_path, 1);
    char *path = write_file("core", b.data, b.len);
    moth_core c;
    moth_error err;
    CHECK(moth_core_open(&c, path, &err) == 0);
    CHECK_STR(c.name, path);
    CHECK_EQ_U(c.nthreads, 2);
    moth_core_close(&c);
    free(b.data);
    b = standard_core(exe_path, 1);
    path = write_file("core.cut", b.data, b.len / 2);
    CHECK(moth_core_open(&c, path, &err) < 0);
    CHECK(strstr(err.msg, "is truncated") != NULL);
    free(b.data);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/moth-core-test-XXXXXX");
    if (!mkdtemp(dir))
        return 1;
    exe_file = elf_with_id(0xAA, EXE_SIZE, 0);
    lib_file = elf_with_id(0xCC, LIB_SIZE, 3);
    exe_path = write_file("exe", exe_file, EXE_SIZE);
    lib_path = write_file("libthing.so", lib_file, LIB_SIZE);
    RUN(test_notes);
    RUN(test_memory);
    RUN(test_maps);
    RUN(test_build_ids);
    RUN(test_bad_cores);
    RUN(test_aarch64);
    RUN(test_command_line);
    RUN(test_remote_open_core);
    RUN(test_out_of_memory);
    RUN(test_open);
    free(exe_file);
    free(lib_file);
    for (size_t i = 0; i < nwritten; i++) {
        unlink(written[i]);
        free(written[i]);
    }
    rmdir(dir);
    return check_summary();
}
