"""Differentiable ops for neural networks, and the tensor ops a real model needs beyond the core:

softmax / log_softmax, nll_loss / cross_entropy, mse / l1 / bce / bce-with-logits losses, dropout,
one_hot, max / min / argmax / argmin / amax / amin (over dims, with the values/indices named tuple),
var / std, clamp, maximum / minimum, where, cat / stack, abs / sqrt / tanh / sigmoid,
squeeze / unsqueeze / flatten / transpose / permute / expand, addmm (and the fused nn.Linear addmm).

Every op is one Node subclass named as torch names its grad_fn.  Forward and backward work on numpy
arrays; BLAS work (addmm) goes through numpy's matmul.
"""
import builtins
import math
import warnings

import numpy as np

from .. import _dtype
from .._C import K as _K
from ..autograd.graph import Node, quiet
from ..tensor import Tensor, Size, _wrap_dim
from . import shape as _shape
from .elementwise import result_dtype, mul as _mul, sub as _sub, to_dtype as _to_dtype
from .elementwise import exp as _ew_exp, log as _ew_log, relu as _ew_relu
from .reduction import sum as _sum, mean as _mean

__all__ = [
    "softmax", "log_softmax", "max", "min", "argmax", "argmin", "amax", "amin", "var", "std",
    "clamp", "clip", "clamp_min", "clamp_max", "maximum", "minimum", "where", "cat", "concat",
    "concatenate", "stack", "abs", "absolute", "sqrt", "tanh", "sigmoid", "squeeze", "unsqueeze",
    "flatten", "swapaxes", "swapdims", "expand_copy", "addmm", "dropout", "square", "rsqrt",
    "logsumexp", "return_types", "layer_norm", "batch_norm", "embedding", "erf",
]

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_wrap = Tensor._wrap


def _np_float(a):
    """Accumulation dtype for reductions whose result should be (nearly) correctly rounded."""
    return _F64 if a.dtype == _F32 else a.dtype


def _tname(dt):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "int16": "Short",
            "int8": "Char", "uint8": "Byte", "bool": "Bool", "float16": "Half"}.get(dt.name, dt.name)


def _float_input(t, opname):
    if not t.dtype.is_floating_point:
        raise NotImplementedError(f'"{opname}" not implemented for \'{_tname(t.dtype)}\'')
    return t


def _as_tensor(x, like=None):
    if isinstance(x, Tensor):
        return x
    from ..creation import tensor
    if like is not None and isinstance(x, (int, float, bool)):
        return tensor(x, dtype=result_dtype(like, x))
    return tensor(x)


# ============================================================================= return types
from .. import return_types  # noqa: E402  (torch.return_types: max/min/... results)


# ============================================================================= activations
class SoftmaxBackward0(Node):
    def forward(self, a, dim):
        self.dim = dim
        a = a if a.flags.c_contiguous else a.copy()  # torch computes on a contiguous copy
        m = a.max(axis=dim, keepdims=True, initial=-np.inf)  # (initial: an empty dim)
        with np.errstate(invalid="ignore"):  # (inf - inf: nan, as torch, without a warning)
            e = np.exp(a - m)
            e /= e.sum(axis=dim, keepdims=True)
        self.save(e)
        return e

    def backward(self, g):
        (y,) = self.saved
        gy = g * y
        gy -= y * gy.sum(axis=self.dim, keepdims=True)
        return gy, None


class LogSoftmaxBackward0(Node):
    def forward(self, a, dim):
        self.dim = dim
        a = a if a.flags.c_contiguous else a.copy()  # (as softmax: a contiguous result)
        # (inf - inf: nan, and log(0) of an empty dim, as torch, without numpy's warnings)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = a - np.maximum.reduce(a, axis=dim, keepdims=True, initial=-np.inf)
            s -= np.log(np.add.reduce(np.exp(s), axis=dim, keepdims=True))
        self.save(s)
        return s

    def backward(self, g):
        (y,) = self.saved
        return g - np.exp(y) * g.sum(axis=self.dim, keepdims=True), None


def _softmax_dim(ndim):
    warnings.warn("Implicit dimension choice for softmax has been deprecated. Change the call to include "
                  "dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


def _prep_softmax(input, dim, dtype, name):
    if dtype is not None:
        input = _to_dtype(input, dtype)
    nd = input._data.ndim
    if dim is None:
        dim = _softmax_dim(nd)
    dim = _wrap_dim(dim, nd)
    if not input.dtype.is_floating_point and input._data.size:  # (empty: no kernel runs)
        kernel = f"{name}_lastdim_kernel_impl" if dim == nd - 1 or nd <= 1 else f"{name}_kernel_impl"
        raise NotImplementedError(f'"{kernel}" not implemented for \'{_tname(input.dtype)}\'')
    return input, dim


def _empty_softmax(input):
    """softmax of an empty integer tensor: torch returns it empty, in its dtype"""
    return _wrap(np.empty(input._data.shape, input._data.dtype))


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _prep_softmax(input, dim, dtype, "softmax")
    if not input.dtype.is_floating_point:
        return _empty_softmax(input)
    if input._data.ndim == 0:
        return SoftmaxBackward0.apply(input, None)
    return SoftmaxBackward0.apply(input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    input, dim = _prep_softmax(input, dim, dtype, "log_softmax")
    if not input.dtype.is_floating_point:
        return _empty_softmax(input)
    if input._data.ndim == 0:
        return LogSoftmaxBackward0.apply(input, None)
    return LogSoftmaxBackward0.apply(input, dim)


class TanhBackward0(Node):
    def forward(self, a):
        y = np.tanh(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g * (1 - y * y)


class SigmoidBackward0(Node):
    def forward(self, a):
        # stable for large |a|: exp of a non-positive number only
        with np.errstate(over="ignore"):
            y = 1 / (1 + np.exp(-a))
        y = y.astype(a.dtype, copy=False)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g * (1 - y) * y


class AbsBackward0(Node):
    def forward(self, a):
        self.save(a)
        return np.abs(a)

    def backward(self, g):
        (x,) = self.saved
        # torch's sgn: 0 at nan (np.sign gives nan there)
        return g * ((x > 0).astype(g.dtype) - (x < 0).astype(g.dtype))


class FillBackward2(Node):
    """t.fill_(number) with autograd: the values no longer depend on t's history."""

    def forward(self, a, value):
        return np.full(a.shape, value, dtype=a.dtype)

    def backward(self, g):
        return np.zeros_like(g), None


class CopyBackwards(Node):
    """t.copy_(src) with autograd: t's values become src's (broadcast and cast to t's dtype), so
    the gradient goes to src (summed back to its shape by the engine) and none to t's history."""

    def forward(self, a, src):
        out = np.empty(a.shape, a.dtype)
        np.copyto(out, src, casting="unsafe")
        return out

    def backward(self, g):
        return np.zeros_like(g), g


class UniformBackward0(Node):
    """t.uniform_() / t.normal_() with autograd (the values are given): the new values do not
    depend on t's history, so its gradient is zero (torch's UniformBackward0 / NormalBackward0)."""

    def forward(self, a, values):
        return values

    def backward(self, g):
        return np.zeros_like(g), None


class NormalBackward0(UniformBackward0):
    pass


class ZeroBackward0(Node):
    """t.zero_() with autograd."""

    def forward(self, a):
        return np.zeros(a.shape, dtype=a.dtype)

    def backward(self, g):
        return np.zeros_like(g)


class SqrtBackward0(Node):
    def forward(self, a):
        with np.errstate(invalid="ignore"):
            y = np.sqrt(a)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        with np.errstate(divide="ignore", invalid="ignore"):
            return g / (2 * y)


@quiet
class RsqrtBackward0(Node):
    def forward(self, a):
        y = (1 / np.sqrt(a)).astype(a.dtype, copy=False)
        self.save(y)
        return y

    def backward(self, g):
        (y,) = self.saved
        return g * (-0.5 * y * y * y).astype(g.dtype, copy=False)


class LeakyReluBackward0(Node):
    def forward(self, a, slope):
        self.save(a)
        self.slope = slope
        return np.where(a > 0, a, a * a.dtype.type(slope)).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved
        return np.where(a > 0, g, g * g.dtype.type(self.slope)).astype(g.dtype, copy=False), None


class HardtanhBackward0(Node):
    def forward(self, a, lo, hi):
        self.save(a)
        self.lo, self.hi = lo, hi
        return np.minimum(np.maximum(a, a.dtype.type(lo)), a.dtype.type(hi))

    def backward(self, g):
        (a,) = self.saved
        # torch's vectorized loop: grad where min < x < max, else 0 (so 0 at a nan; its scalar
        # loop, which takes the last few elements, passes a nan's gradient instead)
        return np.where((a > self.lo) & (a < self.hi), g, g.dtype.type(0)), None, None


def leaky_relu(input, negative_slope=0.01):
    return LeakyReluBackward0.apply(input, negative_slope)


def hardtanh(input, min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return HardtanhBackward0.apply(input, min_val, max_val)


@quiet
class SiluBackward0(Node):
    def forward(self, a):
        self.save(a)
        sig = (1 / (1 + np.exp(-a))).astype(a.dtype, copy=False)
        self.sig = sig
        return a * sig

    def backward(self, g):
        (a,) = self.saved
        sig = self.sig
        return g * sig * (1 + a * (1 - sig))


class SoftplusBackward0(Node):
    def forward(self, a, beta, threshold):
        self.save(a)
        self.beta, self.threshold = beta, threshold
        z = a * a.dtype.type(beta)
        with np.errstate(over="ignore"):
            sp = (np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))) / a.dtype.type(beta)
        return np.where(z > threshold, a, sp).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved
        z = a * a.dtype.type(self.beta)
        with np.errstate(over="ignore"):
            sig = 1 / (1 + np.exp(-z))
        return np.where(z > self.threshold, g, g * sig).astype(g.dtype, copy=False), None, None


class EluBackward0(Node):
    def forward(self, a, alpha):
        self.save(a)
        self.alpha = alpha
        # torch: x <= 0 ? alpha * expm1(x) : x (so -0.0 -> -0.0, nan -> nan); z keeps the unused
        # branch from overflowing
        z = np.where(a <= 0, a, 0)
        return np.where(a <= 0, a.dtype.type(alpha) * np.expm1(z), a).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved
        # torch's vectorized loop: x > 0 ? grad : grad * alpha * exp(x) (nan at a nan)
        return np.where(a > 0, g, g * g.dtype.type(self.alpha) * np.exp(np.minimum(a, 0))).astype(
            g.dtype, copy=False), None


class LogSigmoidBackward0(Node):
    def forward(self, a):
        self.save(a)
        return (np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))).astype(a.dtype, copy=False)

    def backward(self, g):
        (a,) = self.saved
        with np.errstate(over="ignore"):
            return (g * (1 - 1 / (1 + np.exp(-a)))).astype(g.dtype, copy=False)


