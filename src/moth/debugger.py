"""moth.Pdb: pdb's commands and API on moth's C engine.

The command layer is the standard library's own pdb, so every command, message and format is
pdb's. What changes is beneath it. pdb traces the whole program (a Python trace function on
every call, and on every line of files with breakpoints); moth.Pdb hands "where can the
program stop?" to moth._moth.Engine (csrc/debugger), which traces only the code holding a
breakpoint and the frames `next`, `until`, `return` or a watch follow, so a breakpoint that is
not reached costs nothing. Only while pdb steps everywhere (`step`, `stepi`) does Python's
trace function run, for the stepping thread, exactly as in pdb.

Beyond pdb: `watch`/`unwatch`/`info watch`, `stepi`/`nexti`, `disassemble`, `display/i`,
`threads`, and breakpoints that stop in any thread.
"""
import atexit
import bdb
import copy
import dis
import linecache
import os
import pdb
import sys
import threading

from moth._moth import Engine, async_raise, highlight, wants_colour

__all__ = ["Pdb", "run", "runeval", "runcall", "set_trace", "post_mortem", "pm"]

_BDB_HAS_OPCODES = hasattr(bdb.Bdb, "dispatch_opcode")  # 3.13+
_BDB_TRACES_CALLERS = hasattr(bdb.Bdb, "_set_caller_tracefunc")  # 3.13+
# 3.12+ give a line event to the sys.monitoring tools in turn: when pdb switches between
# Python's trace function and the engine while stopped at a line, the one switched on gets
# that same line event once more, which must not stop pdb a second time.
_LINE_EVENT_REPEATS = sys.version_info >= (3, 12)
_GENERATOR_FLAGS = bdb.GENERATOR_AND_COROUTINE_FLAGS


def _quiet_bdbquit_in_threads():
    """threading.excepthook, but silent about the BdbQuit that ends a thread the debugger quit
    from (once installed, it stays: it changes nothing else)."""
    previous = threading.excepthook
    if getattr(previous, "_moth_quiet_bdbquit", False):
        return

    def excepthook(args):
        if not issubclass(args.exc_type, bdb.BdbQuit):
            previous(args)
    excepthook._moth_quiet_bdbquit = True
    threading.excepthook = excepthook


class _NoValue:
    """A watched expression that cannot be evaluated now (a name not yet bound...)."""

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, _NoValue) and other.text == self.text

    def __repr__(self):
        return self.text


class _Watch:
    """A watched expression: its frame, its last value and the last line run in that frame."""

    def __init__(self, number, expression, code, frame):
        self.number = number
        self.expression = expression
        self.code = code
        self.frame = frame
        self.value = None
        self.line = frame.f_lineno


