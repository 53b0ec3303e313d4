"""Tests of the fused, blocked evaluator (pyautodiff._fused) against pyautodiff._kernels.

The oracle runs the same program one op at a time on whole arrays with the _kernels functions
(each register a fresh full-size array, scalar inputs materialized with np.full); the fused
result must be the same bits (nan positions included, the sign of zeros included), and its
reductions must equal _kernels.sum of the materialized result exactly.  EXP / LOG have no
_kernels counterpart: they run numpy's own exp / log loops (F.EXP_LOG_FROM_NUMPY), so the
oracle is np.exp / np.log, bit for bit; should the module have fallen back to libm's, the
oracle applies them as a one-instruction fused program (the chain test then checks fusion,
not libm) and a separate test bounds them to 1 ulp.
"""
import math
import re
import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from pyautodiff import _fused as F
from pyautodiff import _kernels as K

F32, F64 = np.float32, np.float64
NUM = {F32: 11, F64: 12}
NAN, INF = float("nan"), float("inf")
BLOCK = F.BLOCK

SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

ALL_OPS = sorted(F.OPCODES.values())
UNARY = [op for op in ALL_OPS if F.ARITY[F.OPNAMES[op]] == 1]
BINARY = [op for op in ALL_OPS if F.ARITY[F.OPNAMES[op]] == 2]

# constants: the pow fast paths, near misses (2.0000000001 is 2.0f in float32 but not a fast
# path), values not representable in float32 and ones that overflow / underflow it
CONSTS = [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, -0.5, 1.5, -3.0, 0.3, 2.5, 7.0, -1.7,
          0.1, 1.0 / 3.0, 2.0000000001, 1e30, 1e-50, -0.0, NAN, INF]
BASES = [2.0, 0.5, 10.0, 1.0, 3.7, math.e, 0.0, -2.0, 2.0000000001]

# sizes: odd small sizes, block edges, several blocks, the GIL-release threshold
SIZES = st.one_of(st.integers(1, 5000),
                  st.sampled_from([0, 1, 7, 8, 127, 128, 129, BLOCK - 1, BLOCK, BLOCK + 1,
                                   2 * BLOCK + 8, F.NOGIL_MIN_SIZE, 3 * BLOCK + 5, 20011]))


# --------------------------------------------------------------------------------------------
# data and oracle
# --------------------------------------------------------------------------------------------

def values(rng, n, dt, special=0.08):
    """magnitudes e^U(-3, 3) (chains of a few ops stay mostly finite), both signs, a mix of
    small integers (exact pow paths, relu edges), and some nan / +-inf / +-0.0"""
    x = np.exp(rng.uniform(-3, 3, n)) * rng.choice([-1.0, 1.0], n)
    x = np.where(rng.random(n) < 0.15, rng.integers(-2, 3, n).astype(float), x)
    if special and n:
        mask = rng.random(n) < special
        x[mask] = rng.choice([NAN, INF, -INF, 0.0, -0.0], int(mask.sum()))
    return np.ascontiguousarray(x, dtype=dt)


def make_inputs(rng, n, dt, scalar_flags):
    ins = []
    for sc in scalar_flags:
        if sc:
            shape = [(), (1,), (1, 1)][rng.integers(3)]
            ins.append(values(rng, 1, dt, special=0.15).reshape(shape))
        else:
            ins.append(values(rng, n, dt))
    return tuple(ins)


def _one(op, a, dt):
    """EXP / LOG one op at a time: numpy's (or a one-instruction fused program, if the module
    had to fall back to libm)"""
    if F.EXP_LOG_FROM_NUMPY:
        return (np.exp if op == F.EXP else np.log)(a)
    return F.run(((op, 0, -1, 0, 0.0),), (a,), a.size, NUM[dt])


def ref_op(op, a, b, y, c, dt):
    """One instruction on whole arrays with the _kernels function it must match."""
    if op == F.COPY:
        return a.copy()
    if op == F.ADD:
        return K.add(a, b)
    if op == F.SUB:
        return K.sub(a, b)
    if op == F.MUL:
        return K.mul(a, b)
    if op == F.DIV:
        return K.div(a, b)
    if op == F.POW:
        return K.pow(a, b)
    if op == F.ADD_C:
        return K.add_scalar(a, c)
    if op == F.MUL_C:
        return K.mul_scalar(a, c)
    if op == F.RSUB_C:
        return K.rsub_scalar(a, c)
    if op == F.DIV_C:
        return K.div_scalar(a, c)
    if op == F.RDIV_C:
        return K.rdiv_scalar(a, c)
    if op == F.NEG:
        return K.neg(a)
    if op == F.POW_C:
        return K.pow_scalar(a, c)
    if op == F.RPOW_C:
        return K.rpow_scalar(c, a)
    if op == F.RELU:
        return K.relu(a)
    if op == F.RELU_BW:
        return K.relu_backward(a, b)
    if op == F.POW_C_BW:
        return K.pow_scalar_backward(a, b, c)
    if op == F.RDIV_C_BW:
        return K.rdiv_scalar_backward(a, b, c)
    if op == F.DIV_BW_B:
        return K.div_backward_b(a, b, y)
    if op in (F.EXP, F.LOG):
        return _one(op, a, dt)
    raise AssertionError(op)  # pragma: no cover


def ref_run(program, inputs, n, dt):
    """The program one op at a time (every register a fresh full array)."""
    regs = {}

    def operand(r):
        if r >= 0:
            return regs[r]
        x = inputs[-r - 1]
        return np.full(n, x.reshape(-1)[0], dt) if x.size != n else x.reshape(-1)

    with np.errstate(all="ignore"):
        for op, dst, a, b, c in program:
            arity = F.ARITY[F.OPNAMES[op]]
            regs[dst] = ref_op(op, operand(a), operand(b) if arity >= 2 else None,
                               operand(int(c)) if arity == 3 else None, c, dt)
    return regs[program[-1][1]]


