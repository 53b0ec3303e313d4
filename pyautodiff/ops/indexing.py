"""Indexing: basic (ints, slices, None, ...) gives views; advanced (int tensors, bool masks, lists)
gives copies.  Backward scatters the gradient back (np.add.at handles repeated indices)."""
import warnings

import numpy as np

from ..autograd.graph import Node
from ..autograd.grad_mode import STATE
from ..tensor import Tensor, _OVERLAP_MSG, _SCALAR_NAMES, _internal_overlap, writable
from .fusion import flush_pending
from .shape import _share_version


def _convert(index):
    """Tensor indices -> ndarrays; returns (numpy index, advanced?)."""
    if not isinstance(index, tuple):
        index = (index,)
    out = []
    advanced = False
    for i in index:
        if isinstance(i, Tensor):
            a = i._data
            if a.dtype.kind == "f":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if a.ndim == 0 and a.dtype.kind in "iu":
                out.append(int(a))
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
        elif isinstance(i, slice):
            out.append(_slice(i))
        elif isinstance(i, float):
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                             "are valid indices (got float)")
        else:
            out.append(i)  # None, Ellipsis
    return tuple(out), advanced


def _basic_kind(idx, shape, single):
    """torch's grad_fn name for basic indexing: torch applies the index item by item (select,
    slice, unsqueeze; a full slice inside a tuple is skipped), so the name is that of the last
    op applied, AliasBackward0 when none was; a bare slice is always a SliceBackward0."""
    if single and isinstance(idx[0], slice):
        return "SliceBackward0"
    consumed = sum(1 for i in idx if i is not None and i is not Ellipsis)
    dim = 0
    kind = "AliasBackward0"
    for i in idx:
        if i is Ellipsis:
            dim += len(shape) - consumed
        elif i is None:
            kind = "UnsqueezeBackward0"
        elif isinstance(i, int):
            kind = "SelectBackward0"
            dim += 1
        else:  # a slice
            if dim >= len(shape) or i.indices(shape[dim]) != (0, shape[dim], 1):
                kind = "SliceBackward0"
            dim += 1
    return kind


def _slice(s):
    def conv(v):
        return int(v) if isinstance(v, Tensor) else v
    if s.step is not None and conv(s.step) <= 0:
        raise ValueError("step must be greater than zero")
    return slice(conv(s.start), conv(s.stop), conv(s.step))


class _Index(Node):
    """Basic indexing: the result is a numpy view of the input."""
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
        out[self.index] = g
        return out, None


class IndexBackward0(Node):
    """Advanced indexing (a copy); the indices are saved (and freed) like torch's."""
    def forward(self, a, index):
        self.shape = a.shape
        self.dtype = a.dtype
        self.save(index)
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(_index_message(e, a, index)) from None

    def backward(self, g):
        out = np.zeros(self.shape, self.dtype)
        np.add.at(out, self.saved[0], g)
        return out, None


def _index_message(e, a, index):
    """numpy's IndexError text -> torch's."""
    msg = str(e)
    items = index if isinstance(index, tuple) else (index,)
    if "out of bounds" in msg:
        for i, ix in enumerate(items):
            if isinstance(ix, int) and i < a.ndim and not -a.shape[i] <= ix < a.shape[i]:
                return f"index {ix} is out of bounds for dimension {i} with size {a.shape[i]}"
        return msg.replace(" for axis ", " for dimension ")
    if "too many indices" in msg:
        return f"too many indices for tensor of dimension {a.ndim}"
    if "boolean index did not match" in msg:
        consumed = sum(np.ndim(i) if isinstance(i, np.ndarray) and i.dtype == np.bool_ else 1
                       for i in items if i is not None and i is not Ellipsis)
        dim = 0
        for ix in items:
            if ix is Ellipsis:
                dim += a.ndim - consumed
            elif isinstance(ix, np.ndarray) and ix.dtype == np.bool_:
                for k, n in enumerate(ix.shape):
                    if dim + k < a.ndim and a.shape[dim + k] != n:
                        return (f"The shape of the mask {list(ix.shape)} at index {k} does not match the shape "
                                f"of the indexed tensor {list(a.shape)} at index {dim + k}")
                dim += ix.ndim
            elif ix is not None:
                dim += 1
    return msg