@quiet
class ErfBackward0(Node):
    def forward(self, a):
        self.save(a)
        out = _K.erf(a)
        return out if out is not None else np.vectorize(math.erf, otypes=[a.dtype])(a)

    def backward(self, g):
        (x,) = self.saved
        t = x.dtype.type
        return g * (t(2 / math.sqrt(math.pi)) * np.exp(-(x * x)))


def erf(input):
    if not input.dtype.is_floating_point:
        input = _to_dtype(input, _dtype.get_default_dtype())
    return ErfBackward0.apply(input)


def _erf_array(a):
    out = _K.erf(a)
    return out if out is not None else np.vectorize(math.erf, otypes=[a.dtype])(a)


@quiet
class GeluBackward0(Node):
    """torch's gelu formulas, operation by operation (exact erf form, or the tanh approximation)."""
    def forward(self, x, approximate):
        self.save(x)
        self.approximate = approximate
        t = x.dtype.type
        if approximate == "tanh":
            inner = t(math.sqrt(2) * (2 / math.sqrt(math.pi)) * 0.5) * (x + t(0.044715) * (x * x * x))
            return t(0.5) * x * (t(1) + np.tanh(inner))
        return x * t(0.5) * (t(1) + _erf_array(x * t(math.sqrt(0.5))))

    def backward(self, g):
        (x,) = self.saved
        t = x.dtype.type
        if self.approximate == "tanh":
            beta = t(math.sqrt(2) * (2 / math.sqrt(math.pi)) * 0.5)
            kappa = t(0.044715)
            x_sq = x * x
            tanh_inner = np.tanh(beta * (x + kappa * (x_sq * x)))
            left = t(0.5) * x
            right = t(1) + tanh_inner
            right_derivative = left * (t(1) - tanh_inner * tanh_inner) * (beta * (t(1) + t(3) * kappa * x_sq))
            return g * (t(0.5) * right + right_derivative), None
        cdf = t(0.5) * (t(1) + _erf_array(x * t(math.sqrt(0.5))))
        pdf = t((2 / math.sqrt(math.pi)) * math.sqrt(0.5) * 0.5) * np.exp(x * x * t(-0.5))
        return g * (cdf + x * pdf), None


def gelu(input, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh.")
    return GeluBackward0.apply(input, approximate)


def silu(input, inplace=False):
    return SiluBackward0.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    return SoftplusBackward0.apply(input, beta, threshold)


def elu(input, alpha=1.0, inplace=False):
    return EluBackward0.apply(input, alpha)


def logsigmoid(input):
    return LogSigmoidBackward0.apply(input)


class EmbeddingBackward0(Node):
    def forward(self, weight, idx, padding_idx):
        self.idx = idx
        self.wshape = weight.shape
        self.padding_idx = padding_idx
        return weight[idx]

    def backward(self, g):
        gw = np.zeros(self.wshape, dtype=g.dtype)
        np.add.at(gw, self.idx.reshape(-1), g.reshape(-1, self.wshape[1]))
        if self.padding_idx is not None:
            gw[self.padding_idx] = 0
        return gw, None, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    if input.dtype not in (_dtype.int64, _dtype.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got torch.{input.type().split('.')[-1]} instead (while checking "
                           "arguments for embedding)")
    idx = input._data
    n = weight._data.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError("index out of range in self")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if max_norm is not None:
        from ..autograd.grad_mode import no_grad
        with no_grad():
            w = weight._data
            rows = np.unique(idx.reshape(-1))
            norms = np.linalg.norm(w[rows].astype(np.float64), ord=norm_type, axis=1)
            scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            w[rows] = (w[rows] * scale[:, None]).astype(w.dtype)
            weight._version[0] += 1
    return EmbeddingBackward0.apply(weight, np.asarray(idx, dtype=np.int64), padding_idx)


class NativeLayerNormBackward0(Node):
    """layer_norm over the trailing dims `axes`, with optional affine weight/bias (shaped like those dims)."""
    def forward(self, x, axes, weight, bias, eps):
        self.axes = axes
        acc = x.astype(_np_float(x), copy=False)
        mean = acc.mean(axis=axes, keepdims=True)
        c = acc - mean
        var = (c * c).mean(axis=axes, keepdims=True)
        rstd = 1 / np.sqrt(var + eps)
        xhat = (c * rstd).astype(x.dtype, copy=False)
        self.save(xhat, weight)
        self.rstd = rstd.astype(x.dtype, copy=False)
        out = xhat
        if weight is not None:
            out = out * weight
        if bias is not None:
            out = out + bias
        return out if out is not xhat else xhat.copy()

    def backward(self, g):
        xhat, w = self.saved
        axes = self.axes
        gw = gb = None
        red = tuple(range(g.ndim - len(axes)))
        if w is not None and self.needs_input_grad(2):
            gw = (g * xhat).sum(axis=red) if red else g * xhat
        if self.needs_input_grad(3):
            gb = g.sum(axis=red) if red else g.copy()
        gx = None
        if self.needs_input_grad(0):
            gxh = g * w if w is not None else g
            n = 1
            for a in axes:
                n *= g.shape[a]
            m1 = gxh.mean(axis=axes, keepdims=True)
            m2 = (gxh * xhat).mean(axis=axes, keepdims=True)
            gx = (self.rstd * (gxh - m1 - xhat * m2)).astype(g.dtype, copy=False)
        return gx, None, gw, gb, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    x = input._data
    k = len(normalized_shape)
    if x.shape[x.ndim - k:] != normalized_shape or k == 0:
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in normalized_shape)}], but got input of size"
                           f"{list(x.shape)}")
    axes = tuple(range(x.ndim - k, x.ndim))
    return NativeLayerNormBackward0.apply(input, axes, weight, bias, eps)


