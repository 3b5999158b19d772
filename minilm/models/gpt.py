r"""A GPT: a decoder-only Transformer language model, trained to predict each next token.

A GPT (Radford et al. 2018, "Improving language understanding by generative pre-training"; GPT-2,
Radford et al. 2019) is a *causal* language model, like the RNN of ``rnn_lm.py``: it gives a text
its probability one token at a time, ``P(x_1 .. x_T) = prod_t P(x_{t+1} | x_1 .. x_t)``. Instead of
squeezing the history into one recurrent state, every position looks back at *all* earlier
positions through self-attention, and all positions are computed at once::

    h_0 = Dropout(wte[x_t] + wpe[t])                       token + learned position embeddings (N, T, E)
    h_l = Block_l(h_{l-1})                                 n_layer pre-norm Transformer blocks
          Block(h):  h = h + Attn(LN_1(h))                 causal multi-head self-attention
                     h = h + MLP(LN_2(h))                  Linear(E, n_inner) -> GELU -> Linear(n_inner, E)
    z   = LN_f(h_L) wte^T                                  logits (N, T, V): z[:, t] scores x_{t+1}

**The causal mask.** Position ``t`` may attend to positions ``s <= t`` only: the attention scores
``q_t . k_s`` with ``s > t`` are set to ``-inf`` before the softmax, so their weights are exactly 0.
As a boolean mask in ``nn.MultiheadAttention``'s convention (True = may NOT attend) it is the
strict upper triangle, for 3 tokens ``[[F, T, T], [F, F, T], [F, F, F]]``; the blocks are called
with ``is_causal=True``, which lets the attention kernel apply it without building the matrix.
Then nothing at ``t`` depends on tokens after ``t`` (a test changes them and watches the logits at
``<= t`` stay put), and one forward pass over a text of T tokens trains T predictions at once, each
seeing only its own past: what the RNN did step by step, done in parallel. The blocks are
``nn.TransformerEncoderLayer(norm_first=True, activation="gelu", batch_first=True)`` given that mask:
a "decoder-only" model is an encoder whose attention cannot look ahead.

**Pre-norm.** GPT-2 normalises *before* each sublayer (``norm_first=True``) and once more at the end
(``ln_f``). The residual path ``h + ...`` is then a clean sum from the embeddings to the output,
which is what lets deep stacks train without a learning-rate warm-up lottery.

**Weight tying.** ``lm_head.weight`` *is* ``wte.weight``, one Parameter (as ``tie_weights`` in
``rnn_lm.py``; see there why it helps): the logit of token v is the dot product of the final hidden
vector with v's own input embedding. Its gradient is the sum of both uses.

**The loss, shifted inside.** ``forward(input_ids, labels=input_ids)`` computes the loss of
predicting ``labels[:, t + 1]`` from ``logits[:, t]``: the model shifts, the caller does not (as
Hugging Face's ``GPT2LMHeadModel``). Labels ``-100`` are ignored (padding, or a prompt one does not
want to train on); the loss is the mean over the other predicted tokens. See ``causal_lm_loss``.

**Generation** (``generate``) repeats: run the model on the text so far, take the logits of the
last position, choose a token (greedy argmax, or a draw shaped by temperature, top-k and top-p;
see ``minilm.models.sampling``), append it. There is no key/value cache: each step recomputes the
whole window, simple to read but O(T) work per new token.

- ``GPTConfig(vocab_size, n_positions=256, n_embd=128, n_layer=2, n_head=2, n_inner=None, dropout=0.1,
  layer_norm_eps=1e-5, initializer_range=0.02, pad_token_id=0)``: ``to_dict`` / ``from_dict``,
  ``save`` / ``load`` (JSON);
- ``GPTLMHeadModel(config)``: ``forward(input_ids, attention_mask=None, labels=None) ->
  CausalLMOutput(loss, logits)``, ``generate(...)``;
- ``causal_lm_loss(logits, labels)``: the shifted loss on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

import minilm
from minilm import backend
from minilm.models.config import JSONConfig
from minilm.models.sampling import _check_k, _check_p, _check_temperature, sample_next
from minilm.nn import functional as F
from minilm.nn.attention import MultiheadAttention
from minilm.nn import init
from minilm.nn.containers import ModuleList
from minilm.nn.layers import Dropout, Embedding, LayerNorm, Linear
from minilm.nn.module import Module
from minilm.nn.transformer import TransformerEncoderLayer
from minilm.tensor import Tensor

__all__ = ["CausalLMOutput", "GPTConfig", "GPTLMHeadModel", "causal_lm_loss"]

#: Labels with this value are not predicted (``F.cross_entropy``'s default ``ignore_index``).
IGNORE_INDEX = -100


# ---------------------------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------------------------


def _check_int(name: str, value, minimum: int, who: str = "GPTConfig") -> None:
    """A ``ValueError`` naming ``name`` unless ``value`` is an int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum}, got {value!r}")


