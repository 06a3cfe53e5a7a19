"""A program with asyncio tasks waiting in every way `moth dump --async` shows.

`remote_async.py [c|py|busy|idle|bare]`: c runs its tasks as the C _asyncio.Task (asyncio's
default), py as the pure-Python asyncio.tasks._PyTask (through a task factory); busy as c, but
its main task spins at the end instead of waiting; idle imports asyncio and runs no event loop;
bare does not import asyncio at all. Once its tasks have
reached their waits it prints one JSON line, its own view of them (name, state, the future
each waits on, the coroutine chain through cr_await with each frame's file, line and
function), then "ready", and waits.
"""
import json
import sys
import threading

MODE = sys.argv[1] if len(sys.argv) > 1 else "c"
if MODE != "bare":
    import asyncio


async def sleeper():
    await asyncio.sleep(3600)  # @sleep


async def nested():
    await sleeper()  # @nested


async def on_event(event):
    await event.wait()  # @event


async def consumer(queue):
    await queue.get()  # @queue


async def child(n):
    await asyncio.sleep(3600 + n)  # @child


async def gatherer():
    kids = [asyncio.create_task(child(n), name=f"child-{n}") for n in (1, 2)]
    await asyncio.gather(*kids)  # @gather


async def awaits_task(other):
    await other  # @awaits_task


async def wait_on(box):
    await box[0]  # @cycle


async def on_py_future():
    await asyncio.futures._PyFuture()  # @py_future


async def stubborn():
    try:
        await asyncio.sleep(3600)
    except asyncio.CancelledError:  # not passed on: the task goes on, its cancel requested
        pass
    await asyncio.sleep(3600)  # @stubborn


async def other_loop(started):
    """The main task of a second event loop, in another thread."""
    set_factory(asyncio.get_running_loop())
    asyncio.current_task().set_name("other-main")
    child = asyncio.create_task(sleeper(), name="other-child")
    for _ in range(3):
        await asyncio.sleep(0)
    started.tasks = [asyncio.current_task(), child]
    asyncio.get_running_loop().call_soon(started.set)  # once this task waits below
    await child  # @other


async def ticks():
    while True:
        await asyncio.sleep(3600)  # @ticks
        yield 1


async def stream(agen):
    async for _ in agen:  # @stream
        pass


async def grouped():
    async with asyncio.TaskGroup() as group:  # @group
        GROUPS[id(asyncio.current_task())] = group
        group.create_task(sleeper(), name="group-1")
        group.create_task(sleeper(), name="group-2")


async def quick():
    return 42


async def never():
    await asyncio.sleep(3600)


AGENS = {}  # an `async for` step's async generator, by the step's id (Python cannot tell it)
GROUPS = {}  # the TaskGroup a task waits for at the end of its `async with`, by the task's id


def chain(coro):
    """The coroutine chain as this Python sees it (cr_await, gi_yieldfrom, ag_await),
    outermost first."""
    out = []
    while coro is not None:
        coro = AGENS.get(id(coro), coro) if type(coro).__name__ == "async_generator_asend" \
            else coro
        frame = (getattr(coro, "cr_frame", None) or getattr(coro, "gi_frame", None)
                 or getattr(coro, "ag_frame", None))
        if frame is None:
            break
        out.append([frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name])
        coro = next(getattr(coro, a) for a in ("cr_await", "gi_yieldfrom", "ag_await")
                    if hasattr(coro, a))
    return out


def state(future):
    return "cancelled" if future.cancelled() else "done" if future.done() else "pending"


def describe(task, named=True):
    waiter = task._fut_waiter
    awaiting = None
    if waiter is not None:
        is_task = hasattr(waiter, "get_coro")
        awaiting = {"kind": "task" if is_task else "future", "address": id(waiter),
                    "name": waiter.get_name() if is_task else None, "state": state(waiter),
                    "gathering": [id(c) for c in getattr(waiter, "_children", [])]}
    if awaiting and id(task) in GROUPS:
        awaiting["taskgroup"] = sorted(id(t) for t in GROUPS[id(task)]._tasks)
    return {"address": id(task), "name": task.get_name() if named else None,
            "state": state(task), "awaiting": awaiting, "loop": id(task.get_loop()),
            "cancels": task.cancelling(),
            "chain": chain(task.get_coro()) if not task.done() else []}


def set_factory(loop):
    if MODE == "py":
        loop.set_task_factory(
            lambda loop, coro, **kw: asyncio.tasks._PyTask(coro, loop=loop, **kw))


async def main():
    loop = asyncio.get_running_loop()
    set_factory(loop)
    asyncio.current_task().set_name("main")
    event, queue = asyncio.Event(), asyncio.Queue()
    tasks = [
        asyncio.create_task(nested(), name="nested"),
        asyncio.create_task(on_event(event), name="event-waiter"),
        asyncio.create_task(consumer(queue), name="queue-consumer"),
        asyncio.create_task(gatherer(), name="gatherer"),
        asyncio.create_task(on_py_future(), name="py-future"),
    ]
    tasks.append(asyncio.create_task(awaits_task(tasks[0]), name="awaits-nested"))
    agen = ticks()
    streamer = asyncio.create_task(stream(agen), name="async-for")
    tasks.append(streamer)
    owner = asyncio.create_task(grouped(), name="group-owner")
    tasks.append(owner)
    box_a, box_b = [], []
    cycle_a = asyncio.create_task(wait_on(box_b), name="cycle-a")
    cycle_b = asyncio.create_task(wait_on(box_a), name="cycle-b")
    box_a.append(cycle_a)
    box_b.append(cycle_b)
    unnamed = asyncio.create_task(sleeper())   # its name is left as asyncio makes it
    finished = asyncio.create_task(quick(), name="finished")
    await finished
    cancelled = asyncio.create_task(never(), name="cancelled")
    await asyncio.sleep(0)
    cancelled.cancel()
    try:
        await cancelled
    except asyncio.CancelledError:
        pass
    cancelling = asyncio.create_task(stubborn(), name="cancel-requested")
    await asyncio.sleep(0)
    cancelling.cancel()
    tasks.append(cancelling)
    for _ in range(10):  # every task reaches its wait
        await asyncio.sleep(0)
    started = threading.Event()
    thread = threading.Thread(target=lambda: asyncio.run(other_loop(started)), name="loop-2",
                              daemon=True)
    thread.start()
    started.wait()  # blocks this loop a moment: its tasks wait already
    AGENS[id(streamer.get_coro().cr_await)] = agen
    view = [describe(t) for t in tasks + [cycle_a, cycle_b, finished, cancelled]]
    view += [describe(kid) for kid in tasks[3]._fut_waiter._children]
    view += [describe(t) for t in GROUPS[id(owner)]._tasks]
    # asyncio names it when it is first asked (3.12+ keep a number till then): left unasked,
    # but for _PyTask, whose name is made at once.
    view.append(describe(unnamed, named=MODE == "py"))
    view += [describe(t) for t in started.tasks]
    loops = {id(loop): {"type": type(loop).__name__, "thread": threading.get_ident()},
             id(started.tasks[0].get_loop()): {"type": type(loop).__name__,
                                               "thread": thread.ident}}
    print(json.dumps({"loops": {str(k): v for k, v in loops.items()}, "tasks": view}))
    print("ready", flush=True)
    if MODE == "busy":  # the main task never lets go: it runs while moth reads it
        spin = 0
        while True: spin += 1  # @busy
    await asyncio.Event().wait()  # @main


if MODE in ("idle", "bare"):
    print("{}")
    print("ready", flush=True)
    sys.stdin.read()
else:
    asyncio.run(main())
