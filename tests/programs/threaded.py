"""A deterministic program with threads, recursion and a hot leaf, for pictures and exports."""
import threading


def leaf(n):
    total = 0
    for i in range(n):
        total += i * i
    return total


def recurse(depth):
    if depth == 0:
        return leaf(3000)
    return recurse(depth - 1) + leaf(200)


def cold():
    return leaf(10)


def worker(k):
    for _ in range(20):
        recurse(6 + k)
    cold()


def main():
    threads = [threading.Thread(target=worker, args=(k,), name=f"worker-{k}") for k in range(2)]
    for t in threads:
        t.start()
    for _ in range(30):
        leaf(5000)
    for t in threads:
        t.join()


main()
