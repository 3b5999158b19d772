r"""Scaled dot-product attention, one kernel with a hand-derived backward.

Shapes (``...`` are leading dimensions such as batch and heads; they broadcast)::

    Q (..., L, E)   K (..., S, E)   V (..., S, Ev)   mask broadcastable to (..., L, S)   ->   O (..., L, Ev)

Forward, with ``c = scale`` (default ``1/sqrt(E)``) and the mask ``M`` written as a number to add
(a boolean mask, True = may attend, becomes ``M = 0`` where True and ``-inf`` where False)::

    S = c Q K^T + M                              (..., L, S)   the scores
    P = softmax(S) along the last axis           (..., L, S)   the attention probabilities
    D = keep / (1 - p),  keep ~ Bernoulli(1 - p)               dropout on P (D = 1 when p = 0)
    O = (P * D) V                                (..., L, Ev)

The softmax subtracts each row's maximum first (``exp`` of a number <= 0 never overflows) and a
masked score of ``-inf`` gets ``exp(-inf) = 0``: exactly zero weight. The dropout mask is drawn
with the backend RNG, so ``minilm.manual_seed`` makes it reproducible; ``E[D] = 1``, so the
expected output is the output without dropout.

A row whose keys are ALL masked has no distribution to speak of (``0 / 0``). Here it gets
``P = 0``, so ``O = 0`` there, and every gradient through that row is 0: never ``nan`` (PyTorch's
``scaled_dot_product_attention`` does the same; a softmax written naively gives ``nan``).

Backward, from ``dO = dL/dO``. Write ``Pd = P * D`` (what ``V`` is multiplied with)::

    dV  = Pd^T dO                                (..., S, Ev)
    dPd = dO V^T,   dP = dPd * D                 (..., L, S)
    dS  = P * (dP - rowsum(dP * P))              the softmax backward, row by row
    dQ  = c dS K,   dK = c dS^T Q,   dM = dS     (a float mask gets the score gradient)

The softmax line: ``dP_ij/dS_ik = P_ij (delta_jk - P_ik)``, so ``dS_ik = P_ik (dP_ik - sum_j dP_ij P_ij)``.
Two facts make it cheaper than it looks:

* ``rowsum(dP * P) = rowsum(dO * O)``: ``sum_j P_ij dP_ij = sum_j Pd_ij (dO_i . V_j) = dO_i . O_i``.
  That is a sum over ``Ev`` numbers per row instead of ``S`` (the FlashAttention trick).
* ``P * dP = Pd * dPd``, so ``dS = Pd * dPd - P * rowsum``: the dropout mask is never applied
  separately; it is carried by the saved ``Pd``.

Where ``P = 0`` (masked keys, fully masked rows), ``dS = 0``: no gradient reaches a masked score,
nor ``Q``/``K`` through it. A float mask's gradient ``dS`` has the broadcast shape (..., L, S);
the autograd engine sums it back to the mask's own shape (as for any broadcast input).

Forward saves ``cQ, K, V, P, Pd, O`` (``Pd`` is ``P`` itself without dropout: no copy).

Where the time goes. The matrix products are BLAS (cuBLAS on a GPU) on the arrays as they come:
BLAS reads transposed and strided views (the heads of a multi-head layer) without a copy. The
rest is passes over the (..., L, S) arrays, which are the biggest ones, so they are kept few:

* the scale multiplies ``Q`` (L*E numbers) before the product instead of the scores (L*S);
* the softmax works in place in the score array, which becomes ``P``;
* on NumPy, ``softmax_unshifted_`` skips the row maximum (two passes) when one cheap check shows
  that ``exp`` can neither overflow nor underflow a whole row; otherwise ``masked_softmax_``;
* backward: the score gradient is computed in place in ``dPd``, with the two facts above.

On CUDA the pointwise and row work is fused with CuPy (``ReductionKernel`` / ``ElementwiseKernel``):
the row sum of exponentials is one reduction, normalise-and-dropout one pass (writing ``P`` and
``Pd`` together), and backward one reduction (``rowsum(dO * O)``) and one pass for ``dS``.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.tensor import Tensor


@functools.cache
def _cuda():
    """The fused CuPy kernels (built on first use; CuPy compiles each once per dtype)."""
    cp = backend.require_cupy()
    return {
        # z = sum_j exp(S_j - max); a fully masked row (max = -inf) uses 0 instead, and sums to 0
        "sum_exp": cp.ReductionKernel(
            "T s, T mx",
            "T z",
            "exp(s - (isinf(mx) ? (T)0 : mx))",
            "a + b",
            "z = a",
            "0",
            "minilm_attn_sum_exp",
        ),
        # P = exp(S - max) / z in place of S, and 0 on a fully masked row (z = 0)
        "normalize": cp.ElementwiseKernel(
            "T mx, T z", "T s", "s = z > (T)0 ? exp(s - mx) / z : (T)0", "minilm_attn_softmax"
        ),
        # the same, and dropout in the same pass: Pd = P * [u >= p] / (1 - p)
        "normalize_dropout": cp.ElementwiseKernel(
            "T mx, T z, T u, T drop, T inv_keep",
            "T s, T pd",
            "s = z > (T)0 ? exp(s - mx) / z : (T)0; pd = u >= drop ? s * inv_keep : (T)0",
            "minilm_attn_softmax_dropout",
        ),
        # r = rowsum(dO * O)
        "row_dot": cp.ReductionKernel("T g, T o", "T r", "g * o", "a + b", "r = a", "0", "minilm_attn_row_dot"),
        # dS = Pd * dPd - P * r, in place of dPd
        "softmax_bwd": cp.ElementwiseKernel(
            "T pd, T p, T r", "T ds", "ds = pd * ds - p * r", "minilm_attn_softmax_bwd"
        ),
    }


# ---------------------------------------------------------------------------------------------
# the math on arrays (NumPy or CuPy): small functions, one step of the derivation each
# ---------------------------------------------------------------------------------------------


def masked_softmax_(scores, mask, dropout_p=0.0, u=None):
    """``P = softmax(scores + mask)`` along the last axis, computed IN PLACE (the array ``scores``
    becomes ``P``), and ``Pd``, ``P`` after dropout (``P`` itself when ``dropout_p == 0``).

    ``mask`` is an additive float array broadcastable to ``scores`` (0 = keep, -inf = masked) or
    None; a row whose entries are all ``-inf`` becomes all zeros. ``u``: uniform numbers shaped
    like ``scores``; ``Pd = P * [u >= dropout_p] / (1 - dropout_p)``. Returns ``(P, Pd)``.

    This is the classic stable softmax: subtract each row's maximum, exponentiate, normalise."""
    if mask is not None:
        scores += mask
    if backend.xp_of(scores) is np:
        mx = np.fmax.reduce(scores, axis=-1, keepdims=True)  # fmax: the fastest row maximum NumPy has
        mx[np.isneginf(mx)] = 0  # a fully masked row: exp(-inf - 0) = 0 instead of exp(nan)
        scores -= mx
        np.exp(scores, out=scores)
        z = scores.sum(axis=-1, keepdims=True)
        z[z == 0] = 1  # only a fully masked row sums to 0 (any other row holds an exp(0) = 1)
        scores *= np.reciprocal(z, out=z)
        return scores, dropout_probabilities(scores, dropout_p, u)
    k = _cuda()
    mx = scores.max(axis=-1, keepdims=True)
    z = k["sum_exp"](scores, mx, axis=-1, keepdims=True)
    if dropout_p == 0:
        k["normalize"](mx, z, scores)
        return scores, scores
    dt = scores.dtype.type
    inv_keep = dt(1 / (1 - dropout_p)) if dropout_p < 1 else dt(0)
    Pd = backend.xp_of(scores).empty_like(scores)
    k["normalize_dropout"](mx, z, u, dt(dropout_p), inv_keep, scores, Pd)
    return scores, Pd


