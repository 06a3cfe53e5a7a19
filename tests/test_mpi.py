"""MPI: `mpirun -n N moth profile -o run.moth prog.py`, every rank's run in the one file
(Open MPI and mpi4py); `moth stats --by-rank`; per-rank files that `moth merge` combines."""
import re
import shutil
import sqlite3
import subprocess
import sys

import pytest

from conftest import moth_env

MPIRUN = shutil.which("mpirun")

pytestmark = [
    pytest.mark.skipif(MPIRUN is None, reason="mpirun is not installed (Debian: openmpi-bin)"),
    # Open MPI's launcher is not Python: the sanitizer runtime preloaded into it reports Open
    # MPI's own allocations at its exit
    pytest.mark.nosanitize,
]

PROGRAM = """\
import time
from mpi4py import MPI


def work(n):
    time.sleep(n)


comm = MPI.COMM_WORLD
rank = comm.Get_rank()
for _ in range(rank + 1):
    work(0.02 * (rank + 1))
total = comm.allreduce(rank, op=MPI.SUM)
if rank == 0:
    print("sum", total, "size", comm.Get_size())
"""


def mpirun(n, *args, cwd):
    """mpirun as root on a machine with fewer cores than ranks needs both flags."""
    cmd = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-n", str(n), *map(str, args)]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300,
                          env=moth_env())


def ranks_of(path):
    con = sqlite3.connect(path)
    try:
        return sorted(con.execute(
            "SELECT p.rank, p.size, p.how, f.calls FROM processes p JOIN function_times f "
            "ON f.run = p.run WHERE f.name = 'work'"))
    finally:
        con.close()


def test_every_rank_writes_its_run_into_one_file(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    proc = mpirun(3, sys.executable, "-m", "moth", "profile", "-o", "run.moth", "prog.py",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("sum 3 size 3\n")
    assert proc.stdout.count("Ordered by") == 1  # rank 0's table only
    assert "MPI rank 0's table; every rank writes its run into run.moth" in proc.stdout
    out = tmp_path / "run.moth"
    assert ranks_of(out) == [(0, 3, "mpi", 1), (1, 3, "mpi", 2), (2, 3, "mpi", 3)]
    con = sqlite3.connect(out)
    assert con.execute("SELECT COUNT(DISTINCT session) FROM processes").fetchone() == (1,)
    con.close()
    proc = subprocess.run([sys.executable, "-m", "moth", "stats", "--by-rank", out],
                          capture_output=True, text=True, env=moth_env())
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("   3 MPI ranks; time in each (own time of every function, s):\n")
    row = next(line for line in proc.stdout.splitlines() if line.endswith("(work)"))
    calls, low, median, high, slowest = row.split()[:5]
    # rank r sleeps (r + 1) * 0.02 s, r + 1 times: rank 2 is the slowest in work()
    assert (calls, slowest) == ("6", "2")
    assert 0.015 < float(low) < float(median) < float(high)
    # a second job takes the file over
    proc = mpirun(2, sys.executable, "-m", "moth", "profile", "-q", "-o", "run.moth", "prog.py",
                  cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert ranks_of(out) == [(0, 2, "mpi", 1), (1, 2, "mpi", 2)]


def test_per_rank_files_merge(tmp_path):
    (tmp_path / "prog.py").write_text(PROGRAM)
    # each rank its own pstats-free moth file, named by rank through the shell
    script = ('exec "$0" -m moth profile -q -o "rank-$OMPI_COMM_WORLD_RANK.moth" --append '
              'prog.py')
    proc = mpirun(2, "sh", "-c", script, sys.executable, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    files = sorted(tmp_path.glob("rank-*.moth"))
    assert [f.name for f in files] == ["rank-0.moth", "rank-1.moth"]
    merged = tmp_path / "all.moth"
    proc = subprocess.run([sys.executable, "-m", "moth", "merge", "-o", merged, *files],
                          capture_output=True, text=True, env=moth_env())
    assert proc.returncode == 0, proc.stderr
    assert ranks_of(merged) == [(0, 2, "main", 1), (1, 2, "main", 2)]
    proc = subprocess.run([sys.executable, "-m", "moth", "stats", "--by-rank", merged],
                          capture_output=True, text=True, env=moth_env())
    assert re.search(r"^\s+3\s.*\s1\s+\S*prog\.py:\d+\(work\)$", proc.stdout, re.M), proc.stdout
