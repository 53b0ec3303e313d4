"""Thread policy: pyautodiff runs single-threaded by default.

Our kernels use one thread.  numpy's BLAS (OpenBLAS) starts one thread per core, and on a shared
or small machine its threads stall the small matrix products of a training step (measured here on
2 busy cores: the digits example went from 0.25 s to 5 s).  So at import we set OpenBLAS to one
thread unless the user chose a count with OPENBLAS_NUM_THREADS / OMP_NUM_THREADS;
`set_num_threads(n)` changes it, as torch.set_num_threads does.
"""
import ctypes
import os

_SETTERS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads", "openblas_set_num_threads")
_GETTERS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
            "scipy_openblas_get_num_threads", "openblas_get_num_threads")
_libs = None
_requested = [1]


def _openblas():
    """(setter, getter) pairs of the OpenBLAS libraries loaded in this process."""
    global _libs
    if _libs is None:
        _libs = []
        try:
            with open("/proc/self/maps") as f:
                paths = {line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line}
        except OSError:  # not Linux: leave the BLAS as it is
            paths = set()
        for path in sorted(paths):
            try:
                lib = ctypes.CDLL(path)  # already loaded: this only looks it up
            except OSError:
                continue
            setter = next((getattr(lib, n) for n in _SETTERS if hasattr(lib, n)), None)
            getter = next((getattr(lib, n) for n in _GETTERS if hasattr(lib, n)), None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                if getter is not None:
                    getter.restype = ctypes.c_int
                _libs.append((setter, getter))
    return _libs


def set_num_threads(n):
    """Threads for numpy's BLAS (our own kernels are single-threaded)."""
    n = int(n)
    if n < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    _requested[0] = n
    for setter, _ in _openblas():
        setter(n)


def get_num_threads():
    for _, getter in _openblas():
        if getter is not None:
            return int(getter())
    return _requested[0]


def default_policy():
    if not (os.environ.get("OPENBLAS_NUM_THREADS") or os.environ.get("OMP_NUM_THREADS")):
        set_num_threads(1)
