r"""Attention for an encoder-decoder: which source words should the decoder look at now?

An encoder turns a source sentence of ``S`` words into ``S`` vectors, the *keys* and *values*
(here both are the encoder's outputs). At each step the decoder has a *query*, its own state. An
attention layer scores every key against the query, turns the scores into weights with a softmax,
and returns the weighted average of the values, the *context*::

    e_j = score(q, k_j)                 j = 1..S            (one number per source position)
    a_j = exp(e_j) / sum_i exp(e_i)     over real positions  (the attention weights, sum 1)
    c   = sum_j a_j v_j                                      (the context vector)

The weights are a distribution over source positions: drawn as a picture (rows: output words,
columns: source words) they show what the model "reads" while it writes each word.

Two scores, both from the papers that introduced attention for translation:

- ``DotAttention``, Luong et al. (2015), "dot": ``score(q, k) = q . k``. No parameters; the query
  and the keys must have the same size. ``scaled=True`` divides by ``sqrt(H)`` as the Transformer
  does (chapter 07); the default is Luong's unscaled score. (Without the scale the scores of
  random H-dimensional vectors have a standard deviation that grows like ``sqrt(H)``, so the
  softmax saturates sooner for large ``H``; for the small sizes here both work.)
- ``AdditiveAttention``, Bahdanau et al. (2015): ``score(q, k) = v^T tanh(W_q q + W_k k + b)``, a
  one-hidden-layer network on the pair. It works for any sizes of query and key, and ``W_k k + b``
  does not depend on the decoder step: ``precompute_keys`` computes it once per sentence, so each
  step costs only ``W_q q`` and the tanh.

Padding. A batch pads short sentences to the longest; the padded positions are no words and must
get weight exactly 0. ``masked_softmax`` sets their scores to ``-inf`` before the softmax, and
``exp(-inf) = 0`` exactly. The gradient follows: the softmax backward ``a * (g - sum(g a))`` is 0
where ``a`` is 0, so nothing flows into a padded score either. A row with *no* real position would
be ``0 / 0 = nan``; it cannot happen for a batch of sentences, because every source has at least
one token (``pack_padded_sequence`` rejects a length of 0), and ``masked_softmax`` raises rather
than return a row of nan if it ever did.

Shapes (``N`` sentences, ``S`` source positions)::

    query (N, Hq)   keys (N, S, Hk)   values (N, S, Hv)   mask (N, S) bool, True = real token
    -> context (N, Hv), weights (N, S)
"""

from __future__ import annotations

import math

from minilm import backend
from minilm.nn import functional as F
from minilm.nn.layers import Linear
from minilm.nn.module import Module
from minilm.tensor import Tensor

__all__ = ["AdditiveAttention", "DotAttention", "attend", "masked_softmax"]


def masked_softmax(scores: Tensor, mask=None) -> Tensor:
    """Softmax of ``scores`` (N, S) over the last dimension, counting only the positions where
    ``mask`` (N, S) is True: the others get weight exactly 0 (and no gradient). ``mask=None``: all
    positions are real. Raises ``ValueError`` if a row of ``mask`` has no True entry."""
    if mask is None:
        return F.softmax(scores, dim=-1)
    if not isinstance(mask, Tensor):
        mask = Tensor(backend.to_device(backend.xp_of(mask).asarray(mask), scores.device))
    if tuple(mask.shape) != tuple(scores.shape):
        raise ValueError(f"masked_softmax: mask must have the shape of the scores {scores.shape}, got {mask.shape}")
    xp = backend.xp_of(mask.data)
    empty = ~mask.data.any(axis=-1)
    if bool(empty.any()):
        row = int(xp.argmax(empty))
        raise ValueError(
            f"masked_softmax: row {row} of the mask has no real position, so its weights would be 0/0; "
            "every source sentence needs at least one token"
        )
    return F.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


def attend(scores: Tensor, values: Tensor, mask=None) -> tuple[Tensor, Tensor]:
    """``(context, weights)``: ``weights = masked_softmax(scores, mask)`` (N, S) and
    ``context = sum_j weights_j values_j`` (N, Hv), as one batched product (N, 1, S) @ (N, S, Hv)."""
    weights = masked_softmax(scores, mask)
    context = (weights.unsqueeze(1) @ values).squeeze(1)
    return context, weights


