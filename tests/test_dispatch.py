"""The AVX2 builds (pyautodiff._kernels_avx2 / _fused_avx2, see setup.py) against the baseline
builds, and pyautodiff._C's choice between them.

The AVX2 modules are the same sources compiled with -mavx2 (no FMA, -ffp-contract=off): every
kernel and every fused program must give the baseline's bits exactly -- special values (nan,
+-inf, -0.0, denormals) and odd sizes (vector remainders) included.  The AVX2 side is skipped
when it was not built or this CPU lacks AVX2.
"""
import importlib.util
import math
import os
import re
import subprocess
import sys
import zlib

import numpy as np
import pytest

import pyautodiff
from pyautodiff import _fused as F0
from pyautodiff import _kernels as K0


def _load_avx2():
    try:
        from pyautodiff import _cpu
    except ImportError:
        return None, None, "pyautodiff._cpu is not built"
    if not _cpu.has_avx2():
        return None, None, "this CPU (or OS) has no AVX2"
    try:
        from pyautodiff import _fused_avx2, _kernels_avx2
    except ImportError:
        return None, None, "the AVX2 variants were not built"
    return _kernels_avx2, _fused_avx2, ""


K1, F1, WHY = _load_avx2()
needs_avx2 = pytest.mark.skipif(K1 is None, reason=WHY)

F32, F64 = np.float32, np.float64
NUM = {F32: 11, F64: 12}
NAN, INF = float("nan"), float("inf")
DENORMALS = {F32: [1e-40, -1e-40, 1.4e-45, -2.9e-39, 1.1e-38],
             F64: [5e-324, -5e-324, 2.2e-310, -1e-308, 2.2250738585072e-308]}
SPECIALS = [NAN, -NAN, INF, -INF, 0.0, -0.0, 1.0, -1.0, 2.0, 0.5]
# odd sizes: vector remainders of 4 / 8 / 16 lanes, _k_sum's 128-element leaves, the GIL
# threshold, several fused blocks
SIZES = [1, 2, 3, 5, 7, 9, 15, 17, 31, 33, 63, 127, 129, 255, 1001, 4099, 20011]
# scalars: pow fast paths and near misses, specials, denormals, huge / tiny
SCALARS = [0.0, -0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, -0.5, 1.5, 0.3, 1.0 / 3.0, -1.7,
           2.0000000001, 7.0, 1e30, 1e-50, 1e-40, 5e-324, NAN, INF, -INF]


def values(rng, n, dt, special=0.15):
    """e^U(-10, 10) both signs, small integers, and ~15% specials and denormals"""
    x = np.exp(rng.uniform(-10, 10, n)) * rng.choice([-1.0, 1.0], n)
    x = np.where(rng.random(n) < 0.1, rng.integers(-3, 4, n).astype(float), x)
    pool = SPECIALS + DENORMALS[dt] + ([3e38, -3.4e38] if dt is F32 else [1.7e308, -1e300])
    mask = rng.random(n) < special
    x[mask] = rng.choice(pool, int(mask.sum()))
    with np.errstate(over="ignore"):
        return np.ascontiguousarray(x, dtype=dt)


def assert_same(got, want):
    """nan at the same places, the same bits everywhere else (-0.0 is not 0.0).  nan payloads
    and signs are not compared: when two nans meet (nan + -nan), x86 returns the first
    operand's, and the compiler may order the operands of + or * differently in vector and
    scalar code -- the baseline build itself differs there between its vector loop and its
    remainder loop."""
    if isinstance(want, float):
        assert isinstance(got, float)
        assert (math.isnan(got) and math.isnan(want)) or (
            np.float64(got).view(np.uint64) == np.float64(want).view(np.uint64)), (got, want)
        return
    if want is None:
        assert got is None
        return
    assert got.dtype == want.dtype and got.shape == want.shape
    got, want = got.reshape(-1), want.reshape(-1)
    it = np.uint32 if got.dtype == F32 else np.uint64
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    bad = np.flatnonzero((got.view(it) != want.view(it)) & ~nan)
    assert bad.size == 0, f"bits differ at {bad[:5]}: {got[bad[:5]]} vs {want[bad[:5]]}"


# --------------------------------------------------------------------------------------------
# kernels: every public function of _kernels, from its embedded signature
# --------------------------------------------------------------------------------------------

