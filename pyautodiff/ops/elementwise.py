"""Elementwise arithmetic: add, sub, mul, div, neg, pow (+ reflected forms), exp, log, relu, casts.

Each op's forward and backward live in one Node subclass named as torch names its grad_fn.
Equal-shape float32/float64 contiguous work goes to the Cython kernels (pyautodiff._kernels);
everything else (broadcasting, integer dtypes, non-contiguous inputs) goes through numpy.
"""
import math

import numpy as np

from .._C import K, F
from .. import _layout
from . import fusion
from .fusion import FUSE_MIN, materialize as _m
from .._dtype import get_default_dtype, promote_types, int64 as _int64
from ..autograd.graph import Node, quiet
from ..tensor import Tensor

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_FLOATS = (_F32, _F64)


# ----------------------------------------------------------------------------- type promotion
def result_dtype(a, b):
    """torch's result type of a binary op: a is a Tensor, b a Tensor or a Python number."""
    da = a.dtype
    if isinstance(b, Tensor):
        db = b.dtype
        if da is db:
            return da
        a0 = a._raw.ndim == 0
        b0 = b._raw.ndim == 0
        if a0 == b0:
            return promote_types(da, db)
        dim_t, zero_t = (db, da) if a0 else (da, db)
        if zero_t._kind > dim_t._kind:
            return zero_t
        if zero_t._kind == dim_t._kind:
            return dim_t
        return dim_t
    if isinstance(b, bool):
        kind = 0
    elif isinstance(b, int):
        kind = 1
    elif isinstance(b, float):
        kind = 2
    else:
        raise TypeError(f"unsupported operand type: {type(b).__name__}")
    if kind > da._kind:
        return get_default_dtype() if kind == 2 else _int64
    return da


def _cast(x, npdt):
    if type(x) is np.ndarray:
        return x if x.dtype is npdt else x.astype(npdt)
    return x


def _result_like(operands, dtype):
    """An empty result laid out as torch's TensorIterator lays it out over `operands`, or None
    when C order does (they are all C-contiguous: the common case, checked first)."""
    arrs = [x for x in operands if type(x) is np.ndarray and x.ndim]
    if all(x.flags.c_contiguous for x in arrs):
        return None
    shape = np.broadcast_shapes(*[np.shape(x) for x in operands])
    if len(shape) < 2:
        return None
    return _layout.empty_strided(shape, dtype, _layout.iter_strides(shape, arrs))


def _ufunc(f, a, b, dt):
    out = _result_like((a, b), dt)  # (a strided operand: numpy's layout differs from torch's)
    with np.errstate(all="ignore"):  # x/0 -> inf, 0/0 -> nan, as torch, without numpy's warnings
        if out is not None and type(f) is np.ufunc:
            return f(_cast(a, dt), _cast(b, dt), out=out, casting="unsafe")
        r = f(_cast(a, dt), _cast(b, dt))
    if out is not None:
        out[...] = r
        return out
    if type(r) is not np.ndarray or r.dtype != dt:
        r = np.asarray(r, dtype=dt)
    return r


def _on_copies(kernel, like, *args):
    """`kernel(*args)` for strided float arrays the kernels refuse: run on C-contiguous copies, so
    every value gets the kernel's formula (x ** 0.5 is sqrt(x) there, as in torch, not pow), the
    result laid out like `like` (torch keeps a transpose's layout).  None if the kernel refuses."""
    r = kernel(*[x.copy() if type(x) is np.ndarray and not x.flags.c_contiguous else x for x in args])
    if r is None or r.shape == like.shape and like.flags.c_contiguous:
        return r
    out = _layout.empty_strided(like.shape, r.dtype, _layout.dense_strides(like))
    out[...] = r.reshape(like.shape)
    return out


def _check_broadcast(a, b):
    if type(b) is np.ndarray and a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            # torch's message names the first mismatching dimension from the right
            sa, sb = a.shape, b.shape
            n = max(len(sa), len(sb))
            pa = (1,) * (n - len(sa)) + sa
            pb = (1,) * (n - len(sb)) + sb
            for i in range(n - 1, -1, -1):
                if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                    break
            raise RuntimeError(
                f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                f"non-singleton dimension {i}") from None


