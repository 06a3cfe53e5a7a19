"""moth dump --native: the C frames between the Python frames, each thread held still only
while its stack is read, and never left stopped or traced."""
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROGRAMS, moth_env, run_moth
from remote import Target, dump_json, markers, python_frames, pythons, wait_for_dump

PROG = PROGRAMS / "native_stacks.py"
M = markers(PROG)
PYTHONS = pythons()


def by_name(dump):
    return {t["name"]: t for t in dump["threads"]}


def sequence(thread):
    """The thread's frames outermost first as "py:function" and "c:function", inlined C
    functions left out (which ones the compiler inlined differs between builds)."""
    return [("py:" if f["kind"] == "python" else "c:") + str(f["function"])
            for f in thread["frames"] if not f.get("inlined")]


def assert_in_order(seq, wanted):
    """wanted is a subsequence of seq."""
    at = 0
    for item in seq:
        if at < len(wanted) and item == wanted[at]:
            at += 1
    assert at == len(wanted), f"{wanted[at]!r} missing or out of order in {seq}"


def settled_python(dump):
    """The main thread and the reducer have reached their markers."""
    threads = by_name(dump)
    main, reducer = threads.get("MainThread"), threads.get("reducer")
    return bool(main and ("key", M["key_leaf"]) in python_frames(main, PROG) and reducer
                and ("<lambda>", M["reduce"]) in python_frames(reducer, PROG))


def settled(dump):
    """... and (a --native dump) the reducer waits inside the lock."""
    reducer = by_name(dump).get("reducer")
    return settled_python(dump) and (reducer["frames"][-1]["function"] or "").startswith(
        ("__futex", "futex", "syscall", "__new_sem"))


def deep_settled(dump):
    """The deep thread waits at the bottom of its 300 levels."""
    deep = by_name(dump).get("deep")
    return bool(deep) and python_frames(deep, PROG)[-1:] == [("deep", M["deep_leaf"])]


def task_status(pid):
    """{tid: (state letter, TracerPid)} of every thread of pid."""
    found = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except FileNotFoundError:
            continue  # a thread that ended meanwhile
        found[int(tid)] = (fields["State"].split()[0], int(fields["TracerPid"]))
    return found


def assert_runs_untraced(target):
    """No thread of the target is stopped or traced, and it still answers."""
    for tid, (state, tracer) in task_status(target.pid).items():
        assert tracer == 0 and state not in "tT", (tid, state, tracer)
    target.proc.stdin.write("\n")
    target.proc.stdin.flush()
    assert target.proc.stdout.readline() == "alive\n"
    assert target.proc.wait(timeout=20) == 0


@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_c_frames_between_python_frames(version, python):
    with Target(python, PROG) as target:
        d = wait_for_dump(target.pid, settled, "--native")
        threads = by_name(d)
        assert sorted(threads) == ["MainThread", "python" + version, "reducer"]

        main = threads["MainThread"]
        assert main["python"] and main["native_note"] is None
        assert python_frames(main, PROG) == [("<module>", M["main_call"]), ("main", M["main"]),
                                             ("main_work", M["sorted"]), ("key", M["key_leaf"])]
        seq = sequence(main)
        assert seq[0] == "c:_start"
        assert_in_order(seq, [
            "c:_start", "c:Py_BytesMain", "c:PyEval_EvalCode", "py:<module>", "py:main",
            "py:main_work", "c:PyObject_Vectorcall", "c:builtin_sorted", "c:list_sort_impl",
            "c:PyObject_CallOneArg", "py:key", "c:_Py_read"])
        # Python frames stand exactly where the interpreter ran them: every evaluation loop of
        # the C stack was replaced by its Python frames.
        assert "c:_PyEval_EvalFrameDefault" not in seq
        # Nothing but C between main_work and key, and the four Python frames in a row above.
        between = seq[seq.index("py:main_work") + 1:seq.index("py:key")]
        assert between and all(s.startswith("c:") for s in between)
        first_py = seq.index("py:<module>")
        assert seq[first_py:first_py + 3] == ["py:<module>", "py:main", "py:main_work"]
        sorted_frame = next(f for f in main["frames"] if f["function"] == "builtin_sorted")
        assert sorted_frame["file"].endswith(f"libpython{version}.so.1.0")
        assert sorted_frame["source_file"] == "Python/bltinmodule.c"
        assert sorted_frame["line"] > 0 and sorted_frame["offset"] > 0
        assert sorted_frame["pc"] > 0 and not sorted_frame["inlined"]
        assert any(f.get("inlined") for f in main["frames"])
        assert main["frames"][-1]["file"].endswith("libc.so.6")

        reducer = threads["reducer"]
        assert_in_order(sequence(reducer), [
            "c:start_thread", "py:_bootstrap", "py:_bootstrap_inner", "py:run", "py:reducer",
            "c:functools_reduce", "py:<lambda>", "py:wait", "py:wait",
            "c:lock_PyThread_acquire_lock"])
        assert "c:_PyEval_EvalFrameDefault" not in sequence(reducer)

        # faulthandler's watchdog runs no Python: C frames only.
        watchdog = threads["python" + version]
        assert not watchdog["python"]
        assert_in_order(sequence(watchdog), ["c:start_thread", "c:faulthandler_thread"])
        assert all(f["kind"] == "native" for f in watchdog["frames"])
        assert_runs_untraced(target)


