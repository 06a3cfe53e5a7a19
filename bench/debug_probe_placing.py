"""What placing breakpoint twins costs on 3.11 (csrc/debugger/engine_probes.c): each change of
the breakpoints while only breakpoints are set walks every object of the process once.

    python bench/debug_probe_placing.py [--modules N]

Imports a spread of the standard library (more objects to walk), then times Engine.configure
with one breakpoint in json.dumps (a twin placed), with it moved to another line (placed
again), and Engine.stop (originals put back), 5 times each: median and range in ms.
"""
import argparse
import gc
import json
import os
import statistics
import sys
import time

from moth._moth import Engine

MODULES = ["email", "http.server", "xml.dom.minidom", "unittest", "asyncio", "argparse",
           "logging", "decimal", "typing", "inspect", "dataclasses", "pydoc"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", type=int, default=len(MODULES))
    args = ap.parse_args()
    for name in MODULES[:args.modules]:
        __import__(name)
    if sys.version_info >= (3, 12):
        print("3.12+ places no twins (sys.monitoring): nothing to measure")
    lines = [l for _, _, l in json.dumps.__code__.co_lines() if l]
    times = {"place": [], "move": [], "restore": []}
    for _ in range(5):
        e = Engine(lambda *a: None, os.path.abspath)
        for what, breaks in (("place", [lines[-1]]), ("move", [lines[-2]])):
            t = time.perf_counter()
            e.configure({json.__file__: breaks}, (), False)
            times[what].append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        e.stop()
        times["restore"].append((time.perf_counter() - t) * 1e3)
    objects = len(gc.get_objects())
    functions = sum(1 for o in gc.get_objects() if type(o).__name__ == "function")
    print("CPython %s, %d objects (%d functions), load %s" % (
        sys.version.split()[0], objects, functions, os.getloadavg()[0]))
    for what, ms in times.items():
        print("%-8s median %.1f ms (%.1f-%.1f)" % (what, statistics.median(ms), min(ms), max(ms)))


if __name__ == "__main__":
    main()
