# cython: language_level=3
"""Elementwise and reduction kernels for pyautodiff (extension module ``pyautodiff._kernels``).

Contract (see docs/ARCHITECTURE.md and tests/test_kernels.py):

* every array argument is a numpy ndarray of dtype float32 or float64; all arrays of one call
  share that dtype; they must be C-contiguous, aligned, native byte order, and have equal sizes
  (shapes are ignored: the data are treated as flat); ``out`` must be writeable.  These checks run
  before any loop and raise TypeError (dtype / type problems) or ValueError (layout, size,
  read-only ``out``).
* ``out`` may be the very same array as an input (in-place ops).
* scalars are C doubles; for float32 arrays they are cast to float first and the arithmetic is
  done in float32 (like torch does for float tensors).
* loops hold no Python objects; the GIL is released around them (for arrays of at least
  ``NOGIL_MIN_SIZE`` elements -- below that, releasing and re-taking the GIL costs more than the
  loop itself).
* backward kernels take ``accumulate``: False -> ``out = result``, True -> ``out += result``.
* allocating calls: with ``out`` omitted (None) a kernel allocates its output (shaped like its
  first array), returns it, and returns None instead of raising when the arrays are not ones it
  can take (another dtype, not contiguous, sizes differ): the Python layer then uses numpy.  This
  keeps the per-op fast path to one call with no Python-side checks.

Float arithmetic must keep IEEE semantics, so every kernel that divides is compiled with
``cdivision(True)`` regardless of the build's debug setting (Python-style division would raise
ZeroDivisionError instead of producing inf/nan).
"""

cimport cython
cimport numpy as cnp
from numpy cimport npy_intp
from libc.math cimport (sqrt as c_sqrt, sqrtf as c_sqrtf, pow as c_pow, powf as c_powf,
                        log as c_log, logf as c_logf, exp2 as c_exp2, exp2f as c_exp2f)

cdef extern from "math.h" nogil:
    float c_fmaf "fmaf"(float, float, float)
    double c_fma "fma"(double, double, double)
    float c_erff "erff"(float)
    double c_erf "erf"(double)

cnp.import_array()
from numpy import ndarray as _ndarray_type

# Bump whenever a signature or a semantic of this module changes; pyautodiff/_C.py checks it.
API_VERSION = 3  # 2: out=None allocates (and returns None for arrays it can't take); 3: bscalar

# Arrays smaller than this run their loop without releasing the GIL (the release/re-acquire
# pair costs ~50-100 ns, more than the whole loop for small tensors).
cdef enum:
    _NOGIL_MIN = 4096
NOGIL_MIN_SIZE = _NOGIL_MIN

ctypedef fused real:
    float
    double

cdef int _NEED_IN = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED
cdef int _NEED_OUT = cnp.NPY_ARRAY_C_CONTIGUOUS | cnp.NPY_ARRAY_ALIGNED | cnp.NPY_ARRAY_WRITEABLE


# --------------------------------------------------------------------------------------------
# validation (runs with the GIL, before any loop)
# --------------------------------------------------------------------------------------------

cdef int _diagnose(cnp.ndarray x, int t, npy_intp n, int need, const char* fn,
                   const char* name, const char* ref) except -2:
    """Slow path: find out what is wrong with ``x`` and raise the matching exception."""
    cdef int xt = cnp.PyArray_TYPE(x)
    cdef str f = fn.decode()
    cdef str nm = name.decode()
    if xt != cnp.NPY_FLOAT and xt != cnp.NPY_DOUBLE:
        raise TypeError(f"{f}(): argument '{nm}' must be a float32 or float64 array, "
                        f"got dtype {x.dtype}")
    if t >= 0 and xt != t:
        raise TypeError(f"{f}(): all arrays must have the same dtype, but '{ref.decode()}' is "
                        f"{'float32' if t == cnp.NPY_FLOAT else 'float64'} and '{nm}' is "
                        f"{x.dtype}")
    if not cnp.PyArray_ISNOTSWAPPED(x):
        raise TypeError(f"{f}(): argument '{nm}' must be in native byte order, got dtype "
                        f"{x.dtype.str!r}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise ValueError(f"{f}(): argument '{nm}' must be C-contiguous (use "
                         f"numpy.ascontiguousarray)")
    if not cnp.PyArray_ISALIGNED(x):
        raise ValueError(f"{f}(): argument '{nm}' must be aligned")
    if (need & cnp.NPY_ARRAY_WRITEABLE) and not cnp.PyArray_ISWRITEABLE(x):
        raise ValueError(f"{f}(): output argument '{nm}' is read-only")
    if n >= 0 and cnp.PyArray_SIZE(x) != n:
        raise ValueError(f"{f}(): size mismatch: '{ref.decode()}' has {n} elements but '{nm}' "
                         f"has {cnp.PyArray_SIZE(x)}")
    raise ValueError(f"{f}(): invalid argument '{nm}'")  # pragma: no cover


cdef inline int _first(cnp.ndarray x, int need, const char* fn, const char* name,
                       bint lenient) except -2:
    """Validate the first array of a call; returns its type number (NPY_FLOAT / NPY_DOUBLE).
    lenient (allocating calls, out=None): return -1 instead of raising."""
    cdef int t = cnp.PyArray_TYPE(x)
    if ((t == cnp.NPY_FLOAT or t == cnp.NPY_DOUBLE)
            and (cnp.PyArray_FLAGS(x) & need) == need and cnp.PyArray_ISNOTSWAPPED(x)):
        return t
    if lenient:
        return -1
    return _diagnose(x, -1, -1, need, fn, name, NULL)


cdef inline int _same(cnp.ndarray x, int t, npy_intp n, int need, const char* fn,
                      const char* name, const char* ref, bint lenient) except -2:
    """Validate a further array against the first one (dtype ``t``, size ``n``).
    lenient: return -1 instead of raising."""
    if (cnp.PyArray_TYPE(x) == t and (cnp.PyArray_FLAGS(x) & need) == need
            and cnp.PyArray_SIZE(x) == n and cnp.PyArray_ISNOTSWAPPED(x)):
        return 0
    if lenient:
        return -1
    return _diagnose(x, t, n, need, fn, name, ref)


cdef inline cnp.ndarray _new_like(cnp.ndarray x, int t):
    """A fresh C-contiguous output shaped like ``x`` (allocating calls)."""
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), t, 0)


