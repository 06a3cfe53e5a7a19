/* loadfile.c: opening moth and pstats files alike; see loadfile.h. */
#include "loadfile.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <stdlib.h>

#include "mothfile.h"
#include "proctree.h"
#include "strbuf.h"

int moth_pstats_add_file_line(moth_pstats *s, const char *path, moth_error *err)
{
    char line[64 + 4096];
    struct stat sb;
    char when[64] = "";
    if (stat(path, &sb) == 0) {
        /* time.ctime(): "Tue Nov  4 15:00:00 2026", local time */
        struct tm tm;
        if (localtime_r(&sb.st_mtime, &tm))
            strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm);
    }
    if (when[0])
        snprintf(line, sizeof line, "%s    %s", when, path);
    else
        snprintf(line, sizeof line, "%s", path);
    if (moth_grow((void **)&s->files, sizeof *s->files, &s->files_cap, s->nfiles + 1, err) < 0 ||
        !(s->files[s->nfiles] = moth_strdup(line, err)))
        return -1;
    s->nfiles++;
    return 0;
}

int moth_load_profile_file(const char *path, int run, moth_loaded *out, moth_error *err)
{
    memset(out, 0, sizeof *out);
    moth_profile_init(&out->profile);
    moth_pstats_init(&out->view);
    if (moth_mothfile_sniff(path)) {
        if (moth_mothfile_read(&out->profile, path, run, err) < 0)
            return -1;
        out->has_tree = 1;
        if (moth_pstats_from_profile(&out->view, &out->profile, err) < 0)
            goto fail;
    } else if (moth_pstats_read_file(&out->view, path, err) < 0) {
        goto fail;
    }
    if (moth_pstats_add_file_line(&out->view, path, err) < 0)
        goto fail;
    return 0;
fail:
    moth_loaded_free(out);
    return -1;
}

void moth_loaded_free(moth_loaded *l)
{
    moth_profile_free(&l->profile);
    moth_pstats_free(&l->view);
    l->has_tree = 0;
}

int moth_loaded_keep_pid(moth_loaded *l, const char *path, int64_t pid, moth_error *err)
{
    if (!l->has_tree)
        return moth_fail(err, "%s is a pstats file: it keeps no processes (moth profile "
                         "--subprocesses -o FILE.moth keeps them)", path);
    moth_profile *p = &l->profile;
    size_t i = 0;
    while (i < p->nprocesses && p->processes[i].pid != pid)
        i++;
    if (i == p->nprocesses) {
        moth_sb pids = MOTH_SB_INIT;
        for (size_t k = 0; k < p->nprocesses && k < 20; k++)
            moth_sb_printf(&pids, "%s%lld", k ? ", " : "", (long long)p->processes[k].pid);
        if (p->nprocesses > 20)
            moth_sb_puts(&pids, ", ...");
        int rc = moth_fail(err, "%s has no process %lld (its processes: %s)", path,
                           (long long)pid, pids.data && !pids.failed ? pids.data : "none known");
        moth_sb_free(&pids);
        return rc;
    }
    moth_proctree_keep(p, i);
    moth_pstats_free(&l->view);
    moth_pstats_init(&l->view);
    if (moth_pstats_from_profile(&l->view, p, err) < 0 ||
        moth_pstats_add_file_line(&l->view, path, err) < 0)
        return -1;
    return 0;
}
