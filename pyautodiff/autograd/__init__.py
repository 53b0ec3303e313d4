"""pyautodiff.autograd: the graph (graph.py), the backward engine (engine.py), grad modes and gradcheck."""
from .engine import backward, grad
from .grad_mode import no_grad, enable_grad, set_grad_enabled, is_grad_enabled, inference_mode
from .gradcheck import gradcheck, GradcheckError
from .graph import Node

__all__ = ["backward", "grad", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
           "inference_mode", "gradcheck", "GradcheckError", "Node"]
