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


@pytest.mark.parametrize("ending,status,said", [
    ("exit", 7, ""),
    ("raise", 1, "RuntimeError: the program's own error\n"),
    ("fall", 0, ""),
    ("handled", 3, ""),  # its own SIGTERM handler runs, unchanged
    ("SIGTERM", -signal.SIGTERM, None),
    # children it forks end their own way, the profile stays the parent's; not under
    # LeakSanitizer: CPython's own after-fork code drops the locks it re-creates
    # (PyThread_allocate_lock), and the child that exits would report them as leaks
    pytest.param("fork", 7, "", marks=pytest.mark.nosanitize),
])
def test_program_ending_while_attached_hands_over_its_profile(tmp_path, ending, status, said):
    target = start("poll", tmp_path, ending)
    session = moth_session("-p", target.pid, "--limit", "0", "-o", tmp_path / "out.prof")
    (tmp_path / "go").touch()
    while not (tmp_path / "done").exists():
        time.sleep(0.02)
    if ending in ("SIGTERM", "handled"):
        target.send_signal(signal.SIGTERM)
    else:
        (tmp_path / "end").touch()
    out, err = session.communicate(timeout=30)
    assert session.returncode == 0, err
    attached = rows(out)
    assert (attached["work"], attached["middle"], attached["leaf"]) == ("1", "10", "10000")
    if ending == "SIGTERM":
        assert err.endswith("moth: process %d was ended by SIGTERM while moth was attached; "
                            "the profile covers it until then\n" % target.pid), err
    else:
        assert err.endswith("moth: process %d ended while moth was attached; the profile "
                            "covers it until its end\n" % target.pid), err
    import pstats
    calls = {key[2]: value[1] for key, value in pstats.Stats(str(tmp_path / "out.prof")).stats.items()}
    assert (calls["middle"], calls["leaf"]) == (10, 10000)
    code, tout, terr = finish(target)
    assert code == status
    if said is not None:
        assert tout == {"handled": "", "fork": "worked\n5 15\n"}.get(ending, "worked\n"), terr
        assert terr.endswith(said)


def test_program_ending_unseen_while_attached(tmp_path):
    """A death no code of the program sees (SIGKILL): nothing to report, moth says why."""
    target = start("busy", 30)
    session = moth_session("-p", target.pid)
    target.kill()
    out, err = session.communicate(timeout=30)
    assert session.returncode == 1
    assert err.endswith("moth: process %d ended while moth was attached\n" % target.pid), err
    finish(target)


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


WITHDRAWN = ("moth: process %d did not reach a point where it runs Python within 5 s (its main "
             "thread is in state %s): it may be in a long call of C code; nothing of moth's was "
             "left in it\n")


def test_a_bootstrap_never_run_is_taken_back_and_the_program_goes_on(tmp_path):
    """The main thread waits in a call moth does not interrupt (fcntl.lockf on a file the test
    holds locked): after 5 s moth takes its bootstrap back, says so in one line, and the program
    then goes on as if nothing had happened; a later attach works."""
    import fcntl
    lock = open(tmp_path / "lock", "a")
    fcntl.lockf(lock, fcntl.LOCK_EX)
    target = start("lockf", tmp_path / "lock")
    time.sleep(0.3)
    result = run_moth("profile", "-p", target.pid, "--duration", "0.2", timeout=30)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == WITHDRAWN % (target.pid, "S")
    fcntl.lockf(lock, fcntl.LOCK_UN)
    assert target.stdout.readline() == "locked\n"
    again = run_moth("profile", "-p", target.pid, "--duration", "0.2", "--limit", "0",
                     timeout=30)
    assert again.returncode == 0, again.stderr
    assert "middle" in rows(again.stdout)
    assert finish(target) == (7, "", "")


def test_a_main_thread_in_a_long_c_call_is_left_alone():
    """A regular expression that backtracks for hours never returns to the interpreter's loop."""
    target = start("regex")
    time.sleep(0.3)
    result = run_moth("profile", "-p", target.pid, "--duration", "0.2", timeout=30)
    assert (result.returncode, result.stderr) == (1, WITHDRAWN % (target.pid, "R"))
    assert target.poll() is None
    target.kill()
    finish(target)


def setpriv(uid):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"]


def runs_as_other_users():
    """Root can run processes as other users, and they can run this Python and moth's."""
    if os.geteuid() != 0:
        return False
    return all(subprocess.run([*setpriv(65534), python, "-c", code], capture_output=True,
                              cwd="/").returncode == 0
               for python, code in ((BASE, "pass"), (sys.executable, "import moth")))


