"""moth record --native: sampled profiles with the C functions between the Python ones, each
sample taken while the threads are held still, and nothing left traced afterwards."""
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import PROGRAMS, run_moth
from remote import Target, markers, pythons
from test_dump_native import assert_runs_untraced
from test_record import paths

PROG = PROGRAMS / "native_calls.py"
M = markers(PROG)
PYTHONS = pythons()

# Python > C > Python: the C functions each mode shows between the Python function that calls
# into C and the Python callback, (exactly these first, exactly these last). sorted() is the
# same chain on 3.11-3.13; libc's qsort recurses in its merge sort (msort_with_tmp) as deep as
# the array asks, and libffi's trampolines have no symbol (??).
CALLS = {"sorted": ("sort_with_key", (["builtin_sorted", "list_sort", "list_sort_impl"], []),
                    "key"),
         "qsort": ("sort_with_qsort", (["PyCFuncPtr_call", "_ctypes_callproc", "ffi_call"],
                                       ["closure_fcn", "_CallPythonObject"]), "compare")}
# The interpreter's call machinery: never a row of the profile.
PLUMBING = ("_PyEval_EvalFrameDefault", "_PyEval_Vector", "PyObject_Vectorcall",
            "_PyObject_VectorcallTstate", "PyObject_CallOneArg", "_PyFunction_Vectorcall")


def is_python(func):
    return func[0].endswith(".py") or func[0].startswith("<frozen")


def between(path, outer, inner):
    """The functions of path strictly between Python function outer and the first Python
    function inner below it (None when path does not go outer > ... > inner)."""
    names = [name for _, name in path]
    if outer not in names or inner not in names[names.index(outer):]:
        return None
    start = names.index(outer)
    end = names.index(inner, start)
    return path[start + 1:end]


def check_calls(out, mode):
    """Most samples of the main thread are in the callback, below the C functions that call it,
    below the Python function that called into C; every sample's count is a leaf's."""
    outer, (first, last), inner = CALLS[mode]
    found = paths(out)
    con = sqlite3.connect(out)
    meta = dict(con.execute("SELECT key, value FROM run_meta"))
    names = {name for (name,) in con.execute("SELECT name FROM functions")}
    con.close()
    total = sum(own for _, _, own in found)
    assert total == int(meta["samples"]) > 50
    assert meta["native"] == "1"
    assert not names & set(PLUMBING), names & set(PLUMBING)
    in_callback = 0
    main = sum(own for name, _, own in found if name == "MainThread")
    for _, path, own in found:
        mid = between(path, outer, inner)
        if mid is None:
            continue
        # Only C between them, the callback's caller chain in order.
        assert mid and not any(is_python(f) for f in mid), path
        chain = [name for _, name in mid]
        if mode == "sorted":
            assert chain == first, path
        else:
            assert chain[:len(first)] == first and chain[-len(last):] == last, path
            assert "qsort_r" in chain[len(first):-len(last)], path
        assert path[:3] == ((str(PROG), "<module>"), (str(PROG), "main"), (str(PROG), "spin"))
        in_callback += own
    assert in_callback > 0.6 * main, (in_callback, main)
    return found


@pytest.mark.parametrize("mode", ["sorted", "qsort"])
@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_python_calls_c_calls_python(version, python, mode, tmp_path):
    out = tmp_path / "n.moth"
    with Target(python, PROG, mode, 60, "wait") as target:
        proc = run_moth("record", "--native", "-p", target.pid, "--duration", "1.5", "--rate",
                        "400", "-o", out, "--limit", "8")
        assert proc.returncode == 0, proc.stderr
        assert "moth: sampled at 400 Hz (all threads)" in proc.stdout
        assert_runs_untraced(target)
    found = check_calls(out, mode)
    if mode == "sorted":
        # A C function is named by its source file and first line when the library has DWARF
        # (these builds of CPython do), as cProfile names a Python function.
        con = sqlite3.connect(out)
        file, line = con.execute("SELECT file, line FROM functions WHERE name = "
                                 "'builtin_sorted'").fetchone()
        con.close()
        assert file == "Python/bltinmodule.c" and line > 0
        stats = run_moth("stats", out)
        assert stats.returncode == 0
        assert f"Python/bltinmodule.c:{line}(builtin_sorted)" in stats.stdout
    else:
        # ctypes was loaded after moth began: its functions were found all the same.
        assert any(f[1] == "PyCFuncPtr_call" for _, path, _ in found for f in path)


