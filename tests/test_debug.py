"""moth debug and moth.Pdb: pdb's sessions exactly, on an engine that traces only what can stop;
watches, instruction stepping, threads, post-mortem, set_trace, a real terminal."""
import dis
import gc
import io
import os
import re
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import PROGRAMS, moth_env, run_moth, spawn_on_terminal

DEBUGGEE = PROGRAMS / "debuggee.py"
SOURCE = DEBUGGEE.read_text().splitlines()


def line_of(text, source=SOURCE):
    """The number of the first line of the program that holds text."""
    return next(i for i, line in enumerate(source, 1) if text in line)


def moth_session(commands, script=DEBUGGEE, *args, env=None):
    return run_moth("debug", script, *args, input="\n".join(commands) + "\n", env=env,
                    timeout=60)


def pdb_session(commands, script=DEBUGGEE):
    proc = subprocess.run([sys.executable, "-m", "pdb", str(script)],
                          input="\n".join(commands) + "\n", capture_output=True, text=True,
                          env=moth_env(), timeout=60)
    # pdb runs the script through exec of a string: one frame, just above the script's module
    # frame, that moth does not have
    lines = proc.stdout.splitlines(True)
    below = "  %s(" % script
    return "".join(line for i, line in enumerate(lines)
                   if not (line == "  <string>(1)<module>()\n" and i + 1 < len(lines) and
                           lines[i + 1].startswith(below)))


# Each session is run by pdb and by moth debug; the transcripts must be identical.
SESSIONS = {
    "stepping": ["break add", "continue", "where", "args", "p a, b", "pp [a, b]", "whatis a",
                 "next", "step", "step", "retval", "until", "return", "continue", "break",
                 "tbreak fact", "continue", "bt", "up", "down", "list", "longlist"],
    "conditions and counts": ["break add", "condition 1 a > 3", "continue", "p a, b",
                              "disable 1", "break guarded", "continue", "step", "next", "next",
                              "ignore 3 1", "enable 1", "continue", "continue", "break",
                              "clear 1", "break", "continue"],
    "commands and displays": ["break add", "commands 1", "silent", "p 'in add', a, b", "end",
                              "continue", "display c", "next", "continue", "undisplay",
                              "alias pa p a", "pa", "unalias pa", "clear", "y", "continue"],
    "recursion and generators": ["break fact", "continue", "continue", "where", "return",
                                 "return", "clear", "y", "break squares", "continue", "next",
                                 "next", "next", "continue"],
    "exceptions": ["break guarded", "continue", "step", "step", "step", "step", "continue"],
    "bad input": ["frobnicate", "p undefined_name", "break 9999", "break nofile.py:3",
                  "list 5000", "condition 99 x", "enable 42", "p 1 +", "up 99", "jump",
                  "break add", "continue", "jump 1", "continue"],
    "module breakpoints and jump": ["break %d" % line_of("print(\"results\""), "continue",
                                    "p x, y, z, g", "jump %d" % line_of("return x"),
                                    "continue"],
    "help": ["help break", "help next", "help p", "continue"],
    "source and statements": ["break add", "continue", "source add", "source LIMIT", "!c = 41",
                              "p c", "!b", "whatis loop", "retval", "continue", "continue"],
    "recursive debugger and interact": ["break add", "continue", "debug fact(3)", "step",
                                        "step", "where", "continue", "p a", "interact",
                                        "print(a + 1)", "\x04", "continue"],
}


def test_break_module_function_with_condition_is_pdbs(program):
    script = program("uses_textwrap.py", textwrap.dedent("""\
        import textwrap

        for n in range(4):
            print(textwrap.dedent("  x%d" % n))
        """))
    commands = ["break textwrap.dedent, text == '  x2'", "continue", "p text", "break",
                "continue", "quit"]
    moth = moth_session(commands, script)
    assert moth.stdout == pdb_session(commands, script)
    assert "(Pdb) '  x2'\n" in moth.stdout
    assert "breakpoint already hit 3 times" in moth.stdout


@pytest.mark.parametrize("name", sorted(SESSIONS))
def test_session_is_pdbs(name):
    commands = SESSIONS[name] + ["quit"]
    moth = moth_session(commands)
    assert moth.returncode == 0, moth.stderr
    expected = pdb_session(commands)
    assert moth.stdout == expected
    assert moth.stdout.count("(Pdb)") >= len(SESSIONS[name]) // 2  # the session ran


GENERATORS = PROGRAMS / "generators.py"
GENERATOR_SOURCE = GENERATORS.read_text().splitlines()


def at(text, *commands):
    """A session that stops at the first line of generators.py holding text first."""
    return ["break %d" % line_of(text, GENERATOR_SOURCE), "continue", *commands]


