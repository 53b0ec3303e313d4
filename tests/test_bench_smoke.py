"""Keeps bench/ from rotting: import the bench modules and run one W1 / W2 iteration for pyautodiff
(and the numpy / hand-fused references), checking the gradients.  No timing assertions; no torch."""
import os
import shutil
import sys

import numpy as np
import pytest

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")
sys.path.insert(0, BENCH)

import _timing as T  # noqa: E402
import bench_core as C  # noqa: E402
import pyautodiff  # noqa: E402


@pytest.mark.parametrize("n", [1, 100, 10_000, 100_000])
@pytest.mark.parametrize("lib", ["pyautodiff", "numpy"])
def test_w1_one_iteration(lib, n):
    xnp = np.random.default_rng(n).random(n, dtype=np.float32)
    step, getg = C.make_w1(lib, pyautodiff if lib == "pyautodiff" else np, xnp)
    for _ in range(2):  # the second iteration checks that x.grad = None resets, not accumulates
        step()
    g = getg()
    assert g.dtype == np.float32 and g.shape == (n,)
    np.testing.assert_allclose(g, (xnp.astype(np.float64) + 1) * 6 / n, rtol=1e-5)


@pytest.mark.skipif(not (shutil.which("gcc") or shutil.which("cc")), reason="no C compiler")
def test_w1_fused_reference():
    fn, note = C.build_fused()
    assert fn is not None, note
    xnp = np.random.default_rng(0).random(5000, dtype=np.float32)
    step, getg = C.make_w1("fused", fn, xnp)
    step()
    np.testing.assert_allclose(getg(), (xnp.astype(np.float64) + 1) * 6 / 5000, rtol=1e-6)


@pytest.mark.parametrize("lib", ["pyautodiff", "numpy"])
def test_w2_one_iteration(lib):
    step, getg = C.make_w2(lib, pyautodiff if lib == "pyautodiff" else np)
    step()
    step()
    assert getg() == pytest.approx(24.0)


def test_compare_and_memory_helpers():
    xs = list(range(50))
    r = T.compare({"a": lambda: sum(xs), "b": lambda: max(xs)}, min_samples=3, budget_s=0.0,
                  sample_s=1e-4, warmup_s=1e-3)
    assert r["a"]["n_samples"] == 3 and r["a"]["median"] > 0 and "a/b" in r["_paired"]
    assert T.rss_bytes() > 0 and T.peak_rss_bytes() >= T.rss_bytes() // 2
    assert T.minor_faults() >= 0
    assert T.fmt_time(2.5e-6) == "2.50 us" and T.ratio(1.0, 4.0) == 0.25
