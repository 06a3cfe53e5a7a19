"""The IPython magics, driven through IPython's own interactive shell."""
import re

import pytest

IPython = pytest.importorskip("IPython")


@pytest.fixture(scope="module")
def ip():
    from IPython.testing.globalipapp import start_ipython
    shell = start_ipython()
    shell.run_line_magic("load_ext", "moth")
    return shell


def test_prun_line_and_cell(ip, capsys):
    ip.run_cell("def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n")
    ip.run_line_magic("moth_prun", "-s calls -l 5 fib(12)")
    out = capsys.readouterr().out
    assert "function calls" in out and "Ordered by: call count" in out
    assert "465/1" in out            # fib(12): 465 calls, one primitive
    ip.run_cell_magic("moth_prun", "-s cumulative", "fib(10)\nfib(11)\n")
    out = capsys.readouterr().out
    assert "464/2" in out            # fib(10) + fib(11): 177 + 287 calls, two primitive
    assert "Ordered by: cumulative time" in out


def test_lprun_counts_lines(ip, capsys):
    ip.run_cell("def work(n):\n    total = 0\n    for i in range(n):\n        total += i\n"
                "    return total\n")
    ip.run_line_magic("moth_lprun", "-f work work(6)")
    out = capsys.readouterr().out
    assert "Function: work at line 1" in out
    rows = {int(line.split()[0]): int(line.split()[1]) for line in out.splitlines()
            if line.strip() and line.split()[0].isdigit() and len(line.split()) > 1
            and line.split()[1].isdigit()}
    assert rows[3] == 7 and rows[4] == 6        # for line: n + 1; body: n
    assert "total += i" in out                  # the source, from IPython's cell


def test_advise_magic(ip, capsys):
    ip.run_cell("import math\n"
                "def slow(xs):\n    t = 0.0\n    for x in xs:\n        t += math.sqrt(x)\n"
                "    return t\n"
                "data = [float(i) for i in range(20000)]\n")
    ip.run_line_magic("moth_advise", "slow(data)")
    out = capsys.readouterr().out
    assert "math.sqrt" in out and "LOAD_ATTR" in out


def test_memory_magic(ip, capsys):
    ip.run_cell("kept = []\n"
                "def build(n):\n    temp = bytearray(4_000_000)\n    kept.append(bytearray(n))\n")
    ip.run_line_magic("moth_memory", "-l 5 build(1_000_000)")
    out = capsys.readouterr().out
    assert out.startswith("moth memory: peak 4.8 MiB")          # both bytearrays held
    # build's row: what it still holds is the one kept (1,000,000 B and the object's header);
    # the total held also counts IPython's own allocations, which vary from run to run.
    row = next(line for line in out.splitlines() if line.endswith("(build)"))
    leaked = re.split(r"\s{2,}", row.strip())[2]
    assert leaked in ("976.6 KiB", "976.7 KiB"), out
    ip.run_cell_magic("moth_memory", "-s leaks", "build(2_000_000)\nbuild(10)\n")
    out = capsys.readouterr().out
    assert "Functions by memory still held at the end (leaks)" in out