# Stepping commands leaving generators, coroutines and async generators: pdb stops where their
# StopIteration or GeneratorExit reaches a frame it traces. Each session: what it must show, and
# the commands.
GENERATOR_SESSIONS = {
    "next off a generator's last line": (
        "Internal StopIteration: 2", at("return n", "next", "next", "next")),
    "return from a generator entered by step": (
        "StopIteration: 1", at("it = numbers(1)", "next", "step", "step", "return", "next",
                               "return", "next")),
    "next over yield from": ("Internal StopIteration", at("got = yield from", *["next"] * 4)),
    "next off a subgenerator's return": (
        "Internal StopIteration: 3", at("return 3", "next", "next", "next")),
    "until in a generator": ("Internal StopIteration", at("yield got", *["until"] * 3)),
    "return out of a delegating generator": (
        "Internal StopIteration: 2", at("got = yield from", "return", "return", "return")),
    # (3.13 closes a generator suspended outside any try block without raising in it)
    "next into a generator closed early": (
        "GeneratorExit" if sys.version_info < (3, 13) else "Internal StopIteration",
        at("yield n", *["next"] * 4)),
    "next through an awaited coroutine": (
        "Internal StopIteration: 2", at("a = await double", *["next"] * 4)),
    "next off a coroutine's return": ("Internal StopIteration: 2", at("return y", "next", "next")),
    "async generator": ("Internal StopIteration: 1", at("yield t", "next", "next", "return",
                                                         "next")),
    "one-line generator expression": ("<genexpr>()", at("sum(i * i", "next", "next", "step",
                                                        "next", "continue")),
}


@pytest.mark.parametrize("name", sorted(GENERATOR_SESSIONS))
def test_generator_session_is_pdbs(name):
    shows, commands = GENERATOR_SESSIONS[name]
    commands = commands + ["quit"]
    moth = moth_session(commands, GENERATORS)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb_session(commands, GENERATORS)
    assert shows in moth.stdout


def test_generator_in_a_file_without_breakpoints_is_pdbs(program):
    """The frame a generator returns to is followed when pdb traces it (the module's body, traced
    since the first stop), though its file holds no breakpoint; the rest of that file is not."""
    program("genlib.py", "def numbers(n):\n    for i in range(n):\n        yield i\n    return n\n")
    script = program("usegen.py", textwrap.dedent("""\
        from genlib import numbers

        def consume():
            return sum(numbers(2))

        for v in numbers(2):
            print("got", v)
        print("sum", consume())
        """))
    commands = ["break genlib.py:3", "continue"] + ["next"] * 7 + ["quit"]
    moth = moth_session(commands, script)
    assert moth.stdout == pdb_session(commands, script)
    assert "Internal StopIteration: 2\n> %s(6)<module>()" % script in moth.stdout


@pytest.mark.parametrize("mode", ["step", "next"])
def test_instruction_stepping_through_generators(mode):
    """stepi and nexti in and out of generators, coroutines and async generators stop where the
    interpreter's own opcode events say (tests/programs/instruction_trail.py), breakpoints
    included."""
    for start in ("total += v", "return 3", "return y", "yield t"):
        line = line_of(start, GENERATOR_SOURCE)
        trail = subprocess.run([sys.executable, str(PROGRAMS / "instruction_trail.py"), mode,
                                str(GENERATORS), str(line), "8"], capture_output=True, text=True,
                               env=moth_env(), timeout=60, check=True).stdout.splitlines()
        command = "stepi" if mode == "step" else "nexti"
        out = moth_session(at(start, "display/i") + [command] * 8 + ["quit"], GENERATORS).stdout
        stops = re.findall(r"> \S+\(\d+\)(\S+)\(\)\n-> .*\n--> +(\d+) ", out)
        assert len(trail) == 8
        assert ["%s %s" % stop for stop in stops] == trail, start


def test_help_lists_the_new_commands():
    out = moth_session(["help", "help watch", "help stepi", "quit"]).stdout
    for command in ("watch", "unwatch", "stepi", "nexti", "disassemble", "threads", "info"):
        assert re.search(r"\b%s\b" % command, out.split("(Pdb)")[1]), command
    assert "Stop right after a line of the current frame changes the value" in out
    assert "Execute one bytecode instruction" in out


def test_first_stop_end_and_restart():
    proc = moth_session(["continue", "continue", "quit"], DEBUGGEE, "a", "b")
    out = proc.stdout
    assert out.startswith("> %s(1)<module>()\n" % DEBUGGEE)
    assert out.count("results 10 120 5 -1\ndone 3\n") == 2  # the program's own sys.argv
    assert out.count("The program finished and will be restarted") == 2
    assert proc.returncode == 0


def test_module_and_code_targets(program, tmp_path):
    module = program("dbgmod.py", "import sys\nvalue = 6 * 7\nprint('module', value, sys.argv[1:])\n")
    proc = run_moth("debug", "-m", "dbgmod", "x", cwd=tmp_path, input="next\nnext\np value\ncontinue\nquit\n")
    assert proc.stdout.startswith("> %s(1)<module>()\n-> import sys\n" % module)
    assert "(Pdb) 42\n" in proc.stdout and "module 42 ['x']" in proc.stdout
    code = run_moth("debug", "-c", "a = 1\nb = a + 1\nprint('code', b)", input="next\nnext\np a, b\ncontinue\nquit\n")
    assert code.stdout.startswith("> <string>(1)<module>()\n")
    assert "(Pdb) (1, 2)\n" in code.stdout and "code 2" in code.stdout


