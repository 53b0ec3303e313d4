"""Build of the compiled part of pyautodiff (metadata lives in pyproject.toml).

Declares the Cython extension(s) from csrc/ and cythonizes them.

Release build (default): boundscheck/wraparound off, cdivision on, -O3 -fno-math-errno -g0.
  (no -ffast-math: it breaks NaN/inf semantics; no -march=native: wheels must run anywhere)
Debug build: PYAUTODIFF_DEBUG=1 -> boundscheck/wraparound on, cdivision off, -O0 -g.
  (kernels that divide floats force cdivision on themselves: IEEE x/0 must stay inf/nan)

AVX2 variants: on x86-64 with gcc/clang, _kernels and _fused are also built with -mavx2 as
pyautodiff._kernels_avx2 / pyautodiff._fused_avx2 (same .pyx, cythonized a second time under
the other module name into build/cython[-debug]-avx2); pyautodiff/_C.py imports them when the
CPU (and OS) support AVX2, as told by pyautodiff._cpu (a baseline-compiled cpuid probe).
The compiler only gets wider vectors for the same C: -mavx2 enables no FMA (no -mfma, and
-ffp-contract=off besides), so every operation stays separately rounded, in the same order,
and the results are bit-identical to the baseline build (tests/test_dispatch.py).  They are
optional: a compiler that rejects the flags only costs the speed-up.  PYAUTODIFF_AVX2=0 skips
them at build time (stale copies of them are then removed from the build and the source tree).

Development: python setup.py build_ext --inplace    (or: pip install -e .)
When switching between debug and release builds in place, add --force: the generated C of
each mode lives in its own folder (build/cython, build/cython-debug), but setuptools only
looks at timestamps to decide whether to relink pyautodiff/_kernels*.so.
"""
import os
import sysconfig

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
    # (-ffp-contract=off: no multiply-add contraction where a target has FMA, so that fused
    #  loops give the bits of the one-op kernels)
    "unix": (["-O3", "-fno-math-errno", "-ffp-contract=off", "-g0"], ["-O0", "-g"]),
    "mingw32": (["-O3", "-fno-math-errno", "-ffp-contract=off", "-g0"], ["-O0", "-g"]),
    "msvc": (["/O2"], ["/Od", "/Zi"]),
}


# modules that also get an AVX2 build, and its flags (gcc/clang only)
SIMD_MODULES = ["_kernels", "_fused"]
AVX2_FLAGS = ["-mavx2", "-ffp-contract=off"]
# the target is x86-64 (not universal2 / arm64 / i686); sysconfig follows cross-build settings
AVX2 = (os.environ.get("PYAUTODIFF_AVX2", "1") != "0"
        and sysconfig.get_platform().endswith(("x86_64", "amd64")))


AVX2_NAMES = [f"pyautodiff.{m}_avx2" for m in SIMD_MODULES]


def _is_avx2(ext):
    return ext.name in AVX2_NAMES


class BuildExt(build_ext):
    """Adds the optimisation flags that suit the compiler actually used; builds the AVX2
    variants only with gcc/clang, and never leaves a stale one behind (a variant not built
    this time must not be imported next to a fresh baseline)."""

    def finalize_options(self):
        super().finalize_options()
        if not self.parallel:   # compile the modules side by side (-j N overrides)
            self.parallel = os.cpu_count() or 1

    def run(self):
        self._inplace_requested = self.inplace   # setuptools clears it while building
        super().run()

    def build_extensions(self):
        kind = self.compiler.compiler_type
        release, debug = FLAGS.get(kind, ([], []))
        if kind not in ("unix", "mingw32"):
            self.extensions = [e for e in self.extensions if not _is_avx2(e)]
        for name in set(AVX2_NAMES) - {e.name for e in self.extensions}:
            self._remove_stale(name)
        for ext in self.extensions:
            ext.extra_compile_args = list(ext.extra_compile_args or []) + (
                debug if DEBUG else release) + (AVX2_FLAGS if _is_avx2(ext) else [])
            if DEBUG and kind == "msvc":
                ext.extra_link_args = list(ext.extra_link_args or []) + ["/DEBUG"]
        super().build_extensions()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception:
            if _is_avx2(ext):   # optional: setuptools reports it and goes on
                self._remove_stale(ext.name)
            raise

    def _remove_stale(self, ext_name):
        """Delete a variant's .so from a previous build (build folder and, in place, the
        package folder)."""
        name = self.get_ext_filename(ext_name)
        paths = [os.path.join(self.build_lib, name)]
        if getattr(self, "_inplace_requested", self.inplace):
            paths.append(name)   # the package folder, relative to the project root
        for path in paths:
            if os.path.exists(path):
                print(f"removing stale {path}")
                os.remove(path)


extensions = [
    Extension(
        "pyautodiff._kernels",
        ["csrc/_kernels.pyx"],
        include_dirs=[numpy.get_include(), "csrc"],
        depends=["csrc/pairwise_sum.h"],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
    ),
    # fused, blocked evaluator of elementwise chains (one memory pass per chain)
    Extension(
        "pyautodiff._fused",
        ["csrc/_fused.pyx"],
        include_dirs=[numpy.get_include(), "csrc"],
        depends=["csrc/fused_pairs.h", "csrc/pairwise_sum.h"],
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

# the baseline-compiled CPU probe (cpuid: is AVX2 there, and enabled by the OS?)
extensions.append(Extension("pyautodiff._cpu", ["csrc/_cpu.pyx"]))

BUILD_DIR = "build/cython-debug" if DEBUG else "build/cython"
ext_modules = cythonize(extensions, compiler_directives=DIRECTIVES, build_dir=BUILD_DIR)

# The AVX2 variants: the same sources under other module names.  Cython names a module after
# its Extension, but writes its C next to the .pyx's path in build_dir: hence their own dir.
if AVX2:
    avx2 = [Extension(name, [f"csrc/{m}.pyx"], include_dirs=[numpy.get_include(), "csrc"],
                      depends=["csrc/fused_pairs.h", "csrc/pairwise_sum.h"],
                      define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
            for m, name in zip(SIMD_MODULES, AVX2_NAMES)]
    for ext in cythonize(avx2, compiler_directives=DIRECTIVES, build_dir=BUILD_DIR + "-avx2"):
        ext.optional = True   # (cythonize does not carry `optional` over)
        ext_modules.append(ext)

setup(
    ext_modules=ext_modules,
    cmdclass={"build_ext": BuildExt},
)
