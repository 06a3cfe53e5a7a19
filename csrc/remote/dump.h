/*
 * dump.h: a snapshot of a Python program's threads and stacks, read from outside, and how it
 * is shown (`moth dump`).
 *
 * Collecting (dump.c) reads everything from the target into plain data first; rendering
 * (dump_render.c) turns that data into text as a traceback prints it, or JSON for tools. The
 * model is what every source of a dump fills: a live process, a core file.
 */
#ifndef MOTH_DUMP_H
#define MOTH_DUMP_H

#include "common.h"
#include "strbuf.h"

struct moth_remote;

typedef struct moth_dump_var {
    char *name;
    char *value;         /* as moth shows it: a repr, cut with "..." when long */
    int is_arg;
} moth_dump_var;

typedef struct moth_dump_frame {
    char *file;          /* Python: co_filename; native: the library (NULL when unknown) */
    char *func;          /* Python: co_name; native: the C function (NULL when unknown) */
    char *qualname;      /* Python: co_qualname */
    int line;            /* Python: the line (-1 when unknown); native: c_file's line, 0 when
                          * unknown */
    char *source;        /* the source line, or NULL */
    int native;          /* a C frame (--native) */
    uint64_t pc;         /* native: the program counter (a return address but innermost) */
    uint64_t offset;     /* native: pc - the function's start (0 for inlined functions) */
    char *c_file;        /* native: the C source file, from DWARF (NULL when unknown) */
    int inlined;         /* native: a function the compiler inlined into the next frame's */
    moth_dump_var *vars;
    size_t nvars, vars_cap;
    int vars_error;      /* --locals asked, but the frame's variables could not be read */
} moth_dump_frame;

typedef struct moth_dump_thread {
    uint64_t native_id, thread_id;
    char *name;          /* threading's name, else the OS thread name */
    char state;          /* the kernel's: 'R' running, 'S' sleeping, ...; 0 when unknown */
    int holds_gil;
    int python;          /* has a Python thread state */
    int dropped;         /* its stack kept changing while read and was not shown */
    int truncated;       /* deeper than moth reads: outermost frames left out */
    int signalled;       /* core files: the thread that received the fatal signal */
    char *native_note;   /* --native: why its C frames are missing or incomplete, or NULL */
    moth_dump_frame *frames;  /* outermost first */
    size_t nframes, frames_cap;
} moth_dump_thread;

/* What a task waits on (--async). */
enum moth_dump_await_kind {
    MOTH_AWAIT_NONE = 0,
    MOTH_AWAIT_TASK,        /* another task */
    MOTH_AWAIT_FUTURE,      /* a future (gather()'s among them: its tasks in `gathered`) */
    MOTH_AWAIT_OTHER,       /* something else, named by its type */
};

typedef struct moth_dump_task_ref {
    uint64_t addr;
    char *name;          /* a task's name, NULL for a future or one that cannot be read */
} moth_dump_task_ref;

typedef struct moth_dump_awaited {
    int kind;            /* enum moth_dump_await_kind */
    uint64_t addr;
    char *type;          /* its type's name */
    char *name;          /* a task's name */
    const char *state;   /* a future's: "pending", "cancelled", "done"; NULL for others */
    moth_dump_task_ref *gathered;  /* gather(): the tasks and futures it waits for; or, with
                                    * taskgroup, the tasks of the TaskGroup whose end the task
                                    * awaits (async with TaskGroup() leaving its block) */
    size_t ngathered;
    int taskgroup;
} moth_dump_awaited;

/* One asyncio task (--async). */
typedef struct moth_dump_task {
    uint64_t addr;
    char *name;
    char *type;          /* its type's name: "_asyncio.Task" (C), "Task" (pure Python), ... */
    const char *state;   /* "pending", "cancelled", "done" */
    int running;         /* its coroutine runs right now */
    long long cancels;   /* cancel() requests it has not answered yet */
    uint64_t loop;       /* its event loop */
    char *loop_type;
    uint64_t loop_thread;  /* threading.get_ident() of the thread running the loop, 0: none */
    moth_dump_awaited awaiting;
    moth_dump_frame *frames;  /* its coroutine chain, the task's own coroutine first */
    size_t nframes, frames_cap;
    char *note;          /* why the chain stops short, or NULL */
} moth_dump_task;