@dataclass
class GPTConfig(JSONConfig):
    """The sizes of a GPT, with GPT-2's names.

    ``vocab_size`` tokens; ``n_positions`` the longest text the model reads at once (the rows of
    ``wpe``); ``n_embd`` the width E of every hidden vector; ``n_layer`` blocks of ``n_head``
    attention heads (``n_embd`` must divide by ``n_head``); ``n_inner`` the width of each block's
    MLP (None: ``4 * n_embd``); ``dropout`` on the embeddings, the attention probabilities and
    each residual branch while training; ``layer_norm_eps``; ``initializer_range`` the standard
    deviation of the initial weights; ``pad_token_id`` the id written after a row of a batch has
    ended during ``generate`` (None: the end-of-text id itself).

    ``to_dict()`` / ``from_dict(d)`` and ``save(path)`` / ``load(path)`` (JSON) round-trip it.
    """

    vocab_size: int
    n_positions: int = 256
    n_embd: int = 128
    n_layer: int = 2
    n_head: int = 2
    n_inner: int | None = None
    dropout: float = 0.1
    layer_norm_eps: float = 1e-5
    initializer_range: float = 0.02
    pad_token_id: int | None = 0

    def __post_init__(self):
        for name in ("vocab_size", "n_positions", "n_embd", "n_layer", "n_head"):
            _check_int(name, getattr(self, name), 1)
        if self.n_inner is not None:
            _check_int("n_inner", self.n_inner, 1)
        if self.n_embd % self.n_head:
            raise ValueError(
                f"GPTConfig: n_embd={self.n_embd} must be divisible by n_head={self.n_head} "
                f"(each head gets n_embd / n_head dimensions)"
            )
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"GPTConfig: dropout must be a number in [0, 1), got {self.dropout!r}")
        for name in ("layer_norm_eps", "initializer_range"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0 < value < math.inf):
                raise ValueError(f"GPTConfig: {name} must be a finite number > 0, got {value!r}")
        if self.pad_token_id is not None:
            _check_int("pad_token_id", self.pad_token_id, 0)
            if self.pad_token_id >= self.vocab_size:
                raise ValueError(
                    f"GPTConfig: pad_token_id={self.pad_token_id} is outside the vocabulary "
                    f"(ids 0..{self.vocab_size - 1})"
                )

    @property
    def inner_size(self) -> int:
        """The width of each block's MLP: ``n_inner``, or ``4 * n_embd`` when it is None."""
        return 4 * self.n_embd if self.n_inner is None else self.n_inner

    @classmethod
    def _check_required(cls, d: dict) -> None:
        if "vocab_size" not in d:
            raise ValueError("GPTConfig.from_dict: 'vocab_size' is missing; it has no default")


# ---------------------------------------------------------------------------------------------
# the shifted loss
# ---------------------------------------------------------------------------------------------


class CausalLMOutput(NamedTuple):
    """What ``GPTLMHeadModel.forward`` returns: ``loss`` (a scalar Tensor, or None without labels)
    and ``logits`` (N, T, vocab_size). A tuple too: ``loss, logits = model(ids, labels=ids)``."""

    loss: Tensor | None
    logits: Tensor


