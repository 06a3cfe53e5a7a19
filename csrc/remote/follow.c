/* follow.c: a program and its child processes sampled together; see follow.h. */
#include "follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proc.h"
#include "process.h"

#define NOT_PYTHON_AFTER 2.0 /* seconds a new process may take to show its interpreter */
#define SCAN_EVERY 0.1

static moth_member *add_member(moth_follow *f, pid_t pid, pid_t parent, moth_error *err)
{
    if (moth_grow((void **)&f->members, sizeof *f->members, &f->cap, f->count + 1, err) < 0)
        return NULL;
    moth_member *m = calloc(1, sizeof *m);
    if (!m) {
        moth_fail(err, "out of memory");
        return NULL;
    }
    m->pid = pid;
    m->parent = parent;
    m->found = moth_now();
    f->members[f->count++] = m;
    return m;
}

/* How a child came to be, from its command line as multiprocessing and exec leave it. */
static void classify(moth_member *m, const moth_member *parent)
{
    char *cmd = m->command, parent_cmd[sizeof m->command];
    moth_proc_cmdline(m->pid, cmd, sizeof m->command);
    for (char *c = cmd; *c; c++)
        if ((unsigned char)*c < ' ')
            *c = ' '; /* -c code's newlines: one line in tables */
    if (!parent) {
        snprintf(m->how, sizeof m->how, "main");
        return;
    }
    moth_proc_cmdline(parent->pid, parent_cmd, sizeof parent_cmd);
    if (strcmp(cmd, parent_cmd) == 0) /* forkserver's workers too: forks of the server */
        snprintf(m->how, sizeof m->how, "fork");
    else if (strstr(cmd, "from multiprocessing.spawn import spawn_main"))
        snprintf(m->how, sizeof m->how, "spawn");
    else if (strstr(cmd, "from multiprocessing.forkserver import main"))
        snprintf(m->how, sizeof m->how, "forkserver");
    else
        snprintf(m->how, sizeof m->how, "subprocess");
}

/* Sets up sampling of member m whose target m->t is open. */
static void start_sampling(moth_follow *f, moth_member *m)
{
    moth_profile_init(&m->profile);
    moth_sample_profile_init(&m->sp, &m->profile, f->lines);
    moth_sampler_init(&m->s, &m->t, f->mode, moth_sample_profile_sink(&m->sp));
    m->opened = 1;
    m->state = MOTH_MEMBER_SAMPLED;
    m->started = moth_now();
}

int moth_follow_init(moth_follow *f, moth_remote *t, moth_sample_mode mode, int lines,
                     moth_error *err)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    f->lines = lines;
    moth_member *root = add_member(f, t->pid, 0, err);
    if (!root)
        return -1;
    root->t = *t; /* taken over */
    root->parent = moth_proc_parent(t->pid);
    classify(root, NULL);
    start_sampling(f, root);
    return 0;
}

static void close_member(moth_member *m)
{
    if (!m->opened)
        return;
    moth_sampler_free(&m->s);
    moth_sample_profile_free(&m->sp);
    moth_remote_close(&m->t);
}

void moth_follow_free(moth_follow *f)
{
    for (size_t i = 0; i < f->count; i++) {
        close_member(f->members[i]);
        if (f->members[i]->opened)
            moth_profile_free(&f->members[i]->profile);
        free(f->members[i]);
    }
    free(f->members);
    free(f->children);
    memset(f, 0, sizeof *f);
}

static int known(const moth_follow *f, pid_t pid)
{
    for (size_t i = 0; i < f->count; i++)
        if (f->members[i]->pid == pid)
            return 1; /* (one that exec'd is followed again by member_gone) */
    return 0;
}

/* A member that can no longer be read: ended, or it exec'd another program (then a new member
 * of the same pid is followed from here). */
static int member_gone(moth_follow *f, moth_member *m)
{
    m->state = MOTH_MEMBER_ENDED;
    m->ended = moth_now();
    if (moth_proc_exists(m->pid, NULL) < 0)
        return 0;
    moth_member *again = add_member(f, m->pid, m->parent, &f->err);
    return again ? 0 : -1;
}

/* Lists the children of the members still alive, joins the new ones, and opens those waiting
 * whose interpreter can be read now. */
