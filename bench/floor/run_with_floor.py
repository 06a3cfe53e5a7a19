"""python run_with_floor.py SCRIPT [args]: run SCRIPT as __main__ under floor_hook."""
import runpy
import sys

import floor_hook

floor_hook.install()
script = sys.argv.pop(1)
runpy.run_path(script, run_name="__main__")
