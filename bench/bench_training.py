"""W3: one training epoch of the digits MLP (64-128-10, ReLU, cross-entropy, batch 64, SGD lr=0.05
momentum=0.9) -- pyautodiff vs PyTorch eager vs a hand-written numpy loop.

    python bench/bench_training.py [--quick]

Data: scikit-learn's digits training split (1437 images of 64 pixels, 10 classes) when scikit-learn is
installed, else random data of the same shapes.  Cases, each timed interleaved (one sample of each library
per round, the order rotating every round; process CPU time, single-threaded, see _timing.py):
  * epoch: the ordinary loop -- `for xb, yb in DataLoader(TensorDataset(X, Y), batch_size=64,
    shuffle=True)`, zero_grad, forward, loss, backward, step -- 23 steps;
  * epoch_prebatched: the same 23 steps on batches sliced beforehand (no DataLoader: the autograd and
    optimizer cost alone);
  * numpy: the same network, loss, gradients and momentum update written by hand with numpy (batches
    sliced from a shuffled index each epoch), the floor for a numpy-based library.
Each library keeps training its own model across samples (every sample is a real epoch).
`run(quick=False) -> dict` follows the bench suite's result schema (bench/README.md).
"""
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

import _timing as T  # noqa: E402

if __name__ == "__main__":
    T.setup_env()

import numpy as np  # noqa: E402

BATCH = 64
HIDDEN = 128
LR = 0.05
MOMENTUM = 0.9


def load_data():
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        d = load_digits()
        x = (d.data / 16.0).astype(np.float32)
        y = d.target.astype(np.int64)
        x, _, y, _ = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
        return np.ascontiguousarray(x), np.ascontiguousarray(y), "scikit-learn digits (train split)"
    except ImportError:
        r = np.random.default_rng(0)
        return (r.random((1437, 64), dtype=np.float32), r.integers(0, 10, 1437),
                "random data shaped like digits (scikit-learn not installed)")


def _init_weights(seed=0):
    """Fixed initial weights (torch's Linear init distribution), shared by every library."""
    r = np.random.default_rng(seed)
    b1, b2 = 1 / np.sqrt(64), 1 / np.sqrt(HIDDEN)
    return [r.uniform(-b1, b1, (HIDDEN, 64)).astype(np.float32), r.uniform(-b1, b1, HIDDEN).astype(np.float32),
            r.uniform(-b2, b2, (10, HIDDEN)).astype(np.float32), r.uniform(-b2, b2, 10).astype(np.float32)]


def make_lib(lib, x, y, prebatched=False):
    """Return (one_epoch, state) for pyautodiff or torch; one_epoch() returns the epoch's last loss."""
    nn, optim = lib.nn, lib.optim
    data = __import__(lib.__name__ + ".utils.data", fromlist=["DataLoader"])
    model = nn.Sequential(nn.Linear(64, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, 10))
    with lib.no_grad():
        for p, w in zip(model.parameters(), _init_weights()):
            p.copy_(lib.from_numpy(w))
    opt = optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    crit = nn.CrossEntropyLoss()
    X, Y = lib.from_numpy(x), lib.from_numpy(y)
    g = lib.Generator()
    g.manual_seed(0)
    if prebatched:
        perm = np.random.default_rng(1).permutation(len(x))
        batches = [(lib.from_numpy(x[perm[i:i + BATCH]]), lib.from_numpy(y[perm[i:i + BATCH]]))
                   for i in range(0, len(x), BATCH)]
    else:
        batches = data.DataLoader(data.TensorDataset(X, Y), batch_size=BATCH, shuffle=True, generator=g)

    def one_epoch():
        loss = None
        for xb, yb in batches:
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()
        return loss

    return one_epoch, (model, X, Y)


def make_numpy(x, y):
    """The same training by hand: forward, softmax cross-entropy, backward, SGD momentum (torch's order)."""
    W1, b1, W2, b2 = _init_weights()
    params = [W1, b1, W2, b2]
    bufs = [None] * 4
    rng = np.random.default_rng(0)
    n = len(x)
    lr = np.float32(LR)
    mom = np.float32(MOMENTUM)
    rows = np.arange(BATCH)

    def one_epoch():
        loss = None
        perm = rng.permutation(n)
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            xb, yb = x[idx], y[idx]
            m = len(idx)
            h = xb @ W1.T
            h += b1
            np.maximum(h, 0, out=h)
            z = h @ W2.T
            z += b2
            z -= z.max(axis=1, keepdims=True)
            e = np.exp(z)
            s = e.sum(axis=1, keepdims=True)
            r = rows[:m]
            loss = float(np.log(s[:, 0]).mean() - z[r, yb].mean())
            dz = e / s
            dz[r, yb] -= 1
            dz /= np.float32(m)
            gW2 = dz.T @ h
            gb2 = dz.sum(axis=0)
            dh = dz @ W2
            dh *= h > 0
            gW1 = dh.T @ xb
            gb1 = dh.sum(axis=0)
            for k, (p, gr) in enumerate(zip(params, (gW1, gb1, gW2, gb2))):
                if bufs[k] is None:
                    bufs[k] = gr.copy()
                else:
                    bufs[k] *= mom
                    bufs[k] += gr
                p -= lr * bufs[k]
        return loss

    return one_epoch


