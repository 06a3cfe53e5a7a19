"""moth.dap.DapPdb: the debugger under `moth dap` and moth.listen().

It is moth.Pdb (pdb's command layer on moth's C engine); the Debug Adapter Protocol session
is C (csrc/debugger/dap_*.c). Only what must be Python is here: pdb's own methods, overridden
to hand each stop to the session (which answers the client until it resumes the program)
instead of reading commands at a prompt.
"""
import io
import sys
import threading

from moth import _moth
from moth.debugger import Pdb

__all__ = ["DapPdb"]


class DapPdb(Pdb):
    """pdb.Pdb, stopping for a DAP client: same stops, steps, breakpoints and watches."""

    def __init__(self):
        super().__init__(stdin=io.StringIO(), stdout=io.StringIO(), nosigint=True,
                         readrc=False)

    # ---- a stop is the session's, not a prompt's ----

    def _cmdloop(self):
        _moth.dap_serve(self)

    def message(self, msg):
        _moth.dap_message(msg)

    def error(self, msg):
        _moth.dap_message("*** " + msg)

    # ---- DAP stops at lines: a call or a return being stepped goes on to the next line ----

    def user_call(self, frame, argument_list):
        if self._wait_for_mainpyfile:
            return
        if self.stopframe is not None and self.stop_here(frame):
            self.set_step()  # a pause, or `next` into a generator's frame

    def user_return(self, frame, return_value):
        if not self._wait_for_mainpyfile and self.stopframe is not None:
            self.set_step()  # into the caller

    def user_exception(self, frame, exc_info):
        _moth.dap_exception(frame, exc_info)  # only the "raised" filter stops at exceptions

    # ---- pause, justMyCode, hit conditions and log messages (decided in C) ----

    def stop_here(self, frame):
        return _moth.dap_stop_here(frame, super().stop_here(frame))

    def break_here(self, frame):
        return super().break_here(frame) and _moth.dap_breakpoint_hit(frame, self.currentbp)

    def _moth_more_targets(self):
        return _moth.dap_pause_frames()

    # ---- events and changes from the request thread, which is moth's, not the program's ----

    def _moth_event(self, frame, event, arg):
        if _moth.dap_thread() is None:
            super()._moth_event(frame, event, arg)

    def _moth_sync_breaks(self):
        if _moth.dap_thread() == "request":
            self._dap_rearm()
        else:
            super()._moth_sync_breaks()

    def _dap_rearm(self):
        """Tells the engine of breakpoints, watches or a pause asked while the program runs
        (a stopped or stepping thread does it itself when it resumes)."""
        if getattr(self, "botframe", None) is None or self._moth_stepping():
            return
        frame, self._moth_frame = self._moth_frame, None  # no thread of the program is here
        try:
            self._moth_retarget()
        finally:
            self._moth_frame = frame

    # ---- moth.listen() and attach by process id: a program that runs already ----

    _dap_detached = False

    def _dap_attach(self):
        self.reset()
        self._dap_detached = False
        frame = sys._current_frames().get(threading.main_thread().ident)
        while frame is not None and frame.f_back is not None:
            frame = frame.f_back
        self.botframe = frame
        self.stopframe, self.returnframe, self.stoplineno = frame, None, -1  # as `continue`

    def _dap_detach(self):
        """Takes everything of the debugger's out of the program, which runs on as before."""
        self._dap_detached = True
        self.clear_all_breaks()
        self._moth_watches.clear()
        self.set_continue()
        self._moth_stop()
        for frame in sys._current_frames().values():
            while frame is not None:
                if getattr(frame.f_trace, "__self__", None) is self:
                    frame.f_trace = None
                frame = frame.f_back

    def trace_dispatch(self, frame, event, arg):
        if self._dap_detached:  # a thread that was stepping: its trace function goes now
            sys.settrace(None)
            return None
        return super().trace_dispatch(frame, event, arg)
