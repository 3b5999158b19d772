"""The simplest tokenizer: every character is a token.

No word is ever unknown if every character of it was seen, and the vocabulary is tiny (a few
dozen symbols for English), but sequences are long: a model must spend its capacity learning to
spell before it can learn what words mean. Chapter 03 weighs this against words and subwords.

    >>> tok = CharTokenizer().train(["hello world"])
    >>> tok.tokenize("held")
    ['h', 'e', 'l', 'd']
    >>> tok.decode(tok.encode("hold"))
    'hold'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from minilm.data.tokenizers.base import Tokenizer
from minilm.data.vocab import Vocab


class CharTokenizer(Tokenizer):
    """One token per Unicode character (code point); characters not seen in training become ``[UNK]``.

    ``CharTokenizer(vocab=None, special_tokens=SPECIAL_TOKENS, unk_token="[UNK]")``; ``train(texts,
    vocab_size=None, min_frequency=1)`` keeps the most frequent characters.
    """

    kind = "char"

    def _tokenize_chunk(self, text: str) -> list[str]:
        return list(text)

    def _detokenize(self, tokens: list[str]) -> str:
        return "".join(tokens)

    def _join_decoded(self, pieces: list[str]) -> str:
        return "".join(pieces)

    def train(self, texts: Iterable[str], vocab_size: int | None = None, min_frequency: int = 1) -> CharTokenizer:
        """Count the characters of ``texts`` (special tokens left out) and keep those seen at least
        ``min_frequency`` times, most frequent first, up to ``vocab_size`` tokens in all."""
        if isinstance(texts, str):
            raise TypeError("CharTokenizer.train: expected a list of texts, got one string; wrap it in a list")
        counts = Counter()
        for text in texts:
            for chunk, special in self.split_special_tokens(text):
                if not special:
                    counts.update(chunk)
        self.vocab = Vocab.build(
            counts, min_freq=min_frequency, max_size=vocab_size, specials=self.special_tokens, unk_token=self.unk_token
        )
        return self

    @classmethod
    def _from_file(cls, vocab, special_tokens, unk_token, config, path):
        return cls(vocab, special_tokens=special_tokens, unk_token=unk_token)
