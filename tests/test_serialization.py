"""pyautodiff.save / pyautodiff.load: PyTorch's .pt format, both directions, safely.

Runs without PyTorch and without ../shared (the PyTorch-written fixtures are copied in tests/data/);
the tests that compare with real PyTorch skip themselves when it is not installed."""
import collections
import io
import os
import pickle
import struct
import subprocess
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

import pyautodiff as pad
from pyautodiff import nn, serialization

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
CLEAN_ERRORS = (RuntimeError, pickle.UnpicklingError, EOFError, ValueError)


# ------------------------------------------------------------------------------------------- helpers
class Net(nn.Module):  # module level: whole-model pickles need an importable class
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 1)

    def forward(self, x):
        return self.fc2(pad.relu(self.fc1(x)))


def _roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    pad.save(obj, buf)
    buf.seek(0)
    return pad.load(buf, **load_kwargs)


def _bytes(obj):
    buf = io.BytesIO()
    pad.save(obj, buf)
    return buf.getvalue()


def _same_tensor(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape)
    assert a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def _pt(records, folder="archive", compress=zipfile.ZIP_STORED):
    """A zip archive with these records (name -> bytes) under one folder, written by Python's zipfile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        for name, data in records.items():
            z.writestr(f"{folder}/{name}" if folder else name, data)
    return buf.getvalue()


def _with_pickle(pkl, storages=None, **extra):
    recs = {"data.pkl": pkl, "byteorder": b"little"}
    for k, v in (storages or {}).items():
        recs[f"data/{k}"] = v
    recs["version"] = b"3\n"
    recs.update(extra)
    return _pt(recs)


def _load_bytes(raw, **kwargs):
    return pad.load(io.BytesIO(raw), **kwargs)


def _tensor_pickle(numel_claim, offset, size, stride, stype=b"FloatStorage", key=b"0"):
    """data.pkl for a tensor built by hand: _rebuild_tensor_v2(storage(numel_claim), offset, size, stride)."""
    def tup(xs):
        return b"(" + b"".join(_int(x) for x in xs) + b"t"
    return (b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" +
            b"(X\x07\x00\x00\x00storagectorch\n" + stype + b"\nX" + struct.pack("<I", len(key)) + key +
            b"X\x03\x00\x00\x00cpu" + _int(numel_claim) + b"tQ" +
            _int(offset) + tup(size) + tup(stride) + b"\x89ccollections\nOrderedDict\n)Rt" + b"R.")


def _int(v):
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if -2**31 <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    enc = pickle.encode_long(v)
    return b"\x8a" + bytes([len(enc)]) + enc


# ------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [pad.float32, pad.float64, pad.float16, pad.int64, pad.int32, pad.int16,
                                   pad.int8, pad.uint8, pad.bool])
def test_roundtrip_every_dtype(dtype):
    t = pad.tensor([[1, 0, 3], [4, 5, 0]]).to(dtype)
    back = _roundtrip(t)
    _same_tensor(t, back)
    assert type(back) is pad.Tensor and back.is_leaf and back.grad is None


def test_roundtrip_scalar_empty_and_extremes():
    for t in (pad.tensor(7.5), pad.tensor(3), pad.tensor([]), pad.zeros(2, 0, 3), pad.tensor(True),
              pad.tensor([np.inf, -np.inf, -0.0, 1e-45]), pad.tensor([2**62, -2**63], dtype=pad.int64)):
        back = _roundtrip(t)
        _same_tensor(t, back)
    nan = _roundtrip(pad.tensor([float("nan")]))
    assert np.isnan(nan.numpy()[0])


def test_roundtrip_noncontiguous_views_keep_their_layout():
    base = pad.arange(24.).reshape(4, 6)
    cases = {"t": base.t(), "col": base[:, 2], "step": base[::2, 1::3], "row": base[1], "slice": base[1:3],
             "perm": base.reshape(2, 3, 4).permute(2, 0, 1), "expand": pad.tensor([1., 2.]).expand(3, 2)}
    back = _roundtrip(cases)
    for k, v in cases.items():
        _same_tensor(v, back[k])
        assert back[k].stride() == v.stride(), k
        assert back[k].storage_offset() == v.storage_offset(), k


def test_views_share_one_storage_and_come_back_sharing_memory():
    base = pad.arange(10.)
    obj = {"base": base, "view": base[3:6], "again": base, "t": base.reshape(2, 5).t()}
    raw = _bytes(obj)
    names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    assert [n for n in names if "/data/" in n] == ["archive/data/0"]
    back = _load_bytes(raw)
    assert back["again"] is back["base"]
    back["base"][4] = 100.
    assert back["view"].tolist() == [3., 100., 5.]
    assert back["t"][4, 0].item() == 100.
    back["view"].mul_(2)            # in-place ops bump one shared version counter
    assert back["base"][3].item() == 6.


def test_negative_stride_numpy_view_saved_as_a_copy():
    t = pad.from_numpy(np.arange(6.0)[::-1].copy())
    v = pad.Tensor._wrap(np.arange(6.0, dtype=np.float32)[::-2])  # negative strides: torch has none
    back = _roundtrip({"t": t, "v": v})
    assert back["v"].tolist() == [5., 3., 1.]
    _same_tensor(t, back["t"])


def test_requires_grad_and_parameters():
    x = pad.tensor([1., 2.], requires_grad=True)
    p = nn.Parameter(pad.tensor([[0.5, -0.5]]))
    q = nn.Parameter(pad.tensor([1.]), requires_grad=False)
    back = _roundtrip([x, p, q, p])
    assert back[0].requires_grad and back[0].is_leaf and back[0].grad is None and type(back[0]) is pad.Tensor
    assert type(back[1]) is nn.Parameter and back[1].requires_grad
    assert type(back[2]) is nn.Parameter and not back[2].requires_grad
    assert back[3] is back[1]
    _same_tensor(p, back[1])
    assert "Parameter containing:" in repr(back[1])


def test_tensor_python_attributes_survive():
    t = pad.tensor([1., 2.])
    t.note = "hello"
    back = _roundtrip(t, weights_only=False)
    assert back.note == "hello" and back.tolist() == [1., 2.]


def test_state_dict_with_metadata_and_load_state_dict():
    net = Net()
    sd = net.state_dict()
    back = _roundtrip(sd)
    assert type(back) is collections.OrderedDict
    assert list(back) == list(sd)
    assert dict(back._metadata) == dict(sd._metadata)
    for k in sd:
        _same_tensor(sd[k], back[k])
    net2 = Net()
    net2.load_state_dict(back)
    x = pad.tensor([[1., -2., 0.5]])
    assert pad.equal(net(x), net2(x))


def test_optimizer_state_dicts():
    net = Net()
    for opt in (pad.optim.SGD(net.parameters(), lr=0.1, momentum=0.9), pad.optim.Adam(net.parameters(), lr=0.01)):
        loss = net(pad.tensor([[1., 2., 3.]])).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sd = opt.state_dict()
        back = _roundtrip(sd)
        assert back["param_groups"] == sd["param_groups"]
        assert set(back["state"]) == set(sd["state"])
        for i, st in sd["state"].items():
            for k, v in st.items():
                if isinstance(v, pad.Tensor):
                    _same_tensor(v, back["state"][i][k])
                else:
                    assert back["state"][i][k] == v


def test_checkpoint_dict_and_nested_python_values():
    net = Net()
    opt = pad.optim.SGD(net.parameters(), lr=0.1)
    ckpt = {"epoch": 7, "loss": 0.25, "name": "run-1", "flags": (True, False, None), "history": [1.5, 2.5],
            "big": 2**80, "neg": -3, "inf": float("inf"), "bytes": b"\x00\xffab", "set": {1, 2, 3},
            "uni": "h\u00e9\u4e2d\U0001F600", "nested": {"a": [pad.tensor([1.]), {"b": (pad.tensor(2),)}]},
            "model": net.state_dict(), "optimizer": opt.state_dict(), "od": collections.OrderedDict(x=1),
            "counter": collections.Counter("aab"), "complex": 1 + 2j, "ba": bytearray(b"xy"),
            "dtype": pad.float64, "size": pad.Size([2, 3]), "device": pad.device("cpu"),
            "many": {i: i for i in range(1001)}}
    back = _roundtrip(ckpt)
    for k in ("epoch", "loss", "name", "flags", "history", "big", "neg", "inf", "bytes", "set", "uni", "od",
              "counter", "complex", "ba", "many"):
        assert back[k] == ckpt[k] and type(back[k]) is type(ckpt[k]), k
    assert back["dtype"] is pad.float64
    assert back["size"] == pad.Size([2, 3]) and type(back["size"]) is pad.Size
    assert back["device"] == pad.device("cpu")
    assert back["nested"]["a"][0].tolist() == [1.] and back["nested"]["a"][1]["b"][0].item() == 2
    assert list(back["model"]) == list(ckpt["model"])


def test_whole_model_with_weights_only_false():
    net = Net()
    with pad.no_grad():
        for i, p in enumerate(net.parameters()):
            p.fill_(0.125 * (i + 1))
    back = _roundtrip(net, weights_only=False)
    assert type(back) is Net
    assert isinstance(back.fc1.weight, nn.Parameter) and back.fc1.weight.requires_grad
    x = pad.tensor([[1., 2., 3.]])
    assert pad.equal(back(x), net(x))
    back(x).sum().backward()                      # the loaded model trains
    assert back.fc1.weight.grad is not None


def test_storage_keys_follow_first_appearance_and_bytes_are_deterministic():
    obj = {"b": pad.tensor([2.]), "a": pad.tensor([1.])}
    raw = _bytes(obj)
    assert raw == _bytes(obj)
    z = zipfile.ZipFile(io.BytesIO(raw))
    assert z.read("archive/data/0") == struct.pack("<f", 2.)
    assert z.read("archive/data/1") == struct.pack("<f", 1.)


# ------------------------------------------------------------------------------------------- the format
def test_zip_layout_matches_torch_writer(tmp_path):
    path = tmp_path / "my.model.pt"
    pad.save({"w": pad.tensor([1., 2.])}, path)
    raw = path.read_bytes()
    z = zipfile.ZipFile(path)
    assert [i.filename for i in z.infolist()] == [
        "my.model/data.pkl", "my.model/.format_version", "my.model/.storage_alignment", "my.model/byteorder",
        "my.model/data/0", "my.model/version", "my.model/.data/serialization_id"]
    assert z.read("my.model/version") == b"3\n" and z.read("my.model/byteorder") == b"little"
    assert z.read("my.model/.format_version") == b"1" and z.read("my.model/.storage_alignment") == b"64"
    sid = z.read("my.model/.data/serialization_id")
    assert len(sid) == 40 and sid.isdigit()
    for info in z.infolist():
        assert info.compress_type == zipfile.ZIP_STORED and info.flag_bits == 0x0808
        name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26:info.header_offset + 30])
        assert (info.header_offset + 30 + name_len + extra_len) % 64 == 0
        assert raw[info.header_offset + 30 + name_len:][:2] == b"FB"
    assert b"PK\x06\x06" in raw and b"PK\x06\x07" in raw and raw[-22:-18] == b"PK\x05\x06"
    ops = [op.name for op, _, _ in __import__("pickletools").genops(z.read("my.model/data.pkl"))]
    assert ops[0] == "PROTO" and "BINPERSID" in ops


def test_serialization_id_matches_the_fixtures():
    # the id libtorch writes: record-name hashes (std::unordered_set order) + combined CRCs
    for name in os.listdir(DATA):
        raw = open(os.path.join(DATA, name), "rb").read()
        z = zipfile.ZipFile(io.BytesIO(raw))
        stem = name[:-3]
        zw = serialization._ZipWriter(io.BytesIO().write, stem)
        for info in z.infolist()[:-1]:
            zw.write_record(info.filename[len(stem) + 1:], z.read(info.filename))
        assert zw.serialization_id().encode() == z.read(f"{stem}/.data/serialization_id")


@pytest.mark.parametrize("name", ["tensor_plain", "linear_state_dict", "mixed_dtypes", "checkpoint_sgd_momentum"])
def test_resaving_a_torch_file_is_byte_identical(name, tmp_path):
    src = os.path.join(DATA, name + ".pt")
    pad.save(pad.load(src), tmp_path / (name + ".pt"))
    assert (tmp_path / (name + ".pt")).read_bytes() == open(src, "rb").read()


def test_empty_storage_records_and_descriptor_quirk_roundtrip():
    obj = [pad.tensor([]), pad.tensor([0x08074B50, 7], dtype=pad.int32), pad.zeros(0, 3)]
    raw = _bytes(obj)
    z = zipfile.ZipFile(io.BytesIO(raw))
    assert z.getinfo("archive/data/0").file_size == 0 and z.getinfo("archive/data/0").flag_bits == 0x0800
    back = _load_bytes(raw)
    assert back[1].tolist() == [0x08074B50, 7] and tuple(back[2].shape) == (0, 3)


def test_many_records_rehash_the_name_set():
    # past 13, 29, 59, ... records libstdc++'s unordered_set rehashes; the id must still be deterministic
    raw = _bytes([pad.tensor([float(i)]) for i in range(70)])
    back = _load_bytes(raw)
    assert [t.item() for t in back] == [float(i) for i in range(70)]


# ------------------------------------------------------------------------------------------- torch's files
def test_read_fixture_linear_state_dict():
    sd = pad.load(os.path.join(DATA, "linear_state_dict.pt"))
    assert type(sd) is collections.OrderedDict and list(sd) == ["weight", "bias"]
    assert sd["weight"].tolist() == [[0.5, -1.0, 2.0], [0.25, 0.0, -0.75]]
    assert sd["bias"].tolist() == [0.125, -2.0]
    assert sd["weight"].dtype == pad.float32 and not sd["weight"].requires_grad and sd["weight"].is_leaf
    assert dict(sd._metadata) == {"": {"version": 1}}
    lin = nn.Linear(3, 2)
    lin.load_state_dict(sd)
    assert lin(pad.tensor([[1., 1., 1.], [2., 0., -4.]])).tolist() == [[1.625, -2.5], [-6.875, 1.5]]


def test_read_fixture_tensor_plain_and_checkpoint():
    t = pad.load(os.path.join(DATA, "tensor_plain.pt"))
    assert type(t) is pad.Tensor and t.tolist() == [[1.0, -2.0, 3.5], [0.25, 0.0, -0.125]] and t.stride() == (3, 1)
    ck = pad.load(os.path.join(DATA, "checkpoint_sgd_momentum.pt"))
    assert list(ck) == ["epoch", "model", "optimizer", "loss"] and ck["epoch"] == 3
    assert ck["loss"] == 0.3124861717224121
    assert ck["model"]["fc1.weight"].tolist() == [[1.2629520893096924, 0.12333593517541885],
                                                  [-0.14989182353019714, -0.5221518278121948]]
    assert dict(ck["model"]._metadata) == {"": {"version": 1}, "fc1": {"version": 1}, "fc2": {"version": 1}}
    assert ck["optimizer"]["param_groups"][0]["params"] == [0, 1, 2, 3]
    assert ck["optimizer"]["state"][3]["momentum_buffer"].tolist() == [1.144977331161499]


def test_read_fixture_mixed_dtypes_shares_storage():
    m = pad.load(os.path.join(DATA, "mixed_dtypes.pt"))
    assert list(m) == ["f64", "i64", "bool", "base", "view", "param"]
    assert m["f64"].dtype == pad.float64 and m["f64"].tolist() == [1.5, -2.25]
    assert m["i64"].dtype == pad.int64 and m["i64"].tolist() == [[1, -2], [3, 40000000000]]
    assert m["bool"].dtype == pad.bool and m["bool"].tolist() == [True, False, True]
    assert m["view"].tolist() == [2.0, 3.0, 4.0] and m["view"].storage_offset() == 2
    assert type(m["param"]) is nn.Parameter and m["param"].requires_grad
    m["base"][3] = -1.
    assert m["view"].tolist() == [2.0, -1.0, 4.0]


def test_map_location_spellings(tmp_path):
    path = tmp_path / "s.pt"
    pad.save({"a": pad.tensor([[1., 2.], [3., 4.]])}, path)
    seen = []

    def fn(storage, loc):
        seen.append(loc)
        return storage

    for ml in (None, "cpu", "cuda:0", b"cpu", pad.device("cpu"), {"cpu": "cuda:1"}, fn, lambda s, loc: None):
        assert pad.load(path, map_location=ml)["a"].tolist() == [[1., 2.], [3., 4.]]
    assert seen == ["cpu"]
    with pytest.raises(RuntimeError, match="don't know how to restore data location"):
        pad.load(path, map_location="nowhere")


def test_cuda_location_in_a_file_maps_to_cpu():
    raw = open(os.path.join(DATA, "tensor_plain.pt"), "rb").read()
    z = zipfile.ZipFile(io.BytesIO(raw))
    recs = {i.filename[len("tensor_plain/"):]: z.read(i.filename) for i in z.infolist()}
    recs["data.pkl"] = recs["data.pkl"].replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0")
    t = _load_bytes(_pt(recs))
    assert t.tolist()[0] == [1.0, -2.0, 3.5]


def test_big_endian_file_is_byteswapped():
    raw = open(os.path.join(DATA, "tensor_plain.pt"), "rb").read()
    z = zipfile.ZipFile(io.BytesIO(raw))
    recs = {i.filename[len("tensor_plain/"):]: z.read(i.filename) for i in z.infolist()}
    recs["byteorder"] = b"big"
    recs["data/0"] = np.frombuffer(recs["data/0"], "<f4").astype(">f4").tobytes()
    assert _load_bytes(_pt(recs)).tolist() == [[1.0, -2.0, 3.5], [0.25, 0.0, -0.125]]


def test_deflated_archive_written_by_zipfile_loads():
    raw = open(os.path.join(DATA, "checkpoint_sgd_momentum.pt"), "rb").read()
    z = zipfile.ZipFile(io.BytesIO(raw))
    recs = {i.filename[len("checkpoint_sgd_momentum/"):]: z.read(i.filename) for i in z.infolist()}
    back = _load_bytes(_pt(recs, compress=zipfile.ZIP_DEFLATED))
    assert back["optimizer"]["state"][0]["momentum_buffer"].tolist()[0] == [0.029773563146591187,
                                                                            -0.9797676205635071]


def test_legacy_format_written_and_read(tmp_path):
    obj = {"w": pad.tensor([[1., 2.], [3., 4.]]), "v": None, "p": nn.Parameter(pad.tensor([0.5]))}
    obj["view"] = obj["w"][1]
    path = tmp_path / "legacy.pt"
    pad.save(obj, path, _use_new_zipfile_serialization=False)
    raw = path.read_bytes()
    assert raw.startswith(b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19\x2e")
    for wo in (True, False):
        back = pad.load(path, weights_only=wo)
        assert back["w"].tolist() == [[1., 2.], [3., 4.]] and type(back["p"]) is nn.Parameter
        back["w"][1, 0] = 9.
        assert back["view"].tolist() == [9., 4.]
    with pytest.raises(RuntimeError, match="mmap can only be used"):
        pad.load(path, mmap=True)
    with pytest.raises(RuntimeError, match="wrong size|unexpected EOF"):
        _load_bytes(raw[:-3])


# ------------------------------------------------------------------------------------------- files, buffers
def test_bytesio_and_file_objects(tmp_path):
    buf = io.BytesIO(b"junk")
    buf.seek(4)
    pad.save({"w": pad.tensor([1., 2.]), "step": 3}, buf)
    buf.seek(4)                      # an archive that starts in the middle of a stream
    assert pad.load(buf)["step"] == 3
    buf.seek(0, 2)
    with pytest.raises(EOFError):    # loading starts at the current position, like torch
        pad.load(buf)
    with open(tmp_path / "obj.pt", "wb") as f:
        pad.save([pad.tensor(1.), pad.tensor([2, 3])], f)
    with open(tmp_path / "obj.pt", "rb") as f:
        back = pad.load(f)
    assert back[1].tolist() == [2, 3]
    assert pad.load(str(tmp_path / "obj.pt"))[0].item() == 1.
    with pytest.raises(AttributeError, match="file-like object with a 'write' attribute"):
        pad.save(1, 42)


def test_save_to_missing_directory_and_bad_names(tmp_path):
    with pytest.raises(RuntimeError, match="^Parent directory nodir does not exist.$"):
        pad.save(pad.tensor(1.), "nodir/x.pt")
    with pytest.raises(RuntimeError, match="cannot be opened"):
        pad.save(pad.tensor(1.), tmp_path)
    with pytest.raises(FileNotFoundError):
        pad.load(tmp_path / "missing.pt")


def test_mmap_loads_views_of_the_file_copy_on_write(tmp_path):
    path = tmp_path / "state.pt"
    pad.save({"a": pad.tensor([[1., 2.], [3., 4.]]), "b": pad.tensor([0.5]), "e": pad.tensor([])}, path)
    before = path.read_bytes()
    m = pad.load(path, mmap=True)
    assert m["a"].tolist() == [[1., 2.], [3., 4.]] and m["b"].tolist() == [0.5] and m["e"].numel() == 0
    base = m["a"]._data
    while isinstance(base.base, np.ndarray):
        base = base.base
    import mmap as _mmap
    buf = base.base
    assert isinstance(getattr(buf, "obj", buf), _mmap.mmap)   # backed by the mapping, not read into memory
    m["a"].add_(1)
    assert m["a"].tolist() == [[2., 3.], [4., 5.]]
    del m, base, buf
    assert path.read_bytes() == before          # private mapping: the file is unchanged
    assert pad.load(path, mmap=True, weights_only=True)["a"].tolist() == [[1., 2.], [3., 4.]]
    with pytest.raises(ValueError, match="f must be a file path in order to use the mmap argument"):
        with open(path, "rb") as f:
            pad.load(f, mmap=True)


def test_save_is_atomic_when_pickling_fails_midway(tmp_path):
    path = tmp_path / "ckpt.pt"
    pad.save({"w": pad.tensor([1., 2.])}, path)
    before = path.read_bytes()

    class Boom:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        pad.save({"w": pad.tensor([3.]), "x": [1, 2, Boom()]}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]


def test_save_is_atomic_when_writing_fails_midway(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    pad.save({"w": pad.tensor([1., 2.])}, path)
    before = path.read_bytes()
    real = serialization._write_all
    calls = []

    def flaky(write, data):
        calls.append(len(data))
        if len(calls) == 5:
            raise OSError(28, "No space left on device")
        return real(write, data)

    monkeypatch.setattr(serialization, "_write_all", flaky)
    with pytest.raises(OSError, match="No space left"):
        pad.save({"w": pad.arange(1000.)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.pt"]
    assert pad.load(path)["w"].tolist() == [1., 2.]


def test_save_replaces_atomically_and_keeps_permissions(tmp_path):
    path = tmp_path / "x.pt"
    pad.save(pad.tensor([1.]), path)
    os.chmod(path, 0o640)
    pad.save(pad.tensor([2.]), path)
    assert pad.load(path).tolist() == [2.] and (os.stat(path).st_mode & 0o777) == 0o640
    link = tmp_path / "link.pt"
    os.symlink(path, link)
    pad.save(pad.tensor([3.]), link)                # writes through the symlink, as torch does
    assert os.path.islink(link) and pad.load(path).tolist() == [3.]
    assert sorted(os.listdir(tmp_path)) == ["link.pt", "x.pt"]


# ------------------------------------------------------------------------------------------- weights_only
def test_whole_model_refused_by_default_with_torch_message(tmp_path):
    path = tmp_path / "model.pt"
    pad.save(Net(), path)
    with pytest.raises(pickle.UnpicklingError) as ei:
        pad.load(path)
    msg = str(ei.value)
    assert msg.startswith("Weights only load failed. This file can still be loaded")
    assert f"GLOBAL {__name__}.Net was not an allowed global by default. Please use " \
           f"`torch.serialization.add_safe_globals([{__name__}.Net])`" in msg
    assert msg.endswith("https://pytorch.org/docs/stable/generated/torch.load.html.")
    assert serialization.get_unsafe_globals_in_checkpoint(path) == [
        f"{__name__}.Net", "pyautodiff.nn.modules.linear.Linear"]
    with serialization.safe_globals([Net, nn.Linear]):
        assert serialization.get_unsafe_globals_in_checkpoint(path) == []
        m = pad.load(path)
        assert type(m) is Net and isinstance(m.fc2.bias, nn.Parameter)
    assert serialization.get_safe_globals() == []
    with pytest.raises(pickle.UnpicklingError):
        pad.load(path)
    serialization.add_safe_globals([Net, (nn.Linear, "pyautodiff.nn.modules.linear.Linear")])
    try:
        assert set(serialization.get_safe_globals()) == {Net, (nn.Linear, "pyautodiff.nn.modules.linear.Linear")}
        assert type(pad.load(path)) is Net
    finally:
        serialization.clear_safe_globals()
    assert serialization.get_safe_globals() == []


def test_weights_only_argument_rules(tmp_path):
    path = tmp_path / "t.pt"
    pad.save(pad.tensor([1.]), path)
    with pytest.raises(RuntimeError, match="explicit pickle_module"):
        pad.load(path, pickle_module=pickle, weights_only=True)
    assert pad.load(path, pickle_module=pickle).tolist() == [1.]   # weights_only=False implied
    with pytest.warns(UserWarning, match="pickle_load_args only works"):
        pad.load(path, encoding="latin1")


def test_refused_global_names_use_python3_spelling():
    pkl = b"\x80\x02c__builtin__\ngetattr\n)R."
    with pytest.raises(pickle.UnpicklingError, match=r"GLOBAL getattr was not an allowed global"):
        _load_bytes(_with_pickle(pkl))


# ------------------------------------------------------------------------------------------- hostile files
def _call(module, name, *args):
    body = b"".join(b"X" + struct.pack("<I", len(a)) + a for a in args)
    return b"\x80\x02c" + module + b"\n" + name + b"\n(" + body + b"tR."


HOSTILE_PICKLES = {
    "os.system": _call(b"os", b"system", b"touch /tmp/pwned_by_pickle"),
    "posix.system": _call(b"posix", b"system", b"touch /tmp/pwned_by_pickle"),
    "nt.system": _call(b"nt", b"system", b"x"),
    "sys.exit": _call(b"sys", b"exit"),
    "eval": _call(b"__builtin__", b"eval", b"__import__('os').system('touch /tmp/pwned_by_pickle')"),
    "exec": _call(b"builtins", b"exec", b"import os"),
    "subprocess.Popen": _call(b"subprocess", b"Popen", b"true"),
    "subprocess.check_output": _call(b"subprocess", b"check_output", b"true"),
    "getattr chain": b"\x80\x02c__builtin__\ngetattr\n(ccollections\nOrderedDict\nX\x07\x00\x00\x00__len__tR)R.",
    "importlib": _call(b"importlib", b"import_module", b"os"),
    "numpy reconstruct": _call(b"numpy.core.multiarray", b"_reconstruct"),
    "pyautodiff internals": _call(b"pyautodiff.serialization", b"_atomic_write", b"/tmp/x"),
    "call non-callable global": b"\x80\x02ctorch\nfloat32\n)R.",
    "call Tensor with a size": b"\x80\x02ctorch\nTensor\n(J\x00\x00\x00\x40tR.",
    "bytearray with a size": b"\x80\x02c__builtin__\nbytearray\n(J\x00\x00\x00\x40tR.",
    "codecs rot": _call(b"_codecs", b"encode", b"x", b"zlib_codec"),
    "build on dict": b"\x80\x02}}b.",
    "append to dict": b"\x80\x02}Na.",
    "setitem on list": b"\x80\x02]NNs.",
    "newobj non-allowed": b"\x80\x02c__builtin__\nobject\n)\x81.",
    "newobj Tensor": b"\x80\x02ctorch\nTensor\n(K\x05t\x81.",
    "persid not storage": b"\x80\x02(X\x06\x00\x00\x00moduleNNNtQ.",
    "persid junk": b"\x80\x02K\x05Q.",
    "protocol 4 frame": pickle.dumps({"a": 1}, protocol=4),
    "protocol 5": pickle.dumps([b"x" * 10], protocol=5),
    "INST": b"(ios\nsystem\nX\x01\x00\x00\x00xtR.",
    "STACK_GLOBAL": b"\x80\x04\x8c\x02os\x8c\x06system\x93.",
    "EXT1": b"\x80\x02\x82\x01.",
    "bad opcode": b"\x80\x02\xff.",
    "memo miss": b"\x80\x02h\x05.",
    "long memo miss": b"\x80\x02j\xff\xff\xff\xff.",
    "stack underflow": b"\x80\x02R.",
    "tuple underflow": b"\x80\x02\x87.",
    "no mark": b"\x80\x02NNt.",
    "empty stop": b"\x80\x02.",
    "odd setitems": b"\x80\x02}(Nu.",
    "unhashable key": b"\x80\x02}]Ns.",
    "truncated unicode": b"\x80\x02X\xff\xff\xff\xffab",
    "truncated global": b"\x80\x02cos",
    "no stop": b"\x80\x02N",
    "bad utf8": b"\x80\x02X\x02\x00\x00\x00\xff\xfe.",
    "dunder build": b"\x80\x02ccollections\nOrderedDict\n)R}X\t\x00\x00\x00__class__ccollections\nCounter\nsb.",
    "rebuild with junk": b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(NNNNNNtR.",
    "rebuild parameter junk": b"\x80\x02ctorch._utils\n_rebuild_parameter\n(NNNtR.",
    "from_type junk": b"\x80\x02ctorch._tensor\n_rebuild_from_type_v2\n(c__builtin__\nset\nNNNtR.",
    "set of junk": b"\x80\x02c__builtin__\nset\n(K\x05tR.",
}


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name", sorted(HOSTILE_PICKLES))
def test_hostile_pickles_are_refused_cleanly(name):
    raw = _with_pickle(HOSTILE_PICKLES[name])
    t0 = time.perf_counter()
    with pytest.raises(CLEAN_ERRORS) as ei:
        _load_bytes(raw)
    assert time.perf_counter() - t0 < 2
    if isinstance(ei.value, pickle.UnpicklingError):
        assert str(ei.value).startswith("Weights only load failed")
    assert not os.path.exists("/tmp/pwned_by_pickle")


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_hostile_pickles_in_legacy_streams_are_refused():
    magic = pickle.dumps(serialization.MAGIC_NUMBER, protocol=2) + pickle.dumps(1001, protocol=2) + \
        pickle.dumps({"little_endian": True}, protocol=2)
    for name, pkl in HOSTILE_PICKLES.items():
        with pytest.raises(CLEAN_ERRORS):
            _load_bytes(magic + pkl)
        with pytest.raises(CLEAN_ERRORS):
            _load_bytes(pkl)
    assert not os.path.exists("/tmp/pwned_by_pickle")


STORAGE_LIES = {
    # (numel claimed in the persistent id, offset, size, stride, record bytes)
    "numel larger than record": (100, 0, (100,), (1,), b"\0" * 8),
    "numel smaller than record": (1, 0, (1,), (1,), b"\0" * 8),
    "absurd numel": (2**62, 0, (2,), (1,), b"\0" * 8),
    "absurd numel 2**64": (2**64 + 2, 0, (2,), (1,), b"\0" * 8),
    "negative numel": (-2, 0, (2,), (1,), b"\0" * 8),
    "offset past end": (2, 5, (1,), (1,), b"\0" * 8),
    "view past end": (2, 1, (2,), (1,), b"\0" * 8),
    "stride past end": (2, 0, (2,), (5,), b"\0" * 8),
    "huge stride": (2, 0, (2,), (2**62,), b"\0" * 8),
    "huge size zero stride": (2, 0, (2**40, 2**40), (0, 0), b"\0" * 8),
    "negative stride": (2, 1, (2,), (-1,), b"\0" * 8),
    "negative size": (2, 0, (-1,), (1,), b"\0" * 8),
    "negative offset": (2, -1, (1,), (1,), b"\0" * 8),
    "rank mismatch": (2, 0, (2,), (1, 1), b"\0" * 8),
    "too many dims": (2, 0, (1,) * 70, (1,) * 70, b"\0" * 8),
}


@pytest.mark.parametrize("name", sorted(STORAGE_LIES))
def test_storages_that_lie_are_refused_before_allocating(name, monkeypatch):
    numel, offset, size, stride, record = STORAGE_LIES[name]
    raw = _with_pickle(_tensor_pickle(numel, offset, size, stride), {"0": record})
    sizes = []
    real_empty = np.empty

    def spy(shape, *a, **k):
        sizes.append(int(np.prod(shape)))
        return real_empty(shape, *a, **k)

    monkeypatch.setattr(np, "empty", spy)
    t0 = time.perf_counter()
    with pytest.raises(CLEAN_ERRORS):
        _load_bytes(raw)
    assert time.perf_counter() - t0 < 2
    assert all(s <= 8 for s in sizes)


def test_storage_edge_cases_that_are_legal():
    # a size-1 dimension may carry any stride; an empty tensor any offset (torch accepts both)
    raw = _with_pickle(_tensor_pickle(2, 0, (1, 2), (2**40, 1)), {"0": struct.pack("<2f", 1., 2.)})
    assert _load_bytes(raw).tolist() == [[1., 2.]]
    raw = _with_pickle(_tensor_pickle(2, 7, (0,), (1,)), {"0": struct.pack("<2f", 1., 2.)})
    assert _load_bytes(raw).numel() == 0
    raw = _with_pickle(_tensor_pickle(2, 0, (3, 2), (0, 1)), {"0": struct.pack("<2f", 1., 2.)})
    assert _load_bytes(raw).tolist() == [[1., 2.]] * 3


def test_storage_record_missing_or_unrepresentable():
    with pytest.raises(RuntimeError, match="data/0"):
        _load_bytes(_with_pickle(_tensor_pickle(2, 0, (2,), (1,))))
    with pytest.raises(RuntimeError, match="BFloat16"):
        _load_bytes(_with_pickle(_tensor_pickle(2, 0, (2,), (1,), stype=b"BFloat16Storage"), {"0": b"\0" * 4}))
    with pytest.raises(CLEAN_ERRORS):
        _load_bytes(_with_pickle(_tensor_pickle(2, 0, (2,), (1,), stype=b"NoSuchStorage"), {"0": b"\0" * 8}))


def test_huge_numel_claim_uses_no_memory_in_a_fresh_process(tmp_path):
    path = tmp_path / "huge.pt"
    path.write_bytes(_with_pickle(_tensor_pickle(2**40, 0, (2**40,), (1,)), {"0": b"\0" * 8}))
    code = ("import resource, sys, pyautodiff as pad\n"
            "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "try:\n    pad.load(sys.argv[1])\nexcept RuntimeError as e:\n    print('refused', e)\n"
            "print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                         env=env, cwd=tmp_path)  # not the checkout: it may hold an unbuilt pyautodiff/
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split("\n")
    assert lines[0].startswith("refused record size 8 mismatch")
    assert int(lines[1]) < 64   # MB of extra peak memory


def test_flipped_bytes_never_load_wrong_numbers():
    t = pad.tensor([[1.0, -2.0, 3.5], [0.25, 0.0, -0.125]])
    raw = bytearray(_bytes({"t": t, "n": 3}))
    loaded_ok = failed = 0
    for pos in range(len(raw)):
        bad = bytearray(raw)
        bad[pos] ^= 0x41
        try:
            back = _load_bytes(bytes(bad))
        except CLEAN_ERRORS:
            failed += 1
            continue
        # a flip the format does not depend on (padding, unused header fields): same values
        assert back["n"] == 3 and back["t"].tolist() == t.tolist(), pos
        loaded_ok += 1
    assert failed > 0 and loaded_ok > 0
    # every flip inside the tensor's payload is caught by its CRC
    payload = raw.index(struct.pack("<f", 1.0) + struct.pack("<f", -2.0))
    for pos in range(payload, payload + 24):
        bad = bytearray(raw)
        bad[pos] ^= 1
        with pytest.raises(RuntimeError, match="CRC-32 check failed"):
            _load_bytes(bytes(bad))


def test_truncations_fail_cleanly():
    raw = _bytes({"w": pad.arange(100.).reshape(10, 10), "b": [1, 2]})
    for n in list(range(0, 200)) + list(range(200, len(raw), 7)):
        with pytest.raises(CLEAN_ERRORS):
            _load_bytes(raw[:n])


def test_deep_nesting_is_refused_or_loads_without_crashing():
    n = 200_000
    deep_tuple = b"\x80\x02)" + b"\x85" * n + b"."
    with pytest.raises(pickle.UnpicklingError, match="nested too deeply"):
        _load_bytes(_with_pickle(deep_tuple))
    as_key = b"\x80\x02}" + b")" + b"\x85" * n + b"Ns."     # would crash hash() in C
    with pytest.raises(pickle.UnpicklingError, match="nested too deeply"):
        _load_bytes(_with_pickle(as_key))
    shallow = b"\x80\x02)" + b"\x85" * 5 + b"."
    assert _load_bytes(_with_pickle(shallow)) == ((((((),),),),),)
    deep_list = b"\x80\x02" + b"]" * n + b"a" * (n - 1) + b"."
    back = _load_bytes(_with_pickle(deep_list))
    depth = 0
    while back:
        back = back[0]
        depth += 1
    assert depth == n - 1
    marks = b"\x80\x02" + b"(" * n + b"."
    with pytest.raises(pickle.UnpicklingError, match="nested too deeply"):
        _load_bytes(_with_pickle(marks))


def test_deep_tuples_through_size_are_tracked():
    body = b")"
    for _ in range(12000):
        body = b"ctorch\nSize\n(" + body + b"\x85tR"
    pkl = b"\x80\x02" + body + b"."
    with pytest.raises(pickle.UnpicklingError, match="nested too deeply"):
        _load_bytes(_with_pickle(pkl))


CORRUPT_ARCHIVES = {
    "not a zip": b"hello world, this is not a checkpoint",
    "random": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    "plain pickle": pickle.dumps({"a": 1}, protocol=2),
    "plain pickle p4": pickle.dumps({"a": 1}),
    "zip magic only": b"PK\x03\x04",
    "flat zip": _pt({"data.pkl": b"\x80\x02N.", "version": b"3\n"}, folder=None),
    "no version": _pt({"data.pkl": b"\x80\x02N."}),
    "version 100": _pt({"data.pkl": b"\x80\x02N.", "version": b"100\n"}),
    "version 0": _pt({"data.pkl": b"\x80\x02N.", "version": b"0\n"}),
    "version junk": _pt({"data.pkl": b"\x80\x02N.", "version": b"three\n"}),
    "bad byteorder": _pt({"data.pkl": b"\x80\x02N.", "version": b"3\n", "byteorder": b"middle"}),
    "no data.pkl": _pt({"version": b"3\n"}),
    "tar header": b"\0" * 257 + b"ustar" + b"\0" * 300,
}


def _mutate_zip(mutator):
    raw = bytearray(_bytes({"w": pad.tensor([1., 2.])}))
    mutator(raw)
    return bytes(raw)


def _eocd(raw):
    return len(raw) - 22


CORRUPT_ARCHIVES.update({
    "cd offset outside": _mutate_zip(lambda r: r.__setitem__(slice(_eocd(r) - 76 + 48, _eocd(r) - 76 + 56),
                                                              struct.pack("<Q", 10**12))),
    "absurd entry count": _mutate_zip(lambda r: r.__setitem__(slice(_eocd(r) - 76 + 24, _eocd(r) - 76 + 40),
                                                              struct.pack("<QQ", 10**9, 10**9))),
    "locator to garbage": _mutate_zip(lambda r: r.__setitem__(slice(_eocd(r) - 20 + 8, _eocd(r) - 20 + 16),
                                                               struct.pack("<Q", 3))),
    "encrypted flag": _mutate_zip(lambda r: r.__setitem__(slice(r.index(b"PK\x01\x02") + 8,
                                                                r.index(b"PK\x01\x02") + 10), b"\x09\x08")),
    "bzip2 method": _mutate_zip(lambda r: r.__setitem__(slice(r.index(b"PK\x01\x02") + 10,
                                                              r.index(b"PK\x01\x02") + 12), b"\x0c\x00")),
    "local header renamed": _mutate_zip(lambda r: r.__setitem__(slice(30, 37), b"ARCHIVE")),
    "local header offset lies": _mutate_zip(lambda r: r.__setitem__(slice(r.index(b"PK\x01\x02") + 42,
                                                                          r.index(b"PK\x01\x02") + 46),
                                                                    struct.pack("<I", 5))),
    "size lies in central dir": _mutate_zip(lambda r: r.__setitem__(slice(r.index(b"PK\x01\x02") + 20,
                                                                          r.index(b"PK\x01\x02") + 28),
                                                                    struct.pack("<II", 10**6, 10**6))),
})


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name", sorted(CORRUPT_ARCHIVES))
def test_corrupt_archives_fail_cleanly(name, tmp_path):
    raw = CORRUPT_ARCHIVES[name]
    t0 = time.perf_counter()
    with pytest.raises(CLEAN_ERRORS + (KeyError,)):
        _load_bytes(raw)
    path = tmp_path / "c.pt"
    path.write_bytes(raw)
    for kw in ({}, {"mmap": True}, {"weights_only": False}):
        try:
            pad.load(path, **kw)
        except CLEAN_ERRORS + (KeyError,):
            pass
        else:
            pytest.fail(f"{name} loaded with {kw}")
    assert time.perf_counter() - t0 < 5


def test_duplicate_records_are_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02K\x01.")
        z.writestr("archive/version", b"3\n")
        with pytest.warns(UserWarning):
            z.writestr("archive/data.pkl", b"\x80\x02K\x02.")
    with pytest.raises(RuntimeError, match="duplicate record"):
        _load_bytes(buf.getvalue())


def test_deflated_storage_inflates_in_place_and_lies_are_refused():
    n = 2_500_000                                   # 10 MB of zeros, deflated to ~10 KB
    raw = bytearray(_pt({"data.pkl": _tensor_pickle(n, 0, (n,), (1,)), "version": b"3\n",
                         "data/0": b"\0" * (4 * n)}, compress=zipfile.ZIP_DEFLATED))
    t = _load_bytes(bytes(raw))
    assert t.numel() == n and not t.numpy().any()
    # the same record claiming 4 GB: more than deflate can expand those bytes to -> refused up front
    big = 0xFFFFFFF0
    for pos in [i - 46 for i in range(len(raw)) if raw.startswith(b"archive/data/0", i)]:
        if raw[pos:pos + 4] == b"PK\x01\x02":
            raw[pos + 24:pos + 28] = struct.pack("<I", big)
    raw = bytes(raw).replace(_tensor_pickle(n, 0, (n,), (1,)), _tensor_pickle(big // 4, 0, (n,), (1,)))
    with pytest.raises(RuntimeError, match="corrupted"):
        _load_bytes(raw)


# ------------------------------------------------------------------------------------------- with PyTorch
def _torch_objects(torch):
    m = torch.nn.Linear(2, 2)
    opt = torch.optim.Adam(m.parameters(), lr=0.1)
    m(torch.ones(1, 2)).sum().backward()
    opt.step()
    base = torch.arange(12.).reshape(3, 4)
    return {
        "tensor": torch.tensor([1., 2.]),
        "dtypes": [(torch.arange(5) % 3).to(d) for d in (torch.float32, torch.float64, torch.float16, torch.int64,
                                                          torch.int32, torch.int16, torch.int8, torch.uint8,
                                                          torch.bool)],
        "scalar": torch.tensor(3.5),
        "empty": [torch.tensor([]), torch.zeros(2, 0)],
        "views": {"base": base, "t": base.t(), "col": base[:, 1], "step": base[::2, 1:], "x": base.expand(2, 3, 4)},
        "requires_grad": torch.tensor([1., 2.], requires_grad=True),
        "param": torch.nn.Parameter(torch.tensor([[0.5, -0.5]])),
        "params": list(torch.nn.Linear(3, 2).parameters()),
        "state_dict": torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)).state_dict(),
        "adam": opt.state_dict(),
        "checkpoint": {"epoch": 3, "model": m.state_dict(), "optimizer": opt.state_dict(), "loss": 0.25,
                       "tup": (1, (2, 3), [4]), "set": {1, 2}, "b": b"ab", "big": 2**70, "s": "\u00e9"},
        "many": [torch.full((i % 3,), float(i)) for i in range(150)],
        "big dict": {i: i for i in range(2000)},
        "quirk": torch.tensor([0x08074B50, 5], dtype=torch.int32),
    }


@pytest.mark.parametrize("name", ["tensor", "dtypes", "scalar", "empty", "views", "requires_grad", "param",
                                  "params", "state_dict", "adam", "checkpoint", "many", "big dict", "quirk"])
def test_byte_identical_to_torch_save(name, tmp_path):
    torch = pytest.importorskip("torch")
    obj = _torch_objects(torch)[name]
    tpath, opath = tmp_path / "t" / "obj.pt", tmp_path / "o" / "obj.pt"
    tpath.parent.mkdir()
    opath.parent.mkdir()
    torch.save(obj, tpath)
    ours = pad.load(tpath)                    # torch's file -> our objects
    pad.save(ours, opath)                     # -> our file: the very same bytes
    assert opath.read_bytes() == tpath.read_bytes()
    back = torch.load(opath)                  # and torch reads it (weights_only=True)
    buf = io.BytesIO()
    torch.save(back, buf)
    assert buf.getvalue()[64:] == io.BytesIO(_torch_bytes(torch, obj)).getvalue()[64:]


def _torch_bytes(torch, obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_torch_reads_our_files(tmp_path):
    torch = pytest.importorskip("torch")
    net = Net()
    opt = pad.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    net(pad.tensor([[1., 2., 3.]])).sum().backward()
    opt.step()
    base = pad.arange(6.)
    obj = {"sd": net.state_dict(), "opt": opt.state_dict(), "p": nn.Parameter(pad.tensor([1., 2.])),
           "rg": pad.tensor([3.], requires_grad=True), "view": base[2:5], "base": base, "i": pad.tensor([1, 2]),
           "b": pad.tensor([True]), "h": pad.tensor([1.5], dtype=pad.float16), "e": pad.tensor([]),
           "s": pad.tensor(2.), "t": pad.arange(6.).reshape(2, 3).t(), "misc": [1, 2.5, "x", None, (True,)]}
    pad.save(obj, tmp_path / "ours.pt")
    back = torch.load(tmp_path / "ours.pt")
    assert list(back["sd"]) == list(obj["sd"]) and dict(back["sd"]._metadata) == dict(obj["sd"]._metadata)
    for k, v in obj["sd"].items():
        assert back["sd"][k].tolist() == v.tolist()
    assert back["opt"]["param_groups"] == obj["opt"]["param_groups"]
    assert back["opt"]["state"][0]["momentum_buffer"].tolist() == obj["opt"]["state"][0]["momentum_buffer"].tolist()
    assert isinstance(back["p"], torch.nn.Parameter) and back["p"].requires_grad
    assert back["rg"].requires_grad and back["rg"].is_leaf
    assert back["view"].tolist() == [2., 3., 4.] and back["view"].storage_offset() == 2
    back["base"][3] = 30.
    assert back["view"].tolist() == [2., 30., 4.]
    assert back["i"].dtype == torch.int64 and back["b"].dtype == torch.bool and back["h"].dtype == torch.float16
    assert back["e"].numel() == 0 and back["s"].dim() == 0 and back["t"].stride() == (1, 3)
    assert back["misc"] == [1, 2.5, "x", None, (True,)]
    pad.save(obj["sd"], tmp_path / "sd.pt", _use_new_zipfile_serialization=False)
    legacy = torch.load(tmp_path / "sd.pt")
    assert [v.tolist() for v in legacy.values()] == [v.tolist() for v in obj["sd"].values()]


def test_we_read_torch_legacy_files(tmp_path):
    torch = pytest.importorskip("torch")
    base = torch.arange(6.)
    obj = {"w": torch.tensor([[1., 2.], [3., 4.]]), "v": base[1:4], "base": base,
           "p": torch.nn.Parameter(torch.tensor([0.5])), "i": torch.tensor([1, 2])}
    torch.save(obj, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    for wo in (True, False):
        back = pad.load(tmp_path / "legacy.pt", weights_only=wo)
        assert back["w"].tolist() == [[1., 2.], [3., 4.]] and type(back["p"]) is nn.Parameter
        back["base"][2] = 20.
        assert back["v"].tolist() == [1., 20., 3.]


def test_torch_whole_model_loads_with_weights_only_false(tmp_path):
    torch = pytest.importorskip("torch")
    m = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(), torch.nn.Linear(3, 1))
    torch.save(m, tmp_path / "seq.pt")
    assert serialization.get_unsafe_globals_in_checkpoint(tmp_path / "seq.pt") == [
        "torch.nn.modules.container.Sequential", "torch.nn.modules.linear.Linear",
        "torch.nn.modules.activation.ReLU"]
    with pytest.raises(pickle.UnpicklingError, match="torch.nn.modules.container.Sequential"):
        pad.load(tmp_path / "seq.pt")
    x = [[1., 2.], [-3., 0.5]]
    expected = m(torch.tensor(x)).tolist()
    back = pad.load(tmp_path / "seq.pt", weights_only=False)      # torch's classes map onto ours
    assert type(back) is nn.Sequential and back(pad.tensor(x)).tolist() == expected
    with serialization.safe_globals([nn.Sequential, nn.Linear, nn.ReLU]):   # allowlisting ours admits torch's
        assert pad.load(tmp_path / "seq.pt")(pad.tensor(x)).tolist() == expected


def test_other_pickle_protocols_and_modules(tmp_path):
    obj = {"w": pad.tensor([1., 2.]), "s": "x" * 300, "n": list(range(5))}
    for proto in (2, 3, 4, 5):
        pad.save(obj, tmp_path / "p.pt", pickle_protocol=proto)
        back = pad.load(tmp_path / "p.pt", weights_only=False)
        assert back["w"].tolist() == [1., 2.] and back["s"] == obj["s"] and back["n"] == obj["n"]
        back = pad.load(tmp_path / "p.pt", pickle_module=pickle)
        assert back["n"] == obj["n"]


def test_torch_serialization_helpers():
    assert serialization.location_tag(None) == "cpu"
    st = serialization.default_restore_location(object(), "cuda:1")
    assert st is not None
    with pytest.raises(RuntimeError):
        serialization.default_restore_location(object(), "tpu")
    assert serialization.get_default_load_endianness() is None
    with pytest.raises(TypeError):
        serialization.set_default_load_endianness("sideways")
    raw = open(os.path.join(DATA, "tensor_plain.pt"), "rb").read()
    z = zipfile.ZipFile(io.BytesIO(raw))
    recs = {i.filename[len("tensor_plain/"):]: z.read(i.filename) for i in z.infolist() if "byteorder" not in i.filename}
    recs["data/0"] = np.frombuffer(recs["data/0"], "<f4").astype(">f4").tobytes()
    serialization.set_default_load_endianness(serialization.LoadEndianness.BIG)
    try:
        assert _load_bytes(_pt(recs)).tolist()[0] == [1.0, -2.0, 3.5]
    finally:
        serialization.set_default_load_endianness(None)


def test_integer_tensor_requiring_grad_is_refused():
    raw = _with_pickle(_tensor_pickle(2, 0, (2,), (1,), stype=b"LongStorage").replace(b"\x89ccollections",
                                                                                    b"\x88ccollections"),
                       {"0": b"\0" * 16})
    with pytest.raises(RuntimeError, match="floating point"):
        _load_bytes(raw)


def test_both_read_paths_check_crcs(tmp_path, monkeypatch):
    path = tmp_path / "w.pt"
    w = pad.arange(3_000_000.)          # > the parallel-CRC threshold: chunked, checksummed in a thread
    pad.save({"w": w}, path)
    raw = bytearray(path.read_bytes())
    pos = raw.index(struct.pack("<f", 2_500_000.))
    raw[pos] ^= 4
    path.write_bytes(bytes(raw))
    for mapped in (True, False):
        monkeypatch.setattr(serialization, "_MAP_READS", mapped)
        with pytest.raises(RuntimeError, match="CRC-32 check failed"):
            pad.load(path)
        with open(path, "rb") as f:
            with pytest.raises(RuntimeError, match="CRC-32 check failed"):
                pad.load(io.BytesIO(f.read()))
    raw[pos] ^= 4
    path.write_bytes(bytes(raw))
    for mapped in (True, False):
        monkeypatch.setattr(serialization, "_MAP_READS", mapped)
        assert pad.equal(pad.load(path)["w"], w)
