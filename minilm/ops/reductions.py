"""Reductions: sum, mean, var/std, max/min, logsumexp, argmax/argmin, any/all.

A reduction maps many inputs to one output, so its backward sends one output gradient back to
many inputs. For ``y = sum_i x_i`` every ``x_i`` gets ``g`` (dy/dx_i = 1): the backward is a
broadcast of ``g`` back to the input's shape, after putting back the reduced dimensions as
size-1 dimensions if ``keepdim=False`` removed them (``_expand_back``).

==========  ============================  ==========================================
op           forward                       backward (``g`` broadcast back over dim)
==========  ============================  ==========================================
sum          sum x                         g
mean         sum x / N                     g / N
var          sum (x - mean)^2 / (N - c)    g * 2 (x - mean) / (N - c)
max          max x                         g where x is the max (split among ties)
logsumexp    m + log sum e^(x - m)         g * e^(x - y) = g * softmax(x)
==========  ============================  ==========================================

The functions ``sum``, ``max``, ``min``, ``any`` and ``all`` below shadow Python's builtins inside
this module (as ``torch.sum`` does in ``torch``); the module itself never needs the builtins.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.ops import indexing
from minilm.ops.shape import normalize_dim, squeeze
from minilm.tensor import Tensor

#: ``x.max(dim)`` returns ``(values, indices)``, as PyTorch's ``torch.return_types.max`` does.
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def normalize_dims(op: str, dim, ndim: int):
    """``dim`` (None, an int or a sequence of ints, negative allowed) as a sorted tuple of
    non-negative axes, or None for 'all dimensions'."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = tuple(sorted({normalize_dim(op, d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise ValueError(f"{op}: dim {dim} names a dimension more than once")
    return out


def _expand_back(g, shape, dims, keepdim):
    """Broadcast the gradient of a reduction back to the input's ``shape``."""
    if not keepdim:
        g = g.reshape(tuple(1 if (dims is None or i in dims) else n for i, n in enumerate(shape)))
    out = backend.xp_of(g).empty(shape, dtype=g.dtype)
    out[...] = g  # broadcasting assignment (faster than broadcast_to for small arrays, and writable)
    return out


def _count(shape, dims) -> int:
    n = 1
    for i, s in enumerate(shape):
        if dims is None or i in dims:
            n *= s
    return n


