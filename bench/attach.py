"""moth profile -p: the time from the command to the session, and the program's speed after
moth has come and gone.

  python bench/attach.py --python PY [--reps N] [--write]

Reach: a target asleep in time.sleep, one waiting in a lock, one busy; for each, the time from
starting `moth profile -p PID` to its "moth: profiling process" line (the agent connected and
the profiler on), median and worst of N.
Speed after detach: two copies of the same target each time a fixed workload again and again;
one of them is visited (moth profile -p --duration 0.2) between its rounds, the other not.
Their rounds are interleaved (A B A B); the figure is the median of the per-round ratios
visited/unvisited after the visit, against the same ratio before it (1.00x: no trace left).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "tests", "programs", "attach_target.py")

WORKER = r'''
import os, sys, time
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
folder = sys.argv[1]
print("ready", flush=True)
n = 0
while True:
    go = os.path.join(folder, "go%d" % n)
    while not os.path.exists(go):
        time.sleep(0.001)
    t = time.perf_counter()
    fib(24)
    with open(os.path.join(folder, "t%d" % n), "w") as f:
        f.write(repr(time.perf_counter() - t))
    n += 1
'''


def reach(python, moth, mode, reps):
    times = []
    for _ in range(reps):
        target = subprocess.Popen([python, TARGET, mode, "60"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        target.stdout.readline()
        time.sleep(0.2)
        start = time.monotonic()
        session = subprocess.Popen([*moth, "profile", "-p", str(target.pid), "--duration",
                                    "0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True)
        line = session.stderr.readline()
        times.append(time.monotonic() - start)
        assert line.startswith("moth: profiling"), line
        session.wait()
        target.kill()
        target.wait()
    return times


def reach_debug(python, moth, mode, reps):
    """From `moth debug -p PID` to its first prompt."""
    times = []
    for _ in range(reps):
        target = subprocess.Popen([python, TARGET, mode, "60"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        target.stdout.readline()
        time.sleep(0.2)
        start = time.monotonic()
        session = subprocess.Popen([*moth, "debug", "-p", str(target.pid)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True)
        seen = ""
        while "(Pdb) " not in seen:
            char = session.stdout.read(1)
            assert char, seen
            seen += char
        times.append(time.monotonic() - start)
        session.communicate("detach\n")
        target.kill()
        target.wait()
    return times


def round_time(folder, n):
    open(os.path.join(folder, "go%d" % n), "w").close()
    path = os.path.join(folder, "t%d" % n)
    while not os.path.exists(path) or not open(path).read():
        time.sleep(0.001)
    return float(open(path).read())


def after_visit(python, moth, rounds):
    dirs = [tempfile.mkdtemp(), tempfile.mkdtemp()]
    procs = [subprocess.Popen([python, "-c", WORKER, d], stdout=subprocess.PIPE, text=True)
             for d in dirs]
    for p in procs:
        p.stdout.readline()
    ratios = {"before": [], "after": []}
    n = 0
    for phase in ("before", "after"):
        if phase == "after":
            subprocess.run([*moth, "profile", "-p", str(procs[0].pid), "--duration", "0.2"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        for r in range(rounds):
            order = (0, 1) if r % 2 == 0 else (1, 0)
            t = {}
            for i in order:
                t[i] = round_time(dirs[i], n)
            n += 1
            ratios[phase].append(t[0] / t[1])
    for p in procs:
        p.kill()
        p.wait()
    return statistics.median(ratios["after"]) / statistics.median(ratios["before"]), ratios


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    moth = [args.python, "-m", "moth"]
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    base = subprocess.run([args.python, "-c", "import sys; print(sys._base_executable)"],
                          capture_output=True, text=True).stdout.strip()
    lines = []
    for mode in ("sleep", "lock", "busy"):
        ts = reach(base, moth, mode, args.reps)
        lines.append("| %s | moth profile -p: to the session, target in %s | median %.0f ms, "
                     "worst %.0f ms |" % (version, mode, 1000 * statistics.median(ts),
                                          1000 * max(ts)))
        print(lines[-1], flush=True)
        ts = reach_debug(base, moth, mode, args.reps)
        lines.append("| %s | moth debug -p: to the prompt, target in %s | median %.0f ms, "
                     "worst %.0f ms |" % (version, mode, 1000 * statistics.median(ts),
                                          1000 * max(ts)))
        print(lines[-1], flush=True)
    ratio, raw = after_visit(base, moth, max(args.reps, 15))
    lines.append("| %s | speed after detach (fib(24) rounds, visited/unvisited) | %.2fx "
                 "(before: median %.3f, after: median %.3f) |"
                 % (version, ratio, statistics.median(raw["before"]),
                    statistics.median(raw["after"])))
    print(lines[-1])
    if args.write:
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
