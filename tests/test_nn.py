"""nn.Module contract (registration, state_dict / load_state_dict, repr, train/eval, conversions, pickling),
nn.Parameter, containers, nn.init, and every layer and loss against PyTorch on fixed inputs."""
import copy
import math
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import pyautodiff as pad
from pyautodiff import nn
import pyautodiff.nn.functional as F


def torch_or_skip():
    return pytest.importorskip("torch")


class Block(nn.Module):
    def __init__(self, n_in, n_out):
        super().__init__()
        self.proj = nn.Linear(n_in, n_out)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.proj(x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = Block(4, 3)
        self.scale = nn.Parameter(pad.tensor([2.]))
        self.head = nn.Sequential(Block(3, 2), nn.Linear(2, 1))
        self.register_buffer("running", pad.zeros(2))
        self.register_buffer("scratch", pad.ones(1), persistent=False)

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale


# ------------------------------------------------------------------------------------------- registration
def test_registration_order_and_names():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == [
        "scale", "encoder.proj.weight", "encoder.proj.bias", "head.0.proj.weight", "head.0.proj.bias",
        "head.1.weight", "head.1.bias"]
    assert list(net.state_dict()) == [
        "scale", "running", "encoder.proj.weight", "encoder.proj.bias", "head.0.proj.weight", "head.0.proj.bias",
        "head.1.weight", "head.1.bias"]
    assert [n for n, _ in net.named_buffers()] == ["running", "scratch"]
    assert [n for n, _ in net.named_modules()] == ["", "encoder", "encoder.proj", "encoder.act", "head", "head.0",
                                                   "head.0.proj", "head.0.act", "head.1"]
    assert [n for n, _ in net.named_children()] == ["encoder", "head"]
    assert list(net.state_dict()._metadata) == ["", "encoder", "encoder.proj", "encoder.act", "head", "head.0",
                                                "head.0.proj", "head.0.act", "head.1"]
    assert net.state_dict()._metadata[""] == {"version": 1}


def test_setattr_getattr_delattr():
    m = nn.Module()
    m.w = nn.Parameter(pad.ones(2))
    m.sub = nn.Linear(1, 1)
    m.plain = pad.ones(1)
    assert "w" in m._parameters and "sub" in m._modules and "plain" in m.__dict__
    with pytest.raises(TypeError, match=r"cannot assign '.*' as parameter 'w' \(torch.nn.Parameter or None expected\)"):
        m.w = pad.ones(2)
    m.w = None
    assert m._parameters["w"] is None and list(m.parameters()) == list(m.sub.parameters())
    with pytest.raises(TypeError, match="as child module 'sub'"):
        m.sub = 3
    del m.sub
    assert "sub" not in m._modules
    with pytest.raises(AttributeError, match="'Module' object has no attribute 'sub'"):
        m.sub
    with pytest.raises(KeyError, match="attribute 'plain' already exists"):
        m.register_buffer("plain", pad.zeros(1))
    with pytest.raises(KeyError):
        m.register_parameter("a.b", None)
    m.buf = nn.Buffer(pad.zeros(3), persistent=False)
    assert "buf" in m._buffers and "buf" in m._non_persistent_buffers_set and "buf" not in m.state_dict()

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(pad.ones(1))
    with pytest.raises(AttributeError, match="cannot assign parameters before Module.__init__\\(\\) call"):
        Early()


def test_parameter_basics():
    t = pad.tensor([1., 2.])
    p = nn.Parameter(t)
    assert isinstance(p, pad.Tensor) and type(p).__name__ == "Parameter"
    assert p.requires_grad and p.is_leaf and np.shares_memory(p.numpy() if False else p.detach().numpy(), t.numpy())
    assert repr(p) == "Parameter containing:\ntensor([1., 2.], requires_grad=True)"
    q = nn.Parameter(t, requires_grad=False)
    assert not q.requires_grad
    assert nn.Parameter().shape == (0,)
    c = copy.deepcopy(p)
    assert type(c) is nn.Parameter and c.requires_grad and not np.shares_memory(c.detach().numpy(), t.numpy())
    r = pickle.loads(pickle.dumps(p))
    assert type(r) is nn.Parameter and r.tolist() == [1., 2.] and r.requires_grad


# ------------------------------------------------------------------------------------------- state_dict
def test_state_dict_detached_aliases_and_keep_vars():
    lin = nn.Linear(2, 1)
    sd = lin.state_dict()
    assert type(sd) is OrderedDict
    assert all(type(v) is pad.Tensor and not v.requires_grad for v in sd.values())
    with pad.no_grad():
        lin.weight.fill_(3.0)
    assert sd["weight"].tolist() == [[3.0, 3.0]]
    kv = lin.state_dict(keep_vars=True)
    assert kv["weight"] is lin.weight
    assert list(lin.state_dict(prefix="pre.")) == ["pre.weight", "pre.bias"]


def test_load_state_dict_messages():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1))
    sd = model.state_dict()
    assert repr(model.load_state_dict(sd)) == "<All keys matched successfully>"
    bad = dict(sd)
    del bad["2.bias"]
    bad["extra.weight"] = pad.zeros(1)
    with pytest.raises(RuntimeError) as e:
        model.load_state_dict(bad)
    assert str(e.value) == ('Error(s) in loading state_dict for Sequential:\n\tMissing key(s) in state_dict: '
                            '"2.bias". \n\tUnexpected key(s) in state_dict: "extra.weight". ')
    res = model.load_state_dict(bad, strict=False)
    assert res.missing_keys == ["2.bias"] and res.unexpected_keys == ["extra.weight"]
    assert repr(res) == "_IncompatibleKeys(missing_keys=['2.bias'], unexpected_keys=['extra.weight'])"
    wrong = dict(sd)
    wrong["0.weight"] = pad.zeros(3, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with shape "
                                           r"pyautodiff.Size\(\[3, 2\]\) from checkpoint, the shape in current model "
                                           r"is pyautodiff.Size\(\[2, 2\]\)."):
        model.load_state_dict(wrong)
    with pytest.raises(TypeError, match="Expected state_dict to be dict-like"):
        model.load_state_dict([1, 2])