def test_post_mortem_at_the_frame_that_raised(program):
    script = program("boom.py", textwrap.dedent("""\
        def inner(value):
            local = value * 2
            raise ValueError("bad %d" % local)

        def outer():
            inner(21)

        outer()
        """))
    proc = moth_session(["continue", "p local", "where", "quit"], script)
    out = proc.stdout
    assert "Uncaught exception. Entering post mortem debugging" in out
    assert "Running 'cont' or 'step' will restart the program" in out
    assert "> %s(3)inner()\n-> raise ValueError" % script in out
    assert "(Pdb) 42\n" in out
    assert 'ValueError: bad 42' in proc.stdout + proc.stderr


def test_sys_exit_is_reported(program):
    script = program("exits.py", "import sys\nprint('bye')\nsys.exit(7)\n")
    proc = moth_session(["continue", "quit"], script)
    assert "bye\nThe program exited via sys.exit(). Exit status: 7\n" in proc.stdout


def test_restart_with_new_arguments(program):
    script = program("args.py", "import sys\nprint('argv', sys.argv[1:])\n")
    proc = moth_session(["run one two", "continue", "quit"], script, "zero")
    assert "Restarting %s with arguments:\n\tone two\n" % script in proc.stdout
    assert "argv ['one', 'two']" in proc.stdout


def test_bad_command_lines():
    missing = run_moth("debug", "no_such_script.py", input="quit\n")
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1
    assert "no_such_script.py" in missing.stderr and "Traceback" not in missing.stderr
    bogus = run_moth("debug", "--bogus", DEBUGGEE)
    assert bogus.returncode == 2 and "unknown option '--bogus'" in bogus.stderr
    nothing = run_moth("debug")
    assert nothing.returncode == 2 and "debug what?" in nothing.stderr


def test_program_behaves_as_without_moth():
    plain = subprocess.run([sys.executable, str(DEBUGGEE)], capture_output=True, text=True)
    proc = run_moth("debug", "--command", "break %s:%d" % (DEBUGGEE, line_of('print("reached")')),
                    "--command", "continue", DEBUGGEE, input="quit\n")
    program_output = proc.stdout.split("The program finished")[0]
    assert program_output.endswith(plain.stdout)
    assert "reached" not in proc.stdout


def test_only_breakpoint_code_is_traced(program):
    """With a breakpoint set but not reached, nothing runs a trace function: 3.12+ gives local
    events to the breakpoint's code object only; 3.11 and all versions have no Python tracer."""
    script = program("untraced.py", textwrap.dedent("""\
        import sys

        def maybe(flag):
            if flag:
                print("reached")
            return 1

        def busy():
            return sum(i for i in range(10))

        maybe(False)
        busy()
        print("gettrace", sys.gettrace())
        if sys.version_info >= (3, 12):
            events = sys.monitoring.get_local_events
            print("maybe", events(0, maybe.__code__) & sys.monitoring.events.LINE)
            print("busy", events(0, busy.__code__))
        """))
    proc = moth_session(["break 5", "continue", "quit"], script)
    assert "reached" not in proc.stdout
    assert "gettrace None\n" in proc.stdout
    if sys.version_info >= (3, 12):
        assert "maybe 32\n" in proc.stdout
        assert "busy 0\n" in proc.stdout


