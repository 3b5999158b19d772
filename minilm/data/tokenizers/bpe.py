"""Byte-level byte-pair encoding (BPE), as GPT-2 tokenizes text, learned from scratch.

BPE builds a vocabulary of subwords bottom-up. It starts from the smallest pieces (here: the 256
bytes, see ``byte_level.py``) and repeats one step: find the two neighbouring pieces that occur
together most often in the training text and *merge* them into one new piece. After a few thousand
merges, frequent words are single tokens (``Ġthe``), rarer words are spelled from a few frequent
parts (``Ġtoken`` + ``izer``), and any other string can still be spelled byte by byte.

Training, in four small steps (each a function below, so a notebook can run them one at a time):

1. ``word_frequencies(texts)``: cut the text into words (``pretokenize``) and count them, each word
   as a tuple of byte symbols: ``{('Ġ', 'l', 'o', 'w'): 3, ...}``. A few MB of text has only some
   ten thousand different words, so everything after this step is fast.
2. ``pair_counts(word_freqs)``: how often each pair of neighbouring symbols occurs, every word
   weighted by its count.
3. ``merge_word(word, pair, new_symbol)``: one word with every occurrence of ``pair`` joined.
4. ``train_bpe(word_freqs, num_merges)``: repeat "merge the most frequent pair" and return the list
   of merges. It does *not* recount every pair after each merge: only the words that contain the
   merged pair change, so only their pairs are recounted (an index pair -> words says which).

Encoding a new word replays the merges: start from its bytes and keep merging the neighbouring
pair that was learned *first* (lowest rank) until no learned pair is left (``apply_merges``).

    >>> from minilm.data import corpus
    >>> tok = ByteLevelBPETokenizer().train(corpus.sentences(5000), vocab_size=1000)
    >>> tok.merges[:4]                                   # the first pairs learned
    [('h', 'e'), ('Ġ', 't'), ('Ġ', 's'), ('Ġ', 'a')]
    >>> tok.tokenize("The cook baked a pie.")           # Ġ is the space, kept in front of a word
    ['The', 'Ġcook', 'Ġbaked', 'Ġa', 'Ġp', 'ie', '.']
    >>> tok.tokenize(" unbelievable")                   # a word never seen: spelled from parts
    ['Ġun', 'b', 'el', 'ie', 'v', 'able']
    >>> tok.decode(tok.encode("naïve 🙂"))              # any text comes back exactly
    'naïve 🙂'
"""

from __future__ import annotations

import heapq
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise
from typing import NamedTuple

from minilm.data.tokenizers.base import Tokenizer
from minilm.data.tokenizers.byte_level import (
    BYTE_TO_SYMBOL,
    SYMBOL_TO_BYTE,
    pretokenize,
    symbols_to_bytes,
    symbols_to_text,
    text_to_symbols,
)
from minilm.data.vocab import SPECIAL_TOKENS, Vocab

Pair = tuple[str, str]
Word = tuple[str, ...]

# ---------------------------------------------------------------------------------------------
# training, step by step
# ---------------------------------------------------------------------------------------------


def word_frequencies(texts: Iterable[str], pretokenize: Callable[[str], list[str]] = pretokenize) -> dict[Word, int]:
    """Step 1: ``{word: count}`` over all pre-tokens of ``texts``, each word a tuple of byte symbols.

    ``word_frequencies(["low low lower"])`` -> ``{('l','o','w'): 1, ('Ġ','l','o','w'): 1,
    ('Ġ','l','o','w','e','r'): 1}``. The words are counted as strings first and converted to byte
    symbols once each, in the order they were first seen."""
    if isinstance(texts, str):
        raise TypeError("word_frequencies: expected a list of texts, got one string; wrap it in a list")
    counts = Counter()
    for text in texts:
        counts.update(pretokenize(text))
    return {tuple(text_to_symbols(word)): n for word, n in counts.items()}


def pair_counts(word_freqs: dict[Word, int]) -> Counter:
    """Step 2: how often each pair of neighbouring symbols occurs, each word counted ``freq`` times.

    ``pair_counts({('l','o','w'): 5, ('l','o','t'): 2})`` -> ``{('l','o'): 7, ('o','w'): 5, ('o','t'): 2}``."""
    counts = Counter()
    for word, freq in word_freqs.items():
        for pair in pairwise(word):
            counts[pair] += freq
    return counts


def merge_word(word: Sequence[str], pair: Pair, new_symbol: str) -> Word:
    """Step 3: ``word`` with every occurrence of ``pair`` replaced by ``new_symbol``, left to right.

    ``merge_word(('l','o','w','l','o'), ('l','o'), 'lo')`` -> ``('lo','w','lo')``. Occurrences that
    overlap are taken from the left: ``merge_word(('a','a','a'), ('a','a'), 'aa')`` -> ``('aa','a')``."""
    first, second = pair
    out, i, n = [], 0, len(word)
    while i < n:
        if i + 1 < n and word[i] == first and word[i + 1] == second:
            out.append(new_symbol)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


