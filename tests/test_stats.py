"""moth stats: pstats' reports, byte for byte, from moth's and other tools' profile files."""
import io
import os
import pstats
import re
import subprocess
import sys

import pytest

from conftest import PROGRAMS, run_moth

SHAPES = PROGRAMS / "shapes.py"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("stats")
    out = {}
    out["cprofile"] = d / "c.prof"
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out["cprofile"]), str(SHAPES)],
                   check=True, capture_output=True)
    out["profile"] = d / "p.prof"   # the pure-Python profiler: callers are bare counts
    subprocess.run([sys.executable, "-m", "profile", "-o", str(out["profile"]), str(SHAPES)],
                   check=True, capture_output=True)
    out["moth"] = d / "m.prof"
    run_moth("profile", "-q", "-o", out["moth"], SHAPES, check=0)
    out["mothfile"] = d / "m.moth"
    run_moth("profile", "-q", "-o", out["mothfile"], SHAPES, check=0)
    out["dumped"] = d / "dumped.prof"  # written by pstats itself (marshal with references)
    pstats.Stats(str(out["cprofile"])).dump_stats(str(out["dumped"]))
    return out


def without_code_addresses(text):
    """The profile module stores code objects in some labels; pstats prints their repr, whose
    address changes at every load (moth prints the repr without it). Widths follow the label
    lengths, so runs of spaces are folded too."""
    text = re.sub(r" at 0x[0-9a-f]+,", ",", text)
    return "\n".join(" ".join(line.split()) for line in text.splitlines())


def pstats_output(paths, sort=("cumulative",), amount=(), strip=False, method="print_stats",
                  reverse=False):
    buf = io.StringIO()
    s = pstats.Stats(*map(str, paths), stream=buf)
    if strip:
        s.strip_dirs()
    s.sort_stats(*sort)
    if reverse:
        s.reverse_order()
    getattr(s, method)(*amount)
    return buf.getvalue()


def moth_output(paths, sort=("cumulative",), limit=0, filters=(), strip=False, extra=()):
    args = ["stats", "--limit", str(limit)]
    for key in sort:
        args += ["--sort", key]
    for f in filters:
        args += ["--filter", f]
    if strip:
        args.append("--strip-dirs")
    args += list(extra)
    proc = run_moth(*args, *paths, check=0)
    return proc.stdout


KEYS = ["calls", "ncalls", "cumtime", "cumulative", "filename", "line", "module", "name",
        "nfl", "pcalls", "stdname", "time", "tottime", "cu", "tot", "std", "file"]


def test_sort_key_abbreviations_are_pstats_own(files):
    accepted = pstats.Stats(str(files["cprofile"])).get_sort_arg_defs()
    fragments = {w[:i] for w in pstats.Stats.sort_arg_dict_default for i in range(1, len(w) + 1)}
    for fragment in sorted(fragments):
        proc = run_moth("stats", "--limit", "1", "--sort", fragment, files["cprofile"])
        assert (proc.returncode == 0) == (fragment in accepted), (fragment, proc.stderr)


@pytest.mark.parametrize("source", ["cprofile", "profile", "moth", "dumped"])
@pytest.mark.parametrize("key", KEYS)
def test_print_stats_identical_to_pstats(files, source, key):
    ours = moth_output([files[source]], sort=[key])
    if source == "profile":
        if key in ("name", "nfl"):
            pytest.skip("pstats itself cannot sort a profile-module file by name")
        theirs = pstats_output([files[source]], sort=[key])
        assert without_code_addresses(ours) == without_code_addresses(theirs)
    else:
        assert ours == pstats_output([files[source]], sort=[key])


@pytest.mark.parametrize("source", ["cprofile", "moth"])
def test_strip_limit_filter_multi_key_reverse(files, source):
    f = [files[source]]
    assert moth_output(f, sort=["time", "name"], limit=7) == \
        pstats_output(f, sort=("time", "name"), amount=(7,))
    assert moth_output(f, sort=["calls"], filters=["fib|shapes"], strip=True) == \
        pstats_output(f, sort=("calls",), amount=("fib|shapes",), strip=True)
    assert moth_output(f, sort=["nfl"], limit=5, extra=["--reverse"]) == \
        pstats_output(f, sort=("nfl",), amount=(5,), reverse=True)


