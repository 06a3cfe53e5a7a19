"""A Python program that dies of a signal with a core file, in a known thread at a known line.

Usage: core_crash.py SEGV|ABRT|NATIVE. It lifts its core size limit, blocks the main thread
and a thread "waiter" at their markers, and once both are there a thread "crasher" dies at its
own: SEGV reads address 0 (ctypes.string_at), ABRT calls os.abort(), NATIVE starts a thread
Python knows nothing of that calls abort() while "crasher" waits for it. It also maps a file,
mapped.bin in its working directory, so that a test can take a mapped file away. Lines the tests
look for are marked `# @name`. Prints "nocore" and exits 3 when the hard limit allows no core.
"""
import ctypes
import mmap
import os
import resource
import sys
import threading
import time

lock = threading.Lock()


def marker(name):
    with open(__file__) as source:
        for number, text in enumerate(source, 1):
            if text.rstrip().endswith("# @" + name):
                return number
    raise LookupError(name)


def wait_until_at(thread, function, line):
    """Until the innermost Python frame of thread is function at line."""
    while True:
        frame = sys._current_frames().get(thread.ident)
        if frame is not None and frame.f_code.co_name == function and frame.f_lineno == line:
            return
        time.sleep(0.001)


def crash(how):
    wait_until_at(threading.main_thread(), "main", marker("main_leaf"))
    wait_until_at(waiter, "wait_here", marker("waiter_leaf"))
    if how == "SEGV":
        ctypes.string_at(0)  # @segv
    elif how == "ABRT":
        os.abort()  # @abrt
    else:
        c, t = ctypes.CDLL(None), ctypes.c_ulong()
        c.pthread_create(ctypes.byref(t), None, c.abort, None) or c.pthread_join(t, None)  # @native


def work(depth, how):
    if depth:
        return work(depth - 1, how)  # @work
    crash(how)  # @crash_call


def wait_here():
    lock.acquire()  # @waiter_leaf


waiter = threading.Thread(target=wait_here, name="waiter")


def main():
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == 0:
        print("nocore", flush=True)
        sys.exit(3)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    with open("mapped.bin", "w+b") as f:
        f.write(b"x" * mmap.PAGESIZE)
        f.flush()
        mapped = mmap.mmap(f.fileno(), mmap.PAGESIZE)
    lock.acquire()
    waiter.start()
    threading.Thread(target=work, args=(2, sys.argv[1]), name="crasher").start()
    lock.acquire()  # @main_leaf
    mapped.close()


if __name__ == "__main__":
    main()  # @main
