"""The stops `stepi` or `nexti` must make, from the interpreter's own opcode events.

    python instruction_trail.py step|next PROGRAM LINE COUNT

runs PROGRAM under sys.settrace with opcode events in every frame, from its first stop at a
breakpoint on LINE, and prints the next COUNT stops as "function offset": `step` stops at
every instruction, `next` at those of the frame it started in (or of the frame that frame
returned or yielded to), and both at a line event of LINE (the breakpoint)."""
import io
import os
import sys
from contextlib import redirect_stdout

mode, path, line, count = sys.argv[1], os.path.abspath(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
events = []  # (frame, event, where): where is f_lasti, (f_lasti, line) or the returned-to frame
frames = []  # every frame seen, kept alive so that identity means the same frame


def finish():
    """Prints the stops and ends the process."""
    sys.settrace(None)
    stops = []
    home, not_run = events[0][0], True  # the instruction a stop is at has not run yet
    for frame, event, where in events[1:]:
        if len(stops) == count:
            break
        if event == "line":
            if where[1] == line and frame.f_code.co_filename == path:
                stops.append((frame, where[0]))
                home, not_run = frame, True
        elif event == "opcode":
            if frame is home and not_run:
                not_run = False
            elif mode == "step" or frame is home:
                stops.append((frame, where))
                home = frame
        elif event == "return" and frame is home and mode == "next":
            home, not_run = where, False
    for frame, offset in stops:
        print(frame.f_code.co_name, offset, file=sys.__stdout__)
    sys.__stdout__.flush()
    os._exit(0)  # (the program need not finish)


def trace(frame, event, arg):
    frame.f_trace = trace  # (3.13 takes opcode events only from a frame with a trace function)
    frame.f_trace_opcodes = True
    frames.append(frame)
    if not events and not (event == "line" and frame.f_code.co_filename == path and
                           frame.f_lineno == line):
        return trace
    events.append((frame, event, frame.f_back if event == "return" else
                   (frame.f_lasti, frame.f_lineno) if event == "line" else frame.f_lasti))
    if len(events) == 2000:  # enough: the rest of the program need not run
        finish()
    return trace


here = sys._getframe()
here.f_trace, here.f_trace_opcodes = trace, True  # (3.12 traces opcodes only once asked)
sys.argv = [path]
sys.settrace(trace)
with redirect_stdout(io.StringIO()):
    exec(compile(open(path).read(), path, "exec"), {"__name__": "__main__", "__file__": path})
finish()

