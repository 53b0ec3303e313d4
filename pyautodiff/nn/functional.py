"""torch.nn.functional: the functional forms of the layers, activations and losses."""
from ..ops import nn_ops as _ops
from ..ops.elementwise import relu as _relu
from ..ops.nn_ops import (softmax, log_softmax, linear, mse_loss, l1_loss, nll_loss, cross_entropy,
                          binary_cross_entropy, binary_cross_entropy_with_logits, dropout, one_hot, tanh,
                          sigmoid, silu, softplus, elu, logsigmoid, embedding, layer_norm, batch_norm, gelu)

__all__ = ["relu", "relu_", "softmax", "log_softmax", "linear", "mse_loss", "l1_loss", "nll_loss",
           "cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "dropout", "one_hot",
           "tanh", "sigmoid", "softmin", "leaky_relu", "hardtanh", "relu6", "normalize", "silu", "softplus", "elu",
           "logsigmoid", "embedding", "layer_norm", "batch_norm", "gelu"]


def relu(input, inplace=False):
    if inplace:
        return relu_(input)
    return _relu(input)


def relu_(input):
    input._check_inplace()
    return input._inplace_result(_relu(input))


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    return softmax(-input, dim, dtype=dtype)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = _ops.leaky_relu(input, negative_slope)
    if inplace:
        input._check_inplace()
        return input._inplace_result(out)
    return out


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    out = _ops.hardtanh(input, min_val, max_val)
    if inplace:
        input._check_inplace()
        return input._inplace_result(out)
    return out


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    from ..ops.elementwise import pow as _pow, div as _div
    from ..ops.reduction import sum as _sum
    norm = _pow(_sum(_pow(_ops.abs(input), p), dim, keepdim=True), 1.0 / p)
    return _div(input, _ops.expand(_ops.clamp_min(norm, eps), input._data.shape))
