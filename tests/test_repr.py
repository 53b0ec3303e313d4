"""Tests for pyautodiff._tensor_str (tensor repr / print options).

The formatter is exercised through a tiny fake tensor, so these tests do not depend on the
rest of the library.  Expected strings are PyTorch 2.13's real output (conformance cases
tensor_repr_1d_2d / tensor_repr_scalars / tensor_repr_special_values) with ``torch.`` spelled
``pyautodiff.``.  The property tests compare against the real torch and are skipped when it is
not importable.
"""
import importlib
import importlib.util
import math
import os
import random
import sys
import time
import types

import numpy as np
import pytest


def _load():
    """Import _dtype/_tensor_str; if the package __init__ is broken mid-development, load the
    two files directly so that this formatter can still be tested on its own."""
    try:
        return (importlib.import_module("pyautodiff._tensor_str"),
                importlib.import_module("pyautodiff._dtype"))
    except ImportError:
        pkg_dir = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pyautodiff")
        pkg = types.ModuleType("_pad_repr_pkg")
        pkg.__path__ = [pkg_dir]
        sys.modules[pkg.__name__] = pkg
        mods = []
        for name in ("_dtype", "_tensor_str"):
            spec = importlib.util.spec_from_file_location(pkg.__name__ + "." + name,
                                                          os.path.join(pkg_dir, name + ".py"))
            mod = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = mod
            spec.loader.exec_module(mod)
            setattr(pkg, name, mod)
            mods.append(mod)
        return mods[1], mods[0]


ts, D = _load()


class _Node:
    pass


def _node(name):
    """An object whose type is named like a torch grad_fn node."""
    return type(name, (_Node,), {})()


class FakeTensor:
    def __init__(self, data, dtype=None, requires_grad=False, grad_fn=None):
        if dtype is None:
            arr = np.asarray(data)
            if arr.dtype.kind == "f":
                dtype = D.get_default_dtype()
            else:
                dtype = D.from_numpy(arr.dtype if arr.dtype.kind == "b" else np.int64)
        self.dtype = dtype
        self._data = np.asarray(data, dtype=dtype.np)
        self.requires_grad = requires_grad or grad_fn is not None
        self.grad_fn = grad_fn if grad_fn is None or not isinstance(grad_fn, str) else _node(grad_fn)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def __repr__(self):
        return ts.tensor_repr(self)


T = FakeTensor
f64 = D.float64
f32 = D.float32
inf = float("inf")
nan = float("nan")


@pytest.fixture(autouse=True)
def _default_printoptions():
    ts.set_printoptions(profile="default")
    yield
    ts.set_printoptions(profile="default")
    D.set_default_dtype(D.float32)


