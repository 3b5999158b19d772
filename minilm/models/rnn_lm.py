r"""Recurrent language models: an RNN, GRU or LSTM that reads a text and predicts each next word.

A language model gives a text its probability one word at a time,
``P(w_1 .. w_T) = prod_t P(w_t | w_1 .. w_{t-1})``. The n-gram model of ``ngram.py`` cuts the
history down to the last ``n - 1`` words, because it must have *counted* every context it uses.
A recurrent model keeps the whole history instead, squeezed into a vector ``h_t`` that it updates
word by word::

    x_t = E[w_t]                               the embedding of the word just read  (embedding_dim)
    h_t = cell(x_t, h_{t-1})                   the recurrent state                 (hidden_size)
    z_t = W h_t + b                            one logit per vocabulary word       (vocab_size)
    P(w_{t+1} | w_1 .. w_t) = softmax(z_t)

``cell`` is a plain (Elman) RNN, ``h_t = tanh(W_ih x_t + W_hh h_{t-1} + b)``, or one of the gated
cells of chapter 05, the LSTM and the GRU (``minilm.nn.LSTM``, ``GRU``, ``RNN``, which run the
hand-derived kernels of ``minilm/kernels``). The loss is the cross-entropy of each real next word,
averaged over the predicted tokens; ``exp`` of it is the perplexity (``sampling.py``). Similar
words get similar embeddings, so a context never seen as such still gets a sensible prediction:
there is no counting, hence no need for smoothing, and no limit on how far back the model looks.

The model (Zaremba, Sutskever and Vinyals 2014, "Recurrent neural network regularization")::

    ids (N, T) -> Embedding -> Dropout -> RNN/GRU/LSTM (num_layers, dropout between layers)
               -> Dropout -> Linear(hidden_size, vocab_size) -> logits (N, T, V)

**Weight tying.** The decoder ``W`` (V, hidden_size) has one row per word, just as the embedding
``E`` (V, embedding_dim) has: a second word-vector table. With ``tie_weights=True`` the two are one
``Parameter`` (Press and Wolf 2017, "Using the output embedding to improve language models"; Inan,
Khosravi and Socher 2017, "Tying word vectors and word classifiers"). Why it helps:

* it removes ``V * hidden_size`` parameters, usually the largest block of a small LM, so there is
  less to overfit;
* the softmax gradient reaches *every* row of ``W`` at every step (each word's probability is
  pushed down when it is not the next word), while a row of ``E`` learns only when its word is
  read; tied, a rare word's input vector is trained at every step too;
* Inan et al. show that when the targets are smoothed by word similarity, the best output
  vectors live in the same space as the input vectors, so making them the same loses little.

Tying needs ``embedding_dim == hidden_size`` (the two tables must have the same shape).

The gradient of a tied table is the *sum* of its two uses: autograd adds the gradient that comes
back through the embedding lookup (rows of the words read) and the one from the decoder (all rows).

- ``RNNLanguageModel(vocab_size, embedding_dim=128, hidden_size=256, num_layers=2, cell="lstm",
  dropout=0.2, tie_weights=False)``, ``forward(ids, state=None) -> (logits, state)``;
- ``generate(model, prompt_ids, max_new_tokens, temperature=1.0, top_k=None, generator=None)``;
- from ``lm_training.py``: ``detach_state``, ``evaluate``, ``train_language_model`` (truncated
  BPTT and gradient clipping are explained there).
"""

from __future__ import annotations

import numpy as np

import minilm
from minilm import backend
from minilm.models.lm_data import as_token_ids
from minilm.models.lm_training import detach_state, evaluate, model_device, train_language_model
from minilm.models.sampling import sample_next
from minilm.nn import init
from minilm.nn.layers import Dropout, Embedding, Linear
from minilm.nn.module import Module
from minilm.nn.recurrent import GRU, LSTM, RNN
from minilm.tensor import Tensor

__all__ = ["CELLS", "RNNLanguageModel", "detach_state", "evaluate", "generate", "train_language_model"]

