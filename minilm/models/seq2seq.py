r"""Sequence to sequence with attention: an encoder reads the source, a decoder writes the target.

    >>> from minilm.data import translation
    >>> from minilm.models.seq2seq import Seq2Seq, encode_pairs, train_seq2seq, exact_match
    >>> data = translation.splits(20000)
    >>> src_vocab, tgt_vocab = translation.vocabularies(data["train"])
    >>> train = encode_pairs(data["train"], src_vocab, tgt_vocab)
    >>> model = Seq2Seq(len(src_vocab), len(tgt_vocab), attention="additive")
    >>> history = train_seq2seq(model, train, epochs=10)
    >>> exact_match(model, encode_pairs(data["test"], src_vocab, tgt_vocab))

The model, with ``H = hidden_size``, ``E = embedding_dim``:

- ``Encoder``: an embedding and a bidirectional GRU (or LSTM) with ``H/2`` units per direction, so
  that each source position ``j`` gets an output ``h_j = [fwd_j; bwd_j]`` of size ``H``, read with
  the padding skipped (``pack_padded_sequence``). Its *summary* is the two directions' final states
  ``[fwd_last; bwd_first]`` (size H), and the decoder's first state is ``s_0 = tanh(W_b summary + b)``
  (an LSTM's memory cell likewise, from the cells' summary, with its own ``W_c``).
- ``Decoder``, one step ``t``, in the style of Bahdanau et al. (2015)::

      e_t      = embed(y_{t-1})                               the previous target word (<bos> first)
      c_t, a_t = attention(query=s_{t-1}, keys=values=h)      what to read, given what was written
      s_t      = cell([e_t; c_t], s_{t-1})                    GRUCell or LSTMCell
      logits_t = W_o [s_t; c_t; e_t] + b_o                    concat-then-output

  *Concat-then-output*, not Luong's input feeding: the output layer reads the new state, the
  context and the previous word, but nothing of it is fed back into the next step. So in training
  (teacher forcing) the loop only runs the attention and the cell, and the output layer, the
  largest matrix product (to the whole target vocabulary), runs once over all ``T`` steps
  together. With input feeding the attentional vector of step ``t`` is an input of step ``t+1`` and
  the output projection's input would have to be computed inside the loop.
- ``attention=None``: no attention. ``c_t`` is the encoder's summary at every step, the same
  vector whatever the decoder is writing (Cho et al., 2014): all the decoder knows of the source
  must pass through this one H-sized vector, the *bottleneck*. Long sentences suffer first.

Training (``seq2seq_train.py``, re-exported here): ``train_seq2seq`` uses teacher forcing (the
decoder reads the true previous word), the cross-entropy of every target word plus ``<eos>``
(padding ignored), Adam and gradient clipping; ``evaluate`` and ``exact_match`` measure.
Decoding (``beam_search.py``): ``greedy_decode`` and ``beam_search`` feed the model's own words back
through ``start_decoding`` / ``decode_step`` / ``select_states``.

Ids: ``<pad>`` 0, ``<bos>`` 1, ``<eos>`` 2, ``<unk>`` 3 by default (``translation.vocabularies``).
A pair is ``(src_ids, tgt_ids)``, two lists of word ids without ``<bos>`` or ``<eos>``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

import minilm
from minilm import backend
from minilm.models.attention import AdditiveAttention, DotAttention
from minilm.models.seq2seq_train import (  # the data, training and evaluation half
    Batch,
    batch_loss,
    encode_pairs,
    evaluate,
    exact_match,
    make_batch,
    train_seq2seq,
)
from minilm.nn import functional as F
from minilm.nn.layers import Dropout, Embedding, Linear
from minilm.nn.module import Module
from minilm.nn.recurrent import GRU, LSTM, GRUCell, LSTMCell
from minilm.nn.utils.rnn import pack_padded_sequence
from minilm.ops.shape import cat, stack
from minilm.tensor import Tensor

__all__ = [
    "ATTENTIONS",
    "Batch",
    "CELLS",
    "Decoder",
    "DecoderState",
    "Encoder",
    "Seq2Seq",
    "batch_loss",
    "encode_pairs",
    "evaluate",
    "exact_match",
    "make_batch",
    "train_seq2seq",
]

ATTENTIONS = ("additive", "dot", None)
CELLS = ("gru", "lstm")


def _map_state(fn, state):
    """Apply ``fn`` to a GRU state (one Tensor) or to both parts of an LSTM state ``(h, c)``."""
    return tuple(fn(s) for s in state) if isinstance(state, tuple) else fn(state)


def _ids_tensor(x, device) -> Tensor:
    """Integer ids (a Tensor, an array or nested lists) as an int64 Tensor on ``device``."""
    if isinstance(x, Tensor):
        return x
    return minilm.tensor(np.asarray(x, dtype=np.int64), device=device)


class Encoder(Module):
    """``Encoder(vocab_size, embedding_dim, hidden_size, cell="gru", dropout=0.0, pad_id=0)``: an
    embedding, dropout and a one-layer bidirectional GRU/LSTM of ``hidden_size`` units per direction.

    ``forward(src (N, S) ids, lengths (N,)) -> (outputs (N, S, 2 hidden_size), summary (N, 2
    hidden_size))``: the outputs are 0 at padded positions; ``summary`` is ``[fwd_last; bwd_first]``
    (for an LSTM, a pair: the summaries of h and of c). Padding changes nothing: a sentence gives the
    same outputs alone as in a padded batch (the packed recurrence skips the padded steps)."""

    def __init__(self, vocab_size, embedding_dim, hidden_size, cell="gru", dropout=0.0, pad_id=0, device=None):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"Encoder: cell must be one of {CELLS}, got {cell!r}")
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=pad_id, device=device)
        self.dropout = Dropout(dropout)
        rnn = GRU if cell == "gru" else LSTM
        self.rnn = rnn(embedding_dim, hidden_size, batch_first=True, bidirectional=True, device=device)

    def forward(self, src, lengths):
        src = _ids_tensor(src, self.embedding.weight.device)
        x = self.dropout(self.embedding(src))
        out, final = self.rnn(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
        summary = _map_state(lambda s: cat([s[0], s[1]], dim=1), final)  # (2, N, h) -> (N, 2h)
        return out.data, summary


@dataclass(frozen=True)
class DecoderState:
    """What the decoder carries from step to step, for a batch of ``N`` rows: ``hidden`` (N, H) or
    ``(h, c)`` for an LSTM; the encoder's ``memory`` (N, S, H) and ``mask`` (N, S) (True = real
    word); ``projected_keys`` (additive attention's ``W_k h + b``, or None); ``summary`` (N, H), the
    context of a model without attention."""

    hidden: object
    memory: Tensor
    mask: Tensor
    projected_keys: Tensor | None
    summary: Tensor

    def select(self, index) -> "DecoderState":
        """The rows ``index`` (an int array; rows may repeat): beam search's reordering."""
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return DecoderState(
            _map_state(pick, self.hidden),
            pick(self.memory),
            pick(self.mask),
            pick(self.projected_keys),
            pick(self.summary),
        )


class Decoder(Module):
    """One target word at a time (see the module docstring for the equations and for why the
    output layer is concat-then-output rather than input feeding).

    ``step(tokens (N,), state) -> (features (N, H + H + E), state, weights (N, S) or None)``: one
    step without the output layer; ``output(features) -> logits`` applies it (to one step or to all
    steps stacked)."""

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        hidden_size,
        attention="additive",
        cell="gru",
        dropout=0.0,
        pad_id=0,
        device=None,
    ):
        super().__init__()
        if attention not in ATTENTIONS:
            raise ValueError(f"Decoder: attention must be one of {ATTENTIONS}, got {attention!r}")
        self.embedding = Embedding(vocab_size, embedding_dim, padding_idx=pad_id, device=device)
        self.dropout = Dropout(dropout)
        if attention == "additive":
            self.attention = AdditiveAttention(hidden_size, hidden_size, hidden_size, device=device)
        elif attention == "dot":
            self.attention = DotAttention()
        else:
            self.attention = None
        cell_type = GRUCell if cell == "gru" else LSTMCell
        self.cell = cell_type(embedding_dim + hidden_size, hidden_size, device=device)
        self.out = Linear(2 * hidden_size + embedding_dim, vocab_size, device=device)

    def step(self, tokens, state: DecoderState):
        """One step: read the previous words ``tokens`` (N,), attend with the old state as the query,
        update the state; return ``([s_t; c_t; e_t], new state, attention weights or None)``."""
        e = self.dropout(self.embedding(_ids_tensor(tokens, self.embedding.weight.device)))
        query = state.hidden[0] if isinstance(state.hidden, tuple) else state.hidden
        if self.attention is None:
            context, weights = state.summary, None
        else:
            context, weights = self.attention(query, state.memory, state.memory, state.mask, state.projected_keys)
        hidden = self.cell(cat([e, context], dim=1), state.hidden)
        h = hidden[0] if isinstance(hidden, tuple) else hidden
        return cat([h, context, e], dim=1), replace(state, hidden=hidden), weights

    def output(self, features):
        """The logits ``W_o [s_t; c_t; e_t] + b_o`` (after dropout), for any leading shape."""
        return self.out(self.dropout(features))


