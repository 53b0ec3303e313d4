"""Backward semantics of the autograd engine, grad modes, autograd.grad and gradcheck itself,
checked against analytic gradients, finite differences and (where installed) torch side by side."""
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import pyautodiff as pad
from pyautodiff.autograd import Node
from _oracle import (assert_gradcheck, assert_values, grad_fn_name, leaf, np_of, outcome, rand, same_error,
                     tleaf, torch, torch_name)  # noqa: F401  (torch is a fixture)

FREED = "Trying to backward through the graph a second time"


# ================================================================================ implicit gradient
def test_implicit_gradient_only_for_scalar_outputs():
    x = pad.ones(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="^grad can be implicitly created only for scalar outputs$"):
        (x * 2).backward()
    assert x.grad is None
    (x * 2).sum().backward()
    assert_values(x.grad, np.full((2, 3), 2.0))
    y = pad.ones(1, 1, requires_grad=True)
    (y * 3).backward()  # one element, not 0-d: still implicit
    assert_values(y.grad, [[3.0]])


@pytest.mark.parametrize("f", [
    lambda T: (T.ones(2, requires_grad=True) * 2).backward(),
    lambda T: (T.ones(2, 2, requires_grad=True) * 2).sum(0).backward(T.ones(3)),
    lambda T: T.ones(2).backward(),
    lambda T: (T.ones(2) * 2).sum().backward(),
    lambda T: T.autograd.grad((T.ones(2) * 2).sum(), T.ones(2)),
    lambda T: T.autograd.grad((T.ones(2, requires_grad=True) * 2).sum(), T.ones(2)),
    lambda T: T.ones(2).retain_grad(),
    lambda T: (T.ones(2, requires_grad=True) * 2).requires_grad_(False),
])
def test_backward_errors_match_torch(torch, f):
    same_error(lambda: f(pad), lambda: f(torch))


def test_explicit_gradient_values():
    a = rand((2, 3), 1)
    g = rand((3,), 2)
    x = leaf(a)
    y = (x * x).sum(0)
    y.backward(pad.tensor(g))
    assert_values(x.grad, 2 * a * g[None, :], rtol=1e-12)
    x2 = leaf(a)
    x2.backward(pad.tensor(np.ones((2, 3))))  # backward on a leaf itself
    assert_values(x2.grad, np.ones((2, 3)))


def test_backward_multiple_roots():
    x = leaf(rand((3,), 1))
    pad.autograd.backward([(x * 2).sum(), (x * 3).sum()])
    assert_values(x.grad, np.full(3, 5.0))
    pad.autograd.backward([x * 2, x * x], [pad.ones(3, dtype=pad.float64), pad.ones(3, dtype=pad.float64)])
    assert_values(x.grad, 5.0 + 2.0 + 2 * np_of(x), rtol=1e-12)


# ================================================================================ accumulation
def test_gradients_accumulate_in_place_across_backward_calls():
    x = pad.ones(3, requires_grad=True)
    (x * 2).sum().backward()
    g = x.grad
    (x * 5).sum().backward()
    assert x.grad is g  # accumulated into the existing buffer, as torch
    assert_values(x.grad, [7, 7, 7])
    x.grad.zero_()
    (x * 1).sum().backward()
    assert_values(x.grad, [1, 1, 1])
    x.grad = None
    (x * 4).sum().backward()
    assert_values(x.grad, [4, 4, 4])
    assert x.grad.dtype is pad.float32 and x.grad.is_leaf and not x.grad.requires_grad


def test_accumulation_vs_torch(torch):
    def run(T):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        w = T.tensor([0.5, -1.0, 2.0], requires_grad=True)
        for i in range(3):
            ((x * w) ** 2 + x * (i + 1)).sum().backward()
        first = x.grad
        (w @ x).backward()
        return x.grad, w.grad, first is x.grad
    (px, pw, pi), (tx, tw, ti) = run(pad), run(torch)
    np.testing.assert_allclose(np_of(px), np_of(tx), rtol=1e-6)
    np.testing.assert_allclose(np_of(pw), np_of(tw), rtol=1e-6)
    assert pi == ti


def test_grad_of_a_leaf_is_not_an_alias_of_the_upstream_gradient():
    x = pad.ones(3, requires_grad=True)
    up = pad.ones(3)
    (x * 1).backward(up)
    x.grad.add_(5)
    assert_values(up, [1, 1, 1])
    x2 = pad.ones(3, requires_grad=True)
    x2.backward(up)
    x2.grad.add_(5)
    assert_values(up, [1, 1, 1])


def test_grad_setter_validation_vs_torch(torch):
    x = pad.ones(2, requires_grad=True)
    x.grad = pad.full((2,), 3.0)
    (x * 1).sum().backward()
    assert_values(x.grad, [4, 4])
    for f in (lambda T: setattr(T.ones(2, requires_grad=True), "grad", T.ones(3)),
              lambda T: setattr(T.ones(2, requires_grad=True), "grad", [1.0, 2.0])):
        same_error(lambda: f(pad), lambda: f(torch))
    same_error(lambda: setattr(pad.ones(2, requires_grad=True), "grad", pad.ones(2, dtype=pad.float64)),
               lambda: setattr(torch.ones(2, requires_grad=True), "grad", torch.ones(2, dtype=torch.float64)))


# ================================================================================ leaves, non-leaves, retain_grad
def test_non_leaf_grad_is_none_with_torch_warning():
    x = pad.ones(2, requires_grad=True)
    y = x * 2
    y.sum().backward()
    with pytest.warns(UserWarning, match="The .grad attribute of a Tensor that is not a leaf Tensor is being "
                                         "accessed. Its .grad attribute won't be populated during "
                                         "autograd.backward\\(\\)"):
        assert y.grad is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert x.grad is not None  # no warning for leaves


