"""Learning a WordPiece vocabulary: likelihood-scored merges.

Training starts from single characters and merges, one pair at a time, two adjacent pieces into a
new one, as byte-pair encoding (BPE) does. The difference is which pair is merged:

- BPE merges the pair seen most often: score(a, b) = count(ab).
- WordPiece merges the pair with the highest ``count(ab) / (count(a) * count(b))``.

Why that ratio: think of a unigram language model that writes the corpus one piece at a time,
piece ``x`` with probability p(x) = count(x) / N. Where ``a`` and ``b`` stand side by side it pays
log p(a) + log p(b); once they are one piece ``ab`` it pays log p(ab). Each merged occurrence gains
about log(p(ab) / (p(a) p(b))) = log(N * score(a, b)), so the score ranks pairs by the likelihood
gained per occurrence (the pointwise mutual information of ``a`` and ``b``). WordPiece therefore
prefers pairs whose parts are rare on their own: ``q`` + ``##u`` (a ``q`` is nearly always followed by
``u``) beats ``t`` + ``##h``, although ``th`` is far more frequent, because ``t`` and ``h`` are also very
common apart. BPE would merge ``th`` early; WordPiece merges common letters late, so a small
WordPiece vocabulary still spells many frequent words in pieces (``th ##e``).

The pieces of a word are written as BERT writes them: the first character as it is, every later one
with the continuation prefix ``##`` (``hug`` -> ``h ##u ##g``). A merged piece keeps the prefix of
its left part and drops that of its right part (``h`` + ``##u`` -> ``hu``, ``##u`` + ``##g`` ->
``##ug``).

The step-by-step functions (``word_counts``, ``split_word``, ``symbol_counts``, ``pair_counts``,
``pair_scores``, ``best_pair``, ``merge_pair``) show one merge at a time, as chapter 08 does;
``learn_merges`` does all of them fast, by updating the counts of only the words that hold the
merged pair (a 1 MB corpus trains in seconds).

Ties: among pairs with the same score, the one seen more often wins; if that ties too, the pair
``(a, b)`` that comes first in Python's string order (code point by code point). Scores are
compared as exact fractions, so the choice never depends on floating-point rounding.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from fractions import Fraction
from itertools import pairwise
from typing import NamedTuple

from minilm.data.tokenizers.bert_normalizer import basic_tokenize
from minilm.data.tokenizers.bpe import merge_word


class Merge(NamedTuple):
    """One learned merge: ``a`` + ``b`` -> ``token``, with the counts it was chosen on."""

    a: str
    b: str
    token: str
    count: int  #: how often the pair (a, b) was seen
    count_a: int  #: how often a was seen
    count_b: int  #: how often b was seen

    @property
    def score(self) -> float:
        """``count / (count_a * count_b)``."""
        return self.count / (self.count_a * self.count_b)

    def __str__(self) -> str:
        return (
            f"{self.a} + {self.b} -> {self.token}   score {self.count}/({self.count_a}*{self.count_b})"
            f" = {self.score:.3g}"
        )


# -- one merge at a time, step by step -----------------------------------------------------------------


def word_counts(texts: Iterable[str], tokenize: Callable[[str], list[str]] = basic_tokenize) -> Counter:
    """How often each word occurs in ``texts``, words as ``tokenize`` cuts them (BERT's
    ``basic_tokenize`` by default: lowercased, accents stripped, punctuation split off)."""
    if isinstance(texts, str):
        raise TypeError("word_counts: expected a list of texts, got one string; wrap it in a list")
    counts = Counter()
    for text in texts:
        counts.update(tokenize(text))
    return counts


def split_word(word: str, prefix: str = "##") -> tuple[str, ...]:
    """A word as single characters, the later ones marked as continuations:
    ``"hug"`` -> ``("h", "##u", "##g")``."""
    return tuple(ch if i == 0 else prefix + ch for i, ch in enumerate(word))


def symbol_counts(splits: Mapping[str, Sequence[str]], counts: Mapping[str, int]) -> Counter:
    """How often each piece occurs in the corpus: ``splits`` maps each word to its current pieces,
    ``counts`` each word to its number of occurrences."""
    out = Counter()
    for word, pieces in splits.items():
        for p in pieces:
            out[p] += counts[word]
    return out


def pair_counts(splits: Mapping[str, Sequence[str]], counts: Mapping[str, int]) -> Counter:
    """How often each pair of adjacent pieces occurs in the corpus (``h ##u ##u`` holds ``(h, ##u)``
    and ``(##u, ##u)`` once each)."""
    out = Counter()
    for word, pieces in splits.items():
        for pair in pairwise(pieces):
            out[pair] += counts[word]
    return out


def pair_scores(
    splits: Mapping[str, Sequence[str]], counts: Mapping[str, int], min_frequency: int = 1
) -> dict[tuple[str, str], float]:
    """WordPiece's score ``count(ab) / (count(a) * count(b))`` of every pair seen at least
    ``min_frequency`` times."""
    symbols = symbol_counts(splits, counts)
    return {
        (a, b): n / (symbols[a] * symbols[b]) for (a, b), n in pair_counts(splits, counts).items() if n >= min_frequency
    }


def best_pair(
    splits: Mapping[str, Sequence[str]], counts: Mapping[str, int], min_frequency: int = 1
) -> tuple[str, str] | None:
    """The pair to merge next: highest score (an exact fraction), then highest count, then first in
    string order. ``None`` when no pair is seen ``min_frequency`` times."""
    symbols = symbol_counts(splits, counts)
    candidates = [
        (-Fraction(n, symbols[a] * symbols[b]), -n, a, b)
        for (a, b), n in pair_counts(splits, counts).items()
        if n >= min_frequency
    ]
    if not candidates:
        return None
    _, _, a, b = min(candidates)
    return a, b


def merge_token(a: str, b: str, prefix: str = "##") -> str:
    """The piece that merging ``a`` and ``b`` makes: ``a`` keeps its prefix, ``b`` loses its:
    ``("##u", "##g")`` -> ``"##ug"``."""
    return a + (b[len(prefix) :] if b.startswith(prefix) else b)


def merge_pair(pieces: Sequence[str], a: str, b: str, prefix: str = "##") -> tuple[str, ...]:
    """``pieces`` with every adjacent ``a, b`` replaced by the merged piece, scanning from the left
    (``##s ##s ##s`` merged on ``(##s, ##s)`` gives ``##ss ##s``). The same step as BPE's
    ``merge_word``; only the name of the new piece differs (``merge_token`` drops ``b``'s ``##``)."""
    return merge_word(pieces, (a, b), merge_token(a, b, prefix))


# -- all merges, fast --------------------------------------------------------------------------------


class _Exact:
    """An exact score ``num / den`` that sorts the higher score first (for the heap's ties)."""

    __slots__ = ("num", "den")

    def __init__(self, num: int, den: int):
        self.num, self.den = num, den

    def __eq__(self, other) -> bool:
        return self.num * other.den == other.num * self.den

    def __lt__(self, other) -> bool:
        return self.num * other.den > other.num * self.den


class _PairTable:
    """The corpus as pieces, with the counts a merge changes, kept up to date word by word.

    ``words[i]`` are the pieces of the i-th distinct word, ``freqs[i]`` its count; ``pairs`` and
    ``symbols`` are ``pair_counts`` and ``symbol_counts``; ``where[pair]`` is the set of words that
    hold the pair, ``touching[symbol]`` the set of pairs that have ``symbol`` as one of their parts.
    """

    def __init__(self, words: list[tuple[str, ...]], freqs: list[int]):
        self.words, self.freqs = words, freqs
        self.symbols, self.pairs = Counter(), Counter()
        self.where, self.touching = {}, {}
        for i, (pieces, f) in enumerate(zip(words, freqs, strict=True)):
            self._add(i, pieces, f)

    def _add(self, i: int, pieces: tuple[str, ...], f: int) -> None:
        for p in pieces:
            self.symbols[p] += f
        for pair in pairwise(pieces):
            if pair not in self.pairs:
                self.touching.setdefault(pair[0], set()).add(pair)
                self.touching.setdefault(pair[1], set()).add(pair)
            self.pairs[pair] += f
            self.where.setdefault(pair, set()).add(i)

    def _remove(self, i: int, pieces: tuple[str, ...], f: int) -> None:
        for p in pieces:
            self.symbols[p] -= f
            if not self.symbols[p]:
                del self.symbols[p]
        for pair in pairwise(pieces):
            self.pairs[pair] -= f
            if not self.pairs[pair]:
                del self.pairs[pair]
                self.touching[pair[0]].discard(pair)
                self.touching[pair[1]].discard(pair)
            self.where[pair].discard(i)

    def merge(self, a: str, b: str, prefix: str) -> str:
        """Merge ``(a, b)`` in every word that holds it; returns the merged piece."""
        for i in sorted(self.where.get((a, b), ())):
            old, f = self.words[i], self.freqs[i]
            new = merge_pair(old, a, b, prefix)
            self._remove(i, old, f)
            self._add(i, new, f)
            self.words[i] = new
        return merge_token(a, b, prefix)

    def key(self, pair: tuple[str, str]) -> tuple:
        """Heap key: the highest score first, then the highest count, then string order. The float
        decides fast; the exact fraction only when two floats are equal."""
        n = self.pairs[pair]
        den = self.symbols[pair[0]] * self.symbols[pair[1]]
        return (-n / den, _Exact(n, den), -n, pair[0], pair[1])


def learn_merges(
    counts: Mapping[str, int],
    max_merges: int,
    min_frequency: int = 2,
    prefix: str = "##",
    known: Iterable[str] = (),
    on_merge: Callable[[Merge], object] | None = None,
) -> list[Merge]:
    """The merges WordPiece learns from the word counts ``counts``, in order.

    Repeatedly merges the best pair (as ``best_pair`` chooses it) among those seen at least
    ``min_frequency`` times, until ``max_merges`` new pieces are made or no pair is left. A merge
    whose piece is already in ``known`` or was made before (``##a ##bc`` and ``##ab ##c`` both make
    ``##abc``) is done, but makes no new piece and is not counted.

    Fast: a heap holds the pairs by score. A merge changes the counts of ``a``, ``b`` and the new
    piece, and of the pairs next to the merged places, and only in the words that held the pair; the
    pairs whose score can go up (those touching ``a``, ``b`` or the new piece) are pushed anew, and a
    stale entry is recognised when it comes to the top (its counts are not the current ones).
    ``on_merge(merge)``, if given, is called with each ``Merge`` as it is made ("watch merges happen":
    pass ``list.append``).
    """
    if min_frequency < 1:
        raise ValueError(f"learn_merges: min_frequency must be at least 1, got {min_frequency}")
    items = sorted(counts.items())
    table = _PairTable([split_word(w, prefix) for w, _ in items], [c for _, c in items])
    heap = [table.key(pair) + (pair,) for pair, n in table.pairs.items() if n >= min_frequency]
    heapq.heapify(heap)
    seen, merges, made = set(known), [], 0
    while made < max_merges and heap:
        entry = heapq.heappop(heap)
        pair = entry[-1]
        if table.pairs.get(pair, 0) < min_frequency:
            continue  # merged already, or seen too rarely now
        current = table.key(pair)
        if current != entry[:-1]:  # counts changed since this entry was pushed
            heapq.heappush(heap, current + (pair,))
            continue
        a, b = pair
        n, na, nb = table.pairs[pair], table.symbols[a], table.symbols[b]
        token = table.merge(a, b, prefix)
        merges.append(Merge(a, b, token, n, na, nb))
        if on_merge is not None:
            on_merge(merges[-1])
        if token not in seen:
            seen.add(token)
            made += 1
        changed = set().union(*(table.touching.get(s, ()) for s in (a, b, token)))
        for p in changed:
            if table.pairs[p] >= min_frequency:
                heapq.heappush(heap, table.key(p) + (p,))
    return merges


def alphabet(counts: Mapping[str, int], prefix: str = "##") -> list[str]:
    """The single-character pieces of the words in ``counts``: the characters that begin a word, in
    string order, then the continuation pieces (``##`` + a character that follows another), in
    string order."""
    initials, continuations = set(), set()
    for word in counts:
        pieces = split_word(word, prefix)
        initials.update(pieces[:1])
        continuations.update(pieces[1:])
    return sorted(initials) + sorted(continuations)


def train_vocab(
    counts: Mapping[str, int],
    vocab_size: int,
    min_frequency: int = 2,
    prefix: str = "##",
    special_tokens: Sequence[str] = (),
    on_merge: Callable[[Merge], object] | None = None,
) -> tuple[list[str], list[Merge]]:
    """A WordPiece vocabulary learned from word counts: ``special_tokens``, then the ``alphabet``,
    then the merged pieces in the order they were made, ``vocab_size`` tokens at most. Returns the
    token list and the merges (``learn_merges``, which calls ``on_merge``).

    If the alphabet alone does not fit, only its most frequent pieces are kept (ties in string
    order), and the words that need one of the others are left out of the merges: WordPiece could
    never encode them anyway (they become ``[UNK]``).
    """
    specials = list(special_tokens)
    if vocab_size < len(specials):
        raise ValueError(
            f"train: vocab_size={vocab_size} leaves no room for the {len(specials)} special tokens "
            f"{specials}; ask for at least {len(specials) + 1}"
        )
    letters = [t for t in alphabet(counts, prefix) if t not in specials]
    room = vocab_size - len(specials)
    if len(letters) > room:
        splits = {w: split_word(w, prefix) for w in counts}
        freq = symbol_counts(splits, counts)
        kept = set(sorted(letters, key=lambda t: (-freq[t], t))[:room])
        letters = [t for t in letters if t in kept]
        counts = {w: c for w, c in counts.items() if all(p in kept for p in splits[w])}
    tokens = specials + letters
    merges = learn_merges(counts, vocab_size - len(tokens), min_frequency, prefix, known=tokens, on_merge=on_merge)
    seen = set(tokens)
    for m in merges:
        if m.token not in seen:
            seen.add(m.token)
            tokens.append(m.token)
    return tokens, merges