cdef inline float* _f(cnp.ndarray x) noexcept:
    return <float*>cnp.PyArray_DATA(x)


cdef inline double* _d(cnp.ndarray x) noexcept:
    return <double*>cnp.PyArray_DATA(x)


cdef extern from "Python.h":
    ctypedef struct PyThreadState
    PyThreadState* PyEval_SaveThread() nogil
    void PyEval_RestoreThread(PyThreadState*) nogil


cdef inline PyThreadState* _release(npy_intp n) noexcept:
    """Release the GIL for loops over at least _NOGIL_MIN elements (pair with _restore).

    Between the two calls only `noexcept nogil` loops run."""
    if n >= _NOGIL_MIN:
        return PyEval_SaveThread()
    return NULL


cdef inline void _restore(PyThreadState* ts) noexcept:
    if ts != NULL:
        PyEval_RestoreThread(ts)


# --------------------------------------------------------------------------------------------
# loops.  All are `noexcept nogil`, touch only raw pointers, and are written so that gcc -O3
# vectorizes them.  `out` may alias an input: each element is read before it is written and
# no element is read after another one was written, so aliasing of the same array is safe
# (gcc adds its own runtime overlap checks around the vector loops).
# The `acc` flag is loop invariant: gcc unswitches it into two vectorized loops.
# --------------------------------------------------------------------------------------------

cdef inline void _st(real* o, Py_ssize_t i, real r, bint acc) noexcept nogil:
    if acc:
        o[i] = o[i] + r
    else:
        o[i] = r


cdef void _k_add(const real* a, const real* b, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] + b[i]


cdef void _k_sub(const real* a, const real* b, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] - b[i]


cdef void _k_mul(const real* a, const real* b, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] * b[i]


@cython.cdivision(True)
cdef void _k_div(const real* a, const real* b, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] / b[i]


