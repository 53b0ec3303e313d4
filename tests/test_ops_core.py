"""Every core op: forward values against numpy, gradients against float64 finite differences
(pyautodiff.autograd.gradcheck), on random shapes including broadcasting; and, where PyTorch is
installed, values, gradients and grad_fn names against torch side by side."""
import math
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import pyautodiff as pad
from _oracle import (SETTINGS, assert_gradcheck, assert_values, check_vs_torch, grad_fn_name, leaf,
                     np_of, rand, same_error, tleaf, torch)  # noqa: F401  (torch is a fixture)

SHAPES = st.lists(st.integers(1, 3), min_size=0, max_size=3).map(tuple)
PAIRS = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3)
SEEDS = st.integers(0, 2 ** 16)

# ------------------------------------------------------------------------------------------------
# binary ops: name -> (f(T, a, b), numpy reference, domain of a, domain of b)
POS = dict(low=0.5, high=2.0)
NONZERO = dict(away_from=0.0, margin=0.3)
ANY = {}
BINARY = {
    "add": (lambda T, a, b: a + b, np.add, ANY, ANY),
    "add_fn": (lambda T, a, b: T.add(a, b), np.add, ANY, ANY),
    "add_alpha": (lambda T, a, b: T.add(a, b, alpha=2.5), lambda a, b: a + 2.5 * b, ANY, ANY),
    "sub": (lambda T, a, b: a - b, np.subtract, ANY, ANY),
    "sub_alpha": (lambda T, a, b: a.sub(b, alpha=-0.5), lambda a, b: a + 0.5 * b, ANY, ANY),
    "mul": (lambda T, a, b: a * b, np.multiply, ANY, ANY),
    "mul_fn": (lambda T, a, b: T.mul(a, b), np.multiply, ANY, ANY),
    "div": (lambda T, a, b: a / b, np.true_divide, ANY, NONZERO),
    "div_fn": (lambda T, a, b: T.div(a, b), np.true_divide, ANY, NONZERO),
    "pow": (lambda T, a, b: a ** b, np.power, POS, ANY),
    "pow_fn": (lambda T, a, b: T.pow(a, b), np.power, POS, ANY),
}


@pytest.mark.parametrize("op", list(BINARY))
@SETTINGS
@given(shapes=PAIRS, seed=SEEDS)
def test_binary_broadcast_values_and_gradcheck(op, shapes, seed):
    f, ref, da, db = BINARY[op]
    (sa, sb), out_shape = shapes
    a, b = rand(sa, seed, **da), rand(sb, seed + 1, **db)
    x, y = leaf(a), leaf(b)
    out = f(pad, x, y)
    assert_values(out, ref(a, b), rtol=1e-12, dtype=pad.float64)
    assert tuple(out.shape) == out_shape
    assert out.requires_grad and not out.is_leaf
    # gradients are summed back to each input's own shape
    out.backward(pad.ones(out_shape, dtype=pad.float64))
    assert tuple(x.grad.shape) == sa and tuple(y.grad.shape) == sb
    assert_gradcheck(lambda p, q: f(pad, p, q), a, b)


@pytest.mark.parametrize("op", list(BINARY))
@pytest.mark.parametrize("sa,sb", [((2, 3), (2, 3)), ((2, 3), (3,)), ((3, 1), (1, 4)), ((), (2, 2)),
                                   ((2, 1, 3), (4, 1)), ((1,), ())])
def test_binary_vs_torch(torch, op, sa, sb):
    f, _, da, db = BINARY[op]
    check_vs_torch(torch, f, rand(sa, 3, **da), rand(sb, 4, **db))


def test_binary_broadcast_error_matches_torch(torch):
    for f in (lambda T: T.ones(2, 3) + T.ones(3, 2), lambda T: T.ones(4) * T.ones(3),
              lambda T: T.ones(2, 3, 4) - T.ones(5, 4), lambda T: T.ones(2) / T.ones(3, 1, 5)):
        same_error(lambda: f(pad), lambda: f(torch))


# ------------------------------------------------------------------------------------------------
# tensor (op) scalar and scalar (op) tensor, including the reflected forms
SCALAR = {
    "t+s": (lambda T, a: a + 1.5, lambda a: a + 1.5, ANY),
    "s+t": (lambda T, a: 1.5 + a, lambda a: 1.5 + a, ANY),
    "t+int": (lambda T, a: a + 2, lambda a: a + 2, ANY),
    "t-s": (lambda T, a: a - 0.25, lambda a: a - 0.25, ANY),
    "s-t": (lambda T, a: 3 - a, lambda a: 3 - a, ANY),
    "t*s": (lambda T, a: a * -2.5, lambda a: a * -2.5, ANY),
    "s*t": (lambda T, a: 4 * a, lambda a: 4 * a, ANY),
    "t/s": (lambda T, a: a / 4.0, lambda a: a / 4.0, ANY),
    "s/t": (lambda T, a: 2 / a, lambda a: 2 / a, NONZERO),
    "t**2": (lambda T, a: a ** 2, lambda a: a ** 2, ANY),
    "t**3": (lambda T, a: a ** 3, lambda a: a ** 3, ANY),
    "t**-1": (lambda T, a: a ** -1, lambda a: a ** -1.0, NONZERO),
    "t**-2": (lambda T, a: a ** -2, lambda a: a ** -2.0, NONZERO),
    "t**0.5": (lambda T, a: a ** 0.5, np.sqrt, POS),
    "t**0": (lambda T, a: a ** 0, lambda a: np.ones_like(a), ANY),
    "t**1": (lambda T, a: a ** 1, lambda a: a, ANY),
    "t**1.7": (lambda T, a: a ** 1.7, lambda a: a ** 1.7, POS),
    "t.pow(-0.5)": (lambda T, a: a.pow(-0.5), lambda a: a ** -0.5, POS),
    "2**t": (lambda T, a: 2 ** a, lambda a: 2.0 ** a, ANY),
    "0.5**t": (lambda T, a: 0.5 ** a, lambda a: 0.5 ** a, ANY),
    "e**t": (lambda T, a: math.e ** a, np.exp, ANY),
    "-t": (lambda T, a: -a, np.negative, ANY),
    "neg": (lambda T, a: T.neg(a), np.negative, ANY),
    "exp": (lambda T, a: a.exp(), np.exp, ANY),
    "T.exp": (lambda T, a: T.exp(a), np.exp, ANY),
    "log": (lambda T, a: a.log(), np.log, POS),
    "T.log": (lambda T, a: T.log(a), np.log, POS),
    "relu": (lambda T, a: a.relu(), lambda a: np.maximum(a, 0), NONZERO),
    "T.relu": (lambda T, a: T.relu(a), lambda a: np.maximum(a, 0), NONZERO),
    "clone": (lambda T, a: a.clone(), lambda a: a, ANY),
    "T.clone": (lambda T, a: T.clone(a), lambda a: a, ANY),
}


