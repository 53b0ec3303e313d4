"""optim.SGD: torch's single-tensor (for-loop) update, step for step, on the float32 arrays."""
import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _closure_loss, _to_scalar
from . import _arith

__all__ = ["SGD"]


class SGD(Optimizer):
    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            momentum = group["momentum"]
            lr = _to_scalar(group["lr"])
            wd = _to_scalar(group["weight_decay"])
            dampening = group["dampening"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            state = self.state
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                buf = None
                if momentum != 0:
                    st = state[p]
                    buf = st.get("momentum_buffer")
                new_buf = _sgd_update(p, g._data, buf, lr, momentum, dampening, wd, nesterov, maximize)
                if new_buf is not None:
                    state[p]["momentum_buffer"] = new_buf
        return loss


def _sgd_update(p, grad, buf, lr, momentum, dampening, wd, nesterov, maximize):
    """One parameter's update; returns a newly created momentum buffer (first step) or None."""
    d = p._data
    created = None
    if maximize:
        grad = np.negative(grad)
    if wd != 0:
        grad = _arith.add_scaled(grad, d, wd, np.empty_like(d))  # grad.add(param, alpha=wd)
    if momentum != 0:
        if buf is None:
            created = Tensor._wrap(np.array(grad, dtype=d.dtype, copy=True))  # grad.detach().clone()
            b = created._data
        else:
            b = buf._data
            np.multiply(b, b.dtype.type(momentum), out=b)  # buf.mul_(momentum)
            _arith.add_scaled(b, grad, 1 - dampening, b)  # .add_(grad, alpha=1 - dampening)
            buf._version[0] += 1
        if nesterov:
            grad = _arith.add_scaled(grad, b, momentum, np.empty_like(d))  # grad.add(buf, alpha=momentum)
        else:
            grad = b
    _arith.add_scaled(d, grad, -lr, d)  # param.add_(grad, alpha=-lr)
    p._version[0] += 1
    return created
