"""What `moth dump --async` costs on top of `moth dump`, by the number of asyncio tasks.

    .venv-3.X/bin/python bench/dump_async.py [--target-python PY] [--tasks N,N,...] [--reps N]
                                             [--write]

Starts a target (on --target-python, default this Python) with N tasks, each three coroutines
deep awaiting asyncio.sleep, all gathered by the main task, and times, paired
(bench/pairing.py), the whole of `python -m moth dump --no-source PID` (the baseline: the
threads only) against the same with --async, for each N. Reports both medians and the extra
time per task. No released tool reads asyncio tasks of a 3.11-3.13 process from outside, so
there is no anchor to compare with: this is moth against itself. moth is the one installed in
the Python that runs this script (a venv of scripts/venv).
"""
import argparse
import datetime
import os
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402

TARGET = """
import asyncio, sys
async def leaf():
    await asyncio.sleep(3600)
async def middle():
    await leaf()
async def main(n):
    tasks = [asyncio.create_task(middle(), name=f"task-{i}") for i in range(n)]
    for _ in range(3):
        await asyncio.sleep(0)
    print("ready", flush=True)
    await asyncio.gather(*tasks)
asyncio.run(main(int(sys.argv[1])))
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target-python", default=sys.executable)
    ap.add_argument("--tasks", default="100,1000,10000")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    rows = []
    for n in [int(x) for x in args.tasks.split(",")]:
        target = subprocess.Popen([args.target_python, "-c", TARGET, str(n)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert target.stdout.readline().strip() == "ready"
            base = [sys.executable, "-m", "moth", "dump", "--no-source", str(target.pid)]
            series = paired(base, {"--async": base[:3] + ["dump", "--async", "--no-source",
                                                         str(target.pid)]},
                            reps=args.reps, same_output=False)
        finally:
            target.kill()
            target.wait()
        s = series["--async"]
        if s.failed:
            print("moth dump --async failed:", s.failed)
            sys.exit(1)
        plain = statistics.median(b.seconds for b, t in s.pairs)
        tasks = statistics.median(t.seconds for b, t in s.pairs)
        extra = [(t.seconds - b.seconds) / (n + 1) * 1e6 for b, t in s.pairs]
        rows.append("| %d | %.3f s | %.3f s | %.0f us (%.0f-%.0f) |" % (
            n + 1, plain, tasks, statistics.median(extra), min(extra), max(extra)))
    load = os.getloadavg()
    cmd = "python bench/dump_async.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    publish([
        "### moth dump --async, target CPython %s, moth on CPython %s (%s)" % (
            python_version(args.target_python), python_version(sys.executable),
            datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        "",
        "`%s`; %s; load average %.1f %.1f %.1f; %d paired runs per row; whole `moth dump` "
        "process (start-up included), without and with --async; each task three coroutines "
        "deep in asyncio.sleep, all gathered by the main task." % (
            cmd, machine_line(), *load, args.reps),
        "",
        "| tasks | moth dump | moth dump --async | more per task (median, min-max) |",
        "|---|---|---|---|",
    ] + rows, args.write)


if __name__ == "__main__":
    main()