def test_text_shows_c_frames_with_their_sources():
    version, python = PYTHONS[0]
    with Target(python, PROG) as target:
        d = wait_for_dump(target.pid, settled, "--native")
        proc = run_moth("dump", "--native", target.pid)
        assert proc.returncode == 0, proc.stderr
        assert_runs_untraced(target)
    lines = proc.stdout.splitlines()
    lib = re.escape(f"[libpython{version}.so.1.0]")
    start = lines.index(f'Thread {target.pid} "MainThread" (waiting)')
    main = lines[start + 1:lines.index("", start)]
    assert re.fullmatch(r"  \(C\) _start\+0x[0-9a-f]+ \[python" + re.escape(version) + r"\]",
                        main[0])
    sorted_line = next(ln for ln in main if "builtin_sorted" in ln)
    assert re.fullmatch(r"  \(C\) builtin_sorted\+0x[0-9a-f]+ at Python/bltinmodule\.c:\d+ "
                        + lib, sorted_line)
    assert any(re.fullmatch(r"  \(C\) \w+ \(inlined\) at [\w/.]+:\d+ " + lib, ln)
               for ln in main)
    # The Python frames read as a traceback, between C frames.
    at = main.index(f'  File "{PROG}", line {M["sorted"]}, in main_work')
    assert main[at + 1] == "    return sorted([3, 1, 2], key=key)  # @sorted"
    assert main[at + 2].startswith("  (C) ")
    key = main.index(f'  File "{PROG}", line {M["key_leaf"]}, in key')
    assert main[key - 1].startswith("  (C) ") and main[key + 2].startswith("  (C) ")
    watchdog = [ln for ln in lines if ln.startswith("Thread ") and "not a Python thread" in ln]
    assert len(watchdog) == 1 and re.fullmatch(
        rf'Thread \d+ "python{re.escape(version)}" \(waiting, not a Python thread\)',
        watchdog[0])
    assert len(d["threads"]) == 3


def test_native_with_blocking():
    """--blocking holds every thread for the whole dump: the C stacks are walked in that one
    hold, and the states are the ones from before it."""
    version, python = PYTHONS[0]
    with Target(python, PROG) as target:
        wait_for_dump(target.pid, settled, "--native")
        d = dump_json(target.pid, "--native", "--blocking")
        threads = by_name(d)
        assert sorted(threads) == ["MainThread", "python" + version, "reducer"]
        for t in d["threads"]:
            assert t["state"] == "S" and t["native_note"] is None and t["frames"], t
            assert t["frames"][0]["function"] in ("_start", "__clone3", "clone3", "__clone")
        assert_in_order(sequence(threads["MainThread"]), [
            "c:_start", "py:<module>", "py:main", "py:main_work", "c:builtin_sorted",
            "c:list_sort_impl", "py:key", "c:_Py_read"])
        assert_in_order(sequence(threads["reducer"]), [
            "py:reducer", "c:functools_reduce", "py:<lambda>", "c:lock_PyThread_acquire_lock"])
        assert_runs_untraced(target)


def thread_id(pid, name):
    return next(t["native_id"] for t in dump_json(pid)["threads"] if t["name"] == name)


def proc_state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return "X"  # reaped between listing and reading


def caught_holding(moth, pid, tid):
    """Freezes moth (SIGSTOP) again and again until it is frozen while it holds thread tid of
    pid, and leaves it frozen then: True. False when moth ended first. Looking only while moth
    is frozen makes what is seen certain, however busy the machine."""
    status = f"/proc/{pid}/task/{tid}/status"
    while moth.poll() is None:
        os.kill(moth.pid, signal.SIGSTOP)
        while moth.poll() is None and proc_state(moth.pid) not in "Tt":
            time.sleep(0.0001)
        if moth.poll() is not None:
            break   # it ended (and was reaped) before it stopped
        with open(status) as f:
            if f"TracerPid:\t{moth.pid}\n" in f.read():
                return True
        os.kill(moth.pid, signal.SIGCONT)
        time.sleep(0.0005)
    return False


