"""`moth stats -i` against `python -m pstats` on sessions full of mistakes and edge cases: the
same answers, prompts and messages (moth's browser also has `dump`, and names a file it cannot
open where pstats gives only the system's reason)."""
import subprocess
import sys

import pytest

from conftest import moth_env, run_moth


@pytest.fixture(scope="module")
def prof(tmp_path_factory):
    path = tmp_path_factory.mktemp("browser") / "fib.prof"
    subprocess.run([sys.executable, "-c", f"""
import cProfile
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
def main():
    return [fib(12), sorted(range(5))]
cProfile.run('main()', {str(path)!r})
"""], check=True, env=moth_env())
    return str(path)


def pstats_session(commands, *files):
    return subprocess.run([sys.executable, "-m", "pstats", *files], input=commands,
                          capture_output=True, text=True, env=moth_env()).stdout


def moth_session(commands, *files):
    proc = run_moth("stats", "-i", *files, input=commands)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout


def test_help_restrictions_and_sorting_as_pstats(prof):
    commands = ("help\nhelp stats\nhelp sort\nhelp bogus\n? read\nstats 0.5\nstats 2.5\n"
                "stats -3 fib\ncallees 1\ncallers 0.5 main\nsort calls\nreverse\nstats 3\n"
                "reverse\nsort 0\nsort\nread\nstrip\nstats 2\n\nEOF\n")
    out = moth_session(commands, prof)
    assert "Fraction argument must be in [0, 1]" in out
    assert "*** No help on bogus" in out
    assert "List reduced from" in out     # how often depends on the times: pstats' reference
    assert out.replace("dump  help", "help") == pstats_session(commands, prof)


def test_commands_with_nothing_loaded_and_bad_files_as_pstats(prof):
    commands = (f"stats\nsort calls\nstrip\nreverse\ncallers\nadd {prof}\nread\n"
                f"read /nonexistent.prof\nread {prof}\nadd {prof}\nstats 1\nquit\n")
    out = moth_session(commands)
    assert out.count("No statistics object is loaded.") == 6   # every command before `read`
    assert "No statistics object is current -- cannot reload." in out
    assert "cannot open /nonexistent.prof: No such file or directory" in out
    expected = pstats_session(commands).replace(
        "% No such file or directory", "% cannot open /nonexistent.prof: No such file or directory")
    assert out == expected


def test_dump_mistakes(prof, tmp_path):
    bad = tmp_path / "garbage.prof"
    bad.write_bytes(b"\x00\xff" * 50)
    commands = (f"dump\ndump {tmp_path}/no/such/dir/out.prof\nread {bad}\nadd {bad}\n"
                f"dump {tmp_path}/ok.prof\nquit\n")
    out = moth_session(commands, prof)
    assert "*** dump needs a file name" in out
    assert f"*** cannot write {tmp_path}/no/such/dir/out.prof" in out
    assert f"{bad}: not a valid pstats file" in out                  # read keeps the current data
    assert f"Failed to load statistics for {bad}: {bad}: not a valid pstats file" in out
    assert (tmp_path / "ok.prof").read_bytes()[:1] in (b"{", b"\xfb")  # a marshal dictionary
    assert out.rstrip().endswith("Goodbye.")
