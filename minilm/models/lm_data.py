"""The word-level language-modelling data of chapter 04, shared by the n-gram and the neural models.

A language model reads text as one long stream of token ids and predicts each next id. To compare
an n-gram model with an RNN fairly, both must see exactly the same streams, built the same way:

1. **Split by document.** The bundled documents are cut 80 / 10 / 10 into train, validation and
   test by document index (the same cut as ``minilm.data.datasets.load("bundled", split)``), so no
   sentence of a validation document was ever seen in training.
2. **Tokenize** each sentence with ``WordTokenizer`` (lowercased words and punctuation marks).
3. **Mark sentence ends.** After every sentence comes ``<eos>``, so the model learns where a
   sentence stops and what starts the next one. We take the sentences from the corpus itself
   (``Document.sentences``), not by guessing at full stops, so nothing depends on punctuation.
4. **Build the vocabulary on the training split only**, with the specials ``<unk>`` (id 0) and
   ``<eos>`` (id 1). A validation or test word the training text never had becomes ``<unk>``: the
   model is not allowed to know the test words in advance. ``min_count`` and ``max_size`` drop
   rare words to ``<unk>`` in every split, training included, so the model learns what ``<unk>``
   is like.

``<unk>`` and ``<eos>`` are written as in WikiText and PTB, and the tokenizer keeps them whole if
they appear in a text (WikiText-2 contains ``<unk>`` itself). There is no padding token: a stream
needs none (``minilm.data.LMWindows`` cuts it into equal rows).

    >>> data = bundled_lm_corpus(n_documents=200)
    >>> data.vocab.lookup_tokens(data.train[:7])
    ['lena', 'was', 'a', 'student', '.', '<eos>', 'lena']

- ``LMCorpus``: ``vocab``, ``train``, ``validation``, ``test`` (int64 streams), ``unk_id``,
  ``eos_id``, ``decode(ids)``, ``describe()``.
- ``bundled_lm_corpus(n_documents=2000, seed=0, min_count=1, max_size=None) -> LMCorpus``
- ``build_lm_corpus(train_texts, validation_texts, test_texts, min_count=1, max_size=None,
  lowercase=True) -> LMCorpus``: any texts, one sentence or line per text (``<eos>`` after each).
- ``as_token_ids(ids, what, vocab_size=None)``: a stream as a checked 1-D int64 array.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from minilm import backend
from minilm.data import corpus
from minilm.data.tokenizers.word import WordTokenizer
from minilm.data.vocab import Vocab
from minilm.tensor import Tensor

__all__ = ["EOS", "LM_SPECIALS", "UNK", "LMCorpus", "as_token_ids", "build_lm_corpus", "bundled_lm_corpus"]

UNK = "<unk>"
EOS = "<eos>"
#: The special tokens of a language-modelling vocabulary, in id order: ``<unk>`` = 0, ``<eos>`` = 1.
LM_SPECIALS = (UNK, EOS)


@dataclass
class LMCorpus:
    """Three token-id streams and the vocabulary (built on ``train``) that numbers them."""

    vocab: Vocab
    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    @property
    def unk_id(self) -> int:
        """Id of ``<unk>``, which every word outside the vocabulary becomes."""
        return self.vocab.unk_id

    @property
    def eos_id(self) -> int:
        """Id of ``<eos>``, which follows every sentence."""
        return self.vocab[EOS]

    def decode(self, ids) -> list[str]:
        """The tokens of ``ids`` (a stream or part of one)."""
        return self.vocab.lookup_tokens(as_token_ids(ids, "LMCorpus.decode: ids", len(self.vocab)))

    def describe(self) -> dict:
        """Sizes at a glance: vocabulary, tokens per split, and the share of ``<unk>`` in each split."""
        info = {"vocab_size": len(self.vocab)}
        for name in ("train", "validation", "test"):
            stream = getattr(self, name)
            info[f"{name}_tokens"] = len(stream)
            info[f"{name}_unk_rate"] = round(float(np.mean(stream == self.unk_id)), 5) if len(stream) else 0.0
        return info


def as_token_ids(ids, what: str = "ids", vocab_size: int | None = None) -> np.ndarray:
    """``ids`` (a list, tuple, NumPy or CuPy array, or minilm Tensor of token ids) as a 1-D int64
    NumPy array; with ``vocab_size`` every id must be in ``0 .. vocab_size - 1``."""
    if isinstance(ids, Tensor):
        ids = ids.data
    if backend.is_cuda_array(ids):
        ids = backend.to_device(ids, backend.CPU)
    try:
        arr = np.asarray(ids)
    except ValueError:
        raise ValueError(f"{what} is ragged (lists of different lengths inside); give a flat list of ids") from None
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of token ids, got shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integer token ids, got dtype {arr.dtype} (first value {arr[0]!r})")
    arr = arr.astype(np.int64, copy=False)
    if vocab_size is not None and arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        bad = arr[(arr < 0) | (arr >= vocab_size)][0]
        raise ValueError(
            f"{what}: token id {bad} is outside the vocabulary of size {vocab_size} (ids 0..{vocab_size - 1})"
        )
    return arr


def _check_texts(texts, what: str) -> list[str]:
    """``texts`` as a list of strings (one string alone is an error, it would be read letter by letter)."""
    if isinstance(texts, str):
        raise TypeError(f"build_lm_corpus: {what} must be a list of texts, got one string; wrap it in a list")
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"build_lm_corpus: {what} must hold strings, got {t!r} ({type(t).__name__})")
    return texts


def encode_stream(token_lists: Sequence[Sequence[str]], vocab: Vocab) -> np.ndarray:
    """One int64 stream: each token list's ids followed by ``<eos>``; unknown words become ``<unk>``."""
    eos = vocab[EOS]
    out = []
    for tokens in token_lists:
        out.extend(vocab.lookup_ids(tokens))
        out.append(eos)
    return np.asarray(out, dtype=np.int64)


