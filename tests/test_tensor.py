"""Tensor creation, properties and conversions, dtype promotion, in-place ops and reprs of graph
outputs.  Expectations are torch's documented behaviour; where torch is installed every table is
also checked against it side by side (so the tables themselves cannot drift from torch)."""
import math
import warnings

import numpy as np
import pytest

import pyautodiff as pad
from _oracle import (assert_values, grad_fn_name, leaf, normalize_repr, np_of, outcome, rand, same_error,
                     torch, torch_name)  # noqa: F401  (torch is a fixture)


@pytest.fixture
def default_dtype_restored():
    yield
    pad.set_default_dtype(pad.float32)


# ================================================================================ creation
CREATION = [  # (label, f(T), expected dtype name, expected values or None when random/uninitialized)
    ("tensor int list", lambda T: T.tensor([1, 2, 3]), "int64", [1, 2, 3]),
    ("tensor float list", lambda T: T.tensor([1, 2.5]), "float32", [1, 2.5]),
    ("tensor bool list", lambda T: T.tensor([True, False]), "bool", [True, False]),
    ("tensor bool+int", lambda T: T.tensor([True, 2]), "int64", [1, 2]),
    ("tensor scalar", lambda T: T.tensor(3), "int64", 3),
    ("tensor float scalar", lambda T: T.tensor(3.5), "float32", 3.5),
    ("tensor nested", lambda T: T.tensor([[1., 2.], [3., 4.]]), "float32", [[1, 2], [3, 4]]),
    ("tensor tuple", lambda T: T.tensor(((1, 2), (3, 4))), "int64", [[1, 2], [3, 4]]),
    ("tensor empty", lambda T: T.tensor([]), "float32", np.zeros(0)),
    ("tensor dtype=", lambda T: T.tensor([1, 2], dtype=T.float64), "float64", [1, 2]),
    ("tensor int->bool dtype", lambda T: T.tensor([0, 2], dtype=T.bool), "bool", [False, True]),
    ("tensor np int32", lambda T: T.tensor(np.array([1, 2], dtype=np.int32)), "int32", [1, 2]),
    ("tensor np float64", lambda T: T.tensor(np.arange(3.0)), "float64", [0, 1, 2]),
    ("tensor np scalar", lambda T: T.tensor(np.float64(2.5)), "float64", 2.5),
    ("tensor list of np scalars", lambda T: T.tensor([np.int32(1), 2]), "int64", [1, 2]),
    ("tensor list of tensors", lambda T: T.tensor([T.tensor(1.), T.tensor(2.)]), "float32", [1, 2]),
    ("zeros", lambda T: T.zeros(2, 3), "float32", np.zeros((2, 3))),
    ("zeros tuple", lambda T: T.zeros((2, 3)), "float32", np.zeros((2, 3))),
    ("zeros list", lambda T: T.zeros([4]), "float32", np.zeros(4)),
    ("zeros 0-d", lambda T: T.zeros(()), "float32", 0.0),
    ("zeros empty", lambda T: T.zeros(0, 3), "float32", np.zeros((0, 3))),
    ("zeros int", lambda T: T.zeros(2, dtype=T.int64), "int64", [0, 0]),
    ("ones", lambda T: T.ones(2, 2), "float32", np.ones((2, 2))),
    ("ones bool", lambda T: T.ones(3, dtype=T.bool), "bool", [True] * 3),
    ("ones Size", lambda T: T.ones(T.ones(2, 3).shape), "float32", np.ones((2, 3))),
    ("full int", lambda T: T.full((2, 2), 7), "int64", np.full((2, 2), 7)),
    ("full float", lambda T: T.full((2,), 7.), "float32", [7, 7]),
    ("full bool", lambda T: T.full((2,), True), "bool", [True, True]),
    ("full dtype", lambda T: T.full((1, 2), 7, dtype=T.float64), "float64", [[7, 7]]),
    ("empty", lambda T: T.empty(2, 3), "float32", None),
    ("empty dtype", lambda T: T.empty((4,), dtype=T.int32), "int32", None),
    ("arange", lambda T: T.arange(5), "int64", np.arange(5)),
    ("arange start", lambda T: T.arange(1, 5), "int64", [1, 2, 3, 4]),
    ("arange step", lambda T: T.arange(0, 1, 0.25), "float32", [0, .25, .5, .75]),
    ("arange float start", lambda T: T.arange(1., 5), "float32", [1, 2, 3, 4]),
    ("arange neg step", lambda T: T.arange(5, 1, -1), "int64", [5, 4, 3, 2]),
    ("arange tenths", lambda T: T.arange(0, 1, 0.1), "float32", np.arange(10) / 10),
    ("arange dtype", lambda T: T.arange(4, dtype=T.float64), "float64", [0, 1, 2, 3]),
    ("arange empty", lambda T: T.arange(0), "int64", np.zeros(0)),
    ("linspace", lambda T: T.linspace(0, 1, 5), "float32", [0, .25, .5, .75, 1]),
    ("linspace one", lambda T: T.linspace(2, 3, 1), "float32", [2]),
    ("linspace zero", lambda T: T.linspace(0, 1, 0), "float32", np.zeros(0)),
    ("linspace f64", lambda T: T.linspace(-1, 1, 7, dtype=T.float64), "float64", np.linspace(-1, 1, 7)),
    ("linspace int", lambda T: T.linspace(0, 10, 4, dtype=T.int64), "int64", [0, 3, 6, 10]),
    ("zeros_like", lambda T: T.zeros_like(T.ones(2, dtype=T.int64)), "int64", [0, 0]),
    ("ones_like dtype", lambda T: T.ones_like(T.ones(2, 3), dtype=T.float64), "float64", np.ones((2, 3))),
    ("full_like", lambda T: T.full_like(T.ones(2), 3), "float32", [3, 3]),
    ("full_like int trunc", lambda T: T.full_like(T.ones(2, dtype=T.int64), 3.7), "int64", [3, 3]),
    ("empty_like", lambda T: T.empty_like(T.ones(2, 3, dtype=T.float64)), "float64", None),
    ("rand", lambda T: T.rand(2, 3), "float32", None),
    ("rand f64", lambda T: T.rand(4, dtype=T.float64), "float64", None),
    ("rand 0-d", lambda T: T.rand(()), "float32", None),
    ("randn", lambda T: T.randn(5), "float32", None),
    ("randn tuple", lambda T: T.randn((2, 2), dtype=T.float64), "float64", None),
    ("rand_like", lambda T: T.rand_like(T.ones(2, 3)), "float32", None),
    ("randn_like", lambda T: T.randn_like(T.ones(3, dtype=T.float64)), "float64", None),
]


