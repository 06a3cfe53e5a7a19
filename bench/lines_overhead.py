"""How much slower a program runs when its functions are profiled line by line:
moth profile --func vs line_profiler's kernprof -l, the same functions selected.

    python bench/lines_overhead.py [--python PY] [--reps N] [--write]

Workloads: fib (recursion of tiny calls; fib selected) and newton (numeric loops; poly, dpoly
and newton selected). For kernprof, a copy of the workload gets @profile on those functions.
Paired runs (bench/pairing.py), whole-process wall time, median ratio to the plain run.
"""
import argparse
import datetime
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402

SELECTED = {"fib": ["fib"], "newton": ["poly", "dpoly", "newton"]}


def decorated_copy(src, functions, into):
    text = open(src).read()
    for f in functions:
        text = re.sub(rf"^def {f}\(", f"@profile\ndef {f}(", text, flags=re.M)
    path = os.path.join(into, os.path.basename(src))
    with open(path, "w") as out:
        out.write(text)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    py = args.python
    version = python_version(py)
    kernprof = os.path.join(os.path.dirname(py), "kernprof")
    have_kernprof = os.path.exists(kernprof)
    tmp = tempfile.mkdtemp(prefix="moth-lines-")
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    rows = []
    for w, funcs in SELECTED.items():
        script = os.path.join(HERE, "workloads", w + ".py")
        tools = {"moth --lines": [py, "-m", "moth", "profile", "-q", "-o", os.path.join(tmp, w + ".moth")]
                 + sum((["--func", f] for f in funcs), []) + [script]}
        if have_kernprof:
            copy = decorated_copy(script, funcs, tmp)
            tools["line_profiler"] = [kernprof, "-l", "-o", os.path.join(tmp, w + ".lprof"), copy]
        print("== %s (CPython %s)" % (w, version), file=sys.stderr)
        series = paired([py, script], tools, reps=args.reps, env=env,
                        cwd=os.path.join(HERE, "workloads"))
        rows.append((w, series))
    cmd = "python bench/lines_overhead.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    names = ["moth --lines", "line_profiler"]
    lines = ["### Line profiler overhead, CPython %s (%s)" % (
                 version, datetime.datetime.now().strftime("%Y-%m-%d %H:%M")), "",
             "`%s`; %s; %d paired runs; whole-process wall time, tool / plain, median "
             "(min-max); the same functions line-profiled by both (fib: fib; newton: poly, "
             "dpoly, newton)." % (cmd, machine_line(), args.reps), "",
             "| workload | " + " | ".join(names) + " | moth / line_profiler |", "|---|---|---|---|"]
    for w, series in rows:
        cells, med = [], {}
        for n in names:
            s = series.get(n)
            if not s or s.failed or not s.pairs:
                cells.append("n/a" if not s else "failed: " + s.failed[:50])
            else:
                r = s.ratios()
                med[n] = s.median()
                cells.append("%.2fx (%.2f-%.2f)" % (s.median(), min(r), max(r)))
        share = "%.2f" % (med["moth --lines"] / med["line_profiler"]) if len(med) == 2 else "-"
        lines.append("| %s | %s | %s |" % (w, " | ".join(cells), share))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
