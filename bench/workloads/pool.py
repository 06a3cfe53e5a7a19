"""A multiprocessing pool workload: two workers share 16 tasks of recursive calls (fib(23)), the
parent sums them; bench/subprocesses_overhead.py runs it plain and under moth."""
import multiprocessing as mp
import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def task(n):
    return fib(n)


def main():
    method = sys.argv[1] if len(sys.argv) > 1 else "fork"
    with mp.get_context(method).Pool(2) as pool:
        print(sum(pool.map(task, [23] * 16)))


if __name__ == "__main__":
    main()
