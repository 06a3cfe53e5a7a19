"""moth's pytest plugin: memory limits and leak checks for tests, as pytest-memray's.

    pytest --moth-memory                      every test's memory peak, in the summary
    @pytest.mark.moth_limit_memory("24 MB")   fail a test whose peak is above the limit
    @pytest.mark.moth_no_leaks                fail a test that leaves memory allocated
    @pytest.mark.moth_no_leaks("1 KiB")       ... more than this

A marked test runs under moth's memory profiler (moth.Profile(memory=True)); the judgement and
its message (the lines that held the memory) come from moth's C engine (_moth.memory_verdict).
This file only wires them into pytest's hooks.
"""
import functools
import gc

import pytest

import moth
from moth import _moth


def pytest_addoption(parser):
    group = parser.getgroup("moth")
    group.addoption("--moth-memory", action="store_true", default=False,
                    help="profile every test's memory with moth and show the highest peaks")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "moth_limit_memory(size): fail the test if the memory it holds at its "
        "peak is above size ('24 MB', '512 KiB'; powers of 1024)")
    config.addinivalue_line(
        "markers", "moth_no_leaks(size='0 B'): fail the test if, after it returned and a full "
        "garbage collection, it leaves more than size of what it allocated still allocated")
    config._moth_memory_results = []


def _marker_size(item, name, default):
    marker = item.get_closest_marker(name)
    if marker is None:
        return None
    text = marker.args[0] if marker.args else marker.kwargs.get("size", default)
    if text is None:
        raise pytest.UsageError("@pytest.mark.%s needs a size, like '24 MB'" % name)
    return _moth.parse_bytes(text)


@pytest.hookimpl(hookwrapper=True)
def pytest_pyfunc_call(pyfuncitem):
    limit = _marker_size(pyfuncitem, "moth_limit_memory", None)
    leaks = _marker_size(pyfuncitem, "moth_no_leaks", "0 B")
    config = pyfuncitem.config
    if limit is None and leaks is None and not config.getoption("moth_memory"):
        yield
        return
    test = pyfuncitem.obj

    @functools.wraps(test)
    def profiled(*args, **kwargs):
        prof = moth.Profile(memory=True)
        try:
            prof.enable()
        except ValueError:          # another moth profiler runs: nothing to measure with
            return test(*args, **kwargs)
        try:
            result = test(*args, **kwargs)
            if leaks is not None:
                gc.collect()        # a full collection also empties the free lists
        finally:
            prof.disable()
        peak, leaked, failure = _moth.memory_verdict(prof, limit, leaks)
        config._moth_memory_results.append((pyfuncitem.nodeid, peak, leaked))
        if failure:
            pytest.fail(failure, pytrace=False)
        return result

    pyfuncitem.obj = profiled
    try:
        yield
    finally:
        pyfuncitem.obj = test


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    results = getattr(config, "_moth_memory_results", None)
    if not results or not config.getoption("moth_memory"):
        return
    terminalreporter.write_sep("=", "moth memory: tests by the memory they held at their peak")
    terminalreporter.write(_moth.memory_summary(results, 20))
