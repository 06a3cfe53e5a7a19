"""moth dap: whole Debug Adapter Protocol sessions driven by a client (tests/dap_client.py),
every message moth sends checked against the protocol's published schema."""
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from conftest import PROGRAMS, moth_env
from dap_client import DapClient, DapError, check_message

TARGET = PROGRAMS / "dap_target.py"
SOURCE = TARGET.read_text().splitlines()


def line_of(text, source=SOURCE):
    return next(i for i, line in enumerate(source, 1) if text in line)


@pytest.fixture
def dap():
    """A moth dap on stdin/stdout; at the end, every message it sent was valid and numbered
    1, 2, 3, ... in the order sent."""
    clients = []

    def start(*args, **kw):
        c = DapClient.stdio(*args, **kw)
        clients.append(c)
        return c
    yield start
    for c in clients:
        c.close()
        assert c.errors == [], c.errors
        assert c.checked > 0
        assert c.seqs == list(range(1, len(c.seqs) + 1))


def frames(c, thread):
    return c.request("stackTrace", threadId=thread)["body"]["stackFrames"]


def test_initialize_answers_the_capabilities(dap):
    c = dap()
    caps = c.initialize()
    for name in ("supportsConfigurationDoneRequest", "supportsFunctionBreakpoints",
                 "supportsConditionalBreakpoints", "supportsHitConditionalBreakpoints",
                 "supportsLogPoints", "supportsSetVariable", "supportsEvaluateForHovers",
                 "supportsGotoTargetsRequest", "supportsRestartRequest",
                 "supportsTerminateRequest", "supportsExceptionInfoRequest",
                 "supportsDataBreakpoints", "supportsSteppingGranularity",
                 "supportsDisassembleRequest"):
        assert caps[name] is True, name
    assert [f["filter"] for f in caps["exceptionBreakpointFilters"]] == ["raised", "uncaught"]
    assert "supportsInstructionBreakpoints" not in caps  # (setInstructionBreakpoints is not)
    c.request("disconnect")


def test_breakpoint_in_a_thread_step_variables_evaluate(dap):
    c = dap()
    line = line_of("c = a + b")
    _, made = c.launch(program=str(TARGET), args=["one", "two"],
                       breakpoints={TARGET: [line]})
    assert made[TARGET] == [{"id": 1, "verified": True, "line": line,
                             "source": {"name": "dap_target.py", "path": str(TARGET)}}]
    stop = c.stopped()
    assert stop["reason"] == "breakpoint" and stop["hitBreakpointIds"] == [1]
    thread = stop["threadId"]
    threads = {t["name"]: t["id"] for t in c.request("threads")["body"]["threads"]}
    assert threads == {"MainThread": 1, "worker-1": thread}
    stack = frames(c, thread)
    assert [f["name"] for f in stack[:2]] == ["add", "worker"]
    assert stack[0]["line"] == line and stack[1]["line"] == line_of("total = add(total, i)")
    assert c.request("stackTrace", threadId=thread, startFrame=1, levels=1)["body"][
        "stackFrames"][0]["name"] == "worker"
    variables = c.locals_of(stack[0]["id"])
    assert {k: v["value"] for k, v in variables.items()} == {"a": "0", "b": "0"}
    assert c.request("evaluate", expression="a + b + 40", frameId=stack[0]["id"],
                     context="hover")["body"]["result"] == "40"
    # next, then out to the caller (its next line), then in again
    assert c.step("next", thread)["reason"] == "step"
    assert frames(c, thread)[0]["line"] == line_of("return c")
    c.step("stepOut", thread)
    top = frames(c, thread)[0]
    assert top["name"] == "worker" and top["line"] == line_of("for i in range(LIMIT)")
    c.step("next", thread)
    c.step("stepIn", thread)
    top = frames(c, thread)[0]
    assert top["name"] == "add" and top["line"] == line
    assert c.locals_of(top["id"])["b"]["value"] == "1"
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0
    assert "result [('worker-1', 3)] 2509 6 ['one', 'two']\n" in c.output("stdout")


