from .module import Module
from .container import Sequential, ModuleList, ModuleDict, ParameterList, ParameterDict
from .linear import Linear, Identity
from .activation import (ReLU, Tanh, Sigmoid, Softmax, LogSoftmax, Softmin, LeakyReLU, ReLU6, Hardtanh, SiLU, GELU,
                         Softplus, ELU, LogSigmoid)
from .dropout import Dropout
from .flatten import Flatten, Unflatten
from .loss import MSELoss, L1Loss, NLLLoss, CrossEntropyLoss, BCELoss, BCEWithLogitsLoss
from .normalization import LayerNorm, BatchNorm1d, Embedding

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict", "Linear",
           "Identity", "ReLU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Softmin", "LeakyReLU", "ReLU6",
           "Hardtanh", "SiLU", "GELU", "Softplus", "ELU", "LogSigmoid", "Dropout", "Flatten", "Unflatten", "MSELoss",
           "L1Loss", "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "LayerNorm", "BatchNorm1d",
           "Embedding"]
