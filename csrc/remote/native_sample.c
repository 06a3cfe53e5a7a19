/* native_sample.c: C and Python frames merged, sample after sample; see native_sample.h. */
#include "native_sample.h"

#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "funcs.h"
#include "remote.h"
#include "sampler.h"

/* The mapped files are read again at most this often (seconds). */
#define REFRESH_EVERY 0.1

int moth_native_sampler_open(moth_native_sampler *ns, moth_remote *t, moth_error *err)
{
    memset(ns, 0, sizeof *ns);
    if (moth_unwind_open_pid(&ns->unwinder, t->pid, &t->mem, err) < 0)
        return -1;
    moth_unwind_threads_held(ns->unwinder);
    ns->refreshed_at = moth_now();
    return 0;
}

void moth_native_sampler_close(moth_native_sampler *ns)
{
    moth_unwind_close(ns->unwinder);
    moth_native_stack_free(&ns->stack);
    for (size_t i = 0; i < ns->ncfuncs; i++) {
        free(ns->cfuncs[i].name);
        free(ns->cfuncs[i].file);
    }
    free(ns->cfuncs);
    moth_map_free(&ns->cfunc_by_label);
    moth_map_free(&ns->by_start);
    free(ns->cf);
    free(ns->loop);
    free(ns->merged);
    memset(ns, 0, sizeof *ns);
}

/* The index of the C function labelled (file, line, name), added when new. */
static int intern_cfunc(moth_native_sampler *ns, const char *file, uint32_t line,
                        const char *name, size_t name_len, uint32_t *out, moth_error *err)
{
    uint64_t h = moth_strhash(file, 0x6d6f7468u) ^ name_len;
    for (size_t i = 0; i < name_len; i++)
        h = (h ^ (uint8_t)name[i]) * 0x100000001b3ull;
    /* Two labels with one hash take the next probe number. */
    for (uint64_t probe = 0;; probe++) {
        uint32_t at = moth_map_get(&ns->cfunc_by_label, h, line | probe << 32);
        if (at == MOTH_MAP_ABSENT)
            break;
        const moth_cfunc *c = &ns->cfuncs[at];
        if (c->line == line && strcmp(c->file, file) == 0 && strlen(c->name) == name_len &&
            memcmp(c->name, name, name_len) == 0) {
            *out = at;
            return 0;
        }
        if (probe == 1000)
            return moth_fail(err, "too many C functions with one hash");
    }
    uint64_t probe = 0;
    while (moth_map_get(&ns->cfunc_by_label, h, line | probe << 32) != MOTH_MAP_ABSENT)
        probe++;
    if (moth_grow((void **)&ns->cfuncs, sizeof *ns->cfuncs, &ns->cfuncs_cap, ns->ncfuncs + 1,
                  err) < 0)
        return -1;
    moth_cfunc *c = &ns->cfuncs[ns->ncfuncs];
    moth_native_name as_name = {name, name_len, 0, NULL, NULL, 0, 0, NULL, 0};
    *c = (moth_cfunc){strndup(name, name_len), strdup(file), line,
                      (uint8_t)moth_is_call_plumbing(name, name_len),
                      (uint8_t)moth_is_eval_loop(&as_name), MOTH_NO_FUNC};
    if (!c->name || !c->file ||
        moth_map_put(&ns->cfunc_by_label, h, line | probe << 32, (uint32_t)ns->ncfuncs,
                     err) < 0) {
        free(c->name);
        free(c->file);
        return moth_fail(err, "out of memory");
    }
    *out = (uint32_t)ns->ncfuncs++;
    return 0;
}

/* The C function frame f runs: found by its start address (kept until the mapped files are
 * read again), else named by its symbol and DWARF the first time. *unknown_file: f lies in no
 * file the session knows. */
static int cfunc_at(moth_native_sampler *ns, const moth_native_pc *f, uint32_t *out,
                    int *unknown_file, moth_error *err)
{
    moth_native_func fn;
    int rc = moth_unwind_function(ns->unwinder, f, &fn);
    *unknown_file |= rc < 0;
    /* Unnamed code is one function per file (its start: the file's name, hashed). */
    uint64_t key = rc == 0 ? fn.start : rc > 0 ? moth_strhash(fn.module, 0) : 0;
    uint32_t at = moth_map_get(&ns->by_start, key, (uint64_t)(rc + 1));
    if (at != MOTH_MAP_ABSENT) {
        *out = at;
        return 0;
    }
    const char *file = NULL, *name = fn.function ? fn.function : "??";
    int line = 0;
    if (rc == 0)
        moth_unwind_decl(ns->unwinder, fn.start, &file, &line);
    if (!file || line <= 0) {
        file = fn.module ? fn.module : "?";
        line = 0;
    }
    /* libdw names the kernel's vDSO "[vdso: PID]": one name for it in every recording. */
    if (strncmp(file, "[vdso", 5) == 0)
        file = "[vdso]";
    if (intern_cfunc(ns, file, (uint32_t)line, name, fn.function ? fn.function_len : strlen(name),
                     out, err) < 0 ||
        moth_map_put(&ns->by_start, key, (uint64_t)(rc + 1), *out, err) < 0)
        return -1;
    return 0;
}