# --- tensor_repr_1d_2d -------------------------------------------------------------------------
CASES_1D_2D = [
    (lambda: T([1., 2.]), "tensor([1., 2.])"),
    (lambda: T([1, 2]), "tensor([1, 2])"),
    (lambda: T([1.5, 2.25]), "tensor([1.5000, 2.2500])"),
    (lambda: T([1., -2.]), "tensor([ 1., -2.])"),
    (lambda: T([-1, 10]), "tensor([-1, 10])"),
    (lambda: T([0.5, 10.0, -100.25]), "tensor([   0.5000,   10.0000, -100.2500])"),
    (lambda: T([1., 2.], f64), "tensor([1., 2.], dtype=pyautodiff.float64)"),
    (lambda: T([1., 2.], requires_grad=True), "tensor([1., 2.], requires_grad=True)"),
    (lambda: T([1., 2.], f64, requires_grad=True),
     "tensor([1., 2.], dtype=pyautodiff.float64, requires_grad=True)"),
    (lambda: T([[1., 2.], [3., 4.]]), "tensor([[1., 2.],\n        [3., 4.]])"),
    (lambda: T([[1, -200], [3, 4]]), "tensor([[   1, -200],\n        [   3,    4]])"),
    (lambda: T([[0.5, -1.25], [10., 2.]]), "tensor([[ 0.5000, -1.2500],\n        [10.0000,  2.0000]])"),
    (lambda: T([[1., 2., 3.]], requires_grad=True), "tensor([[1., 2., 3.]], requires_grad=True)"),
    (lambda: T([[1.], [2.], [3.]]), "tensor([[1.],\n        [2.],\n        [3.]])"),
    (lambda: T([[1., 2.], [3., 4.]], f64), "tensor([[1., 2.],\n        [3., 4.]], dtype=pyautodiff.float64)"),
    (lambda: T(np.arange(12.).reshape(3, 4)),
     "tensor([[ 0.,  1.,  2.,  3.],\n"
     "        [ 4.,  5.,  6.,  7.],\n"
     "        [ 8.,  9., 10., 11.]])"),
    (lambda: T(np.arange(12).reshape(2, 2, 3)),
     "tensor([[[ 0,  1,  2],\n"
     "         [ 3,  4,  5]],\n"
     "\n"
     "        [[ 6,  7,  8],\n"
     "         [ 9, 10, 11]]])"),
    (lambda: T(np.arange(8.).reshape(2, 2, 2) - 3.5),
     "tensor([[[-3.5000, -2.5000],\n"
     "         [-1.5000, -0.5000]],\n"
     "\n"
     "        [[ 0.5000,  1.5000],\n"
     "         [ 2.5000,  3.5000]]])"),
    (lambda: T(np.ones((1, 1, 2))), "tensor([[[1., 1.]]])"),
    (lambda: T(np.zeros(3)), "tensor([0., 0., 0.])"),
    (lambda: T(np.zeros((2, 3))), "tensor([[0., 0., 0.],\n        [0., 0., 0.]])"),
    (lambda: T(np.ones((2, 2)), f64), "tensor([[1., 1.],\n        [1., 1.]], dtype=pyautodiff.float64)"),
    (lambda: T(np.zeros(0, np.float32)), "tensor([])"),
    (lambda: T(np.zeros((2, 0), np.float32)), "tensor([], size=(2, 0))"),
    (lambda: T([True, False]), "tensor([ True, False])"),
    (lambda: T([1, 2], D.int32), "tensor([1, 2], dtype=pyautodiff.int32)"),
    (lambda: T([[2., 4.], [6., 8.]], grad_fn="MulBackward0"),
     "tensor([[2., 4.],\n        [6., 8.]], grad_fn=<MulBackward0>)"),
    (lambda: T([4., 6.], grad_fn="SumBackward1"), "tensor([4., 6.], grad_fn=<SumBackward1>)"),
    (lambda: T(np.arange(30.)),
     "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
     "        14., 15., 16., 17., 18., 19., 20., 21., 22., 23., 24., 25., 26., 27.,\n"
     "        28., 29.])"),
    (lambda: T(np.arange(25)),
     "tensor([ 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15, 16, 17,\n"
     "        18, 19, 20, 21, 22, 23, 24])"),
    (lambda: T([0.5, -1.25, 3.], f64, requires_grad=True),
     "tensor([ 0.5000, -1.2500,  3.0000], dtype=pyautodiff.float64, requires_grad=True)"),
    # the suffix wraps where torch's (shorter) "torch.float64" line would pass 80 columns
    (lambda: T([1., -2.5, 6.], f64, grad_fn="MulBackward0"),
     "tensor([ 1.0000, -2.5000,  6.0000], dtype=pyautodiff.float64,\n"
     "       grad_fn=<MulBackward0>)"),
    (lambda: T([1., -2.5], f64, grad_fn="MulBackward0"),
     "tensor([ 1.0000, -2.5000], dtype=pyautodiff.float64, grad_fn=<MulBackward0>)"),
    (lambda: T(np.arange(12.), grad_fn="MulBackward0"),
     "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11.],\n"
     "       grad_fn=<MulBackward0>)"),
    (lambda: T(np.arange(6.).reshape(2, 3) - 1, f64, grad_fn="SubBackward0"),
     "tensor([[-1.,  0.,  1.],\n        [ 2.,  3.,  4.]], dtype=pyautodiff.float64, grad_fn=<SubBackward0>)"),
]

