# cython: language_level=3
"""The hot part of the Python layer, compiled: the Tensor's base fields, graph nodes, and the
backward engine.  Per-op Python overhead dominates small tensors, so the bookkeeping every op
does (wrapping a result, linking a node, walking the graph) lives here; what each op computes
lives in its Node subclass in pyautodiff/ops (forward and backward together, in Python + kernels).

Node protocol (implemented by the op subclasses):
  forward(self, *args)  tensor arguments arrive as ndarrays, others as given; returns an ndarray.
  backward(self, grad)  grad is an ndarray shaped like the output; returns one gradient (ndarray
                        or None) per positional forward argument, or a bare ndarray for one input.
Gradients may be broadcast-shaped or of a wider dtype: the engine fits them back to each input.
"""
from cpython.ref cimport Py_REFCNT
from libc.string cimport memcmp
cimport numpy as cnp
import numpy as np

cnp.import_array()

cdef object _ndarray = np.ndarray
cdef object _asarray = np.asarray
cdef object _np_add = np.add
cdef object _Tensor = None   # pyautodiff.tensor.Tensor, registered at import (no import cycle)
cdef object _STATE = None    # grad mode flag holder (pyautodiff.autograd.grad_mode.STATE)
cdef object _Lazy = None     # pyautodiff.ops.fusion.Lazy: a not-yet-evaluated elementwise chain
cdef object _flush = None    # pyautodiff.ops.fusion.flush_reading
cdef object _refresh_view = None  # pyautodiff.tensor._refresh_view

API_VERSION = 2  # 2: grad_fn is a property (views re-derive their history on read)

_FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after "
    "they have already been freed). Saved intermediate values of the graph are freed when you call "
    ".backward() or autograd.grad(). Specify retain_graph=True if you need to backward through the "
    "graph a second time or if you need to access saved tensors after calling backward.")


def register(tensor_cls, state):
    global _Tensor, _STATE
    _Tensor = tensor_cls
    _STATE = state


def register_view_refresh(fn):
    global _refresh_view
    _refresh_view = fn


def register_fusion(lazy_cls, flush):
    global _Lazy, _flush
    _Lazy = lazy_cls
    _flush = flush


cdef inline object _materialized(object x):
    """x itself, or the ndarray of a lazy chain (evaluated once, cached by the chain)."""
    if type(x) is _Lazy:
        return x.materialize()
    return x


cdef class TensorBase:
    """Fields every Tensor has; pyautodiff.tensor.Tensor adds the Python API on top."""
    cdef public object _raw           # the numpy ndarray holding the values (or, for large
                                      # elementwise results, a Lazy chain evaluated on first use)
    cdef public bint _requires_grad
    cdef public object _grad_fn       # the Node that made this tensor, None for leaves
    cdef public object _grad          # Tensor or None
    cdef public list _version         # [n], shared by all views of one memory: bumped by in-place ops
    cdef public bint _retains_grad
    cdef public object _acc           # weakref to the AccumulateGrad node of a leaf
    cdef public object _base          # for a view (view/reshape/t/slicing ...): the tensor owning
                                      # the memory; in-place ops on the view update its history too
    cdef public long _view_at         # for a view: the version its grad_fn was derived at
    cdef public bint _view_nograd     # for a view: made in no_grad mode (no history to re-derive)
    cdef object __weakref__

    property grad_fn:
        """The Node that made this tensor (None for a leaf).  A view whose base changed in place
        since its history was recorded gets it re-derived first (AsStridedBackward0), as torch
        does on every read of grad_fn."""
        def __get__(self):
            if self._base is not None and self._version[0] != self._view_at:
                _refresh_view(self, True)
            return self._grad_fn

        def __set__(self, value):
            self._grad_fn = value

    property _data:
        """The values as a numpy ndarray (a pending lazy chain is evaluated here, once)."""
        def __get__(self):
            raw = self._raw
            if type(raw) is _Lazy:
                raw = self._raw = raw.materialize()
            return raw

        def __set__(self, value):
            self._raw = value

    property requires_grad:
        def __get__(self):
            return self._requires_grad

        def __set__(self, value):
            if self._grad_fn is not None:
                if not value:
                    raise RuntimeError(
                        "you can only change requires_grad flags of leaf variables. If you want to use "
                        "a computed variable in a subgraph that doesn't require differentiation use "
                        "var_no_grad = var.detach().")
                return
            if value and self._data.dtype.kind != "f":
                raise RuntimeError("only Tensors of floating point and complex dtype can require gradients")
            self._requires_grad = bool(value)


