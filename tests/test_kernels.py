"""Tests of the compiled kernels (pyautodiff._kernels) against numpy, without torch.

The oracle computes every kernel's formula in float64 from the (dtype-rounded) inputs and
rounds the result to the array dtype.  For a single IEEE operation (+ - * / sqrt) that is the
exactly rounded float32/float64 result, so those kernels must match bit for bit; compound
formulas must match within a few ulps of the magnitudes involved.  Special values (torch's
semantics for pow fast paths, relu, the pow gradients) are checked against hard-coded tables
that were taken from torch.
"""
import importlib.util
import inspect
import math
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pyautodiff import _kernels as K

F32, F64 = np.float32, np.float64
DTYPES = [F32, F64]
NAN, INF = float("nan"), float("inf")

SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# sizes: odd small sizes, block boundaries of the pairwise sum, and sizes past the
# GIL-release threshold (K.NOGIL_MIN_SIZE)
SIZES = st.one_of(st.integers(1, 67),
                  st.sampled_from([0, 128, 129, 1000, K.NOGIL_MIN_SIZE, 5003]))


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------

def values(rng, n, dt, kind="any", special=False):
    """Random values of dtype dt.

    kind 'any': mix of uniform(-10, 10) and signed log-uniform magnitudes e^U(-20, 20) (so
    products of three values stay inside float32's range); 'small': magnitudes e^U(-4, 4)
    (bases of pow with array exponents); 'expo': exponents in [-3, 3] with many integers.
    special: about 10% of the elements become nan, +-inf, +-0.0."""
    if kind == "any":
        u = rng.uniform(-10, 10, n)
        w = np.exp(rng.uniform(-20, 20, n)) * rng.choice([-1.0, 1.0], n)
        x = np.where(rng.random(n) < 0.5, u, w)
    elif kind == "small":
        x = np.exp(rng.uniform(-4, 4, n)) * np.where(rng.random(n) < 0.8, 1.0, -1.0)
    elif kind == "expo":
        x = np.where(rng.random(n) < 0.4, rng.integers(-3, 4, n), rng.uniform(-3, 3, n))
    else:  # pragma: no cover
        raise ValueError(kind)
    if special and n:
        mask = rng.random(n) < 0.1
        x[mask] = rng.choice([NAN, INF, -INF, 0.0, -0.0], int(mask.sum()))
    return np.ascontiguousarray(x, dtype=dt)


def s_of(dt, s):
    """A scalar as the kernel sees it: cast to the array dtype, back in float64."""
    return float(dt(s)) if dt is F32 else float(s)


def check(got, want64, dt, ulps=0, scale=None):
    """got (dtype dt) against want64 (float64).  ulps == 0: bit-exact after rounding want64 to
    dt (nan matches nan).  Otherwise: same nan / inf pattern, and finite values within
    ulps * eps(dt) * scale (scale defaults to |want|; pass the magnitudes of the terms of a sum
    that may cancel), plus a tiny atol for underflow."""
    assert got.dtype == dt
    want = np.asarray(want64, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        want_dt = want.astype(dt)
    got = np.asarray(got).reshape(want.shape)
    if ulps == 0:
        np.testing.assert_array_equal(got, want_dt)
        return
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want_dt), err_msg="nan pattern")
    fin = np.isfinite(want_dt)
    np.testing.assert_array_equal(got[~fin], want_dt[~fin], err_msg="inf pattern")
    eps = np.finfo(dt).eps
    sc = np.abs(want) if scale is None else np.maximum(np.abs(want), np.asarray(scale))
    tol = ulps * eps * sc + np.finfo(dt).tiny * 4
    with np.errstate(invalid="ignore"):
        err = np.abs(got.astype(np.float64) - want)
    bad = fin & ~(err <= tol)
    assert not bad.any(), (f"max err {err[bad].max()} > tol at {np.flatnonzero(bad)[:5]}: "
                           f"got {got[bad][:5]}, want {want[bad][:5]}")


# --------------------------------------------------------------------------------------------
# kernel table: name -> (input array names and their value kinds, scalar names and sampled
# values, accumulate?, float64 oracle, ulps (0 = exact), scale function or None)
# --------------------------------------------------------------------------------------------

def _pow_scalar_ref(a, e):
    if e == 0.5:
        return np.sqrt(a)
    if e == -0.5:
        return 1.0 / np.sqrt(a)
    return np.power(a, e)


def _pow_scalar_bw_ref(g, x, e):
    if e == 0:
        return np.zeros_like(x)
    return g * e * _pow_scalar_ref(x, e - 1)


