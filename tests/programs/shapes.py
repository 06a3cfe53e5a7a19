"""A deterministic program of many call shapes: moth's call counts must equal cProfile's."""
import asyncio
import functools


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def is_even(n):
    return True if n == 0 else is_odd(n - 1)


def is_odd(n):
    return False if n == 0 else is_even(n - 1)


def gen(n):
    for i in range(n):
        yield i


def genexp(n):
    return sum(x * x for x in range(n))


def listcomp(n):
    return [x for x in range(n)]


class Shape:
    def __init__(self, s):
        self.s = s

    def area(self):
        return self.s * self.s

    @property
    def side(self):
        return self.s

    @staticmethod
    def unit():
        return Shape(1)


def deco(f):
    @functools.wraps(f)
    def wrapper(*a):
        return f(*a)
    return wrapper


@deco
def decorated(x):
    return x + 1


def raiser(n):
    if n == 0:
        raise ValueError("boom")
    return raiser(n - 1)


def catcher():
    try:
        raiser(5)
    except ValueError:
        return "caught"


async def leaf(i):
    await asyncio.sleep(0)
    return i


async def amain():
    return sum(await asyncio.gather(*(leaf(i) for i in range(5))))


def mapped():
    return list(map(lambda v: v + 1, range(10)))


def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)


def main():
    fib(15)
    is_even(20)
    sum(gen(10))
    genexp(10)
    listcomp(10)
    s = Shape.unit()
    s.area()
    s.side
    Shape(3).area()
    decorated(1)
    catcher()
    asyncio.run(amain())
    mapped()
    deep(500)
    sorted(range(20), key=lambda v: -v)


if __name__ == "__main__":
    main()
