"""How true moth's times are: its report of a workload's main() against the plain run's own.

    python bench/fidelity.py [--python PY] [--reps N] [--workloads fib,newton,stdlib]
                             [--realtime] [--write]

moth subtracts what recording each call costs (calibrated at start-up, followed through the
run per thread: csrc/core/drift.h). Each repetition runs the workload plainly, which prints the
time its main() took ("elapsed" on stderr), and under `moth profile -o`, whose file gives the
cumulative time of main(); the two runs are paired (bench/pairing.py) and the ratio of each pair
is moth's report over the plain run's own measurement (1.00 = exact). The issue's target for
fib: the median within 5% of 1, and no run below 0.9. The table also gives moth's own line on
the subtraction ("calibration's rounds spread"), as a median.

--realtime runs every process under `chrt -f 10` (SCHED_FIFO), which keeps the other processes
of a shared machine from taking the CPU in the middle of a run; it needs the right to do so.
--write appends the table to bench/RESULTS.md with the command line.
"""
import argparse
import datetime
import glob
import os
import re
import shlex
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402
from profile_overhead import elapsed, reported_main  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--workloads", default="fib,newton,stdlib")
    ap.add_argument("--realtime", action="store_true")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    py = os.path.abspath(args.python) if os.sep in args.python else args.python
    version = python_version(py)
    env = dict(os.environ)
    if glob.glob(os.path.join(ROOT, "src", "moth", "_moth*.so")):  # an in-place build (make build)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "src"),
                                             env.get("PYTHONPATH", "")])
    tmp = tempfile.mkdtemp(prefix="moth-fidelity-")
    prefix = ["chrt", "-f", "10"] if args.realtime else []
    rows = []
    for w in args.workloads.split(","):
        script = os.path.join(HERE, "workloads", w + ".py")
        out = os.path.join(tmp, w + ".prof")
        tools = {"moth": prefix + [py, "-m", "moth", "profile", "-o", out, script]}
        print("== %s (CPython %s)" % (w, version), file=sys.stderr)

        def after(name, run):
            m = re.search(r"calibration's rounds spread \+-(\d+)%", run.stdout)
            return reported_main(out), int(m.group(1)) if m else None

        series = paired(prefix + [py, script], tools, reps=args.reps, env=env,
                        cwd=os.path.join(HERE, "workloads"), after_tool=after)
        s = series["moth"]
        ratios = [t.extra[0] / elapsed(b.stderr) for b, t in s.pairs
                  if t.extra and t.extra[0] and elapsed(b.stderr)]
        spreads = [t.extra[1] for b, t in s.pairs if t.extra and t.extra[1] is not None]
        rows.append((w, s, ratios, spreads))

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = "python bench/fidelity.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    load = os.getloadavg()[0]
    lines = ["### Fidelity of moth's times, CPython %s (%s)" % (version, when), "",
             "`%s`; %s; load average %.1f at the end; %d paired runs each; moth's report of "
             "main() / the plain run's own time of main()." % (cmd, machine_line(), load,
                                                               args.reps), "",
             "| workload | median | min | max | runs below 0.9 | calibration spread (median) |",
             "|---|---|---|---|---|---|"]
    for w, s, ratios, spreads in rows:
        if s.failed or not ratios:
            lines.append("| %s | failed: %s | | | | |" % (w, (s.failed or "no runs")[:60]))
            continue
        lines.append("| %s | %.3f | %.3f | %.3f | %d of %d | %s |" % (
            w, statistics.median(ratios), min(ratios), max(ratios),
            sum(r < 0.9 for r in ratios), len(ratios),
            "+-%d%%" % statistics.median(spreads) if spreads else "-"))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
