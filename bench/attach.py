"""moth profile -p / moth debug -p: the time from the command to the session, the program's
speed while a debugger is attached with a breakpoint that is never reached, and its speed after
moth has come and gone.

  python bench/attach.py --python PY [--reps N] [--pairs P] [--rounds R] [--only speed] [--write]

Reach: a target asleep in time.sleep, one waiting in a lock, one busy; for each, the time from
starting `moth profile -p PID` to its "moth: profiling process" line (the agent connected and
the profiler on), median and worst of N.
Speed after detach: a pair of copies of the same target each time a fixed workload again and
again; one of them is visited (moth profile -p --duration 0.2) between its rounds, the other
not. Their rounds are interleaved (A B, the order swapped every round). Each copy's median
round after the visit is divided by its own median before it (a process is compared only with
itself), and the visited copy's ratio by the unvisited one's (what the load did meanwhile);
the figure is the median of that over --pairs fresh pairs, the first and the second copy
visited in turn (1.00x: no trace left). Two visits are measured: `moth profile -p --duration 0.2`, and a
`moth debug -p` session that sets a breakpoint in a function the workload never calls and
continues: the rounds while it is attached give the cost of a breakpoint set and not reached;
then Ctrl-C at moth, `detach`, and the rounds after it.
"""
import argparse
import os
import signal
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
def never():
    return 0
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


def read_until(stream, text):
    seen = ""
    while text not in seen:
        char = stream.read(1)
        assert char, seen
        seen += char
    return seen


