/*
 * remote_core.c: a CPython process read from its core file; see remote.h.
 *
 * The core's memory (csrc/os/corefile.h) stands in for the live process's, its NT_FILE list
 * for /proc/PID/maps; from there the interpreter is found as in a live process. What must be
 * right before anything is read: the executable and libpython on this machine are the builds
 * the process ran (their symbols place the runtime, their text and read-only data fill what
 * the core left out).
 */
#include "remote.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "corefile.h"

/* The files whose absence or difference leaves nothing to read: the executable, libpython. */
static int is_essential(const moth_core *c, uint32_t i)
{
    const char *base = strrchr(c->files[i].path, '/');
    base = base ? base + 1 : c->files[i].path;
    return (int)i == c->executable || strncmp(base, "libpython", 9) == 0;
}

static int check_files(moth_core *c, const char *executable, moth_error *err)
{
    if (executable) {
        if (c->executable < 0)
            return moth_fail(err, "core file %s does not say which file is its executable (no "
                             "entry point in NT_AUXV), so --executable cannot replace it",
                             c->name);
        if (moth_core_replace_file(c, (uint32_t)c->executable, executable, err) < 0)
            return -1;
    }
    for (uint32_t i = 0; i < c->nfiles; i++) {
        int status = moth_core_check_file(c, i);
        if (status == MOTH_CORE_FILE_OK || !is_essential(c, i))
            continue;
        const char *path = c->files[i].path;
        int exe = (int)i == c->executable;
        if (status == MOTH_CORE_FILE_MISSING && exe)
            return moth_fail(err, "core file %s: its executable %s is missing on this machine "
                             "(give a copy with --executable PATH)", c->name, path);
        if (status == MOTH_CORE_FILE_MISSING)
            return moth_fail(err, "core file %s: %s, which its process had loaded, is missing "
                             "on this machine", c->name, path);
        if (exe)
            return moth_fail(err, "core file %s: %s is not the executable its process ran "
                             "(another build: their build ids differ; give the right one with "
                             "--executable PATH)", c->name, path);
        return moth_fail(err, "core file %s: %s on this machine is not the one its process had "
                         "loaded (another build: their build ids differ)", c->name, path);
    }
    return 0;
}

int moth_remote_open_core(moth_remote *t, const char *path, const char *executable,
                          moth_error *err)
{
    memset(t, 0, sizeof *t);
    moth_core *c = moth_calloc(1, sizeof *c, err);
    if (!c)
        return -1;
    if (moth_core_open(c, path, err) < 0) {
        free(c);
        return -1;
    }
    t->core = c;
    moth_core_memsrc(c, &t->mem);
    char what[4200];
    snprintf(what, sizeof what, "core file %s", path);
    if (check_files(c, executable, err) < 0 || moth_core_maps(c, &t->maps, err) < 0 ||
        moth_remote_locate(t, what, err) < 0) {
        moth_remote_close(t);
        return -1;
    }
    return 0;
}
