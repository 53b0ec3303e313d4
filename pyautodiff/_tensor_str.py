"""Tensor repr/str, reproducing ``torch._tensor_str`` (PyTorch 2.13) character for character.

The public entry point is :func:`tensor_repr`; print options are global, as in torch
(:func:`set_printoptions`, :func:`get_printoptions`, :func:`printoptions`).

How torch prints a (dense, CPU) tensor, which this module follows:

* Empty tensors print ``[]``; a ``size=`` suffix is added unless the tensor is 1-D, and a
  ``dtype=`` suffix whenever the dtype differs from the default floating dtype (so an empty
  int64 or bool tensor *does* show its dtype).
* Above ``threshold`` elements the tensor is summarized: every dimension longer than
  ``2 * edgeitems`` keeps only its first and last ``edgeitems`` entries.  The formatter (widths,
  integer / scientific mode) is computed from the summarized elements only.
* Floating formatting looks at the finite non-zero values only: "int mode" when all of them are
  integral (printed ``2.``), scientific mode when max/min > 1000, max > 1e8 or min < 1e-4
  (abs values, compared in float64), otherwise fixed ``precision`` decimals.  Every element is
  right-aligned to the widest formatted finite non-zero value (zeros, nan and inf are not
  measured, so e.g. ``-0.0000`` may stick out).
* Values are formatted from their float64 value (float32 / float16 widened exactly), with
  Python's ``format`` (correct rounding of the binary value).
* 1-D rows wrap by *element count*: ``(linewidth - indent) // (width + 2)`` elements a line.
* Suffixes (``size=``, ``dtype=``, ``grad_fn=`` / ``requires_grad=True``) are appended with
  ``", "`` unless the last line would pass ``linewidth``; then they go on a new line indented by
  ``len(prefix)``.  Line-length decisions use torch's spelling (``torch.float64``) so the
  output equals torch's with ``torch.`` replaced by ``pyautodiff.``.
"""
import contextlib
import math

import numpy as np

from . import _dtype as _dt

__all__ = ["tensor_repr", "set_printoptions", "get_printoptions", "printoptions", "PRINT_OPTS"]


class _PrinterOptions:
    __slots__ = ("precision", "threshold", "edgeitems", "linewidth", "sci_mode")

    def __init__(self):
        self.precision = 4
        self.threshold = 1000
        self.edgeitems = 3
        self.linewidth = 80
        self.sci_mode = None

    def __repr__(self):
        return "_PrinterOptions(%s)" % ", ".join("%s=%r" % (k, getattr(self, k)) for k in self.__slots__)


PRINT_OPTS = _PrinterOptions()