@pytest.mark.parametrize("label,f,dtype,values", CREATION, ids=[c[0] for c in CREATION])
def test_creation(label, f, dtype, values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = f(pad)
    assert t.dtype is getattr(pad, dtype)
    assert t.is_leaf and not t.requires_grad and t.grad_fn is None
    if values is not None:
        assert_values(t, np.asarray(values, dtype=t.dtype.np), rtol=1e-7)


@pytest.mark.parametrize("label,f,dtype,values", CREATION, ids=[c[0] for c in CREATION])
def test_creation_vs_torch(torch, label, f, dtype, values):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, t = f(pad), f(torch)
    assert torch_name(str(p.dtype)) == str(t.dtype)
    assert tuple(p.shape) == tuple(t.shape)
    if values is not None:  # bit for bit, including linspace/arange rounding
        np.testing.assert_array_equal(np_of(p), np_of(t))


def test_linspace_and_arange_bit_identical_to_torch(torch):
    r = np.random.default_rng(0)
    for _ in range(60):
        a, b = r.uniform(-100, 100, 2)
        n = int(r.integers(0, 300))
        for dt in ("float32", "float64", "int64"):
            np.testing.assert_array_equal(np_of(pad.linspace(a, b, n, dtype=getattr(pad, dt))),
                                          np_of(torch.linspace(a, b, n, dtype=getattr(torch, dt))))
        # arange: same length, values within an ulp (torch's vectorized arange rounds each SIMD
        # block from its own base, so its last bits depend on the CPU's vector width)
        lo, hi = min(a, b), max(a, b)
        step = float(r.uniform(0.01, 3))
        np.testing.assert_allclose(np_of(pad.arange(lo, hi, step)), np_of(torch.arange(lo, hi, step)),
                                   rtol=3e-7, atol=1e-6)
        np.testing.assert_allclose(np_of(pad.arange(hi, lo, -step, dtype=pad.float64)),
                                   np_of(torch.arange(hi, lo, -step, dtype=torch.float64)), rtol=1e-15, atol=1e-13)


def test_rand_randn_ranges_and_requires_grad():
    pad.manual_seed(0)
    u = pad.rand(10000)
    assert 0.0 <= u.min().item() and u.max().item() < 1.0
    assert abs(u.mean().item() - 0.5) < 0.02
    n = pad.randn(10000, dtype=pad.float64)
    assert abs(n.mean().item()) < 0.05 and abs(np_of(n).std() - 1.0) < 0.05
    r = pad.rand(3, requires_grad=True)
    assert r.requires_grad and r.is_leaf


def test_manual_seed_reproducibility():
    pad.manual_seed(123)
    a = [pad.rand(5), pad.randn(2, 3), pad.rand_like(pad.ones(4)), pad.randn_like(pad.ones(2))]
    pad.manual_seed(123)
    b = [pad.rand(5), pad.randn(2, 3), pad.rand_like(pad.ones(4)), pad.randn_like(pad.ones(2))]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np_of(x), np_of(y))
    pad.manual_seed(124)
    assert not np.array_equal(np_of(pad.rand(5)), np_of(a[0]))
    # the stream continues: two draws after one seed differ
    pad.manual_seed(123)
    assert not np.array_equal(np_of(pad.rand(5)), np_of(pad.rand(5)))


def test_tensor_copies_its_data():
    a = np.arange(3.0)
    t = pad.tensor(a)
    a[0] = 7
    assert t[0].item() == 0.0
    src = pad.ones(2)
    with pytest.warns(UserWarning, match="To copy construct from a tensor"):
        c = pad.tensor(src)
    c.add_(1)
    assert_values(src, [1, 1])


def test_tensor_requires_grad_only_for_floats(torch):
    assert pad.tensor([1.0, 2.0], requires_grad=True).requires_grad
    same_error(lambda: pad.tensor([1, 2], requires_grad=True), lambda: torch.tensor([1, 2], requires_grad=True))
    same_error(lambda: pad.ones(2, dtype=pad.int64, requires_grad=True),
               lambda: torch.ones(2, dtype=torch.int64, requires_grad=True))


def test_from_numpy_and_as_tensor_share_memory():
    a = np.arange(4.0)
    t = pad.from_numpy(a)
    assert t.dtype is pad.float64
    a[0] = 10
    t[1] = 20
    t.add_(1)
    assert_values(t, [11, 21, 3, 4])
    np.testing.assert_array_equal(a, [11, 21, 3, 4])
    assert np.shares_memory(t.numpy(), a)
    b = np.arange(3, dtype=np.int32)
    assert np.shares_memory(pad.as_tensor(b).numpy(), b)
    assert not np.shares_memory(pad.as_tensor(b, dtype=pad.float32).numpy(), b)  # converted: a copy
    x = pad.ones(2)
    assert pad.as_tensor(x) is x
    assert_values(pad.as_tensor([1, 2]), [1, 2], dtype=pad.int64)


def test_from_numpy_sharing_vs_torch(torch):
    for T in (pad, torch):
        a = np.arange(6.0).reshape(2, 3)
        t = T.from_numpy(a)
        a[1, 1] = -1
        assert t[1, 1].item() == -1
        t.mul_(2)
        assert a[0, 2] == 4


@pytest.mark.parametrize("f", [
    lambda T: T.tensor([[1, 2], [3]]), lambda T: T.tensor([[1, 2], 3]), lambda T: T.tensor(None),
    lambda T: T.tensor([1, None]), lambda T: T.tensor("a"), lambda T: T.tensor(["a"]),
    lambda T: T.zeros(-1), lambda T: T.ones(2, -3), lambda T: T.empty(-1), lambda T: T.full((-1,), 2),
    lambda T: T.arange(0, 5, 0), lambda T: T.arange(5, 0), lambda T: T.linspace(0, 1, -1),
    lambda T: T.full(2, 7), lambda T: T.rand(2, dtype=T.int64), lambda T: T.randn(2, dtype=T.int64),
    lambda T: T.from_numpy([1, 2]),
])
def test_creation_errors_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch), message=False)


@pytest.mark.parametrize("f", [
    lambda T: T.tensor([[1, 2], [3]]), lambda T: T.tensor([[[1, 2]], [[3, 4], [5, 6]]]),
    lambda T: T.tensor([[1, 2], 3]), lambda T: T.tensor(None), lambda T: T.tensor("a"),
    lambda T: T.ones(-1), lambda T: T.arange(5, 0), lambda T: T.full(2, 7),
    lambda T: T.rand(2, dtype=T.int64),
])
def test_creation_error_texts_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


def test_set_default_dtype(default_dtype_restored):
    assert pad.get_default_dtype() is pad.float32
    pad.set_default_dtype(pad.float64)
    assert pad.get_default_dtype() is pad.float64
    assert pad.tensor([1.5]).dtype is pad.float64
    assert pad.zeros(2).dtype is pad.float64
    assert pad.rand(2).dtype is pad.float64
    assert pad.arange(1.0).dtype is pad.float64
    assert (pad.tensor([1]) * 1.5).dtype is pad.float64
    assert (pad.tensor([1]) / pad.tensor([2])).dtype is pad.float64
    assert pad.tensor([1, 2]).dtype is pad.int64  # integers are not affected
    assert pad.tensor([1.5], dtype=pad.float32).dtype is pad.float32
    pad.set_default_dtype(pad.float32)
    assert pad.tensor([1.5]).dtype is pad.float32
    with pytest.raises(TypeError):
        pad.set_default_dtype(pad.int64)