@pytest.mark.parametrize("op", list(SCALAR))
@SETTINGS
@given(shape=SHAPES, seed=SEEDS)
def test_unary_and_scalar_ops_values_and_gradcheck(op, shape, seed):
    f, ref, dom = SCALAR[op]
    a = rand(shape, seed, **dom)
    out = f(pad, leaf(a))
    assert_values(out, ref(a), rtol=1e-12, dtype=pad.float64)
    assert_gradcheck(lambda p: f(pad, p), a)


@pytest.mark.parametrize("op", list(SCALAR))
def test_unary_and_scalar_ops_vs_torch(torch, op):
    f, _, dom = SCALAR[op]
    check_vs_torch(torch, f, rand((3, 4), 5, **dom))
    check_vs_torch(torch, f, rand((), 6, **dom))


@pytest.mark.parametrize("op", list(SCALAR))
def test_float32_ops_keep_float32_and_match_numpy(op):
    """float32 contiguous inputs take the compiled kernels, transposed ones the numpy path: both
    agree with a float64 computation to float32 accuracy and stay float32 (values and grads)."""
    f, ref, dom = SCALAR[op]
    a64 = rand((5, 7), 11, **dom)
    a32 = a64.astype(np.float32)
    for x in (pad.tensor(a32, requires_grad=True), pad.tensor(a32.T.copy(), requires_grad=True).t()):
        out = f(pad, x)
        assert out.dtype is pad.float32
        assert_values(out, ref(a32.astype(np.float64)), rtol=2e-6, atol=1e-6)
    x = pad.tensor(a32, requires_grad=True)
    y = pad.tensor(a64.astype(np.float32).astype(np.float64), requires_grad=True)
    f(pad, x).sum().backward()
    f(pad, y).sum().backward()
    assert x.grad.dtype is pad.float32
    np.testing.assert_allclose(np_of(x.grad), np_of(y.grad), rtol=1e-5, atol=1e-5)


POW_POINTS = np.array([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0])


@pytest.mark.parametrize("e", [2, 3, -1, -2, 0, 1, 0.5, -0.5, 2.5, 1.0, 2.0])
def test_pow_scalar_exponent_special_points_vs_torch(torch, e):
    """Including 0 and negative bases where the fast paths (x*x, 1/x, sqrt) must give torch's
    values, infs and nans, and torch's gradients (e.g. d/dx x**0 == 0 everywhere)."""
    for dt in (np.float64, np.float32):
        a = POW_POINTS.astype(dt)
        x, tx = pad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
        y, ty = x ** e, tx ** e
        np.testing.assert_allclose(np_of(y), np_of(ty), rtol=1e-6, equal_nan=True)
        y.sum().backward()
        ty.sum().backward()
        np.testing.assert_allclose(np_of(x.grad), np_of(tx.grad), rtol=1e-6, equal_nan=True)


@pytest.mark.parametrize("base", [2.0, 0.5, 1.0, 0.0, 3])
def test_pow_scalar_base_vs_torch(torch, base):
    a = POW_POINTS
    x, tx = pad.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)
    y, ty = base ** x, base ** tx
    assert grad_fn_name(y) == grad_fn_name(ty) == "PowBackward2"
    np.testing.assert_allclose(np_of(y), np_of(ty), rtol=1e-12, equal_nan=True)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(np_of(x.grad), np_of(tx.grad), rtol=1e-12, equal_nan=True)


def test_pow_tensor_exponent_at_zero_base_vs_torch(torch):
    a = np.array([0.0, 0.0, 0.0, 2.0, 0.5])
    b = np.array([0.0, 1.0, 2.0, 0.0, -1.0])
    check_vs_torch(torch, lambda T, x, y: x ** y, a, b)


def test_pow_grad_fn_variants():
    x = leaf(rand((3,), 1, **POS))
    assert grad_fn_name(x ** 2) == "PowBackward0"
    assert grad_fn_name(x ** x) == "PowBackward1"
    assert grad_fn_name(2 ** x) == "PowBackward2"
    assert grad_fn_name(x ** pad.tensor(2.0, dtype=pad.float64)) == "PowBackward1"


def test_mixed_dtype_binary_grads_keep_each_input_dtype():
    """float32 * float64 computes in float64; each input's .grad comes back in its own dtype."""
    a = pad.tensor(rand((2, 3), 1).astype(np.float32), requires_grad=True)
    b = pad.tensor(rand((3,), 2), requires_grad=True)
    out = a * b
    assert out.dtype is pad.float64
    out.sum().backward()
    assert a.grad.dtype is pad.float32 and b.grad.dtype is pad.float64
    np.testing.assert_allclose(np_of(a.grad), np.broadcast_to(np_of(b), (2, 3)), rtol=1e-6)
    np.testing.assert_allclose(np_of(b.grad), np_of(a).astype(np.float64).sum(0), rtol=1e-6)


