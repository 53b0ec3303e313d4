"""dtype objects that print like torch's and map one-to-one onto numpy dtypes."""
import numpy as np


_RANK = {"b": 0, "i": 1, "f": 2}


class dtype:
    __slots__ = ("name", "np", "is_floating_point", "is_signed", "itemsize", "_kind")

    def __init__(self, name, np_dtype, kind):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = kind == "f"
        self.is_signed = kind != "b"
        self.itemsize = self.np.itemsize
        self._kind = _RANK[kind]  # bool 0 < integer 1 < floating 2: torch's promotion categories

    @property
    def is_complex(self):
        return False

    def __repr__(self):
        return "pyautodiff." + self.name

    __str__ = __repr__

    def __reduce__(self):
        # pickled by name, so the very same singleton comes back
        return (_get_dtype, (self.name,))


float32 = dtype("float32", np.float32, "f")
float64 = dtype("float64", np.float64, "f")
float16 = dtype("float16", np.float16, "f")
int64 = dtype("int64", np.int64, "i")
int32 = dtype("int32", np.int32, "i")
int16 = dtype("int16", np.int16, "i")
int8 = dtype("int8", np.int8, "i")
uint8 = dtype("uint8", np.uint8, "i")
bool_ = dtype("bool", np.bool_, "b")

float = float32
double = float64
half = float16
long = int64
int = int32
short = int16

ALL = (float32, float64, float16, int64, int32, int16, int8, uint8, bool_)
_BY_NAME = {d.name: d for d in ALL}
_BY_NP = {d.np: d for d in ALL}


def _get_dtype(name):
    return _BY_NAME[name]


def from_numpy(np_dtype):
    """The pyautodiff dtype for a numpy dtype (TypeError for unsupported ones, as torch)."""
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{np.dtype(np_dtype).name}. The only supported types are: "
            "float64, float32, float16, int64, int32, int16, int8, uint8, and bool.") from None


_default = [float32]


def get_default_dtype():
    return _default[0]


def set_default_dtype(d):
    if d not in (float32, float64):
        raise TypeError("only floating-point types are supported as the default type")
    _default[0] = d


def promote_types(a, b):
    """torch.promote_types for the dtypes we support."""
    if a is b:
        return a
    if a._kind != b._kind:
        return a if a._kind > b._kind else b
    return from_numpy(np.promote_types(a.np, b.np))
