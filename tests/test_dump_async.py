"""moth dump --async: every asyncio task of a running program, read from outside, against the
program's own view of them (it prints each task's name, state, the future it waits on and its
coroutine chain as cr_await gives it). Targets run on every installed 3.11, 3.12 and 3.13,
whichever Python moth runs under (scripts/test runs this file under each: moth on one version
reads the others)."""
import contextlib
import json
import os
import re

import pytest

from conftest import PROGRAMS, run_moth
from remote import Target, dump_json, markers, pythons, wait_for_dump
from test_dump_core import dump_core_json, gcore

ASYNC = PROGRAMS / "remote_async.py"
M = markers(ASYNC)
PYTHONS = pythons()
TASK_TYPES = {"c": "_asyncio.Task", "py": "Task"}


@contextlib.contextmanager
def async_target(python, mode):
    """remote_async.py started in `mode`; yields it and its own view of its tasks."""
    target = Target(python, ASYNC, mode)
    try:
        view = json.loads(target.proc.stdout.readline())
        target.wait_ready()
        yield target, view
    finally:
        target.__exit__(None, None, None)


def settled(d):
    """The main task has reached its last wait (it was running when the program printed)."""
    return any(t["name"] == "main" and t["awaiting"] for t in d.get("tasks", []))


def chain(task):
    return [[f["file"], f["line"], f["function"]] for f in task["coroutines"]]


def by_name(d):
    return {t["name"]: t for t in d["tasks"]}


@pytest.mark.parametrize("mode", ["c", "py"])
@pytest.mark.parametrize("version,python", PYTHONS, ids=[v for v, _ in PYTHONS])
def test_tasks_as_the_program_sees_them(version, python, mode):
    with async_target(python, mode) as (target, view):
        d = wait_for_dump(target.pid, settled, "--async")
    assert d["tasks_note"] is None
    got = {t["address"]: t for t in d["tasks"]}
    assert len(got) == len(d["tasks"]) == len(view["tasks"]) + 1  # and main
    for want in view["tasks"]:
        task = got[want["address"]]
        if want["name"] is None:  # left as asyncio names it: 3.12+ keep its number till asked
            assert re.fullmatch(r"Task-\d+", task["name"]), task["name"]
        else:
            assert task["name"] == want["name"]
        assert task["state"] == want["state"], task["name"]
        # asyncio.run's own task is made before the program sets its factory.
        assert task["type"] == ("_asyncio.Task" if task["name"] == "other-main"
                                else TASK_TYPES[mode])
        assert chain(task) == want["chain"], task["name"]
        assert not task["running"] and task["note"] is None
        loop = view["loops"][str(want["loop"])]
        assert task["loop"] == {"address": want["loop"], "type": loop["type"],
                                "thread_id": loop["thread"]}
        assert task["cancels_requested"] == want["cancels"], task["name"]
        if want["awaiting"] is None:
            assert task["awaiting"] is None, task["name"]
            continue
        awaiting = task["awaiting"]
        assert {k: awaiting[k] for k in ("kind", "address", "name", "state")} == {
            k: want["awaiting"][k] for k in ("kind", "address", "name", "state")}, task["name"]
        assert [c["address"] for c in awaiting["gathering"]] == want["awaiting"]["gathering"]
        assert sorted(c["address"] for c in awaiting["taskgroup"]) == want["awaiting"].get(
            "taskgroup", [])

    tasks = by_name(d)
    # What the comparison covers, spelled out.
    assert chain(tasks["nested"])[:2] == [[str(ASYNC), M["nested"], "nested"],
                                          [str(ASYNC), M["sleep"], "sleeper"]]
    assert chain(tasks["nested"])[2][2] == "sleep"  # asyncio.sleep, awaiting its future
    assert tasks["nested"]["awaiting"]["kind"] == "future"
    assert tasks["awaits-nested"]["awaiting"]["name"] == "nested"
    assert tasks["gatherer"]["awaiting"]["type"] == "_GatheringFuture"
    assert [c["name"] for c in tasks["gatherer"]["awaiting"]["gathering"]] == ["child-1",
                                                                               "child-2"]
    assert chain(tasks["event-waiter"])[1][2] == "wait"
    assert chain(tasks["queue-consumer"])[1][2] == "get"
    assert tasks["py-future"]["awaiting"]["type"] == "Future"  # asyncio.futures._PyFuture
    assert [f[1:] for f in chain(tasks["async-for"])[:2]] == [[M["stream"], "stream"],
                                                              [M["ticks"], "ticks"]]
    owner = tasks["group-owner"]
    assert chain(owner)[0][1:] == [M["group"], "grouped"] and chain(owner)[1][2] == "__aexit__"
    assert sorted(c["name"] for c in owner["awaiting"]["taskgroup"]) == ["group-1", "group-2"]
    assert tasks["cycle-a"]["awaiting"]["name"] == "cycle-b"
    assert tasks["cycle-b"]["awaiting"]["name"] == "cycle-a"
    assert (tasks["finished"]["state"], tasks["finished"]["coroutines"]) == ("done", [])
    assert tasks["cancelled"]["state"] == "cancelled"
    assert (tasks["cancel-requested"]["state"], tasks["cancel-requested"]["cancels_requested"],
            chain(tasks["cancel-requested"])[0][1]) == ("pending", 1, M["stubborn"])
    main = tasks["main"]
    assert main["type"] == "_asyncio.Task"  # asyncio.run's, made before the factory was set
    assert chain(main)[0] == [str(ASYNC), M["main"], "main"]
    assert main["awaiting"]["kind"] == "future" and main["awaiting"]["state"] == "pending"
    # The second event loop, in its own thread.
    assert tasks["other-main"]["loop"]["thread_id"] != main["loop"]["thread_id"]
    assert tasks["other-main"]["awaiting"]["name"] == "other-child"
    assert chain(tasks["other-main"])[0][1:] == [M["other"], "other_loop"]

    # Reading order: a task before the tasks it waits for; tasks waiting on each other last.
    names = [t["name"] for t in d["tasks"]]
    assert names.index("awaits-nested") < names.index("nested")
    at = names.index("gatherer")
    assert names[at:at + 3] == ["gatherer", "child-1", "child-2"]
    at = names.index("group-owner")
    assert sorted(names[at + 1:at + 3]) == ["group-1", "group-2"]
    # The first loop's tasks, those waiting on each other last; then the second loop's.
    assert sorted(names[-4:-2]) == ["cycle-a", "cycle-b"]
    assert names[-2:] == ["other-main", "other-child"]


