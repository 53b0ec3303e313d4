"""The nn/tensor ops of pyautodiff/ops/nn_ops.py: gradcheck (float64 central differences) for every
differentiable op, and values / gradients / grad_fn names / error texts against PyTorch when it is
installed (those tests skip cleanly without torch)."""
import warnings

import numpy as np
import pytest

import pyautodiff as pad
import pyautodiff.nn.functional as F
from pyautodiff.autograd import gradcheck


def rnd(shape, seed=0, low=-2.0, high=2.0):
    """Distinct, well-separated values in (low, high): no ties for max/min, no kinks within eps."""
    r = np.random.default_rng(seed)
    n = int(np.prod(shape))
    base = np.linspace(low, high, n + 2)[1:-1]
    step = (high - low) / (n + 1)
    return (r.permutation(base) + r.uniform(-0.2, 0.2, n) * step).reshape(shape)


def leaf(a, requires_grad=True):
    return pad.tensor(np.array(a, dtype=np.float64), requires_grad=requires_grad)


def torch_or_skip():
    return pytest.importorskip("torch")


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


# name -> (fn(T, F, *tensors), [input arrays], indices of the inputs that require grad)
TGT = np.array([0, 2, 1, 2])
OPS = {
    "softmax": (lambda T, F, x: F.softmax(x, dim=1), [rnd((3, 4))], [0]),
    "softmax_dim0": (lambda T, F, x: T.softmax(x, 0), [rnd((3, 4))], [0]),
    "softmax_method": (lambda T, F, x: x.softmax(-1), [rnd((2, 3, 2))], [0]),
    "log_softmax": (lambda T, F, x: F.log_softmax(x, dim=1), [rnd((3, 4))], [0]),
    "log_softmax_1d": (lambda T, F, x: T.log_softmax(x, 0), [rnd((5,))], [0]),
    "tanh": (lambda T, F, x: T.tanh(x), [rnd((3, 2))], [0]),
    "tanh_method": (lambda T, F, x: x.tanh(), [rnd((4,))], [0]),
    "sigmoid": (lambda T, F, x: T.sigmoid(x), [rnd((3, 2), low=-6, high=6)], [0]),
    "F.sigmoid": (lambda T, F, x: F.sigmoid(x), [rnd((3,))], [0]),
    "abs": (lambda T, F, x: T.abs(x), [rnd((3, 3))], [0]),
    "abs_method": (lambda T, F, x: x.abs(), [rnd((4,))], [0]),
    "sqrt": (lambda T, F, x: T.sqrt(x), [rnd((3, 2), low=0.5, high=3)], [0]),
    "max_full": (lambda T, F, x: x.max(), [rnd((3, 4))], [0]),
    "min_full": (lambda T, F, x: T.min(x), [rnd((3, 4))], [0]),
    "max_dim": (lambda T, F, x: x.max(1)[0], [rnd((3, 4))], [0]),
    "max_dim_keep": (lambda T, F, x: T.max(x, 0, keepdim=True).values, [rnd((3, 4))], [0]),
    "min_dim": (lambda T, F, x: x.min(dim=-1).values, [rnd((2, 3, 4))], [0]),
    "amax": (lambda T, F, x: x.amax(1), [rnd((3, 4))], [0]),
    "amin_tuple": (lambda T, F, x: T.amin(x, (0, 2)), [rnd((2, 3, 2))], [0]),
    "var": (lambda T, F, x: x.var(), [rnd((3, 4))], [0]),
    "var_dim": (lambda T, F, x: x.var(1), [rnd((3, 4))], [0]),
    "var_dim_keep_c0": (lambda T, F, x: T.var(x, 0, keepdim=True, correction=0), [rnd((3, 4))], [0]),
    "var_unbiased_false": (lambda T, F, x: x.var(1, False), [rnd((3, 4))], [0]),
    "std": (lambda T, F, x: x.std(), [rnd((3, 4))], [0]),
    "std_dims": (lambda T, F, x: T.std(x, (0, 1)), [rnd((2, 3, 2))], [0]),
    "logsumexp": (lambda T, F, x: T.logsumexp(x, 1), [rnd((3, 4))], [0]),
    "clamp": (lambda T, F, x: x.clamp(-0.5, 0.5), [rnd((3, 4))], [0]),
    "clamp_min": (lambda T, F, x: T.clamp(x, min=0.1), [rnd((3, 4))], [0]),
    "clamp_max_kw": (lambda T, F, x: x.clamp(max=0.3), [rnd((3, 4))], [0]),
    "clamp_tensor": (lambda T, F, x, lo, hi: T.clamp(x, lo, hi),
                     [rnd((3, 4), 1), rnd((4,), 2, -2, -0.5), rnd((3, 1), 3, 0.5, 2)], [0, 1, 2]),
    "clamp_min_method": (lambda T, F, x: x.clamp_min(0.0), [rnd((5,))], [0]),
    "clamp_max_method": (lambda T, F, x: x.clamp_max(0.2), [rnd((5,))], [0]),
    "clip": (lambda T, F, x: T.clip(x, -1, 1), [rnd((5,))], [0]),
    "maximum": (lambda T, F, x, y: T.maximum(x, y), [rnd((3, 4), 1), rnd((4,), 2)], [0, 1]),
    "minimum": (lambda T, F, x, y: T.minimum(x, y), [rnd((3, 1), 1), rnd((1, 4), 2)], [0, 1]),
    "max_binary": (lambda T, F, x, y: T.max(x, y), [rnd((3,), 1), rnd((3,), 2)], [0, 1]),
    "where": (lambda T, F, x, y: T.where(x > 0, x, y), [rnd((3, 4), 1), rnd((3, 4), 2)], [0, 1]),
    "where_bcast": (lambda T, F, x, y: T.where(y > 0, x, y), [rnd((4,), 1), rnd((3, 4), 2)], [0, 1]),
    "where_scalar": (lambda T, F, x: T.where(x > 0, x, 0.0), [rnd((3, 4))], [0]),
    "where_method": (lambda T, F, x, y: x.where(x > y, y), [rnd((3, 4), 1), rnd((3, 4), 2)], [0, 1]),
    "cat0": (lambda T, F, x, y: T.cat([x, y]), [rnd((2, 3), 1), rnd((1, 3), 2)], [0, 1]),
    "cat1": (lambda T, F, x, y, z: T.cat((x, y, z), dim=1), [rnd((2, 1), 1), rnd((2, 3), 2), rnd((2, 2), 3)],
             [0, 1, 2]),
    "cat_neg": (lambda T, F, x, y: T.cat([x, y], -1), [rnd((2, 2, 1), 1), rnd((2, 2, 2), 2)], [0, 1]),
    "stack0": (lambda T, F, x, y: T.stack([x, y]), [rnd((2, 3), 1), rnd((2, 3), 2)], [0, 1]),
    "stack_last": (lambda T, F, x, y: T.stack([x, y], dim=-1), [rnd((2, 3), 1), rnd((2, 3), 2)], [0, 1]),
    "squeeze": (lambda T, F, x: x.squeeze(), [rnd((1, 3, 1, 2))], [0]),
    "squeeze_dim": (lambda T, F, x: x.squeeze(2), [rnd((1, 3, 1, 2))], [0]),
    "squeeze_dims": (lambda T, F, x: T.squeeze(x, (0, 2)), [rnd((1, 3, 1, 2))], [0]),
    "unsqueeze": (lambda T, F, x: x.unsqueeze(1), [rnd((3, 2))], [0]),
    "unsqueeze_neg": (lambda T, F, x: T.unsqueeze(x, -1), [rnd((3, 2))], [0]),
    "flatten": (lambda T, F, x: x.flatten(), [rnd((2, 3, 2))], [0]),
    "flatten_range": (lambda T, F, x: T.flatten(x, 1), [rnd((2, 3, 2))], [0]),
    "transpose": (lambda T, F, x: x.transpose(0, 2), [rnd((2, 3, 4))], [0]),
    "transpose_fn": (lambda T, F, x: T.transpose(x, 0, 1), [rnd((2, 3))], [0]),
    "permute": (lambda T, F, x: x.permute(2, 0, 1), [rnd((2, 3, 4))], [0]),
    "permute_tuple": (lambda T, F, x: T.permute(x, (1, 0)), [rnd((2, 3))], [0]),
    "expand": (lambda T, F, x: x.expand(3, 4), [rnd((1, 4))], [0]),
    "expand_new_dim": (lambda T, F, x: x.expand(2, -1, 3), [rnd((4, 1))], [0]),
    "expand_as": (lambda T, F, x, y: x.expand_as(y) * y, [rnd((3, 1), 1), rnd((3, 2), 2)], [0, 1]),
    "addmm": (lambda T, F, b, m1, m2: T.addmm(b, m1, m2), [rnd((4,), 1), rnd((3, 2), 2), rnd((2, 4), 3)],
              [0, 1, 2]),
    "addmm_beta_alpha": (lambda T, F, b, m1, m2: T.addmm(b, m1, m2, beta=0.5, alpha=2.0),
                         [rnd((3, 4), 1), rnd((3, 2), 2), rnd((2, 4), 3)], [0, 1, 2]),
    "linear": (lambda T, F, x, w, b: F.linear(x, w, b), [rnd((3, 2), 1), rnd((4, 2), 2), rnd((4,), 3)],
               [0, 1, 2]),
    "linear_nobias": (lambda T, F, x, w: F.linear(x, w), [rnd((3, 2), 1), rnd((4, 2), 2)], [0, 1]),
    "linear_1d": (lambda T, F, x, w, b: F.linear(x, w, b), [rnd((2,), 1), rnd((4, 2), 2), rnd((4,), 3)],
                  [0, 1, 2]),
    "linear_3d": (lambda T, F, x, w, b: F.linear(x, w, b), [rnd((2, 3, 2), 1), rnd((4, 2), 2), rnd((4,), 3)],
                  [0, 1, 2]),
    "mse": (lambda T, F, x, y: F.mse_loss(x, y), [rnd((3, 4), 1), rnd((3, 4), 2)], [0, 1]),
    "mse_sum": (lambda T, F, x, y: F.mse_loss(x, y, reduction="sum"), [rnd((3, 4), 1), rnd((3, 4), 2)], [0, 1]),
    "mse_none": (lambda T, F, x, y: F.mse_loss(x, y, reduction="none"), [rnd((3, 2), 1), rnd((3, 2), 2)], [0, 1]),
    "l1": (lambda T, F, x, y: F.l1_loss(x, y), [rnd((3, 4), 1), rnd((3, 4), 2)], [0, 1]),
    "l1_sum": (lambda T, F, x, y: F.l1_loss(x, y, reduction="sum"), [rnd((3, 4), 1), rnd((3, 4), 2)], [0, 1]),
    "l1_none": (lambda T, F, x, y: F.l1_loss(x, y, reduction="none"), [rnd((3, 2), 1), rnd((3, 2), 2)], [0, 1]),
    "nll": (lambda T, F, x: F.nll_loss(F.log_softmax(x, 1), T.tensor(TGT)), [rnd((4, 3))], [0]),
    "nll_sum": (lambda T, F, x: F.nll_loss(x, T.tensor(TGT), reduction="sum"), [rnd((4, 3))], [0]),
    "nll_none": (lambda T, F, x: F.nll_loss(x, T.tensor(TGT), reduction="none"), [rnd((4, 3))], [0]),
    "nll_weight": (lambda T, F, x, w: F.nll_loss(x, T.tensor(TGT), weight=w),
                   [rnd((4, 3), 1), rnd((3,), 2, 0.5, 2)], [0]),
    "nll_ignore": (lambda T, F, x: F.nll_loss(x, T.tensor([0, -100, 1, 2])), [rnd((4, 3))], [0]),
    "nll_1d": (lambda T, F, x: F.nll_loss(x, T.tensor(1)), [rnd((3,))], [0]),
    "nll_4d": (lambda T, F, x: F.nll_loss(x, T.tensor([[[0, 1], [2, 2]], [[1, 0], [0, 2]]])), [rnd((2, 3, 2, 2))],
               [0]),
    "ce": (lambda T, F, x: F.cross_entropy(x, T.tensor(TGT)), [rnd((4, 3))], [0]),
    "ce_sum": (lambda T, F, x: F.cross_entropy(x, T.tensor(TGT), reduction="sum"), [rnd((4, 3))], [0]),
    "ce_none": (lambda T, F, x: F.cross_entropy(x, T.tensor(TGT), reduction="none"), [rnd((4, 3))], [0]),
    "ce_weight": (lambda T, F, x, w: F.cross_entropy(x, T.tensor(TGT), weight=w),
                  [rnd((4, 3), 1), rnd((3,), 2, 0.5, 2)], [0]),
    "ce_ignore": (lambda T, F, x: F.cross_entropy(x, T.tensor([0, 1, -100, 2])), [rnd((4, 3))], [0]),
    "ce_smoothing": (lambda T, F, x: F.cross_entropy(x, T.tensor(TGT), label_smoothing=0.1), [rnd((4, 3))], [0]),
    "ce_smoothing_weight": (lambda T, F, x, w: F.cross_entropy(x, T.tensor([0, 1, -100, 2]), weight=w,
                                                              label_smoothing=0.2),
                            [rnd((4, 3), 1), rnd((3,), 2, 0.5, 2)], [0]),
    "ce_probs": (lambda T, F, x, p: F.cross_entropy(x, p), [rnd((4, 3), 1), rnd((4, 3), 2, 0.1, 1)], [0, 1]),
    "ce_3d": (lambda T, F, x: F.cross_entropy(x, T.tensor([[0, 1], [2, 2]])), [rnd((2, 3, 2))], [0]),
    "bce": (lambda T, F, x, y: F.binary_cross_entropy(x, y), [rnd((3, 4), 1, 0.05, 0.95), rnd((3, 4), 2, 0, 1)],
            [0, 1]),
    "bce_weight_sum": (lambda T, F, x, y, w: F.binary_cross_entropy(x, y, weight=w, reduction="sum"),
                       [rnd((3, 4), 1, 0.05, 0.95), rnd((3, 4), 2, 0, 1), rnd((4,), 3, 0.5, 2)], [0, 1]),
    "bce_logits": (lambda T, F, x, y: F.binary_cross_entropy_with_logits(x, y),
                   [rnd((3, 4), 1, -4, 4), rnd((3, 4), 2, 0, 1)], [0, 1]),
    "bce_logits_pos_weight": (lambda T, F, x, y, pw: F.binary_cross_entropy_with_logits(x, y, pos_weight=pw,
                                                                                       reduction="none"),
                              [rnd((3, 4), 1, -4, 4), rnd((3, 4), 2, 0, 1), rnd((4,), 3, 0.5, 3)], [0, 1]),
    "dropout_eval": (lambda T, F, x: F.dropout(x, 0.5, training=False) * 2, [rnd((3, 4))], [0]),
    "square": (lambda T, F, x: T.square(x), [rnd((3,))], [0]),
    "leaky_relu": (lambda T, F, x: F.leaky_relu(x, 0.2), [rnd((3, 4))], [0]),
    "hardtanh": (lambda T, F, x: F.hardtanh(x, -0.5, 0.5), [rnd((3, 4))], [0]),
    "relu6": (lambda T, F, x: F.relu6(x), [rnd((3, 4), 0, -2, 8)], [0]),
    "silu": (lambda T, F, x: F.silu(x), [rnd((3, 4), 0, -5, 5)], [0]),
    "softplus": (lambda T, F, x: F.softplus(x), [rnd((3, 4), 0, -5, 5)], [0]),
    "softplus_beta": (lambda T, F, x: F.softplus(x, beta=2.0, threshold=3.0), [rnd((3, 4), 0, -5, 5)], [0]),
    "elu": (lambda T, F, x: F.elu(x, alpha=0.7), [rnd((3, 4))], [0]),
    "logsigmoid": (lambda T, F, x: F.logsigmoid(x), [rnd((3, 4), 0, -6, 6)], [0]),
    "embedding": (lambda T, F, w: F.embedding(T.tensor([[1, 2], [2, 0]]), w), [rnd((4, 3))], [0]),
    "embedding_padding": (lambda T, F, w: F.embedding(T.tensor([1, 3, 3, 0]), w, padding_idx=3), [rnd((4, 3))],
                          [0]),
    "layer_norm": (lambda T, F, x, w, b: F.layer_norm(x, (4,), w, b), [rnd((3, 4), 1), rnd((4,), 2), rnd((4,), 3)],
                   [0, 1, 2]),
    "layer_norm_2d_noaffine": (lambda T, F, x: F.layer_norm(x, (3, 2)), [rnd((2, 3, 2))], [0]),
    "batch_norm_train": (lambda T, F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                         [rnd((5, 3), 1), rnd((3,), 2), rnd((3,), 3)], [0, 1, 2]),
    "batch_norm_train_3d": (lambda T, F, x: F.batch_norm(x, None, None, training=True), [rnd((2, 3, 4))], [0]),
    "batch_norm_eval": (lambda T, F, x, w, b, m, v: F.batch_norm(x, m, v, w, b, training=False),
                        [rnd((5, 3), 1), rnd((3,), 2), rnd((3,), 3), rnd((3,), 4), rnd((3,), 5, 0.5, 2)],
                        [0, 1, 2]),
    "rsqrt": (lambda T, F, x: T.rsqrt(x), [rnd((3,), 0, 0.5, 2)], [0]),
}


