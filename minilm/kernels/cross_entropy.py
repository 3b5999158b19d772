r"""Cross-entropy of logits against class indices, fused with its softmax.

Rows. The logits ``x`` have the classes in their LAST dimension: ``(N, C)`` with targets ``(N,)``,
or ``(N, T, C)`` with targets ``(N, T)`` (a language model's output, no reshaping needed). (PyTorch
puts the classes in dimension 1 for inputs of more than two dimensions; minilm keeps them last,
where the models produce them.) Below, each row ``i`` is one vector of ``C`` logits ``z`` and one
target ``t``.

Forward. With ``lse = m + log sum_c exp(z_c - m)``, ``m = max_c z_c`` (log-sum-exp, which never
overflows), the loss of a row with label smoothing ``eps`` (``eps = 0``: plain cross-entropy) is
the cross-entropy against the target distribution ``q = (1 - eps) onehot(t) + eps / C``::

    loss_i = -sum_c q_c log softmax(z)_c = lse - (1 - eps) z_t - eps * mean_c z_c

Rows whose target is ``ignore_index`` have loss 0 and are left out of the mean: ``reduction='mean'``
divides by the number ``n`` of counted rows (and returns 0, not NaN, when ``n = 0``).

Backward. ``d lse / d z_c = softmax(z)_c = p_c``, so::

    d loss_i / d z_c = p_c - q_c = p_c - (1 - eps) [c = t] - eps / C

"softmax minus one-hot", times the incoming gradient of the row (``g / n`` for the mean, ``g``
for the sum, ``g_i`` for 'none'), and 0 for ignored rows. Forward keeps the shifted exponentials
``e = exp(z - m)`` (computed anyway on the way to ``lse``) and ``1 / sum(e)`` per row, so backward
is one pass over the logits: ``p * scale = e * (scale / sum(e))``.

On CuPy the log-sum-exp is one ``ReductionKernel`` and the backward one ``ElementwiseKernel`` that
forms ``(p - q) * scale`` for every logit in a single launch.
"""

from __future__ import annotations

import functools

import numpy as np

from minilm import backend
from minilm.autograd import Function, shaped
from minilm.kernels import softmax as softmax_kernels
from minilm.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")


@functools.cache
def _cuda():
    cp = backend.require_cupy()
    return {
        # p = softmax, written where the row's lse is known: p = exp(x - lse)
        "probs": cp.ElementwiseKernel("T x, T lse", "T p", "p = exp(x - lse)", "minilm_ce_probs"),
        # (p - q) * scale, with q = (1 - eps) [c == t] + eps / C; t < 0 marks an ignored row
        "grad": cp.ElementwiseKernel(
            "T p, int64 t, T scale, T eps, int64 C",
            "T dx",
            """
            const long long c = i % C;
            if (t < 0) { dx = 0; }
            else { dx = (p - (c == t ? (T)1 - eps : (T)0) - eps / (T)C) * scale; }
            """,
            "minilm_ce_grad",
        ),
    }


def _row_lse_and_exps(x2):
    """For the (M, C) logits ``x2``: each row's log-sum-exp, ``e = exp(x - m)`` (the softmax before
    normalising) and ``1 / sum(e)`` per row as an (M, 1) column, so that ``softmax = e / sum(e)``.

    NumPy leaves ``e`` unnormalised: the division is folded into the backward's one pass over
    the logits, and the row sums are a matrix-vector product (BLAS, several times faster than
    ``e.sum(axis=1)``). On CuPy a fused kernel writes the normalised ``p`` and the column is None.
    """
    m = x2.max(axis=1, keepdims=True)
    if type(x2) is np.ndarray:
        e = x2 - m
        np.exp(e, out=e)
        s = (e @ np.ones(e.shape[1], dtype=e.dtype))[:, None]
        return (m + np.log(s))[:, 0], e, 1 / s
    lse = m + backend.xp_of(x2).log(softmax_kernels._cuda()["sum_exp"](x2, m, axis=1, keepdims=True))
    return lse[:, 0], _cuda()["probs"](x2, lse), None