def test_set_default_dtype_vs_torch(torch, default_dtype_restored):
    exprs = [lambda T: T.tensor([1.5]), lambda T: T.ones(2), lambda T: T.tensor([1]) * 1.5,
             lambda T: T.tensor([3]) / 2, lambda T: T.arange(0.0, 1.0, 0.5), lambda T: T.linspace(0, 1, 3)]
    try:
        pad.set_default_dtype(pad.float64)
        torch.set_default_dtype(torch.float64)
        for f in exprs:
            assert torch_name(str(f(pad).dtype)) == str(f(torch).dtype)
    finally:
        torch.set_default_dtype(torch.float32)


def test_dtype_objects():
    assert pad.float is pad.float32 and pad.double is pad.float64 and pad.long is pad.int64
    assert pad.int is pad.int32
    assert repr(pad.float32) == "pyautodiff.float32" and str(pad.bool) == "pyautodiff.bool"
    assert pad.float32.is_floating_point and not pad.int64.is_floating_point
    assert pad.float64.itemsize == 8
    assert pad.promote_types(pad.int32, pad.float32) is pad.float32
    assert pad.promote_types(pad.bool, pad.int32) is pad.int32
    assert pad.promote_types(pad.int64, pad.int32) is pad.int64
    assert pad.promote_types(pad.float32, pad.float64) is pad.float64


# ================================================================================ dtype promotion
def _t(T, dtype, zero_dim=False):
    d = getattr(T, dtype)
    if zero_dim:
        return T.tensor(True if dtype == "bool" else 1, dtype=d)
    return T.tensor([True, False] if dtype == "bool" else [1, 2], dtype=d)