def _inputs(T, arrays, grads):
    return [T.tensor(np.array(a), requires_grad=(i in grads)) for i, a in enumerate(arrays)]


def _first(out):
    return out[0] if isinstance(out, tuple) else out


# torch's padding_idx zeroes that row's gradient by definition (not the derivative of the forward)
NO_GRADCHECK = {"embedding_padding"}


@pytest.mark.parametrize("name", [n for n in OPS if n not in NO_GRADCHECK])
def test_gradcheck(name):
    fn, arrays, grads = OPS[name]
    ins = _inputs(pad, arrays, grads)
    assert gradcheck(lambda *xs: _first(fn(pad, F, *xs)), tuple(ins), eps=1e-6, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize("name", list(OPS))
def test_values_grads_and_grad_fn_vs_torch(name):
    torch = torch_or_skip()
    import torch.nn.functional as TF
    fn, arrays, grads = OPS[name]
    ours = _inputs(pad, arrays, grads)
    theirs = _inputs(torch, arrays, grads)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = _first(fn(pad, F, *ours))
        b = _first(fn(torch, TF, *theirs))
    assert tuple(a.shape) == tuple(b.shape)
    assert a.dtype.name == str(b.dtype).split(".")[1]
    np.testing.assert_allclose(_np(a), _np(b), rtol=1e-10, atol=1e-12)
    assert type(a.grad_fn).__name__ == type(b.grad_fn).__name__
    g = np.random.default_rng(7).uniform(-1, 1, size=tuple(b.shape))
    a.backward(pad.tensor(g))
    b.backward(torch.tensor(g))
    for x, y in zip(ours, theirs):
        if y.grad is None:
            assert x.grad is None
        else:
            np.testing.assert_allclose(x.grad.numpy(), y.grad.numpy(), rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------------------------------------- float32
F32_CASES = {
    "softmax": lambda T, F, x: F.softmax(x, 1),
    "log_softmax": lambda T, F, x: F.log_softmax(x, 1),
    "ce": lambda T, F, x: F.cross_entropy(x, T.tensor([0, 2, 1])),
    "mse": lambda T, F, x: F.mse_loss(x, T.ones(3, 4)),
    "tanh": lambda T, F, x: x.tanh(),
    "sigmoid": lambda T, F, x: x.sigmoid(),
    "std": lambda T, F, x: x.std(1),
}


@pytest.mark.parametrize("name", list(F32_CASES))
def test_float32_close_to_torch(name):
    torch = torch_or_skip()
    import torch.nn.functional as TF
    a = rnd((3, 4), 3).astype(np.float32)
    x = pad.tensor(a, requires_grad=True)
    tx = torch.tensor(a, requires_grad=True)
    out = F32_CASES[name](pad, F, x)
    tout = F32_CASES[name](torch, TF, tx)
    assert out.dtype is pad.float32
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=2e-6, atol=2e-7)
    out.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=2e-5, atol=1e-6)


