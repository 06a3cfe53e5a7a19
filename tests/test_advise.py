"""moth advise: each pitfall found in the code that takes the time, never in its clean twin."""
import json
import re

import pytest

from conftest import PROGRAMS, run_moth

PROG = PROGRAMS / "pitfalls.py"
SOURCE = PROG.read_text().splitlines()


def function_at(line):
    """The function whose body holds `line` in pitfalls.py."""
    name = None
    for i, text in enumerate(SOURCE[:line], 1):
        m = re.match(r"def (\w+)\(", text)
        if m:
            name = m.group(1)
    return name


EXPECTED = {
    ("module_attribute", "module-attribute-in-loop", "math.sqrt"),
    ("index_loop", "range-len-loop", "xs"),
    ("counter_loop", "counter-while-loop", "i"),
    ("concat", "string-concatenation-in-loop", "s"),
    ("appends", "append-loop", "out"),
    ("dot", "range-len-loop", "a"),
    ("dot", "numeric-loop", "a"),
    ("attribute_chain", "attribute-chain-in-loop", "cfg.limits.high"),
}


@pytest.fixture(scope="module")
def findings():
    proc = run_moth("advise", "--json", "--min-share", "0", "--limit", "0", PROG, check=0)
    return json.loads(proc.stdout[proc.stdout.index("{"):])


def test_every_pitfall_found_and_no_clean_twin_flagged(findings):
    got = {(function_at(f["line"]), f["kind"], f["what"]) for f in findings["findings"]
           if function_at(f["line"])}
    assert EXPECTED <= got
    flagged_functions = {g[0] for g in got}
    for clean in ("module_attribute_clean", "index_loop_clean", "counter_loop_clean",
                  "concat_clean", "appends_clean", "main"):
        assert clean not in flagged_functions, clean


def test_findings_name_the_bytecode_and_are_ranked_by_cost(findings):
    items = findings["findings"]
    seconds = [f["seconds"] for f in items]
    assert seconds == sorted(seconds, reverse=True)
    assert findings["total_seconds"] > 0
    by_kind = {f["kind"]: f for f in items}
    assert "LOAD_GLOBAL" in by_kind["module-attribute-in-loop"]["explanation"]
    assert "LOAD_ATTR" in by_kind["module-attribute-in-loop"]["explanation"]
    assert "LOAD_FAST" in by_kind["module-attribute-in-loop"]["explanation"]
    assert "BINARY_SUBSCR" in by_kind["range-len-loop"]["explanation"]
    assert "FOR_ITER" in by_kind["counter-while-loop"]["explanation"]
    for f in items:
        assert f["loop"]["first"] <= f["line"] <= f["loop"]["last"]
        assert 0 < f["share"] <= 1


def test_each_finding_has_its_expected_saving(findings):
    items = {(function_at(f["line"]), f["kind"]): f for f in findings["findings"]}
    # the iterations are the loop's own: main() calls each function 3 times over 60,000 items
    assert items[("counter_loop", "counter-while-loop")]["iterations"] == 3 * 60001
    assert items[("module_attribute", "module-attribute-in-loop")]["iterations"] == 3 * 60000
    for f in findings["findings"]:
        ns = f["ns_per_iteration"]
        if f["kind"] == "numeric-loop":     # the program does not import NumPy: not timed
            assert ns is None and f["saving_seconds"] is None and f["speedup"] is None
            continue
        written, rewritten = ns["written"], ns["rewritten"]
        assert written > 0 and rewritten > 0
        assert f["speedup"] == pytest.approx(written / rewritten, rel=1e-6)
        # iterations times what an iteration saves, within the part of the loop's time the
        # shape can account for; nothing when the rewrite is not faster here
        expected = 0.0
        if written > rewritten:
            expected = min(f["iterations"] * (written - rewritten) * 1e-9,
                           f["seconds"] * (1 - rewritten / written))
        assert f["saving_seconds"] == pytest.approx(expected, rel=1e-6, abs=1e-12)
        assert f["saving_seconds"] <= f["seconds"]


@pytest.mark.nosanitize      # importing NumPy leaves objects behind at exit
def test_numpy_rewrite_timed_when_the_program_uses_numpy(program):
    script = program("np.py", """\
import numpy
def dot(a, b):
    total = 0.0
    for i in range(len(a)):
        total = total + a[i] * b[i]
    return total
xs = [float(i % 7) for i in range(50000)]
for _ in range(3):
    dot(xs, xs)
""")
    proc = run_moth("advise", "--json", "--min-share", "0", script, check=0)
    found = {f["kind"]: f for f in json.loads(proc.stdout[proc.stdout.index("{"):])["findings"]}
    numeric = found["numeric-loop"]
    assert numeric["iterations"] == 3 * 50001
    assert numeric["ns_per_iteration"]["written"] > 0 and numeric["ns_per_iteration"]["rewritten"] > 0
    assert numeric["saving_seconds"] > 0


def test_text_report(tmp_path):
    proc = run_moth("advise", "--min-share", "0", PROG, check=0)
    out = proc.stdout
    assert re.search(r"^1\. .*pitfalls\.py:\d+  ", out, re.M)
    assert "module attribute looked up on every iteration: math.sqrt" in out
    assert "sqrt = math.sqrt" in out
    saving = re.search(r"^   rewritten: (\d+\.\d\d)x faster per iteration, about (\d+\.\d{3}) s saved "
                       r"over its (\d+) iterations\n   \(on this Python the shape takes (\d+\.\d) ns "
                       r"per iteration as written, (\d+\.\d) ns rewritten\)$", out, re.M)
    assert saving, out


def test_code_that_does_not_matter_is_not_reported(program):
    script = program("small.py", """\
import math

def rarely(xs):
    total = 0.0
    for x in xs:
        total += math.sqrt(x)
    return total

def busy(n):
    s = 0
    for i in range(n):
        s += i * i
    return s

rarely([1.0, 2.0, 3.0])
busy(300000)
""")
    proc = run_moth("advise", "--json", script, check=0)
    found = json.loads(proc.stdout[proc.stdout.index("{"):])["findings"]
    assert not [f for f in found if f["what"] == "math.sqrt"]   # 3 iterations: nothing to gain


def test_reads_a_moth_file_with_line_data(tmp_path):
    moth = tmp_path / "p.moth"
    run_moth("profile", "-q", "--lines", "-o", moth, PROG, check=0)
    proc = run_moth("advise", "--json", "--min-share", "0", "--limit", "0", moth, check=0)
    got = {(function_at(f["line"]), f["kind"]) for f in json.loads(proc.stdout)["findings"]}
    assert ("module_attribute", "module-attribute-in-loop") in got
    plain = tmp_path / "nolines.moth"
    run_moth("profile", "-q", "-o", plain, "-c", "pass", check=0)
    proc = run_moth("advise", plain)
    assert proc.returncode == 2 and "no line data" in proc.stderr


def test_program_behaviour_is_kept(program):
    script = program("exit.py", "import sys\nprint('hello')\nsys.exit(3)\n")
    proc = run_moth("advise", script)
    assert proc.returncode == 3 and proc.stdout.startswith("hello\n")
