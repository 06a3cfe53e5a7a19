"""moth profile --subprocesses: starts moth's profiler in every Python the program starts.

`moth profile --subprocesses` puts this directory first on PYTHONPATH, so each new interpreter
imports this module while it starts (site.py imports `sitecustomize`). It takes itself out of
the way (sys.path, sys.modules), runs the sitecustomize it stood in front of, if any, then
hands over to moth's C engine, which profiles the process with the parent's options and writes
its run into the same moth file when the process ends. A Python that cannot import moth (another
version) runs unprofiled.
"""
import os
import sys


def _start():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    me = sys.modules.pop(__name__)
    try:
        import sitecustomize  # noqa: F401  (the one this one stood in front of)
    except ImportError as exc:
        # none: site.py's import of this module still needs it in sys.modules
        sys.modules[__name__] = me
        if exc.name != "sitecustomize":
            raise
    try:
        from moth import _moth
    except ImportError:
        return
    _moth._subprocess_start()


_start()
del _start