def test_retain_grad():
    x = pad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    z = y * y
    y.retain_grad()
    z.retain_grad()
    assert y.retains_grad and not x.retains_grad
    z.sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_values(y.grad, 2 * np_of(y))
        assert_values(z.grad, [1.0, 1.0])
    assert_values(x.grad, 18 * np_of(x))
    x.retain_grad()  # a no-op on leaves
    assert not x.retains_grad


def test_retain_grad_vs_torch(torch):
    def run(T):
        x = T.tensor([1.0, -2.0, 3.0], requires_grad=True)
        h = x * 2
        h.retain_grad()
        out = (h.relu() * h).sum()
        out.backward(retain_graph=True)
        out.backward()
        return h.grad, x.grad, h.retains_grad, x.retains_grad
    for a, b in zip(run(pad), run(torch)):
        if isinstance(b, bool):
            assert a == b
        else:
            np.testing.assert_allclose(np_of(a), np_of(b))


# ================================================================================ freeing and retain_graph
SECOND_BACKWARD = [  # (label, f(T, x) -> scalar)
    ("mul scalar", lambda T, x: (x * 2).sum()), ("scalar mul", lambda T, x: (3 * x).sum()),
    ("div scalar", lambda T, x: (x / 2).sum()), ("rdiv", lambda T, x: (2 / x).sum()),
    ("mul", lambda T, x: (x * x).sum()), ("div", lambda T, x: (x / x).sum()),
    ("pow", lambda T, x: (x ** 2).sum()), ("rpow", lambda T, x: (2 ** x).sum()),
    ("exp", lambda T, x: x.exp().sum()), ("log", lambda T, x: x.log().sum()),
    ("relu", lambda T, x: x.relu().sum()), ("dot", lambda T, x: x @ x),
    ("index", lambda T, x: x[T.tensor([0, 1])].sum()),
    ("add", lambda T, x: (x + 1).sum()), ("sub", lambda T, x: (x - 1).sum()), ("rsub", lambda T, x: (2 - x).sum()),
    ("neg", lambda T, x: (-x).sum()), ("sum", lambda T, x: x.sum()), ("mean", lambda T, x: x.mean()),
    ("sum dim", lambda T, x: x.sum(0)), ("view", lambda T, x: x.view(2).sum()), ("select", lambda T, x: x[0]),
    ("slice", lambda T, x: x[0:1].sum()), ("clone", lambda T, x: x.clone().sum()),
    ("double", lambda T, x: x.double().sum()), ("add tensors", lambda T, x: (x + x).sum()),
]


@pytest.mark.parametrize("label,f", SECOND_BACKWARD, ids=[s[0] for s in SECOND_BACKWARD])
def test_second_backward_vs_torch(torch, label, f):
    """Ops that save tensors for backward refuse a second backward (torch's message); ops that save
    none allow it and accumulate again -- exactly as in torch."""
    def run(T):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        y = f(T, x)
        y.backward()
        try:
            y.backward()
        except RuntimeError as e:
            return "error", torch_name(str(e)), np.round(np_of(x.grad), 5).tolist()
        return "ok", None, np.round(np_of(x.grad), 5).tolist()
    assert run(pad) == run(torch)


def test_second_backward_through_freed_buffers_raises():
    x = pad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=FREED) as e:
        y.backward()
    assert "Specify retain_graph=True if you need to backward through the graph a second time" in str(e.value)
    assert_values(x.grad, [2.0, 4.0])  # the failed call changed nothing


def test_retain_graph_allows_repeated_backward():
    x = pad.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward(retain_graph=True)
    y.backward()
    e = np.exp(np_of(x))
    assert_values(x.grad, 3 * (e * np_of(x) + e), rtol=1e-6)
    with pytest.raises(RuntimeError, match=FREED):
        y.backward()


def test_autograd_grad_frees_unless_retain_graph(torch):
    for T in (pad, torch):
        x = T.tensor([1.0, 2.0], requires_grad=True)
        z = (x * x).sum()
        T.autograd.grad(z, x, retain_graph=True)
        (g,) = T.autograd.grad(z, x)
        np.testing.assert_allclose(np_of(g), [2.0, 4.0])
        with pytest.raises(RuntimeError, match=FREED):
            T.autograd.grad(z, x)


# ================================================================================ graph shapes
def test_shared_subexpressions_and_diamonds_run_each_node_once():
    """A node whose saved buffers are freed after it runs would raise if it ran twice; and the
    gradients equal the analytic ones."""
    a = rand((4,), 3)
    x = leaf(a)
    y = x.exp()           # shared by three consumers
    z = y * y + y * 3 + y.log()
    z.sum().backward()    # no retain_graph: each node must run exactly once
    e = np.exp(a)
    assert_values(x.grad, 2 * e * e + 3 * e + 1, rtol=1e-12)
    assert_gradcheck(lambda t: (lambda u: u * u + u * 3 + u.log())(t.exp()), a)


def test_exponential_diamond_is_linear_time():
    """50 stacked diamonds have 2**50 paths: only a topological engine finishes."""
    x = pad.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(50):
        y = y * 0.5 + y * 0.5
    t0 = time.perf_counter()
    y.backward()
    assert time.perf_counter() - t0 < 2.0
    assert x.grad.item() == 1.0


def test_same_leaf_used_many_times():
    x = leaf(np.array([2.0]))
    y = x * x * x + x  # x appears 4 times
    y.sum().backward()
    assert_values(x.grad, [3 * 4.0 + 1])


