r"""Inverted dropout.

Training, with drop probability ``p``: draw ``u ~ U[0, 1)`` per element, keep where ``u >= p``::

    mask = [u >= p],    y = x * mask / (1 - p)

Dividing by the keep probability ``1 - p`` makes ``E[y] = x``, so at evaluation time the layer is
the identity and needs no rescaling ("inverted" dropout). Backward reuses the SAME mask::

    dx = g * mask / (1 - p)

Forward saves only the boolean mask (one byte per element). ``p = 1`` drops everything (y = 0,
dx = 0). On CuPy, masking and scaling are one ``ElementwiseKernel`` in each direction.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.tensor import Tensor


@functools.cache
def _cuda():
    cp = backend.require_cupy()
    return {
        "forward": cp.ElementwiseKernel(
            "T x, T u, T p, T scale",
            "T y, bool keep",
            "keep = u >= p; y = keep ? x * scale : (T)0",
            "minilm_dropout_fwd",
        ),
        "backward": cp.ElementwiseKernel(
            "T g, bool keep, T scale", "T dx", "dx = keep ? g * scale : (T)0", "minilm_dropout_bwd"
        ),
    }


class Dropout(Function):
    op_name = "dropout"

    @staticmethod
    def forward(ctx, x, p):
        dev = backend.device_of(x)
        u = backend.random_uniform(dev, x.shape, x.dtype)
        scale = x.dtype.type(1 / (1 - p)) if p < 1 else x.dtype.type(0)
        if type(x) is np.ndarray:
            keep = u >= p
            y = x * keep
            y *= scale
        else:
            y, keep = _cuda()["forward"](x, u, x.dtype.type(p), scale)
        ctx.save_for_backward(keep)
        ctx.scale = scale
        return y

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        if type(g) is np.ndarray:
            dx = g * keep
            dx *= ctx.scale
            return dx, None
        return _cuda()["backward"](g, keep, ctx.scale), None


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """``F.dropout``: zero each element with probability ``p`` and scale the rest by ``1/(1-p)``
    while ``training``; the identity otherwise. ``inplace`` is accepted for PyTorch compatibility
    and ignored (minilm never modifies a tensor in the graph)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability p must be between 0 and 1, got {p}")
    if not isinstance(input, Tensor):
        raise TypeError(f"dropout: expected a Tensor, got {type(input).__name__}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"dropout: expected a float tensor, got {input.dtype}")
    return Dropout.apply(input, float(p))
