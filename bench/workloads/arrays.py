"""numpy work: arrays made and dropped (native allocations through numpy's own allocator) with
Python glue around them."""
import sys

import numpy as np


def step(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.random(n)
    b = np.sqrt(a) * 2.0 + a ** 2
    c = np.sort(b)[: n // 2]
    return float(c.sum()), [float(x) for x in c[:50]]


def main(rounds):
    total = 0.0
    for i in range(rounds):
        for k in range(40):
            s, head = step(20000 + k * 100, i * 100 + k)
            total += s + sum(head)
    return round(total, 3)


if __name__ == "__main__":
    import time
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    t0 = time.perf_counter()
    result = main(rounds)
    print("elapsed %.6f" % (time.perf_counter() - t0), file=sys.stderr)
    print("arrays", rounds, result)
