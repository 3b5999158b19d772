"""``minilm.nn.functional``: functions of tensors, named as in ``torch.nn.functional``."""

from minilm.ops.elementwise import leaky_relu, relu, sigmoid, tanh
from minilm.ops.shape import pad

__all__ = ["leaky_relu", "pad", "relu", "sigmoid", "tanh"]
