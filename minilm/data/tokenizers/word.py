"""Words and punctuation marks as tokens, cut by one regular expression.

The tokenizer of chapter 02: readable tokens and short sequences, but every word never seen in
training is ``[UNK]``, and ``cook``, ``cooks`` and ``cooked`` are three unrelated ids. Subword
tokenizers (``bpe.py``, ``wordpiece.py``) answer both problems.

    >>> tok = WordTokenizer().train(["The cook baked a pie.", "The cook was happy."])
    >>> tok.tokenize("The cook's pie!")
    ['the', "cook's", 'pie', '!']
    >>> tok.decode(tok.encode("The cook baked a cake."))
    'the cook baked a [UNK].'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from minilm.data.tokenizers.base import Tokenizer
from minilm.data.vocab import SPECIAL_TOKENS, Vocab

#: Tokens that ``detokenize`` attaches to the word before them / after them.
NO_SPACE_BEFORE = frozenset(".,!?;:)]}%")
NO_SPACE_AFTER = frozenset("([{$")


class WordTokenizer(Tokenizer):
    """Split text into words and punctuation marks.

    A word is a run of letters or digits, with inner apostrophes kept (``don't``); every other
    visible character (``.``, ``,``, ``?``, ``"``) is a token of its own. With ``lowercase=True``
    (the default) the text is lowercased first, so ``The`` and ``the`` are one token.

    ``WordTokenizer(vocab=None, lowercase=True, special_tokens=SPECIAL_TOKENS, unk_token="[UNK]")``;
    ``train(texts, vocab_size=None, min_frequency=1)`` (or, as in chapter 02,
    ``build_vocab(texts, **Vocab.build arguments)``).
    """

    kind = "word"
    specials_in_runs = True
    PATTERN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
    NO_SPACE_BEFORE = NO_SPACE_BEFORE
    NO_SPACE_AFTER = NO_SPACE_AFTER

    def __init__(
        self,
        vocab: Vocab | None = None,
        lowercase: bool = True,
        special_tokens: Sequence[str] = SPECIAL_TOKENS,
        unk_token: str | None = "[UNK]",
    ):
        self.lowercase = lowercase
        super().__init__(vocab, special_tokens=special_tokens, unk_token=unk_token)

    def __repr__(self) -> str:
        size = "None" if self.vocab is None else f"<{len(self.vocab)} tokens>"
        return f"WordTokenizer(vocab={size}, lowercase={self.lowercase})"

    def _tokenize_chunk(self, text: str) -> list[str]:
        """``"The cook's pie."`` -> ``['the', "cook's", 'pie', '.']``."""
        if self.lowercase:
            text = text.lower()
        return self.PATTERN.findall(text)

    def _detokenize(self, tokens: list[str]) -> str:
        return detokenize(tokens)

    def train(self, texts: Iterable[str], vocab_size: int | None = None, min_frequency: int = 1) -> WordTokenizer:
        """Keep the words seen at least ``min_frequency`` times, most frequent first, up to
        ``vocab_size`` tokens in all (special tokens included)."""
        self.build_vocab(texts, min_freq=min_frequency, max_size=vocab_size)
        return self

    def build_vocab(self, texts: Iterable[str], **kwargs) -> Vocab:
        """Tokenize ``texts``, build a ``Vocab`` from them (``kwargs`` go to ``Vocab.build``), keep it
        as ``self.vocab`` and return it."""
        if isinstance(texts, str):
            raise TypeError("WordTokenizer: expected a list of texts, got one string; wrap it in a list")
        kwargs.setdefault("specials", self.special_tokens)
        kwargs.setdefault("unk_token", self.unk_token)
        specials = set(self.special_tokens)
        tokens = ([t for t in self.tokenize(text) if t not in specials] for text in texts)
        self.vocab = Vocab.build(tokens, **kwargs)
        return self.vocab

    def _config(self) -> dict:
        return {"lowercase": self.lowercase}

    @classmethod
    def _from_file(cls, vocab, special_tokens, unk_token, config, path):
        lowercase = config.get("lowercase", True)
        if not isinstance(lowercase, bool):
            raise ValueError(f'"lowercase" must be true or false, got {lowercase!r}')
        return cls(vocab, lowercase=lowercase, special_tokens=special_tokens, unk_token=unk_token)


def detokenize(tokens: Sequence[str]) -> str:
    """Join tokens with single spaces, except before closing punctuation and after opening brackets."""
    parts = []
    glue = True
    for t in tokens:
        if parts and not glue and t not in NO_SPACE_BEFORE:
            parts.append(" ")
        parts.append(t)
        glue = t in NO_SPACE_AFTER
    return "".join(parts)
