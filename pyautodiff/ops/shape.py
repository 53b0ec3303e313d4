"""Shape ops that return numpy views sharing memory (and the version counter) with their input."""
import numpy as np

from ..autograd.graph import Node
from ..autograd.grad_mode import STATE as _GRAD
from .. import _layout
from ..tensor import Size, _wrap_dim, _OVERLAP_MSG, _internal_overlap


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, Size)):
        shape = shape[0]
    return tuple(int(s) for s in shape)


def _infer(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s} at index {shape.index(s)} of shape {shape}")
            known *= s
    if neg:
        if known == 0 and numel == 0:
            raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} because the "
                               "unspecified dimension size -1 can be any value and is ambiguous")
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _share_version(out, a):
    """Mark `out` as a view of `a`: in-place changes of either are seen by both (one version
    counter), and an in-place op on `out` also records itself in the history of the base."""
    out._version = a._version
    out._base = a._base if a._base is not None else a
    out._view_at = a._version[0]
    out._view_nograd = not _GRAD.enabled
    return out


class ViewBackward0(Node):
    def forward(self, a, shape):
        self.in_shape = a.shape
        return a.reshape(shape)  # contiguous here: numpy returns a view

    def backward(self, g):
        return g.reshape(self.in_shape), None


class UnsafeViewBackward0(Node):
    """reshape of a non-viewable tensor: a copy."""
    def forward(self, a, shape):
        self.in_shape = a.shape
        return np.ascontiguousarray(a).reshape(shape)

    def backward(self, g):
        return g.reshape(self.in_shape), None


def _viewable(a, shape):
    try:
        v = a.view()
        v.shape = shape  # numpy raises when this needs a copy
        return True
    except AttributeError:
        return False


def view(t, shape):
    shape = _infer(_shape_arg(shape), t._data.size)
    if not t._data.flags.c_contiguous and not _viewable(t._data, shape):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one "
                           "dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
    return _share_version(ViewBackward0.apply(t, shape), t)


class ReshapeAliasBackward0(ViewBackward0):
    """reshape of a non-contiguous tensor that can still be viewed (torch's _reshape_alias)."""


def reshape(t, shape):
    shape = _infer(_shape_arg(shape), t._data.size)
    if t._data.flags.c_contiguous:
        return _share_version(ViewBackward0.apply(t, shape), t)
    if _viewable(t._data, shape):
        return _share_version(ReshapeAliasBackward0.apply(t, shape), t)
    return UnsafeViewBackward0.apply(t, shape)


class TBackward0(Node):
    def forward(self, a):
        return a.T

    def backward(self, g):
        return g.T


def t(x):
    if x._data.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {x._data.ndim}D")
    return _share_version(TBackward0.apply(x), x)


class PermuteBackward0(Node):
    def forward(self, a, dims):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, g):
        return g.transpose(np.argsort(self.dims)), None


def permute(x, dims):
    nd = x._data.ndim
    if len(dims) != nd:
        raise RuntimeError("permute(sparse_coo): number of dimensions in the tensor input does not match the "
                           "length of the desired ordering of dimensions i.e. input.dim() = "
                           f"{nd} is not equal to len(dims) = {len(dims)}")
    dims = tuple(_wrap_dim(d, nd) for d in dims)
    if len(set(dims)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _share_version(PermuteBackward0.apply(x, dims), x)


def permute_reverse(x):
    return permute(x, tuple(range(x._data.ndim - 1, -1, -1)))


class TransposeBackward0(Node):
    def forward(self, a, d0, d1):
        self.d = (d0, d1)
        if a.ndim == 0:  # transpose(0, 0) / (-1, 0) of a 0-d tensor: the identity, as torch
            return a.view()
        return np.swapaxes(a, d0, d1)

    def backward(self, g):
        return (np.swapaxes(g, *self.d) if g.ndim else g), None, None


def transpose(x, d0, d1):
    nd = x._data.ndim
    return _share_version(TransposeBackward0.apply(x, _wrap_dim(d0, nd), _wrap_dim(d1, nd)), x)


def swap_last(x):
    return transpose(x, -2, -1)


# ----------------------------------------------------------------------------- in-place through views
def view_geometry(view, base):
    """(byte offset, shape, strides, base strides) of the ndarray `view` inside the dense
    ndarray `base` whose memory it views, or None when that does not hold (then the view is
    not tracked).  Gradients of the base are laid out as the base for the offsets to hold."""
    if not _layout.is_dense(base):
        return None
    if view.size == 0:  # an empty view (x[1:] of one row) shares no bytes: same root array?
        return (0, view.shape, view.strides, base.strides) if _layout.root(view) is _layout.root(base) \
            else None
    if not np.may_share_memory(view, base):
        return None
    off = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    if off < 0 or off >= max(base.nbytes, 1):
        return None
    return off, view.shape, view.strides, base.strides


def _region(arr, geom):
    """The view of geometry `geom` in `arr` (laid out as the base the geometry was taken in)."""
    off, shape, strides, _ = geom
    buf = arr if arr.flags.c_contiguous else arr.ravel(order="K")  # (a view: arr is dense)
    return np.ndarray(shape, arr.dtype, buffer=buf, offset=off, strides=strides)


def _like_base(geom, shape, dtype):
    """An empty array of `shape` laid out as the base of `geom` (its strides)."""
    return _layout.empty_strided(shape, dtype, [st // np.dtype(dtype).itemsize for st in geom[3]])


class CopySlices(Node):
    """The base's history after an in-place op through one of its views: outside the view's
    region the gradient goes to the base's earlier history, inside it to the op's result.
    (forward: the caller has already written the result into the base's memory.)"""
    def forward(self, base, value, geom):
        self.geom = geom
        self.dtype = base.dtype
        return base

    def backward(self, g):
        if g.dtype != self.dtype:  # the geometry is in bytes of the base's dtype
            g = g.astype(self.dtype)
        gb = _like_base(self.geom, g.shape, g.dtype)  # a fresh copy, laid out as the base
        gb[...] = g
        region = _region(gb, self.geom)
        if _internal_overlap(region):
            # torch copies the result into the view's slice of the gradient: refused when its
            # elements share memory (a write through an expand())
            raise RuntimeError(_OVERLAP_MSG)
        gv = region.copy()
        _region(gb, self.geom)[...] = 0
        return gb, gv, None

    def name(self):
        return "torch::autograd::CopySlices"


class AsStridedBackward0(Node):
    """A view re-derived from its base after the base's history changed."""
    def forward(self, base, geom):
        self.geom = geom
        self.shape = base.shape
        return _region(base, geom)

    def backward(self, g):
        gb = _like_base(self.geom, self.shape, g.dtype)
        gb[...] = 0
        _region(gb, self.geom)[...] = g
        return gb, None
