"""Access to the compiled kernels (extension module ``pyautodiff._kernels``).

Use ``from pyautodiff._C import K``, then ``K.add(a, b, out)`` etc.  Importing this module
fails with ONE clear ImportError when the extension is missing (source tree never built) or
stale (built from an older csrc/_kernels.pyx whose API_VERSION differs from the one this
Python code expects).

``K`` and ``F`` are the AVX2 builds of _kernels / _fused (``pyautodiff._kernels_avx2`` /
``_fused_avx2``: the same code compiled with -mavx2, bit-identical results, see setup.py) when
they were built, are current, and the CPU and OS support AVX2 (``pyautodiff._cpu``); else the
baseline modules.  ``SIMD`` tells which: "avx2" or "baseline".  PYAUTODIFF_NO_AVX2=1 (any value
but "" and "0") forces the baseline.  The baseline modules are imported and checked in any case.
"""

API_VERSION = 3  # must equal csrc/_kernels.pyx: API_VERSION
GRAPH_API_VERSION = 2  # must equal csrc/_graph.pyx: API_VERSION
FUSED_API_VERSION = 2  # must equal csrc/_fused.pyx: API_VERSION

_HOW_TO_BUILD = (
    "build it with `pip install .` from the pyautodiff source tree, or, for development, "
    "`python setup.py build_ext --inplace` (or `pip install -e .`) there"
)

def _load(name, version=None):
    """Import the compiled module pyautodiff.<name>: one clear ImportError if it is missing or
    stale (its API_VERSION differs from the one this Python code expects)."""
    import importlib
    try:
        mod = importlib.import_module("pyautodiff." + name)
    except ImportError as e:  # no compiled module next to this file
        raise ImportError(
            f"pyautodiff's compiled extension pyautodiff.{name} could not be imported ({e}); " + _HOW_TO_BUILD
        ) from None
    if version is not None and getattr(mod, "API_VERSION", None) != version:
        raise ImportError(
            f"pyautodiff's compiled extension {mod.__file__} is stale (API_VERSION "
            f"{getattr(mod, 'API_VERSION', None)}, expected {version}); re-" + _HOW_TO_BUILD
        )
    return mod


K = _load("_kernels", API_VERSION)        # elementwise kernels
G = _load("_graph", GRAPH_API_VERSION)    # Tensor base fields, Node, AccumulateGrad, engine
F = _load("_fused", FUSED_API_VERSION)    # fused evaluator of elementwise chains (ops/fusion.py)
__all__ = ["K", "G", "F", "API_VERSION"]


def _avx2_modules():
    """(K, F) of the AVX2 builds, or None: not wanted, not supported, not built or stale."""
    import os
    if os.environ.get("PYAUTODIFF_NO_AVX2", "") not in ("", "0"):
        return None
    try:
        from pyautodiff._cpu import has_avx2
        if not has_avx2():     # (checked before importing code that may use AVX2 anywhere)
            return None
        from pyautodiff import _kernels_avx2 as k, _fused_avx2 as f
    except ImportError:
        return None
    if (getattr(k, "API_VERSION", None) != API_VERSION
            or getattr(f, "API_VERSION", None) != FUSED_API_VERSION):
        return None
    return k, f


SIMD = "baseline"
_m = _avx2_modules()
if _m is not None:
    K, F = _m
    SIMD = "avx2"
del _m
__all__.append("SIMD")

# Recycling of large freed numpy buffers (csrc/_memory.pyx).  On by default: a training step
# then reuses the previous step's buffers instead of faulting in fresh pages.
# PYAUTODIFF_BUFFER_CACHE_MB sets the cap (0 turns it off).
import os as _os

_memory = _load("_memory")
set_buffer_cache = _memory.set_buffer_cache
buffer_cache_info = _memory.buffer_cache_info
set_buffer_cache(int(_os.environ.get("PYAUTODIFF_BUFFER_CACHE_MB", "512")) << 20)
