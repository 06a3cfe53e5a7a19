"""moth.Profile is a drop-in for cProfile.Profile."""
import cProfile
import gc
import io
import marshal
import pstats
import re
import sys
import threading
from contextlib import redirect_stdout

import pytest

import moth


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def work():
    total = 0
    for i in range(30):
        total += fib(8) + len(str(i))
    return total


def python_rows(stats, name):
    return {k: v for k, v in stats.items() if k[2] == name and k[0] == __file__}


@pytest.mark.parametrize("builtins", [True, False])
def test_counts_equal_cprofile(builtins):
    c = cProfile.Profile()
    c.runcall(work)
    c.create_stats()
    m = moth.Profile(builtins=builtins)
    assert m.runcall(work) == work()
    m.create_stats()
    for name in ("work", "fib"):
        (ck, cv), = python_rows(c.stats, name).items()
        (mk, mv), = python_rows(m.stats, name).items()
        assert ck == mk
        assert cv[:2] == mv[:2]                      # cc, nc
        c_callers = {k: v[:2] for k, v in cv[4].items()}
        m_callers = {k: v[:2] for k, v in mv[4].items()}
        assert c_callers == m_callers


def test_builtins_rows_match_cprofile_names():
    m = moth.Profile()
    m.runcall(work)
    m.create_stats()
    c = cProfile.Profile()
    c.runcall(work)
    c.create_stats()
    c_builtins = {k: v[:2] for k, v in c.stats.items() if k[0] == "~"}
    m_builtins = {k: v[:2] for k, v in m.stats.items() if k[0] == "~"}
    assert m_builtins == c_builtins
    assert ("~", 0, "<built-in method builtins.len>") in m_builtins


def callers_and_callees(profiler):
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("name").print_callers()
    stats.print_callees()
    return out.getvalue()


def test_pstats_callers_and_callees_print_as_for_cprofile():
    # cProfile's profile holds its own disable() call, whose name sets pstats' column width
    texts = []
    for make in (cProfile.Profile, moth.Profile):
        p = make()
        p.enable()
        work()
        p.disable()
        text = callers_and_callees(p)
        texts.append(re.sub(r"\d+\.\d{3}", "T", text))   # the times differ, not the layout
    assert "{method 'disable' of '_lsprof.Profiler' objects}  <- \n" in texts[1]
    assert texts[0] == texts[1]


def test_getprofile_shows_the_profiler_as_for_cprofile():
    seen = []
    for make in (cProfile.Profile, moth.Profile):
        p = make()
        before = sys.getprofile()
        p.enable()
        now = sys.getprofile()
        p.disable()
        seen.append((before, now is p, now is None, sys.getprofile()))
    # 3.11: the profiler itself; 3.12+: cProfile runs on sys.monitoring and shows None
    assert seen[0] == seen[1] == (None, sys.version_info < (3, 12), sys.version_info >= (3, 12),
                                  None)


def test_fast_mode_has_no_builtin_rows():
    m = moth.Profile(builtins=False)
    m.runcall(work)
    m.create_stats()
    assert not [k for k in m.stats if k[0] == "~"]


def test_pstats_reads_the_profile_object_and_the_dump(tmp_path):
    m = moth.Profile()
    with m:
        work()
    m.create_stats()
    expected = dict(m.stats)
    s = pstats.Stats(m)            # takes the stats (and leaves m.stats empty, as for cProfile)
    assert s.stats == expected and s.total_calls > 0
    path = tmp_path / "w.prof"
    m.dump_stats(path)
    loaded = pstats.Stats(str(path))
    assert loaded.stats == expected
    with open(path, "rb") as f:
        assert marshal.load(f) == expected


def test_runctx_run_and_module_functions(capsys):
    m = moth.Profile()
    assert m.runctx("fib(6)", globals(), {}) is m
    m.create_stats()
    assert python_rows(m.stats, "fib")
    moth.runctx("fib(5)", globals(), {}, sort="calls")
    out = capsys.readouterr().out
    assert "function calls" in out and "Ordered by: call count" in out


