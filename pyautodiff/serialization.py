"""save / load in PyTorch's ``.pt`` format (``torch.save`` / ``torch.load`` compatible).

Writing: the object is pickled (protocol 2) with torch's reduce forms -- tensors become
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())`` with the
storage as the persistent id ``('storage', torch.<X>Storage, '<key>', 'cpu', numel)``, Parameters
``torch._utils._rebuild_parameter`` -- then laid out exactly as libtorch's zip writer (miniz) does: stored
records, 64-byte aligned payloads, data descriptors, ZIP64 end records and the serialization id, so for the
same object the file is byte-for-byte what ``torch.save`` writes.  Paths are written atomically (a temporary
file in the same folder, fsync, rename).

Reading: zip archives (ours or torch's) and torch's legacy pickle-stream format.  Every record's CRC-32 and
size is checked, every storage size is checked against its record before anything is allocated, and every
tensor view is checked against its storage.  ``weights_only=True`` (the default, as in torch >= 2.6) runs an
unpickler of our own that resolves only an allowlist of globals and never calls anything else.
"""
import functools
import gc
import io
import os
import pickle
import struct
import sys
import warnings
from collections import OrderedDict, Counter

from . import _utils

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals", "clear_safe_globals",
           "get_unsafe_globals_in_checkpoint", "StorageType", "DEFAULT_PROTOCOL", "SourceChangeWarning",
           "LoadEndianness", "get_default_load_endianness", "set_default_load_endianness",
           "default_restore_location", "location_tag"]

DEFAULT_PROTOCOL = 2
MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
LONG_SIZE = struct.Struct("=l").size
INT_SIZE = struct.Struct("=i").size
SHORT_SIZE = struct.Struct("=h").size

StorageType = _utils.StorageType

UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` "
    "from `False` to `True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, "
    "but it can result in arbitrary code execution. Do it only if you got the file from a "
    "trusted source."
)
_DOCS_MESSAGE = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default with "
    "weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
)


class SourceChangeWarning(Warning):
    pass


class LoadEndianness:
    """Byte order assumed for files that have no ``byteorder`` record (torch.serialization.LoadEndianness)."""
    NATIVE = "native"
    LITTLE = "little"
    BIG = "big"


_default_load_endianness = [None]


def get_default_load_endianness():
    return _default_load_endianness[0]


def set_default_load_endianness(endianness):
    if endianness is not None and endianness not in (LoadEndianness.NATIVE, LoadEndianness.LITTLE,
                                                     LoadEndianness.BIG):
        raise TypeError("Invalid argument type in function set_default_load_endianness")
    _default_load_endianness[0] = endianness


def default_restore_location(storage, location):
    """Where torch would restore a storage saved at ``location``: here every location is the CPU."""
    return _check_location(storage, location)


def location_tag(storage):
    return "cpu"


# ====================================================================================== allowlist (weights_only)
_BLOCKLISTED_MODULES = ("sys", "os", "posix", "nt")
_marked_safe_globals_set = set()


def add_safe_globals(safe_globals):
    """Mark globals (classes, functions, or ``(obj, "module.qualname")`` pairs) as safe for weights_only load."""
    global _marked_safe_globals_set
    _marked_safe_globals_set = _marked_safe_globals_set.union(set(safe_globals))


def get_safe_globals():
    """The user-added globals that are safe for ``weights_only`` load."""
    return list(_marked_safe_globals_set)


def clear_safe_globals():
    """Forget every global added with :func:`add_safe_globals`."""
    global _marked_safe_globals_set
    _marked_safe_globals_set = set()


def _remove_safe_globals(globals_to_remove):
    global _marked_safe_globals_set
    _marked_safe_globals_set = _marked_safe_globals_set - set(globals_to_remove)


class safe_globals:
    """Context manager that adds globals as safe for ``weights_only`` load while it is active."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        add_safe_globals(self.safe_globals)

    def __exit__(self, type, value, tb):
        _remove_safe_globals(self.safe_globals)


def _user_allowed_globals():
    rc = {}
    for f in _marked_safe_globals_set:
        if isinstance(f, tuple):
            if len(f) != 2:
                raise ValueError(
                    f"Expected tuple of length 2 (global, str of callable full path), but got tuple of length: {len(f)}")
            if type(f[1]) is not str:
                raise TypeError(
                    f"Expected second item in tuple to be str of callable full path, but got: {type(f[1])}")
            f, name = f
            rc[name] = f
        else:
            rc[f"{f.__module__}.{f.__qualname__}"] = f
    return rc


class _ForeignDtype:
    """A torch dtype pyautodiff has no tensors for (bfloat16, complex, ...): loads as a name, nothing more."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_ForeignDtype, (self.name,))


_TORCH_DTYPE_NAMES = (
    "float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
    "complex32", "complex64", "complex128", "uint16", "uint32", "uint64",
    "float8_e5m2", "float8_e4m3fn", "float8_e5m2fnuz", "float8_e4m3fnuz", "float8_e8m0fnu", "float4_e2m1fn_x2",
    "bits8", "bits16", "bits1x8", "bits2x4", "bits4x2", "qint8", "qint32", "quint8", "quint4x2", "quint2x4",
    "int1", "int2", "int3", "int4", "int5", "int6", "int7", "uint1", "uint2", "uint3", "uint4", "uint5", "uint6",
    "uint7",
)


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    # protocol 2 pickles bytes as _codecs.encode(str, 'latin1'); nothing else is needed
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1", "utf-8", "utf8", "ascii"):
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed on a str with a text encoding")
    return obj.encode(encoding, errors if errors in ("strict", "surrogatepass") else "strict")


def _safe_bytearray(*args):
    # bytearray(str, encoding) / bytearray(bytes) / bytearray(); never bytearray(<size>)
    if not args:
        return bytearray()
    if isinstance(args[0], (bytes, bytearray)) and len(args) == 1:
        return bytearray(args[0])
    if isinstance(args[0], str) and len(args) == 2 and isinstance(args[1], str):
        return bytearray(_codecs_encode(args[0], args[1]))
    raise pickle.UnpicklingError("bytearray() is only allowed on bytes or a str with its encoding")


def _safe_set(*args):
    if not args:
        return set()
    if len(args) == 1 and type(args[0]) in (list, tuple, set, frozenset):
        return set(args[0])
    raise pickle.UnpicklingError("set() is only allowed on a list or tuple")


def _safe_complex(*args):
    if len(args) <= 2 and all(type(a) in (int, float) for a in args):
        return complex(*args)
    raise pickle.UnpicklingError("complex() is only allowed on numbers")


def _get_layout(name):
    import pyautodiff
    if isinstance(name, str) and name.startswith("torch."):
        v = getattr(pyautodiff, name[6:], None)
        if v is not None:
            return v
    return name


_ALLOWED = None


def _rebuild_functions():
    return tuple(getattr(_utils, n) for n in _utils.REBUILD_NAMES)


def _allowed_globals():
    """name -> object for every global weights_only load resolves by default (torch's list, our objects)."""
    global _ALLOWED
    if _ALLOWED is not None:
        return _ALLOWED
    from . import _dtype
    from .tensor import Tensor, Size, device
    rc = {
        "collections.OrderedDict": OrderedDict,
        "collections.Counter": Counter,
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": Size,
        "torch.Tensor": Tensor,
        "torch.device": device,
        "_codecs.encode": _codecs_encode,
        "builtins.bytearray": _safe_bytearray,
        "builtins.set": _safe_set,
        "builtins.complex": _safe_complex,
    }
    try:
        from .nn.parameter import Parameter
        rc["torch.nn.parameter.Parameter"] = Parameter
    except ImportError:  # pragma: no cover - nn is part of the package
        pass
    for name in _TORCH_DTYPE_NAMES:
        rc["torch." + name] = _dtype._BY_NAME.get(name) or _ForeignDtype(name)
    for name, st in _utils.STORAGE_TYPES.items():
        rc["torch." + name] = st
    for name in ("FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
                 "CharTensor", "ByteTensor", "BoolTensor"):
        rc["torch." + name] = Tensor
    for f in _rebuild_functions():
        rc["torch._utils." + f.__name__] = f
    rc["torch._tensor._rebuild_from_type_v2"] = _utils._rebuild_from_type_v2
    _ALLOWED = rc
    return rc


# ====================================================================================== zip layout (writer)
# The layout is libtorch's PyTorchStreamWriter on top of miniz in ZIP64 mode: every record stored, its local
# header carrying an "FB" extra field of 'Z' padding so that the payload starts at a multiple of 64, a data
# descriptor after every non-empty payload, a central directory without extras (unless ZIP64 needs them),
# then the ZIP64 end record, its locator and the classic end record.
_LFH = struct.Struct("<IHHHHHIIIHH")            # local file header, 30 bytes
_CDH = struct.Struct("<IHHHHHHIIIHHHHHII")      # central directory header, 46 bytes
_EOCD = struct.Struct("<IHHHHIIH")              # end of central directory, 22 bytes
_EOCD64 = struct.Struct("<IQHHIIQQQQ")          # ZIP64 end of central directory, 56 bytes
_LOC64 = struct.Struct("<IIQI")                 # ZIP64 end of central directory locator, 20 bytes
_SIG_LFH, _SIG_CDH, _SIG_EOCD = 0x04034B50, 0x02014B50, 0x06054B50
_SIG_EOCD64, _SIG_LOC64, _SIG_DD = 0x06064B50, 0x07064B50, 0x08074B50
_U32 = 0xFFFFFFFF
_ALIGN = 64
_PARALLEL_CRC_MIN = 4 << 20   # compute CRCs in a helper thread for payloads at least this big
_CHUNK = 8 << 20
_COPY_CHUNK = 2 << 20          # checksum-then-copy granularity when reading through a mapping (fits in L2)
_MAP_READS = True              # read payloads of regular files through a mapping (False: readinto)