# --- tensor_repr_scalars -----------------------------------------------------------------------
CASES_SCALARS = [
    (lambda: T(2.), "tensor(2.)"),
    (lambda: T(2), "tensor(2)"),
    (lambda: T(-3.), "tensor(-3.)"),
    (lambda: T(0.5), "tensor(0.5000)"),
    (lambda: T(0.25), "tensor(0.2500)"),
    (lambda: T(1.5), "tensor(1.5000)"),
    (lambda: T(-0.125), "tensor(-0.1250)"),
    (lambda: T(100.), "tensor(100.)"),
    (lambda: T(0.), "tensor(0.)"),
    (lambda: T(0), "tensor(0)"),
    (lambda: T(-7), "tensor(-7)"),
    (lambda: T(2., f64), "tensor(2., dtype=pyautodiff.float64)"),
    (lambda: T(2.5, f64), "tensor(2.5000, dtype=pyautodiff.float64)"),
    (lambda: T(2., requires_grad=True), "tensor(2., requires_grad=True)"),
    (lambda: T(0.5, requires_grad=True), "tensor(0.5000, requires_grad=True)"),
    (lambda: T(2., f64, requires_grad=True), "tensor(2., dtype=pyautodiff.float64, requires_grad=True)"),
    (lambda: T(3, f32), "tensor(3.)"),
    (lambda: T(3.0, D.int64), "tensor(3)"),
    (lambda: T(True), "tensor(True)"),
    (lambda: T(3., grad_fn="MulBackward0"), "tensor(3., grad_fn=<MulBackward0>)"),
    (lambda: T(3., grad_fn="AddBackward0"), "tensor(3., grad_fn=<AddBackward0>)"),
    (lambda: T(0.75, grad_fn="MulBackward0"), "tensor(0.7500, grad_fn=<MulBackward0>)"),
    (lambda: T(3., f64, grad_fn="MulBackward0"), "tensor(3., dtype=pyautodiff.float64, grad_fn=<MulBackward0>)"),
    (lambda: T(4.), "tensor(4.)"),
    (lambda: T(1.), "tensor(1.)"),
]

# --- tensor_repr_special_values ----------------------------------------------------------------
CASES_SPECIAL = [
    (lambda: T([1e-5, 1.0]), "tensor([1.0000e-05, 1.0000e+00])"),
    (lambda: T([1e10, 1.0]), "tensor([1.0000e+10, 1.0000e+00])"),
    (lambda: T([100., 0.001]), "tensor([1.0000e+02, 1.0000e-03])"),
    (lambda: T([1000., 1.]), "tensor([1000.,    1.])"),
    (lambda: T([1001., 1.]), "tensor([1.0010e+03, 1.0000e+00])"),
    (lambda: T(1e-10), "tensor(1.0000e-10)"),
    (lambda: T(123456789.), "tensor(1.2346e+08)"),
    (lambda: T(1e8), "tensor(100000000.)"),
    (lambda: T([[1e-5, 2.], [3., 4.]]), "tensor([[1.0000e-05, 2.0000e+00],\n        [3.0000e+00, 4.0000e+00]])"),
    (lambda: T(nan), "tensor(nan)"),
    (lambda: T([inf, 1.]), "tensor([inf, 1.])"),
    (lambda: T([-inf, 0.5]), "tensor([  -inf, 0.5000])"),
    (lambda: T([nan, 2., 3.]), "tensor([nan, 2., 3.])"),
    (lambda: T(-0.), "tensor(-0.)"),
    (lambda: T([0.5, -0.]), "tensor([0.5000, -0.0000])"),
    (lambda: T(123.456), "tensor(123.4560)"),
    (lambda: T(0.1), "tensor(0.1000)"),
    (lambda: T([0.1, 2.0]), "tensor([0.1000, 2.0000])"),
    (lambda: T([1 / 3, 2 / 3]), "tensor([0.3333, 0.6667])"),
    (lambda: T([1.23456789, 12.3456789, 123.456789]), "tensor([  1.2346,  12.3457, 123.4568])"),
    (lambda: T(np.arange(2000.)),
     "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
     "        1.9990e+03])"),
    (lambda: T(np.arange(1001)), "tensor([   0,    1,    2,  ...,  998,  999, 1000])"),
    (lambda: T(np.ones((40, 40))),
     "tensor([[1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        ...,\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.],\n"
     "        [1., 1., 1.,  ..., 1., 1., 1.]])"),
]