def test_exception_in_runcall_propagates_and_profile_is_kept():
    def boom():
        fib(5)
        raise KeyError("x")
    m = moth.Profile()
    with pytest.raises(KeyError):
        m.runcall(boom)
    m.create_stats()
    assert python_rows(m.stats, "boom")


def test_print_stats_matches_pstats_on_the_same_data(capsys):
    m = moth.Profile()
    m.runcall(work)
    m.print_stats("cumulative")
    ours = capsys.readouterr().out
    buf = io.StringIO()
    pstats.Stats(m, stream=buf).strip_dirs().sort_stats("cumulative").print_stats()
    assert ours == buf.getvalue()


class Ticker:
    """A fake timer: every call advances time by one unit, so results are deterministic."""
    def __init__(self):
        self.t = 0

    def __call__(self):
        self.t += 1
        return self.t


def profilee():
    def inner(n):
        return [x for x in range(n)]
    def outer():
        for i in range(3):
            inner(i)
        return helper(4)
    def helper(n):
        return n if n < 2 else helper(n - 1)
    return outer()


def normalise(text):
    # The one row that cannot be identical is the profiler's own disable() method: its label
    # names the profiler's type, and its length sets pstats' column widths; so drop that row
    # and the call totals it contributes to, and compare with runs of spaces folded.
    return "\n".join(" ".join(line.split()) for line in text.splitlines()
                     if "disable" not in line and "function calls" not in line)


@pytest.mark.parametrize("builtins", [True, False])
@pytest.mark.parametrize("timeunit", [0.001, 0.0])
def test_printed_statistics_under_a_fake_timer_equal_cprofile(timeunit, builtins):
    outputs = []
    # A collection during the run could call finalizers of earlier tests' objects (this runs in
    # pytest's own process) and add their rows to one profile and not the other.
    gc.collect()
    gc.disable()
    try:
        profiles = []
        for cls in (cProfile.Profile, moth.Profile):
            tick = Ticker()
            if timeunit:
                prof = cls(tick, timeunit, builtins=builtins)
            else:
                prof = cls(lambda: tick() * 0.5, builtins=builtins)
            prof.runcall(profilee)
            profiles.append(prof)
    finally:
        gc.enable()
    for prof in profiles:
        for method in ("print_stats", "print_callers", "print_callees"):
            buf = io.StringIO()
            stats = pstats.Stats(prof, stream=buf)
            stats.strip_dirs().sort_stats("stdname")
            getattr(stats, method)()
            outputs.append((method, buf.getvalue()))
    half = len(outputs) // 2
    for (method, c_out), (_, m_out) in zip(outputs[:half], outputs[half:]):
        assert normalise(m_out) == normalise(c_out), method


def test_cpu_clock_leaves_out_sleeping_and_wall_clock_counts_it():
    import time
    def nap():
        time.sleep(0.2)
    def spin():
        t = time.thread_time()
        while time.thread_time() - t < 0.05:
            pass
    def both():
        nap()
        spin()
    times = {}
    for clock in ("wall", "cpu"):
        p = moth.Profile(builtins=False, clock=clock)
        p.runcall(both)
        p.create_stats()
        times[clock] = {k[2]: v[3] for k, v in p.stats.items() if k[0] == __file__}
    assert times["wall"]["nap"] >= 0.19
    assert times["cpu"]["nap"] < 0.05
    assert times["cpu"]["spin"] >= 0.045
    with pytest.raises(ValueError):
        moth.Profile(clock="sundial")


