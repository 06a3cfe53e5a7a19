"""The memory profiler: exact bytes and blocks of known allocations, peaks, leaks, threads,
native allocations (numpy, a library loaded while profiling), sampling, fork, running out of
memory, and programs that install allocators of their own."""
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from conftest import run_moth, run_python

import moth


def rows_at(memory, path_end, line):
    """The rows of the memory profile at this line whose call path ends with path_end."""
    return [r for r in memory["rows"] if r[3] == line and r[1][-len(path_end):] == path_end]


def one_row(memory, path_end, line):
    rows = rows_at(memory, path_end, line)
    assert len(rows) == 1, (path_end, line, [r for r in memory["rows"] if r[1][-1:] == path_end[-1:]])
    return rows[0]


# The sanitizer stage checks moth's processes for leaks; these programs leak on purpose.
PROGRAM_LEAKS = {"ASAN_OPTIONS": "detect_leaks=0"}

PEAK, PEAK_N, LEAKED, LEAKED_N, ALLOC, ALLOC_N = range(4, 10)


def alloc_bytearrays(keep, n, size):
    for _ in range(n):
        b = bytearray(size)                  # line +2
        keep.append(b)


LINE_BYTEARRAY = alloc_bytearrays.__code__.co_firstlineno + 2


def test_bytearrays_exact_bytes_and_blocks():
    keep = []
    p = moth.Profile(memory=True)
    p.runcall(alloc_bytearrays, keep, 10, 100_000)
    r = one_row(p._memory(), ("alloc_bytearrays",), LINE_BYTEARRAY)
    each = sys.getsizeof(bytearray(100_000))     # the object and its buffer: two blocks
    assert r[LEAKED] == r[PEAK] == r[ALLOC] == 10 * each
    assert r[LEAKED_N] == r[PEAK_N] == r[ALLOC_N] == 20


def peak_then_leak(keep):
    small = bytearray(1_000_000)             # +1
    big = bytearray(30_000_000)              # +2
    del big
    later = bytearray(2_000_000)             # +4
    keep.extend([small, later])


def test_peak_and_leaks_at_their_lines():
    keep = []
    p = moth.Profile(memory=True)
    p.runcall(peak_then_leak, keep)
    m = p._memory()
    first = peak_then_leak.__code__.co_firstlineno
    small = one_row(m, ("peak_then_leak",), first + 1)
    big = one_row(m, ("peak_then_leak",), first + 2)
    later = one_row(m, ("peak_then_leak",), first + 4)
    size = sys.getsizeof(bytearray(0))
    # at the peak: small and big held, later not yet made
    assert small[PEAK] == 1_000_001 + size and small[PEAK_N] == 2
    assert big[PEAK] == 30_000_001 + size and big[PEAK_N] == 2
    assert later[PEAK] == 0
    assert m["peak"] >= 31_000_002 + 2 * size
    assert m["peak"] < 31_000_002 + 2 * size + 64 * 1024   # the rest of the run is small
    # at the end: big was freed (not a leak), small and later are held
    assert big[LEAKED] == 0 and big[LEAKED_N] == 0 and big[ALLOC] == 30_000_001 + size
    assert small[LEAKED] == 1_000_001 + size
    assert later[LEAKED] == 2_000_001 + size


def numpy_arrays(keep):
    import numpy as np
    a = np.zeros(1_000_000)                  # +2
    b = np.empty((500, 1000), dtype=np.int32)  # +3
    keep.extend([a, b])


def test_numpy_arrays_appear_at_their_line():
    np = pytest.importorskip("numpy")
    np.zeros(10)  # numpy's first use allocates caches: not this test's business
    keep = []
    p = moth.Profile(memory=True)
    p.runcall(numpy_arrays, keep)
    m = p._memory()
    first = numpy_arrays.__code__.co_firstlineno
    a = one_row(m, ("numpy_arrays",), first + 2)
    b = one_row(m, ("numpy_arrays",), first + 3)
    # the data (native: numpy's own calloc/malloc) and the array object itself
    assert 8_000_000 <= a[LEAKED] <= 8_000_000 + 512, a
    assert 2_000_000 <= b[LEAKED] <= 2_000_000 + 512, b
    assert a[LEAKED_N] >= 2 and b[LEAKED_N] >= 2


