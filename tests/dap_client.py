"""A Debug Adapter Protocol client for the tests: drives `moth dap` (stdio or TCP) or a
program's moth.listen() port, and checks every message moth sends against the protocol's
published JSON schema (debugProtocol.json, shipped in debugpy's wheel)."""
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from pathlib import Path

import jsonschema

from conftest import moth_env


def _schema_path():
    import debugpy
    root = Path(debugpy.__file__).parent
    found = sorted(root.rglob("debugProtocol.json"))
    assert found, "debugpy's wheel has no debugProtocol.json"
    return found[0]


_SCHEMA = json.loads(_schema_path().read_text())
_VALIDATORS = {}


def _validator(name):
    if name not in _VALIDATORS:
        if name not in _SCHEMA["definitions"]:
            return None
        _VALIDATORS[name] = jsonschema.Draft4Validator(
            {"$ref": "#/definitions/" + name, "definitions": _SCHEMA["definitions"]})
    return _VALIDATORS[name]


def check_message(msg):
    """Validates one message moth sent against the protocol's schema; returns the name of the
    definition it was checked against."""
    kind = msg.get("type")
    if kind == "response":
        name = msg.get("command", "")
        name = name[:1].upper() + name[1:] + "Response"
        if not msg.get("success"):
            name = "ErrorResponse"
        elif _validator(name) is None:
            name = "Response"
    elif kind == "event":
        name = msg.get("event", "")
        name = name[:1].upper() + name[1:] + "Event"
        if _validator(name) is None:
            name = "Event"
    elif kind == "request":
        name = msg.get("command", "")
        name = name[:1].upper() + name[1:] + "Request"
    else:
        raise AssertionError("not a protocol message: %r" % (msg,))
    _validator(name).validate(msg)
    return name


class DapError(Exception):
    def __init__(self, response):
        super().__init__(response.get("message"))
        self.response = response


class DapClient:
    """One session. Messages from moth are read by a thread, validated, and queued."""

    def __init__(self, reader, writer, process=None):
        self.reader, self.writer, self.process = reader, writer, process
        self.seq = 0
        self.messages = queue.Queue()
        self.events = []           # every event received, in order
        self.checked = 0           # how many messages passed the schema
        self.seqs = []             # moth's seq numbers, in order
        self.errors = []
        self.reverse = None        # answers runInTerminal: fn(arguments) -> body or None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    @classmethod
    def stdio(cls, *extra, env=None, cwd=None):
        proc = subprocess.Popen([sys.executable, "-m", "moth", "dap", *extra],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=moth_env(env), cwd=cwd)
        return cls(proc.stdout, proc.stdin, proc)

    @classmethod
    def tcp(cls, port, host="127.0.0.1"):
        sock = socket.create_connection((host, port), timeout=30)
        sock.settimeout(None)
        client = cls(sock.makefile("rb"), sock.makefile("wb"))
        client.sock = sock
        return client

    # ---- the wire ----

    def send_raw(self, data):
        self.writer.write(data)
        self.writer.flush()

    def send(self, message):
        body = json.dumps(message).encode()
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _read(self):
        try:
            while True:
                length = None
                while True:
                    line = self.reader.readline()
                    if not line:
                        self.messages.put(None)
                        return
                    if line == b"\r\n":
                        break
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                body = self.reader.read(length)
                msg = json.loads(body)
                try:
                    check_message(msg)
                    self.checked += 1
                except jsonschema.ValidationError as e:
                    self.errors.append((msg, e.message))
                self.seqs.append(msg.get("seq"))
                if msg.get("type") == "request" and msg.get("command") == "runInTerminal":
                    self._answer_reverse(msg)
                    continue
                self.messages.put(msg)
        except Exception as e:  # pragma: no cover - shown by the test that waits
            self.errors.append((None, repr(e)))
            self.messages.put(None)

    def _answer_reverse(self, msg):
        body = self.reverse(msg["arguments"]) if self.reverse else None
        self.seq += 1
        self.send({"seq": self.seq, "type": "response", "request_seq": msg["seq"],
                   "command": msg["command"], "success": body is not None,
                   "body": body or {}, **({} if body is not None else {"message": "no"})})

    # ---- requests and events ----

    def _next(self, timeout):
        try:
            msg = self.messages.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("moth sent nothing for %ss; events so far: %s" % (
                timeout, [e.get("event") for e in self.events])) from None
        if msg is None:
            raise EOFError("moth closed the connection")
        if msg.get("type") == "event":
            self.events.append(msg)
        return msg

    def request(self, command, timeout=30, check=True, **arguments):
        self.seq += 1
        seq = self.seq
        self.send({"seq": seq, "type": "request", "command": command, "arguments": arguments})
        return self.response(seq, check=check, timeout=timeout)

    def response(self, seq, check=True, timeout=30):
        while True:
            msg = self._next(timeout)
            if msg.get("type") == "response" and msg.get("request_seq") == seq:
                if check and not msg["success"]:
                    raise DapError(msg)
                return msg

    def event(self, name, timeout=30, after=0):
        """The first event `name` received after the first `after` events (waits for it)."""
        index = after
        while True:
            for e in self.events[index:]:
                if e["event"] == name:
                    return e
            index = len(self.events)
            self._next(timeout)

    def mark(self):
        return len(self.events)

    def output(self, category=None):
        return "".join(e["body"]["output"] for e in self.events if e["event"] == "output" and
                       (category is None or e["body"].get("category") == category))

    def wait_output(self, text, timeout=30):
        while text not in self.output():
            self._next(timeout)

    def close(self):
        for f in (self.writer, self.reader):
            try:
                f.close()
            except OSError:
                pass
        if getattr(self, "sock", None):
            self.sock.close()
        if self.process:
            try:
                self.process.wait(timeout=30)
            finally:
                if self.process.poll() is None:
                    self.process.kill()

    # ---- session shapes ----

    def initialize(self, **extra):
        args = {"clientID": "moth-tests", "adapterID": "moth", "linesStartAt1": True,
                "columnsStartAt1": True, "pathFormat": "path"}
        args.update(extra)
        return self.request("initialize", **args)["body"]

    def launch(self, breakpoints=None, exception_filters=("uncaught",), **launch):
        """initialize, launch, breakpoints, configurationDone: the order VS Code uses."""
        self.initialize()
        launched = self.request("launch", **launch)
        self.event("initialized")
        made = {}
        for path, lines in (breakpoints or {}).items():
            specs = [l if isinstance(l, dict) else {"line": l} for l in lines]
            made[path] = self.request("setBreakpoints", source={"path": str(path)},
                                      breakpoints=specs)["body"]["breakpoints"]
        self.request("setExceptionBreakpoints", filters=list(exception_filters))
        self.request("configurationDone")
        return launched, made

    def stopped(self, timeout=30, after=0):
        return self.event("stopped", timeout=timeout, after=after)["body"]

    def top_frame(self, thread):
        frames = self.request("stackTrace", threadId=thread)["body"]["stackFrames"]
        return frames[0]

    def locals_of(self, frame_id):
        scopes = self.request("scopes", frameId=frame_id)["body"]["scopes"]
        ref = scopes[0]["variablesReference"]
        return {v["name"]: v for v in self.request("variables", variablesReference=ref)[
            "body"]["variables"]}

    def step(self, command, thread, **extra):
        mark = self.mark()
        self.request(command, threadId=thread, **extra)
        return self.stopped(after=mark)

    def finish(self):
        """Continue to the end; disconnect; the exit code."""
        exited = self.event("exited")["body"]["exitCode"]
        self.event("terminated")
        self.request("disconnect")
        return exited
