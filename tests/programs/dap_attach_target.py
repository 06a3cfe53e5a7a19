"""A program for moth dap's attach by process id (tests/test_dap_attach.py), started without
moth: the main thread ticks, a worker thread naps; both go on until DIR/stop exists.

When DIR/report exists, each thread says what of a debugger is left in it (its trace
function, frames with one), and the main thread adds the process's (threads, hooks, whether
the functions still run their own code), then the file is removed. Prints "ready" first and
"ticked N" last, and exits with status 7.
"""
import os
import sys
import threading
import time

folder = sys.argv[1]
reports = {}


def leftovers():
    """What of a debugger this thread carries: its trace function, frames with one."""
    frame, traced = sys._getframe(), []
    while frame is not None:
        if frame.f_trace is not None:
            traced.append(frame.f_code.co_name)
        frame = frame.f_back
    return "trace=%r traced=%r" % (sys.gettrace() is not None, traced)


def tick(n):
    n = n + 1  # @tick
    return n


def nap(seconds):
    time.sleep(seconds)  # @nap
    return seconds


def worker():
    while not os.path.exists(os.path.join(folder, "stop")):
        nap(0.01)  # @worker_loop
        if "worker" not in reports and os.path.exists(os.path.join(folder, "report")):
            reports["worker"] = leftovers()


def process_report():
    """The process's own: threads, hooks, the code functions run."""
    hooks = []
    moth = sys.modules.get("moth._moth")
    if moth is not None and moth.Engine.frame_eval_hooked():
        hooks.append("frame_eval")
    if hasattr(sys, "monitoring"):
        hooks += [sys.monitoring.get_tool(i) for i in range(6) if sys.monitoring.get_tool(i)]
    return "threads=%d tasks=%d hooks=%r own_code=%r" % (
        threading.active_count(), len(os.listdir("/proc/self/task")), hooks,
        (tick.__code__, nap.__code__) == CODES)


CODES = (tick.__code__, nap.__code__)
thread = threading.Thread(target=worker, name="napper")
thread.start()
print("ready", flush=True)
n = 0
while not os.path.exists(os.path.join(folder, "stop")):
    n = tick(n)  # @main_loop
    time.sleep(0.002)
    report = os.path.join(folder, "report")
    if os.path.exists(report) and "worker" in reports:
        print("main: %s worker: %s process: %s" % (leftovers(), reports.pop("worker"),
                                                    process_report()), flush=True)
        os.remove(report)
thread.join()
print("ticked %d" % (n > 0), flush=True)
sys.exit(7)
