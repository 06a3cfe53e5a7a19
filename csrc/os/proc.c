/* proc.c: processes and threads as /proc shows them; see proc.h. */
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void moth_tasks_free(moth_tasks *t)
{
    free(t->items);
    t->items = NULL;
    t->count = t->cap = 0;
}

/* Reads a small /proc file into buf (NUL-terminated); its length, or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t got = read(fd, buf, size - 1);
    close(fd);
    if (got < 0)
        return -1;
    buf[got] = '\0';
    return got;
}

int moth_proc_parse_stat(const char *text, size_t len, char *state, uint64_t *cpu_ticks,
                         char comm[16])
{
    /* "tid (comm) S ..." where comm may hold spaces and parentheses: it ends at the last ')'. */
    const char *open_paren = memchr(text, '(', len);
    const char *close_paren = NULL;
    for (size_t i = len; i > 0; i--)
        if (text[i - 1] == ')') {
            close_paren = &text[i - 1];
            break;
        }
    if (!open_paren || !close_paren || close_paren < open_paren ||
        (size_t)(close_paren - text) + 3 > len)
        return -1;
    if (comm) {
        size_t n = (size_t)(close_paren - open_paren - 1);
        if (n > 15)
            n = 15;
        memcpy(comm, open_paren + 1, n);
        comm[n] = '\0';
    }
    const char *p = close_paren + 2, *end = text + len;
    *state = *p;
    /* utime and stime are fields 14 and 15; the state is field 3. */
    int field = 3;
    uint64_t values[2] = {0, 0};
    while (p < end && field < 15) {
        while (p < end && *p != ' ')
            p++;
        while (p < end && *p == ' ')
            p++;
        field++;
        if (field == 14 || field == 15) {
            uint64_t v = 0;
            while (p < end && *p >= '0' && *p <= '9')
                v = v * 10 + (uint64_t)(*p++ - '0');
            values[field - 14] = v;
        }
    }
    if (field < 15)
        return -1;
    *cpu_ticks = values[0] + values[1];
    return 0;
}

int moth_proc_task_state(pid_t pid, moth_task *task)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)task->tid);
    ssize_t n = read_small(path, buf, sizeof buf);
    if (n < 0)
        return -1;
    return moth_proc_parse_stat(buf, (size_t)n, &task->state, &task->cpu_ticks, task->comm);
}

int moth_proc_exists(pid_t pid, moth_error *err)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    ssize_t n = read_small(path, buf, sizeof buf);
    char state;
    uint64_t ticks;
    if (pid <= 0 || n < 0 || moth_proc_parse_stat(buf, (size_t)n, &state, &ticks, NULL) < 0 ||
        state == 'Z' || state == 'X')
        return moth_fail(err, "no process %d", (int)pid);
    return 0;
}

static int compare_tids(const void *a, const void *b)
{
    pid_t x = ((const moth_task *)a)->tid, y = ((const moth_task *)b)->tid;
    return (x > y) - (x < y);
}

int moth_proc_tasks(pid_t pid, moth_tasks *t, moth_error *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return moth_fail(err, "no process %d", (int)pid);
    t->count = 0;
    struct dirent *d;
    while ((d = readdir(dir))) {
        char *end;
        long tid = strtol(d->d_name, &end, 10);
        if (*end || tid <= 0)
            continue;
        if (moth_grow((void **)&t->items, sizeof *t->items, &t->cap, t->count + 1, err) < 0) {
            closedir(dir);
            return -1;
        }
        moth_task *task = &t->items[t->count];
        memset(task, 0, sizeof *task);
        task->tid = (pid_t)tid;
        if (moth_proc_task_state(pid, task) == 0)
            t->count++; /* a thread that ended meanwhile is left out */
    }
    closedir(dir);
    moth_qsort(t->items, t->count, sizeof *t->items, compare_tids);
    if (!t->count)
        return moth_fail(err, "no process %d", (int)pid);
    return 0;
}

/* Appends the pids listed in text (space-separated) to *out, skipping those already there. */
static int add_pids(const char *text, pid_t **out, size_t *count, size_t *cap, moth_error *err)
{
    for (const char *p = text; *p;) {
        char *end;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        p = end;
        size_t i = 0;
        while (i < *count && (*out)[i] != (pid_t)pid)
            i++;
        if (pid <= 0 || i < *count)
            continue;
        if (moth_grow((void **)out, sizeof **out, cap, *count + 1, err) < 0)
            return -1;
        (*out)[(*count)++] = (pid_t)pid;
    }
    return 0;
}

