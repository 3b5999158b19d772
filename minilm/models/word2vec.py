r"""word2vec: word vectors learned by predicting a word's neighbours (Mikolov et al., 2013).

A word is known by the company it keeps. word2vec turns that sentence into a training task: for
each position of a text, score the words that really occur near it above words drawn at random.
Two tables of vectors come out of it, one row per vocabulary word, and words that occur in the
same contexts end up with similar rows::

    >>> from minilm.data import corpus
    >>> from minilm.models.word2vec import train_word2vec
    >>> wv = train_word2vec(corpus.sentences(20000), epochs=10)
    >>> [w for w, _ in wv.most_similar("soup", topn=4)]      # other dishes: they fill the same slots
    ['pie', 'potato', 'cake', 'salad']

The pieces, in the order the data flows through them:

- ``subsample_keep_prob``, ``subsample``: drop most occurrences of very frequent words;
- ``skipgram_pairs`` / ``cbow_examples``: the examples, from a dynamic window;
- ``noise_distribution``, ``NegativeSampler``: noise words from the unigram distribution ^ 3/4;

(those three live in ``word2vec_examples.py`` and are re-exported here), then, in this file,

- ``negative_sampling_loss(v, u)``: the loss of skip-gram with negative sampling (SGNS), an
  explicit kernel whose gradient is derived below;
- ``Word2Vec``: the model, ``in_embed`` (the vectors one keeps) and ``out_embed`` (the context
  vectors), whose ``forward`` looks the vectors up and returns the loss;
- ``train_word2vec(texts, ...) -> WordVectors``: tokenize, build the vocabulary, and train with
  minilm's autograd and ``optim.SGD``; ``WordVectors`` (``word_vectors.py``) answers
  ``most_similar`` and ``analogy`` questions.

The loss of one example and its gradient
----------------------------------------
``v`` is the centre word's input vector (CBOW: the mean of the context words' input vectors),
``u_0`` the output vector of the true context word and ``u_1 .. u_k`` those of ``k`` noise words.
Negative sampling replaces the softmax over the whole vocabulary by ``k + 1`` yes/no questions,
"did this word occur here?", answered by ``sigma(u . v)``, with ``sigma(x) = 1 / (1 + e^-x)``::

    loss = -log sigma(s_0) - sum_{j=1..k} log sigma(-s_j),      s_j = u_j . v

Since ``d/dx log sigma(x) = 1 - sigma(x)`` and ``d/dx log sigma(-x) = -sigma(x)``::

    d loss / d s_0 = sigma(s_0) - 1          (negative: a step pulls u_0 and v together)
    d loss / d s_j = sigma(s_j)              (positive: a step pushes u_j and v apart), j >= 1

In one line, ``d loss / d s_j = sigma(s_j) - y_j`` with the labels ``y_0 = 1`` and ``y_j = 0``: the
gradient of logistic regression. The chain rule through ``s_j = u_j . v`` then gives::

    d loss / d v   = sum_{j=0..k} (sigma(s_j) - y_j) u_j
    d loss / d u_j = (sigma(s_j) - y_j) v

so an example moves only ``k + 2`` rows of the two tables (CBOW: every context word's row gets
``1 / count`` of ``d loss / d v``). The loss is computed stably as ``softplus(-s_0) +
sum_j softplus(s_j)``, with ``softplus(x) = log(1 + e^x)`` evaluated by ``logaddexp(0, x)``.
``negative_sampling_loss`` is an explicit kernel with exactly this backward (the tests check it
against finite differences and against the same loss composed from primitive ops); the
embedding lookups scatter the row gradients back into the tables.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

import minilm
from minilm import backend
from minilm.autograd import Function
from minilm.data import SPECIAL_TOKENS, Vocab, WordTokenizer
from minilm.models.word2vec_examples import (
    NegativeSampler,
    cbow_examples,
    cbow_examples_flat,
    check_window,
    flatten_sentences,
    keep_mask,
    noise_distribution,
    skipgram_pairs,
    skipgram_pairs_flat,
    subsample,
    subsample_keep_prob,
    unigram_table,
)
from minilm.models.word_vectors import WordVectors
from minilm.nn import init
from minilm.nn.layers import Embedding
from minilm.nn.module import Module
from minilm.ops.elementwise import sigmoid_array
from minilm.optim import SGD
from minilm.tensor import Tensor

__all__ = [
    "MODES",
    "NegativeSampler",
    "NegativeSamplingLoss",
    "Word2Vec",
    "WordVectors",
    "cbow_examples",
    "cbow_examples_flat",
    "encode_texts",
    "flatten_sentences",
    "keep_mask",
    "negative_sampling_loss",
    "noise_distribution",
    "skipgram_pairs",
    "skipgram_pairs_flat",
    "subsample",
    "subsample_keep_prob",
    "train_word2vec",
    "unigram_table",
]

#: The two ways of turning a window into examples.
MODES = ("skipgram", "cbow")

# ---------------------------------------------------------------------------------------------
# the loss and the model
# ---------------------------------------------------------------------------------------------


class NegativeSamplingLoss(Function):
    """The kernel behind ``negative_sampling_loss``. Forward saves ``v``, ``u`` and the scores ``s``;
    backward forms ``sigma(s) - y`` once and returns ``d v = sum_j (sigma(s_j) - y_j) u_j`` and
    ``d u_j = (sigma(s_j) - y_j) v`` (see the module docstring), times the incoming gradient."""

    op_name = "negative_sampling_loss"

    @staticmethod
    def forward(ctx, v, u, reduction):
        xp = backend.xp_of(v)
        s = (u @ v[:, :, None])[:, :, 0]  # (N, 1 + k) scores u_j . v
        signs = xp.ones(s.shape[1], dtype=s.dtype)
        signs[0] = -1  # -log sigma(s_0) = softplus(-s_0); -log sigma(-s_j) = softplus(s_j)
        loss = xp.logaddexp(0, signs * s).sum(axis=1)
        ctx.save_for_backward(v, u, s)
        ctx.reduction = reduction
        if reduction == "none":
            return loss
        return loss.sum() if reduction == "sum" else loss.sum() / max(len(loss), 1)

    @staticmethod
    def backward(ctx, g):
        v, u, s = ctx.saved_tensors
        ds = sigmoid_array(s)  # sigma(s_j) - y_j: subtract the label 1 in column 0
        ds[:, 0] -= 1
        if ctx.reduction == "none":
            ds *= g[:, None]
        else:
            ds *= g / max(len(s), 1) if ctx.reduction == "mean" else g
        dv = (ds[:, None, :] @ u)[:, 0, :] if ctx.needs_input_grad[0] else None  # sum_j ds_j u_j
        du = ds[:, :, None] * v[:, None, :] if ctx.needs_input_grad[1] else None  # ds_j v
        return dv, du, None


def negative_sampling_loss(v, u, reduction: str = "mean"):
    """The SGNS loss: ``v`` (N, D) centre vectors, ``u`` (N, 1 + k, D) output vectors whose column 0
    is the true context word and columns 1..k the noise words; per example
    ``-log sigma(u_0 . v) - sum_j log sigma(-u_j . v)`` (see the module docstring for the gradient).
    ``reduction``: 'mean' (over the N examples), 'sum' or 'none' (N,)."""
    if not isinstance(v, Tensor) or not isinstance(u, Tensor):
        raise TypeError("negative_sampling_loss: v and u must be Tensors")
    if v.ndim != 2 or u.ndim != 3 or u.shape[0] != v.shape[0] or u.shape[2] != v.shape[1] or u.shape[1] < 1:
        raise ValueError(
            f"negative_sampling_loss: expected v (N, D) and u (N, 1 + k, D), got v {v.shape} and u {u.shape}"
        )
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"negative_sampling_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return NegativeSamplingLoss.apply(v, u, reduction)


def _ids(x, like: Tensor) -> Tensor:
    """Integer ids as a Tensor on the device of ``like`` (NumPy arrays and lists are accepted)."""
    if isinstance(x, Tensor):
        return x
    return minilm.tensor(np.asarray(x, dtype=np.int64), device=like.device)


class Word2Vec(Module):
    """``Word2Vec(vocab_size, embedding_dim=50, mode="skipgram", padding_idx=None)``.

    ``in_embed``: the input vectors ``v`` (the word vectors one keeps), initialised uniform in
    ``+-0.5 / embedding_dim`` as in the C code: small, so that all scores start near 0 and
    ``sigma`` near 1/2, but not zero, so that words start out different. ``out_embed``: the output
    (context) vectors ``u``, initialised to zero as in the C code. (Both zero would leave every
    gradient zero forever; one zero table is fine: the first steps move ``u`` along ``v``.)

    ``forward(inputs, positives, negatives) -> loss`` (the mean SGNS loss): ``inputs`` are the
    centre ids (N,) in skip-gram mode and the context ids (N, C) in CBOW mode, where slots equal
    to ``padding_idx`` are left out of the average (CBOW needs a ``padding_idx``); ``positives`` (N,)
    are the words to predict, ``negatives`` (N, k) the noise words.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 50,
        mode: str = "skipgram",
        padding_idx=None,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"Word2Vec: mode must be one of {MODES}, got {mode!r}")
        if mode == "cbow" and padding_idx is None:
            raise ValueError("Word2Vec: CBOW pads short contexts, so it needs padding_idx (e.g. vocab.pad_id)")
        self.mode = mode
        self.padding_idx = padding_idx
        self.in_embed = Embedding(vocab_size, embedding_dim, padding_idx, device=device, dtype=dtype)
        self.out_embed = Embedding(vocab_size, embedding_dim, padding_idx, device=device, dtype=dtype)
        self.reset_parameters()

    def reset_parameters(self, rng=None) -> None:
        """``in_embed`` uniform in ``+-0.5 / dim``, ``out_embed`` zero, the padding row zero.
        ``rng`` (a ``numpy.random.Generator``) makes the draw independent of minilm's global seed."""
        weight = self.in_embed.weight
        bound = 0.5 / weight.shape[1]
        if rng is None:
            init.uniform_(weight, -bound, bound)
        else:
            values = rng.uniform(-bound, bound, size=weight.shape).astype(weight.dtype)
            weight.data = backend.to_device(values, weight.device)
        init.zeros_(self.out_embed.weight)
        if self.padding_idx is not None:
            w = weight.data.copy()
            w[self.padding_idx] = 0
            weight.data = w

    def centre_vectors(self, inputs) -> Tensor:
        """``v`` (N, D): the centre words' input vectors (skip-gram), or the mean of the input
        vectors of the context words that are not padding (CBOW)."""
        inputs = _ids(inputs, self.in_embed.weight)
        if self.mode == "skipgram":
            return self.in_embed(inputs)
        if inputs.ndim != 2:
            raise ValueError(f"Word2Vec (cbow): contexts must be (N, C) ids, got shape {inputs.shape}")
        mask = (inputs.data != self.padding_idx).astype(self.in_embed.weight.dtype)
        counts = mask.sum(axis=1, keepdims=True)
        if (counts == 0).any():
            row = int(backend.xp_of(counts).argmax(counts[:, 0] == 0))
            raise ValueError(f"Word2Vec (cbow): context row {row} is all padding; leave such rows out")
        weights = Tensor._wrap(mask / counts)  # 1/count on real words, 0 on padding
        return (self.in_embed(inputs) * weights.unsqueeze(-1)).sum(dim=1)

    def forward(self, inputs, positives, negatives) -> Tensor:
        v = self.centre_vectors(inputs)
        positives = _ids(positives, v).data.reshape(-1, 1)
        negatives = _ids(negatives, v).data
        if negatives.ndim != 2 or negatives.shape[0] != positives.shape[0] or positives.shape[0] != v.shape[0]:
            raise ValueError(
                f"Word2Vec: expected {v.shape[0]} positives (N,) and negatives (N, k), got positives "
                f"{positives.shape[:1]} and negatives {negatives.shape}"
            )
        xp = backend.xp_of(negatives)
        u = self.out_embed(Tensor._wrap(xp.concatenate([positives, negatives], axis=1)))  # (N, 1 + k, D)
        return negative_sampling_loss(v, u)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------


