"""Tokens to ids and back: the vocabulary every tokenizer of minilm uses.

A model never sees text, only integer ids. Two small objects do the translation::

    >>> from minilm.data import Vocab, WordTokenizer
    >>> tok = WordTokenizer()
    >>> texts = ["The cook baked a pie.", "The cook was happy."]
    >>> vocab = Vocab.build(tok.tokenize(t) for t in texts)
    >>> tok.vocab = vocab
    >>> tok.tokenize("The cook baked a pie.")
    ['the', 'cook', 'baked', 'a', 'pie', '.']
    >>> vocab.tokens[5:]                               # most frequent first, ties alphabetical
    ['.', 'cook', 'the', 'a', 'baked', 'happy', 'pie', 'was']
    >>> tok.encode("The cook baked a cake.")          # 'cake' was never seen: [UNK] (id 1)
    [7, 6, 9, 8, 1, 5]
    >>> tok.decode([7, 6, 9, 8, 10, 5])
    'the cook baked a happy.'

``Vocab`` (ids 0..4 are always ``[PAD] [UNK] [CLS] [SEP] [MASK]`` unless other specials are asked
for; then come the tokens, most frequent first, ties broken alphabetically, so the same counts
always give the same ids):

- ``Vocab.build(token_lists_or_counts, min_freq=1, max_size=None, specials=SPECIAL_TOKENS)``
- ``len(vocab)``, ``token in vocab``, ``vocab[token] -> id`` (an unknown token gives ``unk_id``)
- ``vocab.lookup_ids(tokens) -> list[int]``, ``vocab.lookup_tokens(ids) -> list[str]``
- ``vocab.pad_id``, ``unk_id``, ``cls_id``, ``sep_id``, ``mask_id``; ``vocab.tokens``
- ``vocab.save(path)`` / ``Vocab.load(path)``: a small JSON file, written atomically.

The tokenizers that cut text into tokens (``WordTokenizer`` among them) live in
``minilm.data.tokenizers``.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

#: The special tokens, in id order: padding, unknown word, classification slot, separator, mask.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")

_FORMAT = "minilm.vocab"
_VERSION = 1


class Vocab:
    """A fixed list of tokens; a token's id is its position in the list.

    ``Vocab(tokens)`` takes the list as it is (specials included); ``Vocab.build`` counts tokens and
    makes the list for you. ``unk_token`` is what unknown tokens map to (``None``: unknown tokens are
    a ``KeyError``).
    """

    def __init__(self, tokens: Sequence[str], unk_token: str | None = "[UNK]"):
        tokens = list(tokens)
        for t in tokens:
            if not isinstance(t, str):
                raise TypeError(f"Vocab: tokens must be strings, got {t!r} ({type(t).__name__})")
        index = {}
        for i, t in enumerate(tokens):
            if t in index:
                raise ValueError(f"Vocab: token {t!r} appears twice (ids {index[t]} and {i})")
            index[t] = i
        if unk_token is not None and unk_token not in index:
            raise ValueError(f"Vocab: the unknown token {unk_token!r} is not among the tokens")
        self._tokens = tokens
        self._index = index
        self.unk_token = unk_token

    # -- building ---------------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        source: Iterable[Sequence[str]] | Mapping[str, int],
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = SPECIAL_TOKENS,
        unk_token: str | None = "[UNK]",
    ) -> Vocab:
        """Count tokens and keep the frequent ones.

        ``source`` is an iterable of token lists (``[["the", "cook"], ["a", "pie"]]``) or a mapping
        token -> count (a ``collections.Counter``). Tokens seen fewer than ``min_freq`` times are
        dropped. The ids are: the ``specials`` first, in the order given, then the tokens by count,
        highest first, equal counts in alphabetical order. ``max_size`` caps ``len(vocab)``,
        specials included. ``unk_token`` must be one of the specials (or ``None``).
        """
        counts = _count(source)
        if min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be at least 1, got {min_freq}")
        specials = list(specials)
        if max_size is not None and max_size < len(specials):
            raise ValueError(f"Vocab.build: max_size={max_size} leaves no room for the {len(specials)} specials")
        if unk_token is not None and unk_token not in specials:
            raise ValueError(f"Vocab.build: unk_token {unk_token!r} is not among the specials {specials}")
        kept = [t for t, c in counts.items() if c >= min_freq and t not in specials]
        ordered = sorted(kept, key=lambda t: (-counts[t], t))
        if max_size is not None:
            ordered = ordered[: max_size - len(specials)]
        return cls(specials + ordered, unk_token=unk_token)

    # -- the mapping ------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, token) -> bool:
        return token in self._index

    def __iter__(self):
        return iter(self._tokens)

    def __getitem__(self, token: str) -> int:
        """The id of ``token``; an unknown token gets ``unk_id``."""
        i = self._index.get(token)
        if i is not None:
            return i
        if self.unk_token is None:
            raise KeyError(f"token {token!r} is not in the vocabulary (size {len(self)}) and it has no unknown token")
        return self._index[self.unk_token]

    def __eq__(self, other) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._tokens == other._tokens and self.unk_token == other.unk_token

    __hash__ = None

    def __repr__(self) -> str:
        head = ", ".join(self._tokens[:8])
        more = ", ..." if len(self) > 8 else ""
        return f"Vocab(size={len(self)}, tokens=[{head}{more}])"

    @property
    def tokens(self) -> list[str]:
        """All tokens in id order (a copy)."""
        return list(self._tokens)

    def lookup_ids(self, tokens: Iterable[str]) -> list[int]:
        """The ids of ``tokens``; unknown tokens get ``unk_id``."""
        return [self[t] for t in tokens]

    def lookup_tokens(self, ids: Iterable[int]) -> list[str]:
        """The tokens with these ids. An id outside ``0 .. len(vocab) - 1`` is an ``IndexError``."""
        out = []
        size = len(self._tokens)
        for i in ids:
            j = int(i)
            if j != i or not 0 <= j < size:
                raise IndexError(f"token id {i!r} is out of range for a vocabulary of size {size} (ids 0..{size - 1})")
            out.append(self._tokens[j])
        return out

    # -- the special ids --------------------------------------------------------------------------

    def _special_id(self, token: str) -> int:
        try:
            return self._index[token]
        except KeyError:
            raise KeyError(f"this vocabulary has no {token} token") from None

    @property
    def pad_id(self) -> int:
        """Id of ``[PAD]``, the filler that makes sequences of a batch equally long."""
        return self._special_id("[PAD]")

    @property
    def unk_id(self) -> int:
        """Id of the unknown token (``[UNK]``), which every unknown word maps to."""
        if self.unk_token is None:
            raise KeyError("this vocabulary has no unknown token")
        return self._index[self.unk_token]

    @property
    def cls_id(self) -> int:
        """Id of ``[CLS]``, put in front of a sequence; its output vector represents the whole."""
        return self._special_id("[CLS]")

    @property
    def sep_id(self) -> int:
        """Id of ``[SEP]``, which ends a sentence and separates a pair of sentences."""
        return self._special_id("[SEP]")

    @property
    def mask_id(self) -> int:
        """Id of ``[MASK]``, which hides a token the model must guess in masked language modelling."""
        return self._special_id("[MASK]")

    # -- files ------------------------------------------------------------------------------------

    def save(self, path) -> None:
        """Write the vocabulary as JSON. The file is written beside ``path`` and renamed onto it, so a
        crash leaves either the old file or the new one, never half of one."""
        from minilm.io import atomic_open

        data = {"format": _FORMAT, "version": _VERSION, "unk_token": self.unk_token, "tokens": self._tokens}
        with atomic_open(path, "Vocab.save") as f:
            f.write(json.dumps(data, ensure_ascii=False, indent=0).encode("utf-8"))

    @classmethod
    def load(cls, path) -> Vocab:
        """Read a file written by ``save``. A file that is not such a file is a ``ValueError`` that
        names the file and what is wrong with it."""
        path = os.fspath(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not a vocabulary file, the JSON is broken ({e})") from None
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a vocabulary file (expected a JSON object with \"format\": \"{_FORMAT}\")")
        if data.get("version") != _VERSION:
            raise ValueError(f"{path}: vocabulary file version {data.get('version')!r}, this minilm reads {_VERSION}")
        tokens, unk = data.get("tokens"), data.get("unk_token")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise ValueError(f"{path}: \"tokens\" must be a list of strings")
        if unk is not None and not isinstance(unk, str):
            raise ValueError(f"{path}: \"unk_token\" must be a string or null, got {unk!r}")
        try:
            return cls(tokens, unk_token=unk)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


def _count(source) -> Counter:
    """Token counts from a mapping token -> count or from an iterable of token lists."""
    if isinstance(source, Mapping):
        return Counter(dict(source))
    if isinstance(source, str):
        raise TypeError("Vocab.build: expected token lists, got one string; tokenize it first")
    counts = Counter()
    for tokens in source:
        if isinstance(tokens, str):
            raise TypeError(f"Vocab.build: expected token lists, got the string {tokens[:40]!r}; tokenize it first")
        counts.update(tokens)
    return counts