def test_text_and_locals():
    version, python = PYTHONS[-1]
    with async_target(python, "c") as (target, view):
        wait_for_dump(target.pid, settled, "--async")
        proc = run_moth("dump", "--async", target.pid)
        with_locals = dump_json(target.pid, "--async", "--locals")
        plain = dump_json(target.pid)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert f"\nasyncio tasks: {len(view['tasks']) + 1} in 2 event loops\n" in text
    assert re.search(r"\nEvent loop _UnixSelectorEventLoop at 0x[0-9a-f]+, running in thread "
                     rf"{target.pid} \"MainThread\"\n", text)
    assert re.search(r"\nEvent loop _UnixSelectorEventLoop at 0x[0-9a-f]+, running in thread "
                     r"\d+ \"loop-2\"\n\n" r'Task "other-main"', text)
    block = text[text.index('\nTask "nested"') + 1:]
    block = block[:block.index("\n\n")]
    lines = block.splitlines()[1:]
    assert re.fullmatch(r'Task "nested" \(pending\), awaiting _asyncio\.Future at 0x[0-9a-f]+ '
                        r'\(pending\)', block.splitlines()[0])
    assert lines[:4] == [f'  File "{ASYNC}", line {M["nested"]}, in nested',
                         "    await sleeper()  # @nested",
                         f'  File "{ASYNC}", line {M["sleep"]}, in sleeper',
                         "    await asyncio.sleep(3600)  # @sleep"]
    assert lines[4].endswith(", in sleep") and lines[5] == "    return await future"
    assert re.search(r'\nTask "gatherer" \(pending\), awaiting _GatheringFuture at 0x[0-9a-f]+ '
                     r'\(pending\), gathering Task "child-1", Task "child-2"\n', text)
    assert '\nTask "awaits-nested" (pending), awaiting Task "nested"\n' in text
    assert re.search(r'\nTask "group-owner" \(pending\), awaiting _asyncio\.Future at 0x[0-9a-f]+ '
                     r'\(pending\), for its TaskGroup: Task "group-[12]", Task "group-[12]"\n',
                     text)
    assert '\nTask "finished" (done)\n\nTask' in text
    assert '\nTask "cancelled" (cancelled)\n' in text

    # --locals: each coroutine's variables.
    (kid,) = [t for t in with_locals["tasks"] if t["name"] == "child-2"]
    assert kid["coroutines"][0]["variables"] == [{"name": "n", "value": "2", "argument": True}]
    # Without --async: no tasks.
    assert "tasks" not in plain and "tasks_note" not in plain


def test_a_running_task():
    """A task whose coroutine runs while moth reads it: shown running, at the line it runs."""
    version, python = PYTHONS[0]

    def running(d):
        return any(t["name"] == "main" and t["running"] for t in d.get("tasks", []))
    with async_target(python, "busy") as (target, view):
        d = wait_for_dump(target.pid, running, "--async")
        proc = run_moth("dump", "--async", "--no-source", target.pid)
    main = by_name(d)["main"]
    assert main["running"] and main["awaiting"] is None
    assert chain(main) == [[str(ASYNC), M["busy"], "main"]]
    assert '\nTask "main" (pending, running)\n' in proc.stdout
    # The others wait as before.
    assert by_name(d)["nested"]["awaiting"]["kind"] == "future"


def test_core_file(tmp_path):
    """The tasks of a core (gdb's gcore of the program) are the ones read live."""
    version, python = PYTHONS[-1]
    with async_target(python, "c") as (target, view):
        live = wait_for_dump(target.pid, settled, "--async")
        core = gcore(target.pid, tmp_path)
    d = dump_core_json(core, "--async")
    assert d["tasks"] == live["tasks"] and d["tasks_note"] is None
    assert len(d["tasks"]) == len(view["tasks"]) + 1


@pytest.mark.parametrize("mode,note", [("idle", "no asyncio task exists"),
                                       ("bare", "asyncio is not imported")])
def test_no_event_loop(mode, note):
    version, python = PYTHONS[0]
    with async_target(python, mode) as (target, _):
        d = dump_json(target.pid, "--async")
        proc = run_moth("dump", "--async", "--no-source", target.pid)
    assert (d["tasks"], d["tasks_note"]) == ([], note)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.endswith(f"\nasyncio tasks: none\n({note})\n")