def _rows(x, target, ignore_index):
    """The logits as (M, C) rows, the flat targets, which rows count, targets safe to index with
    (ignored rows point at class 0) and the row numbers."""
    xp = backend.xp_of(x)
    x2 = x.reshape(-1, x.shape[-1])
    t = target.reshape(-1)
    counted = t != ignore_index
    return x2, t, counted, xp.where(counted, t, 0), xp.arange(t.shape[0])


def _reduce(loss, shape, n, reduction):
    """Per-row losses (0 on ignored rows) reduced: 'none' keeps the target's shape, 'sum' adds,
    'mean' divides by the ``n`` counted rows (a defined 0 when there are none, not 0/0)."""
    if reduction == "none":
        return loss.reshape(shape)
    total = loss.sum()
    if reduction == "sum":
        return total
    return total / n if n else total * 0


def _scale(g, reduction, n):
    """What each counted row's gradient is multiplied by: g_i ('none', as an (M, 1) column),
    g ('sum') or g / n ('mean')."""
    if reduction == "none":
        return g.reshape(-1, 1)
    return g / n if reduction == "mean" and n else g


class CrossEntropy(Function):
    op_name = "cross_entropy"

    @staticmethod
    def forward(ctx, x, target, ignore_index, reduction, label_smoothing):
        xp = backend.xp_of(x)
        x2, t, counted, t_safe, rows = _rows(x, target, ignore_index)
        lse, e, inv_s = _row_lse_and_exps(x2)
        loss = lse - (1 - label_smoothing) * x2[rows, t_safe]
        if label_smoothing:
            loss -= label_smoothing * x2.mean(axis=1)
        loss = xp.where(counted, loss, 0)
        n = int(counted.sum())
        ctx.save_for_backward(e, inv_s, xp.where(counted, t, -1))
        ctx.shape, ctx.n, ctx.reduction, ctx.eps = x.shape, n, reduction, label_smoothing
        return _reduce(loss, target.shape, n, reduction)

    @staticmethod
    def backward(ctx, g):
        e, inv_s, t = ctx.saved_tensors
        dx = cross_entropy_backward(e, inv_s, t, _scale(g, ctx.reduction, ctx.n), ctx.eps)
        return shaped(dx, ctx.shape), None, None, None, None


def cross_entropy_backward(e, inv_s, t, scale, eps):
    """``(p - q) * scale`` with ``p = e * inv_s`` the probabilities (M, C) (``inv_s`` None: ``e``
    is already ``p``) and targets ``t`` (M,), -1 marking ignored rows (which get 0); ``scale`` is
    a scalar or an (M, 1) column."""
    xp = backend.xp_of(e)
    M, C = e.shape
    if xp is not np:
        scale = xp.broadcast_to(xp.asarray(scale, dtype=e.dtype), (M, 1))
        return _cuda()["grad"](e, t[:, None], scale, e.dtype.type(eps), C)
    counted = (t >= 0)[:, None]
    scale = np.where(counted, scale, 0).astype(e.dtype, copy=False)  # (M, 1): ignored rows get 0
    dx = e * (scale * inv_s)  # p * scale, one pass over the logits
    if eps:
        dx -= scale * (eps / C)
    rows = np.flatnonzero(counted[:, 0])
    dx[rows, t[rows]] -= (1 - eps) * scale[rows, 0]
    return dx


