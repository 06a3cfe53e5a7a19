"""The debugger engine's Python surface (moth._moth.Engine, which moth.Pdb drives): wrong
arguments raise TypeError with a message, a second debugger on sys.monitoring's debugger tool
is refused, and an engine with nothing to wait for uninstalls itself."""
import sys

import pytest

from moth._moth import Engine


def engine(events=None):
    return Engine(lambda *a: (events.append(a) if events is not None else None), lambda f: f)


def test_configure_arguments():
    e = engine()
    with pytest.raises(TypeError):
        e.configure([], (), False)
    with pytest.raises(TypeError):
        e.configure({}, [], False)
    with pytest.raises(TypeError, match="Engine.configure: frame must be a frame or None"):
        e.configure({}, (), False, 42)
    with pytest.raises(TypeError, match="Engine targets must be frames"):
        e.configure({}, (42,), False)
    with pytest.raises(TypeError):
        e.configure({__file__: 5}, (), False)        # lines must be a sequence
    # nothing to stop at: not armed, nothing installed
    assert e.configure({__file__: []}, (), False) is False
    assert e.armed is False
    e.stop()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="dictionary watchers are 3.12+")
def test_watch_globals_arguments():
    e = engine()
    with pytest.raises(TypeError):
        e.watch_globals([], print)
    with pytest.raises(TypeError):
        e.watch_globals(((globals(),),), print)       # a pair is (dict, names)
    with pytest.raises(TypeError):
        e.watch_globals((([], {"x"}),), print)        # the dict must be a dict
    with pytest.raises(TypeError):
        e.watch_globals(((globals(), 5),), print)     # names must be iterable
    assert e.watch_globals(((globals(), {"x"}),), print) is True
    assert e.watch_globals((), print) is True         # nothing: unwatches
    e.stop()


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.11 has no dictionary watchers")
def test_watch_globals_says_it_cannot_on_3_11():
    assert engine().watch_globals(((globals(), {"x"}),), print) is False


def target_line():
    return 1  # the engine stops here


@pytest.mark.skipif(sys.version_info < (3, 12), reason="sys.monitoring is 3.12+")
def test_the_debugger_tool_taken_by_another_debugger_is_refused():
    mon = sys.monitoring
    mon.use_tool_id(mon.DEBUGGER_ID, "someone else")
    try:
        e = engine()
        line = target_line.__code__.co_firstlineno + 1
        with pytest.raises(RuntimeError,
                           match="sys.monitoring's debugger tool is taken by another debugger"):
            e.configure({__file__: [line]}, (), False)
        assert e.armed is False
    finally:
        mon.free_tool_id(mon.DEBUGGER_ID)


def test_a_breakpoint_line_is_delivered_and_stop_uninstalls():
    events = []
    e = engine(events)
    line = target_line.__code__.co_firstlineno + 1
    assert e.configure({__file__: [line]}, (), False) is True
    assert e.armed is True
    target_line()
    e.stop()
    assert e.armed is False
    target_line()                                     # after stop: nothing more
    lines = [a[0].f_lineno for a in events if a[1] == "line"]
    assert lines == [line]


@pytest.mark.skipif(sys.version_info < (3, 12), reason="dictionary watchers are 3.12+")
def test_watched_names_call_back_with_the_changing_frame(monkeypatch):
    seen, broken = [], []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: broken.append(u.exc_value))
    e = engine()
    space = {"x": 1, "other": 0}
    state = {"raise": False}

    def changed(frame):          # called before the change is made
        seen.append(frame.f_code.co_name)
        if state["raise"]:
            raise KeyError("callback broke")

    assert e.watch_globals(((space, {"x", "fail"}),), changed) is True

    def rebind():
        space["x"] = 2          # a watched name: called back
        space["other"] = 1      # not watched
        del space["x"]          # deleted: called back
    rebind()
    assert seen == ["rebind", "rebind"]
    space.clear()               # any name may have changed
    assert seen[-1] == "test_watched_names_call_back_with_the_changing_frame"
    state["raise"] = True
    space["fail"] = True        # the callback raises: reported, the change stands
    assert space["fail"] is True and [str(b) for b in broken] == ["'callback broke'"]
    e.stop()
    space["x"] = 5              # after stop: no more calls
    assert len(seen) == 4
