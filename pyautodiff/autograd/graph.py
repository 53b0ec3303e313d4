"""Graph nodes.  Every op is a subclass of Node named as torch names its grad_fn
(`MulBackward0`, ...): `forward` and `backward` of one op live together in that class.

forward(self, *args): tensor arguments arrive as ndarrays, others as given; returns an ndarray.
backward(self, grad): grad is an ndarray shaped like the output; returns one gradient (ndarray,
    or None) per positional forward argument, in order.  Gradients may be broadcast-shaped or of a
    wider dtype: the engine sums/casts them back to each input (see engine._fit).
"""
from .grad_mode import STATE

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")

_Tensor = None  # set by pyautodiff.tensor (avoids an import cycle)


class Node:
    # next_functions: torch's ((node or None, 0), ...) one per forward argument
    # _meta: per argument, None or (shape, dtype) when its gradient must be fitted back
    # _saved: what forward kept for backward; None = nothing saved, False = freed
    # _versions: ((version box, value at save), ...) to detect in-place changes of saved tensors
    # _retain: tensors (non-leaf) whose .grad keeps this node's incoming gradient
    __slots__ = ("next_functions", "_meta", "_saved", "_versions", "_retain", "__dict__", "__weakref__")

    def __init__(self):
        self._saved = None
        self._versions = None
        self._retain = None

    # --- what op subclasses use -------------------------------------------------------------
    def save(self, *arrays):
        self._saved = arrays

    @property
    def saved(self):
        s = self._saved
        if s is False:
            raise RuntimeError(_FREED_MSG)
        return s

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self):#x}>"

    # --- graph construction -----------------------------------------------------------------
    @classmethod
    def apply(cls, *args):
        """Run the op on tensors/scalars and link the result into the graph when needed."""
        Tensor = _Tensor
        node = cls()
        arrays = []
        needs = False
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a._data)
                if a.requires_grad:
                    needs = True
            else:
                arrays.append(a)
        out = node.forward(*arrays)
        if type(out) is not _ndarray:
            out = _asarray(out)  # numpy returns scalars for 0-d inputs
        result = Tensor._wrap(out)
        if needs and STATE.enabled and out.dtype.kind == "f":  # integer/bool results never require grad
            node._link(args, out, result)
        return result

    def _link(self, args, out, result):
        Tensor = _Tensor
        nexts = []
        meta = []
        saved = self._saved
        versions = []
        for a in args:
            if isinstance(a, Tensor):
                if a.requires_grad:
                    nexts.append((a.grad_fn or a._accumulator(), 0))
                else:
                    nexts.append((None, 0))
                d = a._data
                if d.shape != out.shape or d.dtype != out.dtype:
                    meta.append((d.shape, d.dtype))
                else:
                    meta.append(None)
                if saved:
                    for s in saved:
                        if s is d:
                            versions.append((a._version, a._version[0]))
                            break
            else:
                nexts.append((None, 0))
                meta.append(None)
        if saved:
            for s in saved:
                if s is out:
                    versions.append((result._version, 0))
                    break
        self.next_functions = tuple(nexts)
        self._meta = meta
        if versions:
            self._versions = versions
        result.requires_grad = True
        result.grad_fn = self

    # --- used by the engine -----------------------------------------------------------------
    def _check_versions(self):
        if self._versions:
            for box, v in self._versions:
                if box[0] != v:
                    raise RuntimeError(
                        "one of the variables needed for gradient computation has been modified by an "
                        f"inplace operation: is at version {box[0]}; expected version {v} instead. Hint: "
                        "the backtrace further above can point at the operation that failed to compute "
                        "its gradient. The variable in question was changed in there or anywhere later. "
                        "Good luck!")

    def _release(self):
        if self._saved is not None:
            self._saved = False


class AccumulateGrad(Node):
    """The sink of a leaf tensor: adds the incoming gradient into `variable.grad` in place."""
    __slots__ = ("variable",)

    def __init__(self, variable):
        Node.__init__(self)
        self.variable = variable
        self.next_functions = ()
        self._meta = ()

    def accumulate(self, grad):
        var = self.variable
        d = var._data
        if type(grad) is not _ndarray:
            grad = _asarray(grad)
        if grad.shape != d.shape:
            grad = _sum_to(grad, d.shape)
        g = var._grad
        if g is None:
            if grad.dtype != d.dtype:
                grad = grad.astype(d.dtype)
            elif not grad.flags.owndata or not grad.flags.writeable or not grad.flags.c_contiguous:
                grad = grad.copy()  # never alias a buffer someone else holds
            var._grad = _Tensor._wrap(grad)
        else:
            gd = g._data  # accumulate in place into the existing .grad buffer: no new allocation
            np_add(gd, grad, out=gd, casting="unsafe")
            g._version[0] += 1


def _sum_to(grad, shape):
    """Sum a broadcast gradient back to `shape`."""
    if grad.shape == shape:
        return grad
    nd = grad.ndim - len(shape)
    if nd:
        grad = grad.sum(axis=tuple(range(nd)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


from numpy import add as np_add, ndarray as _ndarray, asarray as _asarray  # noqa: E402