EXPONENTS = [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, -0.5, 1.5, -3.0, 0.3, 2.5, 7.0, -1.7]
SCALARS = [0.0, 1.0, -1.0, 2.0, 0.1, -3.5, 1e3, 1.0 / 3.0, 7.25e-4]
BASES = [2.0, 0.5, 10.0, 1.0, 3.7, math.e, 0.0, -2.0]

A = ("a", "any")
B = ("b", "any")
G = ("g", "any")

KERNELS = {
    # forward
    "add": ([A, B], [], False, lambda a, b: a + b, 0, None),
    "sub": ([A, B], [], False, lambda a, b: a - b, 0, None),
    "mul": ([A, B], [], False, lambda a, b: a * b, 0, None),
    "div": ([A, B], [], False, lambda a, b: a / b, 0, None),
    "pow": ([("a", "small"), ("b", "expo")], [], False, lambda a, b: np.power(a, b), 2, None),
    "add_scaled": ([A, B], [("alpha", SCALARS)], False, lambda a, b, alpha: a + alpha * b, 2,
                   lambda a, b, alpha: np.abs(a) + np.abs(alpha * b)),
    "add_scalar": ([A], [("s", SCALARS)], False, lambda a, s: a + s, 0, None),
    "mul_scalar": ([A], [("s", SCALARS)], False, lambda a, s: a * s, 0, None),
    "div_scalar": ([A], [("s", SCALARS)], False, lambda a, s: a / s, 0, None),
    "rsub_scalar": ([A], [("s", SCALARS)], False, lambda a, s: s - a, 0, None),
    "rdiv_scalar": ([A], [("s", SCALARS)], False, lambda a, s: s / a, 3, None),
    "neg": ([A], [], False, lambda a: -a, 0, None),
    "relu": ([A], [], False, lambda a: np.where(a < 0, 0.0, a), 0, None),
    "pow_scalar": ([A], [("e", EXPONENTS)], False, _pow_scalar_ref, 4, None),
    "rpow_scalar": ([("a", "expo")], [("base", BASES)], False,
                    lambda a, base: np.power(base, a), 2, None),
    # backward
    "scale": ([G], [("alpha", SCALARS)], True, lambda g, alpha: alpha * g, 0, None),
    "div_scalar_backward": ([G], [("s", SCALARS)], True, lambda g, s: g / s, 0, None),
    "mul_backward": ([G, ("other", "any")], [], True, lambda g, other: g * other, 0, None),
    "div_backward_a": ([G, B], [], True, lambda g, b: g / b, 0, None),
    "div_backward_b": ([G, A, B], [], True, lambda g, a, b: -g * a / (b * b), 4, None),
    "rdiv_scalar_backward": ([G, A], [("s", SCALARS)], True,
                             lambda g, a, s: -s * g / (a * a), 5, None),
    # x "small": x ** (e - 1) must not overflow where g * e * x ** (e - 1) would not
    "pow_scalar_backward": ([G, ("x", "small")], [("e", EXPONENTS)], True,
                            _pow_scalar_bw_ref, 5, None),
    # (e - 1 is an array op, rounded to the dtype, as in torch)
    "pow_backward_base": ([G, ("x", "small"), ("e", "expo")], [], True,
                          lambda g, x, e, rnd: np.where(e == 0, 0.0,
                                                        g * e * np.power(x, rnd(e - 1))),
                          4, None),
    "pow_backward_exp": ([G, ("x", "small"), ("e", "expo"), ("y", "pow:x,e")], [], True,
                         lambda g, x, e, y: g * np.where((x == 0) & (e >= 0), 0.0,
                                                         y * np.log(x)), 3, None),
    "rpow_scalar_backward": ([G, ("y", "any")], [("log_base", [0.0, math.log(2), -1.5, 2.3])],
                             True, lambda g, y, log_base: g * y * log_base, 3, None),
    "fill": ([], [("v", SCALARS + [NAN, INF])], True, None, 0, None),
    "relu_backward": ([G, ("y", "any")], [], True,
                      lambda g, y: np.where(y <= 0, 0.0, g), 0, None),
}

# positional order of each kernel's arguments (array names, scalar names, "out", "acc")
SIGNATURES = {
    "add": "a b out", "sub": "a b out", "mul": "a b out", "div": "a b out", "pow": "a b out",
    "add_scaled": "a b alpha out", "add_scalar": "a s out", "mul_scalar": "a s out",
    "div_scalar": "a s out", "rsub_scalar": "a s out", "rdiv_scalar": "a s out",
    "neg": "a out", "relu": "a out", "pow_scalar": "a e out", "rpow_scalar": "base a out",
    "scale": "g alpha out acc", "div_scalar_backward": "g s out acc",
    "mul_backward": "g other out acc", "div_backward_a": "g b out acc",
    "div_backward_b": "g a b out acc", "rdiv_scalar_backward": "g a s out acc",
    "pow_scalar_backward": "g x e out acc", "pow_backward_base": "g x e out acc",
    "pow_backward_exp": "g x e y out acc", "rpow_scalar_backward": "g y log_base out acc",
    "fill": "v out acc", "relu_backward": "g y out acc",
}
assert SIGNATURES.keys() == KERNELS.keys()


