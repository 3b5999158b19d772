r"""GELU, the Gaussian error linear unit, exact and with the tanh approximation.

Exact (``approximate='none'``), with the standard normal CDF ``Phi`` and density ``phi``::

    y  = x * Phi(x),             Phi(x) = (1 + erf(x / sqrt 2)) / 2
    dy/dx = Phi(x) + x * phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)

Tanh approximation (``approximate='tanh'``, the original BERT/GPT-2 code), with
``u = sqrt(2/pi) (x + 0.044715 x^3)``::

    y  = x * (1 + tanh u) / 2 = x * sigmoid(2u)
    dy/dx = s + x * s (1 - s) * 2 du/dx,   s = sigmoid(2u),  du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2)

(``(1 + tanh u)/2 = sigmoid(2u)``, which NumPy computes faster than ``tanh``.) Forward saves the
input. On CuPy each direction is one ``ElementwiseKernel`` using CUDA's ``erf``/``exp``.

On NumPy the exact GELU's forward also saves its output ``y``, and backward reads the CDF off it,
``Phi(x) = y / x`` (1/2 where ``x^2`` is below the smallest normal number, where ``y`` has lost
its digits), instead of computing ``erf`` a second time: a division in place of ~20 passes. Keeping
``y`` costs no memory: whatever op consumes ``y`` holds it in the graph until backward anyway.

**float32 on NumPy.** NumPy has no ``erf``; ``minilm.ops.special.erf_array`` sums a 22-term series
(44 passes over the array), which made GELU the slowest kernel of a BERT training step. In float32
the forward goes through ``tanh`` instead, which NumPy has (vectorised, about the cost of one
multiplication). ``2 Phi(x) - 1 = erf(x / sqrt 2)`` is odd, so it can be written as::

    2 Phi(x) - 1 = tanh(x G(u)),   G(u) = atanh(erf(x / sqrt 2)) / x,   u = x^2
    y = x Phi(x) = (x/2) (1 + tanh(x G(u)))

with ``G`` a smooth, slowly varying function of ``u`` alone (``G(0) = sqrt(2/pi)``; the tanh does
the saturating). On ``0 <= u < 8`` (``|x| < 2 sqrt 2``) ``G`` is interpolated at 6 Chebyshev points
by a polynomial of degree 5 (built once from the float64 ``erf_array``; the coefficients that
follow are below 1e-7) and evaluated by Horner's rule in ``u`` itself (its coefficients are modest,
the largest 0.8, so float32 evaluation loses nothing that matters): 17 passes over the array in all.
The rare entries with ``|x| >= 2 sqrt 2`` use ``Phi(-|x|) = erfc(|x| / sqrt 2) / 2`` from the
continued fraction of ``minilm.ops.special`` (accurate there). The work goes in blocks of 131072
numbers, so that the passes over a block stay in the core's cache instead of streaming the whole
array from memory each time. Largest error against float64: 3.7e-7 absolute in ``y``, 1.3e-7 in
``Phi`` (about two units in the last place; PyTorch's float32 GELU: 1.2e-6 in ``y``). float64
(gradient checks) keeps the exact series.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.ops.special import _erfc_continued_fraction, erf_array
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


_U_MAX = 8.0  # the polynomial covers u = x^2 < 8: |x| < 2 sqrt 2
_DEGREE = 5
_BLOCK = 1 << 17  # numbers per block (512 KiB in float32): a block's passes stay in the core's cache


@functools.cache
def _tanh_argument_polynomial() -> tuple:
    """The float32 coefficients, highest power first, of the polynomial in ``u = x^2`` (``0 <= u < 8``)
    approximating ``G(u) = atanh(2 Phi(x) - 1) / x = atanh(erf(x / sqrt 2)) / x``: the Chebyshev
    interpolant of degree 5 of ``G`` on [0, 8], written in powers of ``u``."""
    cheb = np.polynomial.Chebyshev

    def g(u):  # the Chebyshev points lie strictly inside (0, 8): no 0/0
        x = np.sqrt(u)
        return np.arctanh(erf_array(x * _SQRT_HALF)) / x

    fit = cheb.interpolate(g, _DEGREE, domain=[0.0, _U_MAX])
    in_u = fit.convert(kind=np.polynomial.Polynomial, domain=[0.0, _U_MAX], window=[0.0, _U_MAX]).coef
    return tuple(np.float32(c) for c in in_u[::-1])


def _gelu_float32_block(x, out, u):
    """``out = (x/2) (1 + tanh(x G(u)))`` for one float32 block (1-D arrays), with ``u = x^2`` clipped to
    8 (``u``: scratch space); returns the positions where ``|x| >= 2 sqrt 2`` (or None), whose values
    the caller must replace."""
    np.multiply(x, x, out=u)
    big = None
    if not u.max() < _U_MAX:  # a few large |x| (or a nan)
        big = np.flatnonzero(u >= _U_MAX)
        np.minimum(u, np.float32(_U_MAX), out=u)
    coef = _tanh_argument_polynomial()
    np.multiply(u, coef[0], out=out)  # Horner's rule: out = G(u)
    out += coef[1]
    for c in coef[2:]:
        out *= u
        out += c
    out *= x
    np.tanh(out, out=out)
    out += np.float32(1)
    np.multiply(x, np.float32(0.5), out=u)
    out *= u
    return big


def _gelu_float32_tail(x):
    """``x Phi(x)`` for float32 entries with ``|x| >= 2 sqrt 2``, from ``Phi(-|x|) = erfc(|x| / sqrt 2) / 2``."""
    a = np.minimum(np.abs(x), np.float32(1e18))  # an inf would meet inf * 0 in the continued fraction
    tail = _erfc_continued_fraction(a * np.float32(_SQRT_HALF))
    tail *= np.float32(0.5)
    return x * np.where(x > 0, np.float32(1) - tail, tail)


def _gelu_float32(x):
    """Exact GELU of a float32 NumPy array, block by block (see the module docstring)."""
    xf = x.reshape(-1)
    out = np.empty(x.shape, dtype=np.float32)
    of = out.reshape(-1)
    big = []
    u = np.empty(min(_BLOCK, xf.shape[0]), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):  # |x| > 1.8e19 squares to inf; -inf * Phi(-inf) = nan
        for i in range(0, xf.shape[0], _BLOCK):
            m = min(_BLOCK, xf.shape[0] - i)
            b = _gelu_float32_block(xf[i : i + m], of[i : i + m], u[:m])
            if b is not None:
                big.append(b + i)
        if big:  # all the large entries at once: a few numbers, many small operations
            big = np.concatenate(big)
            of[big] = _gelu_float32_tail(xf[big])
    return out


def _gelu_backward_from_output(x, y, g):
    """``g * dy/dx = g * (Phi(x) + x phi(x))`` on NumPy, with ``Phi(x) = y / x`` read off the forward's
    output ``y``, block by block. Where ``x^2`` is below the smallest normal number (``|x| < 1.1e-19``
    in float32), ``y = x/2`` has lost its digits (or is 0/0) and ``Phi = 1/2`` is used instead."""
    xf, yf, gf = x.reshape(-1), y.reshape(-1), g.reshape(-1)
    out = np.empty(x.shape, dtype=x.dtype)
    of = out.reshape(-1)
    dt = x.dtype.type
    tiny, c = np.finfo(x.dtype).tiny, dt(_INV_SQRT_2PI)
    e = np.empty(min(_BLOCK, xf.shape[0]), dtype=x.dtype)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        for i in range(0, xf.shape[0], _BLOCK):
            xb, o = xf[i : i + _BLOCK], of[i : i + _BLOCK]
            eb = e[: xb.shape[0]]
            np.multiply(xb, xb, out=eb)
            np.divide(yf[i : i + _BLOCK], xb, out=o)  # Phi(x)
            if not eb.min() >= tiny:  # a zero, a tiny |x| (or a nan, which stays one)
                o[eb < tiny] = dt(0.5)
            eb *= dt(-0.5)  # x phi(x) = x exp(-x^2 / 2) / sqrt(2 pi)
            np.exp(eb, out=eb)
            eb *= c
            eb *= xb
            o += eb
            o *= gf[i : i + _BLOCK]
    return out


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
        y = _gelu_float32(x) if x.dtype == np.float32 else _normal_cdf(x) * x
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x = ctx.saved_tensors[0]
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
        return _gelu_backward_from_output(x, ctx.saved_tensors[1], g), None


def gelu(input, approximate: str = "none"):
    """``F.gelu(input, approximate='none')``: ``x * Phi(x)``; ``approximate='tanh'`` for the tanh
    formula used by the original BERT and GPT-2 code."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    if not isinstance(input, Tensor) or input.dtype.kind != "f":
        raise TypeError("gelu: expected a float Tensor")
    return Gelu.apply(input, approximate)
