"""Choosing the next token, and perplexity: what every language model of minilm shares.

A language model, n-gram or neural, ends each step with one score per vocabulary word for what
comes next. For a neural model the scores are *logits* ``z`` (any real numbers; the distribution
is ``softmax(z)``); for an n-gram model they are the log-probabilities ``log p``, which are
logits too (``softmax(log p) = p``). Generating text is choosing from those scores, one token at
a time, and feeding the choice back in. Three knobs change the choice:

``temperature`` T
    Sample from ``softmax(z / T)``. T = 1 is the model's own distribution; T < 1 sharpens it
    (likely words get likelier, the text gets safer and more repetitive); T > 1 flattens it (more
    surprises, more nonsense). As T -> 0 all the mass goes to the largest logit, so T = 0 means
    greedy decoding: always take the argmax.
``top_k`` k
    Before sampling, keep only the k largest logits and set the others to -inf (probability 0),
    so a long tail of individually unlikely but collectively likely words can never be drawn.
    ``top_k=1`` is greedy decoding again.
``top_p`` p (nucleus sampling; Holtzman et al. 2020, "The curious case of neural text degeneration")
    Keep the *nucleus*: the smallest set of most likely tokens whose probabilities add up to at
    least p, and set the others to -inf. Unlike a fixed k, the nucleus follows the model's
    confidence: after "the United" it may hold one token, after "I saw a" a thousand. The most
    likely token is always in it, so ``top_p`` close to 0 is greedy decoding and ``top_p=1``
    keeps every token. It is taken from the *tempered* distribution ``softmax(z / T)``, after
    ``top_k``, as Hugging Face does.
``generator``
    A ``numpy.random.Generator``. Without one, the CPU generator of ``minilm.backend`` is used,
    which ``minilm.manual_seed(s)`` reseeds: the same seed gives the same text.

Worked example, logits ``z = [2, 1, 0]``: ``softmax(z) = [0.665, 0.245, 0.090]``; at T = 0.5,
``softmax(2 z) = [0.867, 0.117, 0.016]``; with ``top_k=2`` the last word is out and the first two
share the mass as ``[0.731, 0.269]``; with ``top_p=0.8`` (at T = 1) the nucleus is also the first
two words, because 0.665 < 0.8 <= 0.665 + 0.245, and with ``top_p=0.6`` it is the first word alone.

Perplexity is ``exp`` of the mean negative log-likelihood per predicted token (in nats): a model
with perplexity 50 is, on average, as unsure as if it chose uniformly among 50 words. A model
that always says "uniform over V words" has perplexity exactly V. ``perplexity_from_loss`` turns
the mean cross-entropy a training loop reports into it.

- ``sample_next(logits, temperature=1.0, top_k=None, generator=None, top_p=None) -> int64 ids``
- ``top_k_filter(logits, k) -> logits with all but the k largest set to -inf``
- ``top_p_filter(logits, p) -> logits with everything outside the nucleus set to -inf``
- ``softmax_with_temperature(logits, temperature) -> probabilities``
- ``perplexity_from_loss(mean_nll) -> float``
"""

from __future__ import annotations

import math

import numpy as np

from minilm import backend
from minilm.tensor import Tensor

__all__ = ["perplexity_from_loss", "sample_next", "softmax_with_temperature", "top_k_filter", "top_p_filter"]


def as_logits(logits, what: str = "logits") -> np.ndarray:
    """``logits`` (a NumPy or CuPy array, a minilm Tensor or a list) as a float64 NumPy array (..., V).

    Every row must have at least one finite logit. ``-inf`` is allowed: it is how a token is ruled
    out (``top_k_filter`` writes it, and ``log(0)`` of an n-gram model gives it). ``nan`` and
    ``+inf`` are errors: they mean the model's numbers have broken down.
    """
    if isinstance(logits, Tensor):
        logits = logits.data
    if backend.is_cuda_array(logits):
        logits = backend.to_device(logits, backend.CPU)
    arr = np.asarray(logits)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 0 or arr.shape[-1] == 0:
        raise ValueError(f"{what} must have shape (..., V) with V >= 1 scores per row, got shape {arr.shape}")
    bad = np.isnan(arr) | (arr == np.inf)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"{what} must not hold nan or +inf, got {arr[where]} at index {where}; "
            "the model has diverged (lower the learning rate, clip gradients) or a score was computed wrongly"
        )
    dead = np.all(arr == -np.inf, axis=-1)
    if dead.any():
        where = tuple(int(i) for i in np.argwhere(dead)[0]) if dead.ndim else ()
        raise ValueError(f"{what}: every logit of row {where} is -inf, so no token can be chosen")
    return arr


