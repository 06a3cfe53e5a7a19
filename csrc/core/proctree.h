/*
 * proctree.h: the processes of a profile read from a moth file of many runs (a program and its
 * children profiled with --subprocesses, the ranks of an MPI job), as a tree and as choices.
 *
 * Each process is a run; its threads are the threads whose `process` index names it. A
 * process's parent is the process of the same session whose pid is its parent pid.
 */
#ifndef MOTH_PROCTREE_H
#define MOTH_PROCTREE_H

#include "profile.h"
#include "strbuf.h"

/* The parent of process i (an index into p->processes), or -1 when the profile does not hold
 * it. */
long moth_proctree_parent(const moth_profile *p, size_t i);

/* The processes in tree order (each parent before its children, siblings by run) into
 * order[0..n-1] and their depths into depth (both p->nprocesses long, caller's). */
void moth_proctree_order(const moth_profile *p, size_t *order, size_t *depth);

/* The seconds the threads of process i spent (their top-level calls). */
double moth_proctree_seconds(const moth_profile *p, size_t i);

/* Appends the process tree as a table: pid, parent, how, MPI rank, threads, time, command,
 * children indented below their parent. Nothing when the profile has fewer than 2 processes. */
void moth_proctree_render(const moth_profile *p, moth_sb *out);

/* Keeps only the threads of process i (the others' trees are freed); the function table stays. */
void moth_proctree_keep(moth_profile *p, size_t i);

#endif
