"""Numeric loops with small calls: Newton's method on many polynomials, float arithmetic."""
import math
import sys


def poly(coeffs, x):
    acc = 0.0
    for c in coeffs:
        acc = acc * x + c
    return acc


def dpoly(coeffs, x):
    n = len(coeffs) - 1
    acc = 0.0
    for i, c in enumerate(coeffs[:-1]):
        acc = acc * x + c * (n - i)
    return acc


def newton(coeffs, x0, tol=1e-12, limit=60):
    x = x0
    for _ in range(limit):
        fx = poly(coeffs, x)
        d = dpoly(coeffs, x)
        if d == 0.0:
            break
        step = fx / d
        x -= step
        if abs(step) < tol:
            break
    return x


def main(count):
    total = 0.0
    for k in range(count):
        coeffs = [1.0, -(k % 7 + 2.0), math.sin(k) * 3.0, -(k % 5 + 1.0), 0.5]
        for start in (-3.0, -1.0, 0.5, 2.0, 4.0):
            total += newton(coeffs, start)
    return total


if __name__ == "__main__":
    import time
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
    t0 = time.perf_counter()
    result = main(count)
    print("elapsed %.6f" % (time.perf_counter() - t0), file=sys.stderr)
    print("newton", count, "%.6f" % result)
