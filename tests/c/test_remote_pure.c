/* C unit tests of the pure out-of-process layers: location tables (linetable.c), maps files
 * (maps.c), ELF files (elffile.c), thread stat lines (proc.c) and UTF-8 (rstring.c). */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "elffile.h"
#include "linetable.h"
#include "maps.h"
#include "proc.h"
#include "readfile.h"
#include "rstring.h"

/* A 3.11 function's co_linetable (multi-line expression, loop, comprehension, a return 300
 * lines further down: long-form entries) and the line of each code unit as CPython's co_lines
 * gives it (-1: no line). */
static const uint8_t TABLE[] = {
    128, 0,   216, 9,   10,  216, 9,   10,  241, 3,   1,   10,  11,  128, 65,  229, 13,  18,
    144, 49,  137, 88,  140, 88,  240, 0,   4,   5,   19,  240, 0,   4,   5,   19,  136, 1,
    216, 11,  12,  136, 113, 137, 53,  240, 0,   3,   9,   19,  216, 12,  13,  144, 17,  137,
    70,  136, 65,  136, 65,  224, 12,  13,  144, 17,  137, 70,  136, 65,  136, 65,  216, 8,
    29,  208, 8,   29,  149, 69,  152, 33,  145, 72,  148, 72,  208, 8,   29,  209, 8,   29,
    212, 8,   29,  128, 65,  240, 90,  9,   0,   12,  13,  136, 97,  136, 52,  128, 75};
static const int LINES[] = {
    2,  3,  4,  3,  3,  3,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,  5,
    6,  6,  6,  6,  6,  7,  7,  7,  7,  7,  7,  9,  9,  9,  9,  9,  9,  10, 10, 10, 10, 10, 10,
    10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 311, 311, 311,
    311};

static void test_linetable_matches_cpython(void)
{
    size_t units = sizeof LINES / sizeof LINES[0];
    for (size_t u = 0; u < units; u++)
        CHECK_EQ_U(moth_linetable_line(TABLE, sizeof TABLE, 2, (long)u), LINES[u]);
    CHECK_EQ_U(moth_linetable_line(TABLE, sizeof TABLE, 2, (long)units), MOTH_NO_LINE);
    CHECK_EQ_U(moth_linetable_line(TABLE, sizeof TABLE, 2, -1), 2); /* not started */
    CHECK_EQ_U(moth_linetable_last_line(TABLE, sizeof TABLE, 2), 311);
}

static void test_linetable_malformed(void)
{
    /* Cut anywhere, the table gives the lines it still has and "no line" after. */
    for (size_t cut = 0; cut < sizeof TABLE; cut++)
        for (long u = 0; u < 70; u++) {
            int line = moth_linetable_line(TABLE, cut, 2, u);
            CHECK(line == MOTH_NO_LINE || line == LINES[u]);
        }
    /* An entry whose first byte lacks bit 7, a varint that never ends, no-location entries. */
    const uint8_t bad[] = {0x10, 0x00};
    CHECK_EQ_U(moth_linetable_line(bad, sizeof bad, 5, 0), MOTH_NO_LINE);
    const uint8_t endless[] = {0xF0, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41};
    CHECK_EQ_U(moth_linetable_line(endless, sizeof endless, 5, 0), MOTH_NO_LINE);
    const uint8_t none[] = {0xF8 | 1, 0xE8, 0x02};  /* 2 units without location, then +1 */
    CHECK_EQ_U(moth_linetable_line(none, sizeof none, 5, 1), MOTH_NO_LINE);
    CHECK_EQ_U(moth_linetable_line(none, sizeof none, 5, 2), 6);
    const uint8_t negative[] = {0xE8, 0x7F, 0x3F};   /* a line delta far below zero */
    CHECK_EQ_U(moth_linetable_line(negative, sizeof negative, 1, 0), MOTH_NO_LINE);
}

static const char MAPS[] =
    "55d0c0a00000-55d0c0a01000 r--p 00000000 fd:01 1234   /usr/bin/python3.11\n"
    "55d0c0a01000-55d0c0b00000 r-xp 00001000 fd:01 1234   /usr/bin/python3.11\n"
    "7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
    "7f1000000000-7f1000100000 r--p 00000000 fd:01 77     /usr/lib/libpython3.11.so.1.0\n"
    "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]\n"
    "7f2000000000-7f2000001000 r--p 00000000 fd:01 88     /tmp/a file with spaces (deleted)";

