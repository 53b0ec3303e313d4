"""Build of the compiled part of pyautodiff (metadata lives in pyproject.toml).

Declares the Cython extension(s) from csrc/ and cythonizes them.

Release build (default): boundscheck/wraparound off, cdivision on, -O3 -fno-math-errno -g0.
  (no -ffast-math: it breaks NaN/inf semantics; no -march=native: wheels must run anywhere)
Debug build: PYAUTODIFF_DEBUG=1 -> boundscheck/wraparound on, cdivision off, -O0 -g.
  (kernels that divide floats force cdivision on themselves: IEEE x/0 must stay inf/nan)

Development: python setup.py build_ext --inplace    (or: pip install -e .)
When switching between debug and release builds in place, add --force: the generated C of
each mode lives in its own folder (build/cython, build/cython-debug), but setuptools only
looks at timestamps to decide whether to relink pyautodiff/_kernels*.so.
"""
import os

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

DEBUG = os.environ.get("PYAUTODIFF_DEBUG", "") == "1"

DIRECTIVES = {
    "language_level": 3,
    "boundscheck": DEBUG,
    "wraparound": DEBUG,
    "cdivision": not DEBUG,
    "embedsignature": True,
}

# per compiler family: (release flags, debug flags)
FLAGS = {
    # (-g0: Python's own CFLAGS add -g, which makes each .so ~4x bigger)
    "unix": (["-O3", "-fno-math-errno", "-g0"], ["-O0", "-g"]),
    "mingw32": (["-O3", "-fno-math-errno", "-g0"], ["-O0", "-g"]),
    "msvc": (["/O2"], ["/Od", "/Zi"]),
}


class BuildExt(build_ext):
    """Adds the optimisation flags that suit the compiler actually used."""

    def build_extensions(self):
        release, debug = FLAGS.get(self.compiler.compiler_type, ([], []))
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + (
                debug if DEBUG else release)
            if DEBUG and self.compiler.compiler_type == "msvc":
                ext.extra_link_args = list(ext.extra_link_args or []) + ["/DEBUG"]
        super().build_extensions()


extensions = [
    Extension(
        "pyautodiff._kernels",
        ["csrc/_kernels.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # fused, blocked evaluator of elementwise chains (one memory pass per chain)
    Extension(
        "pyautodiff._fused",
        ["csrc/_fused.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # Tensor base fields, graph nodes and the backward engine (the per-op bookkeeping)
    Extension(
        "pyautodiff._graph",
        ["csrc/_graph.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # numpy data-memory handler that recycles large freed buffers (no page faults per step)
    Extension(
        "pyautodiff._memory",
        ["csrc/_memory.pyx"],
        include_dirs=[numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
]

setup(
    ext_modules=cythonize(
        extensions,
        compiler_directives=DIRECTIVES,
        build_dir="build/cython-debug" if DEBUG else "build/cython",
    ),
    cmdclass={"build_ext": BuildExt},
)