# How far from 0 the scores may be for softmax_unshifted_: exp(40) = 2.4e17 and exp(-40) = 4e-18
# are far inside float32's range (about 1e-38 to 3e38), exp(+-300) inside float64's.
_UNSHIFTED_LIMIT = {np.dtype(np.float32): 40.0, np.dtype(np.float64): 300.0}


def softmax_unshifted_(scores, mask):
    """The same ``P = softmax(scores + mask)`` as ``masked_softmax_`` (NumPy only, in place),
    without the row maximum: two passes fewer over the biggest array, when that is safe.

    Softmax does not change when a row is shifted by a constant; the classic version subtracts
    the row maximum only so that ``exp`` cannot overflow. If no score exceeds a limit ``c``
    (``exp(c)`` far from overflowing) the shift is not needed, and one cheap ``max`` over the whole
    array says so. The other danger is a row whose every ``exp`` underflows (all scores very
    negative, or all masked): its sum ``z`` is then tiny or 0. Both are checked; if either
    happens this returns None, and ``scores`` has been overwritten: the caller recomputes the
    scores and takes ``masked_softmax_``."""
    limit = _UNSHIFTED_LIMIT.get(scores.dtype)
    if limit is None:
        return None
    if mask is not None:
        scores += mask
    if not scores.max() <= limit:  # (also False for nan: the classic path then shows the nan)
        return None
    np.exp(scores, out=scores)
    z = scores.sum(axis=-1, keepdims=True)
    if not z.min() >= math.exp(-limit):  # z >= e^-c  =>  row max >= -c - log(S): no row underflows
        return None
    scores *= np.reciprocal(z, out=z)
    return scores


