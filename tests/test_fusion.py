"""Lazy fused elementwise chains on large tensors (pyautodiff/ops/fusion.py).

Oracle: the same computation with fusion switched off (op-by-op kernels); results must agree
bit for bit, and values must never change behind a pending chain's back."""
import types

import numpy as np
import pytest

import pyautodiff as pad
from pyautodiff.ops import elementwise, fusion

N = fusion.FUSE_MIN + 37  # large enough to fuse, and not a multiple of any block size


@pytest.fixture
def unfused(monkeypatch):
    def off():
        monkeypatch.setattr(elementwise, "FUSE_MIN", 1 << 62)
        monkeypatch.setattr(fusion, "FUSE_MIN", 1 << 62)
    return off


def data(seed, dtype=np.float32, lo=0.5, hi=2.0, n=N):
    return np.random.default_rng(seed).uniform(lo, hi, n).astype(dtype)


GRAPHS = {
    "seed demo 2": lambda x, w: (3 * pad.pow(x + 1, 2)).mean(),
    "seed demo 1 form": lambda x, w: (4 * pad.pow(x + 1, 2) + 3).sum(),
    "sub, rsub, neg": lambda x, w: ((x - 0.5) * (1 - w) - x).sum(),
    "div both ways": lambda x, w: (x / 3 + 2 / x + x / w).mean(),
    "pow variants": lambda x, w: (x ** 3 + x ** -1 + x ** 0.5 + x ** 2.5 + 2 ** x).sum(),
    "relu": lambda x, w: ((x - 1.2).relu() * w).sum(),
    "shared subexpression": lambda x, w: ((x * x + x) * (x * x)).mean(),
    "tensor products": lambda x, w: (x * w + w * w - x / w).sum(),
}


def run_graph(f, dtype, seed=0):
    x = pad.tensor(data(seed, dtype), requires_grad=True)
    w = pad.tensor(data(seed + 1, dtype), requires_grad=True)
    out = f(x, w)
    out.backward()
    return out, x.grad, w.grad


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(GRAPHS))
def test_fused_equals_unfused_bit_for_bit(name, dtype, unfused):
    out_f, gx_f, gw_f = run_graph(GRAPHS[name], dtype)
    unfused()
    out_u, gx_u, gw_u = run_graph(GRAPHS[name], dtype)
    assert out_f.item() == out_u.item()
    np.testing.assert_array_equal(gx_f.numpy(), gx_u.numpy())
    assert (gw_f is None) == (gw_u is None)
    if gw_f is not None:
        np.testing.assert_array_equal(gw_f.numpy(), gw_u.numpy())


def test_chains_are_lazy_and_gradients_right():
    x = pad.tensor(data(3), requires_grad=True)
    y = 3 * pad.pow(x + 1, 2)
    assert type(y._raw) is fusion.Lazy  # the chain is pending, not computed op by op
    y.mean().backward()
    xd = x.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(x.grad.numpy(), 6 * (xd + 1) / N, rtol=1e-6)
    np.testing.assert_allclose(y.detach().numpy(), 3 * (xd + 1) ** 2, rtol=1e-6)


def test_small_tensors_are_not_lazy():
    x = pad.ones(100, requires_grad=True)
    assert type((x + 1)._raw) is np.ndarray


def test_inplace_change_after_chain_keeps_old_values():
    x = pad.tensor(data(4))
    y = x * 2 + 1
    x.add_(100)
    np.testing.assert_array_equal(y.numpy(), data(4) * np.float32(2) + np.float32(1))


def test_no_grad_update_of_leaf_keeps_old_values():
    x = pad.tensor(data(5), requires_grad=True)
    y = x * 2
    with pad.no_grad():
        x -= 1
    np.testing.assert_array_equal(y.detach().numpy(), data(5) * np.float32(2))


def test_from_numpy_memory_is_never_read_lazily():
    arr = data(6)
    t = pad.from_numpy(arr)
    y = t * 2
    arr[:] = 0
    np.testing.assert_array_equal(y.numpy(), data(6) * np.float32(2))


def test_numpy_export_is_never_read_lazily():
    t = pad.tensor(data(7))
    a = t.numpy()
    y = t + 1
    a[:] = -5
    np.testing.assert_array_equal(y.numpy(), data(7) + np.float32(1))


