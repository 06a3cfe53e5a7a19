"""Each performance pitfall moth advise knows, next to its clean twin (tests/test_advise.py)."""
import math

N = 60000
DATA = [float(i % 97) for i in range(N)]


def module_attribute(xs):            # pitfall: math.sqrt looked up on every iteration
    total = 0.0
    for x in xs:
        total += math.sqrt(x)
    return total


def module_attribute_clean(xs):      # clean: a local alias
    sqrt = math.sqrt
    total = 0.0
    for x in xs:
        total += sqrt(x)
    return total


def index_loop(xs):                  # pitfall: range(len(xs)) then xs[i]
    best = 0.0
    for i in range(len(xs)):
        v = xs[i]
        if v > best:
            best = v
    return best


def index_loop_clean(xs):            # clean: iterate directly
    best = 0.0
    for v in xs:
        if v > best:
            best = v
    return best


def counter_loop(n):                 # pitfall: a counter while loop
    i = 0
    hits = 0
    while i < n:
        if i % 3 == 0:
            hits = hits + 1
        i += 1
    return hits


def counter_loop_clean(n):           # clean: for ... in range
    hits = 0
    for i in range(n):
        if i % 3 == 0:
            hits = hits + 1
    return hits


def concat(n):                       # pitfall: string += in a loop
    s = ""
    for i in range(n):
        s += "x"
    return len(s)


def concat_clean(n):                 # clean: join
    return len("".join("x" for i in range(n)))


def appends(xs):                     # pitfall: append loop a comprehension would do
    out = []
    for x in xs:
        out.append(x * 2.0)
    return len(out)


def appends_clean(xs):               # clean: a comprehension
    out = [x * 2.0 for x in xs]
    return len(out)


def dot(a, b):                       # pitfall: a numeric loop NumPy would vectorise
    total = 0.0
    for i in range(len(a)):
        total = total + a[i] * b[i]
    return total


class Settings:
    def __init__(self):
        self.limits = type("L", (), {"high": 50.0})()


def attribute_chain(xs, cfg):        # pitfall: cfg.limits.high read on every iteration
    n = 0
    for x in xs:
        if x > cfg.limits.high:
            n += 1
    return n


def main():
    cfg = Settings()
    for _ in range(3):
        module_attribute(DATA)
        module_attribute_clean(DATA)
        index_loop(DATA)
        index_loop_clean(DATA)
        counter_loop(N)
        counter_loop_clean(N)
        concat(N // 4)
        concat_clean(N // 4)
        appends(DATA)
        appends_clean(DATA)
        dot(DATA, DATA)
        attribute_chain(DATA, cfg)


main()
