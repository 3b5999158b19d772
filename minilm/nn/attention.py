r"""``MultiheadAttention``, with PyTorch's names, shapes, defaults and mask conventions.

For a query sequence ``x_q`` (L tokens) and a key/value sequence ``x_kv`` (S tokens), each of
width ``E = embed_dim``, split into ``H = num_heads`` heads of width ``d = E / H``::

    [Q | K | V] = [x_q | x_kv | x_kv] W_in^T + b_in        W_in = in_proj_weight (3E, E)
    Q_h, K_h, V_h  = columns h*d .. (h+1)*d of Q, K, V       (one slice per head)
    O_h = softmax(Q_h K_h^T / sqrt(d) + mask) V_h            (L, d)  -- the attention kernel
    out = [O_1 | ... | O_H] W_out^T + b_out                  out_proj (E, E)

Each head attends with its own d-dimensional projections, so different heads can look for
different things (a previous token, a matching bracket, the subject of a verb) at the cost of one
head of width E. The rows of ``in_proj_weight`` are the query, key and value projections stacked
in that order: ``in_proj_weight[:E]`` is W_q, ``[E:2E]`` W_k, ``[2E:]`` W_v.

How the work is laid out (this layer runs in every Transformer block, so it is written for speed):

- Q, K and V are three matrix products, each input with its (E, E) block of rows of
  ``in_proj_weight``, even for self-attention, where one product with the whole (3E, E) weight
  would do the same arithmetic just as fast. The difference is in the backward: the (N, L, 3E)
  result of one product would have to be cut into three tensors, and the backward of each cut is
  a full-size array of zeros with one third filled in, which the engine then adds up: about 10%
  of this layer's training time, measured. Three products leave only two additions of (N, L, E)
  input gradients and three small ones of (3E, E) weight gradients;
- each (N, L, E) projection is viewed as (N, L, H, d) and its axes permuted to (N, H, L, d): a
  view, no copy. The heads' outputs (N, H, L, d) are permuted back and copied once into (N, L, E)
  (or (L, N, E)) rows for ``out_proj``;
- the attention itself (scores, mask, softmax, dropout, weighted sum, and their backward) is the
  kernel ``minilm.kernels.attention.scaled_dot_product_attention``, which this module only calls.

**Masks** follow ``torch.nn.MultiheadAttention``, whose boolean convention is the INVERSE of
``scaled_dot_product_attention``'s:

=======================  ==========================  ===========================================
argument                 shape                       meaning
=======================  ==========================  ===========================================
``key_padding_mask``     (N, S)                      bool: True = a padding key, ignore it;
                                                     float: added to every query's scores
``attn_mask``            (L, S) or (N*H, L, S)       bool: True = query i may NOT attend to key j;
                                                     float: added to the scores
``is_causal=True``       -                           query i attends to keys j <= i only
=======================  ==========================  ===========================================

They are merged into one mask for the kernel (a bool one where both are bool, else a float one
with -inf for the disallowed pairs). One difference from PyTorch: a query whose keys are ALL
masked gets an output of 0 and a gradient of 0 (PyTorch 2.13 does the same with
``need_weights=False`` but gives NaN with ``need_weights=True``); the weights returned for it are all 0. PyTorch also insists that ``is_causal=True`` comes with the causal
``attn_mask``; here ``is_causal=True`` alone builds it.
"""

from __future__ import annotations

from minilm import backend, kernels
from minilm.creation import zeros
from minilm.kernels.attention import attention_with_weights, scaled_dot_product_attention
from minilm.nn import init
from minilm.nn.layers import Linear
from minilm.nn.module import Module
from minilm.nn.parameter import Parameter
from minilm.ops.elementwise import where
from minilm.tensor import Tensor

# ---------------------------------------------------------------------------------------------
# checks
# ---------------------------------------------------------------------------------------------


