r"""Layer normalisation over the last ``k`` dimensions, with the closed-form backward.

Forward, for each row ``x`` of ``D`` numbers (the last ``k`` dimensions flattened)::

    mu = mean(x),   var = mean((x - mu)^2)   (biased, as PyTorch),   r = 1 / sqrt(var + eps)
    xhat = (x - mu) * r
    y = xhat * weight + bias

Backward, with ``g = dL/dy`` and ``gh = g * weight`` (the gradient reaching ``xhat``)::

    d bias   = sum over rows of g
    d weight = sum over rows of g * xhat
    dx       = r * (gh - mean(gh) - xhat * mean(gh * xhat))

The last line is the whole Jacobian of normalisation applied at once: ``xhat`` depends on every
``x_j`` of its row through ``mu`` and ``r``; the ``- mean(gh)`` term removes what flows through
``mu`` and the ``- xhat mean(gh xhat)`` term what flows through ``r`` (chapter 2 derives it).
Forward saves ``xhat`` and ``r`` (one number per row), nothing else.

On CuPy the row statistics are ``ReductionKernel``s and the normalise-scale-shift and the ``dx``
formula are one ``ElementwiseKernel`` each.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minilm import backend
from minilm.autograd import Function, shaped
from minilm.tensor import Tensor


@functools.cache
def _cuda():
    cp = backend.require_cupy()
    return {
        "sq_dev": cp.ReductionKernel(
            "T x, T mu", "T v", "(x - mu) * (x - mu)", "a + b", "v = a", "0", "minilm_ln_sq_dev"
        ),
        "normalize": cp.ElementwiseKernel(
            "T x, T mu, T r, T w, T b", "T xhat, T y", "xhat = (x - mu) * r; y = xhat * w + b", "minilm_ln_fwd"
        ),
        "dx": cp.ElementwiseKernel(
            "T gh, T xhat, T r, T m1, T m2", "T dx", "dx = r * (gh - m1 - xhat * m2)", "minilm_ln_bwd"
        ),
    }


def _row_mean(a, b=None):
    """Mean over each row of ``a`` (or of ``a * b``). On NumPy a row sum is a matrix-vector
    product, which BLAS does several times faster than ``a.mean(axis=1)``; a row sum of
    products is an ``einsum`` that never materialises ``a * b``."""
    D = a.shape[1]
    if b is None:
        return a @ backend.xp_of(a).full(D, 1 / D, dtype=a.dtype)
    return backend.xp_of(a).einsum("ij,ij->i", a, b) / a.dtype.type(D)


def layer_norm_forward(x2, weight, bias, eps):
    """``(y, xhat, r)`` for the (M, D) array ``x2``; weight/bias are (D,) arrays or None;
    ``r`` is (M, 1)."""
    xp = backend.xp_of(x2)
    if xp is np:
        xhat = x2 - _row_mean(x2)[:, None]
        r = 1 / np.sqrt(_row_mean(xhat, xhat) + eps)[:, None]
        xhat *= r
        y = xhat * weight if weight is not None else xhat.copy()
        if bias is not None:
            y += bias
        return y, xhat, r
    k = _cuda()
    D = x2.shape[1]
    w = weight if weight is not None else x2.dtype.type(1)
    b = bias if bias is not None else x2.dtype.type(0)
    mu = x2.mean(axis=1, keepdims=True)
    r = 1 / xp.sqrt(k["sq_dev"](x2, mu, axis=1, keepdims=True) / D + eps)
    xhat, y = k["normalize"](x2, mu, r, w, b)
    return y, xhat, r


def layer_norm_backward(g2, xhat, r, weight, needs):
    """Gradients (dx, dweight, dbias) from the saved ``xhat`` (M, D) and ``r`` (M, 1)."""
    xp = backend.xp_of(g2)
    dw = xp.einsum("ij,ij->j", g2, xhat) if needs[1] else None
    db = backend.xp_of(g2).ones(g2.shape[0], dtype=g2.dtype) @ g2 if needs[2] else None  # column sums by BLAS
    dx = None
    if needs[0]:
        gh = g2 * weight if weight is not None else g2.copy()
        m1 = _row_mean(gh)[:, None]
        m2 = _row_mean(gh, xhat)[:, None]
        if xp is np:
            # dx = r * (gh - m1 - xhat * m2), in place in gh: three passes over the rows
            gh -= m1
            gh -= xhat * m2
            gh *= r
            dx = gh
        else:
            dx = _cuda()["dx"](gh, xhat, r, m1, m2)
    return dx, dw, db


class LayerNorm(Function):
    op_name = "layer_norm"

    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        D = math.prod(normalized_shape)
        x2 = x.reshape(-1, D)
        w = None if weight is None else weight.reshape(D)
        b = None if bias is None else bias.reshape(D)
        y, xhat, r = layer_norm_forward(x2, w, b, eps)
        ctx.save_for_backward(xhat, r, w)
        ctx.shape = x.shape
        ctx.normalized_shape = normalized_shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        xhat, r, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        dx, dw, db = layer_norm_backward(g.reshape(xhat.shape), xhat, r, weight, needs)
        shape = ctx.normalized_shape
        return (
            None if dx is None else shaped(dx, ctx.shape),
            None if dw is None else shaped(dw, shape),
            None if db is None else shaped(db, shape),
            None,
            None,
        )


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """``F.layer_norm``: normalise the last ``len(normalized_shape)`` dimensions of ``input`` to
    mean 0 and variance 1, then scale by ``weight`` and shift by ``bias`` (both of shape
    ``normalized_shape``, optional)."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(int(n) for n in normalized_shape)
    k = len(normalized_shape)
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError("layer_norm: input must be a float Tensor")
    if k == 0 or tuple(input.shape[input.ndim - k :]) != normalized_shape or input.ndim < k:
        raise ValueError(
            f"layer_norm: normalized_shape {normalized_shape} must equal the last {k} dimension(s) of the input, "
            f"but the input has shape {input.shape}"
        )
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and tuple(p.shape) != normalized_shape:
            raise ValueError(f"layer_norm: {name} has shape {p.shape}, expected normalized_shape {normalized_shape}")
    return LayerNorm.apply(input, weight, bias, normalized_shape, float(eps))
