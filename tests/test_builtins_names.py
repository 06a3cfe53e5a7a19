"""C functions of every kind (module functions, methods of built-in types, class and static
methods, functions raising, functions called from C, in another thread) get cProfile's rows in
moth's builtins mode: the same names and the same call counts."""
import cProfile
import functools
import math
import operator
import threading

import moth


def many_kinds():
    d = {}
    d.setdefault("a", []).append(1)
    dict.fromkeys("ab")
    str.maketrans("a", "b")
    math.sqrt(4.0)
    operator.add(1, 2)
    sorted([3, 1, 2], key=abs)
    list(map(abs, [-1, 2]))
    for bad in ("x", "y"):
        try:
            int(bad)
        except ValueError:
            pass
    try:
        math.sqrt(-1)
    except ValueError:
        pass
    "abc".upper()
    b"x".hex()
    (5).bit_length()
    functools.reduce(operator.add, [1, 2, 3])
    next(iter([1]))
    isinstance(1, int)
    getattr(math, "pi")
    [].__len__()
    return len(d)


def c_rows(profiler_class, **kw):
    p = profiler_class(**kw)
    p.runcall(many_kinds)
    p.create_stats()
    return {k[2]: v[:2] for k, v in p.stats.items() if k[0] == "~"}


def test_c_function_rows_equal_cprofiles():
    expected = c_rows(cProfile.Profile)
    got = c_rows(moth.Profile)
    assert "<built-in method math.sqrt>" in expected
    assert got == expected


def test_a_thread_started_while_profiling_gets_its_c_function_rows():
    p = moth.Profile()
    p.enable()
    t = threading.Thread(target=many_kinds)
    t.start()
    t.join()
    p.disable()
    p.create_stats()
    rows = {k[2]: v[:2] for k, v in p.stats.items() if k[0] == "~"}
    expected = c_rows(cProfile.Profile)
    for name, counts in expected.items():
        if name.startswith("<method 'disable'"):
            continue
        assert name in rows, name
        assert rows[name][1] >= counts[1], name