def _check_temperature(temperature) -> float:
    """``temperature`` as a float; it must be a finite number >= 0."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise TypeError(f"temperature must be a number >= 0, got {temperature!r}") from None
    if not (math.isfinite(t) and t >= 0):
        raise ValueError(f"temperature must be a finite number >= 0 (0 means greedy argmax), got {temperature!r}")
    return t


def _check_k(k, vocab_size: int) -> int:
    """``k`` as an int in ``1 .. vocab_size``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"top_k must be an integer from 1 to the vocabulary size {vocab_size}, got {k!r}")
    if not 1 <= k <= vocab_size:
        raise ValueError(f"top_k must be from 1 to the vocabulary size {vocab_size}, got {k}")
    return int(k)


def top_k_filter(logits, k) -> np.ndarray:
    """A float64 copy of ``logits`` (..., V) in which all but the ``k`` largest of each row are ``-inf``.

    Exactly ``k`` logits survive in each row: among equal logits at the cut, the ones with the
    smaller ids are kept (a stable sort decides), so the result never depends on chance.
    ``k`` must be from 1 to V.
    """
    arr = as_logits(logits)
    k = _check_k(k, arr.shape[-1])
    order = np.argsort(-arr, axis=-1, kind="stable")  # largest first, ties in id order
    keep = order[..., :k]
    out = np.full_like(arr, -np.inf)
    np.put_along_axis(out, keep, np.take_along_axis(arr, keep, axis=-1), axis=-1)
    return out