class NativeBatchNormBackward0(Node):
    """batch_norm over the batch dim and any trailing dims (features on dim 1)."""
    def forward(self, x, rmean, rvar, weight, bias, training, momentum, eps, rm_t, rv_t):
        axes = (0,) + tuple(range(2, x.ndim))
        self.axes = axes
        self.training = training
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        shape = tuple(shape)
        self.bshape = shape
        if training:
            acc = x.astype(_np_float(x), copy=False)
            mean = acc.mean(axis=axes, keepdims=True)
            c = acc - mean
            var = (c * c).mean(axis=axes, keepdims=True)
            n = x.size // x.shape[1]
            if rmean is not None:
                m = momentum
                rmean *= (1 - m)
                rmean += (m * mean.reshape(-1)).astype(rmean.dtype)
                rm_t[0] += 1
            if rvar is not None:
                m = momentum
                unbiased = var.reshape(-1) * (n / (n - 1) if n > 1 else np.nan)
                rvar *= (1 - m)
                rvar += (m * unbiased).astype(rvar.dtype)
                rv_t[0] += 1
            rstd = 1 / np.sqrt(var + eps)
        else:
            mean = rmean.reshape(shape).astype(_np_float(x))
            c = x.astype(_np_float(x), copy=False) - mean
            rstd = 1 / np.sqrt(rvar.reshape(shape).astype(_np_float(x)) + eps)
        xhat = (c * rstd).astype(x.dtype, copy=False)
        self.rstd = rstd.astype(x.dtype, copy=False)
        self.save(xhat, weight)
        out = xhat
        if weight is not None:
            out = out * weight.reshape(shape)
        if bias is not None:
            out = out + bias.reshape(shape)
        return out if out is not xhat else xhat.copy()

    def backward(self, g):
        xhat, w = self.saved
        axes = self.axes
        gw = gb = gx = None
        if w is not None and self.needs_input_grad(3):
            gw = (g * xhat).sum(axis=axes)
        if self.needs_input_grad(4):
            gb = g.sum(axis=axes)
        if self.needs_input_grad(0):
            gxh = g * w.reshape(self.bshape) if w is not None else g
            if self.training:
                m1 = gxh.mean(axis=axes, keepdims=True)
                m2 = (gxh * xhat).mean(axis=axes, keepdims=True)
                gx = self.rstd * (gxh - m1 - xhat * m2)
            else:
                gx = self.rstd * gxh
            gx = gx.astype(g.dtype, copy=False)
        return gx, None, None, gw, gb, None, None, None, None, None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5):
    x = input._data
    if training:
        n = x.size // x.shape[1] if x.ndim > 1 and x.shape[1] else 0
        if n <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                             f"{input.size()}")
    rm = running_mean._data if running_mean is not None else None
    rv = running_var._data if running_var is not None else None
    return NativeBatchNormBackward0.apply(input, rm, rv, weight, bias, training, momentum, eps,
                                          running_mean._version if rm is not None else None,
                                          running_var._version if rv is not None else None)


def _unary_float(a):
    if not a.dtype.is_floating_point:
        return _to_dtype(a, _dtype.get_default_dtype())
    return a


def tanh(input):
    return TanhBackward0.apply(_unary_float(input))


def sigmoid(input):
    return SigmoidBackward0.apply(_unary_float(input))


def abs(input):
    if input.dtype.name == "bool":
        raise NotImplementedError('"abs_cpu" not implemented for \'Bool\'')
    return AbsBackward0.apply(input)


absolute = abs


def sqrt(input):
    return SqrtBackward0.apply(_unary_float(input))


def rsqrt(input):
    return RsqrtBackward0.apply(_unary_float(input))


def square(input):
    from .elementwise import pow as _pow
    return _pow(input, 2)


# ============================================================================= reductions
def _dims_arg(dim, ndim):
    if isinstance(dim, (list, tuple, Size)):
        return tuple(sorted(_wrap_dim(d, ndim) for d in dim))
    return (_wrap_dim(dim, ndim),)


class MaxBackward1(Node):
    """Full max: the gradient is shared evenly between all maximal elements (as torch)."""
    def forward(self, a):
        r = np.asarray(a.max())
        self.save(a, r)
        return r

    def backward(self, g):
        a, r = self.saved
        mask = (a == r) | (np.isnan(a) & np.isnan(r))
        return np.where(mask, g / mask.sum(), 0).astype(g.dtype, copy=False)


class MinBackward1(MaxBackward1):
    def forward(self, a):
        r = np.asarray(a.min())
        self.save(a, r)
        return r


class MaxBackward0(Node):
    """max over one dim: the gradient goes to the returned index."""
    def forward(self, a, dim, keepdim, idx):
        self.shape = a.shape
        self.dim = dim
        self.keepdim = keepdim
        self.idx = idx
        v = np.take_along_axis(a, idx, axis=dim) if a.ndim else a.copy()
        return v if keepdim or not a.ndim else np.squeeze(v, axis=dim)

    def backward(self, g):
        if not self.shape:
            return g, None, None, None
        if not self.keepdim:
            g = np.expand_dims(g, self.dim)
        out = np.zeros(self.shape, dtype=g.dtype)
        np.put_along_axis(out, self.idx, g, axis=self.dim)
        return out, None, None, None


class MinBackward0(MaxBackward0):
    pass


class AmaxBackward0(Node):
    def forward(self, a, dims, keepdim, is_max):
        self.dims = dims
        self.keepdim = keepdim
        # torch keeps the first of equal values (-0.0 before 0.0), numpy the last: read flipped
        f = np.flip(a, axis=dims)
        r = f.max(axis=dims, keepdims=True) if is_max else f.min(axis=dims, keepdims=True)
        out = r if keepdim else np.squeeze(r, axis=dims)
        self.save(a, out)  # the result itself (writing it in place is then torch's error)
        return out

    def backward(self, g):
        a, r = self.saved
        if not self.keepdim:
            g = np.expand_dims(g, self.dims)
            r = np.expand_dims(r, self.dims)
        # torch: (grad / count) * mask, so a nan result (no element equals it) spreads nan over
        # its slice, and a negative grad gives -0.0 where the mask is off
        mask = a == r
        count = mask.sum(axis=self.dims, keepdims=True).astype(g.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            return ((g / count) * mask).astype(g.dtype, copy=False), None, None, None


class AminBackward0(AmaxBackward0):
    pass


def _max_min(input, dim, keepdim, other, is_max):
    name = "max" if is_max else "min"
    if isinstance(dim, Tensor) and other is None:
        other, dim = dim, None
    if other is not None:
        return maximum(input, other) if is_max else minimum(input, other)
    a = input._data
    if dim is None:
        if a.size == 0:
            raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                               "Specify the reduction dim with the 'dim' argument.")
        return (MaxBackward1 if is_max else MinBackward1).apply(input)
    d = _wrap_dim(dim, a.ndim)
    if a.ndim:
        if a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
        idx = _arg(a, d, is_max, True)
    else:
        idx = np.zeros((), dtype=np.int64)
    values = (MaxBackward0 if is_max else MinBackward0).apply(input, d, keepdim, idx)
    indices = idx if keepdim or not a.ndim else np.squeeze(idx, axis=d)
    cls = return_types.max if is_max else return_types.min
    return cls(values, _wrap(np.array(indices, dtype=np.int64, order="C")))


def _arg(a, d, is_max, keepdims):
    """argmax/argmin along d with torch's NaN rule (NaN is the extreme value; first occurrence)."""
    if a.dtype.kind == "f" and np.isnan(a).any():
        nan = np.isnan(a)
        base = np.argmax(nan, axis=d)
        plain = np.argmax(a, axis=d) if is_max else np.argmin(a, axis=d)
        idx = np.where(nan.any(axis=d), base, plain)
    elif a.dtype == np.bool_:
        idx = np.argmax(a, axis=d) if is_max else np.argmin(a, axis=d)
    else:
        idx = np.argmax(a, axis=d) if is_max else np.argmin(a, axis=d)
    idx = np.asarray(idx, dtype=np.int64)
    return np.expand_dims(idx, d) if keepdims else idx


