"""moth dump CORE: every thread's Python stack from the core file of a Python program.

Cores are made here two ways: gdb's gcore of a live target (whose stacks moth has just read
live: the core must give the same), and a real crash (a program that lifts its core size limit
and dies of SIGSEGV or SIGABRT in a known thread at a known line). Targets run on every
supported CPython the machine has, whichever one moth runs under. Cores are big: they stay in
tmp_path.
"""
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sysconfig
from pathlib import Path

import pytest

from conftest import PROGRAMS, run_moth, tool_env
from remote import Target, markers, python_frames, pythons, wait_for_dump
from test_dump import STACKS, by_name, settled

CRASH = PROGRAMS / "core_crash.py"
C = markers(CRASH)
PYTHONS = pythons()
IDS = [v for v, _ in PYTHONS]


def dump_core_json(core, *args):
    proc = run_moth("dump", "--json", *args, core)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def gcore(pid, tmp_path):
    """gdb's core of live process pid, in tmp_path."""
    assert shutil.which("gcore"), "gdb's gcore is needed (Debian package gdb)"
    prefix = tmp_path / "gcore"
    proc = subprocess.run(["gcore", "-o", str(prefix), str(pid)], capture_output=True,
                          text=True, env=tool_env(), timeout=120)
    core = Path(f"{prefix}.{pid}")
    assert proc.returncode == 0 and core.exists(), proc.stderr
    return core


SIGNALS = {"SEGV": signal.SIGSEGV, "ABRT": signal.SIGABRT, "NATIVE": signal.SIGABRT}


def core_pattern_or_skip():
    """The kernel's core_pattern, when it writes cores into the crashing program's directory."""
    pattern = Path("/proc/sys/kernel/core_pattern").read_text().strip()
    if pattern.startswith("|"):
        pytest.skip(f"the kernel hands cores to a program here (core_pattern {pattern!r}), so "
                    "a crash leaves no core file to read")
    if "/" in pattern:
        pytest.skip(f"the kernel writes cores to {pattern!r} here, not into the crashing "
                    "program's directory")
    return pattern


def crash(python, how, cwd, env=None):
    """Runs core_crash.py (how: SEGV or ABRT) in cwd until it dies; its core and pid."""
    pattern = core_pattern_or_skip()
    proc = subprocess.Popen([python, str(CRASH), how], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**tool_env(), **(env or {})})
    out, err = proc.communicate(timeout=60)
    if out.strip() == "nocore":
        pytest.skip("the hard core size limit (ulimit -Hc) is 0 here")
    assert proc.returncode == -SIGNALS[how], (proc.returncode, err)
    prefix = pattern.split("%")[0]
    cores = [p for p in Path(cwd).iterdir() if p.name.startswith(prefix)]
    assert len(cores) == 1, (pattern, sorted(os.listdir(cwd)))
    return cores[0], proc.pid


def build_id(path):
    out = subprocess.run(["readelf", "-n", str(path)], capture_output=True, text=True).stdout
    return re.search(r"Build ID: ([0-9a-f]+)", out).group(1)


@pytest.mark.parametrize("version,python", PYTHONS, ids=IDS)
def test_gcore_gives_the_live_stacks(version, python, tmp_path):
    with Target(python, STACKS) as target:
        live = wait_for_dump(target.pid, settled)
        core = gcore(target.pid, tmp_path)
    d = dump_core_json(core)
    assert (d["pid"], d["python"], d["binary"]) == (target.pid, live["python"], live["binary"])
    assert d["core"] == str(core)
    assert d["command"] == live["command"]
    # A snapshot of a running program: no fatal signal, nobody received one.
    assert d["signal"] == 0

    def view(dump):
        return [(t["native_id"], t["thread_id"], t["name"], t["holds_gil"], t["frames"])
                for t in dump["threads"]]
    assert view(d) == view(live)
    assert sorted(by_name(d)) == ["MainThread", "coroutine", "generator", "recurser"]
    for t in d["threads"]:
        assert t["state"] is None and not t["signalled"] and not t["dropped"]