def causal_lm_loss(logits: Tensor, labels) -> Tensor:
    """The mean cross-entropy of predicting each next label: ``logits[:, t]`` against ``labels[:, t + 1]``.

    ``logits`` (N, T, V), ``labels`` (N, T) integer ids, usually the input ids themselves. The last
    position has no next token and the first label has no position before it, so the loss compares
    ``logits[:, :-1]`` with ``labels[:, 1:]``: ``N * (T - 1)`` predictions, minus those whose label
    is -100 (ignored), averaged::

        loss = - 1/M sum_{n, t < T-1, labels[n, t+1] != -100} log softmax(logits[n, t])[labels[n, t+1]]

    If every label is -100 there is nothing to average and the loss is nan, as in PyTorch.
    """
    if not isinstance(labels, Tensor):
        labels = minilm.tensor(np.asarray(labels), device=logits.device)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"causal_lm_loss: labels must be integer token ids (or -100), got dtype {labels.dtype}")
    if labels.shape != logits.shape[:-1]:
        raise ValueError(
            f"causal_lm_loss: labels {labels.shape} must have the shape of input_ids, (N, T) = {logits.shape[:-1]}"
        )
    if logits.shape[1] < 2:
        raise ValueError(
            f"causal_lm_loss: a text of {logits.shape[1]} token(s) has no next token to predict; "
            "labels need at least 2 positions"
        )
    V = logits.shape[-1]
    shifted_logits = logits[:, :-1].reshape(-1, V)  # positions 0 .. T-2 ...
    shifted_labels = labels[:, 1:].reshape(-1)  # ... predict tokens 1 .. T-1
    return F.cross_entropy(shifted_logits, shifted_labels, ignore_index=IGNORE_INDEX)


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


def _as_id_array(ids, who: str, vocab_size: int):
    """``ids`` (list, NumPy/CuPy array or Tensor) as a 2-D int64 array, with every id checked. An
    array already on the GPU stays there (it is checked there), anything else becomes NumPy."""
    data = ids.data if isinstance(ids, Tensor) else ids
    xp = backend.xp_of(data) if backend.is_cuda_array(data) else np
    data = xp.asarray(data)
    if data.ndim != 2:
        hint = " (one sequence: ids[None], or [ids])" if data.ndim == 1 else ""
        raise ValueError(f"{who}: input_ids must be (N, T) token ids, batch first; got shape {data.shape}{hint}")
    if data.size and data.dtype.kind not in "iu":
        raise TypeError(f"{who}: input_ids must be integer token ids, got dtype {data.dtype}")
    data = data.astype(np.int64, copy=False)
    if data.size and (int(data.min()) < 0 or int(data.max()) >= vocab_size):
        cpu = backend.to_device(data, backend.CPU)
        n, t = (int(i) for i in np.argwhere((cpu < 0) | (cpu >= vocab_size))[0])
        raise ValueError(
            f"{who}: token id {cpu[n, t]} at position ({n}, {t}) is outside the vocabulary of size "
            f"{vocab_size} (ids 0..{vocab_size - 1}); was the tokenizer's vocabulary larger than the model's?"
        )
    return data


