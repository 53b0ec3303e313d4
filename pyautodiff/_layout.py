"""Memory layouts as torch chooses them, for ndarrays (numpy's own choices differ: its "K" order
puts a zero-stride dim first, its copies are C-ordered).

  root(a)                 the array owning a's memory
  is_dense(a)             non-overlapping and dense with positive strides (a permuted contiguous
                          block starting at its data pointer)
  iter_strides(shape, ops) the element strides of the result torch's TensorIterator allocates over
                          `ops` (ndarrays broadcast to `shape`)
  dense_strides(a)        the element strides of a copy of `a` keeping its layout (preserve_format)
  empty_strided(shape, dtype, strides)  an uninitialised array with those element strides
  copy_like(a, dtype)     a copy of `a` (cast to dtype) laid out as preserve_format lays it out
"""
import numpy as np


def root(a):
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def is_dense(a):
    if a.flags.c_contiguous or a.flags.f_contiguous:
        return True
    need = a.itemsize
    for st, n in sorted((st, n) for st, n in zip(a.strides, a.shape) if n > 1):
        if st != need:
            return False
        need *= n
    return True


def iter_strides(shape, operands):
    """Dims sorted by the first operand whose strides order them (a zero stride orders nothing;
    equal strides: the smaller dim first), else C order; then dense in that order."""
    n = len(shape)
    sts = [np.broadcast_to(x, shape).strides for x in operands]
    perm = list(range(n - 1, -1, -1))  # perm[0]: the fastest dim

    def should_swap(d0, d1):
        for st in sts:
            s0, s1 = st[d0], st[d1]
            if s0 == 0 or s1 == 0:
                continue
            if s0 != s1:
                return -1 if s0 < s1 else 1
            if shape[d0] > shape[d1]:
                return 1
        return 0
    for i in range(1, n):
        d1 = i
        for j in range(1, i + 1):
            d0 = i - j
            c = should_swap(perm[d0], perm[d1])
            if c > 0:
                perm[d0], perm[d1] = perm[d1], perm[d0]
                d1 = d0
            elif c < 0:
                break
    out = [0] * n
    cur = 1
    for d in perm:
        out[d] = cur
        if shape[d] > 1:
            cur *= shape[d]
    return out


def dense_strides(a):
    """a's own strides if it is non-overlapping and dense, else those TensorIterator infers."""
    if is_dense(a):
        return [s // a.itemsize for s in a.strides]
    return iter_strides(a.shape, [a])


def empty_strided(shape, dtype, strides):
    out = np.empty(int(np.prod(shape)), dtype)
    if not out.size or not len(shape):
        return out.reshape(shape)
    it = out.itemsize
    return np.lib.stride_tricks.as_strided(out, shape, [s * it for s in strides])


def copy_like(a, dtype=None):
    out = empty_strided(a.shape, a.dtype if dtype is None else dtype, dense_strides(a))
    out[...] = a
    return out
