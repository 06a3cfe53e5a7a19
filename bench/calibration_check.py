"""How close moth's calibrated cost of a call is to what a call really costs it, per workload.

    python bench/calibration_check.py [--rounds N] [--workloads fib,newton] [--write]

Run with the Python whose moth is measured. In one process, each round calibrates a profiler
(what moth subtracts per call from Python code: inner + inline, see csrc/cpython/calibrate.c),
then times the workload's main() plainly and under a profiler that subtracts nothing, four
times, alternated, in the thread's CPU time; the workload's real cost per call is the median of
(profiled - plain) / calls. The ratio calibrated / real is 1.00 when moth subtracts exactly
what recording cost; below 1 it leaves the rest in the user's times (bench/fidelity.py then
reads above 1). CPU times of back-to-back runs in one process hold on a loaded machine where
the wall times of separate processes do not (the waits for a CPU are in neither); what this
leaves out is what moth follows of the waits through a run (core/drift.h), which
bench/fidelity.py measures.
"""
import argparse
import datetime
import importlib
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "workloads"))
from pairing import machine_line, publish  # noqa: E402

import moth  # noqa: E402
import pstats  # noqa: E402

# main()'s argument per workload: a few hundredths of a second a run
ARGS = {"fib": 22, "newton": 600, "stdlib": 1}


def real_and_calibrated(w, arg, rounds):
    mod = importlib.import_module(w)
    cpu = time.thread_time_ns
    q = moth.Profile(compensate=False, builtins=False)
    q.enable()
    mod.main(arg)
    q.disable()
    calls = sum(v[1] for k, v in pstats.Stats(q).stats.items() if k[2] != "main")
    q.clear()
    ratios, costs = [], []
    for _ in range(rounds):
        p = moth.Profile(compensate=True, builtins=False)
        p.enable()
        p.disable()
        c = p._calibration()
        calibrated = c["inner"] + c["inline"]
        real = []
        for k in range(4):
            if k % 2:
                q.enable(); t0 = cpu(); mod.main(arg); hooked = cpu() - t0; q.disable()
                t0 = cpu(); mod.main(arg); plain = cpu() - t0
            else:
                t0 = cpu(); mod.main(arg); plain = cpu() - t0
                q.enable(); t0 = cpu(); mod.main(arg); hooked = cpu() - t0; q.disable()
            q.clear()
            real.append((hooked - plain) * 1e-9 / calls)
        r = statistics.median(real)
        costs.append((calibrated, r))
        ratios.append(calibrated / r if r > 0 else float("nan"))
    return calls, ratios, costs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--workloads", default="fib,newton")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows = []
    for w in args.workloads.split(","):
        calls, ratios, costs = real_and_calibrated(w, ARGS[w], args.rounds)
        q = statistics.quantiles(ratios, n=4)
        rows.append("| %s | %d | %.1f | %.1f | %.3f | %.3f-%.3f |" % (
            w, calls, statistics.median(c for c, _ in costs) * 1e9,
            statistics.median(r for _, r in costs) * 1e9, statistics.median(ratios), q[0], q[2]))
    cmd = "python bench/calibration_check.py " + " ".join(sys.argv[1:])
    lines = ["### Calibrated against real cost per call, CPython %s (%s)" % (
                 sys.version.split()[0], when), "",
             "`%s`; %s; load average %.1f at the end; %d rounds (each: a calibration, 4 paired "
             "runs in CPU time)." % (cmd, machine_line(), os.getloadavg()[0], args.rounds), "",
             "| workload | calls | calibrated ns/call | real ns/call | calibrated / real, median "
             "| interquartile |", "|---|---|---|---|---|---|"] + rows
    publish(lines, args.write)


if __name__ == "__main__":
    main()