def _signature(fn):
    """'add_scalar(arr a, double s, arr out=None)' -> [('arr', 'a', False), ...] (kind, name,
    has a default)"""
    m = re.match(r"\w+\((.*)\)", (fn.__doc__ or "").splitlines()[0] if fn.__doc__ else "")
    if m is None:
        return None
    params = []
    for p in m.group(1).split(","):
        if len(p.split()) != 2:
            return None  # an untyped parameter: not an array kernel (bscalar(g))
        kind, rest = p.split()
        params.append((kind, rest.split("=")[0], "=" in rest))
    return params


KERNELS = sorted(name for name in dir(K0)
                 if not name.startswith("_") and callable(getattr(K0, name))
                 and _signature(getattr(K0, name)) is not None
                 # array kernels only (expand(a, shape) builds a view: no arithmetic to compare)
                 and {k for k, _, _ in _signature(getattr(K0, name))} <= {"arr", "double", "bool"})


def test_every_kernel_is_covered():
    assert len(KERNELS) >= 25 and {"add", "sum", "pow_scalar", "fill"} <= set(KERNELS)
    for name in KERNELS:
        assert {k for k, _, _ in _signature(getattr(K0, name))} <= {"arr", "double", "bool"}
    if K1 is not None:
        assert sorted(n for n in dir(K1) if not n.startswith("_")) == \
            sorted(n for n in dir(K0) if not n.startswith("_"))
        assert K1.API_VERSION == K0.API_VERSION


def _calls(name, dt, n, rng, part):
    """Argument lists for one kernel: arrays of values(), scalars from SCALARS (every third
    one, from `part`, for small n: each scalar meets several sizes; a sample for two-scalar
    kernels and large n), out given (fresh, or the first array: in place) or omitted,
    accumulate False / True."""
    sig = _signature(getattr(K0, name))
    nscal = sum(k == "double" for k, _, _ in sig)
    combos = [[s] for s in SCALARS] if nscal == 1 else \
        [list(rng.choice(SCALARS, nscal)) for _ in range(12)] if nscal else [[]]
    if nscal == 1:
        combos = combos[part % 3::3]
    if n > 200 and len(combos) > 4:
        combos = [combos[i] for i in rng.choice(len(combos), 4, replace=False)]
    has_out = any(p == "out" for _, p, _ in sig)
    has_acc = any(k == "bool" for k, _, _ in sig)
    for scal in combos:
        for mode in ("out", "inplace", "alloc") if has_out else ("out",):
            for acc in (False, True) if has_acc and mode != "alloc" else (False,):
                arrays = [values(rng, n, dt) for k, _, _ in sig if k == "arr"]
                args, si, ai, skip = [], 0, 0, False
                for kind, pname, has_default in sig:
                    if kind == "double":
                        args.append(float(scal[si]))
                        si += 1
                    elif kind == "bool":
                        args.append(acc)
                    elif pname == "out":
                        if mode == "alloc" and has_default:
                            break            # out (and what follows) omitted
                        if mode == "alloc":
                            skip = True      # fill(): out is required
                        args.append(arrays[0] if mode == "inplace" and ai > 0
                                    else arrays[ai])
                        ai += 1
                    else:
                        args.append(arrays[ai])
                        ai += 1
                if skip:
                    continue
                yield args


def _copy_args(args):
    """Copies of the arrays, keeping which argument is the same array as which"""
    seen = {}
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            if id(a) not in seen:
                seen[id(a)] = a.copy()
            out.append(seen[id(a)])
        else:
            out.append(a)
    return out


@needs_avx2
@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("name", KERNELS)
def test_kernel_bit_identical(name, dt):
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    ncalls = 0
    for part, n in enumerate(SIZES):
        for args in _calls(name, dt, n, rng, part):
            a0, a1 = _copy_args(args), _copy_args(args)
            with np.errstate(all="ignore"):
                r0 = getattr(K0, name)(*a0)
                r1 = getattr(K1, name)(*a1)
            assert_same(r1, r0)
            for x0, x1 in zip(a0, a1):        # outputs (and untouched inputs)
                if isinstance(x0, np.ndarray):
                    assert_same(x1, x0)
            ncalls += 1
    assert ncalls >= len(SIZES)


# --------------------------------------------------------------------------------------------
# fused programs
# --------------------------------------------------------------------------------------------

CONSTS = [0.0, 1.0, 2.0, 3.0, 4.0, -1.0, -2.0, 0.5, -0.5, 1.5, -3.0, 0.3, 7.0, -1.7, 1e30,
          1e-50, 1e-40, -0.0, NAN, INF]
BASES = [2.0, 0.5, 10.0, 1.0, 3.7, math.e, 0.0, -2.0]