# ------------------------------------------------------------------------------------------- specifics
def test_max_min_return_types_repr_and_indices():
    x = pad.tensor([[1., 3., 3.], [4., 0., 4.]], requires_grad=True)
    r = x.max(1)
    assert repr(r) == ("pyautodiff.return_types.max(\nvalues=tensor([3., 4.], grad_fn=<MaxBackward0>),\n"
                       "indices=tensor([1, 0]))")
    v, i = r
    assert i.dtype is pad.int64 and i.tolist() == [1, 0] and r.indices is i and r.values is v
    m = x.min(dim=0, keepdim=True)
    assert type(m).__name__ == "min" and m.values.shape == (1, 3) and m.indices.tolist() == [[0, 1, 0]]
    # full max: gradient shared between ties; per-dim: to the returned index
    x.max().backward()
    assert x.grad.tolist() == [[0, 0, 0], [0.5, 0, 0.5]]
    x.grad = None
    x.max(1).values.sum().backward()
    assert x.grad.tolist() == [[0, 1, 0], [1, 0, 0]]


def test_argmax_argmin():
    x = pad.tensor([[1., 5., 5.], [7., 0., -1.]])
    assert x.argmax().item() == 3 and x.argmin().item() == 5
    assert x.argmax(1).tolist() == [1, 0] and pad.argmin(x, 0, keepdim=True).tolist() == [[0, 1, 1]]
    assert x.argmax(dim=1).dtype is pad.int64
    n = pad.tensor([1., float("nan"), 3.])
    assert n.argmax().item() == 1 and n.argmin().item() == 1


