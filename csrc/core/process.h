/*
 * process.h: which process a run was, and where it stands in the process tree.
 *
 * One moth file can hold the runs of many processes: a program's children profiled with
 * `--subprocesses` (forks, multiprocessing workers, Python subprocesses), the ranks of an MPI
 * job, or runs merged from several files. Each run keeps its process: pid, parent pid, command
 * line, how it came to be profiled, its MPI rank and size, and the session it belongs to (the
 * runs of one `moth profile --subprocesses` or of one MPI job share a session). Whoever records
 * a process fills this in: the in-process profiler for itself, a sampler for the process it
 * reads from outside (from /proc/PID/cmdline and /proc/PID/environ, with the same helpers).
 */
#ifndef MOTH_PROCESS_H
#define MOTH_PROCESS_H

#include "common.h"

typedef struct moth_process {
    int64_t pid, parent_pid; /* 0: unknown */
    char *command;           /* the command line, arguments separated by spaces; may be NULL */
    char *how;               /* how it was profiled: "main", "fork", "spawn", "mpi", ...; NULL */
    char *session;           /* the session's identifier; NULL for a run of its own */
    int32_t rank, size;      /* MPI rank and size; -1 when the process is not an MPI rank */
} moth_process;

void moth_process_init(moth_process *p);
void moth_process_free(moth_process *p);
/* A deep copy of src into dst (initialised by this call). */
int moth_process_copy(moth_process *dst, const moth_process *src, moth_error *err);
/* 1 when p says anything (a pid at least). */
int moth_process_known(const moth_process *p);

/* The command line from the bytes of /proc/PID/cmdline (arguments ended by NUL bytes):
 * arguments joined by spaces, each quoted as a POSIX shell would need it. NULL when out of
 * memory (err set); an empty string for no arguments. */
char *moth_command_line(const char *cmdline, size_t len, moth_error *err);

/* Looks up an environment variable of the process described: getenv for this process, or a
 * search of /proc/PID/environ for another. NULL when unset. */
typedef const char *(*moth_env_lookup)(const char *name, void *ctx);

/* Reads an MPI launcher's environment (Open MPI, PMIx, MPICH and Intel MPI's Hydra, MVAPICH,
 * Slurm's srun) into p->rank and p->size, and *job (malloc'd, or NULL) with an identifier the
 * job's ranks share. Returns 1 when the process is an MPI rank, 0 when not, -1 when out of
 * memory. */
int moth_process_mpi(moth_process *p, moth_env_lookup lookup, void *ctx, char **job,
                     moth_error *err);

/* A lookup in an environment block as /proc/PID/environ holds it (NAME=value, each ended by a
 * NUL byte); ctx points at a moth_env_block. */
typedef struct moth_env_block {
    const char *bytes;
    size_t len;
} moth_env_block;
const char *moth_env_block_lookup(const char *name, void *ctx);

/* This process: pid, parent pid and command line (from /proc/self/cmdline). */
int moth_process_self(moth_process *p, moth_error *err);

#endif
