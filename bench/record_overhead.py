"""What sampling from outside costs: moth record against py-spy and austin, and moth dump.

    python bench/record_overhead.py [--python PY] [--reps N] [--parts cost,overhead,shares,dump]
                                    [--write]

PY is an interpreter with moth, py-spy and austin installed (requirements-bench.txt).
  cost      one sample of a 50-frame stack: moth's own report (time per round), and for every
            tool its CPU time (user + system, from wait4) over the samples asked for, at 1 kHz
            and 10 kHz, with the share of the requested rounds taken
  overhead  the bench workloads' own time (each prints it) plain and while recorded at 1 kHz,
            paired A B A B, tool / plain, median (min-max); py-spy both without and with its
            default pausing of the target, austin
  shares    each function's share of the samples against its share of time in moth's
            deterministic profile of the same program (own time, the time of C functions
            given to their callers, as a sampler sees it; and inclusive time)
  dump      moth dump (and py-spy dump) of a process with 100 threads: wall time, median
  native    what --native adds: moth record, --blocking and --native on the 50-frame target at
            1 kHz (CPU per sample, moth's time per round, rounds taken), the three interleaved
            run after run; and the workloads' slowdown while recorded with --native at 1 kHz
--write appends the tables to bench/RESULTS.md with the command line.
"""
import argparse
import datetime
import os
import pstats
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pairing import machine_line, publish, python_version  # noqa: E402

WORKLOADS = {"fib": ["30"], "newton": [], "stdlib": [], "threads": []}
# Longer runs for comparing shares: a couple of seconds, thousands of samples.
SHARES_WORKLOADS = {"newton": ["200000"], "stdlib": ["240"], "fib": ["35"]}

DEEP = """\
import sys, time
def down(n, seconds):
    if n > 1:
        return down(n - 1, seconds)
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        x += 1
    return x
print("ready", flush=True)
down(50 - 1, float(sys.argv[1]))
"""

MANY_THREADS = """\
import threading
ev = threading.Event()
def nest(n):
    if n:
        return nest(n - 1)
    ev.wait()
ts = [threading.Thread(target=nest, args=(10,), name="worker-%d" % i) for i in range(100)]
for t in ts:
    t.start()
print("ready", flush=True)
input()
ev.set()
"""


def bin_of(py, name):
    return os.path.join(os.path.dirname(py), name)