def build_lm_corpus(
    train_texts,
    validation_texts,
    test_texts,
    min_count: int = 1,
    max_size: int | None = None,
    lowercase: bool = True,
) -> LMCorpus:
    """An ``LMCorpus`` from three lists of texts, each text one sentence (or one line) ending in ``<eos>``.

    The vocabulary is built from ``train_texts`` only: words seen at least ``min_count`` times,
    most frequent first, at most ``max_size`` tokens with ``<unk>`` and ``<eos>`` counted. Empty
    texts add nothing (not even an ``<eos>``).
    """
    tokenizer = WordTokenizer(lowercase=lowercase, special_tokens=LM_SPECIALS, unk_token=UNK)
    splits = {}
    for name, texts in (
        ("train_texts", train_texts),
        ("validation_texts", validation_texts),
        ("test_texts", test_texts),
    ):
        token_lists = [tokenizer.tokenize(t) for t in _check_texts(texts, name)]
        splits[name] = [tokens for tokens in token_lists if tokens]
    counts = Counter(t for tokens in splits["train_texts"] for t in tokens if t not in LM_SPECIALS)
    vocab = Vocab.build(counts, min_freq=min_count, max_size=max_size, specials=LM_SPECIALS, unk_token=UNK)
    return LMCorpus(
        vocab=vocab,
        train=encode_stream(splits["train_texts"], vocab),
        validation=encode_stream(splits["validation_texts"], vocab),
        test=encode_stream(splits["test_texts"], vocab),
    )


def split_documents(docs: Sequence, fractions=(0.8, 0.1, 0.1)) -> tuple[list, list, list]:
    """Cut ``docs`` into train, validation and test by position: the first 80%, the next 10%, the rest
    (rounded as ``minilm.data.datasets.bundled_documents`` rounds, so both give the same split)."""
    n = len(docs)
    cut1 = round(n * fractions[0])
    cut2 = round(n * (fractions[0] + fractions[1]))
    return list(docs[:cut1]), list(docs[cut1:cut2]), list(docs[cut2:])


def bundled_lm_corpus(
    n_documents: int = 2000, seed: int = 0, min_count: int = 1, max_size: int | None = None
) -> LMCorpus:
    """The bundled corpus as an ``LMCorpus``: ``corpus.documents(n_documents, seed)`` split 80/10/10 by
    document, one ``<eos>`` after every sentence (taken from ``Document.sentences``)."""
    if isinstance(n_documents, bool) or not isinstance(n_documents, int) or n_documents < 10:
        raise ValueError(
            f"bundled_lm_corpus: n_documents must be an integer >= 10 (1 per split at least), got {n_documents!r}"
        )
    train, validation, test = split_documents(corpus.documents(n=n_documents, seed=seed))

    def sentences(docs):
        return [s for d in docs for s in d.sentences]

    return build_lm_corpus(sentences(train), sentences(validation), sentences(test), min_count, max_size)