PROMOTION = [  # (label, f(T), expected result dtype) -- torch 2.13's results
    ("int64 * float", lambda T: _t(T, "int64") * 2.5, "float32"),
    ("int64 * int", lambda T: _t(T, "int64") * 2, "int64"),
    ("int32 + int", lambda T: _t(T, "int32") + 5, "int32"),
    ("int32 * float", lambda T: _t(T, "int32") * 2.5, "float32"),
    ("float * int32", lambda T: 2.5 * _t(T, "int32"), "float32"),
    ("bool + bool", lambda T: _t(T, "bool") + True, "bool"),
    ("bool + int", lambda T: _t(T, "bool") + 1, "int64"),
    ("bool + float", lambda T: _t(T, "bool") + 1.5, "float32"),
    ("bool * int32 tensor", lambda T: _t(T, "bool") * _t(T, "int32"), "int32"),
    ("bool + int64 tensor", lambda T: _t(T, "bool") + _t(T, "int64"), "int64"),
    ("float32 + int", lambda T: _t(T, "float32") + 2, "float32"),
    ("float64 * float", lambda T: _t(T, "float64") * 2.5, "float64"),
    ("f32 + f64", lambda T: _t(T, "float32") + _t(T, "float64"), "float64"),
    ("f32 + f64 0-d", lambda T: _t(T, "float32") + _t(T, "float64", True), "float32"),
    ("f32 0-d + f64", lambda T: _t(T, "float32", True) + _t(T, "float64"), "float64"),
    ("f32 0-d + f64 0-d", lambda T: _t(T, "float32", True) + _t(T, "float64", True), "float64"),
    ("int64 + f64 0-d", lambda T: _t(T, "int64") + _t(T, "float64", True), "float64"),
    ("int32 + int64 0-d", lambda T: _t(T, "int32") + _t(T, "int64", True), "int32"),
    ("int32 + int64", lambda T: _t(T, "int32") + _t(T, "int64"), "int64"),
    ("int32 0-d + f32 0-d", lambda T: _t(T, "int32", True) + _t(T, "float32", True), "float32"),
    ("int64 0-d * f64", lambda T: _t(T, "int64", True) * _t(T, "float64"), "float64"),
    ("bool 0-d + int32", lambda T: _t(T, "bool", True) + _t(T, "int32"), "int32"),
    ("bool + int64 0-d", lambda T: _t(T, "bool") + _t(T, "int64", True), "int64"),
    ("int / int", lambda T: _t(T, "int64") / _t(T, "int64"), "float32"),
    ("int / int scalar", lambda T: _t(T, "int64") / 2, "float32"),
    ("int32 / int32", lambda T: _t(T, "int32") / _t(T, "int32"), "float32"),
    ("int scalar / int", lambda T: 2 / _t(T, "int64"), "float32"),
    ("bool / bool", lambda T: _t(T, "bool") / _t(T, "bool"), "float32"),
    ("f64 / int", lambda T: _t(T, "float64") / _t(T, "int64"), "float64"),
    ("int - int", lambda T: _t(T, "int64") - _t(T, "int32"), "int64"),
    ("int ** 2", lambda T: _t(T, "int64") ** 2, "int64"),
    ("int ** float", lambda T: _t(T, "int64") ** 0.5, "float32"),
    ("2 ** int", lambda T: 2 ** _t(T, "int64"), "int64"),
    ("2.0 ** int", lambda T: 2.0 ** _t(T, "int64"), "float32"),
    ("int ** f64 tensor", lambda T: _t(T, "int64") ** _t(T, "float64"), "float64"),
    ("f32 ** int tensor", lambda T: _t(T, "float32") ** _t(T, "int64"), "float32"),
    ("int exp", lambda T: _t(T, "int64").exp(), "float32"),
    ("int log", lambda T: _t(T, "int32").log(), "float32"),
    ("neg int32", lambda T: -_t(T, "int32"), "int32"),
    ("int sum", lambda T: _t(T, "int32").sum(), "int64"),
    ("bool sum", lambda T: _t(T, "bool").sum(), "int64"),
    ("f32 sum", lambda T: _t(T, "float32").sum(0), "float32"),
    ("int // float", lambda T: _t(T, "int64") // 2.5, "float32"),
    ("float // int32", lambda T: 2.5 // _t(T, "int32"), "float32"),
    ("int // int32 0-d", lambda T: 2 // _t(T, "int32", True), "int32"),
    ("int % float", lambda T: _t(T, "int64") % 2.5, "float32"),
    ("int32 % f32", lambda T: _t(T, "int32") % _t(T, "float32"), "float32"),
    ("float % int64", lambda T: 2.5 % _t(T, "int64"), "float32"),
    ("int % int32", lambda T: -1 % _t(T, "int32"), "int32"),
    ("bool % int", lambda T: _t(T, "bool") % 2, "int64"),
    ("comparison", lambda T: _t(T, "float32") > 1, "bool"),
    ("comparison tensors", lambda T: _t(T, "int64") == _t(T, "float64"), "bool"),
    ("matmul f64", lambda T: _t(T, "float64") @ _t(T, "float64"), "float64"),
    ("int matmul", lambda T: T.ones(2, 2, dtype=T.int64) @ T.ones(2, 2, dtype=T.int64), "int64"),
]


@pytest.mark.parametrize("label,f,expected", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_dtype_promotion(label, f, expected):
    assert f(pad).dtype is getattr(pad, expected)


@pytest.mark.parametrize("label,f,expected", PROMOTION, ids=[p[0] for p in PROMOTION])
def test_dtype_promotion_vs_torch(torch, label, f, expected):
    p, t = f(pad), f(torch)
    assert str(t.dtype) == "torch." + expected  # the table is torch's
    assert torch_name(str(p.dtype)) == str(t.dtype)
    np.testing.assert_allclose(np_of(p), np_of(t), rtol=1e-6)


def test_promotion_of_python_scalars_keeps_values():
    x = pad.tensor([1, 2, 3])
    assert_values(x * 2.5, [2.5, 5, 7.5], dtype=pad.float32)
    assert_values(x / 2, [0.5, 1, 1.5], dtype=pad.float32)
    assert_values(x // 2, [0, 1, 1], dtype=pad.int64)
    assert_values(pad.tensor([True, False]) + 1, [2, 1], dtype=pad.int64)


@pytest.mark.parametrize("f", [
    lambda T: T.tensor([True]) - T.tensor([False]), lambda T: -T.tensor([True]),
    lambda T: T.tensor([True]) - T.tensor([1]), lambda T: T.tensor([1.5]) - T.tensor([True]),
    lambda T: T.tensor([True]) - 1, lambda T: 1 - T.tensor([True]), lambda T: T.tensor([2]) - True,
    lambda T: T.tensor([True]).sub(1.5), lambda T: T.rsub(T.tensor([True]), 1),
    lambda T: T.tensor([1, 2]) ** -1, lambda T: T.tensor([True]).relu(),
])
def test_invalid_dtype_ops_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


# ================================================================================ properties
def test_shape_size_dim_numel():
    t = pad.zeros(2, 3, 4)
    assert t.shape == (2, 3, 4) and t.size() == (2, 3, 4)
    assert isinstance(t.shape, pad.Size) and isinstance(t.shape, tuple)
    assert t.size(1) == 3 and t.size(-1) == 4
    assert t.dim() == t.ndim == 3
    assert t.numel() == 24 == t.shape.numel()
    assert isinstance(t.shape[1:], pad.Size) and t.shape[1:] == (3, 4)
    assert repr(t.shape) == str(t.shape) == "pyautodiff.Size([2, 3, 4])"
    assert repr(pad.tensor(1.0).shape) == "pyautodiff.Size([])"
    assert pad.tensor(1.0).dim() == 0 and pad.tensor(1.0).numel() == 1
    assert t.dtype is pad.float32
    assert t.device == "cpu" and str(t.device) == "cpu" and repr(t.device) == "device(type='cpu')"
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-3, 2\], but got 3\)"):
        t.size(3)


def test_properties_vs_torch(torch):
    for f in (lambda T: T.zeros(2, 3).shape, lambda T: T.zeros(2, 3).size(), lambda T: T.zeros(()).shape,
              lambda T: T.zeros(2, 3).shape[1:], lambda T: T.zeros(2, 3).device, lambda T: T.zeros(1).dtype,
              lambda T: T.Size([1, 2]), lambda T: T.zeros(2, 3).stride(), lambda T: T.zeros(2, 3).t().stride(),
              lambda T: T.zeros(2, 3).t().is_contiguous(), lambda T: T.zeros(2, 3).element_size()):
        assert torch_name(repr(f(pad))) == repr(f(torch))
        assert torch_name(str(f(pad))) == str(f(torch))


def test_item_tolist():
    t = pad.tensor([[1, 2], [3, 4]])
    assert t.tolist() == [[1, 2], [3, 4]] and t[0].tolist() == [1, 2] and t[0, 0].tolist() == 1
    assert t[1, 1].item() == 4 and type(t[1, 1].item()) is int
    f = pad.tensor([[2.5]])
    assert f.item() == 2.5 and type(f.item()) is float
    assert type(pad.tensor(True).item()) is bool
    assert float(f) == 2.5 and int(f) == 2 and bool(f)
    assert math.isclose(pad.tensor(0.1).item(), np.float32(0.1).item())


@pytest.mark.parametrize("f", [
    lambda T: T.ones(2, 3).item(), lambda T: float(T.tensor([1.5, 2])), lambda T: int(T.tensor([1, 2])),
    lambda T: bool(T.tensor([1.5, 2])), lambda T: len(T.tensor(3)), lambda T: list(T.tensor(3)),
    lambda T: T.ones(2, requires_grad=True).numpy(), lambda T: np.asarray(T.ones(2, requires_grad=True)),
])
def test_conversion_errors_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


def test_numpy_and_array_protocol():
    t = pad.arange(6.).view(2, 3)
    a = t.numpy()
    a[0, 0] = 42
    assert t[0, 0].item() == 42  # numpy() shares memory
    assert np.asarray(t) is not None and np.shares_memory(np.asarray(t), a)
    assert np.asarray(t, dtype=np.float64).dtype == np.float64
    x = pad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        x.numpy()
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        np.asarray(x)
    d = x.detach().numpy()
    d[0] = 5
    assert x[0].item() == 5  # detach shares memory too
    np.testing.assert_array_equal(np.exp(pad.ones(2).numpy()), np.exp(np.ones(2, np.float32)))


def test_len_and_iteration():
    t = pad.arange(6).view(3, 2)
    assert len(t) == 3
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, pad.Tensor) for r in rows)
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    rows[1].fill_(-1)  # rows are views
    assert t.tolist() == [[0, 1], [-1, -1], [4, 5]]
    assert [x.item() for x in pad.tensor([1.5, 2.5])] == [1.5, 2.5]
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(pad.tensor(1.0))
    with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
        iter(pad.tensor(1.0))


def test_iteration_vs_torch(torch):
    def run(T):
        x = T.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
        rows = list(x)
        (rows[0] * rows[2]).sum().backward()
        return [grad_fn_name(r) for r in rows], [repr(r) for r in rows], np_of(x.grad).tolist()
    assert run(pad) == run(torch)


T_WARNINGS = {  # torch's texts (without "(Triggered internally at ...)"); each is shown once per process
    "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated and it will "
    "throw an error in a future release. Consider `x.mT` to transpose batches of matrices or "
    "`x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a tensor.",
    "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases.",
}


def test_T_shapes_and_deprecation_warnings(torch):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for T in (pad, torch):
            shapes = [tuple(t.T.shape) for t in (T.ones(3), T.ones(2, 3, 4), T.ones(2, 3), T.tensor(1.0),
                                                  T.ones(4), T.tensor(2.0))]
            assert shapes == [(3,), (4, 3, 2), (3, 2), (), (4,), ()]
    messages = [torch_name(str(m.message)).split(" (Triggered internally")[0] for m in w]
    assert set(messages) <= T_WARNINGS  # (which ones show depends on what ran before: once per process)


def test_T_warns_once_per_process():
    import sys
    sys.modules["pyautodiff.tensor"]._T_WARNED.clear()  # (pyautodiff.tensor the name is the function)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for _ in range(3):
            pad.ones(3).T, pad.ones(2, 3, 4).T, pad.tensor(1.0).T, pad.ones(2, 2).T
    assert sorted(torch_name(str(m.message)) for m in w) == sorted(T_WARNINGS)


def test_leaf_grad_fn_requires_grad():
    x = pad.ones(2, requires_grad=True)
    c = pad.ones(2)
    y = x * 2
    assert x.is_leaf and c.is_leaf and not y.is_leaf
    assert x.grad_fn is None and grad_fn_name(y) == "MulBackward0"
    assert y.requires_grad and not c.requires_grad
    assert not (c * 2).requires_grad and (c * 2).grad_fn is None
    d = y.detach()
    assert d.is_leaf and not d.requires_grad and d.grad_fn is None
    with pad.no_grad():
        z = x * 2
    assert z.is_leaf and not z.requires_grad


def test_next_functions_structure():
    x = pad.ones(2, requires_grad=True)
    w = pad.ones(2, requires_grad=True)
    c = pad.ones(2)
    y = x * w + c
    add = y.grad_fn
    assert type(add).__name__ == "AddBackward0"
    mul, mul_idx = add.next_functions[0]
    assert type(mul).__name__ == "MulBackward0" and mul_idx == 0
    assert add.next_functions[1] == (None, 0)  # c does not require grad
    (acc_x, i0), (acc_w, i1) = mul.next_functions[:2]
    assert type(acc_x).__name__ == type(acc_w).__name__ == "AccumulateGrad" and i0 == i1 == 0
    assert acc_x.variable is x and acc_w.variable is w
    assert acc_x.next_functions == ()
    # one AccumulateGrad per leaf, shared by every use of it
    z = x * x
    assert z.grad_fn.next_functions[0][0] is z.grad_fn.next_functions[1][0]
    assert (x + 1).grad_fn.next_functions[0][0] is (x * 3).grad_fn.next_functions[0][0]
    assert mul.name() == "MulBackward0"


def test_accumulate_grad_name_vs_torch(torch):
    p = (pad.ones(2, requires_grad=True) * 2).grad_fn.next_functions[0][0]
    t = (torch.ones(2, requires_grad=True) * 2).grad_fn.next_functions[0][0]
    assert p.name() == t.name()


def test_next_functions_vs_torch(torch):
    def shape(T):
        x = T.ones(2, requires_grad=True)
        y = T.ones(2, requires_grad=True)
        out = ((x * y).exp() + x).sum()
        seen = []
        stack = [(out.grad_fn, 0)]
        while stack:
            node, depth = stack.pop()
            seen.append((depth, type(node).__name__,
                         tuple(type(n).__name__ if n is not None else None for n, _ in node.next_functions)))
            stack.extend((n, depth + 1) for n, _ in node.next_functions if n is not None)
        return seen
    assert shape(pad) == shape(torch)


def test_next_functions_count_matches_torch_for_scalar_operands(torch):
    for f in (lambda T, x: x * 2, lambda T, x: x + 1, lambda T, x: x ** 2, lambda T, x: 2 ** x,
              lambda T, x: x.sum(0), lambda T, x: x.view(2), lambda T, x: x[0]):
        p = f(pad, pad.ones(2, requires_grad=True))
        t = f(torch, torch.ones(2, requires_grad=True))
        assert len(p.grad_fn.next_functions) == len(t.grad_fn.next_functions)


# ================================================================================ conversions
def test_to_and_type_conversions():
    x = pad.tensor([1.7, -2.2])
    assert x.to(pad.float32) is x and x.float() is x  # same dtype: the tensor itself
    assert x.to(pad.float32, copy=True) is not x
    assert x.to("cpu") is x and x.cpu() is x
    assert_values(x.double(), np.array([1.7, -2.2], np.float32).astype(np.float64), dtype=pad.float64)
    assert_values(x.long(), [1, -2], dtype=pad.int64)
    assert_values(x.to(dtype=pad.int32), [1, -2], dtype=pad.int32)
    assert_values(x.bool(), [True, True], dtype=pad.bool)
    assert x.to(pad.ones(1, dtype=pad.float64)).dtype is pad.float64
    assert x.type() == "torch.FloatTensor"
    with pytest.raises(RuntimeError):
        x.to("cuda")


def test_clone_detach_requires_grad_():
    x = pad.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    x.requires_grad_(False)
    assert not x.requires_grad
    x.requires_grad = True
    c = x.clone()
    assert grad_fn_name(c) == "CloneBackward0" and not np.shares_memory(c.detach().numpy(), x.detach().numpy())
    d = x.detach()
    assert np.shares_memory(d.numpy(), x.detach().numpy()) and not d.requires_grad
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        (x * 2).requires_grad_(False)


def test_requires_grad_errors_match_torch(torch):
    def attr(T):
        t = T.tensor([1, 2])
        t.requires_grad = True
    same_error(lambda: attr(pad), lambda: attr(torch))
    same_error(lambda: pad.tensor([1, 2]).requires_grad_(), lambda: torch.tensor([1, 2]).requires_grad_(),
               message=False)


def test_comparisons_equal_allclose():
    a, b = pad.tensor([1.0, 2.0, 3.0]), pad.tensor([1.0, 0.0, 3.0])
    assert_values(a == b, [True, False, True], dtype=pad.bool)
    assert_values(a > b, [False, True, False], dtype=pad.bool)
    assert_values(a <= 2, [True, True, False], dtype=pad.bool)
    assert not pad.equal(a, b) and pad.equal(a, a.clone()) and a.equal(a)
    assert pad.allclose(a, a + 1e-9) and not a.allclose(b)


# ================================================================================ in-place ops
INPLACE = [  # (label, f(t) applied to x = arange(6.).view(2, 3), numpy reference)
    ("add_", lambda x: x.add_(1.5), lambda a: a + 1.5),
    ("add_ tensor alpha", lambda x: x.add_(x[0].clone(), alpha=2), lambda a: a + 2 * a[0]),
    ("sub_", lambda x: x.sub_(pad.ones(3)), lambda a: a - 1),
    ("mul_", lambda x: x.mul_(3), lambda a: a * 3),
    ("div_", lambda x: x.div_(4), lambda a: a / 4),
    ("iadd", lambda x: x.__iadd__(2), lambda a: a + 2),
    ("isub", lambda x: x.__isub__(2), lambda a: a - 2),
    ("imul", lambda x: x.__imul__(2), lambda a: a * 2),
    ("idiv", lambda x: x.__itruediv__(2), lambda a: a / 2),
    ("zero_", lambda x: x.zero_(), lambda a: a * 0),
    ("fill_", lambda x: x.fill_(7), lambda a: np.full_like(a, 7)),
    ("fill_ tensor", lambda x: x.fill_(pad.tensor(2.5)), lambda a: np.full_like(a, 2.5)),
    ("copy_", lambda x: x.copy_(pad.tensor([[1, 2, 3], [4, 5, 6]])), lambda a: a + 1),
    ("copy_ broadcast", lambda x: x.copy_(pad.tensor([9.0, 8.0, 7.0])), lambda a: np.tile([9.0, 8.0, 7.0], (2, 1))),
]


@pytest.mark.parametrize("label,f,ref", INPLACE, ids=[i[0] for i in INPLACE])
def test_inplace_ops_values_identity_and_version(label, f, ref):
    x = pad.arange(6.).view(2, 3)
    a = np_of(x)
    v0 = x._version[0]
    r = f(x)
    assert r is x
    assert_values(x, ref(a), rtol=1e-7)
    assert x._version[0] == v0 + 1


def test_inplace_ops_vs_torch(torch):
    def run(T):
        x = T.arange(6.).view(2, 3)
        x.add_(1.5).mul_(2).sub_(T.ones(3)).div_(3)
        x += 1
        x -= T.tensor([1., 2., 3.])
        x *= 2
        x /= 4
        y = T.zeros(2, 3)
        y.copy_(x)
        y[0].zero_()
        y[1, 1:].fill_(-3)
        return y
    np.testing.assert_allclose(np_of(run(pad)), np_of(run(torch)), rtol=1e-6)


def test_inplace_on_int_tensor_rules_match_torch(torch):
    def ok(T):
        x = T.tensor([1, 2, 3])
        x += 2
        x *= 3
        return x
    np.testing.assert_array_equal(np_of(ok(pad)), np_of(ok(torch)))
    for f in (lambda T: T.tensor([1, 2]).add_(1.5), lambda T: T.tensor([1, 2]).div_(2),
              lambda T: T.tensor([1, 2]).__iadd__(T.ones(2)), lambda T: T.ones(2, dtype=T.bool).__iadd__(1),
              lambda T: T.ones(3).add_(T.ones(2, 3)), lambda T: T.ones(3).copy_(T.ones(2))):
        same_error(lambda: f(pad), lambda: f(torch))


LEAF_INPLACE = [
    lambda x: x.add_(1), lambda x: x.sub_(1), lambda x: x.mul_(2), lambda x: x.div_(2), lambda x: x.zero_(),
    lambda x: x.fill_(3), lambda x: x.copy_(x.detach() * 0), lambda x: x.__iadd__(1), lambda x: x.__imul__(2),
    lambda x: x.__setitem__(Ellipsis, 0.0), lambda x: x.__setitem__(0, 5.0),
]


@pytest.mark.parametrize("f", LEAF_INPLACE)
def test_inplace_on_leaf_requiring_grad_raises(f):
    x = pad.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place "
                                           "operation."):
        f(x)
    assert_values(x, [1, 1, 1])  # unchanged