/* The functions of ns->stack into ns->cf, innermost first. *unknown_file as for cfunc_at. */
static int functions_of(moth_native_sampler *ns, int *unknown_file, moth_error *err)
{
    *unknown_file = 0;
    if (moth_grow((void **)&ns->cf, sizeof *ns->cf, &ns->cf_cap, ns->stack.count, err) < 0 ||
        moth_grow((void **)&ns->loop, sizeof *ns->loop, &ns->loop_cap, ns->stack.count,
                  err) < 0)
        return -1;
    for (size_t i = 0; i < ns->stack.count; i++) {
        if (cfunc_at(ns, &ns->stack.frames[i], &ns->cf[i], unknown_file, err) < 0)
            return -1;
        ns->loop[i] = ns->cfuncs[ns->cf[i]].loop;
    }
    return 0;
}

/* Walks the held thread's C stack and names its functions; when it ran code in a file mapped
 * since the files were read, reads them again (at most every REFRESH_EVERY seconds) and walks
 * again. Function starts kept are dropped then: a file gone may have left its addresses to
 * another. */
static int walk(moth_native_sampler *ns, moth_error *err)
{
    int unknown_file;
    if (moth_unwind_stack(ns->unwinder, &ns->stack, err) < 0 ||
        functions_of(ns, &unknown_file, err) < 0)
        return -1;
    double now;
    if (!unknown_file || (now = moth_now()) - ns->refreshed_at < REFRESH_EVERY)
        return 0;
    ns->refreshed_at = now;
    ns->stats.refreshes++;
    if (moth_unwind_refresh(ns->unwinder, err) < 0)
        return 1; /* the process has gone */
    moth_map_free(&ns->by_start);
    if (moth_unwind_stack(ns->unwinder, &ns->stack, err) < 0 ||
        functions_of(ns, &unknown_file, err) < 0)
        return -1;
    return 0;
}

/* ns->merged from ns->cf and py: merged, then the plumbing and what lies above the outermost
 * Python frame left out. 1 when there is no Python frame. */
static int merge(moth_native_sampler *ns, const moth_rstack *py, moth_error *err)
{
    size_t nc = ns->stack.count;
    if (moth_grow((void **)&ns->merged, sizeof *ns->merged, &ns->merged_cap, nc + py->count + 1,
                  err) < 0)
        return -1;
    size_t n = moth_native_merge(ns->loop, nc, ns->stack.complete, py->frames, py->count,
                                 ns->merged);
    size_t outermost = n;
    for (size_t k = 0; k < n; k++)
        if (ns->merged[k].python)
            outermost = k;
    if (outermost == n)
        return 1;
    size_t kept = 0;
    for (size_t k = 0; k <= outermost; k++) {
        moth_merged m = ns->merged[k];
        if (!m.python) {
            m.index = ns->cf[m.index];
            if (ns->cfuncs[m.index].plumbing)
                continue;
        }
        ns->merged[kept++] = m;
    }
    ns->nmerged = kept;
    return 0;
}

int moth_native_sample(moth_native_sampler *ns, moth_remote *t, moth_stack_reader *r,
                       moth_rthread *th, moth_rstack *py, moth_error *err)
{
    ns->nmerged = 0;
    moth_stop_failure why;
    moth_error ignored;
    if (!th->native_id ||
        moth_unwind_hold(ns->unwinder, (pid_t)th->native_id, &why, &ignored) < 0) {
        ns->stats.skipped++;
        return 1;
    }
    int rc = walk(ns, err);
    int python = rc == 0 && moth_remote_stack(t, r, th, py) == 0;
    moth_unwind_release(ns->unwinder);
    if (rc < 0)
        return -1;
    ns->stats.walks++;
    ns->stats.partial += !ns->stack.complete;
    if (!python)
        return 1; /* dropped, counted by the stack reader */
    return merge(ns, py, err);
}
