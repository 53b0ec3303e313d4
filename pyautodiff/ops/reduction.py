"""Reductions: sum and mean, full (SumBackward0/MeanBackward0) and over dims (SumBackward1/MeanBackward1).

Full float reductions use the kernels' blocked double accumulation; their backward broadcasts the
incoming scalar without materializing it (the engine/AccumulateGrad materialize at most once)."""
import numpy as np

from .._C import K
from .. import _dtype
from ..autograd.graph import Node
from ..tensor import _wrap_dim
from .fusion import Lazy, reduction, SUM, MEAN
from .elementwise import expand_scalar

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_SCALAR_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                 "bool": "Bool"}  # torch's names in messages


def _full_sum(a):
    if a.dtype in _FLOATS and a.flags.c_contiguous:
        return np.asarray(K.sum(a), dtype=a.dtype)
    if a.dtype.kind in "biu":
        return np.asarray(a.sum(dtype=np.int64))
    return np.asarray(a.sum(dtype=np.float64), dtype=a.dtype)


class SumBackward0(Node):
    fuses = True

    def forward(self, a):
        self.shape = a.shape
        if type(a) is Lazy:  # a pending chain: summed when needed, in one pass, never written
            return reduction(SUM, a)
        return _full_sum(a)

    def backward(self, g):
        return expand_scalar(g, self.shape, g.dtype)


class MeanBackward0(Node):
    fuses = True

    def forward(self, a):
        self.shape = a.shape
        if type(a) is Lazy:  # evaluated as K.mean: the double sum divided by the count, then cast
            return reduction(MEAN, a)
        try:
            return np.array(K.mean(a), a.dtype)
        except (TypeError, ValueError):  # not a contiguous float32/64 array: numpy's way
            return np.asarray(a.mean(dtype=np.float64), dtype=a.dtype)

    def backward(self, g):
        n = 1
        for s in self.shape:
            n *= s
        v = K.div_scalar(g, n) if type(g) is np.ndarray and g.ndim == 0 else None  # fresh 0-d g / n
        if v is None:
            return expand_scalar(g / g.dtype.type(n), self.shape, g.dtype)
        return expand_scalar(v, self.shape, g.dtype, fresh=True)


def _dims(dim, ndim):
    if isinstance(dim, (list, tuple)):
        dims = tuple(sorted(_wrap_dim(d, ndim) for d in dim))
        for i in range(1, len(dims)):
            if dims[i] == dims[i - 1]:
                raise RuntimeError(f"dim {dims[i]} appears multiple times in the list of dims")
    else:
        dims = (_wrap_dim(dim, ndim),)
    if ndim == 0:
        return ()
    return dims


class SumBackward1(Node):
    def forward(self, a, dims, keepdim):
        self.shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        if a.dtype.kind in "biu":
            return np.asarray(a.sum(axis=dims, keepdims=keepdim, dtype=np.int64))
        with np.errstate(all="ignore"):  # (inf + -inf: nan, as torch, without a warning)
            return np.asarray(a.sum(axis=dims, keepdims=keepdim))

    def backward(self, g):
        if not self.keepdim:
            g = np.expand_dims(g, self.dims)
        return np.broadcast_to(g, self.shape), None, None


class MeanBackward1(Node):
    def forward(self, a, dims, keepdim):
        self.shape = a.shape
        self.dims = dims
        self.keepdim = keepdim
        n = 1
        for d in dims:
            n *= a.shape[d]
        self.n = n
        if n == 0:  # nan, as torch, without numpy's "Mean of empty slice" warnings
            return np.full(np.sum(a, axis=dims, keepdims=keepdim).shape, np.nan, a.dtype)
        with np.errstate(all="ignore"):  # (inf + -inf: nan, as torch, without a warning)
            return np.asarray(a.mean(axis=dims, keepdims=keepdim), dtype=a.dtype)

    def backward(self, g):
        if not self.keepdim:
            g = np.expand_dims(g, self.dims)
        return np.broadcast_to(g / g.dtype.type(self.n), self.shape), None, None


def sum(a, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    if dim is None:
        return SumBackward0.apply(a)
    return SumBackward1.apply(a, _dims(dim, a._raw.ndim), keepdim)


def mean(a, dim=None, keepdim=False, *, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    if a._raw.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex "
            f"dtype. Got: {_SCALAR_NAMES.get(a.dtype.name, a.dtype.name)}")
    if dim is None:
        return MeanBackward0.apply(a)
    return MeanBackward1.apply(a, _dims(dim, a._raw.ndim), keepdim)
