"""Command-line mistakes: each gives one clear `moth: ...` line on stderr, nothing on stdout, and
a non-zero exit, before any program runs. The command line is handed to the C entry point
in-process (as `python -m moth` does), so each case costs microseconds."""
import pytest

from moth import _moth
from conftest import PROGRAMS, run_moth


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("files")
    prof, moth_file = d / "run.prof", d / "run.moth"
    run_moth("profile", "-q", "-o", prof, PROGRAMS / "shapes.py", check=0)
    run_moth("profile", "-q", "-o", moth_file, PROGRAMS / "shapes.py", check=0)
    return {"PROF": str(prof), "MOTH": str(moth_file), "MISSING": str(d / "missing.prof"),
            "NODIR": str(d / "no" / "such" / "dir" / "out.txt")}


def main(capsys, *args):
    status = _moth.main(["moth", *args])
    out, err = capsys.readouterr()
    return status, out, err


MANY = [x for _ in range(9) for x in ("-s", "calls")]
FUNCS = [x for i in range(33) for x in ("--func", f"f{i}")]

CASES = [
    # (arguments, exit status, what the one line says)
    (["frobnicate"], 2, "unknown command 'frobnicate' (try 'moth --help')"),
    # moth profile
    (["profile"], 2, "profile what? give a script, -m module or -c code"),
    (["profile", "--bogus", "x.py"], 2, "unknown option '--bogus' for 'moth profile'"),
    (["profile", "-o"], 2, "option --outfile needs a value"),
    (["profile", "--limit", "many", "x.py"], 2, "option --limit takes a whole number, not 'many'"),
    (["profile", "--limit=-3", "x.py"], 2, "option --limit takes a whole number, not '-3'"),
    (["profile", "--limit="], 2, "option --limit takes a whole number, not ''"),
    (["profile", "--clock", "sundial", "x.py"], 2, "--clock takes 'wall' or 'cpu', not 'sundial'"),
    (["profile", *MANY, "x.py"], 2, "too many sort keys (at most 8)"),
    (["profile", *FUNCS, "x.py"], 2, "too many --func patterns (at most 32)"),
    (["profile", "--builtins", "--lines", "x.py"], 2,
     "--lines and --func work in the default mode, not with --builtins"),
    (["profile", "-m"], 2, "-m needs a module name"),
    (["profile", "-c"], 2, "-c needs code to run"),
    (["profile", "--sort"], 2, "option --sort needs a value"),
    (["profile", "--func"], 2, "option --func needs a value"),
    (["profile", "--flame"], 2, "option --flame needs a value"),
    (["profile", "--clock"], 2, "option --clock needs a value"),
    # moth stats
    (["stats"], 2, "which profile? give one or more files"),
    (["stats", "--bogus", "PROF"], 2, "unknown option '--bogus' for 'moth stats'"),
    (["stats", "--callers", "--callees", "PROF"], 2, "--callers and --callees: pick one"),
    (["stats", "-s", "speed", "PROF"], 2, "unknown sort key 'speed'"),
    (["stats", *MANY, "PROF"], 2, "too many sort keys (at most 8)"),
    (["stats", *[x for i in range(8) for x in ("--filter", f"f{i}")], "PROF"], 2,
     "too many filters"),
    (["stats", "--run", "last", "MOTH"], 2, "option --run takes a whole number, not 'last'"),
    (["stats", "--limit", "x", "PROF"], 2, "option --limit takes a whole number, not 'x'"),
    (["stats", "--filter"], 2, "option --filter needs a value"),
    (["stats", "-s"], 2, "option --sort needs a value"),
    (["stats", "MISSING"], 2, "missing.prof"),
    (["stats", "--run", "7", "MOTH"], 2, "has no run 7"),
    (["stats", "--lines", "MOTH"], 2, "has no line data"),
    # moth diff
    (["diff", "PROF"], 2, "moth diff needs two files: BEFORE AFTER"),
    (["diff", "PROF", "PROF", "PROF"], 2, "moth diff compares two files, not more"),
    (["diff", "--fail-above", "lots", "PROF", "PROF"], 2,
     "--fail-above takes a percentage, not 'lots'"),
    (["diff", "--fail-above", "-5", "PROF", "PROF"], 2, "--fail-above takes a percentage, not '-5'"),
    (["diff", "--limit", "x", "PROF", "PROF"], 2, "option --limit takes a whole number, not 'x'"),
    (["diff", "--bogus", "PROF", "PROF"], 2, "unknown option '--bogus' for 'moth diff'"),
    (["diff", "PROF", "MISSING"], 2, "missing.prof"),
    (["diff", "MISSING", "PROF"], 2, "missing.prof"),
    # moth export
    (["export"], 2, "export what? give a profile file"),
    (["export", "PROF"], 2, "which format? --format pstats, speedscope, collapsed, callgrind, "
                            "chrome, dot"),
    (["export", "PROF", "MOTH"], 2, "moth export takes one file"),
    (["export", "--bogus", "PROF"], 2, "unknown option '--bogus' for 'moth export'"),
    (["export", "-f", "svg", "PROF"], 2, "svg"),
    (["export", "-f", "speedscope", "PROF"], 2, "which a pstats file does not keep"),
    (["export", "-f", "collapsed", "-o", "NODIR", "MOTH"], 2, "cannot write"),
    (["export", "--run", "x", "MOTH"], 2, "option --run takes a whole number, not 'x'"),
    (["export", "-o"], 2, "option --output needs a value"),
    (["export", "-f"], 2, "option --format needs a value"),
    (["export", "-f", "dot", "MISSING"], 2, "missing.prof"),
    # moth flame
    (["flame"], 2, "draw what? give a moth profile file"),
    (["flame", "MOTH", "PROF"], 2, "moth flame draws one file"),
    (["flame", "--bogus", "MOTH"], 2, "unknown option '--bogus' for 'moth flame'"),
    (["flame", "PROF"], 2, "is a pstats file, which keeps no calling-context tree to draw"),
    (["flame", "-o", "NODIR", "MOTH"], 2, "cannot write"),
    (["flame", "--run", "x", "MOTH"], 2, "option --run takes a whole number, not 'x'"),
    (["flame", "--title"], 2, "option --title needs a value"),
    (["flame", "-o"], 2, "option --output needs a value"),
    (["flame", "MISSING"], 2, "missing.prof"),
    # moth advise
    (["advise"], 2, "advise on what? give a script, -m module, -c code or a moth file"),
    (["advise", "--bogus", "x.py"], 2, "unknown option '--bogus' for 'moth advise'"),
    (["advise", "--min-share", "200", "x.py"], 2, "--min-share takes a percentage, not '200'"),
    (["advise", "--min-share", "some", "x.py"], 2, "--min-share takes a percentage, not 'some'"),
    (["advise", "--limit", "x", "x.py"], 2, "option --limit takes a whole number, not 'x'"),
    (["advise", *FUNCS, "x.py"], 2, "too many --func patterns (at most 32)"),
    (["advise", "--func"], 2, "option --func needs a value"),
    (["advise", "MOTH"], 2, "has no line data: make it with 'moth profile --lines -o"),
    # moth debug
    (["debug"], 2, "debug what? give a script, -m module or -c code"),
    (["debug", "--bogus", "x.py"], 2, "unknown option '--bogus' for 'moth debug'"),
    (["debug", "--command"], 2, "option --command needs a value"),
]