PEAK_AGAINST_TRACEMALLOC = """\
import sys

def work():
    keep = []
    for i in range(3):
        rows = [{"id": j, "name": "item-%d" % j, "pair": (j, str(j))} for j in range(20000 + i)]
        keep.append(rows[:100])
        text = ",".join(r["name"] for r in rows)
        del rows
        keep.append(text[:50])
    return keep

if sys.argv[1] == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
    work()
    print(tracemalloc.get_traced_memory()[1])
else:
    import moth
    p = moth.Profile(memory=True)
    p.runcall(work)
    print(p._memory()["peak"])
"""


def test_peak_of_python_allocations_is_tracemallocs(program):
    # The same program's high-water mark, by tracemalloc (Python's allocators only) and by
    # moth (which also sees native blocks; this program makes next to none): within 1%.
    path = program("peak.py", PEAK_AGAINST_TRACEMALLOC)
    theirs = int(run_python(path, "tracemalloc").stdout)
    ours = int(run_python(path, "moth").stdout)
    assert theirs > 4_000_000
    assert abs(ours - theirs) <= 0.01 * theirs, (ours, theirs)


def test_allocations_made_before_and_freed_during_are_not_negative():
    before = [bytearray(1_000_000) for _ in range(20)]

    def work():
        before.clear()                       # 20 MB freed that were never seen
        return bytearray(1000)

    p = moth.Profile(memory=True)
    kept = p.runcall(work)
    m = p._memory()
    assert all(r[PEAK] >= 0 and r[LEAKED] >= 0 for r in m["rows"])
    assert m["peak"] < 1_000_000
    assert min(t[1] for t in m["timeline"]) >= 0
    assert kept


