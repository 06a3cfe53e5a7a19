"""Helpers for the tests that read Python programs from outside (moth dump, record, top)."""
import json
import os
import re
import subprocess
import time
from pathlib import Path

from conftest import PROGRAMS, run_moth, tool_env

ROOT = PROGRAMS.parent.parent


def pythons():
    """Every supported CPython this machine has (scripts/pythons), as (version, path)."""
    out = subprocess.run([str(ROOT / "scripts" / "pythons")], capture_output=True, text=True)
    found = []
    for path in out.stdout.split():
        version = subprocess.run([path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True).stdout.strip()
        found.append((version, path))
    return found


def markers(path):
    """{name: line} for the `# @name` markers of a program."""
    lines = {}
    for number, text in enumerate(Path(path).read_text().splitlines(), 1):
        m = re.search(r"# @(\w+)", text)
        if m:
            lines[m.group(1)] = number
    return lines


class Target:
    """A Python program started for reading from outside; it runs until the context ends."""

    def __init__(self, python, script, *args, cwd=None):
        self.proc = subprocess.Popen([python, str(script), *map(str, args)], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=tool_env())
        self.pid = self.proc.pid

    def wait_ready(self):
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", (line, self.proc.stderr.read())
        return self

    def __enter__(self):
        return self.wait_ready()

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            stream.close()


def dump_json(pid, *args):
    proc = run_moth("dump", "--json", *args, pid)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def wait_for_dump(pid, settled, *args, timeout=20):
    """Dumps pid until settled(dump) holds (threads reach their blocking calls); returns it."""
    deadline = time.monotonic() + timeout
    while True:
        d = dump_json(pid, *args)
        if settled(d) or time.monotonic() > deadline:
            return d
        time.sleep(0.05)


def python_frames(thread, file):
    """(function, line) of the thread's frames in file, outermost first."""
    return [(f["function"], f["line"]) for f in thread["frames"]
            if f["kind"] == "python" and os.path.samefile(f["file"], file)]
