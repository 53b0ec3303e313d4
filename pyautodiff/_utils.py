"""Rebuild functions and storage markers named as torch names them (torch._utils).

A ``.pt`` pickle refers to ``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage`` and friends.  The
loaders in :mod:`pyautodiff.serialization` map those names onto the objects defined here; because the
functions keep torch's names, a pickle that resolves ``torch._utils`` to ``pyautodiff._utils`` (as the
conformance runner's import alias does) finds them too.

Everything here validates what it is given as if it came from a hostile file: a view must lie inside its
storage, sizes and strides must be non-negative integers, and nothing is allocated on a file's say-so.
"""
import numpy as np

# storage class name (the pickle global ``torch.<name>``) -> numpy dtype name (None: not representable)
STORAGE_NP_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "BFloat16Storage": None,
    "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64",
    "QInt8Storage": None,
    "QInt32Storage": None,
    "QUInt8Storage": None,
    "QUInt4x2Storage": None,
    "QUInt2x4Storage": None,
    "UntypedStorage": "uint8",
}
# element sizes of the storages we cannot represent (so sizes can still be checked and reported)
_FOREIGN_ITEMSIZE = {"BFloat16Storage": 2, "QInt8Storage": 1, "QInt32Storage": 4, "QUInt8Storage": 1,
                     "QUInt4x2Storage": 1, "QUInt2x4Storage": 1}
# numpy dtype name -> storage class name, for writing
NP_TO_STORAGE = {v: k for k, v in STORAGE_NP_DTYPES.items() if v is not None and k != "UntypedStorage"}

_MAX_DIMS = 64  # numpy's limit
_INTP_MAX = np.iinfo(np.intp).max


class StorageType:
    """Stand-in for a ``torch.<X>Storage`` class in a pickle: it only carries the element type."""

    __slots__ = ("name", "np_name", "itemsize")

    def __init__(self, name):
        if name not in STORAGE_NP_DTYPES:
            raise KeyError(f'pickle storage type "{name}" is not recognized')
        self.name = name
        self.np_name = STORAGE_NP_DTYPES[name]
        self.itemsize = np.dtype(self.np_name).itemsize if self.np_name else _FOREIGN_ITEMSIZE[name]

    @property
    def dtype(self):
        if self.np_name is None:
            return None
        from ._dtype import _BY_NP
        return _BY_NP.get(np.dtype(self.np_name))

    def __repr__(self):
        return f"StorageType(dtype={self.np_name or self.name})"

    __str__ = __repr__

    def __reduce__(self):
        return (StorageType, (self.name,))


STORAGE_TYPES = {name: StorageType(name) for name in STORAGE_NP_DTYPES}


class TypedStorage:
    """One loaded storage: a flat numpy array that every tensor rebuilt from it views.

    This is what ``persistent_load`` hands to the rebuild functions and to a callable ``map_location``
    (which may return it, or ``storage.cpu()`` etc.; all devices are the CPU here).
    """

    __slots__ = ("array", "storage_type", "location", "_version", "__weakref__")

    def __init__(self, array, storage_type, location="cpu"):
        self.array = array
        self.storage_type = storage_type
        self.location = location
        self._version = [0]

    @property
    def dtype(self):
        return self.storage_type.dtype

    @property
    def device(self):
        return "cpu"

    @property
    def is_cuda(self):
        return False

    def size(self):
        return int(self.array.size)

    __len__ = size

    def nbytes(self):
        return int(self.array.nbytes)

    def element_size(self):
        return int(self.array.itemsize)

    def cpu(self):
        return self

    def cuda(self, *args, **kwargs):
        return self

    def to(self, *args, **kwargs):
        return self

    def pin_memory(self, *args, **kwargs):
        return self

    def tolist(self):
        return self.array.tolist()

    def __repr__(self):
        return f"TypedStorage({self.array.tolist()!r}, storage_type={self.storage_type.name}, size={self.size()})"


def _int(v, what):
    if type(v) is bool or not isinstance(v, (int, np.integer)):
        raise RuntimeError(f"invalid serialized tensor: {what} must be an int, got {type(v).__name__}")
    return int(v)


