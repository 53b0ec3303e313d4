"""torch.return_types: the named (values, indices) pairs that max/min/sort/... return."""


class _StructSeq(tuple):
    """torch.return_types.* : a named pair (values, indices) printing as torch does."""
    __slots__ = ()
    _fields = ("values", "indices")
    n_fields = 2
    n_sequence_fields = 2
    n_unnamed_fields = 0

    def __new__(cls, values, indices=None):
        if indices is None:  # called with a single sequence, as torch's structseq allows
            values, indices = values
        return tuple.__new__(cls, (values, indices))

    @property
    def values(self):
        return self[0]

    @property
    def indices(self):
        return self[1]

    def __repr__(self):
        return f"pyautodiff.return_types.{type(self).__name__}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    def __reduce__(self):
        return (type(self), (tuple(self),))


for _n in ("max", "min", "sort", "topk", "kthvalue", "mode", "median", "nanmedian", "cummax", "cummin",
           "aminmax"):
    _cls = type(_n, (_StructSeq,), {"__slots__": (), "__module__": "pyautodiff.return_types"})
    globals()[_n] = _cls
del _n, _cls