class GPTLMHeadModel(Module):
    """A GPT language model (see the module docstring for the picture): ``wte``, ``wpe``, ``drop``,
    ``h`` (``n_layer`` pre-norm ``nn.TransformerEncoderLayer`` blocks run with a causal mask),
    ``ln_f`` and ``lm_head`` (no bias, its weight tied to ``wte.weight``).

    ``forward(input_ids, attention_mask=None, labels=None) -> CausalLMOutput(loss, logits)``:
    ``input_ids`` (N, T) integer ids with T <= ``n_positions``; ``attention_mask`` (N, T) as
    Hugging Face's, 1 for a real token and 0 for padding (padded keys are never attended to);
    ``labels`` (N, T), shifted inside (see ``causal_lm_loss``), -100 ignored.

    Initialisation as GPT-2: Linear and Embedding weights (and attention's ``in_proj_weight``)
    N(0, initializer_range), biases 0, LayerNorm 1 and 0; the two projections that write into the
    residual stream in each block (``self_attn.out_proj`` and ``linear2``) get the smaller std
    ``initializer_range / sqrt(2 n_layer)``, so the sum of 2 n_layer residual branches starts with
    the variance of one.
    """

    def __init__(self, config: GPTConfig, device=None, dtype=None):
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPTLMHeadModel: config must be a GPTConfig, got {type(config).__name__}")
        self.config = config
        E = config.n_embd
        self.wte = Embedding(config.vocab_size, E, device=device, dtype=dtype)
        self.wpe = Embedding(config.n_positions, E, device=device, dtype=dtype)
        self.drop = Dropout(config.dropout)
        self.h = ModuleList(
            [
                TransformerEncoderLayer(
                    E,
                    config.n_head,
                    dim_feedforward=config.inner_size,
                    dropout=config.dropout,
                    activation="gelu",
                    layer_norm_eps=config.layer_norm_eps,
                    batch_first=True,
                    norm_first=True,
                    device=device,
                    dtype=dtype,
                )
                for _ in range(config.n_layer)
            ]
        )
        self.ln_f = LayerNorm(E, eps=config.layer_norm_eps, device=device, dtype=dtype)
        self.lm_head = Linear(E, config.vocab_size, bias=False, device=device, dtype=dtype)
        self.lm_head.weight = self.wte.weight  # one Parameter, two uses
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation (see the class docstring)."""
        std = self.config.initializer_range
        for module in self.modules():
            if isinstance(module, (Linear, Embedding)):
                init.normal_(module.weight, 0.0, std)
                if getattr(module, "bias", None) is not None:
                    init.zeros_(module.bias)
            elif isinstance(module, LayerNorm):
                module.reset_parameters()
            elif isinstance(module, MultiheadAttention):
                init.normal_(module.in_proj_weight, 0.0, std)
                if module.in_proj_bias is not None:
                    init.zeros_(module.in_proj_bias)
        residual_std = std / math.sqrt(2 * self.config.n_layer)
        for block in self.h:
            init.normal_(block.self_attn.out_proj.weight, 0.0, residual_std)
            init.normal_(block.linear2.weight, 0.0, residual_std)

    def _device(self):
        return self.wte.weight.device

    def _input_ids(self, input_ids) -> Tensor:
        """``input_ids`` as an int64 (N, T) Tensor on the model's device, checked (ids, length)."""
        data = _as_id_array(input_ids, "GPTLMHeadModel", self.config.vocab_size)
        T = data.shape[1]
        if T == 0:
            raise ValueError("GPTLMHeadModel: input_ids has 0 tokens; give at least one")
        if T > self.config.n_positions:
            raise ValueError(
                f"GPTLMHeadModel: input_ids has {T} tokens but the model reads at most n_positions="
                f"{self.config.n_positions} (it has that many position embeddings); split or crop the text"
            )
        return minilm.tensor(data, device=self._device())

    def _key_padding_mask(self, attention_mask, shape) -> Tensor | None:
        """Hugging Face's ``attention_mask`` (1 = token, 0 = padding) as MHA's ``key_padding_mask``
        (True = padding, ignore)."""
        if attention_mask is None:
            return None
        data = attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask
        data = backend.to_device(data, backend.CPU) if backend.is_cuda_array(data) else np.asarray(data)
        if data.shape != shape:
            raise ValueError(
                f"GPTLMHeadModel: attention_mask {data.shape} must have the shape of input_ids {shape} "
                "(1 for a token, 0 for padding)"
            )
        if not np.isin(data, (0, 1)).all():
            raise ValueError("GPTLMHeadModel: attention_mask must hold only 1 (token) and 0 (padding)")
        return minilm.tensor(data == 0, device=self._device())

    def forward(self, input_ids, attention_mask=None, labels=None) -> CausalLMOutput:
        ids = self._input_ids(input_ids)
        N, T = ids.shape
        positions = minilm.arange(T, device=self._device())
        x = self.drop(self.wte(ids) + self.wpe(positions))  # (N, T, E) + (T, E)
        padding = self._key_padding_mask(attention_mask, (N, T))
        for block in self.h:  # is_causal=True: the attention kernel applies the causal mask itself
            x = block(x, src_key_padding_mask=padding, is_causal=True)
        logits = self.lm_head(self.ln_f(x))  # (N, T, V)
        loss = None if labels is None else causal_lm_loss(logits, labels)
        return CausalLMOutput(loss, logits)

    def extra_repr(self) -> str:
        c = self.config
        return f"vocab_size={c.vocab_size}, n_positions={c.n_positions}, n_embd={c.n_embd}, n_layer={c.n_layer}"

    # -----------------------------------------------------------------------------------------
    # generation
    # -----------------------------------------------------------------------------------------

    def generate(
        self,
        input_ids,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        do_sample: bool = True,
        eos_token_id: int | None = None,
        seed: int | None = None,
    ) -> np.ndarray:
        """Continue ``input_ids`` by up to ``max_new_tokens`` tokens; returns the ids, prompt included.

        ``input_ids``: one prompt (T,) or a batch (N, T) of prompts of the same length (no padding),
        1 <= T <= ``n_positions``: a longer prompt is an error (crop it yourself, keeping its end).
        The result has the same number of dimensions: (T + new,) or (N, T + new), int64 NumPy.

        Each step runs the model on the text so far and chooses the next token from the logits
        of the last position:

        - ``do_sample=False``: greedy, the argmax (``temperature``, ``top_k``, ``top_p`` unused);
        - ``do_sample=True``: a draw from ``softmax(logits / temperature)``, restricted to the
          ``top_k`` most likely tokens and then to the nucleus of mass ``top_p`` when given
          (``minilm.models.sampling.sample_next``). ``temperature=0`` is greedy too.

        ``seed``: the draws come from ``numpy.random.default_rng(seed)``, so the same seed gives the
        same text; with None, from minilm's CPU generator (``minilm.manual_seed`` reseeds it).
        ``eos_token_id``: a row ends when it produces that id (it is kept); later steps write
        ``config.pad_token_id`` (or the eos id if that is None) in it, and generation stops when
        every row has ended. Once the text is longer than ``n_positions``, the model sees only its
        last ``n_positions`` tokens (a sliding window). Runs in eval mode (no dropout) under
        ``no_grad``; the model's mode is restored afterwards.
        """
        c = self.config
        prompt = input_ids.data if isinstance(input_ids, Tensor) else input_ids
        prompt = backend.to_device(prompt, backend.CPU) if backend.is_cuda_array(prompt) else np.asarray(prompt)
        one_row = prompt.ndim == 1
        prompt = _as_id_array(prompt[None] if one_row else prompt, "generate", c.vocab_size)
        if prompt.shape[1] == 0:
            raise ValueError("generate: the prompt is empty; give at least one token (e.g. a start-of-text id)")
        if prompt.shape[1] > c.n_positions:
            raise ValueError(
                f"generate: the prompt has {prompt.shape[1]} tokens but the model reads at most "
                f"n_positions={c.n_positions}; keep its last {c.n_positions} tokens, e.g. ids[..., -{c.n_positions}:]"
            )
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
            raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
        temperature = _check_temperature(temperature)
        if top_k is not None:
            top_k = _check_k(top_k, c.vocab_size)
        if top_p is not None:
            top_p = _check_p(top_p)
        if eos_token_id is not None:
            _check_int("eos_token_id", eos_token_id, 0, "generate")
            if eos_token_id >= c.vocab_size:
                raise ValueError(
                    f"generate: eos_token_id={eos_token_id} is outside the vocabulary of size {c.vocab_size}"
                )
        generator = backend.generator(backend.CPU) if seed is None else np.random.default_rng(seed)
        fill = eos_token_id if c.pad_token_id is None else c.pad_token_id

        ids = prompt
        ended = np.zeros(len(ids), dtype=bool)
        was_training = self.training
        self.eval()
        try:
            with minilm.no_grad():
                for _ in range(int(max_new_tokens)):
                    window = ids[:, -c.n_positions :]
                    logits = self(window).logits[:, -1]  # (N, V): what follows the last token
                    if do_sample:
                        token = sample_next(logits, temperature, top_k, generator, top_p=top_p)
                    else:
                        token = sample_next(logits, temperature=0)
                    if eos_token_id is not None:
                        token = np.where(ended, fill, token)
                        ended |= token == eos_token_id
                    ids = np.concatenate([ids, token.reshape(-1, 1).astype(np.int64)], axis=1)
                    if ended.all():
                        break
        finally:
            self.train(was_training)
        return ids[0] if one_row else ids