cpdef wrap(cls, arr):
    """A new leaf Tensor of class `cls` over the ndarray `arr` (no copy)."""
    cdef TensorBase t = TensorBase.__new__(cls)
    t._raw = arr
    t._version = [0]
    return t


cdef inline TensorBase _wrap(object arr):
    cdef TensorBase t = TensorBase.__new__(_Tensor)
    t._raw = arr
    t._version = [0]
    return t


cdef class Node:
    """Base of every grad_fn.  next_functions: torch's ((node or None, 0), ...), one per forward
    argument.  _meta: per argument None, or (shape, dtype) when its gradient must be fitted back.
    _saved: what forward kept (None: nothing; False: freed).  _versions: [(version list, value)]
    of saved tensors, to detect in-place changes.  _retain: weakrefs of non-leaf tensors whose
    .grad keeps this node's incoming gradient (retain_grad)."""
    cdef public tuple _next           # one (node or None, 0) per forward argument (the engine's edges)
    cdef public long _tensor_args     # bit i set: forward argument i was a Tensor
    cdef public list _meta
    cdef public object _saved
    cdef public list _versions
    cdef public list _retain
    cdef unsigned long _pass          # number of the backward pass that last visited this node
    cdef long _deps                   # during a pass: consumers that have not sent their gradient
    cdef object _gin                  # during a pass: the gradient received so far
    cdef dict __dict__
    cdef object __weakref__
    fuses = False  # True: forward/backward accept Lazy chains (pyautodiff.ops.fusion) as arrays
    # which forward arguments torch lists in next_functions: None = the Tensor ones; binary
    # arithmetic (add/sub/mul/div) lists its Python-number operand too, as (None, 0)
    shown_args = None

    @property
    def next_functions(self):
        """torch's view of the edges: ((node or None, 0), ...)."""
        nx = self._next
        if nx is None:
            return ()
        shown = type(self).shown_args
        if shown is None:
            return tuple([nx[i] for i in range(len(nx)) if self._tensor_args >> i & 1])
        return tuple([nx[i] for i in shown if i < len(nx)])

    def needs_input_grad(self, Py_ssize_t i):
        """Does forward argument i lead to a tensor that requires grad?"""
        return self._next is not None and self._next[i][0] is not None

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

    @classmethod
    def apply(cls, *args):
        """Run the op on tensors/scalars; link the result into the graph when grad is needed."""
        cdef Node node = cls.__new__(cls)
        cdef Py_ssize_t i, n = len(args)
        cdef bint needs = False
        cdef list arrays = list(args)
        cdef TensorBase t
        for i in range(n):
            a = args[i]
            if isinstance(a, TensorBase):
                t = <TensorBase>a
                if t._base is not None and t._version[0] != t._view_at:
                    _refresh_view(t, False)  # its base changed in place: re-derive its history
                raw = t._raw
                if type(raw) is not _ndarray and type(raw) is _Lazy and (
                        not node.fuses or not raw.shape
                        # a pending chain as the second operand of a smaller first one
                        # (`s * y`, s 0-d): a broadcast, which the fused ops do not take
                        or i > 0 and type(arrays[0]) is _ndarray and
                        (<object>arrays[0]).shape != raw.shape):
                    raw = t._raw = raw.materialize()  # this op wants an ndarray (or: a pending 0-d sum)
                arrays[i] = raw
                if t._requires_grad:
                    needs = True
        try:
            out = node.forward(*arrays)
        except MemoryError as e:
            raise RuntimeError(_alloc_message(e)) from None
        if type(out) is not _ndarray and type(out) is not _Lazy:
            scalar = out
            out = _asarray(out)  # numpy hands back scalars for 0-d inputs
            if node._saved:  # a saved output (a scalar) is the result's array from now on
                node._saved = tuple([out if s is scalar else s for s in node._saved])
        cdef TensorBase result = _wrap(out)
        if needs and _STATE.enabled and (cnp.PyArray_ISFLOAT(<cnp.ndarray>out) if type(out) is _ndarray
                                         else out.dtype.kind == "f"):  # int/bool results: no grad
            node._link(args, out, result)
        return result

    cdef _link(self, tuple args, object out, TensorBase result):
        cdef Py_ssize_t n = len(args)
        cdef list nexts = [_NO_EDGE] * n
        cdef list meta = None
        cdef list versions = None
        cdef TensorBase t
        cdef long mask = 0
        cdef Py_ssize_t i = 0
        cdef bint mixed = False
        saved = self._saved
        for i in range(n):
            a = args[i]
            if isinstance(a, TensorBase):
                t = <TensorBase>a
                if i < 62:
                    mask |= (<long>1) << i
                if t._requires_grad:
                    nexts[i] = (t._grad_fn if t._grad_fn is not None else accumulator(t), 0)
                d = t._raw
                if not _same_layout(d, out):  # its gradient must be fitted back (broadcast/dtype)
                    if meta is None:
                        meta = [None] * n
                    meta[i] = (d.shape, d.dtype)
                    if d.dtype != out.dtype:
                        mixed = True
                if saved:
                    for s in saved:
                        if s is d:
                            if versions is None:
                                versions = []
                            versions.append((t._version, t._version[0], d, t._grad_fn))
                            break
        if mixed:
            # an operand of another dtype (a float64 0-d tensor times a float32 one) can make the
            # backward formulas compute in its dtype: every gradient is fitted back to its input
            for i in range(n):
                a = args[i]
                if meta[i] is None and isinstance(a, TensorBase):
                    d = (<TensorBase>a)._raw
                    meta[i] = (d.shape, d.dtype)
        if saved:
            for s in saved:
                if s is out:
                    if versions is None:
                        versions = []
                    versions.append((result._version, 0, out, _SELF))
                    break
        self._next = tuple(nexts)
        self._tensor_args = mask
        self._meta = meta
        self._versions = versions
        result._requires_grad = True
        result._grad_fn = self

    cdef _check_versions(self):
        for box, v, saved, producer in self._versions:
            if box[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: {_describe(saved, self if producer is _SELF else producer)}is at version {box[0]}; expected version {v} "
                    "instead. Hint: enable anomaly detection to find the operation that failed to "
                    "compute its gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")


