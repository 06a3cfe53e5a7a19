"""3.11's breakpoints without a hook (csrc/debugger/engine_probes.c) where the probes cannot be
placed: the object walk fails, an audit hook of the program's refuses moth's hook or a new
__code__, the rewriter refuses a code object. Each falls back to the frame hook and stops
exactly where pdb stops, saying nothing else; on 3.12+ (sys.monitoring) the same sessions are
pdb's too. And a probed function called from the prompt runs through, as in pdb."""
import subprocess
import sys
import textwrap

import pytest

from conftest import moth_env
from test_debug import line_of, moth_session, pdb_session

# Whether the frame-evaluation hook carries the breakpoints after the fallback.
HOOKED = "hooked %s\n" % (sys.version_info < (3, 12))


@pytest.mark.parametrize("stub", ["None", "lambda *args: ()"])
def test_object_walk_failing_falls_back_to_the_frame_hook(program, stub):
    """gc.get_objects replaced by the program (not callable, or not giving a list): breakpoints
    set later still stop, through the frame hook."""
    script = program("no_walk.py", textwrap.dedent("""\
        import gc
        from moth._moth import Engine

        def ready():
            return 1

        def work(n):
            m = n + 1
            return m * 2

        gc.get_objects = %s
        ready()
        print("work", work(3))
        print("hooked", Engine.frame_eval_hooked())
        """ % stub))
    source = script.read_text().splitlines()
    commands = ["break ready", "continue", "break %d" % line_of("m = n + 1", source),
                "continue", "p n", "next", "p m", "continue", "quit"]
    moth = moth_session(commands, script)
    pdb = pdb_session(commands, script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb.replace("hooked False\n", HOOKED)
    assert "(Pdb) 3\n" in moth.stdout and "(Pdb) 4\n" in moth.stdout and HOOKED in moth.stdout
    assert "work 8\n" in moth.stdout


# An audit hook of the program's, added before moth starts, refusing new hooks (CPython
# swallows a RuntimeError and adds nothing; another exception is an error): the frame hook
# carries the breakpoints. Refusing the event moth checks its hook with changes nothing (C hooks
# hear it first): the probes carry them.
REFUSALS = {
    "new hooks, RuntimeError": ('event == "sys.addaudithook"', "RuntimeError", HOOKED),
    "new hooks, ValueError": ('event == "sys.addaudithook"', "ValueError", HOOKED),
    "moth's event": ('event.startswith("moth.")', "RuntimeError", "hooked False\n"),
}


@pytest.mark.parametrize("refusal", sorted(REFUSALS))
def test_audit_hook_refusing_moths(program, refusal):
    """Such a program (moth starts at set_trace): a breakpoint in a module imported later still
    stops there."""
    condition, exception, hooked = REFUSALS[refusal]
    lazy = program("lazy_mod.py", "def f(a):\n    b = a * 3\n    return b\n")
    script = program("refuses.py", textwrap.dedent("""\
        import sys
        from moth._moth import Engine

        def refuse(event, args):
            if %s:
                raise %s("refused")

        sys.addaudithook(refuse)
        breakpoint()
        import lazy_mod
        print("f", lazy_mod.f(5))
        print("hooked", Engine.frame_eval_hooked())
        """ % (condition, exception)))
    # 3.13's pdb stops at the breakpoint() line itself, earlier ones at the line after it
    first = ["next"] if sys.version_info >= (3, 13) else []
    commands = first + ["break %s:2" % lazy, "continue", "p a", "next", "p b", "continue"]

    def run(breakpoint_hook):
        return subprocess.run([sys.executable, str(script)], input="\n".join(commands) + "\n",
                              capture_output=True, text=True, timeout=60,
                              env=moth_env({"PYTHONBREAKPOINT": breakpoint_hook}))
    moth, pdb = run("moth.set_trace"), run("pdb.set_trace")
    assert moth.returncode == 0 and moth.stderr == "", moth.stderr
    assert moth.stdout == pdb.stdout.replace("hooked False\n", hooked)
    assert "lazy_mod.py(2)f()\n-> b = a * 3\n(Pdb) 5\n" in moth.stdout, moth.stdout
    assert "(Pdb) 15\n" in moth.stdout and "f 15\n" in moth.stdout and hooked in moth.stdout


def test_code_the_rewriter_refuses_falls_back_to_the_frame_hook(program):
    """A function whose code has one more instruction past its last return, never run, that its
    line table does not cover (the rewriter refuses to make it a twin): a breakpoint in it
    stops, through the frame hook."""
    script = program("odd_code.py", textwrap.dedent("""\
        import dis
        from moth._moth import Engine

        def ready():
            return 1

        def work(n):
            m = n + 1
            return m * 2

        code = work.__code__
        work.__code__ = code.replace(co_code=code.co_code + bytes([dis.opmap["NOP"], 0]))
        ready()
        print("work", work(3))
        print("hooked", Engine.frame_eval_hooked())
        """))
    source = script.read_text().splitlines()
    commands = ["break ready", "continue", "break %d" % line_of("m = n + 1", source),
                "continue", "p n", "next", "p m", "continue", "quit"]
    moth = moth_session(commands, script)
    pdb = pdb_session(commands, script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb.replace("hooked False\n", HOOKED)
    assert "odd_code.py(8)work()\n-> m = n + 1\n(Pdb) 3\n" in moth.stdout, moth.stdout
    assert "(Pdb) 4\n" in moth.stdout and "work 8\n" in moth.stdout and HOOKED in moth.stdout


def test_new_code_refused_by_an_audit_hook_falls_back_to_the_frame_hook(program):
    """An audit hook of the program's that refuses setting a function's __code__: the function
    cannot be given its twin; a breakpoint in it still stops, through the frame hook."""
    script = program("no_new_code.py", textwrap.dedent("""\
        import sys
        from moth._moth import Engine

        def work(n):
            m = n + 1
            return m * 2

        def refuse(event, args):
            if event == "object.__setattr__" and args[1] == "__code__":
                raise RuntimeError("code is fixed here")

        sys.addaudithook(refuse)
        breakpoint()
        print("work", work(3))
        print("hooked", Engine.frame_eval_hooked())
        """))
    source = script.read_text().splitlines()
    first = ["next"] if sys.version_info >= (3, 13) else []
    commands = first + ["break %d" % line_of("m = n + 1", source), "continue", "p n", "next",
                        "p m", "continue"]

    def run(breakpoint_hook):
        return subprocess.run([sys.executable, str(script)], input="\n".join(commands) + "\n",
                              capture_output=True, text=True, timeout=60,
                              env=moth_env({"PYTHONBREAKPOINT": breakpoint_hook}))
    moth, pdb = run("moth.set_trace"), run("pdb.set_trace")
    assert moth.returncode == 0 and moth.stderr == "", moth.stderr
    assert moth.stdout == pdb.stdout.replace("hooked False\n", HOOKED)
    assert "no_new_code.py(5)work()\n-> m = n + 1\n(Pdb) 3\n" in moth.stdout, moth.stdout
    assert "(Pdb) 4\n" in moth.stdout and "work 8\n" in moth.stdout and HOOKED in moth.stdout


def test_a_probed_function_called_from_the_prompt_runs_through(program):
    """At a stop, an expression calling a function with a breakpoint runs it without stopping
    (pdb's tracing is suspended while it runs a command); the program then stops there."""
    script = program("called_at_prompt.py", textwrap.dedent("""\
        def work(n):
            m = n + 1
            return m * 2

        def ready():
            return 1

        ready()
        print("work", work(3))
        """))
    commands = ["break 2", "break ready", "continue", "p work(10)", "continue", "p n",
                "continue", "quit"]
    moth = moth_session(commands, script)
    assert moth.returncode == 0, moth.stderr
    assert moth.stdout == pdb_session(commands, script)
    assert "(Pdb) 22\n" in moth.stdout and "called_at_prompt.py(2)work()" in moth.stdout
