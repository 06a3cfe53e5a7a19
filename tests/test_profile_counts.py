"""Call counts of Python functions equal cProfile's on the same deterministic program."""
import pstats
import subprocess
import sys

import pytest

from conftest import PROGRAMS, run_moth

SHAPES = PROGRAMS / "shapes.py"


def load(path):
    return pstats.Stats(str(path)).stats


def own_rows(stats, edges):
    """(cc, nc) of functions defined in the program, with their caller edges when asked."""
    rows = {}
    for key, (cc, nc, tt, ct, callers) in stats.items():
        if key[0] != str(SHAPES):
            continue
        # python -m cProfile runs the program through exec(); moth runs its code directly
        rows[key] = (cc, nc, {k: v[:2] for k, v in callers.items()
                              if k[2] != "<built-in method builtins.exec>"} if edges else None)
    return rows


@pytest.fixture(scope="module")
def cprofile_stats(tmp_path_factory):
    out = tmp_path_factory.mktemp("c") / "c.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), str(SHAPES)], check=True)
    return load(out)


@pytest.mark.parametrize("mode", [[], ["--builtins"]])
def test_python_call_counts_and_caller_edges_equal_cprofile(tmp_path, cprofile_stats, mode):
    # Caller edges are compared with --builtins only: by default C functions are not rows,
    # so a function called back by one (sorted's key, a generator driven by sum) has its
    # Python caller as caller instead.
    out = tmp_path / "m.prof"
    run_moth("profile", *mode, "-q", "-o", out, SHAPES, check=0)
    edges = bool(mode)
    ours, theirs = own_rows(load(out), edges), own_rows(cprofile_stats, edges)
    assert len(theirs) >= 20
    assert ours == theirs


def test_calls_of_c_functions_from_the_program_equal_cprofile(tmp_path, cprofile_stats):
    # C functions called by the program's own functions: same counts per calling function.
    # (Calls made while importing modules differ: python -m cProfile imports more modules
    # before the program starts than moth does.)
    out = tmp_path / "m.prof"
    run_moth("profile", "--builtins", "-q", "-o", out, SHAPES, check=0)
    def c_edges(stats):
        return {(k, caller): v[:2] for k, (cc, nc, tt, ct, callers) in stats.items()
                if k[0] == "~" for caller, v in callers.items() if caller[0] == str(SHAPES)}
    ours, theirs = c_edges(load(out)), c_edges(cprofile_stats)
    assert len(theirs) >= 5
    assert ours == theirs


def fact(n):
    return 1 if n <= 1 else n * fact(n - 1)


def ping(n):
    return n if n <= 0 else pong(n - 1)


def pong(n):
    return ping(n - 1) + fact(3)


def twice():
    return fact(30) + fact(20) + ping(9)


def test_recursion_primitive_counts_and_cumulative_time():
    """Recursion, direct and mutual: cProfile's rules for primitive calls and cumulative time."""
    import cProfile
    import moth
    c = cProfile.Profile(builtins=False)
    c.runcall(twice)
    c.create_stats()
    p = moth.Profile(builtins=False)
    p.runcall(twice)
    p.create_stats()
    counts = lambda st: {k[2]: (v[0], v[1], {c[2]: e[:2] for c, e in v[4].items()})
                         for k, v in st.items() if k[0] == __file__}
    assert counts(p.stats) == counts(c.stats)
    (fk,) = [k for k in p.stats if k[2] == "fact"]
    (tk,) = [k for k in p.stats if k[2] == "twice"]
    cc, nc, tt, ct, callers = p.stats[fk]
    assert (cc, nc) == (2 + 5, 50 + 5 * 3)
    assert callers[fk][:2] == (48 + 5 * 2, 2 + 5)   # fact -> fact: primitive once per chain
    assert callers[tk][:2] == (2, 2)
    assert ct <= p.stats[tk][3] + 1e-12    # never more than the caller's total
    assert callers[tk][3] <= ct