def _fused(op_t, op_s, a, b, dt):
    """A Lazy chain for a large float tensor op (see ops/fusion.py), or None.
    op_t: opcode with a tensor operand b, op_s: with a Python-number operand (None: not fusable)."""
    if a.dtype is not dt:
        return None
    tb = type(b)
    if tb is float or tb is int or tb is bool:
        return None if op_s is None else fusion.unary(op_s, a, b)
    return None if op_t is None else fusion.binary(op_t, a, b)


def _binary(a, b, dt, kernel, kernel_scalar, ufunc):
    """Forward of a binary op on ndarrays (b may be a Python number).  The kernels' allocating
    calls return None for arrays they can't take (dtype, layout, sizes): then numpy does it."""
    if a.dtype is dt:
        if type(b) is np.ndarray:
            if kernel is not None and b.shape == a.shape:
                out = kernel(a, b)
                if out is not None:
                    return out
        elif kernel_scalar is not None:
            out = kernel_scalar(a, b)
            if out is not None:
                return out
    _check_broadcast(a, b)
    return _ufunc(ufunc, a, b, dt)


class AddBackward0(Node):
    shown_args = (0, 1)  # torch lists a Python-number operand as (None, 0)

    fuses = True

    def forward(self, a, b, dt, alpha=1):
        if a.size >= FUSE_MIN:
            if alpha == 1:
                r = _fused(F.ADD, F.ADD_C, a, b, dt)
                if r is not None:
                    return r
            a = _m(a)
            b = _m(b)
        elif alpha == 1 and a.dtype is dt:  # the common small case: one kernel call
            tb = type(b)
            out = K.add_scalar(a, b) if tb is float or tb is int else \
                K.add(a, b) if tb is np.ndarray and b.shape == a.shape else None
            if out is not None:
                return out
        if alpha != 1:
            self.alpha = alpha
            if type(b) is np.ndarray:
                if a.dtype is dt and b.shape == a.shape:
                    out = K.add_scaled(a, b, alpha)
                    if out is not None:
                        return out
                b = _cast(b, dt) * alpha
            else:
                b = b * alpha
        return _binary(a, b, dt, K.add, K.add_scalar, np.add)

    def backward(self, g):
        alpha = self.__dict__.get("alpha", 1)
        return g, (g if alpha == 1 else _m(g) * alpha), None, None


class SubBackward0(Node):
    shown_args = (0, 1)  # torch lists a Python-number operand as (None, 0)

    fuses = True

    def forward(self, a, b, dt, alpha=1):
        if a.size >= FUSE_MIN:
            if alpha == 1:
                tb = type(b)
                # x - s as x + (-s), with -s a float: (-0.0) - 0 stays -0.0 as in torch
                r = _fused(F.SUB, F.ADD_C, a, -float(b) if tb is float or tb is int or tb is bool else b, dt)
                if r is not None:
                    return r
            a = _m(a)
            b = _m(b)
        if alpha != 1:
            self.alpha = alpha
            b = _cast(b, dt) * alpha
        if type(b) is not np.ndarray:
            return _binary(a, -float(b), dt, None, K.add_scalar, np.add) if dt in _FLOATS \
                else _ufunc(np.subtract, a, b, dt)
        return _binary(a, b, dt, K.sub, None, np.subtract)

    def backward(self, g):
        alpha = self.__dict__.get("alpha", 1)
        return g, -alpha * _m(g) if alpha != 1 else _neg(g), None, None


class RsubBackward1(Node):
    """scalar - tensor"""
    fuses = True

    def forward(self, a, s, dt):
        if a.size >= FUSE_MIN:
            r = _fused(None, F.RSUB_C, a, s, dt)
            if r is not None:
                return r
            a = _m(a)
        return _binary(a, s, dt, None, K.rsub_scalar, lambda x, y: np.subtract(y, x))

    def backward(self, g):
        return _neg(g), None, None