def encode_texts(texts, tokenizer, min_count: int) -> tuple[Vocab, list[np.ndarray]]:
    """Tokenize ``texts``, build a ``Vocab`` of the words seen at least ``min_count`` times, and
    return it with each text as an array of ids. Words below ``min_count`` are left out of the
    arrays altogether (as in the C code), not replaced by ``[UNK]``; so are special tokens that
    occur in the text (``[MASK]``...), which would otherwise pass for padding or noise."""
    token_lists = [tokenizer.tokenize(t) for t in texts]
    vocab = Vocab.build(token_lists, min_freq=min_count)
    specials = np.array([vocab[t] for t in SPECIAL_TOKENS])  # [UNK] for the rare words, and the rest
    encoded = []
    for tokens in token_lists:
        ids = np.array(vocab.lookup_ids(tokens), dtype=np.int64)
        encoded.append(ids[~np.isin(ids, specials)])
    return vocab, encoded


def _check_arguments(mode, window, embedding_dim, negative, epochs, batch_size, min_count, texts) -> None:
    """Raise ValueError/TypeError naming the first argument of ``train_word2vec`` that is out of range."""
    if mode not in MODES:
        raise ValueError(f"train_word2vec: mode must be one of {MODES}, got {mode!r}")
    check_window("train_word2vec", window)
    for name, value, least in (
        ("embedding_dim", embedding_dim, 1),
        ("negative", negative, 0),
        ("epochs", epochs, 1),
        ("batch_size", batch_size, 1),
        ("min_count", min_count, 1),
    ):
        if int(value) != value or value < least:
            raise ValueError(f"train_word2vec: {name} must be a whole number >= {least}, got {value!r}")
    if isinstance(texts, str):
        raise TypeError("train_word2vec: texts must be a list of strings, got one string; wrap it: [text]")


