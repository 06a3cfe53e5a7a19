"""A program with known stacks, for reading from outside (moth dump, moth record).

Lines the tests look for are marked `# @name`. Each thread ends blocked where its marker says;
the program prints "ready" once all have started and waits until stdin closes.
"""
import sys
import threading

release = threading.Event()


def recurse(n):
    if n:
        return recurse(n - 1)  # @recurse
    release.wait()  # @recurse_leaf


def numbers():
    release.wait()  # @gen_leaf
    yield 1


def consume():
    for _ in numbers():  # @consume
        pass


async def inner():
    release.wait()  # @coro_leaf


async def outer():
    await inner()  # @coro_outer


def drive():
    coro = outer()
    try:
        coro.send(None)  # @drive
    except StopIteration:
        pass


def main():
    workers = [
        threading.Thread(target=recurse, args=(2,), name="recurser"),
        threading.Thread(target=consume, name="generator"),
        threading.Thread(target=drive, name="coroutine"),
    ]
    for w in workers:
        w.start()
    print("ready", flush=True)
    sys.stdin.read()  # @main_leaf
    release.set()
    for w in workers:
        w.join()


if __name__ == "__main__":
    main()  # @main