class MulBackward0(Node):
    shown_args = (0, 1)  # torch lists a Python-number operand as (None, 0)

    fuses = True

    def forward(self, a, b, dt):
        if type(b) is np.ndarray or type(b) is fusion.Lazy:
            self.save(a, b)
        else:
            self.save(b)  # saved (and freed) like torch's wrapped scalar: a 2nd backward raises
        if a.size >= FUSE_MIN:
            r = _fused(F.MUL, F.MUL_C, a, b, dt)
            if r is not None:
                return r
            a = _m(a)
            b = _m(b)
        elif a.dtype is dt:  # the common small case: one kernel call
            tb = type(b)
            out = K.mul_scalar(a, b) if tb is float or tb is int else \
                K.mul(a, b) if tb is np.ndarray and b.shape == a.shape else None
            if out is not None:
                return out
        return _binary(a, b, dt, K.mul, K.mul_scalar, np.multiply)

    def backward(self, g):
        saved = self.saved
        if len(saved) == 1:  # tensor * scalar
            return _scale(g, saved[0]), None, None
        a, b = saved
        return _mul_grad(g, b), _mul_grad(g, a), None


_SMALL = 4096  # elements: below this a one-value gradient is stored densely (kernels take it as is)


def expand_scalar(v, shape, dtype, fresh=False):
    """A gradient that is the one value `v` everywhere in `shape`: dense when small, a zero-stride
    view when large (no memory; fused chains and the broadcast-aware backward take it so).
    fresh: v is a 0-d array of `dtype` no one else holds (the view may share its memory)."""
    if not shape:
        return v if fresh else np.array(v, dtype)
    n = 1
    for d in shape:
        n *= d
    if n <= _SMALL:
        out = np.empty(shape, dtype)
        out.fill(v)
        return out
    return K.expand(v if fresh else np.array(v, dtype), shape)


def _bscalar(g):
    """The single value of a broadcast scalar gradient (e.g. from mean/sum), or None.
    Such gradients stay broadcast views: numpy is slow on them and they need no memory."""
    if type(g) is np.ndarray and g.ndim and not any(g.strides) and g.size:
        return g[(0,) * g.ndim]
    return None


def _dense(g):
    """g as a C-contiguous array the kernels take (a broadcast scalar is filled in one pass)."""
    v = _bscalar(g)
    if v is None:
        return g
    out = np.empty(g.shape, g.dtype)
    if K.fill(v, out, False) is None:
        out[...] = v
    return out


def _scale(g, s):
    if g.size < FUSE_MIN:
        out = K.scale(g, s)  # None for a broadcast (zero-stride) g
        if out is not None:
            return out
    v = K.bscalar(g)
    if v is not None:  # one value everywhere: scaled once, still broadcast
        out = K.scale(v, s)
        if out is not None:
            return K.expand(out, g.shape)
    v = _bscalar(g)
    if v is not None:
        return expand_scalar(np.multiply(v, s, dtype=g.dtype), g.shape, g.dtype)
    if g.size >= FUSE_MIN:
        r = fusion.unary(F.MUL_C, g, s)
        if r is not None:
            return r
        g = _m(g)
    out = K.scale(g, s)
    return g * s if out is None else out


def _mul_grad(g, other):
    if g.size >= FUSE_MIN:
        r = fusion.binary(F.MUL, g, other)
        if r is not None:
            return r
        g = _m(g)
        other = _m(other)
    if g.shape == other.shape:
        out = K.mul_backward(g, other)
        if out is None:
            g = _dense(g)  # a broadcast scalar g: filled once, then the kernel
            out = K.mul_backward(g, other)
        if out is not None:
            return out
    return g * other


def _neg(g):
    if g.size < FUSE_MIN:
        out = K.neg(g)
        if out is not None:
            return out
    v = _bscalar(g)
    if v is not None:
        return expand_scalar(-v, g.shape, g.dtype)
    if g.size >= FUSE_MIN:
        r = fusion.unary(F.NEG, g)
        if r is not None:
            return r
        g = _m(g)
    out = K.neg(g)
    return -g if out is None else out


