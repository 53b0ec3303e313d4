"""Fusion of elementwise chains on large tensors.

Why: `3 * (x + 1) ** 2` followed by `.mean()` makes one pass over memory per op when every op
writes a fresh array; on large tensors memory traffic is the whole cost.  For float tensors of at
least FUSE_MIN elements, the elementwise ops (and their backward formulas) return a `Lazy` chain
instead of an array; the chain is evaluated by the fused kernel (csrc/_fused.pyx) block by block,
in cache, when something needs the values: a reduction reads its inputs once and writes nothing,
and a gradient is computed straight into `.grad` in one pass.  Each fused instruction does exactly
the arithmetic of its one-op kernel, in the same dtype, so results are bit-identical to unfused
evaluation.

Values must not change behind a pending chain's back, so:
- anything that writes tensor memory in place first evaluates all pending chains (`flush_pending`):
  in-place tensor ops, optimizer steps, nn.init, gradient accumulation into an existing .grad;
- memory the user can write directly (`from_numpy`, `.numpy()`, `np.asarray(t)`) is marked
  exported and never read lazily (`export`).
Small tensors never take this path: their cost is Python overhead, not memory traffic.
"""
import weakref

import numpy as np

from .._C import F, K as _K

FUSE_MIN = 1 << 16      # elements; below this, fusion saves nothing worth its bookkeeping
_MAX_NODES = 24          # longer chains are cut (an operand is evaluated first): registers are few

_ndarray = np.ndarray
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_DTNUM = {_F32: _F32.num, _F64: _F64.num}

SUM = -1                # pseudo-opcodes of pending full reductions (never inside a program)
MEAN = -2
_SUMS_IN_RUN = "sums" in (F.run.__doc__ or "")  # the kernel can sum extra registers in a pass

_PENDING = weakref.WeakSet()            # chains not evaluated yet
_EXPORTED = weakref.WeakValueDictionary()  # id(root ndarray) -> root ndarray the user may write
_READ = weakref.WeakValueDictionary()      # id(root ndarray) -> root ndarray a chain reads


class Lazy:
    """A pending elementwise op over ndarrays / Lazy chains / size-1 (scalar) arrays."""
    __slots__ = ("op", "a", "b", "c", "shape", "dtype", "size", "nodes", "_value", "unread",
                 "__weakref__")

    def __init__(self, op, a, b, c, shape, dtype, size, nodes):
        self.op = op
        self.a = a
        self.b = b
        self.c = c
        self.shape = shape
        self.dtype = dtype
        self.size = size
        self.nodes = nodes
        self._value = None
        self.unread = False  # a pending reduction no one can read any more: see mark_unread
        _PENDING.add(self)

    @property
    def ndim(self):
        return len(self.shape)

    def materialize(self, fresh=False):
        """The values as an ndarray.  Cached, unless fresh=True: then a new buffer no one else
        holds (it becomes a .grad) and the chain stays as it is."""
        v = self._value
        if v is not None:
            return v.copy() if fresh else v
        if self.op < 0:
            return self._reduce()
        sums = _pending_reductions_over(self) if fresh else ()
        prog, inputs, regs = _compile(self, [r.a for r in sums])
        if sums:  # pending sums over the same inputs ride along in this pass
            out, totals = F.run(prog, inputs, self.size, _DTNUM[self.dtype], sums=tuple(regs))
            for r, total in zip(sums, totals):
                r._finish(total)
        else:
            out = F.run(prog, inputs, self.size, _DTNUM[self.dtype])
        out = out.reshape(self.shape)
        if not fresh:
            self._value = out
            self.a = self.b = None  # the inputs can go
            _PENDING.discard(self)
        return out

    def accumulate_into(self, out):
        """out += self, in one fused pass (out: the existing .grad buffer)."""
        if self._value is None and out.flags.c_contiguous and out.flags.writeable \
                and out.dtype == self.dtype:
            prog, inputs, _ = _compile(self)
            F.run(prog, inputs, self.size, _DTNUM[self.dtype], out.reshape(-1), accumulate=True)
        else:
            np.add(out, self.materialize(), out=out, casting="unsafe")

    def sum(self):
        """The sum of the chain's values, read in one pass, nothing written."""
        if self._value is not None:
            return _K.sum(self._value)
        prog, inputs, _ = _compile(self)
        return F.run(prog, inputs, self.size, _DTNUM[self.dtype], reduce=1)

    # --- pending reductions (op SUM / MEAN: a 0-d Lazy over the chain in `a`) -----------------
    def _reduce(self):
        chain = self.a
        self._finish(chain.sum() if type(chain) is Lazy else _K.sum(chain))
        return self._value

    def _finish(self, total):
        """Store the value from the double sum `total`, as K.sum / K.mean compute it."""
        if self.op == MEAN:
            total = total / self.a.size
        self._value = np.asarray(total, dtype=self.dtype)
        self.a = None
        _PENDING.discard(self)

    def __array__(self, dtype=None, copy=None):
        v = self.materialize()
        return v if dtype is None else v.astype(dtype)

    # the engine sums the gradients of shared subexpressions with `+`
    def __add__(self, other):
        r = binary(F.ADD, self, other)
        return r if r is not None else np.add(self.materialize(), materialize(other))

    def __radd__(self, other):
        r = binary(F.ADD, other, self)
        return r if r is not None else np.add(materialize(other), self.materialize())


