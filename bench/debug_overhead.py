"""What a debugger costs a program it is not stopping: moth debug against pdb.

    python bench/debug_overhead.py [--python PY] [--reps N] [--write]

Sessions, each given to `moth debug` and to `python -m pdb` as the same -c/--command
commands (then `quit` at the restart prompt):
  - breakpoint not reached: a breakpoint in json.dumps (a function the program never calls,
    in a file it never runs), continue;
  - next over a long call: a breakpoint on the workload's `result = main(...)` line, continue,
    then `next`, which runs the whole computation in the frame below;
  - watch in the caller (moth only: pdb has no watch): stopped at that same line, a watch on
    the module's `t0`, then continue: the whole computation runs below the watched frame.
Workloads: fib (recursion of tiny calls) and newton (numeric loops with small calls), sized
so that pdb's runs stay short. Paired runs (bench/pairing.py), whole-process wall time,
median ratio to the plain run.
"""
import argparse
import datetime
import os
import re
import shlex
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from pairing import machine_line, paired, publish, python_version  # noqa: E402

WORKLOADS = {"fib": ["30"], "newton": ["3000"]}


def program_seconds(run):
    """The time the workload measures itself (its `elapsed` line on stderr): the program's
    own run, without the debugger's start-up."""
    m = re.search(r"^elapsed ([0-9.]+)$", run.stderr, re.M)
    return float(m.group(1)) if m else float("nan")


def cell(ratios):
    return "%.2fx (%.2f-%.2f)" % (statistics.median(ratios), min(ratios), max(ratios))


def main_call_line(script):
    with open(script) as f:
        for number, text in enumerate(f, 1):
            if text.strip().startswith("result = main("):
                return number
    raise SystemExit("no `result = main(` line in " + script)


def unreached_line(py):
    """A line of json.dumps: a function the workloads never call, in a file they never run."""
    path = subprocess.run([py, "-c", "import json; print(json.__file__)"], capture_output=True,
                          text=True, check=True).stdout.strip()
    with open(path) as f:
        text = f.read().splitlines()
    start = next(i for i, t in enumerate(text) if t.startswith("def dumps("))
    line = next(i for i in range(start, len(text)) if text[i].startswith("    return "))
    return "%s:%d" % (path, line + 1)


def sessions(unreached, script):
    at_main_call = "break %s:%d" % (script, main_call_line(script))
    return {
        "breakpoint not reached": ["break " + unreached, "continue"],
        "next over main()": [at_main_call, "continue", "next", "continue"],
        "watch in the caller": [at_main_call, "continue", "watch t0", "continue"],
    }


MOTH_ONLY = {"watch in the caller"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--only", metavar="SESSION", help="run only this session (e.g. "
                    "'breakpoint not reached')")
    args = ap.parse_args()
    py = args.python
    version = python_version(py)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    quit_file = os.path.join(HERE, "workloads", ".quit")
    with open(quit_file, "w") as f:
        f.write("quit\n" * 4)
    rows = []
    unreached = unreached_line(py)
    for w, wargs in WORKLOADS.items():
        script = os.path.join(HERE, "workloads", w + ".py")
        for session, commands in sessions(unreached, script).items():
            if args.only and session != args.only:
                continue
            tools = {
                "moth debug": ["sh", "-c", 'exec "$@" < ' + shlex.quote(quit_file), "sh",
                               py, "-m", "moth", "debug"]
                + sum((["--command", c] for c in commands), []) + [script] + wargs,
            }
            if session not in MOTH_ONLY:
                tools["pdb"] = ["sh", "-c", 'exec "$@" < ' + shlex.quote(quit_file), "sh",
                                py, "-m", "pdb"] + sum((["-c", c] for c in commands), []) + \
                    [script] + wargs
            print("== %s, %s (CPython %s)" % (w, session, version), file=sys.stderr)
            series = paired([py, script] + wargs, tools, reps=args.reps, env=env,
                            same_output=False)
            for s in series.values():  # the program must have run to its end under both
                if not s.failed and any(w + " " + wargs[0] not in t.stdout for _, t in s.pairs):
                    s.failed = "the program's output is missing"
            rows.append((w, session, series))
    os.unlink(quit_file)
    cmd = "python bench/debug_overhead.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    names = ["moth debug", "pdb"]
    lines = ["### Debugger overhead, CPython %s (%s)" % (
                 version, datetime.datetime.now().strftime("%Y-%m-%d %H:%M")), "",
             "`%s`; %s; %d paired runs; debugger / plain, median (min-max): the program's own "
             "time (what the workload measures of itself) and the whole process (start-up "
             "included)." % (cmd, machine_line(), args.reps), "",
             "| workload | session | moth debug: program | pdb: program | moth debug: process "
             "| pdb: process |", "|---|---|---|---|---|---|"]
    for w, session, series in rows:
        program, process = [], []
        for n in names:
            s = series.get(n)
            if s is None:
                program.append("n/a")
                process.append("n/a")
            elif s.failed or not s.pairs:
                program.append("failed: " + s.failed[:60])
                process.append("failed")
            else:
                program.append(cell([program_seconds(t) / program_seconds(b)
                                     for b, t in s.pairs]))
                process.append(cell(s.ratios()))
        lines.append("| %s | %s | %s | %s |" % (w, session, " | ".join(program),
                                                 " | ".join(process)))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