def test_assigning_a_local_at_the_prompt_changes_the_frame_as_in_pdb(program):
    """`!a = 99` at a breakpoint (and after `next`, and `del`) changes the running frame: pdb's
    trace function writes frame.f_locals back on 3.11 and 3.12, moth's engine does the same."""
    script = program("assign_local.py", textwrap.dedent("""\
        def work():
            a = 1
            b = 2
            c = 3
            print("a b", a, b)
            try:
                print("c", c)
            except NameError:
                print("c deleted")
            return a

        print("got", work())
        """))
    commands = ["break 3", "continue", "!a = 99", "next", "p a", "!b = a + 1", "next",
                "!del c", "next", "continue", "quit"]
    moth = moth_session(commands, script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb_session(commands, script)
    # (`del c` is pdb's on each version: deleted, or 3.12's None with a warning)
    assert "a b 99 100\n" in moth.stdout and "got 99\n" in moth.stdout


def test_assigning_a_local_through_moth_pdb_in_process():
    """moth.Pdb driven in-process, as pdb.Pdb would be: the assignment reaches the frame."""
    import moth

    def work():
        a = 1
        b = 2
        return a + b

    line = work.__code__.co_firstlineno + 2
    out = io.StringIO()
    debugger = moth.Pdb(stdin=io.StringIO("break %d\ncontinue\n!a = 40\ncontinue\n" % line),
                        stdout=out, nosigint=True, readrc=False)
    assert debugger.runcall(work) == 42, out.getvalue()


def test_breakpoints_not_reached_put_no_hook_on_the_interpreter(program):
    """With breakpoints set and not reached, no frame-evaluation hook and no trace function is
    installed (3.11: probes in twins of the breakpoints' code, engine_probes.c; 3.12+:
    sys.monitoring); breakpoints in a closure made later and in a module imported later still
    stop on their lines."""
    program("imported_later.py", textwrap.dedent("""\
        def scale(a):
            b = a * 3
            return b
        """))
    script = program("unhooked.py", textwrap.dedent("""\
        import sys
        from moth._moth import Engine

        def never(x):
            return x + 1

        def make():
            def inner(y):
                return y * 2
            return inner

        def fib(n):
            return n if n < 2 else fib(n - 1) + fib(n - 2)

        print("hooked", Engine.frame_eval_hooked(), "trace", sys.gettrace())
        fib(12)
        print("still hooked", Engine.frame_eval_hooked())
        print("inner", make()(4))
        import imported_later
        print("scaled", imported_later.scale(5))

        def counted(n):
            s = 0
            for i in range(n):
                s += i
            return s

        import threading
        t = threading.Thread(target=lambda: print("counted", counted(5)), name="w")
        t.start()
        t.join()
        """))
    later = script.parent / "imported_later.py"
    loop = line_of("s += i", script.read_text().splitlines())
    proc = moth_session(["break 5", "break 9", "break %s:2" % later, "break %d, i == 3" % loop,
                         "continue", "p y", "continue", "p a", "continue", "p i, s",
                         "continue", "quit"], script)
    out = proc.stdout
    assert re.search(r"\[thread \d+: w\]\n> .*unhooked.py\(%d\)counted\(\)\n-> s \+= i\n"
                     r"\(Pdb\) \(3, 3\)\n" % loop, out), out
    assert "counted 10\n" in out
    assert "hooked False trace None\n" in out and "still hooked False\n" in out, out
    assert re.search(r"unhooked.py\(9\)inner\(\)\n-> return y \* 2\n\(Pdb\) 4\n", out), out
    assert re.search(r"imported_later.py\(2\)scale\(\)\n-> b = a \* 3\n\(Pdb\) 5\n", out), out
    assert "inner 8\n" in out and "scaled 15\n" in out
    assert "never" not in out.split("Breakpoint 3")[1]


def test_breakpoints_set_while_stopped_without_a_hook_are_pdbs(program):
    """Breakpoints set at a stop (3.11: a stop a probe made): later in the same running twin,
    and in a function not called yet; then cleared, the program runs on untraced."""
    script = program("while_stopped.py", textwrap.dedent("""\
        def later(v):
            w = v - 1
            return w

        def work(i):
            j = i * 2
            k = j + 1
            return later(k)

        print("results", [work(i) for i in range(3)])
        """))
    commands = ["break 6", "continue", "break 7", "break 2", "continue", "p j", "continue",
                "p v", "clear", "y", "continue"]
    moth = moth_session(commands + ["quit"], script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb_session(commands + ["quit"], script)
    assert "(Pdb) 0\n" in moth.stdout and "(Pdb) 1\n" in moth.stdout
    assert "results [0, 2, 4]\n" in moth.stdout


def test_breakpoints_twins_cannot_carry_use_the_frame_hook(program):
    """3.11: a breakpoint in a generator, or in a function a frame is already running, is
    carried by the frame hook as before (twins cannot: stepping out of a generator a probe
    stopped in would miss the StopIteration pdb stops at in a caller's yield from or await; a
    running frame keeps its code); both still stop."""
    script = program("hooked.py", textwrap.dedent("""\
        from moth._moth import Engine

        def gen(n):
            for i in range(n):
                yield i * 10

        def main():
            print("hooked", Engine.frame_eval_hooked())
            x = 1
            return sum(gen(3)) + x

        print("main", main())
        """))
    source = script.read_text().splitlines()
    # a breakpoint in a generator, set before anything runs
    proc = moth_session(["break %d" % line_of("yield i", source), "continue", "p i", "clear",
                         "y", "continue", "quit"], script)
    out = proc.stdout
    assert re.search(r"hooked.py\(5\)gen\(\)\n-> yield i \* 10\n\(Pdb\) 0\n", out), out
    assert "hooked %s\n" % (sys.version_info < (3, 12)) in out and "main 31\n" in out
    # a breakpoint set while stopped in main(), on a later line of main()
    proc = moth_session(["break %d" % line_of('print("hooked"', source), "continue",
                         "break %d" % line_of("return sum", source), "continue", "p x",
                         "continue", "quit"], script)
    out = proc.stdout
    assert re.search(r"hooked.py\(10\)main\(\)\n-> return sum.*\n\(Pdb\) 1\n", out), out
    assert "main 31\n" in out


def test_breakpoint_in_the_body_of_a_module_imported_later(program):
    """3.11: no hook until the module holding the breakpoint in its own body is about to run
    (the audit hook on exec sees it and puts the frame hook on); it stops there."""
    lazy = program("lazy_body.py", "X = 1\nY = X + 1\n\ndef f():\n    return Y\n")
    script = program("imports_lazily.py", textwrap.dedent("""\
        from moth._moth import Engine
        print("hooked", Engine.frame_eval_hooked())
        import lazy_body
        print("f", lazy_body.f())
        """))
    proc = moth_session(["break %s:2" % lazy, "continue", "p X", "continue", "quit"], script)
    out = proc.stdout
    assert "hooked False\n" in out
    assert re.search(r"lazy_body.py\(2\)<module>\(\)\n-> Y = X \+ 1\n\(Pdb\) 1\n", out), out
    assert "f 2\n" in out


def test_conditions_and_ignore_counts_without_a_hook_are_pdbs(program):
    """Conditions, ignore counts, temporary breakpoints and hits counted in code that probes
    carry (3.11) stop exactly where pdb stops; a stop there allows jump, next and return."""
    script = program("counted.py", textwrap.dedent("""\
        def work(i):
            j = i * 2
            k = j + 1
            return k

        def loop():
            total = 0
            for i in range(8):
                total += work(i)
            return total

        print("total", loop())
        """))
    commands = ["break 2, i % 2 == 1", "ignore 1 1", "tbreak 3", "continue", "p i",
                "continue", "p i, j", "next", "p k", "continue", "p i", "jump 2", "next",
                "p j", "return", "break", "continue", "p i", "clear", "y", "continue"]
    moth = moth_session(commands + ["quit"], script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb_session(commands + ["quit"], script)
    out = moth.stdout
    assert out.count("counted.py(2)work()") == 4 and "breakpoint already hit 6 times" in out
    assert "(Pdb) 7\n" in out and "total 64\n" in out  # (jump ran line 2 of i = 5 twice)


def test_watch_a_local(program):
    script = program("watched.py", textwrap.dedent("""\
        def work(n):
            x = 0
            items = []
            for i in range(n):
                x = x + i
                if i == 3:
                    items.append(i)
            return x

        print("total", work(6))
        """))
    proc = moth_session(["break work", "continue", "watch x", "watch items", "info watch",
                         "continue", "continue", "continue", "unwatch 1", "continue",
                         "continue", "quit"], script)
    out = proc.stdout
    assert "Watchpoint 1: x = <undefined>" in out
    assert ("Watchpoint 1: x\n\nOld value = <undefined>\nNew value = 0\n"
            "Changed by line 2: x = 0\n> %s(3)work()" % script) in out
    assert ("Watchpoint 2: items\n\nOld value = <undefined>\nNew value = []\n"
            "Changed by line 3: items = []\n") in out
    # x stays 0 after i == 0: the first change is x = 0 + 1, at line 5
    assert ("Watchpoint 1: x\n\nOld value = 0\nNew value = 1\n"
            "Changed by line 5: x = x + i\n> %s(6)work()" % script) in out
    assert "Deleted watchpoint 1" in out
    assert ("Watchpoint 2: items\n\nOld value = []\nNew value = [3]\n"
            "Changed by line 7: items.append(i)\n") in out
    assert ("Watchpoint 2 deleted because the program has left the block in\n"
            "which its expression is valid.\ntotal 15\n") in out
    assert "1   watchpoint work() at line 2" in out


def test_a_watch_traces_only_its_function(program):
    script = program("watch_cost.py", textwrap.dedent("""\
        import sys

        def helper(v):
            return v + 1

        def work():
            x = 0
            for i in range(3):
                x = helper(x)
            if sys.version_info >= (3, 12):
                events = sys.monitoring.get_local_events
                print("work", events(0, work.__code__) & sys.monitoring.events.LINE)
                print("helper", events(0, helper.__code__))
            print("gettrace", sys.gettrace())
            return x

        work()
        """))
    proc = moth_session(["break work", "continue", "watch x"] + ["continue"] * 6 + ["quit"],
                        script)
    out = proc.stdout
    assert "New value = 3\nChanged by line 9" in out
    assert "gettrace None\n" in out
    if sys.version_info >= (3, 12):
        assert "work 32\n" in out and "helper 0\n" in out


def test_watch_a_module_level_name(program):
    script = program("counter.py", textwrap.dedent("""\
        counter = 0

        def bump():
            return 5

        counter = counter + 1
        counter = counter + bump()
        print("counter", counter)
        """))
    proc = moth_session(["watch counter"] + ["continue"] * 4 + ["quit"], script)
    out = proc.stdout
    assert "Old value = <undefined>\nNew value = 0\nChanged by line 1: counter = 0" in out
    assert "Old value = 0\nNew value = 1\nChanged by line 6: counter = counter + 1" in out
    assert "Old value = 1\nNew value = 6\nChanged by line 7: counter = counter + bump()" in out
    assert "counter 6" in out


def test_watch_a_module_level_name_rebound_in_functions(program):
    """3.12+ (dictionary watchers): a module-level name rebound inside a function stops right
    after that function's line, wherever it runs; rebinding to an equal value does not stop.
    3.11: the change is seen at the module line that made the call."""
    script = program("total.py", textwrap.dedent("""\
        total = 0

        def add(n):
            global total
            total += n
            return total

        def same():
            global total
            total = total

        def main():
            for i in range(2):
                add(i + 1)
            same()
            return total

        main()
        print("total", total)
        """))
    call = script.read_text().splitlines().index("main()") + 1
    proc = moth_session(["break %d" % call, "continue", "watch total", "continue", "where",
                         "continue", "continue", "continue", "quit"], script)
    out = proc.stdout
    if sys.version_info >= (3, 12):
        assert out.count("Changed by line 5: total += n\n> %s(6)add()\n" % script) == 2
        assert "Old value = 0\nNew value = 1\n" in out
        assert "Old value = 1\nNew value = 3\n" in out
        assert "main()\n" in out.split("Changed by line 5")[1]  # `where` shows main's call
        assert "same()" not in out.split("Watchpoint 1: total = 0")[1].split("total 3")[0]
    else:
        assert "Old value = 0\nNew value = 3\nChanged by line %d: main()" % call in out
    assert out.count("Watchpoint 1: total\n") == (2 if sys.version_info >= (3, 12) else 1)
    assert "total 3\n" in out


def _shown_instructions(text):
    return [(int(m.group(1)), m.group(2))
            for m in re.finditer(r"^--> +(\d+) (\w+)", text, re.M)]


def test_stepi_and_nexti_follow_the_bytecode(program):
    script = program("straight.py", textwrap.dedent("""\
        def double(v):
            return v * 2

        def straight(a, b):
            c = a + b
            d = double(c) - a
            return d

        print(straight(3, 4))
        """))
    proc = moth_session(["break 5", "continue"] + ["nexti"] * 8 + ["continue", "quit"], script)
    shown = _shown_instructions(proc.stdout)
    namespace = {}
    exec(compile(script.read_text(), str(script), "exec"), namespace)
    code = namespace["straight"].__code__
    listing = [(i.offset, i.opname) for i in dis.get_instructions(code)]
    assert len(shown) == 8
    # nexti never leaves straight(): each stop is the next instruction of its bytecode
    positions = [listing.index(s) for s in shown]
    assert positions == list(range(positions[0], positions[0] + 8))
    assert "double()" not in proc.stdout.split("(Pdb)", 3)[-1].split("continue")[0]
    # stepi enters the call
    into = moth_session(["break 6", "continue"] + ["stepi"] * 12 + ["continue", "quit"], script)
    assert "> %s(2)double()" % script in into.stdout


def test_disassemble_marks_the_current_instruction():
    proc = moth_session(["break add", "continue", "disassemble", "display/i", "next",
                         "undisplay/i", "next", "quit"])
    out = proc.stdout
    listing = out.split("(Pdb)")[3]                           # the disassemble command's
    marked = re.findall(r"^\s+(?:\d+\s+)?-->\s+(?:\d+\s+)?([A-Z_]+)", listing, re.M)
    assert len(marked) == 1 and marked[0].startswith("LOAD_FAST")  # c = a + b, about to run
    assert len(re.findall(r"^\s+(-->\s+)?(\d+\s+)?[A-Z_]{4,}", listing, re.M)) > 3
    after_display = out.split("display/i: ")[1]
    stop = after_display.split("(Pdb)")[1]
    assert re.search(r"^--> +\d+ \w+", stop, re.M)          # shown at the next stop
    later = after_display.split("(Pdb)")[3]
    assert "-->" not in later                                 # not after undisplay/i


def test_breakpoint_in_another_thread(program):
    script = program("threaded_debug.py", textwrap.dedent("""\
        import threading

        def worker(n):
            total = 0
            for i in range(n):
                total += i
            return total

        t = threading.Thread(target=worker, args=(10,), name="worker-1")
        t.start()
        t.join()
        print("joined")
        """))
    proc = moth_session(["break 6", "continue", "p i", "threads", "clear 1", "continue",
                         "quit"], script)
    out = proc.stdout
    assert re.search(r"\[thread \d+: worker-1\]\n> .*threaded_debug.py\(6\)worker\(\)", out)
    assert "(Pdb) 0\n" in out
    assert re.search(r"^\* \d+ +worker-1 +.*threaded_debug.py\(6\)worker\(\)$", out, re.M)
    assert re.search(r" \d+ +MainThread ", out)
    assert "joined" in out
    # `quit` at a prompt in that thread aborts the program, as pdb's quit does, quietly
    proc = moth_session(["break 6", "continue", "quit"], script)
    assert "[thread" in proc.stdout and "joined" not in proc.stdout
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def test_threads_shows_a_thread_waiting_for_the_prompt_where_it_stopped(program):
    script = program("two_stops.py", textwrap.dedent("""\
        import threading

        go = threading.Event()

        def work(n):
            total = n * 2
            return total

        def second():
            go.wait()
            work(2)

        t2 = threading.Thread(target=second, name="second")
        t1 = threading.Thread(target=work, args=(1,), name="first")
        t2.start()
        t1.start()
        t1.join()
        t2.join()
        """))
    # at the first thread's prompt, let the second go and wait until it waits for the prompt
    proc = moth_session(["break 6", "continue", "!go.set()", "!import moth.debugger, sys, time",
                         "!while sys._current_frames()[t2.ident].f_code.co_filename != "
                         "moth.debugger.__file__: time.sleep(0.01)", "threads", "clear 1",
                         "continue", "p n", "continue", "quit"], script)
    out = proc.stdout
    assert re.search(r"^\* \d+ +first +.*two_stops.py\(6\)work\(\)$", out, re.M), out
    assert re.search(r"^  \d+ +second +.*two_stops.py\(6\)work\(\)$", out, re.M), out
    assert "debugger.py" not in out
    assert re.search(r"\[thread \d+: second\]\n> .*two_stops.py\(6\)work\(\)", out)
    assert "(Pdb) 2\n" in out


def test_breakpoint_set_while_another_thread_is_inside_the_function(program):
    """A breakpoint set at the prompt, in a function another thread is already running (and
    that makes no call), stops that thread there."""
    script = program("spinning.py", textwrap.dedent("""\
        import threading
        import time

        go = False

        def worker():
            while not go:
                pass
            total = 0
            for i in range(3):
                total += i
            return total

        t = threading.Thread(target=worker, name="worker-1")
        t.start()
        time.sleep(0.05)
        go = True
        t.join()
        print("joined")
        """))
    source = script.read_text().splitlines()
    proc = moth_session(["break %d" % line_of("go = True", source), "continue",
                         "break %d" % line_of("total += i", source), "continue", "p i",
                         "clear 2", "continue", "quit"], script)
    out = proc.stdout
    assert re.search(r"\[thread \d+: worker-1\]\n> .*spinning.py\(%d\)worker\(\)"
                     % line_of("total += i", source), out), out
    assert "(Pdb) 0\n" in out and "joined" in out


def test_set_trace_and_breakpoint_builtin(program):
    script = program("tracepoint.py", textwrap.dedent("""\
        def compute(x):
            y = x * 3
            breakpoint()
            z = y + 1
            return z

        print("result", compute(4))
        """))
    # 3.13's pdb stops at the breakpoint() line itself, earlier ones at the line after it
    first = ["next"] if sys.version_info >= (3, 13) else []
    proc = subprocess.run([sys.executable, str(script)],
                          input="\n".join(first + ["p y", "next", "p z", "continue"]) + "\n",
                          capture_output=True, text=True, timeout=60,
                          env=moth_env({"PYTHONBREAKPOINT": "moth.set_trace"}))
    out = proc.stdout
    assert "> %s(4)compute()\n-> z = y + 1\n(Pdb) 12\n" % script in out
    assert "(Pdb) 13\n" in out
    assert "result 13" in out and proc.returncode == 0


def test_breakpoints_outlive_the_set_trace_session(program):
    """After `continue`, nothing of the program's holds the debugger: the engine keeps it."""
    script = program("later.py", textwrap.dedent("""\
        import gc

        def later():
            x = 41
            return x + 1

        breakpoint()
        gc.collect()
        print("got", later())
        """))
    proc = subprocess.run([sys.executable, str(script)], input="break 5\ncontinue\np x\ncontinue\n",
                          capture_output=True, text=True, timeout=60,
                          env=moth_env({"PYTHONBREAKPOINT": "moth.set_trace"}))
    assert "> %s(5)later()\n-> return x + 1\n(Pdb) 41\n" % script in proc.stdout
    assert "got 42" in proc.stdout


def test_api_matches_pdb_in_process():
    """moth.Pdb given stdin/stdout, as code written for pdb.Pdb would: the same transcript."""
    import bdb
    import pdb

    import moth

    sys.path.insert(0, str(PROGRAMS))
    try:
        def transcript(cls):
            out = io.StringIO()
            debugger = cls(stdin=io.StringIO("step\nnext\np a + b\nreturn\ncontinue\n"),
                           stdout=out, nosigint=True, readrc=False)
            result = debugger.runcall(add, 2, 3)
            return out.getvalue(), result

        from debuggee_api import add
        assert transcript(moth.Pdb) == transcript(pdb.Pdb)
        assert issubclass(moth.Pdb, pdb.Pdb) and issubclass(moth.Pdb, bdb.Bdb)
        debugger = moth.Pdb(stdout=io.StringIO())
        debugger.set_break(str(PROGRAMS / "debuggee_api.py"), 2)
        assert any(b.line == 2 for b in bdb.Breakpoint.bplist.get(
            (str(PROGRAMS / "debuggee_api.py"), 2), []))
        debugger.clear_all_breaks()
    finally:
        sys.path.remove(str(PROGRAMS))
        sys.modules.pop("debuggee_api", None)


class _TerminalOut(io.StringIO):
    def isatty(self):
        return True


def test_listings_in_colour_are_pdbs_listings(tmp_path):
    """At a terminal list/longlist/source colour the source (a docstring's later lines as a
    string, from the file's start) and the markers; without the escapes, pdb's text."""
    import pdb

    import moth

    (tmp_path / "coloured.py").write_text(textwrap.dedent('''\
        def twice(x):
            """Doubles x;
            if it can."""
            y = x * 2  # the work
            return y
        '''))
    sys.path.insert(0, str(tmp_path))
    try:
        from coloured import twice

        def transcript(cls, out):
            debugger = cls(stdin=io.StringIO("step\nlist\nlonglist\nsource twice\ncontinue\n"),
                           stdout=out, nosigint=True, readrc=False)
            debugger.set_break(str(tmp_path / "coloured.py"), 4)
            debugger.runcall(twice, 2)
            debugger.clear_all_breaks()
            return out.getvalue()

        coloured = transcript(moth.Pdb, _TerminalOut())
        plain = transcript(pdb.Pdb, io.StringIO())
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("coloured", None)
    assert re.sub("\x1b\\[[0-9;]*m", "", coloured) == plain
    assert "\x1b[35mreturn\x1b[0m y" in coloured                   # a keyword
    assert "\t\x1b[33m    if it can.\"\"\"\x1b[0m" in coloured         # inside the docstring
    assert "\x1b[90m# the work\x1b[0m" in coloured                  # a comment
    assert "  4 \x1b[1;31mB\x1b[0m\t" in coloured                    # a breakpoint
    assert "  5  \x1b[1;32m->\x1b[0m\t" in coloured                  # the current line


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("\'\"#\\\n\r\t @.+-_0x1e2fbrRdef if classü")),
               max_size=60) | st.text(max_size=40))
