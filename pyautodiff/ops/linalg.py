"""Matrix products through numpy's BLAS: dot (1-D@1-D), mv (2-D@1-D), mm (2-D@2-D), and batched
matmul with broadcasting.  Names follow torch's grad_fn names."""
import math

import numpy as np

from ..autograd.graph import Node
from ..tensor import Tensor, _SCALAR_NAMES
from .elementwise import result_dtype


def _same_dtype(a, b, name):
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_cname(a.dtype)} != {_cname(b.dtype)}")


def _cname(d):
    return {"float32": "float", "float64": "double", "int64": "long int", "int32": "int"}.get(d.name, d.name)


class DotBackward0(Node):
    def forward(self, a, b):
        self.save(a, b)
        return np.asarray(np.dot(a, b))

    def backward(self, g):
        a, b = self.saved
        return g * b, g * a


class MvBackward0(Node):
    def forward(self, m, v):
        self.save(m, v)
        return m @ v

    def backward(self, g):
        m, v = self.saved
        gm = np.outer(g, v) if self.needs_input_grad(0) else None
        gv = m.T @ g if self.needs_input_grad(1) else None
        return gm, gv


class MmBackward0(Node):
    def forward(self, a, b):
        self.save(a, b)
        return a @ b

    def backward(self, g):
        a, b = self.saved
        ga = g @ b.T if self.needs_input_grad(0) else None
        gb = a.T @ g if self.needs_input_grad(1) else None
        return ga, gb


class BmmBackward0(Node):
    """Batched / broadcast matmul (ndim >= 3 on either side); grads reduced to input shapes."""
    def forward(self, a, b):
        self.save(a, b)
        self.a1 = a.ndim == 1
        self.b1 = b.ndim == 1
        return np.matmul(a, b)

    def backward(self, g):
        a, b = self.saved
        a2 = a[None, :] if self.a1 else a
        b2 = b[:, None] if self.b1 else b
        g2 = g
        if self.a1:
            g2 = np.expand_dims(g2, -2)
        if self.b1:
            g2 = np.expand_dims(g2, -1)
        ga = np.matmul(g2, np.swapaxes(b2, -1, -2))
        gb = np.matmul(np.swapaxes(a2, -1, -2), g2)
        if self.a1:
            ga = ga.sum(axis=tuple(range(ga.ndim - 2))).reshape(a.shape) if ga.ndim > 2 else ga.reshape(a.shape)
        if self.b1:
            gb = gb.sum(axis=tuple(range(gb.ndim - 2))).reshape(b.shape) if gb.ndim > 2 else gb.reshape(b.shape)
        return ga, gb


# torch builds the other matmul cases from several nodes; the one users see on the result:
_Squeeze = type("SqueezeBackward4", (BmmBackward0,), {"__doc__": "vector @ matrix (torch: mm, then squeeze)"})
_Batched = type("UnsafeViewBackward0", (BmmBackward0,), {"__doc__": "batched matmul (torch: bmm, then view)"})
# torch folds matrix @ batch (and a 3-D batch of one @ a 3-D batch) into one mm of the transposes
# when the matrix requires grad, then makes the result contiguous: its grad_fn is a clone
_BatchedFolded = type("CloneBackward0", (BmmBackward0,), {"__doc__": "batched matmul (torch: mm of the "
                                                                      "transposes, then contiguous)"})
_FoldedTransposed = type("TransposeBackward0", (BmmBackward0,), {"__doc__": "as _BatchedFolded, when the "
                                                                           "transpose is contiguous"})


def _check_type(b):
    if not isinstance(b, Tensor):
        raise TypeError(f"matmul(): argument 'other' (position 1) must be Tensor, not {type(b).__name__}")


def _check(a, b):
    _check_type(b)
    if a.dtype is not b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_cname(a.dtype)} != {_cname(b.dtype)}")


def _no_bool(a, kernel, b=None):
    if b is not None and (a._data.size == 0 or b._data.size == 0):
        return  # torch's mm / mv / bmm return before their kernel when an operand is empty
    if a.dtype.name == "bool":  # torch has no bool kernels for the BLAS-like ops
        raise NotImplementedError(f'"{kernel}" not implemented for \'Bool\'')