# --- further torch behaviour (outputs taken from torch 2.13) -----------------------------------
CASES_MORE = [
    # float32 1e-4 is 9.99999974e-05 < 1e-4 in float64: scientific
    (lambda: T(1e-4), "tensor(1.0000e-04)"),
    (lambda: T([0., -0.]), "tensor([0., -0.])"),
    (lambda: T([-0., 1.]), "tensor([-0., 1.])"),
    (lambda: T([0., nan]), "tensor([0., nan])"),
    # empty tensors show every dtype but the default floating one
    (lambda: T(np.zeros(0, np.int64)), "tensor([], dtype=pyautodiff.int64)"),
    (lambda: T(np.zeros((0, 3), bool)), "tensor([], size=(0, 3), dtype=pyautodiff.bool)"),
    (lambda: T(np.zeros((2, 0, 3)), f64), "tensor([], size=(2, 0, 3), dtype=pyautodiff.float64)"),
    (lambda: T(np.zeros(0, np.float32), requires_grad=True), "tensor([], requires_grad=True)"),
    (lambda: T([1, 2], D.uint8), "tensor([1, 2], dtype=pyautodiff.uint8)"),
    (lambda: T([-128, 127], D.int8), "tensor([-128,  127], dtype=pyautodiff.int8)"),
    (lambda: T([1.5, -2.], D.float16), "tensor([ 1.5000, -2.0000], dtype=pyautodiff.float16)"),
    (lambda: T(np.arange(24.).reshape(2, 3, 4) * 0.5),
     "tensor([[[ 0.0000,  0.5000,  1.0000,  1.5000],\n"
     "         [ 2.0000,  2.5000,  3.0000,  3.5000],\n"
     "         [ 4.0000,  4.5000,  5.0000,  5.5000]],\n"
     "\n"
     "        [[ 6.0000,  6.5000,  7.0000,  7.5000],\n"
     "         [ 8.0000,  8.5000,  9.0000,  9.5000],\n"
     "         [10.0000, 10.5000, 11.0000, 11.5000]]])"),
    (lambda: T(np.arange(2 * 2 * 2 * 2).reshape(2, 2, 2, 2)),
     "tensor([[[[ 0,  1],\n"
     "          [ 2,  3]],\n"
     "\n"
     "         [[ 4,  5],\n"
     "          [ 6,  7]]],\n"
     "\n"
     "\n"
     "        [[[ 8,  9],\n"
     "          [10, 11]],\n"
     "\n"
     "         [[12, 13],\n"
     "          [14, 15]]]])"),
    (lambda: T(np.arange(1100).reshape(11, 10, 10)),
     "tensor([[[   0,    1,    2,  ...,    7,    8,    9],\n"
     "         [  10,   11,   12,  ...,   17,   18,   19],\n"
     "         [  20,   21,   22,  ...,   27,   28,   29],\n"
     "         ...,\n"
     "         [  70,   71,   72,  ...,   77,   78,   79],\n"
     "         [  80,   81,   82,  ...,   87,   88,   89],\n"
     "         [  90,   91,   92,  ...,   97,   98,   99]],\n"
     "\n"
     "        [[ 100,  101,  102,  ...,  107,  108,  109],\n"
     "         [ 110,  111,  112,  ...,  117,  118,  119],\n"
     "         [ 120,  121,  122,  ...,  127,  128,  129],\n"
     "         ...,\n"
     "         [ 170,  171,  172,  ...,  177,  178,  179],\n"
     "         [ 180,  181,  182,  ...,  187,  188,  189],\n"
     "         [ 190,  191,  192,  ...,  197,  198,  199]],\n"
     "\n"
     "        [[ 200,  201,  202,  ...,  207,  208,  209],\n"
     "         [ 210,  211,  212,  ...,  217,  218,  219],\n"
     "         [ 220,  221,  222,  ...,  227,  228,  229],\n"
     "         ...,\n"
     "         [ 270,  271,  272,  ...,  277,  278,  279],\n"
     "         [ 280,  281,  282,  ...,  287,  288,  289],\n"
     "         [ 290,  291,  292,  ...,  297,  298,  299]],\n"
     "\n"
     "        ...,\n"
     "\n"
     "        [[ 800,  801,  802,  ...,  807,  808,  809],\n"
     "         [ 810,  811,  812,  ...,  817,  818,  819],\n"
     "         [ 820,  821,  822,  ...,  827,  828,  829],\n"
     "         ...,\n"
     "         [ 870,  871,  872,  ...,  877,  878,  879],\n"
     "         [ 880,  881,  882,  ...,  887,  888,  889],\n"
     "         [ 890,  891,  892,  ...,  897,  898,  899]],\n"
     "\n"
     "        [[ 900,  901,  902,  ...,  907,  908,  909],\n"
     "         [ 910,  911,  912,  ...,  917,  918,  919],\n"
     "         [ 920,  921,  922,  ...,  927,  928,  929],\n"
     "         ...,\n"
     "         [ 970,  971,  972,  ...,  977,  978,  979],\n"
     "         [ 980,  981,  982,  ...,  987,  988,  989],\n"
     "         [ 990,  991,  992,  ...,  997,  998,  999]],\n"
     "\n"
     "        [[1000, 1001, 1002,  ..., 1007, 1008, 1009],\n"
     "         [1010, 1011, 1012,  ..., 1017, 1018, 1019],\n"
     "         [1020, 1021, 1022,  ..., 1027, 1028, 1029],\n"
     "         ...,\n"
     "         [1070, 1071, 1072,  ..., 1077, 1078, 1079],\n"
     "         [1080, 1081, 1082,  ..., 1087, 1088, 1089],\n"
     "         [1090, 1091, 1092,  ..., 1097, 1098, 1099]]])"),
    # summarized formatter only sees the printed elements: the 0.5 in the middle is hidden
    (lambda: T(np.r_[np.ones(600), 0.5, np.ones(600)]),
     "tensor([1., 1., 1.,  ..., 1., 1., 1.])"),
]