# libstdc++'s std::__detail::__prime_list (the bucket counts of std::unordered_set), below 2**32
_PRIMES = (
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 103, 109, 113,
    127, 137, 139, 149, 157, 167, 179, 193, 199, 211, 227, 241, 257, 277, 293, 313, 337, 359, 383, 409, 439, 467,
    503, 541, 577, 619, 661, 709, 761, 823, 887, 953, 1031, 1109, 1193, 1289, 1381, 1493, 1613, 1741, 1879, 2029,
    2179, 2357, 2549, 2753, 2971, 3209, 3469, 3739, 4027, 4349, 4703, 5087, 5503, 5953, 6427, 6949, 7517, 8123,
    8783, 9497, 10273, 11113, 12011, 12983, 14033, 15173, 16411, 17749, 19183, 20753, 22447, 24281, 26267, 28411,
    30727, 33223, 35933, 38873, 42043, 45481, 49201, 53201, 57557, 62233, 67307, 72817, 78779, 85229, 92203, 99733,
    107897, 116731, 126271, 136607, 147793, 159871, 172933, 187091, 202409, 218971, 236897, 256279, 277261, 299951,
    324503, 351061, 379787, 410857, 444487, 480881, 520241, 562841, 608903, 658753, 712697, 771049, 834181, 902483,
    976369, 1056323, 1142821, 1236397, 1337629, 1447153, 1565659, 1693859, 1832561, 1982627, 2144977, 2320627,
    2510653, 2716249, 2938679, 3179303, 3439651, 3721303, 4026031, 4355707, 4712381, 5098259, 5515729, 5967347,
    6456007, 6984629, 7556579, 8175383, 8844859, 9569143, 10352717, 11200489, 12117689, 13109983, 14183539,
    15345007, 16601593, 17961079, 19431899, 21023161, 22744717, 24607243, 26622317, 28802401, 31160981, 33712729,
    36473443, 39460231, 42691603, 46187573, 49969847, 54061849, 58488943, 63278561, 68460391, 74066549, 80131819,
    86693767, 93793069, 101473717, 109783337, 118773397, 128499677, 139022417, 150406843, 162723577, 176048909,
    190465427, 206062531, 222936881, 241193053, 260944219, 282312799, 305431229, 330442829, 357502601, 386778277,
    418451333, 452718089, 489790921, 529899637, 573292817, 620239453, 671030513, 725980837, 785430967, 849749479,
    919334987, 994618837, 1076067617, 1164186217, 1259520799, 1362662261, 1474249943, 1594975441, 1725587117,
    1866894511, 2019773507, 2185171673, 2364114217, 2557710269, 2767159799, 2993761039, 3238918481, 3504151727,
    3791104843, 4101556399, 4294967291,
)
_FAST_BKT = (2, 2, 2, 3, 5, 5, 7, 7, 11, 11, 11, 11, 13, 13)
_M64 = (1 << 64) - 1
_MUR_MUL = (0xC6A4A793 << 32) + 0x5BD1E995


def _std_hash(b):
    """std::hash<std::string> of libstdc++ (64-bit _Hash_bytes, seed 0xc70f6907)."""
    n = len(b)
    h = (0xC70F6907 ^ (n * _MUR_MUL)) & _M64
    end = n & ~7
    for i in range(0, end, 8):
        d = (int.from_bytes(b[i:i + 8], "little") * _MUR_MUL) & _M64
        d = ((d ^ (d >> 47)) * _MUR_MUL) & _M64
        h = ((h ^ d) * _MUR_MUL) & _M64
    if n & 7:
        h = ((h ^ int.from_bytes(b[end:], "little")) * _MUR_MUL) & _M64
    h = ((h ^ (h >> 47)) * _MUR_MUL) & _M64
    return h ^ (h >> 47)


def _hash_combine(seed, value):
    """c10::hash_combine on 64-bit size_t."""
    return (seed ^ ((value + 0x9E3779B9 + ((seed << 6) & _M64) + (seed >> 2)) & _M64)) & _M64


def _unordered_set_order(codes):
    """Iteration order of a libstdc++ std::unordered_set after inserting elements with these hash codes."""
    import bisect
    before = [None, None]           # list nodes are [next, code]; this one is _M_before_begin
    n_bkt, next_resize, buckets = 1, 0, [None]
    for count, code in enumerate(codes):
        if count + 1 > next_resize:   # _Prime_rehash_policy::_M_need_rehash (max_load_factor 1)
            min_bkts = max(count + 1, 0 if next_resize else 11)
            if min_bkts >= n_bkt:
                want = max(min_bkts + 1, n_bkt * 2)
                if want < len(_FAST_BKT):
                    new_n = _FAST_BKT[want]
                else:
                    new_n = _PRIMES[min(bisect.bisect_left(_PRIMES, want, 6), len(_PRIMES) - 1)]
                next_resize = new_n
                new_buckets = [None] * new_n
                p, before[0], bbegin = before[0], None, 0
                while p is not None:      # _M_rehash_aux (unique keys)
                    nxt, b = p[0], p[1] % new_n
                    if new_buckets[b] is None:
                        p[0], before[0], new_buckets[b] = before[0], p, before
                        if p[0] is not None:
                            new_buckets[bbegin] = p
                        bbegin = b
                    else:
                        p[0], new_buckets[b][0] = new_buckets[b][0], p
                    p = nxt
                n_bkt, buckets = new_n, new_buckets
            else:
                next_resize = n_bkt
        node, b = [None, code], code % n_bkt
        prev = buckets[b]
        if prev is not None:          # _M_insert_bucket_begin
            node[0], prev[0] = prev[0], node
        else:
            node[0], before[0] = before[0], node
            if node[0] is not None:
                buckets[node[0][1] % n_bkt] = node
            buckets[b] = before
    out, p = [], before[0]
    while p is not None:
        out.append(p[1])
        p = p[0]
    return out


_CRC_IMPL = []   # [libdeflate_crc32 via ctypes, or None]: resolved on first use


def _fast_crc_fn():
    """libdeflate's crc32 (PCLMUL/AVX-512: ~4x zlib's) when the system has the library, else None."""
    if not _CRC_IMPL:
        fn = None
        try:
            import ctypes
            for name in ("libdeflate.so.0", "libdeflate.so", "libdeflate.0.dylib", "libdeflate.dylib"):
                try:
                    lib = ctypes.CDLL(name)
                except OSError:
                    continue
                f = lib.libdeflate_crc32
                f.restype = ctypes.c_uint32
                f.argtypes = (ctypes.c_uint32, ctypes.c_void_p, ctypes.c_size_t)
                if f(0, b"123456789", 9) == 0xCBF43926:
                    fn = f
                break
        except Exception:  # pragma: no cover - no ctypes, a broken library: zlib it is
            fn = None
        _CRC_IMPL.append(fn)
    return _CRC_IMPL[0]


def _crc32(buf, crc=0):
    """CRC-32 (zlib's polynomial) of a bytes-like object, continuing from ``crc``."""
    import zlib
    n = len(buf) if not isinstance(buf, memoryview) else buf.nbytes
    if n >= 65536:
        fn = _fast_crc_fn()
        if fn is not None:
            import numpy as np
            a = np.frombuffer(buf, dtype=np.uint8)
            return fn(crc, a.__array_interface__["data"][0], n)
    return zlib.crc32(buf, crc)


def _write_all(write, mv):
    """write(mv) for file objects whose write may be partial (raw files) or return None (some wrappers)."""
    n = len(mv)
    done = write(mv)
    if done is None or done >= n:
        return
    while done < n:
        k = write(mv[done:])
        if not k:
            raise OSError("write() wrote nothing")
        done += k


def _write_with_crc(write, mv):
    """Write a payload and return its CRC-32; big payloads are checksummed in a second thread meanwhile."""
    if len(mv) < _PARALLEL_CRC_MIN:
        crc = _crc32(mv)
        _write_all(write, mv)
        return crc
    import threading
    box = []
    th = threading.Thread(target=lambda: box.append(_crc32(mv)), daemon=True)
    th.start()
    try:
        _write_all(write, mv)
    finally:
        th.join()
    return box[0]


class _ZipWriter:
    """Writes records the way libtorch's PyTorchStreamWriter (miniz, ZIP64 mode) does."""

    def __init__(self, write, archive_name):
        self._write = write            # None: a dry run that only computes the archive's size
        self.pos = 0
        self.prefix = archive_name + "/"
        self._central = []
        self._names = []
        self._crc_combined = 0

    def _out(self, b):
        if self._write is not None:
            _write_all(self._write, b)
        self.pos += len(b)

    def write_record(self, name, data):
        """data: bytes or a 1-D uint8 memoryview (written without copying)."""
        full = (self.prefix + name).encode("utf-8")
        size = len(data)
        ofs = self.pos
        big = size >= _U32 or ofs >= _U32
        z64 = z64_central = b""
        if big:
            # ZIP64 extra: (uncompressed size, compressed size) if the size needs it, then the header offset;
            # miniz writes the local one before it knows the compressed size, hence 0 there
            tail = struct.pack("<Q", ofs) if ofs >= _U32 else b""
            local = (struct.pack("<QQ", size, 0) if size >= _U32 else b"") + tail
            central = (struct.pack("<QQ", size, size) if size >= _U32 else b"") + tail
            z64 = struct.pack("<HH", 1, len(local)) + local
            z64_central = struct.pack("<HH", 1, len(central)) + central
        start = ofs + _LFH.size + len(full) + 4 + len(z64)
        pad = (-start) % _ALIGN
        extra = z64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        flags = 0x0808 if size else 0x0800
        self._out(_LFH.pack(_SIG_LFH, 0, flags, 0, 0, 0, 0, 0, 0, len(full), len(extra)) + full + extra)
        if size:
            if self._write is None:
                crc = 0
            elif isinstance(data, (bytes, bytearray)):
                crc = _crc32(data)
                _write_all(self._write, data)
            else:
                crc = _write_with_crc(self._write, data)
            self.pos += size
            # miniz's write callback in libtorch folds the CRC of every data descriptor into the
            # serialization id -- and anything else whose write starts with the descriptor signature
            if size >= 8 and bytes(data[:4]) == b"PK\x07\x08":
                self._crc_combined = _hash_combine(self._crc_combined, int.from_bytes(bytes(data[4:8]), "little"))
            if big:
                dd = struct.pack("<IIQQ", _SIG_DD, crc, size, size)
            else:
                dd = struct.pack("<IIII", _SIG_DD, crc, size, size)
            self._out(dd)
            self._crc_combined = _hash_combine(self._crc_combined, crc)
        else:
            crc = 0
        self._central.append(_CDH.pack(_SIG_CDH, 0, 0, flags, 0, 0, 0, crc, min(size, _U32), min(size, _U32),
                                       len(full), len(z64_central), 0, 0, 0, 0, min(ofs, _U32)) + full +
                             z64_central)
        self._names.append(name)

    def serialization_id(self):
        if self._write is None:
            return "0" * 40
        order = _unordered_set_order([_std_hash(n.encode("utf-8")) for n in self._names])
        names_hash = 0
        for code in order:
            names_hash = _hash_combine(names_hash, code)
        return "%020d%020d" % (names_hash, self._crc_combined)

    def finish(self):
        self.write_record(".data/serialization_id", self.serialization_id().encode("ascii"))
        cd = b"".join(self._central)
        cd_ofs, n = self.pos, len(self._central)
        self._out(cd)
        eocd64_ofs = self.pos
        self._out(_EOCD64.pack(_SIG_EOCD64, 44, 0x031E, 0x002D, 0, 0, n, n, len(cd), cd_ofs) +
                  _LOC64.pack(_SIG_LOC64, 0, eocd64_ofs, 1) +
                  _EOCD.pack(_SIG_EOCD, 0, 0, min(n, 0xFFFF), min(n, 0xFFFF), min(len(cd), _U32),
                             min(cd_ofs, _U32), 0))


