"""Mistakes made through moth's Python API raise the exception Python's own tools (cProfile,
line_profiler) would, with a message that says what was wrong, and leave the profiler usable."""
import io
import pstats
import sys
import threading

import pytest

import moth
from moth import _moth


def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


def test_constructor_arguments():
    with pytest.raises(ValueError, match="lines must be True, False or 'selected'"):
        moth.Profile(lines="all")
    with pytest.raises(ValueError, match="line profiling needs builtins=False"):
        moth.Profile(lines=True, builtins=True)
    with pytest.raises(ValueError, match="clock must be 'wall' or 'cpu', not 'sundial'"):
        moth.Profile(clock="sundial")
    with pytest.raises(TypeError):
        moth.Profile(timeunit="fast")
    with pytest.raises(TypeError):
        moth.Profile(builtins=False, unknown=1)


def test_lines_alone_choose_the_frames_mode():
    p = moth.Profile(lines=True)      # builtins not given: lines imply builtins=False
    p.runcall(fib, 5)
    p.create_stats()
    assert not any(k[0] == "~" for k in p.stats)   # no C function rows
    assert [v[1] for k, v in p.stats.items() if k[2] == "fib"] == [15]


def test_reinitialising_an_enabled_profiler_is_refused():
    p = moth.Profile(builtins=False)
    p.enable()
    try:
        with pytest.raises(RuntimeError, match="cannot re-initialise an enabled profiler"):
            p.__init__(builtins=False)
    finally:
        p.disable()
    # once disabled it starts over: what was recorded is gone
    p.runcall(fib, 3)
    p.__init__(builtins=False)
    p.runcall(fib, 4)
    p.create_stats()
    assert [v[1] for k, v in p.stats.items() if k[2] == "fib"] == [9]


def test_sort_arguments_of_print_stats(capsys):
    p = moth.Profile(builtins=False)
    p.runcall(fib, 6)
    with pytest.raises(ValueError, match="too many sort keys"):
        p.print_stats(("calls",) * 9)
    with pytest.raises(TypeError, match="sort keys must be strings or ints, not float"):
        p.print_stats(3.5)
    with pytest.raises(TypeError, match="sort keys must be strings or ints, not list"):
        p.print_stats(("calls", ["name"]))
    with pytest.raises(KeyError, match="speed"):
        p.print_stats("speed")
    assert capsys.readouterr().out == ""
    p.print_stats(pstats.SortKey.CUMULATIVE)
    assert "Ordered by: cumulative time\n" in capsys.readouterr().out
    p.print_stats(0)                      # pstats' legacy int for calls
    assert "Ordered by: call count\n" in capsys.readouterr().out
    with pytest.raises(KeyError, match="unknown sort key '2'"):
        p.print_stats((2, "name"))        # legacy ints only alone, as in pstats


def test_dump_stats_errors(tmp_path):
    p = moth.Profile(builtins=False)
    p.runcall(fib, 4)
    with pytest.raises(TypeError):
        p.dump_stats(42)
    missing = tmp_path / "no" / "such" / "out.prof"
    with pytest.raises(OSError, match="out.prof"):
        p.dump_stats(missing)
    assert not missing.exists()
    p.dump_stats(tmp_path / "out.prof")  # a path object, as cProfile takes
    stats = pstats.Stats(str(tmp_path / "out.prof")).stats
    assert [v[1] for k, v in stats.items() if k[2] == "fib"] == [9]


def test_subcalls_false_writes_no_caller_edges(tmp_path):
    p = moth.Profile(builtins=False, subcalls=False)
    p.runcall(fib, 4)
    p.dump_stats(tmp_path / "flat.prof")
    stats = pstats.Stats(str(tmp_path / "flat.prof")).stats
    assert all(v[4] == {} for v in stats.values())


