r"""GELU, the Gaussian error linear unit, exact and with the tanh approximation.

Exact (``approximate='none'``), with the standard normal CDF ``Phi`` and density ``phi``::

    y  = x * Phi(x),             Phi(x) = (1 + erf(x / sqrt 2)) / 2
    dy/dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

Tanh approximation (``approximate='tanh'``, the original BERT/GPT-2 code), with
``u = sqrt(2/pi) (x + 0.044715 x^3)``::

    y  = x * (1 + tanh u) / 2 = x * sigmoid(2u)
    dy/dx = s + x * s (1 - s) * 2 du/dx,   s = sigmoid(2u),  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)

(``(1 + tanh u)/2 = sigmoid(2u)``, which NumPy computes faster than ``tanh``.) Forward saves the
input only. On CuPy each direction is one ``ElementwiseKernel`` using CUDA's ``erf``/``exp``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.ops.special import erf_array
from minilm.tensor import Tensor

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_K = math.sqrt(2 / math.pi)
_C = 0.044715


@functools.cache
def _cuda():
    cp = backend.require_cupy()
    exact_cdf = f"T cdf = (T)0.5 * ((T)1 + erf(x * (T){_SQRT_HALF!r}));"
    tanh_s = f"T s = (T)1 / ((T)1 + exp((T)-2 * (T){_K!r} * (x + (T){_C!r} * x * x * x)));"
    return {
        ("none", "fwd"): cp.ElementwiseKernel("T x", "T y", exact_cdf + "y = x * cdf;", "minilm_gelu_fwd"),
        ("none", "bwd"): cp.ElementwiseKernel(
            "T x, T g",
            "T dx",
            exact_cdf + f"dx = g * (cdf + x * (T){_INV_SQRT_2PI!r} * exp((T)-0.5 * x * x));",
            "minilm_gelu_bwd",
        ),
        ("tanh", "fwd"): cp.ElementwiseKernel("T x", "T y", tanh_s + "y = x * s;", "minilm_gelu_tanh_fwd"),
        ("tanh", "bwd"): cp.ElementwiseKernel(
            "T x, T g",
            "T dx",
            tanh_s + f"dx = g * (s + x * s * ((T)1 - s) * (T)2 * (T){_K!r} * ((T)1 + (T)3 * (T){_C!r} * x * x));",
            "minilm_gelu_tanh_bwd",
        ),
    }


def _normal_cdf(x):
    """Phi(x) = (1 + erf(x / sqrt 2)) / 2 on a NumPy array."""
    cdf = erf_array(x * x.dtype.type(_SQRT_HALF))
    cdf += 1
    cdf *= 0.5
    return cdf


def _sigmoid_2u(x):
    u = x * x
    u *= _C
    u += 1
    u *= x
    u *= -2 * _K  # -2u
    with np.errstate(over="ignore"):  # exp(-2u) = inf for very negative x gives s = 0, as it should
        np.exp(u, out=u)
    u += 1
    return np.reciprocal(u, out=u)


class Gelu(Function):
    op_name = "gelu"

    @staticmethod
    def forward(ctx, x, approximate):
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if type(x) is not np.ndarray:
            return _cuda()[approximate, "fwd"](x)
        if approximate == "tanh":
            return x * _sigmoid_2u(x)
        return _normal_cdf(x) * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if type(x) is not np.ndarray:
            return _cuda()[ctx.approximate, "bwd"](x, g), None
        if ctx.approximate == "tanh":
            s = _sigmoid_2u(x)
            du = x * x
            du *= 3 * _C
            du += 1
            du *= 2 * _K
            du *= x
            du *= s
            du *= 1 - s
            du += s
            return g * du, None
        cdf = _normal_cdf(x)
        pdf = x * x
        pdf *= -0.5
        np.exp(pdf, out=pdf)
        pdf *= _INV_SQRT_2PI
        pdf *= x
        pdf += cdf
        return g * pdf, None


def gelu(input, approximate: str = "none"):
    """``F.gelu(input, approximate='none')``: ``x * Phi(x)``; ``approximate='tanh'`` for the tanh
    formula used by the original BERT and GPT-2 code."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError("gelu: expected a float Tensor")
    return Gelu.apply(input, approximate)