def reduction(op, chain):
    """A pending full SUM or MEAN of a Lazy chain: a 0-d Lazy.  Evaluated when its value is
    needed, or, for free, in the same pass that computes a gradient chain over the same inputs
    (`y.mean().backward()` then reads x once instead of twice)."""
    return Lazy(op, chain, None, 0.0, (), chain.dtype, 1, 1)


def mark_unread(lz):
    """The pending reduction `lz` belongs to a temporary tensor (`y.mean().backward()`): once the
    statement ends its value is unreachable, so a gradient pass need not compute it on the side.
    It is still computed if something reads it meanwhile (a hook, a flush): only the free ride
    is dropped.  Like numpy's elision of temporaries, the caller decides by reference count."""
    lz.unread = True


def materialize(x):
    return x.materialize() if type(x) is Lazy else x


def flush_pending():
    """Evaluate every pending chain (before memory they may read is written in place)."""
    if _PENDING:
        for lz in list(_PENDING):
            lz.materialize()


def flush_reading(arr):
    """Evaluate the pending chains if any of them may read `arr`'s memory (about to change)."""
    if _PENDING and type(arr) is _ndarray:
        root = arr
        while type(root.base) is _ndarray:
            root = root.base
        if _READ.get(id(root)) is root:
            flush_pending()


def export(arr):
    """Mark the memory of `arr` as writable by the user: it is never read lazily from now on."""
    root = arr
    while type(root.base) is _ndarray:
        root = root.base
    _EXPORTED[id(root)] = root
    flush_pending()


def _readable(arr):
    """May a chain read `arr` lazily?  (Not if the user can write its memory directly.)
    Records that a chain reads it, for flush_reading."""
    root = arr
    while type(root.base) is _ndarray:
        root = root.base
    k = id(root)
    if _EXPORTED.get(k) is root:
        return False
    _READ[k] = root
    return True


def _operand(x, shape, dtype):
    """x as a fusable operand of a chain of `shape`/`dtype`, or None."""
    t = type(x)
    if t is Lazy:
        return x if x.shape == shape and x.dtype is dtype else None
    if t is _ndarray and x.dtype is dtype:
        if x.shape == shape:
            if x.flags.c_contiguous:
                return x if _readable(x) else None
            if not any(x.strides):  # a broadcast scalar (e.g. the gradient of a mean)
                return np.array(x[(0,) * x.ndim], dtype=dtype).reshape(1)
        elif x.size == 1:
            return None  # broadcasting changes the shape: not an elementwise chain of `shape`
    return None


def _nodes(x):
    return x.nodes if type(x) is Lazy else 0


def unary(op, a, c=0.0):
    """A Lazy `op(a, c)`, or None when `a` is not worth / not able to be fused."""
    if a.size < FUSE_MIN:
        return None
    dt = a.dtype
    if dt is not _F32 and dt is not _F64:
        return None
    x = _operand(a, a.shape, dt)
    if x is None:
        return None
    n = _nodes(x) + 1
    if n > _MAX_NODES:
        x = x.materialize()
        n = 1
    return Lazy(op, x, None, float(c), a.shape, dt, a.size, n)


