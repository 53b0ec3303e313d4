"""`python -m pytest` from a source checkout puts the checkout first on sys.path.  After a plain
`pip install .` the checkout's pyautodiff/ has no compiled extension (only the installed copy
has), so then test the installed package instead of failing on the uncompiled source tree."""
import importlib.machinery
import os
import sys

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if not any(os.path.exists(os.path.join(_ROOT, "pyautodiff", "_kernels" + suffix))
           for suffix in importlib.machinery.EXTENSION_SUFFIXES):
    _path = [p for p in sys.path if os.path.abspath(p or os.curdir) != _ROOT]
    if importlib.machinery.PathFinder.find_spec("pyautodiff", _path) is not None:
        sys.path[:] = _path