def test_optimizer_step_keeps_old_values():
    w = pad.nn.Parameter(pad.tensor(data(8)))
    opt = pad.optim.SGD([w], lr=0.5)
    (w * w).sum().backward()
    y = w * 3
    opt.step()
    np.testing.assert_array_equal(y.detach().numpy(), data(8) * np.float32(3))


def test_grad_accumulation_keeps_pending_chain_on_old_grad():
    x = pad.tensor(data(9), requires_grad=True)
    (x * 2).sum().backward()
    g2 = x.grad * 10  # a chain reading x.grad
    (x * 3).sum().backward()  # accumulates into x.grad in place
    np.testing.assert_array_equal(g2.numpy(), np.full(N, 20, np.float32))
    np.testing.assert_array_equal(x.grad.numpy(), np.full(N, 5, np.float32))


def test_retain_graph_and_second_backward():
    x = pad.tensor(data(10), requires_grad=True)
    y = (x * x + 1).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * data(10), rtol=1e-6)


def test_long_chains_are_cut_and_stay_exact(unfused):
    def run():
        x = pad.tensor(data(11), requires_grad=True)
        y = x
        for i in range(60):
            y = y * 1.01 + 0.001 if i % 2 else y - 0.002
        y.sum().backward()
        return y.detach().numpy().copy(), x.grad.numpy().copy()
    yf, gf = run()
    unfused()
    yu, gu = run()
    np.testing.assert_array_equal(yf, yu)
    np.testing.assert_array_equal(gf, gu)


