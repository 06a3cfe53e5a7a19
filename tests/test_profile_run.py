"""`moth profile` runs the program exactly as python does, and always reports."""
import marshal
import os
import pstats
import signal
import sys

import pytest

from conftest import run_moth, run_python

PROBE = """\
import sys, os
print("argv", sys.argv)
print("name", __name__)
print("file", globals().get("__file__"))
print("path0", sys.path[0])
print("main is module", sys.modules["__main__"].__dict__ is globals())
print("globals", sorted(k for k in globals() if k.startswith("__")))
print("spec", __spec__ and (__spec__.name, __spec__.origin))
"""


def test_script_sees_what_python_gives_it(program, tmp_path):
    script = program("sub/probe.py", PROBE)
    plain = run_python(script, "a", "-b", "--c", cwd=tmp_path)
    moth = run_moth("profile", script, "a", "-b", "--c", cwd=tmp_path)
    assert moth.returncode == plain.returncode == 0
    assert moth.stdout.startswith(plain.stdout)
    assert "function calls" in moth.stdout[len(plain.stdout):]
    assert moth.stderr == plain.stderr == ""


def test_relative_script_path_and_symlinked_directory(program, tmp_path):
    program("real/probe.py", PROBE)
    os.symlink(tmp_path / "real" / "probe.py", tmp_path / "link.py")
    plain = run_python("link.py", cwd=tmp_path)
    moth = run_moth("profile", "link.py", cwd=tmp_path)
    assert moth.stdout.startswith(plain.stdout)
    assert f"path0 {tmp_path / 'real'}" in plain.stdout


def test_module_and_code_targets(program, tmp_path):
    program("pkg/__init__.py", "")
    program("pkg/mod.py", PROBE)
    program("pkg/__main__.py", PROBE)
    for target in (["-m", "pkg.mod", "x"], ["-m", "pkg", "y"], ["-c", PROBE, "z"]):
        plain = run_python(*target, cwd=tmp_path)
        moth = run_moth("profile", *target, cwd=tmp_path)
        assert plain.returncode == 0, plain.stderr
        assert moth.stdout.startswith(plain.stdout), (target, moth.stdout, plain.stdout)
        assert moth.stderr == plain.stderr


@pytest.mark.parametrize("ending,status", [
    ("sys.exit(3)", 3),
    ("sys.exit()", 0),
    ("sys.exit(None)", 0),
    ("sys.exit('bye now')", 1),
    ("raise ValueError('bad value')", 1),
    ("raise SystemExit(7)", 7),
])
def test_exit_status_output_and_profile_on_every_ending(program, tmp_path, ending, status):
    script = program("end.py", f"""\
import sys
def work():
    return sum(range(100))
def deeper():
    work()
    {ending}
print("before")
deeper()
print("after")
""")
    plain = run_python(script)
    out = tmp_path / "end.prof"
    moth = run_moth("profile", "-o", out, script)
    assert moth.returncode == plain.returncode == status
    assert moth.stderr == plain.stderr
    assert moth.stdout.startswith(plain.stdout)
    stats = pstats.Stats(str(out)).stats
    names = {k[2] for k in stats}
    assert {"work", "deeper", "<module>"} <= names


def test_uncaught_keyboard_interrupt_dies_of_sigint_after_reporting(program, tmp_path):
    script = program("intr.py", """\
import os, signal, time
def spin():
    os.kill(os.getpid(), signal.SIGINT)
    while True:
        time.sleep(0.01)
print("started")
spin()
""")
    plain = run_python(script)
    out = tmp_path / "intr.prof"
    moth = run_moth("profile", "-o", out, script)
    assert plain.returncode == -signal.SIGINT
    assert moth.returncode == -signal.SIGINT
    assert moth.stderr == plain.stderr
    assert "KeyboardInterrupt" in moth.stderr
    assert "function calls" in moth.stdout
    assert "spin" in {k[2] for k in pstats.Stats(str(out)).stats}


def test_atexit_handlers_still_run_after_keyboard_interrupt(program):
    script = program("ae.py", """\
import atexit, os, signal
atexit.register(lambda: print("atexit ran", flush=True))
os.kill(os.getpid(), signal.SIGINT)
import time
time.sleep(5)
""")
    plain = run_python(script)
    moth = run_moth("profile", "-q", "-o", os.devnull, script)
    assert "atexit ran" in plain.stdout
    assert "atexit ran" in moth.stdout
    assert moth.returncode == plain.returncode == -signal.SIGINT


def test_syntax_error_is_reported_as_python_reports_it(program):
    script = program("bad.py", "def f(:\n    pass\n")
    plain = run_python(script)
    moth = run_moth("profile", script)
    assert moth.returncode == plain.returncode == 1
    assert moth.stderr == plain.stderr
    assert "SyntaxError" in moth.stderr