def test_branch_that_does_not_require_grad_is_skipped():
    x = leaf(rand((3,), 1))
    c = pad.tensor(rand((3,), 2))
    y = (x * c + c.exp()).sum()
    y.backward()
    assert c.grad is None
    assert_values(x.grad, np_of(c))


DEEP = 100_000


def test_100000_deep_chain_backward():
    x = pad.tensor(1.0, dtype=pad.float64, requires_grad=True)
    y = x
    t0 = time.perf_counter()
    for _ in range(DEEP):
        y = y * 1.000001
    y.backward()
    elapsed = time.perf_counter() - t0
    assert abs(x.grad.item() - 1.000001 ** DEEP) < 1e-9
    assert elapsed < 15, f"100,000-deep chain took {elapsed:.1f} s"


def test_100000_deep_chain_mixed_ops_and_teardown_in_subprocess():
    """A deep chain of nodes that save buffers: backward, autograd.grad and freeing the whole graph
    (with and without backward) must neither recurse nor crash the interpreter."""
    code = textwrap.dedent(f"""
        import pyautodiff as pad
        x = pad.tensor(0.5, dtype=pad.float64, requires_grad=True)
        y = x
        for _ in range({DEEP} // 2):
            y = (y + 1.0).relu() - 1.0
        (g,) = pad.autograd.grad(y, x, retain_graph=True)
        y.backward()
        assert g.item() == 1.0 and x.grad.item() == 1.0, (g, x.grad)
        del y, g
        y = x
        for _ in range({DEEP}):
            y = y.relu()  # saves its output
        del y  # never backpropagated: the saved buffers are still held
        print("ok")
    """)
    # cwd outside the checkout: `python -c` puts the cwd first on sys.path, and after a plain
    # `pip install .` the checkout's pyautodiff/ has no compiled extension
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       cwd=__import__("tempfile").gettempdir(),
                       env={**__import__("os").environ, "PYTHONPATH": __import__("os").pathsep.join(sys.path)})
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


# ================================================================================ autograd.grad
def test_autograd_grad_basics():
    a, b = rand((3,), 1), rand((3,), 2)
    x, w = leaf(a), leaf(b)
    out = (x * w).sum() + (x ** 2).sum()
    gx, gw = pad.autograd.grad(out, (x, w))
    assert_values(gx, b + 2 * a, rtol=1e-12)
    assert_values(gw, a, rtol=1e-12)
    assert x.grad is None and w.grad is None  # .grad untouched
    assert not gx.requires_grad and gx.is_leaf
    (single,) = pad.autograd.grad((x * 3).sum(), x)
    assert_values(single, np.full(3, 3.0))


def test_autograd_grad_intermediate_and_grad_outputs():
    x = leaf(rand((2, 3), 1))
    h = x * 2
    y = h.exp()
    g = rand((2, 3), 5)
    (gh,) = pad.autograd.grad(y, h, grad_outputs=pad.tensor(g))
    assert_values(gh, g * np.exp(np_of(h)), rtol=1e-12)


def test_autograd_grad_allow_unused():
    x, y = pad.ones(2, requires_grad=True), pad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph. Set allow_unused=True "
                                           "if this is the desired behavior."):
        pad.autograd.grad((x * 2).sum(), [x, y])
    gx, gy = pad.autograd.grad((x * 2).sum(), [x, y], allow_unused=True)
    assert_values(gx, [2, 2]) and gy is None
    gx, gy = pad.autograd.grad((x * 2).sum(), [x, y], allow_unused=True, materialize_grads=True)
    assert_values(gy, [0, 0])


def test_autograd_grad_errors_match_torch(torch):
    def unused(T):
        x, y = T.ones(2, requires_grad=True), T.ones(2, requires_grad=True)
        return T.autograd.grad((x * 2).sum(), [x, y])
    same_error(lambda: unused(pad), lambda: unused(torch))


def test_autograd_grad_vs_torch(torch):
    def run(T):
        x = T.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=T.float64, requires_grad=True)
        w = T.tensor([0.3, -0.7], dtype=T.float64, requires_grad=True)
        h = (x @ w).exp()
        out = (h * h).sum() + (x ** 3).mean()
        return T.autograd.grad([out, h.sum()], [x, w, h])
    for a, b in zip(run(pad), run(torch)):
        np.testing.assert_allclose(np_of(a), np_of(b), rtol=1e-12)


# ================================================================================ grad modes
def test_no_grad_context_and_decorator():
    x = pad.ones(2, requires_grad=True)
    assert pad.is_grad_enabled()
    with pad.no_grad():
        assert not pad.is_grad_enabled()
        y = x * 2
        with pad.enable_grad():
            assert pad.is_grad_enabled()
            z = x * 2
        assert not pad.is_grad_enabled()
    assert pad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad and grad_fn_name(z) == "MulBackward0"

    @pad.no_grad()
    def f(t):
        """doc"""
        assert not pad.is_grad_enabled()
        return t * 2

    assert not f(x).requires_grad and f.__name__ == "f" and f.__doc__ == "doc"
    assert pad.is_grad_enabled()

    @pad.enable_grad()
    def g(t):
        return t * 2

    with pad.no_grad():
        assert g(x).requires_grad
        assert not pad.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    with pytest.raises(ValueError):
        with pad.no_grad():
            raise ValueError
    assert pad.is_grad_enabled()

    @pad.no_grad()
    def boom():
        raise KeyError

    with pytest.raises(KeyError):
        boom()
    assert pad.is_grad_enabled()


