r"""Position information for a Transformer: fixed sinusoids or a learned table.

Self-attention by itself does not see order: permuting the tokens of a sequence permutes the
outputs the same way. A Transformer therefore adds to each token's embedding a vector that
depends on its position ``pos`` only.

**Sinusoidal encodings** (Vaswani et al. 2017) are fixed. Dimension pairs ``(2i, 2i+1)`` hold a
sine and a cosine of the position at the angular frequency ``w_i = 10000^(-2i/d_model)``::

    PE[pos, 2i]     = sin(pos * w_i)
    PE[pos, 2i + 1] = cos(pos * w_i)                    (i = 0, 1, ..., ceil(d_model/2) - 1)

The wavelengths ``2 pi / w_i`` grow geometrically from ``2 pi`` to ``10000 * 2 pi``, so every
position gets a different vector, nearby positions similar ones, and the code extends to
positions never seen in training. Each pair is a point on a circle that turns by the angle
``k * w_i`` when the position moves by ``k``; the encoding of ``pos + k`` is therefore a fixed
rotation (depending on ``k`` only) of the encoding of ``pos``, which lets attention express
relative offsets with a linear map. With an odd ``d_model`` the last column is a sine alone.

**Learned positional embeddings** (BERT, GPT) are a trainable table with one row per position:
nothing is assumed, and nothing extends beyond ``max_len``.

Both modules here take ``x`` of shape (N, L, d_model) (or (L, N, d_model) with
``batch_first=False``) and return ``x + P[:L]`` broadcast over the batch.
"""

from __future__ import annotations

import math

import numpy as np

from minilm import backend
from minilm.creation import zeros
from minilm.kernels import dropout as _dropout
from minilm.nn import init
from minilm.nn.module import Module
from minilm.nn.parameter import Parameter
from minilm.tensor import Tensor


def sinusoidal_position_encoding(max_len: int, d_model: int, dtype=None) -> np.ndarray:
    """The (max_len, d_model) NumPy array ``PE`` of the module docstring, in ``dtype`` (default:
    minilm's default float dtype). Computed in float64 and rounded once at the end."""
    max_len, d_model = int(max_len), int(d_model)
    if max_len < 0 or d_model <= 0:
        raise ValueError(
            f"sinusoidal_position_encoding: need max_len >= 0 and d_model > 0, got max_len={max_len}, d_model={d_model}"
        )
    dtype = backend.get_default_dtype() if dtype is None else backend.canonical_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"sinusoidal_position_encoding: dtype must be float32 or float64, got {dtype}")
    position = np.arange(max_len, dtype=np.float64)[:, None]  # (max_len, 1)
    two_i = np.arange(0, d_model, 2, dtype=np.float64)  # 0, 2, 4, ...: the even columns
    frequency = np.exp(-math.log(10000.0) * two_i / d_model)  # w_i = 10000^(-2i/d)
    angle = position * frequency  # (max_len, ceil(d/2))
    pe = np.empty((max_len, d_model), dtype=np.float64)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])  # one fewer cosine column when d_model is odd
    return pe.astype(dtype)


def _check_input(who: str, x, d_model: int, max_len: int, batch_first: bool) -> int:
    """The sequence length of ``x``, after checking its shape against the module's settings."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: expected a Tensor, got {type(x).__name__}")
    layout = "(N, L, d_model)" if batch_first else "(L, N, d_model)"
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise ValueError(
            f"{who}: expected an input of shape {layout} or (L, d_model) with d_model={d_model}, got shape {x.shape}"
        )
    length = x.shape[1] if (x.ndim == 3 and batch_first) else x.shape[0]
    if length > max_len:
        raise ValueError(
            f"{who}: the sequence has {length} positions but the module was built with max_len={max_len}; "
            f"build it with a larger max_len or cut the sequence"
        )
    return length


def _positions_for(table, length: int, ndim: int, batch_first: bool):
    """The first ``length`` rows of ``table`` shaped to broadcast against the input: (L, d) for
    (N, L, d) and (L, d) inputs, (L, 1, d) for (L, N, d)."""
    rows = table[:length]
    return rows if (batch_first or ndim == 2) else rows.unsqueeze(1)


class SinusoidalPositionalEncoding(Module):
    """``dropout(x + PE[:L])`` with the fixed sinusoidal ``PE`` (see the module docstring).

    ``pe`` is a non-persistent buffer (max_len, d_model): it moves with ``to()`` but is not saved,
    since it is recomputed from the two sizes."""

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0, batch_first: bool = True):
        super().__init__()
        self.d_model, self.max_len, self.batch_first = int(d_model), int(max_len), bool(batch_first)
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"SinusoidalPositionalEncoding: dropout must be between 0 and 1, got {dropout}")
        self.dropout = float(dropout)
        self.register_buffer("pe", Tensor(sinusoidal_position_encoding(max_len, d_model)), persistent=False)

    def to(self, *args, **kwargs) -> "SinusoidalPositionalEncoding":
        """As ``Module.to``, but a new float dtype recomputes ``pe`` from the formula rather than
        rounding the old values (float32 -> float64 would otherwise keep float32 precision)."""
        old = self.pe.dtype
        super().to(*args, **kwargs)
        if self.pe.dtype != old:
            fresh = sinusoidal_position_encoding(self.max_len, self.d_model, self.pe.dtype)
            self.pe.data = backend.to_device(fresh, self.pe.device)
        return self

    def forward(self, x):
        length = _check_input(type(self).__name__, x, self.d_model, self.max_len, self.batch_first)
        rows = self.pe.data[:length]
        if rows.dtype != x.dtype:  # the input has another float dtype than the buffer: compute it in that one
            rows = backend.to_device(sinusoidal_position_encoding(length, self.d_model, x.dtype), x.device)
        out = x + _positions_for(Tensor._wrap(rows), length, x.ndim, self.batch_first)
        return _dropout(out, self.dropout, self.training)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}, dropout={self.dropout}, batch_first={self.batch_first}"


class LearnedPositionalEmbedding(Module):
    """``x + weight[:L]`` with a trainable ``weight`` (max_len, d_model), one row per position, as
    BERT's and GPT's position embeddings. Starts as N(0, 0.02^2), the scale BERT and GPT-2 use
    (an ``nn.Embedding``'s N(0, 1) would drown the token embeddings)."""

    def __init__(self, max_len: int, d_model: int, batch_first: bool = True, device=None, dtype=None):
        super().__init__()
        self.max_len, self.d_model, self.batch_first = int(max_len), int(d_model), bool(batch_first)
        self.weight = Parameter(zeros(self.max_len, self.d_model, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.normal_(self.weight, 0.0, 0.02)

    def forward(self, x):
        length = _check_input(type(self).__name__, x, self.d_model, self.max_len, self.batch_first)
        return x + _positions_for(self.weight, length, x.ndim, self.batch_first)

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}, batch_first={self.batch_first}"


__all__ = ["LearnedPositionalEmbedding", "SinusoidalPositionalEncoding", "sinusoidal_position_encoding"]
