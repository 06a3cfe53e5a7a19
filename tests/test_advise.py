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


def test_text_report(tmp_path):
    proc = run_moth("advise", "--min-share", "0", PROG, check=0)
    out = proc.stdout
    assert re.search(r"^1\. .*pitfalls\.py:\d+  ", out, re.M)
    assert "module attribute looked up on every iteration: math.sqrt" in out
    assert "sqrt = math.sqrt" in out


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
