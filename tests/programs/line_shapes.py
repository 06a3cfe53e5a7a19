"""Code shapes whose line events differ in subtle ways (tests/test_lines.py compares moth's hits
with the interpreter's own line events). A test appends a function long enough to need
EXTENDED_ARG before main() runs."""
import contextlib
import os
import sys
import types


def one_liner(x): return x + 1


def closure(n):
    k = 3
    def inner(v): return v * k
    return [inner(i) for i in range(n)] + [i for i in range(n) if i % 2]


def gen(n):
    for i in range(n):
        got = yield i
        if got:
            yield got


def delegating(n):
    yield from gen(n)
    return n


def while_loop(n):
    i = 0
    while i < n:
        i += 1
    while True:
        i -= 1
        if i < 2:
            break
    return i


def exceptions(n):
    hits = 0
    for i in range(n):
        try:
            if i % 3 == 0:
                raise ValueError(i)
            elif i % 3 == 1:
                hits += 1 // (i - i)
        except ValueError:
            hits += 1
        except ZeroDivisionError as e:
            hits += 2
        else:
            hits += 3
        finally:
            hits += 10
    return hits


def withs(n):
    total = 0
    for i in range(n):
        with contextlib.nullcontext(i) as v:
            total += v
            if v == 2:
                continue
        total += 1
    else:
        total -= 1
    return total


def multi_line(a, b):
    return max(
        a,
        b,
    ) + min(a,
            b)


def one_line_loop(n):
    for i in range(n): n += 1
    return n


def conditional_expressions(xs):
    out = []
    for x in xs:
        out.append(x if x > 2 else -x)
        y = x and (x > 1 or
                   x < -1)
        out.append(y)
    return out


async def coroutine(n):
    return n * 2


def drive(n):
    c = coroutine(n)
    try:
        c.send(None)
    except StopIteration as e:
        return e.value


class Thing:
    def method(self, n):
        return sum(
            i for i in range(n)
        )

    @staticmethod
    def decorated(n): return -n


def recursive(n):
    if n <= 0:
        return 0
    return 1 + recursive(n - 1)


def raises_out(n):
    if n:
        raise KeyError(n)


def main():
    for r in range(3):
        one_liner(r)
        closure(4)
        g = gen(5)
        next(g)
        g.send(7)
        list(g)
        list(delegating(3))
        while_loop(5)
        exceptions(7)
        withs(4)
        multi_line(1, 2)
        one_line_loop(3)
        conditional_expressions([0, 1, 2, 3, -4])
        drive(r)
        Thing().method(4)
        Thing.decorated(3)
        recursive(4)
        try:
            raises_out(1)
        except KeyError:
            pass
        globals().get("long_function", lambda r: r)(r)
    if os.environ.get("LINE_SHAPES_TWINS"):
        print("without probes:", without_probes(), file=sys.stderr)


def without_probes():
    """The functions here (and code objects inside them) whose code has no line probes: on 3.11
    under moth --lines, functions called before run twins of their code (lines_rewrite.c)."""
    def walk(code):
        if [type(c).__name__ for c in code.co_consts[-1:]] != ["LineProbe"]:
            yield code.co_qualname
        for c in code.co_consts:
            if isinstance(c, types.CodeType):
                yield from walk(c)
    funcs = [f for f in globals().values() if isinstance(f, types.FunctionType)]
    funcs += [Thing.method, Thing.decorated]
    return sorted(name for f in funcs if f not in (main, without_probes)
                  for name in walk(f.__code__))


if __name__ == "__main__":
    main()