static int scan(moth_follow *f)
{
    double now = moth_now();
    for (size_t i = 0; i < f->count; i++) {
        moth_member *m = f->members[i];
        if (m->state == MOTH_MEMBER_ENDED)
            continue;
        if (moth_proc_children(m->pid, &f->children, &f->nchildren, &f->children_cap, NULL) < 0)
            continue; /* gone: its round says so */
        for (size_t k = 0; k < f->nchildren; k++) {
            if (known(f, f->children[k]))
                continue;
            if (!add_member(f, f->children[k], m->pid, &f->err))
                return -1; /* (m stays valid: members are allocated one by one) */
        }
    }
    for (size_t i = 0; i < f->count; i++) {
        moth_member *m = f->members[i];
        if (m->state != MOTH_MEMBER_WAITING)
            continue;
        if (moth_proc_exists(m->pid, NULL) < 0) {
            m->state = MOTH_MEMBER_ENDED;
            continue;
        }
        if (moth_remote_open_pid(&m->t, m->pid, NULL) == 0) {
            const moth_member *parent = NULL;
            for (size_t k = 0; k < f->count; k++)
                if (f->members[k]->pid == m->parent)
                    parent = f->members[k];
            classify(m, parent ? parent : f->members[0]);
            start_sampling(f, m);
        } else if (now - m->found > NOT_PYTHON_AFTER) {
            m->state = MOTH_MEMBER_NOT_PYTHON;
        }
    }
    return 0;
}

static int any_alive(const moth_follow *f)
{
    for (size_t i = 0; i < f->count; i++) {
        const moth_member *m = f->members[i];
        if (m->state == MOTH_MEMBER_SAMPLED || m->state == MOTH_MEMBER_WAITING)
            return 1;
        if (m->state == MOTH_MEMBER_NOT_PYTHON && moth_proc_exists(m->pid, NULL) == 0)
            return 1; /* a shell between the program and its Python children */
    }
    return 0;
}

int moth_follow_run(moth_follow *f, double rate, double duration, volatile sig_atomic_t *stop)
{
    double start = moth_now(), next_scan = start;
    moth_pace pace;
    moth_pace_start(&pace, rate, start);
    uint64_t late = 0;
    while (!(stop && *stop)) {
        double now = moth_now();
        if (duration > 0 && now - start >= duration)
            break;
        if (now >= next_scan) {
            next_scan = now + SCAN_EVERY;
            if (scan(f) < 0)
                return -1;
            if (!any_alive(f))
                break;
            for (size_t i = 0; i < f->count; i++)
                if (f->members[i]->opened)
                    f->members[i]->t.codes.epoch++; /* code objects checked again, once */
        }
        int64_t missed = moth_pace_due(&pace, now);
        if (missed < 0) {
            moth_sleep_until(pace.next < next_scan ? pace.next : next_scan);
            continue;
        }
        late += (uint64_t)missed;
        for (size_t i = 0; i < f->count; i++) {
            moth_member *m = f->members[i];
            if (m->state != MOTH_MEMBER_SAMPLED)
                continue;
            double before = moth_now();
            int rc = moth_sampler_round(&m->s);
            m->s.stats.busy_seconds += moth_now() - before;
            m->s.stats.late = late;
            if (rc < 0) {
                f->err = m->sp.err;
                return -1;
            }
            if (rc > 0 && member_gone(f, m) < 0)
                return -1;
        }
    }
    double end = moth_now();
    for (size_t i = 0; i < f->count; i++) {
        moth_member *m = f->members[i];
        if (m->opened)
            m->s.stats.seconds = (m->state == MOTH_MEMBER_ENDED ? m->ended : end) - m->started;
    }
    return 0;
}

int moth_member_has_samples(const moth_member *m)
{
    return m->opened && m->sp.samples > 0;
}

size_t moth_follow_finish(moth_follow *f, double rate, const char *session)
{
    size_t runs = 0;
    for (size_t i = 0; i < f->count; i++) {
        moth_member *m = f->members[i];
        if (!moth_member_has_samples(m))
            continue;
        moth_sample_profile_finish(&m->sp, &m->s.stats, rate, f->mode);
        moth_process proc;
        moth_process_init(&proc);
        proc.pid = m->pid;
        proc.parent_pid = m->parent;
        proc.command = m->command;
        proc.how = m->how;
        proc.session = (char *)session;
        moth_profile_add_process(&m->profile, &proc, NULL, NULL);
        runs++;
    }
    return runs;
}