class MergeStep(NamedTuple):
    """One merge of training: its ``rank`` (0 for the first), the ``pair`` merged, how often the pair
    occurred (``count``) when it was chosen, and the new ``symbol`` (the two joined)."""

    rank: int
    pair: Pair
    count: int
    symbol: str


def train_bpe(
    word_freqs: dict[Word, int],
    num_merges: int,
    min_frequency: int = 2,
    on_merge: Callable[[MergeStep], object] | None = None,
) -> list[Pair]:
    """Step 4: learn up to ``num_merges`` merges from ``{word: count}``; returns the merged pairs in order.

    Each step merges the most frequent pair in every word that holds it. **Ties** go to the pair that
    comes first in Python's string order (compare first symbols, then second symbols), so the result
    never depends on the order of the words. Training stops early when no pair occurs at least
    ``min_frequency`` times. ``on_merge(MergeStep(...))`` is called after each merge ("watch merges
    happen": pass ``steps.append``).

    Why it is fast: the pair counts are computed once (``pair_counts``) and then kept up to date. A
    merge of ``(a, b)`` only changes the words that contain ``a b`` (found in the index
    ``where[pair] -> word numbers``), so only those words' pairs are recounted (``_update_pair_counts``).
    The most frequent pair comes from a heap of ``(-count, pair)`` entries; a count that changes gets a
    new entry, and entries whose count is out of date are thrown away when they reach the top.
    """
    if int(num_merges) != num_merges or num_merges < 0:
        raise ValueError(f"train_bpe: num_merges must be a whole number >= 0, got {num_merges!r}")
    if int(min_frequency) != min_frequency or min_frequency < 1:
        raise ValueError(f"train_bpe: min_frequency must be a whole number >= 1, got {min_frequency!r}")
    words = [tuple(w) for w in word_freqs]
    freqs = list(word_freqs.values())
    counts = pair_counts(word_freqs)
    where = defaultdict(set)
    for i, word in enumerate(words):
        for pair in pairwise(word):
            where[pair].add(i)
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges:
        pair, count = _most_frequent_pair(heap, counts)
        if pair is None or count < min_frequency:
            break
        new_symbol = pair[0] + pair[1]
        changed = set()
        for i in where.pop(pair):
            merged = merge_word(words[i], pair, new_symbol)
            if len(merged) == len(words[i]):  # an old index entry: an earlier merge took the pair away
                continue
            _update_pair_counts(words[i], merged, freqs[i], i, counts, where, changed)
            words[i] = merged
        for p in changed:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))
            else:
                del counts[p]
                where.pop(p, None)
        merges.append(pair)
        if on_merge is not None:
            on_merge(MergeStep(len(merges) - 1, pair, count, new_symbol))
    return merges


def _most_frequent_pair(heap: list, counts: dict) -> tuple[Pair | None, int]:
    """Pop heap entries until the top one is up to date; return its pair and count (None, 0 if none)."""
    while heap:
        neg_count, pair = heapq.heappop(heap)
        if counts.get(pair) == -neg_count:
            return pair, -neg_count
    return None, 0


def _update_pair_counts(old: Word, new: Word, freq: int, index: int, counts: dict, where: dict, changed: set) -> None:
    """A word went from ``old`` to ``new``: take its old pairs out of ``counts``, put its new pairs in
    (``freq`` times each), note the word under the pairs it gained, and record which counts changed."""
    delta = Counter()
    for pair in pairwise(old):
        delta[pair] -= freq
    for pair in pairwise(new):
        delta[pair] += freq
    for pair, d in delta.items():
        if d:
            counts[pair] = counts.get(pair, 0) + d
            changed.add(pair)
            if d > 0:
                where[pair].add(index)


# ---------------------------------------------------------------------------------------------
# encoding and checking
# ---------------------------------------------------------------------------------------------


def apply_merges(symbols: Sequence[str], ranks: dict[Pair, int]) -> list[str]:
    """The BPE tokens of one word: merge the neighbouring pair of lowest rank, again and again.

    ``ranks[pair]`` is the merge's position in training (0 for the first). With the merges
    ``('b','c'), ('a','b'), ('ab','c')``, ``"abc"`` becomes ``['a', 'bc']``: ``b c`` was learned first,
    and after it ``a b`` is no longer there to merge.

    Why this reproduces training: training applied merge 0 to every word, then merge 1, and so on.
    Replaying all merges in that order on a new word gives the same result, and a merge whose pair is
    not in the word does nothing, so we may jump straight to the lowest-ranked pair that *is* there.
    After merging it, no pair of lower rank can appear (a merge only joins symbols, and a pair that
    holds the new symbol was learned after the symbol was made), so the next lowest-ranked pair
    present is again the next merge training would have made.
    """
    word = tuple(symbols)
    while len(word) > 1:
        pair = min(pairwise(word), key=lambda p: ranks.get(p, len(ranks)))
        if pair not in ranks:
            break
        word = merge_word(word, pair, pair[0] + pair[1])
    return list(word)


