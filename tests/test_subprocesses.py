"""moth profile --subprocesses: every Python process of a program profiled into one moth
file, a run per process, with the process tree; moth stats / flame / merge over them."""
import json
import os
import re
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import PROGRAMS, run_moth

FAMILY = PROGRAMS / "family.py"


def runs_of(path):
    """{run: {"pid", "parent_pid", "parent_run", "how", "command", "calls": {name: calls}}}"""
    con = sqlite3.connect(path)
    try:
        runs = {run: {"pid": pid, "parent_pid": ppid, "parent_run": prun, "how": how,
                      "command": cmd, "rank": rank, "calls": {}}
                for run, pid, ppid, prun, how, cmd, rank in con.execute(
                    "SELECT run, pid, parent_pid, parent_run, how, command, rank "
                    "FROM process_tree")}
        for run, name, calls in con.execute("SELECT run, name, calls FROM function_times"):
            runs[run]["calls"][name] = runs[run]["calls"].get(name, 0) + calls
    finally:
        con.close()
    return runs


def wait_for_runs(path, count):
    """multiprocessing's helpers (the fork server, the resource tracker) end, and write their
    runs, only after the program: wait for them (bounded)."""
    for _ in range(200):
        runs = runs_of(path)
        if len(runs) >= count:
            return runs
        time.sleep(0.05)
    return runs_of(path)


def by_work(runs):
    """The runs that called work(), by how many times."""
    return {r["calls"]["work"]: r for r in runs.values() if "work" in r["calls"]}


@pytest.fixture(scope="module")
def family(tmp_path_factory):
    out = tmp_path_factory.mktemp("family") / "family.moth"
    proc = run_moth("profile", "-q", "--subprocesses", "-o", out, FAMILY, check=0)
    assert proc.stdout == "" and proc.stderr == ""
    return out, wait_for_runs(out, 8)


def test_every_kind_of_child_is_a_run_with_exact_counts(family):
    path, runs = family
    work = by_work(runs)
    # the parent's own 2 calls; each child's calls and nothing of the parent's before the fork
    assert sorted(work) == [2, 3, 4, 5, 6, 7]
    assert {n: (r["how"], r["calls"]["child_main"]) for n, r in work.items()} == {
        2: ("main", 1), 3: ("fork", 1), 4: ("spawn", 1), 5: ("fork", 1),
        6: ("subprocess", 1), 7: ("fork", 1)}
    main = work[2]
    main_run = next(run for run, r in runs.items() if r is main)
    assert main["parent_run"] is None and main["pid"] != os.getpid()
    # children of the program itself name it as their parent run
    for n in (3, 4, 6, 7):
        assert work[n]["parent_pid"] == main["pid"] and work[n]["parent_run"] == main_run
    # the forkserver's worker is the fork server's child, which is the program's
    server = [r for r in runs.values() if r["how"] == "forkserver"]
    assert len(server) == 1 and server[0]["parent_pid"] == main["pid"]
    assert work[5]["parent_pid"] == server[0]["pid"]
    assert "--multiprocessing-fork" in work[4]["command"]
    assert "family.child_main(6)" in work[6]["command"]
    # the fork server and the resource tracker: processes of their own, calling no work()
    assert len(runs) == 8
    assert all(r["how"] in ("main", "fork", "spawn", "forkserver", "subprocess")
               for r in runs.values())
    # each run's file row is one process; the session is shared
    con = sqlite3.connect(path)
    assert con.execute("SELECT COUNT(DISTINCT session) FROM processes").fetchone() == (1,)
    con.close()