def epoch_examples(mode, tokens, sentence, keep_prob, window, rng, pad_id):
    """One epoch's examples from the flattened corpus: subsample it afresh (each epoch drops other
    occurrences), then form skip-gram pairs ``(centres, contexts)`` or CBOW rows ``(contexts, targets)``."""
    kept = keep_mask(tokens, keep_prob, rng)
    if mode == "skipgram":
        return skipgram_pairs_flat(tokens[kept], sentence[kept], window, rng)
    return cbow_examples_flat(tokens[kept], sentence[kept], window, rng, pad_id)


def train_epoch(model, optimizer, sampler, inputs, targets, negative, batch_size, rng, schedule) -> float:
    """One pass over the examples in a random order, ``batch_size`` at a time: draw ``negative``
    noise words per example, compute the loss, backpropagate, step. ``schedule(fraction)`` gives the
    learning rate after ``fraction`` (0 to 1) of the epoch. Returns the mean loss of the epoch."""
    order = rng.permutation(len(targets))
    total, n = 0.0, len(order)
    for first in range(0, n, batch_size):
        optimizer.param_groups[0]["lr"] = schedule(first / n)
        rows = order[first : first + batch_size]
        negatives = sampler.sample(len(rows), negative, avoid=targets[rows])
        loss = model(inputs[rows], targets[rows], negatives)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        value = float(loss.item())
        if not math.isfinite(value):
            raise FloatingPointError(
                f"train_word2vec: the loss became {value} at example {first:,} of {n:,} of an epoch; the steps are "
                "too large: lower lr or batch_size"
            )
        total += value * len(rows)
    return total / n