def _check(input, target, ignore_index, reduction, label_smoothing):
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError("cross_entropy: input and target must be Tensors")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input must hold float logits, got {input.dtype}")
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: target must hold class indices (int64), got {target.dtype}; "
            "class probabilities as targets are not supported"
        )
    if input.ndim > 2 and target.shape == input.shape[:1] + input.shape[2:] and target.shape != input.shape[:-1]:
        raise ValueError(
            f"cross_entropy: input {input.shape} and target {target.shape} are in PyTorch's (N, C, ...) layout; "
            f"minilm keeps the classes in the LAST dimension: e.g. pass input.transpose(1, 2) for (N, C, T) logits"
        )
    if input.ndim < 1 or target.shape != input.shape[:-1]:
        raise ValueError(
            f"cross_entropy: input {input.shape} and target {target.shape} do not match; the classes are "
            f"the last dimension of input, so target must have shape input.shape[:-1] = {input.shape[:-1]}"
        )
    if reduction not in REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    C = input.shape[-1]
    t = target.data
    bad = (t != ignore_index) & ((t < 0) | (t >= C))
    if bool(bad.any()):
        value = int(t[bad].reshape(-1)[0])
        raise IndexError(
            f"cross_entropy: target {value} is out of range for {C} classes (valid: 0 to {C - 1}, "
            f"or ignore_index={ignore_index} to skip a row)"
        )


def reject_unsupported(op, weight, size_average, reduce):
    """PyTorch's positional slots that minilm does not implement: class weights and the two
    arguments PyTorch deprecated in favour of ``reduction``."""
    if weight is not None:
        raise NotImplementedError(f"{op}: per-class weights are not implemented in minilm; pass weight=None")
    if size_average is not None or reduce is not None:
        raise ValueError(f"{op}: size_average and reduce are deprecated in PyTorch; use reduction='mean'|'sum'|'none'")


def cross_entropy(
    input,
    target,
    weight=None,
    size_average=None,
    ignore_index: int = -100,
    reduce=None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """``F.cross_entropy``: the mean (or sum, or per-row) cross-entropy of ``input`` logits, classes
    in the last dimension, against integer ``target`` classes. See the module docstring. The
    signature is PyTorch's; ``weight``, ``size_average`` and ``reduce`` must be left unset."""
    reject_unsupported("cross_entropy", weight, size_average, reduce)
    _check(input, target, ignore_index, reduction, label_smoothing)
    if target.device != input.device:
        raise RuntimeError(f"cross_entropy: input is on {input.device} but target on {target.device}")
    return CrossEntropy.apply(
        input, target.data.astype(np.int64, copy=False), ignore_index, reduction, float(label_smoothing)
    )


class NllLoss(Function):
    """Negative log-likelihood of log-probabilities: ``loss_i = -logp_{i, t_i}``; backward puts
    ``-scale`` at each row's target and 0 elsewhere."""

    op_name = "nll_loss"

    @staticmethod
    def forward(ctx, logp, target, ignore_index, reduction):
        xp = backend.xp_of(logp)
        lp, _, counted, t_safe, rows = _rows(logp, target, ignore_index)
        loss = xp.where(counted, -lp[rows, t_safe], 0)
        n = int(counted.sum())
        ctx.save_for_backward(t_safe, counted)
        ctx.shape, ctx.n, ctx.reduction = logp.shape, n, reduction
        return _reduce(loss, target.shape, n, reduction)

    @staticmethod
    def backward(ctx, g):
        t, counted = ctx.saved_tensors
        xp = backend.xp_of(t)
        M, C = t.shape[0], ctx.shape[-1]
        scale = xp.broadcast_to(_scale(g, ctx.reduction, ctx.n), (M, 1))[:, 0]
        dx = xp.zeros((M, C), dtype=g.dtype)
        dx[xp.arange(M), t] = -scale * counted
        return shaped(dx, ctx.shape), None, None, None


def nll_loss(
    input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None, reduction: str = "mean"
):
    """``F.nll_loss``: cross-entropy when ``input`` already holds log-probabilities (classes last)."""
    reject_unsupported("nll_loss", weight, size_average, reduce)
    _check(input, target, ignore_index, reduction, 0.0)
    return NllLoss.apply(input, target.data.astype(np.int64, copy=False), ignore_index, reduction)