def test_colouring_keeps_every_character(source):
    from moth._moth import highlight
    coloured = highlight(source)
    assert re.sub("\x1b\\[[0-9;]*m", "", coloured) == source
    # colour never runs across a line break
    assert all(not re.search("\x1b\\[[0-9;]*[1-9][0-9;]*m[^\x1b]*$", line)
               for line in coloured.split("\n"))


def test_pytest_pdbcls(tmp_path):
    test_file = tmp_path / "test_fails.py"
    test_file.write_text("def test_x():\n    x = 41\n    assert x + 1 == 43\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--pdb", "--pdbcls=moth:Pdb", str(test_file)],
                          input="p x + 1\ncontinue\n", capture_output=True, text=True,
                          timeout=120, env=moth_env(), cwd=tmp_path)
    assert "(Pdb) 42" in proc.stdout
    assert "1 failed" in proc.stdout


try:
    import pexpect
except ImportError:  # requirements-test.txt has it; without it only these tests are skipped
    pexpect = None
needs_pty = pytest.mark.skipif(pexpect is None, reason="pexpect is not installed")


def spawn(*args, env=None):
    child = spawn_on_terminal("debug", *args,
                              env=dict(env or {}, TERM="xterm", MOTH_HISTORY=os.devnull))
    child.expect(r"\(Pdb\)")
    return child