def train_word2vec(
    texts,
    embedding_dim: int = 50,
    mode: str = "skipgram",
    window: int = 5,
    negative: int = 5,
    min_count: int = 5,
    subsample: float = 1e-3,
    epochs: int = 5,
    batch_size: int = 1024,
    lr: float | None = None,
    seed: int = 0,
    tokenizer=None,
    progress: bool = False,
    device=None,
) -> WordVectors:
    """Train word2vec on ``texts`` (a list of strings; windows stay inside one string) and return
    the input vectors as ``WordVectors``.

    ``mode``: "skipgram" or "cbow"; ``window``: the largest distance of a context word;
    ``negative``: noise words per example; ``min_count``: rarer words are dropped; ``subsample``:
    the threshold ``t`` of ``subsample_keep_prob`` (0 switches subsampling off); ``tokenizer``: any
    object with ``tokenize(text) -> list[str]`` (default ``WordTokenizer()``, lowercasing).

    Optimizer: ``optim.SGD`` with the learning rate falling linearly from ``lr`` to ``lr * 1e-4``
    over training, as in the C code, whose defaults are used for ``lr=None``: 0.025 for skip-gram,
    0.05 for CBOW. ``lr`` is per example, as there: the loss is the *mean* over a batch, so the
    step uses ``lr * batch_size``, and each example moves its rows as much as it would alone.
    Unlike the C code, which updates after every example, the examples of a batch are all
    computed with the same vectors, so a frequent word that appears many times in a batch takes
    one big step; if ``lr`` (or ``batch_size``) is too large that overshoots, the loss grows
    without bound, and training stops with a ``FloatingPointError``. (For CBOW this code uses the
    exact gradient of the *mean* of the context vectors, so each context word gets ``1 / count``
    of it; the C code gives each the whole of it, one more reason CBOW wants the larger ``lr``.)

    ``seed`` fixes everything (subsampling, windows, noise words, order, initial vectors).
    ``device``: where the two tables live and the loss is computed ("cpu", the default, or
    "cuda"); the examples are always prepared by NumPy on the CPU. ``progress=True`` prints one
    line per epoch (to stderr). The mean loss of each epoch is in
    ``.loss_history`` of the result."""
    _check_arguments(mode, window, embedding_dim, negative, epochs, batch_size, min_count, texts)
    if lr is None:
        lr = 0.025 if mode == "skipgram" else 0.05
    if not lr > 0:
        raise ValueError(f"train_word2vec: lr must be > 0, got {lr}")
    rng = np.random.default_rng(seed)
    vocab, encoded = encode_texts(texts, tokenizer or WordTokenizer(), min_count)
    tokens, sentence = flatten_sentences(encoded)
    if len(tokens) < 2:
        raise ValueError(
            f"train_word2vec: only {len(tokens)} words occur at least min_count={min_count} times; "
            "give more text or lower min_count"
        )
    counts = np.bincount(tokens, minlength=len(vocab))
    keep = subsample_keep_prob(counts, subsample) if subsample else (counts > 0).astype(np.float64)
    sampler = NegativeSampler(counts, seed=rng)
    model = Word2Vec(len(vocab), embedding_dim, mode, padding_idx=vocab.pad_id, device=device)
    model.reset_parameters(rng)
    optimizer = SGD(model.parameters(), lr=lr * batch_size)
    history = []
    for epoch in range(epochs):
        start = time.perf_counter()
        inputs, targets = epoch_examples(mode, tokens, sentence, keep, window, rng, vocab.pad_id)
        if len(targets) == 0:
            raise ValueError("train_word2vec: no training examples: no text has two words left after min_count")

        def schedule(fraction, epoch=epoch):  # linear decay over all epochs, as in the C code
            return lr * batch_size * max(1e-4, 1 - (epoch + fraction) / epochs)

        history.append(train_epoch(model, optimizer, sampler, inputs, targets, negative, batch_size, rng, schedule))
        if progress:
            print(
                f"word2vec epoch {epoch + 1}/{epochs}: loss {history[-1]:.4f}, {len(targets):,} examples, "
                f"{time.perf_counter() - start:.1f} s",
                file=sys.stderr,
                flush=True,
            )
    vectors = backend.to_device(model.in_embed.weight.data, backend.CPU).copy()
    return WordVectors(vocab, vectors, loss_history=history)