def test_children_killed_or_crashing_leave_the_other_runs(tmp_path):
    for method in ("fork", "spawn", "forkserver"):
        out = tmp_path / f"crash-{method}.moth"
        proc = run_moth("profile", "-q", "--subprocesses", "-o", out, FAMILY, "crashes", method,
                        check=0)
        # the program's output and exit status are its own
        assert proc.stdout == "killed -9\ncrash -6\nraises 1\n2470\n", method
        assert "ValueError: child fails" in proc.stderr
        runs = wait_for_runs(out, {"fork": 4, "spawn": 5, "forkserver": 6}[method])
        # the killed child and the one that crashed took only their own runs with them; the
        # child that raised wrote its run as it ended; the pool's workers, ended by SIGTERM,
        # theirs
        assert not [r for r in runs.values() if "killed" in r["calls"]], method
        assert not [r for r in runs.values() if "crash" in r["calls"]], method
        raised = [r for r in runs.values() if "raises" in r["calls"]]
        assert len(raised) == 1 and raised[0]["calls"]["work"] == 10
        main = [r for r in runs.values() if r["how"] == "main"]
        assert len(main) == 1 and main[0]["calls"]["work"] == 2
        squares = [r for r in runs.values() if "square" in r["calls"]]
        assert sum(r["calls"]["square"] for r in squares) == 20, method
        assert all(r["how"] == ("spawn" if method == "spawn" else "fork") for r in squares)
        # both workers wrote, busy or not: a forked one holds SIGTERM from the fork until it
        # can write; a spawned one may get it while it starts, before moth does (as without
        # moth, it then dies of it at once)
        how = "spawn" if method == "spawn" else "fork"
        workers = [r for r in runs.values() if r["how"] == how and "raises" not in r["calls"]]
        assert len(workers) in ((1, 2) if method == "spawn" else (2,)), method


def test_children_get_the_same_options(tmp_path):
    out = tmp_path / "builtins.moth"
    run_moth("profile", "-q", "--subprocesses", "--builtins", "-o", out, FAMILY, "crashes",
             "fork", check=0)
    runs = wait_for_runs(out, 5)
    squares = [r for r in runs.values() if "square" in r["calls"]]
    # --builtins: C functions are rows of their own in the children too
    assert sum(r["calls"].get("<built-in method builtins.divmod>", 0) for r in squares) == 20
    con = sqlite3.connect(out)
    modes = {m for (m,) in con.execute("SELECT DISTINCT value FROM run_meta WHERE key = 'mode'")}
    con.close()
    assert modes == {"builtins (profile hook)"}


def test_table_without_outfile_is_every_process(tmp_path):
    proc = run_moth("profile", "--subprocesses", "-s", "calls", "--limit", "0", FAMILY, check=0,
                    cwd=tmp_path)
    # work(): 2 + 3 + 4 + 5 + 6 + 7 calls over six processes
    assert re.search(r"^\s+27\s.*family\.py:\d+\(work\)$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\s+6\s.*family\.py:\d+\(child_main\)$", proc.stdout, re.M)
    assert re.search(r"processes \(one run each\)", proc.stdout)
    assert re.search(r"^\s+\d+\s+\d+\s+\d+\s+main\s", proc.stdout, re.M)
    assert re.search(r"^\s+\d+\s+\d+\s+\d+\s+  fork\s", proc.stdout, re.M)  # below main
    assert list(tmp_path.iterdir()) == []


def test_stats_merges_lists_and_selects_processes(family):
    path, runs = family
    proc = run_moth("stats", "-s", "calls", "--limit", "0", path, check=0)
    assert re.search(r"^\s+27\s.*family\.py:\d+\(work\)$", proc.stdout, re.M)
    assert "8 processes (one run each):" in proc.stdout
    for r in runs.values():
        assert re.search(r"^\s+\d+\s+%d\s+%d\s" % (r["pid"], r["parent_pid"]), proc.stdout,
                         re.M)
    child = by_work(runs)[7]
    proc = run_moth("stats", "--pid", child["pid"], path, check=0)
    assert re.search(r"^\s+7\s.*family\.py:\d+\(work\)$", proc.stdout, re.M)
    assert "processes (one run each)" not in proc.stdout
    proc = run_moth("stats", "--pid", "999999999", path, check=2)
    assert proc.stderr.startswith("moth: %s has no process 999999999 (its processes: " % path)
    assert proc.stderr.count("\n") == 1


