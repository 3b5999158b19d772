"""Neural-network pieces. For now only ``minilm.nn.functional``; modules come with chapter 02."""

from minilm.nn import functional

__all__ = ["functional"]