typedef struct moth_dump {
    int pid;
    char *command;       /* the process's command line */
    char version[32];    /* "3.11.7" */
    char *binary;        /* the file holding the interpreter */
    char *source_kind;   /* "process" or "core file" */
    char *core_path;
    int signal;          /* core files: the fatal signal, 0 when unknown */
    char *notes;         /* things worth saying once, one per line (e.g. the debug offsets used) */
    moth_dump_thread *threads;
    size_t nthreads, threads_cap;
    int async_read;      /* --async: the tasks below were looked for */
    char *async_note;    /* --async: why there are none, or what could not be read */
    moth_dump_task *tasks;  /* grouped by event loop; an awaiting task before the one it awaits */
    size_t ntasks, tasks_cap;
} moth_dump;

typedef struct moth_dump_opts {
    int locals;          /* -l/--locals */
    int native;          /* --native */
    int async_tasks;     /* --async */
    int source;          /* show the source line (1 by default) */
    /* The threads' kernel states read beforehand (--blocking reads them before stopping the
     * threads, which would otherwise all show as stopped); NULL: read them while dumping. */
    const struct moth_tasks *states;
    int held;            /* --blocking: every thread is stopped by the caller (ptrace_stop.h) */
} moth_dump_opts;

void moth_dump_free(moth_dump *d);

/* Appends an empty thread or frame to d (NULL when out of memory). */
moth_dump_thread *moth_dump_add_thread(moth_dump *d);
moth_dump_frame *moth_dump_add_frame(moth_dump_thread *th);
int moth_dump_add_var(moth_dump_frame *f, const char *name, const char *value, int is_arg);
/* Appends a line to d->notes. */
void moth_dump_note(moth_dump *d, const char *fmt, ...) MOTH_PRINTF(2, 3);

/* Reads the variables of the frame at frame_addr, running code cache entry `code`, into f
 * (--locals), as text; marks f->vars_error when they cannot be read. -1 when out of memory. */
int moth_dump_frame_vars(struct moth_remote *t, uint64_t frame_addr, uint32_t code,
                         moth_dump_frame *f);

/* Fills f with the Python frame at frame_addr, running code cache entry `code`, at `line`
 * (its source line and variables when o asks). -1 when out of memory. */
struct moth_sources;
int moth_dump_fill_frame(struct moth_remote *t, struct moth_sources *src, uint64_t frame_addr,
                         uint32_t code, int line, const moth_dump_opts *o, moth_dump_frame *f);

/* Appends Python frame rf of a stack read from t to th (its source line when o asks). */
struct moth_rframe;
int moth_dump_python_frame(struct moth_remote *t, struct moth_sources *src,
                           const struct moth_rframe *rf, const moth_dump_opts *o,
                           moth_dump_thread *th);

/* Reads every Python thread of the target into d. */
int moth_dump_collect(struct moth_remote *t, const moth_dump_opts *o, moth_dump *d,
                      moth_error *err);

/* --async: every asyncio task of the target into d (dump_async.c). -1 only when out of
 * memory; what cannot be read is said in d->async_note and the tasks' notes. */
int moth_dump_collect_tasks(struct moth_remote *t, struct moth_sources *src,
                            const moth_dump_opts *o, moth_dump *d, moth_error *err);

/* What a core file adds to a dump read from it (after moth_dump_collect): the process and its
 * command, the fatal signal and the thread that took it (added when it runs no Python), and a
 * note on the mapped files this machine lacks. */
int moth_dump_core_facts(struct moth_remote *t, const char *core_path, moth_dump *d,
                         moth_error *err);

/* Text for a person: the process, then each thread's stack outermost first, as a traceback
 * prints it. `colour` adds terminal colours. */
void moth_dump_render_text(const moth_dump *d, const moth_dump_opts *o, int colour,
                           moth_sb *out);
/* One JSON object for tools (documented in the README). */
void moth_dump_render_json(const moth_dump *d, moth_sb *out);

#endif
