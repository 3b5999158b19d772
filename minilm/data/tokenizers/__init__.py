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
"""

from minilm.data.tokenizers.base import Tokenizer, TokenizerFileError
from minilm.data.tokenizers.bpe import ByteLevelBPETokenizer
from minilm.data.tokenizers.char import CharTokenizer
from minilm.data.tokenizers.word import WordTokenizer, detokenize
from minilm.data.tokenizers.wordpiece import WordPieceTokenizer

__all__ = [
    "ByteLevelBPETokenizer",
    "CharTokenizer",
    "Tokenizer",
    "TokenizerFileError",
    "WordPieceTokenizer",
    "WordTokenizer",
    "detokenize",
]