import weakref as _weakref
cdef object _weakref_ref = _weakref.ref
cdef tuple _NO_EDGE = (None, 0)


def _alloc_message(e):
    """torch's message when memory can't be had (numpy raises MemoryError, torch RuntimeError)."""
    n = getattr(e, "_total_size", None)
    return (f"DefaultCPUAllocator: can't allocate memory: you tried to allocate {n} bytes. Error code 12 "
            "(Cannot allocate memory)" if n is not None else f"DefaultCPUAllocator: can't allocate memory: {e}")


cdef inline bint _same_layout(object d, object out):
    """Same shape and dtype (the gradient of d needs no fitting)."""
    cdef cnp.ndarray a, b
    cdef int nd
    if type(d) is _ndarray and type(out) is _ndarray:
        a = <cnp.ndarray>d
        b = <cnp.ndarray>out
        nd = cnp.PyArray_NDIM(a)
        return (nd == cnp.PyArray_NDIM(b) and cnp.PyArray_TYPE(a) == cnp.PyArray_TYPE(b)
                and (nd == 0 or memcmp(cnp.PyArray_DIMS(a), cnp.PyArray_DIMS(b), nd * sizeof(cnp.npy_intp)) == 0))
    return d.shape == out.shape and d.dtype == out.dtype
import re as _re
cdef object _backward_suffix = _re.compile(r"Backward\d*$")
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
               "int64": "LongTensor", "int32": "IntTensor", "bool": "BoolTensor"}