def test_variables_expand_page_and_change(dap):
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("return len(items)")]})
    thread = c.stopped()["threadId"]
    frame = frames(c, thread)[0]["id"]
    scopes = c.request("scopes", frameId=frame)["body"]["scopes"]
    assert [s["name"] for s in scopes] == ["Locals", "Globals"]
    local = c.locals_of(frame)
    assert local["items"]["indexedVariables"] == 5
    assert local["table"]["namedVariables"] == 3
    assert local["p"]["namedVariables"] == 2 and local["p"]["type"] == "Point"
    assert local["big"]["indexedVariables"] == 2500
    assert local["big"]["value"].startswith("[0, 1, 2,") and local["big"]["value"].endswith(
        ", ...]")
    assert local["n"] == {"name": "n", "value": "5", "type": "int", "evaluateName": "n",
                          "variablesReference": 0}
    page = c.request("variables", variablesReference=local["big"]["variablesReference"],
                     filter="indexed", start=2000, count=3)["body"]["variables"]
    assert [(v["name"], v["value"], v["evaluateName"]) for v in page] == [
        ("2000", "2000", "big[2000]"), ("2001", "2001", "big[2001]"),
        ("2002", "2002", "big[2002]")]
    table = c.request("variables", variablesReference=local["table"]["variablesReference"])[
        "body"]["variables"]
    assert [(v["name"], v["value"]) for v in table] == [("'one'", "1"), ("'two'", "[1, 2]"),
                                                       ("3", "'three'")]
    two = table[1]
    assert two["evaluateName"] == "table['two']" and two["indexedVariables"] == 2
    assert c.request("evaluate", expression=two["evaluateName"], frameId=frame,
                     context="watch")["body"]["result"] == "[1, 2]"
    point = c.request("variables", variablesReference=local["p"]["variablesReference"])[
        "body"]["variables"]
    assert [(v["name"], v["value"], v["evaluateName"]) for v in point] == [
        ("x", "1", "p.x"), ("y", "2", "p.y")]
    # changes reach the running program
    changed = c.request("setVariable", variablesReference=local["p"]["variablesReference"],
                        name="x", value="41 + 1")["body"]
    assert changed["value"] == "42" and changed["type"] == "int"
    scope = c.request("scopes", frameId=frame)["body"]["scopes"][0]["variablesReference"]
    assert c.request("setVariable", variablesReference=scope, name="items",
                     value="[9]")["body"]["value"] == "[9]"
    c.request("setVariable", variablesReference=local["table"]["variablesReference"],
              name="3", value="'drei'")
    assert c.request("evaluate", expression="table[3], p.x, items", frameId=frame)["body"][
        "result"] == "('drei', 42, [9])"
    bad = c.request("setVariable", variablesReference=scope, name="n", value="1 +",
                    check=False)
    assert not bad["success"] and "cannot evaluate the new value: SyntaxError" in bad["message"]
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0
    assert "result [('worker-1', 3)] %d 6 []" % (1 + 3 + 42 + 2500) in c.output("stdout")


def counter_stops(c, thread):
    """Continues until the program ends; k at each stop."""
    seen = []
    while True:
        k = c.request("evaluate", expression="k", frameId=frames(c, thread)[0]["id"])
        seen.append(int(k["body"]["result"]))
        mark = c.mark()
        c.request("continue", threadId=thread)
        while not any(e["event"] in ("stopped", "exited") for e in c.events[mark:]):
            c._next(30)
        if any(e["event"] == "exited" for e in c.events[mark:]):
            return seen


@pytest.mark.parametrize("spec, stops", [
    ({"condition": "k == 2"}, [2]),
    ({"hitCondition": ">= 3"}, [2, 3]),
    ({"hitCondition": "2"}, [1]),
    ({"hitCondition": "% 2"}, [1, 3]),
    ({"condition": "k > 0", "hitCondition": "2"}, [2]),
])
def test_conditions_and_hit_counts(dap, spec, stops):
    c = dap()
    line = line_of("counter += k")
    c.launch(program=str(TARGET), breakpoints={TARGET: [dict(line=line, **spec)]})
    stop = c.stopped()
    assert counter_stops(c, stop["threadId"]) == stops
    assert c.finish() == 0