def binary(op, a, b, c=0.0):
    """A Lazy `op(a, b, c)` for operands of one shape and dtype, or None."""
    if type(a) is Lazy or type(a) is _ndarray:
        ref = a
    else:
        return None
    if ref.size < FUSE_MIN:
        return None
    dt = ref.dtype
    if dt is not _F32 and dt is not _F64:
        return None
    shape = ref.shape
    x = _operand(a, shape, dt)
    if x is None:
        return None
    y = _operand(b, shape, dt)
    if y is None:
        return None
    n = _nodes(x) + _nodes(y) + 1
    if n > _MAX_NODES:
        if _nodes(x) >= _nodes(y):
            x = x.materialize()
        else:
            y = y.materialize()
        n = _nodes(x) + _nodes(y) + 1
    return Lazy(op, x, y, float(c), shape, dt, ref.size, n)


def _compile(root, extra=()):
    """The fused kernel's program for `root` (its value is the last instruction's register):
    instructions in dependency order, registers reused once their last reader has run.  `extra`:
    more chains evaluated in the same pass whose registers stay live to the end (their sums are
    taken by the kernel); returns (program, inputs, registers of the extra chains)."""
    # post-order of the pending nodes (iterative), counting readers of each node
    order = []
    uses = {}
    stack = [(root, False)] + [(r, False) for r in extra]
    seen = set()
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for ch in (node.a, node.b):
            if type(ch) is Lazy and ch._value is None:
                uses[id(ch)] = uses.get(id(ch), 0) + 1
                if id(ch) not in seen:
                    stack.append((ch, False))
    for r in extra:  # pinned: never released
        uses[id(r)] = uses.get(id(r), 0) + 1
    inputs = []
    input_ref = {}
    reg_of = {}
    free = list(range(F.NREGS - 1, -1, -1))
    prog = []

    def ref(x):
        if type(x) is Lazy:
            if x._value is None:
                return reg_of[id(x)]
            x = x._value
        r = input_ref.get(id(x))
        if r is None:
            inputs.append(x)
            r = input_ref[id(x)] = -len(inputs)
        return r

    def release(x):
        if type(x) is Lazy and x._value is None:
            k = id(x)
            uses[k] -= 1
            if uses[k] == 0:
                free.append(reg_of[k])

    for node in order:
        a = ref(node.a)
        b = 0 if node.b is None else ref(node.b)
        release(node.a)
        if node.b is not None:
            release(node.b)
        dst = free.pop()
        reg_of[id(node)] = dst
        prog.append((node.op, dst, a, b, node.c))
    if prog[-1][1] != reg_of[id(root)] or order[-1] is not root:
        prog.append((F.COPY, free.pop(), reg_of[id(root)], 0, 0.0))  # the result comes last
    return tuple(prog), tuple(inputs), [reg_of[id(r)] for r in extra]


def _leaves(root):
    """ids of the arrays a pending chain reads."""
    out = set()
    stack = [root]
    seen = set()
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        for ch in (n.a, n.b):
            if type(ch) is Lazy:
                if ch._value is None:
                    stack.append(ch)
                else:
                    out.add(id(ch._value))
            elif type(ch) is _ndarray:
                out.add(id(ch))
    return out


def _pending_reductions_over(chain):
    """Pending sums/means (not evaluated yet) of chains that read some of the same arrays as
    `chain`: evaluated in the same pass as `chain` costs no extra read of memory."""
    if not _PENDING or not _SUMS_IN_RUN:
        return []
    found = []
    mine = None
    for lz in list(_PENDING):
        if lz.op < 0 and lz._value is None and not lz.unread:
            c = lz.a
            if type(c) is Lazy and c._value is None and c.size == chain.size and c.dtype is chain.dtype:
                if mine is None:
                    mine = _leaves(chain)
                if mine & _leaves(c):
                    found.append(lz)
                    if len(found) == 4:
                        break
    return found
