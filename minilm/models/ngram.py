"""An n-gram language model with interpolated Kneser-Ney smoothing: the baseline of chapter 04.

**The Markov assumption.** A language model gives the probability of a text word by word,
``P(w_1 .. w_T) = prod_t P(w_t | w_1 .. w_{t-1})``. An n-gram model forgets all but the last
``n - 1`` words: ``P(w_t | w_1 .. w_{t-1}) ~ P(w_t | w_{t-n+1} .. w_{t-1})``. A bigram model
(n = 2) predicts from one word, a trigram model from two. The ``n - 1`` words are the *context* h.

**Maximum likelihood.** The obvious estimate counts: ``P_ML(w | h) = c(h w) / c(h)``, how often
h was followed by w, out of how often h was followed by anything. It gives the training text the
highest probability possible, and every n-gram it never saw probability 0. But new text is full
of new n-grams (29% of the validation trigrams of the bundled corpus never occur in its training
text; of real text, far more), and a single 0 makes the probability of a whole text 0 and its
perplexity infinite. We must *smooth*: take a little mass from what was seen and give it to
what was not.

**Absolute discounting.** Take a fixed ``D`` (0 < D <= 1, typically 0.75) off every count that
is not 0. Counts of 1 are the least reliable (and lose most in proportion); counts of 100 barely
notice. The mass set free, ``D * N1+(h .) / c(h)`` with ``N1+(h .)`` the number of distinct words
seen after h, goes to a lower-order model, which predicts from one word less of context.

**Interpolation.** Every word gets its discounted count *plus* its share of the freed mass::

    P(w | h) = max(c(h w) - D, 0) / c(h)  +  D * N1+(h .) / c(h) * P_lower(w | h')

where h' is h without its first word. The recursion ends at a uniform distribution ``1 / V``, so
every word of the vocabulary, even one never seen, gets a probability > 0. A context h never seen
(``c(h) = 0``) has nothing to say: its model is the lower-order one.

**Continuation counts (Kneser and Ney's idea).** Which unigram probability should the lower model
give? The raw frequency is wrong for it: in a text about San Francisco, "francisco" is frequent,
but only ever after "san", so it is a poor guess after a *new* context, which is exactly when the
lower model is asked. What matters is how many different contexts a word completes:
``N1+(. w)``, the number of distinct words seen before w. The lower orders use these
*continuation counts* in place of ``c``: ``N1+(. h' w)`` for ``c(h' w)``, their sum over w for
``c(h')``. Only the highest order uses raw counts. A context shorter than ``n - 1`` words (at
the start of a stream) is treated as a context never seen: it backs off to the orders it has.

**Worked example** (bigrams, D = 0.5, V = 4: the text ``a b a c a b`` and a word d never seen).
Bigrams: ab twice, ac, ba, ca once each. Continuation counts: a follows b and c, so
``N1+(. a) = 2``; b and c follow only a, 1 each; d: 0; 4 distinct bigrams in all, 3 words with a
count. Unigram level: ``P(b) = max(1 - 0.5, 0) / 4 + 0.5 * 3 / 4 * 1/4 = 0.125 + 0.09375 = 0.21875``,
``P(d) = 0.09375``. Bigram level, context a (``c(a) = 3``, ``N1+(a .) = 2``)::

    P(b | a) = (2 - 0.5) / 3 + 0.5 * 2 / 3 * 0.21875 = 0.5 + 0.0729... = 0.5729...
    P(d | a) = 0 + 0.5 * 2 / 3 * 0.09375 = 0.03125

**Discounts.** ``discount=0.75`` uses one D for every order; a list gives one per order (index 0
for the unigram level); ``discount="auto"`` estimates each order's D from its own counts as
``n1 / (n1 + 2 n2)`` (Ney, Essen and Kneser 1994), where n1 and n2 are the numbers of n-grams
counted once and twice (0.75 when no count is 1, which only tiny texts produce).

**For comparison**, ``AddKNGramLM`` smooths the simplest way, by adding ``k`` to every count; on
the bundled corpus its add-one trigram model has about ten times the perplexity of Kneser-Ney's.

**How it is stored.** A k-gram is numbered by its (k-1)-gram prefix and its last word:
``key = prefix_id * V + word``. The keys of each order are kept sorted, so looking up a whole
stream of n-grams is one ``np.searchsorted`` per order and scoring it is a few array operations,
with no Python loop over tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from minilm.models.lm_data import as_token_ids
from minilm.models.sampling import sample_next

__all__ = ["AddKNGramLM", "NGramLM", "estimate_discount"]


@dataclass
class _Level:
    """The counts of one order k: the k-grams (sorted keys), the count each contributes (raw at
    the highest order, continuation below), and per context (prefix) id their total and types."""

    keys: np.ndarray  # int64 (m,): prefix_id * V + word, sorted
    count: np.ndarray  # float64 (m,): c(h w) or N1+(. h w)
    total: np.ndarray  # float64 (number of prefixes,): sum over w of count
    types: np.ndarray  # float64 (number of prefixes,): number of w with count > 0
    discount: float = 0.75


def _unique_grams(prefix_ids: np.ndarray, words: np.ndarray, vocab_size: int):
    """Number the k-grams ``(prefix, word)`` of a stream: sorted unique keys and each position's id."""
    keys, ids = np.unique(prefix_ids * vocab_size + words, return_inverse=True)
    return keys, ids.reshape(-1)