@needs_pty
def test_terminal_session_colour_and_completion():
    child = spawn(DEBUGGEE)
    child.sendline("break add")
    child.expect("Breakpoint 1 at")
    child.expect(r"\(Pdb\)")
    child.sendline("continue")
    child.expect(r"debuggee.py\(8\)add\(\)")
    assert "\x1b[" in child.before + child.after          # colour on a terminal
    child.expect(r"\(Pdb\)")
    child.send("whe\t")                                    # tab completes the command
    child.expect("where")
    child.sendline("")
    child.expect(r"loop\(\)")
    child.expect(r"\(Pdb\)")
    child.sendline("list")                                 # the source coloured
    child.expect(re.escape("\x1b[35mreturn\x1b[0m c"))
    child.expect(r"\(Pdb\)")
    child.send("p LIM\t")                                  # a name of the frame's globals
    child.expect("LIMIT")
    child.sendline("")
    child.expect("3")
    child.expect(r"\(Pdb\)")
    child.send("p sys.getrecursionl\t")                    # an attribute
    child.expect("sys.getrecursionlimit")
    child.sendline("()")
    child.expect(r"\d+")
    child.expect(r"\(Pdb\)")
    child.send("break %s\t" % str(DEBUGGEE)[:-2])          # a file: completed to file.py:
    child.expect(re.escape("debuggee.py:"))
    child.sendline("%d" % line_of("total = 0"))
    child.expect("Breakpoint 2 at .*debuggee.py:%d" % line_of("total = 0"))
    child.expect(r"\(Pdb\)")
    child.sendline("quit")
    child.expect(pexpect.EOF)


