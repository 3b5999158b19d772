"""WordPiece: BERT's normaliser, greedy longest-match pieces, vocab.txt files, round trips, and
agreement with BERT's own tokenizer (Hugging Face's, when installed). Training: test_tokenizers_wordpiece_train.py."""

import json
import pathlib
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilm.data import SPECIAL_TOKENS, corpus
from minilm.data.tokenizers import Tokenizer, TokenizerFileError, WordPieceTokenizer
from minilm.data.tokenizers.bert_normalizer import basic_tokenize, clean_text, is_punctuation, split_punctuation
from minilm.data.tokenizers.wordpiece import wordpiece

# A hand-made vocab.txt. The special tokens are NOT in BERT's places ([UNK] is 2, [CLS] 6), so that
# the tests see ids come from the file.
HAND_VOCAB = [
    "[PAD]", "the", "[UNK]", "un", "##aff", "##able", "[CLS]", "[SEP]", "[MASK]", "cafe",  # 0-9
    "café", "Café", "Cafe", "naive", "hello", "Hello", "world", ",", "!", ".",  # 10-19
    "$", "5", "^", "[", "]", "mask", "a", "##a", "##b", "ab",  # 20-29
    "##ab", "##bc", "中", "文", "«", "»", "##s",  # 30-36
]  # fmt: skip

# Worked out by hand from BERT's rules (uncased: lowercase, strip accents).
UNCASED_CASES = [
    ("Café naïve", ["cafe", "naive"]),  # accents stripped, "café" in the vocab is never reached
    ("HeLLo, world!", ["hello", ",", "world", "!"]),  # lowercased, punctuation split off
    ("unaffable", ["un", "##aff", "##able"]),
    ("Unaffable.", ["un", "##aff", "##able", "."]),
    ("unaffables", ["un", "##aff", "##able", "##s"]),
    ("unaffablez", ["[UNK]"]),  # one unmatched character: the WHOLE word is [UNK]
    ("abc", ["[UNK]"]),  # greedy takes "ab", then "##c" is missing; "a ##bc" is never tried
    ("aab", ["a", "##ab"]),  # longest match first: "##ab", not "##a ##b"
    ("abab", ["ab", "##ab"]),
    ("ba", ["[UNK]"]),  # no word-initial "b"
    ("a" * 100, ["a"] + ["##a"] * 99),  # 100 characters: still pieced
    ("a" * 101, ["[UNK]"]),  # 101 characters: longer than max_input_chars_per_word
    ("中文", ["中", "文"]),  # CJK ideographs are words of their own
    ("the中文world", ["the", "中", "文", "world"]),
    ("hel\x00lo wor\u200bld\ufffd\x07", ["hello", "world"]),  # NUL, zero-width space (Cf), U+FFFD, BEL dropped
    ("hello\tworld\nthe\r\n", ["hello", "world", "the"]),  # tab, newline, CR are whitespace
    ("hello\u00a0world\u3000the", ["hello", "world", "the"]),  # no-break and ideographic spaces (Zs)
    ("$5^", ["$", "5", "^"]),  # ASCII symbols count as punctuation
    ("«Hello»", ["«", "hello", "»"]),  # Unicode punctuation (Pi, Pf)
    ("the [MASK] world", ["the", "[MASK]", "world"]),
    ("the[MASK].", ["the", "[MASK]", "."]),  # kept whole even glued to words
    ("[mask]", ["[", "mask", "]"]),  # the match is case-sensitive: lowercase [mask] is text
    ("[Mask]", ["[", "mask", "]"]),
    ("[MA\x00SK]", ["[MASK]"]),  # BERT's quirk: the cleaned word equals a special token, kept whole
    ("xyz the", ["[UNK]", "the"]),
    ("", []),
    (" \t\n ", []),
]