def threaded(keep):
    import threading

    def worker(i, n):
        keep[i] = bytearray(n)               # +4

    ts = [threading.Thread(target=worker, args=(i, 100_000 * (i + 1)), name="w%d" % i)
          for i in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_threads_are_kept_apart():
    keep = [None] * 3
    p = moth.Profile(memory=True)
    p.runcall(threaded, keep)
    m = p._memory()
    line = threaded.__code__.co_firstlineno + 4
    size = sys.getsizeof(bytearray(0))
    got = {r[0]: r[LEAKED] for r in m["rows"] if r[3] == line and r[1][-1:] == ("worker",)}
    assert got == {"w%d" % i: 100_000 * (i + 1) + 1 + size for i in range(3)}


def test_sampled_mode_estimates(program):
    keep = []
    p = moth.Profile(memory_sample=32 * 1024)
    p.runcall(alloc_bytearrays, keep, 20000, 1000)
    m = p._memory()
    assert m["sample_bytes"] == 32 * 1024
    rows = rows_at(m, ("alloc_bytearrays",), LINE_BYTEARRAY)
    # about 600 samples of the buffers (standard error ~4%), 35 of the small objects (~9% of
    # the blocks): estimates, unbiased, within a few standard errors
    total = sum(r[LEAKED] for r in rows)
    exact = 20000 * sys.getsizeof(bytearray(1000))
    assert 0.8 * exact < total < 1.2 * exact, (total, exact)
    blocks = sum(r[LEAKED_N] for r in rows)
    assert 0.6 * 40000 < blocks < 1.4 * 40000, blocks


def nested_outer(keep):
    nested_inner(keep)
    keep[1] = bytearray(50_000)              # +2


def nested_inner(keep):
    keep[0] = bytearray(70_000)              # +1


def test_sampled_mode_reads_call_paths_from_the_frames():
    # Sampled mode installs no frame hook: a sampled allocation reads its call path from the
    # thread's frames. With a mean of one byte every block is sampled (weight 1): the rows are
    # those of the full mode, at the same call paths and lines, in every thread.
    keep = [None] * 3
    for p in (moth.Profile(memory=True), moth.Profile(memory_sample=1)):
        kept = [None, None]
        p.runcall(nested_outer, kept)
        p.runcall(threaded, keep)
        m = p._memory()
        size = sys.getsizeof(bytearray(0))
        inner = one_row(m, ("nested_outer", "nested_inner"), nested_inner.__code__.co_firstlineno + 1)
        outer = one_row(m, ("nested_outer",), nested_outer.__code__.co_firstlineno + 2)
        assert inner[1][0] == "nested_outer" and outer[1] == ("nested_outer",)
        assert inner[LEAKED] == 70_001 + size and inner[LEAKED_N] == 2
        assert outer[LEAKED] == 50_001 + size and outer[LEAKED_N] == 2
        line = threaded.__code__.co_firstlineno + 4
        got = {r[0]: r[LEAKED] for r in m["rows"] if r[3] == line and r[1][-1:] == ("worker",)}
        assert got == {"w%d" % i: 100_000 * (i + 1) + 1 + size for i in range(3)}, p
        # the functions are labelled (the labels are made after the allocations)
        assert all(r[1] and "" not in r[1] for r in m["rows"] if r[3])


def deep(n, keep):
    if n:
        return deep(n - 1, keep)
    keep.append(bytearray(300_000))          # +3


def test_sampled_mode_reads_a_deep_stack():
    # 400 frames: more than the walk keeps on its own stack
    keep = []
    p = moth.Profile(memory_sample=1)
    p.runcall(deep, 400, keep)
    rows = [r for r in p._memory()["rows"] if r[3] == deep.__code__.co_firstlineno + 3]
    assert len(rows) == 1 and rows[0][1] == ("deep",) * 401
    assert rows[0][LEAKED] >= 300_000


def same_depth_leaf(keep, i, n):
    keep[i] = bytearray(n)                   # +1


def same_depth_a(keep, i):
    same_depth_leaf(keep, i, 10_000)


def same_depth_b(keep, i):
    same_depth_leaf(keep, i, 20_000)


def same_depth(keep):
    for i in range(0, 9, 3):
        same_depth_a(keep, i)
        same_depth_b(keep, i + 1)
        keep[i + 2] = bytearray(30_000)      # +4


def test_a_path_that_changes_below_the_same_frames():
    # Each allocation reads its path from the frames, with a cache of the last path: the leaf's
    # frame comes back at the same address and with the same code under another caller, and
    # the loop's frame allocates again between them.
    size = sys.getsizeof(bytearray(0))
    line = same_depth_leaf.__code__.co_firstlineno + 1
    for p in (moth.Profile(memory=True), moth.Profile(memory_sample=1)):
        keep = [None] * 9
        p.runcall(same_depth, keep)
        m = p._memory()
        a = one_row(m, ("same_depth", "same_depth_a", "same_depth_leaf"), line)
        b = one_row(m, ("same_depth", "same_depth_b", "same_depth_leaf"), line)
        own = one_row(m, ("same_depth",), same_depth.__code__.co_firstlineno + 4)
        assert a[1] == ("same_depth", "same_depth_a", "same_depth_leaf"), a
        assert a[LEAKED] == 3 * (10_001 + size) and a[LEAKED_N] == 6, (p, a)
        assert b[LEAKED] == 3 * (20_001 + size) and b[LEAKED_N] == 6, (p, b)
        assert own[LEAKED] == 3 * (30_001 + size) and own[LEAKED_N] == 6, (p, own)


def test_memory_needs_the_fast_mode():
    with pytest.raises(ValueError):
        moth.Profile(memory=True, builtins=True)
    with pytest.raises(ValueError):
        moth.Profile(memory_sample="lots")
    with pytest.raises(ValueError):
        moth.Profile(memory_sample=0)
    with pytest.raises(ValueError):
        moth.Profile().print_memory()


def test_print_memory(capsys):
    keep = []
    p = moth.Profile(memory=True)
    p.runcall(peak_then_leak, keep)
    p.print_memory(limit=5)
    out = capsys.readouterr().out
    assert out.startswith("moth memory: peak ")
    assert "Functions by memory held at the peak" in out
    assert "test_memory.py:%d" % (peak_then_leak.__code__.co_firstlineno + 2) in out
    p.print_memory(sort="leaks", limit=5)
    out = capsys.readouterr().out
    assert "Functions by memory still held at the end (leaks)" in out
    with pytest.raises(ValueError):
        p.print_memory(sort="nonsense")


LEAKY = """\
import threading
cache = []
def build(n):
    return [bytearray(1000) for _ in range(n)]
def main():
    temp = build(20000)
    del temp
    cache.append(build(500))
main()
print("done")
"""


def test_command_line_report(program):
    path = program("leaky.py", LEAKY)
    r = run_moth("profile", "--memory", "--limit", "5", path, check=0)
    assert r.stdout.startswith("done\nmoth memory: peak ")
    assert "Functions by memory held at the peak" in r.stdout
    # the line that made the blocks, with its call path
    assert "leaky.py:4  (<module> > main > build > build.<locals>.<listcomp>)" in r.stdout \
        or "leaky.py:4  (<module> > main > build)" in r.stdout
    assert "every allocation recorded" in r.stdout
    r = run_moth("profile", "--memory", "--leaks", "--limit", "3", path, check=0)
    assert "Functions by memory still held at the end (leaks)" in r.stdout
    r = run_moth("profile", "--leaks", path)
    assert r.returncode == 2 and r.stderr == "moth: --leaks goes with --memory\n"
    r = run_moth("profile", "--memory", "-s", "wrong", path)
    assert r.returncode == 2 and "memory is sorted by peak, leaks or allocated" in r.stderr
    r = run_moth("profile", "--memory-sample", "0", path)
    assert r.returncode == 2 and "--memory-sample takes a size" in r.stderr
    r = run_moth("profile", "--memory", "--builtins", path)
    assert r.returncode == 2


NATIVE_LIB = r"""
#include <stdlib.h>
#include <string.h>
void *make(size_t n) { void *p = malloc(n); memset(p, 1, n); return p; }
void drop(void *p) { free(p); }
"""

NATIVE_PROGRAM = """\
import ctypes, sys
def main(path):
    lib = ctypes.CDLL(path)                  # loaded while profiling: patched on dlopen
    lib.make.restype = ctypes.c_void_p
    lib.drop.argtypes = [ctypes.c_void_p]
    kept = lib.make(3_000_000)               # line 6: native, still held at the end
    gone = lib.make(5_000_000)               # line 7: native, freed below
    lib.drop(gone)
    return kept
keep = main(sys.argv[1])
"""


def test_native_allocations_of_a_library_loaded_later(program, tmp_path):
    src = tmp_path / "native.c"
    src.write_text(NATIVE_LIB)
    lib = tmp_path / "libnative.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-O1", "-o", str(lib), str(src)], check=True)
    path = program("native.py", NATIVE_PROGRAM)
    out = tmp_path / "m.moth"
    # the program leaks its block on purpose: not a leak of moth's for the sanitizer stage
    r = run_moth("profile", "--memory", "-o", out, "--limit", "4", path, lib, check=0,
                 env=PROGRAM_LEAKS)
    assert "native.py:6  (<module> > main)" in r.stdout
    con = sqlite3.connect(out)
    rows = dict(con.execute("SELECT line, leaked_bytes FROM memory_lines WHERE file LIKE "
                            "'%native.py' AND line IN (6, 7)"))
    # the native block, and the int ctypes made of its address
    assert 3_000_000 <= rows[6] <= 3_000_000 + 64
    assert rows[7] <= 64
    peak7 = con.execute("SELECT peak_bytes FROM memory_lines WHERE file LIKE '%native.py' "
                        "AND line = 7").fetchone()[0]
    assert 5_000_000 <= peak7 <= 5_000_000 + 64