cdef object _SELF = object()  # marks a saved output of the node itself


cdef str _describe(object d, object fn):
    """torch's '[torch.FloatTensor [2]], which is output 0 of Exp, ' part of the version error
    (d: the saved array; fn: the node that produced it, None for a leaf)."""
    s = f"[pyautodiff.{_TYPE_NAMES.get(d.dtype.name, 'Tensor')} {list(d.shape)}]"
    if fn is not None:
        s += f", which is output 0 of {_backward_suffix.sub('', type(fn).__name__)},"
    return s + " "


cpdef accumulator(TensorBase t):
    """The AccumulateGrad node of a leaf (created once, held weakly by the tensor, like torch)."""
    acc = t._acc() if t._acc is not None else None
    if acc is None:
        acc = AccumulateGrad(t)
        t._acc = _weakref_ref(acc)
    return acc


cdef class AccumulateGrad(Node):
    """The sink of a leaf: adds the incoming gradient into `variable.grad` (in place if it exists)."""
    cdef public TensorBase variable

    def __init__(self, variable):
        self.variable = variable
        self._next = ()
        self._meta = []

    def name(self):
        return "torch::autograd::AccumulateGrad"

    cdef accumulate(self, grad, bint exclusive):
        """exclusive: the engine holds the only reference to `grad`, so it may be adopted."""
        cdef TensorBase var = self.variable
        cdef TensorBase g
        d = var._data
        if type(grad) is not _ndarray:
            if type(grad) is _Lazy:
                if grad.shape == d.shape and grad.dtype == d.dtype:
                    g = var._grad
                    if g is None:
                        var._grad = _wrap(grad.materialize(fresh=True))
                    else:  # one fused pass: .grad += chain
                        if _flush is not None:  # pending chains reading the old .grad evaluate first
                            _flush(g._raw)
                        grad.accumulate_into(g._data)
                        g._version[0] += 1
                    return
                grad = grad.materialize()
                exclusive = False
            else:
                grad = _asarray(grad)
        if grad.shape != d.shape:
            grad = sum_to(grad, d.shape)
            exclusive = False
        g = var._grad
        if g is None:
            if grad.dtype != d.dtype:
                grad = grad.astype(d.dtype)
            elif not (exclusive and grad.base is None and grad.flags.writeable and grad.flags.c_contiguous):
                grad = grad.copy()  # never alias a buffer someone else may hold
            var._grad = _wrap(grad)
        else:
            gd = g._data  # in place into the existing .grad buffer: one pass, no allocation
            if _flush is not None:
                _flush(gd)
            _np_add(gd, grad, out=gd, casting="unsafe")
            g._version[0] += 1


def sum_to(grad, shape):
    """Sum a broadcast gradient back to `shape`."""
    if grad.shape == shape:
        return grad
    nd = grad.ndim - len(shape)
    if nd:
        grad = grad.sum(axis=tuple(range(nd)))
    axes = tuple([i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1])
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return _asarray(grad).reshape(shape)  # numpy reduces to a scalar for shape ()


