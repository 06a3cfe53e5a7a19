/* readv_floor.c: the least a sample read from outside can cost on this machine.
 *
 *     cc -O2 -o build/readv_floor bench/floor/readv_floor.c && build/readv_floor [ROUNDS]
 *
 * A sampler that never stops its target (moth record, py-spy --nonblocking, austin) reads the
 * target's memory with process_vm_readv; each call pays the kernel's checks on the target (its
 * mm, ptrace_may_access, the security hooks) and pins the pages it copies. This program times,
 * against a child that sleeps, a system call that does nothing (getppid), one process_vm_readv
 * of a word, of a page, of a 16 KiB frame chunk, of 8 words on 8 pages in one call, and a round
 * as moth's reader makes it for one thread (3 calls: the thread list, the frame pointers, the
 * frame words and the chunk twice). It prints one Markdown row per case, median of 9 batches. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BATCHES 9
#define TARGET_BYTES (1 << 20)

static char target_memory[TARGET_BYTES]; /* the child's copy is what is read */
static char copy[64 * 1024];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One process_vm_readv: `count` pieces of `len` bytes, `stride` apart in the target. */
typedef struct {
    size_t count, len, stride;
} read_call;

typedef struct {
    const char *what;
    read_call calls[3]; /* made in order; a call with no pieces ends the round */
} read_case;

static int one_round(pid_t pid, const read_case *c)
{
    if (!c->calls[0].count) {
        syscall(SYS_getppid);
        return 0;
    }
    for (size_t call = 0; call < 3 && c->calls[call].count; call++) {
        const read_call *r = &c->calls[call];
        struct iovec local[8], remote[8];
        for (size_t i = 0; i < r->count; i++) {
            local[i] = (struct iovec){copy + i * r->len % (sizeof copy - r->len), r->len};
            remote[i] = (struct iovec){target_memory + call * 65536 + i * r->stride, r->len};
        }
        if (process_vm_readv(pid, local, r->count, remote, r->count, 0) < 0) {
            perror("process_vm_readv");
            return -1;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 20000;
    memset(target_memory, 0x5a, sizeof target_memory); /* every page present in the child */
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    if (child < 0) {
        perror("fork");
        return 1;
    }
    static const read_case cases[] = {
        {"a system call that does nothing (getppid)", {{0}}},
        {"process_vm_readv of 8 bytes", {{1, 8, 0}}},
        {"process_vm_readv of 4 KiB", {{1, 4096, 0}}},
        {"process_vm_readv of 16 KiB", {{1, 16384, 0}}},
        {"process_vm_readv of 8 words on 8 pages, one call", {{8, 8, 65536}}},
        /* moth's round for one thread: the thread list and GIL (3 pieces), the frame pointers
         * (1 piece, 3.11/3.12), then a 16 KiB chunk twice (the frame words around them are
         * left out: a few bytes on pages already pinned). */
        {"a round of moth's reader, one thread, 16 KiB chunk (3 calls)",
         {{3, 64, 8192}, {1, 64, 0}, {2, 16384, 16384}}},
    };
    int failed = 0;
    printf("| read | time per call or round, median of %d batches (min-max) |\n|---|---|\n",
           BATCHES);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0] && !failed; k++) {
        double per[BATCHES];
        for (int b = 0; b < BATCHES && !failed; b++) {
            double start = now();
            for (int i = 0; i < rounds && !failed; i++)
                failed = one_round(child, &cases[k]) < 0;
            per[b] = (now() - start) / rounds * 1e6;
        }
        qsort(per, BATCHES, sizeof per[0], by_value);
        printf("| %s | %.2f us (%.2f-%.2f) |\n", cases[k].what, per[BATCHES / 2], per[0],
               per[BATCHES - 1]);
    }
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    return failed;
}