static void test_maps_parse(void)
{
    moth_maps m = MOTH_MAPS_INIT;
    moth_error err;
    CHECK(moth_maps_parse(&m, MAPS, sizeof MAPS - 1, &err) == 0);
    CHECK_EQ_U(m.count, 6);
    /* Kept in address order although the input was not. */
    for (size_t i = 1; i < m.count; i++)
        CHECK(m.items[i - 1].start < m.items[i].start);
    const moth_mapping *x = moth_maps_find(&m, 0x55d0c0a01234);
    CHECK(x && x->perms == (MOTH_MAP_READ | MOTH_MAP_EXEC) && x->offset == 0x1000);
    CHECK(x && strcmp(x->path, "/usr/bin/python3.11") == 0 && x->inode == 1234);
    CHECK(moth_maps_find(&m, 0x7f0000021000) == NULL);  /* end is exclusive */
    CHECK(moth_maps_find(&m, 0x10) == NULL);
    const moth_mapping *anon = moth_maps_find(&m, 0x7f0000000010);
    CHECK(anon && anon->path == NULL && anon->perms == (MOTH_MAP_READ | MOTH_MAP_WRITE));
    const moth_mapping *lib = moth_maps_find_file(&m, "libpython3*");
    CHECK(lib && lib->start == 0x7f1000000000);
    CHECK(moth_maps_find_file(&m, "python3.11") && moth_maps_find_file(&m, "python3.11")->start == 0x55d0c0a00000);
    CHECK(moth_maps_find_file(&m, "[stack]") == NULL);
    CHECK_STR(moth_maps_find(&m, 0x7f2000000000)->path, "/tmp/a file with spaces (deleted)");
    CHECK_EQ_U(moth_maps_bias(lib, 0x1234), 0x7f1000000000 - 0x1000);
    moth_maps_free(&m);

    const char *bad[] = {"zzzz-1000 r--p 0 00:00 0\n", "1000-2000 r--p 0 00:00\n1000",
                         "2000-1000 r--p 0 00:00 0\n", "1000-2000 r\n",
                         "11111111111111111-2000 r--p 0 00:00 0\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(moth_maps_parse(&m, bad[i], strlen(bad[i]), &err) < 0);
        moth_maps_free(&m);
    }
    CHECK(moth_maps_read_pid(&m, 0x7ffffff0, &err) < 0);
    CHECK_STR(err.msg, "no process 2147483632");
    CHECK(moth_maps_read_pid(&m, getpid(), &err) == 0 && m.count > 3);
    moth_maps_free(&m);
}

static void test_elf_of_this_program(void)
{
    moth_elf e;
    moth_error err;
    CHECK(moth_elf_open(&e, "/proc/self/exe", &err) == 0);
    const char *names[] = {"main", "no_such_symbol", "test_elf_of_this_program"};
    uint64_t values[3], sizes[3];
    CHECK_EQ_U(moth_elf_symbols(&e, names, 3, values, sizes, &err), 2);
    CHECK(values[0] && !values[1] && values[2] && sizes[2]);
    const char *name;
    uint64_t off;
    CHECK(moth_elf_symbolize(&e, values[2] + 3, &name, &off) == 0);
    CHECK_STR(name, "test_elf_of_this_program");
    CHECK_EQ_U(off, 3);
    moth_elf_section text;
    CHECK(moth_elf_section_named(&e, ".text", &text) == 0 && text.size > 0);
    CHECK(moth_elf_section_named(&e, ".no_such_section", &text) < 0);
    const uint8_t *id;
    size_t id_len;
    CHECK(moth_elf_build_id(&e, &id, &id_len) == 0 && id_len == 20);
    /* The bytes at a function's address are its code in the file. */
    CHECK(moth_elf_vaddr_bytes(&e, values[2], 4) != NULL);
    CHECK(moth_elf_vaddr_bytes(&e, 0x7fffffffffff0000ull, 4) == NULL);

    /* Every truncation of the file is either refused or read safely (ASan watches). */
    size_t size = e.size;
    uint8_t *copy = malloc(size);
    memcpy(copy, e.data, size);
    moth_elf_close(&e);
    for (size_t cut = 0; cut < size; cut += cut < 4096 ? 1 : 4093) {
        uint8_t *part = malloc(cut ? cut : 1);
        memcpy(part, copy, cut);
        moth_elf p;
        if (moth_elf_from_buffer(&p, part, cut, &err) == 0) {
            moth_elf_symbols(&p, names, 3, values, NULL, &err);
            moth_elf_symbolize(&p, values[0], &name, &off);
            moth_elf_build_id(&p, &id, &id_len);
            moth_elf_lowest_load(&p);
            moth_elf_section_named(&p, ".text", &text);
        }
        free(part);
    }
    /* Not ELF, another class, another machine. */
    CHECK(moth_elf_from_buffer(&e, "#!/bin/sh\n", 10, &err) < 0);
    CHECK_STR(err.msg, "not an ELF file");
    copy[EI_CLASS] = ELFCLASS32;
    CHECK(moth_elf_from_buffer(&e, copy, size, &err) < 0);
    CHECK_STR(err.msg, "not a 64-bit little-endian ELF file");
    copy[EI_CLASS] = ELFCLASS64;
    copy[18] = 0x28; /* EM_ARM */
    copy[19] = 0;
    CHECK(moth_elf_from_buffer(&e, copy, size, &err) < 0);
    CHECK_STR(err.msg, "ELF file for another machine (e_machine 40)");
    free(copy);
    CHECK(moth_elf_open(&e, "/nonexistent/file", &err) < 0);
    CHECK_STR(err.msg, "cannot open /nonexistent/file: No such file or directory");
    CHECK(moth_elf_open(&e, "/proc/self", &err) < 0);
    CHECK_STR(err.msg, "/proc/self is not a regular file");
}