def test_log_messages_do_not_stop(dap):
    c = dap()
    line = line_of("counter += k")
    c.launch(program=str(TARGET), breakpoints={TARGET: [
        {"line": line, "logMessage": "k={k} counter={counter} {{literal}} {nope}"}]})
    assert c.finish() == 0
    assert not [e for e in c.events if e["event"] == "stopped"]
    assert c.output("console") == "".join(
        "k=%d counter=%d {literal} <NameError>\n" % (k, sum(range(k))) for k in range(4))


def test_unusable_breakpoints_say_why(dap, tmp_path):
    c = dap()
    c.initialize()
    c.request("launch", program=str(TARGET))
    blank = line_of("class Point") - 1  # a blank line: moves to the next line with code
    made = c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[
        {"line": blank}, {"line": 10 ** 6}, {"line": line_of("c = a + b"), "hitCondition": "~"},
    ])["body"]["breakpoints"]
    assert made[0]["verified"] and made[0]["line"] == line_of("class Point")
    assert not made[1]["verified"] and made[1]["message"] == "no code at or after this line"
    assert not made[2]["verified"] and "cannot read the hit condition '~'" in made[2]["message"]
    missing = c.request("setBreakpoints", source={"path": str(tmp_path / "nofile.py")},
                        breakpoints=[{"line": 3}])["body"]["breakpoints"]
    assert not missing[0]["verified"] and "does not exist" in missing[0]["message"]
    c.request("disconnect")


def test_function_breakpoints(dap):
    c = dap()
    c.initialize()
    c.request("launch", program=str(TARGET))
    made = c.request("setFunctionBreakpoints", breakpoints=[
        {"name": "collect"}, {"name": "Point.__init__", "condition": "x == 1"},
        {"name": "no_such_function"}])["body"]["breakpoints"]
    assert [b["verified"] for b in made] == [True, True, False]
    assert "no such function" in made[2]["message"]
    c.request("configurationDone")
    stop = c.stopped()
    assert stop["reason"] == "function breakpoint" and stop["hitBreakpointIds"] == [made[0]["id"]]
    top = frames(c, stop["threadId"])[0]
    assert (top["name"], top["line"]) == ("collect", line_of("items = list(range(n))"))
    stop = c.step("continue", stop["threadId"])
    top = frames(c, stop["threadId"])[0]
    assert (top["name"], top["line"]) == ("Point.__init__", line_of("self.x = x"))
    c.request("continue", threadId=stop["threadId"])
    assert c.finish() == 0


def test_raised_and_uncaught_exceptions(dap):
    c = dap()
    c.launch(program=str(TARGET), exception_filters=["raised"])
    stop = c.stopped()
    assert stop["reason"] == "exception"
    top = frames(c, stop["threadId"])[0]
    assert (top["name"], top["line"]) == ("fails", line_of("raise ValueError"))
    info = c.request("exceptionInfo", threadId=stop["threadId"])["body"]
    assert (info["exceptionId"], info["description"], info["breakMode"]) == (
        "ValueError", "bad value", "always")
    c.request("continue", threadId=stop["threadId"])
    assert c.finish() == 0  # main() caught it

    c = dap()
    c.launch(program=str(TARGET), args=["--crash"])
    stop = c.stopped()
    assert stop["reason"] == "exception"
    stack = frames(c, stop["threadId"])
    assert [f["name"] for f in stack] == ["fails", "<module>"]
    info = c.request("exceptionInfo", threadId=stop["threadId"])["body"]
    assert info["breakMode"] == "unhandled"
    assert info["details"]["stackTrace"].endswith("ValueError: bad value\n")
    assert c.request("evaluate", expression="sys.argv[1:]", frameId=stack[1]["id"])["body"][
        "result"] == "['--crash']"
    c.request("continue", threadId=stop["threadId"])
    assert c.finish() == 1
    assert c.output("stderr").endswith("ValueError: bad value\n")