CASED_CASES = [  # lowercase=False (strip_accents=None follows it: accents kept)
    ("Café", ["Café"]),
    ("Cafe\u0301", ["Café"]),  # NFC composes e + combining acute into é
    ("Hello hello", ["Hello", "hello"]),
    ("HeLLo", ["[UNK]"]),
    ("Naive", ["[UNK]"]),
]

SPECIALS = list(SPECIAL_TOKENS)


def write_vocab(path, tokens):
    path.write_text("".join(t + "\n" for t in tokens), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def hand_vocab_file(tmp_path_factory):
    return write_vocab(tmp_path_factory.mktemp("hand") / "vocab.txt", HAND_VOCAB)


@pytest.fixture(scope="module")
def hand(hand_vocab_file):
    return WordPieceTokenizer.from_vocab_file(hand_vocab_file)


# -- the known answers --------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", UNCASED_CASES)
def test_uncased_tokens_match_the_hand_worked_answers(hand, text, expected):
    assert hand.tokenize(text) == expected
    assert hand.encode(text) == [HAND_VOCAB.index(t) for t in expected]


@pytest.mark.parametrize("text, expected", CASED_CASES)
def test_cased_tokens_match_the_hand_worked_answers(hand_vocab_file, text, expected):
    tok = WordPieceTokenizer.from_vocab_file(hand_vocab_file, lowercase=False)
    assert tok.tokenize(text) == expected


@pytest.mark.parametrize("lowercase, strip_accents, expected", [
    (True, None, "cafe"), (True, True, "cafe"), (True, False, "café"),
    (False, None, "Café"), (False, False, "Café"), (False, True, "Cafe"),
])  # fmt: skip
def test_lowercase_and_strip_accents_are_independent_options(hand_vocab_file, lowercase, strip_accents, expected):
    tok = WordPieceTokenizer.from_vocab_file(hand_vocab_file, lowercase=lowercase, strip_accents=strip_accents)
    assert tok.tokenize("Café") == [expected]
    assert tok.tokenize("CAFÉ") == ([expected] if lowercase else ["[UNK]"])


def test_ids_with_special_tokens_and_pairs(hand):
    # [CLS]=6 hello=14 ,=17 world=16 !=18 [SEP]=7
    assert hand.encode("Hello, world!", add_special_tokens=True) == [6, 14, 17, 16, 18, 7]
    assert hand.encode("Hello, world!") == [14, 17, 16, 18]
    ids, segments = hand.encode_pair("Hello!", "the world")
    assert ids == [6, 14, 18, 7, 1, 16, 7]
    assert segments == [0, 0, 0, 0, 1, 1, 1]
    assert (hand.pad_id, hand.unk_id, hand.cls_id, hand.sep_id, hand.mask_id) == (0, 2, 6, 7, 8)
    assert hand.encode_batch(["the", "xyz"]) == [[1], [2]]


def test_decode_glues_continuations_and_keeps_special_tokens(hand):
    assert hand.decode([6, 3, 4, 5, 17, 8, 7]) == "[CLS] unaffable , [MASK] [SEP]"
    assert hand.decode([6, 3, 4, 5, 17, 8, 7], skip_special_tokens=True) == "unaffable ,"
    assert hand.decode([26, 30, 1, 27]) == "aab thea"
    assert hand.decode([27, 1, 8, 27]) == "##a the [MASK] ##a"  # a piece that starts a run keeps its ##
    with pytest.raises(IndexError, match="37"):
        hand.decode([37])


def test_a_bert_base_layout_keeps_its_ids(tmp_path):
    # bert-base-uncased: [PAD]=0, [unused0..98], [UNK]=100, [CLS]=101, [SEP]=102, [MASK]=103
    tokens = ["[PAD]"] + [f"[unused{i}]" for i in range(99)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "##s"]
    tok = WordPieceTokenizer.from_vocab_file(write_vocab(tmp_path / "vocab.txt", tokens))
    assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 100, 101, 102, 103)
    assert tok.encode("The thes [MASK] x", add_special_tokens=True) == [101, 104, 104, 105, 103, 100, 102]