_PROFILES = {
    "default": (4, 1000, 3, 80),
    "short": (2, 1000, 2, 80),
    "full": (4, math.inf, 3, 80),
}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set options for printing tensors (same semantics as ``torch.set_printoptions``).

    ``profile`` ("default", "short", "full") resets precision/threshold/edgeitems/linewidth
    first; explicit arguments then override it.  ``sci_mode`` is always assigned (so omitting
    it restores automatic selection), exactly as torch does.
    """
    if profile is not None:
        prof = _PROFILES.get(profile)
        if prof is not None:  # torch silently ignores unknown profile names
            (PRINT_OPTS.precision, PRINT_OPTS.threshold,
             PRINT_OPTS.edgeitems, PRINT_OPTS.linewidth) = prof
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions():
    """The current print options as a dict accepted by :func:`set_printoptions` as ``**kwargs``."""
    return {k: getattr(PRINT_OPTS, k) for k in _PrinterOptions.__slots__}


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager temporarily changing the print options."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


# ----------------------------------------------------------------------------------------------
# element formatting

class _Formatter:
    """Decides the number style and column width from the (summarized) elements of a tensor."""

    __slots__ = ("floating", "int_mode", "sci_mode", "max_width", "precision")

    def __init__(self, arr, floating):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.max_width = 1
        self.precision = PRINT_OPTS.precision
        flat = arr.reshape(-1)
        if flat.size == 0:
            return
        if not floating:
            if flat.dtype == np.bool_:
                widths = [5 if not flat.all() else 4]  # "False" / "True"
            else:
                # the longest decimal string is that of the minimum or of the maximum
                widths = [len(str(int(flat.min()))), len(str(int(flat.max())))]
            self.max_width = max(1, *widths)
            return

        vals = flat[np.isfinite(flat) & (flat != 0)]
        if vals.size == 0:
            return  # nothing to measure: int mode, no sci mode, width 1 (torch returns early too)
        # integral check in the tensor's own dtype (ceil is exact in any float format)
        self.int_mode = bool(np.all(np.ceil(vals) == vals))
        absv = np.abs(vals).astype(np.float64)
        vmin = float(absv.min())
        vmax = float(absv.max())
        if PRINT_OPTS.sci_mode is None:
            self.sci_mode = vmax / vmin > 1000.0 or vmax > 1.0e8 or vmin < 1.0e-4
        else:
            self.sci_mode = PRINT_OPTS.sci_mode

        # The formatted length only depends on sign and magnitude, monotonically for the
        # fixed formats; for %e the exponent digit count can only grow at the extremes.  So the
        # widest string is among the largest/smallest magnitude of each sign.
        cand = []
        v64 = vals.astype(np.float64)
        pos = v64[v64 > 0]
        neg = v64[v64 < 0]
        for group in (pos, neg):
            if group.size:
                cand.append(float(group.max()))
                cand.append(float(group.min()))
        p = self.precision
        if self.sci_mode:
            spec, extra = "." + str(p) + "e", 0
        elif self.int_mode:
            spec, extra = ".0f", 1  # room for the trailing "."
        else:
            spec, extra = "." + str(p) + "f", 0
        self.max_width = max(1, max(len(format(v, spec)) + extra for v in cand))

    def format(self, value):
        """Format one Python scalar (float / int / bool), right-aligned to the column width."""
        if self.floating:
            if self.sci_mode:
                ret = format(value, ">%d.%de" % (self.max_width, self.precision))
            elif self.int_mode:
                ret = format(value, ".0f")
                if not (math.isinf(value) or math.isnan(value)):
                    ret += "."
            else:
                ret = format(value, ".%df" % self.precision)
        else:
            ret = str(value)
        pad = self.max_width - len(ret)
        return " " * pad + ret if pad > 0 else ret


# ----------------------------------------------------------------------------------------------
# layout

def _summarized(arr, edgeitems):
    """The elements torch's ``get_summarized_data`` keeps (used only to build the formatter)."""
    if arr.ndim == 0:
        return arr
    if arr.ndim == 1:
        n = arr.shape[0]
        if n > 2 * edgeitems:
            if edgeitems == 0:
                return arr[:0]  # torch keeps everything here, but prints only "..." anyway
            return np.concatenate((arr[:edgeitems], arr[-edgeitems:]))
        return arr
    if not edgeitems:
        return arr[(slice(0, 0),) * arr.ndim]
    index = []
    for n in arr.shape:
        if n > 2 * edgeitems:
            index.append(np.r_[0:edgeitems, n - edgeitems:n])
        else:
            index.append(np.arange(n))
    return arr[np.ix_(*index)]


def _to_py(arr, floating):
    """Python scalars, floats widened to float64 exactly as torch's ``tolist()`` does."""
    if floating and arr.dtype != np.float64:
        arr = arr.astype(np.float64)
    return arr.tolist()


