"""The word tokenizer and the vocabulary: ids, special tokens, files, and encode/decode round trips."""

import json
import os
import re
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilm.data import SPECIAL_TOKENS, Vocab, WordTokenizer, corpus
from minilm.data.tokenizers import detokenize

TEXTS = [["the", "cook", "baked", "a", "pie"], ["the", "cook", "ate", "the", "pie"], ["a", "boat"]]


@pytest.fixture(scope="module")
def corpus_vocab():
    tokenizer = WordTokenizer()
    return tokenizer.build_vocab(corpus.sentences(n=3000, seed=0))


def test_special_tokens_come_first_in_order():
    vocab = Vocab.build(TEXTS)
    assert SPECIAL_TOKENS == ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
    assert vocab.tokens[:5] == list(SPECIAL_TOKENS)
    assert (vocab.pad_id, vocab.unk_id, vocab.cls_id, vocab.sep_id, vocab.mask_id) == (0, 1, 2, 3, 4)
    assert [vocab[t] for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]


def test_order_is_by_count_then_alphabetical():
    vocab = Vocab.build(TEXTS)
    # counts: the 3, a 2, cook 2, pie 2, ate 1, baked 1, boat 1
    assert vocab.tokens[5:] == ["the", "a", "cook", "pie", "ate", "baked", "boat"]
    assert len(vocab) == 12


def test_ties_do_not_depend_on_input_order():
    forward = Vocab.build([["b", "a", "c", "a", "b", "c"]])
    backward = Vocab.build([["c", "c", "b", "a", "b", "a"]])
    assert forward == backward
    assert forward.tokens[5:] == ["a", "b", "c"]


def test_build_from_counter_equals_build_from_lists():
    counts = Counter(t for tokens in TEXTS for t in tokens)
    assert Vocab.build(counts) == Vocab.build(TEXTS)


def test_min_freq_and_max_size():
    assert Vocab.build(TEXTS, min_freq=2).tokens[5:] == ["the", "a", "cook", "pie"]
    assert Vocab.build(TEXTS, max_size=7).tokens == list(SPECIAL_TOKENS) + ["the", "a"]
    assert len(Vocab.build(TEXTS, max_size=5)) == 5
    with pytest.raises(ValueError, match="max_size=3"):
        Vocab.build(TEXTS, max_size=3)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(TEXTS, min_freq=0)


def test_custom_specials():
    vocab = Vocab.build(TEXTS, specials=["<pad>", "<unk>"], unk_token="<unk>")
    assert vocab.tokens[:2] == ["<pad>", "<unk>"]
    assert vocab["zebra"] == 1 == vocab.unk_id
    with pytest.raises(KeyError, match=re.escape("no [MASK] token")):
        _ = vocab.mask_id
    with pytest.raises(ValueError, match="unk_token"):
        Vocab.build(TEXTS, specials=["<pad>"])


def test_build_refuses_plain_strings():
    with pytest.raises(TypeError, match="tokenize it first"):
        Vocab.build(["the cook baked a pie"])
    with pytest.raises(TypeError, match="tokenize it first"):
        Vocab.build("the cook")


def test_lookups_and_unknown_tokens():
    vocab = Vocab.build(TEXTS)
    assert "cook" in vocab and "zebra" not in vocab
    assert vocab["zebra"] == vocab.unk_id == 1
    ids = vocab.lookup_ids(["the", "zebra", "pie"])
    assert ids == [5, 1, 8]
    assert vocab.lookup_tokens(ids) == ["the", "[UNK]", "pie"]
    assert list(vocab) == vocab.tokens


def test_no_unknown_token_means_key_error():
    vocab = Vocab(["a", "b"], unk_token=None)
    assert vocab["b"] == 1
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        vocab["zebra"]


@pytest.mark.parametrize("bad", [12, 100, -1])
def test_out_of_range_id_names_the_id_and_the_size(bad):
    vocab = Vocab.build(TEXTS)
    with pytest.raises(IndexError, match=rf"token id {bad} is out of range for a vocabulary of size 12"):
        vocab.lookup_tokens([5, bad])


