"""Text for the models: the bundled corpus, tokenizers, vocabularies, datasets and batches.

- ``minilm.data.corpus``: a generated corpus (documents about twelve topics, labelled reviews),
  the offline default of every notebook, test and command of the book.
- ``minilm.data.vocab``: ``Vocab`` (special tokens ``[PAD] [UNK] [CLS] [SEP] [MASK]``, ids 0 to 4).
- ``minilm.data.tokenizers``: ``CharTokenizer``, ``WordTokenizer``, ``ByteLevelBPETokenizer``,
  ``WordPieceTokenizer``, one interface (``train``, ``encode``, ``decode``, ``save``/``load``).
- ``minilm.data.datasets``: WikiText-2, SST-2, IMDb and PTB through a registry (download, verify,
  cache; ``MINILM_OFFLINE``, ``MINILM_DATA_DIR``), and the bundled corpus under the same ``load``.
- ``minilm.data.loader``: ``DataLoader`` (seeded shuffling, padding, attention masks, length
  buckets), ``collate``, ``pad_sequences``; ``batchify`` and ``LMWindows`` for language models.
- ``minilm.data.masking``: masked language modelling: ``mask_tokens`` (15%, 80/10/10) and
  ``MLMCollator``, a ``collate_fn`` that masks every batch afresh, reproducibly.
- ``minilm.data.pretraining``: BERT's examples: ``make_nsp_examples`` (sentence pairs, IsNext/NotNext),
  ``make_mlm_examples`` (``[CLS] chunk [SEP]``), ``classification_examples`` (for fine-tuning).
- ``minilm.data.translation``: a generated translation task (English-like sentences into a
  rule-based verb-final toy language) for the sequence-to-sequence models of chapter 6.

Besides NumPy and the standard library, this package uses only minilm's lowest layers (arrays,
tensors, files), never ``nn`` or the models.
"""

from minilm.data import corpus, datasets, masking, pretraining, translation
from minilm.data.loader import DataLoader, LMWindows, batchify, collate, pad_sequences
from minilm.data.masking import MLMCollator, mask_tokens
from minilm.data.pretraining import classification_examples, make_mlm_examples, make_nsp_examples
from minilm.data.tokenizers import (
    ByteLevelBPETokenizer,
    CharTokenizer,
    Tokenizer,
    TokenizerFileError,
    WordPieceTokenizer,
    WordTokenizer,
)
from minilm.data.vocab import SPECIAL_TOKENS, Vocab

__all__ = [
    "SPECIAL_TOKENS",
    "ByteLevelBPETokenizer",
    "CharTokenizer",
    "DataLoader",
    "LMWindows",
    "MLMCollator",
    "Tokenizer",
    "TokenizerFileError",
    "Vocab",
    "WordPieceTokenizer",
    "WordTokenizer",
    "batchify",
    "classification_examples",
    "collate",
    "corpus",
    "datasets",
    "make_mlm_examples",
    "make_nsp_examples",
    "mask_tokens",
    "masking",
    "pad_sequences",
    "pretraining",
    "translation",
]
