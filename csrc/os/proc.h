/*
 * proc.h: what /proc says about another process: whether it exists, its threads and their
 * kernel states, its executable, working directory and command line; and, when reading it is
 * refused, why (which user, which ptrace setting, which missing capability) and what to do.
 */
#ifndef MOTH_PROC_H
#define MOTH_PROC_H

#include <sys/types.h>

#include "common.h"

typedef struct moth_task {
    pid_t tid;
    char state;       /* the kernel's: R running, S sleeping, D disk wait, T stopped, ... */
    char comm[16];    /* the OS thread name */
    uint64_t cpu_ticks; /* utime + stime, in clock ticks */
} moth_task;

typedef struct moth_tasks {
    moth_task *items;
    size_t count, cap;
} moth_tasks;

#define MOTH_TASKS_INIT {NULL, 0, 0}

void moth_tasks_free(moth_tasks *t);

/* 0 when process pid exists (a zombie counts as gone); otherwise -1 with "no process N". */
int moth_proc_exists(pid_t pid, moth_error *err);

/* Lists the threads of pid with their states (replacing t's contents). */
int moth_proc_tasks(pid_t pid, moth_tasks *t, moth_error *err);

/* Refreshes the state and CPU time of one thread; -1 when it is gone. */
int moth_proc_task_state(pid_t pid, moth_task *task);

/* Parses the text of /proc/PID/task/TID/stat into state and CPU ticks (for tests and fuzzing). */
int moth_proc_parse_stat(const char *text, size_t len, char *state, uint64_t *cpu_ticks,
                         char comm[16]);

/* The children of every thread of pid (/proc/PID/task/TID/children) into *out, *count of
 * them (replacing what was there; *out grows as needed, *cap its room). -1 when pid is gone. */
int moth_proc_children(pid_t pid, pid_t **out, size_t *count, size_t *cap, moth_error *err);

/* The parent of pid (from /proc/PID/stat); 0 when unknown. */
pid_t moth_proc_parent(pid_t pid);

/* The target of /proc/PID/exe, /proc/PID/cwd; -1 when unreadable. */
int moth_proc_exe(pid_t pid, char *buf, size_t size);
int moth_proc_cwd(pid_t pid, char *buf, size_t size);
/* The command line, arguments joined by spaces; "" when unreadable. */
void moth_proc_cmdline(pid_t pid, char *buf, size_t size);

/* Fills err with why reading pid's memory was refused (errno_value from the failed read) and
 * how to grant it; returns -1. */
int moth_proc_explain_denied(pid_t pid, int errno_value, moth_error *err);

#endif