#: The recurrent layer behind each value of ``cell``.
CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def _check_size(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``, or a ``ValueError`` that names it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"RNNLanguageModel: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


class RNNLanguageModel(Module):
    """A word-level recurrent language model (see the module docstring for the picture).

    ``cell``: "lstm", "gru" or "rnn" (tanh). ``dropout`` is applied to the embeddings, between
    the recurrent layers and to the last layer's outputs, while training. ``tie_weights=True``
    makes ``decoder.weight`` and ``embedding.weight`` one Parameter (needs ``embedding_dim ==
    hidden_size``). ``device`` and ``dtype`` as for every minilm module.

    ``forward(ids, state=None) -> (logits, state)``: ``ids`` (N, T) integer token ids, batch first;
    ``logits`` (N, T, vocab_size), where ``logits[:, t]`` scores the token that follows ``ids[:, t]``;
    ``state`` the recurrent state after the last step, ``h`` (num_layers, N, hidden_size), or
    ``(h, c)`` for an LSTM. Pass it back in to go on where the text stopped: the logits of ``a``
    then ``b`` with the state of ``a`` are exactly the logits of ``a + b`` read at once.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 128,
        hidden_size: int = 256,
        num_layers: int = 2,
        cell: str = "lstm",
        dropout: float = 0.2,
        tie_weights: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"RNNLanguageModel: cell must be one of {sorted(CELLS)}, got {cell!r}")
        self.vocab_size = _check_size("vocab_size", vocab_size)
        embedding_dim = _check_size("embedding_dim", embedding_dim)
        hidden_size = _check_size("hidden_size", hidden_size)
        num_layers = _check_size("num_layers", num_layers)
        if not 0 <= dropout < 1:
            raise ValueError(f"RNNLanguageModel: dropout must be in [0, 1), got {dropout!r}")
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(
                f"RNNLanguageModel: tie_weights=True shares the decoder's (vocab_size, hidden_size) weight with "
                f"the (vocab_size, embedding_dim) embedding, so embedding_dim must equal hidden_size; got "
                f"embedding_dim={embedding_dim} and hidden_size={hidden_size}"
            )
        self.cell, self.tie_weights = cell, bool(tie_weights)
        self.embedding = Embedding(self.vocab_size, embedding_dim, device=device, dtype=dtype)
        self.drop = Dropout(dropout)
        self.rnn = CELLS[cell](
            embedding_dim,
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,
            device=device,
            dtype=dtype,
        )
        self.decoder = Linear(hidden_size, self.vocab_size, device=device, dtype=dtype)
        if self.tie_weights:
            self.decoder.weight = self.embedding.weight  # one Parameter, two uses
        self.reset_parameters()

    @property
    def hidden_size(self) -> int:
        return self.rnn.hidden_size

    @property
    def num_layers(self) -> int:
        return self.rnn.num_layers

    def reset_parameters(self) -> None:
        """Embedding and decoder weights uniform in [-0.1, 0.1], decoder bias 0; the recurrent layer
        keeps PyTorch's U(-1/sqrt(hidden_size), +1/sqrt(hidden_size)).

        ``nn.Embedding`` starts at N(0, 1), sensible for a table read on its own but far too large
        here: the first logits would be sums of hundreds of O(1) terms, and the first predictions
        confidently wrong. Small weights start the model near the uniform distribution, perplexity
        about ``vocab_size``, and the zero bias lets it learn the word frequencies first."""
        init.uniform_(self.embedding.weight, -0.1, 0.1)
        if not self.tie_weights:
            init.uniform_(self.decoder.weight, -0.1, 0.1)
        init.zeros_(self.decoder.bias)

    def check_ids(self, ids) -> Tensor:
        """``ids`` as an int64 (N, T) Tensor on the model's device; a ``ValueError`` or ``TypeError`` that
        names the problem when it is not (N, T) integer ids in ``0 .. vocab_size - 1``."""
        data = ids.data if isinstance(ids, Tensor) else ids
        xp = backend.xp_of(data) if backend.is_cuda_array(data) else np
        data = xp.asarray(data)
        if data.ndim != 2:
            hint = " (one sequence: ids[None], or [ids])" if data.ndim == 1 else ""
            raise ValueError(
                f"RNNLanguageModel: ids must be (N, T) token ids, batch first; got shape {data.shape}{hint}"
            )
        if data.dtype.kind not in "iu":
            raise TypeError(f"RNNLanguageModel: ids must be integer token ids, got dtype {data.dtype}")
        low, high = (int(data.min()), int(data.max())) if data.size else (0, 0)
        if low < 0 or high >= self.vocab_size:
            bad = high if high >= self.vocab_size else low
            raise ValueError(
                f"RNNLanguageModel: token id {bad} is outside the vocabulary of size {self.vocab_size} "
                f"(ids 0..{self.vocab_size - 1}); was the model built for a smaller vocabulary?"
            )
        if isinstance(ids, Tensor) and ids.device == model_device(self) and data.dtype == np.int64:
            return ids
        return minilm.tensor(data.astype(np.int64), device=model_device(self))

    def forward(self, ids, state=None):
        ids = self.check_ids(ids)
        x = self.drop(self.embedding(ids))  # (N, T, embedding_dim)
        output, state = self.rnn(x, state)  # (N, T, hidden_size)
        return self.decoder(self.drop(output)), state

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, tie_weights={self.tie_weights}"


def generate(model, prompt_ids, max_new_tokens: int, temperature: float = 1.0, top_k=None, generator=None) -> list:
    """Continue ``prompt_ids`` (a non-empty sequence of token ids) by ``max_new_tokens`` tokens and
    return the new ids (the prompt not included), as a list of ints.

    The prompt is read in one forward pass, which leaves the state after its last token and the
    logits for what comes next; then each step picks one token with
    ``minilm.models.sampling.sample_next`` (``temperature=0`` is greedy argmax, ``top_k`` keeps
    only the k best candidates, ``generator`` a ``numpy.random.Generator`` for reproducible draws)
    and feeds it back in with the state, so a step costs one token's work, not the whole text's.
    The model is put in eval mode (no dropout) and restored to its mode afterwards."""
    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
        raise ValueError(f"generate: max_new_tokens must be an integer >= 0, got {max_new_tokens!r}")
    prompt = as_token_ids(prompt_ids, "generate: prompt_ids", model.vocab_size)
    if len(prompt) == 0:
        raise ValueError("generate: the prompt is empty; give at least one token (e.g. the id of '<eos>')")
    was_training = model.training
    model.eval()
    out = []
    try:
        with minilm.no_grad():
            logits, state = model(prompt[None, :])
            for _ in range(int(max_new_tokens)):
                token = int(sample_next(logits[0, -1], temperature, top_k, generator))
                out.append(token)
                logits, state = model(np.array([[token]], dtype=np.int64), state)
    finally:
        model.train(was_training)
    return out