FORKING = """\
import os
keep = [bytearray(100_000) for _ in range(10)]
pid = os.fork()
if pid == 0:
    more = [bytearray(100_000) for _ in range(10)]
    print("child")
else:
    os.waitpid(pid, 0)
    print("parent")
"""


def test_a_forked_child_leaves_the_report_to_its_parent(program, tmp_path):
    path = program("forking.py", FORKING)
    out = tmp_path / "f.moth"
    r = run_moth("profile", "--memory", "-o", out, path, check=0)
    assert r.stdout.count("moth memory: peak") == 1
    assert "child\n" in r.stdout and "parent\n" in r.stdout
    con = sqlite3.connect(out)
    assert con.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 1
    pid = con.execute("SELECT value FROM run_meta WHERE key = 'pid'").fetchone()[0]
    assert int(pid) != 0


OUT_OF_MEMORY = """\
import resource
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
hog = []
def grow():
    while True:
        hog.append(bytearray(16 << 20))      # line 6
grow()
"""


@pytest.mark.nosanitize
def test_running_out_of_memory_still_leaves_the_report(program):
    path = program("oom.py", OUT_OF_MEMORY)
    r = run_moth("profile", "--memory", "--limit", "3", path)
    assert r.returncode == 1
    assert "MemoryError" in r.stderr
    assert "moth memory: peak " in r.stdout
    line = [l for l in r.stdout.splitlines() if "oom.py:6" in l][0]
    held = float(line.split()[0])
    assert line.split()[1] == "MiB" and held > 500, line


