"""moth dap's attach by process id (csrc/debugger/dap_pid.c): an editor attaches to a running
program moth did not start, through the injector and agent `moth debug -p` uses. Everything a
launched session does works there; disconnect (or the editor's end) leaves the program running
as before with nothing of moth's in it; terminate ends it; what cannot be attached to is an
error response with the message `moth debug -p` prints. Every message moth sends is checked
against the protocol's schema and numbered 1, 2, 3, ... (the `dap` fixture)."""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import PROGRAMS, moth_env
from dap_client import DapClient, DapError
from remote import markers
from test_attach import BASE, OTHERS
from test_dap import dap  # noqa: F401 (the fixture)

TARGET = PROGRAMS / "dap_attach_target.py"
M = markers(TARGET)


class Program:
    """dap_attach_target.py on the base interpreter (no moth of its own), in its own folder."""

    def __init__(self, folder):
        self.folder = folder
        self.proc = subprocess.Popen([BASE, str(TARGET), str(folder)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=moth_env())
        assert self.proc.stdout.readline() == "ready\n"
        self.pid = self.proc.pid

    def report(self):
        """What of a debugger is left in each thread and in the process."""
        (self.folder / "report").touch()
        line = self.proc.stdout.readline()
        assert line.startswith("main: "), (line, self.proc.stderr.read())
        return line

    def finish(self):
        (self.folder / "stop").touch()
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


UNTOUCHED = ("main: trace=False traced=[] worker: trace=False traced=[] process: threads=2 "
             "tasks=2 hooks=[] own_code=True\n")


@pytest.fixture
def program(tmp_path):
    programs = []

    def start():
        p = Program(tmp_path / str(len(programs)))
        programs.append(p)
        return p
    (tmp_path / "0").mkdir()
    (tmp_path / "1").mkdir()
    yield start
    for p in programs:
        p.kill()


def attach(c, pid, **extra):
    c.initialize()
    c.request("attach", processId=pid, **extra)
    c.event("initialized")


def frames(c, thread):
    return c.request("stackTrace", threadId=thread)["body"]["stackFrames"]


def test_breakpoints_inspect_pause_and_disconnect_leave_nothing(dap, program):
    p = program()
    assert p.report() == UNTOUCHED
    c = dap()
    attach(c, str(p.pid))  # (an editor's process picker gives a string)
    made = c.request("setBreakpoints", source={"path": str(TARGET)},
                     breakpoints=[{"line": M["tick"]}])["body"]["breakpoints"]
    assert made[0]["verified"] and made[0]["line"] == M["tick"]
    c.request("configurationDone")
    stop = c.stopped()
    assert (stop["reason"], stop["threadId"]) == ("breakpoint", 1)
    threads = c.request("threads")["body"]["threads"]
    assert [t["name"] for t in threads] == ["MainThread", "napper"]
    stack = frames(c, 1)
    assert [(f["name"], f["line"]) for f in stack[:2]] == [("tick", M["tick"]),
                                                            ("<module>", M["main_loop"])]
    n = int(c.locals_of(stack[0]["id"])["n"]["value"])
    assert n >= 0
    assert c.request("evaluate", expression="n * 10", frameId=stack[0]["id"])["body"][
        "result"] == str(n * 10)
    # continue: the next call stops again, one tick later
    mark = c.mark()
    c.request("continue", threadId=1)
    assert c.stopped(after=mark)["reason"] == "breakpoint"
    assert int(c.locals_of(frames(c, 1)[0]["id"])["n"]["value"]) == n + 1
    # a breakpoint in the worker thread
    c.request("setBreakpoints", source={"path": str(TARGET)},
              breakpoints=[{"line": M["nap"]}])
    mark = c.mark()
    c.request("continue", threadId=1)
    stop = c.stopped(after=mark)
    assert stop["threadId"] == 2
    assert frames(c, 2)[0]["name"] == "nap"
    # pause, with no breakpoint left
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=2)
    mark = c.mark()
    c.request("pause", threadId=1)
    stop = c.stopped(after=mark)
    assert (stop["reason"], stop["threadId"]) == ("pause", 1)
    c.request("disconnect")
    assert c.process.wait(timeout=30) == 0
    # the program runs on as before: no trace function, hook, thread or twin of moth's
    assert p.report() == UNTOUCHED
    assert p.finish() == (7, "ticked 1\n", "")


def test_a_thread_stepping_when_the_client_leaves_loses_its_trace_function(dap, program):
    p = program()
    c = dap()
    attach(c, p.pid)
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[{"line": M["nap"]}])
    c.request("configurationDone")
    stop = c.stopped()
    assert stop["threadId"] == 2
    top = frames(c, 2)[0]
    scopes = c.request("scopes", frameId=top["id"])["body"]["scopes"]
    c.request("setVariable", variablesReference=scopes[0]["variablesReference"],
              name="seconds", value="1.5")
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("stepIn", threadId=2)  # (Python's trace function steps it: a 1.5 s nap)
    c.request("disconnect")
    assert c.process.wait(timeout=30) == 0
    time.sleep(2)
    assert p.report() == UNTOUCHED
    assert p.finish() == (7, "ticked 1\n", "")


