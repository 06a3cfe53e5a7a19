"""moth diff: per-function changes both ways (regressions, then improvements), unchanged rows
left out unless asked, --fail-above for CI."""
import pytest

from conftest import run_moth

PROG = """
import time
def steady():
    return 1
def slower():
    time.sleep({slow})
def faster():
    time.sleep({fast})
def gone_or_new():
    return 1
def main():
    for _ in range(5):
        steady()
    slower()
    faster()
    {extra}
main()
"""


@pytest.fixture
def pair(program, tmp_path):
    # the same program before and after a change, as a user compares them
    b, a = tmp_path / "b.moth", tmp_path / "a.prof"
    prog = program("prog.py", PROG.format(slow=0.02, fast=0.3, extra="gone_or_new()"))
    run_moth("profile", "-q", "-o", b, prog, check=0)
    program("prog.py", PROG.format(slow=0.45, fast=0.02, extra="pass"))
    run_moth("profile", "-q", "-o", a, prog, check=0)
    return b, a


def sections(out):
    """{title: [rows]} of the report's sections."""
    found, title = {}, None
    for line in out.splitlines():
        text = line.strip()
        if text.startswith(("Regressions", "Improvements", "Unchanged")):
            title = text.split(",")[0].split(" (")[0].split(":")[0]
            found[title] = [] if not text.endswith("none") else None
        elif title and found[title] is not None and "(" in text and "filename:" not in text:
            found[title].append(text)
    return found


def test_regressions_then_improvements(pair):
    out = run_moth("diff", "--strip-dirs", *pair, check=0).stdout
    assert out.index("Regressions") < out.index("Improvements")
    rows = sections(out)
    assert rows["Regressions"][0].endswith("(slower)"), out
    assert rows["Improvements"][0].endswith("(faster)"), out
    # the 0.28 s gain is shown with its sign, not hidden below the regressions
    fields = rows["Improvements"][0].split()
    assert fields[0] == fields[1] == "1" and float(fields[4]) < -0.25
    assert float(rows["Regressions"][0].split()[4]) > 0.25
    # a function whose times did not move is left out, and said so
    assert "(steady)" not in out and "(gone_or_new)" not in out
    assert "unchanged, not shown (--all shows them)" in out
    assert "0 new, 1 gone" in out                      # gone_or_new is not called after


def test_all_lists_the_unchanged_too(pair):
    out = run_moth("diff", "--strip-dirs", "--all", *pair, check=0).stdout
    rows = sections(out)
    steady = [r for r in rows["Unchanged"] if r.endswith("(steady)")]
    assert steady and steady[0].split()[:2] == ["5", "5"]
    gone = [r for r in rows["Unchanged"] if r.endswith("(gone_or_new)")]
    assert gone and gone[0].split()[:2] == ["1", "-"]
    assert "not shown" not in out


def test_limit_applies_each_way(pair):
    out = run_moth("diff", "--strip-dirs", "--limit", "1", *pair, check=0).stdout
    rows = sections(out)
    # slower(), and main() and the module above it by their total time
    assert rows["Regressions"] == [r for r in rows["Regressions"] if r.endswith("(slower)")]
    assert "Regressions, largest first: 1 of 3 shown" in out
    assert len(rows["Improvements"]) == 1


def test_no_change_either_way(pair):
    out = run_moth("diff", pair[0], pair[0], check=0).stdout
    assert "Regressions: none" in out and "Improvements: none" in out
    assert "0 functions slower, 0 faster, 0 new, 0 gone" in out


def test_fail_above(pair):
    proc = run_moth("diff", "--strip-dirs", "--fail-above", "20", *pair)
    assert proc.returncode == 1, proc.stdout
    assert proc.stderr.startswith("moth: total time grew by ")
    proc = run_moth("diff", "--strip-dirs", "--fail-above", "100000", *pair)
    assert proc.returncode == 0
    # a faster run passes any threshold
    proc = run_moth("diff", "--strip-dirs", "--fail-above", "0", pair[1], pair[0])
    assert proc.returncode == 0


def test_diff_bad_input():
    assert run_moth("diff", "onlyone.prof").returncode == 2
    proc = run_moth("diff", "--fail-above", "lots", "a", "b")
    assert proc.returncode == 2 and "percentage" in proc.stderr