KILLED = """\
import os, signal, time
hog = []
def grow():
    for _ in range(12):
        hog.append(bytearray(8 << 20))       # line 5
        time.sleep(0.05)
grow()
os.kill(os.getpid(), signal.SIGKILL)         # as the OOM killer does: nothing runs after
"""


def test_a_killed_run_leaves_its_last_checkpoint(program, tmp_path):
    # The output file gets the run so far whenever the peak has grown by a quarter (from
    # 16 MiB on): a process killed outright leaves what the last checkpoint saw.
    path = program("killed.py", KILLED)
    out = tmp_path / "k.moth"
    r = run_moth("profile", "--memory", "-q", "-o", out, path)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    r = run_moth("stats", "--memory", "--limit", "3", out, check=0)
    first, second = r.stdout.splitlines()[:2]
    assert first.startswith("moth memory: the run did not end"), first
    assert second.startswith("moth memory: peak ") and "still held then" in second, second
    con = sqlite3.connect(out)
    peak, = con.execute("SELECT peak_bytes FROM memory_summary").fetchone()
    held, = con.execute("SELECT sum(peak_bytes) FROM memory_lines WHERE line = 5 "
                        "AND function = 'grow'").fetchone()
    assert 16 << 20 <= held <= peak <= (96 << 20) + (1 << 20), (held, peak)
    # a run that ends replaces its checkpoints
    run_moth("profile", "--memory", "-q", "-o", out, program("done.py", KILLED.rsplit("\n", 2)[0]),
             check=0)
    r = run_moth("stats", "--memory", "--limit", "3", out, check=0)
    assert r.stdout.startswith("moth memory: peak ") and "still held at the end" in r.stdout


