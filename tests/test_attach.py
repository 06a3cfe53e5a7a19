"""moth profile -p PID: attaching to a running program (remote/attach.h, cpython/attach_agent.c).

Targets run on the base interpreter of the Python running the tests, which has no moth of its
own: the bootstrap makes moth's installation importable for the import only. Each target is
reached wherever it waits (asleep, in a lock, reading stdin, busy) and goes on as if nothing
had happened: same output, same exit status, its sleep not shortened.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROGRAMS, moth_env, run_moth
from remote import pythons

TARGET = PROGRAMS / "attach_target.py"
VERSION = "%d.%d" % sys.version_info[:2]
BASE = dict(pythons()).get(VERSION, sys.executable)
OTHERS = [(v, p) for v, p in pythons() if v != VERSION]


def start(*args, python=BASE):
    proc = subprocess.Popen([python, str(TARGET), *map(str, args)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=moth_env())
    assert proc.stdout.readline() == "ready\n"
    return proc


def finish(proc, stdin=""):
    out, err = proc.communicate(stdin, timeout=60)
    return proc.returncode, out, err


def moth_session(*args):
    """`moth profile -p ...` running in the background; returns once it says it profiles."""
    proc = subprocess.Popen([sys.executable, "-m", "moth", "profile", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=moth_env())
    line = proc.stderr.readline()
    assert line.startswith("moth: profiling process"), (line, proc.stderr.read())
    return proc


def rows(table):
    """{function name: ncalls} of a moth/cProfile table."""
    found = {}
    for line in table.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[-1].count(":") == 1 and "(" in parts[-1]:
            found[parts[-1].split("(")[1].rstrip(")")] = parts[0]
    return found


@pytest.mark.parametrize("mode,arg,said", [
    ("sleep", 3, "slept 3."),
    ("lock", 3, "waited 3."),
    ("busy", 3, "spun"),
])
def test_reached_wherever_it_waits_and_goes_on_unchanged(mode, arg, said):
    target = start(mode, arg)
    time.sleep(0.3)
    result = run_moth("profile", "-p", target.pid, "--duration", "0.3", timeout=30)
    assert result.returncode == 0, result.stderr
    assert "function calls" in result.stdout
    status, out, err = finish(target)
    assert (status, err) == (7, "")
    assert out.startswith(said), out


def test_reading_stdin_the_program_still_gets_its_line():
    target = start("read")
    time.sleep(0.3)
    result = run_moth("profile", "-p", target.pid, "--duration", "0.2", timeout=30)
    assert result.returncode == 0, result.stderr
    assert finish(target, "hello\n") == (7, "read hello\n", "")


def test_counts_match_a_run_profiled_from_the_start(tmp_path):
    target = start("poll", tmp_path)
    session = moth_session("-p", target.pid, "--limit", "0")
    (tmp_path / "go").touch()
    while not (tmp_path / "done").exists():
        time.sleep(0.02)
    session.send_signal(signal.SIGINT)
    out, err = session.communicate(timeout=30)
    assert session.returncode == 0, err
    attached = rows(out)
    assert (attached["work"], attached["middle"], attached["leaf"]) == ("1", "10", "10000")
    (tmp_path / "end").touch()
    assert finish(target) == (7, "worked\n", "")
    # the same work profiled from the start counts the same
    whole = run_moth("profile", "--limit", "0", "-c",
                     "import runpy, sys; sys.argv = ['t', 'x']; "
                     "exec(open(%r).read().split('mode = sys.argv')[0]); work()" % str(TARGET))
    assert whole.returncode == 0, whole.stderr
    alone = rows(whole.stdout)
    assert (alone["work"], alone["middle"], alone["leaf"]) == ("1", "10", "10000")


def test_files_and_line_profile_as_moth_profile_writes_them(tmp_path):
    target = start("poll", tmp_path)
    session = moth_session("-p", target.pid, "-o", tmp_path / "out.prof", "--func", "middle")
    (tmp_path / "go").touch()
    while not (tmp_path / "done").exists():
        time.sleep(0.02)
    session.send_signal(signal.SIGINT)
    out, err = session.communicate(timeout=30)
    assert session.returncode == 0, err
    assert "Function: middle" in out
    (tmp_path / "end").touch()
    finish(target)
    import pstats
    stats = pstats.Stats(str(tmp_path / "out.prof")).stats
    calls = {key[2]: value[1] for key, value in stats.items()}
    assert calls["leaf"] == 10000 and calls["middle"] == 10


def test_second_attach_is_refused_and_a_killed_moth_leaves_nothing(tmp_path):
    target = start("busy", 30)
    first = moth_session("-p", target.pid)
    second = run_moth("profile", "-p", target.pid, "--duration", "0.2", timeout=30)
    assert second.returncode != 0
    assert second.stderr == \
        "moth: another moth is attached to process %d: one session at a time\n" % target.pid
    first.kill()  # SIGKILL: the agent sees its channel close and removes the profiler
    first.wait()
    # The agent notices the closed channel on its own thread, which a busy program may not let
    # run at once: the session is gone within seconds, and a new one is then accepted.
    deadline = time.monotonic() + 20
    while True:
        again = run_moth("profile", "-p", target.pid, "--duration", "0.2", timeout=30)
        if again.returncode == 0 or "another moth is attached" not in again.stderr \
                or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert again.returncode == 0, again.stderr
    target.kill()
    finish(target)


def test_program_ending_while_attached(tmp_path):
    target = start("sleep", 0.8)
    result = run_moth("profile", "-p", target.pid, timeout=30)
    assert result.returncode == 1
    assert "process %d ended while moth was attached" % target.pid in result.stderr
    assert finish(target)[0] == 7


def test_bad_targets():
    gone = run_moth("profile", "-p", 999999999, "--duration", "0.1")
    assert (gone.returncode, gone.stderr) == (2, "moth: no process 999999999\n")
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        other = run_moth("profile", "-p", sleeper.pid, "--duration", "0.1")
        assert other.returncode == 2
        assert "is not running Python" in other.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    bad = run_moth("profile", "-p", "x")
    assert (bad.returncode, bad.stderr) == (2, "moth: -p takes a process id, not 'x'\n")
    lone = run_moth("profile", "--duration", "1", "-c", "pass")
    assert lone.stderr == "moth: --duration goes with -p PID\n"
    program = run_moth("profile", "-p", "1", "x.py")
    assert program.stderr == "moth: moth profile -p takes no program ('x.py')\n"


@pytest.mark.skipif(not OTHERS, reason="one Python on this machine")
def test_a_python_moth_has_no_build_for_says_what_to_install(tmp_path):
    version, python = OTHERS[0]
    target = start("sleep", 30, python=python)
    try:
        result = run_moth("profile", "-p", target.pid, "--duration", "0.2", timeout=30)
        assert result.returncode == 1
        assert "cannot import moth" in result.stderr
        assert "-m pip install moth" in result.stderr
    finally:
        target.kill()
        finish(target)
