r"""The Transformer encoder: ``TransformerEncoderLayer`` and ``TransformerEncoder``, with
PyTorch's names, defaults, submodules and parameter names (``self_attn``, ``linear1``,
``linear2``, ``norm1``, ``norm2``, ``dropout``, ``dropout1``, ``dropout2``), so a PyTorch
``state_dict`` loads unchanged.

One layer is two sub-blocks, each wrapped in a residual connection and a LayerNorm::

    sa(x) = dropout1(self_attn(x, x, x))                        multi-head self-attention
    ff(x) = dropout2(linear2(dropout(activation(linear1(x)))))  position-wise feed-forward

    post-norm (norm_first=False, the original Transformer and BERT):
        x = norm1(x + sa(x))
        x = norm2(x + ff(x))

    pre-norm (norm_first=True, GPT-2 and most models since):
        x = x + sa(norm1(x))
        x = x + ff(norm2(x))

Attention mixes information ACROSS positions; the feed-forward block works on each position on
its own (the same two Linear layers for every token). The residual connections give the gradient
a path around every sub-block. Pre-norm keeps that path free of normalisation (the sum of the
sub-blocks' outputs reaches the input untouched), which makes deep stacks easier to train without
a learning-rate warm-up; post-norm normalises the residual stream itself after every block.
"""

from __future__ import annotations

import copy

from minilm import backend
from minilm.creation import tensor as _tensor
from minilm.nn.functional import gelu, relu
from minilm.nn.attention import MultiheadAttention
from minilm.nn.containers import ModuleList
from minilm.nn.layers import Dropout, LayerNorm, Linear
from minilm.nn.module import Module


def _activation(activation):
    """``"relu"`` or ``"gelu"`` -> the function; a callable (a function or a Module) as it is."""
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise ValueError(
            f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {activation!r}"
        )
    if not callable(activation):
        raise TypeError(
            f"TransformerEncoderLayer: activation must be 'relu', 'gelu' or a callable, got {type(activation).__name__}"
        )
    return activation


def generate_square_subsequent_mask(sz: int, device=None, dtype=None):
    """The float causal mask (sz, sz) of ``nn.Transformer.generate_square_subsequent_mask``: 0 on
    and below the diagonal, -inf above (position i may not look at positions j > i). Passing
    ``is_causal=True`` instead does the same without building it."""
    xp = backend.xp_for(backend.device(device or "cpu"))
    dtype = backend.get_default_dtype() if dtype is None else backend.canonical_dtype(dtype)
    mask = xp.triu(xp.full((sz, sz), -xp.inf, dtype=dtype), k=1)
    return _tensor(mask, device=device)


class TransformerEncoderLayer(Module):
    """One Transformer encoder layer: self-attention and a feed-forward block, each with a residual
    connection, dropout and a LayerNorm (before the sub-block with ``norm_first=True``, after the
    residual sum otherwise). See the module docstring for the equations.

    ``forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)``: ``src`` (S, N, E),
    or (N, S, E) with ``batch_first=True``, or (S, E) unbatched; the masks as for
    ``MultiheadAttention`` (``src_mask`` is its ``attn_mask``: bool True = not allowed, or float).
    Returns a tensor shaped like ``src``.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation="relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        device=None,
        dtype=None,
    ):
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first, **kw)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    @property
    def batch_first(self) -> bool:
        return self.self_attn.batch_first

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        """``dropout1(self_attn(x, x, x))``: one matrix product projects Q, K and V together."""
        out, _ = self.self_attn(
            x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False, is_causal=is_causal
        )
        return self.dropout1(out)

    def _ff_block(self, x):
        """``dropout2(linear2(dropout(activation(linear1(x)))))``."""
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """A stack of ``num_layers`` INDEPENDENT copies of ``encoder_layer`` (``copy.deepcopy``: each
    has its own parameters; the layer passed in is only the template), then ``norm`` if given
    (pre-norm stacks need one at the end, since their residual stream is never normalised).

    ``forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`` passes the masks to every
    layer. ``is_causal=True`` without a mask makes every layer causal; ``None`` means False.
    ``enable_nested_tensor`` and ``mask_check`` are accepted for PyTorch compatibility and change
    nothing (PyTorch uses them for a fast path of its own; note that its eval-mode fast path returns
    zeros at padded positions, where this class computes them as usual).
    """

    def __init__(
        self, encoder_layer, num_layers: int, norm=None, enable_nested_tensor: bool = True, mask_check: bool = True
    ):
        super().__init__()
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module, got {type(encoder_layer).__name__}")
        if int(num_layers) < 0:
            raise ValueError(f"TransformerEncoder: num_layers must be >= 0, got {num_layers}")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(int(num_layers))])
        self.num_layers = int(num_layers)
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal=None):
        is_causal = bool(is_causal)
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


__all__ = ["TransformerEncoder", "TransformerEncoderLayer", "generate_square_subsequent_mask"]