PAST_ITS_PEAK = """\
import os, signal, time
hog = [None] * 11
def grow():
    for i in range(11):
        hog[i] = bytearray(8 << 20)          # line 5
grow()
hog[:] = [None] * 11                         # the peak is behind us
end = time.monotonic() + 3
while time.monotonic() < end:                # long enough for a checkpoint a second later
    [str(i) for i in range(100)]
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_run_killed_past_its_peak_leaves_that_peak(program, tmp_path):
    # The last block took the peak up by less than a quarter (80 to 88 MiB): no checkpoint at
    # once, but one a second after the last, as the peak had grown since: the file holds the
    # peak exactly, to the byte at the line that made it.
    out = tmp_path / "k.moth"
    r = run_moth("profile", "--memory", "-q", "-o", out, program("past.py", PAST_ITS_PEAK))
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    con = sqlite3.connect(out)
    assert con.execute("SELECT value FROM run_meta WHERE key = 'checkpoint'").fetchone()
    peak, = con.execute("SELECT peak_bytes FROM memory_summary").fetchone()
    held, = con.execute("SELECT sum(peak_bytes) FROM memory_lines WHERE line = 5 "
                        "AND function = 'grow'").fetchone()
    assert held == 11 * ((8 << 20) + 1 + sys.getsizeof(bytearray(0))), (held, peak)
    assert held <= peak <= held + (1 << 20), (held, peak)


REPLACES = """\
import tracemalloc
tracemalloc.start()
data = [bytearray(1000) for _ in range(100)]
size, peak = tracemalloc.get_traced_memory()
tracemalloc.stop()
print(size >= 100_000, peak >= size)
"""


def test_a_program_installing_its_own_allocator_hooks(program):
    path = program("replaces.py", REPLACES)
    plain = run_python(path)
    r = run_moth("profile", "--memory", path, check=0, env=PROGRAM_LEAKS)  # tracemalloc's
    assert r.stdout.startswith(plain.stdout)
    assert plain.stdout == "True True\n"
    assert "replaces.py:3" in r.stdout


PLUGIN_TESTS = """\
import pytest
keep = []

@pytest.mark.moth_limit_memory("1 MB")
def test_under_the_limit():
    x = [bytearray(1000) for _ in range(100)]
    assert len(x) == 100

@pytest.mark.moth_limit_memory("1 MB")
def test_over_the_limit():
    x = bytearray(5_000_000)
    assert x

@pytest.mark.moth_no_leaks
def test_clean():
    x = [str(i) * 3 for i in range(1000)]
    d = {i: [i] for i in range(100)}
    assert len(x) == 1000 and d

@pytest.mark.moth_no_leaks
def test_leaky():
    keep.append(bytearray(100_000))

@pytest.mark.moth_no_leaks("200 KiB")
def test_leaky_within_tolerance():
    keep.append(bytearray(100_000))

def test_unmarked():
    assert 1
"""


def test_pytest_plugin_fails_and_passes_tests_as_it_should(program):
    path = program("test_plugin_cases.py", PLUGIN_TESTS)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "-rA", "--moth-memory", str(path)], capture_output=True, text=True,
                       cwd=path.parent, env={**os.environ, **PROGRAM_LEAKS}, timeout=120)
    outcomes = {line.split("::")[1].split()[0]: line.split()[0]
                for line in r.stdout.splitlines()
                if line.startswith(("PASSED", "FAILED")) and "::" in line}
    assert outcomes == {"test_under_the_limit": "PASSED", "test_over_the_limit": "FAILED",
                        "test_clean": "PASSED", "test_leaky": "FAILED",
                        "test_leaky_within_tolerance": "PASSED", "test_unmarked": "PASSED"}, r.stdout
    assert "Test was limited to 1.0 MiB but held 4.8 MiB at its peak" in r.stdout
    assert "test_plugin_cases.py:11  (test_over_the_limit)" in r.stdout
    assert "Test leaked 97.7 KiB in 3 blocks" in r.stdout
    assert "test_plugin_cases.py:22  (test_leaky)" in r.stdout
    # --moth-memory: every test's peak, the highest first
    summary = r.stdout.split("moth memory: tests by the memory they held at their peak")[1]
    first = summary.splitlines()[2]
    assert first.split()[:2] == ["4.8", "MiB"] and first.endswith("::test_over_the_limit")
    assert r.returncode == 1


def test_pytest_plugin_refuses_a_bad_size(program):
    path = program("test_bad_size.py", "import pytest\n\n"
                   "@pytest.mark.moth_limit_memory('lots')\ndef test_x():\n    pass\n")
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        str(path)], capture_output=True, text=True, cwd=path.parent,
                       timeout=120)
    assert r.returncode != 0
    assert "'lots' is not a size" in r.stdout + r.stderr


def flame_data(html):
    start = html.index("const DATA = ") + len("const DATA = ")
    end = html.index(";</script>", start)
    import json
    return json.loads(html[start:end])


PHASES = """\
import time
def grow(n):
    return [bytearray(10000) for _ in range(n)]
