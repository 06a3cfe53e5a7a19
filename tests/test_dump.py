"""moth dump: every thread's stack of a running Python program, read from outside.

Targets run on every supported CPython the machine has, whichever one moth runs under, so a
moth on 3.11 reads 3.12 and 3.13 programs and the other way round.
"""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import PROGRAMS, run_moth, tool_env
from remote import Target, dump_json, markers, python_frames, pythons, wait_for_dump

STACKS = PROGRAMS / "remote_stacks.py"
M = markers(STACKS)
PYTHONS = pythons()


def by_name(dump):
    return {t["name"]: t for t in dump["threads"]}


def settled(dump):
    """Every thread of remote_stacks.py is blocked at its marker."""
    threads = by_name(dump)
    leaves = {"MainThread": M["main_leaf"], "recurser": M["recurse_leaf"],
              "generator": M["gen_leaf"], "coroutine": M["coro_leaf"]}
    for name, line in leaves.items():
        t = threads.get(name)
        if not t or line not in [ln for _, ln in python_frames(t, STACKS)]:
            return False
    return True


@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_known_stacks_of_every_thread(version, python):
    with Target(python, STACKS) as target:
        d = wait_for_dump(target.pid, settled)
    assert d["pid"] == target.pid
    assert d["python"].startswith(version + ".")
    threads = by_name(d)
    assert sorted(threads) == ["MainThread", "coroutine", "generator", "recurser"]
    main = threads["MainThread"]
    assert main["native_id"] == target.pid
    assert python_frames(main, STACKS) == [("<module>", M["main"]), ("main", M["main_leaf"])]
    # The outermost frame of the main thread is the script's module.
    assert main["frames"][0]["function"] == "<module>"
    assert python_frames(threads["recurser"], STACKS) == [
        ("recurse", M["recurse"]), ("recurse", M["recurse"]), ("recurse", M["recurse_leaf"])]
    assert python_frames(threads["generator"], STACKS) == [
        ("consume", M["consume"]), ("numbers", M["gen_leaf"])]
    assert python_frames(threads["coroutine"], STACKS) == [
        ("drive", M["drive"]), ("outer", M["coro_outer"]), ("inner", M["coro_leaf"])]
    # Worker threads start in threading.py's bootstrap, which runs their target.
    for name in ("recurser", "generator", "coroutine"):
        first = threads[name]["frames"][0]
        assert first["function"] == "_bootstrap" and first["file"].endswith("threading.py")
        # Each waits in threading.Event.wait, below its last frame in the program.
        assert threads[name]["frames"][-1]["file"].endswith("threading.py")
    # Nobody runs Python while everything waits, so nobody holds the GIL for long; the
    # states are the kernel's.
    for t in d["threads"]:
        assert t["state"] in ("S", "R", "D")
        assert not t["dropped"] and not t["truncated"]


def test_text_is_a_traceback_outermost_first():
    version, python = PYTHONS[0]
    with Target(python, STACKS) as target:
        wait_for_dump(target.pid, settled)
        proc = run_moth("dump", target.pid)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith(f"Process {target.pid}: ") and str(STACKS) in lines[0]
    assert lines[1].startswith(f"Python {version}.")
    start = lines.index(next(ln for ln in lines if ln.startswith(f"Thread {target.pid} ")))
    assert lines[start] == f'Thread {target.pid} "MainThread" (waiting)'
    assert lines[start + 1:start + 5] == [
        f'  File "{STACKS}", line {M["main"]}, in <module>',
        "    main()  # @main",
        f'  File "{STACKS}", line {M["main_leaf"]}, in main',
        "    sys.stdin.read()  # @main_leaf",
    ]


def test_no_source_lines():
    _, python = PYTHONS[0]
    with Target(python, STACKS) as target:
        wait_for_dump(target.pid, settled)
        proc = run_moth("dump", "--no-source", target.pid)
    assert proc.returncode == 0
    assert "# @main" not in proc.stdout
    assert f'line {M["main"]}, in <module>' in proc.stdout


def test_gil_holder_and_running_thread():
    """A thread spinning in Python is running and holds the GIL (the only one that can)."""
    _, python = PYTHONS[0]
    code = ("import threading\n"
            "def spin():\n"
            "    while True: pass\n"
            "threading.Thread(target=spin, name='spinner', daemon=True).start()\n"
            "print('ready', flush=True)\n"
            "import sys; sys.stdin.read()\n")
    with Target(python, "-c", code) as target:
        def spinning(d):
            return any(t["holds_gil"] and t["state"] == "R" for t in d["threads"])
        d = wait_for_dump(target.pid, spinning)
    holders = [t for t in d["threads"] if t["holds_gil"]]
    assert len(holders) == 1
    assert holders[0]["native_id"] != target.pid
    assert holders[0]["frames"][-1]["function"] == "spin"


@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_deep_recursion_is_read_whole(version, python):
    """800 frames span several chunks of the frame data stack."""
    code = ("import sys\n"
            "def down(n):\n"
            "    if n: return down(n - 1)\n"
            "    print('ready', flush=True); sys.stdin.read()\n"
            "down(800)\n")
    with Target(python, "-c", code) as target:
        d = dump_json(target.pid)
    (main,) = d["threads"]
    names = [f["function"] for f in main["frames"]]
    assert names == ["<module>"] + ["down"] * 801


def test_not_a_process_id():
    proc = run_moth("dump", "abc")
    assert proc.returncode == 2
    assert proc.stderr == "moth: 'abc' is neither a process id nor a core file\n"


def test_no_such_process():
    proc = run_moth("dump", 4194303)
    assert proc.returncode != 0
    assert proc.stderr == "moth: no process 4194303\n"


def test_not_python():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        proc = run_moth("dump", sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert proc.returncode != 0
    assert proc.stderr == (f"moth: process {sleeper.pid} is not running Python (no python "
                           "executable or libpython with an interpreter in its memory)\n")


def test_usage_errors():
    assert run_moth("dump").stderr == ("moth: moth dump needs a process id or a core file (try "
                                       "'moth dump --help')\n")
    assert run_moth("dump", "--frobnicate", 1).returncode == 2
    assert "usage: moth dump" in run_moth("dump", "--help").stdout


def test_blocking_reads_a_running_thread_at_one_instant():
    _, python = PYTHONS[0]
    code = ("import sys\n"
            "def spin():\n"
            "    while True: pass\n"
            "print('ready', flush=True)\n"
            "spin()\n")
    with Target(python, "-c", code) as target:
        for _ in range(5):
            d = dump_json(target.pid, "--blocking")
            (main,) = d["threads"]
            assert [f["function"] for f in main["frames"]] == ["<module>", "spin"]
            assert main["state"] == "R"     # as it was before moth stopped it
            assert main["holds_gil"]
        status = open(f"/proc/{target.pid}/status").read()
        assert "\nTracerPid:\t0\n" in status and "\nState:\tR" in status
