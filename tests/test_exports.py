"""moth export: each format checked against its own rules, not just "a file was written"."""
import json
import pstats
import re
import shutil
import subprocess

import pytest

from conftest import tool_env

from conftest import PROGRAMS, run_moth

PROGRAM = PROGRAMS / "threaded.py"


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    moth, prof = d / "t.moth", d / "t.prof"
    run_moth("profile", "-q", "-o", moth, PROGRAM, check=0)
    run_moth("profile", "-q", "-o", prof, PROGRAM, check=0)
    return moth, prof


def export(path, fmt, tmp_path):
    out = tmp_path / f"out.{fmt}"
    run_moth("export", path, "--format", fmt, "-o", out, check=0)
    return out.read_text()


def tree_self_seconds(moth_path):
    import sqlite3
    con = sqlite3.connect(moth_path)
    (total,) = con.execute("select sum(self) from nodes").fetchone()
    threads = con.execute("select count(*) from threads").fetchone()[0]
    con.close()
    return total, threads


def test_collapsed_stacks_follow_flamegraph_pl(profile, tmp_path):
    text = export(profile[0], "collapsed", tmp_path)
    lines = text.splitlines()
    assert lines
    total = 0
    for line in lines:
        m = re.match(r"^(.*)\s+?(\d+(?:\.\d*)?)$", line)   # flamegraph.pl's own pattern
        assert m, line
        frames = m.group(1).split(";")
        assert frames[0].startswith("thread ")           # one root per thread
        assert all(frames)
        total += int(m.group(2))
    expected, threads = tree_self_seconds(profile[0])
    assert threads == 3
    assert abs(total - expected * 1e6) <= len(lines)      # microseconds, rounded per line
    assert any(line.count("recurse (threaded.py:12)") == 8 for line in lines)  # depth 7 + 1
    assert len(set(line.rsplit(" ", 1)[0] for line in lines)) == len(lines)    # unique stacks


def test_speedscope_file_format(profile, tmp_path):
    doc = json.loads(export(profile[0], "speedscope", tmp_path))
    assert doc["$schema"] == "https://www.speedscope.app/file-format-schema.json"
    frames = doc["shared"]["frames"]
    assert all("name" in f for f in frames)
    assert len(doc["profiles"]) == 3
    names = {p["name"] for p in doc["profiles"]}
    assert {"MainThread", "worker-0", "worker-1"} == names
    for p in doc["profiles"]:
        assert p["type"] == "sampled" and p["unit"] == "seconds"
        assert len(p["samples"]) == len(p["weights"])
        assert all(0 <= i < len(frames) for s in p["samples"] for i in s)
        assert abs(sum(p["weights"]) - p["endValue"]) < 1e-6
        assert p["startValue"] == 0
    worker = [p for p in doc["profiles"] if p["name"] == "worker-1"][0]
    deepest = max(worker["samples"], key=len)
    assert [frames[i]["name"] for i in deepest].count("recurse") == 8


def test_chrome_trace_events_nest(profile, tmp_path):
    doc = json.loads(export(profile[0], "chrome", tmp_path))
    events = doc["traceEvents"]
    names = [e for e in events if e["ph"] == "M"]
    assert {e["args"]["name"] for e in names} == {"MainThread", "worker-0", "worker-1"}
    complete = [e for e in events if e["ph"] == "X"]
    assert complete
    for e in complete:
        assert {"name", "ts", "dur", "pid", "tid"} <= set(e) and e["dur"] >= 0
    # any two events of a thread are nested or disjoint: a valid call stack timeline
    by_tid = {}
    for e in complete:
        ts, dur = round(e["ts"] * 1000), round(e["dur"] * 1000)   # exact nanoseconds
        by_tid.setdefault(e["tid"], []).append((ts, ts + dur))
    eps = 0.0   # times are exact: a child starts no earlier than its previous sibling ended
    for spans in by_tid.values():
        spans.sort(key=lambda s: (s[0], -s[1]))
        stack = []
        for start, end in spans:
            while stack and start >= stack[-1] - eps:
                stack.pop()
            if stack:
                assert end <= stack[-1], (start, end, stack[-1])
            stack.append(end)