def matmul(a, b):
    if isinstance(b, Tensor) and a._data.ndim == 1 and b._data.ndim == 1:
        return dot(a, b)
    _check_type(b)
    da, db = a._data.ndim, b._data.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(a, b)
    if da == 2 and db == 1:
        return mv(a, b)
    if da == 2 and db == 2:
        return mm(a, b)
    if da == 1 and db == 2:
        _check(a, b)
        return _mm_1d2d(a, b)
    from .elementwise import _check_broadcast  # torch's "The size of tensor a (2) must match ..."
    _check_broadcast(np.broadcast_to(0, a._data.shape[:-2] if da > 1 else ()),
                     np.broadcast_to(0, b._data.shape[:-2] if db > 1 else ()))
    sa, sb = a._data.shape, b._data.shape
    # torch reads a 3-D batch of one that requires grad, times a 3-D batch, as a matrix
    ma, mb = a._data, b._data
    if da == 3 and db == 3:
        if sa[0] == 1 and sb[0] != 1 and a.requires_grad:
            ma = ma[0]
        elif sb[0] == 1 and sa[0] != 1 and b.requires_grad:
            mb = mb[0]
    folded = _folds(ma, mb, a.requires_grad, b.requires_grad)
    if a.dtype is not b.dtype:  # the message of the mm / mv / bmm torch computes it with
        if folded and min(ma.ndim, mb.ndim) == 1:   # (mv checks the sizes first)
            _check_inner(ma, mb, folded)
            vec, mat = (b, a) if mb.ndim == 1 else (a, b)
            _addmv_dtypes(mat, vec)
        if folded:
            m1, m2 = (a, b) if ma.ndim >= mb.ndim else (b, a)
            _check(m1, m2)
        _no_bool(a, "bmm")
        raise RuntimeError(f"expected scalar type {_SCALAR_NAMES[a.dtype.name]} but found "
                           f"{_SCALAR_NAMES[b.dtype.name]}")
    _check_inner(ma, mb, folded)
    if folded:
        _no_bool(a, "addmv_impl_cpu" if min(ma.ndim, mb.ndim) == 1 else "addmm_impl_cpu_", b)
    else:
        _no_bool(a, "bmm", b)
    if folded and ma.ndim == 2:
        # torch computes this as one mm of the transposes, then makes the result contiguous: a
        # clone, or nothing (the transpose shows) for a single row or column, or no element
        m, n = sa[-2], sb[-1]
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
        empty = m * n * math.prod(batch) == 0
        return (_FoldedTransposed if m == 1 or n == 1 or empty else _BatchedFolded).apply(a, b)
    return _Batched.apply(a, b)


def _folds(a, b, a_grad, b_grad):
    """torch's should_fold: is `a @ b` (one side >= 3-D, the other <= 2-D) computed as one mm/mv
    of the larger side folded into rows (instead of a batched mm)?"""
    larger_a = a.ndim >= b.ndim
    big, small_grad = (a, b_grad) if larger_a else (np.swapaxes(b, -1, -2), a_grad)
    if not (big.ndim >= 3 and (b.ndim if larger_a else a.ndim) <= 2):
        return False
    if small_grad:  # folding spares the backward a large expanded gradient
        return True
    if a.ndim == 2:  # the result of the transposes would need a copy
        return False
    if big.size == 0:
        return True
    st, sh = big.strides, big.shape
    return all(st[i] == st[i + 1] * sh[i + 1] for i in range(big.ndim - 2))


def _check_inner(a, b, folded):
    """The inner sizes of a batched matmul, with torch's message for the way it computes it."""
    k1 = a.shape[-1]
    k2 = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if k1 == k2:
        return
    if not folded:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        n = math.prod(batch)
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{n}, {k1}] but "
                           f"got: [{n}, {k2}].")
    if a.ndim >= b.ndim:  # rows of a times b
        rows = math.prod(a.shape[:-1])
        if b.ndim == 1:
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k1}), vec ({k2})")
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k1} and {k2}x{b.shape[-1]})")
    rows = math.prod(b.shape[:-2]) * b.shape[-1]  # rows of b's transpose times a's transpose
    if a.ndim == 1:
        raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k2}), vec ({k1})")
    raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k2} and {k1}x{a.shape[0]})")


def _mm_1d2d(a, b):
    _inner(a._data.shape[0], b._data.shape[0], a, b)
    _no_bool(a, "addmm_impl_cpu_", b)
    return _Squeeze.apply(a, b)


def _inner(n1, n2, a, b):
    if n1 != n2:
        sa = "x".join(map(str, a._data.shape if a._data.ndim > 1 else (1,) + a._data.shape))
        sb = "x".join(map(str, b._data.shape))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({sa} and {sb})")


def mm(a, b):
    _check(a, b)
    if a._data.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b._data.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    if a._data.shape[1] != b._data.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a._data.shape[0]}x{a._data.shape[1]} "
                           f"and {b._data.shape[0]}x{b._data.shape[1]})")
    _no_bool(a, "addmm_impl_cpu_", b)
    return MmBackward0.apply(a, b)


def _addmv_dtypes(mat, vec):
    if mat.dtype is not vec.dtype:
        v, m = _SCALAR_NAMES[vec.dtype.name], _SCALAR_NAMES[mat.dtype.name]
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {v}, {m}, and {v}")


def mv(a, b):
    _check_type(b)
    if a._data.ndim != 2 or b._data.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a._data.ndim}, {b._data.ndim}")
    if a._data.shape[1] != b._data.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a._data.shape[0]}), mat ({a._data.shape[0]}x"
                           f"{a._data.shape[1]}), vec ({b._data.shape[0]})")
    _addmv_dtypes(a, b)
    _no_bool(a, "addmv_impl_cpu", b)  # (after the sizes, as torch)
    return MvBackward0.apply(a, b)


def dot(a, b):
    if isinstance(b, Tensor) and a.dtype is not b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_SCALAR_NAMES.get(a.dtype.name)} and {_SCALAR_NAMES.get(b.dtype.name)}")
    _check(a, b)
    if a._data.ndim != 1 or b._data.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a._data.ndim}D and {b._data.ndim}D tensors")
    if a._data.shape[0] != b._data.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a._data.shape[0]}] and src "
                           f"[{b._data.shape[0]}] to have the same number of elements, but got "
                           f"{a._data.shape[0]} and {b._data.shape[0]} elements respectively")
    _no_bool(a, "dot")
    return DotBackward0.apply(a, b)