@needs_pty
def test_terminal_no_colour_with_no_color():
    child = spawn(DEBUGGEE, env={"NO_COLOR": "1"})
    assert "\x1b[" not in child.before
    child.sendline("quit")
    child.expect(pexpect.EOF)


@needs_pty
def test_ctrl_c_stops_the_running_program(program):
    script = program("forever.py", textwrap.dedent("""\
        import time
        n = 0
        while True:
            n += 1
            time.sleep(0.001)
        """))
    child = spawn(script)
    child.sendline("continue")
    import time
    time.sleep(1.0)
    child.send("\x03")   # the terminal's interrupt character
    child.expect("Program interrupted")
    child.expect(r"\(Pdb\)")
    child.sendline("p n > 0")
    child.expect("True")
    child.sendline("quit")
    child.expect(pexpect.EOF)


@pytest.mark.nosanitize
def test_no_growth_in_memory_over_repeated_sessions():
    """Arming and disarming the engine, stopping and stepping, leave nothing behind."""
    import moth

    sys.path.insert(0, str(PROGRAMS))
    try:
        from debuggee_api import add
        commands = "break %s:3\ncontinue\nnext\ncontinue\n" % (PROGRAMS / "debuggee_api.py")

        def one_session():
            debugger = moth.Pdb(stdin=io.StringIO(commands), stdout=io.StringIO(),
                                nosigint=True, readrc=False)
            assert debugger.runcall(add, 1, 2) == 3
            debugger.clear_all_breaks()

        for _ in range(300):
            one_session()
        growth = []
        for _ in range(3):
            gc.collect()  # a Pdb and its engine hold each other: freed by the collector
            before = sys.getallocatedblocks()
            for _ in range(200):
                one_session()
            gc.collect()
            growth.append(sys.getallocatedblocks() - before)
        assert min(growth) < 30, growth
    finally:
        sys.path.remove(str(PROGRAMS))
        sys.modules.pop("debuggee_api", None)