def dropout_probabilities(P, p, u):
    """``Pd = P * [u >= p] / (1 - p)`` for NumPy arrays (``P`` itself when ``p == 0``): inverted
    dropout (``minilm/kernels/dropout.py``) of the attention probabilities, with the uniform
    numbers ``u``. The mask is applied once here and never again: backward needs only ``Pd``."""
    if p == 0:
        return P
    Pd = P * (P.dtype.type(1 / (1 - p)) if p < 1 else P.dtype.type(0))
    Pd *= u >= p
    return Pd


def masked_softmax_backward_(dPd, P, Pd, out, dout):
    """The score gradient ``dS = Pd * dPd - P * rowsum(dO * O)``, computed IN PLACE in ``dPd``
    (which becomes ``dS``); ``out`` is the forward output ``O`` and ``dout`` its gradient ``dO``.
    Without dropout ``Pd is P`` and this is the plain softmax backward ``P * (dP - rowsum(dP * P))``
    (see the module docstring for why the two row sums are equal)."""
    if backend.xp_of(dPd) is np:
        r = np.einsum("...i,...i->...", dout, out)[..., None]
        if Pd is P:  # dS = P * (dP - r): two passes, no temporary of size (L, S)
            dPd -= r
            dPd *= P
            return dPd
        dPd *= Pd
        dPd -= P * r
        return dPd
    k = _cuda()
    r = k["row_dot"](dout, out, axis=-1, keepdims=True)
    k["softmax_bwd"](Pd, P, r, dPd)
    return dPd


def attention_forward(q, k, v, mask, scale, dropout_p):
    """``(O, P, Pd, qs)`` for arrays ``q`` (..., L, E), ``k`` (..., S, E), ``v`` (..., S, Ev) and
    the additive float ``mask`` (or None); ``qs = scale * q``.

    The scale is applied to ``Q`` (L*E numbers) rather than to the scores (L*S numbers): the same
    product, one pass less over the biggest array."""
    xp = backend.xp_of(q)
    qs = q * q.dtype.type(scale)
    kt = k.swapaxes(-1, -2)
    scores = xp.matmul(qs, kt)
    u = None
    if dropout_p > 0:
        u = backend.random_uniform(backend.device_of(q), scores.shape, scores.dtype)
    if xp is np:
        P = softmax_unshifted_(scores, mask)
        if P is not None:
            Pd = dropout_probabilities(P, dropout_p, u)
            return xp.matmul(Pd, v), P, Pd, qs
        scores = xp.matmul(qs, kt)  # the scores were overwritten: start again, the classic way
    P, Pd = masked_softmax_(scores, mask, dropout_p, u)
    return xp.matmul(Pd, v), P, Pd, qs


