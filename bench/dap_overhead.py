"""What moth dap costs: breakpoints not reached (against moth debug and debugpy), and how fast
a stopped program answers a client (variables and evaluations, against debugpy).

    python bench/dap_overhead.py [--python PY] [--reps N] [--requests N] [--write]

1. Breakpoint not reached. A breakpoint in json.dumps (never called by the workload), then
   the program runs to its end: under `moth debug --command continue`, under `moth dap` and
   under debugpy's adapter (`python -m debugpy.adapter`), both driven over stdin/stdout by
   a minimal client here (launch, setBreakpoints, configurationDone, until `exited`). The
   program's output comes back as output events, so the workload's own `elapsed` line is
   read the same way in every case. Workloads: fib and newton. Paired runs
   (bench/pairing.py), median ratio to the plain run: the program's own time and the whole
   session (start-up included).
2. A session of N requests at a stop (default 1,000): the program stops at a breakpoint in a
   function whose locals hold a dict of 200 items, a list of 100,000, an object with 50
   attributes and nested containers; the client then alternates: the locals scope's
   variables, a page of 100 items of the list, the dict's items, the object's attributes,
   a nested dict, and evaluations (a hover `len(big)`, a watch `obj.a17 + 1`, a REPL
   expression building a list). Each request's round trip is timed in the client.
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from debug_overhead import cell, program_seconds, unreached_line  # noqa: E402
from pairing import machine_line, paired, publish, python_version  # noqa: E402

WORKLOADS = {"fib": ["30"], "newton": ["3000"]}


# ---- a minimal DAP client (no checks: the tests check moth's messages) ----

class Client:
    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=env)
        self.seq = 0
        self.events = []

    def send(self, msg):
        body = json.dumps(msg).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def read(self):
        length = None
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise EOFError("the adapter closed the connection")
            if line == b"\r\n":
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        msg = json.loads(self.proc.stdout.read(length))
        if msg["type"] == "event":
            self.events.append(msg)
            if msg["event"] == "output":
                stream = sys.stderr if msg["body"].get("category") == "stderr" else sys.stdout
                if msg["body"].get("category") in ("stdout", "stderr"):
                    stream.write(msg["body"]["output"])
        elif msg["type"] == "request":  # (a reverse request: refused)
            self.seq += 1
            self.send({"seq": self.seq, "type": "response", "request_seq": msg["seq"],
                       "command": msg["command"], "success": False, "message": "no"})
        return msg

    def request(self, command, **arguments):
        self.seq += 1
        seq = self.seq
        self.send({"seq": seq, "type": "request", "command": command, "arguments": arguments})
        while True:
            msg = self.read()
            if msg["type"] == "response" and msg["request_seq"] == seq:
                if not msg["success"]:
                    raise RuntimeError("%s: %s" % (command, msg.get("message")))
                return msg.get("body") or {}

    def wait_event(self, name):
        index = 0
        while True:
            for e in self.events[index:]:
                if e["event"] == name:
                    return e
            index = len(self.events)
            self.read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def adapter_argv(py, adapter):
    return [py, "-m", "moth", "dap"] if adapter == "moth dap" else [py, "-m", "debugpy.adapter"]


def launch(client, program, args, breakpoints):
    client.request("initialize", clientID="bench", adapterID="bench", linesStartAt1=True,
                   columnsStartAt1=True, pathFormat="path")
    client.seq += 1
    launch_seq = client.seq  # debugpy answers launch only after configurationDone
    client.send({"seq": launch_seq, "type": "request", "command": "launch", "arguments": {
        "program": program, "args": args, "console": "internalConsole", "justMyCode": False}})
    client.wait_event("initialized")
    for path, lines in breakpoints.items():
        client.request("setBreakpoints", source={"path": path},
                       breakpoints=[{"line": n} for n in lines])
    client.request("setExceptionBreakpoints", filters=[])
    client.request("configurationDone")


def end(client):
    """Waits for the program's end, then disconnects."""
    client.wait_event("exited")
    try:
        client.request("disconnect")
    except (EOFError, RuntimeError):
        pass
    client.close()


def drive(py, adapter, program, args, unreached):
    """One whole session: the program runs to its end with a breakpoint it never reaches."""
    path, line = unreached.rsplit(":", 1)
    client = Client(adapter_argv(py, adapter))
    launch(client, program, args, {path: [int(line)]})
    end(client)


# ---- 1. breakpoints not reached ----

def breakpoint_rows(py, reps, env, version):
    unreached = unreached_line(py)
    rows = []
    me = os.path.abspath(__file__)
    for w, wargs in WORKLOADS.items():
        script = os.path.join(HERE, "workloads", w + ".py")
        tools = {
            "moth debug": [py, "-m", "moth", "debug", "--command", "break " + unreached,
                           "--command", "continue", "--command", "quit", script] + wargs,
            "moth dap": [py, me, "--drive", "moth dap", "--unreached", unreached, script] + wargs,
            "debugpy": [py, me, "--drive", "debugpy", "--unreached", unreached, script] + wargs,
        }
        print("== %s, breakpoint not reached (CPython %s)" % (w, version), file=sys.stderr)
        series = paired([py, script] + wargs, tools, reps=reps, env=env, same_output=False)
        for s in series.values():
            if not s.failed and any("%s %s" % (w, wargs[0]) not in t.stdout for _, t in s.pairs):
                s.failed = "the program's output is missing"
        rows.append((w, series))
    return rows


# ---- 2. requests at a stop ----

