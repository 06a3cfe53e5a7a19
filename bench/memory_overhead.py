"""How much slower a program runs under moth's memory profiler, memray and tracemalloc, and how
exact moth's numbers are.

    python bench/memory_overhead.py [--python PY] [--reps N] [--workloads alloc,arrays,...]
                                    [--tools moth,moth-sampled,memray,memray-py,tracemalloc]
                                    [--write]

Each workload runs plain and under each tool, paired (bench/pairing.py): whole-process wall
time, tool / plain, median (min-max). The tools:
  moth           moth profile --memory: every allocation (Python's allocators and native)
  moth-sampled   moth profile --memory-sample 512KiB: allocations sampled by bytes
  memray         memray run: native allocations (Python's pymalloc arenas, not its objects)
  memray-py      memray run --trace-python-allocators: every allocation, as moth records them
  tracemalloc    python -X tracemalloc: Python's allocators only
Accuracy, each in a fresh process around the workload's main(): moth's peak against
tracemalloc's (Python's allocations; moth also counts native ones, which these workloads barely
make), and a numpy array of N bytes against what moth shows at its line.
--write appends the tables to bench/RESULTS.md with the command line.
"""
import argparse
import datetime
import os
import shlex
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402

WORKLOADS = ["alloc", "arrays", "stdlib", "newton", "fib"]
TOOLS = ["moth", "moth-sampled", "memray", "memray-py", "tracemalloc"]


def tool_argv(py, tool, script, out):
    if tool == "moth":
        return [py, "-m", "moth", "profile", "--memory", "-q", "-o", out, script]
    if tool == "moth-sampled":
        return [py, "-m", "moth", "profile", "--memory-sample", "512KiB", "-q", "-o", out, script]
    if tool == "memray":
        return [py, "-m", "memray", "run", "-q", "-f", "-o", out, script]
    if tool == "memray-py":
        return [py, "-m", "memray", "run", "--trace-python-allocators", "-q", "-f", "-o", out,
                script]
    if tool == "tracemalloc":
        return [py, "-X", "tracemalloc", script]
    raise ValueError(tool)


PEAK = """\
import runpy, sys, tracemalloc
script, rounds, tool = sys.argv[1], int(sys.argv[2]), sys.argv[3]
main = runpy.run_path(script, run_name="bench")["main"]
if tool == "tracemalloc":
    tracemalloc.start(); main(rounds); print(tracemalloc.get_traced_memory()[1])
else:
    import moth
    p = moth.Profile(memory=True); p.runcall(main, rounds); print(p._memory()["peak"])
"""

NUMPY = """\
import numpy as np, moth
np.zeros(10)
keep = []
def make(n):
    a = np.zeros(n)
    keep.append(a)
p = moth.Profile(memory=True)
p.runcall(make, 1_000_000)
line = make.__code__.co_firstlineno + 1
print(sum(r[6] for r in p._memory()["rows"] if r[3] == line and r[1][-1:] == ("make",)))
"""


def run_text(argv, env):
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout


def accuracy(py, env, workloads):
    rows = []
    for w in workloads:
        if w not in ("alloc", "stdlib", "newton"):
            continue
        script = os.path.join(HERE, "workloads", w + ".py")
        tm = int(run_text([py, "-c", PEAK, script, "3", "tracemalloc"], env))
        mo = int(run_text([py, "-c", PEAK, script, "3", "moth"], env))
        rows.append("| %s peak | %d | %d | %+.3f%% |" % (w, tm, mo, 100.0 * (mo - tm) / tm))
    try:
        got = int(run_text([py, "-c", NUMPY], env))
        rows.append("| numpy `np.zeros(1_000_000)`: bytes at its line | 8000000 (data) | %d | "
                    "%+d bytes (the array object) |" % (got, got - 8000000))
    except subprocess.CalledProcessError:
        rows.append("| numpy | not installed | | |")
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    py = args.python
    version = python_version(py)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "src"), env.get("PYTHONPATH", "")])
    tmp = tempfile.mkdtemp(prefix="moth-bench-")
    workloads = args.workloads.split(",")
    rows = []
    for w in workloads:
        script = os.path.join(HERE, "workloads", w + ".py")
        tools = {t: tool_argv(py, t, script, os.path.join(tmp, "%s-%s.out" % (w, t)))
                 for t in args.tools.split(",")}
        print("== %s (CPython %s)" % (w, version), file=sys.stderr)
        rows.append((w, paired([py, script], tools, reps=args.reps, env=env,
                               cwd=os.path.join(HERE, "workloads"))))

    lines = []
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = "python bench/memory_overhead.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines.append("### Memory profiler overhead, CPython %s (%s)" % (version, when))
    lines.append("")
    lines.append("`%s`; %s; %d paired runs each; whole-process wall time, tool / plain, "
                 "median (min-max)." % (cmd, machine_line(), args.reps))
    lines.append("")
    names = args.tools.split(",")
    lines.append("| workload | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for w, series in rows:
        cells = []
        for t in names:
            s = series[t]
            if s.failed:
                cells.append("failed: " + s.failed[:60])
            else:
                r = s.ratios()
                cells.append("%.2fx (%.2f-%.2f)" % (s.median(), min(r), max(r)))
        lines.append("| %s | %s |" % (w, " | ".join(cells)))
    lines.append("")
    lines.append("| accuracy | tracemalloc / expected | moth | difference |")
    lines.append("|---|---|---|---|")
    lines.extend(accuracy(py, env, workloads))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
