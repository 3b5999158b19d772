"""``minilm.models``: complete models built from ``minilm.nn``, each with its training function.

For now it holds word2vec (chapter 03):

- ``word2vec.py``: ``Word2Vec`` (skip-gram or CBOW, ``in_embed`` and ``out_embed``), the
  negative-sampling loss ``negative_sampling_loss`` (an explicit kernel, its gradient derived in
  the module docstring) and ``train_word2vec(texts, ...) -> WordVectors``;
- ``word2vec_examples.py``: the data side, ``subsample_keep_prob`` / ``subsample`` (frequent-word
  subsampling), ``skipgram_pairs`` / ``cbow_examples`` (dynamic windows), ``noise_distribution`` /
  ``NegativeSampler`` (unigram^0.75 table);
- ``word_vectors.py``: ``WordVectors``, the trained vectors and their questions
  (``most_similar``, ``similarity``, ``analogy``, ``save`` / ``load``).

``minilm.models.word2vec`` re-exports all of these. Later chapters add the RNN language models,
sequence-to-sequence with attention, BERT and GPT.
"""

from minilm.models import word2vec
from minilm.models.word2vec import (
    NegativeSampler,
    Word2Vec,
    cbow_examples,
    negative_sampling_loss,
    noise_distribution,
    skipgram_pairs,
    subsample,
    subsample_keep_prob,
    train_word2vec,
)
from minilm.models.word_vectors import WordVectors

__all__ = [
    "NegativeSampler",
    "Word2Vec",
    "WordVectors",
    "cbow_examples",
    "negative_sampling_loss",
    "noise_distribution",
    "skipgram_pairs",
    "subsample",
    "subsample_keep_prob",
    "train_word2vec",
    "word2vec",
]
