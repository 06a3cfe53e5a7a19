"""moth top: a live view of where a running program's time goes."""
import subprocess

from conftest import PROGRAMS, run_moth, spawn_on_terminal, tool_env
from remote import markers, pythons

WORK = PROGRAMS / "record_work.py"
W = markers(WORK)
PYTHON = pythons()[0][1]


def busy_target():
    return subprocess.Popen([PYTHON, str(WORK), "100000", "150000"], stdout=subprocess.DEVNULL,
                            env=tool_env())


def test_keys_change_the_view_and_q_quits():
    target = busy_target()
    try:
        top = spawn_on_terminal("top", "--interval", "0.3", "-p", target.pid)
        top.expect(r"moth top: process \d+ ")
        top.expect(r"Sorted by %Own \(keys 1-4\), by function")
        top.expect(r"spin \(record_work\.py:6\)")
        top.send("2")
        top.expect(r"Sorted by %Total")
        top.send("l")
        top.expect(r"by line")
        top.expect(rf"spin \(record_work\.py:{W['spin']}\)")   # the loop's line, not the def
        top.send("4")
        top.expect(r"Sorted by TotalTime")
        top.send("q")
        top.expect(r"\x1b\[\?25h")                               # the cursor is back
        assert top.process.wait(timeout=10) == 0
        assert target.poll() is None                             # the program runs on
    finally:
        target.kill()
        target.wait()


def test_piped_prints_a_table_per_interval():
    target = busy_target()
    try:
        proc = run_moth("top", "--interval", "0.4", "--duration", "1.3", "-p", target.pid)
    finally:
        target.kill()
        target.wait()
    assert proc.returncode == 0, proc.stderr
    frames = proc.stdout.count("moth top: process ")
    assert frames >= 2
    assert "\x1b" not in proc.stdout
    assert "   %Own  %Total   OwnTime  TotalTime  Function (file:line)" in proc.stdout
    assert "spin (record_work.py:6)" in proc.stdout


def test_a_command_runs_to_its_end():
    proc = run_moth("top", "--interval", "0.2", "-c",
                    "import time\nfor i in range(3): time.sleep(0.1)\nraise SystemExit(4)")
    assert proc.returncode == 4
    assert "moth: the program ended" in proc.stderr


def test_bad_input():
    assert run_moth("top").returncode == 2
    assert run_moth("top", "-p", 4194303).stderr == "moth: no process 4194303\n"
    assert run_moth("top", "--interval", "-1", "-p", 1).stderr == \
        "moth: --interval takes a positive number, not '-1'\n"
