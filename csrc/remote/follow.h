/*
 * follow.h: a program and the processes it starts, sampled together from outside
 * (`moth record --subprocesses`).
 *
 * Every 100 ms the children of each process followed are listed (/proc/PID/task/TID/children)
 * and joined as members. A member is opened as a Python target as soon as its interpreter can
 * be read (a fork at once; a freshly started interpreter once it is up); one that shows no
 * Python for two seconds (a shell, a C program) is not sampled, but its children still are.
 * A member that execs another program becomes a new member: what was sampled before the exec
 * stays a run of its own when it holds samples. Each sampled member builds its own profile, one
 * run per process, with its pid, parent and command line.
 */
#ifndef MOTH_FOLLOW_H
#define MOTH_FOLLOW_H

#include <signal.h>
#include <sys/types.h>

#include "common.h"
#include "profile.h"
#include "remote.h"
#include "sample_profile.h"
#include "sampler.h"

typedef enum moth_member_state {
    MOTH_MEMBER_WAITING = 0, /* not readable as Python yet */
    MOTH_MEMBER_SAMPLED,     /* being sampled */
    MOTH_MEMBER_NOT_PYTHON,  /* never showed an interpreter: only its children are followed */
    MOTH_MEMBER_ENDED,       /* gone (or exec'd: a new member took its place) */
} moth_member_state;

typedef struct moth_member {
    pid_t pid, parent;
    moth_member_state state;
    int opened;              /* t, sampler and profile are set up */
    double found, started, ended;  /* monotonic times */
    char how[16];            /* "main", "fork", "spawn", "forkserver", "subprocess" */
    char command[4096];      /* its command line when it was found to be Python */
    moth_remote t;
    moth_profile profile;
    moth_sample_profile sp;
    moth_sampler s;
} moth_member;

typedef struct moth_follow {
    moth_member **members;   /* members[0] is the program itself */
    size_t count, cap;
    moth_sample_mode mode;
    int lines;
    pid_t *children;         /* scratch for listing children */
    size_t nchildren, children_cap;
    moth_error err;          /* why recording stopped early (out of memory) */
} moth_follow;

/* Starts following from target t, already open (taken over: moth_follow_free closes it). */
int moth_follow_init(moth_follow *f, moth_remote *t, moth_sample_mode mode, int lines,
                     moth_error *err);
void moth_follow_free(moth_follow *f);

/* Samples every member at `rate` until `duration` (0: none), *stop, or the end of every
 * process followed. 0, or -1 when out of memory (f->err says so). */
int moth_follow_run(moth_follow *f, double rate, double duration, volatile sig_atomic_t *stop);

/* Finishes each sampled member's profile (tick length, metadata, its process) and returns how
 * many members hold samples; those are the runs to write. */
size_t moth_follow_finish(moth_follow *f, double rate, const char *session);

/* Whether member m's profile has any sample. */
int moth_member_has_samples(const moth_member *m);

#endif