@pytest.mark.parametrize("f", LEAF_INPLACE)
def test_inplace_on_leaf_error_text_matches_torch(torch, f):
    same_error(lambda: f(pad.ones(3, requires_grad=True)), lambda: f(torch.ones(3, requires_grad=True)))


def test_inplace_on_leaf_allowed_under_no_grad():
    x = pad.ones(3, requires_grad=True)
    with pad.no_grad():
        x.mul_(3)
        x[0] = 0.0
        x += 1
    assert_values(x, [1, 4, 4])
    assert x.is_leaf and x.requires_grad and x.grad_fn is None
    (x * x).sum().backward()
    assert_values(x.grad, [2, 8, 8])


def test_inplace_on_non_leaf_records_the_graph(torch):
    def run(T):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y.add_(1)
        y.mul_(x)
        y[0] = 10.0
        y.sum().backward()
        return y, x.grad
    (py, pg), (ty, tg) = run(pad), run(torch)
    np.testing.assert_allclose(np_of(py), np_of(ty))
    np.testing.assert_allclose(np_of(pg), np_of(tg))
    assert grad_fn_name(py) == "CopySlices" == grad_fn_name(ty)
    assert py.grad_fn.name() == ty.grad_fn.name() == "torch::autograd::CopySlices"


def test_inplace_through_a_view_of_a_graph_tensor_updates_the_base(torch):
    def run(T):
        x = T.ones(4, requires_grad=True)
        y = x * 1
        v = y[1:3]
        v.mul_(5)
        y.sum().backward()
        return y, x.grad
    (py, pg), (ty, tg) = run(pad), run(torch)
    np.testing.assert_allclose(np_of(py), np_of(ty))
    np.testing.assert_allclose(np_of(pg), np_of(tg))