def test_set_grad_enabled_forms():
    x = pad.ones(2, requires_grad=True)
    with pad.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert pad.is_grad_enabled()
    pad.set_grad_enabled(False)  # a plain call switches the mode
    try:
        assert not pad.is_grad_enabled() and not (x * 2).requires_grad
    finally:
        pad.set_grad_enabled(True)
    assert (x * 2).requires_grad

    @pad.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert pad.is_grad_enabled()  # decorating does not switch the mode
    assert not f(x).requires_grad and pad.is_grad_enabled()
    with pad.no_grad():
        with pad.set_grad_enabled(True):
            assert (x * 2).requires_grad
        assert not pad.is_grad_enabled()


def test_grad_modes_vs_torch(torch):
    def run(T):
        x = T.ones(2, requires_grad=True)
        out = []
        with T.no_grad():
            out.append((x * 2).requires_grad)
            with T.enable_grad():
                out.append((x * 2).requires_grad)
            with T.set_grad_enabled(True):
                out.append(T.is_grad_enabled())
        with T.set_grad_enabled(False):
            out.append(T.is_grad_enabled())
        T.set_grad_enabled(False)
        out.append(T.is_grad_enabled())
        T.set_grad_enabled(True)
        with T.inference_mode():
            out.append((x * 2).requires_grad)
        out.append(T.is_grad_enabled())
        return out
    assert run(pad) == run(torch)


def test_grad_mode_decorators_without_parentheses_and_on_generators(torch):
    def run(T):
        x = T.ones(1, requires_grad=True)

        @T.no_grad
        def f(t):
            return t * 2

        @T.enable_grad
        def g(t):
            return t * 2

        @T.inference_mode
        def h(t):
            return t * 2

        @T.inference_mode(False)
        def h2(t):
            return t * 2

        @T.no_grad()
        def gen():
            yield T.is_grad_enabled()
            yield (x * 2).requires_grad

        with T.no_grad():
            out = [f(x).requires_grad, g(x).requires_grad, h2(x).requires_grad]
        out += [h(x).requires_grad, f.__name__]
        it = gen()
        out += [next(it), T.is_grad_enabled(), next(it), T.is_grad_enabled(), list(it)]
        with T.no_grad():
            with T.inference_mode(False):
                out.append(T.is_grad_enabled())
        return out
    assert run(pad) == run(torch)


def test_set_grad_enabled_repr_and_argument_vs_torch(torch):
    try:
        assert torch_name(repr(pad.set_grad_enabled(False))) == repr(torch.set_grad_enabled(False))
    finally:
        pad.set_grad_enabled(True)
        torch.set_grad_enabled(True)
    same_error(lambda: pad.set_grad_enabled(1), lambda: torch.set_grad_enabled(1))
    assert pad.is_grad_enabled()


def test_no_grad_detach_and_data_stop_gradients():
    x = leaf(rand((3,), 1))
    y = x.detach() * x + x.data * 0
    y.sum().backward()
    assert_values(x.grad, np_of(x))


# ================================================================================ version counter
def test_modifying_a_saved_tensor_in_place_is_detected():
    x = pad.ones(3, requires_grad=True)
    y = x.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been "
                                           "modified by an inplace operation") as e:
        y.sum().backward()
    assert "is at version 1; expected version 0 instead" in str(e.value)
    w = pad.ones(3)
    z = x * w  # saves w
    w.mul_(2)
    with pytest.raises(RuntimeError, match="is at version 1; expected version 0 instead"):
        z.sum().backward()
    v = pad.ones(3)
    z = x * v
    v[0] = 5.0  # setitem bumps the version too
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_std_saves_its_result():
    """std's backward reads its own output: writing that output in place is torch's error (it
    was a silently wrong gradient)."""
    x = pad.arange(8.0, requires_grad=True).reshape(4, 2)
    s = x.std(dim=0)
    s[0:1] = pad.tensor([5.0])
    with pytest.raises(RuntimeError, match=r"FloatTensor \[2\]\], which is output 0 of Std, is at version 1"):
        (s ** 2).sum().backward()
    x = pad.arange(8.0, requires_grad=True)
    x.std().backward()
    c = np.arange(8.0) - 3.5
    np.testing.assert_allclose(x.grad.numpy(), c / (7 * np.sqrt((c * c).sum() / 7)), rtol=1e-6)


def test_version_counter_shared_by_views():
    w = pad.ones(2, 3)
    x = pad.ones(3, requires_grad=True)
    z = x * w[0]  # saves a view of w
    w[1].fill_(7)  # another view of the same memory: torch bumps the shared counter
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_modifications_that_torch_allows_are_allowed(torch):
    def run(T):
        x = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2      # saves only the scalar
        y.add_(1)      # fine: nothing saved y
        z = y.sum()    # sum saves no tensor
        y.mul_(3)
        z.backward()
        w = x * 1
        w.mul_(x)      # in-place op whose own backward needs the old value
        w.add_(w.detach())
        w.sum().backward()
        return x.grad
    np.testing.assert_allclose(np_of(run(pad)), np_of(run(torch)))


@pytest.mark.parametrize("f", [
    lambda T: (lambda x: (lambda y: (y.add_(1), y.sum().backward()))(x.exp()))(T.ones(2, requires_grad=True)),
    lambda T: (lambda x, w: (lambda z: (w.add_(1), z.sum().backward()))(x * w))(
        T.ones(2, 3, requires_grad=True, dtype=T.float64), T.ones(2, 3, dtype=T.float64)),
])
def test_version_error_type_and_prefix_match_torch(torch, f):
    p, t = outcome(lambda: f(pad)), outcome(lambda: f(torch))
    assert p[:2] == t[:2] == ("err", "RuntimeError")
    prefix = "one of the variables needed for gradient computation has been modified by an inplace operation: "
    assert p[2].startswith(prefix) and t[2].startswith(prefix)


