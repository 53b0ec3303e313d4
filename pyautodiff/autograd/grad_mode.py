"""Grad mode: whether ops record the graph.  A module-level flag, read on every op."""
import functools
import inspect


class _GradState:
    __slots__ = ("enabled",)

    def __init__(self):
        self.enabled = True


STATE = _GradState()


def is_grad_enabled():
    return STATE.enabled


class _Mode:
    """Sets grad mode to `mode` for the duration of a with block (used by the decorators)."""
    __slots__ = ("mode", "prev")

    def __init__(self, mode):
        self.mode = mode

    def __enter__(self):
        self.prev = STATE.enabled
        STATE.enabled = self.mode

    def __exit__(self, *exc):
        STATE.enabled = self.prev
        return False


def _decorate(mode, fn):
    """fn running under grad mode `mode`; for a generator function, every step of the generator
    runs under it (not just its creation), as torch's decorators do."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            gen = fn(*args, **kwargs)
            try:
                with _Mode(mode):
                    response = gen.send(None)
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with _Mode(mode):
                            gen.close()
                        raise
                    except BaseException as e:  # noqa: BLE001  (thrown into the generator)
                        with _Mode(mode):
                            response = gen.throw(e)
                    else:
                        with _Mode(mode):
                            response = gen.send(request)
            except StopIteration as e:
                return e.value
        return generator

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with _Mode(mode):
            return fn(*args, **kwargs)
    return wrapper


class _GradModeContext:
    """Base for the context managers below; each one also works as a decorator, with or without
    parentheses (`@no_grad()` and `@no_grad`), as torch's."""
    _mode = True

    def __new__(cls, orig_func=None):
        self = super().__new__(cls)
        if orig_func is None:
            return self
        if not callable(orig_func):
            raise TypeError(f"{cls.__name__}() takes no arguments")
        return _decorate(cls._mode, orig_func)  # used as @no_grad without parentheses

    def __init__(self, orig_func=None):
        pass

    def __enter__(self):
        self._prev = STATE.enabled
        STATE.enabled = self._mode

    def __exit__(self, *exc):
        STATE.enabled = self._prev
        return False

    def __call__(self, fn):
        return _decorate(self._mode, fn)


class no_grad(_GradModeContext):
    _mode = False


class enable_grad(_GradModeContext):
    _mode = True


class set_grad_enabled(_GradModeContext):
    """Sets the mode at construction (as torch does), so it works as a plain call too."""

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled(): argument 'enabled' (position 1) must be bool, not "
                            f"{type(mode).__name__}")
        self._prev = STATE.enabled
        self._mode = mode
        STATE.enabled = mode

    def __enter__(self):
        pass

    def __call__(self, fn):
        STATE.enabled = self._prev  # used as a decorator: don't change the mode now
        return _decorate(self._mode, fn)

    def __repr__(self):
        return f"pyautodiff.autograd.grad_mode.set_grad_enabled(mode={self._mode})"


class inference_mode(_GradModeContext):
    """Here the same as no_grad (inference_mode(False): grad mode unchanged... enabled)."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):
            return _decorate(False, mode)  # @inference_mode without parentheses
        return object.__new__(cls)

    def __init__(self, mode=True):
        self._mode = not mode