def test_one_hot():
    t = F.one_hot(pad.tensor([0, 2, 1]))
    assert t.dtype is pad.int64 and t.tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    assert F.one_hot(pad.tensor([[1], [0]]), 4).shape == (2, 1, 4)


def test_dropout_scaling_and_modes():
    pad.manual_seed(0)
    x = pad.ones(1000, requires_grad=True)
    y = F.dropout(x, 0.25)
    vals = set(np.unique(y.detach().numpy()).tolist())
    assert vals <= {0.0, np.float32(1 / 0.75).item()}
    assert 0.6 < (y.detach().numpy() > 0).mean() < 0.9
    assert type(y.grad_fn).__name__ == "MulBackward0"
    y.sum().backward()
    assert np.array_equal(x.grad.numpy() != 0, y.detach().numpy() != 0)
    assert F.dropout(x, 0.5, training=False) is x and F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).detach().numpy() == 0).all()
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.dropout(x, 1.5)


def test_views_share_memory_and_version():
    x = pad.zeros(2, 1, 3)
    views = [x.squeeze(1), x.squeeze(), x.unsqueeze(0), x.transpose(0, 2), x.permute(2, 0, 1), x.flatten(),
             x.expand(2, 4, 3)]
    for v in views:
        assert v._version is x._version
        assert np.shares_memory(v.numpy(), x.numpy())
    with pad.no_grad():
        views[0].add_(1.0)
    assert float(x.sum()) == 6.0 and x._version[0] == 1