def max(input, dim=None, keepdim=False, *, out=None, other=None):
    return _max_min(input, dim, keepdim, other, True)


def min(input, dim=None, keepdim=False, *, out=None, other=None):
    return _max_min(input, dim, keepdim, other, False)


def _argmaxmin(input, dim, keepdim, is_max):
    a = input._data
    if dim is None:
        if a.size == 0:
            name = "argmax" if is_max else "argmin"
            raise IndexError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        i = _arg(a.reshape(-1), 0, is_max, False)
        if keepdim:
            i = i.reshape((1,) * a.ndim)
        return _wrap(np.asarray(i, dtype=np.int64))
    d = _wrap_dim(dim, a.ndim)
    if not a.ndim:
        return _wrap(np.zeros((), dtype=np.int64))
    if a.shape[d] == 0:
        name = "argmax" if is_max else "argmin"
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    return _wrap(_arg(a, d, is_max, keepdim))


def argmax(input, dim=None, keepdim=False):
    return _argmaxmin(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    return _argmaxmin(input, dim, keepdim, False)


def _amaxmin(input, dim, keepdim, is_max):
    a = input._data
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        dims = tuple(range(a.ndim))
    else:
        dims = _dims_arg(dim, a.ndim)
    name = "amax" if is_max else "amin"
    if a.size == 0 and not (isinstance(dim, int) or isinstance(dim, (tuple, list)) and len(dim)):
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    for d in dims:
        if a.shape[d] == 0:
            raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    if not a.ndim:
        return (AmaxBackward0 if is_max else AminBackward0).apply(input, None, True, is_max)
    return (AmaxBackward0 if is_max else AminBackward0).apply(input, dims, keepdim, is_max)


def amax(input, dim=(), keepdim=False):
    return _amaxmin(input, dim, keepdim, True)


def amin(input, dim=(), keepdim=False):
    return _amaxmin(input, dim, keepdim, False)


@quiet
class VarBackward0(Node):
    def forward(self, a, dims, correction, keepdim):
        self.dims = dims
        self.keepdim = keepdim
        n = 1
        for d in (dims if dims is not None else range(a.ndim)):
            n *= a.shape[d]
        self.denom = builtins.max(n - correction, 0)
        if n - correction <= 0:
            warnings.warn(f"{self._name}(): degrees of freedom is <= 0. Correction should be strictly less "
                          "than the reduction factor (input numel divided by output numel).", stacklevel=4)
        acc = a.astype(_np_float(a), copy=False)
        if n:
            mean = acc.mean(axis=dims, keepdims=True)
        else:  # (numpy warns on the mean of nothing)
            mean = np.full(np.sum(acc, axis=dims, keepdims=True).shape, np.nan, acc.dtype)
        centered = acc - mean
        # torch divides by max(0, n - correction): inf (or nan for 0 / 0) past the dof
        v = (centered * centered).sum(axis=dims, keepdims=keepdim) / float(self.denom)
        self.save(centered.astype(a.dtype, copy=False))
        return self._finish(np.asarray(v), a.dtype)

    _name = "var"

    def _finish(self, v, dt):
        return v.astype(dt, copy=False)

    def backward(self, g):
        (c,) = self.saved
        if not self.keepdim and self.dims is not None:
            g = np.expand_dims(g, self.dims)
        return (g * (2 / self.denom if self.denom else np.inf) * c).astype(g.dtype, copy=False), None, None, None


@quiet
class StdBackward0(VarBackward0):
    _name = "std"

    def _finish(self, v, dt):
        r = np.sqrt(v).astype(dt, copy=False)
        self.save(self._saved[0], r)  # the result is saved too: writing it in place is an error
        return r

    def backward(self, g):
        c, r = self.saved
        if not self.keepdim and self.dims is not None:
            g = np.expand_dims(g, self.dims)
            r = np.expand_dims(r, self.dims)
        # torch's std_backward: grad / (2 * std), 0 where std == 0 (a constant input), then
        # var_backward's (2 / dof) * grad * centered
        gv = g / (r * 2)
        gv = np.where(r == 0, np.zeros((), gv.dtype), gv)
        return (gv * (2 / self.denom if self.denom else np.inf) * c).astype(g.dtype, copy=False), \
            None, None, None


def _var_args(dim, unbiased, keepdim, correction):
    if isinstance(dim, bool):  # var(input, unbiased)
        unbiased, dim = dim, None
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return dim, keepdim, correction


def _var_std(cls, input, dim, unbiased, keepdim, correction):
    dim, keepdim, correction = _var_args(dim, unbiased, keepdim, correction)
    if not input.dtype.is_floating_point:
        raise RuntimeError(f"std and var only support floating point and complex dtypes")
    a = input._data
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        dims = None
        if keepdim and a.ndim:
            dims = tuple(range(a.ndim))
    else:
        dims = _dims_arg(dim, a.ndim) if a.ndim else None
    return cls.apply(input, dims, correction, keepdim)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_std(VarBackward0, input, dim, unbiased, keepdim, correction)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    return _var_std(StdBackward0, input, dim, unbiased, keepdim, correction)


@quiet
class LogsumexpBackward0(Node):
    def forward(self, a, dims, keepdim):
        self.dims = dims
        self.keepdim = keepdim
        m = a.max(axis=dims, keepdims=True, initial=-np.inf)  # (an empty slice: log(0) = -inf)
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype)
        r = np.log(np.exp(a - m).sum(axis=dims, keepdims=True)) + m
        out = r if keepdim else np.squeeze(r, axis=dims)
        self.save(a, out)  # the result itself, as torch saves it
        return out

    def backward(self, g):
        a, r = self.saved
        if not self.keepdim:
            g = np.expand_dims(g, self.dims)
            r = np.expand_dims(r, self.dims)
        return g * np.exp(a - r), None, None


def logsumexp(input, dim, keepdim=False):
    input = _unary_float(input)
    a = input._data
    dims = _dims_arg(dim, a.ndim) if a.ndim else None
    return LogsumexpBackward0.apply(input, dims, keepdim)


# ============================================================================= elementwise selection
def _max_keep(x, lo):
    """max(x, lo) as torch's clamp: nan from either, and x itself on ties (-0.0 vs 0.0)"""
    r = np.maximum(x, lo)
    return np.where(x == lo, x, r)


def _min_keep(x, hi):
    r = np.minimum(x, hi)
    return np.where(x == hi, x, r)


class ClampBackward1(Node):
    """clamp with Python-number bounds."""
    def forward(self, a, lo, hi, dt):
        self.save(a)
        self.lo, self.hi = lo, hi
        x = a.astype(dt, copy=False)
        if lo is not None:
            x = _max_keep(x, np.asarray(lo, dtype=dt))
        if hi is not None:
            x = _min_keep(x, np.asarray(hi, dtype=dt))
        return np.asarray(x, dtype=dt) if x is not a else x.copy()

    def backward(self, g):
        (a,) = self.saved
        mask = np.ones(a.shape, dtype=bool)
        if self.lo is not None:
            mask &= a >= self.lo
        if self.hi is not None:
            mask &= a <= self.hi
        return np.where(mask, g, 0).astype(g.dtype, copy=False), None, None, None


class ClampMinBackward0(Node):
    def forward(self, a, lo, dt):
        self.save(a)
        self.lo = lo
        return _max_keep(a.astype(dt, copy=False), np.asarray(lo, dtype=dt))

    def backward(self, g):
        (a,) = self.saved
        return np.where(a >= self.lo, g, 0).astype(g.dtype, copy=False), None, None


class ClampMaxBackward0(Node):
    def forward(self, a, hi, dt):
        self.save(a)
        self.hi = hi
        return _min_keep(a.astype(dt, copy=False), np.asarray(hi, dtype=dt))

    def backward(self, g):
        (a,) = self.saved
        return np.where(a <= self.hi, g, 0).astype(g.dtype, copy=False), None, None