def test_data_breakpoint_is_a_watch(dap):
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("for k in range(4)")]})
    thread = c.stopped()["threadId"]
    frame = frames(c, thread)[0]["id"]
    scope = c.request("scopes", frameId=frame)["body"]["scopes"][0]["variablesReference"]
    info = c.request("dataBreakpointInfo", variablesReference=scope, name="counter")["body"]
    assert info["accessTypes"] == ["write"] and info["description"] == "counter"
    made = c.request("setDataBreakpoints", breakpoints=[{"dataId": info["dataId"]}])["body"][
        "breakpoints"]
    assert made[0]["verified"]
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    seen = []
    for _ in range(2):
        stop = c.step("continue", thread)
        assert stop["reason"] == "data breakpoint" and stop["hitBreakpointIds"] == [made[0]["id"]]
        assert "Old value = " in stop["text"]
        top = frames(c, thread)[0]
        seen.append((top["line"], c.request("evaluate", expression="(k, counter)",
                                           frameId=top["id"])["body"]["result"]))
    # counter += 0 changes nothing; += 1 and += 2 do
    loop = line_of("for k in range(4)")
    assert seen == [(loop, "(1, 1)"), (loop, "(2, 3)")]
    c.request("setDataBreakpoints", breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0


def target_function(name):
    """A function of the target program, loaded without running it, for dis to read."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("dap_target_copy", TARGET)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def test_instruction_stepping_and_disassembly(dap):
    import dis
    expected = list(dis.get_instructions(target_function("add")))
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("c = a + b")]})
    thread = c.stopped()["threadId"]
    first = frames(c, thread)[0]["instructionPointerReference"]
    seen = [first]
    for _ in range(3):
        assert c.step("stepIn", thread, granularity="instruction")["reason"] == "step"
        seen.append(frames(c, thread)[0]["instructionPointerReference"])
    addresses = [int(a, 16) for a in seen]
    assert len({a >> 32 for a in addresses}) == 1  # one function
    # one instruction at a time, in the order dis lists add's (no jumps in it)
    offsets = [i.offset for i in expected]
    at = offsets.index(addresses[0] & 0xffffffff)
    assert [a & 0xffffffff for a in addresses] == offsets[at:at + 4]
    assert expected[at].positions.lineno == line_of("c = a + b")
    listing = c.request("disassemble", memoryReference=first, instructionOffset=-1,
                        instructionCount=6)["body"]["instructions"]
    assert len(listing) == 6
    shown = [i["instruction"].split() for i in listing]
    assert shown == [(ins.opname + " " + ins.argrepr).split()
                     for ins in expected[at - 1:at + 5]]
    assert listing[1]["line"] == line_of("c = a + b")
    assert listing[1]["location"]["path"] == str(TARGET)
    # before the function's first instruction: placeholders
    start = c.request("disassemble", memoryReference=hex(addresses[0] & ~0xffffffff),
                      instructionOffset=-2, instructionCount=3)["body"]["instructions"]
    assert [i.get("presentationHint") for i in start] == ["invalid", "invalid", None]
    assert start[2]["symbol"] == "add"
    assert start[2]["instruction"].split()[0] == expected[0].opname
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0


def test_goto_and_its_targets(dap):
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("counter += k")]})
    thread = c.stopped()["threadId"]
    target_line = line_of('print("result"')
    targets = c.request("gotoTargets", source={"path": str(TARGET)}, line=target_line)[
        "body"]["targets"]
    assert [t["line"] for t in targets] == [target_line]
    assert c.request("gotoTargets", source={"path": str(TARGET)}, line=line_of("c = a + b"))[
        "body"]["targets"] == []
    mark = c.mark()
    c.request("goto", threadId=thread, targetId=targets[0]["id"])
    assert c.stopped(after=mark)["reason"] == "goto"
    assert frames(c, thread)[0]["line"] == target_line
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0
    assert "result [('worker-1', 3)] 2509 0 []" in c.output("stdout")


def test_pause_and_repl(dap, program):
    spin = program("spin.py", "import time\ndone = False\nn = 0\nwhile not done:\n    n += 1\n"
                              "print('spun', n > 0)\n")
    c = dap()
    c.launch(program=str(spin))
    mark = c.mark()
    time.sleep(0.2)
    c.request("pause", threadId=1)
    stop = c.stopped(after=mark)
    assert stop["reason"] == "pause" and stop["threadId"] == 1
    top = frames(c, 1)[0]
    assert top["line"] in (4, 5)
    # the REPL runs statements in the frame
    assert c.request("evaluate", expression="done = True", frameId=top["id"],
                     context="repl")["body"]["result"] == ""
    c.request("continue", threadId=1)
    assert c.finish() == 0
    assert c.output("stdout") == "spun True\n"


def test_stop_on_entry_and_just_my_code(dap, program):
    prog = program("entry.py", "import json\nx = json.dumps([1])\nprint(x)\n")
    c = dap()
    c.launch(program=str(prog), stopOnEntry=True)
    stop = c.stopped()
    assert stop["reason"] == "entry"
    assert frames(c, 1)[0]["line"] == 1
    c.step("next", 1)
    c.step("stepIn", 1)  # into json.dumps: library code, stepped over
    assert frames(c, 1)[0]["line"] == 3
    c.request("continue", threadId=1)
    assert c.finish() == 0

    c = dap()
    c.launch(program=str(prog), stopOnEntry=True, justMyCode=False)
    c.stopped()
    c.step("next", 1)
    c.step("stepIn", 1)
    top = frames(c, 1)[0]
    assert top["name"] == "dumps" and top["source"]["path"].endswith("json/__init__.py")
    c.request("continue", threadId=1)
    assert c.finish() == 0


def test_module_code_cwd_and_env(dap, tmp_path):
    (tmp_path / "dapmod.py").write_text("import os, sys\nprint(os.getcwd(), os.environ['MOTH_X'],"
                                        " 'MOTH_Y' in os.environ, sys.argv)\n")
    c = dap(env={"MOTH_Y": "1"})
    c.launch(module="dapmod", cwd=str(tmp_path), env={"MOTH_X": "yes", "MOTH_Y": None},
             args="a 'b c'")
    assert c.finish() == 0
    assert c.output("stdout") == "%s yes False ['%s', 'a', 'b c']\n" % (
        tmp_path, tmp_path / "dapmod.py")
    c = dap()
    code = "import sys\nprint('code', sys.argv)\n"
    c.launch(code=code, args=["z"], stopOnEntry=True)
    source = frames(c, c.stopped()["threadId"])[0]["source"]
    assert source == {"name": "<string>", "sourceReference": 1}
    assert c.request("source", source=source, sourceReference=1)["body"]["content"] == code
    assert "no source for /nonexistent.py" in c.request(
        "source", source={"path": "/nonexistent.py"}, sourceReference=0, check=False)["message"]
    c.request("continue", threadId=1)
    assert c.finish() == 0
    assert c.output("stdout") == "code ['-c', 'z']\n"


def test_terminate_at_a_breakpoint(dap):
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("c = a + b")]})
    c.stopped()
    c.request("terminate")
    c.event("terminated")
    c.request("disconnect")
    assert c.process.wait(timeout=30) == 0
    assert "result" not in c.output("stdout")


def test_restart_keeps_the_connection_and_breakpoints(dap):
    c = dap()
    _, made = c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("counter += k")]})
    thread = c.stopped()["threadId"]
    pid = c.request("evaluate", expression="__import__('os').getpid()")["body"]["result"]
    mark = c.mark()
    c.request("restart", arguments={"program": str(TARGET), "args": ["again"]})
    stop = c.stopped(after=mark)
    assert stop["reason"] == "breakpoint" and stop["hitBreakpointIds"] == [made[TARGET][0]["id"]]
    assert c.request("evaluate", expression="k", frameId=frames(c, thread)[0]["id"])["body"][
        "result"] == "0"
    assert c.request("evaluate", expression="__import__('os').getpid()")["body"]["result"] == pid
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0
    assert c.output("stdout").count("result") == 1 and "['again']" in c.output("stdout")


def test_bad_input_gets_error_responses(dap):
    c = dap()
    body = b'{"seq": 1, "type": "request", "command": "initialize",'
    c.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    bad = c._next(30)
    assert bad["success"] is False and bad["request_seq"] == 0
    assert bad["message"].startswith("malformed JSON at byte %d" % len(body))
    c.send_raw(b"Content-Type: x\r\n\r\n")
    assert c._next(30)["message"] == "message header without a valid Content-Length"
    c.send_raw(b"Content-Length: 3\r\n\r\n\"\xff\"")
    assert "not UTF-8" in c._next(30)["message"]
    for message, why in [([], "a message must be a JSON object"),
                         ({"seq": 5}, 'a message needs a "type"'),
                         ({"seq": 5, "type": "request"}, 'a request needs a "command" string'),
                         ({"type": "request", "command": "threads"},
                          'a request needs an integer "seq"'),
                         ({"seq": 6, "type": "request", "command": "threads", "arguments": 3},
                          "a request's \"arguments\" must be an object")]:
        c.send(message)
        answer = c._next(30)
        assert answer["message"] == why and not answer["success"]
    assert c.request("threads", check=False)["message"] == \
        "the first request must be 'initialize'"
    c.initialize()
    assert c.request("initialize", check=False)["message"] == \
        "the session is initialized already"
    assert c.request("frobnicate", check=False)["message"] == \
        "moth does not know the request 'frobnicate'"
    assert c.request("setBreakpoints", check=False)["message"] == "launch or attach first"
    assert "launch needs one of program, module or code" in c.request(
        "launch", check=False)["message"]
    assert "can't open file" in c.request("launch", check=False,
                                          program="/nonexistent/x.py")["message"]
    c.request("launch", program=str(TARGET))
    for command, args, why in [
            ("setBreakpoints", {}, "setBreakpoints needs source.path"),
            ("setBreakpoints", {"source": {"path": "x.py"}, "breakpoints": 3},
             "breakpoints must be an array"),
            ("stackTrace", {"threadId": 1}, "'stackTrace' needs the program stopped"),
            ("variables", {"variablesReference": 99}, "'variables' needs the program stopped"),
            ("pause", {}, "pause needs a threadId"),
            ("pause", {"threadId": 77}, "no thread 77"),
            ("setExceptionBreakpoints", {"filters": ["everything"]},
             "moth has no exception filter 'everything'"),
            ("launch", {"program": str(TARGET)}, "this session has a program already"),
            ("attach", {"processId": 1}, "this session has a program already"),
            ("evaluate", {"expression": "1 +"}, "SyntaxError"),
            ("evaluate", {"expression": "1", "frameId": 3}, "no frame 3 in this stop"),
            ("disassemble", {"memoryReference": "zz", "instructionCount": 1},
             "'disassemble' needs the program stopped")]:
        answer = c.request(command, check=False, **args)
        assert not answer["success"] and why in answer["message"], (command, answer)
    c.request("configurationDone")
    assert c.finish() == 0


def test_stopped_requests_check_their_arguments(dap):
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("c = a + b")]})
    thread = c.stopped()["threadId"]
    for command, args, why in [
            ("stackTrace", {"threadId": 1}, "thread 1 is running"),
            ("stackTrace", {"threadId": thread, "levels": -1}, "cannot be negative"),
            ("scopes", {"frameId": 999}, "no frame 999 in this stop"),
            ("variables", {"variablesReference": 999}, "no variables 999 in this stop"),
            ("next", {"threadId": 1}, "thread 1 is not the stopped thread"),
            ("disassemble", {"memoryReference": "zz", "instructionCount": 1},
             "'zz' is not a memory reference of moth's"),
            ("disassemble", {"memoryReference": "0x7700000000", "instructionCount": 1},
             "no code at 0x7700000000"),
            ("goto", {"threadId": thread}, "goto needs a targetId"),
            ("exceptionInfo", {"threadId": thread}, "this stop is not at an exception"),
            ("dataBreakpointInfo", {"variablesReference": 999, "name": "x"},
             "no variables 999 in this stop")]:
        answer = c.request(command, check=False, **args)
        assert not answer["success"] and why in answer["message"], (command, answer)
    goto = c.request("goto", threadId=thread, targetId=1, check=False)
    assert not goto["success"] and "Jump failed" in goto["message"]
    c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
    c.request("continue", threadId=thread)
    assert c.finish() == 0


def test_client_leaving_ends_the_program(dap, program):
    spin = program("forever.py", "import time\nwhile True:\n    time.sleep(0.01)\n")
    c = dap()
    c.launch(program=str(spin))
    time.sleep(0.3)
    c.writer.close()
    assert c.process.wait(timeout=30) == 0


def test_listen_serves_each_client_in_its_own_process(tmp_path):
    server = subprocess.Popen([sys.executable, "-m", "moth", "dap", "--listen", "127.0.0.1:0"],
                              stderr=subprocess.PIPE, env=moth_env(), text=True)
    try:
        line = server.stderr.readline()
        port = int(re.match(r"moth dap: listening on 127.0.0.1:(\d+)$", line).group(1))
        pids = set()
        for run in range(2):
            c = DapClient.tcp(port)
            c.launch(program=str(TARGET), args=[str(run)],
                     breakpoints={TARGET: [line_of("counter += k")]})
            stop = c.stopped()
            pids.add(c.request("evaluate", expression="__import__('os').getpid()")["body"][
                "result"])
            c.request("setBreakpoints", source={"path": str(TARGET)}, breakpoints=[])
            c.request("continue", threadId=stop["threadId"])
            assert c.finish() == 0
            assert "['%d']" % run in c.output("stdout")
            assert c.errors == []
            c.close()
        assert len(pids) == 2 and str(server.pid) not in pids
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_attach_to_moth_listen(program):
    prog = program("served.py", textwrap.dedent("""\
        import sys, time
        import moth
        host, port = moth.listen(0)
        print(port, flush=True)

        def tick(n):
            return n + 1

        n = 0
        while n < 10**9:
            n = tick(n)
            time.sleep(0.001)
            if n > 100 and open(sys.argv[1]).read() == "stop":
                break
        print("done", n > 100, flush=True)
        """))
    flag = prog.parent / "flag"
    flag.write_text("")
    proc = subprocess.Popen([sys.executable, str(prog), str(flag)], stdout=subprocess.PIPE,
                            text=True, env=moth_env())
    try:
        port = int(proc.stdout.readline())
        for visit in range(2):
            c = DapClient.tcp(port)
            c.initialize()
            c.request("attach", connect={"host": "127.0.0.1", "port": port})
            c.event("initialized")
            made = c.request("setBreakpoints", source={"path": str(prog)},
                             breakpoints=[{"line": 7}])["body"]["breakpoints"]
            assert made[0]["verified"]
            c.request("configurationDone")
            stop = c.stopped()
            assert stop["reason"] == "breakpoint" and stop["threadId"] == 1, (visit, c.request("threads")["body"])
            top = frames(c, 1)[0]
            assert top["name"] == "tick"
            assert int(c.request("evaluate", expression="n", frameId=top["id"])["body"][
                "result"]) > 0
            c.request("disconnect")
            assert c.errors == []
            c.close()
        flag.write_text("stop")
        assert proc.stdout.readline() == "done True\n"
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_integrated_terminal_gets_the_programs_streams(dap, program):
    prog = program("asks.py", "import sys\nname = input('name? ')\nprint('hello', name)\n"
                              "print('to stderr', file=sys.stderr)\n")
    c = dap()
    helpers = []

    def run_in_terminal(args):
        assert args["kind"] == "integrated" and args["args"][1:4] == ["-m", "moth", "dap"]
        p = subprocess.Popen(args["args"], cwd=args["cwd"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=moth_env())
        p.stdin.write(b"moth\n")
        p.stdin.flush()
        helpers.append(p)
        return {"processId": p.pid}
    c.reverse = run_in_terminal
    c.initialize(supportsRunInTerminalRequest=True)
    c.request("launch", program=str(prog), console="integratedTerminal")
    c.event("initialized")
    c.request("configurationDone")
    assert c.finish() == 0
    out, _ = helpers[0].communicate(timeout=30)
    assert out == b"name? hello moth\nto stderr\n"
    assert helpers[0].returncode == 0
    assert "hello" not in c.output()


def test_every_published_shape_is_checked():
    """The schema check is real: a message moth could never send fails it."""
    import jsonschema
    with pytest.raises(jsonschema.ValidationError):
        check_message({"seq": 1, "type": "event", "event": "stopped", "body": {}})
    assert check_message({"seq": 1, "type": "event", "event": "stopped",
                          "body": {"reason": "step"}}) == "StoppedEvent"


def test_command_line_errors():
    from conftest import run_moth
    usage = run_moth("dap", "--help", check=0).stdout
    assert usage.startswith("usage: moth dap [--listen HOST:PORT]")
    bad = run_moth("dap", "script.py", check=2)
    assert bad.stderr == ("moth: unknown argument 'script.py' for 'moth dap' (the program to "
                          "debug comes in the client's launch request; try 'moth dap --help')\n")
    bad = run_moth("dap", "--listen", "nowhere:port", check=2)
    assert bad.stderr == "moth: --listen: 'nowhere:port' is not HOST:PORT (a port is 0 to " \
                         "65535)\n"
    assert run_moth("dap", "--listen", check=2).stderr == "moth: option --listen needs a value\n"


def test_listen_refuses_bad_addresses(program):
    prog = program("listens.py", textwrap.dedent("""\
        import moth
        for bad in ("nowhere:port", [1], ("127.0.0.1", "x")):
            try:
                moth.listen(bad)
            except (TypeError, ValueError) as e:
                print(type(e).__name__, e)
        host, port = moth.listen(("127.0.0.1", 0))
        try:
            moth.listen(0)
        except RuntimeError as e:
            print(e)
        print(host, port > 0)
        """))
    out = subprocess.run([sys.executable, str(prog)], capture_output=True, text=True,
                         env=moth_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "ValueError moth.listen: 'nowhere:port' is not HOST:PORT (a port is 0 to 65535)",
        "TypeError moth.listen takes a port, (host, port) or 'host:port', not [1]",
        "TypeError 'str' object cannot be interpreted as an integer",
        "moth.listen: this process has a debugging session already",
        "127.0.0.1 True"]


def test_refused_terminal_and_detached_end(dap, program):
    prog = program("talks.py", "import time\ntime.sleep(0.2)\nprint('said')\n")
    c = dap()
    c.reverse = lambda args: None  # the client will not run a terminal
    c.initialize(supportsRunInTerminalRequest=True)
    assert "attach needs the processId" in c.request("attach", check=False)["message"]
    c.request("launch", program=str(prog), console="externalTerminal")
    c.event("initialized")
    c.request("configurationDone")
    assert c.finish() == 0
    assert "moth: no terminal came: the program's output comes here\n" in c.output("console")
    assert c.output("stdout") == "said\n"

    # a client that cannot run terminals is told so at launch
    c = dap()
    c.initialize()
    c.request("launch", program=str(prog), console="integratedTerminal")
    assert "this client cannot run a terminal" in c.output("console")
    assert c.request("launch", program=str(prog), check=False)["message"] == \
        "this session has a program already"
    c.request("configurationDone")
    assert c.finish() == 0


def test_disconnect_without_ending_the_program(dap):
    c = dap()
    c.launch(program=str(TARGET), breakpoints={TARGET: [line_of("c = a + b")]})
    c.stopped()
    c.request("disconnect", terminateDebuggee=False)
    assert c.process.wait(timeout=60) == 0  # the program ran to its end, unstopped


def test_function_breakpoint_in_a_module(dap, program):
    prog = program("usesjson.py", "import json\nprint(json.dumps({'a': 1}))\n")
    c = dap()
    c.initialize()
    c.request("launch", program=str(prog), justMyCode=False)
    made = c.request("setFunctionBreakpoints", breakpoints=[
        {"name": "json:dumps"}, {"name": "json.decoder.JSONDecoder.decode"},
        {"name": "json.nothing"}])["body"]["breakpoints"]
    assert [b["verified"] for b in made] == [True, True, False]
    c.request("configurationDone")
    stop = c.stopped()
    top = frames(c, stop["threadId"])[0]
    assert top["name"] == "dumps" and top["source"]["path"].endswith("json/__init__.py")
    assert c.request("evaluate", expression="obj", frameId=top["id"])["body"]["result"] == \
        "{'a': 1}"
    c.request("continue", threadId=stop["threadId"])
    assert c.finish() == 0
    assert c.output("stdout") == '{"a": 1}\n'