def test_cat_stack_dtype_promotion_and_empty_legacy():
    a = pad.tensor([1, 2])
    b = pad.tensor([0.5])
    c = pad.cat([a, b])
    assert c.dtype is pad.float32 and c.tolist() == [1.0, 2.0, 0.5]
    e = pad.cat([pad.zeros(0), pad.ones(2, 2)])
    assert e.shape == (2, 2)
    assert pad.stack([a, a], 1).tolist() == [[1, 1], [2, 2]]


def test_clamp_integer_and_promotion():
    t = pad.tensor([1, 5, 9])
    assert t.clamp(2, 6).tolist() == [2, 5, 6] and t.clamp(2, 6).dtype is pad.int64
    assert t.clamp(min=2.5).dtype is pad.float32


def test_linear_is_one_addmm_node():
    x = pad.ones(4, 3)
    lin = pad.nn.Linear(3, 2)
    out = lin(x)
    assert type(out.grad_fn).__name__ == "AddmmBackward0"
    assert repr(out).endswith("grad_fn=<AddmmBackward0>)")


ERRORS = [
    (lambda T, F: F.one_hot(T.tensor([1., 2.])), RuntimeError),
    (lambda T, F: F.one_hot(T.tensor([-1, 2])), RuntimeError),
    (lambda T, F: F.one_hot(T.tensor([1, 5]), 3), RuntimeError),
    (lambda T, F: F.nll_loss(T.zeros(2, 3), T.tensor([0, 3])), IndexError),
    (lambda T, F: F.cross_entropy(T.zeros(2, 3), T.tensor([0, 1], dtype=T.int32)), RuntimeError),
    (lambda T, F: F.binary_cross_entropy(T.full((2,), 0.5), T.zeros(3)), ValueError),
    (lambda T, F: T.cat([T.ones(2, 3), T.ones(3, 2)]), RuntimeError),
    (lambda T, F: T.stack([T.ones(2), T.ones(3)]), RuntimeError),
    (lambda T, F: T.cat([]), ValueError),
    (lambda T, F: T.clamp(T.ones(2)), RuntimeError),
    (lambda T, F: T.ones(2, 3).squeeze(5), IndexError),
    (lambda T, F: T.ones(2, 3).expand(3, 3), RuntimeError),
    (lambda T, F: T.ones(2, 3).expand(2), RuntimeError),
    (lambda T, F: T.ones(2, 3).max(2), IndexError),
    (lambda T, F: T.ones(0).max(), RuntimeError),
    (lambda T, F: T.addmm(T.ones(2), T.ones(2, 3), T.ones(2, 3)), RuntimeError),
    (lambda T, F: F.nll_loss(T.zeros(2, 3), T.tensor([0, 1, 1])), ValueError),
    (lambda T, F: T.nn.Linear(3, 2)(T.ones(2, 4)), RuntimeError),
    (lambda T, F: T.where(T.tensor([1, 0]), T.ones(2), T.zeros(2)), RuntimeError),
    (lambda T, F: F.dropout(T.ones(2), -0.1), ValueError),
]