class ClampBackward0(Node):
    """clamp with tensor bounds (either may be None)."""
    def forward(self, a, lo, hi, dt):
        self.save(a, lo, hi)
        x = a.astype(dt, copy=False)
        if lo is not None:
            x = _max_keep(x, lo.astype(dt, copy=False))
        if hi is not None:
            x = _min_keep(x, hi.astype(dt, copy=False))
        return np.asarray(x, dtype=dt)

    def backward(self, g):
        a, lo, hi = self.saved
        z = g.dtype.type(0)
        ok = True
        glo = ghi = None
        if lo is not None:
            ok = a >= lo
        if hi is not None:
            ok = ok & (a <= hi)
        if lo is not None and hi is not None:
            glo = np.where((a < lo) & (lo < hi), g, z)
            ghi = np.where((a > hi) | (hi < lo), g, z)
        elif lo is not None:
            glo = np.where(a < lo, g, z)
        else:
            ghi = np.where(a > hi, g, z)
        return np.where(ok, g, z), glo, ghi, None


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        dt = input.dtype
        lo = min if isinstance(min, Tensor) or min is None else _as_tensor(min, input)
        hi = max if isinstance(max, Tensor) or max is None else _as_tensor(max, input)
        for b in (lo, hi):
            if b is not None:
                dt = result_dtype(_wrap(np.empty(input._data.shape, dt.np)), b)
        return ClampBackward0.apply(input, lo, hi, dt.np)
    dt = input.dtype
    for b in (min, max):
        if b is not None:
            dt = result_dtype(_wrap(np.empty((1,), dt.np)), b)
    return ClampBackward1.apply(input, min, max, dt.np)


clip = clamp


def clamp_min(input, min):
    if isinstance(min, Tensor):
        return clamp(input, min=min)
    return ClampMinBackward0.apply(input, min, result_dtype(input, min).np)


def clamp_max(input, max):
    if isinstance(max, Tensor):
        return clamp(input, max=max)
    return ClampMaxBackward0.apply(input, max, result_dtype(input, max).np)


class MaximumBackward0(Node):
    _is_max = True

    def forward(self, a, b, dt):
        self.save(a, b)
        _check_bcast(a, b)
        f = np.maximum if self._is_max else np.minimum
        return np.asarray(f(a.astype(dt, copy=False), b.astype(dt, copy=False)))

    def backward(self, g):
        a, b = self.saved
        # torch: grad (halved on ties) masked where the operand lost; a nan loses nowhere, so
        # both operands of a comparison with a nan get the whole gradient
        eq = a == b
        half = g / 2
        if self._is_max:
            ga = np.where(eq, half, np.where(a < b, 0, g))
            gb = np.where(eq, half, np.where(a > b, 0, g))
        else:
            ga = np.where(eq, half, np.where(a > b, 0, g))
            gb = np.where(eq, half, np.where(a < b, 0, g))
        return ga.astype(g.dtype, copy=False), gb.astype(g.dtype, copy=False), None


class MinimumBackward0(MaximumBackward0):
    _is_max = False


def _check_bcast(a, b):
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        sa, sb = a.shape, b.shape
        n = builtins.max(len(sa), len(sb))
        pa = (1,) * (n - len(sa)) + sa
        pb = (1,) * (n - len(sb)) + sb
        for i in range(n - 1, -1, -1):
            if pa[i] != pb[i] and pa[i] != 1 and pb[i] != 1:
                break
        raise RuntimeError(f"The size of tensor a ({pa[i]}) must match the size of tensor b ({pb[i]}) at "
                           f"non-singleton dimension {i}") from None


def _binary_tensors(input, other):
    if not isinstance(other, Tensor):
        raise TypeError(f"maximum(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    return result_dtype(input, other)


def maximum(input, other):
    dt = _binary_tensors(input, other)
    return MaximumBackward0.apply(input, other, dt.np)


def minimum(input, other):
    dt = _binary_tensors(input, other)
    return MinimumBackward0.apply(input, other, dt.np)


class WhereBackward0(Node):
    def forward(self, cond, x, y, dt):
        self.cond = cond
        if isinstance(x, np.ndarray):
            x = x.astype(dt, copy=False)
        if isinstance(y, np.ndarray):
            y = y.astype(dt, copy=False)
        shape = np.broadcast_shapes(np.shape(cond), np.shape(x), np.shape(y))
        return np.asarray(np.where(cond, x, y), dtype=dt).reshape(shape)

    def backward(self, g):
        c = self.cond
        z = g.dtype.type(0)
        return None, np.where(c, g, z), np.where(c, z, g), None


def where(condition, input=None, other=None, *, out=None):
    if input is None and other is None:
        return tuple(_wrap(np.asarray(i, dtype=np.int64)) for i in np.nonzero(condition._data))
    if condition.dtype is not _dtype.bool_:
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{_tname(condition.dtype)}")
    xt, yt = isinstance(input, Tensor), isinstance(other, Tensor)
    if xt and yt:
        dt = result_dtype(input, other)
    elif xt:
        dt = result_dtype(input, other)
    elif yt:
        dt = result_dtype(other, input)
    else:
        dt = _scalar_pair_dtype(input, other)
    shapes = [condition._data.shape] + [t._data.shape for t in (input, other) if isinstance(t, Tensor)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise RuntimeError("The size of tensor a must match the size of tensor b") from None
    return WhereBackward0.apply(condition, input, other, dt.np)


def _scalar_pair_dtype(a, b):
    if isinstance(a, float) or isinstance(b, float):
        return _dtype.get_default_dtype()
    if isinstance(a, bool) and isinstance(b, bool):
        return _dtype.bool_
    return _dtype.int64


# ============================================================================= joining
class CatBackward0(Node):
    def forward(self, *args):
        *arrays, dim, dt = args
        self.dim = dim
        keep = [a for a in arrays if not (a.ndim == 1 and a.shape[0] == 0)]
        self.sizes = [None if (a.ndim == 1 and a.shape[0] == 0) else a.shape[dim] for a in arrays]
        if not keep:
            return np.empty((0,), dtype=dt)
        return np.concatenate([a.astype(dt, copy=False) for a in keep], axis=dim)

    def backward(self, g):
        out = []
        pos = 0
        d = self.dim
        for n in self.sizes:
            if n is None:
                out.append(np.zeros((0,), dtype=g.dtype))
                continue
            sl = [slice(None)] * g.ndim
            sl[d] = slice(pos, pos + n)
            out.append(g[tuple(sl)])
            pos += n
        return tuple(out) + (None, None)


class StackBackward0(Node):
    def forward(self, *args):
        *arrays, dim, dt = args
        self.dim = dim
        self.n = len(arrays)
        return np.stack([a.astype(dt, copy=False) for a in arrays], axis=dim)

    def backward(self, g):
        return tuple(np.take(g, i, axis=self.dim) for i in range(self.n)) + (None, None)


def _seq_dtype(tensors):
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = _dtype.promote_types(dt, t.dtype)
    return dt


def cat(tensors, dim=0, *, out=None):
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    real = [t for t in tensors if not (t._data.ndim == 1 and t._data.shape[0] == 0)]
    dt = _seq_dtype(tensors)
    if not real:
        return CatBackward0.apply(*tensors, 0, dt.np)
    ref = real[0]._data
    nd = ref.ndim
    if nd == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    d = _wrap_dim(dim, nd)
    for i, t in enumerate(tensors):
        a = t._data
        if a.ndim == 1 and a.shape[0] == 0:
            continue
        if a.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
        if a.ndim != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {a.ndim}")
        for k in range(nd):
            if k != d and a.shape[k] != ref.shape[k]:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size "
                                   f"{ref.shape[k]} but got size {a.shape[k]} for tensor number {i} in the list.")
    return CatBackward0.apply(*tensors, d, dt.np)


concat = concatenate = cat


def stack(tensors, dim=0, *, out=None):
    if isinstance(tensors, Tensor):
        raise TypeError("stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    s0 = tensors[0]._data.shape
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != s0:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(s0)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = _wrap_dim(dim, len(s0) + 1)
    return StackBackward0.apply(*tensors, d, _seq_dtype(tensors).np)


# ============================================================================= shape ops
class SqueezeBackward0(Node):
    def forward(self, a):
        self.in_shape = a.shape
        return a.reshape(tuple(s for s in a.shape if s != 1))

    def backward(self, g):
        return g.reshape(self.in_shape)


class SqueezeBackward1(Node):
    def forward(self, a, dim):
        self.in_shape = a.shape
        if a.ndim and a.shape[dim] == 1:
            return np.squeeze(a, axis=dim)
        return a.view()

    def backward(self, g):
        return g.reshape(self.in_shape), None


class SqueezeBackward2(Node):
    def forward(self, a, dims):
        self.in_shape = a.shape
        dims = tuple(d for d in dims if a.ndim and a.shape[d] == 1)
        return np.squeeze(a, axis=dims) if dims else a.view()

    def backward(self, g):
        return g.reshape(self.in_shape), None


class UnsqueezeBackward0(Node):
    def forward(self, a, dim):
        self.dim = dim
        return np.expand_dims(a, dim)

    def backward(self, g):
        return np.squeeze(g, axis=self.dim), None


class ExpandBackward0(Node):
    def forward(self, a, shape):
        self.in_shape = a.shape
        return np.broadcast_to(a, shape)

    def backward(self, g):
        return g, None  # the engine sums the broadcast gradient back to the input's shape


def squeeze(input, dim=None):
    a = input._data
    if dim is None:
        out = SqueezeBackward0.apply(input)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(_wrap_dim(d, a.ndim) for d in dim)
        out = SqueezeBackward2.apply(input, dims)
    else:
        out = SqueezeBackward1.apply(input, _wrap_dim(dim, a.ndim))
    return _shape._share_version(out, input)


def unsqueeze(input, dim):
    nd = input._data.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    return _shape._share_version(UnsqueezeBackward0.apply(input, dim % nd), input)


def _expand_shape(input, sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list, Size)):
        sizes = tuple(sizes[0])
    sizes = tuple(int(s) for s in sizes)
    a = input._data
    if len(sizes) < a.ndim:
        raise RuntimeError(f"expand({input.type()}{{{list(a.shape)}}}, size={list(sizes)}): the number of sizes "
                           f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
                           f"tensor ({a.ndim})")
    lead = len(sizes) - a.ndim
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"The expanded size of the tensor ({s}) isn't allowed in a leading, "
                                   f"non-existing dimension {i}")
            out.append(s)
            continue
        cur = a.shape[i - lead]
        if s == -1:
            out.append(cur)
        elif cur == 1 or cur == s:
            out.append(s)
        else:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing size ({cur}) at "
                               f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: "
                               f"{list(a.shape)}")
    return tuple(out)


