"""moth diff: per-function changes, the largest regression first, --fail-above for CI."""
import pytest

from conftest import run_moth

SLOW = """
import time
def steady():
    return sum(range(20000))
def changed():
    time.sleep({pause})
def gone_or_new():
    return 1
def main():
    for _ in range(5):
        steady()
    changed()
    {extra}
main()
"""


@pytest.fixture
def pair(program, tmp_path):
    # the same program before and after a change, as a user compares them
    b, a = tmp_path / "b.moth", tmp_path / "a.prof"
    prog = program("prog.py", SLOW.format(pause=0.02, extra="gone_or_new()"))
    run_moth("profile", "-q", "-o", b, prog, check=0)
    program("prog.py", SLOW.format(pause=0.3, extra="pass"))
    run_moth("profile", "-q", "-o", a, prog, check=0)
    return b, a


def test_diff_reports_the_regression_first(pair):
    proc = run_moth("diff", "--strip-dirs", *pair, check=0)
    out = proc.stdout
    table = out.split("filename:lineno(function)\n", 1)[1]
    rows = [line for line in table.splitlines() if line.strip()]
    assert rows, out
    assert "(changed)" in rows[0]
    assert "0 new, 1 gone" in out                      # gone_or_new is not called after
    assert any("(gone_or_new)" in r and r.split()[1] == "-" for r in rows)
    total = [line for line in out.splitlines() if "total time" in line][0]
    before, after = float(total.split()[2]), float(total.split()[4])
    assert after - before > 0.2


def test_fail_above(pair):
    proc = run_moth("diff", "--strip-dirs", "--fail-above", "50", *pair)
    assert proc.returncode == 1
    assert proc.stderr.startswith("moth: total time grew by ")
    proc = run_moth("diff", "--strip-dirs", "--fail-above", "100000", *pair)
    assert proc.returncode == 0


def test_diff_bad_input():
    assert run_moth("diff", "onlyone.prof").returncode == 2
    proc = run_moth("diff", "--fail-above", "lots", "a", "b")
    assert proc.returncode == 2 and "percentage" in proc.stderr