def call(name, arrays, scalars, out, acc=False):
    args = []
    for p in SIGNATURES[name].split():
        args.append(out if p == "out" else acc if p == "acc" else
                    arrays[p] if p in arrays else scalars[p])
    return getattr(K, name)(*args)


def make_inputs(name, dt, n, rng, special, shape=None):
    arrs, scal, *_ = KERNELS[name]
    arrays = {}
    for an, kind in arrs:
        if kind.startswith("pow:"):
            xn, en = kind[4:].split(",")
            with np.errstate(all="ignore"):
                arrays[an] = np.power(arrays[xn], arrays[en])
        else:
            arrays[an] = values(rng, n, dt, kind, special)
    scalars = {sn: pool[rng.integers(len(pool))] for sn, pool in scal}
    if shape is not None:
        arrays = {k: v.reshape(shape) for k, v in arrays.items()}
    return arrays, scalars


def expected(name, dt, arrays, scalars):
    """float64 result and scale (or None)."""
    _, _, _, ref, _, scale = KERNELS[name]
    a64 = {k: v.astype(np.float64) for k, v in arrays.items()}
    s64 = {k: s_of(dt, v) for k, v in scalars.items()}
    with np.errstate(all="ignore"):
        if name == "fill":
            raise AssertionError("fill has its own test")
        if "rnd" in inspect.signature(ref).parameters:
            s64["rnd"] = lambda v: v.astype(dt).astype(np.float64)
        want = ref(**a64, **s64)
        sc = None if scale is None else scale(**a64, **s64)
    return np.asarray(want, dtype=np.float64), sc


NON_FILL = [k for k in KERNELS if k != "fill"]


# --------------------------------------------------------------------------------------------
# values
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NON_FILL)
@SETTINGS
@given(dt=st.sampled_from(DTYPES), n=SIZES, seed=st.integers(0, 2**32 - 1),
       special=st.booleans(), acc=st.booleans())
def test_kernel_values(name, dt, n, seed, special, acc):
    rng = np.random.default_rng(seed)
    arrays, scalars = make_inputs(name, dt, n, rng, special)
    has_acc, ulps = KERNELS[name][2], KERNELS[name][4]
    want, sc = expected(name, dt, arrays, scalars)
    out0 = values(rng, n, dt, "any", special)
    out = out0.copy()
    if has_acc and acc:
        assert call(name, arrays, scalars, out, True) is out
        # r is computed in dt, then added: want = out0 + round(r)
        with np.errstate(all="ignore"):
            r_dt = want.astype(dt).astype(np.float64)
            total = out0.astype(np.float64) + r_dt
        # out0 + r is one more rounding (and may cancel), so compare relative to the terms
        check(out, total, dt, max(ulps, 1) + 1,
              scale=np.abs(out0.astype(np.float64)) + np.abs(want))
    else:
        assert call(name, arrays, scalars, out, False) is out
        check(out, want, dt, ulps, sc)
    for k, v in arrays.items():  # inputs are never written
        assert v.dtype == dt


@SETTINGS
@given(dt=st.sampled_from(DTYPES), n=SIZES, v=st.sampled_from(SCALARS + [NAN, INF, 1e300]),
       seed=st.integers(0, 2**32 - 1))
def test_fill(dt, n, v, seed):
    out0 = values(np.random.default_rng(seed), n, dt)
    out = out0.copy()
    K.fill(v, out, False)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(out, np.full(n, dt(v), dt))
    out = out0.copy()
    K.fill(v, out, True)
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(out, out0 + dt(v))


@pytest.mark.parametrize("name", NON_FILL)
@pytest.mark.parametrize("dt", DTYPES)
def test_shapes_are_flat(name, dt):
    """Shapes do not matter, only sizes: a (3, 5) array against flat arrays of 15."""
    rng = np.random.default_rng(1)
    arrays, scalars = make_inputs(name, dt, 15, rng, False)
    out_flat = np.empty(15, dt)
    call(name, arrays, scalars, out_flat)
    arrays2 = {k: v.reshape(3, 5) if i % 2 == 0 else v
               for i, (k, v) in enumerate(arrays.items())}
    out2 = np.empty((5, 3), dt)
    call(name, arrays2, scalars, out2)
    np.testing.assert_array_equal(out2.ravel(), out_flat)