def _check_p(p) -> float:
    """``p`` as a float in (0, 1]: the probability mass the nucleus of ``top_p_filter`` must reach."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"top_p must be a number in (0, 1], got {p!r}")
    p = float(p)
    if not 0 < p <= 1:  # also refuses nan, for which every comparison is False
        raise ValueError(
            f"top_p must be in (0, 1]: the probability mass of the most likely tokens to keep (1 keeps all), got {p!r}"
        )
    return p


def nucleus_mask(probs: np.ndarray, p: float) -> np.ndarray:
    """A boolean mask (..., V): True for the tokens in the nucleus of each row of ``probs``.

    Sort the tokens from most to least likely (a stable sort, so among equal probabilities the
    smaller id comes first) and walk down the list adding up probabilities. A token is in the
    nucleus when the mass of the tokens *before* it is still below ``p``: the walk stops right
    after the first token that brings the sum to ``p`` or more. So the nucleus is the smallest
    set that reaches ``p``, and the first token, the most likely, is always in it (the mass
    before it is 0 < p).
    """
    order = np.argsort(-probs, axis=-1, kind="stable")
    sorted_probs = np.take_along_axis(probs, order, axis=-1)
    mass_before = np.cumsum(sorted_probs, axis=-1) - sorted_probs
    keep_sorted = mass_before < p
    keep_sorted[..., 0] = True  # the most likely token, even if rounding says otherwise
    keep = np.zeros(probs.shape, dtype=bool)
    np.put_along_axis(keep, order, keep_sorted, axis=-1)
    return keep


def top_p_filter(logits, p) -> np.ndarray:
    """A float64 copy of ``logits`` (..., V) in which every token outside the nucleus of its row is ``-inf``.

    The nucleus is the smallest set of most likely tokens whose probabilities ``softmax(logits)``
    add up to at least ``p`` (see ``nucleus_mask``); it always holds the most likely token, and
    ties at the cut go to the smaller id. ``p`` must be in (0, 1]; ``p=1`` keeps every token
    (its logits unchanged, ``-inf`` ones stay ``-inf``). To take the nucleus of a tempered
    distribution, pass ``logits / temperature`` (``sample_next`` does).
    """
    arr = as_logits(logits)
    p = _check_p(p)
    if p == 1:
        return arr.copy()  # everything: no need to trust a cumulative sum to reach exactly 1.0
    probs = softmax_with_temperature(arr, 1.0)
    return np.where(nucleus_mask(probs, p), arr, -np.inf)


def softmax_with_temperature(logits, temperature: float = 1.0) -> np.ndarray:
    """``softmax(logits / temperature)`` along the last axis, in float64 (temperature > 0).

    The largest logit is subtracted first, so ``exp`` never overflows; a ``-inf`` logit gives
    probability exactly 0.
    """
    arr = as_logits(logits)
    t = _check_temperature(temperature)
    if t == 0:
        raise ValueError("softmax_with_temperature: temperature 0 is not a distribution; use sample_next (argmax)")
    z = (arr - arr.max(axis=-1, keepdims=True)) / t
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def _draw(probs: np.ndarray, generator) -> np.ndarray:
    """One id per row of ``probs`` (..., V), drawn by inverting the cumulative distribution.

    With ``u`` uniform in [0, 1), the chosen id is the number of cumulative sums ``<= u * total``;
    a token of probability 0 adds nothing to the sum, so it can never be the one chosen.
    """
    cdf = np.cumsum(probs, axis=-1)
    u = generator.random(probs.shape[:-1]) * cdf[..., -1]
    ids = (cdf <= u[..., None]).sum(axis=-1)
    last_possible = probs.shape[-1] - 1 - np.argmax(probs[..., ::-1] > 0, axis=-1)  # guards against rounding
    return np.minimum(ids, last_possible).astype(np.int64)


def sample_next(
    logits, temperature: float = 1.0, top_k: int | None = None, generator=None, top_p: float | None = None
) -> np.ndarray:
    """Choose one token id per row of ``logits`` (..., V); returns int64 ids of shape ``logits.shape[:-1]``
    (for one row of shape (V,), a ``numpy.int64`` scalar).

    - ``temperature=0``: greedy, the argmax (the smallest id among equal maxima), no randomness.
    - ``temperature > 0``: a draw from ``softmax(logits / temperature)``.
    - ``top_k=k``: only the k largest logits of each row can be chosen (see ``top_k_filter``).
    - ``top_p=p``: only the nucleus of ``softmax(logits / temperature)`` can be chosen, the
      smallest set of most likely tokens with mass >= p (see ``top_p_filter``); applied after
      ``top_k``. The argmax is always in it, so greedy decoding (``temperature=0``) ignores it.
    - ``generator``: a ``numpy.random.Generator``; by default minilm's CPU generator, which
      ``minilm.manual_seed`` reseeds.

    ``logits`` may be a NumPy or CuPy array or a minilm Tensor (a neural model's output row, say
    ``model(x)[:, -1]``); a GPU array is copied to the CPU first.
    """
    arr = as_logits(logits)
    t = _check_temperature(temperature)
    if top_p is not None:
        top_p = _check_p(top_p)
    if top_k is not None:
        arr = top_k_filter(arr, top_k)
    if t == 0:
        return np.argmax(arr, axis=-1).astype(np.int64)
    if top_p is not None:
        arr, t = top_p_filter(arr / t, top_p), 1.0  # the nucleus of the tempered distribution
    if generator is None:
        generator = backend.generator(backend.CPU)
    elif not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
    return _draw(softmax_with_temperature(arr, t), generator)


def perplexity_from_loss(mean_nll) -> float:
    """``exp(mean_nll)``: the perplexity of a model whose mean negative log-likelihood per token,
    in nats (natural log, as ``F.cross_entropy`` computes it), is ``mean_nll``.

    ``nan`` is an error (the loss has diverged); a loss so large that ``exp`` overflows gives
    ``inf``. A mean negative log-likelihood of discrete tokens is never below 0, so a negative
    value (beyond rounding) is an error too: it is usually a log-likelihood passed without its minus.
    """
    if isinstance(mean_nll, Tensor):
        mean_nll = mean_nll.item()
    try:
        x = float(mean_nll)
    except (TypeError, ValueError):
        raise TypeError(f"perplexity_from_loss: expected a number (the mean loss), got {mean_nll!r}") from None
    if math.isnan(x):
        raise ValueError(
            "perplexity_from_loss: the loss is nan, so there is no perplexity; training has diverged "
            "(lower the learning rate, clip gradients) or a log of 0 entered the loss"
        )
    if x < -1e-9:
        raise ValueError(
            f"perplexity_from_loss: a mean negative log-likelihood is >= 0, got {x}; "
            "did you pass a log-likelihood (forgot the minus sign)?"
        )
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf
