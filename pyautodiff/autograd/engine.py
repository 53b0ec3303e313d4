"""The backward pass: `run_backward` (compiled, csrc/_graph.pyx) walks the graph iteratively in
topological order, calling each node's `backward` and routing the results along
`next_functions`; it knows no op by name.  This module holds the public entry points."""
import numpy as np

from .._C import G

run_backward = G.run_backward
_Tensor = []


def _tensor_cls():
    if not _Tensor:
        from ..tensor import Tensor
        _Tensor.append(Tensor)
    return _Tensor[0]


def _fit(g, meta):
    """Bring a gradient back to its input's shape and dtype (undo broadcasting/promotion)."""
    shape, dtype = meta
    if g.shape != shape:
        g = G.sum_to(g, shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


_ONES = {}  # 0-d ones per dtype: the implicit gradient of a scalar (read-only, shared)


def scalar_one(dtype):
    one = _ONES.get(dtype)
    if one is None:
        one = _ONES[dtype] = np.ones((), dtype)
        one.flags.writeable = False
    return one


def _make_root_grads(tensors, grad_tensors, Tensor):
    out = []
    for t, g in zip(tensors, grad_tensors):
        if g is None:
            d = t._data
            if d.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if d.dtype.kind != "f":
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
            if d.ndim == 0:
                out.append(scalar_one(d.dtype))
            else:
                out.append(np.ones(d.shape, d.dtype))
        else:
            ga = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=t._data.dtype)
            if ga.shape != t._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of pyautodiff.Size({list(ga.shape)}) and "
                    f"output[0] has a shape of pyautodiff.Size({list(t._data.shape)}).")
            out.append(ga)
    return out


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    Tensor = _tensor_cls()
    if create_graph:
        raise NotImplementedError("create_graph=True (higher-order gradients) is not supported by pyautodiff")
    if inputs is not None:
        raise NotImplementedError("backward(inputs=...) is not supported by pyautodiff; use autograd.grad")
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    tensors = list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, Tensor):
        grad_tensors = [grad_tensors] * len(tensors) if grad_tensors is None else [grad_tensors]
    grad_tensors = list(grad_tensors)
    for t in tensors:
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    root_grads = _make_root_grads(tensors, grad_tensors, Tensor)
    roots = [t.grad_fn or G.accumulator(t) for t in tensors]
    run_backward(roots, root_grads, retain_graph=bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    Tensor = _tensor_cls()
    if create_graph:
        raise NotImplementedError("create_graph=True (higher-order gradients) is not supported by pyautodiff")
    single_out = isinstance(outputs, Tensor)
    outputs = [outputs] if single_out else list(outputs)
    single_in = isinstance(inputs, Tensor)
    inputs = [inputs] if single_in else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs) if grad_outputs is None else [grad_outputs]
    for t in outputs:
        if not t.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    root_grads = _make_root_grads(outputs, list(grad_outputs), Tensor)
    in_nodes = [t.grad_fn or G.accumulator(t) for t in inputs]
    capture = {n: None for n in in_nodes}
    roots = [t.grad_fn or G.accumulator(t) for t in outputs]
    run_backward(roots, root_grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for i, (t, n) in enumerate(zip(inputs, in_nodes)):
        g = capture[n]
        if g is None:
            if materialize_grads:
                result.append(Tensor._wrap(np.zeros_like(t._data)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        else:
            if g.shape != t._data.shape or g.dtype != t._data.dtype:
                g = _fit(g, (t._data.shape, t._data.dtype))
            result.append(Tensor._wrap(np.array(g, copy=True)))
    return tuple(result)
