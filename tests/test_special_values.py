"""nan, +-inf and -0.0 through elementwise ops and their gradients, on contiguous and strided
(transposed) tensors, against PyTorch.  The kernels run on contiguous float arrays and the
fallbacks (numpy) on the others: both must give torch's answer, including at the special
values (a nan in relu's backward passes the gradient, relu(-0.0) is -0.0, ...).  Skips without
torch."""
import numpy as np
import pytest

import pyautodiff as pad

torch = pytest.importorskip("torch")

# torch computes with special values without warnings: so must pyautodiff (numpy would warn)
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

SPECIAL = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1.0, -1.0, 0.5, -2.5, 3.0,
           1e-30, -1e30]

UNARY = {
    "relu": lambda T, x: x.relu(),
    "neg": lambda T, x: -x,
    "abs": lambda T, x: x.abs(),
    "exp": lambda T, x: x.exp(),
    "log": lambda T, x: x.log(),
    "sqrt": lambda T, x: x.sqrt(),
    "tanh": lambda T, x: x.tanh(),
    "sigmoid": lambda T, x: x.sigmoid(),
    "square": lambda T, x: x ** 2,
    "cube": lambda T, x: x ** 3,
    "pow_half": lambda T, x: x ** 0.5,
    "pow_m1": lambda T, x: x ** -1,
    "rdiv": lambda T, x: 2 / x,
    "rsub": lambda T, x: 1 - x,
    "add_mul": lambda T, x: x * 3 + 1,
    "clamp": lambda T, x: x.clamp(-1.0, 1.0),
    "clamp_min": lambda T, x: x.clamp(min=0.0),
    "clamp_max": lambda T, x: x.clamp(max=0.0),
    "leaky_relu": lambda T, x: T.nn.functional.leaky_relu(x, 0.1),
    "hardtanh": lambda T, x: T.nn.functional.hardtanh(x),
    "elu": lambda T, x: T.nn.functional.elu(x),
    "softplus": lambda T, x: T.nn.functional.softplus(x),
    "gelu": lambda T, x: T.nn.functional.gelu(x),
    "silu": lambda T, x: T.nn.functional.silu(x),
    "reciprocal": lambda T, x: x.reciprocal(),
    "rsqrt": lambda T, x: x.rsqrt(),
    "erf": lambda T, x: x.erf(),
    "softmax": lambda T, x: x.softmax(-1),
    "log_softmax": lambda T, x: x.log_softmax(0),
    "logsumexp": lambda T, x: x.logsumexp(-1),
    "sum": lambda T, x: x.sum(-1),
    "mean": lambda T, x: x.mean(0),
    "amax": lambda T, x: x.amax(-1),
    "amin": lambda T, x: x.amin(0),
    "max_dim": lambda T, x: x.max(-1).values,
    "var": lambda T, x: x.var(-1),
    "std": lambda T, x: x.std(0),
    "mse": lambda T, x: T.nn.functional.mse_loss(x, x.detach() * 0 + 1, reduction="none"),
}
BINARY = {
    "add": lambda T, x, y: x + y,
    "sub": lambda T, x, y: x - y,
    "mul": lambda T, x, y: x * y,
    "div": lambda T, x, y: x / y,
    "pow": lambda T, x, y: x ** y,
    "maximum": lambda T, x, y: T.maximum(x, y),
    "minimum": lambda T, x, y: T.minimum(x, y),
}


# torch's own loops disagree here, so there is no one answer to match: its vectorized loop and
# its scalar loop (the last elements of a tensor) differ on a nan in hardtanh's and elu's
# backward (we follow the vectorized one), and its float32 vectorized gelu gives nan at +inf
# (erf there), where its float64 and strided loops give inf.
SKIP = {"hardtanh": [float("nan")], "elu": [float("nan")], "gelu": [float("inf"), float("-inf")]}