def test_int_tensor_ops_match_numpy():
    a = np.array([[1, -2, 3], [4, 5, -6]], dtype=np.int64)
    b = np.array([2, 3, -1], dtype=np.int64)
    x, y = pad.tensor(a), pad.tensor(b)
    assert_values(x + y, a + b, dtype=pad.int64)
    assert_values(x - y, a - b, dtype=pad.int64)
    assert_values(x * y, a * b, dtype=pad.int64)
    assert_values(x / y, a / b, dtype=pad.float32, rtol=1e-6)
    assert_values(x ** 2, a ** 2, dtype=pad.int64)
    assert_values(-x, -a, dtype=pad.int64)
    assert_values(x.relu(), np.maximum(a, 0), dtype=pad.int64)
    assert_values(x.exp(), np.exp(a), dtype=pad.float32, rtol=1e-6)


# ------------------------------------------------------------------------------------------------
# reductions
@SETTINGS
@given(shape=SHAPES, seed=SEEDS, keepdim=st.booleans(), data=st.data())
def test_sum_mean_values_and_gradcheck(shape, seed, keepdim, data):
    a = rand(shape, seed)
    nd = len(shape)
    # full reductions
    assert_values(leaf(a).sum(), np.sum(a), rtol=1e-12)
    assert_values(leaf(a).mean(), np.mean(a), rtol=1e-12)
    assert_values(pad.sum(leaf(a)), np.sum(a), rtol=1e-12)
    assert_values(pad.mean(leaf(a)), np.mean(a), rtol=1e-12)
    assert_gradcheck(lambda x: x.sum(), a)
    assert_gradcheck(lambda x: x.mean(), a)
    if nd == 0:
        return
    # one dim (negative dims too) or a tuple of dims
    dims = data.draw(st.one_of(
        st.integers(-nd, nd - 1),
        st.lists(st.integers(0, nd - 1), min_size=1, max_size=nd, unique=True).map(tuple)))
    axis = dims
    assert_values(leaf(a).sum(dims, keepdim=keepdim), np.sum(a, axis=axis, keepdims=keepdim), rtol=1e-12)
    assert_values(leaf(a).mean(dim=dims, keepdim=keepdim), np.mean(a, axis=axis, keepdims=keepdim),
                  rtol=1e-12)
    assert_gradcheck(lambda x: x.sum(dims, keepdim), a)
    assert_gradcheck(lambda x: x.mean(dims, keepdim=keepdim), a)


@pytest.mark.parametrize("call", [
    lambda T, x: x.sum(), lambda T, x: x.mean(), lambda T, x: x.sum(0), lambda T, x: x.sum(-1),
    lambda T, x: x.sum(1, keepdim=True), lambda T, x: x.mean(0), lambda T, x: x.mean(-1, True),
    lambda T, x: x.sum((0, 2)), lambda T, x: x.mean([0, -1], keepdim=True), lambda T, x: T.sum(x, 1),
    lambda T, x: T.mean(x, dim=2), lambda T, x: x.sum(dim=(0, 1, 2)),
])
def test_reductions_vs_torch(torch, call):
    check_vs_torch(torch, call, rand((2, 3, 4), 7))


def test_reduction_of_int_and_bool_tensors():
    a = np.arange(12, dtype=np.int32).reshape(3, 4)
    assert_values(pad.tensor(a).sum(), a.sum(), dtype=pad.int64)
    assert_values(pad.tensor(a).sum(1), a.sum(1), dtype=pad.int64)
    m = a % 3 == 0
    assert_values(pad.tensor(m).sum(), m.sum(), dtype=pad.int64)
    assert_values(pad.tensor(a).sum(dtype=pad.float64), a.sum(), dtype=pad.float64)
    assert_values(pad.tensor(a).mean(dtype=pad.float64), a.mean(), dtype=pad.float64)
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        pad.tensor(a).mean()


def test_float32_sum_is_accurate():
    """A float32 sum of many elements agrees with float64 (no naive running float32 sum)."""
    a = rand((200_000,), 3, low=0.0, high=1.0).astype(np.float32)
    exact = a.astype(np.float64).sum()
    assert abs(pad.tensor(a).sum().item() - exact) / exact < 1e-6
    assert abs(pad.tensor(a).mean().item() - exact / a.size) / (exact / a.size) < 1e-6


def test_reduction_errors_match_torch(torch):
    for f in (lambda T: T.ones(2, 3).sum(2), lambda T: T.ones(2, 3).mean(-3),
              lambda T: T.ones(2, 3, dtype=T.int64).mean(), lambda T: T.ones(2, 3).sum((0, 0))):
        same_error(lambda: f(pad), lambda: f(torch))


def test_empty_reductions_vs_torch(torch):
    for f in (lambda T: T.ones(2, 0).sum(1), lambda T: T.ones(0).sum(), lambda T: T.ones(2, 0).mean(1),
              lambda T: T.ones(0, 3).mean(0)):
        np.testing.assert_array_equal(np_of(f(pad)), np_of(f(torch)))


