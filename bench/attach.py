"""moth profile -p / moth debug -p: the time from the command to the session, the program's
speed while a debugger is attached with a breakpoint that is never reached, and its speed after
moth has come and gone.

  python bench/attach.py --python PY [--reps N] [--rounds R] [--only speed] [--write]

Reach: a target asleep in time.sleep, one waiting in a lock, one busy; for each, the time from
starting `moth profile -p PID` to its "moth: profiling process" line (the agent connected and
the profiler on), median and worst of N.
Speed after detach: two copies of the same target each time a fixed workload again and again;
one of them is visited (moth profile -p --duration 0.2) between its rounds, the other not.
Their rounds are interleaved (A B A B, the order swapped every round); the figure is the median
of the per-round ratios visited/unvisited after the visit, against the same ratio before it
(1.00x: no trace left). Two visits are measured: `moth profile -p --duration 0.2`, and a
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


def paired(python, moth, rounds, visit):
    """Two copies of WORKER, rounds interleaved A B / B A; `visit` (a generator) is run on copy
    A between phases: each value it yields names the phase measured next."""
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
    ratios = {}
    n = 0
    for phase in ["before", *visit(procs[0].pid, script)]:
        ratios[phase] = []
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
    return ratios


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


def relative(ratios, phase):
    return statistics.median(ratios[phase]) / statistics.median(ratios["before"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=41)
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
    raw = paired(base, moth, args.rounds, profile_visit(moth))
    lines.append("| %s | speed after `moth profile -p` left (fib(24) rounds, visited/unvisited, "
                 "%d pairs a phase) | %.3fx (ratio before: median %.3f, after: %.3f) |"
                 % (version, args.rounds, relative(raw, "after"),
                    statistics.median(raw["before"]), statistics.median(raw["after"])))
    print(lines[-1], flush=True)
    raw = paired(base, moth, args.rounds, debug_visit(moth))
    lines.append("| %s | speed while `moth debug -p` is attached, a breakpoint set and not "
                 "reached | %.3fx (ratio before: median %.3f, attached: %.3f) |"
                 % (version, relative(raw, "attached"), statistics.median(raw["before"]),
                    statistics.median(raw["attached"])))
    print(lines[-1], flush=True)
    lines.append("| %s | speed after `moth debug -p` detached | %.3fx (ratio after: median "
                 "%.3f) |" % (version, relative(raw, "after"), statistics.median(raw["after"])))
    print(lines[-1], flush=True)
    if args.write:
        with open(os.path.join(HERE, "RESULTS.md"), "a") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