def test_wordpiece_alone():
    vocab = {"un", "##aff", "##able", "##a", "[UNK]"}
    assert wordpiece("unaffable", vocab) == ["un", "##aff", "##able"]
    assert wordpiece("unaffablex", vocab) == ["[UNK]"]
    assert wordpiece("unaffable", vocab, max_input_chars_per_word=8) == ["[UNK]"]
    assert wordpiece("unaffable", {"un", "@@aff", "@@able"}, prefix="@@") == ["un", "@@aff", "@@able"]
    assert wordpiece("unx", vocab, unk_token=None) == ["unx"]
    assert wordpiece("", vocab) == []


def test_the_normaliser_steps():
    assert clean_text("a\tb\x00c\u00a0d\u200be\x85f") == "a bc def"  # U+0085 is Cc: dropped
    assert split_punctuation("don't!") == ["don", "'", "t", "!"]
    assert split_punctuation("") == []
    assert [c for c in "$+<=>^`|~" if not is_punctuation(c)] == []  # ASCII symbols are punctuation for BERT
    assert not is_punctuation("é") and is_punctuation("§")  # § is Po: Unicode punctuation
    assert basic_tokenize("  Héllo,\tWORLD!\x00 naïve 中文 ") == ["hello", ",", "world", "!", "naive", "中", "文"]
    assert basic_tokenize("Héllo", lowercase=False) == ["Héllo"]
    assert basic_tokenize("a\u2028b") == ["a", "b"]  # the line separator splits like whitespace


def test_a_tokenizer_without_unk_names_the_word_it_cannot_piece(tmp_path):
    tokens = ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "the"]
    tok = WordPieceTokenizer.from_vocab_file(
        write_vocab(tmp_path / "v.txt", tokens), special_tokens=["[PAD]", "[CLS]", "[SEP]", "[MASK]"], unk_token=None
    )
    assert tok.encode("the") == [4]
    with pytest.raises(KeyError, match="xyz"):
        tok.encode("the xyz")


# -- vocab.txt files ----------------------------------------------------------------------------------


def test_vocab_file_round_trip_keeps_lines_exactly(tmp_path):
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", " spaced ", "", "##x", "tab\there"]
    tok = WordPieceTokenizer.from_vocab_file(write_vocab(tmp_path / "v.txt", tokens))
    assert tok.vocab.tokens == tokens  # spaces, an empty line and a tab are kept
    tok.save_vocab_file(tmp_path / "w.txt")
    assert (tmp_path / "w.txt").read_text(encoding="utf-8") == "".join(t + "\n" for t in tokens)
    (tmp_path / "crlf.txt").write_bytes("\r\n".join(tokens[:5] + ["a"]).encode())  # Windows line ends, no last one
    assert WordPieceTokenizer.from_vocab_file(tmp_path / "crlf.txt").vocab.tokens == tokens[:5] + ["a"]


def test_vocab_file_errors_name_the_file_and_lines(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(TokenizerFileError, match=r"empty\.txt.*empty"):
        WordPieceTokenizer.from_vocab_file(empty)
    dup = write_vocab(tmp_path / "dup.txt", ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "a"])
    with pytest.raises(TokenizerFileError, match=r"dup\.txt.*'a'.*line 6.*line 8"):
        WordPieceTokenizer.from_vocab_file(dup)
    no_unk = write_vocab(tmp_path / "nounk.txt", ["[PAD]", "[CLS]", "[SEP]", "[MASK]", "a"])
    with pytest.raises(TokenizerFileError, match=r"nounk\.txt.*\[UNK\]"):
        WordPieceTokenizer.from_vocab_file(no_unk)
    with pytest.raises(TokenizerFileError, match=r"nounk\.txt.*\[BOS\]"):
        WordPieceTokenizer.from_vocab_file(no_unk, special_tokens=["[PAD]", "[BOS]"], unk_token=None)
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"[PAD]\n\xff\xfe\n")
    with pytest.raises(TokenizerFileError, match=r"bin\.txt.*UTF-8"):
        WordPieceTokenizer.from_vocab_file(binary)
    tok = WordPieceTokenizer.from_vocab_file(write_vocab(tmp_path / "ok.txt", list(HAND_VOCAB)))
    tok.vocab = type(tok.vocab)(HAND_VOCAB + ["two\nlines"])
    with pytest.raises(ValueError, match="two.nlines.*id 37"):
        tok.save_vocab_file(tmp_path / "out.txt")