class DivBackward0(Node):
    shown_args = (0, 1)  # torch lists a Python-number operand as (None, 0)

    fuses = True

    def forward(self, a, b, dt):
        tensor_b = type(b) is np.ndarray or type(b) is fusion.Lazy
        if tensor_b:
            self.save(a, b)
        else:
            self.save(b)  # saved (and freed) like torch's wrapped scalar: a 2nd backward raises
        if a.size >= FUSE_MIN:
            r = _fused(F.DIV, F.DIV_C, a, b, dt)
            if r is not None:
                return r
            a = _m(a)
            b = _m(b)
        if tensor_b:
            return _binary(a, b, dt, K.div, None, np.true_divide)
        # tensor / scalar: a true division by the scalar, as torch (not a multiplication by 1/s)
        if a.dtype is dt:
            out = K.div_scalar(a, b)
            if out is not None:
                return out
        return _ufunc(np.true_divide, a, b, dt)

    def backward(self, g):
        saved = self.saved
        if len(saved) == 1:
            if g.size >= FUSE_MIN:
                r = fusion.unary(F.DIV_C, g, saved[0])
                if r is not None:
                    return r, None, None
            g = _m(g)
            v = _bscalar(g)
            if v is not None:
                return expand_scalar(np.true_divide(v, saved[0], dtype=g.dtype), g.shape, g.dtype), None, None
            out = K.div_scalar_backward(g, saved[0])
            if out is None:
                with np.errstate(all="ignore"):
                    out = g / saved[0]
            return out, None, None
        g = _dense(_m(g))
        a, b = _m(saved[0]), _m(saved[1])
        ga = gb = None
        with np.errstate(all="ignore"):  # x / 0 -> inf, as torch, without numpy's warnings
            if self.needs_input_grad(0):
                ga = g / b
            if self.needs_input_grad(1):
                if g.shape == a.shape == b.shape:
                    gb = K.div_backward_b(g, a, b)
                if gb is None:
                    gb = -g * ((a / b) / b)
        return ga, gb, None


@quiet
class ReciprocalBackward0(Node):
    def forward(self, a):
        out = np.reciprocal(a)
        self.save(out)
        return out

    def backward(self, g):
        (y,) = self.saved
        return -g * y * y


class NegBackward0(Node):
    fuses = True

    def forward(self, a):
        if a.size >= FUSE_MIN:
            r = fusion.unary(F.NEG, a)
            if r is not None:
                return r
            a = _m(a)
        out = K.neg(a)
        if out is not None:
            return out
        if a.dtype == np.bool_:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. "
                               "If you are trying to invert a mask, use the `~` or `logical_not()` "
                               "operator instead.")
        return np.negative(a)

    def backward(self, g):
        return _neg(g)


class PowBackward0(Node):
    """tensor ** scalar"""
    fuses = True

    def forward(self, a, e, dt):
        self.e = e
        self.save(a)
        if a.size >= FUSE_MIN:
            r = _fused(None, F.POW_C, a, e, dt)
            if r is not None:
                return r
            a = _m(a)
        if a.dtype is dt:
            out = K.pow_scalar(a, e)
            if out is None and dt.kind == "f":
                out = _on_copies(K.pow_scalar, a, a, e)
            if out is not None:
                return out
        if dt.kind in "iub" and isinstance(e, int) and e < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        return _ufunc(np.power, a, e, dt)

    def backward(self, g):
        (x,) = self.saved
        e = self.e
        if g.size >= FUSE_MIN:
            r = fusion.binary(F.POW_C_BW, g, x, e)
            if r is not None:
                return r, None, None
            g = _m(g)
            x = _m(x)
        if g.shape == x.shape:
            out = K.pow_scalar_backward(g, x, e)
            if out is None:
                v = K.bscalar(g)  # a broadcast one-value gradient: the kernel reads the value
                if v is not None:
                    out = K.pow_scalar_backward(v, x, e)
            if out is None and g.dtype is x.dtype and g.dtype.kind == "f":
                out = _on_copies(K.pow_scalar_backward, x, g, x, e)
            if out is not None:
                return out, None, None
        if e == 0:
            return np.zeros_like(g), None, None
        with np.errstate(all="ignore"):  # 0 ** negative -> inf, as torch, without warnings
            return g * e * np.power(x, e - 1), None, None


