r"""Embedding lookup: a gather forward and a scatter-add backward.

Forward. ``weight`` is a (V, D) table with one row per id; for integer ``ids`` of any shape::

    y[..., :] = weight[ids[...], :]

Backward. Each output row is a copy of one table row, so the gradient of table row ``v`` is the
SUM of the output gradients of every position whose id is ``v``::

    d weight[v, :] = sum over positions p with ids[p] == v of g[p, :]

A plain ``dW[ids] += g`` would keep only one of the repeated ids (fancy-index assignment does not
accumulate), so the backward is a scatter-add (``np.add.at`` on NumPy, number by number, see
``scatter_add_rows``; ``cupyx.scatter_add`` — atomic adds in one kernel — on CuPy). ``padding_idx``: that row gets no
gradient, so a padding vector stays where it was initialised (zero).

Ids are checked against ``[0, V)`` before the lookup on both devices: NumPy would raise a bare
IndexError and CuPy would silently wrap the index around.
"""

from __future__ import annotations

import numpy as np

from minilm import backend
from minilm.autograd import Function
from minilm.tensor import Tensor


class Embedding(Function):
    op_name = "embedding"

    @staticmethod
    def forward(ctx, weight, ids, padding_idx):
        ctx.save_for_backward(ids)
        ctx.shape, ctx.padding_idx = weight.shape, padding_idx
        return weight[ids]

    @staticmethod
    def backward(ctx, g):
        (ids,) = ctx.saved_tensors
        return embedding_backward(g, ids, ctx.shape, ctx.padding_idx), None, None


def embedding_backward(g, ids, shape, padding_idx=None):
    """The (V, D) gradient of the table: rows of ``g`` scatter-added at ``ids``."""
    xp = backend.xp_of(g)
    V, D = shape
    dw = xp.zeros(shape, dtype=g.dtype)
    flat_ids = ids.reshape(-1)
    g2 = g.reshape(-1, D)
    if xp is np and flat_ids.shape[0] > 4 * V:
        # Many more positions than table rows: sorting ids once and summing runs is faster than
        # np.add.at's element-by-element loop.
        order = np.argsort(flat_ids, kind="stable")
        sorted_ids = flat_ids[order]
        starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        dw[sorted_ids[starts]] = np.add.reduceat(g2[order], starts, axis=0)
    elif xp is np:
        scatter_add_rows(dw, flat_ids, g2)
    else:
        backend.scatter_add(dw, flat_ids, g2)
    if padding_idx is not None:
        dw[padding_idx] = 0
    return dw


def scatter_add_rows(dw, ids, g2, chunk: int = 1 << 20) -> None:
    """``dw[ids[i], :] += g2[i, :]`` for every row ``i`` (repeated ids accumulate), on NumPy.

    ``np.add.at`` has a fast loop only for a 1-D target addressed by 1-D indices; given row
    indices into a 2-D table it falls back to a slow general one (about 2 microseconds per row).
    So the rows are addressed number by number: entry ``(v, j)`` of the (V, D) table is number
    ``v * D + j`` of its flat view. The index arrays are built for at most ``chunk`` numbers at a
    time, to bound their memory (8 bytes per number)."""
    D = dw.shape[1]
    flat_dw, columns = dw.reshape(-1), np.arange(D)
    rows = max(1, chunk // max(D, 1))
    for i in range(0, ids.shape[0], rows):
        index = (ids[i : i + rows, None] * D + columns).reshape(-1)
        np.add.at(flat_dw, index, g2[i : i + rows].reshape(-1))


def check_ids(op: str, ids, num_embeddings: int) -> None:
    """Raise IndexError naming the first id outside ``[0, num_embeddings)`` (on CPU and GPU)."""
    if ids.size == 0:
        return
    lo, hi = int(ids.min()), int(ids.max())
    if lo < 0 or hi >= num_embeddings:
        bad = lo if lo < 0 else hi
        raise IndexError(
            f"{op}: id {bad} is outside the table of {num_embeddings} embeddings (valid ids: 0 to "
            f"{num_embeddings - 1}); is the vocabulary larger than num_embeddings?"
        )


def embedding(input, weight, padding_idx=None):
    """``F.embedding(input, weight, padding_idx=None)``: rows of ``weight`` (V, D) picked by the
    integer ids in ``input`` (any shape); output shape ``input.shape + (D,)``."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("embedding: input and weight must be Tensors")
    if input.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer ids (int64), got {input.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got shape {weight.shape}")
    if input.device != weight.device:
        raise RuntimeError(f"embedding: ids are on {input.device} but the weight is on {weight.device}")
    V = weight.shape[0]
    check_ids("embedding", input.data, V)
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} is outside the table of {V} embeddings")
        padding_idx %= V
    return Embedding.apply(weight, input.data.astype(np.int64, copy=False), padding_idx)