def check_merges(tokens: Sequence[str], merges, special_tokens: Sequence[str] = ()) -> list[Pair]:
    """Check that ``merges`` fit the vocabulary ``tokens`` and return them as a list of pairs.

    A ``ValueError`` says what is wrong: a merge that is not a pair of two non-empty strings, a merge
    repeated, a part that is neither a byte symbol nor the result of an earlier merge, a result missing
    from the vocabulary, a missing byte symbol, or a token that is not made of byte symbols."""
    known = set(tokens)
    missing = [s for s in BYTE_TO_SYMBOL if s not in known]
    if missing:
        raise ValueError(
            f"the vocabulary lacks {len(missing)} of the 256 byte symbols (e.g. {missing[:5]}); "
            f"a byte-level vocabulary must hold all of them"
        )
    specials = set(special_tokens)
    for t in tokens:
        if t not in specials and not all(c in SYMBOL_TO_BYTE for c in t):
            raise ValueError(f"vocabulary token {t!r} is not made of byte symbols and is not a special token")
    if not isinstance(merges, (list, tuple)):
        raise ValueError(f'"merges" must be a list of [a, b] pairs, got {type(merges).__name__}')
    made, seen, pairs = set(BYTE_TO_SYMBOL), {}, []
    for i, m in enumerate(merges):
        if not (isinstance(m, (list, tuple)) and len(m) == 2 and all(isinstance(s, str) and s for s in m)):
            raise ValueError(f"merge #{i} is {m!r}; each merge must be a pair [a, b] of two non-empty strings")
        pair = (m[0], m[1])
        if pair in seen:
            raise ValueError(f"merge #{i} {pair} repeats merge #{seen[pair]}")
        for part in pair:
            if part not in made:
                raise ValueError(f"merge #{i} {pair}: {part!r} is neither a byte symbol nor made by an earlier merge")
        if pair[0] + pair[1] not in known:
            raise ValueError(f"merge #{i} {pair}: its result {pair[0] + pair[1]!r} is not in the vocabulary")
        made.add(pair[0] + pair[1])
        seen[pair] = i
        pairs.append(pair)
    return pairs


# ---------------------------------------------------------------------------------------------
# the tokenizer
# ---------------------------------------------------------------------------------------------


