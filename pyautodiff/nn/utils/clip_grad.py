"""clip_grad_norm_ / clip_grad_value_ (in place on the .grad arrays, float32 like torch)."""
import math

import numpy as np

from ...tensor import Tensor
from ...ops.fusion import flush_pending


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _norm(a, norm_type):
    a = a.reshape(-1)
    if norm_type == math.inf:
        return np.abs(a).max() if a.size else a.dtype.type(0)
    if norm_type == -math.inf:
        return np.abs(a).min() if a.size else a.dtype.type(0)
    if norm_type == 0:
        return a.dtype.type((a != 0).sum())
    if norm_type == 2:
        return a.dtype.type(np.sqrt(np.dot(a.astype(np.float64), a.astype(np.float64))))
    return a.dtype.type((np.abs(a.astype(np.float64)) ** norm_type).sum() ** (1.0 / norm_type))


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = [t for t in tensors if t is not None]
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    norms = np.array([_norm(t._data, norm_type) for t in tensors], dtype=tensors[0]._data.dtype)
    total = np.asarray(_norm(norms, norm_type), dtype=norms.dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`")
    return Tensor._wrap(total)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    grads = _grads(parameters)
    if not grads:
        return
    tn = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    dt = grads[0]._data.dtype
    coef = dt.type(max_norm) / (dt.type(tn) + dt.type(1e-6))
    coef = min(coef, dt.type(1.0))
    for g in grads:
        flush_pending()
        np.multiply(g._data, g._data.dtype.type(coef), out=g._data)
        g._version[0] += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        parameters = list(parameters)
    grads = _grads(parameters)
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    clip_value = float(clip_value)
    for g in _grads(parameters):
        flush_pending()
        np.clip(g._data, -clip_value, clip_value, out=g._data)
        g._version[0] += 1