# --------------------------------------------------------------------------------------------
# aliasing, zero-size, 0-d
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NON_FILL)
@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [1, 7, 64, 1001, 5000])
def test_out_aliases_an_input(name, dt, n):
    rng = np.random.default_rng(n)
    arrays, scalars = make_inputs(name, dt, n, rng, True)
    has_acc = KERNELS[name][2]
    for acc in ([False, True] if has_acc else [False]):
        for alias in arrays:
            base_out = arrays[alias].copy()
            ref = base_out.copy()
            call(name, arrays, scalars, ref, acc)          # out separate (holding a copy)
            arrs = {k: v.copy() for k, v in arrays.items()}
            call(name, arrs, scalars, arrs[alias], acc)    # out IS the input
            np.testing.assert_array_equal(arrs[alias], ref, err_msg=f"out is {alias}")


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dt", DTYPES)
def test_zero_size_and_0d(name, dt):
    rng = np.random.default_rng(0)
    for shape in [(0,), (3, 0), (0, 0, 2)]:
        arrays, scalars = make_inputs(name, dt, 0, rng, False, shape=shape)
        out = np.empty(shape, dt)
        call(name, arrays, scalars, out, True)
        call(name, arrays, scalars, out, False)
    # 0-d arrays behave as size 1
    arrays, scalars = make_inputs(name, dt, 1, rng, False)
    out1 = np.full(1, 0.5, dt)
    call(name, arrays, scalars, out1, True)
    arrays0 = {k: v.reshape(()) for k, v in arrays.items()}
    out0 = np.full((), 0.5, dt)
    call(name, arrays0, scalars, out0, True)
    np.testing.assert_array_equal(out0.reshape(1), out1)


@pytest.mark.parametrize("dt", DTYPES)
def test_reductions_small_cases(dt):
    assert K.sum(np.zeros(0, dt)) == 0.0
    assert math.isnan(K.mean(np.zeros(0, dt)))
    assert math.isnan(K.mean(np.zeros((2, 0), dt)))
    assert K.sum(np.array(2.5, dt)) == 2.5 and K.mean(np.array(2.5, dt)) == 2.5
    assert type(K.sum(np.ones(3, dt))) is float and type(K.mean(np.ones(3, dt))) is float
    assert math.isnan(K.sum(np.array([1, NAN, 2], dt)))
    assert K.sum(np.array([1, INF, 2], dt)) == INF
    assert math.isnan(K.sum(np.array([INF, -INF], dt)))
    assert K.mean(np.arange(10, dtype=dt).reshape(2, 5)) == 4.5
    # accumulated in double: float32 values whose float32 sum would overflow
    big = np.full(4, 3e38, F32)
    if dt is F32:
        assert K.sum(big) == pytest.approx(4 * float(F32(3e38)))


@SETTINGS
@given(dt=st.sampled_from(DTYPES), n=SIZES, seed=st.integers(0, 2**32 - 1),
       special=st.booleans())
def test_sum_mean_values(dt, n, seed, special):
    a = values(np.random.default_rng(seed), n, dt, "any", special)
    a64 = a.astype(np.float64)
    s, m = K.sum(a), K.mean(a)
    if np.isnan(a64).any() or (np.isposinf(a64).any() and np.isneginf(a64).any()):
        assert math.isnan(s) and (n == 0 or math.isnan(m))
        return
    if np.isinf(a64).any():
        assert s == a64.sum() and m == s / n
        return
    want = math.fsum(a64.tolist())
    # float64: double accumulation; float32: groups of 4 summed in float32 first (2 roundings)
    tol = (1e-14 if dt == F64 else 2.0**-23) * np.abs(a64).sum() + 1e-300
    assert abs(s - want) <= tol
    if n:
        assert abs(m - want / n) <= tol / n + 1e-15 * abs(want / n)
    else:
        assert math.isnan(m)


def test_float32_sum_accuracy_1e7():
    """A float32 sum/mean of 10^7 elements agrees with float64 to 1e-6 relative, where a naive
    float32 running sum is far off (so this test can fail)."""
    n = 10**7
    a = np.full(n, 0.1, dtype=F32)
    a[0] = 3.0e4                                  # offset: the running sum's ulp grows early
    exact = float(a.astype(np.float64).sum())     # the float64 result (of the float32 values)
    naive = float(np.cumsum(a, dtype=F32)[-1])    # sequential float32 accumulation
    assert abs(naive - exact) / exact > 1e-3      # the naive method fails badly
    s = K.sum(a)
    assert abs(s - exact) / exact < 1e-6
    assert abs(K.mean(a) - exact / n) / (exact / n) < 1e-6
    # float64: pairwise sum vs the exactly rounded sum
    b = np.random.default_rng(5).standard_normal(10**6) + 10.0
    assert abs(K.sum(b) - math.fsum(b.tolist())) <= 1e-15 * np.abs(b).sum()