def test_non_daemon_threads_finish_and_are_profiled(program, tmp_path):
    script = program("thr.py", """\
import threading, time
def busy(n):
    return sum(i * i for i in range(n))
def worker():
    time.sleep(0.05)
    busy(20000)
t = threading.Thread(target=worker, name="the-worker")
t.start()
print("main done")
""")
    out = tmp_path / "thr.prof"
    moth = run_moth("profile", "-o", out, script)
    assert moth.returncode == 0, moth.stderr
    stats = pstats.Stats(str(out)).stats
    assert "worker" in {k[2] for k in stats}
    assert "busy" in {k[2] for k in stats}
    assert "2 threads" in moth.stdout


@pytest.mark.parametrize("args,message,status", [
    (["profile", "/nonexistent/x.py"], "moth: can't open file '/nonexistent/x.py': [Errno 2] No such file or directory", 2),
    (["profile", "-m", "no_such_module_xyz"], "moth: No module named no_such_module_xyz", 1),
    (["profile", "--bogus", "x.py"], "moth: unknown option '--bogus' for 'moth profile' (try 'moth profile --help')", 2),
    (["profile"], "moth: profile what? give a script, -m module or -c code (try 'moth profile --help')", 2),
    (["profile", "--limit", "many", "x.py"], "moth: option --limit takes a whole number, not 'many'", 2),
    (["profile", "--clock", "sundial", "x.py"], "moth: --clock takes 'wall' or 'cpu', not 'sundial'", 2),
    (["frobnicate"], "moth: unknown command 'frobnicate' (try 'moth --help')", 2),
])
def test_bad_input_gets_one_clear_line(args, message, status):
    proc = run_moth(*args)
    assert proc.returncode == status
    assert proc.stderr == message + "\n"
    assert "Traceback" not in proc.stdout + proc.stderr


def test_unknown_sort_key_lists_the_valid_ones(program):
    script = program("s.py", "pass\n")
    proc = run_moth("profile", "-s", "speed", script)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("moth: ")
    assert "speed" in lines[0] and "cumulative" in lines[0] and "tottime" in lines[0]


def test_deep_recursion_ten_thousand_frames(program, tmp_path):
    script = program("deep.py", """\
import sys
sys.setrecursionlimit(20000)
def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)
print(deep(10000))
""")
    out = tmp_path / "deep.prof"
    moth = run_moth("profile", "-o", out, script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout.startswith("10000\n")
    stats = pstats.Stats(str(out)).stats
    (key,) = [k for k in stats if k[2] == "deep"]
    cc, nc, tt, ct, callers = stats[key]
    assert (cc, nc) == (1, 10001)


def test_recursion_beyond_the_c_stack_raises_recursion_error_not_a_crash(program):
    script = program("deeper.py", """\
import sys
sys.setrecursionlimit(10 ** 6)
def deep(n):
    return 0 if n == 0 else 1 + deep(n - 1)
try:
    deep(200000)
except RecursionError:
    print("recursion error")
""")
    moth = run_moth("profile", "-q", "-o", os.devnull, script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == "recursion error\n"


def test_program_using_settrace_and_setprofile_keeps_working(program, tmp_path):
    script = program("tr.py", """\
import sys
events = []
def tracer(frame, event, arg):
    events.append(event)
    return tracer
def f(n):
    return n + 1
sys.settrace(tracer)
f(1)
sys.settrace(None)
calls = []
sys.setprofile(lambda fr, ev, arg: calls.append(ev))
f(2)
sys.setprofile(None)
print(events.count("call"), events.count("line") > 0, calls.count("call") >= 1)
""")
    plain = run_python(script)
    out = tmp_path / "tr.prof"
    moth = run_moth("profile", "-o", out, script)
    assert moth.returncode == 0
    assert moth.stdout.startswith(plain.stdout)
    stats = pstats.Stats(str(out)).stats
    (f,) = [k for k in stats if k[2] == "f"]
    assert stats[f][1] == 2


@pytest.mark.parametrize("seconds", [0.004, 0.02])
def test_a_short_run_is_timed_right(tmp_path, seconds):
    """The cycle counter's rate comes from the run's own span, however short: a program that
    sleeps a few milliseconds is reported as taking what it measured of itself (not less, not
    twice as long; the program's own measure, as a busy machine may wake it late)."""
    out = tmp_path / "short.prof"
    proc = run_moth("profile", "-q", "-o", out, "-c",
                    "import time; t = time.perf_counter(); time.sleep(%r); "
                    "print(time.perf_counter() - t)" % seconds)
    slept = float(proc.stdout)
    assert slept >= seconds
    with open(out, "rb") as f:
        stats = marshal.load(f)
    module = [v[3] for k, v in stats.items() if k[2] == "<module>"]
    assert len(module) == 1 and slept * 0.99 <= module[0] < slept * 1.5 + 0.002
