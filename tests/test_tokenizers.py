"""The interface every tokenizer shares (base.py), and the character and word tokenizers."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilm.data import SPECIAL_TOKENS, CharTokenizer, Tokenizer, TokenizerFileError, Vocab, WordTokenizer

TEXTS = ["The cook baked a pie.", "The cook was happy!", "A pie, a cake; two pies."]


def test_char_tokenizer_counts_characters_and_maps_unseen_ones_to_unk():
    tok = CharTokenizer().train(["abba", "cab"])
    # a: 3, b: 3, c: 1 -> most frequent first, ties alphabetical, after the five specials
    assert tok.vocab.tokens == [*SPECIAL_TOKENS, "a", "b", "c"]
    assert tok.encode("cab") == [7, 5, 6]
    assert tok.encode("abz") == [5, 6, tok.unk_id]
    assert tok.decode([7, 5, 6]) == "cab"
    assert CharTokenizer().train(["abba", "cab"], min_frequency=2).vocab.tokens == [*SPECIAL_TOKENS, "a", "b"]
    assert CharTokenizer().train(["abba", "cab"], vocab_size=6).vocab.tokens == [*SPECIAL_TOKENS, "a"]


@given(st.text())
def test_char_tokenizer_is_lossless_on_text_it_was_trained_on(text):
    tok = CharTokenizer().train([text])
    assert tok.decode(tok.encode(text)) == text


def test_word_tokenizer_joins_the_interface():
    tok = WordTokenizer().train(TEXTS)
    assert isinstance(tok, Tokenizer)
    assert tok.tokenize("The cook's pie!") == ["the", "cook's", "pie", "!"]
    ids = tok.encode("the cook baked a tart.")
    assert ids[4] == tok.unk_id and tok.decode(ids) == "the cook baked a [UNK]."
    assert tok.decode(ids, skip_special_tokens=True) == "the cook baked a."
    assert tok.encode_batch(["a pie", "two pies"]) == [tok.encode("a pie"), tok.encode("two pies")]
    assert WordTokenizer().train(TEXTS, min_frequency=2).vocab.tokens == [
        *SPECIAL_TOKENS,
        "a",
        ".",
        "cook",
        "pie",
        "the",
    ]


@pytest.mark.parametrize("make", [CharTokenizer, WordTokenizer], ids=["char", "word"])
def test_special_tokens_are_kept_whole_and_never_learned_as_text(make):
    tok = make().train(["the [MASK] sat [SEP] there"] + TEXTS)
    tokens = tok.tokenize("a [MASK] pie[SEP]")
    assert tokens.count("[MASK]") == 1 and tokens.count("[SEP]") == 1
    ids = tok.encode("a [MASK] pie[SEP]")
    assert tok.mask_id in ids and tok.sep_id in ids
    # the characters of "[MASK]" were not counted as ordinary text while training
    assert "M" not in tok.vocab and "mask" not in tok.vocab
    assert [tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id] == [0, 1, 2, 3, 4]


def test_encode_with_special_tokens_and_pairs_follow_bert():
    tok = WordTokenizer().train(TEXTS)
    a, b = tok.encode("the cook"), tok.encode("a pie .")
    assert tok.encode("the cook", add_special_tokens=True) == [tok.cls_id, *a, tok.sep_id]
    ids, segments = tok.encode_pair("the cook", "a pie .")
    assert ids == [tok.cls_id, *a, tok.sep_id, *b, tok.sep_id]
    assert segments == [0] * (len(a) + 2) + [1] * (len(b) + 1)


def test_errors_name_the_problem():
    tok = WordTokenizer()
    with pytest.raises(ValueError, match="no vocabulary yet"):
        tok.decode([1])
    tok.train(TEXTS)
    with pytest.raises(IndexError, match="out of range .* size 19"):
        tok.decode([0, 19])
    with pytest.raises(KeyError, match=r"special token '\[FOO\]' is not in this tokenizer's vocabulary"):
        tok.token_to_id("[FOO]")
    with pytest.raises(TypeError, match="one string"):
        tok.encode_batch("a pie")
    with pytest.raises(TypeError, match="expected a string"):
        tok.encode(["a", "pie"])
    with pytest.raises(ValueError, match="not among the special tokens"):
        CharTokenizer(special_tokens=["[PAD]"], unk_token="[UNK]")
    with pytest.raises(ValueError, match="repeat"):
        CharTokenizer(special_tokens=["[PAD]", "[PAD]"], unk_token=None)
    no_mask = CharTokenizer(special_tokens=["[PAD]", "[UNK]"]).train(["ab"])
    with pytest.raises(KeyError, match=r"has no \[MASK\] token"):
        _ = no_mask.mask_id
    with pytest.raises(ValueError, match=r"lacks the special tokens \['\[MASK\]'\]"):
        WordTokenizer(vocab=Vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"]))


def test_without_unk_token_an_unknown_piece_is_an_error():
    tok = CharTokenizer(special_tokens=["[PAD]"], unk_token=None).train(["ab"])
    assert tok.encode("ba") == [2, 1]
    with pytest.raises(KeyError, match=r"\['z'\] are not in the vocabulary"):
        tok.encode("az")


@pytest.mark.parametrize(
    "make", [CharTokenizer, WordTokenizer, lambda: WordTokenizer(lowercase=False)], ids=["char", "word", "cased"]
)
def test_save_and_load_give_the_same_tokenizer(make, tmp_path):
    tok = make().train(TEXTS)
    path = tmp_path / "tok.json"
    tok.save(path)
    back = Tokenizer.load(path)
    assert type(back) is type(tok) and back.vocab == tok.vocab and back.special_tokens == tok.special_tokens
    for text in [*TEXTS, "The unseen Word [MASK]."]:
        assert back.encode(text) == tok.encode(text)
    assert type(tok).load(path).vocab == tok.vocab


def test_a_file_of_another_kind_is_refused_by_a_specific_class(tmp_path):
    path = tmp_path / "tok.json"
    CharTokenizer().train(TEXTS).save(path)
    with pytest.raises(TokenizerFileError, match="holds a CharTokenizer, not a WordTokenizer"):
        WordTokenizer.load(path)


def _corrupt(data):
    """(name, transformation of a good file's JSON) for each kind of damage."""
    return [
        ("not json", lambda s: s[: len(s) // 2], "JSON is broken"),
        ("not utf-8", lambda s: "\udcff", "not UTF-8"),
        ("other format", lambda s: json.dumps({**data, "format": "x"}), "not a minilm tokenizer file"),
        ("version", lambda s: json.dumps({**data, "version": 99}), "version 99"),
        ("type", lambda s: json.dumps({**data, "type": "sentencepiece"}), "unknown tokenizer type 'sentencepiece'"),
        ("vocab", lambda s: json.dumps({**data, "vocab": "abc"}), '"vocab" must be a list of strings'),
        (
            "special",
            lambda s: json.dumps({**data, "special_tokens": [*data["special_tokens"], "[NEW]"]}),
            r"special tokens \['\[NEW\]'\] are not in the vocabulary",
        ),
        ("duplicate", lambda s: json.dumps({**data, "vocab": data["vocab"] + ["the"]}), "appears twice"),
        ("config", lambda s: json.dumps({**data, "config": {"lowercase": "yes"}}), "lowercase"),
    ]


@pytest.mark.parametrize("case", range(9))
def test_a_corrupt_file_is_a_clear_error_naming_the_file(case, tmp_path):
    path = tmp_path / "tok.json"
    WordTokenizer().train(TEXTS).save(path)
    good = path.read_text(encoding="utf-8")
    name, damage, message = _corrupt(json.loads(good))[case]
    bad = damage(good)
    path.write_bytes(bad.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(TokenizerFileError, match=message) as err:
        Tokenizer.load(path)
    assert str(path) in str(err.value), name


def test_save_is_atomic_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "tok.json"
    first = WordTokenizer().train(TEXTS)
    first.save(path)
    before = path.read_bytes()
    second = WordTokenizer().train(["entirely different words"])
    monkeypatch.setattr(second, "_config", lambda: {"lowercase": object()})  # not JSON: fails mid-save
    with pytest.raises(TypeError):
        second.save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["tok.json"]
