"""The backward pass: an iterative topological walk over Node objects.  It knows no op by name:
it calls `node.backward(grad)` and routes each result along `node.next_functions`."""
import numpy as np

from .graph import AccumulateGrad, _sum_to
from .grad_mode import STATE


def _fit(g, meta):
    """Bring an op's gradient back to its input's shape and dtype (undo broadcasting/promotion)."""
    shape, dtype = meta
    if g.shape != shape:
        g = _sum_to(g, shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def run_backward(roots, root_grads, retain_graph=False, capture=None):
    """Propagate `root_grads` (ndarrays) from the `roots` nodes down to the leaves.

    capture: optional dict {node: None}; when given (autograd.grad), the total gradient arriving at
    each of those nodes is stored there instead of being accumulated into leaves' .grad.
    """
    # 1. count, for every node reachable from the roots, how many edges point at it
    deps = {}
    stack = []
    for r in roots:
        if r not in deps:
            deps[r] = 0
            stack.append(r)
    while stack:
        node = stack.pop()
        for nxt, _ in node.next_functions:
            if nxt is not None:
                if nxt in deps:
                    deps[nxt] += 1
                else:
                    deps[nxt] = 1
                    stack.append(nxt)
    # 2. Kahn's order: a node runs once all of its consumers have sent their gradients
    grads = {}
    for r, g in zip(roots, root_grads):
        if r in grads:
            grads[r] = grads[r] + g
        else:
            grads[r] = g
    ready = [r for r in grads if deps[r] == 0]
    prev_mode = STATE.enabled
    STATE.enabled = False  # backward computations never record a graph
    try:
        while ready:
            node = ready.pop()
            grad = grads.pop(node, None)
            if grad is None:
                # no gradient reached this node: just release its inputs' dependency counts
                for nxt, _ in node.next_functions:
                    if nxt is not None:
                        d = deps[nxt] - 1
                        deps[nxt] = d
                        if d == 0:
                            ready.append(nxt)
                continue
            if node._retain:
                for ref in node._retain:
                    t = ref()
                    if t is not None:
                        t._store_retained_grad(grad)
            if capture is not None and node in capture:
                capture[node] = grad if capture[node] is None else capture[node] + grad
                if isinstance(node, AccumulateGrad):
                    continue
            if isinstance(node, AccumulateGrad):
                node.accumulate(grad)
                continue
            node._check_versions()
            in_grads = node.backward(grad)
            if not retain_graph:
                node._release()
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            meta = node._meta
            for i, (nxt, _) in enumerate(node.next_functions):
                if nxt is None:
                    continue
                g = in_grads[i]
                if g is not None:
                    if type(g) is not np.ndarray:
                        g = np.asarray(g)  # numpy hands back scalars for 0-d math
                    m = meta[i]
                    if m is not None:
                        g = _fit(g, m)
                    prev = grads.get(nxt)
                    if prev is None:
                        grads[nxt] = g
                    else:
                        # a shared subexpression: sum, never in place (g may alias a saved buffer)
                        grads[nxt] = np.add(prev, g, dtype=prev.dtype, out=None if prev.ndim else np.empty((), prev.dtype))
                d = deps[nxt] - 1
                deps[nxt] = d
                if d == 0:
                    ready.append(nxt)
    finally:
        STATE.enabled = prev_mode


def _make_root_grads(tensors, grad_tensors, Tensor):
    out = []
    for t, g in zip(tensors, grad_tensors):
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not t.dtype.is_floating_point:
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
            out.append(np.ones(t._data.shape, t._data.dtype))
        else:
            ga = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=t._data.dtype)
            if ga.shape != t._data.shape:
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[0] has a shape of torch.Size({list(ga.shape)}) and "
                    f"output[0] has a shape of torch.Size({list(t._data.shape)}).")
            out.append(ga)
    return out


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    from ..tensor import Tensor
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
    roots = [t.grad_fn or t._accumulator() for t in tensors]
    run_backward(roots, root_grads, retain_graph=bool(retain_graph))


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    from ..tensor import Tensor
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
    in_nodes = [t.grad_fn or t._accumulator() for t in inputs]
    capture = {n: None for n in in_nodes}
    roots = [t.grad_fn or t._accumulator() for t in outputs]
    run_backward(roots, root_grads, retain_graph=bool(retain_graph), capture=capture)
    result = []
    for t, n in zip(inputs, in_nodes):
        g = capture[n]
        if g is None:
            if materialize_grads:
                result.append(Tensor._wrap(np.zeros_like(t._data)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    "One of the differentiated Tensors appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        else:
            if g.shape != t._data.shape or g.dtype != t._data.dtype:
                g = _fit(g, (t._data.shape, t._data.dtype))
            result.append(Tensor._wrap(np.array(g, copy=True)))
    return tuple(result)