RICH = '''\
class Thing:
    def __init__(self):
        for i in range(50):
            setattr(self, "a%d" % i, i)

def inspect_me():
    table = {"k%d" % i: i * 1.5 for i in range(200)}
    big = list(range(100000))
    obj = Thing()
    nested = {"list": [[i, str(i)] for i in range(20)], "tuple": (1, 2, 3), "set": {1, 2}}
    text = "x" * 100000
    return len(table) + len(big)   # the breakpoint

inspect_me()
'''


def timed(client, command, **arguments):
    t0 = time.perf_counter()
    body = client.request(command, **arguments)
    return time.perf_counter() - t0, body


def request_latencies(py, adapter, count, env):
    """count requests at a stop; {kind: [seconds]}."""
    with tempfile.TemporaryDirectory() as tmp:
        program = os.path.join(tmp, "rich.py")
        with open(program, "w") as f:
            f.write(RICH)
        line = RICH.splitlines().index("    return len(table) + len(big)   # the breakpoint") + 1
        client = Client(adapter_argv(py, adapter), env=env)
        launch(client, program, [], {program: [line]})
        stop = client.wait_event("stopped")["body"]
        thread = stop["threadId"]
        frame = client.request("stackTrace", threadId=thread)["stackFrames"][0]["id"]
        scope = client.request("scopes", frameId=frame)["scopes"][0]["variablesReference"]
        kinds = {}
        done = 0
        while done < count:
            _, body = timed(client, "variables", variablesReference=scope)
            by_name = {v["name"]: v for v in body["variables"]}
            steps = [
                ("variables: locals", "variables", {"variablesReference": scope}),
                ("variables: list page of 100", "variables", {
                    "variablesReference": by_name["big"]["variablesReference"],
                    "filter": "indexed", "start": 5000 + done % 1000, "count": 100}),
                ("variables: dict of 200", "variables",
                 {"variablesReference": by_name["table"]["variablesReference"]}),
                ("variables: object of 50 attributes", "variables",
                 {"variablesReference": by_name["obj"]["variablesReference"]}),
                ("variables: nested", "variables",
                 {"variablesReference": by_name["nested"]["variablesReference"]}),
                ("evaluate: hover", "evaluate", {"expression": "len(big)", "frameId": frame,
                                                 "context": "hover"}),
                ("evaluate: watch", "evaluate", {"expression": "obj.a17 + 1",
                                                 "frameId": frame, "context": "watch"}),
                ("evaluate: repl", "evaluate", {"expression": "[i * i for i in range(50)]",
                                                "frameId": frame, "context": "repl"}),
            ]
            for kind, command, arguments in steps:
                if done >= count:
                    break
                seconds, _ = timed(client, command, **arguments)
                kinds.setdefault(kind, []).append(seconds)
                done += 1
        client.request("continue", threadId=thread)
        end(client)
        return kinds


def ms(seconds):
    return "%.2f" % (seconds * 1000)


def quantile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--python", default=sys.executable)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--drive", help=argparse.SUPPRESS)
    ap.add_argument("--unreached", help=argparse.SUPPRESS)
    ap.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = ap.parse_args()
    py = args.python
    if args.drive:  # one session, as a command of the paired runs
        drive(py, args.drive, os.path.abspath(args.rest[0]), args.rest[1:], args.unreached)
        return
    version = python_version(py)
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src"), NO_COLOR="1")
    rows = breakpoint_rows(py, args.reps, env, version)
    print("== %d requests at a stop" % args.requests, file=sys.stderr)
    latencies = {a: request_latencies(py, a, args.requests, env)
                 for a in ("moth dap", "debugpy")}
    cmd = "python bench/dap_overhead.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    names = ["moth debug", "moth dap", "debugpy"]
    lines = ["### moth dap, CPython %s (%s)" % (
                 version, datetime.datetime.now().strftime("%Y-%m-%d %H:%M")), "",
             "`%s`; %s; %d paired runs." % (cmd, machine_line(), args.reps), "",
             "Breakpoint not reached (in json.dumps), the program run to its end; tool / "
             "plain, median (min-max): the program's own time, then the whole session "
             "(start-up included).", "",
             "| workload | moth debug: program | moth dap: program | debugpy: program | "
             "moth debug: session | moth dap: session | debugpy: session |",
             "|---|---|---|---|---|---|---|"]
    for w, series in rows:
        program, process = [], []
        for n in names:
            s = series[n]
            if s.failed or not s.pairs:
                program.append("failed: " + s.failed[:60])
                process.append("failed")
            else:
                program.append(cell([program_seconds(t) / program_seconds(b)
                                     for b, t in s.pairs]))
                process.append(cell(s.ratios()))
        lines.append("| %s | %s | %s |" % (w, " | ".join(program), " | ".join(process)))
    lines += ["", "%d requests at one stop (variables and evaluations, see the script); each "
              "request's round trip in ms, median / 99th percentile / worst." % args.requests,
              "", "| request | n | moth dap | debugpy |", "|---|---|---|---|"]
    every = {a: [] for a in latencies}
    for kind in latencies["moth dap"]:
        cells = []
        for a in ("moth dap", "debugpy"):
            v = latencies[a].get(kind, [])
            every[a] += v
            cells.append("%s / %s / %s" % (ms(statistics.median(v)), ms(quantile(v, 0.99)),
                                           ms(max(v))) if v else "n/a")
        lines.append("| %s | %d | %s |" % (kind, len(latencies["moth dap"][kind]),
                                          " | ".join(cells)))
    lines.append("| all | %d | %s |" % (len(every["moth dap"]), " | ".join(
        "%s / %s / %s" % (ms(statistics.median(v)), ms(quantile(v, 0.99)), ms(max(v)))
        for v in every.values())))
    publish(lines, args.write)


if __name__ == "__main__":
    main()
