r"""Softmax and log-softmax over one dimension, stable for any logits.

Forward. With ``m = max_j x_j`` (subtracting it changes nothing mathematically but keeps every
exponent <= 0, so nothing overflows)::

    softmax(x)_i     = y_i = exp(x_i - m) / sum_j exp(x_j - m)
    log_softmax(x)_i = l_i = x_i - m - log sum_j exp(x_j - m)

Backward. The Jacobian of softmax is ``dy_i/dx_k = y_i (delta_ik - y_k)``, so for an incoming
gradient ``g``::

    dx_k = sum_i g_i y_i (delta_ik - y_k) = y_k (g_k - sum_i g_i y_i)

and for log-softmax, ``dl_i/dx_k = delta_ik - y_k``::

    dx_k = g_k - y_k sum_i g_i = g_k - exp(l_k) sum_i g_i

Both backward passes need one reduction along ``dim`` and one pointwise pass; neither needs the
input, only the output (which is what is saved). On CuPy each reduction is one ``ReductionKernel``
and each pointwise pass one ``ElementwiseKernel``.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.ops.shape import normalize_dim


@functools.cache
def _cuda():
    """The fused CuPy kernels (built on first use; CuPy compiles each once per dtype)."""
    cp = backend.require_cupy()
    return {
        # sum_j exp(x_j - m): the subtraction and exp happen inside the reduction
        "sum_exp": cp.ReductionKernel("T x, T m", "T s", "exp(x - m)", "a + b", "s = a", "0", "minilm_sum_exp"),
        "softmax": cp.ElementwiseKernel("T x, T m, T s", "T y", "y = exp(x - m) / s", "minilm_softmax_fwd"),
        "log_softmax": cp.ElementwiseKernel("T x, T m, T s", "T y", "y = x - m - log(s)", "minilm_log_softmax_fwd"),
        "dot": cp.ReductionKernel("T g, T y", "T d", "g * y", "a + b", "d = a", "0", "minilm_dot"),
        "softmax_bwd": cp.ElementwiseKernel("T g, T y, T d", "T dx", "dx = y * (g - d)", "minilm_softmax_bwd"),
        "log_softmax_bwd": cp.ElementwiseKernel(
            "T g, T l, T s", "T dx", "dx = g - exp(l) * s", "minilm_log_softmax_bwd"
        ),
    }


def softmax_forward(x, dim: int, log: bool):
    """softmax (``log=False``) or log_softmax (``log=True``) of array ``x`` along ``dim``."""
    if type(x) is np.ndarray:
        m = x.max(axis=dim, keepdims=True)
        z = x - m
        if log:
            z -= np.log(np.exp(z).sum(axis=dim, keepdims=True))
            return z
        np.exp(z, out=z)
        z /= z.sum(axis=dim, keepdims=True)
        return z
    k = _cuda()
    m = x.max(axis=dim, keepdims=True)
    s = k["sum_exp"](x, m, axis=dim, keepdims=True)
    return k["log_softmax" if log else "softmax"](x, m, s)


def softmax_backward(g, y, dim: int, log: bool):
    """The gradient of softmax/log_softmax with respect to its input, from the output ``y``."""
    if type(y) is np.ndarray:
        if log:
            return g - np.exp(y) * g.sum(axis=dim, keepdims=True)
        gy = g * y
        gy -= y * gy.sum(axis=dim, keepdims=True)
        return gy
    k = _cuda()
    if log:
        return k["log_softmax_bwd"](g, y, g.sum(axis=dim, keepdims=True))
    return k["softmax_bwd"](g, y, k["dot"](g, y, axis=dim, keepdims=True))


class Softmax(Function):
    op_name = "softmax"

    @staticmethod
    def forward(ctx, x, dim, log):
        y = softmax_forward(x, dim, log)
        ctx.save_for_backward(y)
        ctx.dim, ctx.log = dim, log
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return softmax_backward(g, y, ctx.dim, ctx.log), None, None


def _dim(op, x, dim):
    if dim is None:
        raise TypeError(f"{op}: give the dimension to normalise over, e.g. {op}(x, dim=-1)")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a float tensor, got {x.dtype}; convert it with .float()")
    return normalize_dim(op, dim, x.ndim)


def softmax(input, dim=None):
    """``F.softmax(input, dim)``: probabilities along ``dim`` that sum to 1."""
    return Softmax.apply(input, _dim("softmax", input, dim), False)


def log_softmax(input, dim=None):
    """``F.log_softmax(input, dim)``: ``log(softmax(input))``, computed without ever taking log of 0."""
    return Softmax.apply(input, _dim("log_softmax", input, dim), True)