cdef inline object _fit(object g, tuple meta):
    shape, dtype = meta
    if type(g) is _Lazy:
        if g.shape == shape and g.dtype == dtype:
            return g
        g = g.materialize()
    if g.shape != shape:
        g = sum_to(g, shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


cdef unsigned long _pass_counter = 0


def run_backward(list roots, list root_grads, bint retain_graph=False, dict capture=None):
    """Propagate root_grads (ndarrays) from the root nodes down to the leaves, each node once,
    after all of its consumers (Kahn's order over dependency counts: iterative, so graphs of any
    depth work).  The counts and the gradients in flight live in C fields of the nodes, stamped
    with this pass's number (no dicts).  capture (autograd.grad): {node: None}; the total gradient
    reaching each of those nodes is stored there, and leaves' .grad are left alone."""
    global _pass_counter
    _pass_counter += 1
    cdef unsigned long pid = _pass_counter
    cdef list stack = []
    cdef list visited = []
    cdef Node node, e
    for r in roots:
        node = <Node>r
        if node._pass != pid:
            node._pass = pid
            node._deps = 0
            node._gin = None
            visited.append(node)
            stack.append(node)
    # 1. count the edges pointing at every node reachable from the roots
    while stack:
        node = <Node>stack.pop()
        for edge in node._next:
            x = (<tuple>edge)[0]
            if x is not None:
                e = <Node>x
                if e._pass != pid:
                    e._pass = pid
                    e._deps = 1
                    e._gin = None
                    visited.append(e)
                    stack.append(e)
                else:
                    e._deps += 1
    # 2. run nodes whose consumers are all done
    cdef list ready = []
    for r, g in zip(roots, root_grads):
        node = <Node>r
        if node._gin is None:
            node._gin = g
        else:
            node._gin = node._gin + g
    for r in roots:
        node = <Node>r
        if node._deps == 0 and node._gin is not None and node not in ready:
            ready.append(node)
    cdef bint prev_mode = _STATE.enabled
    cdef Py_ssize_t i, n
    cdef list meta
    cdef tuple nf
    _STATE.enabled = False  # backward computations never record a graph
    try:
        while ready:
            node = <Node>ready.pop()
            grad = node._gin
            node._gin = None
            nf = node._next
            if grad is None:
                # no gradient reached this node: only release its inputs' dependency counts
                for edge in nf:
                    x = (<tuple>edge)[0]
                    if x is not None:
                        e = <Node>x
                        e._deps -= 1
                        if e._deps == 0:
                            ready.append(e)
                continue
            if node._retain is not None:
                for ref in node._retain:
                    t = ref()
                    if t is not None:
                        t._store_retained_grad(grad)
            if capture is not None and node in capture:
                prev = capture[node]
                capture[node] = grad if prev is None else prev + grad
            if type(node) is AccumulateGrad:
                if capture is None:
                    # refcount 1: only this local holds the gradient, so .grad may adopt it
                    (<AccumulateGrad>node).accumulate(grad, Py_REFCNT(grad) == 1)
                continue
            if node._versions is not None:
                node._check_versions()
            if type(grad) is _Lazy and not node.fuses:
                grad = grad.materialize()
            try:
                in_grads = node.backward(grad)
            except MemoryError as e:
                raise RuntimeError(_alloc_message(e)) from None
            grad = None
            if not retain_graph and node._saved is not None:
                node._saved = False
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            meta = node._meta  # None: no argument's gradient needs fitting
            n = len(nf)
            for i in range(n):
                x = (<tuple>nf[i])[0]
                if x is None:
                    continue
                e = <Node>x
                g = (<tuple>in_grads)[i]
                if g is not None:
                    if type(g) is not _ndarray and type(g) is not _Lazy:
                        g = _asarray(g)
                    if meta is not None:
                        m = meta[i]
                        if m is not None:
                            g = _fit(g, <tuple>m)
                    prev = e._gin
                    if prev is None:
                        e._gin = g
                    else:
                        # a shared subexpression: a fresh sum (g may alias a saved buffer)
                        s = prev + g  # a Lazy sum when either side is a pending chain
                        e._gin = s if type(s) is _ndarray or type(s) is _Lazy else _asarray(s)
                        s = None
                    prev = None
                    g = None
                e._deps -= 1
                if e._deps == 0:
                    ready.append(e)
            in_grads = None
    finally:
        _STATE.enabled = prev_mode
        for node in visited:  # nothing of this pass stays referenced (e.g. after an error)
            node._gin = None