# ------------------------------------------------------------------------------------------------
# matmul in all its forms
MATMUL_SHAPES = [
    ((3,), (3,)),            # dot
    ((2, 3), (3,)),          # mv
    ((2, 3), (3, 4)),        # mm
    ((3,), (3, 4)),          # vector @ matrix
    ((2, 2, 3), (2, 3, 4)),  # batched
    ((2, 2, 3), (3, 4)),     # batched @ matrix
    ((3,), (2, 3, 4)),       # vector @ batched
    ((2, 2, 3), (3,)),       # batched @ vector
    ((2, 1, 2, 3), (3, 3, 2)),  # broadcast batch dims
]


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_values_and_gradcheck(sa, sb):
    a, b = rand(sa, 1), rand(sb, 2)
    for f in (lambda x, y: x @ y, lambda x, y: pad.matmul(x, y), lambda x, y: x.matmul(y)):
        assert_values(f(leaf(a), leaf(b)), np.matmul(a, b), rtol=1e-12)
        assert_gradcheck(f, a, b)


@pytest.mark.parametrize("sa,sb", MATMUL_SHAPES)
def test_matmul_vs_torch(torch, sa, sb):
    # torch composes batched matmul from several nodes; compare the names for dot/mv/mm only
    check_vs_torch(torch, lambda T, x, y: x @ y, rand(sa, 1), rand(sb, 2), names=len(sa) + len(sb) <= 3
                   and len(sa) >= len(sb))


def test_mm_mv_dot_functions_and_names():
    a, b, v = rand((2, 3), 1), rand((3, 4), 2), rand((3,), 3)
    assert_values(pad.mm(leaf(a), leaf(b)), a @ b, rtol=1e-12)
    assert_values(leaf(a).mm(leaf(b)), a @ b, rtol=1e-12)
    assert_values(pad.mv(leaf(a), leaf(v)), a @ v, rtol=1e-12)
    assert_values(leaf(a).mv(leaf(v)), a @ v, rtol=1e-12)
    assert_values(pad.dot(leaf(v), leaf(v)), v @ v, rtol=1e-12)
    assert_values(leaf(v).dot(leaf(v)), v @ v, rtol=1e-12)
    assert grad_fn_name(leaf(a) @ leaf(b)) == "MmBackward0"
    assert grad_fn_name(leaf(a) @ leaf(v)) == "MvBackward0"
    assert grad_fn_name(leaf(v) @ leaf(v)) == "DotBackward0"
    assert_gradcheck(lambda x, y: pad.mm(x, y), a, b)
    assert_gradcheck(lambda x, y: pad.mv(x, y), a, v)
    assert_gradcheck(lambda x, y: pad.dot(x, y), v, v)


def test_matmul_one_side_requires_grad():
    a, b = leaf(rand((2, 3), 1)), leaf(rand((3, 4), 2), requires_grad=False)
    (a @ b).sum().backward()
    assert b.grad is None
    np.testing.assert_allclose(np_of(a.grad), np.ones((2, 4)) @ np_of(b).T, rtol=1e-12)


@pytest.mark.parametrize("f", [
    lambda T: T.ones(2, 3) @ T.ones(2, 3), lambda T: T.ones(2) @ T.ones(3), lambda T: T.ones(2, 3) @ T.ones(4),
    lambda T: T.ones(3) @ T.ones(2, 3), lambda T: T.tensor(3.) @ T.ones(3), lambda T: T.mm(T.ones(2), T.ones(2)),
    lambda T: T.ones(2, 3) @ T.ones(3, 2, dtype=T.float64),
])
def test_matmul_errors_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


@pytest.mark.parametrize("f", [
    lambda T: T.ones(2, 2, 3) @ T.ones(4, 3, 2),
    lambda T: T.ones(3, dtype=T.int64) @ T.ones(3),
])
def test_matmul_error_texts_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


# ------------------------------------------------------------------------------------------------
# shape ops
SHAPE_OPS = {
    "view": (lambda T, x: x.view(3, 2, 2), lambda a: a.reshape(3, 2, 2)),
    "view_infer": (lambda T, x: x.view(-1, 4), lambda a: a.reshape(-1, 4)),
    "view_tuple": (lambda T, x: x.view((12,)), lambda a: a.reshape(12)),
    "reshape": (lambda T, x: x.reshape(4, 3), lambda a: a.reshape(4, 3)),
    "T.reshape": (lambda T, x: T.reshape(x, (2, -1)), lambda a: a.reshape(2, -1)),
    "reshape_noncontig": (lambda T, x: x.transpose(0, 2).reshape(-1), lambda a: a.transpose(2, 1, 0).reshape(-1)),
    "view_as": (lambda T, x: x.view_as(T.ones(6, 2)), lambda a: a.reshape(6, 2)),
    "t": (lambda T, x: x[0].t(), lambda a: a[0].T),
    "T.t": (lambda T, x: T.t(x[0]), lambda a: a[0].T),
    "T2": (lambda T, x: x[0].T, lambda a: a[0].T),
    "T3": (lambda T, x: x.T, lambda a: a.transpose(2, 1, 0)),
    "mT": (lambda T, x: x.mT, lambda a: np.swapaxes(a, -1, -2)),
    "permute": (lambda T, x: x.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1)),
    "permute_tuple": (lambda T, x: x.permute((1, -1, 0)), lambda a: a.transpose(1, 2, 0)),
    "T.permute": (lambda T, x: T.permute(x, (2, 1, 0)), lambda a: a.transpose(2, 1, 0)),
    "transpose": (lambda T, x: x.transpose(0, 1), lambda a: a.swapaxes(0, 1)),
    "transpose_neg": (lambda T, x: x.transpose(-1, 0), lambda a: a.swapaxes(-1, 0)),
    "T.transpose": (lambda T, x: T.transpose(x, 1, 2), lambda a: a.swapaxes(1, 2)),
    "t_then_view": (lambda T, x: x[0].t().contiguous().view(-1), lambda a: a[0].T.reshape(-1)),
}