# The program ends while moth holds it traced; under the sanitizer stage its Python has
# LeakSanitizer preloaded, which refuses to run under a tracer. The same for every test here
# that traces a program when it ends.
@pytest.mark.nosanitize
def test_a_program_from_start_to_end(tmp_path):
    out = tmp_path / "c.moth"
    proc = run_moth("record", "--native", "--rate", "400", "-q", "-o", out, PROG, "sorted", 2)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "done\n"        # the program's own output, unchanged
    check_calls(out, "sorted")


@pytest.mark.nosanitize
def test_exit_status_and_output_are_the_programs(tmp_path):
    proc = run_moth("record", "--native", "-q", "-o", tmp_path / "x.moth", "-c",
                    "import sys; sorted(range(9), key=abs); print('hi'); "
                    "print('err', file=sys.stderr); sys.exit(3)")
    assert proc.returncode == 3
    assert proc.stdout == "hi\n"
    assert proc.stderr == "err\n"


def test_running_process_modes_and_files(tmp_path):
    """-p PID: --mode cpu leaves out the waiting thread, wall has it with its C leaf; the
    file reads back in stats, flame, export; the program runs on untraced."""
    version, python = PYTHONS[0]
    cpu, wall = tmp_path / "cpu.moth", tmp_path / "wall.moth"
    with Target(python, PROG, "sorted", 60, "wait") as target:
        proc = run_moth("record", "--native", "-p", target.pid, "--duration", "1", "--mode",
                        "cpu", "-q", "-o", cpu)
        assert proc.returncode == 0, proc.stderr
        proc = run_moth("record", "--native", "-p", target.pid, "--duration", "1", "--rate",
                        "200", "-o", wall, "--flame", tmp_path / "f.html")
        assert proc.returncode == 0, proc.stderr
        assert "samples of 2 threads in" in proc.stdout
        assert_runs_untraced(target)
    assert {name for name, _, _ in paths(cpu)} == {"MainThread"}
    check_calls(cpu, "sorted")
    reader = [path for name, path, _ in paths(wall) if name == "reader"]
    assert reader
    for path in reader:
        # Waiting in readline: Python frames, then the C functions that wait, the last a C one.
        assert path[0][1] == "_bootstrap" and not is_python(path[-1]), path
        assert any(name == "<lambda>" for _, name in path)
    assert "builtin_sorted" in (tmp_path / "f.html").read_text()
    collapsed = run_moth("export", wall, "--format", "collapsed")
    assert collapsed.returncode == 0
    # Collapsed stacks name a frame "function (file:line)", C ones as Python ones.
    assert any(";sort_with_key (native_calls.py:" in ln and ";builtin_sorted (bltinmodule.c:" in ln
               and ";key (native_calls.py:" in ln for ln in collapsed.stdout.splitlines())


@pytest.mark.nosanitize
def test_target_gone_mid_record_keeps_the_samples(tmp_path):
    _, python = PYTHONS[0]
    out = tmp_path / "gone.moth"
    with Target(python, PROG, "sorted", 60, "wait") as target:
        moth = subprocess.Popen([sys.executable, "-m", "moth", "record", "--native", "-q",
                                 "-o", str(out), "-p", str(target.pid)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        target.proc.kill()
        stdout, stderr = moth.communicate(timeout=60)
    assert moth.returncode == 0, stderr
    assert stdout == stderr == ""
    found = paths(out)
    assert any(between(path, "sort_with_key", "key") for _, path, _ in found)


def test_refused_with_one_line(tmp_path):
    proc = run_moth("record", "--native", "--subprocesses", "-c", "pass")
    assert proc.returncode == 2
    assert proc.stderr == "moth: --native does not follow subprocesses: use one or the other\n"
    # A thread traced by another tool (gdb, strace): ptrace allows one tracer per thread.
    _, python = PYTHONS[0]
    with Target(python, PROG, "sorted", 60, "wait") as target:
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
            proc = run_moth("record", "--native", "-p", target.pid, "--duration", "0.3")
        finally:
            tracer.kill()
            tracer.wait()
            tracer.stdin.close()
            tracer.stdout.close()
        assert proc.returncode == 2
        assert proc.stderr == (
            f"moth: thread {target.pid} of process {target.pid} is already traced by process "
            f"{tracer.pid} ({os.path.basename(sys.executable)[:15]}); a thread has one tracer "
            "at a time: detach that one first, or leave out --native\n")
        assert_runs_untraced(target)