_NODES = {name: type(name, (_Index,), {})
          for name in ("SelectBackward0", "SliceBackward0", "UnsqueezeBackward0", "AliasBackward0",
                       "UnbindBackward0")}


def unbind_rows(t):
    """iter(t): its rows, made at once as torch's unbind(0) makes them (grad_fn UnbindBackward0)."""
    node = _NODES["UnbindBackward0"]
    rows = []
    for i in range(t._data.shape[0]):
        rows.append(_share_version(node.apply(t, (i, Ellipsis)), t))  # views
    return iter(rows)


def _check_0d(t, index):
    """torch's messages for a lone int or slice index of a 0-d tensor."""
    if t._raw.ndim:
        return
    if isinstance(index, slice):
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
        if index == 0:
            raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                             "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
        raise IndexError(f"index {int(index)} is out of bounds for dimension 0 with size 0")


def getitem(t, index):
    _check_0d(t, index)
    idx, advanced = _convert(index)
    if advanced:
        return IndexBackward0.apply(t, idx)
    kind = _basic_kind(idx, t._data.shape, not isinstance(index, tuple))
    if not any(i is Ellipsis for i in idx):
        idx = idx + (Ellipsis,)  # numpy then returns a 0-d view, never a scalar copy
    return _share_version(_NODES[kind].apply(t, idx), t)  # basic indexing is a view


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

    def name(self):
        return "torch::autograd::CopySlices"


class IndexPutBackward0(CopySlices):
    """Assignment through an advanced index (int tensors, bool masks, lists): torch's index_put_."""
    def name(self):
        return "IndexPutBackward0"


def _check_value_shape(target, value, advanced):
    """torch's error (a RuntimeError) when the value cannot be broadcast into the indexed part."""
    vs = tuple(np.shape(value))
    if advanced:
        try:
            np.broadcast_shapes(vs, target)
            return
        except ValueError:
            raise RuntimeError(f"shape mismatch: value tensor of shape {list(vs)} cannot be broadcast to "
                               f"indexing result of shape {list(target)}") from None
    while vs and vs[0] == 1 and len(vs) > len(target):
        vs = vs[1:]  # torch drops leading 1s of the value first
    if len(vs) > len(target):
        name = {"f4": "Float", "f8": "Double", "i8": "Long", "i4": "Int", "b1": "Bool"}.get(
            np.asarray(value).dtype.str[1:], "")
        raise RuntimeError(f"expand(pyautodiff.{name}Tensor{{{list(vs)}}}, size={list(target)}): the number "
                           f"of sizes provided ({len(target)}) must be greater or equal to the number of "
                           f"dimensions in the tensor ({len(vs)})")
    for i in range(1, len(vs) + 1):
        if vs[-i] != 1 and vs[-i] != target[-i]:
            raise RuntimeError(
                f"The expanded size of the tensor ({target[-i]}) must match the existing size ({vs[-i]}) at "
                f"non-singleton dimension {len(target) - i}.  Target sizes: {list(target)}.  Tensor sizes: "
                f"{list(np.shape(value))}")