def test_version_error_text_for_a_saved_input_matches_torch(torch):
    def f(T):
        x = T.ones(2, 3, requires_grad=True, dtype=T.float64)
        w = T.ones(2, 3, dtype=T.float64)
        y = x * 1
        z1, z2 = x * w, y * y  # w: a leaf; y: the output of a node
        w.add_(1)
        y.mul_(2)
        try:
            z1.sum().backward()
        except RuntimeError as e:
            first = str(e)
        z2.sum().backward()
        return first
    same_error(lambda: f(pad), lambda: f(torch))


def test_version_error_text_for_a_saved_output_matches_torch(torch):
    def f(T):
        y = T.ones(2, requires_grad=True).exp()
        y.add_(1)
        y.sum().backward()
    same_error(lambda: f(pad), lambda: f(torch))


# ================================================================================ gradcheck itself
class GoodSquare(Node):
    def forward(self, a):
        self.save(a)
        return a * a

    def backward(self, g):
        (a,) = self.saved
        return 2 * g * a


class BadSquare(Node):
    """Deliberately wrong: the derivative of a*a is 2a, not a."""
    def forward(self, a):
        self.save(a)
        return a * a

    def backward(self, g):
        (a,) = self.saved
        return g * a


def test_gradcheck_accepts_a_correct_gradient():
    x = leaf(rand((2, 3), 1))
    assert pad.autograd.gradcheck(GoodSquare.apply, (x,)) is True
    y = GoodSquare.apply(x)
    assert grad_fn_name(y) == "GoodSquare" and y.grad_fn.next_functions[0][0].variable is x