def attention_backward(dout, qs, k, v, P, Pd, out, scale, needs):
    """Gradients ``(dQ, dK, dV, dM)`` (None where ``needs`` says no one wants it), as the module
    docstring derives them; ``qs = scale * Q`` as saved by the forward pass."""
    xp = backend.xp_of(dout)
    dq = dk = dv = dm = None
    if needs[2]:
        dv = xp.matmul(Pd.swapaxes(-1, -2), dout)  # dV = Pd^T dO
    if needs[0] or needs[1] or needs[3]:
        dS = masked_softmax_backward_(xp.matmul(dout, v.swapaxes(-1, -2)), P, Pd, out, dout)
        if needs[0]:
            dq = xp.matmul(dS, k)  # dQ = scale dS K
            dq *= dq.dtype.type(scale)
        if needs[1]:
            dk = xp.matmul(dS.swapaxes(-1, -2), qs)  # dK = dS^T (scale Q)
        if needs[3]:
            dm = dS
    return dq, dk, dv, dm


class ScaledDotProductAttention(Function):
    op_name = "scaled_dot_product_attention"

    @staticmethod
    def forward(ctx, q, k, v, mask, scale, dropout_p, weights_out=None):
        out, P, Pd, qs = attention_forward(q, k, v, mask, scale, dropout_p)
        ctx.save_for_backward(qs, k, v, P, Pd, out)
        ctx.scale = scale
        if weights_out is not None:
            weights_out.append(P)
        return out

    @staticmethod
    def backward(ctx, g):
        qs, k, v, P, Pd, out = ctx.saved_tensors
        return attention_backward(g, qs, k, v, P, Pd, out, ctx.scale, ctx.needs_input_grad)


# ---------------------------------------------------------------------------------------------
# checking the arguments, and the public functions
# ---------------------------------------------------------------------------------------------

_OP = "scaled_dot_product_attention"


def _check_qkv(op, query, key, value):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be a float tensor, got {t.dtype}; convert it with .float()")
        if t.ndim < 2:
            raise ValueError(f"{op}: {name} must have at least 2 dimensions (..., length, features), got {t.shape}")
    if key.dtype != query.dtype or value.dtype != query.dtype:
        raise TypeError(
            f"{op}: query, key and value must have one dtype, got {query.dtype}, {key.dtype} and {value.dtype}; "
            f"convert them, e.g. with .to(minilm.{query.dtype})"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"{op}: query {query.shape} and key {key.shape} must have the same last dimension E "
            f"(the query/key feature size): {query.shape[-1]} != {key.shape[-1]}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"{op}: key {key.shape} and value {value.shape} must have the same number of positions S "
            f"(second-to-last dimension): {key.shape[-2]} != {value.shape[-2]}"
        )
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise ValueError(
            f"{op}: the leading dimensions of query {query.shape}, key {key.shape} and value {value.shape} "
            "do not broadcast together"
        ) from None
    return batch


def _score_batch(query, key):
    return np.broadcast_shapes(query.shape[:-2], key.shape[:-2])


