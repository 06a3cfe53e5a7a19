"""IPython magics (`%load_ext moth`): profiling a statement or a cell with moth's engines.

    %moth_prun [-s KEY] [-l LIMIT] [-D FILE] statement     (and %%moth_prun for a cell)
    %moth_lprun -f FUNC [-f FUNC ...] statement            (line by line, as %lprun)
    %moth_advise statement                                 (the pitfalls, as moth advise)
    %moth_memory [-s peak|leaks|allocated] [-l LIMIT] statement   (and %%moth_memory: memory)

The work is done by moth's C engines; this file only parses the magics' arguments.
"""
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class

import moth
from moth import _moth


@magics_class
class MothMagics(Magics):
    def _run(self, prof, code):
        ns = self.shell.user_ns
        prof.runctx(code, ns, ns)

    @line_cell_magic
    def moth_prun(self, line, cell=None):
        """Profile a statement (or the cell) and print cProfile's table: -s sort key
        (default tottime), -l row limit (default 30), -D file to also dump the stats."""
        opts, stmt = self.parse_options(line, "s:l:D:", list_all=True, posix=False)
        code = cell if cell is not None else stmt
        prof = moth.Profile(builtins=False, compensate=True)
        try:
            self._run(prof, code)
        finally:
            prof.disable()
            sort = opts.get("s", ["tottime"])
            limit = int(opts.get("l", ["30"])[0])
            import pstats
            stats = pstats.Stats(prof)
            stats.sort_stats(*sort).print_stats(limit or None)
            for path in opts.get("D", []):
                prof.dump_stats(path)

    @line_magic
    def moth_lprun(self, line):
        """Line-profile the functions named with -f while running the statement."""
        opts, stmt = self.parse_options(line, "f:", list_all=True, posix=False)
        prof = moth.LineProfile()
        for expr in opts.get("f", []):
            prof.add_function(eval(expr, self.shell.user_ns))
        try:
            self._run(prof, stmt)
        finally:
            prof.print_stats()

    @line_cell_magic
    def moth_memory(self, line, cell=None):
        """Profile the memory of a statement (or the cell): what it held at its peak, what it
        left allocated and what it allocated, by call path and line. -s orders by peak
        (default), leaks or allocated; -l limits the rows (default 20)."""
        opts, stmt = self.parse_options(line, "s:l:", posix=False)
        prof = moth.Profile(memory=True)
        try:
            self._run(prof, cell if cell is not None else stmt)
        finally:
            prof.print_memory(sort=opts.get("s", "peak"), limit=int(opts.get("l", "20")))

    @line_magic
    def moth_advise(self, line):
        """Run the statement with the interactive code line-profiled and print the pitfalls."""
        prof = moth.Profile(lines=True, compensate=True)
        try:
            self._run(prof, line)
        finally:
            print(_moth.advise(prof, min_share=0.0), end="")


def load_ipython_extension(ipython):
    ipython.register_magics(MothMagics)
