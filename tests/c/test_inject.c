/* test_inject.c: the injector's pieces on a forked child (csrc/os/inject.c, attach_chan.c):
 * a system call run in a stopped thread (its registers and its blocked call left as they
 * were), a blocked call turned into EINTR, writes to another process's memory, and the
 * channel's framing (sizes, garbage, the peer leaving, the peer's credentials); then
 * remote/attach.c on a live CPython (MOTH_TEST_PYTHON, else /usr/bin/python3 when it is
 * 3.11-3.13) whose main thread waits where moth cannot reach it: bootstraps queued, taken back
 * (the last of the queue and one before another), run, their pages released, and each call's
 * answer once the process has gone. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach.h"
#include "attach_chan.h"
#include "check.h"
#include "inject.h"
#include "maps.h"
#include "ptrace_stop.h"

static char marker[64] = "before";

/* The child: reports on `out` how its blocked read ended, then what marker holds. */
static void child_blocked_read(int in, int out)
{
    char c;
    ssize_t n = read(in, &c, 1);
    int e = n < 0 ? errno : 0;
    if (write(out, &e, sizeof e) < 0 || write(out, marker, sizeof marker) < 0)
        _exit(3);
    _exit(0);
}

static pid_t spawn(int *to_child, int *from_child)
{
    int a[2], b[2];
    if (pipe(a) < 0 || pipe(b) < 0)
        abort();
    pid_t pid = fork();
    if (pid == 0) {
        close(a[1]);
        close(b[0]);
        child_blocked_read(a[0], b[1]);
    }
    close(a[0]);
    close(b[1]);
    *to_child = a[1];
    *from_child = b[0];
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL); /* in its read by now */
    return pid;
}

static void test_syscall_in_a_stopped_thread_and_eintr(void)
{
    int to, from;
    pid_t pid = spawn(&to, &from);
    moth_error err;
    moth_maps maps = MOTH_MAPS_INIT;
    CHECK(moth_maps_read_pid(&maps, pid, &err) == 0);
    uint64_t gadget = moth_inject_find_syscall(pid, &maps, &err);
    CHECK(gadget != 0);
    moth_stopper s;
    CHECK(moth_stopper_attach(&s, pid, &err) == 0);
    CHECK(moth_stopper_stop(&s) == 0);
    long mapped = 0;
    int sig = 0;
    uint64_t args[6] = {0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        (uint64_t)-1, 0};
    CHECK(moth_inject_syscall(pid, gadget, SYS_mmap, args, &mapped, &sig, &err) == 0);
    CHECK(mapped > 0 && (mapped & 4095) == 0);
    CHECK_EQ_U(sig, 0);
    /* the page is there, and moth writes to it and to the child's own data */
    moth_maps after = MOTH_MAPS_INIT;
    CHECK(moth_maps_read_pid(&after, pid, &err) == 0);
    CHECK(moth_maps_find(&after, (uint64_t)mapped) != NULL);
    CHECK(moth_proc_write(pid, (uint64_t)mapped, "x", 1, &err) == 0);
    CHECK(moth_proc_write(pid, (uint64_t)(uintptr_t)marker, "after", 6, &err) == 0);
    CHECK(moth_proc_write(pid, 8, "x", 1, &err) < 0); /* nothing mapped there */
    CHECK(strstr(err.msg, "cannot write to the memory of process") != NULL);
    /* its blocked read: seen (nothing changed), then made to return EINTR once it runs on */
    CHECK_EQ_U(moth_inject_blocked_syscall(pid), SYS_read);
    CHECK_EQ_U(moth_inject_interrupt_syscall(pid), SYS_read);
    moth_stopper_detach(&s);
    int e = -1;
    char got[64] = "";
    CHECK(read(from, &e, sizeof e) == (ssize_t)sizeof e);
    CHECK(read(from, got, sizeof got) == (ssize_t)sizeof got);
    CHECK_EQ_U(e, EINTR);
    CHECK_STR(got, "after");
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    moth_maps_free(&maps);
    moth_maps_free(&after);
    close(to);
    close(from);
}

