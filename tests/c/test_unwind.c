/* C unit tests of C stack walking (threadstop.c, unwind.c) on a child process whose stack is
 * known, and of merging C and Python frames (native_merge.c). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "native_merge.h"
#include "proc.h"
#include "readmem.h"
#include "threadstop.h"
#include "unwind.h"

/* ---- the child: main -> run_child -> level3 -> level2 -> level1 -> pause ---- */

static int ready[2];

__attribute__((noinline)) static void level1(void)
{
    char c = 'r';
    if (write(ready[1], &c, 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

static const int LEVEL2_CALL_LINE = __LINE__ + 3;
__attribute__((noinline)) static void level2(void)
{
    level1();
    __asm__ volatile("");
}

static const int LEVEL3_CALL_LINE = __LINE__ + 3;
__attribute__((noinline)) static void level3(void)
{
    level2();
    __asm__ volatile("");
}

static char state_of(pid_t pid)
{
    moth_task task = {.tid = pid};
    return moth_proc_task_state(pid, &task) == 0 ? task.state : 0;
}

static pid_t tracer_of(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *line = strstr(buf, "TracerPid:");
    return line ? (pid_t)atoi(line + 10) : -1;
}

static void wait_for_state(pid_t pid, const char *states)
{
    for (int i = 0; i < 5000 && !strchr(states, state_of(pid)); i++) {
        struct timespec pause_ = {0, 1000000};
        nanosleep(&pause_, NULL);
    }
}

/* Starts the child and waits until it sleeps in pause(). */
static pid_t start_child(void)
{
    if (pipe(ready) < 0)
        return -1;
    pid_t child = fork();
    if (child == 0) {
        close(ready[0]);
        level3();
        _exit(0);
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1)
        return -1;
    close(ready[0]);
    wait_for_state(child, "S");
    return child;
}

static void end_child(pid_t child)
{
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
}

/* The names of every frame of s, innermost first, without inlined ones, joined by spaces. */
static void physical_names(moth_unwinder *u, const moth_native_stack *s, char *out, size_t size)
{
    out[0] = '\0';
    size_t len = 0;
    for (size_t i = 0; i < s->count; i++) {
        moth_native_name names[32];
        size_t n = moth_unwind_names(u, &s->frames[i], names, 32);
        const moth_native_name *own = &names[n - 1];
        len += (size_t)snprintf(out + len, size - len, "%s%.*s", len ? " " : "",
                                (int)own->function_len, own->function ? own->function : "?");
        if (len >= size)
            return;
    }
}

/* The frame of s whose own function is `name`, or NULL. */
static const moth_native_name *frame_named(moth_unwinder *u, const moth_native_stack *s,
                                           const char *name, moth_native_name *buf)
{
    for (size_t i = 0; i < s->count; i++) {
        moth_native_name names[32];
        size_t n = moth_unwind_names(u, &s->frames[i], names, 32);
        if (names[n - 1].function && strncmp(names[n - 1].function, name, strlen(name)) == 0 &&
            names[n - 1].function_len == strlen(name)) {
            *buf = names[n - 1];
            return buf;
        }
    }
    return NULL;
}

static void test_unwind_a_child(void)
{
    pid_t child = start_child();
    CHECK(child > 0);
    moth_memsrc mem;
    moth_error err;
    CHECK(moth_procmem_open(&mem, child, &err) == 0);
    moth_unwinder *u = NULL;
    CHECK(moth_unwind_open_pid(&u, child, &mem, &err) == 0);
    moth_native_stack s = MOTH_NATIVE_STACK_INIT;
    CHECK(moth_unwind_stack(u, &s, &err) < 0);
    CHECK_STR(err.msg, "no thread is held to unwind");

    moth_stop_failure why;
    for (int round = 0; round < 2; round++) {
        /* A session walks as often as asked; each hold lets the previous thread go. */
        CHECK(moth_unwind_hold(u, child, &why, &err) == 0);
        CHECK(why == MOTH_STOP_OK);
        CHECK(tracer_of(child) == getpid());
        CHECK(state_of(child) == 't');
        CHECK(moth_unwind_stack(u, &s, &err) == 0);
        moth_unwind_release(u);
        CHECK(s.complete);
        CHECK_STR(s.why, "");
        char names[4096];
        physical_names(u, &s, names, sizeof names);
        CHECK(strstr(names, " level1 level2 level3 ") != NULL);
        CHECK(strstr(names, " main ") != NULL);
        CHECK(s.frames[0].exact && !s.frames[1].exact);
    }
    moth_native_name n;
    const moth_native_name *l2 = frame_named(u, &s, "level2", &n);
    CHECK(l2 && l2->module && strstr(l2->module, "test_unwind") && !l2->inlined);
    CHECK(l2 && l2->src_file && strstr(l2->src_file, "test_unwind.c"));
    CHECK(l2 && l2->offset > 0);
    CHECK(l2 && l2->src_line == LEVEL2_CALL_LINE);
    /* Where the function is defined, not where its frame is. */
    CHECK(l2 && l2->decl_file && strstr(l2->decl_file, "test_unwind.c"));
    CHECK(l2 && l2->decl_line == LEVEL2_CALL_LINE - 2);
    const moth_native_name *l3 = frame_named(u, &s, "level3", &n);
    CHECK(l3 && l3->src_line == LEVEL3_CALL_LINE);
    wait_for_state(child, "S");
    CHECK(tracer_of(child) == 0);
    CHECK(state_of(child) == 'S');

    /* An address in no file has no name. */
    moth_native_pc nowhere = {16, 1};
    moth_native_name none;
    CHECK_EQ_U(moth_unwind_names(u, &nowhere, &none, 1), 1);
    CHECK(none.function == NULL && none.module == NULL && none.src_file == NULL);
    CHECK_EQ_U(moth_unwind_names(u, &nowhere, &none, 0), 0);


    /* The sampler's index: each frame's function by its symbol, as the DWARF names say. */
    for (size_t i = 0; i < s.count; i++) {
        moth_native_name names[32];
        size_t nn = moth_unwind_names(u, &s.frames[i], names, 32);
        moth_native_func fn;
        int rc = moth_unwind_function(u, &s.frames[i], &fn);
        CHECK(rc >= 0 && fn.module != NULL);
        if (rc == 0 && names[nn - 1].function && strcmp(names[nn - 1].function, "level2") == 0) {
            /* The child is a fork: its functions are where ours are. */
            CHECK(fn.start == (uint64_t)(uintptr_t)level2);
            CHECK(fn.function_len == 6 && strncmp(fn.function, "level2", 6) == 0);
            const char *file;
            int line;
            moth_unwind_decl(u, fn.start, &file, &line);
            CHECK(file && strstr(file, "test_unwind.c") && line == LEVEL2_CALL_LINE - 2);
        }
    }
    moth_native_func fn;
    CHECK(moth_unwind_function(u, &nowhere, &fn) == -1);
    CHECK(fn.function == NULL && fn.module == NULL);
    /* The ELF header: in the file, before its first function. */
    extern char __executable_start;
    moth_native_pc header = {(uint64_t)(uintptr_t)&__executable_start, 1};
    CHECK(moth_unwind_function(u, &header, &fn) == 1);
    CHECK(fn.function == NULL && fn.module && strstr(fn.module, "test_unwind"));
    const char *file;
    int line;
    moth_unwind_decl(u, 16, &file, &line);
    CHECK(file == NULL && line == 0);
    /* Read again, the files are still known; once the process has gone, nothing is read. */
    CHECK(moth_unwind_refresh(u, &err) == 0);
    moth_native_pc in_level2 = {(uint64_t)(uintptr_t)level2 + 1, 1};
    CHECK(moth_unwind_function(u, &in_level2, &fn) == 0 && fn.start == (uint64_t)(uintptr_t)level2);
    end_child(child);
    CHECK(moth_unwind_refresh(u, &err) < 0);
    char gone[64];
    snprintf(gone, sizeof gone, "no process %d", (int)child);
    CHECK_STR(err.msg, gone);

    moth_native_stack_free(&s);
    moth_unwind_close(u);
    moth_mem_close(&mem);
}

static void test_stopped_child_stays_stopped(void)
{
    pid_t child = start_child();
    kill(child, SIGSTOP);
    wait_for_state(child, "T");
    moth_thread_stop stop = MOTH_THREAD_STOP_INIT;
    moth_regs regs;
    moth_stop_failure why;
    moth_error err;
    CHECK(moth_thread_hold(&stop, child, child, &regs, &why, &err) == 0);
    CHECK(regs.count > 0 && regs.pc != 0 && regs.sp != 0);
    moth_thread_release(&stop);
    moth_thread_release(&stop); /* twice is harmless */
    /* It runs for a moment (the kernel wakes it to re-enter its stop), then stops again;
     * resumed, it would go back to sleep in pause() instead. */
    wait_for_state(child, "TS");
    CHECK(state_of(child) == 'T');
    CHECK(tracer_of(child) == 0);
    kill(child, SIGCONT);
    wait_for_state(child, "S");
    CHECK(state_of(child) == 'S');
    end_child(child);
}

static void test_hold_refused(void)
{
    pid_t child = start_child();
    moth_thread_stop stop = MOTH_THREAD_STOP_INIT;
    moth_stop_failure why;
    moth_error err;
    char want[256];

    /* A thread id that is not one of the process's threads (here: this test's own). */
    CHECK(moth_thread_hold(&stop, child, getpid(), NULL, &why, &err) < 0);
    CHECK(why == MOTH_STOP_GONE);
    snprintf(want, sizeof want, "thread %d of process %d has ended", (int)getpid(), (int)child);
    CHECK_STR(err.msg, want);

    /* Traced by someone else already (this test): one tracer per thread. */
    CHECK(ptrace(PTRACE_SEIZE, child, NULL, NULL) == 0);
    CHECK(moth_thread_hold(&stop, child, child, NULL, &why, &err) < 0);
    CHECK(why == MOTH_STOP_DENIED);
    snprintf(want, sizeof want,
             "thread %d of process %d is already traced by process %d (test_unwind); a thread "
             "has one tracer at a time: detach that one first, or leave out --native",
             (int)child, (int)child, (int)getpid());
    CHECK_STR(err.msg, want);
    CHECK(ptrace(PTRACE_INTERRUPT, child, NULL, NULL) == 0);
    int status;
    CHECK(waitpid(child, &status, __WALL) == child);
    CHECK(ptrace(PTRACE_DETACH, child, NULL, NULL) == 0);

    /* The process ends: it is said to have exited, for the session as for a hold. */
    end_child(child);
    CHECK(moth_thread_hold(&stop, child, child, NULL, &why, &err) < 0);
    CHECK(why == MOTH_STOP_GONE);
    snprintf(want, sizeof want, "process %d has exited", (int)child);
    CHECK_STR(err.msg, want);
    moth_memsrc mem;
    moth_unwinder *u = (moth_unwinder *)&mem;
    CHECK(moth_procmem_open(&mem, child, &err) == 0);
    CHECK(moth_unwind_open_pid(&u, child, &mem, &err) < 0);
    CHECK(u == NULL);
    snprintf(want, sizeof want, "no process %d", (int)child);
    CHECK_STR(err.msg, want);
    moth_mem_close(&mem);
    CHECK(moth_unwind_available());
}

/* ---- merging ---- */

/* Names from a spec of space-separated functions, innermost first: "name" a function,
 * "+name" an inlined one. */
static size_t make_names(const char *spec, moth_native_name *out, char store[][64])
{
    size_t n = 0;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", spec);
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
        int inlined = tok[0] == '+';
        snprintf(store[n], 64, "%s", tok + inlined);
        out[n] = (moth_native_name){store[n], strlen(store[n]), 0, NULL, NULL, 0, inlined, NULL, 0};
        n++;
    }
    return n;
}

/* Python frames from a spec innermost first: "*name" begins an entry (its newest frame). The
 * code field holds the index of the name in store. */
static size_t make_python(const char *spec, moth_rframe *out, char store[][64])
{
    size_t n = 0;
    char copy[512];
    snprintf(copy, sizeof copy, "%s", spec);
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
        int entry = tok[0] == '*';
        snprintf(store[n], 64, "%s", tok + entry);
        out[n] = (moth_rframe){0, (uint32_t)n, 0, 0, (uint8_t)entry};
        n++;
    }
    return n;
}

static void merged(const char *c, int complete, const char *py, const char *want)
{
    char cstore[32][64], pystore[32][64];
    moth_native_name names[32];
    moth_rframe frames[32];
    moth_merged out[64];
    size_t nn = make_names(c, names, cstore), np = make_python(py, frames, pystore);
    uint8_t loop[32];
    for (size_t i = 0; i < nn; i++)
        loop[i] = (uint8_t)moth_is_eval_loop(&names[i]);
    size_t n = moth_native_merge(loop, nn, complete, frames, np, out);
    char got[1024] = "";
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(got + len, sizeof got - len, "%s%s", i ? " " : "",
                                out[i].python ? pystore[out[i].index]
                                              : cstore[out[i].index]);
    CHECK_STR(got, want);
}

#define EVAL "_PyEval_EvalFrameDefault"

static void test_merge(void)
{
    /* One evaluation loop per entry: each replaced by its entry's frames. */
    merged("read " EVAL " builtin " EVAL " main _start", 1, "*k j *i h",
           "read k j builtin i h main _start");
    /* A Python frame pushed before its loop began: it goes innermost. */
    merged("read " EVAL " builtin " EVAL " main _start", 1, "*x *k j *i",
           "x read k j builtin i main _start");
    /* A loop whose frame is gone already stays a C frame. */
    merged("read " EVAL " b " EVAL " c " EVAL " main", 1, "*k *i h",
           "read " EVAL " b k c i h main");
    /* A walk that stopped early pairs the innermost; the rest of Python goes outermost. */
    merged("read " EVAL " b", 0, "*k j *i h", "read k j b i h");
    /* Functions inlined into the loop stay, above its Python frames; split-off parts of the
     * loop count, inlined copies and look-alikes do not. */
    merged("read +helper " EVAL ".cold +" EVAL " " EVAL "X main", 1, "*k",
           "read helper k " EVAL " " EVAL "X main");
    /* No Python at all, or no C at all. */
    merged("read main", 1, "", "read main");
    merged("", 0, "*k j", "k j");
    moth_native_name unnamed = {0};
    CHECK(!moth_is_eval_loop(&unnamed));

    /* The call machinery a sampled profile leaves out, by name prefix. */
    CHECK(moth_is_call_plumbing("PyObject_Vectorcall", 19));
    CHECK(moth_is_call_plumbing("cfunction_vectorcall_O", 22));
    CHECK(moth_is_call_plumbing("_PyEval_EvalFrameDefault", 24));
    CHECK(!moth_is_call_plumbing("builtin_sorted", 14));
    CHECK(!moth_is_call_plumbing("PyObject_Vectorcall", 8)); /* the name is only "PyObject" */
    CHECK(!moth_is_call_plumbing(NULL, 0));
}

int main(void)
{
    RUN(test_unwind_a_child);
    RUN(test_stopped_child_stays_stopped);
    RUN(test_hold_refused);
    RUN(test_merge);
    return check_summary();
}
