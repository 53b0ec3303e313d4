"""Tensor creation functions (torch.tensor, zeros, ones, arange, rand, ...)."""
import numbers
import warnings

import numpy as np

from . import _dtype
from . import random as _random
from .tensor import Tensor, Size, _check_cpu, _SCALAR_NAMES
from .ops.fusion import export


def _infer_dtype(data):
    """torch.tensor's dtype inference: Python bool -> bool, int -> int64, float -> the default dtype,
    numpy scalars and tensors -> their own dtype; a sequence promotes over its elements."""
    best = None
    stack = [data]
    while stack:
        x = stack.pop()
        if isinstance(x, (list, tuple)):
            stack.extend(x)
            continue
        if isinstance(x, Tensor):
            d = x.dtype
        elif isinstance(x, np.generic):
            d = _dtype.from_numpy(x.dtype)
        elif isinstance(x, bool):
            d = _dtype.bool_
        elif isinstance(x, numbers.Integral):
            d = _dtype.int64
        elif isinstance(x, numbers.Real):
            d = _dtype.get_default_dtype()
        elif isinstance(x, str):
            if x is data:
                raise TypeError("new(): invalid data type 'str'")
            raise ValueError("too many dimensions 'str'")
        else:
            raise RuntimeError(f"Could not infer dtype of {type(x).__name__}")
        best = d if best is None or best is d else _dtype.promote_types(best, d)
    return _dtype.get_default_dtype() if best is None else best


def _ragged_error(data):
    """torch's error for nested sequences that do not form a rectangular array."""
    shape = []
    x = data
    while isinstance(x, (list, tuple)):
        shape.append(len(x))
        if not x:
            break
        x = x[0]

    def walk(x, dim):
        if dim == len(shape):
            return
        if not isinstance(x, (list, tuple)):
            raise TypeError("not a sequence")
        if len(x) != shape[dim]:
            raise ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {len(x)})")
        for y in x:
            walk(y, dim + 1)
    walk(data, 0)


def _finish(arr, requires_grad):
    t = Tensor._wrap(arr)
    if requires_grad:
        t._set_requires_grad(True)
    return t


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    _check_cpu(device)
    if isinstance(data, Tensor):
        warnings.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                      "or sourceTensor.detach().clone().requires_grad_(True), rather than "
                      "torch.tensor(sourceTensor).", UserWarning, stacklevel=2)
        arr = data._data.astype(dtype.np if dtype else data._data.dtype, copy=True)
    elif isinstance(data, (np.ndarray, np.generic)):
        dt = dtype or _dtype.from_numpy(data.dtype)
        arr = np.array(data, dtype=dt.np, copy=True)
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flat(data)):
            data = _tensors_to_lists(data)
        dt = dtype or _infer_dtype(data)
        try:
            arr = np.array(data, dtype=dt.np)
        except (ValueError, TypeError) as e:
            _ragged_error(data)
            raise ValueError(f"expected sequence of equal-length lists: {e}") from None
        if arr.dtype == object:
            raise TypeError("could not convert data to a tensor")
    return _finish(arr, requires_grad)