def test_unknown_special_tokens_and_bad_options_are_clear_errors(hand):
    with pytest.raises(KeyError, match=r"\[BOS\]"):
        hand.token_to_id("[BOS]")
    with pytest.raises(ValueError, match="max_input_chars_per_word.*0"):
        WordPieceTokenizer(max_input_chars_per_word=0)
    with pytest.raises(ValueError, match="strip_accents.*'yes'"):
        WordPieceTokenizer(strip_accents="yes")
    with pytest.raises(ValueError, match="continuation_prefix"):
        WordPieceTokenizer(continuation_prefix="")
    with pytest.raises(ValueError, match="no vocabulary"):
        WordPieceTokenizer().encode("a")


def test_save_and_load_give_the_same_tokenizer(hand_vocab_file, tmp_path):
    tok = WordPieceTokenizer.from_vocab_file(
        hand_vocab_file, lowercase=False, strip_accents=True, max_input_chars_per_word=7
    )
    tok.save(tmp_path / "tok.json")
    back = Tokenizer.load(tmp_path / "tok.json")
    assert type(back) is WordPieceTokenizer
    assert back.vocab == tok.vocab and back.special_tokens == tok.special_tokens
    assert (back.lowercase, back.strip_accents, back.max_input_chars_per_word, back.continuation_prefix) == (
        False,
        True,
        7,
        "##",
    )
    for text, _ in UNCASED_CASES + CASED_CASES:
        assert back.encode(text) == tok.encode(text)


@pytest.mark.parametrize("change, message", [
    (lambda d: "{not json", "JSON is broken"),
    (lambda d: {**d, "config": {**d["config"], "lowercase": "yes"}}, "lowercase.*'yes'"),
    (lambda d: {**d, "config": {**d["config"], "max_input_chars_per_word": -1}}, "max_input_chars_per_word"),
    (lambda d: {**d, "config": {**d["config"], "continuation_prefix": 3}}, "continuation_prefix"),
    (lambda d: {**d, "config": {**d["config"], "lower_case": True}}, "unknown WordPiece options.*lower_case"),
    (lambda d: {**d, "vocab": d["vocab"][1:]}, r"\[PAD\]"),
    (lambda d: {**d, "vocab": d["vocab"] + ["the"]}, "'the' appears twice"),
])  # fmt: skip
def test_a_corrupt_file_is_a_clear_error_naming_the_file(hand, tmp_path, change, message):
    hand.save(tmp_path / "tok.json")
    data = json.loads((tmp_path / "tok.json").read_text(encoding="utf-8"))
    bad = change(data)
    (tmp_path / "bad.json").write_text(bad if isinstance(bad, str) else json.dumps(bad), encoding="utf-8")
    with pytest.raises(TokenizerFileError, match=r"bad\.json.*" + message):
        WordPieceTokenizer.load(tmp_path / "bad.json")



# -- round trip modulo normalisation --------------------------------------------------------------------