def _context_stats(keys: np.ndarray, count: np.ndarray, n_prefixes: int, vocab_size: int):
    """For each context (prefix) id: the sum of the counts after it and how many are > 0."""
    prefix = keys // vocab_size
    total = np.bincount(prefix, weights=count, minlength=n_prefixes)
    types = np.bincount(prefix, weights=(count > 0).astype(np.float64), minlength=n_prefixes)
    return total, types


def _check_int(value, name: str, minimum: int, hint: str, who: str) -> None:
    """``value`` must be an int (not a bool) >= ``minimum``; otherwise a ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{who}: {name} must be an integer >= {minimum} {hint}, got {value!r}")


def _take(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``values[ids]`` where ``ids >= 0``, and 0 where ``ids`` is -1 (an n-gram or context never seen)."""
    known = ids >= 0
    return np.where(known, values[np.where(known, ids, 0)], 0.0)


def estimate_discount(count: np.ndarray, fallback: float = 0.75) -> float:
    """``n1 / (n1 + 2 n2)``, from how many counts are 1 and how many are 2 (``fallback`` when n1 = 0)."""
    n1 = int(np.sum(count == 1))
    n2 = int(np.sum(count == 2))
    return n1 / (n1 + 2 * n2) if n1 > 0 else fallback


class NGramLM:
    """An order-``order`` n-gram language model with interpolated Kneser-Ney smoothing.

    ``NGramLM(order=3, vocab_size=None, discount=0.75).fit(ids)``; ``vocab_size=None`` takes
    ``max(ids) + 1`` from the training stream (pass ``len(vocab)`` so that words absent from
    training still get their share). Then ``prob``, ``distribution``, ``log_likelihood``,
    ``perplexity`` and ``sample``. Token ids are ints in ``0 .. vocab_size - 1``.
    """

    def __init__(self, order: int = 3, vocab_size: int | None = None, discount=0.75):
        _check_int(order, "order", 1, "(1 unigram, 2 bigram, ...)", type(self).__name__)
        if vocab_size is not None:
            _check_int(vocab_size, "vocab_size", 1, "(or None: the largest training id + 1)", type(self).__name__)
        self.order = int(order)
        self.vocab_size = None if vocab_size is None else int(vocab_size)
        self.discount = self._check_discount(discount)
        self._levels: list[_Level] | None = None

    def __repr__(self) -> str:
        state = "unfitted" if self._levels is None else f"{[len(lv.keys) for lv in self._levels]} n-grams per order"
        return f"NGramLM(order={self.order}, vocab_size={self.vocab_size}, discount={self.discount!r}, {state})"

    def _check_discount(self, discount):
        """A float in [0, 1], a list of ``order`` such floats, or ``"auto"``."""
        if isinstance(discount, str):
            if discount != "auto":
                raise ValueError(
                    f"NGramLM: discount must be a number in [0, 1], a list of them or 'auto', got {discount!r}"
                )
            return discount
        values = [discount] if np.ndim(discount) == 0 else list(discount)
        if np.ndim(discount) != 0 and len(values) != self.order:
            raise ValueError(
                f"NGramLM: {len(values)} discounts given for order {self.order}; give one per order, unigrams first"
            )
        for d in values:
            if isinstance(d, bool) or not isinstance(d, (int, float, np.number)) or not 0 <= d <= 1:
                raise ValueError(f"NGramLM: a discount must be a number in [0, 1], got {d!r}")
        return float(discount) if np.ndim(discount) == 0 else [float(d) for d in values]

    # -- counting ---------------------------------------------------------------------------------

    def fit(self, ids) -> NGramLM:
        """Count the n-grams of ``ids``, one stream of token ids, for every order 1..n. Returns self."""
        stream = as_token_ids(ids, f"{type(self).__name__}.fit: ids", self.vocab_size)
        if len(stream) < 2:
            raise ValueError(
                f"{type(self).__name__}.fit: need a stream of at least 2 tokens to count anything, got {len(stream)}"
            )
        if self.vocab_size is None:
            self.vocab_size = int(stream.max()) + 1
        V, n = self.vocab_size, self.order
        if (len(stream) + 1) * V >= 2**62:
            raise ValueError(f"NGramLM.fit: {len(stream)} tokens x vocabulary {V} is too large for int64 n-gram keys")
        keys, gram_ids = [], []  # per order k: sorted k-gram keys; the id of the k-gram ending at each position
        for k in range(1, n + 1):
            prefix = np.zeros(len(stream), dtype=np.int64) if k == 1 else gram_ids[-1][:-1]
            if len(prefix) == 0:  # the stream is shorter than k: no k-grams at all
                keys.append(np.zeros(0, dtype=np.int64))
                gram_ids.append(np.zeros(0, dtype=np.int64))
                continue
            k_keys, k_ids = _unique_grams(prefix, stream[k - 1 :], V)
            keys.append(k_keys)
            gram_ids.append(k_ids)
        self._levels = []
        for k in range(1, n + 1):
            count = self._level_counts(k, keys, gram_ids)
            n_prefixes = 1 if k == 1 else len(keys[k - 2])
            total, types = _context_stats(keys[k - 1], count, n_prefixes, V)
            self._levels.append(_Level(keys[k - 1], count, total, types, self._discount_for(k, count)))
        return self

    def _level_counts(self, k: int, keys: list, gram_ids: list) -> np.ndarray:
        """The count of every k-gram this order uses: raw ``c`` at the top order, continuation
        ``N1+(. g)`` (distinct (k+1)-grams ending in g) below it."""
        if k == self.order:
            return np.bincount(gram_ids[k - 1], minlength=len(keys[k - 1])).astype(np.float64)
        suffix_of = np.empty(len(keys[k]), dtype=np.int64)  # each (k+1)-gram's last k words, as a k-gram id
        suffix_of[gram_ids[k]] = gram_ids[k - 1][1:]
        return np.bincount(suffix_of, minlength=len(keys[k - 1])).astype(np.float64)

    def _discount_for(self, k: int, count: np.ndarray) -> float:
        if self.discount == "auto":
            return estimate_discount(count[count > 0])
        return self.discount if isinstance(self.discount, float) else self.discount[k - 1]

    @property
    def discounts(self) -> list[float]:
        """The discount used at each order after ``fit``, unigrams first."""
        return [lv.discount for lv in self._need_fit("discounts")]

    def _need_fit(self, what: str) -> list[_Level]:
        if self._levels is None:
            raise RuntimeError(
                f"{type(self).__name__}.{what}: the model has not been fitted; call fit(train_ids) first"
            )
        return self._levels

    # -- probabilities ----------------------------------------------------------------------------

    def _gram_ids(self, stream: np.ndarray) -> list[np.ndarray]:
        """For each order k, the id of the k-gram ending at each position of ``stream`` (-1: unseen,
        or fewer than k tokens so far)."""
        V = self.vocab_size
        out = []
        prefix = np.zeros(len(stream), dtype=np.int64)
        for level in self._levels:
            keys = level.keys
            key = prefix * V + stream
            pos = np.searchsorted(keys, key)
            found = (prefix >= 0) & (pos < len(keys))
            found[found] = keys[pos[found]] == key[found]
            ids = np.where(found, pos, -1)
            out.append(ids)
            prefix = np.concatenate([[-1], ids[:-1]])  # the next order's prefix: this k-gram, one step back
        return out

    def _contexts(self, grams: list[np.ndarray]) -> list[np.ndarray]:
        """For each order k, the id of the context (k-1)-gram before each position (-1: unseen)."""
        n_pos = len(grams[0])
        return [np.zeros(n_pos, dtype=np.int64)] + [np.concatenate([[-1], g[:-1]]) for g in grams[:-1]]

    @staticmethod
    def _interpolate(level: _Level, context: np.ndarray, count: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """One step of the recursion: ``max(c - D, 0) / total + D * types / total * lower`` where the
        context has a total > 0, ``lower`` where it has none (never seen, or -1)."""
        total = _take(level.total, context)
        types = _take(level.types, context)
        has = total > 0
        safe = np.where(has, total, 1.0)
        D = level.discount
        mixed = np.maximum(count - D, 0.0) / safe + D * types / safe * lower
        return np.where(has, mixed, lower)

    def _stream_probs(self, stream: np.ndarray) -> np.ndarray:
        """``P(stream[t] | stream[:t])`` for every position t (t = 0 with an empty context)."""
        grams = self._gram_ids(stream)
        contexts = self._contexts(grams)
        p = np.full(len(stream), 1.0 / self.vocab_size)
        for level, g, h in zip(self._levels, grams, contexts, strict=True):
            p = self._interpolate(level, h, _take(level.count, g), p)
        return p

    def _check_ids(self, ids, what: str) -> np.ndarray:
        self._need_fit(what)
        return as_token_ids(ids, f"{type(self).__name__}.{what}", self.vocab_size)

    def prob(self, context, token) -> float:
        """``P(token | the last order-1 ids of context)``; > 0 for every token when the discounts are > 0."""
        ctx = self._check_ids(context, "prob: context")
        tok = self._check_ids([token], "prob: token")
        stream = np.concatenate([ctx[max(0, len(ctx) - (self.order - 1)) :], tok])
        return float(self._stream_probs(stream)[-1])

    def _next_contexts(self, context) -> list[int]:
        """For each order k, the id of the (k-1)-gram that ends ``context`` (-1: unseen or too short)."""
        ctx = context[max(0, len(context) - (self.order - 1)) :]
        grams = self._gram_ids(ctx) if len(ctx) else []
        ends = [int(g[-1]) for g in grams[: self.order - 1]]  # the k-gram ending the context, k = 1, 2, ...
        return [0] + ends + [-1] * (self.order - 1 - len(ends))

    def _counts_after(self, level: _Level, h: int) -> np.ndarray:
        """The counts of this level of every word w after context ``h``, as a (vocab_size,) array.
        The k-grams with prefix h sit side by side among the sorted keys: ``h * V <= key < (h + 1) * V``."""
        V = self.vocab_size
        count = np.zeros(V)
        if h >= 0:
            lo, hi = np.searchsorted(level.keys, [h * V, (h + 1) * V])
            count[level.keys[lo:hi] - h * V] = level.count[lo:hi]
        return count

    def distribution(self, context) -> np.ndarray:
        """``P(w | context)`` for every w: a float64 array (vocab_size,) that sums to 1."""
        ctx = self._check_ids(context, "distribution: context")
        V = self.vocab_size
        p = np.full(V, 1.0 / V)
        for level, h in zip(self._levels, self._next_contexts(ctx), strict=True):
            p = self._interpolate(level, np.full(V, h), self._counts_after(level, h), p)
        return p

    def log_likelihood(self, ids) -> float:
        """``sum_{t >= 1} log P(ids[t] | ids[:t])`` in nats. The first token is context only: it is
        not predicted, as in an RNN LM whose first input has no target before it."""
        stream = self._check_ids(ids, "log_likelihood: ids")
        if len(stream) < 2:
            raise ValueError(
                f"{type(self).__name__}.log_likelihood: need at least 2 tokens (context, target), got {len(stream)}"
            )
        with np.errstate(divide="ignore"):
            return float(np.sum(np.log(self._stream_probs(stream)[1:])))

    def perplexity(self, ids) -> float:
        """``exp(-log_likelihood(ids) / (len(ids) - 1))``: the perplexity per predicted token."""
        stream = self._check_ids(ids, "perplexity: ids")
        mean_nll = -self.log_likelihood(stream) / (len(stream) - 1)
        return math.exp(mean_nll) if mean_nll < 709 else math.inf

    def sample(self, context, n: int, temperature: float = 1.0, top_k: int | None = None, generator=None) -> list[int]:
        """``n`` new token ids, each drawn from ``distribution(context + those drawn so far)``
        (``temperature`` and ``top_k`` as in ``minilm.models.sampling.sample_next``)."""
        _check_int(n, "n", 0, "(how many tokens to draw)", f"{type(self).__name__}.sample")
        history = list(self._check_ids(context, "sample: context"))
        out = []
        for _ in range(n):
            with np.errstate(divide="ignore"):
                logits = np.log(self.distribution(history))
            token = int(sample_next(logits, temperature, top_k, generator))
            out.append(token)
            history.append(token)
        return out


class AddKNGramLM(NGramLM):
    """Add-k smoothing, the simplest fix, for comparison: ``P(w | h) = (c(h w) + k) / (c(h) + k V)``.

    Every n-gram is treated as seen ``k`` more times than it was (``k = 1``: Laplace's add-one).
    It is a poor language model: after a context seen 10 times, with V = 1,500 words and k = 1,
    every word gets ``1 / 1510`` extra, so the (at least 1,490) words *never* seen after it share
    98.7% of the mass or more, and nothing is learned from the lower orders. A context never seen,
    or shorter than ``order - 1`` words, gives the uniform ``1 / V``. Only the highest order's raw
    counts are used.
    """

    def __init__(self, order: int = 3, vocab_size: int | None = None, k: float = 1.0):
        super().__init__(order, vocab_size, discount=0.0)
        if isinstance(k, bool) or not isinstance(k, (int, float, np.number)) or not 0 < k < math.inf:
            raise ValueError(f"AddKNGramLM: k must be a number > 0 (1: add-one), got {k!r}")
        self.k = float(k)

    def __repr__(self) -> str:
        return f"AddKNGramLM(order={self.order}, vocab_size={self.vocab_size}, k={self.k})"

    def _stream_probs(self, stream: np.ndarray) -> np.ndarray:
        """``(c(h w) + k) / (c(h) + k V)`` at every position of ``stream``."""
        top = self._levels[-1]
        grams = self._gram_ids(stream)
        context = self._contexts(grams)[-1]
        return (_take(top.count, grams[-1]) + self.k) / (_take(top.total, context) + self.k * self.vocab_size)

    def distribution(self, context) -> np.ndarray:
        """``(c(h w) + k) / (c(h) + k V)`` for every w, h the last ``order - 1`` ids of ``context``."""
        ctx = self._check_ids(context, "distribution: context")
        top, h = self._levels[-1], self._next_contexts(ctx)[-1]
        total = top.total[h] if h >= 0 else 0.0
        return (self._counts_after(top, h) + self.k) / (total + self.k * self.vocab_size)