def test_flame_has_a_process_selector(family, tmp_path):
    path, runs = family
    html = tmp_path / "flame.html"
    run_moth("flame", path, "-o", html, check=0)
    text = html.read_text()
    assert 'id="proc"' in text
    data = json.loads(re.search(r"const DATA = (\{.*?\});</script>", text, re.S).group(1))
    assert len(data["procs"]) == 8
    assert {int(p.split()[0]) for p in data["procs"]} == {r["pid"] for r in runs.values()}
    # the first view is every process merged; then each process's threads merged
    assert "q" not in data["views"][0]
    assert sorted({v["q"] for v in data["views"][1:]}) == list(range(8))
    # each process's view is as long as its run; the first, their sum
    con = sqlite3.connect(path)
    seconds = [t for (t,) in con.execute("SELECT total_seconds FROM runs ORDER BY run")]
    con.close()
    assert data["views"][0]["t"][0] == pytest.approx(sum(seconds), rel=1e-6)
    for v in data["views"][1:]:
        assert v["t"][0] == pytest.approx(seconds[v["q"]], rel=1e-6)


def test_merge_combines_files(tmp_path):
    files = []
    for n in (2, 3):
        f = tmp_path / f"r{n}.moth"
        run_moth("profile", "-q", "-o", f, "-c",
                 f"def work(i):\n    return i\n[work(i) for i in range({n})]", check=0)
        files.append(f)
    out = tmp_path / "all.moth"
    proc = run_moth("merge", "-o", out, *files, check=0)
    assert proc.stderr == f"moth: 2 runs of 2 files written to {out}\n"
    runs = runs_of(out)
    assert sorted(r["calls"]["work"] for r in runs.values()) == [2, 3]
    assert all(r["how"] == "main" for r in runs.values())
    proc = run_moth("stats", "-s", "calls", out, check=0)
    assert re.search(r"^\s+5\s.*\(work\)$", proc.stdout, re.M)
    # errors: one line each
    assert run_moth("merge", *files, check=2).stderr.startswith("moth: merge into what?")
    assert run_moth("merge", "-o", out, check=2).stderr.startswith("moth: merge what?")
    assert run_moth("merge", "-o", files[0], *files, check=2).stderr == (
        f"moth: {files[0]} is both an input and the output: write to another file\n")
    bad = tmp_path / "x.prof"
    bad.write_text("not a profile")
    assert run_moth("merge", "-o", out, bad, check=2).stderr == (
        f"moth: {bad} is not a moth file (moth merge reads moth's own files)\n")
    assert run_moth("merge", "--bogus", check=2).stderr.startswith("moth: unknown option")


def test_bad_combinations(tmp_path):
    for args, message in (
            (["--memory"], "--subprocesses profiles time: it does not combine with --memory"),
            (["--lines"], "--subprocesses profiles time: it does not combine with --memory"),
            (["--append", "-o", "x.moth"], "--subprocesses writes a new file"),
            (["-o", "x.prof"], "--subprocesses writes moth's own file, one run per process")):
        proc = run_moth("profile", "--subprocesses", *args, "-c", "pass", check=2, cwd=tmp_path)
        assert proc.stderr.startswith("moth: " + message), proc.stderr
    for args in (["--pid", "0"], ["--pid", "1", "--lines"], ["--by-rank", "--callers"]):
        assert run_moth("stats", *args, "x.moth", check=2).stderr.count("\n") == 1