def _flat(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flat(x)
        else:
            yield x


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(x) for x in data]
    return data


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        return data if dtype is None or dtype is data.dtype else data.to(dtype)
    if isinstance(data, np.ndarray):
        t = from_numpy(data)
        return t if dtype is None or dtype is t.dtype else t.to(dtype)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(arr):
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(arr).__name__})")
    _dtype.from_numpy(arr.dtype)  # raises for unsupported dtypes
    if not arr.dtype.isnative:
        raise ValueError("given numpy array has byte order different from the native byte order. "
                         "Conversion between byte orders is currently not supported.")
    export(arr)  # the caller keeps writing access to this memory: never read it lazily
    return Tensor._wrap(arr)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = size[0]
    out = []
    for s in size:
        if isinstance(s, Tensor):
            s = int(s)
        if not isinstance(s, numbers.Integral):
            raise TypeError(f"empty(): argument 'size' must be tuple of ints, but found element of type "
                            f"{type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
        out.append(int(s))
    return tuple(out)


def _dt(dtype):
    return (dtype or _dtype.get_default_dtype()).np


_MAX_BYTES = (1 << 63) - 1


def _alloc(fill, shape, dt, *args):
    """fill(shape, *args, dt) (np.zeros / np.ones / np.empty / np.full ...) with torch's errors
    for sizes that overflow or memory that cannot be had (numpy: ValueError / MemoryError)."""
    n = 1
    for d in shape:
        n *= d
    nbytes = n * np.dtype(dt).itemsize
    if nbytes > _MAX_BYTES:
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(shape)}")
    try:
        return fill(shape, *args, dt)
    except (MemoryError, ValueError) as e:
        if isinstance(e, ValueError) and "too big" not in str(e):
            raise
        raise RuntimeError(f"DefaultCPUAllocator: can't allocate memory: you tried to allocate "
                           f"{nbytes} bytes. Error code 12 (Cannot allocate memory)") from None


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    _check_cpu(device)
    return _finish(_alloc(np.zeros, _size(size), _dt(dtype)), requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    _check_cpu(device)
    return _finish(_alloc(np.ones, _size(size), _dt(dtype)), requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, memory_format=None):
    _check_cpu(device)
    return _finish(_alloc(np.empty, _size(size), _dt(dtype)), requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    _check_cpu(device)
    if isinstance(size, numbers.Integral):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = _dtype.bool_
        elif isinstance(fill_value, numbers.Integral):
            dtype = _dtype.int64
        else:
            dtype = _dtype.get_default_dtype()
    return _finish(_alloc(np.full, _size((size,)), dtype.np, fill_value), requires_grad)


def _like(t, dtype):
    return (dtype or t.dtype).np


def zeros_like(t, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.zeros(t._data.shape, _like(t, dtype)), requires_grad)


def ones_like(t, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.ones(t._data.shape, _like(t, dtype)), requires_grad)


def empty_like(t, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.empty(t._data.shape, _like(t, dtype)), requires_grad)


def full_like(t, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return _finish(np.full(t._data.shape, fill_value, _like(t, dtype)), requires_grad)


def rand_like(t, *, dtype=None, requires_grad=False, generator=None):
    return rand(*t._data.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, generator=generator)


def randn_like(t, *, dtype=None, requires_grad=False, generator=None):
    return randn(*t._data.shape, dtype=dtype or t.dtype, requires_grad=requires_grad, generator=generator)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    _check_cpu(device)
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = _dtype.get_default_dtype() if any(isinstance(v, float) for v in vals) else _dtype.int64
    start, end, step = vals
    if (end - start) / step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = int(np.ceil((end - start) / step))
    # computed in double like torch, then cast
    arr = (start + step * np.arange(n, dtype=np.float64)).astype(dtype.np) if dtype.is_floating_point \
        else np.arange(start, end, step, dtype=dtype.np)
    return _finish(arr, requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    _check_cpu(device)
    dtype = dtype or _dtype.get_default_dtype()
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return _finish(_linspace(start, end, steps, dtype.np), requires_grad)


def _linspace(start, end, steps, dt):
    """torch's CPU algorithm: step = (end - start) / (steps - 1) in the tensor's dtype (double for
    integer dtypes); the first half is start + step * i, the second half end - step * (steps - 1 - i),
    each a fused multiply-add (a single rounding), so the values are bit-identical to torch's."""
    if steps == 0:
        return np.empty(0, dt)
    if steps == 1:
        return np.array([start], dtype=np.float64).astype(dt)
    ct = np.dtype(np.float32) if dt == np.float32 else np.dtype(np.float64)  # step's dtype
    s = ct.type(dt.type(start))  # start and end are first converted to the tensor's dtype
    e = ct.type(dt.type(end))
    step = (e - s) / ct.type(steps - 1)
    i = np.arange(steps, dtype=np.float64)
    lo = _fma(step, i, s, ct)
    hi = _fma(-step, steps - 1 - i, e, ct)
    return np.where(i < steps // 2, lo, hi).astype(ct).astype(dt)


def _fma(a, x, c, ct):
    """a * x + c with one rounding to ct (a, c scalars of dtype ct, x a float64 array of integers)."""
    if ct == np.float32:
        return np.float64(a) * x + np.float64(c)  # the product is exact in float64
    p = a * x  # Dekker's exact product and Knuth's two-sum, then one final rounding
    ah, al = _split(np.float64(a))
    xh, xl = _split(x)
    err = ((ah * xh - p) + ah * xl + al * xh) + al * xl
    s = p + c
    bb = s - p
    return s + (err + ((p - (s - bb)) + (c - bb)))


def _split(v):
    t = 134217729.0 * v  # 2**27 + 1
    hi = t - (t - v)
    return hi, v - hi


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False):
    _check_cpu(device)
    dt = dtype or _dtype.get_default_dtype()
    if not dt.is_floating_point:
        raise NotImplementedError(f'"check_uniform_bounds" not implemented for \'{_SCALAR_NAMES[dt.name]}\'')
    return _finish(_random.random_floats(_size(size), dt.np, generator).astype(dt.np, copy=False), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False):
    _check_cpu(device)
    dt = dtype or _dtype.get_default_dtype()
    if not dt.is_floating_point:
        raise NotImplementedError(f'"normal_kernel_cpu" not implemented for \'{_SCALAR_NAMES[dt.name]}\'')
    return _finish(_random.standard_normal(_size(size), dt.np, generator).astype(dt.np, copy=False), requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if high is None:
        low, high = 0, low
    dt = dtype or _dtype.int64
    return _finish(_random.integers(low, high, _size((size,)), generator).astype(dt.np), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    dt = dtype or _dtype.int64
    return _finish(_random.permutation(n, generator).astype(dt.np), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    return _finish(np.eye(n, m, dtype=_dt(dtype)), requires_grad)
