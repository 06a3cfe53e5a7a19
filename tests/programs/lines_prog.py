"""Line profiling fixtures: exact hit counts are asserted in tests/test_lines.py."""
import json
import threading
import time


def loop(n):
    total = 0
    for i in range(n):
        total += i
    return total


def counting(n):
    i = 0
    while i < n:
        i += 1
    return i


def gen(n):
    for i in range(n):
        yield i * 2


def consume():
    return sum(gen(4))


def recurse(n):
    if n == 0:
        return 0
    return 1 + recurse(n - 1)


def fails(flag):
    try:
        if flag:
            raise ValueError("x")
        return 1
    except ValueError:
        return 2


def sleepy():
    time.sleep(0.2)
    return loop(10)


def uses_library():
    return json.dumps({"a": [1, 2, 3]})


def in_threads():
    threads = [threading.Thread(target=loop, args=(50,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    loop(100)
    counting(7)
    consume()
    recurse(5)
    fails(True)
    fails(False)
    sleepy()
    uses_library()
    in_threads()


main()
