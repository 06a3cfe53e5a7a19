"""moth: a debugger and profiler for Python, with engines in C.

The profiler: `moth.Profile` is a drop-in for `cProfile.Profile` (every thread, far cheaper
with builtins=False); `moth.run` / `moth.runctx` are cProfile's module functions.
"""
from moth._moth import Profile, __version__  # noqa: F401

__all__ = ["Profile", "run", "runctx"]


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
