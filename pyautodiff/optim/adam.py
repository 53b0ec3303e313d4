"""optim.Adam: torch's single-tensor (for-loop) update, step for step, on the float32 arrays."""
import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _closure_loss, _to_scalar
from . import _arith

__all__ = ["Adam"]


class Adam(Optimizer):
    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not ((isinstance(betas[0], float) and isinstance(betas[1], float))
                or (isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor))):
            raise ValueError("betas must be either both floats or both Tensors")
        betas = tuple(map(_to_scalar, betas))
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("amsgrad", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("capturable", False)
            group.setdefault("differentiable", False)
            group.setdefault("decoupled_weight_decay", False)
            group.setdefault("fused", None)
        for st in self.state.values():
            s = st.get("step") if isinstance(st, dict) else None
            if s is not None and not isinstance(s, Tensor):
                st["step"] = Tensor._wrap(np.asarray(float(s), dtype=np.float32))

    def step(self, closure=None):
        loss = _closure_loss(closure)
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            beta1, beta2 = _to_scalar(beta1), _to_scalar(beta2)
            lr = _to_scalar(group["lr"])
            wd = group["weight_decay"]
            eps = group["eps"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = Tensor._wrap(np.zeros((), dtype=np.float32))
                    state["exp_avg"] = Tensor._wrap(np.zeros_like(p._data))
                    state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
                    if amsgrad:
                        state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(p._data))
                _adam_update(p, g._data, state, lr, beta1, beta2, wd, eps, amsgrad, maximize, decoupled)
        return loss


def _adam_update(p, grad, state, lr, beta1, beta2, wd, eps, amsgrad, maximize, decoupled):
    d = p._data
    dt = d.dtype.type
    exp_avg = state["exp_avg"]
    exp_avg_sq = state["exp_avg_sq"]
    step_t = state["step"]
    m = exp_avg._data
    v = exp_avg_sq._data
    if maximize:
        grad = np.negative(grad)
    step_t._data += np.float32(1)  # step_t += 1
    step_t._version[0] += 1
    if wd != 0:
        if decoupled:
            np.multiply(d, dt(1 - lr * wd), out=d)  # param.mul_(1 - lr * weight_decay)
        else:
            grad = _arith.add_scaled(grad, d, wd, np.empty_like(d))  # grad.add(param, alpha=wd)
    _arith.lerp_scalar(m, grad, 1 - beta1, m)  # exp_avg.lerp_(grad, 1 - beta1)
    np.multiply(v, dt(beta2), out=v)  # exp_avg_sq.mul_(beta2)
    _arith.addcmul(v, grad, grad, 1 - beta2, v)  # .addcmul_(grad, grad, value=1 - beta2)
    exp_avg._version[0] += 1
    exp_avg_sq._version[0] += 1

    step = float(step_t._data)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = bias_correction2 ** 0.5
    if amsgrad:
        mx = state["max_exp_avg_sq"]
        np.maximum(mx._data, v, out=mx._data)
        mx._version[0] += 1
        denom = np.sqrt(mx._data, out=np.empty_like(v))
    else:
        denom = np.sqrt(v, out=np.empty_like(v))
    np.divide(denom, dt(bias_correction2_sqrt), out=denom)  # .sqrt() / bias_correction2_sqrt
    np.add(denom, dt(eps), out=denom)  # .add_(eps)
    _arith.addcdiv(d, m, denom, -step_size, d)  # param.addcdiv_(exp_avg, denom, value=-step_size)
    p._version[0] += 1
