"""moth debug -p: the debugger inside a running program moth attached to.

moth's agent (csrc/cpython/attach_agent.c) calls start() at the interpreter's pending-call
point in the main thread; the debugger's terminal is the channel to moth (_Terminal), never the
program's stdin or stdout. `detach` (and moth's end) takes every breakpoint, watch and trace
function out and lets the program run on as before; `quit` and the end of moth's input detach
too: only `kill` ends the program.
"""
import bdb
import os
import signal
import sys
import threading

from moth import _moth
from moth.debugger import Pdb

_session = None


class _Terminal:
    """moth's terminal, over the channel: what pdb writes, and the lines typed there."""

    encoding = "utf-8"
    errors = "replace"

    def __init__(self):
        self._line = ""  # what was written since the last newline: the prompt, held back

    def write(self, text):
        text = self._line + text
        cut = text.rfind("\n")
        if cut >= 0:
            _moth._attach_write(text[:cut + 1])
        self._line = text[cut + 1:]
        return len(text)

    def flush(self):
        pass

    def isatty(self):
        return False

    def readline(self):
        line = _moth._attach_read(self._line)
        self._line = ""
        return line


class AttachedPdb(Pdb):
    """moth.Pdb at moth's terminal, in a program that was not started by moth."""

    def __init__(self, colour):
        terminal = _Terminal()
        super().__init__(stdin=terminal, stdout=terminal, nosigint=True, readrc=False)
        self.use_rawinput = False
        self._moth_colour = bool(colour)
        self._moth_detached = False

    # pdb asks some questions with input(), which would use the program's stdin and stdout:
    # here they go to moth's terminal, or the command says it is not available.

    def do_clear(self, arg):
        if arg:
            return super().do_clear(arg)
        self.stdout.write("Clear all breaks? ")
        if self.stdin.readline().strip().lower() in ("y", "yes"):
            bplist = [bp for bp in bdb.Breakpoint.bpbynumber if bp]
            self.clear_all_breaks()
            for bp in bplist:
                self.message("Deleted %s" % bp)

    do_cl = do_clear

    def do_interact(self, arg):
        self.error("interact is not available in an attached session (it would use the "
                   "program's own stdin)")

    def do_debug(self, arg):
        self.error("debug is not available in an attached session")

    def do_detach(self, arg):
        """detach
        Take moth out of the program (breakpoints, watches, tracing) and let it run on as it
        was; moth exits."""
        self._moth_detach("moth: detached from process %d; it runs on" % os.getpid())
        return 1

    def do_quit(self, arg):
        """q(uit)
        Detach (as `detach`): the program runs on. `kill` ends it."""
        return self.do_detach(arg)

    do_q = do_exit = do_quit

    def do_EOF(self, arg):
        """EOF
        The end of moth's input: detach."""
        self.message("")
        return self.do_detach(arg)

    def do_kill(self, arg):
        """kill
        End the program, as SIGTERM would (after detaching)."""
        self._moth_detach("moth: process %d ended by `kill`" % os.getpid())
        os.kill(os.getpid(), signal.SIGTERM)
        return 1

    def _moth_detach(self, message=""):
        global _session
        if self._moth_detached:
            return
        self._moth_detached = True
        self.clear_all_breaks()
        self._moth_stop()
        self.set_continue()
        self.stopframe = self.returnframe = None
        self.botframe = None
        sys.settrace(None)
        for frame in sys._current_frames().values():
            while frame is not None:
                frame.f_trace = None
                frame = frame.f_back
        _session = None
        _moth._attach_end(message)


def _skip_lent(frame):
    """The program's frame below importlib's _verbose_message when moth lent it as a signal
    handler to wake a blocked main thread (remote/attach.h): it is moth's, not the program's."""
    if frame is not None and frame.f_code.co_name == "_verbose_message" and \
            frame.f_code.co_filename == "<frozen importlib._bootstrap>":
        return frame.f_back
    return frame


def _program_frame():
    """The frame the program stands in below moth's bootstrap (the bootstrap's exec'd text,
    then PyRun_SimpleString's module, then the program)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__") != "__moth_attach__":
        frame = frame.f_back
    if frame is not None:
        frame = frame.f_back  # PyRun_SimpleString's module frame
    return _skip_lent(frame.f_back if frame is not None else None)


def _stop_here(session, frame):
    """Stops the program at the line `frame` is on, now: the prompt, then pdb's tracing as
    the command asks (the main thread is at the interpreter's pending-call point, where
    running Python is safe; a call it was blocked in goes on when the prompt is left)."""
    session._moth_frame = frame
    bdb.Bdb.set_trace(session, frame)
    sys.settrace(None)  # not in moth's own calls below: the command at the prompt decides
    session.interaction(frame, None)


def start(colour, thread_id):
    """Called by the agent in the main thread: stop the program at its next line."""
    global _session
    _session = AttachedPdb(colour)
    frame = _program_frame()
    if thread_id:
        frames = sys._current_frames()
        ident = next((t.ident for t in threading.enumerate()
                      if t.native_id == thread_id or t.ident == thread_id), None)
        if ident is None or ident not in frames:
            _session._moth_detach("moth: process %d has no thread %d running Python"
                                  % (os.getpid(), thread_id))
            return
        frame = frames[ident]
        _session.message("moth: attached to process %d; thread %d stops at its next line"
                         % (os.getpid(), thread_id))
        # the engine follows that frame in its own thread: `next` there
        _session._moth_frame = frame
        _session.reset()
        _session.botframe = None
        _session._set_stopinfo(frame, None)
        return
    _session.message("moth: attached to process %d (Python %s); `detach` leaves it running"
                     % (os.getpid(), sys.version.split()[0]))
    _stop_here(_session, frame)


def interrupt():
    """moth's Ctrl-C, run at the pending-call point of the main thread: stop where it is."""
    session = _session
    if session is None:
        return
    frame = _skip_lent(sys._getframe(1))
    session.message("\nProgram interrupted. (Use 'cont' to resume).")
    _stop_here(session, frame)


def complete(request):
    """moth's tab at the prompt: "BEGIDX ENDIDX LINE" (readline's buffer and the word's place
    in it, at moth's terminal) -> pdb's completions there, as cmd.Cmd.complete finds them: a
    command's name first, then what that command completes (names in the program's frame for
    expressions)."""
    session = _session
    if session is None:
        return []
    begidx, endidx, line = request.split(" ", 2)
    begidx, endidx = int(begidx), int(endidx)
    text = line[begidx:endidx]
    stripped = len(line) - len(line.lstrip())
    begidx, endidx, line = begidx - stripped, endidx - stripped, line.lstrip()
    if begidx > 0:
        command = session.parseline(line)[0]
        complete = session.completedefault if not command else \
            getattr(session, "complete_" + command, session.completedefault)
    else:
        complete = session.completenames
    try:
        return [str(match) for match in complete(text, line, begidx, endidx) or ()]
    except Exception:
        return []


def detach():
    """moth has gone (its terminal closed, moth killed): take everything out."""
    session = _session
    if session is not None:
        session._moth_detach()