def _grid(shape, seed, skip=()):
    """Every special value against every other, in a (n, n) grid."""
    r = np.random.default_rng(seed)
    vals = [v for v in SPECIAL if not any(v == s or v != v and s != s for s in skip)]
    v = np.array(vals * (int(np.prod(shape)) // len(vals) + 1))[:int(np.prod(shape))]
    return r.permutation(v).reshape(shape)


def _run(T, fn, arrays, dtype, layout):
    leaves = [T.tensor(a, dtype=dtype, requires_grad=True) for a in arrays]
    xs = [t.t() if layout == "transposed" else t for t in leaves]
    out = fn(T, *xs)
    g = T.tensor(np.linspace(-1.5, 1.5, out.numel()).reshape(tuple(out.shape)), dtype=dtype)
    out.backward(g)
    return out.detach().numpy(), [t.grad.numpy() if t.grad is not None else None for t in leaves]


def _same(got, want, what):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    assert (nan_g == nan_w).all(), f"{what}: nan at {np.argwhere(nan_g != nan_w)[:5].tolist()}"
    ok = ~nan_w
    fin = ok & np.isfinite(want)
    scale = np.abs(want[fin]).max() if fin.any() else 0.0
    f32 = "float32" in what
    # float32: a few roundings apart (softmax's backward cancels); float64: close to exact
    np.testing.assert_allclose(got[ok], want[ok], rtol=1e-5 if f32 else 2e-6,
                               atol=(1e-6 if f32 else 1e-12) * scale, err_msg=what)
    # signed zeros: where torch gives exactly +-0, the same sign
    z = ok & (want == 0)
    assert (np.signbit(got[z]) == np.signbit(want[z])).all(), f"{what}: sign of zero differs"


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_special_values_vs_torch(name, dtype, layout):
    a = _grid((4, 6), 1, SKIP.get(name, ()))
    yp, (gp,) = _run(pad, UNARY[name], [a], getattr(pad, dtype), layout)
    yt, (gt,) = _run(torch, UNARY[name], [a], getattr(torch, dtype), layout)
    _same(yp, yt, f"{name} {dtype} value")
    _same(gp, gt, f"{name} {dtype} grad")


@pytest.mark.parametrize("layout", ["contiguous", "transposed"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_special_values_vs_torch(name, dtype, layout):
    a, b = _grid((12, 12), 2), _grid((12, 12), 3)
    yp, gp = _run(pad, BINARY[name], [a, b], getattr(pad, dtype), layout)
    yt, gt = _run(torch, BINARY[name], [a, b], getattr(torch, dtype), layout)
    _same(yp, yt, f"{name} {dtype} value")
    for i in range(2):
        _same(gp[i], gt[i], f"{name} {dtype} grad of operand {i}")


@pytest.mark.parametrize("fn", ["softmax", "log_softmax"])
def test_softmax_of_a_strided_tensor_is_contiguous_as_torch(fn):
    for T in (pad, torch):
        x = T.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
        for dim in (0, 1):
            for v in (x.t(), x[:, ::2]):
                y = getattr(v, fn)(dim)
                assert y.is_contiguous(), (T.__name__, dim)
                assert y.stride() == (y.shape[1], 1)


def test_softmax_of_a_0d_view_stays_0d():
    for T in (pad, torch):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        for fn in ("softmax", "log_softmax"):
            y = getattr(x[0], fn)(0)
            assert tuple(y.shape) == () and y.stride() == ()


def test_zero_base_power_times_an_infinite_gradient_as_torch():
    """0 ** x: torch's factor is 0 where x >= 0, multiplied by the incoming gradient, so an
    infinite gradient gives nan there (it was masked to 0 after the product)."""
    a = np.array([-1.0, 0.0, 0.5, 2.0])
    out = []
    for T in (pad, torch):
        x = T.tensor(a, requires_grad=True)
        y = 0 ** x
        (T.tensor(3.0, dtype=T.float64) / y).sum().backward()   # gradient -3 / y**2: -inf where y = 0
        out.append(x.grad.numpy())
    _same(out[0], out[1], "rpow base 0 float64 grad")
    assert np.isnan(out[0][2:]).all()


LAYOUT_OPS = {
    "mul_scalar": lambda T, b, c: b * 2.0, "exp": lambda T, b, c: b.exp(), "add_t": lambda T, b, c: b + T.ones(3, 2, 2),
    "neg": lambda T, b, c: -b, "relu": lambda T, b, c: b.relu(), "double": lambda T, b, c: b.double(),
    "clone": lambda T, b, c: b.clone(), "transposed_mul": lambda T, b, c: b.transpose(1, 2) * 1,
    "broadcast_pair": lambda T, b, c: T.ones(1, 3).expand(4, 3) * T.ones(4, 1), "pow": lambda T, b, c: b.pow(2),
    "expand_of_t_exp": lambda T, b, c: c.expand(2, 3, 2).exp(), "t_plus_c": lambda T, b, c: c + T.ones(3, 2),
    "c_plus_t": lambda T, b, c: T.ones(3, 2) + c, "bool_times_0d": lambda T, b, c: T.ones(2, 2, dtype=T.bool).expand(3, -1, -1) * T.tensor(2.0),
    "div": lambda T, b, c: b / 2, "sqrt": lambda T, b, c: b.sqrt(),
    "clamp": lambda T, b, c: b.clamp(0, 1), "same": lambda T, b, c: b * b,
}


@pytest.mark.parametrize("name", sorted(LAYOUT_OPS))
def test_elementwise_result_strides_as_torch(name):
    """Results of ops on expanded and transposed tensors are laid out as torch's
    TensorIterator lays them out (a .view() afterwards works, or fails, alike)."""
    got = []
    for T in (pad, torch):
        b = T.ones(2, 2).expand(3, -1, -1)
        c = T.ones(2, 3).t()
        got.append(LAYOUT_OPS[name](T, b, c).stride())
    assert got[0] == got[1]


def test_pow_gradient_with_a_float32_exponent_of_a_float64_base_as_torch():
    """torch computes `exponent - 1` in the exponent's dtype (float32), then promotes: the
    float64 base gradient carries that rounding (ours computed it in float64: 1e-6 apart)."""
    rng = np.random.default_rng(0)
    xa, ea = rng.uniform(0.5, 3, 1000), rng.uniform(-3, 3, 1000).astype(np.float32)
    out = []
    for T in (pad, torch):
        x, e = T.tensor(xa, requires_grad=True), T.tensor(ea, requires_grad=True)
        (x ** e).backward(T.ones(1000, dtype=T.float64))
        out.append((x.grad.numpy(), e.grad.numpy()))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-14)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-6)