@pytest.mark.parametrize("i", range(len(ERRORS)))
def test_error_types_and_texts_vs_torch(i):
    fn, exc = ERRORS[i]
    with pytest.raises(exc) as ours:
        fn(pad, F)
    torch = pytest.importorskip("torch")
    import torch.nn.functional as TF
    with pytest.raises(exc) as theirs:
        fn(torch, TF)
    assert str(ours.value).replace("pyautodiff.", "torch.") == str(theirs.value)


# ---------------------------------------------------------------------------------- gelu / erf
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck_and_vs_torch(approximate):
    from pyautodiff.autograd import gradcheck
    x = pad.tensor(np.linspace(-4, 4, 23), dtype=pad.float64, requires_grad=True)
    assert gradcheck(lambda t: pad.nn.functional.gelu(t, approximate=approximate), (x,))
    torch = pytest.importorskip("torch")
    v = np.linspace(-6, 6, 301).astype(np.float32)
    a, b = pad.tensor(v, requires_grad=True), torch.tensor(v, requires_grad=True)
    ya, yb = pad.nn.GELU(approximate)(a), torch.nn.GELU(approximate)(b)
    ya.sum().backward()
    yb.sum().backward()
    # (torch's vectorized tanh reaches -1 exactly a little earlier than numpy's: tiny absolute gaps)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=5e-6)
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=5e-6)
    assert type(ya.grad_fn).__name__ == type(yb.grad_fn).__name__ == "GeluBackward0"
    assert repr(pad.nn.GELU(approximate)) == repr(torch.nn.GELU(approximate))


