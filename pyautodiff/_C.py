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

API_VERSION = 2  # must equal csrc/_kernels.pyx: API_VERSION
GRAPH_API_VERSION = 1  # must equal csrc/_graph.pyx: API_VERSION
FUSED_API_VERSION = 1  # must equal csrc/_fused.pyx: API_VERSION

_HOW_TO_BUILD = (
    "build it with `pip install .` from the pyautodiff source tree, or, for development, "
    "`python setup.py build_ext --inplace` (or `pip install -e .`) there"
)

try:
    from pyautodiff import _kernels as K
except ImportError as _e:  # no compiled module next to this file
    raise ImportError(
        f"pyautodiff's compiled extension pyautodiff._kernels could not be imported ({_e}); "
        + _HOW_TO_BUILD
    ) from None

if getattr(K, "API_VERSION", None) != API_VERSION:
    raise ImportError(
        f"pyautodiff's compiled extension {K.__file__} is stale (API_VERSION "
        f"{getattr(K, 'API_VERSION', None)}, expected {API_VERSION}); re-" + _HOW_TO_BUILD
    )

__all__ = ["K", "API_VERSION"]

# The compiled graph core (Tensor base fields, Node, AccumulateGrad, backward engine).
try:
    from pyautodiff import _graph as G
except ImportError as _e:
    raise ImportError(
        f"pyautodiff's compiled extension pyautodiff._graph could not be imported ({_e}); " + _HOW_TO_BUILD
    ) from None
if getattr(G, "API_VERSION", None) != GRAPH_API_VERSION:
    raise ImportError(f"pyautodiff's compiled extension {G.__file__} is stale; re-" + _HOW_TO_BUILD)
__all__.append("G")

# The fused evaluator of elementwise chains (csrc/_fused.pyx), used by pyautodiff.ops.fusion.
try:
    from pyautodiff import _fused as F
except ImportError as _e:
    raise ImportError(
        f"pyautodiff's compiled extension pyautodiff._fused could not be imported ({_e}); " + _HOW_TO_BUILD
    ) from None
if getattr(F, "API_VERSION", None) != FUSED_API_VERSION:
    raise ImportError(f"pyautodiff's compiled extension {F.__file__} is stale; re-" + _HOW_TO_BUILD)
__all__.append("F")


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
try:
    from pyautodiff._memory import set_buffer_cache, buffer_cache_info  # noqa: E402
except ImportError as _e:
    raise ImportError(
        f"pyautodiff's compiled extension pyautodiff._memory could not be imported ({_e}); " + _HOW_TO_BUILD
    ) from None

set_buffer_cache(int(_os.environ.get("PYAUTODIFF_BUFFER_CACHE_MB", "512")) << 20)