class ByteLevelBPETokenizer(Tokenizer):
    """Byte-level BPE: text -> UTF-8 bytes -> byte symbols -> merged pieces, as GPT-2.

    ``ByteLevelBPETokenizer(vocab=None, merges=None, special_tokens=SPECIAL_TOKENS, unk_token="[UNK]")``;
    ``train(texts, vocab_size=1000, min_frequency=2, progress=None)`` learns the merges. The vocabulary
    is: the special tokens, the 256 byte symbols in byte order, then one token per merge in merge order.
    ``merges`` (list of pairs) and ``ranks`` (pair -> position) hold what was learned. No text is ever
    unknown, and ``decode(encode(text)) == text`` for every string, special tokens included.
    """

    kind = "bpe"
    #: How many words' tokens ``bpe`` remembers (the cache is emptied when it is full).
    CACHE_SIZE = 20_000

    def __init__(
        self,
        vocab: Vocab | None = None,
        merges: Sequence[Pair] | None = None,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        unk_token: str | None = "[UNK]",
    ):
        super().__init__(None, special_tokens=special_tokens, unk_token=unk_token)
        for t in self.special_tokens:
            _check_special_token(t)
        self.merges: list[Pair] = []
        self.ranks: dict[Pair, int] = {}
        self._cache: dict[str, tuple[str, ...]] = {}
        if vocab is not None:
            self._set_model(vocab, [] if merges is None else merges)
        elif merges:
            raise ValueError("ByteLevelBPETokenizer: merges given without a vocab; pass both, or call train(texts)")

    def _set_model(self, vocab: Vocab, merges) -> None:
        if not isinstance(vocab, Vocab):
            raise TypeError(f"ByteLevelBPETokenizer: vocab must be a minilm.data.Vocab, got {type(vocab).__name__}")
        pairs = check_merges(vocab.tokens, merges, self.special_tokens)
        self.vocab = vocab
        self.merges = pairs
        self.ranks = {pair: rank for rank, pair in enumerate(pairs)}
        self._cache = {}

    def train(
        self,
        texts: Iterable[str],
        vocab_size: int = 1000,
        min_frequency: int = 2,
        progress: bool | Callable[[MergeStep], object] | None = None,
    ) -> ByteLevelBPETokenizer:
        """Learn ``vocab_size - len(special_tokens) - 256`` merges (fewer if no pair is left that occurs
        ``min_frequency`` times) from ``texts``; special tokens in the texts are cut out first.

        ``progress=True`` prints a line every tenth of the way; a function is called with each
        ``MergeStep`` (``steps = []; tok.train(texts, progress=steps.append)`` records them all)."""
        if isinstance(texts, str):
            raise TypeError("ByteLevelBPETokenizer.train: expected a list of texts, got one string; wrap it in a list")
        base = len(self.special_tokens) + len(BYTE_TO_SYMBOL)
        if int(vocab_size) != vocab_size or vocab_size < base:
            raise ValueError(
                f"ByteLevelBPETokenizer.train: vocab_size must be a whole number >= {base} (the "
                f"{len(self.special_tokens)} special tokens and the 256 byte symbols), got {vocab_size!r}"
            )
        num_merges = int(vocab_size) - base
        on_merge = _printer(num_merges) if progress is True else progress or None
        chunks = (chunk for text in texts for chunk, special in self.split_special_tokens(text) if not special)
        merges = train_bpe(word_frequencies(chunks), num_merges, min_frequency, on_merge=on_merge)
        # dict.fromkeys keeps the first of repeated strings: two merges never seem to make the same
        # string (no case was found on many random corpora), but a vocabulary must not hold one twice
        tokens = list(dict.fromkeys([*self.special_tokens, *BYTE_TO_SYMBOL, *(a + b for a, b in merges)]))
        self._set_model(Vocab(tokens, unk_token=self.unk_token), merges)
        return self

    def bpe(self, word: str) -> tuple[str, ...]:
        """The tokens of one pre-token: ``" lower"`` -> e.g. ``('Ġlow', 'er')`` (remembered in a cache)."""
        tokens = self._cache.get(word)
        if tokens is None:
            tokens = tuple(apply_merges(text_to_symbols(word), self.ranks))
            if len(self._cache) >= self.CACHE_SIZE:
                self._cache.clear()
            self._cache[word] = tokens
        return tokens

    def _tokenize_chunk(self, text: str) -> list[str]:
        out = []
        for word in pretokenize(text):
            out.extend(self.bpe(word))
        return out

    def _detokenize(self, tokens: list[str]) -> str:
        # Any run of ids can be decoded, also one that cuts a character's bytes in two: those bytes
        # become "\ufffd" (errors="replace") rather than an error.
        return symbols_to_text("".join(tokens))

    def _join_decoded(self, pieces: list[str]) -> str:
        return "".join(pieces)  # the pieces carry their own spaces

    def _config(self) -> dict:
        return {"merges": [[a, b] for a, b in self.merges]}

    @classmethod
    def _from_file(cls, vocab, special_tokens, unk_token, config, path):
        if "merges" not in config:
            raise ValueError('the "config" of a "bpe" tokenizer must hold "merges", a list of [a, b] pairs')
        return cls(vocab, config["merges"], special_tokens=special_tokens, unk_token=unk_token)

    def __repr__(self) -> str:
        return (
            f"ByteLevelBPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"special_tokens={self.special_tokens})"
        )


def _check_special_token(token: str) -> None:
    """A special token must not be a byte symbol, nor a string of byte symbols that spells other text
    (``"Ġx"`` spells ``" x"``): a merge could make it, and the vocabulary would hold it twice."""
    if token in SYMBOL_TO_BYTE:
        raise ValueError(
            f"ByteLevelBPETokenizer: special token {token!r} is one of the 256 byte symbols; "
            f"choose another, e.g. '[{token}]'"
        )
    if all(c in SYMBOL_TO_BYTE for c in token) and symbols_to_bytes(token) != token.encode("utf-8"):
        raise ValueError(
            f"ByteLevelBPETokenizer: special token {token!r} is a spelling in byte symbols of "
            f"{symbols_to_text(token)!r}, so a merge could produce it; choose another"
        )


def _printer(num_merges: int) -> Callable[[MergeStep], None]:
    """An ``on_merge`` that prints one line every tenth of ``num_merges``."""
    every = max(1, num_merges // 10)

    def report(step: MergeStep) -> None:
        if (step.rank + 1) % every == 0 or step.rank + 1 == num_merges:
            print(
                f"bpe merge {step.rank + 1}/{num_merges}: {step.pair} -> {step.symbol!r} (count {step.count})",
                file=sys.stderr,
                flush=True,
            )

    return report
