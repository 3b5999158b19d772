"""Text for the models: the bundled corpus, the word tokenizer and the vocabulary.

- ``minilm.data.corpus``: a generated corpus (documents about twelve topics, labelled reviews),
  the offline default of every notebook, test and command of the book.
- ``minilm.data.vocab``: ``WordTokenizer`` and ``Vocab`` (special tokens ``[PAD] [UNK] [CLS] [SEP]
  [MASK]``, ids 0 to 4).

This package uses only NumPy and the standard library.
"""

from minilm.data import corpus
from minilm.data.vocab import SPECIAL_TOKENS, Vocab, WordTokenizer

__all__ = ["SPECIAL_TOKENS", "Vocab", "WordTokenizer", "corpus"]