def assert_same_bits(got, want):
    """Equal values, nan at the same places, and the same bits wherever not nan (so -0.0 is
    not 0.0); nan payloads are not compared."""
    assert got.dtype == want.dtype and got.size == want.size
    got, want = got.reshape(-1), want.reshape(-1)
    np.testing.assert_array_equal(got, want)
    ok = ~np.isnan(want)
    it = np.uint32 if got.dtype == F32 else np.uint64
    bad = np.flatnonzero(got.view(it)[ok] != want.view(it)[ok])
    assert bad.size == 0, f"bits differ at {np.flatnonzero(ok)[bad][:5]}"


def assert_same_sum(got, want):
    assert isinstance(got, float)
    if math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want, (got, want)


# --------------------------------------------------------------------------------------------
# random programs
# --------------------------------------------------------------------------------------------

@st.composite
def cases(draw, max_len=8):
    dt = draw(st.sampled_from([F32, F64]))
    n = draw(SIZES)
    nin = draw(st.integers(1, 3))
    scalar = [draw(st.integers(0, 3)) == 0 for _ in range(nin)]
    seed = draw(st.integers(0, 2**32 - 1))
    written = []
    program = []
    for _ in range(draw(st.integers(1, max_len))):
        op = draw(st.sampled_from(ALL_OPS))
        refs = st.sampled_from([-j - 1 for j in range(nin)] + written)
        a, b, y = draw(refs), draw(refs), draw(refs)
        name = F.OPNAMES[op]
        if F.ARITY[name] == 3:
            c = float(y)
        elif op == F.RPOW_C:
            c = draw(st.sampled_from(BASES))
        elif F.USES_C[name]:
            c = draw(st.sampled_from(CONSTS))
        else:
            c = 0.0
        dst = draw(st.integers(0, 5))
        program.append((op, dst, a, b, c))
        if dst not in written:
            written.append(dst)
    return dt, n, scalar, seed, tuple(program)


@SETTINGS
@given(cases())
def test_random_programs_equal_ops_one_by_one(case):
    dt, n, scalar, seed, program = case
    rng = np.random.default_rng(seed)
    inputs = make_inputs(rng, n, dt, scalar)
    want = ref_run(program, inputs, n, dt)
    num = NUM[dt]

    got = F.run(program, inputs, n, num)                       # out allocated
    assert got.shape == (n,) and got.flags.c_contiguous
    assert_same_bits(got, want)

    assert_same_sum(F.run(program, inputs, n, num, reduce=1), K.sum(want))

    out = np.full(n, 7.0, dt)
    res, total = F.run(program, inputs, n, num, out=out, reduce=2)
    assert res is out
    assert_same_bits(out, want)
    assert_same_sum(total, K.sum(want))


@SETTINGS
@given(cases(max_len=5))
def test_random_programs_accumulate_and_alias(case):
    dt, n, scalar, seed, program = case
    rng = np.random.default_rng(seed)
    inputs = make_inputs(rng, n, dt, scalar)
    want = ref_run(program, inputs, n, dt)
    num = NUM[dt]

    base = values(rng, n, dt)
    acc = base.copy()
    assert F.run(program, inputs, n, num, out=acc, accumulate=True) is acc
    assert_same_bits(acc, K.add(base, want))
    acc = base.copy()
    _, total = F.run(program, inputs, n, num, out=acc, accumulate=True, reduce=2)
    assert_same_bits(acc, K.add(base, want))
    assert_same_sum(total, K.sum(want))           # the sum is of the result, not of out

    # out is one of the (array) inputs: every block reads before it writes
    for j, x in enumerate(inputs):
        if x.size == n and n > 1:
            mine = tuple(v.copy() for v in inputs)
            target = mine[j]
            assert F.run(program, mine, n, num, out=target) is target
            assert_same_bits(target, want)
            mine = tuple(v.copy() for v in inputs)
            F.run(program, mine, n, num, out=mine[j], accumulate=True)
            assert_same_bits(mine[j], K.add(inputs[j].reshape(-1), want))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases(max_len=5), st.one_of(st.integers(F.MIN_BLOCK, BLOCK),
                                   st.sampled_from([F.MIN_BLOCK, F.MIN_BLOCK + 1, BLOCK])))
def test_results_do_not_depend_on_the_block_size(case, block):
    dt, n, scalar, seed, program = case
    rng = np.random.default_rng(seed)
    inputs = make_inputs(rng, n, dt, scalar)
    want = ref_run(program, inputs, n, dt)
    got, total = F.run(program, inputs, n, NUM[dt], reduce=2, block=block)
    assert_same_bits(got, want)
    assert_same_sum(total, K.sum(want))


# --------------------------------------------------------------------------------------------
# every opcode, every constant, deterministic
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("n", [1, 13, 129, BLOCK + 3, 3 * BLOCK + 17])
def test_each_opcode_alone_and_with_scalar_operands(dt, n):
    rng = np.random.default_rng(n)
    x, z, w = values(rng, n, dt), values(rng, n, dt), values(rng, n, dt)
    s = np.array(values(rng, 1, dt, special=0)[0])          # 0-d scalar input
    num = NUM[dt]
    for op in ALL_OPS:
        name = F.OPNAMES[op]
        pool = BASES if op == F.RPOW_C else CONSTS if F.USES_C[name] else [0.0]
        for c in pool:
            # all-array operands, then the second operand a scalar input, then the first
            for ins, refs in (((x, z, w), (-1, -2, -3)), ((x, s, w), (-1, -2, -3)),
                              ((s, x, w), (-1, -2, -3))):
                cc = float(refs[2]) if F.ARITY[name] == 3 else c
                prog = ((op, 3, refs[0], refs[1], cc),)
                want = ref_run(prog, ins, n, dt)
                assert_same_bits(F.run(prog, ins, n, num), want)
                assert_same_sum(F.run(prog, ins, n, num, reduce=1), K.sum(want))
                if F.ARITY[name] == 1:
                    break