static void test_stat_lines(void)
{
    char state, comm[16];
    uint64_t ticks;
    const char line[] = "4242 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 11 22 33 44 45 46 47";
    CHECK(moth_proc_parse_stat(line, sizeof line - 1, &state, &ticks, comm) == 0);
    CHECK_EQ_U(state, 'S');
    CHECK_EQ_U(ticks, 33);
    CHECK_STR(comm, "a (weird) name");
    const char cut[] = "4242 (x) R 1 2 3";
    CHECK(moth_proc_parse_stat(cut, sizeof cut - 1, &state, &ticks, comm) < 0);
    CHECK(moth_proc_parse_stat("4242 x", 6, &state, &ticks, comm) < 0);
    CHECK(moth_proc_parse_stat(")(", 2, &state, &ticks, comm) < 0);

    moth_tasks tasks = MOTH_TASKS_INIT;
    moth_error err;
    CHECK(moth_proc_tasks(getpid(), &tasks, &err) == 0);
    CHECK(tasks.count >= 1 && tasks.items[0].tid == getpid() && tasks.items[0].state == 'R');
    moth_tasks_free(&tasks);
    CHECK(moth_proc_tasks(0x7ffffff0, &tasks, &err) < 0);
    CHECK(moth_proc_exists(0x7ffffff0, &err) < 0);
    CHECK(moth_proc_exists(getpid(), &err) == 0);
    char buf[4096];
    CHECK(moth_proc_exe(getpid(), buf, sizeof buf) == 0 && strstr(buf, "test_remote_pure"));
    moth_proc_cmdline(getpid(), buf, sizeof buf);
    CHECK(strstr(buf, "test_remote_pure") != NULL);
    moth_proc_cmdline(0x7ffffff0, buf, sizeof buf);
    CHECK_STR(buf, "");
}

static void test_utf8(void)
{
    char out[4];
    CHECK_EQ_U(moth_utf8_encode('a', out), 1);
    CHECK_EQ_U(moth_utf8_encode(0xe9, out), 2);
    CHECK(memcmp(out, "\xc3\xa9", 2) == 0);
    CHECK_EQ_U(moth_utf8_encode(0x20ac, out), 3);
    CHECK(memcmp(out, "\xe2\x82\xac", 3) == 0);
    CHECK_EQ_U(moth_utf8_encode(0x1f600, out), 4);
    CHECK(memcmp(out, "\xf0\x9f\x98\x80", 4) == 0);
    CHECK_EQ_U(moth_utf8_encode(0xdc80, out), 3); /* a lone surrogate: U+FFFD */
    CHECK(memcmp(out, "\xef\xbf\xbd", 3) == 0);
    CHECK_EQ_U(moth_utf8_encode(0x110000, out), 3);
}

static void test_read_file(void)
{
    size_t len;
    char *text = moth_read_file("/proc/self/comm", &len);
    CHECK(text && len > 0 && text[len] == '\0');
    free(text);
    CHECK(moth_read_file("<string>", &len) == NULL);
    CHECK(moth_read_file("/nonexistent", &len) == NULL);
}

int main(void)
{
    RUN(test_linetable_matches_cpython);
    RUN(test_linetable_malformed);
    RUN(test_maps_parse);
    RUN(test_elf_of_this_program);
    RUN(test_stat_lines);
    RUN(test_utf8);
    RUN(test_read_file);
    return check_summary();
}
