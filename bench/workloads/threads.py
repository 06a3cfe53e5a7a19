"""The same kinds of work spread over four threads, joined at the end."""
import sys
import threading

from fib import fib
from newton import main as newton_main


def worker(kind, results, index):
    if kind == "fib":
        results[index] = fib(27)
    else:
        results[index] = round(newton_main(2500), 6)


def main():
    results = [None] * 4
    threads = [threading.Thread(target=worker, args=(kind, results, i), name="worker-%d" % i)
               for i, kind in enumerate(["fib", "newton", "fib", "newton"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


if __name__ == "__main__":
    import time
    t0 = time.perf_counter()
    result = main()
    print("elapsed %.6f" % (time.perf_counter() - t0), file=sys.stderr)
    print("threads", result)