cdef void _k_pow(const real* a, const real* b, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if real is float:
            o[i] = c_powf(a[i], b[i])
        else:
            o[i] = c_pow(a[i], b[i])


cdef void _k_add_scaled(const real* a, const real* b, real alpha, real* o,
                        Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] + alpha * b[i]


cdef void _k_fma_scalar(const real* a, real s, const real* c, real* o,
                        Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if real is float:
            o[i] = c_fmaf(a[i], s, c[i])
        else:
            o[i] = c_fma(a[i], s, c[i])


cdef void _k_add_scalar(const real* a, real s, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] + s


@cython.cdivision(True)
cdef void _k_div_scalar(const real* a, real s, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = a[i] / s


cdef void _k_rsub_scalar(const real* a, real s, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = s - a[i]


@cython.cdivision(True)
cdef void _k_rdiv_scalar(const real* a, real s, real* o, Py_ssize_t n) noexcept nogil:
    # torch computes `s / t` as `t.reciprocal() * s`; do the same so the values match bitwise.
    cdef Py_ssize_t i
    cdef real one = 1
    for i in range(n):
        o[i] = (one / a[i]) * s


cdef void _k_erf(const real* a, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if real is float:
            o[i] = c_erff(a[i])
        else:
            o[i] = c_erf(a[i])


cdef void _k_neg(const real* a, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        o[i] = -a[i]


cdef void _k_relu(const real* a, real* o, Py_ssize_t n) noexcept nogil:
    # torch: relu(nan) = nan, relu(-0.0) = -0.0
    cdef Py_ssize_t i
    cdef real x
    for i in range(n):
        x = a[i]
        o[i] = 0 if x < 0 else x


cdef void _k_rpow_scalar(real base, const real* a, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    if base == 2:
        for i in range(n):
            if real is float:
                o[i] = c_exp2f(a[i])
            else:
                o[i] = c_exp2(a[i])
    else:
        for i in range(n):
            if real is float:
                o[i] = c_powf(base, a[i])
            else:
                o[i] = c_pow(base, a[i])


# ---- pow with a scalar exponent: exact fast paths chosen once, outside the loop --------------

cdef enum:
    _P_ZERO, _P_ONE, _P_TWO, _P_THREE, _P_FOUR, _P_M_ONE, _P_M_TWO, _P_HALF, _P_M_HALF, _P_GEN


cdef inline int _pow_kind(double e, bint allow_four) noexcept:
    if e == 0:
        return _P_ZERO
    if e == 1:
        return _P_ONE
    if e == 2:
        return _P_TWO
    if e == 3:
        return _P_THREE
    if e == 4 and allow_four:
        return _P_FOUR
    if e == -1:
        return _P_M_ONE
    if e == -2:
        return _P_M_TWO
    if e == 0.5:
        return _P_HALF
    if e == -0.5:
        return _P_M_HALF
    return _P_GEN


@cython.cdivision(True)
cdef void _k_pow_scalar(const real* a, int kind, real e, real* o, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef real x
    cdef real one = 1
    if kind == _P_ZERO:          # torch: pow(x, 0) == 1 even for nan
        for i in range(n):
            o[i] = one
    elif kind == _P_ONE:
        for i in range(n):
            o[i] = a[i]
    elif kind == _P_TWO:
        for i in range(n):
            x = a[i]
            o[i] = x * x
    elif kind == _P_THREE:
        for i in range(n):
            x = a[i]
            o[i] = x * x * x
    elif kind == _P_FOUR:
        for i in range(n):
            x = a[i]
            x = x * x
            o[i] = x * x
    elif kind == _P_M_ONE:
        for i in range(n):
            o[i] = one / a[i]
    elif kind == _P_M_TWO:
        for i in range(n):
            x = a[i]
            o[i] = one / (x * x)
    elif kind == _P_HALF:        # sqrt: sqrt(-0.0) = -0.0, sqrt(-inf) = nan (as torch)
        for i in range(n):
            if real is float:
                o[i] = c_sqrtf(a[i])
            else:
                o[i] = c_sqrt(a[i])
    elif kind == _P_M_HALF:
        for i in range(n):
            if real is float:
                o[i] = one / c_sqrtf(a[i])
            else:
                o[i] = one / c_sqrt(a[i])
    else:
        for i in range(n):
            if real is float:
                o[i] = c_powf(a[i], e)
            else:
                o[i] = c_pow(a[i], e)


@cython.cdivision(True)
cdef void _k_pow_scalar_bw(const real* g, const real* a, int kind, real e, real em1, real* o,
                           Py_ssize_t n, bint acc) noexcept nogil:
    # torch: grad * (e * x.pow(e - 1)), and exactly 0 when e == 0.  `kind` is the fast path of
    # x.pow(e - 1) (torch's own fast paths: no e-1 == 4).
    cdef Py_ssize_t i
    cdef real x
    cdef real one = 1
    cdef real zero = 0
    if kind == -1:               # e == 0
        for i in range(n):
            _st(o, i, zero, acc)
    elif kind == _P_ZERO:        # e == 1: pow(x, 0) == 1
        for i in range(n):
            _st(o, i, g[i] * e, acc)
    elif kind == _P_ONE:         # e == 2
        for i in range(n):
            _st(o, i, g[i] * (e * a[i]), acc)
    elif kind == _P_TWO:
        for i in range(n):
            x = a[i]
            _st(o, i, g[i] * (e * (x * x)), acc)
    elif kind == _P_THREE:
        for i in range(n):
            x = a[i]
            _st(o, i, g[i] * (e * (x * x * x)), acc)
    elif kind == _P_M_ONE:
        for i in range(n):
            _st(o, i, g[i] * (e * (one / a[i])), acc)
    elif kind == _P_M_TWO:
        for i in range(n):
            x = a[i]
            _st(o, i, g[i] * (e * (one / (x * x))), acc)
    elif kind == _P_HALF:
        for i in range(n):
            if real is float:
                _st(o, i, g[i] * (e * c_sqrtf(a[i])), acc)
            else:
                _st(o, i, g[i] * (e * c_sqrt(a[i])), acc)
    elif kind == _P_M_HALF:
        for i in range(n):
            if real is float:
                _st(o, i, g[i] * (e * (one / c_sqrtf(a[i]))), acc)
            else:
                _st(o, i, g[i] * (e * (one / c_sqrt(a[i]))), acc)
    else:
        for i in range(n):
            if real is float:
                _st(o, i, g[i] * (e * c_powf(a[i], em1)), acc)
            else:
                _st(o, i, g[i] * (e * c_pow(a[i], em1)), acc)


cdef void _k_pow_scalar_bw_g1(real gv, const real* a, int kind, real e, real em1, real* o,
                              Py_ssize_t n, bint acc) noexcept nogil:
    # one gradient value for every element: blocks of a small buffer filled with it feed the
    # vectorized loop above (same arithmetic, same bits as a materialized gradient)
    cdef real gbuf[512]
    cdef Py_ssize_t i, k, m
    for i in range(512):
        gbuf[i] = gv
    k = 0
    while k < n:
        m = n - k if n - k < 512 else 512
        _k_pow_scalar_bw(gbuf, a + k, kind, e, em1, o + k, m, acc)
        k += m


# ---- backward loops --------------------------------------------------------------------------

cdef void _k_scale(const real* g, real alpha, real* o, Py_ssize_t n, bint acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        _st(o, i, g[i] * alpha, acc)


@cython.cdivision(True)
cdef void _k_div_scalar_bw(const real* g, real s, real* o, Py_ssize_t n,
                           bint acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        _st(o, i, g[i] / s, acc)


cdef void _k_mul_bw(const real* g, const real* b, real* o, Py_ssize_t n,
                    bint acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        _st(o, i, g[i] * b[i], acc)


@cython.cdivision(True)
cdef void _k_div_bw_a(const real* g, const real* b, real* o, Py_ssize_t n,
                      bint acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        _st(o, i, g[i] / b[i], acc)


@cython.cdivision(True)
cdef void _k_div_bw_b(const real* g, const real* a, const real* b, real* o, Py_ssize_t n,
                      bint acc) noexcept nogil:
    # torch: -grad * ((a / b) / b)   (no b*b: that would overflow/underflow needlessly)
    cdef Py_ssize_t i
    cdef real bi
    for i in range(n):
        bi = b[i]
        _st(o, i, -g[i] * ((a[i] / bi) / bi), acc)


@cython.cdivision(True)
cdef void _k_rdiv_scalar_bw(const real* g, const real* a, real s, real* o, Py_ssize_t n,
                            bint acc) noexcept nogil:
    # torch: s / a == a.reciprocal() * s, so grad = -(g * s) * (r * r) with r = 1 / a
    cdef Py_ssize_t i
    cdef real r
    cdef real one = 1
    for i in range(n):
        r = one / a[i]
        _st(o, i, -(g[i] * s) * (r * r), acc)


cdef void _k_pow_bw_base(const real* g, const real* x, const real* e, real* o, Py_ssize_t n,
                         bint acc) noexcept nogil:
    # torch: where(e == 0, 0, g * (e * x.pow(e - 1)))
    cdef Py_ssize_t i
    cdef real ei, r
    cdef real one = 1
    for i in range(n):
        ei = e[i]
        if real is float:
            r = g[i] * (ei * c_powf(x[i], ei - one))
        else:
            r = g[i] * (ei * c_pow(x[i], ei - one))
        if ei == 0:
            r = 0
        _st(o, i, r, acc)


cdef void _k_pow_bw_exp(const real* g, const real* x, const real* e, const real* y, real* o,
                        Py_ssize_t n, bint acc) noexcept nogil:
    # torch: g * where((x == 0) & (e >= 0), 0, y * log(x))
    cdef Py_ssize_t i
    cdef real xi, t
    for i in range(n):
        xi = x[i]
        if real is float:
            t = y[i] * c_logf(xi)
        else:
            t = y[i] * c_log(xi)
        if xi == 0 and e[i] >= 0:
            t = 0
        _st(o, i, g[i] * t, acc)


cdef void _k_rpow_scalar_bw(const real* g, const real* y, real lb, real* o, Py_ssize_t n,
                            bint acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        _st(o, i, g[i] * (y[i] * lb), acc)


cdef void _k_fill(real v, real* o, Py_ssize_t n, bint acc) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        _st(o, i, v, acc)


cdef void _k_relu_bw(const real* g, const real* y, real* o, Py_ssize_t n,
                     bint acc) noexcept nogil:
    # torch threshold_backward: y <= 0 ? 0 : g   (so a nan y lets g through)
    # (two explicit loops: with the `acc` test inside, gcc does not if-convert the select)
    cdef Py_ssize_t i
    cdef real gi
    cdef real zero = 0
    if acc:
        for i in range(n):
            gi = g[i]            # unconditional load, so gcc can if-convert and vectorize
            o[i] = o[i] + (zero if y[i] <= 0 else gi)
    else:
        for i in range(n):
            gi = g[i]
            o[i] = zero if y[i] <= 0 else gi


# ---- reduction: csrc/pairwise_sum.h (pairwise over leaves of 2048, 8 double accumulators) ----
# float32: groups of 4 elements are added in float first (the conversions bound the loop); the
# error stays <= 2 * 2**-24 * sum(|a|) (torch / numpy accumulate whole blocks in float32).  A
# group of 4 values near the float32 maximum can overflow to inf.

cdef extern from "pairwise_sum.h" nogil:
    double sum_f32(const float* p, Py_ssize_t n)
    double sum_f64(const double* p, Py_ssize_t n)


cdef inline double _k_sum(const real* p, Py_ssize_t n) noexcept nogil:
    if real is float:
        return sum_f32(p, n)
    else:
        return sum_f64(p, n)


# --------------------------------------------------------------------------------------------
# Python entry points
# --------------------------------------------------------------------------------------------

# Each entry point: validate with the GIL (raising on any problem), take the raw pointers,
# release the GIL (large arrays only), run the loop for the dtype, re-acquire.

ctypedef cnp.ndarray arr

# ---- forward: binary ---------------------------------------------------------------------

def add(arr a not None, arr b not None, arr out=None):
    """add(a, b, out): out = a + b"""
    cdef int t = _first(a, _NEED_IN, b"add", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(b, t, n, _NEED_IN, b"add", b"b", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"add", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_add(_f(a), _f(b), _f(out), n)
    else:
        _k_add(_d(a), _d(b), _d(out), n)
    _restore(ts)
    return out


def sub(arr a not None, arr b not None, arr out=None):
    """sub(a, b, out): out = a - b"""
    cdef int t = _first(a, _NEED_IN, b"sub", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(b, t, n, _NEED_IN, b"sub", b"b", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"sub", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_sub(_f(a), _f(b), _f(out), n)
    else:
        _k_sub(_d(a), _d(b), _d(out), n)
    _restore(ts)
    return out


def mul(arr a not None, arr b not None, arr out=None):
    """mul(a, b, out): out = a * b"""
    cdef int t = _first(a, _NEED_IN, b"mul", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(b, t, n, _NEED_IN, b"mul", b"b", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"mul", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_mul(_f(a), _f(b), _f(out), n)
    else:
        _k_mul(_d(a), _d(b), _d(out), n)
    _restore(ts)
    return out


def div(arr a not None, arr b not None, arr out=None):
    """div(a, b, out): out = a / b  (IEEE: x/0 = +-inf, 0/0 = nan)"""
    cdef int t = _first(a, _NEED_IN, b"div", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(b, t, n, _NEED_IN, b"div", b"b", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"div", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_div(_f(a), _f(b), _f(out), n)
    else:
        _k_div(_d(a), _d(b), _d(out), n)
    _restore(ts)
    return out


def pow(arr a not None, arr b not None, arr out=None):
    """pow(a, b, out): out = a ** b  (C pow/powf elementwise)"""
    cdef int t = _first(a, _NEED_IN, b"pow", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(b, t, n, _NEED_IN, b"pow", b"b", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"pow", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_pow(_f(a), _f(b), _f(out), n)
    else:
        _k_pow(_d(a), _d(b), _d(out), n)
    _restore(ts)
    return out


def fma_scalar(arr a not None, double s, arr c not None, arr out=None):
    """fma_scalar(a, s, c, out): out = a * s + c with ONE rounding (C99 fma/fmaf), as torch's CPU
    kernels compute add(alpha=), lerp_ and addcmul_ (used by the optimizers to match them)."""
    cdef int t = _first(a, _NEED_IN, b"fma_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(c, t, n, _NEED_IN, b"fma_scalar", b"c", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"fma_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_fma_scalar(_f(a), <float>s, _f(c), _f(out), n)
    else:
        _k_fma_scalar(_d(a), s, _d(c), _d(out), n)
    _restore(ts)
    return out


def add_scaled(arr a not None, arr b not None, double alpha, arr out=None):
    """add_scaled(a, b, alpha, out): out = a + alpha * b  (torch.add(a, b, alpha=alpha))"""
    cdef int t = _first(a, _NEED_IN, b"add_scaled", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if _same(b, t, n, _NEED_IN, b"add_scaled", b"b", b"a", out is None) < 0:
        return None
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"add_scaled", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_add_scaled(_f(a), _f(b), <float>alpha, _f(out), n)
    else:
        _k_add_scaled(_d(a), _d(b), alpha, _d(out), n)
    _restore(ts)
    return out


# ---- forward: array and scalar -----------------------------------------------------------

def add_scalar(arr a not None, double s, arr out=None):
    """add_scalar(a, s, out): out = a + s"""
    cdef int t = _first(a, _NEED_IN, b"add_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"add_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_add_scalar(_f(a), <float>s, _f(out), n)
    else:
        _k_add_scalar(_d(a), s, _d(out), n)
    _restore(ts)
    return out


def mul_scalar(arr a not None, double s, arr out=None):
    """mul_scalar(a, s, out): out = a * s"""
    cdef int t = _first(a, _NEED_IN, b"mul_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"mul_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_scale(_f(a), <float>s, _f(out), n, False)  # the same a*s loop (gcc vectorizes it better)
    else:
        _k_scale(_d(a), s, _d(out), n, False)
    _restore(ts)
    return out


def div_scalar(arr a not None, double s, arr out=None):
    """div_scalar(a, s, out): out = a / s  (a true division, as torch does for tensor / number)"""
    cdef int t = _first(a, _NEED_IN, b"div_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"div_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_div_scalar(_f(a), <float>s, _f(out), n)
    else:
        _k_div_scalar(_d(a), s, _d(out), n)
    _restore(ts)
    return out


def rsub_scalar(arr a not None, double s, arr out=None):
    """rsub_scalar(a, s, out): out = s - a"""
    cdef int t = _first(a, _NEED_IN, b"rsub_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"rsub_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_rsub_scalar(_f(a), <float>s, _f(out), n)
    else:
        _k_rsub_scalar(_d(a), s, _d(out), n)
    _restore(ts)
    return out


def rdiv_scalar(arr a not None, double s, arr out=None):
    """rdiv_scalar(a, s, out): out = s / a, computed as torch does: (1 / a) * s"""
    cdef int t = _first(a, _NEED_IN, b"rdiv_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"rdiv_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_rdiv_scalar(_f(a), <float>s, _f(out), n)
    else:
        _k_rdiv_scalar(_d(a), s, _d(out), n)
    _restore(ts)
    return out


def neg(arr a not None, arr out=None):
    """neg(a, out): out = -a"""
    cdef int t = _first(a, _NEED_IN, b"neg", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"neg", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_neg(_f(a), _f(out), n)
    else:
        _k_neg(_d(a), _d(out), n)
    _restore(ts)
    return out


def expand(arr a not None, tuple shape):
    """expand(a, shape): a read-only view of the single value of `a` (size 1) with `shape` and all
    strides 0, sharing a's memory: the gradient of a sum/mean, broadcast without memory."""
    cdef Py_ssize_t nd = len(shape), i
    cdef npy_intp dims[64]
    cdef npy_intp strides[64]
    if cnp.PyArray_SIZE(a) != 1:
        raise ValueError(f"expand(): 'a' must have exactly one element, got {cnp.PyArray_SIZE(a)}")
    if nd > 64:
        raise ValueError("expand(): at most 64 dimensions")
    for i in range(nd):
        dims[i] = shape[i]
        if dims[i] < 0:
            raise ValueError("expand(): negative dimension")
        strides[i] = 0
    out = cnp.PyArray_New(_ndarray_type, <int>nd, dims, cnp.PyArray_TYPE(a), strides,
                          cnp.PyArray_DATA(a), 0, cnp.NPY_ARRAY_ALIGNED, None)
    cnp.set_array_base(out, a)
    return out


def bscalar(g):
    """bscalar(g): the single value of a broadcast array -- `g` an ndarray of at least one
    dimension and one element whose strides are all 0, as `expand` makes -- as a 0-d array
    sharing g's memory (read-only); None for anything else.  The backward of an op whose
    incoming gradient is one value everywhere (a sum's or mean's) computes on that value."""
    cdef cnp.ndarray a
    cdef int i, nd
    if type(g) is not _ndarray_type:
        return None
    a = <cnp.ndarray>g
    nd = cnp.PyArray_NDIM(a)
    if nd == 0 or cnp.PyArray_SIZE(a) == 0:
        return None
    for i in range(nd):
        if cnp.PyArray_STRIDES(a)[i] != 0:
            return None
    if not cnp.PyArray_ISNOTSWAPPED(a) or not cnp.PyArray_ISALIGNED(a):
        return None
    out = cnp.PyArray_New(_ndarray_type, 0, NULL, cnp.PyArray_TYPE(a), NULL,
                          cnp.PyArray_DATA(a), 0, cnp.NPY_ARRAY_ALIGNED, None)
    cnp.set_array_base(out, a)
    return out


def erf(arr a not None, arr out=None):
    """erf(a, out): out = erf(a)  (C99 erff/erf: numpy has no erf; used by gelu and torch.erf)"""
    cdef int t = _first(a, _NEED_IN, b"erf", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"erf", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_erf(_f(a), _f(out), n)
    else:
        _k_erf(_d(a), _d(out), n)
    _restore(ts)
    return out


def relu(arr a not None, arr out=None):
    """relu(a, out): out = a if not a < 0 else 0  (nan -> nan, -0.0 -> -0.0, as torch)"""
    cdef int t = _first(a, _NEED_IN, b"relu", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"relu", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_relu(_f(a), _f(out), n)
    else:
        _k_relu(_d(a), _d(out), n)
    _restore(ts)
    return out


def pow_scalar(arr a not None, double e, arr out=None):
    """pow_scalar(a, e, out): out = a ** e.

    Exact fast paths (no pow() call): e == 0 -> 1 (even for nan), 1 -> a, 2 -> a*a,
    3 -> a*a*a, 4 -> (a*a)*(a*a), -1 -> 1/a, -2 -> 1/(a*a), 0.5 -> sqrt(a),
    -0.5 -> 1/sqrt(a); other exponents call pow (powf for float32)."""
    cdef int t = _first(a, _NEED_IN, b"pow_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"pow_scalar", b"out", b"a", False)
    cdef int kind = _pow_kind(e, True)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_pow_scalar(_f(a), kind, <float>e, _f(out), n)
    else:
        _k_pow_scalar(_d(a), kind, e, _d(out), n)
    _restore(ts)
    return out


def rpow_scalar(double base, arr a not None, arr out=None):
    """rpow_scalar(base, a, out): out = base ** a  (exp2 for base 2, else pow/powf)"""
    cdef int t = _first(a, _NEED_IN, b"rpow_scalar", b"a", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    if out is None:
        out = _new_like(a, t)
    else:
        _same(out, t, n, _NEED_OUT, b"rpow_scalar", b"out", b"a", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_rpow_scalar(<float>base, _f(a), _f(out), n)
    else:
        _k_rpow_scalar(base, _d(a), _d(out), n)
    _restore(ts)
    return out


# ---- reductions ----------------------------------------------------------------------------

def sum(arr a not None):
    """sum(a) -> float: pairwise sum accumulated in double (csrc/pairwise_sum.h: leaves of 2048,
    8 accumulators; float32: groups of 4 elements summed in float32 first, error <= 2**-23 *
    sum(|a|))"""
    cdef int t = _first(a, _NEED_IN, b"sum", b"a", False)
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    cdef double r
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        r = _k_sum(_f(a), n)
    else:
        r = _k_sum(_d(a), n)
    _restore(ts)
    return r


@cython.cdivision(True)
def mean(arr a not None):
    """mean(a) -> float: sum(a) / size (nan for an empty array)"""
    cdef int t = _first(a, _NEED_IN, b"mean", b"a", False)
    cdef npy_intp n = cnp.PyArray_SIZE(a)
    cdef double r
    cdef double zero = 0.0
    if n == 0:
        return zero / zero
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        r = _k_sum(_f(a), n)
    else:
        r = _k_sum(_d(a), n)
    _restore(ts)
    return r / <double>n


# ---- backward ------------------------------------------------------------------------------

def scale(arr g not None, double alpha, arr out=None, bint accumulate=False):
    """scale(g, alpha, out, accumulate): out (+)= alpha * g"""
    cdef int t = _first(g, _NEED_IN, b"scale", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"scale", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_scale(_f(g), <float>alpha, _f(out), n, accumulate)
    else:
        _k_scale(_d(g), alpha, _d(out), n, accumulate)
    _restore(ts)
    return out


def div_scalar_backward(arr g not None, double s, arr out=None, bint accumulate=False):
    """div_scalar_backward(g, s, out, accumulate): out (+)= g / s  (grad of a / s w.r.t. a)"""
    cdef int t = _first(g, _NEED_IN, b"div_scalar_backward", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"div_scalar_backward", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_div_scalar_bw(_f(g), <float>s, _f(out), n, accumulate)
    else:
        _k_div_scalar_bw(_d(g), s, _d(out), n, accumulate)
    _restore(ts)
    return out


def mul_backward(arr g not None, arr other not None, arr out=None, bint accumulate=False):
    """mul_backward(g, other, out, accumulate): out (+)= g * other"""
    cdef int t = _first(g, _NEED_IN, b"mul_backward", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(other, t, n, _NEED_IN, b"mul_backward", b"other", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"mul_backward", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_mul_bw(_f(g), _f(other), _f(out), n, accumulate)
    else:
        _k_mul_bw(_d(g), _d(other), _d(out), n, accumulate)
    _restore(ts)
    return out


def div_backward_a(arr g not None, arr b not None, arr out=None, bint accumulate=False):
    """div_backward_a(g, b, out, accumulate): out (+)= g / b  (grad of a / b w.r.t. a)"""
    cdef int t = _first(g, _NEED_IN, b"div_backward_a", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(b, t, n, _NEED_IN, b"div_backward_a", b"b", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"div_backward_a", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_div_bw_a(_f(g), _f(b), _f(out), n, accumulate)
    else:
        _k_div_bw_a(_d(g), _d(b), _d(out), n, accumulate)
    _restore(ts)
    return out


def div_backward_b(arr g not None, arr a not None, arr b not None, arr out=None,
                   bint accumulate=False):
    """div_backward_b(g, a, b, out, accumulate): out (+)= -g * a / b**2  (grad of a / b w.r.t. b),
    computed as torch does: -g * ((a / b) / b)"""
    cdef int t = _first(g, _NEED_IN, b"div_backward_b", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(a, t, n, _NEED_IN, b"div_backward_b", b"a", b"g", out is None) < 0:
        return None
    if _same(b, t, n, _NEED_IN, b"div_backward_b", b"b", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"div_backward_b", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_div_bw_b(_f(g), _f(a), _f(b), _f(out), n, accumulate)
    else:
        _k_div_bw_b(_d(g), _d(a), _d(b), _d(out), n, accumulate)
    _restore(ts)
    return out


def rdiv_scalar_backward(arr g not None, arr a not None, double s, arr out=None,
                         bint accumulate=False):
    """rdiv_scalar_backward(g, a, s, out, accumulate): out (+)= -s * g / a**2
    (grad of s / a w.r.t. a), computed as torch does: -(g * s) * (r * r) with r = 1 / a"""
    cdef int t = _first(g, _NEED_IN, b"rdiv_scalar_backward", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(a, t, n, _NEED_IN, b"rdiv_scalar_backward", b"a", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"rdiv_scalar_backward", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_rdiv_scalar_bw(_f(g), _f(a), <float>s, _f(out), n, accumulate)
    else:
        _k_rdiv_scalar_bw(_d(g), _d(a), s, _d(out), n, accumulate)
    _restore(ts)
    return out


def pow_scalar_backward(arr g not None, arr x not None, double e, arr out=None,
                        bint accumulate=False):
    """pow_scalar_backward(g, x, e, out, accumulate): out (+)= g * (e * x ** (e - 1)),
    exactly 0 for e == 0; x ** (e - 1) uses torch's exact fast paths (1, x, x*x, x*x*x, 1/x,
    1/(x*x), sqrt, 1/sqrt) and pow otherwise.  g may also hold ONE value (size 1) used for
    every element: the broadcast gradient of a sum/mean, never materialized."""
    cdef int t = _first(g, _NEED_IN, b"pow_scalar_backward", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(x)
    cdef bint gscalar = cnp.PyArray_SIZE(g) == 1 and n != 1
    if gscalar:
        if _first(x, _NEED_IN, b"pow_scalar_backward", b"x", out is None) != t:
            if out is None:
                return None
            _same(x, t, n, _NEED_IN, b"pow_scalar_backward", b"x", b"g", False)
    else:
        n = cnp.PyArray_SIZE(g)
        if _same(x, t, n, _NEED_IN, b"pow_scalar_backward", b"x", b"g", out is None) < 0:
            return None
    if out is None:
        out = _new_like(x, t)
    else:
        _same(out, t, n, _NEED_OUT, b"pow_scalar_backward", b"out", b"x", False)
    cdef double em1 = e - 1.0
    cdef int kind = -1 if e == 0 else _pow_kind(em1, False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        if gscalar:
            _k_pow_scalar_bw_g1(_f(g)[0], _f(x), kind, <float>e, <float>em1, _f(out), n, accumulate)
        else:
            _k_pow_scalar_bw(_f(g), _f(x), kind, <float>e, <float>em1, _f(out), n, accumulate)
    else:
        if gscalar:
            _k_pow_scalar_bw_g1(_d(g)[0], _d(x), kind, e, em1, _d(out), n, accumulate)
        else:
            _k_pow_scalar_bw(_d(g), _d(x), kind, e, em1, _d(out), n, accumulate)
    _restore(ts)
    return out


def pow_backward_base(arr g not None, arr x not None, arr e not None, arr out=None,
                      bint accumulate=False):
    """pow_backward_base(g, x, e, out, accumulate): out (+)= g * (e * x ** (e - 1)),
    0 where e == 0 (grad of x ** e w.r.t. x, tensor exponent)"""
    cdef int t = _first(g, _NEED_IN, b"pow_backward_base", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(x, t, n, _NEED_IN, b"pow_backward_base", b"x", b"g", out is None) < 0:
        return None
    if _same(e, t, n, _NEED_IN, b"pow_backward_base", b"e", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"pow_backward_base", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_pow_bw_base(_f(g), _f(x), _f(e), _f(out), n, accumulate)
    else:
        _k_pow_bw_base(_d(g), _d(x), _d(e), _d(out), n, accumulate)
    _restore(ts)
    return out


def pow_backward_exp(arr g not None, arr x not None, arr e not None, arr y not None,
                     arr out=None, bint accumulate=False):
    """pow_backward_exp(g, x, e, y, out, accumulate): out (+)= g * (y * log(x)), with 0 in
    place of y * log(x) where x == 0 and e >= 0 (y = x ** e, the forward result)"""
    cdef int t = _first(g, _NEED_IN, b"pow_backward_exp", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(x, t, n, _NEED_IN, b"pow_backward_exp", b"x", b"g", out is None) < 0:
        return None
    if _same(e, t, n, _NEED_IN, b"pow_backward_exp", b"e", b"g", out is None) < 0:
        return None
    if _same(y, t, n, _NEED_IN, b"pow_backward_exp", b"y", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"pow_backward_exp", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_pow_bw_exp(_f(g), _f(x), _f(e), _f(y), _f(out), n, accumulate)
    else:
        _k_pow_bw_exp(_d(g), _d(x), _d(e), _d(y), _d(out), n, accumulate)
    _restore(ts)
    return out


def rpow_scalar_backward(arr g not None, arr y not None, double log_base, arr out=None,
                         bint accumulate=False):
    """rpow_scalar_backward(g, y, log_base, out, accumulate): out (+)= g * (y * log_base)
    (grad of base ** a w.r.t. a; y = base ** a, log_base = log(base))"""
    cdef int t = _first(g, _NEED_IN, b"rpow_scalar_backward", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(y, t, n, _NEED_IN, b"rpow_scalar_backward", b"y", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"rpow_scalar_backward", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_rpow_scalar_bw(_f(g), _f(y), <float>log_base, _f(out), n, accumulate)
    else:
        _k_rpow_scalar_bw(_d(g), _d(y), log_base, _d(out), n, accumulate)
    _restore(ts)
    return out


def fill(double v, arr out not None, bint accumulate):
    """fill(v, out, accumulate): out = v, or out += v (backward of sum/mean, no broadcast)"""
    cdef int t = _first(out, _NEED_OUT, b"fill", b"out", False)
    cdef npy_intp n = cnp.PyArray_SIZE(out)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_fill(<float>v, _f(out), n, accumulate)
    else:
        _k_fill(v, _d(out), n, accumulate)
    _restore(ts)
    return out


def relu_backward(arr g not None, arr y not None, arr out=None, bint accumulate=False):
    """relu_backward(g, y, out, accumulate): out (+)= (0 if y <= 0 else g), y = relu output
    (torch's threshold_backward: a nan y lets g through)"""
    cdef int t = _first(g, _NEED_IN, b"relu_backward", b"g", out is None)
    if t < 0:
        return None  # allocating call on arrays the kernel can't take
    cdef npy_intp n = cnp.PyArray_SIZE(g)
    if _same(y, t, n, _NEED_IN, b"relu_backward", b"y", b"g", out is None) < 0:
        return None
    if out is None:
        out = _new_like(g, t)
    else:
        _same(out, t, n, _NEED_OUT, b"relu_backward", b"out", b"g", False)
    cdef PyThreadState* ts = _release(n)
    if t == cnp.NPY_FLOAT:
        _k_relu_bw(_f(g), _f(y), _f(out), n, accumulate)
    else:
        _k_relu_bw(_d(g), _d(y), _d(out), n, accumulate)
    _restore(ts)
    return out
