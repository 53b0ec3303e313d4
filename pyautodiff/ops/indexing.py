"""Indexing: basic (ints, slices, None, ...) gives views; advanced (int tensors, bool masks, lists)
gives copies.  Backward scatters the gradient back (np.add.at handles repeated indices)."""
import numpy as np

from ..autograd.graph import Node
from ..autograd.grad_mode import STATE
from ..tensor import Tensor


def _convert(index):
    """Tensor indices -> ndarrays; returns (numpy index, kind) with kind naming torch's grad_fn."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    n_int = n_slice = 0
    for i in index:
        if isinstance(i, Tensor):
            a = i._data
            if a.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if a.ndim == 0 and a.dtype.kind in "iu":
                out.append(int(a))
                n_int += 1
                continue
            out.append(a)
            advanced = True
        elif isinstance(i, (list, np.ndarray)):
            out.append(np.asarray(i))
            advanced = True
        elif isinstance(i, bool):
            out.append(i)
            advanced = True
        elif isinstance(i, (int, np.integer)):
            out.append(int(i))
            n_int += 1
        elif isinstance(i, slice):
            out.append(_slice(i))
            n_slice += 1
        else:
            out.append(i)  # None, Ellipsis
    kind = "IndexBackward0" if advanced else ("SelectBackward0" if n_int else "SliceBackward0")
    return tuple(out), kind


def _slice(s):
    def conv(v):
        return int(v) if isinstance(v, Tensor) else v
    if s.step is not None and conv(s.step) <= 0:
        raise ValueError("step must be greater than zero")
    return slice(conv(s.start), conv(s.stop), conv(s.step))


class _Index(Node):
    def forward(self, a, index):
        self.shape = a.shape
        self.dtype = a.dtype
        self.index = index
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(_index_message(e, a, index)) from None

    def backward(self, g):
        out = np.zeros(self.shape, self.dtype)
        if type(self).__name__ == "IndexBackward0":
            np.add.at(out, self.index, g)
        else:
            out[self.index] = g
        return out, None


def _index_message(e, a, index):
    msg = str(e)
    if "out of bounds" in msg:
        for i, ix in enumerate(index if isinstance(index, tuple) else (index,)):
            if isinstance(ix, int) and i < a.ndim and not -a.shape[i] <= ix < a.shape[i]:
                return f"index {ix} is out of bounds for dimension {i} with size {a.shape[i]}"
    if "too many indices" in msg:
        return f"too many indices for tensor of dimension {a.ndim}"
    return msg


_NODES = {name: type(name, (_Index,), {}) for name in ("IndexBackward0", "SelectBackward0", "SliceBackward0")}


def getitem(t, index):
    idx, kind = _convert(index)
    r = _NODES[kind].apply(t, idx)
    if kind != "IndexBackward0":
        r._version = t._version  # basic indexing is a view
    return r


class CopySlices(Node):
    def forward(self, a, v, index):
        self.index = index
        self.v_shape = np.shape(v)
        out = a.copy()
        out[index] = v
        return out

    def backward(self, g):
        ga = g.copy()
        ga[self.index] = 0
        gv = g[self.index]
        return ga, gv, None


def setitem(t, index, value):
    idx, _ = _convert(index)
    t._check_inplace()
    if isinstance(value, Tensor):
        v = value._data
        needs = value.requires_grad and STATE.enabled
    else:
        v = value
        needs = False
    if needs or (t.requires_grad and STATE.enabled):
        r = CopySlices.apply(t, value if isinstance(value, Tensor) else v, idx)
        t._inplace_result(r)
        return
    try:
        t._data[idx] = v
    except IndexError as e:
        raise IndexError(_index_message(e, t._data, idx)) from None
    t._version[0] += 1