def _ids(cases, prefix):
    return [f"{prefix}{i}" for i in range(len(cases))]


@pytest.mark.parametrize("make,expected",
                         CASES_1D_2D + CASES_SCALARS + CASES_SPECIAL + CASES_MORE,
                         ids=_ids(CASES_1D_2D, "1d2d_") + _ids(CASES_SCALARS, "scalar_")
                         + _ids(CASES_SPECIAL, "special_") + _ids(CASES_MORE, "more_"))
def test_known_reprs(make, expected):
    assert ts.tensor_repr(make()) == expected


def test_parameter_prefix_and_custom_prefix():
    # nn.Parameter's repr is "Parameter containing:\n" + the plain tensor repr (same indent)
    p = T(np.ones((2, 3)), requires_grad=True)
    assert "Parameter containing:\n" + ts.tensor_repr(p) == (
        "Parameter containing:\ntensor([[1., 1., 1.],\n        [1., 1., 1.]], requires_grad=True)")
    assert ts.tensor_repr(T([[1, 2], [3, 4]]), prefix="Foo(") == "Foo([[1, 2],\n     [3, 4]])"


def test_non_contiguous_data():
    base = np.arange(20, dtype=np.float32).reshape(4, 5)
    t = T(base[:, ::2].T)
    assert not t._data.flags.c_contiguous and np.shares_memory(t._data, base)
    assert ts.tensor_repr(t) == ("tensor([[ 0.,  5., 10., 15.],\n"
                                 "        [ 2.,  7., 12., 17.],\n"
                                 "        [ 4.,  9., 14., 19.]])")


def test_default_dtype_float64():
    D.set_default_dtype(D.float64)
    assert ts.tensor_repr(T([1., 2.], f64)) == "tensor([1., 2.])"
    assert ts.tensor_repr(T([1., 2.], f32)) == "tensor([1., 2.], dtype=pyautodiff.float32)"
    assert ts.tensor_repr(T(np.zeros(0), f64)) == "tensor([])"
    assert ts.tensor_repr(T(np.zeros(0), f32)) == "tensor([], dtype=pyautodiff.float32)"


