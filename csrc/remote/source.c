/* source.c: source lines of the target's files; see source.h. */
#include "source.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "funcs.h"
#include "readfile.h"

void moth_sources_init(moth_sources *s, const char *root, const char *cwd)
{
    memset(s, 0, sizeof *s);
    s->root = root ? root : "";
    s->cwd = cwd ? cwd : "";
}

void moth_sources_free(moth_sources *s)
{
    for (size_t i = 0; i < s->count; i++) {
        free(s->files[i].path);
        free(s->files[i].text);
        free(s->files[i].line_starts);
    }
    free(s->files);
    moth_map_free(&s->by_path);
    memset(s, 0, sizeof *s);
}

/* Reads the file as the target would find it. */
static char *load(const moth_sources *s, const char *path, size_t *len)
{
    char full[8192];
    const char *tries[3];
    size_t n = 0;
    char in_root[8192];
    if (path[0] == '/') {
        snprintf(full, sizeof full, "%s", path);
    } else {
        if (!s->cwd[0] || path[0] == '<')
            return NULL; /* "<stdin>", "<string>", frozen modules: no file */
        snprintf(full, sizeof full, "%s/%s", s->cwd, path);
    }
    if (s->root[0]) {
        snprintf(in_root, sizeof in_root, "%s%s", s->root, full);
        tries[n++] = in_root;
    }
    tries[n++] = full;
    for (size_t i = 0; i < n; i++) {
        char *text = moth_read_file(tries[i], len);
        if (text)
            return text;
    }
    return NULL;
}

static moth_source_file *find_or_load(moth_sources *s, const char *path)
{
    uint64_t h = moth_strhash(path, 0);
    uint32_t known = moth_map_get(&s->by_path, h, 0);
    if (known != MOTH_MAP_ABSENT && strcmp(s->files[known].path, path) == 0)
        return &s->files[known];
    /* Absent, or another path with the same hash (rare): read it, cached under the first. */
    if (moth_grow((void **)&s->files, sizeof *s->files, &s->cap, s->count + 1, NULL) < 0)
        return NULL;
    moth_source_file *f = &s->files[s->count];
    memset(f, 0, sizeof *f);
    if (!(f->path = strdup(path)))
        return NULL;
    f->text = load(s, path, &f->len);
    size_t cap = 0;
    for (size_t off = 0; f->text && off <= f->len;) {
        if (moth_grow((void **)&f->line_starts, sizeof *f->line_starts, &cap, f->nlines + 1,
                      NULL) < 0 || off > UINT32_MAX)
            break;
        f->line_starts[f->nlines++] = (uint32_t)off;
        const char *nl = memchr(f->text + off, '\n', f->len - off);
        if (!nl)
            break;
        off = (size_t)(nl - f->text) + 1;
    }
    if (known == MOTH_MAP_ABSENT)
        moth_map_put(&s->by_path, h, 0, (uint32_t)s->count, NULL);
    s->count++;
    return f;
}

char *moth_source_line(moth_sources *s, const char *path, int line)
{
    moth_source_file *f = find_or_load(s, path);
    if (!f || !f->text || line < 1 || (size_t)line > f->nlines)
        return NULL;
    size_t start = f->line_starts[line - 1];
    size_t end = (size_t)line < f->nlines ? f->line_starts[line] : f->len;
    while (start < end && (f->text[start] == ' ' || f->text[start] == '\t'))
        start++;
    while (end > start && (f->text[end - 1] == '\n' || f->text[end - 1] == '\r' ||
                           f->text[end - 1] == ' '))
        end--;
    return strndup(f->text + start, end - start);
}