def start_native_dump(pid):
    return subprocess.Popen([sys.executable, "-m", "moth", "dump", "--native", str(pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=moth_env(None))


def dump_caught_holding(target, tid):
    """A `moth dump --native` of target frozen while it holds thread tid."""
    for _ in range(20):
        moth = start_native_dump(target.pid)
        if caught_holding(moth, target.pid, tid):
            return moth
        assert moth.wait() == 0, moth.stderr.read()
        moth.stderr.close()
    raise AssertionError(f"never caught moth holding thread {tid}")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "Ctrl-C"])
def test_moth_killed_while_holding_a_thread(sig):
    """moth dies while a thread of the target is held: the kernel lets it go, and it runs on."""
    _, python = PYTHONS[0]
    with Target(python, PROG, 300) as target:
        d = wait_for_dump(target.pid, deep_settled)
        assert len(python_frames(by_name(d)["deep"], PROG)) == 301
        moth = dump_caught_holding(target, thread_id(target.pid, "deep"))
        moth.send_signal(sig)
        moth.send_signal(signal.SIGCONT)
        assert moth.wait(timeout=60) == -sig
        stderr = moth.stderr.read()
        moth.stderr.close()
        assert stderr == ""
        assert_runs_untraced(target)


def test_target_exits_while_read():
    """The target is killed while moth holds one of its threads: one line says so."""
    _, python = PYTHONS[0]
    with Target(python, PROG, 300) as target:
        wait_for_dump(target.pid, deep_settled)
        moth = dump_caught_holding(target, thread_id(target.pid, "deep"))
        try:
            target.proc.kill()
            # Every thread has died (the held one stays a zombie until its tracer, moth, reaps
            # it) before moth goes on.
            tasks = f"/proc/{target.pid}/task"
            while any(proc_state(f"{target.pid}/task/{t}") not in "ZX"
                      for t in os.listdir(tasks)):
                time.sleep(0.001)
        finally:
            moth.send_signal(signal.SIGCONT)  # else the target is never reaped
        status = moth.wait(timeout=60)
        stderr = moth.stderr.read()
        moth.stderr.close()
    assert status == 2
    assert stderr == f"moth: process {target.pid}: it exited while it was read\n"


def test_threads_that_come_and_go():
    """Threads end while the dump holds and walks them: each dump still succeeds, a thread
    that ended says so, and nothing is left stopped or traced."""
    _, python = PYTHONS[0]
    code = ("import sys, threading\n"
            "def churn():\n"
            "    while True:\n"
            "        ts = [threading.Thread(target=sum, args=([1] * 1000,)) for _ in range(8)]\n"
            "        for t in ts: t.start()\n"
            "        for t in ts: t.join()\n"
            "threading.Thread(target=churn, daemon=True).start()\n"
            "print('ready', flush=True)\n"
            "sys.stdin.readline()\n"
            "print('alive', flush=True)\n")
    with Target(python, "-c", code) as target:
        for _ in range(15):
            d = dump_json(target.pid, "--native")
            main = by_name(d)["MainThread"]
            assert main["frames"][0]["function"] == "_start"
            for t in d["threads"]:
                assert t["native_note"] in (None, "it ended while it was read"), t
        assert_runs_untraced(target)


def test_a_thread_traced_by_another_tool():
    """ptrace allows one tracer per thread: with gdb or strace attached, --native says so."""
    _, python = PYTHONS[0]
    with Target(python, PROG) as target:
        wait_for_dump(target.pid, settled_python)
        seize = ("import ctypes, sys\n"
                 "libc = ctypes.CDLL(None, use_errno=True)\n"
                 "libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, "
                 "ctypes.c_void_p]\n"
                 f"assert libc.ptrace(0x4206, {target.pid}, None, None) == 0\n"
                 "print('seized', flush=True)\n"
                 "sys.stdin.read()\n")
        tracer = subprocess.Popen([sys.executable, "-c", seize], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert tracer.stdout.readline() == "seized\n"
            proc = run_moth("dump", "--native", target.pid)
        finally:
            tracer.kill()
            tracer.wait()
            tracer.stdin.close()
            tracer.stdout.close()
        assert proc.returncode == 2
        assert proc.stderr == (
            f"moth: process {target.pid}: thread {target.pid} of process {target.pid} is already "
            f"traced by process {tracer.pid} ({os.path.basename(sys.executable)[:15]}); a "
            "thread has one tracer at a time: detach that one first, or leave out --native\n")
        # Once that tracer is gone, --native works again.
        assert dump_json(target.pid, "--native")["threads"][0]["native_note"] is None
        assert_runs_untraced(target)