OWN_TEXTS = [  # a little non-English text of our own, so that trained vocabularies hold more than ASCII
    "Le café de la gare ouvre à sept heures; l'été, à six.",
    "Die Straße ist naß, der Bäcker öffnet später.",
    "Η θάλασσα είναι ήρεμη σήμερα. Ο ΔΡΟΜΟΣ ΕΙΝΑΙ ΜΑΚΡΥΣ.",
    "Москва — большой город, а Казань меньше.",
    "我们今天学习中文。東京は大きい都市です。한국어 문장도 있습니다.",
    "İstanbul, Ærø and Øresund; naïve coöperation, jalapeño, façade, résumé!",
]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def trained(request):
    texts = corpus.sentences(n=600, seed=0) + OWN_TEXTS * 3
    return WordPieceTokenizer(lowercase=request.param).train(texts, vocab_size=700, min_frequency=2)


# arbitrary Unicode, and text made of pieces chosen to hit the rules (accents, final sigma, dotted I,
# combining marks, odd spaces, CJK, special tokens written in the text)
PIECES = [*"the cat sat, éÉïßΣİ\u0301\u00a0\u3000\u2028\t\n中文.!$", "[MASK]", "[UNK]", "[mask]", "\x00", "\ufffd"]
TEXT = st.text() | st.lists(st.sampled_from(PIECES) | st.characters(), max_size=30).map("".join)
# text in the characters the trained vocabularies were made from, so that most words can be pieced
KNOWN = st.text(alphabet=sorted(set("".join(OWN_TEXTS) + "The cook baked a pie. Lena wanted bread!?")), max_size=60)


@settings(max_examples=150)
@given(text=TEXT | KNOWN)
def test_decode_round_trips_modulo_normalisation(trained, text):
    ids = trained.encode(text)
    assert trained.tokenize(trained.decode(ids)) == trained.tokenize(text)
    assert trained.encode(trained.decode(ids)) == ids


def test_a_trained_tokenizer_encodes_its_own_corpus_without_unk(trained):
    for text in OWN_TEXTS:
        assert trained.unk_token not in trained.tokenize(text)


# -- agreement with BERT's own tokenizer ----------------------------------------------------------------

TRICKY = [
    "Hello, World! How are you?",
    "UNAFFABLE unaffable",
    "Café naïve RÉSUMÉ",
    "e\u0301 Cafe\u0301",
    "ﬁne ﬀ",
    "$5^ `x` ~y~ |z| 3+4=7 <tag>",
    "a\tb\nc\rd\u00a0e\u2028f\u3000g\u200bh\x85i\x00j\ufffdk\ue000l\u0378m",
    "中文字符 日本語 한국어 𠀀 \U0002b820 \uf900",
    "ΟΔΟΣ σοφός ΣΟΦΟΣ İSTANBUL Straße",
    "don't stop—now…!",
    "[MASK] [mask] a[MASK]b [CLS][SEP] [UNK]",
    "[MA\x00SK]",
    "a" * 100,
    "b" * 101,
    "",
    "   ",
    "\u0301\u0301",
    "x\u1fefy",
    "Ⅻ ½ ² ①",
    "\U0001f600 smile \U0001f44d\U0001f3fd",
    "\u00ad soft\u00adhyphen",
]


def slow_bert(vocab_file, lowercase):
    """Hugging Face's Python BertTokenizer (BERT's reference algorithm): BertTokenizerLegacy in
    transformers >= 5, BertTokenizer before."""
    transformers = pytest.importorskip("transformers")
    cls = getattr(transformers, "BertTokenizerLegacy", None) or transformers.BertTokenizer
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(vocab_file=str(vocab_file), do_lower_case=lowercase)


def fast_bert(vocab_file, lowercase):
    """The Rust tokenizer behind BertTokenizerFast (the ``tokenizers`` library)."""
    tokenizers = pytest.importorskip("tokenizers")
    return tokenizers.BertWordPieceTokenizer(str(vocab_file), lowercase=lowercase)


