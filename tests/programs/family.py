"""A program that starts every kind of Python child: multiprocessing's fork, spawn and
forkserver processes, a subprocess running Python, and an os.fork child; each calls work()
a different number of times (3, 4, 5, 6, 7), the parent twice. tests/test_subprocesses.py
counts them per process. With `crashes`: children that are killed, crash (abort) or raise, and a
Pool whose workers Pool.terminate ends with SIGTERM."""
import multiprocessing as mp
import os
import signal
import subprocess
import sys


def work(i):
    return i * 2


def child_main(k):
    for i in range(k):
        work(i)


def killed():
    child_main(8)
    os.kill(os.getpid(), signal.SIGKILL)


def crash():
    child_main(9)
    os.abort()


def raises():
    child_main(10)
    raise ValueError("child fails")


def square(x):
    work(x)
    return divmod(x, 1)[0] * x


def family():
    for method, k in (("fork", 3), ("spawn", 4), ("forkserver", 5)):
        p = mp.get_context(method).Process(target=child_main, args=(k,))
        p.start()
        p.join()
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, %r); "
                    "import family; family.child_main(6)" % here], check=True)
    pid = os.fork()
    if pid == 0:
        child_main(7)
        os._exit(0)
    os.waitpid(pid, 0)
    child_main(2)


def crashes(method):
    ctx = mp.get_context(method)
    for target in (killed, crash, raises):
        p = ctx.Process(target=target)
        p.start()
        p.join()
        print(target.__name__, p.exitcode, flush=True)
    with ctx.Pool(2) as pool:  # leaving the block terminates the workers (SIGTERM)
        print(sum(pool.map(square, range(20))))
    child_main(2)


if __name__ == "__main__":
    if sys.argv[1:2] == ["crashes"]:
        crashes(sys.argv[2])
    else:
        family()
