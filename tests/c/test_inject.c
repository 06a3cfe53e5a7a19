/* test_inject.c: the injector's pieces on a forked child (csrc/os/inject.c, attach_chan.c):
 * a system call run in a stopped thread (its registers and its blocked call left as they
 * were), a blocked call turned into EINTR, writes to another process's memory, and the
 * channel's framing (sizes, garbage, the peer leaving, the peer's credentials). */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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
    /* its blocked read returns EINTR once it runs on */
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

int main(void)
{
    RUN(test_syscall_in_a_stopped_thread_and_eintr);
    RUN(test_the_blocked_call_restarts_after_moths_syscall);
    RUN(test_a_running_thread_has_no_call_to_interrupt);
    RUN(test_channel);
    RUN(test_one_session_per_process);
    return check_summary();
}
