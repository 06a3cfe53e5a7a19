"""Paired benchmark runs: a baseline command and tool commands, alternated, ratios per pair.

The machines moth is measured on are noisy (shared, frequency-scaled virtual CPUs), so absolute
times drift from minute to minute; a ratio between two runs made back to back holds. Each
repetition runs the baseline and every tool, each tool paired with the baseline run next to
it, and the order flips from one repetition to the next (A B A B, then B A B A). The result
for a tool is the median of its per-pair ratios.
"""
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field


@dataclass
class Run:
    seconds: float
    stdout: str
    stderr: str
    returncode: int
    extra: object = None


@dataclass
class Series:
    name: str
    pairs: list = field(default_factory=list)   # (baseline Run, tool Run)
    failed: str = ""

    def ratios(self):
        return [t.seconds / b.seconds for b, t in self.pairs]

    def median(self):
        return statistics.median(self.ratios()) if self.pairs else float("nan")


def run_once(argv, env=None, cwd=None, timeout=600):
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)
    return Run(time.perf_counter() - t0, proc.stdout, proc.stderr, proc.returncode)


def paired(baseline, tools, reps=7, env=None, cwd=None, same_output=True, progress=True,
           after_tool=None):
    """baseline: argv; tools: {name: argv}. Returns {name: Series}.

    With same_output, a tool whose stdout differs from the baseline's (beyond what the tool
    appends after it) is marked failed: a benchmark of a broken run means nothing.
    after_tool(name, run) is called after each successful tool run (to read what it wrote);
    whatever it returns is kept in run.extra.
    """
    series = {name: Series(name) for name in tools}
    for rep in range(reps):
        order = list(tools.items())
        if rep % 2:
            order.reverse()
        for name, argv in order:
            s = series[name]
            if s.failed:
                continue
            pair = [("base", baseline), ("tool", argv)]
            if rep % 2:
                pair.reverse()
            got = {}
            for role, cmd in pair:
                got[role] = run_once(cmd, env=env, cwd=cwd)
            b, t = got["base"], got["tool"]
            if b.returncode != 0:
                raise RuntimeError("baseline failed: %s\n%s" % (" ".join(baseline), b.stderr))
            if t.returncode != 0:
                s.failed = "exit status %d: %s" % (t.returncode, t.stderr.strip()[-300:])
            elif same_output and not t.stdout.startswith(b.stdout):
                s.failed = "output differs from the plain run"
            else:
                if after_tool:
                    t.extra = after_tool(name, t)
                s.pairs.append((b, t))
            if progress:
                print("  rep %d %-18s %s" % (rep + 1, name, "x%.2f" % (t.seconds / b.seconds)
                                            if not s.failed else "FAILED " + s.failed),
                      file=sys.stderr, flush=True)
    return series


def machine_line():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return "%d cores, %s" % (os.cpu_count() or 0, cpu)


def publish(lines, write):
    """Prints a result table (lines of Markdown); with write, appends it to bench/RESULTS.md."""
    text = "\n".join(lines + [""])
    print(text)
    if write:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md"),
                  "a") as f:
            f.write("\n" + text + "\n")


def python_version(py):
    """The version of interpreter py, e.g. '3.12.1'."""
    return subprocess.run([py, "-c", "import sys; print(sys.version.split()[0])"],
                          capture_output=True, text=True, check=True).stdout.strip()