class Pdb(pdb.Pdb):
    """pdb.Pdb with moth's engine beneath: same constructor, commands and output."""

    _moth_engine = None
    _moth_frame = None  # where the program stands: the frame of the last event
    _moth_insn = None  # ("step" | "next", frame, lasti not yet run) while stepping one
    # instruction
    _moth_show_insn = False  # display/i
    _moth_insn_stop = False  # the stop came from stepi/nexti: show the instruction
    _moth_at_stop = False
    _moth_repeat = None  # (frame, f_lasti): a line event 3.12+ may give twice
    _moth_opcode_frames = ()
    _moth_lock = threading.RLock()  # one thread at the prompt at a time
    _moth_waiting = {}  # thread ident -> the frame a thread waiting for the prompt stopped in

    _moth_history_loaded = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._moth_watches = []
        self._moth_watch_count = 0
        self._moth_changers = {}  # frame -> line: frames rebinding a watched module-level name
        self._moth_watched_globals = None  # what the engine was last asked to watch
        self._moth_prompting = None  # the thread at the prompt
        self._moth_resumers = []  # frames that resumed the generator pdb waits in
        self._moth_engine = Engine(self._moth_event, self.canonic)
        self._moth_colour = wants_colour(self.stdout)
        if self._moth_colour and self.use_rawinput and self.prompt == "(Pdb) ":
            self.prompt = "\x01\x1b[1;34m\x02(Pdb)\x01\x1b[0m\x02 "  # \x01..\x02: no width
        if self.use_rawinput and wants_colour(self.stdin):
            self._moth_keep_history()

    # ---- a person at the terminal ----

    @classmethod
    def _moth_keep_history(cls):
        """readline history kept across sessions in ~/.moth_history (MOTH_HISTORY)."""
        if Pdb._moth_history_loaded:
            return
        Pdb._moth_history_loaded = True
        try:
            import readline
        except ImportError:
            return
        path = os.environ.get("MOTH_HISTORY") or os.path.expanduser("~/.moth_history")
        try:
            readline.read_history_file(path)
        except OSError:
            pass
        readline.set_history_length(1000)

        def save():
            try:
                readline.write_history_file(path)
            except OSError:
                pass
        atexit.register(save)

    def print_stack_entry(self, frame_lineno, prompt_prefix=pdb.line_prefix):
        if not self._moth_colour:
            super().print_stack_entry(frame_lineno, prompt_prefix)
        else:  # where in bold, the arrow in green, the line's source coloured
            frame = frame_lineno[0]
            text = self.format_stack_entry(frame_lineno, prompt_prefix)
            where, sep, source = text.partition(prompt_prefix)
            self.message("\x1b[1m%s%s\x1b[0m%s" % (
                "> " if frame is self.curframe else "  ", where,
                sep.replace("->", "\x1b[1;32m->\x1b[0m") + highlight(source)))
        if self._moth_at_stop and (self._moth_show_insn or self._moth_insn_stop):
            self.message(self._moth_instruction(frame_lineno[0]))
        self._moth_at_stop = self._moth_insn_stop = False

    def _print_lines(self, lines, start, breaks=(), frame=None):
        """pdb's listing (list, longlist, source); at a terminal with the source coloured, the
        current line's arrow in green and breakpoints in red."""
        if not self._moth_colour:
            return super()._print_lines(lines, start, breaks, frame)
        current = exc = -1
        if frame:
            current, exc = frame.f_lineno, self.tb_lineno.get(frame, -1)
        for lineno, line in enumerate(self._moth_highlighted(lines, start, frame), start):
            mark = "\x1b[1;31mB\x1b[0m" if lineno in breaks else " "
            if lineno == current:
                mark += "\x1b[1;32m->\x1b[0m"
            elif lineno == exc:
                mark += "\x1b[1;31m>>\x1b[0m"
            self.message(str(lineno).rjust(3).ljust(4) + mark + "\t" + line)

    @staticmethod
    def _moth_highlighted(lines, start, frame):
        """lines coloured; a listing of the frame's file is coloured from the file's first
        line, so that a string opened above the listing is known to be one."""
        skip, text = 0, lines
        if frame is not None:
            whole = linecache.getlines(frame.f_code.co_filename, frame.f_globals)
            if whole[start - 1:start - 1 + len(lines)] == lines:
                skip, text = start - 1, whole[:start - 1 + len(lines)]
        coloured = highlight("".join(line.rstrip() + "\n" for line in text)).split("\n")
        return coloured[skip:skip + len(lines)]

    # ---- where tracing happens ----

    def _set_stopinfo(self, stopframe, returnframe, stoplineno=0, *rest, **options):
        self._moth_resumers = []
        super()._set_stopinfo(stopframe, returnframe, stoplineno, *rest, **options)
        self._moth_retarget()

    def _moth_stepping(self):
        """Whether pdb may stop anywhere now (step, stepi): Python's trace function's work."""
        return self._moth_insn is not None or self.stopframe is None

    def _moth_retarget(self):
        """Tells the engine what pdb waits for now; Python's tracing only while stepping."""
        engine = self._moth_engine
        if engine is None:
            return
        if self.quitting:
            self._moth_stop()
            return
        stepping = self._moth_stepping()
        self._moth_sync_global_watches()
        targets = [w.frame for w in self._moth_watches] + list(self._moth_changers)
        targets += self._moth_more_targets()
        if not stepping:
            # (bdb.run's own frame, below the program, is not traced before 3.13's bdb gives
            # a returning frame's caller a trace function: pdb does not stop there)
            if self.stoplineno != -1 and not (self.stopframe is self.botframe and
                                              self.botframe.f_trace is None and
                                              not _BDB_TRACES_CALLERS):
                targets.append(self.stopframe)
            elif self._moth_waits_in_generator():
                targets.append(self.stopframe)  # (`return`: to see it yield or return)
            if self.returnframe is not None:
                targets.append(self.returnframe)
            targets += self._moth_resumers
        targets = tuple(dict.fromkeys(targets))
        was_stepping = engine.stepping
        if stepping:
            engine.configure(self.breaks, targets, True, None)
            if self.botframe is not None:  # else reset(): run() or set_trace() will trace
                self._moth_trace_stack()
                sys.settrace(self.trace_dispatch)
                for f in self._moth_opcode_frames:  # 3.13 takes them only while tracing
                    f.f_trace_opcodes = False  # (and only as a change)
                    f.f_trace_opcodes = True
        else:
            sys.settrace(None)
            engine.configure(self.breaks, targets, False, self._moth_frame,
                             generator_exits=self._moth_waits_in_generator())
        frame = self._moth_frame
        if _LINE_EVENT_REPEATS and was_stepping != stepping and frame is not None:
            self._moth_repeat = (frame, frame.f_lasti)

    def _moth_more_targets(self):
        """Frames a subclass wants the engine to follow too (moth dap: threads to pause)."""
        return ()

    def _moth_waits_in_generator(self):
        """Whether pdb waits in a generator or coroutine frame (next, until or return there):
        then it also stops at a StopIteration or GeneratorExit in any frame it traces (bdb's
        dispatch_exception), such as the frame the generator returns to."""
        frame = self.stopframe
        return frame is not None and bool(frame.f_code.co_flags & _GENERATOR_FLAGS)

    def _moth_trace_stack(self):
        """Python's tracing for the frames the program stands in (as bdb.set_trace does)."""
        frame = self._moth_frame
        while frame is not None and frame is not self.botframe:
            frame.f_trace = self.trace_dispatch
            frame = frame.f_back

    def _moth_stop(self):
        if self._moth_engine is not None:
            self._moth_engine.stop()  # (its dictionary watches too)
        self._moth_watches.clear()
        self._moth_changers.clear()
        self._moth_watched_globals = None
        self._moth_insn = None
        self._moth_opcodes_off()

    def _moth_sync_breaks(self):
        if self._moth_engine is not None and self._moth_engine.armed:
            self._moth_retarget()

    def set_break(self, *args, **kwargs):
        result = super().set_break(*args, **kwargs)
        self._moth_sync_breaks()
        return result

    def clear_break(self, *args, **kwargs):
        result = super().clear_break(*args, **kwargs)
        self._moth_sync_breaks()
        return result

    def clear_bpbynumber(self, arg):
        result = super().clear_bpbynumber(arg)
        self._moth_sync_breaks()
        return result

    def clear_all_file_breaks(self, filename):
        result = super().clear_all_file_breaks(filename)
        self._moth_sync_breaks()
        return result

    def clear_all_breaks(self):
        result = super().clear_all_breaks()
        self._moth_sync_breaks()
        return result

    def set_continue(self):
        self._set_stopinfo(self.botframe, None, -1)
        for frame, (lines, opcodes) in getattr(self, "frame_trace_lines_opcodes", {}).items():
            frame.f_trace_lines, frame.f_trace_opcodes = lines, opcodes  # 3.13's bdb
        if hasattr(self, "frame_trace_lines_opcodes"):
            self.frame_trace_lines_opcodes = {}

    def sigint_handler(self, signum, frame):
        """Ctrl-C while the program runs: stop at the line it is on (as pdb). Tracing starts
        in set_trace, and nothing of moth's is called after it, so nothing of moth's stops."""
        if self.allow_kbdint:
            raise KeyboardInterrupt
        self.message("\nProgram interrupted. (Use 'cont' to resume).")
        self._moth_frame = frame
        bdb.Bdb.set_trace(self, frame)

    def set_quit(self):
        super().set_quit()
        self._moth_stop()
        if threading.current_thread() is not threading.main_thread():
            # pdb's quit aborts the program: the stopped thread ends (quietly) with BdbQuit as
            # it resumes, and the main thread gets it as soon as it runs Python code again
            _quiet_bdbquit_in_threads()
            async_raise(threading.main_thread().ident, bdb.BdbQuit)

    def set_trace(self, frame=None):
        if frame is None:
            frame = sys._getframe().f_back
        self._moth_frame = frame
        super().set_trace(frame)

    def run(self, cmd, globals=None, locals=None):
        try:
            return super().run(cmd, globals, locals)
        finally:
            self._moth_stop()

    def runeval(self, expr, globals=None, locals=None):
        try:
            return super().runeval(expr, globals, locals)
        finally:
            self._moth_stop()

    def runcall(self, func, /, *args, **kwds):
        try:
            return super().runcall(func, *args, **kwds)
        finally:
            self._moth_stop()

    def _moth_run_program(self, code, globals, filename):
        """What `moth debug` runs: the program's code in its fresh __main__ (runner.c)."""
        self._wait_for_mainpyfile = True
        self._user_requested_quit = False
        self.mainpyfile = self.canonic(filename)
        self.run(code, globals, globals)

    # ---- events ----

    def _moth_event(self, frame, event, arg):
        """The engine's callback: an event pdb may stop at, dispatched as a trace function's."""
        frame.f_trace = self.trace_dispatch  # `jump` sets f_lineno, only for a traced frame
        self.trace_dispatch(frame, event, arg)
        if event == "return" and frame is self.stopframe and not self._moth_stepping() and \
                self._moth_waits_in_generator():
            # It yields or returns to the frame that resumed it. If pdb traces that frame, the
            # engine follows it too (a frame of code in a file holding a breakpoint it already
            # watches for these exceptions).
            caller = frame.f_back
            if caller is not None and caller.f_trace is not None and \
                    all(f is not caller for f in self._moth_resumers):
                self._moth_resumers.append(caller)
                self._moth_retarget()

    def _moth_is_repeat(self, frame, event):
        """Whether this is the line event pdb stopped at, given again (_LINE_EVENT_REPEATS)."""
        repeat, self._moth_repeat = self._moth_repeat, None
        return repeat is not None and event == "line" and repeat == (frame, frame.f_lasti)

    def trace_dispatch(self, frame, event, arg):
        if self._moth_is_repeat(frame, event):
            return self.trace_dispatch
        self._moth_frame = frame
        if self._moth_insn is not None:
            result = self._moth_instruction_event(frame, event)
            if result is not NotImplemented:
                return result
        if event == "opcode" and not _BDB_HAS_OPCODES:
            return self.trace_dispatch
        if self._moth_watches and event in ("line", "return") and \
                self._moth_check_watches(frame, event):
            return self.trace_dispatch
        return super().trace_dispatch(frame, event, arg)

    def interaction(self, frame, traceback):
        if self._moth_insn is not None:  # a breakpoint or watch stopped an instruction step
            self._moth_insn = None
            self._moth_opcodes_off()
        thread = threading.current_thread()
        stopped_in = frame
        below = getattr(traceback, "__traceback__", traceback)  # (3.13: or the exception)
        if stopped_in is None and below is not None:  # post-mortem: the frame that raised
            while below.tb_next is not None:
                below = below.tb_next
            stopped_in = below.tb_frame
        Pdb._moth_waiting[thread.ident] = stopped_in  # (for `threads` while it waits)
        try:
            with self._moth_lock:
                Pdb._moth_waiting.pop(thread.ident, None)
                if thread is not threading.main_thread():
                    self.message("[thread %s: %s]" % (thread.ident, thread.name))
                self._moth_prompting = thread
                try:
                    super().interaction(frame, traceback)
                finally:
                    self._moth_prompting = None
        finally:
            Pdb._moth_waiting.pop(thread.ident, None)

    def setup(self, f, tb):
        self._moth_at_stop = True  # the next stack entry printed is the stop's
        return super().setup(f, tb)

    def precmd(self, line):
        # "display/i" is one word to pdb's parser (and a division to 3.13's)
        stripped = line.lstrip()
        for command in ("display/i", "undisplay/i"):
            if stripped.startswith(command):
                line = command[:-2] + " /i" + stripped[len(command):]
        return super().precmd(line)

    # ---- watches ----

    @staticmethod
    def _moth_snapshot(value):
        try:
            return copy.deepcopy(value)
        except Exception:
            return value

    @staticmethod
    def _moth_same(old, new):
        if old is new:
            return True
        try:
            return bool(old == new)
        except Exception:
            return False

    def _moth_watch_value(self, watch, locals=None):
        frame = watch.frame
        try:
            value = eval(watch.code, frame.f_globals,
                         frame.f_locals if locals is None else locals)
        except NameError:
            return _NoValue("<undefined>")
        except Exception as e:
            return _NoValue("<%s>" % self._format_exc(e))
        return self._moth_snapshot(value)

    def _moth_check_watches(self, frame, event):
        """After each line of a watch's frame, and after the line of another frame that
        rebound a module-level name a watch reads (3.12+): stop if a value changed. True
        when stopped."""
        changed = []
        changer_line = self._moth_changers.pop(frame, None)
        for w in self._moth_watches:
            if w.frame is frame:
                line, w.line = w.line, frame.f_lineno
            elif changer_line is not None and self._moth_is_module_watch(w) and \
                    w.frame.f_globals is frame.f_globals:
                line = changer_line
            else:
                continue
            new = self._moth_watch_value(w)
            if not self._moth_same(w.value, new):
                changed.append((w, w.value, new, line))
                w.value = new
        ended = []
        if event == "return":
            ended = [w for w in self._moth_watches if w.frame is frame]
            self._moth_watches = [w for w in self._moth_watches if w.frame is not frame]
        for w, old, new, line in changed:
            self.message("\nWatchpoint %d: %s\n\nOld value = %s\nNew value = %s" % (
                w.number, w.expression, self._safe_repr(old, w.expression),
                self._safe_repr(new, w.expression)))
            source = self._moth_source_line(frame, line)
            self.message("Changed by line %d: %s" % (line, source))
        for w in ended:
            self.message("\nWatchpoint %d deleted because the program has left the block in\n"
                         "which its expression is valid." % w.number)
        if changed:
            self.interaction(frame, None)
            if self.quitting:
                raise bdb.BdbQuit
        if ended or (changer_line is not None and not changed):
            self._moth_retarget()  # (after a stop, resuming retargets)
        return bool(changed)

    @staticmethod
    def _moth_is_module_watch(watch):
        return watch.frame.f_locals is watch.frame.f_globals

    def _moth_sync_global_watches(self):
        """Has the engine watch the module globals that module-level watches read (3.12+)."""
        names = {}
        for w in self._moth_watches:
            if self._moth_is_module_watch(w):
                names.setdefault(id(w.frame.f_globals), (w.frame.f_globals, set()))[1].update(
                    w.code.co_names)
        wanted = tuple((d, frozenset(n)) for d, n in names.values())
        key = tuple((id(d), n) for d, n in wanted)
        if key != self._moth_watched_globals:
            self._moth_watched_globals = key
            self._moth_engine.watch_globals(wanted, self._moth_global_changed)
        if not wanted:
            self._moth_changers.clear()

    def _moth_global_changed(self, frame):
        """The engine, before `frame` rebinds a name a module-level watch reads: follow that
        frame to the end of its line, then compare (_moth_check_watches)."""
        if any(w.frame is frame for w in self._moth_watches) or frame in self._moth_changers:
            return  # a watch's own frame is compared after each of its lines anyway
        if self._moth_prompting is threading.current_thread():
            return  # a command typed at the prompt (`!total = 0`)
        self._moth_changers[frame] = frame.f_lineno
        # At the prompt, resuming retargets; while stepping, Python's trace function sees
        # every line of the stepping thread (and retargeting from this thread would move it)
        if self._moth_prompting is None and not self._moth_stepping():
            self._moth_retarget()

    @staticmethod
    def _moth_source_line(frame, line):
        return linecache.getline(frame.f_code.co_filename, line, frame.f_globals).strip()

    def do_watch(self, arg):
        """watch expression
        Stop right after a line of the current frame changes the value of
        the expression, printing the old and new values and the line that
        changed them. The watch ends when its frame returns."""
        if not arg:
            self.error("watch needs an expression")
            return
        try:
            code = compile(arg, "<watch>", "eval")
        except SyntaxError as e:
            self.error("cannot watch %s: %s" % (arg, self._format_exc(e)))
            return
        self._moth_watch_count += 1
        w = _Watch(self._moth_watch_count, arg, code, self.curframe)
        w.value = self._moth_watch_value(w, self.curframe_locals)
        self._moth_watches.append(w)
        self.message("Watchpoint %d: %s = %s" % (w.number, arg, self._safe_repr(w.value, arg)))

    def do_unwatch(self, arg):
        """unwatch [number ...]
        Delete the watches with the numbers given, or every watch."""
        if not arg:
            self._moth_watches.clear()
            return
        for word in arg.split():
            try:
                number = int(word)
            except ValueError:
                self.error("Non-numeric watch number %s" % word)
                continue
            kept = [w for w in self._moth_watches if w.number != number]
            if len(kept) == len(self._moth_watches):
                self.error("No watch number %d" % number)
            else:
                self.message("Deleted watchpoint %d" % number)
            self._moth_watches = kept

    def do_info(self, arg):
        """info watch | info break
        List the watches (number, frame, expression, value), or the
        breakpoints (as "break" with no argument)."""
        what = arg.strip()
        if what in ("watch", "watches", "watchpoints"):
            if not self._moth_watches:
                self.message("No watchpoints.")
                return
            self.message("Num Type       Where                          What")
            for w in self._moth_watches:
                where = "%s() at line %d" % (w.frame.f_code.co_name, w.frame.f_lineno)
                self.message("%-3d watchpoint %-30s %s = %s" % (
                    w.number, where, w.expression, self._safe_repr(w.value, w.expression)))
        elif what in ("break", "breakpoints", "b"):
            self.do_break("")
        else:
            self.error("info watch | info break")

    # ---- instructions ----

    @staticmethod
    def _moth_position(frame):
        """(code, f_lasti, at_probe) in the program's own code: on 3.11 a function holding a
        breakpoint runs a twin with probes (csrc/debugger/engine_probes.c), shown as the
        original it was made from."""
        return Engine.position(frame)

    def _moth_instruction(self, frame):
        """The instruction frame is about to execute, as dis shows it."""
        code, lasti, _ = self._moth_position(frame)
        for ins in dis.get_instructions(code):
            if ins.offset == lasti:
                return "--> %6d %-24s %s" % (ins.offset, ins.opname, ins.argrepr)
        return "--> %6d (no instruction here)" % lasti

    def _moth_opcodes_on(self, frames):
        self._moth_opcode_frames = tuple(frames)
        for f in self._moth_opcode_frames:
            f.f_trace_opcodes = True

    def _moth_opcodes_off(self):
        for f in self._moth_opcode_frames:
            f.f_trace_opcodes = False
        self._moth_opcode_frames = ()

    def _moth_step_instruction(self, mode):
        frame = self.stack[-1][0] if self.stack else self.curframe
        # that instruction has not run yet (offsets in the program's own code: _moth_position)
        self._moth_insn = (mode, frame, self._moth_position(frame)[1])
        frames = []
        f = frame
        while f is not None and f is not self.botframe:
            frames.append(f)
            f = f.f_back
        self._moth_opcodes_on(frames if mode == "step" else frames[:1])
        self._moth_frame = frame
        self._set_stopinfo(self.botframe, None, -1)  # lines do not stop; the next opcode does

    def _moth_instruction_event(self, frame, event):
        mode, home, not_run = self._moth_insn
        if event == "call":
            if mode == "step":
                frame.f_trace = self.trace_dispatch  # (3.13 takes opcodes only with it set)
                frame.f_trace_opcodes = True
                self._moth_opcode_frames += (frame,)
                return self.trace_dispatch
            return NotImplemented
        if event == "opcode":
            _, lasti, at_probe = self._moth_position(frame)
            if at_probe:
                return self.trace_dispatch  # a probe's instruction (3.11): not the program's
            if frame is home and lasti == not_run:
                self._moth_insn = (mode, home, None)  # its own event, after a line event
                return self.trace_dispatch
            if mode == "step" or frame is home:
                self._moth_insn = None
                self._moth_opcodes_off()
                self._moth_insn_stop = True
                self._moth_frame = frame
                self._set_stopinfo(None, None)
                self.interaction(frame, None)
                if self.quitting:
                    raise bdb.BdbQuit
            return self.trace_dispatch
        if event == "return" and frame is home and frame.f_back is not None:
            caller = frame.f_back
            self._moth_insn = (mode, caller, None)  # the next instruction is the caller's
            caller.f_trace = self.trace_dispatch
            caller.f_trace_opcodes = True
            self._moth_opcode_frames += (caller,)
        return NotImplemented

    def do_stepi(self, arg):
        """stepi | si
        Execute one bytecode instruction, entering calls; stop before the
        next instruction and show it."""
        self._moth_step_instruction("step")
        return 1

    def do_nexti(self, arg):
        """nexti | ni
        Execute one bytecode instruction of the current frame; a call runs
        to its end."""
        self._moth_step_instruction("next")
        return 1

    do_si = do_stepi
    do_ni = do_nexti

    def do_disassemble(self, arg):
        """disassemble | dis
        Show the bytecode of the current function, the instruction about to
        run marked with -->."""
        code, lasti, _ = self._moth_position(self.curframe)
        dis.disassemble(code, lasti=lasti, file=self.stdout)

    do_dis = do_disassemble

    def do_display(self, arg):
        """display [expression] | display/i
        Display the value of the expression if it changed, each time
        execution stops in the current frame. display/i shows the current
        instruction at every stop. Without expression, list all display
        expressions for the current frame."""
        if arg.strip() in ("/i", "/i $pc"):
            self._moth_show_insn = True
            self.message("display/i: " + self._moth_instruction(self.curframe))
            return
        return super().do_display(arg)

    def do_undisplay(self, arg):
        """undisplay [expression] | undisplay/i
        Do not display the expression any more in the current frame; without
        expression, clear all display expressions (and display/i)."""
        if arg.strip() in ("/i", "/i $pc") or not arg.strip():
            self._moth_show_insn = False
            if arg.strip():
                return
        return super().do_undisplay(arg)

    # ---- threads ----

    def do_threads(self, arg):
        """threads
        List the threads: identifier, name and where each stands; the thread
        at the prompt is marked with *. The others keep running."""
        frames = sys._current_frames()
        # a thread waiting for the prompt is shown where it stopped, not where it waits
        frames.update((t, f) for t, f in Pdb._moth_waiting.items() if f is not None)
        me = threading.get_ident()
        for t in threading.enumerate():
            frame = self.stack[-1][0] if t.ident == me and self.stack else frames.get(t.ident)
            if frame is None:
                where = "(not started)"
            else:
                where = "%s(%s)%s()" % (self.canonic(frame.f_code.co_filename),
                                        frame.f_lineno, frame.f_code.co_name)
            self.message("%s %-16s %-20s %s" % ("*" if t.ident == me else " ", t.ident,
                                                 t.name, where))


# ---- the module functions, as pdb's ----

def run(statement, globals=None, locals=None):
    Pdb().run(statement, globals, locals)


def runeval(expression, globals=None, locals=None):
    return Pdb().runeval(expression, globals, locals)


def runcall(*args, **kwds):
    return Pdb().runcall(*args, **kwds)


def set_trace(*, header=None):
    debugger = Pdb()
    if header is not None:
        debugger.message(header)
    debugger.set_trace(sys._getframe().f_back)


def post_mortem(t=None):
    if t is None:
        t = sys.exc_info()[2]
    if t is None:
        raise ValueError("A valid traceback must be passed if no exception is being handled")
    debugger = Pdb()
    debugger.reset()
    debugger.interaction(None, t)


def pm():
    exc = getattr(sys, "last_exc", None)
    post_mortem(exc.__traceback__ if exc is not None else sys.last_traceback)