@pytest.mark.parametrize("op", list(SHAPE_OPS))
def test_shape_ops_values_and_gradcheck(op):
    f, ref = SHAPE_OPS[op]
    a = rand((2, 3, 2), 1)
    assert_values(f(pad, leaf(a)), ref(a), rtol=0)
    assert_gradcheck(lambda x: f(pad, x) * pad.tensor(rand(ref(a).shape, 9)), a)


@pytest.mark.parametrize("op", list(SHAPE_OPS))
def test_shape_ops_vs_torch(torch, op):
    f, _ = SHAPE_OPS[op]
    check_vs_torch(torch, f, rand((2, 3, 2), 1))


@pytest.mark.parametrize("op", ["view", "view_infer", "reshape", "t", "T2", "T3", "permute", "transpose", "mT"])
def test_shape_ops_are_views_sharing_memory(op):
    f, ref = SHAPE_OPS[op]
    a = rand((2, 3, 2), 1)
    x = pad.tensor(a)
    v = f(pad, x)
    with pad.no_grad():
        v.mul_(0.0)
    expected = a.copy()
    ref(expected)[...] = 0.0  # the numpy reference of these ops is a view too
    assert_values(x, expected, rtol=0)
    assert x._version[0] == v._version[0] == 1  # one version counter for the base and its views


def test_reshape_of_non_contiguous_copies_and_view_refuses(torch):
    for T in (pad, torch):
        x = T.arange(6.).view(2, 3).t()
        assert not x.is_contiguous()
        y = x.reshape(6)
        y[0] = 100.
        assert x[0, 0].item() == 0.0
        with pytest.raises(RuntimeError, match="view size is not compatible"):
            x.view(6)


@pytest.mark.parametrize("f", [
    lambda T: T.ones(6).view(4, -1), lambda T: T.ones(6).view(5), lambda T: T.ones(2).view(-1, -1),
    lambda T: T.ones(6).view(0, -1), lambda T: T.ones(2, 3, 4).t(), lambda T: T.ones(2, 3).transpose(0, 3),
    lambda T: T.ones(2, 3).t().view(6),
])
def test_shape_errors_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


@pytest.mark.parametrize("f", [
    lambda T: T.ones(2, 3).permute(0, 0), lambda T: T.ones(2, 3).permute(0, 1, 2),
    lambda T: T.ones(6).reshape(-2),
])
def test_shape_error_types_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch), message=False)


def test_shape_grad_fn_names_vs_torch(torch):
    for f in (lambda T, x: x.view(6), lambda T, x: x.reshape(3, 2), lambda T, x: x.t(), lambda T, x: x.T,
              lambda T, x: x.permute(1, 0), lambda T, x: x.transpose(0, 1), lambda T, x: x.t().reshape(6),
              lambda T, x: x.view(1, 2, 3).T):
        p, t = f(pad, leaf(rand((2, 3), 1))), f(torch, tleaf(torch, rand((2, 3), 1)))
        assert grad_fn_name(p) == grad_fn_name(t)


# ------------------------------------------------------------------------------------------------
# indexing
def _idx(T, spec):
    """Build an index from a spec whose tensors are made with module T."""
    if isinstance(spec, tuple):
        return tuple(_idx(T, s) for s in spec)
    if isinstance(spec, np.ndarray):
        return T.tensor(spec)
    return spec


def _np_idx(spec):
    if isinstance(spec, tuple):
        return tuple(_np_idx(s) for s in spec)
    return spec


A = np.array
INDICES = [
    0, -1, (1, 2), (0, -1, 1), slice(1, None), slice(None, None, 2), (slice(None), 1),
    (Ellipsis, 0), (0, Ellipsis), (None, 1), (slice(0, 1), None, Ellipsis), (Ellipsis, None),
    (1, slice(None), slice(1, 3)), slice(-2, None), (slice(None), slice(None), slice(None, None, 3)),
    A([1, 0, 1]), A([[0, 1], [1, 1]]), (slice(None), A([0, 2, 2])), (A([0, 1]), A([2, 0])),
    A([True, False]), A([[True, False, True], [False, False, True]]), (0, A([True, False, True])),
    (Ellipsis, A([3, 0])), [0, 1], (A([1]), slice(None), 0),
]


@pytest.mark.parametrize("spec", INDICES, ids=repr)
def test_getitem_values_and_gradcheck(spec):
    a = rand((2, 3, 4), 1)
    assert_values(leaf(a)[_idx(pad, spec)], a[_np_idx(spec)], rtol=0)
    assert_gradcheck(lambda x: x[_idx(pad, spec)] * 3.0, a)


@pytest.mark.parametrize("spec", INDICES, ids=repr)
def test_getitem_vs_torch(torch, spec):
    check_vs_torch(torch, lambda T, x: x[_idx(T, spec)], rand((2, 3, 4), 1))


def test_repeated_integer_indices_accumulate_gradients():
    x = leaf(np.arange(4.0))
    x[pad.tensor([0, 0, 3, 0])].sum().backward()
    np.testing.assert_array_equal(np_of(x.grad), [3.0, 0.0, 0.0, 1.0])


def test_basic_indexing_is_a_view_advanced_is_a_copy():
    x = pad.arange(12).view(3, 4)
    x[1][2] = 100
    x[0, 1:3].fill_(-1)
    x[2, 0].add_(50)           # a 0-d view too
    x[pad.tensor([0])].fill_(7)  # a copy: no effect
    x[x > 1000] = 0             # boolean mask setitem
    expected = np.arange(12).reshape(3, 4)
    expected[1, 2] = 100
    expected[0, 1:3] = -1
    expected[2, 0] += 50
    assert_values(x, expected)


SETITEM = [
    (0, (4,)), ((1, 2), ()), (slice(0, 1), (1, 4)), ((Ellipsis, 1), (3,)), ((slice(None), A([0, 2])), (3, 2)),
    (A([[True, False, False, True]] * 3), (6,)), ((None, 2), (1, 4)),
]


