"""Two builds of moth's sampler side by side: what a change to the reader gained.

    python bench/record_builds.py PY_A PY_B [--reps N] [--rate HZ] [--write]

PY_A and PY_B are interpreters with a build of moth each (e.g. a venv of main and one of a
branch). Each records the same 50-frame target (bench/record_overhead.py's) for 3 s, A B A B,
N pairs. Reported per build, median (min-max): moth's own time per round, the CPU time of the
whole `moth record` process per sample asked for, and (when strace is installed, one extra run
each) the process_vm_readv system calls a round makes: the reader's cost is mostly those calls
(bench/floor/readv_floor.c).
--write appends the table to bench/RESULTS.md with the command line.
"""
import argparse
import datetime
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pairing import machine_line, publish  # noqa: E402
from record_overhead import DEEP, cpu_of, start_target  # noqa: E402

SECONDS = 3.0


def record_argv(py, pid, rate, out):
    return [py, "-m", "moth", "record", "-p", str(pid), "--rate", str(rate), "--duration",
            str(SECONDS), "-o", out]


def one_run(py, rate, out):
    """(time per round in us, CPU us per sample asked for) of one recording."""
    target = start_target(py, DEEP, str(SECONDS + 3))
    try:
        cpu, text = cpu_of(record_argv(py, target.pid, rate, out))
    finally:
        target.kill()
        target.wait()
    m = re.search(r"(\d+) rounds of \d+ asked for .*?([\d.]+) us per round", text)
    if not m:
        sys.exit("record_builds: no round report from %s:\n%s" % (py, text))
    return float(m.group(2)), 1e6 * cpu / (rate * SECONDS)


def calls_per_round(py, rate, out):
    """process_vm_readv calls over rounds taken, counted by strace -c (start-up included)."""
    target = start_target(py, DEEP, str(SECONDS + 3))
    try:
        run = subprocess.run(["strace", "-f", "-c", "-e", "trace=process_vm_readv",
                              *record_argv(py, target.pid, rate, out)],
                             capture_output=True, text=True)
    finally:
        target.kill()
        target.wait()
    rounds = re.search(r"(\d+) rounds of", run.stdout + run.stderr)
    # strace's table: % time, seconds, usecs/call, calls, [errors], syscall
    calls = [line.split()[3] for line in run.stderr.splitlines()
             if line.split()[-1:] == ["process_vm_readv"]]
    if not rounds or not calls or not int(rounds.group(1)):
        return None
    return int(calls[0]) / int(rounds.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("builds", nargs=2, metavar="PY")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    out = os.path.join(tempfile.mkdtemp(), "r.moth")
    rounds = {py: [] for py in args.builds}
    cpu = {py: [] for py in args.builds}
    for _ in range(args.reps):
        for py in args.builds:
            per_round, per_sample = one_run(py, args.rate, out)
            rounds[py].append(per_round)
            cpu[py].append(per_sample)
    rows = ["| build | time per round | CPU per sample asked for | process_vm_readv calls a "
            "round |", "|---|---|---|---|"]
    for py in args.builds:
        calls = calls_per_round(py, args.rate, out) if shutil.which("strace") else None
        rows.append("| %s | %.1f us (%.1f-%.1f) | %.1f us (%.1f-%.1f) | %s |" % (
            py, statistics.median(rounds[py]), min(rounds[py]), max(rounds[py]),
            statistics.median(cpu[py]), min(cpu[py]), max(cpu[py]),
            "%.2f" % calls if calls is not None else "(no strace)"))
    lines = ["### moth record: two builds of the reader (%s)" % datetime.date.today().isoformat(),
             "", "`%s` on %s, load average %s before the run; %d pairs A B A B at %d Hz, the "
             "50-frame target of bench/record_overhead.py." % (
                 " ".join(["python", "bench/record_builds.py"] +
                          [shlex.quote(a) for a in sys.argv[1:]]),
                 machine_line(), load, args.reps, args.rate), ""] + rows
    publish(lines, args.write)

if __name__ == "__main__":
    main()