def _mask_argument(op, attn_mask, is_causal, query, key):
    """The mask as ``Function.apply`` takes it: None, an additive float Tensor (the user's own,
    so that it can get a gradient) or an additive float array made from a boolean mask."""
    L, S = query.shape[-2], key.shape[-2]
    if is_causal:
        if attn_mask is not None:
            raise ValueError(
                f"{op}: give either attn_mask or is_causal=True, not both (is_causal is itself the mask "
                "'query i may attend to keys 0..i'); fold the causal rule into attn_mask if you need both"
            )
        return causal_mask(L, S, query.dtype, query.device)
    if attn_mask is None:
        return None
    if not isinstance(attn_mask, Tensor):
        attn_mask = Tensor(attn_mask, device=query.device)
    scores_shape = _score_batch(query, key) + (L, S)
    try:
        ok = np.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: attn_mask of shape {attn_mask.shape} does not broadcast to the attention scores' shape "
            f"{scores_shape} (..., L, S) of query {query.shape} and key {key.shape}"
        )
    if attn_mask.device != query.device:
        raise RuntimeError(f"{op}: attn_mask is on {attn_mask.device} but query on {query.device}; move one")
    if attn_mask.dtype == np.bool_:
        return additive_mask(attn_mask.data, query.dtype)
    if attn_mask.dtype.kind == "f":
        if attn_mask.dtype != query.dtype:
            raise TypeError(
                f"{op}: a float attn_mask must have the query's dtype {query.dtype}, got {attn_mask.dtype}; "
                f"convert it with .to(minilm.{query.dtype})"
            )
        return attn_mask
    raise TypeError(
        f"{op}: attn_mask must be boolean (True = may attend) or float (added to the scores), got {attn_mask.dtype}"
    )


def additive_mask(allowed, dtype):
    """A boolean mask (True = may attend) as numbers to add to the scores: 0 where allowed, -inf
    where not. The result has the mask's own (usually small, broadcastable) shape."""
    xp = backend.xp_of(allowed)
    out = xp.zeros(allowed.shape, dtype=dtype)
    out[~allowed] = -np.inf
    return out


@functools.lru_cache(maxsize=32)
def _causal_cpu(L, S, dtype):
    m = additive_mask(np.tri(L, S, dtype=bool), dtype)
    m.flags.writeable = False
    return m


def causal_mask(L, S, dtype, device="cpu"):
    """The additive mask of ``is_causal=True``: query ``i`` may attend to keys ``j <= i`` (the
    lower triangle, aligned at the top-left corner as PyTorch does), ``-inf`` above the diagonal."""
    dev = backend.device(device)
    if dev.type == "cpu":
        return _causal_cpu(L, S, np.dtype(dtype))
    with backend.on_device(dev):
        return additive_mask(backend.xp_for(dev).tri(L, S, dtype=bool), dtype)


def _attention(op, query, key, value, attn_mask, dropout_p, is_causal, scale, weights_out):
    _check_qkv(op, query, key, value)
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"{op}: dropout_p must be between 0 and 1, got {dropout_p}")
    mask = _mask_argument(op, attn_mask, is_causal, query, key)
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    return ScaledDotProductAttention.apply(
        query, key, value, mask, scale=scale, dropout_p=float(dropout_p), weights_out=weights_out
    )


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """``F.scaled_dot_product_attention``: ``softmax(query key^T * scale + mask) value``.

    query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); leading dimensions
    broadcast. ``attn_mask``: boolean (True = may attend) or float (added to the scores),
    broadcastable to (..., L, S). ``is_causal=True``: query ``i`` sees keys ``0..i`` (not together
    with ``attn_mask``). ``dropout_p``: dropout on the attention probabilities; pass 0.0 when
    evaluating (this function does not know about ``train()``/``eval()``, as in PyTorch).
    ``scale`` defaults to ``1/sqrt(E)``. A query whose keys are all masked gets output 0 (and
    gradient 0), never nan."""
    return _attention(_OP, query, key, value, attn_mask, dropout_p, is_causal, scale, None)


def attention_with_weights(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """``scaled_dot_product_attention`` that also returns the attention probabilities: ``(out,
    weights)`` with weights (..., L, S) after masking and before dropout (rows sum to 1, or are
    all 0 for a fully masked query). ``weights`` does not require grad (gradients flow through
    ``out`` only) and shares memory with what backward uses: do not modify it in place."""
    box = []
    out = _attention("attention_with_weights", query, key, value, attn_mask, dropout_p, is_causal, scale, box)
    return out, Tensor._wrap(box[0])