def _power(a, b, dtype=None, out=None, **kw):
    """np.power, with torch's integer powers for negative integer exponents (numpy raises):
    1 ** -n = 1, (-1) ** -n = +-1, anything else ** -n = 0 (truncated)."""
    if dtype is not None:
        kw["dtype"] = dtype
    if np.result_type(a, b).kind not in "iu":
        return np.power(a, b, **kw)
    neg = np.less(b, 0)
    if not np.any(neg):
        return np.power(a, b, **kw)
    r = np.power(a, np.where(neg, 0, b), **kw)
    odd = np.bitwise_and(b, 1).astype(bool)
    small = np.where(np.equal(a, 1), 1, np.where(np.equal(a, -1), np.where(odd, -1, 1), 0))
    return np.where(neg, small, r).astype(r.dtype, copy=False)


class PowBackward1(Node):
    """tensor ** tensor"""
    def forward(self, a, b, dt):
        out = _binary(a, b, dt, K.pow, None, _power)
        self.save(a, b, out)
        return out

    def backward(self, g):
        a, b, y = self.saved
        ga = gb = None
        dt = y.dtype
        if self.needs_input_grad(0) and b.dtype == np.bool_:
            # torch's formula computes `exponent - 1` on the bool tensor, and fails there
            raise RuntimeError(_BOOL_SUB_MSG)
        # torch computes `exponent - 1` in the exponent's own dtype (float32 rounding even when
        # the result is float64), then promotes
        bm1 = _cast(b - b.dtype.type(1), dt) if self.needs_input_grad(0) else None
        a = _cast(a, dt)
        b = _cast(b, dt)
        if self.needs_input_grad(0):
            with np.errstate(all="ignore"):
                ga = np.where(b == 0, 0.0, g * b * np.power(a, bm1)).astype(dt, copy=False)
        if self.needs_input_grad(1):
            with np.errstate(all="ignore"):
                # torch: grad * where(x == 0 & e >= 0, 0, y * log(x)) (a negative grad gives -0.0)
                gb = (g * np.where((a == 0) & (b >= 0), 0.0, y * np.log(a))).astype(dt, copy=False)
        return ga, gb, None


class PowBackward2(Node):
    """scalar ** tensor"""
    fuses = True

    def forward(self, base, a, dt):
        self.log_base = math.log(base) if base > 0 else (float("-inf") if base == 0 else float("nan"))
        if a.size >= FUSE_MIN:
            if self.log_base > float("-inf"):
                r = _fused(None, F.RPOW_C, a, base, dt)
                if r is not None:
                    self.save(r)
                    return r
            a = _m(a)
        out = K.rpow_scalar(base, a) if a.dtype is dt else None
        if out is None:
            out = np.asarray(_power(dt.type(base), _cast(a, dt)), dtype=dt)
        self.save(out)
        return out

    def backward(self, g):
        (y,) = self.saved
        if g.size >= FUSE_MIN and self.log_base > float("-inf"):
            r = fusion.binary(F.MUL, g, y)
            r = None if r is None else fusion.unary(F.MUL_C, r, self.log_base)
            if r is not None:
                return None, r, None
        g = _m(g)
        y = _m(y)
        with np.errstate(all="ignore"):
            if self.log_base == float("-inf"):
                # base 0: torch's factor is 0 where exponent >= 0 (y <= 1), then times grad (so
                # an infinite grad gives nan there)
                gb = g * np.where(y <= 1, y.dtype.type(0), y * y.dtype.type(self.log_base))
            else:
                gb = g * y * y.dtype.type(self.log_base)
        return None, gb, None


class ExpBackward0(Node):
    def forward(self, a):
        out = np.exp(a)
        self.save(out)
        return out

    def backward(self, g):
        (y,) = self.saved
        return g * y


