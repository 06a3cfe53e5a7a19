"""moth debug -p PID: a debugging session in a running program (src/moth/attach.py, the agent in
csrc/cpython/attach_agent.c). The program stops where its main thread is, everything pdb and
moth debug have works, and `detach` (or moth's end) leaves it running as before: its output and
exit status unchanged, a sleep not shortened.
"""
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROGRAMS, moth_env, spawn_on_terminal
from remote import markers
from test_attach import BASE, finish, start

TARGET = PROGRAMS / "attach_target.py"
LINES = {}
for number, text in enumerate(TARGET.read_text().splitlines(), 1):
    LINES.setdefault(text.strip(), number)
M = markers(TARGET)


def debug(pid, *args):
    return subprocess.Popen([sys.executable, "-m", "moth", "debug", "-p", str(pid), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=moth_env())


def where(line):
    return "%s(%d)<module>()" % (TARGET, line)


@pytest.mark.parametrize("mode,line,said", [
    ("sleep", "time.sleep(float(sys.argv[2]))", "slept 3."),
    ("lock", "lock.acquire()", "waited 3."),
])
def test_stops_where_the_main_thread_waits_and_detach_leaves_it_unchanged(mode, line, said):
    target = start(mode, 3)
    time.sleep(0.3)
    moth = debug(target.pid)
    out, err = moth.communicate("where\np mode\ndetach\n", timeout=30)
    assert moth.returncode == 0, err
    # (lock.acquire() is on two lines: the second is where it waits)
    number = LINES[line] if mode == "sleep" else max(
        n for n, text in enumerate(TARGET.read_text().splitlines(), 1) if text.strip() == line)
    assert "> " + where(number) in out
    assert "'%s'" % mode in out
    assert "moth: detached from process %d; it runs on" % target.pid in err
    status, tout, terr = finish(target)
    assert (status, terr) == (7, "")
    assert tout.startswith(said), tout


def test_breakpoint_in_a_worker_thread_watch_continue_detach():
    target = start("workers", 4)
    time.sleep(0.3)
    moth = debug(target.pid)
    out, err = moth.communicate(
        "where\nbreak %s:%d\ncontinue\np request >= 0\nthreads\nclear 1\nwatch reply\nnext\n"
        "unwatch 1\ndetach\n" % (TARGET, M["handle_body"]), timeout=30)
    assert moth.returncode == 0, err
    assert where(M["join"]) in out  # (it waits in threading's join, below that line)
    assert "Breakpoint 1 at %s:" % TARGET in out
    assert "[thread " in out and ": server]" in out
    assert "%s(%d)handle()" % (TARGET, M["handle_body"]) in out
    assert "True" in out
    assert "Deleted breakpoint 1" in out
    status, tout, terr = finish(target)
    assert (status, tout, terr) == (7, "answered 1\n", "")


def test_ctrl_c_stops_it_again_even_asleep():
    target = start("sleep", 4)
    time.sleep(0.3)
    moth = debug(target.pid)
    moth.stdin.write("continue\np 6 * 7\ndetach\n")
    moth.stdin.flush()
    time.sleep(1.0)
    moth.send_signal(signal.SIGINT)
    out, err = moth.communicate(timeout=30)
    assert moth.returncode == 0, err
    assert "Program interrupted. (Use 'cont' to resume)." in out
    assert out.count("> " + where(LINES["time.sleep(float(sys.argv[2]))"])) == 2
    assert "42" in out
    status, tout, terr = finish(target)
    assert (status, tout, terr) == (7, "slept 4.0\n", "")


def test_moth_killed_at_a_breakpoint_leaves_the_program_running():
    target = start("busy", 2)
    moth = debug(target.pid)
    moth.stdin.write("break middle\ncontinue\n")
    moth.stdin.flush()
    seen = ""
    while seen.count("(Pdb) ") < 3:
        seen += moth.stdout.read(1)
    moth.kill()
    moth.wait()
    status, tout, terr = finish(target)
    assert (status, tout, terr) == (7, "spun\n", "")


def test_second_attach_refused_end_of_input_detaches_kill_ends():
    target = start("busy", 30)
    first = debug(target.pid)
    first.stdin.write("p 1\n")
    first.stdin.flush()
    seen = ""
    while "1\n" not in seen:
        seen += first.stdout.read(1)
    second = debug(target.pid)
    out, err = second.communicate("", timeout=30)
    assert second.returncode != 0
    assert err == "moth: another moth is attached to process %d: one session at a time\n" % target.pid
    out, err = first.communicate("", timeout=30)  # the end of its input: detach
    assert first.returncode == 0, err
    assert "moth: detached from process %d; it runs on" % target.pid in err
    assert target.poll() is None
    third = debug(target.pid)
    out, err = third.communicate("kill\n", timeout=30)
    assert "moth: process %d ended by `kill`" % target.pid in err
    assert target.wait(timeout=30) == -signal.SIGTERM
    finish(target)


def test_options():
    proc = subprocess.run([sys.executable, "-m", "moth", "debug", "--thread", "3"],
                          capture_output=True, text=True, env=moth_env())
    assert proc.stderr == "moth: --thread goes with -p PID\n"
    proc = subprocess.run([sys.executable, "-m", "moth", "debug", "-p", "1", "x.py"],
                          capture_output=True, text=True, env=moth_env())
    assert proc.stderr == "moth: moth debug -p takes no program ('x.py')\n"
    proc = subprocess.run([sys.executable, "-m", "moth", "debug", "-p", "0"],
                          capture_output=True, text=True, env=moth_env())
    assert proc.stderr == "moth: -p takes a process id, not '0'\n"


def test_thread_option_stops_that_thread():
    target = start("workers", 4)
    time.sleep(0.3)
    worker = next(int(t) for t in sorted(__import__("os").listdir("/proc/%d/task" % target.pid))
                  if int(t) != target.pid)
    moth = debug(target.pid, "--thread", str(worker))
    out, err = moth.communicate("p n >= 0\ndetach\n", timeout=30)
    assert moth.returncode == 0, err
    assert "moth: attached to process %d; thread %d stops at its next line" % (target.pid, worker) \
        in out
    assert ": server]" in out
    assert ")serve()" in out and "True" in out
    status, tout, terr = finish(target)
    assert (status, tout, terr) == (7, "answered 1\n", "")


def test_program_ending_while_debugging():
    """The program runs to its end after `continue`: moth says so and exits 0; the program's
    output and status are its own."""
    target = start("sleep", 1)
    time.sleep(0.3)
    moth = debug(target.pid)
    out, err = moth.communicate("continue\n", timeout=30)
    assert moth.returncode == 0, err
    assert err.endswith("moth: process %d ended while moth was attached\n" % target.pid), err
    status, tout, terr = finish(target)
    assert (status, terr) == (7, "")
    assert tout.startswith("slept 1.")


try:
    import pexpect
except ImportError:
    pexpect = None


@pytest.mark.skipif(pexpect is None, reason="pexpect is not installed")
def test_at_a_terminal_completion_and_history(tmp_path):
    """Tab completes commands and names of the program's frame (asked of the program); the
    history is moth debug's file, read at the start and written at the end."""
    history = tmp_path / "history"
    history.write_text("p 6 * 7\n")
    target = start("sleep", 30)
    time.sleep(0.3)
    child = spawn_on_terminal("debug", "-p", target.pid,
                              env={"TERM": "xterm", "MOTH_HISTORY": str(history)})
    try:
        child.expect(r"\(Pdb\) ")
        child.send("\x1b[A\r")                 # the last line of the history file
        child.expect("42")
        child.expect(r"\(Pdb\) ")
        child.send("whe\t")                    # a command
        child.expect("where")
        child.send("\r")
        child.expect(r"attach_target.py\(%d\)<module>" % LINES["time.sleep(float(sys.argv[2]))"])
        child.expect(r"\(Pdb\) ")
        child.send("p mid\t")                  # a name in the program's frame
        child.expect("middle")
        child.send("(2)\r")
        child.expect(r"\r\n3\r\n")             # middle(2) == 1 + 2
        child.expect(r"\(Pdb\) ")
        child.send("detach\r")
        child.expect("detached from process %d" % target.pid)
        child.expect(pexpect.EOF)
    finally:
        child.process.kill()
        child.process.wait()
    assert history.read_text().splitlines()[-3:] == ["where", "p middle(2)", "detach"]
    target.kill()
    finish(target)