def phase():
    a = grow(2000)
    time.sleep(0.03)
    b = grow(3000)
    time.sleep(0.03)
    del a, b
    time.sleep(0.03)
    return grow(500)
keep = phase()
"""


def test_memory_file_stats_flame_and_exports(program, tmp_path):
    path = program("phases.py", PHASES)
    out = tmp_path / "p.moth"
    run_moth("profile", "--memory", "-q", "-o", out, path, check=0)
    con = sqlite3.connect(out)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    peak, = con.execute("SELECT peak_bytes FROM memory_summary").fetchone()
    each = sys.getsizeof(bytearray(10000))
    assert 5000 * each <= peak < 5000 * each + 512 * 1024
    # (3.12 inlines the comprehension into grow)
    leaked = con.execute("SELECT sum(leaked_bytes) FROM memory_lines WHERE function IN "
                         "('<listcomp>', 'grow')").fetchone()[0]
    assert 500 * each <= leaked < 500 * each + 8192
    # moth stats --memory reads the file back into the same report
    r = run_moth("stats", "--memory", "--limit", "3", out, check=0)
    assert r.stdout.startswith("moth memory: peak ")
    assert "phases.py:3" in r.stdout
    r = run_moth("stats", "--leaks", "--limit", "3", out, check=0)
    assert "still held at the end (leaks)" in r.stdout
    # the flame page: three views and the moment one, bytes, and a timeline whose replay at its
    # last point is what the leaks view holds
    html_path = tmp_path / "p.html"
    run_moth("flame", "--memory", out, "-o", html_path, check=0)
    data = flame_data(html_path.read_text())
    assert data["unit"] == "bytes"
    assert [v["name"] for v in data["views"]][:4] == [
        "held at the peak", "still held at the end (leaks)", "allocated in total",
        "at a moment (pick one on the strip)"]
    assert data["views"][0]["t"][0] == peak
    T = data["timeline"]
    assert T["pb"] == peak and len(T["t"]) == len(T["b"]) == len(T["ch"]) >= 3
    held = {}
    for changes in T["ch"]:
        held.update(dict(zip(changes[::2], changes[1::2])))
    assert sum(held.values()) == T["b"][-1] == data["views"][1]["t"][0]
    assert max(T["h"]) == peak
    # exports weighed in bytes
    r = run_moth("export", out, "--format", "collapsed", "--memory", "leaks", check=0)
    total = sum(int(line.rsplit(" ", 1)[1]) for line in r.stdout.splitlines())
    assert total == T["b"][-1]
    r = run_moth("export", out, "--format", "speedscope", "--memory", "peak", check=0)
    assert '"unit":"bytes"' in r.stdout
    r = run_moth("export", out, "--format", "dot", "--memory", "peak")
    assert r.returncode == 2 and "speedscope or collapsed" in r.stderr
    # a time profile has no memory data to show
    plain = tmp_path / "t.moth"
    run_moth("profile", "-q", "-o", plain, path, check=0)
    for args in (("stats", "--memory", plain), ("flame", "--memory", plain),
                 ("export", plain, "--format", "collapsed", "--memory", "peak")):
        r = run_moth(*args)
        assert r.returncode == 2 and "has no memory data" in r.stderr, (args, r.stderr)


THREADS = """\
import threading
keep = {}

def worker(name, n):
    keep[name] = [bytearray(n) for _ in range(10)]

ts = [threading.Thread(target=worker, args=("w%d" % i, 100_000 * (i + 1)), name="w%d" % i)
      for i in range(2)]
for t in ts:
    t.start()
for t in ts:
    t.join()
