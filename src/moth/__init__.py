"""moth: a debugger and profiler for Python, with engines in C.

The profiler: `moth.Profile` is a drop-in for `cProfile.Profile` (every thread, far cheaper
with builtins=False); `moth.run` / `moth.runctx` are cProfile's module functions.
The debugger: `moth.Pdb` is a drop-in for `pdb.Pdb`; `moth.set_trace`, `moth.post_mortem`,
`moth.pm`, `moth.runcall`, `moth.runeval` are pdb's module functions (pdb's `run` is
`moth.debugger.run`, since `moth.run` is cProfile's). They load on first use.
Editors: `moth.listen()` opens a Debug Adapter Protocol port to attach to (moth dap).
"""
from moth._moth import Profile, __version__, listen, profile_lines  # noqa: F401

__all__ = ["Profile", "LineProfile", "profile_lines", "run", "runctx",
           "Pdb", "set_trace", "post_mortem", "pm", "runcall", "runeval", "listen"]

_DEBUGGER_NAMES = ("Pdb", "set_trace", "post_mortem", "pm", "runcall", "runeval")


def __getattr__(name):
    """The debugger's names, imported when first used (pdb is a large import)."""
    if name in _DEBUGGER_NAMES:
        from moth import debugger
        return getattr(debugger, name)
    raise AttributeError("module 'moth' has no attribute %r" % name)


def run(statement, filename=None, sort=-1):
    """Profile exec(statement) in __main__, as cProfile.run: print or dump the statistics."""
    import __main__
    return runctx(statement, __main__.__dict__, __main__.__dict__, filename, sort)


def runctx(statement, globals, locals, filename=None, sort=-1):
    """Profile exec(statement, globals, locals), as cProfile.runctx."""
    prof = Profile()
    try:
        prof.runctx(statement, globals, locals)
    except SystemExit:
        pass
    finally:
        if filename is not None:
            prof.dump_stats(filename)
        else:
            prof.print_stats(sort)


class LineProfile(Profile):
    """line_profiler's LineProfiler on moth's engine: LineProfile(f, g), add_function(f), or
    use an instance as a decorator; enable()/disable(), runcall(), or a `with` block; then
    print_stats() prints the line-by-line report."""

    def __init__(self, *functions):
        super().__init__(builtins=False, lines="selected")
        for f in functions:
            self.add_function(f)

    def __call__(self, func):
        self.add_function(func)
        return func

    def print_stats(self, stream=None):
        self.print_lines(stream)


def load_ipython_extension(ipython):
    """`%load_ext moth`: the %moth_prun, %moth_lprun and %moth_advise magics."""
    from moth.ipython import load_ipython_extension as load
    load(ipython)
