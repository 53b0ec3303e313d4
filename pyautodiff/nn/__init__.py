"""torch.nn: modules, parameters, functional forms and initialisers."""
from .parameter import Parameter, Buffer, UninitializedParameter
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from . import functional, init, parameter, modules, utils  # noqa: F401

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "functional", "init"] + list(_modules_all)
