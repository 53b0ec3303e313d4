"""Tensor: a numpy ndarray plus autograd bookkeeping.  Ops live in pyautodiff.ops; this file holds
the class, its Python protocol methods, and torch's method spellings that delegate to the ops."""
import numbers
from sys import getrefcount as _getrefcount
import warnings
import weakref

import numpy as np

from . import _dtype, _layout
from ._C import G as _G
from .autograd.grad_mode import STATE as _GRAD


class Size(tuple):
    """torch.Size: a tuple that prints as pyautodiff.Size([2, 3])."""
    __slots__ = ()

    def __repr__(self):
        return f"pyautodiff.Size({list(self)})"

    __str__ = __repr__

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, i):
        r = tuple.__getitem__(self, i)
        return Size(r) if isinstance(i, slice) else r

    def __reduce__(self):
        return (Size, (tuple(self),))


class device:
    """Only the CPU exists here; 'cuda' locations are accepted where torch files name them."""
    __slots__ = ("type", "index")

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if ":" in type:
            type, idx = type.split(":")
            index = int(idx)
        self.type = type
        self.index = index

    def __repr__(self):
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


_CPU = device("cpu")
_ndarray = np.ndarray


def _check_cpu(dev):
    if dev is None:
        return
    d = dev if isinstance(dev, device) else device(str(dev))
    if d.type != "cpu":
        raise RuntimeError(f"Device '{d}' is not available: pyautodiff only runs on the CPU")