def expand(input, *sizes):
    shape = _expand_shape(input, sizes)
    return _shape._share_version(ExpandBackward0.apply(input, shape), input)


def expand_copy(input, size):
    return CloneFromExpand(expand(input, size))


def CloneFromExpand(t):
    from .elementwise import clone
    return clone(t)


def flatten(input, start_dim=0, end_dim=-1):
    a = input._data
    if a.ndim == 0:
        return _shape.reshape(input, (1,))
    s = _wrap_dim(start_dim, a.ndim)
    e = _wrap_dim(end_dim, a.ndim)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    n = 1
    for k in a.shape[s:e + 1]:
        n *= k
    return _shape.reshape(input, a.shape[:s] + (n,) + a.shape[e + 1:])


def unflatten(input, dim, sizes):
    a = input._data
    d = _wrap_dim(dim, a.ndim)
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes = tuple(a.shape[d] // known if s == -1 else s for s in sizes)
    return _shape.reshape(input, a.shape[:d] + sizes + a.shape[d + 1:])


def swapaxes(input, axis0, axis1):
    return _shape.transpose(input, axis0, axis1)


swapdims = swapaxes


# ============================================================================= addmm / linear
class AddmmBackward0(Node):
    """beta * input + alpha * (mat1 @ mat2)."""
    def forward(self, bias, m1, m2, beta, alpha):
        self.save(m1, m2)
        self.beta, self.alpha = beta, alpha
        out = np.matmul(m1, m2)
        if alpha != 1:
            out *= alpha
        if beta != 0:
            try:
                if beta == 1:
                    out += bias
                else:
                    out += beta * bias
            except ValueError:
                raise RuntimeError(f"The expanded size of the tensor ({out.shape[-1]}) must match the existing "
                                   f"size ({bias.shape[-1] if bias.ndim else 1}) at non-singleton dimension "
                                   f"{out.ndim - 1}.  Target sizes: {list(out.shape)}.  Tensor sizes: "
                                   f"{list(bias.shape)}") from None
        return out

    def backward(self, g):
        m1, m2 = self.saved
        alpha, beta = self.alpha, self.beta
        gb = g1 = g2 = None
        if self.needs_input_grad(0):
            gb = g if beta == 1 else g * beta
        if self.needs_input_grad(1):
            g1 = g @ m2.T
            if alpha != 1:
                g1 *= alpha
        if self.needs_input_grad(2):
            g2 = m1.T @ g
            if alpha != 1:
                g2 *= alpha
        return gb, g1, g2, None, None


class _LinearAddmm(Node):
    """nn.Linear on a 2-D input as one node: x @ weight.T + bias (torch's AddmmBackward0)."""
    def forward(self, bias, x, w):
        self.save(x, w)
        out = np.matmul(x, w.T)
        out += bias
        return out

    def backward(self, g):
        x, w = self.saved
        gb = gx = gw = None
        if self.needs_input_grad(0):
            gb = g.sum(axis=0)
        if self.needs_input_grad(1):
            gx = g @ w
        if self.needs_input_grad(2):
            gw = g.T @ x
        return gb, gx, gw


_LinearAddmm.__name__ = _LinearAddmm.__qualname__ = "AddmmBackward0"


def _mm_shapes_check(m1, m2, name="mat1 and mat2"):
    if m1.ndim != 2:
        raise RuntimeError(f"mat1 must be a matrix, got {m1.ndim}-D tensor")
    if m2.ndim != 2:
        raise RuntimeError(f"mat2 must be a matrix, got {m2.ndim}-D tensor")
    if m1.shape[1] != m2.shape[0]:
        raise RuntimeError(f"{name} shapes cannot be multiplied ({m1.shape[0]}x{m1.shape[1]} and "
                           f"{m2.shape[0]}x{m2.shape[1]})")


def _same_float_dtype(*ts):
    d0 = ts[0].dtype
    for t in ts[1:]:
        if t.dtype is not d0:
            raise RuntimeError(f"self and mat2 must have the same dtype, but got {_tname(d0)} and "
                               f"{_tname(t.dtype)}")


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    _mm_shapes_check(mat1._data, mat2._data)
    _same_float_dtype(mat1, mat2)
    return AddmmBackward0.apply(input, mat1, mat2, beta, alpha)


def linear(input, weight, bias=None):
    """F.linear: input @ weight.T + bias, with torch's graph shape: AddmmBackward0 for 2-D input with a bias
    (one node), View -> Addmm -> View for other ranks with a bias, Mm / matmul without one."""
    x = input._data
    w = weight._data
    if x.ndim == 0:
        raise RuntimeError("both arguments to linear need to be at least 1D, but they are 0D and 2D")
    if x.shape[-1] != w.shape[-1]:
        if x.ndim == 1:
            raise RuntimeError(f"size mismatch, got input ({x.shape[0]}), mat ({w.shape[0]}x{w.shape[1]}), vec "
                               f"({x.shape[0]})")
        rows = int(np.prod(x.shape[:-1]))
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{x.shape[-1]} and "
                           f"{w.shape[1]}x{w.shape[0]})")
    if x.dtype != w.dtype:
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_tname(input.dtype)} and "
                           f"{_tname(weight.dtype)}")
    if bias is not None:
        if x.ndim == 2:
            return _LinearAddmm.apply(bias, input, weight)
        flat = _shape.reshape(input, (-1, x.shape[-1]))
        out2 = _LinearAddmm.apply(bias, flat, weight)
        return _shape.reshape(out2, x.shape[:-1] + (w.shape[0],))
    from .linalg import matmul, mm
    if x.ndim == 2:
        return mm(input, _shape.t(weight))
    if x.ndim > 2:
        flat = _shape.reshape(input, (-1, x.shape[-1]))
        return _shape.UnsafeViewBackward0.apply(mm(flat, _shape.t(weight)), x.shape[:-1] + (w.shape[0],))
    return matmul(input, _shape.t(weight))


