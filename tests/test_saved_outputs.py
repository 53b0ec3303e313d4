"""Which ops keep their result for the backward pass: writing that result in place before
backward is torch's "modified by an inplace operation" error, and writing one that was not
kept is fine.  Each op is run on both libraries and must agree (skips without torch)."""
import warnings

import pytest

import pyautodiff as pad

torch = pytest.importorskip("torch")

OPS = {
    "exp": lambda T, x: x.exp(), "tanh": lambda T, x: x.tanh(), "sigmoid": lambda T, x: x.sigmoid(),
    "sqrt": lambda T, x: x.sqrt(), "rsqrt": lambda T, x: x.rsqrt(), "reciprocal": lambda T, x: x.reciprocal(),
    "relu": lambda T, x: x.relu(), "pow2": lambda T, x: x ** 2, "pow_t": lambda T, x: x ** x,
    "rpow": lambda T, x: 2 ** x, "softmax": lambda T, x: x.softmax(-1), "log_softmax": lambda T, x: x.log_softmax(-1),
    "amax": lambda T, x: x.amax(), "amax0": lambda T, x: x.amax(0), "amax0k": lambda T, x: x.amax(0, keepdim=True),
    "amin1": lambda T, x: x.amin(1), "max": lambda T, x: x.max(), "max0": lambda T, x: x.max(0)[0],
    "min1k": lambda T, x: x.min(1, keepdim=True)[0], "logsumexp0": lambda T, x: x.logsumexp(0),
    "logsumexp0k": lambda T, x: x.logsumexp(0, keepdim=True), "std": lambda T, x: x.std(),
    "std0": lambda T, x: x.std(0), "var0": lambda T, x: x.var(0), "sum": lambda T, x: x.sum(),
    "mean0": lambda T, x: x.mean(0), "elu": lambda T, x: T.nn.functional.elu(x),
    "gelu": lambda T, x: T.nn.functional.gelu(x), "silu": lambda T, x: T.nn.functional.silu(x),
    "leaky_relu": lambda T, x: T.nn.functional.leaky_relu(x), "softplus": lambda T, x: T.nn.functional.softplus(x),
    "erf": lambda T, x: x.erf(), "abs": lambda T, x: x.abs(), "log": lambda T, x: x.log(),
    "clamp": lambda T, x: x.clamp(0.2, 0.8), "square": lambda T, x: x.square(), "div": lambda T, x: x / (x + 1),
    "mul": lambda T, x: x * x, "mm": lambda T, x: x @ x.t(), "hardtanh": lambda T, x: T.nn.functional.hardtanh(x),
    "mse": lambda T, x: T.nn.functional.mse_loss(x, x.detach() * 0),
    "cross_entropy": lambda T, x: T.nn.functional.cross_entropy(x, T.tensor([0, 1])),
}


def _outcome(T, fn):
    x = T.tensor([[0.5, 0.25, 0.75], [0.1, 0.9, 0.3]], dtype=T.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        y = fn(T, x)
        y.mul_(1)
        try:
            y.sum().backward()
        except RuntimeError as e:
            assert "modified by an inplace operation" in str(e), str(e)
            return "version error"
    return "ok"


@pytest.mark.parametrize("name", sorted(OPS))
def test_writing_a_result_in_place_before_backward_as_torch(name):
    assert _outcome(pad, OPS[name]) == _outcome(torch, OPS[name])