def _check(epoch_fn, label, to_float):
    """Training must actually train: the loss falls over three epochs."""
    first = to_float(epoch_fn())
    for _ in range(2):
        last = to_float(epoch_fn())
    if not (last < first and np.isfinite(last)):
        raise AssertionError(f"{label}: loss did not decrease ({first} -> {last})")
    return first, last


def run(quick=False):
    notes = []
    x, y, source = load_data()
    notes.append(f"data: {source}, {len(x)} samples, {-(-len(x) // BATCH)} steps per epoch")
    import pyautodiff
    libs = {"pyautodiff": pyautodiff}
    try:
        import torch
        T.setup_torch(torch)
        libs["torch"] = torch
    except Exception as e:  # not installed: its columns are skipped
        notes.append(f"torch not importable ({type(e).__name__}): its columns are skipped")
    budget = 3.0 if quick else 12.0
    min_samples = 5 if quick else 15
    sample_s = 0.002 if quick else 0.005
    cases = []
    checks = {}
    for case, prebatched in (("epoch", False), ("epoch_prebatched", True)):
        fns = {}
        for name, lib in libs.items():
            fn, _ = make_lib(lib, x, y, prebatched=prebatched)
            checks[f"{case}/{name}"] = _check(fn, f"{case}/{name}", lambda v: float(v.item()))
            fns[name] = fn
        npfn = make_numpy(x, y)
        checks[f"{case}/numpy"] = _check(npfn, f"{case}/numpy", float)
        fns["numpy"] = npfn
        res = T.compare(fns, min_samples=min_samples, budget_s=budget, sample_s=sample_s)
        med = {k: v["median"] for k, v in res.items() if not k.startswith("_")}
        cases.append({"case": case, "unit": "s", "median": med,
                      "stats": {k: {kk: vv for kk, vv in v.items() if kk != "samples"}
                                for k, v in res.items() if not k.startswith("_")},
                      "samples": {k: v["samples"] for k, v in res.items() if not k.startswith("_")},
                      "paired_ratio": res["_paired"],
                      "ratio_pad_torch": T.ratio(med.get("pyautodiff"), med.get("torch")),
                      "ratio_pad_numpy": T.ratio(med.get("pyautodiff"), med.get("numpy"))})
    targets = []
    r = cases[0]["ratio_pad_torch"]
    targets.append({"name": "epoch: pyautodiff/torch", "value": r, "limit": 0.5, "op": "<=",
                    "met": None if r is None else r <= 0.5})
    return {"workload": "W3", "title": "one epoch of the digits MLP 64-128-10, batch 64, SGD momentum "
                                       "(median process-CPU seconds per epoch)",
            "unit": "s", "higher_is_better": False, "cases": cases, "targets": targets,
            "loss_checks": checks, "notes": notes}


def _print(res):
    print(res["title"])
    for n in res["notes"]:
        print("  note:", n)
    print(f"{'case':18s} {'pyautodiff':>11s} {'torch':>11s} {'numpy':>11s} {'pad/torch':>9s} {'pad/numpy':>9s}")
    for c in res["cases"]:
        m = c["median"]
        f = lambda v: "-" if v is None else T.fmt_time(v)  # noqa: E731
        g = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
        print(f"{c['case']:18s} {f(m.get('pyautodiff')):>11s} {f(m.get('torch')):>11s} {f(m.get('numpy')):>11s} "
              f"{g(c['ratio_pad_torch']):>9s} {g(c['ratio_pad_numpy']):>9s}")
    for t in res["targets"]:
        print(f"target {t['name']} {t['op']} {t['limit']}: "
              f"{'-' if t['value'] is None else round(t['value'], 3)} "
              f"({'met' if t['met'] else 'NOT MET' if t['met'] is not None else 'n/a'})")


if __name__ == "__main__":
    _print(run(quick="--quick" in sys.argv))
