"""How fast moth stats loads, sorts and prints a big profile, against pstats doing the same.

    python bench/stats_speed.py [--python PY] [--functions N] [--reps N] [--write]

Makes a pstats file of N functions (default 100,000), each called from a few others, and times,
paired (bench/pairing.py), the whole of:
    python -c "import pstats; pstats.Stats(F).sort_stats('cumulative').print_stats(30)"
    python -m moth stats --sort cumulative --limit 30 F
The target is moth at least 5x faster. The outputs must be identical (checked).
"""
import argparse
import datetime
import marshal
import os
import random
import shlex
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402


def make_profile(path, n):
    rnd = random.Random(42)
    keys = [(f"/home/user/project/pkg{i % 300}/module{i % 1700}.py", 10 + i % 900, f"func_{i}")
            for i in range(n)]
    stats = {}
    for i, key in enumerate(keys):
        nc = rnd.randint(1, 5000)
        cc = nc if rnd.random() < 0.9 else max(1, nc // 3)
        tt = rnd.random() * 0.01
        ct = tt + rnd.random() * 0.1
        callers = {}
        for _ in range(rnd.randint(1, 4)):
            caller = keys[rnd.randrange(n)]
            cnc = rnd.randint(1, nc)
            callers[caller] = (cnc, min(cnc, cc), tt * cnc / nc, ct * cnc / nc)
        stats[key] = (cc, nc, tt, ct, callers)
    with open(path, "wb") as f:
        marshal.dump(stats, f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--functions", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    py = args.python
    tmp = tempfile.mkdtemp(prefix="moth-stats-")
    path = os.path.join(tmp, "big.prof")
    make_profile(path, args.functions)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"))
    base = [py, "-c", f"import pstats; pstats.Stats({path!r}).sort_stats('cumulative').print_stats(30)"]
    moth = [py, "-m", "moth", "stats", "--sort", "cumulative", "--limit", "30", path]
    series = paired(base, {"moth stats": moth}, reps=args.reps, env=env)
    s = series["moth stats"]
    if s.failed:
        print("moth stats failed:", s.failed)
        sys.exit(1)
    speedups = [b.seconds / t.seconds for b, t in s.pairs]
    version = python_version(py)
    cmd = "python bench/stats_speed.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    publish([
        "### moth stats vs pstats, %d functions, CPython %s (%s)" % (
            args.functions, version, datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        "",
        "`%s`; %s; %d paired runs; whole process (start-up included): load, sort by cumulative "
        "time, print the top 30; identical output checked." % (cmd, machine_line(), args.reps),
        "",
        "| pstats | moth stats | moth is faster by (median, min-max) |",
        "|---|---|---|",
        "| %.3f s | %.3f s | %.1fx (%.1f-%.1f) |" % (
            statistics.median(b.seconds for b, t in s.pairs),
            statistics.median(t.seconds for b, t in s.pairs),
            statistics.median(speedups), min(speedups), max(speedups)),
    ], args.write)

if __name__ == "__main__":
    main()
