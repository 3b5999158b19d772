"""The training examples of word2vec: subsampling, windows and noise words.

Everything here is plain NumPy on integer ids, seeded by a ``numpy.random.Generator``, and works on
a whole corpus at once (a loop over the window's distances, never over words), so that preparing
an epoch of the bundled corpus takes a few milliseconds. ``minilm.models.word2vec`` re-exports
all of it.

``subsample_keep_prob(counts, t)``, ``keep_mask`` and ``subsample(ids, keep_prob, rng)``
    Frequent words ("the", ".") are mostly dropped before windows are formed: they say little
    about their neighbours, and dropping them makes the windows of the other words reach further.
``skipgram_pairs(ids_per_sentence, window, rng)`` and ``cbow_examples(...)``
    (centre, context) pairs for skip-gram; (all context words, centre) rows for CBOW. Both use
    the *dynamic window*: each centre draws its own window size ``b`` from ``1..window``, so a
    neighbour at distance ``d`` is used with probability ``(window - d + 1) / window``, and near
    words count more than far ones.
``noise_distribution(counts, power=0.75)``, ``unigram_table`` and ``NegativeSampler``
    The noise words of negative sampling, drawn from the unigram distribution raised to the
    power 3/4, through a table of ids as in the original C code.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "NegativeSampler",
    "cbow_examples",
    "cbow_examples_flat",
    "check_window",
    "flatten_sentences",
    "keep_mask",
    "noise_distribution",
    "skipgram_pairs",
    "skipgram_pairs_flat",
    "subsample",
    "subsample_keep_prob",
    "unigram_table",
]

# ---------------------------------------------------------------------------------------------
# subsampling frequent words
# ---------------------------------------------------------------------------------------------


def subsample_keep_prob(counts, t: float = 1e-3) -> np.ndarray:
    """The probability of keeping each word, ``min(1, sqrt(t / f) + t / f)``, for word frequencies
    ``f = count / total``; ``counts[i]`` is how often word ``i`` occurs.

    This is the formula of the released word2vec C code (and of gensim), not the paper's
    ``sqrt(t / f)``. Both drop a word of frequency ``f`` >> ``t`` about as often; the extra ``t / f``
    keeps words near the threshold a little more, and words with ``f <= 2.6 t`` are never dropped
    (under the paper's formula every word above ``t`` loses some occurrences). We use the code's
    version because it is what the published vectors were trained with and because, with the
    code's default ``t = 1e-3``, it suits small corpora: in the bundled corpus it drops most of
    "the", "a" and "." and leaves the content words alone. Words that never occur get 0.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any():
        raise ValueError(f"subsample_keep_prob: counts must be a 1-D array of counts >= 0, got shape {counts.shape}")
    if not t > 0:
        raise ValueError(f"subsample_keep_prob: the threshold t must be > 0, got {t}")
    total = counts.sum()
    keep = np.zeros_like(counts)
    seen = counts > 0
    ratio = t * total / counts[seen]  # t / f
    keep[seen] = np.minimum(1.0, np.sqrt(ratio) + ratio)
    return keep


def keep_mask(ids, keep_prob, rng) -> np.ndarray:
    """A boolean array shaped like ``ids``: True where that occurrence survives subsampling, which
    happens with probability ``keep_prob[id]``, independently for each occurrence."""
    ids = np.asarray(ids)
    return rng.random(ids.shape) < np.asarray(keep_prob)[ids]


def subsample(ids, keep_prob, rng) -> np.ndarray:
    """The ids that survive subsampling, in their order (each kept with probability ``keep_prob[id]``).

    Dropped words are removed *before* windows are formed, as in the C code, so the words that
    remain see neighbours that were further away."""
    ids = np.asarray(ids)
    return ids[keep_mask(ids, keep_prob, rng)]


# ---------------------------------------------------------------------------------------------
# noise words for negative sampling
# ---------------------------------------------------------------------------------------------


def noise_distribution(counts, power: float = 0.75) -> np.ndarray:
    """``P(w) = count(w)^power / sum_v count(v)^power``: the distribution noise words are drawn from.

    ``power = 1`` is the unigram distribution, ``power = 0`` uniform over the words that occur.
    Mikolov et al. found 3/4 best: it flattens the distribution a little, so frequent words are
    drawn less often than their share and rare words more often. Words with count 0 (the special
    tokens) get probability 0."""
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or (counts < 0).any() or counts.sum() <= 0:
        raise ValueError(
            "noise_distribution: counts must be a 1-D array of counts >= 0 with at least one word that "
            f"occurs, got shape {counts.shape} and total {counts.sum() if counts.size else 0}"
        )
    weights = np.where(counts > 0, counts, 0.0) ** power
    weights[counts == 0] = 0.0  # 0 ** 0 would be 1
    return weights / weights.sum()


class NegativeSampler:
    """Draws noise words from ``noise_distribution(counts, power)`` with a table, as the C code does.

    The table holds ``table_size`` ids, word ``w`` filling a share ``P(w)`` of its slots; a uniform
    random slot is then a draw from ``P``, at the cost of one random integer. (Words with
    ``P(w) < 1 / table_size`` may get no slot at all; the default size leaves that to words far
    rarer than any that survive ``min_count`` in the corpora used here.) ``seed`` is an int or a
    ``numpy.random.Generator``.
    """

    def __init__(self, counts, power: float = 0.75, table_size: int = 1_000_000, seed=0):
        if table_size < 1:
            raise ValueError(f"NegativeSampler: table_size must be >= 1, got {table_size}")
        self.probs = noise_distribution(counts, power)
        self.table = unigram_table(self.probs, table_size)
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def sample(self, n: int, k: int, avoid=None) -> np.ndarray:
        """An (n, k) int64 array of noise ids. ``avoid`` (n,): row ``i`` never contains ``avoid[i]``
        (the true context word; the C code skips it too); such draws are drawn again."""
        out = self.table[self.rng.integers(0, len(self.table), size=(n, k))]
        if avoid is None or k == 0:
            return out
        avoid = np.asarray(avoid).reshape(n, 1)
        for _ in range(20):  # each round redraws only the clashes; 20 rounds leave almost none
            clash = out == avoid
            if not clash.any():
                break
            out[clash] = self.table[self.rng.integers(0, len(self.table), size=int(clash.sum()))]
        return out

    __call__ = sample


def unigram_table(probs, table_size: int) -> np.ndarray:
    """``table_size`` ids in which id ``w`` fills about ``probs[w] * table_size`` consecutive slots:
    slot ``i`` holds the word whose stretch of the cumulative distribution covers the point
    ``(i + 0.5) / table_size``. A word with probability 0 has an empty stretch and no slot."""
    edges = np.cumsum(probs)
    points = (np.arange(table_size) + 0.5) / table_size * edges[-1]  # scaled: rounding in the sum
    return np.searchsorted(edges, points, side="right").astype(np.int64)


# ---------------------------------------------------------------------------------------------
# training examples
# ---------------------------------------------------------------------------------------------


def flatten_sentences(ids_per_sentence) -> tuple[np.ndarray, np.ndarray]:
    """All ids in one int64 array, and beside it the number of the sentence each came from.

    Windows never cross a sentence boundary: two positions are neighbours only if their sentence
    numbers are equal. (Working on one flat array lets every step below be a NumPy expression.)"""
    arrays = [np.asarray(s, dtype=np.int64).reshape(-1) for s in ids_per_sentence]
    if not arrays:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    lengths = np.array([len(a) for a in arrays])
    return np.concatenate(arrays), np.repeat(np.arange(len(arrays)), lengths)


def check_window(who: str, window) -> int:
    """``window`` as an int; a ValueError naming ``who`` unless it is a whole number >= 1."""
    if int(window) != window or window < 1:
        raise ValueError(f"{who}: window must be a whole number >= 1, got {window!r}")
    return int(window)


def skipgram_pairs(ids_per_sentence, window: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Skip-gram examples: ``(centres, contexts)``, two int64 arrays of equal length.

    Every position ``i`` is a centre; it draws its window ``b_i`` uniformly from ``1..window`` (the
    dynamic window), and each word at distance ``1..b_i`` on either side in the same sentence is
    one context. A word is never paired with its own position. The pairs come grouped by
    distance; shuffle them before making batches."""
    window = check_window("skipgram_pairs", window)
    return skipgram_pairs_flat(*flatten_sentences(ids_per_sentence), window, rng)


def skipgram_pairs_flat(tokens, sentence, window: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``skipgram_pairs`` on a corpus already flattened by ``flatten_sentences``: ``tokens`` and
    ``sentence`` (the sentence number of each token), as the training loop keeps it."""
    n = len(tokens)
    reach = rng.integers(1, window + 1, size=n)  # b_i for every centre
    centres, contexts = [], []
    for d in range(1, min(window, n - 1) + 1):
        left = np.arange(n - d)  # pairs of positions (left, left + d)
        right = left + d
        same = sentence[left] == sentence[right]
        a = same & (reach[left] >= d)  # left is the centre, right its context
        b = same & (reach[right] >= d)  # right is the centre, left its context
        centres += [tokens[left[a]], tokens[right[b]]]
        contexts += [tokens[right[a]], tokens[left[b]]]
    if not centres:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(centres), np.concatenate(contexts)


def cbow_examples(ids_per_sentence, window: int, rng, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CBOW examples: ``(contexts, targets)`` with ``contexts`` (N, 2 * window) and ``targets`` (N,).

    Row ``i`` holds the words around target ``i`` within its dynamic window ``b_i`` (drawn from
    ``1..window``): column ``j < window`` is the word at distance ``window - j`` to the left, column
    ``window + j`` the word at distance ``j + 1`` to the right; slots outside the window or the
    sentence hold ``pad_id``, so ``contexts != pad_id`` is the mask. Positions with no context
    word at all (one-word sentences) give no example."""
    window = check_window("cbow_examples", window)
    tokens, sentence = flatten_sentences(ids_per_sentence)
    return cbow_examples_flat(tokens, sentence, window, rng, pad_id)


def cbow_examples_flat(tokens, sentence, window: int, rng, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``cbow_examples`` on a corpus already flattened by ``flatten_sentences``."""
    n = len(tokens)
    reach = rng.integers(1, window + 1, size=n)
    positions = np.arange(n)
    offsets = list(range(-window, 0)) + list(range(1, window + 1))
    contexts = np.full((n, 2 * window), pad_id, dtype=np.int64)
    present = np.zeros((n, 2 * window), dtype=bool)
    for col, off in enumerate(offsets):
        other = np.clip(positions + off, 0, max(n - 1, 0))
        ok = (positions + off >= 0) & (positions + off < n) & (abs(off) <= reach)
        ok &= sentence[other] == sentence
        contexts[ok, col] = tokens[other[ok]]
        present[:, col] = ok
    rows = present.any(axis=1)
    return contexts[rows], tokens[rows]
