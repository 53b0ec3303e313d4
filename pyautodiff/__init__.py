"""pyautodiff: a small, fast automatic-differentiation library with PyTorch's API.

    import pyautodiff as torch
"""
__version__ = "0.1.0"

from ._C import K as _K  # noqa: F401  (fails early, with a clear message, if the kernels are not built)
from ._C import set_buffer_cache, buffer_cache_info  # noqa: F401
from . import _dtype
from ._dtype import (dtype, float32, float64, float16, int64, int32, int16, int8, uint8,
                     float, double, half, long, int, short, get_default_dtype, set_default_dtype,
                     promote_types)
from ._dtype import bool_ as bool  # noqa: A001  (torch.bool)
from .tensor import Tensor, Size, device
from .creation import (tensor, as_tensor, from_numpy, zeros, ones, empty, full, zeros_like, ones_like,
                       empty_like, full_like, rand, randn, rand_like, randn_like, randint, randperm,
                       arange, linspace, eye)
from .random import manual_seed, seed, initial_seed, get_rng_state, set_rng_state, Generator
from .random import default_generator
from .autograd import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from . import autograd
from .ops.elementwise import add, sub, mul, div, neg, pow, exp, log, relu, clone, rsub  # noqa: F401
from .ops.elementwise import memory_format, preserve_format, contiguous_format  # noqa: F401
from .ops.reduction import sum, mean
from .ops.linalg import matmul, mm, mv, dot
from .ops.shape import reshape, t, permute, transpose
from ._tensor_str import set_printoptions, get_printoptions

subtract = sub
multiply = mul
divide = true_divide = div
negative = neg

FloatTensor = DoubleTensor = LongTensor = Tensor  # legacy names used in isinstance checks / pickles


def numel(t):
    return t.numel()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def is_floating_point(t):
    return t.is_floating_point()


def equal(a, b):
    return a.equal(b)


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return a.allclose(b, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return a.isclose(b, rtol=rtol, atol=atol, equal_nan=equal_nan)


from ._threads import set_num_threads, get_num_threads  # noqa: E402
from ._threads import default_policy as _thread_policy  # noqa: E402

_thread_policy()  # one BLAS thread unless OPENBLAS_NUM_THREADS / OMP_NUM_THREADS say otherwise


from .ops.nn_ops import *  # noqa: E402,F401,F403  (softmax, cat, stack, where, clamp, ...)
from .ops.nn_ops import _softmax_top as softmax, _log_softmax_top as log_softmax  # noqa: E402,F401
from . import nn, optim, utils  # noqa: E402
from . import serialization  # noqa: E402
from .serialization import save, load  # noqa: E402
