"""The language-modelling streams of chapter 04 (minilm/models/lm_data.py): tokens, <eos>, a vocabulary
built on the training split only, <unk>, and a split by document."""

import numpy as np
import pytest

from minilm.data import corpus
from minilm.data.datasets import bundled_documents
from minilm.data.tokenizers.word import WordTokenizer
from minilm.models.lm_data import (
    LMCorpus,
    as_token_ids,
    build_lm_corpus,
    bundled_lm_corpus,
    split_documents,
)

N_DOCS = 120


@pytest.fixture(scope="module")
def data() -> LMCorpus:
    return bundled_lm_corpus(n_documents=N_DOCS)


@pytest.fixture(scope="module")
def splits():
    return split_documents(corpus.documents(n=N_DOCS))


def _sentences(docs):
    return [s for d in docs for s in d.sentences]


def test_specials_come_first(data):
    assert data.vocab.tokens[:2] == ["<unk>", "<eos>"]
    assert (data.unk_id, data.eos_id) == (0, 1)
    for stream in (data.train, data.validation, data.test):
        assert stream.dtype == np.int64 and stream.ndim == 1
        assert stream[-1] == data.eos_id


def test_streams_decode_to_the_sentences_tokens(data, splits):
    tokenizer = WordTokenizer(lowercase=True)
    for stream, docs in zip((data.train, data.validation, data.test), splits, strict=True):
        expected = []
        for sentence in _sentences(docs):
            expected += [t if t in data.vocab else "<unk>" for t in tokenizer.tokenize(sentence)] + ["<eos>"]
        assert data.decode(stream) == expected


def test_one_eos_per_sentence(data, splits):
    for stream, docs in zip((data.train, data.validation, data.test), splits, strict=True):
        assert int(np.sum(stream == data.eos_id)) == len(_sentences(docs)) > 0


def test_split_by_document_as_the_dataset_registry_splits(splits):
    train, validation, test = splits
    assert (len(train), len(validation), len(test)) == (96, 12, 12)
    for name, docs in zip(("train", "validation", "test"), splits, strict=True):
        assert [d.text for d in docs] == bundled_documents(name, n=N_DOCS)
    assert not {d.text for d in train} & {d.text for d in validation + test}


def test_vocabulary_is_built_on_training_text_only(data, splits):
    train_words = set(corpus.words(_sentences(splits[0])))
    assert set(data.vocab.tokens[2:]) == train_words
    held_out_words = set(corpus.words(_sentences(splits[1] + splits[2])))
    unseen = held_out_words - train_words
    assert unseen  # 120 documents: some validation/test words never occur in training
    assert not unseen & set(data.vocab.tokens)
    assert int(np.sum(data.train == data.unk_id)) == 0  # min_count=1: every training word is known


def test_unseen_words_map_to_unk():
    d = build_lm_corpus(["The cat sat.", "A dog ran. The dog sat."], ["The zebra sat."], ["Cats ran!"])
    assert d.decode(d.validation) == ["the", "<unk>", "sat", ".", "<eos>"]
    assert d.decode(d.test) == ["<unk>", "ran", "<unk>", "<eos>"]  # "cats" and "!" never seen
    assert d.vocab.tokens == ["<unk>", "<eos>", ".", "dog", "sat", "the", "a", "cat", "ran"]  # by count, ties a-z


def test_min_count_and_max_size_send_rare_words_to_unk_everywhere():
    train = ["a a a b b c", "a b d"]
    d = build_lm_corpus(train, ["c d e"], [], min_count=2)
    assert d.decode(d.train) == ["a", "a", "a", "b", "b", "<unk>", "<eos>", "a", "b", "<unk>", "<eos>"]
    assert d.decode(d.validation) == ["<unk>", "<unk>", "<unk>", "<eos>"]
    assert len(d.test) == 0
    assert build_lm_corpus(train, [], [], max_size=3).vocab.tokens == ["<unk>", "<eos>", "a"]


def test_unk_and_eos_written_in_text_stay_whole_and_empty_texts_add_nothing():
    d = build_lm_corpus(["the <unk> sat", "", "   "], ["x <eos>"], [])
    assert d.decode(d.train) == ["the", "<unk>", "sat", "<eos>"]  # as in WikiText, which writes <unk> itself
    assert d.decode(d.validation) == ["<unk>", "<eos>", "<eos>"]
    assert "unk" not in d.vocab


def test_lowercase_can_be_turned_off():
    d = build_lm_corpus(["The the"], ["THE"], [], lowercase=False)
    assert d.vocab.tokens == ["<unk>", "<eos>", "The", "the"]
    assert d.decode(d.validation) == ["<unk>", "<eos>"]


def test_describe_counts(data):
    info = data.describe()
    assert info["vocab_size"] == len(data.vocab)
    assert info["train_tokens"] == len(data.train) > 4 * info["validation_tokens"]  # 80% against 10%
    assert info["validation_tokens"] == len(data.validation)
    assert info["train_unk_rate"] == 0 < info["validation_unk_rate"] + info["test_unk_rate"]


def test_bad_arguments():
    with pytest.raises(TypeError, match="train_texts must be a list of texts, got one string"):
        build_lm_corpus("the cat sat", [], [])
    with pytest.raises(TypeError, match="validation_texts must hold strings, got 3"):
        build_lm_corpus(["a"], [3], [])
    with pytest.raises(ValueError, match="n_documents must be an integer >= 10.*got 5"):
        bundled_lm_corpus(n_documents=5)
    with pytest.raises(ValueError, match="token id 9 is outside the vocabulary of size 4"):
        as_token_ids([1, 9], vocab_size=4)
    with pytest.raises(ValueError, match="flat sequence"):
        as_token_ids([[1, 2], [3, 4]])
    with pytest.raises(TypeError, match="integer token ids"):
        as_token_ids(np.array([0.5]))
    with pytest.raises(ValueError, match="token id 5 is outside the vocabulary of size 3"):
        build_lm_corpus(["a"], [], []).decode([0, 5])