def test_inplace_on_view_of_leaf_raises(torch):
    same_error(lambda: pad.ones(3, requires_grad=True)[1:].add_(1),
               lambda: torch.ones(3, requires_grad=True)[1:].add_(1))


# ================================================================================ reprs
REPRS = [
    lambda T: T.tensor(2., requires_grad=True),
    lambda T: (lambda x: x * x + 3 * x + 29)(T.tensor(2., requires_grad=True)),
    lambda T: (T.ones(2, 2, requires_grad=True) + 2),
    lambda T: (T.ones(2, 2, requires_grad=True) + 2).mean(),
    lambda T: (T.ones(3, requires_grad=True) * 2).sum(),
    lambda T: T.tensor([1., 2.], dtype=T.float64, requires_grad=True) * 2,
    lambda T: T.tensor([1., 2.], requires_grad=True) ** 2,
    lambda T: 2 ** T.tensor([1., 2.], requires_grad=True),
    lambda T: T.tensor([1., 2.], requires_grad=True) @ T.tensor([3., 4.]),
    lambda T: T.ones(2, 3, requires_grad=True).t(),
    lambda T: T.ones(2, 3, requires_grad=True).view(6),
    lambda T: T.ones(2, 3, requires_grad=True)[0],
    lambda T: T.zeros(2, 3, requires_grad=True).exp().relu(),
    lambda T: T.ones(2, 3, requires_grad=True).log(),
    lambda T: -T.ones(2, requires_grad=True),
    lambda T: T.ones(2, requires_grad=True).double(),
    lambda T: T.ones(2, requires_grad=True).detach(),
    lambda T: (T.ones(2, requires_grad=True) * 2).grad_fn,
    lambda T: T.ones(2, requires_grad=True) / 3,
]


@pytest.mark.parametrize("f", REPRS)
def test_graph_output_reprs_match_torch(torch, f):
    assert normalize_repr(repr(f(pad))) == normalize_repr(repr(f(torch)))
    assert normalize_repr(str(f(pad))) == normalize_repr(str(f(torch)))


def test_graph_output_reprs():
    x = pad.tensor(2., requires_grad=True)
    assert repr(x) == "tensor(2., requires_grad=True)"
    assert repr(x * x + 3 * x + 29) == "tensor(39., grad_fn=<AddBackward0>)"
    y = (pad.ones(2, 2, requires_grad=True) + 2)
    assert repr(y) == "tensor([[3., 3.],\n        [3., 3.]], grad_fn=<AddBackward0>)"
    assert repr(y.mean()) == "tensor(3., grad_fn=<MeanBackward0>)"
    assert repr(pad.tensor([1., 2.], dtype=pad.float64, requires_grad=True) * 2) == \
        "tensor([2., 4.], dtype=pyautodiff.float64, grad_fn=<MulBackward0>)"
    assert repr((x * 2).grad_fn).startswith("<MulBackward0 object at 0x")


# ================================================================================ eager semantics
# Results must be the values at the time of the op, whatever writes the inputs' memory afterwards
# (large tensors: an implementation may defer elementwise work on them, which must stay invisible).
BIG = 1 << 17

WRITERS = [  # (label, f(x)) -- each writes x's memory
    ("add_", lambda x: x.add_(1)), ("sub_", lambda x: x.sub_(1)), ("mul_", lambda x: x.mul_(3)),
    ("div_", lambda x: x.div_(2)), ("pow_", lambda x: x.pow_(2)), ("neg_", lambda x: x.neg_()),
    ("zero_", lambda x: x.zero_()), ("fill_", lambda x: x.fill_(7)),
    ("copy_", lambda x: x.copy_(pad.full((BIG,), 3.0))), ("iadd", lambda x: x.__iadd__(1)),
    ("imul", lambda x: x.__imul__(2)), ("setitem", lambda x: x.__setitem__(slice(None), 5.0)),
    ("setitem mask", lambda x: x.__setitem__(x > 0, 5.0)), ("uniform_", lambda x: x.uniform_()),
    ("normal_", lambda x: x.normal_()), ("view add_", lambda x: x.view(2, -1).add_(1)),
    ("slice fill_", lambda x: x[10:].fill_(-1)), ("numpy write", lambda x: x.numpy().__setitem__(slice(None), 9)),
    ("np.asarray write", lambda x: np.copyto(np.asarray(x), 4.0)),
    ("detach add_", lambda x: x.detach().add_(2)), ("data mul_", lambda x: x.data.mul_(2)),
    ("view numpy write", lambda x: x.view(2, -1)[1].numpy().__setitem__(slice(None), 9)),
    ("slice np.asarray write", lambda x: np.copyto(np.asarray(x[5:]), 4.0)),
    ("detach numpy write", lambda x: x.detach().numpy().__setitem__(0, 1e3)),
]


