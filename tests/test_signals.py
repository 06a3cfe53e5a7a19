"""A run ended by SIGTERM or SIGHUP writes everything asked for, then dies of the signal."""
import pstats
import signal
import subprocess
import sys

import pytest

from conftest import moth_env, run_moth, run_python

# The program stops itself as `timeout` or a scheduler would, while its main thread is busy in
# Python, asleep in a system call, or waiting for another thread.
KILLED = """\
import os, signal, sys, threading, time
def spin(seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(50))
def waiting(how):
    if how == "busy":
        spin(30)
    elif how == "asleep":
        time.sleep(30)
    else:
        t = threading.Thread(target=spin, args=(30,), name="spinner")
        t.start()
        t.join()
def main(how, signo):
    spin(0.05)
    threading.Timer(0.1, os.kill, (os.getpid(), signo)).start()
    try:
        waiting(how)
    finally:
        print("finally ran")       # the program's own code does not run after the signal
print("started", signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP))
main(sys.argv[1], int(sys.argv[2]))
"""


@pytest.mark.parametrize("how", ["busy", "asleep", "joining"])
@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGHUP])
def test_killed_run_writes_everything_then_dies_of_the_signal(program, tmp_path, how, signo):
    script = program("killed.py", KILLED)
    plain = run_python(script, how, int(signo))
    out, prof, flame = tmp_path / "k.moth", tmp_path / "k.prof", tmp_path / "k.html"
    moth = run_moth("profile", "-o", out, "--flame", flame, script, how, int(signo))
    assert plain.returncode == moth.returncode == -signo, moth.stderr
    # the program saw the default dispositions, as without moth, and no finally block ran
    assert plain.stdout.startswith("started ") and plain.stdout.count("\n") == 1
    assert moth.stdout.startswith(plain.stdout)
    assert "finally ran" not in moth.stdout
    assert "function calls" in moth.stdout and "(spin)" in moth.stdout
    assert flame.read_text().rstrip().endswith("</html>")
    run_moth("export", out, "--format", "pstats", "-o", prof, check=0)
    stats = pstats.Stats(str(prof)).stats
    rows = {k[2]: v for k, v in stats.items()}
    assert {"<module>", "main", "spin", "waiting"} <= set(rows)
    assert rows["spin"][1] == (1 if how == "asleep" else 2)
    # the activations running when the signal came were closed then: main() took the run
    assert rows["main"][3] > 0.1
    meta = dict(__import__("sqlite3").connect(out).execute("select key, value from run_meta"))
    assert float(meta["duration"]) >= rows["main"][3]


def test_a_handler_the_program_installs_is_the_programs(program, tmp_path):
    script = program("handled.py", """\
import os, signal, sys, time
signal.signal(signal.SIGTERM, lambda signo, frame: sys.exit(3))
def work():
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
try:
    work()
finally:
    print("finally ran")
""")
    plain = run_python(script)
    moth = run_moth("profile", "--limit", "0", "-o", tmp_path / "h.prof", script)
    assert plain.returncode == moth.returncode == 3
    assert plain.stdout == "finally ran\n" and moth.stdout.startswith(plain.stdout)
    assert "(work)" in moth.stdout


def test_an_ignored_signal_stays_ignored(program, tmp_path):
    # nohup: SIGHUP ignored from the start; moth leaves it so and still saves on SIGTERM
    script = program("nohup.py", """\
import os, signal, time
print("hup", signal.getsignal(signal.SIGHUP))
os.kill(os.getpid(), signal.SIGHUP)
time.sleep(0.05)
print("still here", flush=True)
os.kill(os.getpid(), signal.SIGTERM)
time.sleep(30)
""")
    out = tmp_path / "n.prof"
    runs = []
    for cmd in ([sys.executable, str(script)],
                [sys.executable, "-m", "moth", "profile", "-q", "-o", str(out), str(script)]):
        runs.append(subprocess.run(["sh", "-c", 'trap "" HUP; exec "$@"', "sh", *cmd],
                                   capture_output=True, text=True, timeout=60, env=moth_env()))
    plain, proc = runs
    assert plain.returncode == proc.returncode == -signal.SIGTERM, proc.stderr
    assert plain.stdout == proc.stdout and proc.stdout.endswith("\nstill here\n")
    assert "<module>" in {k[2] for k in pstats.Stats(str(out)).stats}


def test_a_forked_child_dies_of_the_signal_alone(program, tmp_path):
    script = program("forked.py", """\
import os, signal, time
pid = os.fork()
if pid == 0:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(30)
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child", os.WIFSIGNALED(status) and os.WTERMSIG(status))
""")
    plain = run_python(script)
    moth = run_moth("profile", "-o", tmp_path / "f.prof", script)
    assert plain.stdout == f"child {int(signal.SIGTERM)}\n"
    assert moth.returncode == 0 and moth.stdout.startswith(plain.stdout)
    assert moth.stdout.count("function calls") == 1
