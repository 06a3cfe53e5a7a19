"""Stacks that change all the time, for the stack reader's consistency: two call chains reuse
the same frame addresses over and over (a > b > c and x > y > z), so a stack read while it
changed would show a call that never happens (a calling y, x calling b). Runs until stdin
closes or says anything."""
import sys
import threading


def c(n):
    return n + 1


def b(n):
    return c(n) + c(n)


def a(n):
    return b(n) + b(n)


def z(n):
    return [n] * 3


def y(n):
    return z(n) + z(n)


def x(n):
    return y(n) + y(n)


def churn(stop):
    i = 0
    while not stop.is_set():
        a(i)
        x(i)
        i += 1


def main():
    stop = threading.Event()
    worker = threading.Thread(target=churn, args=(stop,), name="churner")
    worker.start()
    print("ready", flush=True)
    sys.stdin.readline()
    stop.set()
    worker.join()


if __name__ == "__main__":
    main()