def test_broadcast_operands_fall_back_correctly():
    x = pad.tensor(data(12).reshape(-1, 1)[: (N // 37) * 37].reshape(37, -1), requires_grad=True)
    b = pad.tensor(data(13, n=x.shape[1]))
    y = (x + 1) * b  # (x + 1) is lazy; the broadcast product is not
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(b.numpy(), x.shape), rtol=0)


def test_no_pending_chains_leak():
    x = pad.tensor(data(14), requires_grad=True)
    for _ in range(5):
        (3 * pad.pow(x + 1, 2)).mean().backward()
    import gc
    gc.collect()
    assert len(fusion._PENDING) < 10


def test_reductions_of_chains_are_pending_and_exact(unfused):
    def run():
        x = pad.tensor(data(15), requires_grad=True)
        y = 3 * pad.pow(x + 1, 2)
        m = y.mean()
        s = (x * 2).sum()
        kinds = (type(m._raw), type(s._raw))
        (m + s).backward()
        return kinds, m.item(), s.item(), x.grad.numpy().copy()
    kf, mf, sf, gf = run()
    assert kf == (fusion.Lazy, fusion.Lazy)
    unfused()
    ku, mu, su, gu = run()
    assert ku == (np.ndarray, np.ndarray)
    assert (mf, sf) == (mu, su)
    np.testing.assert_array_equal(gf, gu)


def test_pending_mean_evaluated_in_the_backward_pass(unfused):
    x = pad.tensor(data(16), requires_grad=True)
    m = (3 * pad.pow(x + 1, 2)).mean()
    m.backward()
    assert type(m._raw) is fusion.Lazy and m._raw._value is not None or not fusion._SUMS_IN_RUN
    value = m.item()
    unfused()
    x2 = pad.tensor(data(16), requires_grad=True)
    assert (3 * pad.pow(x2 + 1, 2)).mean().item() == value


def test_temporary_loss_is_not_summed_in_the_backward_pass(monkeypatch, unfused):
    """`y.mean().backward()`: the mean is unreachable after the statement, so the gradient pass
    does not compute it on the side; a named loss still rides along.  Gradients are unchanged."""
    seen = []
    real = fusion.F

    def run(*a, **k):
        seen.append(tuple(k.get("sums", ())))
        return real.run(*a, **k)
    spy = types.SimpleNamespace(**{k: getattr(real, k) for k in dir(real) if not k.startswith("__")})
    spy.run = run
    monkeypatch.setattr(fusion, "F", spy)

    x = pad.tensor(data(18), requires_grad=True)
    y = 3 * pad.pow(x + 1, 2)
    y.mean().backward()
    assert seen and not any(seen)      # one gradient pass, no sum riding along
    g_temp = x.grad.numpy().copy()

    seen.clear()
    x.grad = None
    y = 3 * pad.pow(x + 1, 2)
    loss = y.mean()
    loss.backward()
    assert any(seen) or not fusion._SUMS_IN_RUN   # the named loss is summed in the same pass
    value = loss.item()
    np.testing.assert_array_equal(x.grad.numpy(), g_temp)

    unfused()
    x2 = pad.tensor(data(18), requires_grad=True)
    loss2 = (3 * pad.pow(x2 + 1, 2)).mean()
    loss2.backward()
    assert loss2.item() == value
    np.testing.assert_array_equal(x2.grad.numpy(), g_temp)


def test_unread_mark_never_loses_a_value():
    """A reduction marked unread is still computed, from the old values, if it is read."""
    x = pad.tensor(data(19), requires_grad=True)
    m = (x * 2).mean()
    fusion.mark_unread(m._raw)
    want = (data(19).astype(np.float32) * np.float32(2)).astype(np.float64).sum() / N
    with pad.no_grad():
        x.mul_(0)
    assert m.item() == pytest.approx(float(want), rel=1e-6)


def test_pending_mean_keeps_value_across_inplace_change():
    x = pad.tensor(data(17))
    m = (x * 2).mean()
    want = np.float32((data(17).astype(np.float32) * np.float32(2)).astype(np.float64).sum() / N)
    x.mul_(0)
    assert m.item() == pytest.approx(float(want), rel=1e-6)
    assert m.item() != 0


OPERANDS = [0, 1, -1, 2, 0.5, -0.5, 3, -2, 2.5, -0.1, True, float("nan"), float("inf"),
            "0-d", "0-d float64", "(1,)", "same", "same float64"]
BINARY_OPS = {
    "add": lambda y, s: y + s, "radd": lambda y, s: s + y, "sub": lambda y, s: y - s,
    "rsub": lambda y, s: s - y, "mul": lambda y, s: y * s, "rmul": lambda y, s: s * y,
    "div": lambda y, s: y / s, "rdiv": lambda y, s: s / y, "pow": lambda y, s: y ** s,
    "rpow": lambda y, s: s ** y, "add_alpha": lambda y, s: pad.add(y, s, alpha=2),
}


def _operand_value(spec, rng):
    if not isinstance(spec, str):
        return spec
    return {"0-d": lambda: pad.tensor(2.0), "0-d float64": lambda: pad.tensor(2.0, dtype=pad.float64),
            "(1,)": lambda: pad.tensor([1.25]),
            "same": lambda: pad.tensor(rng.uniform(0.5, 2, N).astype(np.float32)),
            "same float64": lambda: pad.tensor(rng.uniform(0.5, 2, N))}[spec]()


@pytest.mark.parametrize("name", sorted(BINARY_OPS))
def test_pending_chains_as_either_operand_of_any_binary_op(name, unfused, monkeypatch):
    """A pending chain meets every kind of other operand (numbers that take the ops' special
    paths, 0-d / broadcast / other-dtype tensors) on either side: no error, and the values
    and gradients of unfused evaluation (a Lazy once reached numpy: `tensor(2.) * y` failed)."""
    def run():
        out = []
        for spec in OPERANDS:
            rng = np.random.default_rng(3)
            x = pad.tensor(data(20), requires_grad=True)
            s = _operand_value(spec, rng)
            try:
                with np.errstate(all="ignore"):
                    r = BINARY_OPS[name](x * 1.5 + 0.25, s)
                    (r * 1.0 + 1).sum().backward()
            except RuntimeError as e:  # torch's errors (x - True), the same both ways
                out.append((str(e), None))
                continue
            out.append((r.detach().numpy().copy(), x.grad.numpy().copy()))
        return out
    fused = run()
    unfused()
    for (rf, gf), (ru, gu) in zip(fused, run()):
        if gu is None:
            assert rf == ru
            continue
        np.testing.assert_array_equal(rf, ru)
        np.testing.assert_array_equal(gf, gu)