int moth_proc_children(pid_t pid, pid_t **out, size_t *count, size_t *cap, moth_error *err)
{
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path); /* only the thread ids: each thread's state is not needed here */
    *count = 0;
    if (!dir)
        return moth_fail(err, "no process %d", (int)pid);
    int rc = 0;
    struct dirent *d;
    while (rc == 0 && (d = readdir(dir))) {
        char *end, text[4096];
        long tid = strtol(d->d_name, &end, 10);
        if (*end || tid <= 0)
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%ld/children", (int)pid, tid);
        if (read_small(path, text, sizeof text) > 0)
            rc = add_pids(text, out, count, cap, err);
    }
    closedir(dir);
    return rc;
}

pid_t moth_proc_parent(pid_t pid)
{
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (read_small(path, text, sizeof text) <= 0)
        return 0;
    const char *after = strrchr(text, ')'); /* the name may hold spaces and parentheses */
    int ppid = 0;
    char state;
    if (!after || sscanf(after + 1, " %c %d", &state, &ppid) != 2)
        return 0;
    return (pid_t)ppid;
}

static int read_link(const char *path, char *buf, size_t size)
{
    ssize_t n = readlink(path, buf, size - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

int moth_proc_exe(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/exe", (int)pid);
    return read_link(path, buf, size);
}

int moth_proc_cwd(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cwd", (int)pid);
    return read_link(path, buf, size);
}

void moth_proc_cmdline(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    ssize_t n = read_small(path, buf, size);
    if (n <= 0) {
        buf[0] = '\0';
        return;
    }
    while (n > 0 && buf[n - 1] == '\0')
        n--;
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
}

/* Whether this process has CAP_SYS_PTRACE in its effective set. */
static int have_cap_sys_ptrace(void)
{
    char buf[4096];
    if (read_small("/proc/self/status", buf, sizeof buf) < 0)
        return 1; /* cannot tell: do not blame capabilities */
    const char *line = strstr(buf, "\nCapEff:");
    if (!line)
        return 1;
    unsigned long long caps = strtoull(line + 8, NULL, 16);
    return (caps >> 19) & 1; /* CAP_SYS_PTRACE */
}

int moth_proc_explain_denied(pid_t pid, int errno_value, moth_error *err)
{
    if (errno_value == ESRCH || moth_proc_exists(pid, NULL) < 0)
        return moth_fail(err, "no process %d", (int)pid);
    char path[64], buf[64];
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    struct stat st;
    uid_t me = geteuid();
    int scope = -1;
    if (read_small("/proc/sys/kernel/yama/ptrace_scope", buf, sizeof buf) > 0)
        scope = atoi(buf);
    /* a process of this user that is not dumpable: its /proc files belong to root, its own
     * user is in its status */
    char status[4096], status_path[64];
    snprintf(status_path, sizeof status_path, "/proc/%d/status", (int)pid);
    const char *uid_line = read_small(status_path, status, sizeof status) > 0
                               ? strstr(status, "\nUid:") : NULL;
    if (me != 0 && uid_line && (uid_t)strtoul(uid_line + 5, NULL, 10) == me &&
        stat(status_path, &st) == 0 && st.st_uid != me)
        return moth_fail(err,
                         "no permission to read process %d: it is yours but not dumpable "
                         "(prctl PR_SET_DUMPABLE 0, or it changed its user or group); run moth "
                         "as root",
                         (int)pid);
    if (stat(path, &st) == 0 && st.st_uid != me && me != 0) {
        struct passwd *pw = getpwuid(st.st_uid);
        return moth_fail(err,
                         "no permission to read process %d: it belongs to %s (uid %u); run moth "
                         "as that user or as root",
                         (int)pid, pw ? pw->pw_name : "another user", (unsigned)st.st_uid);
    }
    if (!have_cap_sys_ptrace() && (me == 0 || scope >= 2))
        return moth_fail(err,
                         "no permission to read process %d: moth lacks the CAP_SYS_PTRACE "
                         "capability (in a container? start it with `docker run --cap-add "
                         "SYS_PTRACE`, or use `kubectl debug` with a profile that grants it)",
                         (int)pid);
    switch (scope) {
    case 1:
        return moth_fail(err,
                         "no permission to read process %d: this kernel lets a process read only "
                         "its own children (kernel.yama.ptrace_scope=1); run moth as root, or "
                         "`sudo sysctl kernel.yama.ptrace_scope=0`",
                         (int)pid);
    case 2:
        return moth_fail(err,
                         "no permission to read process %d: only root may read other processes "
                         "here (kernel.yama.ptrace_scope=2); run moth as root",
                         (int)pid);
    case 3:
        return moth_fail(err,
                         "no permission to read process %d: reading other processes is switched "
                         "off on this machine until it restarts (kernel.yama.ptrace_scope=3)",
                         (int)pid);
    default:
        return moth_fail(err, "no permission to read process %d: %s", (int)pid,
                         strerror(errno_value));
    }
}