def test_erf_gradcheck_and_values():
    import math
    from pyautodiff.autograd import gradcheck
    x = pad.tensor([-2.5, -0.3, 0.0, 0.7, 3.0], dtype=pad.float64, requires_grad=True)
    assert gradcheck(pad.erf, (x,))
    np.testing.assert_allclose(pad.erf(x).detach().numpy(), [math.erf(v) for v in x.tolist()], rtol=1e-15)
    assert type(x.erf().grad_fn).__name__ == "ErfBackward0"


def test_abs_gradient_is_zero_at_nan_and_abs_refuses_bool():
    """torch's abs backward multiplies by sgn(x), which is 0 at nan; abs of a bool tensor raises
    NotImplementedError (found by tests/test_differential.py)."""
    x = pad.tensor([float("nan"), -0.0, 0.0, 2.0, -3.0], requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 1.0, -1.0])
    with pytest.raises(NotImplementedError, match="\"abs_cpu\" not implemented for 'Bool'"):
        pad.tensor([True, False]).abs()
    with pytest.raises(NotImplementedError, match="\"softmax_lastdim_kernel_impl\" not implemented for 'Long'"):
        pad.tensor([1, 2]).softmax(0)


@pytest.mark.parametrize("dim", [None, 1])
def test_std_of_a_constant_has_zero_gradient(dim):
    """torch's std_backward masks std == 0 to a zero gradient (not 0/0 = nan); elsewhere the
    gradient is d std = (x - mean) / ((n - 1) * std)."""
    x = pad.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], requires_grad=True)
    y = x.std() if dim is None else x.std(dim)
    y.sum().backward()
    g = x.grad.numpy()
    assert not np.isnan(g).any()
    a = x.detach().numpy().astype(np.float64)
    if dim is None:
        want = (a - a.mean()) / ((a.size - 1) * a.std(ddof=1))
    else:
        s = a.std(axis=1, ddof=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            want = np.where(s == 0, 0.0, (a - a.mean(axis=1, keepdims=True)) / (2 * s))
    np.testing.assert_allclose(g, want, rtol=1e-6, atol=1e-7)
    if dim == 1:
        np.testing.assert_array_equal(g[0], [0.0, 0.0, 0.0])
    z = pad.tensor([3.0, 3.0], requires_grad=True)
    z.std().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [0.0, 0.0])


def test_top_level_softmax_requires_dim_functional_does_not():
    x = pad.ones(2, 3)
    for call, name in [(lambda: pad.softmax(x), "softmax"), (lambda: pad.log_softmax(x), "log_softmax"),
                       (lambda: x.softmax(), "softmax"), (lambda: x.log_softmax(), "log_softmax")]:
        with pytest.raises(TypeError, match=f'^{name}\\(\\) missing 1 required positional arguments: "dim"$'):
            call()
    np.testing.assert_allclose(pad.softmax(x, 1).numpy(), np.full((2, 3), 1 / 3), rtol=1e-6)
    assert pad.log_softmax(x, 0, pad.float64).dtype == pad.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        F.softmax(x)  # nn.functional keeps torch's deprecated implicit dim


