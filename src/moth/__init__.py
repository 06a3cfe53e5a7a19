"""moth: a debugger and profiler for Python, with engines in C."""
from moth._moth import __version__  # noqa: F401