class LogBackward0(Node):
    def forward(self, a):
        self.save(a)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(a)

    def backward(self, g):
        (x,) = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / x


class ReluBackward0(Node):
    fuses = True

    def forward(self, a):
        if a.size >= FUSE_MIN:
            r = fusion.unary(F.RELU, a)
            if r is not None:
                self.save(r)
                return r
            a = _m(a)
        out = K.relu(a)
        if out is None:  # (as the kernel: nan and -0.0 kept)
            out = np.where(a < 0, a.dtype.type(0), a)
        self.save(out)
        return out

    def backward(self, g):
        (y,) = self.saved
        if g.size >= FUSE_MIN:
            r = fusion.binary(F.RELU_BW, g, y)
            if r is not None:
                return r
            g = _m(g)
            y = _m(y)
        g = _dense(g)
        out = K.relu_backward(g, y) if g.shape == y.shape else None
        if out is None:
            out = np.where(y <= 0, g.dtype.type(0), g)  # (a nan passes the gradient, as torch)
        return out


class CloneBackward0(Node):
    def forward(self, a, order="K"):
        if order == "C" or a.flags.c_contiguous and 1 not in a.shape:
            return a.copy()
        # (numpy calls an array with odd strides on its size-1 dims contiguous: torch keeps them)
        # torch's preserve_format: the strides of a (non-overlapping, dense) transpose are kept
        return _layout.copy_like(a)

    def backward(self, g):
        return g


class ToCopyBackward0(Node):
    def forward(self, a, npdt):
        if a.flags.c_contiguous or not a.ndim:
            return a.astype(npdt)
        return _layout.copy_like(a, npdt)  # preserve_format, as clone

    def backward(self, g):
        return g, None  # the engine casts back to the input's dtype