def random_program(rng, nin):
    ops = sorted(F0.OPCODES.values())
    written, program = [], []
    for _ in range(rng.integers(1, 9)):
        op = int(rng.choice(ops))
        name = F0.OPNAMES[op]
        refs = [-j - 1 for j in range(nin)] + written
        a, b, y = (int(rng.choice(refs)) for _ in range(3))
        if F0.ARITY[name] == 3:
            c = float(y)
        elif op == F0.RPOW_C:
            c = float(rng.choice(BASES))
        elif F0.USES_C[name]:
            c = float(rng.choice(CONSTS))
        else:
            c = 0.0
        dst = int(rng.integers(0, 6))
        program.append((op, dst, a, b, c))
        if dst not in written:
            written.append(dst)
    return tuple(program), written


def _fused_case(seed):
    rng = np.random.default_rng(seed)
    dt = F32 if seed % 2 else F64
    n = int(rng.choice(SIZES + [0, 2048, 2049, 6151]))
    nin = int(rng.integers(1, 4))
    special = float(rng.choice([0.0, 0.001, 0.15]))    # (finite sums too, not only nan)
    inputs = tuple(values(rng, 1, dt, special).reshape(()) if rng.random() < 0.25
                   else values(rng, n, dt, special) for _ in range(nin))
    program, written = random_program(rng, nin)
    block = int(rng.choice([0, F0.MIN_BLOCK, 300, F0.BLOCK]))
    return rng, dt, n, inputs, program, written, block


def _run_both(program, inputs, n, dt, **kw):
    res = []
    for F in (F0, F1):
        mine = tuple(x.copy() for x in inputs)
        k = dict(kw)
        if isinstance(k.get("out"), np.ndarray):
            k["out"] = k["out"].copy()
        elif k.get("out") == "alias":            # out is the first (array) input
            k["out"] = mine[0]
        with np.errstate(all="ignore"):
            res.append((F.run(program, mine, n, NUM[dt], **k), mine))
    return res


def _same_result(r1, r0):
    if isinstance(r0, tuple):
        assert isinstance(r1, tuple) and len(r1) == len(r0)
        for x1, x0 in zip(r1, r0):
            _same_result(x1, x0)
    elif isinstance(r0, list):
        assert isinstance(r1, list) and len(r1) == len(r0)
        for x1, x0 in zip(r1, r0):
            assert_same(x1, x0)
    else:
        assert_same(r1, r0)


@needs_avx2
@pytest.mark.parametrize("seed", range(240))
def test_fused_program_bit_identical(seed):
    rng, dt, n, inputs, program, written, block = _fused_case(seed)
    sums = tuple(int(r) for r in rng.choice(written, rng.integers(1, len(written) + 1)))
    base = values(rng, n, dt)
    runs = [dict(), dict(reduce=1), dict(reduce=2, sums=sums),
            dict(out=base, accumulate=True, reduce=2),
            dict(reduce=1, sums=sums)]
    if inputs[0].size == n and n > 1:
        runs.append(dict(out="alias", reduce=2))
    for kw in runs:
        (r0, in0), (r1, in1) = _run_both(program, inputs, n, dt, block=block, **kw)
        _same_result(r1, r0)
        for x0, x1 in zip(in0, in1):
            assert_same(x1, x0)


@needs_avx2
@pytest.mark.parametrize("dt", [F32, F64])
@pytest.mark.parametrize("n", [10**5 + 3, 10**6 + 1])
def test_forward_and_backward_chains_bit_identical(dt, n):
    rng = np.random.default_rng(n)
    x = values(rng, n, dt)
    g = np.array(1.0 / n, dt)
    fwd = ((F0.ADD_C, 0, -1, 0, 1.0), (F0.POW_C, 0, 0, 0, 2.0), (F0.MUL_C, 0, 0, 0, 3.0))
    bwd = ((F0.ADD_C, 0, -1, 0, 1.0), (F0.MUL_C, 1, -2, 0, 3.0), (F0.POW_C_BW, 0, 1, 0, 2.0))
    for prog, ins, kw in ((fwd, (x,), dict(reduce=2)), (fwd, (x,), dict(reduce=1)),
                          (bwd, (x, g), dict()), (bwd, (x, g), dict(out=x, accumulate=True))):
        (r0, _), (r1, _) = _run_both(prog, ins, n, dt, **kw)
        _same_result(r1, r0)


