"""moth's table of each CPython version's offsets (csrc/remote/layout_py3XX.c) against the real
headers of every installed 3.11, 3.12 and 3.13: tests/c/layout_check.c is compiled with each
Python's include directories and compares every field."""
import subprocess
import sysconfig

import pytest

from remote import ROOT, pythons

PYTHONS = pythons()


@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_layout_matches_headers(version, python, tmp_path):
    include = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['include'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    exe = tmp_path / "layout_check"
    build = subprocess.run(
        ["gcc", "-std=gnu11", f"-I{include}", f"-I{include}/internal", f"-I{ROOT}/csrc/remote",
         str(ROOT / "tests/c/layout_check.c"), *map(str, sorted((ROOT / "csrc/remote").glob("layout_py3*.c"))),
         "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout
    assert "differs" not in run.stdout
    assert f"version " in run.stdout
