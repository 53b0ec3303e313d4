"""Thread policy: one BLAS thread by default, set_num_threads / get_num_threads as torch's."""
import os
import subprocess
import sys
import tempfile

import pytest

import pyautodiff as pad
from pyautodiff import _threads


def _run(code, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    base["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                       cwd=tempfile.gettempdir(), env={**base, **env})
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


needs_openblas = pytest.mark.skipif(not _threads._openblas(), reason="numpy's BLAS is not OpenBLAS here")


@needs_openblas
def test_default_is_one_blas_thread():
    assert _run("import pyautodiff as t; print(t.get_num_threads())") == "1"


@needs_openblas
def test_user_environment_is_respected():
    assert _run("import pyautodiff as t; print(t.get_num_threads())", OPENBLAS_NUM_THREADS="2") == "2"


@needs_openblas
def test_set_and_get():
    before = pad.get_num_threads()
    try:
        pad.set_num_threads(2)
        assert pad.get_num_threads() == 2
    finally:
        pad.set_num_threads(before)
    assert pad.get_num_threads() == before


def test_bad_count_raises():
    with pytest.raises(RuntimeError):
        pad.set_num_threads(0)
