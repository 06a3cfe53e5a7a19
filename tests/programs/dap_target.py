"""The program tests/test_dap.py debugs through moth dap: its lines are found by their text."""
import sys
import threading

LIMIT = 3


class Point:
    def __init__(self, x, y):
        self.x = x
        self.y = y


def add(a, b):
    c = a + b
    return c


def collect(n):
    items = list(range(n))
    table = {"one": 1, "two": [1, 2], 3: "three"}
    p = Point(1, 2)
    big = list(range(2500))
    return len(items) + len(table) + p.x + len(big)


def worker(name, out):
    total = 0
    for i in range(LIMIT):
        total = add(total, i)
    out.append((name, total))


def fails():
    raise ValueError("bad value")


def main():
    out = []
    t = threading.Thread(target=worker, args=("worker-1", out), name="worker-1")
    t.start()
    t.join()
    s = collect(5)
    try:
        fails()
    except ValueError:
        pass
    counter = 0
    for k in range(4):
        counter += k
    print("result", out, s, counter, sys.argv[1:])
    return 0


if __name__ == "__main__":
    if "--crash" in sys.argv:
        fails()
    sys.exit(main())