class Sum(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return a.sum(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.dims, ctx.keepdim), None, None


class Mean(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        ctx.shape, ctx.dims, ctx.keepdim = a.shape, dims, keepdim
        return a.mean(axis=dims, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        n = _count(ctx.shape, ctx.dims)
        return _expand_back(g / n, ctx.shape, ctx.dims, ctx.keepdim), None, None


class Var(Function):
    @staticmethod
    def forward(ctx, a, dims, correction, keepdim):
        d = a - a.mean(axis=dims, keepdims=True)
        denom = _count(a.shape, dims) - correction
        ctx.save_for_backward(d)
        ctx.dims, ctx.keepdim, ctx.denom = dims, keepdim, denom
        return (d * d).sum(axis=dims, keepdims=keepdim) / denom

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        g = _expand_back(g, d.shape, ctx.dims, ctx.keepdim)
        # d/dx_i of sum_j (x_j - mean)^2 is 2 (x_i - mean): the terms from d mean/d x_i sum to 0.
        return g * d * (2 / ctx.denom), None, None, None


class MaxAll(Function):
    """Maximum over all elements; the gradient is shared equally among the tied maxima."""

    op_name = "max"

    @staticmethod
    def forward(ctx, a, largest):
        y = a.max() if largest else a.min()
        ctx.save_for_backward(a == y)
        return y

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask / mask.sum(dtype=g.dtype), None


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, dims, keepdim):
        xp = backend.xp_of(a)
        m = a.max(axis=dims, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)  # a row of -inf: subtract 0, not -inf (no NaN)
        with np.errstate(divide="ignore"):  # log(0) = -inf for a row of -inf is the right answer
            y = xp.log(xp.exp(a - m).sum(axis=dims, keepdims=True)) + m
        ctx.save_for_backward(a, y)
        ctx.dims, ctx.keepdim = dims, keepdim
        return y if keepdim else y.reshape(tuple(n for i, n in enumerate(y.shape) if i not in dims))

    @staticmethod
    def backward(ctx, g):
        a, y = ctx.saved_tensors
        if not ctx.keepdim:
            g = g.reshape(y.shape)
        return g * backend.xp_of(a).exp(a - y), None, None


def _reduce_args(op, input, dim):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return normalize_dims(op, dim, input.ndim)


def sum(input, dim=None, keepdim=False):
    """Sum over ``dim`` (an int, a tuple of ints, or None for all)."""
    return Sum.apply(input, _reduce_args("sum", input, dim), keepdim)


def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (an int, a tuple of ints, or None for all); needs a float tensor."""
    dims = _reduce_args("mean", input, dim)
    if input.data.dtype.kind != "f":
        raise TypeError(f"mean: needs a floating-point tensor, got {input.dtype}; convert with .float()")
    return Mean.apply(input, dims, keepdim)


def _correction(op, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give unbiased= or correction=, not both")
    if correction is None:
        return 1 if unbiased is None or unbiased else 0
    return correction


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance over ``dim`` with Bessel's correction (divide by N - 1) unless ``correction=0``
    (or ``unbiased=False``)."""
    dims = _reduce_args("var", input, dim)
    if input.data.dtype.kind != "f":
        raise TypeError(f"var: needs a floating-point tensor, got {input.dtype}; convert with .float()")
    return Var.apply(input, dims, _correction("var", unbiased, correction), keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: ``var(...).sqrt()``."""
    return var(input, dim, unbiased, keepdim, correction=correction).sqrt()


def _extreme(op, input, dim, keepdim, largest):
    if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
        from minilm.ops import elementwise

        return elementwise.maximum(input, dim) if largest else elementwise.minimum(input, dim)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.data.size == 0:
        raise ValueError(f"{op}: the tensor is empty (shape {input.shape}), so it has no {op}imum")
    if dim is None:
        return MaxAll.apply(input, largest)
    d = normalize_dim(op, dim, input.ndim)
    xp = backend.xp_of(input.data)
    idx = (xp.argmax if largest else xp.argmin)(input.data, axis=d, keepdims=True).astype(backend.int64)
    values = indexing.gather(input, d, Tensor._wrap(idx))
    if not keepdim:
        values = squeeze(values, d)
        idx = idx.reshape(values.shape)
    result = MaxResult if largest else MinResult
    return result(values, Tensor._wrap(idx))


def max(input, dim=None, keepdim=False):
    """``max(x)``: the largest element. ``max(x, dim)``: ``(values, indices)`` along ``dim``.
    ``max(x, other_tensor)``: the elementwise maximum."""
    return _extreme("max", input, dim, keepdim, True)


def min(input, dim=None, keepdim=False):
    """``min(x)``: the smallest element. ``min(x, dim)``: ``(values, indices)`` along ``dim``."""
    return _extreme("min", input, dim, keepdim, False)


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(x)))`` over ``dim``, computed stably as ``m + log(sum(exp(x - m)))`` with
    ``m`` the maximum, so that large values do not overflow."""
    dims = _reduce_args("logsumexp", input, dim)
    if input.data.dtype.kind != "f":
        raise TypeError(f"logsumexp: needs a floating-point tensor, got {input.dtype}")
    return LogSumExp.apply(input, dims, keepdim)


def _arg(op, input, dim, keepdim, fn):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input.data.size == 0:
        raise ValueError(f"{op}: the tensor is empty (shape {input.shape})")
    if dim is None:
        return Tensor._wrap(backend.xp_of(input.data).asarray(fn(input.data)).astype(backend.int64))
    d = normalize_dim(op, dim, input.ndim)
    return Tensor._wrap(fn(input.data, axis=d, keepdims=keepdim).astype(backend.int64))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest value (over the flattened tensor if ``dim`` is None); no gradient."""
    return _arg("argmax", input, dim, keepdim, backend.xp_of(input.data).argmax)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest value (over the flattened tensor if ``dim`` is None); no gradient."""
    return _arg("argmin", input, dim, keepdim, backend.xp_of(input.data).argmin)


def any(input, dim=None, keepdim=False):
    dims = _reduce_args("any", input, dim)
    return Tensor._wrap(backend.xp_of(input.data).asarray(input.data.any(axis=dims, keepdims=keepdim)))


def all(input, dim=None, keepdim=False):
    dims = _reduce_args("all", input, dim)
    return Tensor._wrap(backend.xp_of(input.data).asarray(input.data.all(axis=dims, keepdims=keepdim)))