@pytest.mark.parametrize("spec,vshape", SETITEM, ids=repr)
def test_setitem_values_and_gradcheck(spec, vshape):
    a, v = rand((3, 4), 1), rand(vshape, 2)

    def f(x, val):
        y = x * 1.0
        y[_idx(pad, spec)] = val
        return y * pad.tensor(rand((3, 4), 5))

    expected = a.copy()
    expected[_np_idx(spec)] = v
    y = leaf(a) * 1.0
    y[_idx(pad, spec)] = leaf(v)
    assert_values(y, expected, rtol=0)
    parts = spec if isinstance(spec, tuple) else (spec,)
    advanced = any(isinstance(p, np.ndarray) for p in parts)  # torch: index_put_ for those
    assert type(y.grad_fn).__name__ == ("IndexPutBackward0" if advanced else "CopySlices")
    assert_gradcheck(f, a, v)


@pytest.mark.parametrize("spec,vshape", SETITEM, ids=repr)
def test_setitem_vs_torch(torch, spec, vshape):
    def f(T, x, val):
        y = x * 1.0
        y[_idx(T, spec)] = val
        return y
    check_vs_torch(torch, f, rand((3, 4), 1), rand(vshape, 2), names=False)


def test_setitem_scalar_and_broadcast():
    x = pad.zeros(2, 3)
    x[0] = 5
    x[:, 1] = pad.tensor([7.0, 8.0])
    x[1, 2] = pad.tensor(9.0)
    assert_values(x, [[5, 7, 5], [0, 8, 9]])
    y = pad.arange(6).view(2, 3)
    y[..., 0] = 1.9  # cast into the int64 tensor, as torch
    assert_values(y, [[1, 1, 2], [1, 4, 5]], dtype=pad.int64)


def test_indexing_grad_fn_names_vs_torch(torch):
    for spec in [0, (0, 1), slice(1, 2), (slice(None), 1), None, (0, None), (None, 0), Ellipsis,
                 (Ellipsis, 0), (slice(None), slice(None)), (slice(0, 2), 0), A([0, 1]), (0, A([1, 0])),
                 A([True, False])]:
        p = leaf(rand((2, 3, 4), 1))[_idx(pad, spec)]
        t = tleaf(torch, rand((2, 3, 4), 1))[_idx(torch, spec)]
        assert grad_fn_name(p) == grad_fn_name(t), spec


@pytest.mark.parametrize("f", [
    lambda T: T.ones(2, 3)[2], lambda T: T.ones(2, 3)[:, 3], lambda T: T.ones(2, 3)[0, 0, 0],
    lambda T: T.ones(2, 3)[-3], lambda T: T.ones(2, 3)[T.tensor([1.0])],
    lambda T: T.ones(2, 3)[T.tensor([3])],
    lambda T: T.ones(2, 3)[T.tensor([True, False, True])],
    lambda T: T.ones(2, 3)[1.5],
])
def test_index_errors_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


def test_setitem_shape_mismatch_matches_torch(torch):
    def f(T):
        x = T.zeros(2, 3)
        x[0] = T.ones(2)
    same_error(lambda: f(pad), lambda: f(torch))


# ------------------------------------------------------------------------------------------------
# clone and dtype conversions
def test_clone_is_a_copy_with_gradient():
    a = rand((2, 3), 1)
    x = leaf(a)
    c = x.clone()
    assert grad_fn_name(c) == "CloneBackward0"
    with pad.no_grad():
        c.add_(1.0)
    assert_values(x, a)
    assert_gradcheck(lambda t: t.clone() * 2.0, a)


@pytest.mark.parametrize("conv,dtype", [
    (lambda x: x.float(), pad.float32), (lambda x: x.double(), pad.float64),
    (lambda x: x.to(pad.float32), pad.float32), (lambda x: x.to(dtype=pad.float64), pad.float64),
    (lambda x: x.to("cpu", pad.float32), pad.float32), (lambda x: x.to(pad.ones(1)), pad.float32),
])
def test_float_conversions_carry_gradients(conv, dtype):
    a = rand((2, 3), 1)
    x = leaf(a)
    y = conv(x)
    assert y.dtype is dtype
    assert_values(y, a.astype(dtype.np), rtol=0)
    (y * 3).sum().backward()
    assert x.grad.dtype is pad.float64  # cast back to the input's dtype
    assert_values(x.grad, np.full((2, 3), 3.0))
    if dtype is pad.float64:
        assert y is x  # same dtype: no copy, as torch
    else:
        assert grad_fn_name(y) == "ToCopyBackward0"


def test_float32_to_float64_grad_is_cast_back():
    x = pad.tensor(rand((3,), 2).astype(np.float32), requires_grad=True)
    y = x.double()
    assert grad_fn_name(y) == "ToCopyBackward0"
    (y ** 2).sum().backward()
    assert x.grad.dtype is pad.float32
    np.testing.assert_allclose(np_of(x.grad), 2 * np_of(x), rtol=1e-6)


def test_integer_conversions_truncate_and_drop_grad():
    a = np.array([1.7, -1.7, 0.5, -0.0, 3.0])
    x = leaf(a)
    for conv, dt in ((x.long(), pad.int64), (x.int(), pad.int32), (x.to(pad.int64), pad.int64)):
        assert conv.dtype is dt
        assert not conv.requires_grad and conv.grad_fn is None
        assert_values(conv, np.trunc(a).astype(dt.np))
    assert_values(x.bool(), a != 0, dtype=pad.bool)


