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
    for i, t in enumerate(inputs):
        if isinstance(t, Tensor) and t.requires_grad and t.dtype.name != "float64":
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point or "
                          "complex. This check will likely fail if all the inputs are not of double precision "
                          "floating point or complex. ", UserWarning, stacklevel=2)
    first = _as_tuple(fn(*inputs))
    # positions of the differentiable outputs (under no_grad nothing requires grad: fixed up front)
    positions = [p for p, o in enumerate(first) if isinstance(o, Tensor) and o.requires_grad]
    for oi, pos in enumerate(positions):
        out = first[pos]
        n_out = out.numel()
        # analytical: one backward per output element
        analytical = [np.zeros((t.numel(), n_out)) for t in diff_inputs]
        for j in range(n_out):
            g = np.zeros(out._data.shape, out._data.dtype)
            g.reshape(-1)[j] = 1
            out2 = _as_tuple(fn(*inputs))[pos]
            grads = autograd_grad(out2, diff_inputs, Tensor._wrap(g), allow_unused=True)
            for k, gr in enumerate(grads):
                if gr is not None:
                    analytical[k][:, j] = gr._data.reshape(-1)
        # numerical
        for k, t in enumerate(diff_inputs):
            data = t._data  # perturbed in place (also when non-contiguous), in C order like the grads
            num = np.zeros((t.numel(), n_out))
            for i, ix in enumerate(np.ndindex(data.shape)):
                orig = data[ix].item()
                with no_grad():
                    data[ix] = orig + eps
                    plus = _as_tuple(fn(*inputs))[pos]._data.astype(np.float64).reshape(-1).copy()
                    data[ix] = orig - eps
                    minus = _as_tuple(fn(*inputs))[pos]._data.astype(np.float64).reshape(-1).copy()
                    data[ix] = orig
                num[i] = (plus - minus) / (2 * eps)
            if not np.allclose(analytical[k], num, rtol=rtol, atol=atol, equal_nan=True):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {oi} with respect to input {k},\n"
                        f"numerical:{num}\nanalytical:{analytical[k]}\n")
                return False
    return True

