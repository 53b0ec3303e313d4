"""Shared helpers for the core's tests: oracles and side-by-side comparison with PyTorch.

Three oracles, in the order the tests lean on them:
  * numpy: forward values are recomputed with numpy in float64 from the same inputs;
  * finite differences: ``pyautodiff.autograd.gradcheck`` (float64 central differences);
  * PyTorch 2.13, when importable: values, gradients, dtypes, grad_fn names, error types and
    error texts.  Every use goes through ``torch_or_skip()`` (or the ``torch`` fixture), so the
    suite passes -- with those tests skipped -- where torch is not installed.
"""
import contextlib
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import pyautodiff as pad

# hypothesis budget: small shapes, few examples -- the whole core suite must stay well under 60 s
SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])


def torch_or_skip():
    """The real torch module, or skip the calling test (the suite must pass without torch)."""
    return pytest.importorskip("torch")


@pytest.fixture
def torch():
    return torch_or_skip()


# ------------------------------------------------------------------------------------ data
def rng(seed=0):
    return np.random.default_rng(seed)


def rand(shape, seed=0, low=-2.0, high=2.0, dtype=np.float64, away_from=None, margin=0.1):
    """Random float array; `away_from` keeps every value at least `margin` from that point
    (for relu's kink, division by values near 0, log near 0 ...)."""
    a = rng(seed).uniform(low, high, size=shape)
    if away_from is not None:
        close = np.abs(a - away_from) < margin
        a[close] = away_from + np.where(a[close] >= away_from, margin, -margin) * 2
    return np.asarray(a, dtype=dtype)


def leaf(arr, requires_grad=True):
    """A pyautodiff leaf holding a copy of `arr` (float64 unless arr says otherwise)."""
    return pad.tensor(np.array(arr), requires_grad=requires_grad)


def tleaf(torch, arr, requires_grad=True):
    """The same for torch."""
    return torch.tensor(np.array(arr), requires_grad=requires_grad)


def np_of(t):
    """Values of a pyautodiff or torch tensor as a fresh numpy array."""
    return np.array(t.detach().numpy(), copy=True)


# ------------------------------------------------------------------------------ assertions
def assert_values(t, expected, rtol=1e-12, atol=1e-12, dtype=None):
    """A pyautodiff tensor has `expected`'s shape and values (and dtype, if given)."""
    assert isinstance(t, pad.Tensor), type(t)
    exp = np.asarray(expected)
    assert tuple(t.shape) == exp.shape, (tuple(t.shape), exp.shape)
    if dtype is not None:
        assert t.dtype is dtype, (t.dtype, dtype)
    np.testing.assert_allclose(np_of(t), exp, rtol=rtol, atol=atol, equal_nan=True)


def assert_gradcheck(fn, *arrays, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Finite differences (float64) agree with backward for fn(*leaves)."""
    leaves = [leaf(np.asarray(a, dtype=np.float64)) for a in arrays]
    assert pad.autograd.gradcheck(fn, tuple(leaves), eps=eps, atol=atol, rtol=rtol) is True


def torch_name(s):
    """pyautodiff prints its own module name where torch prints "torch."."""
    return s.replace("pyautodiff.", "torch.")


def grad_fn_name(t):
    return None if t.grad_fn is None else type(t.grad_fn).__name__


@contextlib.contextmanager
def no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def outcome(fn):
    """('ok', result) or ('err', exception type name, message) of calling fn()."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ("ok", fn())
    except Exception as e:  # noqa: BLE001  (any error is part of the outcome)
        return ("err", type(e).__name__, torch_name(str(e)))


def same_error(pad_fn, torch_fn, message=True):
    """Both raise; same exception type and (if message) the same text modulo the module name."""
    p, t = outcome(pad_fn), outcome(torch_fn)
    assert p[0] == "err", f"pyautodiff did not raise; torch: {t}"
    assert t[0] == "err", f"torch did not raise ({t}); the test's premise is wrong"
    assert p[1] == t[1], (p, t)
    if message:
        assert p[2] == t[2], f"\npyautodiff: {p[2]}\ntorch:      {t[2]}"


def normalize_repr(s):
    """Strip addresses from reprs like <AddBackward0 object at 0x7f...>."""
    return re.sub(r" at 0x[0-9a-f]+", " at 0x", torch_name(s))


def check_vs_torch(torch, fn, *arrays, rtol=1e-10, atol=1e-12, grad_seed=99, names=True):
    """Run fn(module, *leaves) with pyautodiff and with torch on the same float arrays; compare
    the forward values, dtypes, the grad_fn name, and the gradients of every input for a
    random upstream gradient."""
    p = [leaf(a) for a in arrays]
    t = [tleaf(torch, a) for a in arrays]
    po, to = fn(pad, *p), fn(torch, *t)
    assert tuple(po.shape) == tuple(to.shape)
    assert torch_name(str(po.dtype)) == str(to.dtype)
    np.testing.assert_allclose(np_of(po), np_of(to), rtol=rtol, atol=atol, equal_nan=True)
    if names:
        assert grad_fn_name(po) == grad_fn_name(to)
    up = rand(tuple(to.shape), seed=grad_seed)
    po.backward(pad.tensor(up.astype(np_of(po).dtype)))
    to.backward(torch.tensor(up.astype(np_of(to).dtype)))
    for i, (a, b) in enumerate(zip(p, t)):
        if b.grad is None:
            assert a.grad is None, f"input {i}: torch has no gradient"
            continue
        assert a.grad is not None, f"input {i}: no gradient"
        assert tuple(a.grad.shape) == tuple(b.grad.shape)
        assert a.grad.dtype is a.dtype
        np.testing.assert_allclose(np_of(a.grad), np_of(b.grad), rtol=rtol, atol=atol, equal_nan=True,
                                   err_msg=f"gradient of input {i}")
    return po, to