def test_duplicate_tokens_are_refused():
    with pytest.raises(ValueError, match="'a' appears twice"):
        Vocab(["[UNK]", "a", "b", "a"])


def test_save_load_round_trip(tmp_path, corpus_vocab):
    path = tmp_path / "vocab.json"
    corpus_vocab.save(path)
    loaded = Vocab.load(path)
    assert loaded == corpus_vocab
    assert loaded.lookup_ids(["the", "boat", "zebra"]) == corpus_vocab.lookup_ids(["the", "boat", "zebra"])
    data = json.loads(path.read_text())
    assert data["format"] == "minilm.vocab" and data["tokens"][:5] == list(SPECIAL_TOKENS)
    # overwrite in place, and leave no temporary file behind
    Vocab.build(TEXTS).save(str(path))
    assert Vocab.load(path) == Vocab.build(TEXTS)
    assert os.listdir(tmp_path) == ["vocab.json"]


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"format": "minilm.vocab", "version": 1, "tokens": ["a", ', "JSON is broken"),
        ("[1, 2, 3]", "not a vocabulary file"),
        ('{"format": "something else", "tokens": []}', "not a vocabulary file"),
        ('{"format": "minilm.vocab", "version": 7, "unk_token": null, "tokens": []}', "version 7"),
        ('{"format": "minilm.vocab", "version": 1, "unk_token": null, "tokens": "abc"}', "list of strings"),
        ('{"format": "minilm.vocab", "version": 1, "unk_token": null, "tokens": ["a", 3]}', "list of strings"),
        ('{"format": "minilm.vocab", "version": 1, "unk_token": null, "tokens": ["a", "a"]}', "appears twice"),
        ('{"format": "minilm.vocab", "version": 1, "unk_token": "[UNK]", "tokens": ["a"]}', "not among the tokens"),
    ],
)
def test_corrupt_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "broken.json"
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as info:
        Vocab.load(path)
    assert str(path) in str(info.value)


def test_tokenizer_splits_words_and_punctuation():
    tok = WordTokenizer()
    assert tok.tokenize("The cook's pie, hot.  Really?") == ["the", "cook's", "pie", ",", "hot", ".", "really", "?"]
    assert WordTokenizer(lowercase=False).tokenize("Anna sailed.") == ["Anna", "sailed", "."]
    assert tok.tokenize("") == []


def test_encode_decode(corpus_vocab):
    tok = WordTokenizer(corpus_vocab)
    ids = tok.encode("The captain tied the rope. Did she sail?")
    assert all(isinstance(i, int) for i in ids) and corpus_vocab.unk_id not in ids
    assert tok.decode(ids) == "the captain tied the rope. did she sail?"
    assert tok.encode("The zorblax sailed.")[1] == corpus_vocab.unk_id
    with_specials = [corpus_vocab.cls_id] + ids + [corpus_vocab.sep_id, corpus_vocab.pad_id]
    assert tok.decode(with_specials).startswith("[CLS] the captain")
    assert tok.decode(with_specials, skip_special_tokens=True) == tok.decode(ids)


def test_tokenizer_without_vocab_says_what_to_do():
    with pytest.raises(ValueError, match=r"no vocabulary yet; call train\(texts\)"):
        WordTokenizer().encode("a boat")


def test_detokenize_attaches_punctuation():
    assert detokenize(["yes", ",", "she", "did", "."]) == "yes, she did."
    assert detokenize(["(", "a", ")", "b"]) == "(a) b"


@given(st.data())
def test_ids_round_trip_through_text(corpus_vocab, data):
    """decode then encode gives back the ids, for any sequence of the vocabulary's ordinary tokens."""
    ordinary = corpus_vocab.tokens[len(SPECIAL_TOKENS):]
    tokens = data.draw(st.lists(st.sampled_from(ordinary), max_size=30))
    tok = WordTokenizer(corpus_vocab)
    ids = corpus_vocab.lookup_ids(tokens)
    text = tok.decode(ids)
    assert tok.encode(text) == ids
    assert tok.decode(tok.encode(text)) == text