def start_target(py, code, *args):
    proc = subprocess.Popen([py, "-c", code, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def cpu_of(argv):
    """Runs argv; returns (CPU seconds of the process and its children, stdout + stderr)."""
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        return usage.ru_utime + usage.ru_stime, out.read()


def cost(py, reps, seconds=3.0):
    rows = ["| tool | rate | CPU per sample asked for, median (min-max) | moth: time per round "
            "| rounds taken |", "|---|---|---|---|---|"]
    tmp = tempfile.mkdtemp()
    for rate in (1000, 10000):
        tools = {
            "moth record": lambda pid: [py, "-m", "moth", "record", "-p", str(pid), "--rate",
                                        str(rate), "--duration", str(seconds), "-o",
                                        os.path.join(tmp, "c.moth")],
            "py-spy --nonblocking": lambda pid: [bin_of(py, "py-spy"), "record", "-p", str(pid),
                                                 "--rate", str(rate), "--duration",
                                                 str(int(seconds)), "--nonblocking", "-f", "raw",
                                                 "-o", os.path.join(tmp, "c.txt")],
            "austin": lambda pid: [bin_of(py, "austin"), "-p", str(pid), "-i",
                                   str(int(1e6 / rate)), "-x", str(int(seconds)), "-o",
                                   os.path.join(tmp, "c.austin")],
        }
        for name, argv_of in tools.items():
            per, per_round, taken = [], [], []
            for _ in range(reps):
                target = start_target(py, DEEP, str(seconds + 3))
                try:
                    cpu, text = cpu_of(argv_of(target.pid))
                finally:
                    target.kill()
                    target.wait()
                per.append(1e6 * cpu / (rate * seconds))
                m = re.search(r"(\d+) rounds of (\d+) asked for \(([\d.]+)%\), ([\d.]+) us per "
                              r"round", text)
                if m:
                    per_round.append(float(m.group(4)))
                    taken.append(float(m.group(3)))
            rows.append("| %s | %d Hz | %.1f us (%.1f-%.1f) | %s | %s |" % (
                name, rate, statistics.median(per), min(per), max(per),
                "%.1f us" % statistics.median(per_round) if per_round else "",
                "%.1f%% (min %.1f%%)" % (statistics.median(taken), min(taken)) if taken else ""))
            print(rows[-1], file=sys.stderr, flush=True)
    return ["One sample of a 50-frame stack (a target spinning at the bottom of a 50-deep "
            "recursion, sampled for %g s)." % seconds, ""] + rows


def native(py, reps, seconds=3.0, rate=1000):
    tmp = tempfile.mkdtemp()
    variants = {"moth record": [], "moth record --blocking": ["--blocking"],
                "moth record --native": ["--native"]}
    per = {name: [] for name in variants}
    per_round = {name: [] for name in variants}
    taken = {name: [] for name in variants}
    for rep in range(reps):
        for name, extra in (list(variants.items())[::-1] if rep % 2 else variants.items()):
            target = start_target(py, DEEP, str(seconds + 3))
            try:
                cpu, text = cpu_of([py, "-m", "moth", "record", *extra, "-p", str(target.pid),
                                    "--rate", str(rate), "--duration", str(seconds), "-o",
                                    os.path.join(tmp, "n.moth")])
            finally:
                target.kill()
                target.wait()
            per[name].append(1e6 * cpu / (rate * seconds))
            m = re.search(r"(\d+) rounds of (\d+) asked for \(([\d.]+)%\), ([\d.]+) us per "
                          r"round", text)
            if m:
                per_round[name].append(float(m.group(4)))
                taken[name].append(float(m.group(3)))
    rows = ["| moth record | CPU per sample asked for, median (min-max) | time per round "
            "| rounds taken |", "|---|---|---|---|"]
    for name in variants:
        p, r, t = per[name], per_round[name], taken[name]
        rows.append("| %s | %.1f us (%.1f-%.1f) | %s | %s |" % (
            name[len("moth record"):].strip() or "(default)", statistics.median(p), min(p),
            max(p), "%.1f us" % statistics.median(r) if r else "",
            "%.1f%% (min %.1f%%)" % (statistics.median(t), min(t)) if t else ""))
        print(rows[-1], file=sys.stderr, flush=True)
    slow = ["| workload | moth record --native, 1 kHz |", "|---|---|"]
    prefix = [py, "-m", "moth", "record", "--native", "--rate", str(rate), "-q", "-o",
              os.path.join(tmp, "w.moth")]
    for workload in ("fib", "newton"):
        script = [os.path.join(HERE, "workloads", workload + ".py"), *WORKLOADS[workload]]
        ratios = []
        for rep in range(reps):
            pair = [("base", [py, *script]), ("tool", prefix + script)]
            if rep % 2:
                pair.reverse()
            got = {role: elapsed_of(subprocess.run(argv, capture_output=True,
                                                   text=True).stderr) for role, argv in pair}
            if got["base"] and got["tool"]:
                ratios.append(got["tool"] / got["base"])
        slow.append("| %s | %s |" % (workload, "%.3fx (%.2f-%.2f)" % (
            statistics.median(ratios), min(ratios), max(ratios)) if ratios else "failed"))
        print(slow[-1], file=sys.stderr, flush=True)
    return (["What --native costs: one sample of the 50-frame stack (the target of `cost`; with "
             "--native its C stack is ~110 frames deep) at %d Hz for %g s, the three "
             "interleaved, %d runs each." % (rate, seconds, reps), ""] + rows +
            ["", "The target's own time while recorded with --native at %d Hz, over its time "
             "run plain; paired, %d pairs, median (min-max)." % (rate, reps), ""] + slow)


def elapsed_of(stderr):
    m = re.search(r"elapsed ([\d.]+)", stderr)
    return float(m.group(1)) if m else None


def overhead(py, reps):
    tmp = tempfile.mkdtemp()
    tools = {
        "moth record": [py, "-m", "moth", "record", "--rate", "1000", "-q", "-o",
                        os.path.join(tmp, "o.moth")],
        "py-spy --nonblocking": [bin_of(py, "py-spy"), "record", "--rate", "1000", "--nonblocking",
                                 "-f", "raw", "-o", os.path.join(tmp, "o.txt"), "--"],
        "py-spy (pauses)": [bin_of(py, "py-spy"), "record", "--rate", "1000", "-f", "raw", "-o",
                            os.path.join(tmp, "o2.txt"), "--"],
        "austin": [bin_of(py, "austin"), "-i", "1000", "-o", os.path.join(tmp, "o.austin")],
    }
    rows = ["| workload | " + " | ".join(tools) + " |", "|---|" + "---|" * len(tools)]
    for workload, args in WORKLOADS.items():
        script = [os.path.join(HERE, "workloads", workload + ".py"), *args]
        ratios = {name: [] for name in tools}
        for rep in range(reps):
            for name, prefix in (list(tools.items())[::-1] if rep % 2 else tools.items()):
                pair = [("base", [py, *script]), ("tool", prefix + ([py] if name != "moth record"
                                                                     else []) + script)]
                if rep % 2:
                    pair.reverse()
                got = {}
                for role, argv in pair:
                    proc = subprocess.run(argv, capture_output=True, text=True)
                    got[role] = elapsed_of(proc.stderr)
                if got["base"] and got["tool"]:
                    ratios[name].append(got["tool"] / got["base"])
        cells = []
        for name in tools:
            r = ratios[name]
            cells.append("%.3fx (%.2f-%.2f)" % (statistics.median(r), min(r), max(r)) if r
                         else "failed")
        rows.append("| %s | %s |" % (workload, " | ".join(cells)))
        print(rows[-1], file=sys.stderr, flush=True)
    return ["The target's own time (the workload measures itself) while recorded at 1 kHz, "
            "over its time run plain; paired, %d pairs, median (min-max)." % reps, ""] + rows


def folded_own(stats):
    """Own time per Python function, the own time of C functions given to their callers in
    proportion to what each caller spent in them (a sampler sees no C frames)."""
    own = {}
    for func, (cc, nc, tt, ct, callers) in stats.stats.items():
        if func[0] == "~":       # a C function: its time goes to its callers
            for caller, value in callers.items():
                own[caller] = own.get(caller, 0.0) + value[2]
        else:
            own[func] = own.get(func, 0.0) + tt
    return own


def shares_of(values):
    total = sum(values.values()) or 1.0
    return {k: v / total for k, v in values.items()}


def shares(py, reps):
    tmp = tempfile.mkdtemp()
    rows = ["| workload | functions over 1% | largest difference, own time (pp) | largest "
            "difference, inclusive (pp) | samples |", "|---|---|---|---|---|"]
    for workload, args in SHARES_WORKLOADS.items():
        script = [os.path.join(HERE, "workloads", workload + ".py"), *args]
        det, samp = os.path.join(tmp, "d.prof"), os.path.join(tmp, "s.prof")
        worst_own, worst_cum, nfuncs, nsamples = [], [], 0, 0
        for _ in range(reps):
            subprocess.run([py, "-m", "moth", "profile", "-q", "-o", det, *script],
                           check=True, capture_output=True)
            proc = subprocess.run([py, "-m", "moth", "record", "--rate", "1000", "-o", samp,
                                   *script], check=True, capture_output=True, text=True)
            m = re.search(r"(\d+) samples of", proc.stdout)
            nsamples = int(m.group(1)) if m else 0
            d, s = pstats.Stats(det), pstats.Stats(samp)
            d_own, s_own = shares_of(folded_own(d)), shares_of(folded_own(s))
            root = max(d.stats.values(), key=lambda v: v[3])[3] or 1.0
            sroot = max(s.stats.values(), key=lambda v: v[3])[3] or 1.0
            keys = [k for k, v in d_own.items() if v >= 0.01]
            nfuncs = len(keys)
            worst_own.append(max(abs(d_own[k] - s_own.get(k, 0.0)) for k in keys) * 100)
            worst_cum.append(max(abs(d.stats[k][3] / root - s.stats.get(k, (0, 0, 0, 0))[3] /
                                     sroot) for k in keys) * 100)
        rows.append("| %s | %d | %.2f (max %.2f) | %.2f (max %.2f) | %d |" % (
            workload, nfuncs, statistics.median(worst_own), max(worst_own),
            statistics.median(worst_cum), max(worst_cum), nsamples))
        print(rows[-1], file=sys.stderr, flush=True)
    return ["Shares of the samples (moth record, 1 kHz) against shares of time in moth's "
            "deterministic profile of the same program, the largest difference over the functions "
            "with at least 1%% of the time; median over %d runs (max)." % reps, ""] + rows


def dump(py, reps):
    target = start_target(py, MANY_THREADS)
    rows = ["| tool | wall time, median (min-max) |", "|---|---|"]
    try:
        for name, argv in (("moth dump", [py, "-m", "moth", "dump", str(target.pid)]),
                           ("moth dump (the C part, no Python start-up)",
                            None),
                           ("py-spy dump", [bin_of(py, "py-spy"), "dump", "--nonblocking",
                                            "--pid", str(target.pid)])):
            if argv is None:
                # The interpreter's own start-up is not moth's: time the command inside one.
                code = ("import sys, time, moth._moth as m; t = time.perf_counter(); "
                        "m.main(['moth', 'dump', sys.argv[1]]); "
                        "print('took %f' % (time.perf_counter() - t), file=sys.stderr)")
                times = []
                for _ in range(reps):
                    proc = subprocess.run([py, "-c", code, str(target.pid)], capture_output=True,
                                          text=True)
                    m = re.search(r"took ([\d.]+)", proc.stderr)
                    if m and "MainThread" in proc.stdout:
                        times.append(float(m.group(1)))
                if not times:
                    continue
            else:
                times = []
                for _ in range(reps):
                    t0 = time.perf_counter()
                    proc = subprocess.run(argv, capture_output=True, text=True)
                    took = time.perf_counter() - t0
                    if proc.returncode == 0:
                        times.append(took)
            if times:
                rows.append("| %s | %.1f ms (%.1f-%.1f) |" % (
                    name, 1e3 * statistics.median(times), 1e3 * min(times), 1e3 * max(times)))
                print(rows[-1], file=sys.stderr, flush=True)
    finally:
        target.stdin.write("\n")
        target.stdin.flush()
        target.wait()
    return ["A dump of a process with 101 threads (100 waiting 11 frames deep), %d runs." % reps,
            ""] + rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--parts", default="cost,overhead,shares,dump")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    py = args.python
    parts = {"cost": cost, "overhead": overhead, "shares": shares, "dump": dump,
             "native": native}
    lines = ["### moth record / moth dump from outside, Python %s (%s)" % (
        python_version(py), datetime.date.today().isoformat()), "",
        "`%s` on %s, load average %s before the run." % (
            " ".join(["python", "bench/record_overhead.py"] + [shlex.quote(a) for a in
                                                                sys.argv[1:]]),
            machine_line(), " ".join(open("/proc/loadavg").read().split()[:3])), ""]
    for name in args.parts.split(","):
        lines += parts[name](py, args.reps if name != "dump" else max(args.reps, 11)) + [""]
    publish(lines, args.write)


if __name__ == "__main__":
    main()