def test_printoptions_api():
    assert ts.get_printoptions() == {"precision": 4, "threshold": 1000, "edgeitems": 3,
                                     "linewidth": 80, "sci_mode": None}
    ts.set_printoptions(precision=2)
    assert ts.tensor_repr(T([1.12345])) == "tensor([1.12])"
    ts.set_printoptions(threshold=5)
    assert ts.tensor_repr(T(np.arange(10))) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    ts.set_printoptions(profile="default")
    assert ts.tensor_repr(T([1.12345])) == "tensor([1.1235])"
    ts.set_printoptions(profile="short")
    assert ts.get_printoptions() == {"precision": 2, "threshold": 1000, "edgeitems": 2,
                                     "linewidth": 80, "sci_mode": None}
    ts.set_printoptions(profile="full", linewidth=100)
    assert ts.get_printoptions()["threshold"] == math.inf
    assert ts.get_printoptions()["linewidth"] == 100
    ts.set_printoptions(sci_mode=True)
    assert ts.tensor_repr(T([1., 2.])) == "tensor([1.0000e+00, 2.0000e+00])"
    assert ts.tensor_repr(T([0., 0.])) == "tensor([0., 0.])"  # nothing to measure: never sci
    ts.set_printoptions()  # sci_mode is always reassigned, back to automatic
    assert ts.get_printoptions()["sci_mode"] is None
    with ts.printoptions(sci_mode=False, precision=1):
        assert ts.tensor_repr(T([1e-5, 1.])) == "tensor([0.0, 1.0])"
    assert ts.tensor_repr(T([1e-5, 1.])) == "tensor([1.0000e-05, 1.0000e+00])"


def test_edgeitems_zero():
    ts.set_printoptions(edgeitems=0)
    assert ts.tensor_repr(T(np.arange(5.))) == "tensor([0., 1., 2., 3., 4.], size=(5,))"
    assert ts.tensor_repr(T(np.arange(5000))) == "tensor([...], size=(5000,))"
    assert ts.tensor_repr(T(np.ones((50, 50)))) == "tensor([...], size=(50, 50))"


def test_large_tensor_is_fast():
    arr = np.random.default_rng(0).standard_normal((1000, 1000)).astype(np.float32)
    t0 = time.perf_counter()
    s = ts.tensor_repr(T(arr))
    assert time.perf_counter() - t0 < 0.5
    assert s.count("\n") == 6 and "..." in s
    t0 = time.perf_counter()
    ts.tensor_repr(T(np.arange(10 ** 6)))
    ts.tensor_repr(T(np.zeros((100, 100, 100), bool)))
    assert time.perf_counter() - t0 < 0.5


# --- property tests against the real torch -----------------------------------------------------
_NAMES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def _torch_repr(torch, arr, name, grad):
    t = torch.from_numpy(np.array(arr, order="C", copy=True))  # (ascontiguousarray makes 0-d 1-d)
    assert str(t.dtype) == "torch." + name
    grad_fn = None
    if grad == "leaf":
        t.requires_grad_()
    elif grad == "node":
        t = t.detach().requires_grad_() * 1
        grad_fn = type(t.grad_fn).__name__
    return repr(t).replace("torch.", "pyautodiff."), grad_fn