@pytest.mark.skipif(not runs_as_other_users(), reason="needs root, and a Python other users can "
                    "run (pyenv's under a private /root/ is not)")
def test_not_permitted_says_why(tmp_path):
    """A process of another user; one of moth's own user that made itself not dumpable."""
    prog = ("import ctypes, sys, time\n"
            "if sys.argv[1] == 'hidden':\n"
            "    ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0\n"
            "print('ready', flush=True)\n"
            "time.sleep(30)\n")
    moth = [sys.executable, "-m", "moth", "profile", "--duration", "0.2", "-p"]
    for how, moth_uid, said in [
            ("other", 65533, "it belongs to nobody (uid 65534); run moth as that user or as root"),
            ("hidden", 65534, "it is yours but not dumpable (prctl PR_SET_DUMPABLE 0, or it "
                              "changed its user or group); run moth as root")]:
        target = subprocess.Popen([*setpriv(65534), BASE, "-c", prog, how], cwd=tmp_path,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert target.stdout.readline() == "ready\n"
            result = subprocess.run([*setpriv(moth_uid), *moth, str(target.pid)], cwd=tmp_path,
                                    capture_output=True, text=True, env=moth_env(), timeout=30)
            assert (result.returncode, result.stderr) == \
                (2, "moth: no permission to read process %d: %s\n" % (target.pid, said))
        finally:
            target.kill()
            target.wait()


CANNOT_WAKE = ("moth: process %d's main thread waits in a system call and moth cannot wake it "
               "(%s): moth attaches if it runs Python within 5 s\n")


def attach_to_a_reader(target, *options):
    """moth profile -p on a target that waits in `read`: the line moth cannot wake it with is
    awaited before the target gets its line (after that it runs a few lines of Python and
    ends), so that the race between its end and moth's arrival is not left to the load."""
    assert target.stdout.readline() == "ready\n"
    session = subprocess.Popen([sys.executable, "-m", "moth", "profile", "-p", str(target.pid),
                                *options], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=moth_env())
    said = session.stderr.readline()
    target.stdin.write("hello\n")
    target.stdin.flush()
    out, err = session.communicate(timeout=30)
    return session.returncode, said + err


def test_a_blocked_main_thread_moth_cannot_wake_is_said_in_one_line(tmp_path):
    """python -v: the function moth would lend (importlib's _verbose_message) prints there."""
    target = subprocess.Popen([BASE, "-v", str(TARGET), "read"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              env=moth_env())
    code, err = attach_to_a_reader(target, "--limit", "0")
    assert code == 0, err
    assert err.startswith(
        CANNOT_WAKE % (target.pid, "the program runs with python -v") +
        "moth: profiling process %d" % target.pid), err
    assert err.endswith("moth: process %d ended while moth was attached; the profile "
                        "covers it until its end\n" % target.pid)
    out, _ = target.communicate(timeout=30)
    assert target.returncode == 7 and out == "read hello\n"


@pytest.mark.skipif(VERSION != "3.11", reason="3.12 and 3.13 keep the signal handlers in "
                    "_PyRuntime: no symbol is needed")
def test_a_stripped_311_that_cannot_be_woken_says_why(tmp_path):
    """A libpython without its static symbols Handlers and is_tripped (objcopy): moth finds no
    handler table to lend a slot of, says so, and attaches when the read returns."""
    lib = next(line.split()[2] for line in subprocess.run(
        ["ldd", BASE], capture_output=True, text=True).stdout.splitlines()
        if "libpython3.11" in line)
    stripped = tmp_path / os.path.basename(lib)
    subprocess.run(["objcopy", "--strip-symbol=Handlers", "--strip-symbol=is_tripped", lib,
                    str(stripped)], check=True)
    # (scripts/sanitize preloads its runtime, which must stay first)
    preload = " ".join(filter(None, [os.environ.get("LD_PRELOAD"), str(stripped)]))
    target = subprocess.Popen([BASE, str(TARGET), "read"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=moth_env({"LD_PRELOAD": preload}))
    code, err = attach_to_a_reader(target)
    assert code == 0, err
    note = "%s was stripped of the symbols Handlers and is_tripped" % stripped
    assert err.startswith(CANNOT_WAKE % (target.pid, note)), err
    status, out, _ = finish(target)
    assert status == 7 and out == "read hello\n"