def test_gradcheck_catches_a_wrong_gradient():
    x = leaf(rand((2, 3), 1, away_from=0.0))
    with pytest.raises(pad.autograd.GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        pad.autograd.gradcheck(BadSquare.apply, (x,))
    assert issubclass(pad.autograd.GradcheckError, RuntimeError)
    assert pad.autograd.gradcheck(BadSquare.apply, (x,), raise_exception=False) is False
    # inside a larger expression, and for only one of two inputs
    w = leaf(rand((2, 3), 2))
    assert pad.autograd.gradcheck(lambda a, b: GoodSquare.apply(a) * b, (x, w)) is True
    assert pad.autograd.gradcheck(lambda a, b: BadSquare.apply(a) * b, (x, w), raise_exception=False) is False


def test_gradcheck_catches_a_missing_gradient():
    x = leaf(rand((3,), 1))
    assert pad.autograd.gradcheck(lambda a: a.detach() * a, (x,), raise_exception=False) is False


def test_gradcheck_warns_on_float32_inputs():
    x = pad.tensor(rand((2,), 1).astype(np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="Input #0 requires gradient and is not a double precision floating point"):
        pad.autograd.gradcheck(lambda a: a * 2, (x,), eps=1e-3, atol=1e-2, rtol=1e-2)


def test_gradcheck_perturbs_non_contiguous_inputs():
    a = rand((3, 4), 1)
    x = pad.from_numpy(np.asarray(a).T).requires_grad_()  # a transposed, non-contiguous leaf
    assert not x.is_contiguous()
    assert pad.autograd.gradcheck(lambda t: t.exp() * pad.tensor(rand((4, 3), 2)), (x,)) is True
    assert pad.autograd.gradcheck(lambda t: BadSquare.apply(t), (x,), raise_exception=False) is False


def test_gradcheck_with_several_outputs_and_non_tensor_args():
    x, y = leaf(rand((2,), 1)), leaf(rand((2,), 2))
    assert pad.autograd.gradcheck(lambda a, k, b: (a * k, (a * b).detach(), b.exp()), (x, 3.0, y)) is True


@pytest.mark.parametrize("op", ["rdiv", "div", "mul", "pow"])
def test_backward_through_empty_tensors(op):
    """sum() of an empty result sends an empty broadcast gradient back: no element to read
    (found by tests/test_differential.py: IndexError in the binary ops' backward)."""
    x = pad.zeros(0, 3, requires_grad=True)
    w = pad.tensor([1.5, 2.0, 3.0], requires_grad=True)
    y = {"rdiv": lambda: 1.0 / x, "div": lambda: x / w, "mul": lambda: x * w, "pow": lambda: x ** 2}[op]()
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    if op in ("div", "mul"):
        np.testing.assert_array_equal(w.grad.numpy(), [0.0, 0.0, 0.0])


@pytest.mark.parametrize("op", ["exp", "tanh", "sigmoid", "sqrt", "softmax", "log_softmax"])
def test_0d_saved_output_modified_in_place_is_detected(op):
    """numpy returns scalars for 0-d inputs; the output an op saved must still be the result's
    memory, so that an in-place change of the result fails backward as in torch (found by
    tests/test_differential.py)."""
    x = pad.tensor(2.0, requires_grad=True)
    y = getattr(x, op)(0) if "softmax" in op else getattr(x, op)()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


# --------------------------------------------------------------------------------------------
# views whose base changed in place: grad_fn is re-derived on read (torch's VariableHooks)
# --------------------------------------------------------------------------------------------

def _view_scenarios(T):
    """Outcomes of the view scenarios on library T: names of grad_fns, values, or the error."""
    out = []

    def record(f):
        try:
            r = f()
            out.append(type(r).__name__ if r is not None and not isinstance(r, (list, tuple)) else r)
        except RuntimeError as e:
            out.append("RuntimeError: " + str(e)[:60])

    def nograd_inplace_then_read():   # the fuzzer's case: read after, or inside no_grad
        leaf = T.tensor([1.0, 2.0], requires_grad=True)
        x = leaf.unsqueeze(1)
        with T.no_grad():
            x.t().div_(0.5)
        return x.grad_fn

    def nograd_inplace_read_inside():
        leaf = T.tensor([1.0, 2.0], requires_grad=True)
        x = leaf.unsqueeze(1)
        with T.no_grad():
            x.t().div_(0.5)
            return x.grad_fn

    def old_view_of_updated_param():  # an optimizer-like update; the old view's gradient
        p = T.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        pt = p.t()
        with T.no_grad():
            p.sub_(0.5)
        name = type(pt.grad_fn).__name__
        (pt * pt).sum().backward()
        return [name] + p.grad.flatten().tolist()

    def nonleaf_base_changed():
        leaf = T.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = leaf * 1
        x = y[1:]
        y.mul_(2)
        name = type(x.grad_fn).__name__
        x.sum().backward()
        return [name] + leaf.grad.tolist()

    def nograd_view_read():           # made in no_grad: ambiguous, torch forbids it
        leaf = T.tensor([1.0, 2.0], requires_grad=True)
        with T.no_grad():
            v = leaf[:1]
            leaf.mul_(2)
        return v.grad_fn

    def nograd_view_used_with_grad():
        leaf = T.tensor([1.0, 2.0], requires_grad=True)
        with T.no_grad():
            v = leaf[:1]
            leaf.mul_(2)
        return (v * 2).grad_fn

    def nograd_view_used_in_nograd():
        leaf = T.tensor([1.0, 2.0], requires_grad=True)
        with T.no_grad():
            v = leaf[:1]
            leaf.mul_(2)
            return (v * 2).tolist()

    def base_without_grad():
        b = T.tensor([1.0, 2.0])
        with T.no_grad():
            v = b[:1]
        b.mul_(2)
        return [v.requires_grad, v.grad_fn]

    for f in (nograd_inplace_then_read, nograd_inplace_read_inside, old_view_of_updated_param,
              nonleaf_base_changed, nograd_view_read, nograd_view_used_with_grad,
              nograd_view_used_in_nograd, base_without_grad):
        record(f)
    return out


NOGRAD_ERR = "RuntimeError: A view was created in no_grad mode and its base or another v"


def test_views_rederive_history_when_read():
    assert _view_scenarios(pad) == [
        "AsStridedBackward0", "AsStridedBackward0",
        ["AsStridedBackward0", 1.0, 3.0, 5.0, 7.0],
        ["AsStridedBackward0", 0.0, 2.0, 2.0],
        NOGRAD_ERR, NOGRAD_ERR, [4.0], [False, None]]


def test_views_rederive_history_as_torch(torch):
    assert _view_scenarios(pad) == _view_scenarios(torch)


VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."


@pytest.mark.parametrize("make_view", [lambda x: x.t(), lambda x: x[:], lambda x: x.view(2),
                                       lambda x: x[0:1]])
def test_writes_into_a_view_of_a_leaf_raise_and_leave_the_leaf_alone(make_view):
    x = pad.tensor([1.0, 2.0], requires_grad=True)
    for write in (lambda v: v.__setitem__(0, 5.0), lambda v: v.__setitem__(0, pad.tensor(5.0)),
                  lambda v: v.uniform_(), lambda v: v.normal_(), lambda v: v.add_(1)):
        with pytest.raises(RuntimeError, match=f"^{VIEW_OF_LEAF}$"):
            write(make_view(x))
    assert x.is_leaf and x.grad_fn is None and x.tolist() == [1.0, 2.0]
    with pad.no_grad():               # allowed without grad (an init, an optimizer step)
        make_view(x)[0] = 5.0
    assert x.is_leaf and x.tolist()[0] == 5.0


def test_random_fills_of_a_leaf_and_of_a_non_leaf():
    x = pad.tensor([1.0, 2.0], requires_grad=True)
    for fill in (lambda t: t.uniform_(), lambda t: t.normal_()):
        with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used in an"):
            fill(x)
    for fill, name in ((lambda t: t.uniform_(), "UniformBackward0"), (lambda t: t.normal_(), "NormalBackward0")):
        x = pad.tensor([1.0, 2.0], requires_grad=True)
        y = x * 2
        fill(y)
        assert grad_fn_name(y) == name
        y.sum().backward()            # the new values do not depend on x
        assert x.grad.tolist() == [0.0, 0.0]


def test_detach_in_place_of_a_view_raises():
    x = pad.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"^Can't detach views in-place\. Use detach\(\) instead\."):
        x[:].detach_()
    y = (pad.tensor([1.0], requires_grad=True) * 2)
    assert y.detach_() is y and y.grad_fn is None and not y.requires_grad


@pytest.mark.parametrize("name, want_fn", [("exp_", "ExpBackward0"), ("log_", "LogBackward0"),
                                           ("relu_", "ReluBackward0"), ("reciprocal_", "ReciprocalBackward0"),
                                           ("rsqrt_", "RsqrtBackward0"), ("square_", "PowBackward0")])
def test_more_in_place_unary_ops(name, want_fn):
    base = np.array([0.5, 2.0, 3.0])
    x = pad.tensor(base, requires_grad=True)
    y = x * 1
    assert getattr(y, name)() is y and grad_fn_name(y) == want_fn
    out = getattr(pad.tensor(base) * 1, name[:-1])()
    np.testing.assert_allclose(y.detach().numpy(), out.numpy(), rtol=1e-6)
    y.sum().backward()
    f = {"exp_": np.exp, "log_": np.log, "relu_": lambda v: np.maximum(v, 0), "reciprocal_": lambda v: 1 / v,
         "rsqrt_": lambda v: v ** -0.5, "square_": lambda v: v * v}[name]
    h = 1e-6
    np.testing.assert_allclose(x.grad.numpy(), (f(base + h) - f(base - h)) / (2 * h), rtol=1e-5)
    with pytest.raises(RuntimeError, match="^a leaf Variable that requires grad is being used in an"):
        getattr(pad.tensor(base, requires_grad=True), name)()


@pytest.mark.parametrize("shape", [(), (3,)])
def test_setitem_with_a_scalar_bool_index_is_a_view_write(shape):
    """torch indexes with a scalar True as unsqueeze(0) (a view: CopySlices), and writes nothing
    for a Python False."""
    for index in (True, pad.tensor(True)):
        x = pad.zeros(shape, dtype=pad.float64, requires_grad=True)
        y = x * 1
        y[index] = -1.0
        assert grad_fn_name(y) == "CopySlices" and np.all(y.detach().numpy() == -1.0)
        y.sum().backward()
        assert np.all(x.grad.numpy() == 0.0)
    x = pad.zeros(shape, dtype=pad.float64, requires_grad=True)
    y = x * 1
    y[False] = -1.0
    assert grad_fn_name(y) == "MulBackward0" and np.all(y.detach().numpy() == 0.0)


def test_setitem_through_newaxis_and_ellipsis_writes():
    x = pad.zeros(3)
    x[None] = 5.0
    assert x.tolist() == [5.0, 5.0, 5.0]
    x[...] = 1.0
    x[None, 1] = 2.0
    assert x.tolist() == [1.0, 2.0, 1.0]
    s = pad.tensor(0.0)
    s[None] = 3.0
    s[...] = s + 1
    assert s.item() == 4.0


ZERO_D_INDEX_ERRORS = [
    (slice(1, None), "slice() cannot be applied to a 0-dim tensor."),
    (slice(None), "slice() cannot be applied to a 0-dim tensor."),
    (5, "index 5 is out of bounds for dimension 0 with size 0"),
    (-1, "index -1 is out of bounds for dimension 0 with size 0"),
    (0, "invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ to "
        "convert a 0-dim tensor to a number"),
    ((0, 0), "too many indices for tensor of dimension 0"),
    ([3], "too many indices for tensor of dimension 0")]


@pytest.mark.parametrize("index, msg", ZERO_D_INDEX_ERRORS)
@pytest.mark.parametrize("requires_grad", [False, True])
def test_indexing_a_0d_tensor_errors_as_torch(index, msg, requires_grad):
    x = pad.tensor(2.0, requires_grad=requires_grad)
    with pytest.raises(IndexError) as e:
        x[index]
    assert str(e.value) == msg
    with pytest.raises(IndexError) as e:  # checked before the leaf's in-place error, as torch
        x[index] = 3.0
    assert str(e.value) == msg


def _index_outcomes(T):
    out = []
    for shape in ((), (3,)):
        for index in (slice(1, None), 5, 0, -1, (0, 0), slice(None), (slice(None),), Ellipsis, None,
                      (None, 0), [3], [0], True):
            for rg in (False, True):
                x = T.ones(shape, requires_grad=rg)
                try:
                    v = x[index]
                    got = ("ok", tuple(v.shape), type(v.grad_fn).__name__)
                except (IndexError, RuntimeError) as e:
                    got = (type(e).__name__, str(e))
                try:
                    x[index] = 3.0
                    put = ("ok", x.tolist())
                except (IndexError, RuntimeError) as e:
                    put = (type(e).__name__, str(e))
                out.append((shape, repr(index), rg, got, put))
    return out


def test_indexing_outcomes_as_torch(torch):
    for mine, theirs in zip(_index_outcomes(pad), _index_outcomes(torch)):
        assert mine == theirs


def test_in_place_op_through_an_empty_view_is_recorded():
    """x[1:] of a single row is empty: torch still records CopySlices in the base's history."""
    x = pad.ones((1, 4, 1), dtype=pad.float64, requires_grad=True)
    base = x[-1:3].clone()
    v = base[1:]
    v.add_(pad.ones((1, 4, 1)))
    assert grad_fn_name(base) == "CopySlices" and grad_fn_name(v) == "AsStridedBackward0"
    assert tuple(v.shape) == (0, 4, 1)
    base.sum().backward()
    assert x.grad.flatten().tolist() == [1.0] * 4


def test_in_place_op_on_an_empty_view_then_an_op_saving_it():
    """`v *= t` on an empty view, then log (saves v): the in-place op's saved original self is
    private, no version error (it was one: empty arrays share no bytes)."""
    x = pad.ones(5, dtype=pad.float64, requires_grad=True)
    v = (x[1:1].reshape(-1, 1) * 1)[:, ::3]
    v *= pad.ones(1)
    w = v.log()
    w.sum().backward()
    assert grad_fn_name(v) == "AsStridedBackward0" and x.grad.tolist() == [0.0] * 5


def test_copy_records_its_source_in_the_graph():
    x = pad.zeros(3)
    w = pad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.copy_(w)
    assert grad_fn_name(x) == "CopyBackwards" and x.requires_grad
    (x * x).sum().backward()
    assert w.grad.tolist() == [2.0, 4.0, 6.0]
    y = pad.zeros(2, 3, dtype=pad.float64)        # broadcast and cast: summed back, float32 grad
    w = pad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y.copy_(w)
    y.sum().backward()
    assert w.grad.tolist() == [2.0, 2.0, 2.0] and w.grad.dtype == pad.float32
    leaf = pad.ones(3, requires_grad=True)         # the old values get no gradient
    z = leaf * 2
    z.copy_(pad.ones(3))
    z.sum().backward()
    assert leaf.grad.tolist() == [0.0, 0.0, 0.0]
    v = pad.zeros(4)                               # through a view: CopySlices of the base
    w = pad.tensor([1.0, 2.0], requires_grad=True)
    v[1:3].copy_(w)
    assert grad_fn_name(v) == "CopySlices" and v.tolist() == [0.0, 1.0, 2.0, 0.0]
    v.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_writes_into_expanded_tensors_as_torch():
    msg = "unsupported operation: more than one element of the written-to tensor refers to a single memory location."
    for write in (lambda e: e.add_(1), lambda e: e.__setitem__(0, 1),
                  lambda e: e.copy_(pad.ones(3, 2, dtype=pad.int64)), lambda e: e.__setitem__((slice(None), 0), 7)):
        x = pad.tensor([5])
        with pytest.raises(RuntimeError, match=f"^{msg}"):
            write(x.expand(3, 2))
        assert x.tolist() == [5]
    x = pad.tensor([5])
    x.expand(3, 2).fill_(2)                        # one value: written to the one element
    assert x.tolist() == [2]
    x.expand(3, 2).zero_()
    assert x.tolist() == [0]
    x = pad.tensor([5])
    with pytest.warns(UserWarning, match="Use of masked_fill_ on expanded tensors is deprecated"):
        x.expand(3, 2)[pad.tensor([[True, False], [False, False], [False, False]])] = 1
    assert x.tolist() == [1]


def test_empty_tensors_have_no_internal_overlap():
    y = pad.zeros((2, 3, 1), dtype=pad.int64)[pad.tensor([], dtype=pad.int64)].clone()
    with pytest.raises(IndexError, match="^index 0 is out of bounds for dimension 0 with size 0$"):
        y[0] = -2
    z = pad.zeros(0, 3)
    assert z.expand(0, 3).add_(1).shape == (0, 3)


def test_in_place_through_a_view_of_a_0d_tensor():
    x = pad.tensor(2.0, dtype=pad.float64, requires_grad=True)
    b = x.mean(dim=-1, keepdim=True).clone()
    v = b.t()
    v += -1
    assert grad_fn_name(b) == "CopySlices" and b.shape == ()
    b.sqrt().backward(gradient=pad.tensor(0.7, dtype=pad.float64))
    assert abs(x.grad.item() - 0.35) < 1e-12     # d sqrt(x - 1) / dx = 1 / (2 sqrt(1)) * 0.7


def test_float64_0d_operand_keeps_the_gradient_float32():
    """A float32 tensor times a float64 0-d tensor is float32 (torch's 0-d rule); its gradient
    must be float32 too, or a CopySlices downstream reads the wrong bytes (it did)."""
    for other in (pad.tensor(2.0, dtype=pad.float64), pad.tensor(2.0, dtype=pad.float64, requires_grad=True)):
        x = pad.arange(4.0).reshape(1, 4, 1).requires_grad_()
        b = x.clone()
        b[0, :2].fill_(0.75)
        b *= other
        b.sum().backward()
        assert x.grad.dtype == pad.float32 and x.grad.flatten().tolist() == [0.0, 0.0, 2.0, 2.0]
        x = pad.arange(3.0, requires_grad=True)
        y = x / other
        assert y.dtype == pad.float32
        y.sum().backward()
        assert x.grad.dtype == pad.float32 and x.grad.tolist() == [0.5] * 3


def test_in_place_through_views_of_a_transposed_clone():
    """clone() keeps a transpose's layout: views of it written in place are still recorded
    (CopySlices over a non-C-contiguous base); values and gradients as torch gives them."""
    x0 = pad.arange(6.0, requires_grad=True)
    b = (x0.reshape(2, 3) * 1).t().clone()          # (3, 2), strides (1, 3)
    assert b.stride() == (1, 3)
    b[:, 1] = pad.tensor([7.0, 8.0, 9.0])
    v = b[1:, :]
    v.add_(v * 2)
    assert grad_fn_name(b) == "CopySlices" and grad_fn_name(v) == "AsStridedBackward0"
    (b * pad.arange(6.0).reshape(3, 2)).sum().backward()
    assert b.tolist() == [[0.0, 7.0], [3.0, 24.0], [6.0, 27.0]]
    assert x0.grad.tolist() == [0.0, 6.0, 12.0, 0.0, 0.0, 0.0]


def test_setitem_through_an_expand_of_a_tensor_with_history_as_torch():
    """torch writes advanced-index setitem into an expand() of a tensor that requires grad
    (with its deprecation warning), records CopySlices, and refuses it in backward."""
    s0 = pad.tensor([1.5, -2.0], dtype=pad.float64, requires_grad=True)
    s = s0 * 3
    e = s.reshape(2, 1).expand(2, 3)
    with pytest.warns(UserWarning, match="Use of masked_fill_ on expanded tensors is deprecated"):
        e[pad.tensor([[True, False, True], [False, False, True]])] = 7.0
    assert e.tolist() == [[7.0] * 3] * 2 and s.tolist() == [7.0, 7.0]
    assert grad_fn_name(s) == "CopySlices" and grad_fn_name(e) == "AsStridedBackward0"
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single"):
        e.sum().backward()