# ====================================================================================== pickling
class _Global:
    """A stand-in for a torch global (``torch._utils._rebuild_tensor_v2``, ``torch.FloatStorage``...):
    the pickler writes it as ``GLOBAL module name`` without importing anything."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args, **kwargs):  # save_reduce insists on a callable
        raise TypeError(f"{self.module}.{self.name} is a pickling placeholder")

    def __repr__(self):
        return f"<global {self.module}.{self.name}>"


_G_REBUILD_TENSOR_V2 = _Global("torch._utils", "_rebuild_tensor_v2")
_G_REBUILD_PARAMETER = _Global("torch._utils", "_rebuild_parameter")
_G_REBUILD_PARAMETER_WITH_STATE = _Global("torch._utils", "_rebuild_parameter_with_state")
_G_REBUILD_FROM_TYPE_V2 = _Global("torch._tensor", "_rebuild_from_type_v2")
_G_STORAGE = {name: _Global("torch", name) for name in _utils.STORAGE_NP_DTYPES}
_STORAGE_TAG = "storage"   # one object each, so repeats pickle as memo fetches exactly as torch's do
_CPU_TAG = "cpu"


class _StorageRef:
    """One storage being saved: a flat, C-contiguous numpy array (the tensor's base memory)."""

    __slots__ = ("key", "flat", "stype", "numel")

    def __init__(self, key, flat, stype):
        self.key, self.flat, self.stype, self.numel = key, flat, stype, int(flat.size)


class _ParamData:
    """``param.data`` of a Parameter being saved (a fresh object per Parameter, as torch's ``.data``)."""

    __slots__ = ("tensor",)

    def __init__(self, tensor):
        self.tensor = tensor


class _SaveContext:
    def __init__(self, legacy=False):
        import numpy as np
        from . import _dtype
        from .tensor import Tensor, Size, device
        try:
            from .nn.parameter import Parameter
        except ImportError:  # pragma: no cover
            Parameter = None
        self.np = np
        self.Tensor, self.Parameter, self.Size, self.device = Tensor, Parameter, Size, device
        self.legacy = legacy
        self.storages = {}       # (id(root), dtype) -> _StorageRef
        self.ordered = []        # _StorageRef in key order
        self._keep = []
        g = {id(d): ("torch", d.name) for d in _dtype.ALL}
        for obj, mod, name in ((Tensor, "torch", "Tensor"), (Size, "torch", "Size"),
                               (device, "torch", "device"), (Parameter, "torch.nn.parameter", "Parameter")):
            if obj is not None:
                g[id(obj)] = (mod, name)
        for obj in (_G_REBUILD_TENSOR_V2, _G_REBUILD_PARAMETER, _G_REBUILD_PARAMETER_WITH_STATE,
                    _G_REBUILD_FROM_TYPE_V2, *_G_STORAGE.values()):
            g[id(obj)] = (obj.module, obj.name)
        self.globals = g

    # -- storages
    def storage_for(self, arr):
        """(storage ref, offset, size, stride) for the ndarray of a tensor, sharing storages where possible."""
        np = self.np
        dt = arr.dtype
        stype = _utils.NP_TO_STORAGE.get(dt.name)
        if stype is None:
            raise RuntimeError(f"cannot save a tensor of numpy dtype {dt}")
        native = dt.isnative or dt.itemsize == 1
        root = arr
        while isinstance(root.base, np.ndarray):
            root = root.base
        item = dt.itemsize
        if native and root.dtype == dt and root.flags.c_contiguous and arr.size:
            start = root.__array_interface__["data"][0]
            off_b = arr.__array_interface__["data"][0] - start
            strides = arr.strides
            if off_b >= 0 and off_b % item == 0 and all(s >= 0 and s % item == 0 for s in strides):
                offset = off_b // item
                stride = tuple(s // item for s in strides)
                last = offset + sum((n - 1) * s for n, s in zip(arr.shape, stride))
                if last < root.size:
                    return self._ref(root, stype), offset, tuple(arr.shape), stride
        # not a plain view of one contiguous block: save a contiguous copy of this tensor alone
        flat = np.ascontiguousarray(arr).astype(dt.newbyteorder("="), copy=False)
        if not flat.flags.c_contiguous:  # pragma: no cover
            flat = flat.copy()
        shape = tuple(arr.shape)
        stride, acc = [], 1
        for n in reversed(shape):
            stride.append(acc)
            acc *= max(n, 1)
        return self._ref(flat, stype), 0, shape, tuple(reversed(stride))

    def _ref(self, root, stype):
        k = (id(root), stype)
        ref = self.storages.get(k)
        if ref is None:
            key = str(id(root)) if self.legacy else str(len(self.storages))
            ref = _StorageRef(key, root.reshape(-1), stype)
            self.storages[k] = ref
            self.ordered.append(ref)
            self._keep.append(root)
        return ref

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            if self.legacy:
                return (_STORAGE_TAG, _G_STORAGE[obj.stype], obj.key, _CPU_TAG, obj.numel, None)
            return (_STORAGE_TAG, _G_STORAGE[obj.stype], obj.key, _CPU_TAG, obj.numel)
        return None

    # -- reductions
    def _tensor_args(self, arr, requires_grad):
        ref, offset, size, stride = self.storage_for(arr)
        return (ref, offset, size, stride, requires_grad, OrderedDict())

    def reduce(self, obj):
        g = self.globals.get(id(obj))
        if g is not None:
            return g[1]
        t = type(obj)
        if t is _ParamData:
            return (_G_REBUILD_TENSOR_V2, self._tensor_args(obj.tensor._data, False))
        if isinstance(obj, self.Tensor):
            state = obj.__dict__
            if self.Parameter is not None and isinstance(obj, self.Parameter):
                if not state:
                    return (_G_REBUILD_PARAMETER, (_ParamData(obj), bool(obj.requires_grad), OrderedDict()))
                return (_G_REBUILD_PARAMETER_WITH_STATE,
                        (_ParamData(obj), bool(obj.requires_grad), OrderedDict(), dict(state)))
            args = self._tensor_args(obj._data, bool(obj.requires_grad))
            if t is self.Tensor and not state:
                return (_G_REBUILD_TENSOR_V2, args)
            return (_G_REBUILD_FROM_TYPE_V2, (_G_REBUILD_TENSOR_V2, t, args, dict(state)))
        if t is self.Size:
            return (self.Size, (tuple(obj),))
        if t is self.device:
            return (self.device, (obj.type,) if obj.index is None else (obj.type, obj.index))
        return NotImplemented


def _save_dict_exact(self, obj):
    """The C pickler's save_dict/batch_dict_exact (the pure-Python one batches differently: a dict of
    1001 items, or a trailing empty MARK SETITEMS after a multiple of 1000)."""
    if not self.bin:
        return pickle._Pickler.save_dict(self, obj)
    save, write = self.save, self.write
    write(pickle.EMPTY_DICT)
    self.memoize(obj)
    n = len(obj)
    if n == 0:
        return
    if n == 1:
        for k, v in obj.items():
            save(k)
            save(v)
        write(pickle.SETITEM)
        return
    it = iter(obj.items())
    while True:
        write(pickle.MARK)
        i = 0
        for k, v in it:
            save(k)
            save(v)
            i += 1
            if i == self._BATCHSIZE:
                break
        write(pickle.SETITEMS)
        if len(obj) != n:
            raise RuntimeError("dictionary changed size during iteration")
        if i != self._BATCHSIZE:
            return


def _save_list_exact(self, obj):
    """The C pickler's save_list/batch_list_exact (a final batch of one item still uses MARK ... APPENDS)."""
    if not self.bin:
        return pickle._Pickler.save_list(self, obj)
    save, write = self.save, self.write
    write(pickle.EMPTY_LIST)
    self.memoize(obj)
    if len(obj) == 0:
        return
    if len(obj) == 1:
        save(obj[0])
        write(pickle.APPEND)
        return
    total = 0
    while True:
        write(pickle.MARK)
        this = 0
        while total < len(obj):
            save(obj[total])
            total += 1
            this += 1
            if this == self._BATCHSIZE:
                break
        write(pickle.APPENDS)
        if total >= len(obj):
            return


def _pickler_class(base):
    class _TorchPickler(base):
        dispatch = dict(base.dispatch)
        dispatch[dict] = _save_dict_exact
        dispatch[list] = _save_list_exact

        def __init__(self, file, protocol, ctx):
            super().__init__(file, protocol)
            self._ctx = ctx

        def persistent_id(self, obj):
            return self._ctx.persistent_id(obj)

        def reducer_override(self, obj):
            return self._ctx.reduce(obj)

        def save_global(self, obj, name=None):
            g = self._ctx.globals.get(id(obj))
            if g is None:
                return super().save_global(obj, name)
            self.write(pickle.GLOBAL + f"{g[0]}\n{g[1]}\n".encode("utf-8"))
            self.memoize(obj)

    return _TorchPickler


def _dumps(obj, ctx, pickle_module, protocol):
    base = getattr(pickle_module, "Pickler", None)
    if not (isinstance(base, type) and issubclass(base, pickle._Pickler)):
        base = pickle._Pickler  # the pure-Python pickler: it has the hooks we need
    buf = io.BytesIO()
    _pickler_class(base)(buf, protocol, ctx).dump(obj)
    return buf.getvalue()


# ====================================================================================== save
def _archive_name(path):
    """libtorch's basename(): the file name without its last extension (the zip's top folder)."""
    start = max(path.rfind("/"), path.rfind("\\")) + 1
    name = path[start:]
    dot = name.rfind(".")
    return name[:dot] if dot >= 0 else name


def _zip_records(data_pkl, ctx, disable_byteorder_record=False):
    """(name, payload) in the order libtorch writes them."""
    order = sys.byteorder.encode("ascii")
    recs = [("data.pkl", data_pkl), (".format_version", b"1"), (".storage_alignment", b"64")]
    if not disable_byteorder_record:
        recs.append(("byteorder", order))
    recs += [("data/" + ref.key, memoryview(ref.flat.view("u1"))) for ref in ctx.ordered]
    recs.append(("version", b"3\n"))
    if disable_byteorder_record:  # libtorch adds it at the end anyway
        recs.append(("byteorder", order))
    return recs


def _write_zip(write, archive_name, recs):
    """Write the archive (write=None: only compute its size); returns its size in bytes."""
    zw = _ZipWriter(write, archive_name)
    for name, data in recs:
        zw.write_record(name, data)
    zw.finish()
    return zw.pos


def _legacy_parts(data_pkl, ctx, protocol):
    sys_info = {"protocol_version": PROTOCOL_VERSION, "little_endian": sys.byteorder == "little",
                "type_sizes": {"short": SHORT_SIZE, "int": INT_SIZE, "long": LONG_SIZE}}
    parts = [pickle.dumps(x, protocol=protocol) for x in (MAGIC_NUMBER, PROTOCOL_VERSION, sys_info)]
    parts.append(data_pkl)
    refs = sorted(ctx.ordered, key=lambda r: r.key)
    parts.append(pickle.dumps([r.key for r in refs], protocol=protocol))
    for r in refs:
        parts.append(struct.pack("<q", r.numel))
        flat = r.flat if sys.byteorder == "little" else r.flat.byteswap()
        parts.append(memoryview(flat.view("u1")))
    return parts


def _write_legacy(write, parts):
    for p in parts:
        _write_all(write, p)


def _fsync_dir(dirname):
    try:
        fd = os.open(dirname or ".", os.O_RDONLY)
    except OSError:  # pragma: no cover - e.g. a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


_FSYNC = True   # durability of save(path): fsync the file and its folder (benchmarks may turn it off)
_FALLOCATE = []


def _preallocate(fd, size):
    """Reserve the file's blocks up front (Linux fallocate(2); no emulation): ext4 then skips the per-page
    block reservation of delayed allocation, which makes a big write ~25% faster.  Best effort."""
    if size < (1 << 20):
        return
    if not _FALLOCATE:
        fn = None
        try:
            import ctypes
            fn = ctypes.CDLL(None, use_errno=True).fallocate
            fn.restype = ctypes.c_int
            fn.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
        except Exception:  # not Linux / no such symbol
            fn = None
        _FALLOCATE.append(fn)
    fn = _FALLOCATE[0]
    if fn is not None:
        fn(fd, 0, 0, size)   # on failure (EOPNOTSUPP, ENOSPC...) the write below reports what matters


def _write_file(f, write_fn, size):
    if size is not None:
        _preallocate(f.fileno(), size)
    write_fn(f.write)
    f.flush()
    if size is not None and f.tell() != size:  # pragma: no cover - defensive: never keep preallocated tail
        f.truncate()


def _atomic_write(path, write_fn, size=None):
    """Run write_fn(write) into a temporary file next to ``path``, fsync it, then rename it over ``path``.
    Any failure leaves ``path`` as it was and removes the temporary file."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    dirname = os.path.dirname(target)
    base = os.path.basename(target)
    tmp = None
    for _ in range(100):
        cand = os.path.join(dirname, f".{base}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(cand, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:  # pragma: no cover
            continue
        except OSError:
            break   # e.g. a read-only folder holding a writable file: fall back to writing in place
        tmp = cand
        break
    if tmp is None:
        try:
            f = open(target, "wb")
        except OSError:
            raise RuntimeError(f"File {path} cannot be opened.") from None
        with f:
            _write_file(f, write_fn, size)
            if _FSYNC:
                os.fsync(f.fileno())
        return
    try:
        with open(fd, "wb", closefd=True) as f:
            _write_file(f, write_fn, size)
            if _FSYNC:
                os.fsync(f.fileno())
        try:
            mode = os.stat(target).st_mode & 0o7777   # keep the permissions of a file we replace
        except OSError:
            mode = None
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:  # pragma: no cover
                pass
    if _FSYNC:
        _fsync_dir(dirname)


def _is_path(f):
    return isinstance(f, (str, os.PathLike))


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f`` (a path or a binary file object) in PyTorch's ``.pt`` format.

    Tensors sharing memory are saved once and come back sharing it; ``torch.load`` reads the file.  A path is
    written atomically: the old file (if any) stays intact until the new one is complete and synced.
    """
    if not _is_path(f) and not hasattr(f, "write"):
        raise AttributeError("expected 'f' to be string, path, or a file-like object with a 'write' attribute")
    if _is_path(f):
        f = os.fspath(f)
        if isinstance(f, bytes):
            f = os.fsdecode(f)
        archive = _archive_name(f)
        if _use_new_zipfile_serialization and not archive:
            raise RuntimeError(f"invalid file name: {f}")
        slash = f.rfind("/")
        parent = f[:slash] if slash >= 0 else ""
        if parent and not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {parent} does not exist.")
        if os.path.isdir(f):
            raise RuntimeError(f"File {f} cannot be opened.")
    else:
        archive = "archive"
    ctx = _SaveContext(legacy=not _use_new_zipfile_serialization)
    data_pkl = _dumps(obj, ctx, pickle_module, pickle_protocol)

    if _use_new_zipfile_serialization:
        recs = _zip_records(data_pkl, ctx, _disable_byteorder_record)
        size = _write_zip(None, archive, recs)

        def write_fn(write):
            _write_zip(write, archive, recs)
    else:
        parts = _legacy_parts(data_pkl, ctx, pickle_protocol)
        size = sum(len(p) if not isinstance(p, memoryview) else p.nbytes for p in parts)

        def write_fn(write):
            _write_legacy(write, parts)

    if _is_path(f):
        _atomic_write(f, write_fn, size)
    else:
        write_fn(f.write)
        flush = getattr(f, "flush", None)
        if flush is not None:
            flush()


# ====================================================================================== zip reader
def _zip_error(msg):
    return RuntimeError(f"PytorchStreamReader failed {msg}")


class _Entry:
    __slots__ = ("name", "flags", "method", "crc", "csize", "usize", "lh_ofs", "data_ofs")

    def __init__(self, name, flags, method, crc, csize, usize, lh_ofs):
        self.name, self.flags, self.method, self.crc = name, flags, method, crc
        self.csize, self.usize, self.lh_ofs, self.data_ofs = csize, usize, lh_ofs, None


class _ZipReader:
    """Reads the records of a zip archive that starts at ``base`` in the seekable binary file ``f``.

    Nothing is trusted: offsets and sizes must lie inside the archive, local headers must agree with the
    central directory, and every payload read is checked against its CRC-32."""

    def __init__(self, f, base, end):
        self.f, self.base = f, base
        self.size = end - base
        self._map = None
        self._parse()

    def map_file(self):
        """Copy payloads out of a read-only mapping of the file from now on (regular files only): checksumming
        a chunk brings it into the cache and copying it from there is faster than read(2) alone."""
        try:
            import mmap
            import stat
            fd = self.f.fileno()
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or st.st_size < self.base + self.size or st.st_size == 0:
                return
            self._map = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ)
        except (OSError, ValueError, AttributeError, ImportError, io.UnsupportedOperation):
            self._map = None

    def close(self):
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # pragma: no cover - a view still alive; the mapping goes with it
                pass
            self._map = None

    def _pread(self, ofs, n):
        if ofs < 0 or n < 0 or ofs + n > self.size:
            raise _zip_error("reading zip archive: invalid header or archive is corrupted")
        self.f.seek(self.base + ofs)
        b = self.f.read(n)
        if b is None or len(b) != n:
            raise _zip_error("reading zip archive: file read failed")
        return b

    def _parse(self):
        size = self.size
        if size < _EOCD.size:
            raise _zip_error("reading zip archive: not a ZIP archive")
        tail_len = min(size, _EOCD.size + 0xFFFF)
        tail = self._pread(size - tail_len, tail_len)
        i = tail.rfind(b"PK\x05\x06")
        while i >= 0:
            if i + _EOCD.size <= len(tail):
                comment_len = struct.unpack_from("<H", tail, i + 20)[0]
                if i + _EOCD.size + comment_len == len(tail):
                    break
            i = tail.rfind(b"PK\x05\x06", 0, i)
        if i < 0:
            raise _zip_error("reading zip archive: failed finding central directory")
        eocd_ofs = size - tail_len + i
        _, disk, cd_disk, n_disk, n, cd_size, cd_ofs, _ = _EOCD.unpack_from(tail, i)
        limit = eocd_ofs
        loc_ofs = eocd_ofs - _LOC64.size
        if loc_ofs >= 0 and self._pread(loc_ofs, 4) == b"PK\x06\x07":
            _, _, z_ofs, _ = _LOC64.unpack(self._pread(loc_ofs, _LOC64.size))
            if z_ofs > loc_ofs - _EOCD64.size:
                raise _zip_error("reading zip archive: invalid header or archive is corrupted")
            rec = _EOCD64.unpack(self._pread(z_ofs, _EOCD64.size))
            if rec[0] != _SIG_EOCD64:
                raise _zip_error("reading zip archive: invalid header or archive is corrupted")
            _, _, _, _, disk, cd_disk, n_disk, n, cd_size, cd_ofs = rec
            limit = z_ofs
        elif 0xFFFF in (n, n_disk) or _U32 in (cd_size, cd_ofs):
            raise _zip_error("reading zip archive: invalid header or archive is corrupted")
        if disk != 0 or cd_disk != 0 or n_disk != n:
            raise _zip_error("reading zip archive: unsupported multidisk archive")
        if cd_ofs + cd_size > limit or n * _CDH.size > cd_size:
            raise _zip_error("reading zip archive: invalid header or archive is corrupted")
        if n == 0:
            raise RuntimeError("archive does not contain any files")
        self.cd_ofs = cd_ofs
        cd = self._pread(cd_ofs, cd_size)
        entries, p = [], 0
        for _ in range(n):
            if p + _CDH.size > cd_size:
                raise _zip_error("reading zip archive: invalid header or archive is corrupted")
            (sig, _, _, flags, method, _, _, crc, csize, usize, name_len, extra_len, comment_len, _, _, _,
             lh_ofs) = _CDH.unpack_from(cd, p)
            q = p + _CDH.size
            if sig != _SIG_CDH or q + name_len + extra_len + comment_len > cd_size:
                raise _zip_error("reading zip archive: invalid header or archive is corrupted")
            raw_name = cd[q:q + name_len]
            extra = cd[q + name_len:q + name_len + extra_len]
            p = q + name_len + extra_len + comment_len
            if _U32 in (csize, usize, lh_ofs):
                csize, usize, lh_ofs = self._zip64_fields(extra, csize, usize, lh_ofs)
            if flags & 1:
                raise _zip_error("reading zip archive: unsupported encryption")
            if method not in (0, 8):
                raise _zip_error("reading zip archive: unsupported method")
            if (method == 0 and csize != usize) or (method == 8 and usize > 1032 * csize + 1024):
                # a stored record is its own size; deflate cannot expand more than ~1032:1
                raise _zip_error("reading zip archive: invalid header or archive is corrupted")
            if lh_ofs + _LFH.size + csize > cd_ofs:
                raise _zip_error("reading zip archive: invalid header or archive is corrupted")
            name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", "surrogateescape")
            entries.append(_Entry(name, flags, method, crc, csize, usize, lh_ofs))
        first = entries[0].name
        slash = first.find("/")
        if slash < 0:
            raise RuntimeError(
                f"[enforce fail at inline_container.cc:180] . file in archive is not in a subdirectory: {first}")
        self.prefix = first[:slash + 1]
        records = {}
        for e in entries:
            if e.name.startswith(self.prefix):
                rel = e.name[len(self.prefix):]
                if rel in records:
                    raise _zip_error(f"reading zip archive: duplicate record {rel}")
                records[rel] = e
        self.records = records

    @staticmethod
    def _zip64_fields(extra, csize, usize, lh_ofs):
        p = 0
        while p + 4 <= len(extra):
            hid, hlen = struct.unpack_from("<HH", extra, p)
            body = extra[p + 4:p + 4 + hlen]
            if hid == 1:
                vals, q = [], 0
                for v in (usize, csize, lh_ofs):
                    if v == _U32:
                        if q + 8 > len(body):
                            raise _zip_error("reading zip archive: invalid header or archive is corrupted")
                        v = struct.unpack_from("<Q", body, q)[0]
                        q += 8
                    vals.append(v)
                return vals[1], vals[0], vals[2]
            p += 4 + hlen
        raise _zip_error("reading zip archive: invalid header or archive is corrupted")

    def has(self, name):
        return name in self.records

    def entry(self, name):
        e = self.records.get(name)
        if e is None:
            raise _zip_error(f"locating file {name}: file not found")
        if e.data_ofs is None:
            lh = self._pread(e.lh_ofs, _LFH.size)
            sig, _, _, _, _, _, _, _, _, name_len, extra_len = _LFH.unpack(lh)
            if sig != _SIG_LFH:
                raise _zip_error(f"reading file {name}: invalid header or archive is corrupted")
            if self._pread(e.lh_ofs + _LFH.size, name_len) != (self.prefix + name).encode(
                    "utf-8" if e.flags & 0x800 else "cp437", "surrogateescape"):
                raise _zip_error(f"reading file {name}: invalid header or archive is corrupted")
            data_ofs = e.lh_ofs + _LFH.size + name_len + extra_len
            if data_ofs + e.csize > self.cd_ofs:
                raise _zip_error(f"reading file {name}: invalid header or archive is corrupted")
            e.data_ofs = data_ofs
        return e

    def read(self, name):
        """The whole (small) record as bytes, CRC-checked."""
        import zlib
        e = self.entry(name)
        data = self._pread(e.data_ofs, e.csize)
        if e.method == 8:
            d = zlib.decompressobj(-15)
            try:
                data = d.decompress(data, e.usize + 1)
            except zlib.error:
                raise _zip_error(f"reading file {name}: decompression failed or archive is corrupted") from None
        if len(data) != e.usize:
            raise _zip_error(f"reading file {name}: unexpected decompressed size")
        if _crc32(data) != e.crc:
            raise _zip_error(f"reading file {name}: CRC-32 check failed")
        return data

    def read_into(self, name, out):
        """Read a record into the writable uint8 memoryview ``out`` (exactly its size), CRC-checked."""
        e = self.entry(name)
        n = len(out)
        if n != e.usize:
            raise RuntimeError(f"record size {e.usize} mismatch with dst size {n}")
        if e.method == 8:
            self._inflate_into(e, out)
            return
        if self._map is not None and n:
            import numpy as np
            src = np.frombuffer(self._map, dtype=np.uint8, count=n, offset=self.base + e.data_ofs)
            dst = np.frombuffer(out, dtype=np.uint8)
            crc = 0
            for s in range(0, n, _COPY_CHUNK):
                piece = src[s:s + _COPY_CHUNK]
                crc = _crc32(piece, crc)
                dst[s:s + _COPY_CHUNK] = piece
            del src, piece
        else:
            self.f.seek(self.base + e.data_ofs)
            crc = _readinto_with_crc(self.f, out)
        if crc != e.crc:
            raise _zip_error(f"reading file {name}: CRC-32 check failed")


    def _inflate_into(self, e, out):
        import zlib
        d = zlib.decompressobj(-15)
        self.f.seek(self.base + e.data_ofs)
        left, pos, crc = e.csize, 0, 0
        try:
            while left or d.unconsumed_tail:
                if d.unconsumed_tail:
                    chunk = d.unconsumed_tail
                else:
                    chunk = self.f.read(min(left, 1 << 20))
                    if not chunk:
                        raise RuntimeError(f"unexpected EOF, expected {left} more bytes. The file might be corrupted.")
                    left -= len(chunk)
                piece = d.decompress(chunk, len(out) - pos + 1)
                if pos + len(piece) > len(out):
                    raise _zip_error(f"reading file {e.name}: unexpected decompressed size")
                out[pos:pos + len(piece)] = piece
                crc = zlib.crc32(piece, crc)
                pos += len(piece)
                if d.eof:
                    break
        except zlib.error:
            raise _zip_error(f"reading file {e.name}: decompression failed or archive is corrupted") from None
        if pos != len(out) or not d.eof:
            raise _zip_error(f"reading file {e.name}: unexpected decompressed size")
        if crc != e.crc:
            raise _zip_error(f"reading file {e.name}: CRC-32 check failed")


def _readinto_exact(f, mv):
    readinto = getattr(f, "readinto", None)
    done, n = 0, len(mv)
    while done < n:
        if readinto is not None:
            k = readinto(mv[done:])
        else:
            b = f.read(n - done)
            k = len(b) if b else 0
            mv[done:done + k] = b
        if not k:
            raise RuntimeError(f"unexpected EOF, expected {n - done} more bytes. The file might be corrupted.")
        done += k


def _readinto_with_crc(f, out):
    """Fill ``out`` from ``f``; the CRC-32 of big payloads is computed in a helper thread, chunk by chunk,
    while the next chunk is being read."""
    n = len(out)
    if n < _PARALLEL_CRC_MIN:
        _readinto_exact(f, out)
        return _crc32(out)
    import threading
    import queue
    q = queue.SimpleQueue()
    box = [0]

    def worker():
        crc = 0
        while True:
            chunk = q.get()
            if chunk is None:
                break
            crc = _crc32(chunk, crc)
        box[0] = crc

    th = threading.Thread(target=worker, daemon=True)
    th.start()
    try:
        for start in range(0, n, _CHUNK):
            chunk = out[start:start + _CHUNK]
            _readinto_exact(f, chunk)
            q.put(chunk)
    finally:
        q.put(None)
        th.join()
    return box[0]


# ====================================================================================== weights-only unpickler
def _read_global_names(readline):
    import _compat_pickle
    module_b, name_b = readline(), readline()
    if not module_b.endswith(b"\n") or not name_b.endswith(b"\n"):
        raise pickle.UnpicklingError("pickle data was truncated")
    try:
        module, name = module_b[:-1].decode("utf-8"), name_b[:-1].decode("utf-8")
    except UnicodeDecodeError:
        raise pickle.UnpicklingError("GLOBAL names must be UTF-8") from None
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _lookup_user_global(full_path, user):
    obj = user.get(full_path)
    if obj is None and (full_path.startswith("torch.") or full_path.startswith("pyautodiff.")):
        # a class allowlisted as pyautodiff.X also answers for torch.X, and the other way round
        alt = ("pyautodiff." + full_path[6:]) if full_path.startswith("torch.") else ("torch." + full_path[11:])
        obj = user.get(alt)
    return obj


_MAX_TUPLE_DEPTH = 10000


class _WeightsUnpickler:
    """torch's weights-only unpickler, opcode by opcode: only allowlisted globals are resolved, only they
    are called, and every stack, memo and size access is checked."""

    def __init__(self, read, readline, persistent_load=None, encoding="utf-8", remaining=None):
        self.read = read
        self.readline = readline
        self.persistent_load = persistent_load
        self.encoding = encoding
        self.remaining = remaining   # callable: bytes left in the stream (big reads are checked first)

    def load(self):
        allowed, user = _allowed_globals(), _user_allowed_globals()
        try:
            return self._load(allowed, user)
        except (pickle.UnpicklingError, EOFError):
            raise
        except RecursionError:
            raise pickle.UnpicklingError("pickle data nested too deeply") from None
        except MemoryError:
            raise pickle.UnpicklingError("pickle data needs more memory than available") from None
        except RuntimeError:
            raise
        except Exception as e:  # anything a malformed stream can provoke
            raise pickle.UnpicklingError(f"{type(e).__name__}: {e}") from None

    def _readn(self, n):
        if n > 65536 and self.remaining is not None and n > self.remaining():
            raise pickle.UnpicklingError("pickle data was truncated")
        data = self.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError("pickle data was truncated")
        return data

    def _load(self, allowed, user):
        from pickle import decode_long
        callable_ids = {id(v) for v in allowed.values() if callable(v)} | {id(v) for v in user.values()}
        newobj_ids = {id(v) for v in allowed.values() if isinstance(v, type)} | \
            {id(v) for v in user.values() if isinstance(v, type)}
        build_types = {id(v) for v in user.values() if isinstance(v, type)} | \
            {id(v) for v in allowed.values() if isinstance(v, type)}
        from .tensor import Tensor
        Parameter = allowed.get("torch.nn.parameter.Parameter")
        unpack = struct.unpack
        read, readn = self.read, self._readn
        stack = []
        metastack = []
        memo = {}
        first = True
        depths = {}   # id -> (tuple, nesting depth) for tuples holding tuples

        def track(t):
            # hashing a tuple recurses in C without a recursion check: a deep enough tuple used as a dict
            # key would crash the interpreter, so nesting depth is bounded (legit pickles nest < 1000)
            d = 1
            for x in t:
                if isinstance(x, tuple):
                    e = depths.get(id(x))
                    xd = e[1] if e is not None and e[0] is x else 1
                    if xd >= d:
                        d = xd + 1
            if d > 1:
                if d > _MAX_TUPLE_DEPTH:
                    raise pickle.UnpicklingError("pickle data nested too deeply")
                depths[id(t)] = (t, d)
            return t

        def pop_mark():
            nonlocal stack
            if not metastack:
                raise pickle.UnpicklingError("could not find MARK")
            items = stack
            stack = metastack.pop()
            return items

        def top():
            if not stack:
                raise pickle.UnpicklingError("unpickling stack underflow")
            return stack[-1]

        def pop():
            if not stack:
                raise pickle.UnpicklingError("unpickling stack underflow")
            return stack.pop()

        while True:
            key = read(1)
            if not key:
                if first:
                    raise EOFError
                raise pickle.UnpicklingError("pickle data was truncated")
            first = False
            op = key[0]
            if op == 0x63:  # GLOBAL
                module, name = _read_global_names(self.readline)
                full_path = f"{module}.{name}"
                if module in _BLOCKLISTED_MODULES:
                    raise pickle.UnpicklingError(
                        f"Trying to load unsupported GLOBAL {full_path} whose module {module} is blocked.")
                if full_path in allowed:
                    stack.append(allowed[full_path])
                    continue
                obj = _lookup_user_global(full_path, user)
                if obj is not None:
                    stack.append(obj)
                    continue
                if full_path.startswith("builtins"):
                    rest = full_path[len("builtins"):]
                    full_path = rest[1:] if rest.startswith(".") else "builtins" + rest
                raise pickle.UnpicklingError(
                    f"Unsupported global: GLOBAL {full_path} was not an allowed global by default. "
                    f"Please use `torch.serialization.add_safe_globals([{full_path}])` or the "
                    f"`torch.serialization.safe_globals([{full_path}])` context manager to allowlist this global "
                    "if you trust this class/function.")
            elif op == 0x81:  # NEWOBJ
                args = pop()
                cls = pop()
                if type(args) is not tuple:
                    raise pickle.UnpicklingError("NEWOBJ expected an argument tuple")
                if Parameter is not None and cls is Parameter:
                    stack.append(Parameter(*args))
                elif id(cls) in newobj_ids and isinstance(cls, type):
                    if cls is Tensor or (isinstance(cls, type) and issubclass(cls, Tensor) and args):
                        raise pickle.UnpicklingError(f"Can only create new object for nn.Parameter or classes "
                                                     f"allowlisted via `add_safe_globals` but got {cls}")
                    obj = cls.__new__(cls, *args)
                    stack.append(track(obj) if isinstance(obj, tuple) else obj)
                else:
                    raise pickle.UnpicklingError(
                        "Can only create new object for nn.Parameter or classes allowlisted "
                        f"via `add_safe_globals` but got {cls}")
            elif op == 0x52:  # REDUCE
                args = pop()
                func = top()
                if id(func) not in callable_ids:
                    msg = f"Trying to call reduce for unrecognized function {func}"
                    if hasattr(func, "__self__"):
                        msg += f" which belongs to {func.__self__}"
                    raise pickle.UnpicklingError(msg)
                if type(args) is not tuple:
                    raise pickle.UnpicklingError("REDUCE expected an argument tuple")
                if func is Tensor and args:
                    # torch.Tensor(n) would allocate n elements on the file's say-so
                    raise pickle.UnpicklingError("torch.Tensor() may only be called without arguments here")
                obj = func(*args)
                stack[-1] = track(obj) if isinstance(obj, tuple) else obj
            elif op == 0x62:  # BUILD
                state = pop()
                inst = top()
                t = type(inst)
                if t is OrderedDict:
                    if not isinstance(state, dict) or not all(
                            isinstance(k, str) and not (k.startswith("__") and k.endswith("__")) for k in state):
                        raise pickle.UnpicklingError("BUILD on an OrderedDict takes a dict of attribute names")
                    inst.__dict__.update(state)
                elif isinstance(inst, Tensor) and (t is Tensor or t is Parameter):
                    _utils._set_obj_state(inst, state)
                elif id(t) in build_types:
                    setstate = getattr(t, "__setstate__", None)
                    if setstate is not None and setstate is not getattr(object, "__setstate__", None):
                        inst.__setstate__(state)
                    else:
                        slotstate = None
                        if isinstance(state, tuple) and len(state) == 2:
                            state, slotstate = state
                        if state:
                            inst.__dict__.update(state)
                        if slotstate:
                            for k, v in slotstate.items():
                                setattr(inst, k, v)
                else:
                    raise pickle.UnpicklingError(
                        "Can only build Tensor, Parameter, OrderedDict or types allowlisted "
                        f"via `add_safe_globals`, but got {t}")
            elif op == 0x61:  # APPEND
                item = pop()
                lst = top()
                if type(lst) is not list:
                    raise pickle.UnpicklingError(f"Can only append to lists, but got {type(lst)}")
                lst.append(item)
            elif op == 0x65:  # APPENDS
                items = pop_mark()
                lst = top()
                if type(lst) is not list:
                    raise pickle.UnpicklingError(f"Can only extend lists, but got {type(lst)}")
                lst.extend(items)
            elif op == 0x73:  # SETITEM
                v = pop()
                k = pop()
                d = top()
                if type(d) not in (dict, OrderedDict, Counter):
                    raise pickle.UnpicklingError(
                        "Can only SETITEM for dict, collections.OrderedDict, "
                        f"collections.Counter, but got {type(d)}")
                d[k] = v
            elif op == 0x75:  # SETITEMS
                items = pop_mark()
                d = top()
                if type(d) not in (dict, OrderedDict, Counter):
                    raise pickle.UnpicklingError(
                        "Can only SETITEMS for dict, collections.OrderedDict, "
                        f"collections.Counter, but got {type(d)}")
                if len(items) % 2:
                    raise pickle.UnpicklingError("SETITEMS needs key/value pairs")
                for i in range(0, len(items), 2):
                    d[items[i]] = items[i + 1]
            elif op == 0x28:  # MARK
                if len(metastack) >= _MAX_TUPLE_DEPTH:   # containers nest no deeper than the pickler recursed
                    raise pickle.UnpicklingError("pickle data nested too deeply")
                metastack.append(stack)
                stack = []
            elif op == 0x74:  # TUPLE
                items = pop_mark()
                stack.append(track(tuple(items)))
            elif op == 0x85:  # TUPLE1
                stack[-1] = track((top(),))
            elif op == 0x86:  # TUPLE2
                if len(stack) < 2:
                    raise pickle.UnpicklingError("unpickling stack underflow")
                stack[-2:] = [track((stack[-2], stack[-1]))]
            elif op == 0x87:  # TUPLE3
                if len(stack) < 3:
                    raise pickle.UnpicklingError("unpickling stack underflow")
                stack[-3:] = [track((stack[-3], stack[-2], stack[-1]))]
            elif op == 0x4E:  # NONE
                stack.append(None)
            elif op == 0x89:  # NEWFALSE
                stack.append(False)
            elif op == 0x88:  # NEWTRUE
                stack.append(True)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x5D:  # EMPTY_LIST
                stack.append([])
            elif op == 0x7D:  # EMPTY_DICT
                stack.append({})
            elif op == 0x8F:  # EMPTY_SET
                stack.append(set())
            elif op == 0x4A:  # BININT
                stack.append(unpack("<i", readn(4))[0])
            elif op == 0x4B:  # BININT1
                stack.append(readn(1)[0])
            elif op == 0x4D:  # BININT2
                stack.append(unpack("<H", readn(2))[0])
            elif op == 0x47:  # BINFLOAT
                stack.append(unpack(">d", readn(8))[0])
            elif op == 0x58:  # BINUNICODE
                n = unpack("<I", readn(4))[0]
                stack.append(str(readn(n), "utf-8", "surrogatepass"))
            elif op == 0x55:  # SHORT_BINSTRING
                data = readn(readn(1)[0])
                stack.append(data if self.encoding == "bytes" else data.decode(self.encoding, "strict"))
            elif op == 0x51:  # BINPERSID
                pid = pop()
                if type(pid) is not tuple and type(pid) is not int:
                    raise pickle.UnpicklingError(f"persistent_load id must be tuple or int, but got {type(pid)}")
                if type(pid) is tuple and len(pid) > 0 and _maybe_decode_ascii(pid[0]) != "storage":
                    raise pickle.UnpicklingError(
                        f"Only persistent_load of storage is allowed, but got {type(pid[0])}")
                if self.persistent_load is None:
                    raise pickle.UnpicklingError("unsupported persistent id encountered")
                stack.append(self.persistent_load(pid))
            elif op == 0x68:  # BINGET
                i = readn(1)[0]
                if i not in memo:
                    raise pickle.UnpicklingError(f"Memo value not found at index {i}")
                stack.append(memo[i])
            elif op == 0x6A:  # LONG_BINGET
                i = unpack("<I", readn(4))[0]
                if i not in memo:
                    raise pickle.UnpicklingError(f"Memo value not found at index {i}")
                stack.append(memo[i])
            elif op == 0x71:  # BINPUT
                memo[readn(1)[0]] = top()
            elif op == 0x72:  # LONG_BINPUT
                memo[unpack("<I", readn(4))[0]] = top()
            elif op == 0x8A:  # LONG1
                stack.append(decode_long(readn(readn(1)[0])))
            elif op == 0x80:  # PROTO
                proto = readn(1)[0]
                if proto != 2:
                    warnings.warn(
                        f"Detected pickle protocol {proto} in the checkpoint, which was "
                        "not the default pickle protocol used by `torch.load` (2). The weights_only "
                        "Unpickler might not support all instructions implemented by this protocol, "
                        "please file an issue for adding support if you encounter this.", stacklevel=4)
            elif op == 0x2E:  # STOP
                return pop()
            else:
                raise pickle.UnpicklingError(f"Unsupported operand {op}")


def _maybe_decode_ascii(s):
    if isinstance(s, bytes):
        return s.decode("ascii")
    return s


_OPERAND_SIZES = {0x81: 0, 0x52: 0, 0x62: 0, 0x61: 0, 0x65: 0, 0x73: 0, 0x75: 0, 0x28: 0, 0x74: 0, 0x85: 0,
                  0x86: 0, 0x87: 0, 0x4E: 0, 0x89: 0, 0x88: 0, 0x29: 0, 0x5D: 0, 0x7D: 0, 0x8F: 0, 0x51: 0,
                  0x4A: 4, 0x4B: 1, 0x4D: 2, 0x47: 8, 0x68: 1, 0x6A: 4, 0x71: 1, 0x72: 4}


def _globals_in_pickle(data):
    """Every GLOBAL named in a weights-only-style pickle, in order of first appearance (without running it)."""
    f = io.BytesIO(data)
    read, readline = f.read, f.readline
    found = {}
    while True:
        key = read(1)
        if not key:
            raise EOFError
        op = key[0]
        if op == 0x63:
            module, name = _read_global_names(readline)
            found.setdefault(f"{module}.{name}", None)
        elif op in _OPERAND_SIZES:
            read(_OPERAND_SIZES[op])
        elif op == 0x58:
            b = read(4)
            if len(b) != 4:
                raise pickle.UnpicklingError("pickle data was truncated")
            read(struct.unpack("<I", b)[0])
        elif op in (0x55, 0x8A):
            b = read(1)
            if not b:
                raise pickle.UnpicklingError("pickle data was truncated")
            read(b[0])
        elif op == 0x80:
            read(1)
        elif op == 0x2E:
            return list(found)
        else:
            raise pickle.UnpicklingError(f"Unsupported operand {op}")


# ====================================================================================== load
_DEVICE_TYPES = ("cpu", "cuda", "mps", "meta", "xpu", "hpu", "xla", "mtia", "privateuseone", "ipu", "ve", "lazy")


def _check_location(storage, location):
    if isinstance(location, bytes):
        location = location.decode("ascii", "replace")
    if isinstance(location, str):
        dev, _, idx = location.partition(":")
        if dev in _DEVICE_TYPES and (not idx or idx.isdigit()):
            return storage  # there is only the CPU: every device's storages load there
    name = getattr(getattr(storage, "storage_type", None), "name", "UntypedStorage")
    raise RuntimeError(f"don't know how to restore data location of torch.storage.{name} (tagged with {location})")


def _restore_location_fn(map_location):
    from .tensor import device
    if map_location is None:
        return _check_location
    if isinstance(map_location, dict):
        def restore(storage, location):
            return _check_location(storage, map_location.get(location, location))
        return restore
    if isinstance(map_location, (str, bytes)):
        def restore(storage, location):
            return _check_location(storage, map_location)
        return restore
    if isinstance(map_location, device) or (not callable(map_location) and hasattr(map_location, "type")):
        target = str(map_location)

        def restore(storage, location):
            return _check_location(storage, target)
        return restore

    def restore(storage, location):
        result = map_location(storage, location)
        if result is None:
            return _check_location(storage, location)
        if not isinstance(result, _utils.TypedStorage):
            raise RuntimeError(f"map_location returned {type(result).__name__}, expected the storage it was given "
                               "(or None)")
        return result
    return restore


def _int_arg(v, what):
    if type(v) is not int or v < 0:
        raise RuntimeError(f"invalid storage id: {what} must be a non-negative int, got {v!r}")
    return v


def _str_arg(v, what):
    v = _maybe_decode_ascii(v)
    if type(v) is not str:
        raise RuntimeError(f"invalid storage id: {what} must be a string, got {type(v).__name__}")
    return v


def _find_torch_global(mod_name, name):
    """For unrestricted loads: torch's names map onto pyautodiff's objects (None when not a torch name)."""
    if type(name) is str and "Storage" in name and name in _utils.STORAGE_TYPES:
        return _utils.STORAGE_TYPES[name]
    mod_name = {"torch.tensor": "torch._tensor"}.get(mod_name, mod_name)
    if not (mod_name == "torch" or mod_name.startswith("torch.")):
        return None
    allowed = _allowed_globals()
    full = f"{mod_name}.{name}"
    if full in allowed and full not in ("builtins.set",):
        return allowed[full]
    import importlib
    ours = "pyautodiff" + mod_name[5:]
    parts = ours.split(".")
    for i in range(len(parts), 0, -1):    # pyautodiff.nn.modules.linear, then pyautodiff.nn.modules, ...
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in name.split("."):
                obj = getattr(obj, attr)
        except AttributeError:
            continue
        return obj
    raise AttributeError(f"Can't get attribute '{name}' on <module '{ours}'> (pyautodiff has no equivalent of "
                         f"{full})")


def _full_unpickler(pickle_module):
    class UnpicklerWrapper(pickle_module.Unpickler):
        def find_class(self, mod_name, name):
            obj = _find_torch_global(mod_name, name)
            if obj is not None:
                return obj
            return super().find_class(mod_name, name)
    return UnpicklerWrapper


def _unpickle(read_file, persistent_load, pickle_module, pickle_load_args, remaining_end=None):
    if pickle_module is None:
        end = remaining_end if remaining_end is not None else None

        def remaining():
            return end - read_file.tell() if end is not None else sys.maxsize
        return _WeightsUnpickler(read_file.read, read_file.readline, persistent_load,
                                 pickle_load_args.get("encoding", "utf-8"), remaining).load()
    up = _full_unpickler(pickle_module)(read_file, **pickle_load_args)
    if persistent_load is not None:
        up.persistent_load = persistent_load
    try:
        return up.load()
    except RecursionError:
        raise pickle.UnpicklingError("pickle data nested too deeply") from None


def _load_zip(reader, map_location, pickle_module, mm, pickle_load_args):
    import numpy as np
    if reader.has(".data/version"):
        vrec = reader.read(".data/version")
    elif reader.has("version"):
        vrec = reader.read("version")
    else:
        raise RuntimeError('Expected hasRecord("version") to be true, but got false.  (Could this error message '
                           'be improved?  If so, please report an enhancement request to PyTorch.)')
    try:
        version = int(vrec.decode("ascii").strip() or "x")
    except (UnicodeDecodeError, ValueError):
        raise RuntimeError(f"Couldn't parse the version {vrec!r} as Long Long.") from None
    if version < 1:
        raise RuntimeError(f"Attempted to read a PyTorch file with version {version}, but the minimum supported "
                           "version for reading is 1. Your PyTorch script module file is too old. Please regenerate "
                           "it with latest version of PyTorch to mitigate this issue.")
    if version > 10:
        raise RuntimeError(f"Attempted to read a PyTorch file with version {version}, but the maximum supported "
                           "version for reading is 10. The version of your PyTorch installation may be too old, "
                           "please upgrade PyTorch to latest version to mitigate this issue.")
    default = get_default_load_endianness()
    byteorder = sys.byteorder if default == LoadEndianness.NATIVE else (default or "little")
    if reader.has("byteorder"):
        b = reader.read("byteorder")
        if b not in (b"little", b"big"):
            raise ValueError("Unknown endianness type: " + b.decode("utf-8", "replace"))
        byteorder = b.decode()
    swap = byteorder != sys.byteorder
    restore = _restore_location_fn(map_location)
    loaded = {}

    def persistent_load(saved_id):
        if type(saved_id) is not tuple or len(saved_id) != 5:
            raise RuntimeError(f"invalid storage id {saved_id!r}: expected ('storage', type, key, location, numel)")
        typename = _maybe_decode_ascii(saved_id[0])
        if typename != "storage":
            raise RuntimeError(f"Unknown typename for persistent_load, expected 'storage' but got '{typename}'")
        storage_type, key, location, numel = saved_id[1:]
        if not isinstance(storage_type, _utils.StorageType):
            raise RuntimeError(f"invalid storage id: {storage_type!r} is not a storage type")
        key = _str_arg(key, "key")
        location = _str_arg(location, "location")
        numel = _int_arg(numel, "numel")
        if key in loaded:
            return loaded[key]
        name = "data/" + key
        e = reader.entry(name)
        nbytes = numel * storage_type.itemsize
        if e.usize != nbytes:   # checked before anything is allocated
            raise RuntimeError(f"record size {e.usize} mismatch with dst size {nbytes}")
        if storage_type.np_name is None:
            raise RuntimeError(f"pyautodiff cannot load tensors of torch.{storage_type.name}")
        dtype = np.dtype(storage_type.np_name)
        if mm is not None and e.method == 0:
            arr = np.frombuffer(mm, dtype=dtype, count=numel, offset=reader.base + e.data_ofs)
        else:
            arr = np.empty(numel, dtype=dtype)
            reader.read_into(name, memoryview(arr.view(np.uint8)))
        if swap and dtype.itemsize > 1:
            arr.byteswap(inplace=True)
        storage = restore(_utils.TypedStorage(arr, storage_type, location), location)
        loaded[key] = storage
        return storage

    data = reader.read("data.pkl")
    return _unpickle(io.BytesIO(data), persistent_load, pickle_module, pickle_load_args, len(data))


def _legacy_load(f, map_location, pickle_module, pickle_load_args):
    import numpy as np
    weights_only = pickle_module is None
    start = f.tell()
    head = f.read(512)
    f.seek(start)
    if len(head) >= 262 and head[257:262] == b"ustar":
        if weights_only:
            raise RuntimeError("Cannot use ``weights_only=True`` with files saved in the legacy .tar format. "
                               + UNSAFE_MESSAGE)
        raise RuntimeError("pyautodiff cannot read the legacy .tar format of PyTorch < 0.4")
    end = f.seek(0, 2)
    f.seek(start)
    restore = _restore_location_fn(map_location)

    def unpickle(persistent_load=None):
        return _unpickle(f, persistent_load, pickle_module, pickle_load_args, end)

    magic = unpickle()
    if type(magic) is not int or magic != MAGIC_NUMBER:
        raise RuntimeError("Invalid magic number; corrupt file?")
    protocol_version = unpickle()
    if type(protocol_version) is not int or protocol_version != PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {protocol_version}")
    sys_info = unpickle()
    little = sys_info.get("little_endian", True) if isinstance(sys_info, dict) else True
    storages, views = {}, {}
    budget = [end - start]   # all storages together cannot hold more bytes than the file

    def persistent_load(saved_id):
        if type(saved_id) is not tuple or not saved_id:
            raise RuntimeError(f"invalid persistent id {saved_id!r}")
        typename = _maybe_decode_ascii(saved_id[0])
        if typename == "module" and not weights_only and len(saved_id) == 4:
            return saved_id[1]
        if typename != "storage" or len(saved_id) != 6:
            raise RuntimeError(f"Unknown saved id type: {saved_id[0]}")
        storage_type, root_key, location, numel, view_metadata = saved_id[1:]
        if not isinstance(storage_type, _utils.StorageType):
            raise RuntimeError(f"invalid storage id: {storage_type!r} is not a storage type")
        root_key = _str_arg(root_key, "key")
        location = _str_arg(location, "location")
        numel = _int_arg(numel, "numel")
        if root_key not in storages:
            nbytes = numel * storage_type.itemsize
            if nbytes > budget[0]:
                raise RuntimeError(f"storage {root_key} claims {nbytes} bytes, more than the file holds")
            budget[0] -= nbytes
            if storage_type.np_name is None:
                raise RuntimeError(f"pyautodiff cannot load tensors of torch.{storage_type.name}")
            arr = np.empty(numel, dtype=np.dtype(storage_type.np_name))
            storages[root_key] = restore(_utils.TypedStorage(arr, storage_type, location), location)
        st = storages[root_key]
        if view_metadata is None:
            return st
        if type(view_metadata) is not tuple or len(view_metadata) != 3:
            raise RuntimeError(f"invalid storage view {view_metadata!r}")
        view_key = _str_arg(view_metadata[0], "view key")
        offset = _int_arg(view_metadata[1], "view offset")
        size = _int_arg(view_metadata[2], "view size")
        if offset + size > st.array.size:
            raise RuntimeError(f"storage view [{offset}, {offset + size}) is outside its storage of {st.array.size}")
        if view_key not in views:
            v = _utils.TypedStorage(st.array[offset:offset + size], st.storage_type, st.location)
            v._version = st._version
            views[view_key] = v
        return views[view_key]

    result = unpickle(persistent_load)
    keys = unpickle()
    if type(keys) is not list:
        raise RuntimeError("invalid legacy file: expected the list of storage keys")
    filled = set()
    for key in keys:
        key = _maybe_decode_ascii(key)
        if key not in storages or key in filled:
            raise RuntimeError(f"storage key {key!r} not found in deserialized_objects")
        arr = storages[key].array
        raw = f.read(8)
        if raw is None or len(raw) != 8:
            raise RuntimeError("unexpected EOF, expected 8 more bytes. The file might be corrupted.")
        n = struct.unpack("<q", raw)[0]
        if n != arr.size:
            raise RuntimeError(f"storage has wrong size: expected {arr.size} got {n}")
        _readinto_exact(f, memoryview(arr.view(np.uint8)))
        if not little and arr.itemsize > 1:
            arr.byteswap(inplace=True)
        filled.add(key)
    missing = set(storages) - filled
    if missing:
        raise RuntimeError(f"invalid legacy file: no data for storage {sorted(missing)[0]!r}")
    return result


def _get_wo_message(message):
    import re
    has_unsafe_global = re.search(r"GLOBAL (\S+) was not an allowed global by default.", message) is not None
    has_blocklist = re.search(r"whose module (\S+) is blocked", message) is not None
    has_import = re.search(r"(\S+) must be (\S+) to load", message) is not None
    if has_unsafe_global:
        updated = ("Weights only load failed. This file can still be loaded, to do so you have two options, "
                   "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
                   f"\n\t(1) {UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check "
                   "the recommended steps in the following error message.\n\tWeightsUnpickler error: " + message)
    else:
        if has_import:
            return f"Weights only load failed. {message}\n {UNSAFE_MESSAGE}\n"
        updated = f"Weights only load failed. {UNSAFE_MESSAGE}\n"
        if not has_blocklist:
            updated += ("Please file an issue with the following so that we can make "
                        "`weights_only=True` compatible with your use case: WeightsUnpickler error: ")
        updated += "\n\n" + message
    return updated + _DOCS_MESSAGE


def _is_zipfile(f):
    start = f.tell()
    magic = f.read(4)
    f.seek(start)
    return magic == b"PK\x03\x04"


def _check_seekable(f):
    try:
        f.seek(f.tell())
        return True
    except (io.UnsupportedOperation, AttributeError) as e:
        for p in ("seek", "tell"):
            if p in str(e):
                raise type(e)(str(e) + ". You can only torch.load from a file that is seekable. Please pre-load "
                              "the data into a buffer like io.BytesIO and try to load from it instead.") from None
        raise


class _Opened:
    def __init__(self, f):
        self.owned = _is_path(f)
        self.f = open(os.fspath(f), "rb") if self.owned else f

    def __enter__(self):
        return self.f

    def __exit__(self, *exc):
        if self.owned:
            self.f.close()


def _zip_reader_for(f):
    start = f.tell()
    end = f.seek(0, 2)
    f.seek(start)
    return _ZipReader(f, start, end)


def _without_gc(fn):
    """Run `fn` with the cyclic garbage collector paused: loading builds many small objects, and in a
    process holding many objects (a big framework imported) each collection it triggers scans them
    all, costing milliseconds per load."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()
    return wrapper


@_without_gc
def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved with :func:`save` or ``torch.save`` from a path or a binary file object.

    ``weights_only=True`` (the default unless ``pickle_module`` is given) loads tensors, Parameters, state
    dicts and containers of plain Python values only, refusing any other global with
    ``pickle.UnpicklingError``; ``weights_only=False`` runs an ordinary unpickler (only for trusted files).
    ``map_location`` may be a string, a device, a dict or a callable; every storage ends up on the CPU.
    ``mmap=True`` maps the file (copy-on-write) and returns tensors that view it; their payloads are then
    not read at load time, so their CRC-32s are not checked (sizes, offsets and strides still are).

    A file given by path is read through a read-only mapping (each payload is checksummed, then copied
    out): like every memory-mapped reader, a process that truncates the file *while* it is being loaded
    makes the kernel kill the loader (SIGBUS).  ``save`` never does that (it replaces files atomically).
    """
    weights_only_not_set = weights_only is None
    if weights_only_not_set:
        weights_only = pickle_module is None
    true_values = ("1", "y", "yes", "true")
    force_wo = os.getenv("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    force_no_wo = os.getenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in true_values
    if force_wo and force_no_wo:
        raise RuntimeError("Only one of `TORCH_FORCE_WEIGHTS_ONLY_LOAD` or `TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD` "
                           "should be set, but both were set.")
    elif force_wo:
        weights_only = True
    elif force_no_wo and weights_only_not_set:
        warnings.warn("Environment variable TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD detected, since the"
                      "`weights_only` argument was not explicitly passed to `torch.load`, forcing "
                      "weights_only=False.", UserWarning, stacklevel=2)
        weights_only = False
    if weights_only:
        if pickle_module is not None:
            raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    elif pickle_module is None:
        pickle_module = pickle
    if pickle_load_args and weights_only:
        warnings.warn("pickle_load_args only works if `weights_only=False`.")
    pickle_load_args.setdefault("encoding", "utf-8")
    mmap = bool(mmap)

    with _Opened(f) as opened:
        if not _is_path(f):
            _check_seekable(opened)
        if _is_zipfile(opened):
            reader = _zip_reader_for(opened)
            if reader.has("constants.pkl"):
                raise RuntimeError("pyautodiff cannot load TorchScript archives (this file was written by "
                                   "torch.jit.save)")
            mm = None
            if mmap:
                if not _is_path(f):
                    raise ValueError("f must be a file path in order to use the mmap argument")
                import mmap as _mmap
                mm = _mmap.mmap(opened.fileno(), 0, access=_mmap.ACCESS_COPY)
            if _MAP_READS and mm is None and (_is_path(f) or type(opened) in (io.BufferedReader, io.FileIO)):
                reader.map_file()
            try:
                if weights_only:
                    try:
                        return _load_zip(reader, map_location, None, mm, pickle_load_args)
                    except pickle.UnpicklingError as e:
                        raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
                return _load_zip(reader, map_location, pickle_module, mm, pickle_load_args)
            finally:
                reader.close()
        if mmap:
            f_name = "" if not isinstance(f, str) else f"{f}, "
            raise RuntimeError("mmap can only be used with files saved with "
                               f"`torch.save({f_name}_use_new_zipfile_serialization=True), "
                               "please torch.save your checkpoint with this option in order to use mmap.")
        if weights_only:
            try:
                return _legacy_load(opened, map_location, None, pickle_load_args)
            except pickle.UnpicklingError as e:
                raise pickle.UnpicklingError(_get_wo_message(str(e))) from None
        return _legacy_load(opened, map_location, pickle_module, pickle_load_args)


def get_unsafe_globals_in_checkpoint(f):
    """The globals in a checkpoint's ``data.pkl`` that ``weights_only`` load would refuse (nothing is run)."""
    safe = set(_allowed_globals()) | set(_user_allowed_globals())
    user = _user_allowed_globals()
    with _Opened(f) as opened:
        if not _is_zipfile(opened):
            raise ValueError("Expected input to be a checkpoint returned by torch.save")
        reader = _zip_reader_for(opened)
        if reader.has("constants.pkl"):
            raise ValueError("Expected input to be a checkpoint returned by torch.save but got a torchscript "
                             "checkpoint")
        names = _globals_in_pickle(reader.read("data.pkl"))
    return [g for g in names if g not in safe and _lookup_user_global(g, user) is None]
