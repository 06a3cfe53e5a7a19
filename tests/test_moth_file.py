"""moth's own file: everything kept, documented schema, several runs, safe writes."""
import os
import pstats
import sqlite3

import pytest

from conftest import PROGRAMS, run_moth

PROGRAM = PROGRAMS / "threaded.py"


@pytest.fixture(scope="module")
def runfile(tmp_path_factory):
    d = tmp_path_factory.mktemp("mothfile")
    path, twin = d / "t.moth", d / "t.prof"
    run_moth("profile", "-q", "-o", path, PROGRAM, "arg1", check=0)
    run_moth("profile", "-q", "-o", twin, PROGRAM, check=0)
    return path, twin


def test_metadata_threads_and_tree(runfile):
    con = sqlite3.connect(runfile[0])
    meta = dict(con.execute("select key, value from run_meta where run = 1"))
    for key in ("command", "argv", "python", "clock", "mode", "start", "duration",
                "moth_version", "host", "pid"):
        assert meta.get(key), key
    assert "arg1" in meta["argv"] and meta["clock"] == "wall"
    assert float(meta["duration"]) > 0
    threads = {name for (name,) in con.execute("select name from threads")}
    assert threads == {"MainThread", "worker-0", "worker-1"}
    # nodes: ids 1..N per thread, parents before children, self + children = total
    for (thread,) in con.execute("select id from threads"):
        rows = con.execute("select id, parent, total_ticks, self_ticks from nodes "
                           "where thread = ? order by id", (thread,)).fetchall()
        assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
        assert all(r[1] < r[0] for r in rows)
        kids = {}
        for i, parent, total, own in rows:
            kids[parent] = kids.get(parent, 0) + total
        for i, parent, total, own in rows:
            assert own + kids.get(i, 0) == total
    # the pstats view stored in the file is the one moth stats shows
    fs = {name: (calls, prim) for name, calls, prim in con.execute(
        "select name, calls, primitive_calls from function_times where file = ?", (str(PROGRAM),))}
    assert fs["recurse"] == (20 * 7 + 20 * 8, 40)
    assert fs["leaf"][0] == 30 + 20 * 7 + 1 + 20 * 8 + 1


def test_documented_queries_work(runfile):
    con = sqlite3.connect(runfile[0])
    top = con.execute("SELECT name, file, line, calls, round(own, 4) AS own_s, "
                      "round(cumulative, 4) AS cum_s FROM function_times "
                      "ORDER BY own DESC LIMIT 10").fetchall()
    assert top and top[0][0] == "leaf"
    per_thread = dict(con.execute("SELECT t.name, sum(n.self) FROM nodes n JOIN threads t "
                                  "ON t.run = n.run AND t.id = n.thread GROUP BY t.name"))
    assert set(per_thread) == {"MainThread", "worker-0", "worker-1"}
    pd = pytest.importorskip("pandas")
    funcs = pd.read_sql("SELECT * FROM function_times", con)
    assert funcs.sort_values("own", ascending=False).iloc[0]["name"] == "leaf"
    tree = pd.read_sql("SELECT n.thread, n.id, n.parent, f.name, n.calls, n.total, n.self "
                       "FROM nodes n JOIN functions f ON f.run = n.run AND f.id = n.function", con)
    assert len(tree) > 10


def test_runs_append_and_merge(tmp_path):
    path = tmp_path / "all.moth"
    for i in range(3):
        run_moth("profile", "-q", "--append", "-o", path, "-c",
                 f"def work(n):\n    return n\n[work(i) for i in range({i + 1})]", check=0)
    con = sqlite3.connect(path)
    assert [r for (r,) in con.execute("select run from runs order by run")] == [1, 2, 3]
    con.close()
    merged = run_moth("export", path, "--format", "pstats", "-o", tmp_path / "m.prof", check=0)
    stats = pstats.Stats(str(tmp_path / "m.prof")).stats
    (work,) = [v for k, v in stats.items() if k[2] == "work"]
    assert work[1] == 1 + 2 + 3
    run_moth("export", path, "--run", "2", "--format", "pstats", "-o", tmp_path / "r2.prof", check=0)
    (work,) = [v for k, v in pstats.Stats(str(tmp_path / "r2.prof")).stats.items() if k[2] == "work"]
    assert work[1] == 2
    proc = run_moth("stats", "--run", "9", path)
    assert proc.returncode == 2 and "no run 9" in proc.stderr


def test_writes_are_atomic(tmp_path):
    path = tmp_path / "keep.moth"
    run_moth("profile", "-q", "-o", path, "-c", "pass", check=0)
    before = path.read_bytes()
    os.chmod(tmp_path, 0o500)          # the directory refuses the temporary file
    try:
        proc = run_moth("profile", "-q", "-o", path, "-c", "pass")
    finally:
        os.chmod(tmp_path, 0o700)
    if os.geteuid() != 0:              # root ignores directory permissions
        assert proc.returncode == 1 and proc.stderr.startswith("moth: cannot write")
        assert path.read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]