@pytest.mark.parametrize("label,write", WRITERS, ids=[w[0] for w in WRITERS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_results_do_not_see_later_writes_to_inputs(label, write, dtype):
    a = rand((BIG,), 1, low=0.5, high=1.5).astype(dtype)
    x = pad.tensor(a)
    w = pad.tensor(rand((BIG,), 2).astype(dtype))
    y = (x * 2 + w) * x - 1  # elementwise chain over x
    s = x.exp().sum()
    m = ((x + 1) ** 2).mean()
    write(x)
    a64, w64 = a.astype(np.float64), w.numpy().astype(np.float64)
    np.testing.assert_allclose(np_of(y), (a64 * 2 + w64) * a64 - 1, rtol=1e-6, atol=4e-6)
    np.testing.assert_allclose(s.item(), np.exp(a64).sum(), rtol=1e-5)
    np.testing.assert_allclose(m.item(), ((a64 + 1) ** 2).mean(), rtol=1e-5)


@pytest.mark.parametrize("label,write", WRITERS, ids=[w[0] for w in WRITERS])
def test_gradients_do_not_see_later_writes_under_no_grad(label, write):
    a = rand((BIG,), 1, low=0.5, high=1.5)
    x = pad.tensor(a, requires_grad=True)
    y = ((x * 3 + 1) ** 2).sum()
    with pad.no_grad():
        c = x.detach()
        write(c)  # writes x's memory behind the graph's back (its version counter too)
    try:
        y.backward()
    except RuntimeError as e:  # torch's answer when the graph saved x: refuse, never miscompute
        assert "modified by an inplace operation" in str(e)
        return
    np.testing.assert_allclose(np_of(x.grad), 6 * (3 * a + 1), rtol=1e-12)


def test_numpy_of_a_result_shares_its_memory():
    x = pad.tensor(rand((BIG,), 1))
    y = x * 2 + 1
    arr = y.numpy()
    arr[:] = 0
    assert y.sum().item() == 0
    y.add_(1)
    assert arr[0] == 1


def test_from_numpy_inputs_are_read_at_op_time():
    a = rand((BIG,), 1)
    t = pad.from_numpy(a)
    y = t * 2 + 1
    expected = a * 2 + 1
    a[:] = -5
    np.testing.assert_allclose(np_of(y), expected)
    np.testing.assert_allclose(np_of(t), a)


def test_large_chain_gradients_match_small_formula():
    a = rand((BIG,), 1, low=0.5, high=1.5)
    x = pad.tensor(a, requires_grad=True)
    y = (3 * (x + 1) ** 2 / x - x.exp() * 0.5).mean()
    y.backward()
    g = (3 * 2 * (a + 1) / a - 3 * (a + 1) ** 2 / a ** 2 - 0.5 * np.exp(a)) / a.size
    np.testing.assert_allclose(np_of(x.grad), g, rtol=1e-10)
    np.testing.assert_allclose(y.item(), (3 * (a + 1) ** 2 / a - np.exp(a) * 0.5).mean(), rtol=1e-12)


VIEW_INPLACE = {
    "slice mul_": lambda T, x, w: (lambda y: (y[1:3].mul_(w[1:3]), y)[1])(x * 1),
    "row add_": lambda T, x, w: (lambda y: (y[0].add_(w[0]), y)[1])(x.reshape(2, 2) * 1),
    "view then sub_": lambda T, x, w: (lambda y: (y.view(2, 2).sub_(w.view(2, 2) * 3), y)[1])(x * 2),
    "transpose mul_": lambda T, x, w: (lambda y: (y.t().mul_(2), y * w.reshape(2, 2))[1])(x.reshape(2, 2) * 1),
    "augmented index": lambda T, x, w: (lambda y: (y.__setitem__(slice(0, 2), y[0:2].__imul__(w[0:2])), y)[1])(x + 0),
    "view of view": lambda T, x, w: (lambda y: (y[1:][1:].mul_(w[2:]), y)[1])(x * 1),
}


@pytest.mark.parametrize("name", list(VIEW_INPLACE))
def test_inplace_on_views_of_graph_tensors_vs_torch(torch, name):
    """In-place ops through views write into the base and record themselves in its history."""
    def run(T):
        x = T.tensor([1., 2., 3., 4.], requires_grad=True)
        w = T.tensor([0.5, -1., 2., 3.], requires_grad=True)
        out = VIEW_INPLACE[name](T, x, w)
        (out * T.tensor([1., 2., 3., 4.]).reshape(out.shape)).sum().backward()
        return np_of(out), np_of(x.grad), np_of(w.grad)
    for p, t in zip(run(pad), run(torch)):
        np.testing.assert_allclose(p, t, rtol=1e-6)


def test_inplace_on_view_keeps_saved_values_for_backward():
    """y[1:3].mul_(w) saves the slice's old values for w's gradient: a private copy, no false
    version error, and the right gradient."""
    x = pad.tensor([1., 2., 3., 4.], requires_grad=True)
    w = pad.tensor([5., 7.], requires_grad=True)
    y = x * 1
    y[1:3].mul_(w)
    y.sum().backward()
    np.testing.assert_array_equal(np_of(w.grad), [2., 3.])
    np.testing.assert_array_equal(np_of(x.grad), [1., 5., 7., 1.])


def test_inplace_on_base_is_seen_by_its_views_vs_torch(torch):
    def run(T):
        x = T.tensor([1., 2., 3., 4.], requires_grad=True)
        y = x * 1
        v = y[1:3]
        y.mul_(x)            # mul_ saves y's old values for x's gradient
        vals = np_of(v).copy()
        (y * T.tensor([1., 2., 3., 4.])).sum().backward()
        return vals, np_of(y), np_of(x.grad)
    for p, t in zip(run(pad), run(torch)):
        np.testing.assert_allclose(p, t, rtol=1e-6)


def test_sibling_view_after_inplace_through_another_view_vs_torch(torch):
    def run(T):
        x = T.tensor([1., 2., 3., 4.], requires_grad=True)
        w = T.tensor([2., 3.], requires_grad=True)
        y = x * 1
        a, b = y[0:2], y[1:3]
        a.mul_(w)                  # y[1] changes through a; b shares it
        (b * T.tensor([5., 7.])).sum().backward()
        return np_of(b), np_of(x.grad), np_of(w.grad)
    for p, t in zip(run(pad), run(torch)):
        np.testing.assert_allclose(p, t, rtol=1e-6)


def test_fill_and_zero_with_autograd_record_torchs_nodes():
    """A non-leaf filled in place keeps a history (FillBackward2 / ZeroBackward0) whose gradient is
    zero, so the inputs get a zero gradient, not None (found by tests/test_differential.py)."""
    for method, args, name in (("fill_", (3.0,), "FillBackward2"), ("zero_", (), "ZeroBackward0")):
        x = pad.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        assert getattr(y, method)(*args) is y
        assert grad_fn_name(y) == name and not y.is_leaf and y.requires_grad
        assert type(y.grad_fn.next_functions[0][0]).__name__ == "MulBackward0"
        y.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    x = pad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    y[1:].zero_()
    assert grad_fn_name(y) == "CopySlices"
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 0.0, 0.0])
    with pad.no_grad():
        y = (x * 2).fill_(5)
    assert y.grad_fn is None and y.tolist() == [5.0, 5.0, 5.0]


