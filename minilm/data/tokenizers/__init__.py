"""Tokenizers: text -> token ids -> text, four ways, one interface.

=========================  ==============================================================
``CharTokenizer``          one token per character
``WordTokenizer``          words and punctuation marks (chapter 02)
``ByteLevelBPETokenizer``  byte-level byte-pair encoding, as GPT-2 (chapter 08)
``WordPieceTokenizer``     WordPiece, as BERT; loads a BERT ``vocab.txt`` (chapter 08)
=========================  ==============================================================

Every one of them has::

    tok = ByteLevelBPETokenizer().train(texts, vocab_size=2000)   # learn a vocabulary
    ids = tok.encode("The cook baked a pie.")                      # list[int]
    tok.encode_batch(["a pie", "two pies"])                        # list[list[int]]
    tok.encode_pair("Who baked?", "The cook.")                     # ids, token_type_ids
    tok.decode(ids)                                                # text again
    tok.tokenize("The cook")                                       # the token strings
    tok.vocab_size, tok.special_tokens, tok.pad_id, tok.mask_id, ...
    tok.save("tok.json"); Tokenizer.load("tok.json")               # one JSON file

Special tokens (``[PAD] [UNK] [CLS] [SEP] [MASK]``, ids 0 to 4) are never cut, by any tokenizer.

The steps are functions of their own, for chapter 08 and for exercises: ``pretokenize`` and
``MergeStep`` (byte-level BPE, modules ``byte_level`` and ``bpe``), ``basic_tokenize`` (BERT's text
normalisation, ``bert_normalizer``), ``wordpiece`` (greedy longest-match of one word), ``Merge`` and
the likelihood-scored trainer (``wordpiece_train``), ``read_vocab_file`` (a BERT ``vocab.txt``).
"""

from minilm.data.tokenizers.base import Tokenizer, TokenizerFileError
from minilm.data.tokenizers.bert_normalizer import basic_tokenize
from minilm.data.tokenizers.bpe import ByteLevelBPETokenizer, MergeStep
from minilm.data.tokenizers.byte_level import pretokenize
from minilm.data.tokenizers.char import CharTokenizer
from minilm.data.tokenizers.word import WordTokenizer, detokenize
from minilm.data.tokenizers.wordpiece import WordPieceTokenizer, read_vocab_file, wordpiece
from minilm.data.tokenizers.wordpiece_train import Merge

__all__ = [
    "ByteLevelBPETokenizer",
    "CharTokenizer",
    "Merge",
    "MergeStep",
    "Tokenizer",
    "TokenizerFileError",
    "WordPieceTokenizer",
    "WordTokenizer",
    "basic_tokenize",
    "detokenize",
    "pretokenize",
    "read_vocab_file",
    "wordpiece",
]
