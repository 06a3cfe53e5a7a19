"""A program for the debugger's stepping out of generators, coroutines and async generators."""
import asyncio


def numbers(n):
    for i in range(n):
        yield i
    return n


def countdown(n):
    while n > 0:
        yield n
        n -= 1


def inner():
    yield 10
    yield 20
    return 3


def delegate():
    got = yield from inner()
    yield got


def consume():
    total = 0
    for v in numbers(2):
        total += v
    it = numbers(1)
    total += next(it)
    try:
        next(it)
    except StopIteration as stop:
        total += stop.value
    for v in delegate():
        total += v
    for v in countdown(3):
        if v < 3:
            break
    total += sum(i * i for i in range(3))
    return total


async def double(x):
    await asyncio.sleep(0)
    y = x * 2
    return y


async def ticks(n):
    for t in range(n):
        yield t


async def amain():
    a = await double(1)
    seen = [t async for t in ticks(2)]
    return a + len(seen)


print("consume", consume())
print("amain", asyncio.run(amain()))