def ulps_apart(a, b):
    """|a - b| in units in the last place (same dtype, finite values)."""
    it, sign = (np.int32, np.int64(0x7FFFFFFF)) if a.dtype == F32 else (np.int64, None)
    def ordered(v):
        i = v.view(it).astype(np.int64)
        mag = i & (0x7FFFFFFF if a.dtype == F32 else 0x7FFFFFFFFFFFFFFF)
        return np.where(i < 0, -mag, mag)
    return np.abs(ordered(a) - ordered(b))


def test_exp_log_are_numpys():
    assert F.EXP_LOG_FROM_NUMPY        # numpy's loops were found and reproduce np.exp / np.log


@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("block", [0, 128, 1000])
def test_exp_log_bit_identical_to_numpy(dt, block):
    if not F.EXP_LOG_FROM_NUMPY:
        pytest.skip("libm fallback")
    rng = np.random.default_rng(block)
    n = 5 * BLOCK + 3
    x = values(rng, n, dt) * rng.uniform(0, 30, n).astype(dt)
    for op, fn in ((F.EXP, np.exp), (F.LOG, np.log)):
        with np.errstate(all="ignore"):
            want = fn(x)
            got = F.run(((op, 0, -1, 0, 0.0),), (x,), n, NUM[dt], block=block)
            chain = F.run(((F.MUL_C, 1, -1, 0, 0.5), (op, 1, 1, 0, 0.0), (F.ADD_C, 2, 1, 0, 1.0)),
                          (x,), n, NUM[dt], block=block)
            want_chain = K.add_scalar(fn(K.mul_scalar(x, 0.5)), 1.0)
        assert_same_bits(got, want)
        assert_same_bits(chain, want_chain)
        y = x.copy()
        F.run(((op, 0, -1, 0, 0.0),), (y,), n, NUM[dt], out=y, block=block)   # in place
        assert_same_bits(y, want)


@pytest.fixture(params=["numpy", "libm"])
def exp_log_source(request):
    if request.param == "libm":
        assert F._use_numpy_exp_log(False) is False
    try:
        yield request.param
    finally:
        assert F._use_numpy_exp_log() is True


@pytest.mark.parametrize("dt", [F32, F64])
def test_exp_log_within_one_ulp(dt, exp_log_source):
    """within 1 ulp of the float64 function rounded to the dtype: holds for numpy's loops and
    for the libm fallback (numpy's float32 SIMD exp / log may be ~2-3 ulp off: float32 then
    checks only the nan / inf pattern and 4 ulp)"""
    rng = np.random.default_rng(5)
    n = 3 * BLOCK + 7
    lim = 90 if dt is F32 else 710
    x = np.concatenate([rng.uniform(-lim, lim, n),
                        [0.0, -0.0, 1.0, -1.0, NAN, INF, -INF, 1e-45, 88.7, 89.0, -104.0]])
    x = x.astype(dt)
    y = np.exp(rng.uniform(-80, 80, n)).astype(dt)
    y = np.concatenate([y, np.array([0.0, -0.0, 1.0, -1.0, NAN, INF, -INF, 1e-45, 1e-40], dt)])
    with np.errstate(all="ignore"):
        for op, fn, a in ((F.EXP, np.exp, x), (F.LOG, np.log, y)):
            got = F.run(((op, 0, -1, 0, 0.0),), (a,), a.size, NUM[dt])
            want = fn(a.astype(F64)).astype(dt)
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
            fin = np.isfinite(want)
            np.testing.assert_array_equal(got[~fin], want[~fin])
            d = ulps_apart(got[fin], want[fin])
            tol = 4 if (exp_log_source == "numpy" and dt is F32) else 1
            assert d.max() <= tol, (fn, a[fin][d > tol][:5], got[fin][d > tol][:5])


# --------------------------------------------------------------------------------------------
# the motivating chains, large sizes, scalars, special shapes
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("n", [65536 + 7, 300001])
def test_forward_and_backward_chain_large(dt, n):
    rng = np.random.default_rng(1)
    x = values(rng, n, dt, special=0.001)
    num = NUM[dt]
    fwd = ((F.ADD_C, 0, -1, 0, 1.0), (F.POW_C, 0, 0, 0, 2.0), (F.MUL_C, 0, 0, 0, 3.0))
    want = K.mul_scalar(K.pow_scalar(K.add_scalar(x, 1.0), 2.0), 3.0)
    assert_same_bits(F.run(fwd, (x,), n, num), want)
    assert_same_sum(F.run(fwd, (x,), n, num, reduce=1), K.sum(want))
    # backward of mean(3 * (x + 1) ** 2): g = 1/n a scalar input
    g = np.array(1.0 / n, dt)
    bwd = ((F.ADD_C, 0, -1, 0, 1.0), (F.MUL_C, 1, -2, 0, 3.0), (F.POW_C_BW, 0, 1, 0, 2.0))
    want_g = K.pow_scalar_backward(K.scale(np.full(n, g, dt), 3.0), K.add_scalar(x, 1.0), 2.0)
    out = np.empty(n, dt)
    F.run(bwd, (x, g), n, num, out=out)
    assert_same_bits(out, want_g)
    grad = np.ones(n, dt)
    F.run(bwd, (x, g), n, num, out=grad, accumulate=True)
    assert_same_bits(grad, K.add(np.ones(n, dt), want_g))