def _random_array(rng, shape, name):
    n = math.prod(shape)
    if name == "bool":
        return (rng.random(n) < 0.5).reshape(shape)
    if name.startswith("float"):
        kind = rng.choice(["normal", "int", "wide", "tiny", "huge", "zeros", "dyadic", "round"])
        if kind == "normal":
            v = rng.standard_normal(n) * 10.0 ** rng.integers(-2, 4)
        elif kind == "int":
            v = rng.integers(-300, 300, n).astype(float)
        elif kind == "wide":
            lo, hi = (-8, 12) if name != "float16" else (-5, 4)
            v = rng.standard_normal(n) * 10.0 ** rng.integers(lo, hi, n)
        elif kind == "tiny":
            v = rng.standard_normal(n) * 1e-6
        elif kind == "huge":
            v = rng.standard_normal(n) * (1e9 if name != "float16" else 1e4)
        elif kind == "zeros":
            v = np.zeros(n) * rng.choice([1.0, -1.0])
        elif kind == "dyadic":
            v = rng.integers(-64, 64, n) / 8
        else:
            v = np.round(rng.standard_normal(n) * 100, rng.integers(0, 6))
        if n and rng.random() < 0.3:
            idx = rng.integers(0, n, max(1, n // 5))
            v[idx] = rng.choice([np.nan, np.inf, -np.inf, -0.0, 0.0], idx.size)
        with np.errstate(all="ignore"):
            return v.astype(name).reshape(shape)
    info = np.iinfo(name)
    lo, hi = [(int(info.min), int(info.max)), (0, 9), (-20, 20)][rng.integers(0, 3)]
    lo = max(lo, int(info.min))
    return rng.integers(lo, hi, n, dtype=np.int64, endpoint=True).astype(name).reshape(shape)


def _random_options(rng):
    if rng.random() < 0.65:
        return {}
    opts = dict(precision=[None, 0, 1, 2, 6][rng.integers(0, 5)],
                threshold=[None, 5, 20, 100][rng.integers(0, 4)],
                edgeitems=[None, 0, 1, 2, 4][rng.integers(0, 5)],
                linewidth=[None, 20, 40, 120][rng.integers(0, 4)],
                sci_mode=[None, None, True, False][rng.integers(0, 4)],
                profile=[None, "short", "full", "default"][rng.integers(0, 4)])
    return opts


def test_matches_torch_random():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1234)
    checked = 0
    try:
        for _ in range(800):
            ndim = int(rng.choice([0, 1, 1, 2, 2, 3, 4]))
            shape = tuple(int(rng.choice([0, 1, 2, 3, 5, 7, 13, 40])) if rng.random() < 0.9
                          else int(rng.integers(0, 1200)) for _ in range(ndim))
            if math.prod(shape) > 100000:
                continue
            name = _NAMES[rng.integers(0, len(_NAMES))]
            arr = _random_array(rng, shape, name)
            grad = "none"
            if name.startswith("float") and rng.random() < 0.3:
                grad = "leaf" if rng.random() < 0.5 else "node"
            opts = _random_options(rng)
            torch.set_printoptions(**opts)
            ts.set_printoptions(**opts)
            assert ts.get_printoptions() == torch._tensor_str.get_printoptions()
            expected, grad_fn = _torch_repr(torch, arr, name, grad)
            fake = FakeTensor(arr, D._BY_NAME[name], requires_grad=grad == "leaf",
                              grad_fn=grad_fn)
            assert ts.tensor_repr(fake) == expected, (shape, name, opts)
            checked += 1
    finally:
        torch.set_printoptions(profile="default")
    assert checked > 650


def test_matches_torch_extreme_floats():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(99)
    lims = {"float64": (-320, 310), "float32": (-45, 39), "float16": (-8, 5)}
    try:
        for _ in range(600):
            name = ["float64", "float32", "float16"][rng.integers(0, 3)]
            n = int(rng.choice([1, 2, 3, 5, 8]))
            with np.errstate(all="ignore"):
                v = rng.standard_normal(n) * 10.0 ** rng.integers(*lims[name], n).astype(float)
                if rng.random() < 0.3:
                    v = np.round(v)
                arr = v.astype(name)
            if rng.random() < 0.2:
                arr = arr[0]
            opts = dict(precision=[None, 0, 1, 4, 8][rng.integers(0, 5)],
                        sci_mode=[None, True, False][rng.integers(0, 3)],
                        linewidth=[None, 30, 50][rng.integers(0, 3)])
            torch.set_printoptions(**opts)
            ts.set_printoptions(**opts)
            expected, _ = _torch_repr(torch, arr, name, "none")
            assert ts.tensor_repr(FakeTensor(arr, D._BY_NAME[name])) == expected, (arr, opts)
    finally:
        torch.set_printoptions(profile="default")


def test_matches_torch_default_float64():
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    D.set_default_dtype(D.float64)
    try:
        for arr in (np.array([1., 2.]), np.array([1.5, 2.], np.float32), np.zeros(0, np.float32),
                    np.zeros(0), np.zeros((0, 2), np.int64), np.array(3, np.int32)):
            name = arr.dtype.name
            expected, _ = _torch_repr(torch, arr, name, "none")
            assert ts.tensor_repr(FakeTensor(arr, D._BY_NAME[name])) == expected
    finally:
        torch.set_default_dtype(old)
