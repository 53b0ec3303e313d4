"""utils.data: TensorDataset, DataLoader (batching, shuffling with seeded generators, drop_last, samplers,
collate), random_split, Subset, ConcatDataset."""
from collections import namedtuple

import numpy as np
import pytest

import pyautodiff as pad
from pyautodiff.utils.data import (DataLoader, TensorDataset, Dataset, IterableDataset, Subset, ConcatDataset,
                                   random_split, SequentialSampler, RandomSampler, BatchSampler, default_collate)


def _ds(n=10):
    return TensorDataset(pad.arange(n * 2, dtype=pad.float32).reshape(n, 2), pad.arange(n))


def test_tensor_dataset():
    ds = _ds()
    assert len(ds) == 10
    x, y = ds[3]
    assert x.tolist() == [6., 7.] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(pad.ones(3), pad.ones(4))


def test_sequential_batches_and_len():
    dl = DataLoader(_ds(), batch_size=4)
    batches = list(dl)
    assert len(dl) == 3 and len(batches) == 3
    xb, yb = batches[0]
    assert type(batches[0]) is list
    assert xb.shape == (4, 2) and xb.dtype is pad.float32 and yb.dtype is pad.int64
    assert [b[1].tolist() for b in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    dl = DataLoader(_ds(), batch_size=4, drop_last=True)
    assert len(dl) == 2 and [b[1].tolist() for b in dl] == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_shuffle_is_a_permutation_and_seeded():
    ds = _ds(50)
    g1 = pad.Generator().manual_seed(7)
    g2 = pad.Generator().manual_seed(7)
    e1 = [b[1].tolist() for b in DataLoader(ds, batch_size=8, shuffle=True, generator=g1)]
    e2 = [b[1].tolist() for b in DataLoader(ds, batch_size=8, shuffle=True, generator=g2)]
    assert e1 == e2
    flat = sum(e1, [])
    assert sorted(flat) == list(range(50)) and flat != list(range(50))
    # the next epoch of the same loader is a different order
    dl = DataLoader(ds, batch_size=50, shuffle=True, generator=pad.Generator().manual_seed(7))
    a, b = [next(iter(dl))[1].tolist() for _ in range(2)]
    assert a != b and sorted(a) == sorted(b)
    # global seeding makes an unseeded loader reproducible
    pad.manual_seed(3)
    o1 = [b[1].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]
    pad.manual_seed(3)
    o2 = [b[1].tolist() for b in DataLoader(ds, batch_size=10, shuffle=True)]
    assert o1 == o2


def test_rows_match_the_dataset():
    ds = _ds(13)
    for xb, yb in DataLoader(ds, batch_size=5, shuffle=True):
        for x, y in zip(xb, yb):
            assert x.tolist() == ds[y.item()][0].tolist()


class Squares(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": float(i), "y": i * i, "name": f"s{i}", "v": np.array([i, i], dtype=np.float32)}


Pair = namedtuple("Pair", ["a", "b"])


def test_default_collate_structures():
    batch = next(iter(DataLoader(Squares(), batch_size=3)))
    assert batch["x"].dtype is pad.float64 and batch["x"].tolist() == [0., 1., 2.]
    assert batch["y"].dtype is pad.int64 and batch["y"].tolist() == [0, 1, 4]
    assert batch["name"] == ["s0", "s1", "s2"]
    assert batch["v"].shape == (3, 2) and batch["v"].dtype is pad.float32
    p = default_collate([Pair(pad.ones(2), 1), Pair(pad.zeros(2), 2)])
    assert type(p) is Pair and p.a.shape == (2, 2) and p.b.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])


def test_no_batching_and_custom_collate():
    dl = DataLoader(Squares(), batch_size=None)
    first = next(iter(dl))
    assert first["x"] == 0.0 and first["v"].shape == (2,)
    dl = DataLoader(_ds(), batch_size=3, collate_fn=lambda b: len(b))
    assert list(dl) == [3, 3, 3, 1]


def test_samplers_and_errors():
    ds = _ds(6)
    bs = BatchSampler(SequentialSampler(ds), 4, False)
    assert list(bs) == [[0, 1, 2, 3], [4, 5]] and len(bs) == 2
    dl = DataLoader(ds, batch_sampler=BatchSampler(RandomSampler(ds), 3, True))
    assert sorted(sum((b[1].tolist() for b in dl), [])) == list(range(6))
    rs = RandomSampler(ds, replacement=True, num_samples=20)
    assert len(list(rs)) == 20 and len(rs) == 20
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=bs, batch_size=2)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        BatchSampler(SequentialSampler(ds), 0, False)


class Stream(IterableDataset):
    def __iter__(self):
        return iter(range(7))


def test_iterable_dataset():
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]


def test_random_split_subset_concat():
    ds = _ds(10)
    a, b = random_split(ds, [7, 3], generator=pad.Generator().manual_seed(0))
    assert len(a) == 7 and len(b) == 3
    idx = sorted(a.indices + b.indices)
    assert idx == list(range(10))
    c, d = random_split(ds, [0.5, 0.5])
    assert len(c) == 5 and len(d) == 5
    s = Subset(ds, [4, 2])
    assert s[1][1].item() == 2 and len(s) == 2
    cat = ConcatDataset([ds, s])
    assert len(cat) == 12 and cat[11][1].item() == 2 and cat[-1][1].item() == 2
    assert len(ds + s) == 12
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])


def test_training_loop_shape():
    """The ordinary loop: for xb, yb in loader -> model -> loss -> backward -> step."""
    pad.manual_seed(0)
    X = pad.randn(64, 4)
    Y = (X.sum(1) > 0).long()
    model = pad.nn.Sequential(pad.nn.Linear(4, 16), pad.nn.ReLU(), pad.nn.Linear(16, 2))
    opt = pad.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    loader = DataLoader(TensorDataset(X, Y), batch_size=16, shuffle=True)
    for _ in range(30):
        for xb, yb in loader:
            opt.zero_grad()
            loss = pad.nn.functional.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
    acc = (model(X).argmax(1) == Y).float().mean().item()
    assert acc > 0.95