def test_gcore_text(tmp_path):
    _, python = PYTHONS[0]
    with Target(python, STACKS) as target:
        wait_for_dump(target.pid, settled)
        core = gcore(target.pid, tmp_path)
    proc = run_moth("dump", core)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Core file {core} of process {target.pid}: {python} {STACKS}"
    assert lines[1].startswith("Python ")
    assert lines[2:4] == ["", f'Thread {target.pid} "MainThread"']
    assert lines[-1] == ("the core was made while the process ran (its threads stopped by "
                         "signal 19, Stopped (signal), as gdb's gcore does), not by a crash")


def check_crash_dump(d, python, version, how, core, pid):
    assert (d["pid"], d["core"]) == (pid, str(core))
    assert d["signal"] == SIGNALS[how]
    # The whole command line, read from the stack (the core's own note keeps 80 characters).
    assert d["command"] == f"{python} {CRASH} {how}"
    assert d["python"].startswith(version + ".")
    threads = by_name(d)
    assert sorted(threads) == ["MainThread", "crasher", "waiter"]
    assert [t["name"] for t in d["threads"] if t["signalled"]] == ["crasher"]
    crasher = threads["crasher"]
    assert crasher["holds_gil"]  # it died running Python code
    leaf = ("crash", C["segv"]) if how == "SEGV" else ("crash", C["abrt"])
    assert python_frames(crasher, CRASH) == [
        ("work", C["work"]), ("work", C["work"]), ("work", C["crash_call"]), leaf]
    innermost = crasher["frames"][-1]
    if how == "SEGV":  # in ctypes' Python wrapper, which called the C code that faulted
        assert innermost["function"] == "string_at"
        assert innermost["file"].endswith(os.path.join("ctypes", "__init__.py"))
    else:
        assert innermost["function"] == "crash"
    main = threads["MainThread"]
    assert main["native_id"] == pid
    assert python_frames(main, CRASH) == [("<module>", C["main"]), ("main", C["main_leaf"])]
    assert python_frames(threads["waiter"], CRASH) == [("wait_here", C["waiter_leaf"])]
    for t in d["threads"]:
        assert t["state"] is None and not t["dropped"] and not t["truncated"]


CRASHES = [(v, p, "SEGV") for v, p in PYTHONS] + [(PYTHONS[0][0], PYTHONS[0][1], "ABRT")]


@pytest.mark.parametrize("version,python,how", CRASHES,
                         ids=[f"{v}-{how}" for v, _, how in CRASHES])
def test_crash_core(version, python, how, tmp_path):
    core, pid = crash(python, how, tmp_path)
    check_crash_dump(dump_core_json(core), python, version, how, core, pid)


def test_crash_text(tmp_path):
    _, python = PYTHONS[0]
    core, pid = crash(python, "SEGV", tmp_path)
    proc = run_moth("dump", core)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"Core file {core} of process {pid}: {python} {CRASH} SEGV"
    assert lines[2] == "Ended by signal 11 (Segmentation fault)"
    crasher = next(ln for ln in lines if ln.startswith("Thread ") and '"crasher"' in ln)
    assert crasher.endswith('"crasher" (holds the GIL, received the fatal signal)')
    at = lines.index(f'  File "{CRASH}", line {C["segv"]}, in crash')
    assert lines[at + 1] == "    ctypes.string_at(0)  # @segv"
    assert lines[-1] == "the fault was at address 0x0"
    # An abort is a signal the process sent itself.
    os.mkdir(tmp_path / "abrt")
    core, _ = crash(python, "ABRT", tmp_path / "abrt")
    out = run_moth("dump", core).stdout.splitlines()
    assert out[2] == "Ended by signal 6 (Aborted)"
    assert out[-1] == "the signal was sent by the process itself"