@pytest.fixture(scope="module", params=["hand-uncased", "hand-cased", "trained-uncased", "trained-cased"])
def pair(request, hand_vocab_file, tmp_path_factory):
    """(minilm tokenizer, Hugging Face slow tokenizer, Rust tokenizer) on the same vocab.txt."""
    source, case = request.param.split("-")
    lowercase = case == "uncased"
    if source == "hand":
        path = hand_vocab_file
    else:
        texts = corpus.sentences(n=600, seed=0) + OWN_TEXTS * 3
        path = tmp_path_factory.mktemp("trained") / "vocab.txt"
        WordPieceTokenizer(lowercase=lowercase).train(texts, vocab_size=700).save_vocab_file(path)
    return (
        WordPieceTokenizer.from_vocab_file(path, lowercase=lowercase),
        slow_bert(path, lowercase),
        fast_bert(path, lowercase),
    )


def assert_agrees_with_slow(tok, slow, text):
    assert tok.tokenize(text) == slow.tokenize(text)
    assert tok.encode(text) == slow.encode(text, add_special_tokens=False)
    assert tok.encode(text, add_special_tokens=True) == slow.encode(text)
    ids, segments = tok.encode_pair(text, "the end")
    both = slow(text, "the end", return_token_type_ids=True)
    assert (ids, segments) == (both["input_ids"], both["token_type_ids"])


@pytest.mark.parametrize("text", TRICKY)
def test_agrees_with_bert_on_tricky_strings(pair, text):
    tok, slow, _ = pair
    assert_agrees_with_slow(tok, slow, text)


@settings(max_examples=200)
@given(text=TEXT)
def test_agrees_with_bert_on_arbitrary_unicode(pair, text):
    tok, slow, fast = pair
    assert_agrees_with_slow(tok, slow, text)
    if any(0xD800 <= ord(c) < 0xE000 for c in text):
        return  # a lone surrogate is not UTF-8: the Rust tokenizer refuses such a string
    if fast.encode(text, add_special_tokens=False).tokens == slow.tokenize(text):
        assert fast.encode(text, add_special_tokens=False).ids == tok.encode(text)


# Where the Rust tokenizer (BertTokenizerFast) and the Python one disagree, minilm follows the Python one:
FAST_DIFFERS = [
    ("x\u0378y", True, ["x", "##y"], ["[UNK]"]),  # an unassigned code point: Python drops it (category Cn)
    ("ΟΔΟΣ", True, ["οδος"], ["οδοσ"]),  # Python's str.lower writes a word-final sigma as ς
    ("Cafe\u0301", False, ["Café"], ["[UNK]"]),  # Python composes NFC first
    ("x\U0002b820y", False, ["x", "[UNK]", "[UNK]"], ["[UNK]"]),  # Rust spaces CJK Extension E from U+2B920 only
]


@pytest.mark.parametrize("text, lowercase, python, rust", FAST_DIFFERS)
def test_where_the_rust_tokenizer_differs_minilm_follows_the_python_one(tmp_path, text, lowercase, python, rust):
    path = write_vocab(tmp_path / "vocab.txt", SPECIALS + ["x", "##y", "οδος", "οδοσ", "Café"])
    tok = WordPieceTokenizer.from_vocab_file(path, lowercase=lowercase)
    assert tok.tokenize(text) == python
    assert slow_bert(path, lowercase).tokenize(text) == python
    # the Rust tokenizer as of tokenizers 0.23 (a later version may have come round to the Python answer)
    assert fast_bert(path, lowercase).encode(text, add_special_tokens=False).tokens in (rust, python)


def test_agrees_with_bert_on_wikitext(tmp_path):
    data = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikitext-2" / "valid.txt"
    if not data.exists():
        pytest.skip(f"{data} is absent")
    lines = data.read_text(encoding="utf-8").splitlines()
    tok = WordPieceTokenizer().train(lines[:1500], vocab_size=2000)
    tok.save_vocab_file(tmp_path / "vocab.txt")
    slow = slow_bert(tmp_path / "vocab.txt", True)
    text = "\n".join(lines[1500:1800])
    assert tok.encode(text) == slow.encode(text, add_special_tokens=False)