def test_conversions_vs_torch(torch):
    a = rand((2, 3), 1) * 3
    for f in (lambda x: x.float(), lambda x: x.long(), lambda x: x.int(), lambda x: x.bool(),
              lambda x: x.long().float(), lambda x: x.to(x.long().dtype), lambda x: x.double().half()):
        p, t = f(pad.tensor(a)), f(torch.tensor(a))
        assert str(p.dtype).replace("pyautodiff.", "torch.") == str(t.dtype)
        np.testing.assert_array_equal(np_of(p), np_of(t))


@pytest.mark.parametrize("op", list(SCALAR))
def test_ops_on_a_0d_operand_broadcast_downstream(op):
    """The gradient reaching a 0-d tensor's producer is summed down from a broadcast shape."""
    f, _, dom = SCALAR[op]
    a = rand((), 3, **dom)
    big = rand((2, 3), 4)
    assert_gradcheck(lambda x: f(pad, x) * pad.tensor(big), a)
    assert_gradcheck(lambda x: f(pad, x) + pad.tensor(big), a)


def test_subtracting_zero_keeps_negative_zero():
    for n in (3, 70000):  # the kernel path and the fused path
        x = pad.tensor(np.full(n, -0.0, np.float32))
        for y in (x - 0, x - 0.0, x.sub(0)):
            assert np.signbit(y.numpy()).all()


def test_bool_pow_bool_raises_like_torch():
    with pytest.raises(NotImplementedError, match="\"pow\" not implemented for 'Bool'"):
        pad.tensor([True]) ** pad.tensor([True])
    assert (pad.tensor([1., 2.]) ** pad.tensor(True)).tolist() == [1.0, 2.0]  # allowed, as torch


def test_transpose_of_a_0d_tensor_is_the_identity():
    x = pad.tensor(2.0, requires_grad=True)
    for d0, d1 in [(0, 0), (-1, 0), (0, -1)]:
        y = x.transpose(d0, d1)
        assert y.shape == () and y.item() == 2.0 and grad_fn_name(y) == "TransposeBackward0"
        assert np.shares_memory(y.detach().numpy(), x.detach().numpy())
    (x.transpose(0, 0) * 3).backward()
    assert x.grad.item() == 3.0
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-1, 0\], but got 1\)"):
        x.transpose(0, 1)


def test_pow_with_a_bool_exponent_tensor_fails_in_backward_as_torch():
    """torch's PowBackward1 computes `exponent - 1`, which it refuses for bool tensors."""
    x = pad.tensor([2.0, 3.0], requires_grad=True)
    y = x ** pad.tensor([True, False])
    np.testing.assert_array_equal(y.detach().numpy(), [2.0, 1.0])
    with pytest.raises(RuntimeError, match=r"^Subtraction, the `-` operator, with a bool tensor is not supported"):
        y.sum().backward()
    z = pad.tensor(2.0, requires_grad=True)
    (z ** True).backward()  # a Python bool exponent is a number: fine
    assert z.grad.item() == 1.0


def test_integer_tensor_powers_with_negative_exponents_as_torch():
    """Integer tensor ** integer tensor: torch truncates (1 ** -n = 1, (-1) ** -n = +-1, else 0);
    only tensor ** a negative Python int raises."""
    a = pad.tensor([[-1, 2, 3, 0, 1, -1]])
    b = pad.tensor([[2, -1, 0, -1, -5, -3]])
    assert (a ** b).tolist() == [[1, 0, 1, 0, 1, -1]]
    assert (b ** a).tolist() == [[0, 1, 0, 1, -5, 0]]
    assert (2 ** pad.tensor([-1, -2, 0, 3])).tolist() == [0, 0, 1, 8]
    assert ((-1) ** pad.tensor([-1, -2, 3])).tolist() == [-1, 1, -1]
    assert (pad.tensor([2], dtype=pad.int32) ** pad.tensor([-1])).dtype == pad.int64
    with pytest.raises(RuntimeError, match="^Integers to negative integer powers are not allowed.$"):
        pad.tensor([2]) ** -1


@pytest.mark.parametrize("sa, sb, kernel", [
    ((2, 2), (2, 2), "addmm_impl_cpu_"), ((3, 3, 1), (1, 3), "addmm_impl_cpu_"), ((3,), (3,), "dot"),
    ((2, 3), (3,), "addmv_impl_cpu"), ((3,), (3, 2), "addmm_impl_cpu_"), ((2, 2, 2), (2, 2, 2), "bmm"),
    ((1, 3), (3, 3, 1), "bmm")])
def test_bool_matmul_is_not_implemented_as_in_torch(sa, sb, kernel):
    a, b = pad.ones(sa, dtype=pad.bool), pad.ones(sb, dtype=pad.bool)
    with pytest.raises(NotImplementedError, match=f"^\"{kernel}\" not implemented for 'Bool'$"):
        a @ b
    assert (pad.ones(sa, dtype=pad.int64) @ pad.ones(sb, dtype=pad.int64)).dtype == pad.int64


@pytest.mark.parametrize("sa, sb, name", [
    ((4,), (2, 4, 5), "UnsafeViewBackward0"), ((3, 4), (2, 4, 5), "CloneBackward0"),
    ((3, 4), (2, 2, 4, 5), "CloneBackward0"), ((2, 3, 4), (4, 5), "UnsafeViewBackward0"),
    ((2, 3, 4), (2, 4, 5), "UnsafeViewBackward0"), ((1, 3, 4), (2, 4, 5), "CloneBackward0"),
    ((1, 3, 4), (1, 4, 5), "UnsafeViewBackward0"), ((1, 3, 4), (2, 2, 4, 5), "UnsafeViewBackward0"),
    # the folded result's transpose is already contiguous (one row / column, or empty): no clone
    ((1, 4), (2, 4, 2), "TransposeBackward0"), ((3, 4), (2, 4, 1), "TransposeBackward0"),
    ((1, 1, 3), (2, 3, 3), "TransposeBackward0"), ((1, 2, 3), (0, 3, 3), "TransposeBackward0"),
    ((2, 0), (1, 0, 3), "CloneBackward0")])