@needs_avx2
def test_exp_log_sources_match_and_libm_fallback_bit_identical():
    assert F1.EXP_LOG_FROM_NUMPY == F0.EXP_LOG_FROM_NUMPY
    rng = np.random.default_rng(7)
    try:
        assert F0._use_numpy_exp_log(False) is False
        assert F1._use_numpy_exp_log(False) is False
        for dt in (F32, F64):
            with np.errstate(over="ignore"):
                x = values(rng, 5003, dt) * 20
            for op in (F0.EXP, F0.LOG):
                prog = ((F0.MUL_C, 0, -1, 0, 0.5), (op, 1, 0, 0, 0.0), (F0.ADD_C, 1, 1, 0, 1.0))
                (r0, _), (r1, _) = _run_both(prog, (x,), x.size, dt, reduce=2)
                _same_result(r1, r0)
    finally:
        F0._use_numpy_exp_log()
        F1._use_numpy_exp_log()
    assert F1.EXP_LOG_FROM_NUMPY == F0.EXP_LOG_FROM_NUMPY


# --------------------------------------------------------------------------------------------
# the choice made by pyautodiff._C
# --------------------------------------------------------------------------------------------

def test_cpu_probe_agrees_with_proc_cpuinfo():
    try:
        from pyautodiff import _cpu
    except ImportError:
        pytest.skip("pyautodiff._cpu is not built")
    assert isinstance(_cpu.has_avx2(), bool)
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        pytest.skip("no /proc/cpuinfo flags here")
    assert _cpu.has_avx2() == ("avx2" in flags)


def _choice_in_subprocess(tmp_path, **env_extra):
    env = dict(os.environ)
    env.pop("PYAUTODIFF_NO_AVX2", None)
    env.update(env_extra)
    root = os.path.dirname(os.path.dirname(os.path.abspath(pyautodiff.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([root] + [p for p in [env.get("PYTHONPATH")] if p])
    code = ("import pyautodiff, pyautodiff._C as C, numpy as np\n"
            "assert pyautodiff.tensor([1.0, 2.0]).sum().item() == 3.0\n"
            "print(C.SIMD, C.K.__name__, C.F.__name__, pyautodiff.__file__)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    simd, k, f, where = proc.stdout.split()
    assert os.path.dirname(os.path.abspath(where)) == os.path.dirname(
        os.path.abspath(pyautodiff.__file__))
    return simd, k, f


BASELINE = ("baseline", "pyautodiff._kernels", "pyautodiff._fused")
AVX2 = ("avx2", "pyautodiff._kernels_avx2", "pyautodiff._fused_avx2")


def test_C_picks_avx2_when_available(tmp_path):
    want = BASELINE if K1 is None else AVX2
    assert _choice_in_subprocess(tmp_path) == want
    assert _choice_in_subprocess(tmp_path, PYAUTODIFF_NO_AVX2="0") == want
    assert _choice_in_subprocess(tmp_path, PYAUTODIFF_NO_AVX2="") == want


def test_C_baseline_under_PYAUTODIFF_NO_AVX2(tmp_path):
    assert _choice_in_subprocess(tmp_path, PYAUTODIFF_NO_AVX2="1") == BASELINE


def _exec_C(monkeypatch, **modules):
    """pyautodiff/_C.py executed afresh with some sys.modules entries replaced."""
    for name, mod in modules.items():
        monkeypatch.setitem(sys.modules, "pyautodiff." + name, mod)
        if mod is None:
            monkeypatch.delattr(pyautodiff, name, raising=False)
        else:
            monkeypatch.setattr(pyautodiff, name, mod, raising=False)
    monkeypatch.delenv("PYAUTODIFF_NO_AVX2", raising=False)
    spec = importlib.util.spec_from_file_location("pyautodiff._C_probe",
                                                  pyautodiff.__path__[0] + "/_C.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_C_falls_back_silently_when_avx2_missing_or_stale(monkeypatch):
    import types
    stale = types.ModuleType("pyautodiff._kernels_avx2")
    stale.API_VERSION = -1
    good_cpu = types.ModuleType("pyautodiff._cpu")
    good_cpu.has_avx2 = lambda: True
    for mods in (dict(_kernels_avx2=None), dict(_fused_avx2=None), dict(_cpu=None),
                 dict(_kernels_avx2=stale, _cpu=good_cpu)):
        C = _exec_C(monkeypatch, **mods)
        assert (C.SIMD, C.K, C.F) == ("baseline", K0, F0), mods
        monkeypatch.undo()
    if K1 is not None:
        C = _exec_C(monkeypatch)
        assert (C.SIMD, C.K, C.F) == ("avx2", K1, F1)