class Tensor(_G.TensorBase):
    """The fields (_data, requires_grad, grad_fn, _grad, _version, ...) live in the compiled
    TensorBase (csrc/_graph.pyx); this class is the Python API over them."""
    __array_priority__ = 1000  # numpy defers to our reflected operators

    # ------------------------------------------------------------------ construction
    _wrap = classmethod(_G.wrap)  # Tensor._wrap(ndarray): a new leaf sharing that ndarray

    def __new__(cls, *args, **kwargs):
        # Tensor(data) / Tensor(2, 3) legacy constructors, as torch.Tensor
        if len(args) == 1 and not isinstance(args[0], numbers.Integral):
            a = args[0]
            arr = a._data.astype(_dtype.get_default_dtype().np) if isinstance(a, Tensor) else \
                np.array(a, dtype=_dtype.get_default_dtype().np)
        else:
            arr = np.empty(tuple(args), dtype=_dtype.get_default_dtype().np)
        return cls._wrap(arr)

    def __init__(self, *args, **kwargs):
        pass

    # ------------------------------------------------------------------ properties
    @property
    def data(self):
        return Tensor._wrap_view(self)

    @data.setter
    def data(self, value):
        _fusion.flush_pending()
        self._data = value._data
        self._version = value._version

    def _wrap_view(self):
        t = Tensor._wrap(self._data)
        t._version = self._version
        return t

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad:
            warnings.warn(
                "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad "
                "attribute won't be populated during autograd.backward(). If you indeed want the .grad "
                "field to be populated for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor.",
                UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type "
                                f"{type(value).__name__}")
            if value._data.shape != self._raw.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value._data.shape)}' to a "
                                   f"tensor of size '{list(self._raw.shape)}'. Please ensure that the gradient "
                                   "and the tensor are the same size")
            if value.dtype is not self.dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{_META_NAMES.get(value.dtype.name)}' to a tensor "
                    f"with grad_dtype '{_SCALAR_NAMES[self.dtype.name]}'. The gradient must match the tensor's "
                    "grad_dtype (defaults to the tensor's dtype). You can set the tensor's grad_dtype attribute "
                    "with a specific dtype, or None to allow any dtype. Set grad_dtype with caution. Diverging the "
                    "dtypes of a tensor and its gradient may break downstream systems that assume they match.")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    def _store_retained_grad(self, g):
        if self._grad is None:
            self._grad = Tensor._wrap(np.array(g, dtype=self._raw.dtype, copy=True).reshape(self._raw.shape))
        else:
            self._grad = Tensor._wrap(self._grad._data + g)

    def retain_grad(self):
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self._retains_grad:
            self._retains_grad = True
            node = self.grad_fn
            if node._retain is None:
                node._retain = []
            node._retain.append(weakref.ref(self))

    @property
    def retains_grad(self):
        return self._retains_grad

    def requires_grad_(self, requires_grad=True):
        self._set_requires_grad(requires_grad)
        return self

    def _set_requires_grad(self, value):
        if value and self.grad_fn is None and self._raw.dtype.kind != "f":
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        self.requires_grad = value

    @property
    def dtype(self):
        return _dtype._BY_NP[self._raw.dtype]

    @property
    def shape(self):
        return Size(self._raw.shape)

    def size(self, dim=None):
        if dim is None:
            return Size(self._raw.shape)
        return self._raw.shape[_wrap_dim(dim, self._raw.ndim)]

    def dim(self):
        return self._raw.ndim

    @property
    def ndim(self):
        return self._raw.ndim

    def ndimension(self):
        return self._raw.ndim

    def numel(self):
        return self._raw.size

    nelement = numel

    def element_size(self):
        return self._data.itemsize

    @property
    def itemsize(self):
        return self._data.itemsize

    @property
    def nbytes(self):
        return self._data.nbytes

    @property
    def device(self):
        return _CPU

    @property
    def is_cuda(self):
        return False

    def is_floating_point(self):
        return self._raw.dtype.kind == "f"

    def is_contiguous(self, memory_format=None):
        return self._data.flags.c_contiguous

    def stride(self, dim=None):
        st = tuple(s // self._data.itemsize for s in self._data.strides)
        return st if dim is None else st[_wrap_dim(dim, self._raw.ndim)]

    def storage_offset(self):
        base = self._data
        while isinstance(base.base, np.ndarray):
            base = base.base
        return (self._data.__array_interface__["data"][0] - base.__array_interface__["data"][0]) \
            // self._data.itemsize

    def data_ptr(self):
        return self._data.__array_interface__["data"][0]

    @property
    def _version_value(self):
        return self._version[0]

    # ------------------------------------------------------------------ conversions
    def item(self):
        if self._raw.size != 1:
            raise RuntimeError(f"a Tensor with {self._raw.size} elements cannot be converted to Scalar")
        return self._data.reshape(()).item()

    def tolist(self):
        return self._data.tolist()

    def numpy(self, *, force=False):
        if self.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        d = self._data
        _fusion.export(d)  # the caller may write this memory: never read it lazily again
        return d

    def __array__(self, dtype=None, copy=None):
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if dtype is not None and dtype != self._raw.dtype:
            return self._data.astype(dtype)
        d = self._data
        _fusion.export(d)
        return d

    def __float__(self):
        if self._raw.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return float(self.item())

    def __int__(self):
        if self._raw.size != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return int(self.item())

    def __index__(self):
        if self._raw.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __bool__(self):
        if self._raw.size != 1:
            raise RuntimeError("Boolean value of Tensor with no values is ambiguous" if self._raw.size == 0 else
                               "Boolean value of Tensor with more than one value is ambiguous")
        return bool(self._data.reshape(()).item())

    def __len__(self):
        if self._raw.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._raw.shape[0]

    def __iter__(self):
        if self._raw.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return _idx.unbind_rows(self)

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        from ._tensor_str import tensor_repr
        return tensor_repr(self)

    def __format__(self, spec):
        if self._raw.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the "
                               "deepcopy protocol at the moment.  If you were attempting to deepcopy a "
                               "module, this may be because of a torch.nn.utils.weight_norm usage, see "
                               "https://github.com/pytorch/pytorch/pull/103001")
        if id(self) in memo:
            return memo[id(self)]
        new = type(self)._wrap(self._data.copy())
        new._requires_grad = self._requires_grad
        if self._grad is not None:
            new._grad = self._grad.__deepcopy__(memo)
        if self.__dict__:
            import copy
            new.__dict__.update(copy.deepcopy(self.__dict__, memo))
        memo[id(self)] = new
        return new

    def __reduce_ex__(self, proto):
        # plain pickle (not .pt files: pyautodiff.save writes torch's format itself)
        return (_rebuild_tensor, (type(self), self._data.copy(), self.requires_grad,
                                  self.__dict__ or None))

    def __setstate__(self, state):
        pass

    # ------------------------------------------------------------------ autograd entry points
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        d = self._raw  # (not _data: a pending sum may be evaluated in the backward pass itself)
        if type(d) is _Lazy and _getrefcount(self) <= _TEMPORARY_REFS:
            # `y.mean().backward()`: nobody can read this loss after the statement
            _fusion.mark_unread(d)
        if gradient is None and self.grad_fn is not None and d.ndim == 0 and d.dtype.kind == "f" \
                and not create_graph and inputs is None:
            # the common case (loss.backward()) without the general entry point's checks
            _G.run_backward([self.grad_fn], [_engine.scalar_one(d.dtype)], bool(retain_graph))
            return
        _engine.backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                         inputs)

    def detach(self):
        t = Tensor._wrap(self._data)
        t._version = self._version
        return t

    def detach_(self):
        if self._base is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are using "
                               "DistributedDataParallel (DDP) for training, and gradient_as_bucket_view "
                               "is set as True, gradients are views of DDP buckets, and hence detach_() "
                               "cannot be called on these gradients. To fix this error, please refer to "
                               "the Optimizer.zero_grad() function in torch/optim/optimizer.py as the "
                               "solution.")
        self.grad_fn = None
        self.requires_grad = False
        return self

    # ------------------------------------------------------------------ dtype conversions
    def to(self, *args, **kwargs):
        dtype = kwargs.get("dtype")
        copy = kwargs.get("copy", False)
        for a in args:
            if isinstance(a, _dtype.dtype):
                dtype = a
            elif isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)):
                _check_cpu(a)
        _check_cpu(kwargs.get("device"))
        if dtype is None:
            return self.clone() if copy else self
        return _ew.to_dtype(self, dtype, copy=copy)

    def type(self, dtype=None):
        if dtype is None:
            return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
                    "int64": "torch.LongTensor", "int32": "torch.IntTensor",
                    "bool": "torch.BoolTensor"}.get(self.dtype.name, "torch.Tensor")
        return self.to(dtype)

    def float(self):
        return _ew.to_dtype(self, _dtype.float32)

    def double(self):
        return _ew.to_dtype(self, _dtype.float64)

    def half(self):
        return _ew.to_dtype(self, _dtype.float16)

    def long(self):
        return _ew.to_dtype(self, _dtype.int64)

    def int(self):
        return _ew.to_dtype(self, _dtype.int32)

    def bool(self):
        return _ew.to_dtype(self, _dtype.bool_)

    def cpu(self):
        return self

    def contiguous(self, memory_format=None):
        return self if self._data.flags.c_contiguous else _ew.clone(self, memory_format=_ew.contiguous_format)

    # ------------------------------------------------------------------ arithmetic



    def __rsub__(self, other):
        return _ew.rsub(self, other)




    def __rtruediv__(self, other):
        return _ew.rdiv(self, other)

    def __floordiv__(self, other):
        return _ew.div(self, other, rounding_mode="floor")

    def __rfloordiv__(self, other):
        return self._reflected(other, np.floor_divide)

    def __mod__(self, other):
        dt = _ew.result_dtype(self, other).np  # torch's promotion (no gradient)
        o = other._data if isinstance(other, Tensor) else other
        with np.errstate(divide="ignore", invalid="ignore"):
            return _from_array(np.asarray(np.remainder(self._data.astype(dt, copy=False), o), dtype=dt))

    def __rmod__(self, other):
        return self._reflected(other, np.remainder)

    def _reflected(self, number, f):
        """number (op) self for a Python number, with torch's promotion (no gradient)."""
        dt = _ew.result_dtype(self, number).np
        with np.errstate(divide="ignore", invalid="ignore"):
            return _from_array(np.asarray(f(dt.type(number), self._data.astype(dt, copy=False)), dtype=dt))


    def __rpow__(self, other):
        return _ew.pow(other, self)

    def __neg__(self):
        return _ew.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return self.abs()

    def __matmul__(self, other):
        return _linalg.matmul(self, other)

    def __rmatmul__(self, other):
        return _linalg.matmul(_to_tensor_like(other, self), self)

    # torch's method spellings of the ops
    def add(self, other, *, alpha=1):
        return _ew.add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        return _ew.sub(self, other, alpha=alpha)

    subtract = sub

    def mul(self, other):
        return _ew.mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        return _ew.div(self, other, rounding_mode=rounding_mode)

    divide = true_divide = div

    def pow(self, other):
        return _ew.pow(self, other)

    def neg(self):
        return _ew.neg(self)

    negative = neg

    def reciprocal(self):
        a = self if self.dtype.is_floating_point else _ew.to_dtype(self, _dtype.get_default_dtype())
        return _ew.ReciprocalBackward0.apply(a)

    def exp(self):
        return _ew.exp(self)

    def log(self):
        return _ew.log(self)

    def relu(self):
        return _ew.relu(self)

    def clone(self, *, memory_format=None):
        return _ew.clone(self, memory_format=memory_format)

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        return _red.sum(self, dim, keepdim, dtype=dtype)

    def mean(self, dim=None, keepdim=False, *, dtype=None):
        return _red.mean(self, dim, keepdim, dtype=dtype)

    def matmul(self, other):
        return _linalg.matmul(self, other)

    def mm(self, other):
        return _linalg.mm(self, other)

    def mv(self, other):
        return _linalg.mv(self, other)

    def dot(self, other):
        return _linalg.dot(self, other)

    def view(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
            raise NotImplementedError("view(dtype) is not supported")
        return _shape.view(self, shape)

    def reshape(self, *shape):
        return _shape.reshape(self, shape)

    def view_as(self, other):
        return _shape.view(self, other._raw.shape)

    def reshape_as(self, other):
        return _shape.reshape(self, other._raw.shape)

    def t(self):
        return _shape.t(self)

    @property
    def T(self):
        nd = self._raw.ndim
        if nd != 2 and (nd == 0) not in _T_WARNED:  # once per process, as torch's TORCH_WARN_ONCE
            _T_WARNED.add(nd == 0)
            warnings.warn("Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."
                          if nd == 0 else
                          "The use of `x.T` on tensors of dimension other than 2 to reverse their shape is "
                          "deprecated and it will throw an error in a future release. Consider `x.mT` to transpose "
                          "batches of matrices or `x.permute(*pyautodiff.arange(x.ndim - 1, -1, -1))` to reverse "
                          "the dimensions of a tensor.", UserWarning, stacklevel=2)
        return _shape.permute_reverse(self)  # PermuteBackward0 for 2-D too, as torch

    def permute(self, *dims):
        if not dims:
            raise TypeError('permute() missing 1 required positional arguments: "dims"')
        return _shape.permute(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def transpose(self, dim0, dim1):
        return _shape.transpose(self, dim0, dim1)

    @property
    def mT(self):
        return _shape.swap_last(self)

    def __getitem__(self, index):
        return _idx.getitem(self, index)

    def __setitem__(self, index, value):
        _idx.setitem(self, index, value)

    # ------------------------------------------------------------------ comparisons (no grad)
    def _cmp(self, other, f):
        o = other._data if isinstance(other, Tensor) else other
        if isinstance(other, Tensor):
            _ew._check_broadcast(self._data, o)
        return Tensor._wrap(np.asarray(f(self._data, o)))

    def __eq__(self, other):
        if other is None:
            return False
        return self._cmp(other, np.equal)

    def __ne__(self, other):
        if other is None:
            return True
        return self._cmp(other, np.not_equal)

    def __lt__(self, other):
        return self._cmp(other, np.less)

    def __le__(self, other):
        return self._cmp(other, np.less_equal)

    def __gt__(self, other):
        return self._cmp(other, np.greater)

    def __ge__(self, other):
        return self._cmp(other, np.greater_equal)

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    def _logical(self, other, f):
        o = other._data if isinstance(other, Tensor) else other
        return Tensor._wrap(np.asarray(f(self._data, o)))

    def __and__(self, other):
        return self._logical(other, np.bitwise_and)

    def __or__(self, other):
        return self._logical(other, np.bitwise_or)

    def __xor__(self, other):
        return self._logical(other, np.bitwise_xor)

    def __invert__(self):
        return Tensor._wrap(np.asarray(np.invert(self._data)))

    def logical_not(self):
        return Tensor._wrap(np.asarray(np.logical_not(self._data)))

    def isnan(self):
        return Tensor._wrap(np.asarray(np.isnan(self._data)))

    def isfinite(self):
        return Tensor._wrap(np.asarray(np.isfinite(self._data)))

    def all(self, dim=None):
        return Tensor._wrap(np.asarray(np.all(self._data, axis=dim)))

    def any(self, dim=None):
        return Tensor._wrap(np.asarray(np.any(self._data, axis=dim)))

    def equal(self, other):
        return self._raw.shape == other._raw.shape and bool(np.array_equal(self._data, other._data))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return bool(np.allclose(self._data, other._data, rtol=rtol, atol=atol, equal_nan=equal_nan))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        return Tensor._wrap(np.asarray(np.isclose(self._data, other._data, rtol=rtol, atol=atol,
                                                  equal_nan=equal_nan)))

    # ------------------------------------------------------------------ in-place ops
    def _check_inplace(self):
        if self.requires_grad and self.grad_fn is None and _GRAD.enabled:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        base = self._base
        if base is not None and base.requires_grad and base.grad_fn is None and _GRAD.enabled:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        _fusion.flush_reading(self._raw)  # pending lazy chains may read memory about to change

    def _inplace_result(self, result, write=None):
        """Make `self` hold `result` (computed out of place) as an in-place op would.  `write`:
        for an expand() (elements sharing memory), a callable writing the op's elements into
        memory itself (torch's index_put_ there), instead of copying `result` in."""
        r = result._data
        if r.shape != self._raw.shape:
            raise RuntimeError(f"output with shape {list(self._raw.shape)} doesn't match the broadcast shape "
                               f"{list(r.shape)}")
        if r.dtype != self._raw.dtype and not np.can_cast(r.dtype, self._raw.dtype, "same_kind"):
            raise RuntimeError(f"result type {_SCALAR_NAMES[r.dtype.name]} can't be cast to the "
                               f"desired output type {_SCALAR_NAMES[self._raw.dtype.name]}")
        if self.requires_grad and _GRAD.enabled or result.requires_grad:
            if self._base is not None and self._inplace_through_view(result, write):
                return self
            # the graph continues from the new node: self takes the result's history.  The values
            # are written into self's memory, so that views of self see them; what the op saved
            # of self's old values becomes a private copy first.
            d = _write_alias(self._data)
            node = result.grad_fn
            if d.flags.writeable:
                _privatize_saved(node, d)
                np.copyto(d, result._data, casting="unsafe")
            elif _internal_overlap(d):  # (only read-only arrays overlap: expand())
                if write is None:
                    raise RuntimeError(_OVERLAP_MSG)
                _privatize_saved(node, d)
                write()
            else:
                self._data = result._data if result._data.dtype == self._raw.dtype else \
                    result._data.astype(self._raw.dtype)
            self.grad_fn = result.grad_fn
            self._requires_grad = result._requires_grad
            self._version[0] += 1
            node = result.grad_fn
            if node is not None and node._versions is not None:
                # The op may have saved self's old buffer: self now holds a new one, so that buffer
                # is private to the node, like torch's saved original self (no check needed).  A
                # saved output is self from now on: checked against self's version from here.
                # (entries: (version box, value at save, saved array, producing node))
                box, rbox = self._version, result._version
                node._versions = [
                    (box, box[0]) + e[2:]
                    if e[0] is rbox else e
                    for e in node._versions if e[0] is not box] or None
            return self
        d = _write_alias(self._data)
        if not d.flags.writeable:
            if d.size == 0:  # nothing to write (an empty expand() is read-only)
                self._version[0] += 1
                return self
            if _internal_overlap(d):
                raise RuntimeError(_OVERLAP_MSG)
            raise RuntimeError("cannot modify a read-only tensor in place")
        np.copyto(d, r, casting="unsafe")
        self._version[0] += 1
        return self

    def _inplace_through_view(self, result, write=None):
        """An in-place op with autograd on a view: write the values into the shared memory (the
        base and its views see them), record the write in the base's history (CopySlices), and
        re-derive the view from the new base.  False when the view can't be tracked."""
        base = self._base
        B = base._data
        V = self._data
        geom = _shape.view_geometry(V, B)
        if geom is None:
            return False
        _privatize_saved(result.grad_fn, V)  # the op's saved old values are about to be overwritten
        if _internal_overlap(V):
            if write is None:
                raise RuntimeError(_OVERLAP_MSG)
            write()
        else:
            np.copyto(_write_alias(V), result._data, casting="unsafe")
        self._version[0] += 1
        written = _shape.CopySlices.apply(base, result, geom)
        base.grad_fn = written.grad_fn
        base._requires_grad = True
        view = _shape.AsStridedBackward0.apply(base, geom)
        self._raw = view._raw
        self.grad_fn = view.grad_fn
        self._requires_grad = True
        self._view_at = self._version[0]
        return True

    def add_(self, other, *, alpha=1):
        self._check_inplace()
        return self._inplace_result(_ew.add(self, other, alpha=alpha))

    def sub_(self, other, *, alpha=1):
        self._check_inplace()
        return self._inplace_result(_ew.sub(self, other, alpha=alpha))

    def mul_(self, other):
        self._check_inplace()
        return self._inplace_result(_ew.mul(self, other))

    def div_(self, other):
        self._check_inplace()
        return self._inplace_result(_ew.div(self, other))

    def pow_(self, other):
        self._check_inplace()
        return self._inplace_result(_ew.pow(self, other))

    def neg_(self):
        self._check_inplace()
        return self._inplace_result(_ew.neg(self))

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __ipow__(self, other):
        return self.pow_(other)

    def zero_(self):
        if self.requires_grad and _GRAD.enabled:
            self._check_inplace()
            return self._inplace_result(_nn.ZeroBackward0.apply(self))
        return self.fill_(0)

    def fill_(self, value):
        self._check_inplace()
        if isinstance(value, Tensor):
            value = value.item()
        if self.requires_grad and _GRAD.enabled:  # the values no longer depend on the history
            return self._inplace_result(_nn.FillBackward2.apply(self, value))
        writable(self._data)[...] = value  # (an expanded tensor: its one memory element each)
        self._version[0] += 1
        return self

    def copy_(self, src, non_blocking=False):
        self._check_inplace()
        s = src._data if isinstance(src, Tensor) else np.asarray(src)
        try:
            np.broadcast_to(s, self._raw.shape)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({self._raw.shape[-1] if self._raw.ndim else 1}) "
                               f"must match the size of tensor b ({s.shape[-1] if s.ndim else 1}) at "
                               f"non-singleton dimension {max(self._raw.ndim - 1, 0)}") from None
        if _GRAD.enabled and self._raw.dtype.kind == "f" and (
                self.requires_grad or (isinstance(src, Tensor) and src.requires_grad)):
            if not isinstance(src, Tensor):
                src = Tensor._wrap(s)
            return self._inplace_result(_nn.CopyBackwards.apply(self, src))
        if _internal_overlap(self._raw):
            raise RuntimeError(_OVERLAP_MSG)
        np.copyto(self._data, s, casting="unsafe")
        self._version[0] += 1
        return self

    def set_(self, source):
        _fusion.flush_pending()
        self._data = source._data
        self._version = source._version
        return self

    def uniform_(self, a=0.0, b=1.0, generator=None):
        from . import random as _random
        return self._fill_random(_nn.UniformBackward0,
                                 _random.uniform(a, b, self._raw.shape, generator))

    def normal_(self, mean=0.0, std=1.0, generator=None):
        from . import random as _random
        return self._fill_random(_nn.NormalBackward0,
                                 _random.normal(mean, std, self._raw.shape, generator))

    def _fill_random(self, node, values):
        self._check_inplace()  # torch's leaf / view-of-leaf errors with grad enabled
        values = values.astype(self._raw.dtype, copy=False)
        if self.requires_grad and _GRAD.enabled:  # a non-leaf: its history ends here
            return self._inplace_result(node.apply(self, values))
        self._data[...] = values
        self._version[0] += 1
        return self


_OVERLAP_MSG = ("unsupported operation: more than one element of the written-to tensor refers to a "
                "single memory location. Please clone() the tensor before performing the operation.")


def _internal_overlap(a):
    """Does some memory element appear at several indices of `a` (an expand()ed tensor)?"""
    if a.size == 0:
        return False
    for n, st in zip(a.shape, a.strides):
        if st == 0 and n > 1:
            return True
    return False


def _write_alias(a):
    """`a`, or, for a read-only view without internal overlap of writable memory (an element of
    an expand(): `x.expand(3, -1)[0]`), a writable alias of the same elements, as torch writes
    through such views.  Read-only memory of the user's stays read-only."""
    if a.flags.writeable or _internal_overlap(a) or not a.size:
        return a
    return _alias(a)


def writable(a):
    """`a`, or for a read-only view of writable memory (an expand(), or an element of one), a
    writable alias of the same elements: writing one value through it is what torch does for
    fill_ / zero_ (and index_put_ into an expand(), with its warning)."""
    if a.flags.writeable or not a.size:
        return a
    return _alias(a)


def _alias(a):
    """A writable ndarray over a's elements when the root array's memory is writable, else a."""
    root = _layout.root(a)
    if not root.flags.writeable or not root.flags.c_contiguous:
        return a
    off = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return np.ndarray(a.shape, a.dtype, buffer=root, offset=off, strides=a.strides)


_T_WARNED = set()
_META_NAMES = {"float32": "float", "float64": "double", "float16": "c10::Half", "int64": "long int",
               "int32": "int", "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
               "bool": "bool"}  # torch's C++ type names, in messages
_SCALAR_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int",
                 "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}  # torch's, in messages


_NOGRAD_VIEW_MSG = (
    "A view was created in no_grad mode and its base or another view of its base has been modified "
    "inplace with grad mode enabled. Given that this use case is ambiguous and error-prone, it is "
    "forbidden. You can clarify your code by moving both the view and the inplace either both inside "
    "the no_grad block (if you don't want the inplace to be tracked) or both outside (if you want the "
    "inplace to be tracked).")


def _refresh_view(t, reading):
    """A view read (`reading`: its grad_fn) or used after its base changed in place (through
    another view, or directly): its history is re-derived from the base's current one, as torch
    does (in any grad mode).  A view made in no_grad mode of a base that requires grad has no
    history to re-derive: reading it, or using it with grad enabled, raises torch's error."""
    base = t._base
    if t._view_nograd:
        if base._requires_grad and (reading or _GRAD.enabled):
            raise RuntimeError(_NOGRAD_VIEW_MSG)
        t._view_at = t._version[0]
        return
    t._view_at = t._version[0]
    if not base._requires_grad:
        return
    geom = _shape.view_geometry(t._raw if type(t._raw) is np.ndarray else t._data, base._data)
    if geom is not None:
        prev = _GRAD.enabled
        _GRAD.enabled = True
        try:
            v = _shape.AsStridedBackward0.apply(base, geom)
        finally:
            _GRAD.enabled = prev
        t._grad_fn = v._grad_fn
        t._requires_grad = True


def _privatize_saved(node, mem):
    """Before an in-place write into `mem`: arrays the op `node` saved that share that memory
    become private copies (torch saves the original self of an in-place op the same way)."""
    if node is None or not node._saved:
        return
    saved = node._saved
    if any(_shares(x, mem) for x in saved):
        node._saved = tuple(x.copy() if _shares(x, mem) else x for x in saved)
        if node._versions is not None:
            node._versions = [e for e in node._versions if not _shares(e[2], mem)] or None


def _shares(x, mem):
    """Is the ndarray x (some of) the memory of `mem`?  Empty arrays share no bytes: two of them
    over the same root array count (the saved original self of an in-place op on an empty view)."""
    if type(x) is not np.ndarray:
        return False
    if x.size and mem.size:
        return np.may_share_memory(x, mem)
    if x.size or mem.size:
        return False
    return _layout.root(x) is _layout.root(mem)


def _rebuild_tensor(cls, arr, requires_grad, state):
    t = cls._wrap(arr)
    t._requires_grad = requires_grad
    if state:
        t.__dict__.update(state)
    return t


def _wrap_dim(dim, ndim):
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return dim % n


def _from_array(arr):
    return Tensor._wrap(arr)


def _to_tensor_like(x, like):
    if isinstance(x, Tensor):
        return x
    from .creation import tensor
    return tensor(x, dtype=like.dtype if isinstance(x, (int, float)) else None)


_G.register(Tensor, _GRAD)


def _bind_operators():
    # the hottest operators are the op functions themselves (one Python frame less per op)
    Tensor.__add__ = Tensor.__radd__ = _ew.add
    Tensor.__mul__ = Tensor.__rmul__ = _ew.mul
    Tensor.__sub__ = _ew.sub
    Tensor.__truediv__ = _ew.div
    Tensor.__pow__ = _ew.pow
from .ops import fusion as _fusion  # noqa: E402
from .ops import elementwise as _ew  # noqa: E402
from .ops import linalg as _linalg  # noqa: E402
from .autograd import engine as _engine  # noqa: E402
from .ops import reduction as _red  # noqa: E402
from .ops import shape as _shape  # noqa: E402
from .ops import indexing as _idx  # noqa: E402
from .ops import nn_ops as _nn  # noqa: E402
_bind_operators()
_G.register_fusion(_fusion.Lazy, _fusion.flush_reading)
_G.register_view_refresh(_refresh_view)
_Lazy = _fusion.Lazy


class _RefProbe:
    def refs(self):
        return _getrefcount(self)


# references a method's `self` has when the caller holds none (a temporary: `f().method()`),
# measured on this interpreter rather than assumed
_TEMPORARY_REFS = _RefProbe().refs()