def test_crash_in_a_thread_python_does_not_know(tmp_path):
    """The thread that received the signal is shown even without a Python thread state."""
    _, python = PYTHONS[-1]
    core, pid = crash(python, "NATIVE", tmp_path)
    d = dump_core_json(core)
    assert d["signal"] == signal.SIGABRT
    (native,) = [t for t in d["threads"] if t["signalled"]]
    assert (native["name"], native["frames"], native["holds_gil"]) == (None, [], False)
    assert native["native_id"] not in [t["native_id"] for t in d["threads"] if t is not native]
    crasher = by_name(d)["crasher"]
    assert python_frames(crasher, CRASH)[-1] == ("crash", C["native"])
    assert python_frames(by_name(d)["waiter"], CRASH) == [("wait_here", C["waiter_leaf"])]
    text = run_moth("dump", core).stdout
    assert (f"\nThread {native['native_id']} (received the fatal signal, not a Python thread)\n"
            "  (no Python frames)\n") in text
    assert native["python"] is False and crasher["python"] is True


def link_or_copy(src, dst):
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


@pytest.fixture
def copied_python(tmp_path):
    """The first Python's executable and libpython copied into tmp_path/bin and tmp_path/lib,
    crashed there: (core, pid, python, the copies), so tests can take the copies away."""
    _, python = PYTHONS[0]
    exe = tmp_path / "bin" / Path(python).name
    exe.parent.mkdir()
    link_or_copy(python, exe)
    info = subprocess.run([python, "-c", "import sys, sysconfig; print(sys.prefix); "
                           "print(sysconfig.get_config_var('LIBDIR')); "
                           "print(sysconfig.get_config_var('INSTSONAME') or '')"],
                          capture_output=True, text=True).stdout.split("\n")
    prefix, libdir, soname = info[0], info[1], info[2]
    lib = tmp_path / "lib" / soname if soname and (Path(libdir) / soname).exists() else None
    (tmp_path / "lib").mkdir()
    if lib:
        link_or_copy(Path(libdir) / soname, lib)
    work = tmp_path / "work"
    work.mkdir()
    core, pid = crash(str(exe), "SEGV", work,
                      env={"PYTHONHOME": prefix, "LD_LIBRARY_PATH": str(tmp_path / "lib")})
    return core, pid, python, exe, lib


def replace_with(path, other):
    path.unlink(missing_ok=True)
    shutil.copy2(other, path)


def test_files_missing_or_another_build(copied_python):
    core, pid, python, exe, lib = copied_python
    # Everything in place (the mapped data file taken away: only noted).
    (core.parent / "mapped.bin").unlink()
    d = dump_core_json(core)
    assert python_frames(by_name(d)["waiter"], CRASH) == [("wait_here", C["waiter_leaf"])]
    if lib:
        assert d["binary"] == str(lib)
    text = run_moth("dump", core).stdout.splitlines()
    assert text[-1] == ("files the process had mapped that this machine lacks (their memory is "
                        f"what the core holds): {core.parent / 'mapped.bin'}")

    # The executable gone: said, and a copy given with --executable reads the core.
    exe.unlink()
    proc = run_moth("dump", core)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {core}: its executable {exe} is missing on this "
                           "machine (give a copy with --executable PATH)\n")
    d = dump_core_json(core, "--executable", python)
    check_crash_dump(d, str(exe), PYTHONS[0][0], "SEGV", core, pid)

    # Another build in its place, found out by its build id; and given with --executable.
    others = [p for v, p in PYTHONS if build_id(p) != build_id(python)]
    other = others[0] if others else "/bin/true"
    replace_with(exe, other)
    proc = run_moth("dump", core)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {core}: {exe} is not the executable its process "
                           "ran (another build: their build ids differ; give the right one with "
                           "--executable PATH)\n")
    proc = run_moth("dump", core, "--executable", other)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {core} is not a core of {other}: its process ran "
                           f"{exe.name} with build id {build_id(python)}\n")
    proc = run_moth("dump", core, "--executable", exe.parent / "nonexistent")
    assert proc.stderr == (f"moth: cannot read {exe.parent / 'nonexistent'} (no such file, or "
                           "not a readable regular file)\n")

    if not lib:
        return  # a Python without libpython: nothing more to take away
    replace_with(exe, python)
    lib.unlink()
    proc = run_moth("dump", core)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {core}: {lib}, which its process had loaded, is "
                           "missing on this machine\n")
    other_lib = Path(sysconfig.get_config_var("LIBDIR") or "/nonexistent") / "libc.so.6"
    replace_with(lib, other_lib if other_lib.exists() else "/bin/true")
    proc = run_moth("dump", core)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {core}: {lib} on this machine is not the one its "
                           "process had loaded (another build: their build ids differ)\n")