# --------------------------------------------------------------------------------------------
# special values (expected values taken from torch 2.x)
# --------------------------------------------------------------------------------------------

X7 = [NAN, -0.0, 0.0, -INF, INF, -1.0, 2.0]
POW_TABLE = {
    0: [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
    1: [NAN, -0.0, 0.0, -INF, INF, -1.0, 2.0],
    2: [NAN, 0.0, 0.0, INF, INF, 1.0, 4.0],
    3: [NAN, -0.0, 0.0, -INF, INF, -1.0, 8.0],
    4: [NAN, 0.0, 0.0, INF, INF, 1.0, 16.0],
    -1: [NAN, -INF, INF, -0.0, 0.0, -1.0, 0.5],
    -2: [NAN, INF, INF, 0.0, 0.0, 1.0, 0.25],
    0.5: [NAN, -0.0, 0.0, NAN, INF, NAN, math.sqrt(2)],
    -0.5: [NAN, -INF, INF, NAN, 0.0, NAN, 1 / math.sqrt(2)],
    1.5: [NAN, 0.0, 0.0, INF, INF, NAN, 2 * math.sqrt(2)],
}

X5 = [NAN, -0.0, 0.0, -1.0, 2.0]
POW_GRAD_TABLE = {  # d/dx x**e with g = 1
    0: [0.0, 0.0, 0.0, 0.0, 0.0],
    1: [1.0, 1.0, 1.0, 1.0, 1.0],
    2: [NAN, -0.0, 0.0, -2.0, 4.0],
    3: [NAN, 0.0, 0.0, 3.0, 12.0],
    0.5: [NAN, -INF, INF, NAN, 0.5 / math.sqrt(2)],
    -0.5: [NAN, -INF, -INF, NAN, -0.25 / math.sqrt(2)],
    -1: [NAN, -INF, -INF, -1.0, -0.25],
    -2: [NAN, INF, -INF, 2.0, -0.25],
    4: [NAN, -0.0, 0.0, -4.0, 32.0],
}


def assert_same(got, want, dt):
    """nan, inf and the sign of zeros exactly; finite values within 2 ulps (the table's values
    are written as Python expressions, rounded differently from the kernels' formulas)."""
    want = np.array(want, dtype=dt)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg="nan pattern")
    ok = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[ok]), np.signbit(want[ok]), err_msg="signs")
    np.testing.assert_allclose(got[ok], want[ok], rtol=2 * np.finfo(dt).eps, atol=0)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("e", list(POW_TABLE))
def test_pow_scalar_special_values(dt, e):
    x = np.array(X7, dt)
    out = np.empty_like(x)
    K.pow_scalar(x, e, out)
    assert_same(out, POW_TABLE[e], dt)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("e", list(POW_GRAD_TABLE))
