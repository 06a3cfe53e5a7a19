"""Truncated, corrupt, empty, wrong-type and newer-version files: one clear line, never a crash."""
import marshal
import sqlite3

import pytest

from conftest import PROGRAMS, run_moth


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    d = tmp_path_factory.mktemp("good")
    prof, moth = d / "g.prof", d / "g.moth"
    run_moth("profile", "-q", "-o", prof, PROGRAMS / "shapes.py", check=0)
    run_moth("profile", "-q", "-o", moth, PROGRAMS / "shapes.py", check=0)
    return prof, moth


def bad_pstats_files(good_bytes):
    yield "empty", b""
    yield "truncated", good_bytes[: len(good_bytes) // 2]
    yield "one byte", good_bytes[:1]
    yield "garbage", b"\x00\xff" * 300
    yield "text", b"this is not a profile\n"
    yield "empty dict", marshal.dumps({})
    yield "a list", marshal.dumps([1, 2, 3])
    yield "bad key", marshal.dumps({("f.py", "x", "f"): (1, 1, 0.0, 0.0, {})})
    yield "short value", marshal.dumps({("f.py", 1, "f"): (1, 1, 0.0)})
    yield "bad callers", marshal.dumps({("f.py", 1, "f"): (1, 1, 0.0, 0.0, {("g", 1, "g"): "x"})})
    yield "negative calls", marshal.dumps({("f.py", 1, "f"): (-1, 1, 0.0, 0.0, {})})
    yield "huge int", marshal.dumps({("f.py", 1, "f"): (10 ** 30, 1, 0.0, 0.0, {})})
    yield "trailing", good_bytes + b"xyz"
    yield "deep", b"(\x01\x00\x00\x00" * 200 + b"N"
    yield "bad ref", b"r\x05\x00\x00\x00"
    # every single-byte corruption of a small valid file
    small = marshal.dumps({("f.py", 1, "f"): (1, 2, 0.5, 0.75, {("g.py", 2, "g"): (1, 1, 0.5, 0.75)})})
    for i in range(0, len(small), 3):
        yield f"flip {i}", small[:i] + bytes([small[i] ^ 0xFF]) + small[i + 1:]


@pytest.mark.parametrize("command", [["stats"], ["diff", None], ["export", "--format", "callgrind"]])
def test_bad_pstats_files(good, tmp_path, command):
    good_bytes = good[0].read_bytes()
    for name, data in bad_pstats_files(good_bytes):
        path = tmp_path / "bad.prof"
        path.write_bytes(data)
        args = [a if a is not None else good[0] for a in command]
        proc = run_moth(*args, path)
        if name.startswith("flip") and proc.returncode == 0:
            continue   # some flips still make a valid file (a changed number)
        assert proc.returncode != 0, name
        assert proc.stderr.startswith("moth: ") and proc.stderr.count("\n") == 1, (name, proc.stderr)
        assert "Traceback" not in proc.stderr and proc.returncode in (1, 2), (name, proc.returncode)


def test_bad_moth_files(good, tmp_path):
    data = good[1].read_bytes()
    cases = {}
    cases["truncated"] = data[: len(data) // 3]
    cases["header only"] = data[:100]
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.execute("create table t (x)")
    con.commit()
    con.close()
    cases["other sqlite"] = path.read_bytes()
    for name, blob in cases.items():
        p = tmp_path / f"{name}.moth"
        p.write_bytes(blob)
        proc = run_moth("stats", p)
        assert proc.returncode != 0, name
        assert proc.stderr.startswith("moth: ") and proc.stderr.count("\n") == 1, (name, proc.stderr)
    # a newer version, and inconsistent trees
    for name, sql in [("newer", "PRAGMA user_version = 99"),
                      ("cycle", "UPDATE nodes SET parent = id + 5 WHERE id = 3"),
                      ("dangling function", "UPDATE nodes SET function = 99999 WHERE id = 2"),
                      ("no runs", "DELETE FROM runs")]:
        p = tmp_path / f"{name}.moth"
        p.write_bytes(data)
        con = sqlite3.connect(p)
        con.execute(sql)
        con.commit()
        con.close()
        proc = run_moth("stats", p)
        assert proc.returncode != 0, name
        assert proc.stderr.startswith("moth: ") and proc.stderr.count("\n") == 1, (name, proc.stderr)
        if name == "newer":
            assert "newer moth" in proc.stderr