# ============================================================================= losses
_REDUCTIONS = ("none", "mean", "sum")


def _reduction_enum(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _legacy_reduction(size_average, reduce, reduction):
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        ret = "mean"
    elif reduce:
        ret = "sum"
    else:
        ret = "none"
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' instead.",
                  stacklevel=3)
    return ret


def _reduce_sum(x):
    """A float32-exact-as-possible full sum (accumulated in float64 for float32)."""
    return np.asarray(x.sum(dtype=_np_float(x)), dtype=x.dtype)


def _finish_loss(node, loss, w, reduction, dtype):
    """The elementwise loss weighted, cast, and reduced as `reduction` says (BCE losses);
    records the element count that the mean's backward divides by."""
    if w is not None:
        loss = loss * w
    loss = loss.astype(dtype, copy=False)
    node.n = loss.size
    if reduction == "none":
        return loss
    s = _reduce_sum(loss)
    if reduction == "sum":
        return s
    return np.asarray(s / dtype.type(loss.size), dtype=dtype)


@quiet
class MseLossBackward0(Node):
    def forward(self, x, t, reduction, dt):
        d = x.astype(dt, copy=False) - t.astype(dt, copy=False)
        self.save(d)
        self.reduction = reduction
        self.n = d.size
        sq = d * d
        if reduction == "none":
            return sq
        s = _reduce_sum(sq)
        if reduction == "mean":
            return np.asarray(s / np.asarray(d.size, dtype=dt), dtype=dt) if d.size else \
                np.asarray(np.nan, dtype=dt)
        return s

    def backward(self, g):
        (d,) = self.saved
        if self.reduction == "mean":
            gx = d * (2 * g / g.dtype.type(self.n))
        else:
            gx = 2 * g * d
        return gx, -gx, None, None


def _size_warning(input, target):
    if target._data.shape != input._data.shape:
        warnings.warn(f"Using a target size ({target.size()}) that is different to the input size "
                      f"({input.size()}). This will likely lead to incorrect results due to broadcasting. "
                      "Please ensure they have the same size.", stacklevel=3)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    _size_warning(input, target)
    _check_bcast(input._data, target._data)
    dt = result_dtype(input, target)
    if weight is not None:
        d = (input - target) ** 2 * weight
        return d if reduction == "none" else (_sum(d) if reduction == "sum" else _mean(d))
    return MseLossBackward0.apply(input, target, reduction, dt.np)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    reduction = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    _size_warning(input, target)
    _check_bcast(input._data, target._data)
    d = abs(_sub(input, target))
    if weight is not None:
        d = _mul(d, weight)
    if reduction == "none":
        return d
    return _sum(d) if reduction == "sum" else _mean(d)


_ARANGE = {}


def _rows(n):
    r = _ARANGE.get(n)
    if r is None:
        r = _ARANGE[n] = np.arange(n)
    return r


class NllLossBackward0(Node):
    def forward(self, x, target, weight, reduction, ignore_index):
        # x: (N, C) or (C,); target: (N,) or ()
        self.shape = x.shape
        self.reduction = reduction
        one = x.ndim == 1
        x2 = x[None, :] if one else x
        t = target.reshape(-1)
        n = t.shape[0]
        rows = _rows(n)
        dt = x.dtype.type
        if weight is None and (n == 0 or t.min() >= 0):
            # the common case: no class weights, no ignored target -> every weight is 1
            tt = t
            w = None
            picked = x2[rows, tt]
            total = dt(n)
        else:
            valid = t != ignore_index
            tt = np.where(valid, t, 0)
            picked = x2[rows, tt]
            w = weight[tt] if weight is not None else np.ones(n, dtype=x.dtype)
            w = np.where(valid, w, 0).astype(x.dtype, copy=False)
            picked = picked * w
            total = dt(w.sum(dtype=_np_float(w)))
        self.rows, self.tt, self.w = rows, tt, w
        if reduction == "none":
            losses = np.negative(picked)
            return losses.reshape(target.shape) if not one else np.asarray(losses[0])
        s = 0.0 - picked.sum(dtype=_np_float(picked))  # (torch subtracts from 0: an empty sum is 0.0)
        if reduction == "sum":
            return np.asarray(s, dtype=x.dtype)
        self.total = total
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(dt(s) / total, dtype=x.dtype)

    def backward(self, g):
        one = len(self.shape) == 1
        gi = np.zeros((1,) + self.shape if one else self.shape, dtype=g.dtype)
        w = self.w
        if self.reduction == "none":
            coef = -g.reshape(-1)
        elif self.reduction == "sum":
            coef = -g
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                coef = -(g / self.total)
        if w is not None:
            coef = coef * w
        gi[self.rows, self.tt] = coef
        return (gi[0] if one else gi), None, None, None, None


class NllLoss2DBackward0(NllLossBackward0):
    """nll_loss on (N, C, d1, ...) inputs (torch's nll_loss2d): classes along dim 1."""
    def forward(self, x, target, weight, reduction, ignore_index):
        self.full_shape = x.shape
        x2 = np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])
        out = NllLossBackward0.forward(self, x2, target.reshape(-1), weight, reduction, ignore_index)
        return out.reshape(target.shape) if reduction == "none" else out

    def backward(self, g):
        gi = NllLossBackward0.backward(self, g)[0]
        fs = self.full_shape
        gi = np.moveaxis(gi.reshape((fs[0],) + fs[2:] + (fs[1],)), -1, 1)
        return gi, None, None, None, None


def _check_target(target):
    if target.dtype is not _dtype.int64 and target.dtype is not _dtype.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_tname(target.dtype)}")


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    reduction = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    _check_target(target)
    x = input._data
    t = target._data
    if x.ndim < 1:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    if x.ndim == 1:
        if t.ndim != 0:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    elif t.shape[:1] != x.shape[:1]:
        raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target batch_size "
                         f"({t.shape[0] if t.ndim else 1}).")
    C = x.shape[1] if x.ndim > 1 else x.shape[0]
    if t.size and (t.min() < 0 or t.max() >= C):
        tv = t.reshape(-1)
        bad = (tv != ignore_index) & ((tv < 0) | (tv >= C))
        if bad.any():
            raise IndexError(f"Target {int(tv[bad][0])} is out of bounds.")
    if weight is not None and weight._data.shape != (C,):
        raise RuntimeError(f"weight tensor should be defined either for all {C} classes or no classes but got "
                           f"weight tensor of shape: {list(weight._data.shape)}")
    wd = weight._data if weight is not None else None
    if x.ndim > 2:
        if t.shape != (x.shape[0],) + x.shape[2:]:
            raise RuntimeError(f"Expected target size {list((x.shape[0],) + x.shape[2:])}, got {list(t.shape)}")
        return NllLoss2DBackward0.apply(input, target, wd, reduction, ignore_index)
    return NllLossBackward0.apply(input, target, wd, reduction, ignore_index)


class _DivScalar(Node):
    def forward(self, a, s):
        self.s = s
        return np.asarray(a / a.dtype.type(s), dtype=a.dtype)

    def backward(self, g):
        return g / g.dtype.type(self.s), None