def _int_tuple(v, what):
    if not isinstance(v, (tuple, list)):
        raise RuntimeError(f"invalid serialized tensor: {what} must be a tuple, got {type(v).__name__}")
    if len(v) > _MAX_DIMS:
        raise RuntimeError(f"invalid serialized tensor: {len(v)} dimensions (at most {_MAX_DIMS})")
    return tuple(_int(x, what) for x in v)


def _check_storage(storage):
    if not isinstance(storage, TypedStorage):
        raise RuntimeError(f"invalid serialized tensor: expected a storage, got {type(storage).__name__}")
    if storage.dtype is None:
        raise RuntimeError(f"pyautodiff cannot represent tensors of torch.{storage.storage_type.name}")
    return storage


def strided_view(flat, storage_offset, size, stride):
    """A numpy view of the 1-D array ``flat`` at (offset, size, stride) in elements, bounds-checked."""
    offset = _int(storage_offset, "storage_offset")
    size = _int_tuple(size, "size")
    stride = _int_tuple(stride, "stride")
    if len(size) != len(stride):
        raise RuntimeError(f"invalid serialized tensor: size {size} and stride {stride} differ in length")
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise RuntimeError(f"invalid serialized tensor: negative storage_offset, size or stride "
                           f"(offset {offset}, size {size}, stride {stride})")
    n = flat.size
    itemsize = flat.itemsize
    numel = 1
    for s in size:
        numel *= s
    if numel:
        last = offset + sum((sz - 1) * st for sz, st in zip(size, stride))
        if last >= n:
            raise RuntimeError(
                f"invalid serialized tensor: size {list(size)} with stride {list(stride)} at storage offset "
                f"{offset} needs {last + 1} elements but its storage has {n}")
        if numel * itemsize > _INTP_MAX:
            raise RuntimeError(f"invalid serialized tensor: {numel} elements is too many")
    elif offset > n:
        offset = 0  # an empty tensor needs no storage; torch accepts any offset for it
    # a stride that never moves (size <= 1, or an empty tensor) may be anything; keep it representable
    bstrides = tuple((st if st * itemsize < 1 << 48 else 0) * itemsize for st in stride)
    return np.ndarray(size, flat.dtype, buffer=flat, offset=offset * itemsize, strides=bstrides)


def _wrap(arr, storage, requires_grad=False):
    from .tensor import Tensor
    t = Tensor._wrap(arr)
    if storage is not None:
        try:
            t._version = storage._version  # views of one storage share their version counter
        except AttributeError:
            pass
    if requires_grad:
        t.requires_grad_(True)   # RuntimeError for integer tensors, as torch
    return t


def _rebuild_tensor(storage, storage_offset, size, stride):
    storage = _check_storage(storage)
    return _wrap(strided_view(storage.array, storage_offset, size, stride), storage)


def _check_metadata(metadata):
    if metadata:
        if not isinstance(metadata, dict) or any(metadata.get(k) for k in metadata):
            raise RuntimeError(f"pyautodiff cannot represent tensor metadata {metadata!r} (conj/neg bits)")


def _requires_grad(v):
    if not isinstance(v, (bool, int, np.bool_)):
        raise RuntimeError(f"invalid serialized tensor: requires_grad must be a bool, got {type(v).__name__}")
    return bool(v)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None):
    storage = _check_storage(storage)
    _check_metadata(metadata)
    rg = _requires_grad(requires_grad)
    arr = strided_view(storage.array, storage_offset, size, stride)
    return _wrap(arr, storage, rg)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    # storage: an UntypedStorage (bytes); dtype says how to read it
    if not isinstance(storage, TypedStorage):
        raise RuntimeError(f"invalid serialized tensor: expected a storage, got {type(storage).__name__}")
    np_dtype = getattr(dtype, "np", None)
    if not isinstance(np_dtype, np.dtype):
        raise RuntimeError(f"pyautodiff cannot represent tensors of dtype {dtype!r}")
    _check_metadata(metadata)
    rg = _requires_grad(requires_grad)
    raw = storage.array.view(np.uint8)
    if raw.size % np_dtype.itemsize:
        raise RuntimeError(f"invalid serialized tensor: storage of {raw.size} bytes is not a whole number of "
                           f"{dtype!r} elements")
    arr = strided_view(raw.view(np_dtype), storage_offset, size, stride)
    return _wrap(arr, storage, rg)


