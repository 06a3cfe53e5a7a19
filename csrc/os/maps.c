/* maps.c: /proc/PID/maps parsed into address-ordered mappings; see maps.h. */
#include "maps.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"

void moth_maps_free(moth_maps *m)
{
    for (size_t i = 0; i < m->count; i++)
        free(m->items[i].path);
    free(m->items);
    m->items = NULL;
    m->count = m->cap = 0;
}

int moth_maps_add(moth_maps *m, uint64_t start, uint64_t end, uint64_t offset, uint32_t perms,
                  uint64_t inode, const char *path, moth_error *err)
{
    if (end < start)
        return moth_fail(err, "mapping ends before it starts (%#llx-%#llx)",
                         (unsigned long long)start, (unsigned long long)end);
    if (moth_grow((void **)&m->items, sizeof *m->items, &m->cap, m->count + 1, err) < 0)
        return -1;
    char *copy = NULL;
    if (path && !(copy = moth_strdup(path, err)))
        return -1;
    /* Sources list mappings in order; insert from the end so that stays O(1). */
    size_t at = m->count;
    while (at > 0 && m->items[at - 1].start > start)
        at--;
    memmove(&m->items[at + 1], &m->items[at], (m->count - at) * sizeof *m->items);
    m->items[at] = (moth_mapping){start, end, offset, inode, perms, copy};
    m->count++;
    return 0;
}

/* Reads a hexadecimal number at *p, advancing it; -1 when there is none. */
static int hex_field(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    while (s < end) {
        int c = (unsigned char)*s, d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (++digits > 16)
            return -1;
        v = v << 4 | (uint64_t)d;
        s++;
    }
    if (!digits)
        return -1;
    *out = v;
    *p = s;
    return 0;
}

static int expect(const char **p, const char *end, char c)
{
    if (*p >= end || **p != c)
        return -1;
    (*p)++;
    return 0;
}

static void skip_spaces(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t'))
        (*p)++;
}

/* One line: "start-end perms offset dev:dev inode   path". */
static int parse_line(moth_maps *m, const char *s, const char *end, moth_error *err)
{
    const char *line = s;
    uint64_t start, stop, offset, major, minor, inode = 0;
    if (hex_field(&s, end, &start) < 0 || expect(&s, end, '-') < 0 ||
        hex_field(&s, end, &stop) < 0 || expect(&s, end, ' ') < 0 || end - s < 4)
        goto bad;
    uint32_t perms = (s[0] == 'r' ? MOTH_MAP_READ : 0) | (s[1] == 'w' ? MOTH_MAP_WRITE : 0) |
                     (s[2] == 'x' ? MOTH_MAP_EXEC : 0);
    s += 4;
    skip_spaces(&s, end);
    if (hex_field(&s, end, &offset) < 0)
        goto bad;
    skip_spaces(&s, end);
    if (hex_field(&s, end, &major) < 0 || expect(&s, end, ':') < 0 ||
        hex_field(&s, end, &minor) < 0)
        goto bad;
    skip_spaces(&s, end);
    while (s < end && *s >= '0' && *s <= '9') {
        if (inode > UINT64_MAX / 10)
            goto bad;
        inode = inode * 10 + (uint64_t)(*s++ - '0');
    }
    skip_spaces(&s, end);
    char path[4096];
    size_t n = (size_t)(end - s);
    if (n >= sizeof path)
        n = sizeof path - 1;
    memcpy(path, s, n);
    path[n] = '\0';
    return moth_maps_add(m, start, stop, offset, perms, inode, n ? path : NULL, err);
bad:;
    int shown = (int)(end - line > 80 ? 80 : end - line);
    return moth_fail(err, "not a line of a maps file: '%.*s'", shown, line);
}

int moth_maps_parse(moth_maps *m, const char *text, size_t len, moth_error *err)
{
    const char *s = text, *end = text + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *stop = nl ? nl : end;
        if (stop > s && parse_line(m, s, stop, err) < 0)
            return -1;
        s = stop + 1;
    }
    return 0;
}

int moth_maps_read_pid(moth_maps *m, int pid, moth_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            moth_fail(err, "no process %d", pid);
        else
            moth_fail(err, "cannot read the memory map of process %d: %s", pid, strerror(e));
        errno = e;
        return -1;
    }
    moth_sb text = MOTH_SB_INIT;
    char buf[65536];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        moth_sb_append(&text, buf, (size_t)got);
    int read_errno = got < 0 ? errno : 0;
    close(fd);
    int rc = -1;
    if (read_errno) {
        moth_fail(err, "cannot read the memory map of process %d: %s", pid, strerror(read_errno));
        errno = read_errno;
    }
    else if (moth_sb_check(&text, err) == 0)
        rc = moth_maps_parse(m, text.data ? text.data : "", text.len, err);
    moth_sb_free(&text);
    return rc;
}

const moth_mapping *moth_maps_find(const moth_maps *m, uint64_t addr)
{
    size_t lo = 0, hi = m->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->items[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->count && m->items[lo].start <= addr && addr < m->items[lo].end)
        return &m->items[lo];
    return NULL;
}

static int name_matches(const char *path, const char *name)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(name);
    if (n && name[n - 1] == '*')
        return strncmp(base, name, n - 1) == 0;
    return strcmp(base, name) == 0 || strcmp(path, name) == 0;
}

const moth_mapping *moth_maps_find_file(const moth_maps *m, const char *name)
{
    for (size_t i = 0; i < m->count; i++) {
        const moth_mapping *x = &m->items[i];
        if (x->path && x->offset == 0 && x->path[0] != '[' && name_matches(x->path, name))
            return x;
    }
    return NULL;
}