static void test_the_blocked_call_restarts_after_moths_syscall(void)
{
    int to, from;
    pid_t pid = spawn(&to, &from);
    moth_error err;
    moth_maps maps = MOTH_MAPS_INIT;
    CHECK(moth_maps_read_pid(&maps, pid, &err) == 0);
    uint64_t gadget = moth_inject_find_syscall(pid, &maps, &err);
    moth_stopper s;
    CHECK(moth_stopper_attach(&s, pid, &err) == 0);
    CHECK(moth_stopper_stop(&s) == 0);
    long got_pid = 0;
    uint64_t args[6] = {0};
    CHECK(moth_inject_syscall(pid, gadget, SYS_getpid, args, &got_pid, NULL, &err) == 0);
    CHECK_EQ_U(got_pid, pid);
    moth_stopper_detach(&s);
    /* not interrupted: the read goes on and gets the byte written later */
    CHECK(write(to, "z", 1) == 1);
    int e = -1;
    CHECK(read(from, &e, sizeof e) == (ssize_t)sizeof e);
    CHECK_EQ_U(e, 0);
    int status;
    waitpid(pid, &status, 0);
    moth_maps_free(&maps);
    close(to);
    close(from);
}

static void test_a_running_thread_has_no_call_to_interrupt(void)
{
    pid_t pid = fork();
    if (pid == 0)
        for (volatile unsigned long i = 0;; i++)
            ;
    moth_error err;
    moth_stopper s;
    CHECK(moth_stopper_attach(&s, pid, &err) == 0);
    CHECK(moth_stopper_stop(&s) == 0);
    CHECK(moth_inject_interrupt_syscall(pid) == -1);
    CHECK(moth_inject_blocked_syscall(pid) == -1);
    CHECK(moth_inject_interrupt_syscall(getpid()) == -1); /* not traced by us */
    moth_stopper_detach(&s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    uint64_t args[6] = {0};
    long r;
    CHECK(moth_inject_syscall(pid, 1, SYS_getpid, args, &r, NULL, &err) < 0);
    CHECK(strstr(err.msg, "cannot read the registers") != NULL);
    moth_maps none = MOTH_MAPS_INIT;
    CHECK(moth_inject_find_syscall(getpid(), &none, &err) == 0);
    CHECK(strstr(err.msg, "has no system call instruction") != NULL);
}

/* A jump to itself: a "gadget" a thread can be stepped at for ever without reaching +2. */
__asm__(".text\n.globl moth_test_spin\nmoth_test_spin: jmp moth_test_spin\n");
extern char moth_test_spin[];

static const char read_only[16] = "read-only";

static void test_a_signal_meanwhile_a_gadget_that_never_ends_and_read_only_memory(void)
{
    int to, from;
    pid_t pid = spawn(&to, &from);
    moth_error err;
    moth_maps maps = MOTH_MAPS_INIT;
    CHECK(moth_maps_read_pid(&maps, pid, &err) == 0);
    uint64_t gadget = moth_inject_find_syscall(pid, &maps, &err);
    moth_stopper s;
    CHECK(moth_stopper_attach(&s, pid, &err) == 0);
    CHECK(moth_stopper_stop(&s) == 0);
    /* a signal that comes while moth steps the thread: reported, for moth to hand back */
    CHECK(kill(pid, SIGUSR1) == 0);
    long got_pid = 0;
    int sig = 0;
    uint64_t args[6] = {0};
    CHECK(moth_inject_syscall(pid, gadget, SYS_getpid, args, &got_pid, &sig, &err) == 0);
    CHECK_EQ_U(got_pid, pid);
    CHECK_EQ_U(sig, SIGUSR1);
    /* no system call where moth was told: its registers back, and a clear failure */
    long r = 0;
    CHECK(moth_inject_syscall(pid, (uint64_t)(uintptr_t)moth_test_spin, SYS_getpid, args, &r,
                              NULL, &err) < 0);
    CHECK(strstr(err.msg, "did not run moth's system call") != NULL);
    CHECK(moth_inject_syscall(pid, gadget, SYS_getpid, args, &got_pid, NULL, &err) == 0);
    CHECK_EQ_U(got_pid, pid);
    /* read-only memory: written through /proc/PID/mem (process_vm_writev refuses it) */
    uint64_t at = (uint64_t)(uintptr_t)read_only;
    CHECK(moth_proc_write(pid, at, "written", 8, &err) == 0);
    char back[16] = "";
    struct iovec local = {back, sizeof back}, remote = {(void *)(uintptr_t)at, sizeof back};
    CHECK(process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof back);
    CHECK_STR(back, "written");
    CHECK_STR(read_only, "read-only"); /* ours is untouched */
    moth_stopper_detach(&s);
    /* its blocked read goes on, and it ends as it would have (the signal was moth's to give) */
    CHECK(write(to, "z", 1) == 1);
    int e = -1;
    CHECK(read(from, &e, sizeof e) == (ssize_t)sizeof e);
    CHECK_EQ_U(e, 0);
    int status;
    CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    moth_maps_free(&maps);
    close(to);
    close(from);
    /* no memory for the reader of its memory: a clear failure, not a gadget */
    moth_fault_countdown = 1;
    CHECK(moth_inject_find_syscall(getpid(), &maps, &err) == 0);
    moth_fault_countdown = 0;
    CHECK(strstr(err.msg, "out of memory") != NULL);
}

static void test_channel(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(moth_chan_send(sv[0], 'O', "hello", 5) == 0);
    CHECK(moth_chan_send(sv[0], 'X', NULL, 0) == 0);
    char type;
    char *data;
    size_t len;
    CHECK(moth_chan_recv(sv[1], &type, &data, &len) == 0);
    CHECK(type == 'O' && len == 5);
    CHECK_STR(data, "hello");
    free(data);
    CHECK(moth_chan_recv(sv[1], &type, &data, &len) == 0);
    CHECK(type == 'X' && len == 0 && data[0] == '\0');
    free(data);
    CHECK(moth_chan_send(sv[0], 'O', "x", MOTH_CHAN_MAX + 1) < 0);
    /* a length beyond the limit, then a message cut short by the peer leaving */
    unsigned char huge[5] = {'O', 0xff, 0xff, 0xff, 0xff};
    CHECK(write(sv[0], huge, 5) == 5);
    CHECK(moth_chan_recv(sv[1], &type, &data, &len) < 0);
    unsigned char cut[7] = {'O', 9, 0, 0, 0, 'a', 'b'};
    CHECK(write(sv[0], cut, 7) == 7);
    pid_t peer;
    uid_t uid;
    CHECK(moth_chan_peer(sv[1], &peer, &uid) == 0);
    CHECK(peer == getpid() && uid == getuid());
    close(sv[0]);
    CHECK(moth_chan_recv(sv[1], &type, &data, &len) < 0);
    CHECK(moth_chan_recv(sv[1], &type, &data, &len) < 0);
    CHECK(moth_chan_send(sv[1], 'O', "x", 1) < 0); /* no SIGPIPE: an error */
    close(sv[1]);
    CHECK(moth_chan_peer(sv[1], &peer, &uid) < 0);
}

static void test_one_session_per_process(void)
{
    pid_t me = getpid();
    CHECK(moth_chan_claimed(me) == 0);
    int fd = moth_chan_claim(me);
    CHECK(fd >= 0);
    CHECK(moth_chan_claimed(me) == 1);
    CHECK(moth_chan_claim(me) < 0);
    close(fd);
    CHECK(moth_chan_claimed(me) == 0);
}

/* The bootstrap: a file named after it, written when it runs. */
typedef struct marker_boot {
    const char *dir;
    int n;
    int too_big;
} marker_boot;

static int compose_marker(void *ctx, const moth_attach_plan *plan, char *buf, size_t size)
{
    const marker_boot *b = ctx;
    (void)plan;
    if (b->too_big)
        return -1;
    snprintf(buf, size, "open('%s/ran%d', 'w').close()", b->dir, b->n);
    return 0;
}

static int file_exists(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The system call pid's main thread is in (/proc/PID/syscall), -1 when running. */
static long current_syscall(pid_t pid)
{
    char path[64], buf[64] = "";
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long nr = fgets(buf, sizeof buf, f) ? strtol(buf, NULL, 10) : -1;
    fclose(f);
    return nr;
}

static void test_bootstraps_queued_taken_back_run_and_released(void)
{
    const char *python = getenv("MOTH_TEST_PYTHON");
    if (!python || !*python)
        python = "/usr/bin/python3";
    if (access(python, X_OK) != 0) {
        printf("     (no %s: the live-CPython checks are skipped)\n", python);
        return;
    }
    char dir[] = "/tmp/moth-test-attach-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char lockpath[256];
    snprintf(lockpath, sizeof lockpath, "%s/lock", dir);
    int lock = open(lockpath, O_RDWR | O_CREAT, 0600);
    CHECK(lock >= 0 && lockf(lock, F_LOCK, 0) == 0);
    /* the program waits for the lock in fcntl, a call moth does not interrupt */
    pid_t pid = fork();
    if (pid == 0) {
        execl(python, python, "-c",
              "import fcntl, sys, time\n"
              "f = open(sys.argv[1], 'a')\n"
              "fcntl.lockf(f, fcntl.LOCK_EX)\n"
              "while True:\n"
              "    time.sleep(0.01)\n",
              lockpath, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 1000 && current_syscall(pid) != SYS_fcntl; i++)
        pause_ms(10);
    moth_error err;
    moth_remote t;
    if (current_syscall(pid) != SYS_fcntl || moth_remote_open_pid(&t, pid, &err) < 0) {
        printf("     (%s cannot be read here: the live-CPython checks are skipped)\n", python);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return;
    }
    marker_boot a = {dir, 1, 0}, b = {dir, 2, 0}, c = {dir, 3, 0}, big = {dir, 4, 1};
    moth_attach_plan pa, pb, pc, pbig;
    CHECK(moth_attach_inject(&t, compose_marker, &big, &pbig, &err) < 0);
    CHECK_STR(err.msg, "moth's bootstrap does not fit in a page");
    CHECK(moth_attach_inject(&t, compose_marker, &a, &pa, &err) == 0);
    CHECK(moth_attach_inject(&t, compose_marker, &b, &pb, &err) == 0);
    CHECK(pa.page && pb.page && pa.slot != pb.slot);
    CHECK(pa.handler == 0 && pa.woken_syscall == -1 && !pa.unwakeable); /* fcntl: not woken */
    /* a: before another in the queue, left there with an empty text; b: the last, removed */
    CHECK(moth_attach_withdraw(&t, &pa, &err) == 1);
    CHECK(moth_attach_withdraw(&t, &pb, &err) == 1);
    CHECK(moth_attach_inject(&t, compose_marker, &c, &pc, &err) == 0);
    CHECK(lockf(lock, F_ULOCK, 0) == 0);
    for (int i = 0; i < 1000 && !file_exists(dir, "ran3"); i++)
        pause_ms(10);
    CHECK(file_exists(dir, "ran3"));
    CHECK(!file_exists(dir, "ran1") && !file_exists(dir, "ran2"));
    CHECK(moth_attach_withdraw(&t, &pc, &err) == 0); /* it has run */
    CHECK(moth_attach_release_page(&t, &pc, &err) == 0);
    CHECK(moth_attach_release_page(&t, &pa, &err) == 0);
    /* asleep in time.sleep now: a wake lends a handler slot when the interpreter has the
     * symbols for it, else says why it cannot */
    moth_attach_plan w;
    for (int i = 0; i < 1000 && current_syscall(pid) != SYS_clock_nanosleep; i++)
        pause_ms(1);
    CHECK(moth_attach_wake(&t, &w, &err) == 0);
    CHECK(w.handler ? w.woken_syscall == SYS_clock_nanosleep : w.note[0] != '\0');
    CHECK(moth_attach_give_back(&t, &w, &err) == 0);
    CHECK(moth_attach_give_back(&t, &w, &err) == 0); /* the slot holds moth's no more */
    /* the process gone: each says so */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    CHECK(moth_attach_withdraw(&t, &pc, &err) < 0);
    CHECK(moth_attach_release_page(&t, &pa, &err) < 0);
    CHECK(moth_attach_wake(&t, &w, &err) < 0);
    moth_attach_plan lent = pa;
    lent.handler = 1;
    CHECK(moth_attach_give_back(&t, &lent, &err) < 0);
    CHECK(moth_attach_inject(&t, compose_marker, &a, &pa, &err) < 0);
    moth_remote_close(&t);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
    close(lock);
}

int main(void)
{
    RUN(test_syscall_in_a_stopped_thread_and_eintr);
    RUN(test_the_blocked_call_restarts_after_moths_syscall);
    RUN(test_a_running_thread_has_no_call_to_interrupt);
    RUN(test_a_signal_meanwhile_a_gadget_that_never_ends_and_read_only_memory);
    RUN(test_channel);
    RUN(test_one_session_per_process);
    RUN(test_bootstraps_queued_taken_back_run_and_released);
    return check_summary();
}
