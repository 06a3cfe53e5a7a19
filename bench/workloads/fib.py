"""Recursion of tiny calls: about 7 million calls of a two-line function."""
import sys


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def main(n):
    return fib(n)


if __name__ == "__main__":
    import time
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    t0 = time.perf_counter()
    result = main(n)
    print("elapsed %.6f" % (time.perf_counter() - t0), file=sys.stderr)
    print("fib", n, result)