@pytest.mark.parametrize("args, status, says", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_one_clear_line_and_a_non_zero_exit(capsys, files, args, status, says):
    args = [files.get(a, a) for a in args]
    got, out, err = main(capsys, *args)
    assert (got, out) == (status, ""), err
    assert err.startswith("moth: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert says in err


def test_help_and_version_go_to_stdout(capsys):
    for args in (["--help"], ["-h"], ["help"]):
        status, out, err = main(capsys, *args)
        assert (status, err) == (0, "") and out.startswith("usage: moth <command> [options] ...\n")
    status, out, err = main(capsys, "--version")
    assert (status, out, err) == (0, f"moth {_moth_version()}\n", "")
    for command in ("profile", "stats", "diff", "export", "flame", "advise", "debug"):
        status, out, err = main(capsys, command, "--help")
        assert (status, err) == (0, ""), command
        assert out.startswith(f"usage: moth {command}"), (command, out[:80])


def _moth_version():
    import moth
    return moth.__version__


def test_no_command_prints_the_usage_to_stderr(capsys):
    status, out, err = main(capsys)
    assert (status, out) == (2, "")
    assert err.startswith("usage: moth <command>") and "commands:\n" in err


def test_main_wants_the_argument_list():
    with pytest.raises(TypeError, match="main\\(\\) takes the list sys.argv"):
        _moth.main("moth stats")


def test_an_argument_that_is_not_text_is_an_internal_error_line(capsys):
    status, out, err = main(capsys, "stats", 42)
    assert (status, out) == (70, "")
    assert err.startswith("moth: internal error: TypeError: ") and err.count("\n") == 1