def test_permute_without_dims_is_a_type_error():
    """torch: x.permute() raises TypeError even for a 0-d tensor; x.permute(()) is fine."""
    with pytest.raises(TypeError, match='permute\\(\\) missing 1 required positional arguments: "dims"'):
        pad.tensor(1.0).permute()
    assert pad.tensor(1.0).permute(()).shape == ()


def test_setitem_grad_fn_names_vs_torch(torch):
    def names(T):
        out = []
        for index in (T.tensor([True, False, True, False]), T.tensor([0, 2]), [0, 1], slice(1, 3), 2):
            x = T.ones(4, requires_grad=True)
            y = x * 1
            y[index] = 5.
            y.sum().backward()
            out.append((type(y.grad_fn).__name__, y.grad_fn.name(), np_of(x.grad).tolist()))
        return out
    assert names(pad) == names(torch)


@pytest.mark.parametrize("make", [
    lambda T: T.zeros(2**61), lambda T: T.ones(2**62), lambda T: T.empty(2**31, 2**31),
    lambda T: T.zeros(2**60, dtype=T.float64), lambda T: T.full((2**62,), 1.0)])
def test_sizes_that_overflow_raise_torchs_runtime_error(make):
    with pytest.raises(RuntimeError, match=r"^Storage size calculation overflowed with sizes=\["):
        make(pad)


def test_memory_that_cannot_be_had_raises_runtime_error():
    with pytest.raises(RuntimeError, match="DefaultCPUAllocator: can't allocate memory: you tried to "
                                           "allocate 17592186044416 bytes"):
        pad.empty(2**40, 4)


def test_in_place_write_through_an_element_of_an_expand_as_torch():
    """x.expand(3, ...)[0] has no internal overlap: torch writes through it into x's memory (it
    was refused as read-only: numpy's broadcast views are)."""
    x = pad.arange(6.0).reshape(2, 3)
    e = x.expand(3, -1, -1)
    e[0].neg_()
    assert x.tolist() == [[-0.0, -1.0, -2.0], [-3.0, -4.0, -5.0]] and e[2].tolist() == x.tolist()
    y = pad.arange(6.0, requires_grad=True).reshape(2, 3) * 1
    with pad.no_grad():
        y.expand(3, -1, -1).transpose(1, 2)[0].mul_(2)
    assert y.tolist() == [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]
    z = pad.arange(6.0, requires_grad=True)
    w = z * 1
    w.expand(2, -1)[1].mul_(3)
    w.sum().backward()
    assert z.grad.tolist() == [3.0] * 6
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        x.expand(3, -1, -1).neg_()


def test_setitem_into_an_expand_as_torch():
    """Advanced indexing writes the indexed elements of an expand() (with torch's deprecation
    warning; elements sharing memory: the last write wins); a basic index may write where its
    view has no shared elements; elsewhere torch's overlap error."""
    def make():
        x = pad.tensor(2.0)
        return x, x.expand(3)
    for index, value, want, what in (
            (pad.tensor([True, False, True]), 3.25, 3.25, "masked_fill_"),
            (pad.tensor([True, False, True]), pad.tensor([1.0, 2.0]), 2.0, "index_put_"),
            (pad.tensor([0, 2]), 3.25, 3.25, "index_put_"),
            ([0, 1], 3.25, 3.25, "index_put_")):
        x, e = make()
        with pytest.warns(UserWarning, match=f"Use of {what} on expanded tensors is deprecated"):
            e[index] = value
        assert x.item() == want and e.tolist() == [want] * 3
    x, e = make()
    e[0] = 3.25
    assert x.item() == 3.25
    for index in (slice(0, 2), Ellipsis, True):
        x, e = make()
        with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
            e[index] = 3.25
        assert x.item() == 2.0


def test_an_op_that_cannot_get_its_memory_raises_torchs_runtime_error():
    a = pad.ones(10 ** 6, requires_grad=True).reshape(-1, 1)
    with pytest.raises(RuntimeError, match=r"^DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                                           r"4000000000000 bytes"):
        a * pad.ones(1, 10 ** 6)   # 4 TB


def test_index_put_of_a_tensor_of_another_dtype_as_torch():
    x = pad.zeros(6, dtype=pad.int64)
    with pytest.raises(RuntimeError, match="^Index put requires the source and destination dtypes match, got Long "
                                           "for the destination and Float for the source.$"):
        x[[0, 1]] = pad.tensor(2.0)
    with pytest.raises(RuntimeError, match="got Float for the destination and Double for the source"):
        pad.zeros(6)[pad.tensor([0, 2])] = pad.tensor([1.0, 2.0], dtype=pad.float64)
    x[pad.tensor([True, False, True, False, False, False])] = pad.tensor(2.5)   # masked_fill_: converts
    x[[3, 4]] = 7.5                                                              # a Python number converts
    assert x.tolist() == [2, 0, 2, 7, 7, 0]


def test_clone_preserves_a_transposes_layout_as_torch():
    x = pad.arange(12.0, requires_grad=True).reshape(4, 3).t()
    c = x.clone()
    assert c.stride() == (1, 3) and not c.is_contiguous() and c.float().stride() == (1, 3)
    with pytest.raises(RuntimeError, match="view size is not compatible with input tensor's size and stride"):
        c.view(-1)
    assert x.clone(memory_format=pad.contiguous_format).stride() == (4, 1)
    assert x[:, ::2].clone().stride() == (1, 3)     # not dense: dense in the same order
    leaf = pad.arange(12.0, requires_grad=True)
    leaf.reshape(4, 3).t().clone().sum().backward()
    assert leaf.grad.tolist() == [1.0] * 12 and c.grad_fn.name() == "CloneBackward0"
    assert repr(pad.preserve_format) == "torch.preserve_format"


def test_fill_and_setitem_through_an_element_of_an_expand_as_torch():
    x = pad.arange(4.0).reshape(1, 4)
    e = x.expand(3, -1, -1)
    e[0].zero_()
    assert x.tolist() == [[0.0] * 4]
    x = pad.arange(4.0).reshape(1, 4)
    x.expand(3, -1, -1)[1][0, 1:3] = 7.0
    assert x.tolist() == [[0.0, 7.0, 7.0, 3.0]]
    x.expand(3, -1, -1)[2].fill_(5)
    assert x.tolist() == [[5.0] * 4]