def test_terminate_ends_the_program(dap, program):
    p = program()
    c = dap()
    attach(c, p.pid)
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[{"line": M["tick"]}])
    c.request("configurationDone")
    c.stopped()
    c.request("terminate")
    c.event("terminated")
    assert p.proc.wait(timeout=30) == -signal.SIGTERM
    # the rest of the session is the adapter's
    with pytest.raises(DapError, match="process %d has ended" % p.pid):
        c.request("threads")
    c.request("disconnect")


def test_disconnect_with_terminate_debuggee_ends_it(dap, program):
    p = program()
    c = dap()
    attach(c, p.pid)
    c.request("configurationDone")
    c.request("disconnect", terminateDebuggee=True)
    assert p.proc.wait(timeout=30) == -signal.SIGTERM
    assert c.process.wait(timeout=30) == 0


def test_the_program_ending_while_attached(dap, program):
    p = program()
    c = dap()
    attach(c, p.pid, justMyCode=True)
    c.request("configurationDone")
    assert p.finish() == (7, "ticked 1\n", "")
    c.event("terminated")
    c.request("disconnect")
    assert c.process.wait(timeout=30) == 0


def test_the_program_ending_in_the_middle_of_a_request(dap, program):
    p = program()
    c = dap()
    attach(c, p.pid)
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[{"line": M["tick"]}])
    c.request("configurationDone")
    c.stopped()
    top = frames(c, 1)[0]
    answer = c.request("evaluate", expression="__import__('os')._exit(3)", frameId=top["id"],
                       context="repl", check=False)
    assert not answer["success"]
    assert answer["message"] == "process %d ended while moth was attached" % p.pid
    c.event("terminated")
    assert p.proc.wait(timeout=30) == 3
    c.request("disconnect")


def test_the_editor_gone_at_a_stop_leaves_the_program_running(program):
    p = program()
    c = DapClient.stdio()
    attach(c, p.pid)
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[{"line": M["tick"]}])
    c.request("configurationDone")
    c.stopped()
    c.process.kill()  # SIGKILL: the program's session sees its channel close and detaches
    c.close()
    deadline = time.monotonic() + 20
    while True:
        line = p.report()
        if line == UNTOUCHED or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert line == UNTOUCHED
    assert p.finish() == (7, "ticked 1\n", "")


def cli_error(pid):
    """What `moth debug -p PID` says when it cannot attach, without its "moth: "."""
    proc = subprocess.run([sys.executable, "-m", "moth", "debug", "-p", str(pid)],
                          input="", capture_output=True, text=True, env=moth_env(), timeout=60)
    assert proc.returncode != 0 and proc.stderr.startswith("moth: "), proc.stderr
    return proc.stderr[len("moth: "):].rstrip("\n")


def refused(dap, **arguments):
    c = dap()
    c.initialize()
    response = c.request("attach", check=False, **arguments)
    assert not response["success"]
    c.request("disconnect")
    return response["message"]


def test_what_cannot_be_attached_to_says_why(dap, program):
    assert refused(dap, processId=999999999) == cli_error(999999999) == \
        "no process 999999999"
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        message = refused(dap, processId=sleeper.pid)
        assert "is not running Python" in message
        assert message == cli_error(sleeper.pid)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert refused(dap, processId="x") == 'processId must be a process id, not "x"'
    assert refused(dap, pid=0) == "processId must be a process id, not 0"
    assert refused(dap) == ("attach needs the processId of the program to attach to (or the "
                            "address a program's moth.listen() opened)")
    # one session at a time
    p = program()
    first = dap()
    attach(first, p.pid)
    first.request("configurationDone")
    second = refused(dap, processId=p.pid)
    assert second == "another moth is attached to process %d: one session at a time" % p.pid
    assert second == cli_error(p.pid)
    first.request("disconnect")
    assert first.process.wait(timeout=30) == 0
    assert p.report() == UNTOUCHED


def test_a_program_with_a_session_of_its_own_says_so(dap, tmp_path):
    prog = tmp_path / "listens.py"
    prog.write_text("import time\nimport moth\nmoth.listen(0)\nprint('ready', flush=True)\n"
                    "while True:\n    time.sleep(0.01)\n")
    proc = subprocess.Popen([sys.executable, str(prog)], stdout=subprocess.PIPE, text=True,
                            env=moth_env())
    try:
        assert proc.stdout.readline() == "ready\n"
        assert refused(dap, processId=proc.pid) == \
            "process %d has a debugging session already (moth.listen())" % proc.pid
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(not OTHERS, reason="one Python on this machine")
def test_a_python_moth_has_no_build_for_says_what_to_install(dap, tmp_path):
    version, python = OTHERS[0]
    proc = subprocess.Popen([python, str(TARGET), str(tmp_path)], stdout=subprocess.PIPE,
                            text=True, env=moth_env())
    try:
        assert proc.stdout.readline() == "ready\n"
        message = refused(dap, processId=proc.pid)
        assert message.startswith("process %d (Python %s, " % (proc.pid, version))
        assert "cannot import moth" in message and "-m pip install moth" in message
    finally:
        proc.kill()
        proc.wait()
