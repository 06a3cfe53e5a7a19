"""A program for the debugger tests: calls, a loop, recursion, a generator, an exception."""
import sys

LIMIT = 3


def add(a, b):
    c = a + b
    return c


def loop(n):
    total = 0
    for i in range(n):
        total = add(total, i)
    return total


def fact(n):
    if n <= 1:
        return 1
    return n * fact(n - 1)


def squares(n):
    for i in range(n):
        yield i * i


def guarded(x):
    try:
        return 10 // x
    except ZeroDivisionError:
        return -1


def maybe(flag):
    if flag:
        print("reached")
    return 1


def main():
    x = loop(5)
    y = fact(5)
    z = sum(squares(LIMIT))
    g = guarded(0)
    maybe(False)
    print("results", x, y, z, g)
    return x


main()
print("done", len(sys.argv))
