"""What `moth profile --subprocesses` costs on a multiprocessing pool workload.

    python bench/subprocesses_overhead.py [--python PY] [--reps N] [--methods fork,spawn]
                                          [--write]

bench/workloads/pool.py (a Pool of 2 workers running 16 fib(23) tasks) runs plain and under
each tool, paired (bench/pairing.py): whole-process wall time, tool / plain, median (min-max).
The tools:
  moth           moth profile -o x.moth: the parent only (the workers run unprofiled)
  subprocesses   moth profile --subprocesses -o x.moth: the parent and every worker, each
                 writing its run into the file
PY must have moth installed (the workers import it): the `python` of a .venv-X.Y.
--write appends the table to bench/RESULTS.md with the command line.
"""
import argparse
import datetime
import os
import shlex
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--methods", default="fork,spawn")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    py = args.python
    version = python_version(py)
    script = os.path.join(HERE, "workloads", "pool.py")
    tmp = tempfile.mkdtemp(prefix="moth-bench-")
    out = os.path.join(tmp, "x.moth")
    rows = []
    for method in args.methods.split(","):
        tools = {
            "moth": [py, "-m", "moth", "profile", "-q", "-o", out, script, method],
            "subprocesses": [py, "-m", "moth", "profile", "-q", "--subprocesses", "-o", out,
                             script, method],
        }
        print("== pool, %s (CPython %s)" % (method, version), file=sys.stderr)
        rows.append((method, paired([py, script, method], tools, reps=args.reps,
                                    env=dict(os.environ))))
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = "python bench/subprocesses_overhead.py " + " ".join(shlex.quote(a)
                                                              for a in sys.argv[1:])
    lines = ["### moth profile --subprocesses on a pool, CPython %s (%s)" % (version, when), "",
             "`%s`; %s; %d paired runs each; whole-process wall time, tool / plain, median "
             "(min-max)." % (cmd, machine_line(), args.reps), "",
             "| start method | moth (parent only) | --subprocesses (parent + workers) |",
             "|---|---|---|"]
    for method, series in rows:
        cells = []
        for name in ("moth", "subprocesses"):
            s = series[name]
            r = s.ratios()
            cells.append("failed: " + s.failed[:60] if s.failed else
                         "%.2fx (%.2f-%.2f)" % (s.median(), min(r), max(r)))
        lines.append("| %s | %s |" % (method, " | ".join(cells)))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