def _check_inputs(query, key, value, embed_dim: int, batch_first: bool) -> bool:
    """Check the shapes of query, key and value; return whether they are batched (3-D)."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(t).__name__}")
    layout = "(N, L, E)" if batch_first else "(L, N, E)"
    if query.ndim not in (2, 3):
        raise ValueError(
            f"MultiheadAttention: query must be 3-D {layout} (batch_first={batch_first}) or 2-D (L, E) "
            f"unbatched, got shape {query.shape}"
        )
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim != query.ndim:
            raise ValueError(
                f"MultiheadAttention: query, key and value must all be batched (3-D) or all unbatched (2-D); "
                f"query has shape {query.shape}, {name} has shape {t.shape}"
            )
        if t.shape[-1] != embed_dim:
            raise ValueError(
                f"MultiheadAttention: the last dimension of {name} (shape {t.shape}) is {t.shape[-1]}, "
                f"but the module was built with embed_dim={embed_dim}"
            )
        if t.dtype.kind != "f":
            raise TypeError(f"MultiheadAttention: {name} must be a float tensor, got {t.dtype}")
    if key.shape != value.shape:
        raise ValueError(f"MultiheadAttention: key {key.shape} and value {value.shape} must have the same shape")
    if query.ndim == 3:
        batch_axis = 0 if batch_first else 1
        if query.shape[batch_axis] != key.shape[batch_axis]:
            raise ValueError(
                f"MultiheadAttention: query {query.shape} and key {key.shape} have different batch sizes "
                f"(axis {batch_axis}, batch_first={batch_first}): {query.shape[batch_axis]} != {key.shape[batch_axis]}"
            )
    return query.ndim == 3


def _check_mask(name: str, mask, shapes: tuple, query) -> None:
    """A mask must be a bool or a float Tensor (in the query's dtype, on its device) of one of ``shapes``."""
    if not isinstance(mask, Tensor):
        raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got {type(mask).__name__}")
    if mask.dtype.kind not in "bf":
        raise TypeError(
            f"MultiheadAttention: {name} must be bool (True = not allowed) or float (added to the scores), "
            f"got {mask.dtype}"
        )
    if mask.dtype.kind == "f" and mask.dtype != query.dtype:
        raise TypeError(f"MultiheadAttention: the float {name} is {mask.dtype} but the query is {query.dtype}")
    if mask.device != query.device:
        raise RuntimeError(f"MultiheadAttention: {name} is on {mask.device} but the query is on {query.device}")
    if mask.shape not in shapes:
        wanted = " or ".join(str(s) for s in shapes)
        raise ValueError(f"MultiheadAttention: {name} has shape {mask.shape}, expected {wanted}")


# ---------------------------------------------------------------------------------------------
# masks: PyTorch's MHA convention -> one mask for the attention kernel
# ---------------------------------------------------------------------------------------------


def causal_mask(L: int, S: int, device=None):
    """The bool (L, S) mask of the pairs a causal model may NOT use (MHA convention): True above
    the diagonal, where key j comes after query i (j > i)."""
    xp = backend.xp_for(backend.device(device or "cpu"))
    return Tensor._wrap(xp.triu(xp.ones((L, S), dtype=bool), k=1))


def merge_masks(attn_mask, key_padding_mask):
    """One mask in the attention kernel's convention (bool True = MAY attend, or float added to
    the scores) from the MHA masks, already shaped to broadcast against (N, H, L, S): ``attn_mask``
    as (L, S) or (N, H, L, S), ``key_padding_mask`` as (N, 1, 1, S). Either may be None.

    - both bool (or only one, bool): allowed = not attn_mask and not key_padding_mask;
    - both float: their sum;
    - one float, one bool: the float one, with -inf where the bool one says "not allowed".

    A float mask that requires grad keeps its graph (the kernel returns its gradient)."""
    masks = [m for m in (attn_mask, key_padding_mask) if m is not None]
    if not masks:
        return None
    if len(masks) == 1:
        (m,) = masks
        return ~m if m.dtype.kind == "b" else m
    a, b = masks
    if a.dtype.kind == "b" and b.dtype.kind == "b":
        return ~(a | b)
    if a.dtype.kind == "f" and b.dtype.kind == "f":
        return a + b
    f, blocked = (a, b) if a.dtype.kind == "f" else (b, a)
    return where(blocked, float("-inf"), f)


# ---------------------------------------------------------------------------------------------
# heads
# ---------------------------------------------------------------------------------------------


def split_heads(x, num_heads: int, batch_first: bool):
    """(N, L, E) (or (L, N, E)) -> (N, H, L, d), a view: the last axis is read as (H, d) and the
    axes are permuted; nothing is copied (the kernel's matrix products take the strided view)."""
    a, b, E = x.shape
    x = x.reshape(a, b, num_heads, E // num_heads)
    return x.permute((0, 2, 1, 3) if batch_first else (1, 2, 0, 3))


def merge_heads(out, batch_first: bool):
    """(N, H, L, d) -> (N, L, H*d) (or (L, N, H*d)): the heads side by side in each row, copied
    once into contiguous rows for the output projection."""
    n, h, length, d = out.shape
    if batch_first:
        return out.permute(0, 2, 1, 3).reshape(n, length, h * d)
    return out.permute(2, 0, 1, 3).reshape(length, n, h * d)


# ---------------------------------------------------------------------------------------------
# the module
# ---------------------------------------------------------------------------------------------


class MultiheadAttention(Module):
    """Multi-head attention (see the module docstring for the math and the masks).

    ``in_proj_weight`` (3E, E) holds W_q, W_k, W_v stacked, ``in_proj_bias`` (3E,) their biases,
    ``out_proj`` is a Linear(E, E). Initialised as PyTorch: ``xavier_uniform_`` on
    ``in_proj_weight``, zero biases, and ``out_proj.weight`` as any Linear.

    ``forward(query, key, value)`` takes (L, N, E), (S, N, E), (S, N, E) tensors, or (N, L, E)...
    with ``batch_first=True``, or unbatched (L, E), (S, E), (S, E), and returns
    ``(attn_output, attn_weights)``: the output in the query's layout, and with
    ``need_weights=True`` the attention probabilities (after masking, before dropout; they do not
    require grad), averaged over heads (N, L, S) or per head (N, H, L, S) when
    ``average_attn_weights=False``; None otherwise. Dropout on the attention probabilities acts
    in training mode only.

    Not implemented (a NotImplementedError names them): ``kdim``/``vdim`` different from
    ``embed_dim``, ``add_bias_kv``, ``add_zero_attn``.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim=None,
        vdim=None,
        batch_first: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        embed_dim, num_heads = int(embed_dim), int(num_heads)
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be positive, got embed_dim={embed_dim}, "
                f"num_heads={num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim={embed_dim} must be divisible by num_heads={num_heads} "
                f"(each head gets embed_dim / num_heads features); choose e.g. num_heads in "
                f"{[h for h in range(1, min(embed_dim, 16) + 1) if embed_dim % h == 0]}"
            )
        for name, value in (("kdim", kdim), ("vdim", vdim)):
            if value is not None and value != embed_dim:
                raise NotImplementedError(
                    f"MultiheadAttention: {name}={value} different from embed_dim={embed_dim} is not implemented"
                )
        for name, value in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if value:
                raise NotImplementedError(f"MultiheadAttention: {name}=True is not implemented")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be between 0 and 1, got {dropout}")
        self.embed_dim = self.kdim = self.vdim = embed_dim
        self._qkv_same_embed_dim = True
        self.num_heads = num_heads
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = embed_dim // num_heads
        self.in_proj_weight = Parameter(zeros(3 * embed_dim, embed_dim, device=device, dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(zeros(3 * embed_dim, device=device, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        self.bias_k = self.bias_v = None
        self.add_zero_attn = False
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    # -- the pieces of forward -----------------------------------------------------------------

    def in_projection(self, query, key, value, batch_first: bool):
        """Q, K, V as (N, H, L, d) / (N, H, S, d) views: each input times its own block of rows
        of ``in_proj_weight`` (W_q, W_k, W_v), one matrix product each."""
        E, H, w, b = self.embed_dim, self.num_heads, self.in_proj_weight, self.in_proj_bias
        heads = []
        for i, x in enumerate((query, key, value)):
            rows = slice(i * E, (i + 1) * E)
            heads.append(split_heads(kernels.linear(x, w[rows], None if b is None else b[rows]), H, batch_first))
        return heads

    def kernel_mask(self, attn_mask, key_padding_mask, is_causal, query, N, L, S):
        """Check the MHA masks and merge them into ``(mask, is_causal)`` for the kernel."""
        H = self.num_heads
        if key_padding_mask is not None:
            _check_mask("key_padding_mask", key_padding_mask, ((N, S),), query)
            key_padding_mask = key_padding_mask.reshape(N, 1, 1, S)
        if attn_mask is not None:
            _check_mask("attn_mask", attn_mask, ((L, S), (N * H, L, S)), query)
            if attn_mask.ndim == 3:
                attn_mask = attn_mask.reshape(N, H, L, S)
        elif is_causal:
            if key_padding_mask is None:
                return None, True  # the kernel builds the causal mask itself
            attn_mask = causal_mask(L, S, query.device)
        return merge_masks(attn_mask, key_padding_mask), False

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights: bool = True,
        attn_mask=None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ):
        batched = _check_inputs(query, key, value, self.embed_dim, self.batch_first)
        batch_first = self.batch_first
        if not batched:  # (L, E): a batch of one, batch first
            same_kv, self_attn = key is value, query is key and key is value
            query = query.unsqueeze(0)
            key = query if self_attn else key.unsqueeze(0)
            value = key if same_kv else value.unsqueeze(0)
            batch_first = True
            if isinstance(key_padding_mask, Tensor) and key_padding_mask.ndim == 1:
                key_padding_mask = key_padding_mask.unsqueeze(
                    0
                )  # (S,) -> (1, S); an (H, L, S) attn_mask is (N*H, L, S)
        N = query.shape[0] if batch_first else query.shape[1]
        L = query.shape[1] if batch_first else query.shape[0]
        S = key.shape[1] if batch_first else key.shape[0]
        mask, causal = self.kernel_mask(attn_mask, key_padding_mask, is_causal, query, N, L, S)

        q, k, v = self.in_projection(query, key, value, batch_first)
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            out, weights = attention_with_weights(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=causal)
            if average_attn_weights:
                weights = Tensor._wrap(weights.data.mean(axis=1))
            if not batched:
                weights = Tensor._wrap(weights.data[0])
        else:
            out = scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout_p, is_causal=causal)
            weights = None
        out = self.out_proj(merge_heads(out, batch_first))
        if not batched:
            out = out.squeeze(0)
        return out, weights

    def extra_repr(self) -> str:
        return (
            f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, "
            f"batch_first={self.batch_first}"
        )


__all__ = ["MultiheadAttention", "causal_mask", "merge_masks"]