def test_ranks_from_the_mpi_environment_share_one_file(tmp_path):
    """Every rank of a job adds its run to the one file (the launcher's variables, as
    mpirun sets them); --by-rank compares them."""
    out = tmp_path / "ranks.moth"
    code = ("import os, time\n"
            "def work(n):\n    time.sleep(n)\n"
            "rank = int(os.environ['OMPI_COMM_WORLD_RANK'])\n"
            "for _ in range(rank + 1):\n    work(0.02 * (rank + 1))\n")
    outputs = []
    for rank in (0, 1, 2):
        env = {"OMPI_COMM_WORLD_RANK": str(rank), "OMPI_COMM_WORLD_SIZE": "3",
               "OMPI_MCA_ess_base_jobid": "1234"}
        outputs.append(run_moth("profile", "-o", out, "-c", code, env=env, check=0).stdout)
    # rank 0 prints its table and where the others went; the other ranks print nothing
    assert "MPI rank 0's table; every rank writes its run into" in outputs[0]
    assert outputs[1] == outputs[2] == ""
    runs = runs_of(out)
    assert sorted((r["rank"], r["how"], r["calls"]["work"]) for r in runs.values()) == [
        (0, "mpi", 1), (1, "mpi", 2), (2, "mpi", 3)]
    proc = run_moth("stats", "--by-rank", out, check=0)
    lines = proc.stdout.splitlines()
    assert lines[0] == "   3 MPI ranks; time in each (own time of every function, s):"
    assert lines[3].startswith("   rank    2") and lines[3].endswith("<- slowest")
    row = next(line for line in lines if line.endswith("(work)"))
    calls, low, median, high, slowest = row.split()[:5]
    # own time of work: rank r sleeps (r + 1) * 0.02 s, r + 1 times
    assert calls == "6" and slowest == "2"
    assert 0.015 < float(low) < float(median) < float(high)
    assert float(high) >= 0.17
    # a new job takes the file over; a file without ranks has no --by-rank
    env = {"OMPI_COMM_WORLD_RANK": "0", "OMPI_COMM_WORLD_SIZE": "3",
           "OMPI_MCA_ess_base_jobid": "5678"}
    run_moth("profile", "-q", "-o", out, "-c", code, env=env, check=0)
    assert [r["rank"] for r in runs_of(out).values()] == [0]
    plain = tmp_path / "plain.moth"
    run_moth("profile", "-q", "-o", plain, "-c", "pass", check=0)
    assert run_moth("stats", "--by-rank", plain, check=2).stderr.startswith(
        f"moth: {plain}: no MPI ranks in this profile")


def test_a_fork_under_moth_warns_as_without_it(tmp_path):
    """3.12+ warn about os.fork in a process with threads; moth's own thread (the one that
    writes the profile on SIGTERM) stops around a fork, so the program sees what it would."""
    code = ("import os, warnings\nwarnings.simplefilter('default')\n"
            "pid = os.fork()\nif pid == 0:\n    os._exit(3)\n"
            "print(os.waitpid(pid, 0)[1] >> 8)\n")
    proc = run_moth("profile", "-q", "-c", code, check=0)
    assert (proc.stdout, proc.stderr) == ("3\n", "")


@pytest.mark.parametrize("builtins", [[], ["--builtins"]], ids=["frames", "builtins"])
def test_without_subprocesses_a_forked_child_stops_recording(tmp_path, builtins):
    """Without --subprocesses a forked child's recording would be thrown away: it stops at the
    fork. The child sees no profiler of moth's (it may start its own, which one still recording
    would refuse; the profile hook is gone), the parent's run goes on and is complete."""
    code = ("import os, sys, moth\n"
            "def work():\n    return sum(range(100))\n"
            "work()\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    p = moth.Profile(builtins=False)\n"
            "    p.enable(); work(); p.disable()\n"
            "    os._exit(10 + (sys.getprofile() is None))\n"
            "work()\n"
            "print(os.waitpid(pid, 0)[1] >> 8)\n")
    out = tmp_path / "one.moth"
    proc = run_moth("profile", *builtins, "-q", "-o", out, "-c", code, check=0)
    assert (proc.stdout, proc.stderr) == ("11\n", "")
    runs = runs_of(out)
    assert len(runs) == 1 and next(iter(runs.values()))["calls"]["work"] == 2


