"""Finite-difference gradient checking (float64 central differences), as torch.autograd.gradcheck."""
import warnings

import numpy as np


class GradcheckError(RuntimeError):
    pass


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, **_ignored):
    """Compare the analytical Jacobian (from backward) with central differences, per output element."""
    from ..tensor import Tensor
    from .engine import grad as autograd_grad
    from .grad_mode import no_grad
    inputs = _as_tuple(inputs)
    diff_inputs = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    for t in diff_inputs:
        if t.dtype.name != "float64":
            warnings.warn("Input #0 requires gradient and is not a double precision floating point. "
                          "As a result, the check is likely to fail.", UserWarning, stacklevel=2)
    outputs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad]
    for oi, out in enumerate(outputs):
        n_out = out.numel()
        # analytical: one backward per output element
        analytical = [np.zeros((t.numel(), n_out)) for t in diff_inputs]
        for j in range(n_out):
            g = np.zeros(out._data.shape, out._data.dtype)
            g.reshape(-1)[j] = 1
            out2 = _as_tuple(fn(*inputs))
            out2 = [o for o in out2 if isinstance(o, Tensor) and o.requires_grad][oi]
            grads = autograd_grad(out2, diff_inputs, Tensor._wrap(g), allow_unused=True)
            for k, gr in enumerate(grads):
                if gr is not None:
                    analytical[k][:, j] = gr._data.reshape(-1)
        # numerical
        for k, t in enumerate(diff_inputs):
            flat = t._data.reshape(-1)
            num = np.zeros((t.numel(), n_out))
            for i in range(t.numel()):
                orig = flat[i].item()
                with no_grad():
                    flat[i] = orig + eps
                    plus = _pick(fn(*inputs), oi)._data.astype(np.float64).reshape(-1).copy()
                    flat[i] = orig - eps
                    minus = _pick(fn(*inputs), oi)._data.astype(np.float64).reshape(-1).copy()
                    flat[i] = orig
                num[i] = (plus - minus) / (2 * eps)
            if not np.allclose(analytical[k], num, rtol=rtol, atol=atol, equal_nan=True):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {oi} with respect to input {k},\n"
                        f"numerical:{num}\nanalytical:{analytical[k]}\n")
                return False
    return True


def _pick(out, oi):
    from ..tensor import Tensor
    outs = [o for o in _as_tuple(out) if isinstance(o, Tensor) and o.dtype.is_floating_point]
    return outs[oi]