def test_clamp_keeps_x_on_ties_and_propagates_nan_as_torch():
    """torch's clamp returns x itself when x equals a bound (so -0.0 stays -0.0 under min=0), the
    bound when x is beyond it, and nan when x or a bound is nan."""
    x = pad.tensor([0.5, float("nan"), -0.0, 0.0, 3.0, -1.0])
    bits = lambda t: t.numpy().view(np.uint32).tolist()  # noqa: E731
    f = lambda v: np.array([v], np.float32).view(np.uint32)[0]  # noqa: E731
    NZ, PZ, NAN = f(-0.0), f(0.0), f(float("nan"))
    assert bits(x.clamp(min=0.0)) == [f(0.5), NAN, NZ, PZ, f(3.0), PZ]
    assert bits(x.clamp(max=-0.0)) == [NZ, NAN, NZ, PZ, NZ, f(-1.0)]
    assert bits(x.clamp(pad.tensor(-0.0), pad.tensor(0.0))) == [PZ, NAN, NZ, PZ, PZ, NZ]
    assert bits(pad.clamp_min(x, 0.0)) == bits(x.clamp(min=0.0))
    assert np.isnan(x.clamp(float("nan"), 1.0).numpy()).all()
    np.testing.assert_array_equal(x.clamp(2.0, 1.0).numpy()[[0, 2, 3, 4, 5]], 1.0)  # min, then max


def test_softmax_of_integer_tensors_as_torch():
    for name in ("softmax", "log_softmax"):
        for shape in [(0,), (1, 0), (0, 3)]:       # empty: returned empty, in its dtype
            y = getattr(pad.zeros(shape, dtype=pad.int64), name)(0)
            assert y.dtype == pad.int64 and tuple(y.shape) == shape
        x = pad.zeros((2, 3), dtype=pad.int64)
        with pytest.raises(NotImplementedError, match=f"^\"{name}_lastdim_kernel_impl\" not implemented for 'Long'$"):
            getattr(x, name)(-1)
        with pytest.raises(NotImplementedError, match=f"^\"{name}_kernel_impl\" not implemented for 'Long'$"):
            getattr(x, name)(0)


@pytest.mark.parametrize("call, err, msg", [
    (lambda x: x.amax(), RuntimeError, r"^amax\(\): Expected reduction dim to be specified for input.numel\(\) == 0"),
    (lambda x: x.amin(dim=()), RuntimeError, r"^amin\(\): Expected reduction dim to be specified"),
    (lambda x: x.amax(0), IndexError, r"^amax\(\): Expected reduction dim 0 to have non-zero size\.$"),
    (lambda x: x.amin((1, 0)), IndexError, r"^amin\(\): Expected reduction dim 0 to have non-zero size\.$"),
    (lambda x: x.argmax(), IndexError, r"^argmax\(\): Expected reduction dim to be specified for input.numel\(\) == 0\.$"),
    (lambda x: x.argmin(0), IndexError, r"^argmin\(\): Expected reduction dim 0 to have non-zero size\.$"),
    (lambda x: x.max(), RuntimeError, r"^max\(\): Expected reduction dim to be specified"),
])
def test_reductions_of_empty_tensors_raise_as_torch(call, err, msg):
    with pytest.raises(err, match=msg):
        call(pad.zeros(0, 3))


def test_reductions_over_empty_slices_as_torch():
    x = pad.zeros(0, 3, requires_grad=True)
    assert x.amax(1).shape == (0,) and x.argmax(1).shape == (0,)
    assert x.logsumexp(0).tolist() == [float("-inf")] * 3 and x.logsumexp(1).shape == (0,)
    assert x.softmax(0).shape == (0, 3) and x.log_softmax(0).shape == (0, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(x.var(0).detach().numpy()).all() and np.isnan(x.std().item())
        # torch divides by max(0, n - correction): past the degrees of freedom, s / 0
        v = pad.tensor([1.0, 2.0]).var(correction=3)
        assert v.item() == float("inf")
        assert np.isnan(pad.tensor([3.0, 3.0]).var(correction=2).item())
    x.logsumexp(0).sum().backward()
    assert x.grad.shape == (0, 3)


def test_empty_inputs_messages_and_sums_as_torch():
    with pytest.raises(RuntimeError, match=r"^cannot reshape tensor of 0 elements into shape \[-1, 0\] because "
                                           r"the unspecified dimension size -1 can be any value and is ambiguous$"):
        pad.zeros(0, 3).reshape(-1, 0)
    with pytest.raises(RuntimeError, match=r"^shape '\[-1, 0\]' is invalid for input of size 3$"):
        pad.zeros(3).reshape(-1, 0)
    with pytest.raises(RuntimeError, match="^Boolean value of Tensor with no values is ambiguous$"):
        bool(pad.zeros(0))
    loss = F.cross_entropy(pad.zeros(0, 3), pad.zeros(0, dtype=pad.int64), reduction="sum")
    assert loss.item() == 0.0 and not np.signbit(loss.item())   # torch: 0.0, not -0.0