def segments_end(core):
    """Where the last segment of an ELF core file ends (what its size must be at least)."""
    data = Path(core).read_bytes()
    phoff, = struct.unpack_from("<Q", data, 32)
    phnum, = struct.unpack_from("<H", data, 56)
    end = 0
    for i in range(phnum):
        p_type, _, p_offset, _, _, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + 56 * i)
        if p_type in (1, 4):
            end = max(end, p_offset + p_filesz)
    return end


def test_bad_cores(tmp_path):
    # Not Python: a crashed sleep.
    core_pattern_or_skip()
    sleeper = subprocess.Popen(["sh", "-c", "ulimit -c unlimited; exec sleep 60"], cwd=tmp_path,
                               env=tool_env())
    try:
        for _ in range(200):  # until the shell has become sleep
            if os.readlink(f"/proc/{sleeper.pid}/exe").endswith("sleep"):
                break
            subprocess.run(["sleep", "0.01"])
        os.kill(sleeper.pid, signal.SIGSEGV)
    finally:
        sleeper.wait()
    (core,) = [p for p in tmp_path.iterdir() if p.name.startswith("core")]
    proc = run_moth("dump", core)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {core} is not a core of a Python program (no python "
                           "executable or libpython with an interpreter in its memory)\n")

    # Truncated: what it has and what it needs.
    need = segments_end(core)
    cut = tmp_path / "cut"
    cut.write_bytes(core.read_bytes()[:need // 2])
    proc = run_moth("dump", cut)
    assert proc.returncode == 2
    assert proc.stderr == (f"moth: core file {cut} is truncated: it has {need // 2} bytes of the "
                           f"{need} its segments need (cut short by the core size limit, ulimit "
                           "-c, or a full disk?)\n")

    # Not a core at all.
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    proc = run_moth("dump", text)
    assert (proc.returncode, proc.stderr) == (2, f"moth: {text} is not a core file (not an ELF "
                                                 "file)\n")
    _, python = PYTHONS[0]
    proc = run_moth("dump", python)
    assert proc.stderr == (f"moth: {python} is not a core file (it is an ELF shared object or "
                           "executable)\n")


def test_usage_errors(tmp_path):
    proc = run_moth("dump", tmp_path / "nonexistent")
    assert (proc.returncode, proc.stderr) == (
        2, f"moth: '{tmp_path / 'nonexistent'}' is neither a process id nor a core file\n")
    proc = run_moth("dump", tmp_path)
    assert proc.stderr == f"moth: '{tmp_path}' is neither a process id nor a core file\n"
    proc = run_moth("dump", "--executable", "/bin/true", 1)
    assert (proc.returncode, proc.stderr) == (
        2, "moth: --executable goes with a core file, not a process id\n")
    assert run_moth("dump", "--executable").stderr == "moth: option --executable needs a value\n"
    assert "moth dump [options] CORE [--executable PATH]" in run_moth("dump", "--help").stdout
