"""How much slower a program runs under moth profile, cProfile and yappi.

    python bench/profile_overhead.py [--python PY] [--reps N] [--workloads fib,newton,...]
                                     [--tools moth,moth-builtins,cprofile,yappi] [--write]

Each workload runs plain and under each tool, paired (bench/pairing.py); "floor" is the cheapest
possible frame-evaluation hook (bench/floor/floor_hook.c: two time-stamp-counter reads per call,
no bookkeeping), the yardstick for moth's default mode. The table gives the
median ratio of whole-process wall time (interpreter start-up, moth's calibration and writing
the profile file included) and the spread. It also checks what moth reports: the cumulative
time moth's profile gives the workload's `main` against the time the plain run measured for
the same call (printed on stderr as "elapsed"), as a median ratio (1.00 = exact).
--write appends the table to bench/RESULTS.md with the command line.
"""
import argparse
import datetime
import marshal
import os
import shlex
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402

WORKLOADS = ["fib", "newton", "stdlib", "threads"]
TOOLS = ["floor", "moth", "moth-builtins", "cprofile", "yappi"]


def build_floor(py, into):
    """Compiles bench/floor/floor_hook.c for interpreter py into directory `into`."""
    info = subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['include']);"
                           "print(sysconfig.get_config_var('EXT_SUFFIX'))"],
                          capture_output=True, text=True, check=True).stdout.split()
    target = os.path.join(into, "floor_hook" + info[1])
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-I" + info[0],
                    os.path.join(HERE, "floor", "floor_hook.c"), "-o", target], check=True)
    return into


def tool_argv(py, tool, script, out):
    if tool == "floor":
        return [py, os.path.join(HERE, "floor", "run_with_floor.py"), script]
    if tool == "moth":
        return [py, "-m", "moth", "profile", "-q", "-o", out, script]
    if tool == "moth-builtins":
        return [py, "-m", "moth", "profile", "--builtins", "-q", "-o", out, script]
    if tool == "cprofile":
        return [py, "-m", "cProfile", "-o", out, script]
    if tool == "yappi":
        return [py, "-m", "yappi", "-c", "wall", "-f", "pstat", "-o", out, script]
    raise ValueError(tool)


def elapsed(stderr):
    for line in stderr.splitlines():
        if line.startswith("elapsed "):
            return float(line.split()[1])
    return None


def reported_main(path):
    """moth's cumulative time for the workload's main() (or fib's outermost fib)."""
    with open(path, "rb") as f:
        stats = marshal.load(f)
    for (file, line, name), (cc, nc, tt, ct, callers) in stats.items():
        if name == "main" and file.endswith(".py") and "workloads" in file:
            return ct
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()

    py = args.python
    version = python_version(py)
    env = dict(os.environ)
    tmp = tempfile.mkdtemp(prefix="moth-bench-")
    env["PYTHONPATH"] = os.pathsep.join([os.path.join(ROOT, "src"), build_floor(py, tmp),
                                         env.get("PYTHONPATH", "")])
    rows = []
    for w in args.workloads.split(","):
        script = os.path.join(HERE, "workloads", w + ".py")
        tools = {t: tool_argv(py, t, script, os.path.join(tmp, "%s-%s.out" % (w, t)))
                 for t in args.tools.split(",")}
        print("== %s (CPython %s)" % (w, version), file=sys.stderr)
        def after(name, run, w=w):
            if name == "moth":
                return reported_main(os.path.join(tmp, "%s-moth.out" % w))
            return None
        series = paired([py, script], tools, reps=args.reps, env=env,
                        cwd=os.path.join(HERE, "workloads"), after_tool=after)
        fidelity = ""
        if "moth" in series and series["moth"].pairs:
            # Each moth run's report of main() against the paired plain run's own timing.
            ratios = [t.extra / elapsed(b.stderr) for b, t in series["moth"].pairs
                      if t.extra and elapsed(b.stderr)]
            if ratios:
                fidelity = "%.2f (%.2f-%.2f)" % (statistics.median(ratios), min(ratios),
                                                 max(ratios))
        rows.append((w, series, fidelity))

    lines = []
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    cmd = "python bench/profile_overhead.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    lines.append("### Profiler overhead, CPython %s (%s)" % (version, when))
    lines.append("")
    lines.append("`%s`; %s; %d paired runs each; whole-process wall time, tool / plain, "
                 "median (min-max)." % (cmd, machine_line(), args.reps))
    lines.append("")
    names = args.tools.split(",")
    lines.append("| workload | " + " | ".join(names) +
                 " | moth's report of main() / plain run's own time |")
    lines.append("|---" * (len(names) + 2) + "|")
    for w, series, fidelity in rows:
        cells = []
        for n in names:
            s = series[n]
            if s.failed or not s.pairs:
                cells.append("failed: " + (s.failed or "no runs")[:60])
            else:
                r = s.ratios()
                cells.append("%.2fx (%.2f-%.2f)" % (s.median(), min(r), max(r)))
        lines.append("| %s | %s | %s |" % (w, " | ".join(cells), fidelity or "-"))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
