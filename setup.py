"""Builds moth's C extension, moth._moth, from every C file under csrc/.

Environment switches (used by .ci/run and the Makefile):
  MOTH_WERROR=1          warnings are errors
  MOTH_SANITIZE=address,undefined
                         build with those sanitizers (run Python with the ASan runtime preloaded)
  MOTH_DEBUG=1           -O0 -g, asserts on
  MOTH_COVERAGE=1        -O0 with gcov instrumentation: every process that loads moth writes
                         its .gcda counts beside the objects (scripts/coverage)
"""
import glob
import os

from setuptools import Extension, setup

sources = sorted(
    glob.glob("csrc/core/*.c") + glob.glob("csrc/os/*.c") + glob.glob("csrc/remote/*.c")
    + glob.glob("csrc/cpython/*.c") + glob.glob("csrc/debugger/*.c")
)
compile_args = ["-std=gnu11", "-Wall", "-Wextra", "-Wno-missing-field-initializers",
                "-fvisibility=hidden"]
link_args = []
if os.environ.get("MOTH_WERROR"):
    compile_args.append("-Werror")
coverage = os.environ.get("MOTH_COVERAGE")
if coverage:
    # -O0 keeps the counts on the lines that were written; profile-update=atomic keeps them
    # exact when several threads run the same code.
    compile_args += ["-O0", "-g", "--coverage", "-fprofile-update=atomic", "-DMOTH_COVERAGE"]
    link_args += ["--coverage"]
elif os.environ.get("MOTH_DEBUG"):
    compile_args += ["-O0", "-g", "-UNDEBUG"]
else:
    compile_args += ["-O2"]
sanitize = os.environ.get("MOTH_SANITIZE")
if sanitize:
    compile_args += [f"-fsanitize={sanitize}", "-fno-omit-frame-pointer",
                     "-fno-sanitize-recover=undefined"]
    link_args += [f"-fsanitize={sanitize}"]

# Each flavour of build keeps its own objects: setuptools does not notice changed flags, and a
# sanitizer-built object must never end up in a normal build.
flavour = "-".join(filter(None, [
    "sanitize-" + sanitize.replace(",", "-") if sanitize else "",
    "debug" if os.environ.get("MOTH_DEBUG") else "",
    "coverage" if coverage else "",
    "werror" if os.environ.get("MOTH_WERROR") else "",
])) or "release"

setup(
    options={"build": {"build_base": os.path.join("build", flavour)}},
    ext_modules=[
        Extension(
            "moth._moth",
            sources=sources,
            include_dirs=["csrc/core", "csrc/os", "csrc/remote", "csrc/cpython", "csrc/debugger"],
            libraries=["sqlite3"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ]
)