@pytest.mark.parametrize("dt", [F32, F64])
def test_sum_equals_kernels_sum_for_every_small_size(dt):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(4 * BLOCK + 50) * np.exp(rng.uniform(-20, 20, 4 * BLOCK + 50)))
    x = x.astype(dt)
    prog = ((F.COPY, 0, -1, 0, 0.0),)
    for n in list(range(0, 300)) + list(range(BLOCK - 20, BLOCK + 20)) + [4 * BLOCK + 50]:
        a = x[:n]
        assert_same_sum(F.run(prog, (a,), n, NUM[dt], reduce=1), K.sum(a))


def test_scalar_inputs_and_edge_sizes():
    x = np.arange(5, dtype=F32)
    for s in (np.array(2.0, F32), np.array([2.0], F32), np.array([[2.0]], F32)):
        got = F.run(((F.MUL, 0, -1, -2, 0.0),), (x, s), 5, 11)
        np.testing.assert_array_equal(got, x * 2)
    # only scalar inputs
    got = F.run(((F.ADD, 0, -1, -2, 0.0),), (np.array(1.5), np.array([2.0])), 4, 12)
    np.testing.assert_array_equal(got, np.full(4, 3.5))
    assert F.run(((F.ADD_C, 0, -1, 0, 1.0),), (np.array(1.5),), 3, 12, reduce=1) == 7.5
    # n == 1: a one-element input is both an array and a scalar; out may be it
    one = np.array([3.0])
    F.run(((F.MUL, 0, -1, -1, 0.0),), (one,), 1, 12, out=one)
    assert one[0] == 9.0
    # n == 0
    e = np.empty(0, F64)
    got = F.run(((F.ADD_C, 0, -1, 0, 1.0),), (e,), 0, 12)
    assert got.shape == (0,) and got.dtype == F64
    assert F.run(((F.ADD_C, 0, -1, 0, 1.0),), (e,), 0, 12, reduce=1) == 0.0
    got, total = F.run(((F.MUL, 0, -1, -2, 0.0),), (e, np.array(2.0)), 0, 12, reduce=2)
    assert got.shape == (0,) and total == 0.0
    # shapes are ignored; out keeps its shape
    m = np.arange(12, dtype=F64).reshape(3, 4)
    out = np.empty((4, 3), F64)
    assert F.run(((F.NEG, 0, -1, 0, 0.0),), (m,), 12, 12, out=out) is out
    np.testing.assert_array_equal(out.reshape(-1), -m.reshape(-1))
    # a scalar input that is a view into out: read once, before any write
    big = np.arange(10000, dtype=F64)
    F.run(((F.MUL, 0, -1, -2, 0.0),), (big, big[5:6]), 10000, 12, out=big)
    np.testing.assert_array_equal(big, np.arange(10000.0) * 5.0)


def test_registers_reused_in_place_and_unused_fields_ignored():
    x = np.linspace(-2, 2, 5001)
    prog = ((F.COPY, 5, -1, None, "ignored"),        # unused b / c: anything goes
            (F.ADD_C, 0, 5, "x", 1.0),
            (F.MUL, 0, 0, 0, None),                  # r0 = r0 * r0, in place
            (F.SUB, 31, 0, -1, 0.0),                 # the last register
            (F.NEG, 2, 31, 0, 0.0),
            (F.ADD, 0, 2, 0, 0.0))
    want = -(((x + 1) * (x + 1)) - x) + (x + 1) * (x + 1)
    np.testing.assert_array_equal(F.run(prog, (x,), x.size, 12), want)
    # list program / list inputs / list instructions are accepted too
    got = F.run([[F.ADD_C, 0, -1, 0, 1]], [x], x.size, 12)
    np.testing.assert_array_equal(got, x + 1)


