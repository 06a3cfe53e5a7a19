"""A program that starts Python processes every way there is, each busy in a function of its
own for a while, for moth record --subprocesses: multiprocessing workers (the context named by
argv[1]), a Python subprocess, an os.fork child, and a fork killed with SIGKILL midway."""
import multiprocessing
import os
import signal
import subprocess
import sys
import time


def busy(seconds):
    end = time.time() + seconds
    x = 0
    while time.time() < end:
        x += 1
    return x


def meet_at(barrier):
    global MEET
    MEET = barrier


def in_pool(n):
    # Both workers run one call each: a worker that started first cannot take both tasks
    # while the other is still starting (spawn under a sanitizer, a loaded machine).
    MEET.wait(timeout=120)
    return busy(0.5)


def forked_work():
    busy(0.5)


def killed_work():
    busy(30)


SUB = "import time\ndef in_subprocess():\n    end = time.time() + 0.5\n    while time.time() < end: pass\nin_subprocess()\n"

if __name__ == "__main__":
    ctx = multiprocessing.get_context(sys.argv[1])
    with ctx.Pool(2, initializer=meet_at, initargs=(ctx.Barrier(2),)) as pool:
        pool.map(in_pool, range(2))
    subprocess.run([sys.executable, "-c", SUB], check=True)
    pid = os.fork()
    if pid == 0:
        forked_work()
        os._exit(0)
    os.waitpid(pid, 0)
    victim = os.fork()
    if victim == 0:
        killed_work()
        os._exit(0)
    time.sleep(0.5)
    os.kill(victim, signal.SIGKILL)
    os.waitpid(victim, 0)
    print("done")
    sys.exit(7)
