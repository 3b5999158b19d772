"""``minilm.models``: complete models built from ``minilm.nn``, each with its training function.

Word embeddings (chapter 03):

- ``word2vec.py``: ``Word2Vec`` (skip-gram or CBOW, ``in_embed`` and ``out_embed``), the
  negative-sampling loss ``negative_sampling_loss`` (an explicit kernel, its gradient derived in
  the module docstring) and ``train_word2vec(texts, ...) -> WordVectors``;
- ``word2vec_examples.py``: the data side, ``subsample_keep_prob`` / ``subsample`` (frequent-word
  subsampling), ``skipgram_pairs`` / ``cbow_examples`` (dynamic windows), ``noise_distribution`` /
  ``NegativeSampler`` (unigram^0.75 table);
- ``word_vectors.py``: ``WordVectors``, the trained vectors and their questions
  (``most_similar``, ``similarity``, ``analogy``, ``save`` / ``load``).

Language models (chapters 04 and 05):

- ``lm_data.py``: ``LMCorpus`` and ``bundled_lm_corpus`` (word-level id streams with ``<eos>``);
- ``ngram.py``: ``NGramLM``, interpolated Kneser-Ney, the baseline; ``AddKNGramLM`` for contrast;
- ``rnn_lm.py``: ``RNNLanguageModel`` (RNN, GRU or LSTM, optional weight tying) and ``generate``;
- ``lm_training.py``: ``train_language_model`` (truncated BPTT, gradient clipping), ``evaluate``,
  ``detach_state``;
- ``sampling.py``: ``sample_next`` (temperature, top-k, top-p), ``top_p_filter``, ``perplexity_from_loss``.

Sequence to sequence (chapter 06):

- ``attention.py``: ``DotAttention``, ``AdditiveAttention``, ``masked_softmax``;
- ``seq2seq.py``: ``Encoder``, ``Decoder``, ``Seq2Seq``; ``seq2seq_train.py``: ``train_seq2seq``,
  ``exact_match``, ``evaluate``;
- ``beam_search.py``: ``greedy_decode``, ``beam_search``, ``Hypothesis``.

Transformers (chapters 09 and 10):

- ``bert.py``: ``BertConfig``, ``BertModel``, ``BertForPreTraining`` (MLM with the decoder tied to
  the token embeddings, computed only at the masked positions, and NSP),
  ``BertForSequenceClassification``, and their outputs;
- ``hf_bert.py``: ``from_pretrained`` / ``save_pretrained`` (Hugging Face's BERT folder:
  ``config.json``, ``model.safetensors``, ``vocab.txt``), ``PretrainedLoadError``;
- ``gpt.py``: ``GPTConfig``, ``GPTLMHeadModel`` (a causal Transformer LM with ``generate``),
  ``causal_lm_loss``, ``CausalLMOutput``.

Functions that two models both have (``evaluate``) stay in their modules:
``minilm.models.lm_training.evaluate``, ``minilm.models.seq2seq.evaluate``.
"""

from minilm.models import (
    attention,
    beam_search,
    bert,
    gpt,
    hf_bert,
    lm_data,
    lm_training,
    ngram,
    rnn_lm,
    sampling,
    seq2seq,
    seq2seq_train,
    word2vec,
)
from minilm.models.attention import AdditiveAttention, DotAttention, masked_softmax
from minilm.models.beam_search import Hypothesis, greedy_decode
from minilm.models.bert import (
    BertConfig,
    BertForPreTraining,
    BertForSequenceClassification,
    BertModel,
    BertModelOutput,
    BertPreTrainingOutput,
    SequenceClassifierOutput,
)
from minilm.models.gpt import CausalLMOutput, GPTConfig, GPTLMHeadModel, causal_lm_loss
from minilm.models.hf_bert import PretrainedLoadError, from_pretrained, save_pretrained
from minilm.models.lm_data import LMCorpus, build_lm_corpus, bundled_lm_corpus
from minilm.models.lm_training import detach_state, train_language_model
from minilm.models.ngram import AddKNGramLM, NGramLM
from minilm.models.rnn_lm import RNNLanguageModel, generate
from minilm.models.sampling import perplexity_from_loss, sample_next, top_k_filter, top_p_filter
from minilm.models.seq2seq import Decoder, Encoder, Seq2Seq
from minilm.models.seq2seq_train import exact_match, train_seq2seq
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
    "AddKNGramLM",
    "AdditiveAttention",
    "BertConfig",
    "BertForPreTraining",
    "BertForSequenceClassification",
    "BertModel",
    "BertModelOutput",
    "BertPreTrainingOutput",
    "CausalLMOutput",
    "GPTConfig",
    "GPTLMHeadModel",
    "Decoder",
    "DotAttention",
    "Encoder",
    "Hypothesis",
    "LMCorpus",
    "NGramLM",
    "NegativeSampler",
    "PretrainedLoadError",
    "RNNLanguageModel",
    "Seq2Seq",
    "SequenceClassifierOutput",
    "Word2Vec",
    "WordVectors",
    "attention",
    "beam_search",
    "bert",
    "build_lm_corpus",
    "bundled_lm_corpus",
    "causal_lm_loss",
    "cbow_examples",
    "detach_state",
    "exact_match",
    "from_pretrained",
    "generate",
    "gpt",
    "greedy_decode",
    "hf_bert",
    "lm_data",
    "lm_training",
    "masked_softmax",
    "negative_sampling_loss",
    "ngram",
    "noise_distribution",
    "perplexity_from_loss",
    "rnn_lm",
    "sample_next",
    "save_pretrained",
    "sampling",
    "seq2seq",
    "seq2seq_train",
    "skipgram_pairs",
    "subsample",
    "subsample_keep_prob",
    "top_k_filter",
    "top_p_filter",
    "train_language_model",
    "train_seq2seq",
    "train_word2vec",
    "word2vec",
]
