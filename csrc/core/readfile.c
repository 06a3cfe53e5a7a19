/* readfile.c: a whole file read into memory; see readfile.h. */
#include "readfile.h"

#include <stdio.h>

#include "strbuf.h"

char *moth_read_file(const char *path, size_t *len)
{
    FILE *f = path[0] != '<' ? fopen(path, "rb") : NULL;
    if (!f)
        return NULL;
    moth_sb text = MOTH_SB_INIT;
    char chunk[65536];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        moth_sb_append(&text, chunk, got);
    int failed = ferror(f);
    fclose(f);
    if (failed || text.failed || !text.data) {
        moth_sb_free(&text);
        return NULL;
    }
    if (len)
        *len = text.len;
    return moth_sb_take(&text);
}