def test_pow_scalar_backward_special_values(dt, e):
    x = np.array(X5, dt)
    out = np.full_like(x, 7.0)
    K.pow_scalar_backward(np.ones_like(x), x, e, out, False)
    assert_same(out, POW_GRAD_TABLE[e], dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_tensor_pow_gradients_special_values(dt):
    x = np.array([0., 0., -0., 0., -1., 2., NAN, 3., -2., INF, 0.5], dt)
    e = np.array([0., 2., 2., -1., 0.5, 0., 1., NAN, 3., -1., INF], dt)
    g = np.array([INF, 1., 1., 1., 1., NAN, 1., 1., 2., 1., 1.], dt)
    y = np.empty_like(x)
    K.pow(x, e, y)
    assert_same(y, [1., 0., 0., INF, NAN, 1., NAN, NAN, -8., 0., 0.], dt)
    gx = np.empty_like(x)
    K.pow_backward_base(g, x, e, gx, False)
    assert_same(gx, [0., 0., -0., -INF, NAN, 0., 1., NAN, 24., -0., NAN], dt)
    ge = np.empty_like(x)
    K.pow_backward_exp(g, x, e, y, ge, False)
    assert_same(ge, [NAN, 0., 0., -INF, NAN, NAN, NAN, NAN, NAN, NAN, -0.], dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_relu_special_values(dt):
    x = np.array(X7, dt)
    out = np.empty_like(x)
    K.relu(x, out)
    assert_same(out, [NAN, -0.0, 0.0, 0.0, INF, 0.0, 2.0], dt)
    y = np.array([-1.0, 0.0, 0.0, 1.0, NAN], dt)
    g = np.array([1.0, 1.0, INF, 1.0, 1.0], dt)
    K.relu_backward(g, y, out[:5], False)
    assert_same(out[:5], [0.0, 0.0, 0.0, 1.0, 1.0], dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_division_semantics(dt):
    a = np.array([1.0, -1.0, 0.0, INF, 3.0], dt)
    b = np.array([0.0, 0.0, 0.0, INF, 7.0], dt)
    out = np.empty_like(a)
    K.div(a, b, out)
    assert_same(out, [INF, -INF, NAN, NAN, dt(3.0) / dt(7.0)], dt)
    K.div_scalar(a, 0.0, out)
    assert_same(out, [INF, -INF, NAN, INF, INF], dt)
    # s / a is computed as torch does: (1 / a) * s
    K.rdiv_scalar(np.array([7.0, 0.0, -0.0, INF], dt), 3.0, out[:4])
    assert_same(out[:4], [(dt(1) / dt(7)) * dt(3), INF, -INF, 0.0], dt)
    K.rdiv_scalar_backward(np.ones(4, dt), np.array([0.5, -1.0, INF, 0.0], dt), 3.0,
                           out[:4], False)
    assert_same(out[:4], [-12.0, -3.0, -0.0, -INF], dt)


@pytest.mark.parametrize("dt", DTYPES)
def test_float32_scalars_are_cast_first(dt):
    a = np.array([1.0, 3.0], dt)
    out = np.empty_like(a)
    K.mul_scalar(a, 0.1, out)
    np.testing.assert_array_equal(out, a * dt(0.1))
    K.add_scalar(a, 1e-9, out)
    np.testing.assert_array_equal(out, a + dt(1e-9))
    K.rpow_scalar(2.0, np.array([0.5, 10.0], dt), out)
    np.testing.assert_allclose(out, np.array([math.sqrt(2), 1024.0], dt),
                               rtol=2 * np.finfo(dt).eps)
    assert out[1] == 1024.0
    K.rpow_scalar(1.0, np.array([NAN, INF], dt), out)
    np.testing.assert_array_equal(out, [1.0, 1.0])


# --------------------------------------------------------------------------------------------
# errors: raised before any loop, never a crash
# --------------------------------------------------------------------------------------------

def _bad_variants(dt, n):
    """(label, array builder, expected exception) for one array argument."""
    other = F64 if dt is F32 else F32
    ro = np.ones(n, dt)
    ro.flags.writeable = False
    buf = np.zeros(n * np.dtype(dt).itemsize + 1, np.uint8)
    unaligned = np.frombuffer(buf.data, dtype=dt, count=n, offset=1)
    return [
        ("mixed dtype", np.ones(n, other), TypeError),
        ("int64", np.ones(n, np.int64), TypeError),
        ("int32", np.ones(n, np.int32), TypeError),
        ("float16", np.ones(n, np.float16), TypeError),
        ("bool", np.ones(n, bool), TypeError),
        ("complex", np.ones(n, np.complex128), TypeError),
        ("byteswapped", np.ones(n, np.dtype(dt).newbyteorder()), TypeError),
        ("list", [1.0] * n, TypeError),
        ("None", None, TypeError),
        ("float", 1.0, TypeError),
        ("non-contiguous", np.ones(2 * n, dt)[::2], ValueError),
        ("fortran", np.ones((n // 2, 2), dt, order="F"), ValueError),
        ("size mismatch", np.ones(n + 1, dt), ValueError),
        ("unaligned", unaligned, ValueError),
        ("read-only", ro, None),  # ValueError only as `out`
    ]


@pytest.mark.parametrize("name", list(KERNELS))
@pytest.mark.parametrize("dt", DTYPES)
def test_invalid_arguments_raise(name, dt):
    """Each array argument in turn replaced by a bad one: the expected exception, nothing
    written to `out`, no crash."""
    n = 6
    rng = np.random.default_rng(0)
    arrays, scalars = make_inputs(name, dt, n, rng, False)
    out = np.zeros(n, dt)
    call(name, arrays, scalars, out)  # the valid call works
    snapshot = out.copy()
    only_out = not arrays              # fill: `out` is the only array, any float dtype/size is ok
    for slot in list(arrays) + ["out"]:
        for label, bad, exc in _bad_variants(dt, n):
            if label == "read-only":
                if slot != "out":
                    continue           # read-only inputs are fine
                exc = ValueError
            if only_out and label in ("mixed dtype", "size mismatch"):
                continue
            if slot == "out" and label == "None" and not only_out:
                continue           # out=None is the allocating call (tested below)
            arrs, o = dict(arrays), out
            if slot == "out":
                o = bad
            else:
                arrs[slot] = bad
            with pytest.raises(exc) as info:
                call(name, arrs, scalars, o)
            msg = str(info.value)
            assert f"{name}()" in msg or "Argument" in msg, (slot, label, msg)
    np.testing.assert_array_equal(out, snapshot)
    # a read-only input is fine
    if arrays:
        first = next(iter(arrays))
        ro = arrays[first].copy()
        ro.flags.writeable = False
        call(name, {**arrays, first: ro}, scalars, out)
        np.testing.assert_array_equal(out, snapshot)


def test_error_messages_are_clear():
    a = np.ones(3, F32)
    with pytest.raises(TypeError, match=r"add\(\): argument 'a' must be a float32 or float64"):
        K.add(np.ones(3, np.int64), a, a)
    with pytest.raises(TypeError, match=r"same dtype.*'a' is float32 and 'b' is float64"):
        K.add(a, np.ones(3), a)
    with pytest.raises(ValueError, match=r"'b' must be C-contiguous"):
        K.mul(a, np.ones(6, F32)[::2], a)
    with pytest.raises(ValueError, match=r"size mismatch: 'g' has 3 elements but 'out' has 4"):
        K.scale(a, 2.0, np.ones(4, F32), False)
    ro = np.ones(3, F32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match=r"'out' is read-only"):
        K.neg(a, ro)
    with pytest.raises(TypeError):
        K.sum([1.0, 2.0])
    with pytest.raises(TypeError):
        K.fill(1.0, np.ones(3, np.int64), False)
    with pytest.raises(ValueError, match="read-only"):
        K.fill(1.0, ro, False)
    with pytest.raises(TypeError):
        K.add_scalar(a, "x", a)
    with pytest.raises(TypeError):
        K.add(a)  # missing argument


def test_api_version():
    assert isinstance(K.API_VERSION, int) and K.API_VERSION >= 1


def _load_C_with(monkeypatch, fake):
    """Execute pyautodiff/_C.py afresh with `pyautodiff._kernels` replaced by `fake`."""
    import pyautodiff
    path = pyautodiff.__path__[0] + "/_C.py"
    monkeypatch.setenv("PYAUTODIFF_NO_AVX2", "1")  # K is then the (fake) baseline module
    if fake is None:
        monkeypatch.delattr(pyautodiff, "_kernels", raising=False)
        monkeypatch.setitem(sys.modules, "pyautodiff._kernels", None)
    else:
        monkeypatch.setattr(pyautodiff, "_kernels", fake)
        monkeypatch.setitem(sys.modules, "pyautodiff._kernels", fake)
    spec = importlib.util.spec_from_file_location("pyautodiff._C_probe", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_C_module_reexports_kernels(monkeypatch):
    mod = _load_C_with(monkeypatch, K)
    assert mod.K is K and mod.API_VERSION == K.API_VERSION


def test_C_module_missing_or_stale_extension(monkeypatch):
    import types
    with pytest.raises(ImportError, match=r"could not be imported.*pip install \.") as info:
        _load_C_with(monkeypatch, None)
    assert "build_ext --inplace" in str(info.value)
    monkeypatch.undo()
    stale = types.ModuleType("pyautodiff._kernels")
    stale.API_VERSION = -1
    stale.__file__ = "/somewhere/_kernels.so"
    with pytest.raises(ImportError, match=r"stale \(API_VERSION -1, expected .*pip install \."):
        _load_C_with(monkeypatch, stale)


@pytest.mark.parametrize("name", NON_FILL)
@pytest.mark.parametrize("dt", DTYPES)
def test_allocating_call_matches_explicit_out(name, dt):
    """out omitted: the kernel allocates, returns the result shaped like its first array, and
    computes exactly what the explicit-out call computes."""
    rng = np.random.default_rng(1)
    arrays, scalars = make_inputs(name, dt, 12, rng, False, shape=(3, 4))
    out = np.empty((3, 4), dt)
    call(name, arrays, scalars, out, False)
    args = []
    for p in SIGNATURES[name].split():
        if p == "out":
            break
        args.append(arrays[p] if p in arrays else scalars[p])
    got = getattr(K, name)(*args)
    assert isinstance(got, np.ndarray) and got.shape == (3, 4) and got.dtype == dt
    assert got.flags.c_contiguous and got.flags.owndata
    np.testing.assert_array_equal(got, out)


@pytest.mark.parametrize("dt", DTYPES)
def test_allocating_call_returns_none_for_arrays_it_cannot_take(dt):
    """Allocating calls never raise for unsuitable arrays: they return None (numpy fallback)."""
    a = np.ones(6, dt)
    other = F64 if dt is F32 else F32
    assert K.add_scalar(np.ones(6, np.int64), 1.0) is None
    assert K.add_scalar(np.ones(12, dt)[::2], 1.0) is None
    assert K.mul(a, np.ones(6, other)) is None
    assert K.mul(a, np.ones(7, dt)) is None
    assert K.neg(np.ones((2, 3), dt, order="F")) is None
    assert K.mul_backward(a, np.ones(6, bool)) is None
    # explicit out keeps raising
    with pytest.raises(TypeError):
        K.add_scalar(np.ones(6, np.int64), 1.0, a)


@pytest.mark.parametrize("dt", DTYPES)
def test_fma_scalar_rounds_once(dt):
    """out = a*s + c with one rounding: compared with the exact product-sum rounded once."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal(1003).astype(dt)
    c = rng.standard_normal(1003).astype(dt)
    s = 0.37
    got = K.fma_scalar(a, s, c)
    if dt is F32:  # float64 holds the float32 product exactly: one rounding of the exact value
        want = (a.astype(np.float64) * np.float64(np.float32(s)) + c.astype(np.float64)).astype(F32)
        np.testing.assert_array_equal(got, want)
        two_roundings = a * np.float32(s) + c
        assert not np.array_equal(got, two_roundings)  # the test can tell the two apart
    else:
        np.testing.assert_allclose(got, a * s + c, rtol=1e-15, atol=1e-15)
    out = c.copy()
    assert K.fma_scalar(a, s, out, out) is out  # in place over c
    np.testing.assert_array_equal(out, got)


def test_expand_is_a_zero_stride_read_only_view():
    v = np.array(0.25, F32)
    e = K.expand(v, (3, 5))
    assert e.shape == (3, 5) and e.strides == (0, 0) and e.base is v
    assert not e.flags.writeable
    np.testing.assert_array_equal(e, np.full((3, 5), 0.25, F32))
    assert K.expand(np.array([7.0]), ()).shape == ()
    assert K.expand(v, (0, 4)).size == 0
    with pytest.raises(ValueError):
        K.expand(np.ones(2, F32), (3,))
    with pytest.raises(ValueError):
        K.expand(v, (-1,))


@pytest.mark.parametrize("dt", DTYPES)
def test_bscalar_is_the_one_value_of_a_broadcast(dt):
    v = np.array(-1.5, dt)
    for shape in [(7,), (3, 5), (1,), (2, 1, 4)]:
        b = K.bscalar(K.expand(v, shape))
        assert b.shape == () and b.dtype == dt and b == -1.5
        assert not b.flags.writeable and np.shares_memory(b, v)
        b2 = K.bscalar(np.broadcast_to(v, shape))  # numpy's own broadcasts count too
        assert b2.shape == () and b2 == -1.5
    # anything else: None (not an error) -- dense arrays, 0-d, empty, non-arrays
    for x in [np.ones(3, dt), np.ones((2, 2), dt)[:, :1], np.array(2.0, dt),
              np.broadcast_to(v, (0, 3)), np.ones(1, dt), 3.0, None, [1.0]]:
        assert K.bscalar(x) is None
    # a mixed-stride broadcast (a row repeated) is not one value
    assert K.bscalar(np.broadcast_to(np.arange(3, dtype=dt), (4, 3))) is None


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("e", [0.0, 1.0, 2.0, 3.0, -1.0, 0.5, 2.5])
@pytest.mark.parametrize("acc", [False, True])
def test_pow_scalar_backward_with_one_value_gradient(dt, e, acc):
    """g of size 1 stands for that value everywhere: the same bits as a materialized g."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0.1, 3, 37).astype(dt)
    gv = np.array(rng.standard_normal(), dt)
    base = rng.standard_normal(37).astype(dt)
    want, got = base.copy(), base.copy()
    K.pow_scalar_backward(np.full(37, gv, dt), x, e, want, acc)
    assert K.pow_scalar_backward(gv, x, e, got, acc) is got
    np.testing.assert_array_equal(got, want)
    if not acc:
        np.testing.assert_array_equal(K.pow_scalar_backward(gv.reshape(1), x, e), want)
    assert K.pow_scalar_backward(gv, x.astype(np.float64 if dt is F32 else F32), e) is None
