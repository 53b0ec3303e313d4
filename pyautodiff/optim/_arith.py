"""float32 arithmetic that reproduces torch's CPU kernels bit for bit.

torch's CPU kernels for `add(x, alpha=a)`, `lerp_` and `addcmul_` are compiled with fused multiply-add
(AVX2/AVX-512 `vfmadd`, and GCC contracts the scalar tails the same way), so `p.add_(g, alpha=-lr)` is
`fma(g, -lr, p)` rounded once.  numpy has no fma, so `fma32` computes it exactly: the product of two
float32 numbers is exact in float64, the float64 sum is rounded once, and the one case where rounding
again to float32 could differ from a single rounding (the float64 sum sits exactly on a float32
midpoint) is detected and resolved with the exact TwoSum error.

Plain products, quotients and sums (`mul_`, `div`, `add_` with alpha 1, `addcdiv_`) are single IEEE
operations in both libraries, so numpy's float32 ufuncs already agree bit for bit.

float64 tensors use plain (unfused) numpy operations: their results may differ from torch in the
last bit.
"""
import threading

import numpy as np

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_LOW29 = np.uint64((1 << 29) - 1)
_HALF29 = np.uint64(1 << 28)


_TLS = threading.local()  # per-thread scratch buffers (numpy releases the GIL inside ufuncs)
_multiply, _add, _bitwise_and, _equal, _copyto = np.multiply, np.add, np.bitwise_and, np.equal, np.copyto


def _scratch(shape):
    """Reusable float64 / uint64 / bool work buffers per shape (an optimizer updates the same shapes
    every step)."""
    cache = getattr(_TLS, "cache", None)
    if cache is None:
        cache = _TLS.cache = {}
    b = cache.get(shape)
    if b is None:
        if len(cache) > 256:
            cache.clear()
        b = cache[shape] = (np.empty(shape, _F64), np.empty(shape, np.uint64), np.empty(shape, bool))
    return b


try:  # a compiled fused multiply-add (C99 fmaf), when the kernels provide one
    from .._C import K as _K
    _K_FMA_SCALAR = getattr(_K, "fma_scalar", None)  # fma_scalar(a, s, c, out): out = fma(a, s, c)
except Exception:  # pragma: no cover - the kernels always import with the package
    _K_FMA_SCALAR = None


def fma(a, b, c, out):
    """out = a * b + c with one rounding (float32).  a and c are arrays shaped like out, b an array or a
    Python/numpy scalar.  `out` may alias `a` or `c`."""
    if _K_FMA_SCALAR is not None and type(a) is np.ndarray and type(c) is np.ndarray \
            and type(out) is np.ndarray and type(b) is not np.ndarray \
            and a.dtype == out.dtype == c.dtype and a.flags.c_contiguous and c.flags.c_contiguous \
            and out.flags.c_contiguous and a.shape == c.shape == out.shape:
        _K_FMA_SCALAR(a, float(out.dtype.type(b)), c, out)
        return out
    if out.dtype != _F32:
        _add(_multiply(a, b), c, out=out)
        return out
    s, u, m = _scratch(out.shape)
    if type(b) is not np.ndarray:
        b = np.float32(b)
    if type(a) is not np.ndarray:
        a = np.float32(a)
    _multiply(a, b, out=s, dtype=_F64)  # float32 x float32 is exact in float64
    _add(s, c, out=s)  # the only rounding in float64
    _bitwise_and(s.view(np.uint64), _LOW29, out=u)
    _equal(u, _HALF29, out=m)
    if m.any():
        s = s.copy()
        p = _multiply(a, b, dtype=_F64)
        _fix_midpoints(s.reshape(-1), p.reshape(-1), np.asarray(c, dtype=_F64).reshape(-1), m.reshape(-1))
    _copyto(out, s, casting="same_kind")
    return out


def _fix_midpoints(s, p, c, mask):
    """Where the float64 sum s = p + c sits on a float32 rounding midpoint but is itself inexact, nudge
    it one float64 ulp toward the exact value so that rounding to float32 goes the right way."""
    idx = np.nonzero(mask)
    if np.ndim(p):
        p = np.broadcast_to(p, s.shape)[idx]
    if np.ndim(c):
        c = np.broadcast_to(c, s.shape)[idx]
    ss = s[idx]
    bb = ss - p
    err = (p - (ss - bb)) + (c - bb)
    nz = err != 0
    if nz.any():
        ss[nz] = np.nextafter(ss[nz], np.where(err[nz] > 0, np.inf, -np.inf))
        s[idx] = ss


def add_scaled(x, y, alpha, out):
    """torch's `x.add(y, alpha=alpha)`: fma(y, alpha, x); a plain add when alpha == 1."""
    if alpha == 1:
        return np.add(x, y, out=out)
    return fma(y, alpha, x, out)


def lerp_scalar(start, end, weight, out):
    """torch's `start.lerp_(end, weight)` with a Python-number weight (float32 weight, fused)."""
    dt = out.dtype
    w = dt.type(weight)
    diff = np.subtract(end, start, out=np.empty_like(out))
    if abs(w) < 0.5:
        return fma(w, diff, start, out)
    return fma(w - dt.type(1), diff, end, out)


def addcmul(x, t1, t2, value, out):
    """torch's `x.addcmul_(t1, t2, value=value)`: fma(value * t1, t2, x)."""
    vt1 = np.multiply(t1, out.dtype.type(value), out=np.empty_like(out))
    return fma(vt1, t2, x, out)


def addcdiv(x, t1, t2, value, out):
    """torch's `x.addcdiv_(t1, t2, value=value)`: x + (value * t1) / t2, each step rounded."""
    tmp = np.multiply(t1, out.dtype.type(value), out=np.empty_like(out))
    np.divide(tmp, t2, out=tmp)
    return np.add(x, tmp, out=out)
