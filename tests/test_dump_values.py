"""moth dump --locals: each frame's arguments and local variables read from outside, shown as
the target's own repr() would show them (the target prints what it expects)."""
import contextlib
import json

import pytest

from conftest import PROGRAMS, run_moth
from remote import Target, dump_json, markers, pythons

LOCALS = PROGRAMS / "remote_locals.py"
M = markers(LOCALS)
PYTHONS = pythons()
MAX_CHARS = 200  # values.h: MOTH_VALUE_MAX_CHARS


def cut(text):
    """A value as moth shows it: the first MAX_CHARS characters, then '...'."""
    return text if len(text) <= MAX_CHARS else text[:MAX_CHARS] + "..."


@contextlib.contextmanager
def locals_target(python):
    """remote_locals.py started; yields it and what it expects moth to show."""
    target = Target(python, LOCALS)
    try:
        expected = json.loads(target.proc.stdout.readline())
        target.wait_ready()
        yield target, expected
    finally:
        target.__exit__(None, None, None)


def frame(thread, function):
    (found,) = [f for f in thread["frames"] if f["function"] == function]
    return found


@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_locals_of_every_type(version, python):
    with locals_target(python) as (target, expected):
        d = dump_json(target.pid, "--locals")
    (main,) = d["threads"]
    assert [(f["function"], f["line"]) for f in main["frames"]] == [
        ("<module>", M["module"]), ("leaf", M["leaf"]), ("reader", M["reader"])]
    for function in ("leaf", "reader"):
        got = frame(main, function)["variables"]
        want = [dict(v, value=cut(v["value"])) for v in expected[function]]
        assert [v["name"] for v in got] == [v["name"] for v in want]
        for g, w in zip(got, want):
            assert g == w, function
    leaf = {v["name"]: v["value"] for v in frame(main, "leaf")["variables"]}
    # What the comparison above covers, spelled out for the cases that matter most.
    assert leaf["nbig"] == str(-2**200)
    assert leaf["huge"].startswith("[0, 1, 2, ") and leaf["huge"].endswith("...")
    assert len(leaf["huge"]) == MAX_CHARS + 3
    assert leaf["s_long"] == "'" + "x" * (MAX_CHARS - 1) + "..."
    assert leaf["rec"] == "[1, [...]]"
    assert leaf["foo"].startswith("<Foo at 0x")
    assert "unbound" not in leaf
    # The module frame has no fast locals.
    assert "variables" not in main["frames"][0]


def test_locals_as_text():
    version, python = PYTHONS[0]
    with locals_target(python) as (target, _):
        proc = run_moth("dump", "-l", "--no-source", target.pid)
        plain = run_moth("dump", "--no-source", target.pid)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    start = lines.index(f'  File "{LOCALS}", line {M["reader"]}, in reader')
    assert lines[start + 1:] == [
        "      Arguments:",
        "        y = [0, 1, 2]",
        "      Locals:",
        "        got = ('x', 1267650600228229401496703205376)",
        "        a = 'x'",
        "        big = 1267650600228229401496703205376",
        lines[start + 7],
    ]
    assert lines[start + 7].startswith("        reader = <function at 0x")
    # Without --locals no variables are read.
    assert "Arguments:" not in plain.stdout