def _parameter_class():
    from .nn.parameter import Parameter
    return Parameter


def _rebuild_parameter(data, requires_grad, backward_hooks):
    from .tensor import Tensor
    if not isinstance(data, Tensor):
        raise RuntimeError(f"invalid serialized parameter: data must be a tensor, got {type(data).__name__}")
    return _parameter_class()(data, _requires_grad(requires_grad))


def _set_obj_state(obj, state):
    if isinstance(state, tuple):
        if len(state) != 2:
            raise RuntimeError(f"Invalid serialized state: {state}")
        dict_state, slots_state = state
    else:
        dict_state, slots_state = state, None
    for part in (dict_state, slots_state):
        if part:
            if not isinstance(part, dict):
                raise RuntimeError(f"Invalid serialized state: {state}")
            for k, v in part.items():
                if not isinstance(k, str) or (k.startswith("__") and k.endswith("__")):
                    raise RuntimeError(f"Invalid serialized state key {k!r}")
                setattr(obj, k, v)
    return obj


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    return _set_obj_state(_rebuild_parameter(data, requires_grad, backward_hooks), state)


def _rebuild_from_type_v2(func, new_type, args, state):
    from . import serialization
    if func not in serialization._rebuild_functions():
        raise RuntimeError(f"_rebuild_from_type_v2: unexpected rebuild function {func!r}")
    if not isinstance(args, tuple):
        raise RuntimeError("_rebuild_from_type_v2: args must be a tuple")
    ret = func(*args)
    from .tensor import Tensor
    if type(ret) is not new_type:
        if not (isinstance(new_type, type) and issubclass(new_type, Tensor)):
            raise RuntimeError(f"_rebuild_from_type_v2: {new_type!r} is not a tensor class")
        try:
            param_cls = _parameter_class()
        except ImportError:
            param_cls = None
        if param_cls is not None and issubclass(new_type, param_cls):
            ret = new_type(ret, ret.requires_grad)
        else:
            as_subclass = getattr(ret, "as_subclass", None)
            if as_subclass is None:
                raise RuntimeError(f"cannot rebuild a tensor of type {new_type.__name__}")
            ret = as_subclass(new_type)
    return _set_obj_state(ret, state)


def _rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad):
    if not isinstance(data, np.ndarray):
        raise RuntimeError("invalid serialized tensor: expected a numpy array")
    t = _wrap(np.array(data, dtype=getattr(dtype, "np", None)), None, _requires_grad(requires_grad))
    return t


def _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    from .tensor import Tensor
    if not isinstance(data, Tensor):
        raise RuntimeError("invalid serialized tensor: expected a tensor")
    if _requires_grad(requires_grad):
        data.requires_grad_(True)
    return data


def _unsupported(kind):
    def rebuild(*args, **kwargs):
        raise RuntimeError(f"pyautodiff cannot load {kind} tensors")
    rebuild.__name__ = rebuild.__qualname__ = f"_rebuild_{kind.replace(' ', '_')}"
    return rebuild


_rebuild_qtensor = _unsupported("quantized")
_rebuild_sparse_tensor = _unsupported("sparse")
_rebuild_nested_tensor = _unsupported("nested")
_rebuild_meta_tensor_no_storage = _unsupported("meta")
_rebuild_wrapper_subclass = _unsupported("wrapper subclass")
for _f, _n in ((_rebuild_qtensor, "_rebuild_qtensor"), (_rebuild_sparse_tensor, "_rebuild_sparse_tensor"),
               (_rebuild_nested_tensor, "_rebuild_nested_tensor"),
               (_rebuild_meta_tensor_no_storage, "_rebuild_meta_tensor_no_storage"),
               (_rebuild_wrapper_subclass, "_rebuild_wrapper_subclass")):
    _f.__name__ = _f.__qualname__ = _n
del _f, _n

REBUILD_NAMES = (
    "_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3", "_rebuild_parameter",
    "_rebuild_parameter_with_state", "_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_nested_tensor",
    "_rebuild_meta_tensor_no_storage", "_rebuild_wrapper_subclass", "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
)
