"""Line-level profiling: exact hits, time in the right lines, only the selected code traced."""
import re
import sqlite3
import subprocess
import sys

import pytest

from conftest import PROGRAMS, moth_env, run_moth, run_python, spawn_on_terminal

PROG = PROGRAMS / "lines_prog.py"
SOURCE = PROG.read_text().splitlines()


def line_of(text, function=None, source=None):
    """The line number of the first source line starting (after indentation) with text, in
    the given function's body when one is named (in lines_prog.py, or the source given)."""
    lines = source.splitlines() if source is not None else SOURCE
    start = 0
    if function:
        start = next(i for i, line in enumerate(lines) if line.startswith(f"def {function}("))
    return next(i + 1 for i, line in enumerate(lines) if i >= start and line.strip().startswith(text))


def parse_report(out):
    """{function name: {line: (hits, time_us)}} from a line_profiler-style report."""
    result, current = {}, None
    for line in out.splitlines():
        m = re.match(r"Function: (\S+) at line \d+", line)
        if m:
            current = result.setdefault(m.group(1), {})
            continue
        m = re.match(r"\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
        if m and current is not None:
            current[int(m.group(1))] = (int(m.group(2)), float(m.group(3)))
    return result


@pytest.fixture(scope="module")
def report():
    proc = run_moth("profile", "--lines", "--limit", "0", PROG, check=0)
    return parse_report(proc.stdout), proc.stdout


def test_exact_hits_in_loops(report):
    lines = report[0]
    # loop: called by main (100) and by sleepy (10) and two threads (50 each)
    calls, n = 4, 100 + 10 + 50 + 50
    assert lines["loop"][line_of("total = 0")][0] == calls
    assert lines["loop"][line_of("for i in range(n):")][0] == n + calls
    assert lines["loop"][line_of("total += i")][0] == n
    assert lines["loop"][line_of("return total")][0] == calls
    assert lines["counting"][line_of("while i < n:")][0] == 8
    assert lines["counting"][line_of("i += 1")][0] == 7


def test_generators_recursion_and_exceptions(report):
    lines = report[0]
    assert lines["gen"][line_of("yield i * 2")][0] == 4
    assert lines["gen"][line_of("for i in range(n):", "gen")][0] == 5
    assert lines["recurse"][line_of("if n == 0:")][0] == 6
    assert lines["recurse"][line_of("return 1 + recurse(n - 1)")][0] == 5
    assert lines["recurse"][line_of("return 0")][0] == 1
    assert lines["fails"][line_of('raise ValueError("x")')][0] == 1
    assert lines["fails"][line_of("except ValueError:")][0] == 1
    assert lines["fails"][line_of("return 2")][0] == 1
    assert lines["fails"][line_of("return 1", "fails")][0] == 1


def test_time_goes_to_the_line_that_spent_it(report):
    sleepy = report[0]["sleepy"]
    slept = sleepy[line_of("time.sleep(0.2)")][1]
    assert slept >= 195_000          # microseconds
    assert sleepy[line_of("return loop(10)")][1] < slept / 20


def test_only_the_programs_own_code(report):
    names = set(report[0])
    assert {"loop", "counting", "gen", "consume", "recurse", "fails", "sleepy",
            "uses_library", "in_threads", "main"} <= names
    # json's and threading's functions ran but are not the program's: not line-profiled
    assert not names & {"dumps", "encode", "iterencode", "start", "join", "run", "_bootstrap"}
    assert "<module>" not in names


def test_func_patterns_select(tmp_path):
    proc = run_moth("profile", "--func", "loop", "--func", "lines_prog.rec*", PROG, check=0)
    names = set(parse_report(proc.stdout))
    assert names == {"loop", "recurse"}


def test_decorator_selects_from_inside(program):
    script = program("deco.py", """\
import moth

@moth.profile_lines
def chosen(n):
    s = 0
    for i in range(n):
        s += i
    return s

def other():
    return chosen(5)

other()
""")
    # with --func matching nothing: only the decorated function is line-profiled
    proc = run_moth("profile", "--func", "nothing_matches", script, check=0)
    lines = parse_report(proc.stdout)
    assert set(lines) == {"chosen"}
    assert lines["chosen"][6][0] == 6 and lines["chosen"][7][0] == 5


def test_line_data_in_moth_file_stats_and_flame(tmp_path):
    moth = tmp_path / "l.moth"
    html = tmp_path / "l.html"
    run_moth("profile", "--lines", "-q", "-o", moth, "--flame", html, PROG, check=0)
    con = sqlite3.connect(moth)
    rows = dict(con.execute(
        "select l.line, l.hits from lines l join functions f on f.run = l.run and f.id = l.function "
        "where f.name = 'counting'"))
    assert rows[line_of("i += 1")] == 7 and rows[line_of("while i < n:")] == 8
    out = run_moth("stats", "--lines", "--limit", "0", moth, check=0).stdout
    assert parse_report(out)["counting"][line_of("i += 1")][0] == 7
    assert "hottest lines" in html.read_text() and '"ln":[[' in html.read_text()
    proc = run_moth("stats", "--lines", tmp_path / "none.prof")
    assert proc.returncode != 0


def test_report_in_colour_at_a_terminal(tmp_path):
    """At a terminal the source is coloured and large shares stand out; without the escapes
    the report is the one printed to a pipe, and NO_COLOR gives that one exactly."""
    pytest.importorskip("pexpect")
    moth = tmp_path / "l.moth"
    run_moth("profile", "--lines", "-q", "-o", moth, PROG, check=0)

    def at_terminal(**env):
        child = spawn_on_terminal("stats", "--lines", "--limit", "0", moth,
                                  env=dict(env, TERM="xterm"), timeout=60)
        text = child.read()
        child.close()
        assert child.process.wait(timeout=60) == 0
        return text.replace("\r\n", "\n")

    coloured = at_terminal()
    piped = run_moth("stats", "--lines", "--limit", "0", moth).stdout
    assert re.sub("\x1b\\[[0-9;]*m", "", coloured) == piped
    assert at_terminal(NO_COLOR="1") == piped
    assert "\x1b[35mwhile\x1b[0m i < n:" in coloured                 # the source
    assert re.search("\x1b\\[1;31m +[0-9.]+\x1b\\[0m  ", coloured)   # a line of >= 10%


def test_line_profile_api(program):
    script = program("api.py", """\
import moth

def work(n):
    out = []
    for i in range(n):
        out.append(i)
    return len(out)

lp = moth.LineProfile(work)
lp.runcall(work, 3)
with lp:
    work(2)
lp.print_stats()

p = moth.Profile(lines=True)
p.runcall(work, 4)
p.print_lines()
""")
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    reports = proc.stdout.split("Timer unit:")[1:]
    assert len(reports) == 2
    first, second = parse_report(reports[0]), parse_report(reports[1])
    assert first["work"][5][0] == 3 + 2 + 2     # for line: n + 1 per call
    assert first["work"][6][0] == 5
    assert second["work"][6][0] == 4


def test_lines_with_builtins_is_refused():
    proc = run_moth("profile", "--lines", "--builtins", "-c", "pass")
    assert proc.returncode == 2 and "--builtins" in proc.stderr


# The interpreter's own line events, counted per (qualified name, line) for the functions of
# one file: sys.settrace's ("trace", what line_profiler and pdb see), or on 3.12+ the
# sys.monitoring LINE events ("monitoring") that moth's engine listens to there.
LINE_EVENTS = r"""
import collections, runpy, sys
target, kind = sys.argv[1:]
counts = collections.Counter()
def wanted(code):
    return code.co_filename == target and code.co_name != "<module>"
if kind == "trace":
    def trace(frame, event, arg):
        if not wanted(frame.f_code):
            return None
        if event == "line":
            counts[frame.f_code.co_qualname, frame.f_lineno] += 1
        return trace
    sys.settrace(trace)
else:
    mon = sys.monitoring
    mon.use_tool_id(3, "test")
    def line(code, n):
        if not wanted(code):
            return mon.DISABLE
        counts[code.co_qualname, n] += 1
    mon.register_callback(3, mon.events.LINE, line)
    mon.set_events(3, mon.events.LINE)
runpy.run_path(target, run_name="__main__")
sys.settrace(None)
for (name, line), n in counts.items():
    print(name, line, n)
"""


def line_events(prog, kind, env):
    out = subprocess.run([sys.executable, "-c", LINE_EVENTS, str(prog), kind],
                         capture_output=True, text=True, check=True, env=env).stdout
    counts = {}
    for line in out.splitlines():
        name, number, n = line.split()
        counts[name, int(number)] = int(n)
    return counts


def summed_hits(out):
    """{(qualified name, line): hits} from a report, summing functions that share a name
    (two comprehensions on one line)."""
    hits, current = {}, None
    for line in out.splitlines():
        m = re.match(r"Function: (\S+) at line \d+", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"\s*(\d+)\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)", line)
        if m and current:
            key = (current, int(m.group(1)))
            hits[key] = hits.get(key, 0) + int(m.group(2))
    return hits


def test_hits_are_the_interpreters_own_line_events(tmp_path):
    """Loops of every kind, one-liners, closures, comprehensions, generators, yield from,
    coroutines, exceptions, with, multi-line expressions, and a function long enough that its
    jumps and constants need EXTENDED_ARG: moth counts exactly the line events tracing
    reports (on 3.11 moth's probes stand in for tracing, so this checks where they go; on
    3.13 it counts the first line of one-line functions, which LINE events leave out), except
    for loops written on one line on 3.12+, where it counts the LINE events."""
    body = ["def long_function(r):", "    total = 0", "    for i in range(3):"]
    body += [f"        total += {k} * i" for k in range(300)]
    body += ["    return total", "", ""]
    text = (PROGRAMS / "line_shapes.py").read_text()
    head, guard = text.split('if __name__ == "__main__":')
    prog = tmp_path / "line_shapes.py"
    prog.write_text(head + "\n".join(body) + 'if __name__ == "__main__":' + guard)
    env = moth_env({"LINE_SHAPES_TWINS": "1"})
    expected = line_events(prog, "trace", env)
    if sys.version_info >= (3, 12):
        # LINE events do not repeat a line for a loop written on one line, as tracing does
        # once per iteration: there moth counts what the interpreter reports (README).
        one_line_loops = {("closure", line_of("return [inner(i)", "closure", text)),
                          ("one_line_loop", line_of("for i in range(n): n += 1", None, text)),
                          ("Thing.method.<locals>.<genexpr>",
                           line_of("i for i in range(n)", None, text))}
        monitored = line_events(prog, "monitoring", env)
        for k in one_line_loops:
            expected[k] = monitored[k]
    proc = run_moth("profile", "--lines", "--limit", "0", prog, check=0, env=env)
    def shapes(hits):   # without the check below, whose work depends on what it finds
        return {k: n for k, n in hits.items() if not k[0].startswith("without_probes")}
    assert shapes(summed_hits(proc.stdout)) == shapes(expected)
    if sys.version_info[:2] == (3, 11):   # the probes did the counting, not a trace function
        assert "without probes: []" in proc.stderr, proc.stderr
    assert expected[("long_function", len(head.splitlines()) + 4)] == 3 * 3   # it did run


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="3.11 twins (lines_rewrite.c)")
def test_functions_run_twins_only_while_profiled(program):
    """On 3.11 a line-profiled function runs a twin of its code from its second call on, and
    gets its own code back when the session ends; what it computes does not change."""
    script = program("twins.py", """\
import moth

def work(n):
    total = 0
    for i in range(n):
        total += i
    return total

original = work.__code__
p = moth.Profile(lines=True)
p.enable()
results = [work(5), work(5)]
during = work.__code__
p.disable()
print(results, during is not original, type(during.co_consts[-1]).__name__, work.__code__ is original)
print(during.co_name, during.co_firstlineno, during.co_filename == original.co_filename)
p.print_lines()
q = moth.Profile(lines=True)        # cleared while enabled: no stop puts the code back
q.enable(); work(1); work(1); before = work.__code__ is not original
q.clear(); print("clear", before, work.__code__ is original); q.disable()
""")
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.splitlines()
    assert out[0] == "[10, 10] True LineProbe True"
    assert out[-1] == "clear True True"
    assert out[1] == "work 3 True"
    hits = parse_report(proc.stdout)["work"]
    assert hits[5][0] == 12 and hits[6][0] == 10    # the traced call and the probed one


def test_every_function_line_profiled_program_unchanged(tmp_path):
    """--func '*' selects the standard library too (json, re, sorting, the import system):
    on 3.11 hundreds of its functions then run twins with probes. The program's output is the
    plain run's."""
    script = PROGRAMS.parent.parent / "bench" / "workloads" / "stdlib.py"
    plain = run_python(script, "2")
    assert plain.returncode == 0, plain.stderr
    proc = run_moth("profile", "-q", "--func", "*", "-o", tmp_path / "all.moth", script, "2",
                    check=0)
    assert proc.stdout == plain.stdout
    shown = run_moth("stats", "--lines", tmp_path / "all.moth", check=0).stdout
    assert "json/encoder.py" in shown and "Function: process at line" in shown