class Seq2Seq(Module):
    """``Seq2Seq(src_vocab_size, tgt_vocab_size, embedding_dim=64, hidden_size=128,
    attention="additive", cell="gru", dropout=0.1, pad_id=0, bos_id=1, eos_id=2)``.

    ``attention``: "additive" (Bahdanau), "dot" (Luong, unscaled) or None (the bottleneck);
    ``cell``: "gru" or "lstm"; ``hidden_size`` (even) is the decoder's state size and the size of an
    encoder output (``hidden_size / 2`` per direction, so that the dot score needs no projection).

    ``forward(src (N, S), src_lengths (N,), tgt_in (N, T)) -> logits (N, T, tgt_vocab_size)`` with
    teacher forcing: ``tgt_in`` is ``<bos>`` followed by the target words, logits ``t`` predict word
    ``t`` of ``target + <eos>``. ``encode(src, src_lengths) -> DecoderState`` (the first state).
    The decoding interface of ``beam_search.py``: ``start_decoding``, ``decode_step``,
    ``select_states``."""

    def __init__(
        self,
        src_vocab_size,
        tgt_vocab_size,
        embedding_dim=64,
        hidden_size=128,
        attention="additive",
        cell="gru",
        dropout=0.1,
        pad_id=0,
        bos_id=1,
        eos_id=2,
        device=None,
    ):
        super().__init__()
        if int(hidden_size) != hidden_size or hidden_size < 2 or hidden_size % 2:
            raise ValueError(f"Seq2Seq: hidden_size must be an even number >= 2 (two directions), got {hidden_size!r}")
        if cell not in CELLS:
            raise ValueError(f"Seq2Seq: cell must be one of {CELLS}, got {cell!r}")
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.attention_type, self.cell_type = attention, cell
        self.encoder = Encoder(src_vocab_size, embedding_dim, hidden_size // 2, cell, dropout, pad_id, device)
        self.decoder = Decoder(tgt_vocab_size, embedding_dim, hidden_size, attention, cell, dropout, pad_id, device)
        self.bridge = Linear(hidden_size, hidden_size, device=device)  # s_0 = tanh(W_b summary + b_b)
        if cell == "lstm":  # the LSTM's memory cell gets a bridge of its own: c_0 = tanh(W_c c_summary + b_c)
            self.bridge_c = Linear(hidden_size, hidden_size, device=device)

    def encode(self, src, src_lengths) -> DecoderState:
        """Run the encoder and build the decoder's first state."""
        lengths = np.asarray(
            backend.to_device(src_lengths.data, backend.CPU) if isinstance(src_lengths, Tensor) else src_lengths,
            dtype=np.int64,
        )
        memory, summary = self.encoder(src, lengths)
        if isinstance(summary, tuple):
            hidden = (self.bridge(summary[0]).tanh(), self.bridge_c(summary[1]).tanh())
        else:
            hidden = self.bridge(summary).tanh()
        mask = np.arange(memory.shape[1])[None, :] < lengths[:, None]
        mask = Tensor(backend.to_device(mask, memory.device))
        attention = self.decoder.attention
        keys = None if attention is None else attention.precompute_keys(memory)
        summary_h = summary[0] if isinstance(summary, tuple) else summary
        return DecoderState(hidden, memory, mask, keys, summary_h)

    def forward(self, src, src_lengths, tgt_in):
        """Teacher forcing: run the decoder over ``tgt_in`` (N, T), then the output layer over all T
        steps at once; returns the (N, T, V) logits."""
        state = self.encode(src, src_lengths)
        tgt_in = _ids_tensor(tgt_in, state.memory.device)
        features = []
        for t in range(tgt_in.shape[1]):
            f, state, _ = self.decoder.step(tgt_in[:, t], state)
            features.append(f)
        return self.decoder.output(stack(features, dim=1))

    # -- the decoding interface of beam_search.py (no gradients, NumPy out) --------------------

    def start_decoding(self, src, src_lengths) -> DecoderState:
        """``encode`` without recording a graph: the first state for ``decode_step``."""
        with minilm.no_grad():
            return self.encode(src, src_lengths)

    def decode_step(self, state: DecoderState, tokens):
        """``(log_probs (N, V) float64 NumPy, state, weights (N, S) NumPy or None)`` for the next word."""
        with minilm.no_grad():
            features, state, weights = self.decoder.step(tokens, state)
            log_probs = F.log_softmax(self.decoder.output(features), dim=-1)
        to_np = lambda t: np.asarray(backend.to_device(t.data, backend.CPU), dtype=np.float64)  # noqa: E731
        return to_np(log_probs), state, None if weights is None else to_np(weights)

    def select_states(self, state: DecoderState, index) -> DecoderState:
        """The rows ``index`` of ``state`` (beam search keeps, copies and drops hypotheses)."""
        return state.select(np.asarray(index, dtype=np.int64))

    def extra_repr(self) -> str:
        return f"attention={self.attention_type!r}, cell={self.cell_type!r}"