def parse_callgrind(text):
    """{(file, name): {"self": ns, "calls": [((file, name), count, inclusive ns)]}}"""
    assert text.startswith("# callgrind format\n")
    assert "\nevents: Time_ns\n" in text
    funcs, current, pending, file, callee_file = {}, None, None, None, None
    for line in text.splitlines():
        if line.startswith("fl="):
            file = line[3:]
        elif line.startswith("fn="):
            current = (file, line[3:])
            funcs[current] = {"self": 0, "calls": []}
        elif line.startswith("cfl="):
            callee_file = line[4:]
        elif line.startswith("cfn="):
            pending = (callee_file, line[4:])
        elif line.startswith("calls="):
            count = int(line.split("=")[1].split()[0])
            pending = (pending, count)
        elif line and line[0].isdigit():
            line_no, cost = line.split()
            if isinstance(pending[1] if pending else None, int):
                funcs[current]["calls"].append((pending[0], pending[1], int(cost)))
                pending = None
            else:
                funcs[current]["self"] += int(cost)
    return funcs


@pytest.mark.parametrize("which", [0, 1])
def test_callgrind_costs_are_consistent(profile, tmp_path, which):
    funcs = parse_callgrind(export(profile[which], "callgrind", tmp_path))
    by_label = None
    if which:
        stats = pstats.Stats(str(profile[1])).stats
        by_label = {pstats.func_std_string(k): v for k, v in stats.items()}
    (worker,) = [f for f in funcs if f[1] == "worker"]
    assert worker[0].endswith("threaded.py")
    # inclusive time of worker = its own + what it called (no recursion through worker)
    own = funcs[worker]["self"]
    called = sum(c[2] for c in funcs[worker]["calls"])
    calls = {c[0][1]: c[1] for c in funcs[worker]["calls"]}
    assert calls["recurse"] == 40 and calls["cold"] == 2
    if by_label:
        (key,) = [k for k in by_label if k.endswith("(worker)")]
        assert abs(own + called - by_label[key][3] * 1e9) < 1e3 * (1 + len(funcs[worker]["calls"]))


def test_callgrind_names_functions_as_kcachegrind_users_expect(profile, tmp_path):
    text = export(profile[0], "callgrind", tmp_path)
    funcs = parse_callgrind(text)
    stats = pstats.Stats(str(profile[0]).replace(".moth", ".prof")).stats
    # the file only in fl=, the function by its name; the line only where two share a name
    names = [k[2] for k in stats]
    for file, line, name in stats:
        shown = f"{name}:{line}" if names.count(name) > 1 else name
        assert (file, shown) in funcs, (file, shown)
    assert ("~", "<built-in method builtins.len>") not in funcs        # fast mode: no C rows
    shared = [f for f in funcs if f[1].startswith("__init__:") and f[0].endswith("threading.py")]
    assert len(shared) >= 2                # Thread's, Condition's, Event's...
    assert not any(f[0] in f[1] for f in funcs)
    if shutil.which("callgrind_annotate"):
        out = subprocess.run(["callgrind_annotate", "--inclusive=yes", str(tmp_path / "out.callgrind")],
                             capture_output=True, text=True, env=tool_env())
        assert out.returncode == 0, out.stderr
        rows = [line.split()[-1] for line in out.stdout.splitlines() if "threaded.py:" in line]
        assert any(r.endswith("threaded.py:worker") for r in rows), out.stdout
        assert not any(r.count("threaded.py") > 1 for r in rows), rows


def test_dot_call_graph(profile, tmp_path):
    text = export(profile[0], "dot", tmp_path)
    assert text.startswith("digraph moth {") and text.rstrip().endswith("}")
    assert re.search(r'label="[^"]*\(leaf\)', text)
    assert "->" in text
    if shutil.which("dot"):
        svg = subprocess.run(["dot", "-Tsvg"], input=text, capture_output=True, text=True,
                             env=tool_env())
        assert svg.returncode == 0, svg.stderr
        assert "<svg" in svg.stdout


def test_pstats_export_equals_the_moth_file_view(profile, tmp_path):
    out = tmp_path / "x.prof"
    run_moth("export", profile[0], "--format", "pstats", "-o", out, check=0)
    exported = pstats.Stats(str(out)).stats
    calls = {k[2]: v[:2] for k, v in exported.items() if k[0] == str(PROGRAM)}
    # main: 30 leaf calls; worker k: 20 recursions of depth 6+k (one leaf per level) + cold
    assert calls["worker"] == (2, 2)
    assert calls["leaf"] == (30 + 20 * 7 + 1 + 20 * 8 + 1,) * 2
    assert calls["recurse"] == (40, 20 * 7 + 20 * 8)


def test_tree_formats_refuse_pstats_input(profile):
    for fmt in ("speedscope", "collapsed", "chrome"):
        proc = run_moth("export", profile[1], "--format", fmt, "-o", "/dev/null")
        assert proc.returncode == 2
        assert "calling-context tree" in proc.stderr and proc.stderr.count("\n") == 1


def test_unknown_format():
    proc = run_moth("export", __file__, "--format", "png")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