"""


@pytest.mark.parametrize("mode", [["--memory"], ["--memory-sample", "1"]])
def test_memory_flame_has_each_threads_views(program, tmp_path, mode):
    path = program("threads.py", THREADS)
    out = tmp_path / "t.moth"
    run_moth("profile", *mode, "-q", "-o", out, path, check=0)
    html_path = tmp_path / "t.html"
    run_moth("flame", "--memory", out, "-o", html_path, check=0)
    data = flame_data(html_path.read_text())
    names = [v["name"] for v in data["views"]]
    assert names[3] == "at a moment (pick one on the strip)"
    for i in range(2):
        views = {v["name"]: v for v in data["views"] if v["name"].startswith("w%d: " % i)}
        assert sorted(views) == ["w%d: %s" % (i, m) for m in (
            "allocated in total", "held at the peak", "still held at the end (leaks)")]
        # the thread's ten buffers, still held at the end: its leaks view's total
        leaks = views["w%d: still held at the end (leaks)" % i]["t"][0]
        buffers = 10 * 100_000 * (i + 1)
        assert buffers <= leaks < buffers + 4096, (i, leaks)
    # the merged views hold both threads
    assert data["views"][1]["t"][0] >= 10 * 100_000 * 3


DAMAGES = [
    ("memory_rows", "UPDATE memory_rows SET thread = 99 WHERE id = 0", "inconsistent memory rows"),
    ("memory_rows", "UPDATE memory_rows SET node = 1000000 WHERE id = 0",
     "inconsistent memory rows"),
    ("memory_rows", "UPDATE memory_rows SET leaked_bytes = -5 WHERE id = 0",
     "inconsistent memory rows"),
    ("memory_rows", "UPDATE memory_rows SET id = id + 7 WHERE id = 0", "inconsistent memory rows"),
    ("memory_rows", "UPDATE memory_rows SET peak_blocks = -1 WHERE id = 0",
     "inconsistent memory rows"),
    ("memory_summary", "UPDATE memory_summary SET peak_bytes = -1",
     "inconsistent memory summary"),
    ("memory_summary", "UPDATE memory_summary SET peak_time = -3",
     "inconsistent memory summary"),
    ("memory_timeline", "UPDATE memory_timeline SET point = point + 1000 WHERE point = 0",
     "inconsistent memory timeline"),
    ("memory_timeline", "UPDATE memory_timeline SET time = -1 WHERE point = (SELECT MAX(point) FROM memory_timeline)",
     "inconsistent memory timeline"),
    ("memory_changes", "UPDATE memory_changes SET row = 123456", "inconsistent memory timeline"),
    ("memory_changes", "UPDATE memory_changes SET bytes = -2", "inconsistent memory timeline"),
]


@pytest.mark.parametrize("table,sql,why", DAMAGES)
def test_damaged_memory_tables_are_refused(program, tmp_path, table, sql, why):
    path = program("small.py", "keep = [bytearray(1000) for _ in range(50)]\n")
    out = tmp_path / "s.moth"
    run_moth("profile", "--memory", "-q", "-o", out, path, check=0)
    con = sqlite3.connect(out)
    con.execute(sql)
    con.commit()
    con.close()
    r = run_moth("stats", "--memory", out)
    assert r.returncode == 2
    assert r.stderr == "moth: %s is a damaged moth profile: %s\n" % (out, why), r.stderr


def test_a_schema_1_file_gets_the_memory_tables_when_a_run_is_appended(program, tmp_path):
    path = program("small.py", "keep = [bytearray(1000) for _ in range(50)]\n")
    out = tmp_path / "old.moth"
    run_moth("profile", "-q", "-o", out, path, check=0)
    con = sqlite3.connect(out)     # as a moth of schema 1 wrote it: no memory tables
    for table in ("memory_changes", "memory_timeline", "memory_rows", "memory_summary"):
        con.execute("DROP TABLE %s" % table)
    con.execute("DROP VIEW memory_lines")
    con.execute("DROP VIEW process_tree")
    con.execute("DROP TABLE processes")
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()
    run_moth("stats", out, check=0)                      # read as it is
    run_moth("profile", "--memory", "-q", "--append", "-o", out, path, check=0)
    con = sqlite3.connect(out)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 3
    assert con.execute("SELECT COUNT(*) FROM memory_summary").fetchone()[0] == 1
    r = run_moth("stats", "--memory", "--run", "2", out, check=0)
    assert "small.py:1" in r.stdout
