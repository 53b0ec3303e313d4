"""Grad mode: whether ops record the graph.  A module-level flag, read on every op."""
import functools


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


STATE = _GradState()


def is_grad_enabled():
    return STATE.enabled


class _GradModeContext:
    """Base for the context managers below; each one also works as a decorator."""
    _mode = True

    def __enter__(self):
        self._prev = STATE.enabled
        STATE.enabled = self._mode

    def __exit__(self, *exc):
        STATE.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper


class no_grad(_GradModeContext):
    _mode = False


class enable_grad(_GradModeContext):
    _mode = True


class set_grad_enabled(_GradModeContext):
    """Sets the mode at construction (as torch does), so it works as a plain call too."""

    def __init__(self, mode):
        self._prev = STATE.enabled
        self._mode = bool(mode)
        STATE.enabled = self._mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        STATE.enabled = self._prev  # used as a decorator: don't change the mode now
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)
        return wrapper


class inference_mode(no_grad):
    def __init__(self, mode=True):
        self._mode = not mode
