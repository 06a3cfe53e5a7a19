"""A program whose frames hold locals of every type `moth dump --locals` decodes.

It prints one JSON line: for each frame the tests read ("leaf", "reader"), its bound variables
in the order its code keeps them, whether each is an argument, and the text moth should show:
repr() as this Python writes it (ints without a digit limit) for the types moth decodes,
`<TypeName at 0x...>` for the rest; then "ready", and waits until stdin closes.
"""
import collections
import json
import sys

if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(0)

DECODED = (type(None), bool, int, float, str, bytes, tuple, list, dict, set, frozenset)
HEAPTYPE = 1 << 9
EXPECTED = {}


class Foo:
    pass


def shown(value):
    """What moth shows for value (values.h)."""
    t = type(value)
    if t is int and value.bit_length() > 4096 * 30:
        return f"<int of {value.bit_length()} bits at {hex(id(value))}>"
    if t in DECODED:
        return repr(value)
    name = t.__name__
    if not t.__flags__ & HEAPTYPE and t.__module__ != "builtins":
        name = f"{t.__module__}.{name}"
    return f"<{name} at {hex(id(value))}>"


def describe(code, values, special=()):
    """The variables of a frame running code, in the order moth lists them."""
    names = code.co_varnames + tuple(c for c in code.co_cellvars if c not in code.co_varnames)
    names += code.co_freevars
    nargs = code.co_argcount + code.co_kwonlyargcount + bool(code.co_flags & 4) + bool(
        code.co_flags & 8)
    return [{"name": n, "argument": i < nargs,
             "value": dict(special).get(n) or shown(values[n])}
            for i, n in enumerate(names) if n in values]


def leaf(a, b=2, *args, k=None, **kw):
    i0, im1, one_digit, two_digits = 0, -1, 2**30 - 1, 2**30
    big, nbig, past_64 = 2**100, -2**200, 2**64
    decimal_huge = 10**5000          # repr() refuses it without set_int_max_str_digits
    bits_huge = 2**200000            # shown by its size only
    f1, f2, fnan, finf, fninf, fneg = 0.1, 1e300, float("nan"), float("inf"), float("-inf"), -0.0
    ftiny, fe16, fe15, fsmall, fmid = 5e-324, 1e16, 1e15, 1e-5, 123456789.123
    s = "h\xe9llo 'w\xf6rld' \U0001F600 \n\t\x00\x7f\u200b\\"
    s_quotes = "it's \"quoted\""
    s_surrogate = "a\ud800b"
    s_bmp = "\u4e2d\u6587"
    s_long = "x" * 10000
    bs = b"ab'c\x00\xff\t"
    t0, t1, tup = (), (7,), (1, (2,), ())
    lst = [1, [2, [3, [4]]], {"x": {5, 6}}, True, False, None]
    d = {1: "one", (2, 3): None, "s": 1.5, None: True, 2.5: b"", frozenset({1}): [1]}
    empty_d, es, fs = {}, set(), frozenset({1, 2, 3})
    huge = list(range(100000))
    big_set = set(range(1000))
    deep = [[[[[[[[[[1]]]]]]]]]]
    rec = [1]
    rec.append(rec)
    ordered = collections.OrderedDict(a=1)
    foo = Foo()

    def reader(y):
        got = (a, big)
        EXPECTED["reader"] = describe(reader.__code__, locals())
        print(json.dumps(EXPECTED), flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # @reader
        return got, y

    EXPECTED["leaf"] = describe(leaf.__code__, locals(),
                                {"deep": "[" * 8 + "[...]" + "]" * 8})
    reader([y for y in range(3)])  # @leaf
    unbound = 1  # never bound while the tests read
    return unbound


leaf("x", 3, 4, 5, k=[1], z={})  # @module