def start_in_new_interpreter(tmp_path, env_run, code="", calibration=None):
    """A Python that runs moth._moth._subprocess_start() itself (as the bootstrap
    sitecustomize does) under MOTH_SUBPROCESSES=env_run; prints what it returned."""
    from conftest import moth_env
    env = moth_env({})
    env.pop("MOTH_SUBPROCESSES", None)
    env.pop("MOTH_SUBPROCESSES_CALIBRATION", None)
    if env_run is not None:
        env["MOTH_SUBPROCESSES"] = env_run
    if calibration is not None:
        env["MOTH_SUBPROCESSES_CALIBRATION"] = calibration
    prog = ("import sys\n" + code +
            "from moth import _moth\n"
            "try:\n    print(_moth._subprocess_start())\n"
            "except Exception as e:\n    print(type(e).__name__)\n"
            "def work():\n    return 1\n"
            "work(); work()\n")
    return subprocess.run([sys.executable, "-c", prog], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=120)


@pytest.mark.parametrize("env_run", [None, "0:", "1:", "1:b:session-only", "1::s:relative.moth"],
                         ids=["unset", "not-1", "no-session", "no-path", "relative"])
def test_a_child_not_asked_or_asked_wrongly_runs_unprofiled(tmp_path, env_run):
    proc = start_in_new_interpreter(tmp_path, env_run)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "False\n", "")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("flags,calibration,meta", [
    ("bcrn", None, {"clock": "cpu", "mode": "builtins (profile hook)", "times": "as measured"}),
    ("n", "0 1 2 3 4 5 6", {"clock": "wall", "mode": "frames (frame evaluation)",
                            "times": "measured cost of recording subtracted"}),
    ("n", "garbled", {"clock": "wall"}),
], ids=["builtins-cpu-raw", "other-pythons-calibration", "garbled-calibration"])
def test_a_child_takes_the_options_it_is_given_and_creates_the_file(tmp_path, flags,
                                                                   calibration, meta):
    # flags: b builtins, c CPU clock, r raw times, n may create the file (an MPI rank's); a
    # calibration of another Python, or one that cannot be read, is measured again
    out = tmp_path / "child.moth"
    proc = start_in_new_interpreter(tmp_path, f"1:{flags}:sess-1:{out}", calibration=calibration)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "True\n", "")
    runs = runs_of(out)
    assert [r["calls"]["work"] for r in runs.values()] == [2]
    assert [r["how"] for r in runs.values()] == ["subprocess"]
    con = sqlite3.connect(out)
    got = dict(con.execute("SELECT key, value FROM run_meta"))
    con.close()
    assert {k: got[k] for k in meta} == meta


def test_a_child_that_cannot_write_its_run_says_so_and_exits_as_it_would(tmp_path):
    out = tmp_path / "garbage.moth"
    out.write_text("not a moth file\n" * 100)
    proc = start_in_new_interpreter(tmp_path, f"1::sess-1:{out}", code="")
    assert (proc.returncode, proc.stdout) == (0, "True\n")
    assert re.fullmatch(r"moth: process \d+: .+\n", proc.stderr), proc.stderr
    assert out.read_text() == "not a moth file\n" * 100


def test_a_second_start_or_another_profiler_running_is_refused(tmp_path):
    out = tmp_path / "child.moth"
    code = ("import moth\np = moth.Profile(builtins=False)\np.enable()\n"
            "from moth import _moth\nprint(_moth._subprocess_start())\np.disable()\n")
    proc = start_in_new_interpreter(tmp_path, f"1:n:sess-1:{out}", code=code)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "False\nTrue\n", "")
    code = "from moth import _moth\nprint(_moth._subprocess_start())\n"
    # started once (the first call), the second is refused
    proc = start_in_new_interpreter(tmp_path, f"1:n:sess-2:{out}", code=code)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "True\nFalse\n", "")


@pytest.mark.parametrize("missing", ["os.register_at_fork", "atexit.register"])
def test_a_child_that_cannot_hook_its_exits_is_not_profiled(tmp_path, missing):
    # without the fork handler or the exit hook a child's run could not be written: the
    # start fails with the Python error, recording nothing
    module, name = missing.split(".")
    out = tmp_path / "child.moth"
    code = f"import {module}\ndel {module}.{name}\n"
    proc = start_in_new_interpreter(tmp_path, f"1:n:sess-1:{out}", code=code)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "AttributeError\n", "")
    assert not out.exists()
