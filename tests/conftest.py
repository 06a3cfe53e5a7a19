"""Shared helpers for moth's end-to-end tests: run `python -m moth ...` as a user would."""
import fcntl
import os
import signal
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
PROGRAMS = TESTS / "programs"


def moth_env(extra=None):
    env = dict(os.environ)
    env.pop("PYTHONBREAKPOINT", None)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NO_COLOR", None)
    if env.get("MOTH_CHILD_ASAN_OPTIONS"):   # scripts/sanitize: check moth's processes for leaks
        env["ASAN_OPTIONS"] = env["MOTH_CHILD_ASAN_OPTIONS"]
    if extra:
        env.update(extra)
    return env


def tool_env():
    """The environment for programs that are not Python (a browser, Graphviz): without the
    sanitizer runtime the sanitizer stage preloads into every Python process."""
    env = dict(os.environ)
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS", "PYTHONMALLOC"):
        env.pop(name, None)
    return env


# Child processes get Ctrl-C's default action even when the tests themselves run with SIGINT
# ignored (a background job), which they would inherit. A handler is not inherited across
# exec, so one handler here is enough: no code runs between fork and exec in the children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


def run_moth(*args, cwd=None, input=None, timeout=120, env=None, check=None):
    """Runs `python -m moth args...`; returns the CompletedProcess (text mode)."""
    proc = subprocess.run(
        [sys.executable, "-m", "moth", *map(str, args)],
        cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout,
        env=moth_env(env),
    )
    if check is not None:
        assert proc.returncode == check, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def spawn_on_terminal(*args, env=None, timeout=30):
    """Starts `python -m moth args...` on a new pseudo-terminal that is its controlling
    terminal (24x80), as pexpect.spawn does, and returns a pexpect object reading it. Unlike
    pexpect.spawn no Python runs in a forked copy of the test process (setsid, a program,
    takes the terminal): under the sanitizers a fork of a process with other threads can
    deadlock in the allocator if one of them held its lock at that moment."""
    import pexpect.fdpexpect
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(["setsid", "--ctty", "--wait", sys.executable, "-m", "moth",
                             *map(str, args)],
                            stdin=slave, stdout=slave, stderr=slave, env=moth_env(env))
    os.close(slave)
    child = pexpect.fdpexpect.fdspawn(master, encoding="utf-8", timeout=timeout)
    child.process = proc
    return child


def run_python(*args, cwd=None, input=None, timeout=120, env=None):
    """Runs plain `python args...` for comparison with moth."""
    return subprocess.run(
        [sys.executable, *map(str, args)], cwd=cwd, input=input, capture_output=True,
        text=True, timeout=timeout, env=moth_env(env),
    )


@pytest.fixture
def program(tmp_path):
    """Writes a program into tmp_path and returns its path: program("name.py", source)."""
    def write(name, source):
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
        return path
    return write