@pytest.mark.parametrize("source", ["cprofile", "profile", "moth"])
@pytest.mark.parametrize("view", ["callers", "callees"])
def test_callers_and_callees_identical_to_pstats(files, source, view):
    for strip in (False, True):
        ours = moth_output([files[source]], sort=["cumulative"], limit=12, strip=strip,
                           extra=["--" + view])
        theirs = pstats_output([files[source]], sort=("cumulative",), amount=(12,),
                               strip=strip, method="print_" + view)
        if source == "profile":
            assert without_code_addresses(ours) == without_code_addresses(theirs)
        else:
            assert ours == theirs


def test_several_files_added_as_pstats_adds_them(files):
    paths = [files["cprofile"], files["moth"], files["dumped"]]
    assert moth_output(paths, sort=["tottime"], limit=15) == \
        pstats_output(paths, sort=("tottime",), amount=(15,))


def test_moth_file_gives_the_same_table_as_its_pstats_twin(files, tmp_path):
    # the same program, written once as a moth file and converted to pstats by moth export
    pst = tmp_path / "from_moth.prof"
    run_moth("export", files["mothfile"], "--format", "pstats", "-o", pst, check=0)
    body = lambda text: text.split("\n", 1)[1]   # drop the file line (its name differs)
    assert body(moth_output([files["mothfile"]], sort=["stdname"])) == \
        body(pstats_output([pst], sort=("stdname",)))


def test_browser_commands_through_a_pipe(files):
    commands = "sort tottime\nstats 5\n\ncallers fib\nstrip\nsort bogus\nreverse\nquit\n"
    proc = run_moth("stats", "-i", files["cprofile"], input=commands, check=0)
    out = proc.stdout
    assert out.startswith("Welcome to the profile statistics browser.\n")
    assert out.rstrip().endswith("Goodbye.")
    assert out.count("List reduced from") == 3   # stats 5, repeated by the empty line; callers fib
    assert "Ordered by: internal time" in out
    assert "was called by..." in out
    assert "Valid sort keys (unique prefixes are accepted):" in out
    assert "tottime -- internal time" in out
    # the same session through python -m pstats prints the same reports
    ref = subprocess.run([sys.executable, "-m", "pstats", str(files["cprofile"])],
                         input=commands, capture_output=True, text=True).stdout
    assert out == ref


def test_browser_read_add_dump_and_errors(files, tmp_path):
    dumped = tmp_path / "d.prof"
    commands = (f"stats\nread {files['moth']}\nadd {files['cprofile']}\nadd /nonexistent.prof\n"
                f"dump {dumped}\nfrobnicate\nEOF\n")
    proc = run_moth("stats", "-i", input=commands, check=0)
    assert "No statistics object is loaded." in proc.stdout
    assert "Failed to load statistics for /nonexistent.prof" in proc.stdout
    assert "*** Unknown syntax: frobnicate" in proc.stdout
    merged = pstats.Stats(str(dumped))
    ref = pstats.Stats(str(files["moth"]), str(files["cprofile"]))
    assert merged.stats == ref.stats


def test_stats_errors_are_one_line(tmp_path):
    cases = {
        "missing": (["stats", "/nonexistent.prof"], "cannot open /nonexistent.prof"),
        "none": (["stats"], "which profile?"),
        "badkey": (["stats", "--sort", "speed", __file__], "unknown sort key 'speed'"),
    }
    for name, (args, text) in cases.items():
        proc = run_moth(*args)
        assert proc.returncode != 0, name
        assert proc.stderr.count("\n") == 1 and text in proc.stderr, (name, proc.stderr)
        assert "Traceback" not in proc.stderr