def test_load_state_dict_copies_in_place_and_assign():
    src = nn.Linear(2, 1)
    dst = nn.Linear(2, 1)
    w = dst.weight
    v0 = w._version[0]
    dst.load_state_dict(src.state_dict())
    assert dst.weight is w and w.equal(src.weight) and w._version[0] > v0
    dst2 = nn.Linear(2, 1)
    dst2.load_state_dict(src.state_dict(), assign=True)
    assert type(dst2.weight) is nn.Parameter and dst2.weight.requires_grad and dst2.weight.equal(src.weight)


def test_load_state_dict_vs_torch_messages():
    torch = torch_or_skip()
    msgs = []
    for T in (pad, torch):
        class Tiny(T.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = T.nn.Linear(1, 1)
                self.register_buffer("b", T.zeros(2))
        out = []
        for sd in ({"weight": T.zeros(1, 1), "bias": T.zeros(1)},
                   {"fc.weight": T.zeros(1, 1), "fc.bias": T.zeros(2), "b": T.zeros(2), "fc.x.y": T.zeros(1)},
                   {"fc.weight": 3, "fc.bias": T.zeros(1), "b": T.zeros(2)}):
            try:
                Tiny().load_state_dict(sd)
            except RuntimeError as e:
                out.append(str(e).replace("torch.", "pyautodiff."))
        msgs.append(out)
    assert msgs[0] == msgs[1]


# ------------------------------------------------------------------------------------------- modes, repr
def test_train_eval_zero_grad_requires_grad():
    net = Net()
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    net(pad.ones(2, 4)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad(set_to_none=False)
    assert all(float(p.grad.abs().sum()) == 0 for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.requires_grad_(False) is net and not any(p.requires_grad for p in net.parameters())


def test_repr_matches_torch():
    torch = torch_or_skip()
    reprs = []
    for T in (pad, torch):
        n = T.nn
        m = n.Sequential(OrderedDict([
            ("fc", n.Linear(3, 4)), ("act", n.ReLU(inplace=True)), ("drop", n.Dropout(0.25)),
            ("list", n.ModuleList([n.Tanh(), n.Tanh(), n.Sigmoid(), n.Linear(1, 2, bias=False)])),
            ("dict", n.ModuleDict({"a": n.Softmax(dim=1), "b": n.LogSoftmax(-1), "c": n.Identity()})),
            ("flat", n.Flatten()), ("leaky", n.LeakyReLU(0.2)), ("h", n.Hardtanh(-2, 2)), ("r6", n.ReLU6()),
            ("losses", n.ModuleList([n.MSELoss(), n.L1Loss(reduction="sum"), n.CrossEntropyLoss(), n.NLLLoss(),
                                     n.BCELoss(), n.BCEWithLogitsLoss()])),
            ("empty", n.ModuleList()), ("unflat", n.Unflatten(1, (2, 2))),
        ]))
        reprs.append(repr(m))
        reprs.append(repr(n.ParameterList([n.Parameter(T.ones(2, 3)), n.Parameter(T.ones(1))]))
                     .replace("torch.", "pyautodiff."))
    assert reprs[0] == reprs[2]
    assert reprs[1] == reprs[3]


def test_apply_to_double_float():
    net = Net()
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen == ["Linear", "ReLU", "Block", "Linear", "ReLU", "Block", "Linear", "Sequential", "Net"]
    w = net.encoder.proj.weight
    net(pad.ones(1, 4)).sum().backward()
    net.double()
    assert net.encoder.proj.weight is w and w.dtype is pad.float64 and w.grad.dtype is pad.float64
    assert net.running.dtype is pad.float64
    out = net(pad.ones(1, 4, dtype=pad.float64))
    assert out.dtype is pad.float64
    net.to(pad.float32)
    assert w.dtype is pad.float32
    assert net.to("cpu") is net and net.cpu() is net


def test_whole_model_pickle_round_trip():
    net = Net()
    net.eval()
    r = pickle.loads(pickle.dumps(net))
    x = pad.ones(2, 4)
    assert r(x).equal(net(x)) and not r.training
    assert [n for n, _ in r.named_parameters()] == [n for n, _ in net.named_parameters()]
    c = copy.deepcopy(net)
    assert c.head[1].weight is not net.head[1].weight and c.head[1].weight.equal(net.head[1].weight)


def test_forward_hooks():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append("pre"))
    h2 = lin.register_forward_hook(lambda m, args, out: out * 0)
    assert float(lin(pad.ones(1, 2)).abs().sum()) == 0 and calls == ["pre"]
    h1.remove(), h2.remove()
    lin(pad.ones(1, 2))
    assert calls == ["pre"]


# ------------------------------------------------------------------------------------------- containers
def test_sequential_modulelist_moduledict():
    a, b, c = nn.ReLU(), nn.Tanh(), nn.Sigmoid()
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    assert type(s[1:]) is nn.Sequential and list(s[1:]) == [b, c]
    del s[0]
    assert list(s._modules) == ["0", "1"] and s[0] is b
    s.append(a)
    s.insert(0, c)
    assert list(s) == [c, b, c, a]
    with pytest.raises(IndexError, match="index 7 is out of range"):
        s[7]
    ml = nn.ModuleList([a])
    ml += [b]
    ml.append(c)
    assert len(ml) == 3 and ml[-1] is c and list(ml[:2]) == [a, b]
    md = nn.ModuleDict({"x": a})
    md["y"] = b
    assert list(md.keys()) == ["x", "y"] and "y" in md and md.pop("x") is a and len(md) == 1
    pl = nn.ParameterList([pad.ones(2)])
    assert type(pl[0]) is nn.Parameter and len(list(pl.parameters())) == 1


# ------------------------------------------------------------------------------------------- init
def test_init_distributions():
    pad.manual_seed(0)
    w = pad.empty(200, 300)
    nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    bound = 1 / math.sqrt(300)
    assert abs(float(w.abs().max()) - bound) < 1e-3 and float(w.abs().max()) <= bound
    nn.init.xavier_uniform_(w)
    assert float(w.abs().max()) <= math.sqrt(6 / 500)
    nn.init.normal_(w, 1.0, 0.5)
    assert abs(float(w.mean()) - 1.0) < 0.02 and abs(float(w.std()) - 0.5) < 0.02
    nn.init.constant_(w, 0.3)
    assert float(w.min()) == float(w.max()) == pytest.approx(0.3)
    nn.init.zeros_(w), nn.init.ones_(w)
    assert float(w.sum()) == 60000
    assert nn.init.calculate_gain("relu") == math.sqrt(2) and nn.init.calculate_gain("tanh") == 5 / 3
    with pytest.raises(ValueError, match="Fan in and fan out can not be computed"):
        nn.init.xavier_uniform_(pad.empty(3))
    p = nn.Parameter(pad.empty(2, 2))
    nn.init.uniform_(p, -1, 1)  # works on leaves that require grad
    assert p.requires_grad and p.is_leaf


def test_linear_default_init_bounds():
    pad.manual_seed(1)
    lin = nn.Linear(50, 40)
    b = 1 / math.sqrt(50)
    assert float(lin.weight.abs().max()) <= b and float(lin.bias.abs().max()) <= b
    assert float(lin.weight.std()) == pytest.approx(b / math.sqrt(3), rel=0.1)


# ------------------------------------------------------------------------------------------- layers vs torch
def _copy_params(src, dst, T):
    with T.no_grad():
        for p, q in zip(src.parameters(), dst.parameters()):
            q.copy_(T.tensor(p.detach().numpy()))


LAYERS = {
    "Linear": (lambda n: n.Linear(4, 3), (5, 4)),
    "Linear_nobias": (lambda n: n.Linear(4, 3, bias=False), (5, 4)),
    "Linear_3d": (lambda n: n.Linear(4, 3), (2, 5, 4)),
    "Linear_1d": (lambda n: n.Linear(4, 3), (4,)),
    "ReLU": (lambda n: n.ReLU(), (3, 4)),
    "Tanh": (lambda n: n.Tanh(), (3, 4)),
    "Sigmoid": (lambda n: n.Sigmoid(), (3, 4)),
    "Softmax": (lambda n: n.Softmax(dim=1), (3, 4)),
    "LogSoftmax": (lambda n: n.LogSoftmax(dim=-1), (3, 4)),
    "Softmin": (lambda n: n.Softmin(dim=0), (3, 4)),
    "LeakyReLU": (lambda n: n.LeakyReLU(0.1), (3, 4)),
    "Hardtanh": (lambda n: n.Hardtanh(-0.5, 0.5), (3, 4)),
    "Flatten": (lambda n: n.Flatten(), (2, 3, 2)),
    "Identity": (lambda n: n.Identity(), (3,)),
    "Dropout_eval": (lambda n: n.Dropout(0.3).eval(), (3, 4)),
    "MLP": (lambda n: n.Sequential(n.Linear(4, 8), n.Tanh(), n.Linear(8, 8), n.ReLU(), n.Linear(8, 2)), (6, 4)),
    "SiLU": (lambda n: n.SiLU(), (3, 4)),
    "Softplus": (lambda n: n.Softplus(beta=2), (3, 4)),
    "ELU": (lambda n: n.ELU(0.5), (3, 4)),
    "LogSigmoid": (lambda n: n.LogSigmoid(), (3, 4)),
    "LayerNorm": (lambda n: n.LayerNorm(4), (3, 4)),
    "LayerNorm_2d_nobias": (lambda n: n.LayerNorm((2, 4), bias=False), (3, 2, 4)),
    "BatchNorm1d": (lambda n: n.BatchNorm1d(4), (6, 4)),
    "BatchNorm1d_3d": (lambda n: n.BatchNorm1d(2, momentum=None), (3, 2, 5)),
    "BatchNorm1d_eval": (lambda n: n.BatchNorm1d(4).eval(), (6, 4)),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_vs_torch(name):
    torch = torch_or_skip()
    make, shape = LAYERS[name]
    ours, theirs = make(nn), make(torch.nn)
    _copy_params(theirs, ours, pad)
    x = np.random.default_rng(0).uniform(-2, 2, shape).astype(np.float32)
    a, b = pad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    np.testing.assert_allclose(ya.detach().numpy(), yb.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert type(ya.grad_fn).__name__ == type(yb.grad_fn).__name__
    g = np.random.default_rng(1).uniform(-1, 1, tuple(yb.shape)).astype(np.float32)
    ya.backward(pad.tensor(g)), yb.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-5, atol=1e-6)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for (k, u), (_, v) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        np.testing.assert_allclose(u.numpy(), v.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)


def test_embedding_vs_torch():
    torch = torch_or_skip()
    res = []
    for T in (pad, torch):
        e = T.nn.Embedding(5, 3, padding_idx=1)
        with T.no_grad():
            e.weight.copy_(T.tensor(np.arange(15, dtype=np.float32).reshape(5, 3) / 7))
        e.weight.data[1] = 0 if T is torch else 0
        out = e(T.tensor([[0, 1], [4, 4]]))
        out.sum().backward()
        res.append((repr(e), out.detach().numpy(), e.weight.grad.numpy(), type(out.grad_fn).__name__))
    assert res[0][0] == res[1][0] and res[0][3] == res[1][3]
    np.testing.assert_allclose(res[0][1], res[1][1])
    np.testing.assert_allclose(res[0][2], res[1][2])


LOSSES = {
    "MSELoss": (lambda n: n.MSELoss(), "float"),
    "MSELoss_sum": (lambda n: n.MSELoss(reduction="sum"), "float"),
    "MSELoss_none": (lambda n: n.MSELoss(reduction="none"), "float"),
    "L1Loss": (lambda n: n.L1Loss(), "float"),
    "L1Loss_none": (lambda n: n.L1Loss(reduction="none"), "float"),
    "CrossEntropyLoss": (lambda n: n.CrossEntropyLoss(), "class"),
    "CrossEntropyLoss_sum": (lambda n: n.CrossEntropyLoss(reduction="sum"), "class"),
    "CrossEntropyLoss_none": (lambda n: n.CrossEntropyLoss(reduction="none"), "class"),
    "CrossEntropyLoss_smooth": (lambda n: n.CrossEntropyLoss(label_smoothing=0.1), "class"),
    "CrossEntropyLoss_ignore": (lambda n: n.CrossEntropyLoss(ignore_index=1), "class"),
    "CrossEntropyLoss_probs": (lambda n: n.CrossEntropyLoss(), "probs"),
    "NLLLoss": (lambda n: n.NLLLoss(), "logp"),
    "NLLLoss_none": (lambda n: n.NLLLoss(reduction="none"), "logp"),
    "BCELoss": (lambda n: n.BCELoss(), "prob"),
    "BCELoss_sum": (lambda n: n.BCELoss(reduction="sum"), "prob"),
    "BCEWithLogitsLoss": (lambda n: n.BCEWithLogitsLoss(), "binary"),
    "BCEWithLogitsLoss_none": (lambda n: n.BCEWithLogitsLoss(reduction="none"), "binary"),
}


def _loss_inputs(kind, T):
    r = np.random.default_rng(4)
    x = r.uniform(-3, 3, (6, 5)).astype(np.float32)
    if kind == "float":
        return x, T.tensor(r.uniform(-3, 3, (6, 5)).astype(np.float32))
    if kind == "class":
        return x, T.tensor(r.integers(0, 5, 6))
    if kind == "probs":
        p = r.uniform(0, 1, (6, 5)).astype(np.float32)
        return x, T.tensor(p / p.sum(1, keepdims=True))
    if kind == "logp":
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        return x.astype(np.float32), T.tensor(r.integers(0, 5, 6))
    if kind == "prob":
        return r.uniform(0.02, 0.98, (6, 5)).astype(np.float32), T.tensor(r.uniform(0, 1, (6, 5)).astype(np.float32))
    return x, T.tensor((r.uniform(0, 1, (6, 5)) > 0.5).astype(np.float32))


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_vs_torch(name):
    torch = torch_or_skip()
    make, kind = LOSSES[name]
    res = []
    for T in (pad, torch):
        x, t = _loss_inputs(kind, T)
        xt = T.tensor(x, requires_grad=True)
        crit = make(T.nn)
        loss = crit(xt, t)
        loss.backward(T.ones_like(loss))
        res.append((loss.detach().numpy(), xt.grad.numpy(), type(loss.grad_fn).__name__, repr(crit),
                    tuple(loss.shape)))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=2e-6, atol=1e-6)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=2e-5, atol=1e-6)
    assert res[0][2:] == res[1][2:]


def test_functional_namespace():
    for name in ("relu", "softmax", "log_softmax", "linear", "mse_loss", "l1_loss", "nll_loss", "cross_entropy",
                 "binary_cross_entropy", "binary_cross_entropy_with_logits", "dropout", "one_hot", "tanh",
                 "sigmoid", "leaky_relu"):
        assert callable(getattr(F, name))
    x = pad.tensor([-1., 2.], requires_grad=True)
    assert F.relu(x).tolist() == [0., 2.]


def test_clip_grad_norm_vs_torch():
    torch = torch_or_skip()
    out = []
    for T in (pad, torch):
        ps = [T.nn.Parameter(T.ones(3)), T.nn.Parameter(T.ones(2, 2))]
        ps[0].grad = T.tensor([3., 4., 0.])
        ps[1].grad = T.tensor([[1., 2.], [2., 4.]])
        n = T.nn.utils.clip_grad_norm_(ps, 1.0)
        out.append((n.item(), [p.grad.numpy().copy() for p in ps]))
        T.nn.utils.clip_grad_value_(ps, 0.1)
        out.append([p.grad.numpy().copy() for p in ps])
    assert out[0][0] == pytest.approx(out[2][0])
    for a, b in zip(out[0][1], out[2][1]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    for a, b in zip(out[1], out[3]):
        np.testing.assert_allclose(a, b)


# ------------------------------------------------------------------------------------------- the example
def test_train_digits_example(tmp_path, capsys):
    pytest.importorskip("sklearn")
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "train_digits.py")
    spec = importlib.util.spec_from_file_location("train_digits", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ckpt = str(tmp_path / "digits.pt")
    r1 = mod.main(["--epochs", "4", "--quiet", "--checkpoint", ckpt])
    out = capsys.readouterr().out
    assert "pyautodiff: test accuracy" in out and r1["accuracy"] > 0.9
    ck = pad.load(ckpt)
    assert {"epoch", "model_state_dict", "optimizer_state_dict", "loss"} <= set(ck)
    assert ck["epoch"] == 2 and list(ck["model_state_dict"]) == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    # same seed, same run: resuming from the checkpoint is deterministic
    r2 = mod.main(["--epochs", "4", "--quiet", "--checkpoint", ckpt])
    assert r2["accuracy"] == r1["accuracy"] and r2["loss"] == r1["loss"]