def test_threads_release_the_gil():
    x = np.random.default_rng(3).standard_normal(200_000)
    prog = ((F.ADD_C, 0, -1, 0, 1.0), (F.POW_C, 0, 0, 0, 2.0))
    want = F.run(prog, (x,), x.size, 12, reduce=1)
    res = []
    ts = [threading.Thread(target=lambda: res.extend(
        F.run(prog, (x,), x.size, 12, reduce=1) for _ in range(10))) for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert res == [want] * 30


def test_libm_exp_log_chains_equal_one_by_one(exp_log_source):
    rng = np.random.default_rng(9)
    for dt in (F32, F64):
        n = 2 * BLOCK + 9
        x, s = values(rng, n, dt), np.array(0.25, dt)
        prog = ((F.MUL, 0, -1, -2, 0.0), (F.EXP, 1, 0, 0, 0.0), (F.ADD_C, 1, 1, 0, 1.0),
                (F.LOG, 2, 1, 0, 0.0), (F.SUB, 0, 2, 0, 0.0))
        want = ref_run(prog, (x, s), n, dt)
        got, total = F.run(prog, (x, s), n, NUM[dt], reduce=2, block=300)
        assert_same_bits(got, want)
        assert_same_sum(total, K.sum(want))


def test_module_constants():
    names = ["COPY", "ADD", "SUB", "MUL", "DIV", "POW", "ADD_C", "MUL_C", "RSUB_C", "DIV_C",
             "RDIV_C", "NEG", "POW_C", "RPOW_C", "RELU", "RELU_BW", "POW_C_BW", "DIV_BW_B",
             "EXP", "LOG", "RDIV_C_BW"]
    assert sorted(F.OPCODES) == sorted(names)
    assert len(set(F.OPCODES.values())) == len(names)
    for nm in names:
        assert getattr(F, nm) == F.OPCODES[nm] and F.OPNAMES[F.OPCODES[nm]] == nm
    assert F.NREGS == 32 and F.MIN_BLOCK == 128 and F.BLOCK >= F.MIN_BLOCK
    assert F.NOGIL_MIN_SIZE == K.NOGIL_MIN_SIZE


# --------------------------------------------------------------------------------------------
# validation: clear errors before any loop, never a crash
# --------------------------------------------------------------------------------------------

X = np.arange(10, dtype=F64)
P1 = ((F.ADD_C, 0, -1, 0, 1.0),)


def _unaligned():
    buf = np.zeros(10 * 8 + 1, np.uint8)
    return np.frombuffer(buf.data, dtype=F64, count=10, offset=1)


def _readonly():
    a = np.zeros(10)
    a.flags.writeable = False
    return a


BAD = [
    # (program, inputs, n, dtype_num, kwargs, exception, message fragment)
    (P1, (X,), 10, 7, {}, TypeError, "dtype_num"),
    (P1, (X,), -1, 12, {}, ValueError, "n must be"),
    (P1, (X,), 10, 12, {"reduce": 3}, ValueError, "reduce"),
    (P1, (X,), 10, 12, {"block": 127}, ValueError, "block must be"),
    (P1, (X,), 10, 12, {"block": F.BLOCK + 1}, ValueError, "block must be"),
    (P1, (X,), 10, 12, {"reduce": 1, "out": np.zeros(10)}, ValueError, "out must be None"),
    (P1, (X,), 10, 12, {"reduce": 1, "accumulate": True}, ValueError, "accumulate"),
    (P1, (X,), 10, 12, {"accumulate": True}, ValueError, "accumulate"),
    (P1, X, 10, 12, {}, TypeError, "inputs must be"),
    (P1, ([1.0] * 10,), 10, 12, {}, TypeError, "ndarray"),
    (P1, (X.astype(F32),), 10, 12, {}, TypeError, "dtype float64"),
    (P1, (X,), 10, 11, {}, TypeError, "dtype float32"),
    (P1, (np.arange(10),), 10, 12, {}, TypeError, "dtype"),
    (P1, (X.astype(">f8"),), 10, 12, {}, TypeError, "byte order"),
    (P1, (np.arange(20.0)[::2],), 10, 12, {}, ValueError, "C-contiguous"),
    (P1, (_unaligned(),), 10, 12, {}, ValueError, "aligned"),
    (P1, (X,), 9, 12, {}, ValueError, "elements"),
    (P1, (X,), 10, 12, {"out": np.zeros(9)}, ValueError, "out has 9"),
    (P1, (X,), 10, 12, {"out": np.zeros(1)}, ValueError, "out has 1"),
    (P1, (X,), 10, 12, {"out": np.zeros(10, F32)}, TypeError, "out must have dtype"),
    (P1, (X,), 10, 12, {"out": _readonly()}, ValueError, "read-only"),
    (P1, (X,), 10, 12, {"out": np.zeros(20)[::2]}, ValueError, "C-contiguous"),
    (P1, (X,), 10, 12, {"out": [0.0] * 10}, TypeError, "ndarray"),
    ((), (X,), 10, 12, {}, ValueError, "empty program"),
    ("ADD", (X,), 10, 12, {}, TypeError, "program must be"),
    (((F.ADD_C, 0, -1, 0),), (X,), 10, 12, {}, ValueError, "instruction 0 must be"),
    ((5,), (X,), 10, 12, {}, ValueError, "instruction 0 must be"),
    (((99, 0, -1, 0, 0.0),), (X,), 10, 12, {}, ValueError, "unknown opcode"),
    (((-1, 0, -1, 0, 0.0),), (X,), 10, 12, {}, ValueError, "unknown opcode"),
    (((1.0, 0, -1, -1, 0.0),), (X,), 10, 12, {}, TypeError, "opcode must be an int"),
    (((F.NEG, 32, -1, 0, 0.0),), (X,), 10, 12, {}, ValueError, "dst = 32"),
    (((F.NEG, -1, -1, 0, 0.0),), (X,), 10, 12, {}, ValueError, "dst = -1"),
    (((F.NEG, 0.0, -1, 0, 0.0),), (X,), 10, 12, {}, TypeError, "dst must be an int"),
    (((F.NEG, 0, -2, 0, 0.0),), (X,), 10, 12, {}, ValueError, "there are 1 inputs"),
    (((F.NEG, 0, 32, 0, 0.0),), (X,), 10, 12, {}, ValueError, "not a register"),
    (((F.NEG, 0, -1.0, 0, 0.0),), (X,), 10, 12, {}, TypeError, "operand a must be an int"),
    (((F.NEG, 0, 1, 0, 0.0),), (X,), 10, 12, {}, ValueError, "reads register 1 before"),
    (((F.ADD_C, 0, 0, 0, 1.0),), (X,), 10, 12, {}, ValueError, "reads register 0 before"),
    (((F.NEG, 0, -1, 0, 0.0), (F.ADD, 1, 0, 2, 0.0)), (X,), 10, 12, {}, ValueError,
     "instruction 1 (ADD) reads register 2"),
    (((F.ADD, 1, -1, -3, 0.0),), (X, X), 10, 12, {}, ValueError, "operand b"),
    (((F.ADD_C, 1, -1, 0, "1"),), (X,), 10, 12, {}, TypeError, "c must be a float"),
    (((F.POW_C, 1, -1, 0, None),), (X,), 10, 12, {}, TypeError, "c must be a float"),
    (((F.DIV_BW_B, 0, -1, -1, 0.5),), (X,), 10, 12, {}, ValueError, "integer reference"),
    (((F.DIV_BW_B, 0, -1, -1, NAN),), (X,), 10, 12, {}, ValueError, "integer reference"),
    (((F.DIV_BW_B, 0, -1, -1, -2.0),), (X,), 10, 12, {}, ValueError, "third operand"),
    (((F.DIV_BW_B, 0, -1, -1, 3.0),), (X,), 10, 12, {}, ValueError, "reads register 3"),
]


@pytest.mark.parametrize("program, inputs, n, num, kw, exc, msg", BAD)
def test_validation_errors(program, inputs, n, num, kw, exc, msg):
    out = kw.get("out")
    before = None if not isinstance(out, np.ndarray) else out.copy()
    with pytest.raises(exc, match=re.escape(msg)):
        F.run(program, inputs, n, num, **kw)
    if before is not None:
        np.testing.assert_array_equal(out, before)   # nothing written


def test_out_partially_overlapping_an_input_is_refused():
    buf = np.arange(20.0)
    with pytest.raises(ValueError, match="partially overlaps inputs"):
        F.run(P1, (buf[:10],), 10, 12, out=buf[5:15])
    # the very same memory is fine, and so is a disjoint part of the same buffer
    F.run(P1, (buf[:10],), 10, 12, out=buf[10:])
    np.testing.assert_array_equal(buf[10:], np.arange(10.0) + 1)
    F.run(P1, (buf[:10],), 10, 12, out=buf[:10])
    np.testing.assert_array_equal(buf[:10], np.arange(10.0) + 1)


# --------------------------------------------------------------------------------------------
# sums=: extra registers summed in the same pass
# --------------------------------------------------------------------------------------------

def _last_writes(program):
    """register -> index of the last instruction that writes it"""
    return {ins[1]: k for k, ins in enumerate(program)}


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(cases(), st.data())
def test_sums_equal_separate_reductions(case, data):
    dt, n, scalar, seed, program = case
    rng = np.random.default_rng(seed)
    inputs = make_inputs(rng, n, dt, scalar)
    num = NUM[dt]
    lastw = _last_writes(program)
    regs = sorted(lastw)
    sums = tuple(data.draw(st.lists(st.sampled_from(regs), min_size=1, max_size=6)))
    # each sum: the program cut after the register's last write, reduced on its own -- and
    # _kernels.sum of that register materialized
    want = []
    for r in sums:
        prefix = program[:lastw[r] + 1]
        s = F.run(prefix, inputs, n, num, reduce=1)
        assert_same_sum(s, K.sum(ref_run(prefix, inputs, n, dt)))
        want.append(s)
    result = ref_run(program, inputs, n, dt)
    block = data.draw(st.sampled_from([0, F.MIN_BLOCK, 300, BLOCK]))

    def check(extra):
        assert isinstance(extra, list) and len(extra) == len(sums)
        for got, w in zip(extra, want):
            assert_same_sum(got, w)

    got, extra = F.run(program, inputs, n, num, sums=sums, block=block)
    assert_same_bits(got, result)
    check(extra)
    total, extra = F.run(program, inputs, n, num, reduce=1, sums=list(sums), block=block)
    assert_same_sum(total, K.sum(result))
    check(extra)
    out = np.full(n, 7.0, dt)
    (res, total), extra = F.run(program, inputs, n, num, out=out, reduce=2, sums=sums)
    assert res is out
    assert_same_bits(out, result)
    assert_same_sum(total, K.sum(result))
    check(extra)
    # accumulate: the sums are of the registers, not of out
    base = values(rng, n, dt)
    acc = base.copy()
    res, extra = F.run(program, inputs, n, num, out=acc, accumulate=True, sums=sums)
    assert res is acc
    assert_same_bits(acc, K.add(base, result))
    check(extra)
    # out is one of the (array) inputs
    for j, x in enumerate(inputs):
        if x.size == n and n > 1:
            mine = tuple(v.copy() for v in inputs)
            (res, total), extra = F.run(program, mine, n, num, out=mine[j], reduce=2,
                                        sums=sums, block=block)
            assert res is mine[j]
            assert_same_bits(mine[j], result)
            assert_same_sum(total, K.sum(result))
            check(extra)


@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("n", [0, 1, 7, 129, BLOCK + 1, 3 * BLOCK + 17, 100003])
def test_sums_of_the_forward_chain_and_the_result_register(dt, n):
    """mean(3 * (x + 1) ** 2) and sum(x + 1) in one pass; the result register itself (its
    last instruction writes straight into out) and a register written twice (last write)"""
    rng = np.random.default_rng(n)
    x = values(rng, n, dt, special=0.01)
    num = NUM[dt]
    prog = ((F.ADD_C, 0, -1, 0, 1.0), (F.POW_C, 1, 0, 0, 2.0), (F.MUL_C, 2, 1, 0, 3.0),
            (F.NEG, 2, 2, 0, 0.0))
    x1 = K.add_scalar(x, 1.0)
    y = K.neg(K.mul_scalar(K.pow_scalar(x1, 2.0), 3.0))
    out, (s0, s2, s1, s2b) = F.run(prog, (x,), n, num, sums=(0, 2, 1, 2))
    assert_same_bits(out, y)
    assert_same_sum(s0, K.sum(x1))
    assert_same_sum(s0, F.run(prog[:1], (x,), n, num, reduce=1))
    assert_same_sum(s1, K.sum(K.pow_scalar(x1, 2.0)))
    assert_same_sum(s2, K.sum(y))
    assert s2b == s2 or (math.isnan(s2) and math.isnan(s2b))
    total, (s2,) = F.run(prog, (x,), n, num, reduce=1, sums=(2,))
    assert_same_sum(total, K.sum(y))
    assert_same_sum(s2, K.sum(y))
    # no sums: the usual return values
    assert isinstance(F.run(prog, (x,), n, num, reduce=1, sums=()), float)
    assert isinstance(F.run(prog, (x,), n, num, sums=[]), np.ndarray)


SUMS_BAD = [
    ({"sums": 0}, TypeError, "sums must be a tuple"),
    ({"sums": "0"}, TypeError, "sums must be a tuple"),
    ({"sums": (0.0,)}, TypeError, "register numbers (ints)"),
    ({"sums": (True,)}, TypeError, "register numbers (ints)"),
    ({"sums": (None,)}, TypeError, "register numbers (ints)"),
    ({"sums": (-1,)}, ValueError, "sums: -1 is not a register"),
    ({"sums": (32,)}, ValueError, "sums: 32 is not a register"),
    ({"sums": (1,)}, ValueError, "no instruction writes register 1"),
    ({"sums": (0, 5)}, ValueError, "no instruction writes register 5"),
    ({"sums": (0,), "reduce": 1, "out": np.zeros(10)}, ValueError, "out must be None"),
]


@pytest.mark.parametrize("kw, exc, msg", SUMS_BAD)
def test_sums_validation_errors(kw, exc, msg):
    out = np.full(10, 3.0)
    kw = dict(kw)
    kw.setdefault("out", out)
    with pytest.raises(exc, match=re.escape(msg)):
        F.run(P1, (X,), 10, 12, **kw)
    np.testing.assert_array_equal(out, 3.0)   # nothing written


# --------------------------------------------------------------------------------------------
# pair superinstructions: an instruction read only by the next one, both one-operand ops,
# run as one loop -- the same bits as the two instructions one by one
# --------------------------------------------------------------------------------------------

PAIRABLE = [(F.ADD_C, 1.5), (F.MUL_C, -3.0), (F.RSUB_C, 2.0), (F.DIV_C, 7.0), (F.RDIV_C, 3.0),
            (F.NEG, 0.0), (F.POW_C, 2.0), (F.RELU, 0.0), (F.MUL_C, 0.1), (F.ADD_C, -0.0)]


@pytest.fixture
def pairs_off():
    F._use_pairs(False)
    yield
    F._use_pairs(True)


@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("first", PAIRABLE)
def test_pairs_equal_the_two_ops_one_by_one(dt, first):
    rng = np.random.default_rng(5)
    n = 2 * BLOCK + 13
    x = values(rng, n, dt, special=0.1)
    x[:6] = [NAN, -NAN, INF, -INF, 0.0, -0.0]
    for second in PAIRABLE:
        prog = ((first[0], 3, -1, 0, first[1]), (second[0], 3, 3, 0, second[1]))
        want = ref_run(prog, (x,), n, dt)
        assert_same_bits(F.run(prog, (x,), n, NUM[dt]), want)
        # the intermediate in another register, dead afterwards: paired too
        prog2 = ((first[0], 0, -1, 0, first[1]), (second[0], 1, 0, 0, second[1]))
        assert_same_bits(F.run(prog2, (x,), n, NUM[dt]), want)
        got, total = F.run(prog2, (x,), n, NUM[dt], reduce=2)
        assert_same_bits(got, want)
        assert_same_sum(total, K.sum(want))


@pytest.mark.parametrize("dt", [F32, F64])
def test_pairs_keep_an_intermediate_that_is_read_later_or_summed(dt):
    rng = np.random.default_rng(6)
    n = 3 * BLOCK + 5
    x = values(rng, n, dt, special=0.05)
    g = np.array(0.25, dt)
    # W1's program: r0 = x + 1 is read again by POW_C_BW, r1 = 3 * r0 ** 2 is summed
    prog = ((F.ADD_C, 0, -1, 0, 1.0), (F.POW_C, 1, 0, 0, 2.0), (F.MUL_C, 1, 1, 0, 3.0),
            (F.POW_C_BW, 0, -2, 0, 2.0))
    out, sums = F.run(prog, (x, g), n, NUM[dt], sums=(1,))
    assert_same_bits(out, ref_run(prog, (x, g), n, dt))
    assert_same_sum(sums[0], K.sum(ref_run(prog[:3], (x, g), n, dt)))
    # r0 summed at the end although only the next instruction reads it
    prog = ((F.ADD_C, 0, -1, 0, 1.0), (F.MUL_C, 1, 0, 0, 3.0))
    out, sums = F.run(prog, (x,), n, NUM[dt], sums=(0,))
    assert_same_bits(out, ref_run(prog, (x,), n, dt))
    assert_same_sum(sums[0], K.sum(K.add_scalar(x, 1.0)))
    # r0 overwritten before anything reads it again: the pair is fine, the sum sees the rewrite
    prog = ((F.ADD_C, 0, -1, 0, 1.0), (F.MUL_C, 1, 0, 0, 3.0), (F.NEG, 0, 1, 0, 0.0),
            (F.ADD, 2, 0, 1, 0.0))
    out, sums = F.run(prog, (x,), n, NUM[dt], sums=(0,))
    assert_same_bits(out, ref_run(prog, (x,), n, dt))
    assert_same_sum(sums[0], K.sum(ref_run(prog[:3], (x,), n, dt)))


@pytest.mark.parametrize("dt", [F32, F64])
def test_summed_registers_of_paired_programs_give_the_bits_of_kernels_sum(dt):
    """Sums of registers written by pairs, over blocks and leaves of every size, equal
    K.sum of the materialized register; finite data, so that a different order of additions
    would show (the other sum tests draw nans)."""
    rng = np.random.default_rng(9)
    for n in (1, 7, 31, 33, 100, 2047, 2048, 2049, 5000, 3 * BLOCK + 5, 70001):
        x = rng.uniform(-3, 3, n).astype(dt)
        g = np.array(0.25, dt)
        prog = ((F.ADD_C, 0, -1, 0, 1.0), (F.POW_C, 1, 0, 0, 2.0), (F.MUL_C, 1, 1, 0, 3.0),
                (F.POW_C_BW, 0, -2, 0, 2.0))
        want = K.sum(K.mul_scalar(K.pow_scalar(K.add_scalar(x, 1.0), 2.0), 3.0))
        for block in (0, F.MIN_BLOCK, 300, BLOCK):
            out, sums = F.run(prog, (x, g), n, NUM[dt], sums=(1,), block=block)
            assert_same_sum(sums[0], want)
            assert_same_bits(out, ref_run(prog, (x, g), n, dt))
        # the result summed too, and a second folded pair
        prog2 = ((F.MUL_C, 0, -1, 0, 0.5), (F.ADD_C, 0, 0, 0, 2.0), (F.NEG, 1, -1, 0, 0.0),
                 (F.MUL_C, 1, 1, 0, 1.5), (F.ADD, 2, 0, 1, 0.0))
        total, sums = F.run(prog2, (x,), n, NUM[dt], reduce=1, sums=(0, 1))
        assert_same_sum(sums[0], K.sum(K.add_scalar(K.mul_scalar(x, 0.5), 2.0)))
        assert_same_sum(sums[1], K.sum(K.mul_scalar(K.neg(x), 1.5)))
        assert_same_sum(total, K.sum(ref_run(prog2, (x,), n, dt)))


SCALARS = [0.25, -3.0, 0.0, -0.0, 1e-30, 3e38, NAN, INF, -INF]


@pytest.mark.parametrize("dt", [F32, F64])
def test_scalar_operands_folded_into_constants_keep_the_bits(dt):
    """Ops with one broadcast-scalar operand become their one-operand forms (then pair up):
    MUL / ADD either way round, DIV by and SUB from a scalar, and pow's exponent-2 backward
    with a scalar gradient (x * 2) * g.  Bits equal the ops one by one, paired or not."""
    rng = np.random.default_rng(8)
    n = 2 * BLOCK + 21
    x = values(rng, n, dt, special=0.1)
    x[:6] = [NAN, -NAN, INF, -INF, 0.0, -0.0]
    for sv in SCALARS:
        g = np.array(sv, dt)
        for op in (F.MUL, F.ADD, F.DIV, F.SUB, F.POW_C_BW):
            c = 2.0 if op == F.POW_C_BW else 0.0
            for a, b in ((0, -2), (-2, 0)):
                for after in ((F.ADD_C, 1.0), (F.POW_C, 2.0)):
                    # x + 1 -> op with the scalar -> a one-operand op: pairs on both sides
                    prog = ((F.ADD_C, 0, -1, 0, 1.0), (op, 1, a, b, c), (after[0], 2, 1, 0, after[1]))
                    with np.errstate(all="ignore"):
                        want = ref_run(prog, (x, g), n, dt)
                        got, total = F.run(prog, (x, g), n, NUM[dt], reduce=2, sums=(1,))
                    assert_same_bits(got[0] if isinstance(got, tuple) else got, want)
                    F._use_pairs(False)
                    try:
                        with np.errstate(all="ignore"):
                            unpaired = F.run(prog, (x, g), n, NUM[dt], reduce=2, sums=(1,))
                    finally:
                        F._use_pairs(True)
                    assert_same_bits(unpaired[0][0], want)
                    assert_same_sum(total[0], unpaired[1][0])


def test_internal_opcodes_are_not_accepted():
    x = np.ones(10, F32)
    for op in (max(F.OPCODES.values()) + 1, 1000):
        with pytest.raises(ValueError, match="unknown opcode"):
            F.run(((op, 0, -1, 0, 1.0),), (x,), 10, NUM[F32])


@pytest.mark.parametrize("case", range(40))
def test_random_programs_same_with_and_without_pairs(case, pairs_off):
    rng = np.random.default_rng(100 + case)
    dt = (F32, F64)[case % 2]
    n = int(rng.integers(1, 3 * BLOCK))
    x = values(rng, n, dt)
    ops = [PAIRABLE[i] for i in rng.integers(0, len(PAIRABLE), int(rng.integers(2, 9)))]
    prog, live = [], [-1]
    for op, c in ops:  # each op reads the latest register or the input, into a fresh or old one
        a = live[-1] if rng.random() < 0.8 else live[int(rng.integers(0, len(live)))]
        dst = int(rng.integers(0, 4))
        prog.append((op, dst, a, 0, c))
        live.append(dst)
    sums = tuple(sorted({d for d in live[1:] if rng.random() < 0.3}))
    with np.errstate(all="ignore"):
        want = F.run(prog, (x,), n, NUM[dt], sums=sums) if sums else \
            F.run(prog, (x,), n, NUM[dt])
        F._use_pairs(True)
        got = F.run(prog, (x,), n, NUM[dt], sums=sums) if sums else \
            F.run(prog, (x,), n, NUM[dt])
    if sums:
        assert_same_bits(got[0], want[0])
        for s, w in zip(got[1], want[1]):
            assert_same_sum(s, w)
    else:
        assert_same_bits(got, want)
    assert_same_bits(want if not sums else want[0], ref_run(prog, (x,), n, dt))
