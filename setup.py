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
import shutil
import subprocess

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



def libdw_flags():
    """elfutils' libdw walks C stacks (`moth dump --native`); moth builds without it when its
    headers are missing (Debian: libdw-dev), and then says what to install."""
    if shutil.which("pkg-config"):
        found = subprocess.run(["pkg-config", "--libs", "libdw"], capture_output=True, text=True)
        if found.returncode == 0:
            return [lib[2:] for lib in found.stdout.split() if lib.startswith("-l")]
    if any(os.path.exists(os.path.join(d, "elfutils", "libdwfl.h"))
           for d in ("/usr/include", "/usr/local/include")):
        return ["dw", "elf"]
    return None


libdw = libdw_flags()
if libdw is not None:
    compile_args.append("-DMOTH_HAVE_LIBDW")

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
            libraries=["sqlite3"] + (libdw or []),
            extra_compile_args=compile_args,
            extra_link_args=link_args,
        )
    ]
)