def test_batched_matmul_grad_fn_names_as_torch(sa, sb, name):
    a = pad.ones(sa, requires_grad=True)
    b = pad.ones(sb, requires_grad=True)
    y = a @ b
    assert grad_fn_name(y) == name
    # without a grad on `a` torch does not fold: a batched mm, then a view
    assert grad_fn_name(pad.ones(sa) @ b) == "UnsafeViewBackward0"
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal(sa), rng.standard_normal(sb)
    a = pad.tensor(A, requires_grad=True)
    b = pad.tensor(B, requires_grad=True)
    (a @ b).sum().backward()
    h = 1e-6  # sum(a @ b) is linear in a: one finite difference per element is exact enough
    ga = np.zeros_like(A)
    for i in np.ndindex(A.shape):
        d = np.zeros_like(A)
        d[i] = h
        ga[i] = ((np.matmul(A + d, B)).sum() - np.matmul(A, B).sum()) / h
    np.testing.assert_allclose(a.grad.numpy(), ga, rtol=1e-5, atol=1e-6)
    assert b.grad.shape == b.shape


def test_bool_pow_checks_shapes_first_as_torch():
    with pytest.raises(RuntimeError, match=r"The size of tensor a \(4\) must match the size of tensor b \(2\)"):
        pad.ones(4, dtype=pad.bool) ** pad.ones(2, dtype=pad.bool)
    with pytest.raises(NotImplementedError, match="\"pow\" not implemented for 'Bool'"):
        pad.ones(4, dtype=pad.bool) ** pad.ones(4, dtype=pad.bool)


@pytest.mark.parametrize("sa, sb, grad, msg", [
    ((2, 3, 4), (5, 6), False, r"mat1 and mat2 shapes cannot be multiplied \(6x4 and 5x6\)"),
    ((2, 3, 4), (5,), False, r"size mismatch, got input \(6\), mat \(6x4\), vec \(5\)"),
    ((3, 4), (2, 5, 6), False, r"Expected size for first two dimensions of batch2 tensor to be: \[2, 4\] but got: "
                               r"\[2, 5\]\."),
    ((3, 4), (2, 5, 6), True, r"mat1 and mat2 shapes cannot be multiplied \(12x5 and 4x3\)"),
    ((4,), (2, 5, 6), True, r"size mismatch, got input \(12\), mat \(12x5\), vec \(4\)"),
    ((1, 3, 4), (2, 5, 6), True, r"mat1 and mat2 shapes cannot be multiplied \(12x5 and 4x3\)"),
    ((2, 1, 3, 4), (2, 5, 6), False, r"to be: \[4, 4\] but got: \[4, 5\]\."),
])
def test_batched_matmul_size_errors_as_torch(sa, sb, grad, msg):
    """torch's message names the mm / mv / bmm it computes the product with (folded or batched)."""
    with pytest.raises(RuntimeError, match=msg):
        pad.ones(sa, requires_grad=grad) @ pad.ones(sb)


def test_bool_matmul_of_empty_operands_is_allowed_as_torch():
    for sa, sb, shape in (((3, 0), (0, 4), (3, 4)), ((0, 3), (3,), (0,)), ((2, 0, 5), (2, 5, 6), (2, 0, 6)),
                          ((0, 3), (2, 3, 4), (2, 0, 4))):
        y = pad.ones(sa, dtype=pad.bool) @ pad.ones(sb, dtype=pad.bool)
        assert y.shape == shape and y.dtype == pad.bool and not y.any()
    with pytest.raises(NotImplementedError, match="\"dot\" not implemented for 'Bool'"):
        pad.ones(0, dtype=pad.bool) @ pad.ones(0, dtype=pad.bool)


def test_reshape_of_a_viewable_non_contiguous_tensor_is_a_reshape_alias_as_torch():
    x = pad.tensor(2.0, requires_grad=True)
    assert grad_fn_name(x.expand(3).reshape(-1)) == "ReshapeAliasBackward0"
    y = pad.ones(2, 3, 4, requires_grad=True) * 1
    r = y.permute(1, 0, 2).reshape(3, 2, 4)
    assert grad_fn_name(r) == "ReshapeAliasBackward0" and r.stride() == (4, 12, 1)
    assert grad_fn_name(y.reshape(6, 4)) == "ViewBackward0"                   # contiguous: a view
    assert grad_fn_name(y.permute(1, 0, 2).reshape(-1)) == "UnsafeViewBackward0"  # a copy
    r.sum().backward()


@pytest.mark.parametrize("sa, sb, da, db, err, msg", [
    ((2, 3), (3,), "float32", "float64", RuntimeError,
     "addmv input tensors must have the same dtype, but got Double, Float, and Double"),
    ((2, 2, 3), (3,), "int64", "float32", RuntimeError,
     "addmv input tensors must have the same dtype, but got Float, Long, and Float"),
    ((2, 2, 3), (2, 3, 2), "float32", "int64", RuntimeError, "expected scalar type Float but found Long"),
    ((4, 2), (2, 2, 2), "bool", "float32", NotImplementedError, "\"bmm\" not implemented for 'Bool'"),
    ((2, 2, 3), (3, 2), "float32", "float64", RuntimeError,
     "expected m1 and m2 to have the same dtype, but got: float != double"),
])
def test_matmul_of_mixed_dtypes_has_the_message_of_torchs_kernel(sa, sb, da, db, err, msg):
    with pytest.raises(err, match=re.escape(msg)):
        pad.ones(sa, dtype=getattr(pad, da)) @ pad.ones(sb, dtype=getattr(pad, db))