def test_run_helpers_keep_the_exception_and_stop_profiling():
    p = moth.Profile(builtins=False)
    with pytest.raises(TypeError, match="runcall expected at least 1 argument"):
        p.runcall()
    with pytest.raises(ZeroDivisionError):
        p.runcall(lambda: 1 / 0)
    with pytest.raises(SyntaxError):
        p.runctx("def (", {}, {})
    with pytest.raises(NameError, match="undefined_name"):
        p.run("undefined_name")
    # nothing was left enabled: another profiler can start
    q = moth.Profile(builtins=False)
    q.enable()
    q.disable()
    assert p.runctx("x = fib(3)", {"fib": fib}, {}) is p


def test_add_function_wants_python_code():
    p = moth.Profile(builtins=False)
    with pytest.raises(TypeError, match="cannot line-profile 42: not a Python function"):
        p.add_function(42)
    with pytest.raises(TypeError, match="not a Python function"):
        p.add_function(len)

    class Loop:                       # __wrapped__ pointing at itself never ends in code
        pass
    loop = Loop()
    loop.__wrapped__ = loop
    with pytest.raises(TypeError, match="not a Python function"):
        p.add_function(loop)

    class C:
        @property
        def value(self):
            return fib(5)

        @staticmethod
        def static():
            return fib(4)
    p.add_function(C.value)           # a property: its getter
    p.add_function(C.__dict__["static"])
    p.enable()
    C().value
    C.static()
    p.disable()
    out = io.StringIO()
    p.print_lines(stream=out)
    text = out.getvalue()
    assert "return fib(5)" in text and "return fib(4)" in text


def test_add_function_to_an_enabled_builtins_profiler_is_refused():
    p = moth.Profile()                # builtins=True: cProfile's mode, no line events
    p.enable()
    try:
        with pytest.raises(ValueError, match="line profiling needs builtins=False"):
            p.add_function(fib)
    finally:
        p.disable()


def test_print_lines_with_nothing_recorded_and_a_stream_that_fails():
    p = moth.Profile(builtins=False)
    out = io.StringIO()
    p.print_lines(stream=out)
    assert out.getvalue() == "Timer unit: 1e-06 s\n\n"
    with pytest.raises(AttributeError):
        p.print_lines(stream=object())


def test_module_function_arguments():
    with pytest.raises(TypeError, match="moth.profile_lines decorates Python functions, not 42"):
        moth.profile_lines(42)
    with pytest.raises(TypeError, match="moth.profile_lines decorates Python functions"):
        moth.profile_lines(len)
    with pytest.raises(TypeError):
        _moth.highlight(b"x = 1")
    assert _moth.highlight("x") == "x"
    with pytest.raises(TypeError, match="async_raise: an exception type is needed"):
        _moth.async_raise(threading.get_ident(), 42)
    with pytest.raises(TypeError):
        _moth.async_raise("main", KeyError)
    assert _moth.async_raise(2 ** 40 + 12345, KeyError) == 0     # no such thread
    # a stream whose isatty is missing or raises is not a terminal
    assert _moth.wants_colour(object()) is False
    assert _moth.wants_colour(None) is False

    class Broken:
        def isatty(self):
            raise OSError("closed")
    assert _moth.wants_colour(Broken()) is False


def test_a_timer_that_raises_is_reported_as_cprofile_does(monkeypatch):
    """cProfile reports a failing timer through sys.unraisablehook and goes on; so does moth."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    ticks = []

    def timer():
        ticks.append(1)
        if len(ticks) > 3:
            raise RuntimeError("timer broke")
        return len(ticks)
    p = moth.Profile(timer, builtins=False)
    assert p.runcall(fib, 3) == 2
    assert seen and all(isinstance(e, RuntimeError) and str(e) == "timer broke" for e in seen)
    p.create_stats()
    assert [k[2] for k in p.stats] and sys.getprofile() is None


@pytest.mark.parametrize("timeunit, value, message", [
    (0.001, 1.5, "the timer must return an int when timeunit is set"),
    (0.0, "soon", "must be real number, not str"),
])
def test_a_timer_returning_the_wrong_type(monkeypatch, timeunit, value, message):
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: seen.append(u.exc_value))
    p = moth.Profile(lambda: value, timeunit, builtins=False)
    assert p.runcall(fib, 2) == 1
    assert seen and all(isinstance(e, TypeError) and message in str(e) for e in seen)