def _vector_str(arr, indent, summarize, fmt, floating):
    opts = PRINT_OPTS
    element_length = fmt.max_width + 2
    per_line = max(1, math.floor((opts.linewidth - indent) / element_length))
    e = opts.edgeitems
    if summarize and not e:
        data = ["..."]
    elif summarize and arr.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in _to_py(arr[:e], floating)] + [" ..."]
                + [fmt.format(v) for v in _to_py(arr[-e:], floating)])
    else:
        data = [fmt.format(v) for v in _to_py(arr, floating)]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _nd_str(arr, indent, summarize, fmt, floating):
    ndim = arr.ndim
    if ndim == 0:
        return fmt.format(_to_py(arr, floating))
    if ndim == 1:
        return _vector_str(arr, indent, summarize, fmt, floating)
    e = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    if summarize and n > 2 * e:
        slices = ([_nd_str(arr[i], indent + 1, summarize, fmt, floating) for i in range(e)]
                  + ["..."]
                  + [_nd_str(arr[i], indent + 1, summarize, fmt, floating) for i in range(n - e, n)])
    else:
        slices = [_nd_str(arr[i], indent + 1, summarize, fmt, floating) for i in range(n)]
    return "[" + ("," + "\n" * (ndim - 1) + " " * (indent + 1)).join(slices) + "]"


def _contents_str(arr, indent, floating):
    """torch's ``_tensor_str`` for a non-empty dense tensor."""
    if arr.size == 0:
        return "[]"
    summarize = arr.size > PRINT_OPTS.threshold
    fmt = _Formatter(_summarized(arr, PRINT_OPTS.edgeitems) if summarize else arr, floating)
    return _nd_str(arr, indent, summarize, fmt, floating)


def _add_suffixes(text, suffixes, indent):
    """Append ``(suffix, torch_length)`` pairs, wrapping like torch's ``_add_suffixes``."""
    linewidth = PRINT_OPTS.linewidth
    parts = [text]
    # (torch's count: the last line's length plus 2)
    last_line_len = len(text) - text.rfind("\n") + 1
    for suffix, suffix_len in suffixes:
        if last_line_len + suffix_len + 2 > linewidth:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + suffix_len
        else:
            parts.append(", " + suffix)
            last_line_len += suffix_len + 2
    parts.append(")")
    return "".join(parts)


_OWN_PREFIX = "pyautodiff."
_TORCH_PREFIX = "torch."


def _dtype_suffix(dt):
    s = "dtype=" + str(dt)
    n = len(s)
    # torch spells it "torch.<name>"; lay the line out as torch would
    if str(dt).startswith(_OWN_PREFIX):
        n += len(_TORCH_PREFIX) - len(_OWN_PREFIX)
    return (s, n)


def _plain(s):
    return (s, len(s))


def tensor_repr(t, prefix="tensor(", tensor_contents=None):
    """Exactly ``repr(torch_tensor)`` (with ``torch.`` spelled ``pyautodiff.``) for ``t``.

    ``t`` needs ``_data`` (ndarray), ``dtype`` (a ``pyautodiff.dtype``), ``requires_grad`` and
    ``grad_fn``.  ``prefix`` is what opens the repr (its length is the continuation indent);
    ``nn.Parameter`` uses the same ``"tensor("`` prefix after its ``"Parameter containing:\\n"``
    line.  ``tensor_contents`` replaces the bracketed values, as torch's ``Tensor.__repr__``.
    """
    arr = np.asarray(t._data)
    dt = t.dtype
    floating = bool(dt.is_floating_point)
    indent = len(prefix)
    suffixes = []
    default = _dt.get_default_dtype()

    if arr.size == 0:
        if arr.ndim != 1:
            suffixes.append(_plain("size=" + str(tuple(arr.shape))))
        # no elements to tell an integer tensor apart: anything but the default dtype is shown
        if dt != default:
            suffixes.append(_dtype_suffix(dt))
        body = "[]" if tensor_contents is None else tensor_contents
    else:
        if not PRINT_OPTS.edgeitems:
            suffixes.append(_plain("size=" + str(tuple(arr.shape))))
        if not (dt == default or dt == _dt.int64 or dt == _dt.bool_):
            suffixes.append(_dtype_suffix(dt))
        body = _contents_str(arr, indent, floating) if tensor_contents is None else tensor_contents

    grad_fn = getattr(t, "grad_fn", None)
    if grad_fn is not None:
        suffixes.append(_plain("grad_fn=<%s>" % type(grad_fn).__name__))
    elif getattr(t, "requires_grad", False):
        suffixes.append(_plain("requires_grad=True"))

    return _add_suffixes(prefix + body, suffixes, indent)