# ----------------------------------------------------------------------------- public functions
def _as_tensor_operand(x):
    """The second operand of a binary op: a Tensor or a Python number (numpy scalars become
    numbers, numpy arrays tensors); anything else is a TypeError, as in torch."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, (bool, int, float)):
        return x
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x.item()
    if isinstance(x, np.ndarray):
        from ..creation import tensor
        return tensor(x)
    raise TypeError(f"unsupported operand type(s): 'Tensor' and '{type(x).__name__}'")


def _operands(a, b):
    """(tensor, operand, numpy result dtype); fast paths for the common cases come first."""
    da = a._raw.dtype
    tb = type(b)
    if tb is float:
        return b, (da if da.kind == "f" else get_default_dtype().np)
    if tb is int:
        return b, (da if da.kind != "b" else _I64)
    if tb is Tensor:
        if b._raw.dtype is da:
            return b, da
    else:
        b = _as_tensor_operand(b)
    return b, result_dtype(a, b).np


_I64 = np.dtype(np.int64)


def add(a, b, *, alpha=1):
    if not isinstance(a, Tensor):
        a, b = b, a  # scalar + tensor
    da = a._raw.dtype
    tb = type(b)
    if (tb is float or tb is int) and da.kind == "f" or tb is Tensor and b._raw.dtype is da:
        return AddBackward0.apply(a, b, da) if alpha == 1 else AddBackward0.apply(a, b, da, alpha)
    b, dt = _operands(a, b)
    if alpha != 1:
        return AddBackward0.apply(a, b, dt, alpha)
    return AddBackward0.apply(a, b, dt)


def sub(a, b, *, alpha=1):
    if not isinstance(a, Tensor):
        return rsub(b, a, alpha=alpha)
    b = _as_tensor_operand(b)
    _check_bool_sub(a, b)
    dt = result_dtype(a, b)
    if alpha != 1:
        return SubBackward0.apply(a, b, dt.np, alpha)
    return SubBackward0.apply(a, b, dt.np)


def _check_bool_sub(a, b):
    """torch refuses any subtraction with a bool operand (a is a Tensor, b a Tensor or a number)."""
    ab = a._raw.dtype.kind == "b"
    bb = b._raw.dtype.kind == "b" if isinstance(b, Tensor) else isinstance(b, bool)
    if ab and bb and isinstance(b, Tensor):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if ab or bb:
        raise RuntimeError(_BOOL_SUB_MSG)


_BOOL_SUB_MSG = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                 "to invert a mask, use the `~` or `logical_not()` operator instead.")


def rsub(a, b, *, alpha=1):
    """b - alpha * a, with a a Tensor (torch.rsub)."""
    b = _as_tensor_operand(b)
    if isinstance(b, Tensor):
        return sub(b, a, alpha=alpha)
    _check_bool_sub(a, b)
    if alpha != 1:
        a = mul(a, alpha)
    return RsubBackward1.apply(a, b, result_dtype(a, b).np)


def mul(a, b):
    if not isinstance(a, Tensor):
        a, b = b, a
    da = a._raw.dtype
    tb = type(b)
    if (tb is float or tb is int) and da.kind == "f" or tb is Tensor and b._raw.dtype is da:
        return MulBackward0.apply(a, b, da)
    b, dt = _operands(a, b)
    return MulBackward0.apply(a, b, dt)


def _true_div_dtype(a, b):
    dt = result_dtype(a, b)
    if not dt.is_floating_point:
        dt = get_default_dtype()
    return dt


def div(a, b, *, rounding_mode=None):
    if not isinstance(a, Tensor):
        return rdiv(b, a)
    b = _as_tensor_operand(b)
    if rounding_mode is not None:
        from ..tensor import _from_array
        bd = b._data if isinstance(b, Tensor) else b
        with np.errstate(divide="ignore", invalid="ignore"):
            if rounding_mode == "floor":
                r = np.floor_divide(a._data, bd)
            elif rounding_mode == "trunc":
                r = np.trunc(np.true_divide(a._data, bd)).astype(result_dtype(a, b).np)
            else:
                raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
        return _from_array(np.asarray(r, dtype=result_dtype(a, b).np))
    return DivBackward0.apply(a, b, _true_div_dtype(a, b).np)


def rdiv(a, s):
    """s / a for a Tensor a: torch computes it as reciprocal(a) * s (grad_fn MulBackward0)."""
    s = _as_tensor_operand(s)
    if isinstance(s, Tensor):
        return div(s, a)
    if not a.dtype.is_floating_point:
        a = to_dtype(a, get_default_dtype())
    return mul(ReciprocalBackward0.apply(a), s)


def neg(a):
    return NegBackward0.apply(a)


def pow(a, e):
    if not isinstance(a, Tensor):
        base = a
        e = _as_tensor_operand(e)
        dt = result_dtype(e, base)
        return PowBackward2.apply(base, e, dt.np)
    e, dt = _operands(a, e)
    if isinstance(e, Tensor):
        if dt.kind == "b":  # bool ** bool: torch has no such kernel (shapes are checked first)
            _check_broadcast(a._raw, e._raw)
            raise NotImplementedError('"pow" not implemented for \'Bool\'')
        return PowBackward1.apply(a, e, dt)
    return PowBackward0.apply(a, e, dt)


def _unary_float(a):
    if not a.dtype.is_floating_point:
        return to_dtype(a, get_default_dtype())
    return a


def exp(a):
    return ExpBackward0.apply(_unary_float(a))


def log(a):
    return LogBackward0.apply(_unary_float(a))


def relu(a):
    if a._raw.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    return ReluBackward0.apply(a)


def clone(a, *, memory_format=None):
    if memory_format is None or memory_format is preserve_format:
        return CloneBackward0.apply(a)
    if memory_format is not contiguous_format:
        raise RuntimeError(f"clone: unsupported memory format {memory_format} (pyautodiff has "
                           "preserve_format and contiguous_format)")
    return CloneBackward0.apply(a, "C")


class memory_format:
    """torch.memory_format: how clone() lays its result out."""
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


preserve_format = memory_format("preserve_format")
contiguous_format = memory_format("contiguous_format")


def to_dtype(a, dtype, copy=False):
    if a.dtype is dtype and not copy:
        return a
    return ToCopyBackward0.apply(a, dtype.np)