def reach(python, moth, mode, reps, debug):
    """From `moth profile -p PID` to its "moth: profiling" line, or from `moth debug -p PID`
    to its first prompt; the target waiting in `mode`."""
    times = []
    for _ in range(reps):
        target = subprocess.Popen([python, TARGET, mode, "60"], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        target.stdout.readline()
        time.sleep(0.2)
        start = time.monotonic()
        if debug:
            session = subprocess.Popen([*moth, "debug", "-p", str(target.pid)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
            read_until(session.stdout, "(Pdb) ")
            times.append(time.monotonic() - start)
            session.communicate("detach\n")
        else:
            session = subprocess.Popen([*moth, "profile", "-p", str(target.pid), "--duration",
                                        "0.1"], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, text=True)
            line = session.stderr.readline()
            times.append(time.monotonic() - start)
            assert line.startswith("moth: profiling"), line
            session.wait()
        target.kill()
        target.wait()
    return times


def round_time(folder, n):
    open(os.path.join(folder, "go%d" % n), "w").close()
    path = os.path.join(folder, "t%d" % n)
    while not os.path.exists(path) or not open(path).read():
        time.sleep(0.001)
    return float(open(path).read())


def paired(python, moth, rounds, visit, visited):
    """Two copies of WORKER, rounds interleaved A B / B A; `visit` (a generator) is run on copy
    `visited` (0 or 1) between phases: each value it yields names the phase measured next.
    Returns {phase: (median round time of the visited copy, of the other)}."""
    folder = tempfile.mkdtemp()
    script = os.path.join(folder, "worker.py")
    with open(script, "w") as f:
        f.write(WORKER)
    dirs = [tempfile.mkdtemp(), tempfile.mkdtemp()]
    procs = [subprocess.Popen([python, script, d], stdout=subprocess.PIPE, text=True)
             for d in dirs]
    for p in procs:
        p.stdout.readline()
        # both on the same core: whatever else runs on the machine weighs on both alike
        os.sched_setaffinity(p.pid, {max(os.sched_getaffinity(0))})
    medians = {}
    n = 0
    for phase in ["before", *visit(procs[visited].pid, script)]:
        times = ([], [])
        for r in range(rounds):
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                times[i].append(round_time(dirs[i], n))
            n += 1
        medians[phase] = (statistics.median(times[visited]),
                          statistics.median(times[1 - visited]))
    for p in procs:
        p.kill()
        p.wait()
    return medians


def pairs(python, moth, npairs, rounds, visit):
    """npairs fresh pairs, the first or the second copy visited in turn (A B A B). Each pair
    gives, per phase, the visited copy's median round time over its own before the visit,
    divided by the same ratio of the unvisited copy (what the load did meanwhile): a process is
    only ever compared with itself, so two copies that run at different speeds from the start
    (3.11 showed 0.44x once) do not enter the figure."""
    found = {}
    for k in range(npairs):
        medians = paired(python, moth, rounds, visit, k % 2)
        v0, u0 = medians["before"]
        for phase, (v, u) in medians.items():
            if phase != "before":
                found.setdefault(phase, []).append((v / v0, u / u0))
    return found


def figure(found, phase):
    """median over the pairs of (visited after/before) / (unvisited after/before), and the
    medians of the two halves."""
    return (statistics.median(v / u for v, u in found[phase]),
            statistics.median(v for v, _ in found[phase]),
            statistics.median(u for _, u in found[phase]))


def profile_visit(moth):
    def visit(pid, script):
        subprocess.run([*moth, "profile", "-p", str(pid), "--duration", "0.2"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        yield "after"
    return visit


def debug_visit(moth):
    def visit(pid, script):
        session = subprocess.Popen([*moth, "debug", "-p", str(pid)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        read_until(session.stdout, "(Pdb) ")
        session.stdin.write("break never\ncontinue\n")
        session.stdin.flush()
        read_until(session.stdout, "Breakpoint 1 at")
        time.sleep(0.2)
        yield "attached"
        session.send_signal(signal.SIGINT)
        read_until(session.stdout, "(Pdb) ")
        session.communicate("detach\n", timeout=60)
        assert session.returncode == 0
        yield "after"
    return visit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--pairs", type=int, default=6)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--only", choices=["speed"], help="skip the reach measurements")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    moth = [args.python, "-m", "moth"]
    version = subprocess.run([args.python, "-c", "import sys; print(sys.version.split()[0])"],
                             capture_output=True, text=True).stdout.strip()
    base = subprocess.run([args.python, "-c", "import sys; print(sys._base_executable)"],
                          capture_output=True, text=True).stdout.strip()
    lines = []
    for mode in () if args.only == "speed" else ("sleep", "lock", "busy"):
        ts = reach(base, moth, mode, args.reps, False)
        lines.append("| %s | moth profile -p: to the session, target in %s | median %.0f ms, "
                     "worst %.0f ms |" % (version, mode, 1000 * statistics.median(ts),
                                          1000 * max(ts)))
        print(lines[-1], flush=True)
        ts = reach(base, moth, mode, args.reps, True)
        lines.append("| %s | moth debug -p: to the prompt, target in %s | median %.0f ms, "
                     "worst %.0f ms |" % (version, mode, 1000 * statistics.median(ts),
                                          1000 * max(ts)))
        print(lines[-1], flush=True)
    what = "fib(24) rounds, %d pairs of processes, %d rounds a phase" % (args.pairs, args.rounds)
    found = pairs(base, moth, args.pairs, args.rounds, profile_visit(moth))
    lines.append("| %s | speed after `moth profile -p` left (%s) | %.3fx (visited after/before: "
                 "%.3f, unvisited: %.3f) |" % ((version, what) + figure(found, "after")))
    print(lines[-1], flush=True)
    found = pairs(base, moth, args.pairs, args.rounds, debug_visit(moth))
    lines.append("| %s | speed while `moth debug -p` is attached, a breakpoint set and not "
                 "reached (%s) | %.3fx (visited attached/before: %.3f, unvisited: %.3f) |"
                 % ((version, what) + figure(found, "attached")))
    print(lines[-1], flush=True)
    lines.append("| %s | speed after `moth debug -p` detached (%s) | %.3fx (visited "
                 "after/before: %.3f, unvisited: %.3f) |" % ((version, what) +
                                                              figure(found, "after")))
    print(lines[-1], flush=True)
    if args.write:
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
