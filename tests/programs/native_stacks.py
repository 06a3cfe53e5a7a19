"""A program whose Python calls into C that calls back into Python, for `moth dump --native`.

Lines the tests look for are marked `# @name`. The main thread waits inside a key function
that sorted() calls; the "reducer" thread waits inside a lambda that functools.reduce calls;
faulthandler's watchdog is a thread with no Python in it. With an argument N, a "deep" thread
recurses N times through map() (each level a few C frames) before it waits. The program prints
"ready" once everything has started, and "alive" when a line comes on stdin, then ends.
"""
import faulthandler
import functools
import sys
import threading

release = threading.Event()


def key(x):
    if x == 3:
        sys.stdin.readline()  # @key_leaf
    return x


def main_work():
    return sorted([3, 1, 2], key=key)  # @sorted


def reducer():
    functools.reduce(lambda a, b: release.wait() or a, [1, 2])  # @reduce


def deep(n):
    if n:
        return list(map(deep, [n - 1]))  # @deep
    release.wait()  # @deep_leaf


def main():
    faulthandler.dump_traceback_later(3600)
    workers = [threading.Thread(target=reducer, name="reducer")]
    if len(sys.argv) > 1:
        workers.append(threading.Thread(target=deep, args=(int(sys.argv[1]),), name="deep"))
    for w in workers:
        w.start()
    print("ready", flush=True)
    main_work()  # @main
    release.set()
    for w in workers:
        w.join()
    print("alive", flush=True)


if __name__ == "__main__":
    main()  # @main_call