def _check_shapes(name: str, query: Tensor, keys: Tensor, values: Tensor) -> None:
    """Raise a ``ValueError`` naming the shapes if query (N, Hq), keys (N, S, Hk) and values
    (N, S, Hv) do not fit together."""
    ok = query.ndim == 2 and keys.ndim == 3 and values.ndim == 3
    ok = ok and query.shape[0] == keys.shape[0] == values.shape[0] and keys.shape[1] == values.shape[1]
    if not ok:
        raise ValueError(
            f"{name}: expected query (N, Hq), keys (N, S, Hk) and values (N, S, Hv); got query {query.shape}, "
            f"keys {keys.shape}, values {values.shape}"
        )


class DotAttention(Module):
    """Luong's dot score ``q . k`` (``scaled=True``: ``q . k / sqrt(H)``). No parameters.

    ``forward(query, keys, values, mask=None) -> (context, weights)``; the query and the keys must
    have the same size ``H``."""

    def __init__(self, scaled: bool = False):
        super().__init__()
        self.scaled = bool(scaled)

    def scores(self, query: Tensor, keys: Tensor) -> Tensor:
        """``e_j = q . k_j`` (N, S), as the batched product (N, S, H) @ (N, H, 1)."""
        e = (keys @ query.unsqueeze(-1)).squeeze(-1)
        return e * (1 / math.sqrt(keys.shape[-1])) if self.scaled else e

    def forward(self, query, keys, values, mask=None, projected_keys=None):
        """``projected_keys`` is accepted and ignored, so that both attentions have one signature."""
        _check_shapes("DotAttention", query, keys, values)
        if query.shape[1] != keys.shape[2]:
            raise ValueError(
                f"DotAttention: the query size {query.shape[1]} must equal the key size {keys.shape[2]}; "
                "use AdditiveAttention (or a Linear on the query) for different sizes"
            )
        return attend(self.scores(query, keys), values, mask)

    def precompute_keys(self, keys: Tensor):
        """Nothing to precompute for the dot score: returns None."""
        return None

    def extra_repr(self) -> str:
        return "scaled=True" if self.scaled else ""


class AdditiveAttention(Module):
    """Bahdanau's score ``v^T tanh(W_q q + W_k k + b)``.

    ``W_q``: ``query_proj`` = Linear(query_size, hidden_size, bias=False); ``W_k`` and ``b``:
    ``key_proj`` = Linear(key_size, hidden_size) (one bias is enough: two would add up to one);
    ``v``: ``score_proj`` = Linear(hidden_size, 1, bias=False).

    ``precompute_keys(keys)`` returns ``W_k k + b`` (N, S, hidden_size); pass it as
    ``projected_keys`` to every step's ``forward`` so that it is computed once per sentence."""

    def __init__(self, query_size: int, key_size: int, hidden_size: int, device=None, dtype=None):
        super().__init__()
        for name, value in (("query_size", query_size), ("key_size", key_size), ("hidden_size", hidden_size)):
            if int(value) != value or value < 1:
                raise ValueError(f"AdditiveAttention: {name} must be a positive whole number, got {value!r}")
        self.query_size, self.key_size, self.hidden_size = int(query_size), int(key_size), int(hidden_size)
        self.query_proj = Linear(query_size, hidden_size, bias=False, device=device, dtype=dtype)
        self.key_proj = Linear(key_size, hidden_size, device=device, dtype=dtype)
        self.score_proj = Linear(hidden_size, 1, bias=False, device=device, dtype=dtype)

    def precompute_keys(self, keys: Tensor) -> Tensor:
        """``W_k k + b`` for every key: (N, S, key_size) -> (N, S, hidden_size)."""
        if keys.ndim != 3 or keys.shape[2] != self.key_size:
            raise ValueError(f"AdditiveAttention: keys must be (N, S, {self.key_size}), got {keys.shape}")
        return self.key_proj(keys)

    def scores(self, query: Tensor, projected_keys: Tensor) -> Tensor:
        """``e_j = v^T tanh(W_q q + (W_k k_j + b))`` (N, S); the query's projection (N, A) is
        broadcast over the S positions."""
        hidden = (projected_keys + self.query_proj(query).unsqueeze(1)).tanh()  # (N, S, A)
        return self.score_proj(hidden).squeeze(-1)

    def forward(self, query, keys, values, mask=None, projected_keys=None):
        _check_shapes("AdditiveAttention", query, keys, values)
        if query.shape[1] != self.query_size:
            raise ValueError(f"AdditiveAttention: expected a query of size {self.query_size}, got {query.shape}")
        if projected_keys is None:
            projected_keys = self.precompute_keys(keys)
        return attend(self.scores(query, projected_keys), values, mask)

    def extra_repr(self) -> str:
        return f"query_size={self.query_size}, key_size={self.key_size}, hidden_size={self.hidden_size}"
