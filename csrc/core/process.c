/* process.c: a run's process and its place in the process tree; see process.h. */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "strbuf.h"

void moth_process_init(moth_process *p)
{
    memset(p, 0, sizeof *p);
    p->rank = p->size = -1;
}

void moth_process_free(moth_process *p)
{
    free(p->command);
    free(p->how);
    free(p->session);
    moth_process_init(p);
}

int moth_process_known(const moth_process *p)
{
    return p->pid != 0;
}

static int copy_text(char **dst, const char *src, moth_error *err)
{
    *dst = NULL;
    return src && !(*dst = moth_strdup(src, err)) ? -1 : 0;
}

int moth_process_copy(moth_process *dst, const moth_process *src, moth_error *err)
{
    moth_process_init(dst);
    dst->pid = src->pid;
    dst->parent_pid = src->parent_pid;
    dst->rank = src->rank;
    dst->size = src->size;
    if (copy_text(&dst->command, src->command, err) < 0 ||
        copy_text(&dst->how, src->how, err) < 0 ||
        copy_text(&dst->session, src->session, err) < 0) {
        moth_process_free(dst);
        return -1;
    }
    return 0;
}

/* Characters a POSIX shell takes as they are in a word. */
static int plain_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("%+,-./:=@_", c) != NULL;
}

char *moth_command_line(const char *cmdline, size_t len, moth_error *err)
{
    moth_sb out = MOTH_SB_INIT;
    size_t at = 0;
    while (at < len) {
        const char *arg = cmdline + at;
        size_t n = strnlen(arg, len - at);
        int plain = n > 0;
        for (size_t i = 0; i < n && plain; i++)
            plain = plain_char(arg[i]);
        if (out.len)
            moth_sb_putc(&out, ' ');
        if (plain) {
            moth_sb_append(&out, arg, n);
        } else {
            moth_sb_putc(&out, '\'');
            for (size_t i = 0; i < n; i++) {
                if (arg[i] == '\'')
                    moth_sb_puts(&out, "'\\''");
                else
                    moth_sb_putc(&out, arg[i]);
            }
            moth_sb_putc(&out, '\'');
        }
        at += n + 1;
    }
    if (moth_sb_check(&out, err) < 0) {
        moth_sb_free(&out);
        return NULL;
    }
    if (!out.data)
        return moth_strdup("", err);
    return out.data;
}

const char *moth_env_block_lookup(const char *name, void *ctx)
{
    const moth_env_block *b = ctx;
    size_t n = strlen(name), at = 0;
    while (at < b->len) {
        const char *entry = b->bytes + at;
        size_t len = strnlen(entry, b->len - at);
        /* only a NUL-ended entry: the value is then a C string in place */
        if (at + len < b->len && len > n && entry[n] == '=' && memcmp(entry, name, n) == 0)
            return entry + n + 1;
        at += len + 1;
    }
    return NULL;
}

/* A whole non-negative number (a rank or a size), or -1. */
static int32_t count_of(const char *text)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    return *end || errno || v < 0 || v > INT32_MAX ? -1 : (int32_t)v;
}

int moth_process_mpi(moth_process *p, moth_env_lookup lookup, void *ctx, char **job,
                     moth_error *err)
{
    /* Each launcher's names for rank and size, the most specific first. */
    static const char *const names[][2] = {
        {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"}, /* Open MPI */
        {"PMI_RANK", "PMI_SIZE"},                         /* MPICH, Intel MPI (Hydra) */
        {"MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"},   /* MVAPICH */
        {"PMIX_RANK", "OMPI_COMM_WORLD_SIZE"},            /* PMIx launchers */
        {"SLURM_PROCID", "SLURM_NTASKS"},                 /* srun */
    };
    /* Identifiers the ranks of one job share. */
    static const char *const jobs[] = {"PMIX_NAMESPACE", "OMPI_MCA_ess_base_jobid",
                                       "PMI_KVSNAME", "MPIRUN_ID", "SLURM_STEP_ID"};
    *job = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int32_t rank = count_of(lookup(names[i][0], ctx));
        if (rank < 0)
            continue;
        p->rank = rank;
        p->size = count_of(lookup(names[i][1], ctx));
        for (size_t k = 0; k < sizeof jobs / sizeof jobs[0]; k++) {
            const char *id = lookup(jobs[k], ctx);
            if (id && *id) {
                const char *slurm_job = k == 4 ? lookup("SLURM_JOB_ID", ctx) : NULL;
                char text[256];
                snprintf(text, sizeof text, "%s%s%s", slurm_job ? slurm_job : "",
                         slurm_job ? "." : "", id);
                if (!(*job = moth_strdup(text, err)))
                    return -1;
                break;
            }
        }
        return 1;
    }
    return 0;
}

int moth_process_self(moth_process *p, moth_error *err)
{
    p->pid = (int64_t)getpid();
    p->parent_pid = (int64_t)getppid();
    int fd = open("/proc/self/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0; /* no /proc: the command line stays unknown */
    moth_sb bytes = MOTH_SB_INIT;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        moth_sb_append(&bytes, buf, (size_t)n);
    close(fd);
    if (moth_sb_check(&bytes, err) < 0) {
        moth_sb_free(&bytes);
        return -1;
    }
    char *command = moth_command_line(bytes.data ? bytes.data : "", bytes.len, err);
    moth_sb_free(&bytes);
    if (!command)
        return -1;
    free(p->command);
    p->command = command;
    return 0;
}