_DivScalar.__name__ = _DivScalar.__qualname__ = "DivBackward1"


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    reduction = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    x = input._data
    cdim = 1 if x.ndim > 1 else 0
    logp = log_softmax(input, cdim)
    C = x.shape[cdim]
    if target.dtype.is_floating_point and target._data.shape == x.shape:
        # class probabilities
        tgt = target
        if label_smoothing > 0:
            tgt = tgt * (1 - label_smoothing) + label_smoothing / C
        prod = _mul(logp, tgt)
        if weight is not None:
            wshape = [1] * x.ndim
            wshape[cdim] = C
            prod = _mul(prod, _shape.reshape(weight, tuple(wshape)))
        per = -_sum(prod, cdim)
        if reduction == "none":
            return per
        total = _sum(per)
        if reduction == "sum":
            return total
        n = x.size // C if x.ndim > 1 else 1
        return _DivScalar.apply(total, n)
    if label_smoothing < 0 or label_smoothing > 1:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    nll = nll_loss(logp, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0:
        return nll
    # smoothing term: -sum_c w_c * logp_c (ignored targets masked), reduced like the nll term
    t = target._data
    valid = _wrap(np.asarray(t != ignore_index))
    lp = logp
    if weight is not None:
        wshape = [1] * x.ndim
        wshape[cdim] = C
        lp = _mul(lp, _shape.reshape(weight, tuple(wshape)))
    smooth = -_sum(lp, cdim)
    smooth = where(valid, smooth, 0.0)
    if reduction == "sum":
        smooth = _sum(smooth)
    elif reduction == "mean":
        if weight is not None:
            tv = np.where(t != ignore_index, t, 0)
            denom = float(np.where(t != ignore_index, weight._data[tv], 0).sum())
        else:
            denom = float((t != ignore_index).sum())
        smooth = _DivScalar.apply(_sum(smooth), denom)
    return nll * (1 - label_smoothing) + smooth * (label_smoothing / C)


class BinaryCrossEntropyBackward0(Node):
    def forward(self, x, t, w, reduction):
        self.save(x, t, w)
        self.reduction = reduction
        with np.errstate(divide="ignore"):
            lx = np.maximum(np.log(x), -100)
            l1x = np.maximum(np.log1p(-x), -100)
        loss = -(t * lx + (1 - t) * l1x)
        return _finish_loss(self, loss, w, reduction, x.dtype)

    def backward(self, g):
        x, t, w = self.saved
        if self.reduction == "mean":
            g = g / g.dtype.type(self.n)
        gx = g * (x - t) / np.maximum((1 - x) * x, 1e-12)
        with np.errstate(divide="ignore"):
            gt = g * (np.maximum(np.log1p(-x), -100) - np.maximum(np.log(x), -100))
        if w is not None:
            gx = gx * w
            gt = gt * w
        return gx.astype(g.dtype, copy=False), gt.astype(g.dtype, copy=False), None, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    reduction = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    if target._data.shape != input._data.shape:
        raise ValueError(f"Using a target size ({target.size()}) that is different to the input size "
                         f"({input.size()}) is deprecated. Please ensure they have the same size.")
    x = input._data
    if x.size and ((x < 0) | (x > 1)).any():
        raise RuntimeError("all elements of input should be between 0 and 1")
    if weight is not None:
        np.broadcast_shapes(weight._data.shape, x.shape)
    return BinaryCrossEntropyBackward0.apply(input, target, weight, reduction)


class BinaryCrossEntropyWithLogitsBackward0(Node):
    def forward(self, x, t, w, pw, reduction):
        self.save(x, t, w, pw)
        self.reduction = reduction
        # (1 - t) * x + lw * softplus(-x), softplus computed stably
        sp = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
        if pw is not None:
            lw = (pw - 1) * t + 1
            loss = (1 - t) * x + lw * sp
        else:
            loss = (1 - t) * x + sp
        return _finish_loss(self, loss, w, reduction, x.dtype)

    def backward(self, g):
        x, t, w, pw = self.saved
        if self.reduction == "mean":
            g = g / g.dtype.type(self.n)
        with np.errstate(over="ignore"):
            sig = 1 / (1 + np.exp(-x))
        if pw is not None:
            lw = (pw - 1) * t + 1
            gx = (1 - t) - lw * (1 - sig)
            sp = np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))
            gt = -x + (pw - 1) * sp
        else:
            gx = sig - t
            gt = -x
        gx = g * gx
        gt = g * gt
        if w is not None:
            gx = gx * w
            gt = gt * w
        return gx.astype(g.dtype, copy=False), gt.astype(g.dtype, copy=False), None, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    reduction = _reduction_enum(_legacy_reduction(size_average, reduce, reduction))
    if target._data.shape != input._data.shape:
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    return BinaryCrossEntropyWithLogitsBackward0.apply(input, target, weight, pos_weight, reduction)


# ============================================================================= dropout / one_hot
def dropout(input, p=0.5, training=True, inplace=False):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    from .. import random as _random
    a = input._data
    if p == 1:
        mask = np.zeros(a.shape, dtype=a.dtype)
    else:
        keep = _random.random_floats(a.shape, a.dtype.type if a.dtype.kind == "f" else np.float32) >= p
        mask = keep.astype(a.dtype) * a.dtype.type(1.0 / (1.0 - p))
    m = _wrap(mask)
    if inplace:
        return input.mul_(m)
    return _mul(input, m)


def one_hot(tensor, num_classes=-1):
    if tensor.dtype is not _dtype.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    a = tensor._data
    if num_classes == -1:
        if a.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(a.max()) + 1
    if a.size:
        if a.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if a.max() >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    out = np.zeros(a.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, a[..., None], 1, axis=-1)
    return _wrap(out)


# ============================================================================= Tensor methods
def _method_max(self, dim=None, keepdim=False):
    return max(self, dim, keepdim)


def _method_min(self, dim=None, keepdim=False):
    return min(self, dim, keepdim)


def _inplace(fn):
    def method(self, *args, **kwargs):
        self._check_inplace()
        return self._inplace_result(fn(self, *args, **kwargs))
    method.__name__ = fn.__name__ + "_"
    return method


def _method_expand(self, *sizes):
    return expand(self, *sizes)


def _method_expand_as(self, other):
    return expand(self, other._data.shape)


def _method_permute(self, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list, Size)):
        dims = tuple(dims[0])
    return _shape.permute(self, dims)


_NO_DIM = object()


def _dim_required(name, dim):
    if dim is _NO_DIM:  # only nn.functional's softmax picks a dim implicitly (deprecated)
        raise TypeError(f'{name}() missing 1 required positional arguments: "dim"')


def _softmax_top(input, dim=_NO_DIM, dtype=None):
    """torch.softmax(input, dim, dtype=None) and Tensor.softmax: dim is required (unlike
    F.softmax)"""
    _dim_required("softmax", dim)
    return softmax(input, dim, dtype=dtype)


def _log_softmax_top(input, dim=_NO_DIM, dtype=None):
    """torch.log_softmax(input, dim, dtype=None) and Tensor.log_softmax: dim is required"""
    _dim_required("log_softmax", dim)
    return log_softmax(input, dim, dtype=dtype)


def _method_where(self, condition, y):
    return where(condition, self, y)


def _method_addmm(self, mat1, mat2, *, beta=1, alpha=1):
    return addmm(self, mat1, mat2, beta=beta, alpha=alpha)


_METHODS = {
    "softmax": _softmax_top, "log_softmax": _log_softmax_top,
    "max": _method_max, "min": _method_min, "argmax": argmax, "argmin": argmin, "amax": amax, "amin": amin,
    "var": var, "std": std, "logsumexp": logsumexp,
    "clamp": clamp, "clip": clamp, "clamp_min": clamp_min, "clamp_max": clamp_max,
    "clamp_": _inplace(clamp), "clip_": _inplace(clamp), "clamp_min_": _inplace(clamp_min),
    "clamp_max_": _inplace(clamp_max),
    "maximum": maximum, "minimum": minimum, "where": _method_where,
    "abs": abs, "absolute": abs, "abs_": _inplace(abs), "sqrt": sqrt, "sqrt_": _inplace(sqrt),
    "rsqrt": rsqrt, "square": square,
    "tanh": tanh, "tanh_": _inplace(tanh), "sigmoid": sigmoid, "sigmoid_": _inplace(sigmoid),
    "squeeze": squeeze, "unsqueeze": unsqueeze, "flatten": flatten, "unflatten": unflatten,
    "transpose": _shape.transpose, "swapaxes": swapaxes, "swapdims": swapaxes, "permute": _method_permute,
    "expand": _method_expand, "expand_as": _method_expand_as, "addmm": _method_addmm,
    "erf": erf, "erf_": _inplace(erf),
    "exp_": _inplace(_ew_exp), "log_": _inplace(_ew_log), "relu_": _inplace(_ew_relu),
    "reciprocal_": _inplace(lambda t: t.reciprocal()), "rsqrt_": _inplace(rsqrt),
    "square_": _inplace(square),
}

for _name, _fn in _METHODS.items():
    if _name not in Tensor.__dict__:
        setattr(Tensor, _name, _fn)
del _name, _fn