def _bool_scalars_as_views(index):
    """torch indexes with a scalar True (a Python bool or a 0-d bool tensor) as unsqueeze(0): a
    view, so a write through it is a CopySlices, not an IndexPut.  Returns the index with each
    such True as None (numpy's newaxis); None when the index holds a Python False (torch writes
    nothing then: _WRITE_NOTHING)."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    changed = False
    for i in items:
        if i is True or (isinstance(i, Tensor) and i._raw.shape == () and i._raw.dtype == np.bool_
                         and bool(i._data)):
            out.append(None)
            changed = True
        elif i is False:
            return _WRITE_NOTHING
        else:
            out.append(i)
    if not changed:
        return index
    return tuple(out)


_WRITE_NOTHING = object()


def _dims_only(idx):
    """An advanced index with each array replaced by full slices over the dimensions it
    consumes (checks the count of indices, not their values)."""
    out = []
    for i in idx:
        if isinstance(i, np.ndarray):
            out.extend([slice(None)] * (i.ndim if i.dtype == np.bool_ else 1))
        else:
            out.append(i)
    return tuple(out)


def _valid_index(t, idx, advanced):
    """Raise torch's IndexError for an index torch rejects before any in-place check: a bad
    basic index, or (advanced) too many indices."""
    if advanced:
        idx = _dims_only(idx)
    try:
        t._data[idx]
    except IndexError as e:
        raise IndexError(_index_message(e, t._data, idx)) from None


_EXPANDED_WRITE_MSG = ("Use of %s on expanded tensors is deprecated. Please clone() the tensor before "
                       "performing this operation. This also applies to advanced indexing e.g. %s")


def _single_mask(index):
    """Is the index one bool tensor (torch then writes a 0-d value with masked_fill_)?"""
    if isinstance(index, tuple):
        if len(index) != 1:
            return False
        index = index[0]
    return isinstance(index, Tensor) and index._raw.dtype == np.bool_


def setitem(t, index, value):
    _check_0d(t, index)
    index = _bool_scalars_as_views(index)
    if index is _WRITE_NOTHING:
        return
    idx, advanced = _convert(index)
    if t.requires_grad and t.grad_fn is None and STATE.enabled:
        _valid_index(t, idx, advanced)  # torch applies the index before this check
        # (x[:] = v and x[...] = v are copy_ into x itself in torch)
        if advanced or index == slice(None) or \
                _basic_kind(idx, t._data.shape, not isinstance(index, tuple)) == "AliasBackward0":
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    base = t._base
    if base is not None and base.requires_grad and base.grad_fn is None and STATE.enabled:
        _valid_index(t, idx, advanced)
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                           "operation.")
    if isinstance(value, Tensor):
        v = value._data
        needs = value.requires_grad and STATE.enabled
        if advanced and v.dtype != t._raw.dtype and not (v.ndim == 0 and _single_mask(index)):
            # index_put_ (masked_fill_ for one mask and a 0-d value, which converts)
            raise RuntimeError(f"Index put requires the source and destination dtypes match, got "
                               f"{_SCALAR_NAMES[t._raw.dtype.name]} for the destination and "
                               f"{_SCALAR_NAMES[v.dtype.name]} for the source.")
    else:
        v = value
        needs = False
    flush_pending()  # pending lazy chains may read the memory written here
    try:
        d = t._data
        w = None
        if not d.flags.writeable and _internal_overlap(d):  # an expand()
            if advanced:
                # torch writes the indexed elements (those sharing memory: the last one wins),
                # with a deprecation warning
                mask_fill = np.ndim(v) == 0 and all(
                    not isinstance(i, np.ndarray) or i.dtype == np.bool_ for i in idx)
                warnings.warn(_EXPANDED_WRITE_MSG % (("masked_fill_", "tensor[mask] = scalar") if mask_fill
                                                     else ("index_put_", "tensor[indices] = tensor")),
                              UserWarning, stacklevel=3)
            elif _internal_overlap(d[idx]):
                raise RuntimeError(_OVERLAP_MSG)
            w = writable(d)
            if w is d:  # (memory of the user's, read-only)
                raise RuntimeError(_OVERLAP_MSG)
        if needs or (t.requires_grad and STATE.enabled):
            node = IndexPutBackward0 if advanced else CopySlices
            r = node.apply(t, value if isinstance(value, Tensor) else v, idx)
            t._inplace_result(r, None if w is None else (lambda: w.__setitem__(idx, v)))
            return
        if w is not None:
            d = w
        elif not d.flags.writeable:  # an element of an expand() (no shared elements): writable
            d = writable(d)
        d[idx] = v
    except IndexError as e:
        raise IndexError(_index_message(e, t._data, idx)) from None
    except ValueError as e:
        _check_value_shape(np.shape(t._data[idx]), v, advanced)
        raise RuntimeError(str(e)) from None
    t._version[0] += 1