def test_threads_started_before_and_after_enable_are_profiled():
    started = threading.Event()
    go = threading.Event()

    def early():
        started.set()
        go.wait()
        fib(10)

    def late():
        fib(9)

    t1 = threading.Thread(target=early)
    t1.start()
    started.wait()
    m = moth.Profile(builtins=False)
    m.enable()
    go.set()
    t2 = threading.Thread(target=late)
    t2.start()
    t1.join()
    t2.join()
    fib(3)
    m.disable()
    m.create_stats()
    (fib_key,) = python_rows(m.stats, "fib")
    cc, nc = m.stats[fib_key][:2]
    assert nc == 177 + 109 + 5   # fib(10) + fib(9) + fib(3) calls
    assert cc == 3
    assert python_rows(m.stats, "late")


def test_second_enabled_profiler_is_refused():
    a = moth.Profile(builtins=False)
    b = moth.Profile(builtins=False)
    a.enable()
    try:
        with pytest.raises(ValueError):
            b.enable()
    finally:
        a.disable()
    b.enable()
    b.disable()


def test_calibration_learns_the_cost_of_calls_from_bytecode():
    # calibrate.c times a recursion of calls straight from bytecode and calls from C (map):
    # in frames mode it learns the C stack distance of the first kind and a cost for it; the
    # scratch profiler it uses leaves nothing in the user's profile.
    m = moth.Profile(builtins=False, compensate=True)
    m.enable()
    fib(3)
    m.disable()
    cal = m._calibration()
    assert cal["inline_delta"] > 0
    assert cal["inner"] > 0 and cal["inline"] + cal["inner"] > 0
    m.create_stats()
    assert [k[2] for k in m.stats] == ["fib"] and m.stats[next(iter(m.stats))][1] == 5


def test_enable_disable_accumulates_like_cprofile():
    m = moth.Profile(builtins=False)
    for _ in range(3):
        m.enable()
        fib(5)
        m.disable()
    m.create_stats()
    (k,) = python_rows(m.stats, "fib")
    assert m.stats[k][1] == 3 * 15
    m.clear()
    m.create_stats()
    assert not python_rows(m.stats, "fib")


def test_disable_inside_a_call_closes_running_calls():
    m = moth.Profile(builtins=False)
    def outer():
        m.enable()
        inner()
        m.disable()
    def inner():
        fib(4)
    outer()
    m.create_stats()
    assert python_rows(m.stats, "inner")
    assert not python_rows(m.stats, "outer")   # started before enable, like cProfile


def test_subclass_and_attributes():
    class Mine(moth.Profile):
        def __init__(self):
            super().__init__(builtins=False)
            self.extra = 1
    p = Mine()
    p.runcall(fib, 3)
    p.create_stats()
    assert p.extra == 1 and python_rows(p.stats, "fib")


def test_subcalls_false_has_no_caller_edges():
    m = moth.Profile(subcalls=False, builtins=False)
    m.runcall(work)
    m.create_stats()
    assert all(v[4] == {} for v in m.stats.values())


def test_generators_and_exceptions_across_frames():
    def gen():
        for i in range(4):
            yield i
    def thrower():
        raise ValueError
    def catcher():
        try:
            thrower()
        except ValueError:
            return sum(gen())
    m = moth.Profile(builtins=False)
    m.runcall(catcher)
    m.create_stats()
    (g,) = python_rows(m.stats, "gen")
    (t,) = python_rows(m.stats, "thrower")
    assert m.stats[g][1] == 5 and m.stats[t][1] == 1


@pytest.mark.nosanitize
@pytest.mark.parametrize("builtins", [True, False])
def test_no_growth_in_memory_over_repeated_profiles(builtins, tmp_path):
    # Interpreter caches warm up over the first few hundred runs; after that, a leak of even one
    # object per run would show as hundreds of blocks per batch.
    path = tmp_path / "r.prof"
    def one_run():
        p = moth.Profile(builtins=builtins)
        p.runcall(work)
        p.create_stats()
        p.dump_stats(path)
    for _ in range(600):
        one_run()
    growth = []
    for _ in range(3):
        before = sys.getallocatedblocks()
        for _ in range(300):
            one_run()
        growth.append(sys.getallocatedblocks() - before)
    assert min(growth) < 30, growth
