"""Byte-level BPE: the byte table, the pre-tokenizer, training (by hand, against a naive reference),
encoding by rank, lossless round trips, special tokens, files, and agreement with Hugging Face."""

import json
import pathlib
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilm.data import SPECIAL_TOKENS, Vocab, corpus
from minilm.data.tokenizers import ByteLevelBPETokenizer, Tokenizer, TokenizerFileError
from minilm.data.tokenizers.bpe import (
    MergeStep,
    apply_merges,
    merge_word,
    pair_counts,
    train_bpe,
    word_frequencies,
)
from minilm.data.tokenizers.byte_level import (
    BYTE_TO_SYMBOL,
    bytes_to_symbols,
    pretokenize,
    symbols_to_bytes,
)

# A small English sample written for this test (plain ASCII).
ENGLISH = [
    "The quick brown fox jumps over the lazy dog.",
    "It's raining again, and we're staying in; they'll come later, won't they?",
    "In 2023 the town had 4,512 people, 17 shops and 3 schools.",
    'She said: "I\'ve never seen anything like it!" Then she left.',
    "Tokenizers cut text into pieces; the pieces become numbers, and the numbers feed a model.",
    "A byte-level tokenizer never meets an unknown word: it can always fall back to bytes.",
    "We'd rather read the whole book than the first chapter twice.",
    "Prices rose by 12.5% in March -- the largest rise since 1991.",
    "The cook baked bread, the baker cooked soup, and nobody complained.",
    "Where is the station?  Two streets down,\tthen left.\nThanks!",
]


@pytest.fixture(scope="module")
def training_texts():
    return ENGLISH * 3 + corpus.sentences(2000)


@pytest.fixture(scope="module")
def tok(training_texts):
    return ByteLevelBPETokenizer().train(training_texts, vocab_size=700)


def make_tokenizer(merges, special_tokens=SPECIAL_TOKENS):
    """A tokenizer with the given merges: specials, the 256 byte symbols, then the merges' results."""
    tokens = [*special_tokens, *BYTE_TO_SYMBOL, *(a + b for a, b in merges)]
    return ByteLevelBPETokenizer(Vocab(tokens), merges, special_tokens=special_tokens)


# -- bytes and symbols --------------------------------------------------------------------------


def test_byte_table_is_a_bijection_onto_printable_non_space_characters():
    assert len(BYTE_TO_SYMBOL) == 256 and len(set(BYTE_TO_SYMBOL)) == 256
    for symbol in BYTE_TO_SYMBOL:
        assert len(symbol) == 1 and symbol.isprintable() and not symbol.isspace()
    # printable ASCII and printable Latin-1 stand for themselves; the others are shifted to 256 and up
    assert all(BYTE_TO_SYMBOL[b] == chr(b) for b in range(33, 127))
    assert all(BYTE_TO_SYMBOL[b] == chr(b) for b in list(range(161, 173)) + list(range(174, 256)))
    assert BYTE_TO_SYMBOL[0] == "Ā" and BYTE_TO_SYMBOL[32] == "Ġ" and BYTE_TO_SYMBOL[10] == "Ċ"  # as in GPT-2
    assert sorted(ord(BYTE_TO_SYMBOL[b]) for b in range(256) if ord(BYTE_TO_SYMBOL[b]) >= 256) == list(
        range(256, 256 + 68)
    )
    assert symbols_to_bytes(bytes_to_symbols(bytes(range(256)))) == bytes(range(256))


@given(st.binary())
def test_bytes_to_symbols_round_trip(data):
    symbols = bytes_to_symbols(data)
    assert len(symbols) == len(data)
    assert symbols_to_bytes(symbols) == data


def test_symbols_to_bytes_names_a_foreign_character():
    with pytest.raises(ValueError, match=r"'€'.*not a byte symbol"):
        symbols_to_bytes("ab€")


# -- the pre-tokenizer --------------------------------------------------------------------------


def test_pretokenize_examples():
    assert pretokenize("I'll pay 42 dollars!!  OK") == ["I", "'ll", " pay", " 42", " dollars", "!!", " ", " OK"]
    assert pretokenize("The cat's 3rd toy") == ["The", " cat", "'s", " 3", "rd", " toy"]
    assert pretokenize("naïve café\n\n  über_alles") == ["naïve", " café", "\n\n ", " über", "_", "alles"]
    assert pretokenize("end.  ") == ["end", ".", "  "]
    assert pretokenize("it's don't we're I've I'm we'll he'd") == [
        "it", "'s", " don", "'t", " we", "'re", " I", "'ve", " I", "'m", " we", "'ll", " he", "'d"
    ]  # fmt: skip
    assert pretokenize("") == []


@given(st.text())
def test_pretokenize_is_lossless_and_keeps_words_apart(text):
    pieces = pretokenize(text)
    assert "".join(pieces) == text
    for piece in pieces:
        assert piece
        # a piece is a run of spaces, or a word with at most one space, at its front
        assert piece.isspace() or not any(c.isspace() for c in piece.removeprefix(" "))


# -- training, by hand and against a naive reference ---------------------------------------------

HAND_WORDS = {tuple("low"): 5, tuple("lower"): 2, tuple("newest"): 6, tuple("widest"): 3}
# Worked by hand (ties go to the pair first in string order):
#  pairs: lo 7, ow 7, we 8, er 2, ne 6, ew 6, es 9, st 9, wi 3, id 3, de 3
#  1. (e,s) 9 beats (s,t) 9          newest = n e w es t, widest = w i d es t; we 8 -> 2
#  2. (es,t) 9                        n e w est, w i d est
#  3. (l,o) 7 beats (o,w) 7           lo w, lo w e r
#  4. (lo,w) 7                        low, low e r
#  5. (e,w) 6 < (n,e) 6 < (w,est) 6  n ew est
#  6. (ew,est) 6 < (n,ew) 6          n ewest
#  7. (n,ewest) 6                     newest
#  8. (d,est) 3 < (i,d) 3 < (w,i) 3  w i dest
#  9. (i,dest) 3 < (w,i) 3           w idest
# 10. (w,idest) 3                     widest
# 11. (e,r) 2 < (low,e) 2            low er
# 12. (low,er) 2                      lower; no pair left
HAND_MERGES = [
    ("e", "s"),
    ("es", "t"),
    ("l", "o"),
    ("lo", "w"),
    ("e", "w"),
    ("ew", "est"),
    ("n", "ewest"),
    ("d", "est"),
    ("i", "dest"),
    ("w", "idest"),
    ("e", "r"),
    ("low", "er"),
]
HAND_COUNTS = [9, 9, 7, 7, 6, 6, 6, 3, 3, 3, 2, 2]


def test_training_by_hand():
    steps = []
    assert train_bpe(HAND_WORDS, 100, min_frequency=1, on_merge=steps.append) == HAND_MERGES
    assert [s.count for s in steps] == HAND_COUNTS
    assert steps[4] == MergeStep(rank=4, pair=("e", "w"), count=6, symbol="ew")
    assert train_bpe(HAND_WORDS, 100, min_frequency=3) == HAND_MERGES[:10]  # merges 11, 12 occur twice
    assert train_bpe(HAND_WORDS, 4) == HAND_MERGES[:4]
    assert train_bpe(HAND_WORDS, 0) == []


def test_the_steps_by_hand():
    assert word_frequencies(["low low", "lower low"]) == {tuple("low"): 1, tuple("Ġlow"): 2, tuple("lower"): 1}
    assert pair_counts({tuple("low"): 5, tuple("lot"): 2}) == {("l", "o"): 7, ("o", "w"): 5, ("o", "t"): 2}
    assert pair_counts({tuple("aaa"): 1}) == {("a", "a"): 2}
    assert merge_word(tuple("lowlo"), ("l", "o"), "lo") == ("lo", "w", "lo")
    assert merge_word(tuple("aaa"), ("a", "a"), "aa") == ("aa", "a")
    assert merge_word(("x",), ("x", "y"), "xy") == ("x",)


def naive_bpe(word_freqs, num_merges, min_frequency):
    """The reference: recount every pair from scratch before each merge. Returns the merges and each
    word's final segmentation."""
    words = [(list(w), f) for w, f in word_freqs.items()]
    merges = []
    while len(merges) < num_merges:
        counts = {}
        for w, f in words:
            for i in range(len(w) - 1):
                counts[w[i], w[i + 1]] = counts.get((w[i], w[i + 1]), 0) + f
        if not counts or max(counts.values()) < min_frequency:
            break
        best = max(counts.values())
        pair = min(p for p, c in counts.items() if c == best)
        for w, _ in words:
            i = 0
            while i < len(w) - 1:
                if (w[i], w[i + 1]) == pair:
                    w[i : i + 2] = [w[i] + w[i + 1]]
                i += 1
        merges.append(pair)
    return merges, {orig: w for orig, (w, _) in zip(word_freqs, words, strict=True)}


word_tables = st.dictionaries(
    st.lists(st.sampled_from("abcĠ"), min_size=1, max_size=10).map(tuple), st.integers(1, 6), max_size=12
)


@given(word_tables, st.integers(0, 40), st.integers(1, 4))
def test_incremental_training_agrees_with_naive_reference(word_freqs, num_merges, min_frequency):
    steps = []
    merges = train_bpe(word_freqs, num_merges, min_frequency, on_merge=steps.append)
    expected, final = naive_bpe(word_freqs, num_merges, min_frequency)
    assert merges == expected
    assert all(s.count >= min_frequency for s in steps)
    assert [s.count for s in steps] == sorted((s.count for s in steps), reverse=True)  # never rises
    # encoding a training word by rank gives the segmentation training ended with
    ranks = {p: i for i, p in enumerate(merges)}
    for word in word_freqs:
        assert apply_merges(word, ranks) == final[word]


@given(st.lists(st.text(alphabet="ab \n'1.é", max_size=30), max_size=8), st.integers(0, 30))
def test_incremental_training_agrees_on_random_texts(texts, num_merges):
    word_freqs = word_frequencies(texts)
    assert train_bpe(word_freqs, num_merges, 2) == naive_bpe(word_freqs, num_merges, 2)[0]


# -- encoding ------------------------------------------------------------------------------------


def test_encoding_applies_merges_by_rank():
    # b c learned first: "abc" -> a bc, and "a b" is gone before its turn (greedy longest match would say abc)
    first_bc = make_tokenizer([("b", "c"), ("a", "b"), ("ab", "c")])
    assert first_bc.tokenize("abc") == ["a", "bc"]
    assert first_bc.tokenize("abd") == ["ab", "d"]
    first_ab = make_tokenizer([("a", "b"), ("b", "c"), ("ab", "c")])
    assert first_ab.tokenize("abc") == ["abc"]
    assert first_ab.tokenize("xbc") == ["x", "bc"]
    doubles = make_tokenizer([("a", "a")])
    assert doubles.tokenize("aaaa") == ["aa", "aa"] and doubles.tokenize("aaa") == ["aa", "a"]
    spaced = make_tokenizer([("Ġ", "a")])
    assert spaced.tokenize("a a  a") == ["a", "Ġa", "Ġ", "Ġa"]  # merges stay inside pre-tokens


def test_trained_tokenizer_learns_frequent_words(tok):
    tokens = tok.tokenize("The cook baked the bread.")
    assert "Ġthe" in tokens and "The" in tokens
    assert tok.bpe(" the") == ("Ġthe",)
    assert len(tokens) < len("The cook baked the bread.")


def test_cache_is_bounded_and_does_not_change_results(tok, training_texts):
    small = ByteLevelBPETokenizer(tok.vocab, tok.merges)
    small.CACHE_SIZE = 50
    for text in training_texts[:300]:
        assert small.tokenize(text) == [
            t for w in pretokenize(text) for t in apply_merges(bytes_to_symbols(w.encode("utf-8")), tok.ranks)
        ]
        assert len(small._cache) <= 50


def test_training_again_forgets_the_old_merges():
    tok = ByteLevelBPETokenizer().train(["abab abab"] * 5, vocab_size=270)
    before = tok.tokenize("abab")
    tok.train(["xyxy"] * 5, vocab_size=270)
    assert tok.tokenize("abab") == ["a", "b", "a", "b"] != before
    assert tok.tokenize("xyxy") == ["xyxy"]


def test_progress_prints_every_tenth(capsys, training_texts):
    tok = ByteLevelBPETokenizer().train(training_texts, vocab_size=361, progress=True)
    lines = capsys.readouterr().err.splitlines()
    assert len(tok.merges) == 100 and len(lines) == 10
    assert lines[0].startswith("bpe merge 10/100: ") and lines[-1].startswith("bpe merge 100/100: ")
    assert repr(tok.merges[-1][0] + tok.merges[-1][1]) in lines[-1]


# -- round trips ---------------------------------------------------------------------------------


@given(st.text())
def test_decode_encode_round_trip_any_text(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert tok.unk_id not in ids  # nothing is ever unknown


@given(st.lists(st.one_of(st.text(max_size=10), st.sampled_from(SPECIAL_TOKENS)), max_size=8))
def test_round_trip_with_special_tokens(tok, parts):
    text = "".join(parts)
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    for special in SPECIAL_TOKENS:  # each is one id (these specials cannot overlap, so str.count counts them)
        assert ids.count(tok.token_to_id(special)) == text.count(special)


def test_round_trip_of_hard_strings(tok):
    for text in [
        "",
        "\x00",
        "e\u0301\u0301",
        "🙂👍🏽 👨‍👩‍👧",
        "a \t\n\r\n  b",
        "日本語のテキスト",
        "\ufeffBOM",
        "[MASK",
    ]:
        assert tok.decode(tok.encode(text)) == text


def test_decoding_half_a_character_gives_a_replacement_mark(tok):
    first, second = (tok.token_to_id(s) for s in bytes_to_symbols("é".encode("utf-8")))  # é is c3 a9
    assert tok.decode([first, second]) == "é"
    assert tok.decode([first]) == "\ufffd"  # the first byte of é alone is not UTF-8
    assert tok.decode([tok.token_to_id("h"), second, tok.token_to_id("i")]) == "h\ufffdi"


# -- vocabulary, limits and special tokens -------------------------------------------------------


def test_vocabulary_layout(tok):
    tokens = tok.vocab.tokens
    assert tokens[:5] == list(SPECIAL_TOKENS)
    assert tokens[5:261] == list(BYTE_TO_SYMBOL)
    assert tokens[261:] == [a + b for a, b in tok.merges]
    assert tok.ranks == {pair: i for i, pair in enumerate(tok.merges)}


def test_vocab_size_and_min_frequency_are_respected(training_texts):
    assert ByteLevelBPETokenizer().train(training_texts, vocab_size=300).vocab_size == 300
    assert ByteLevelBPETokenizer().train(training_texts, vocab_size=261).merges == []
    steps = []
    rare = ByteLevelBPETokenizer().train(training_texts, vocab_size=5000, min_frequency=40, progress=steps.append)
    assert 261 < rare.vocab_size < 5000
    assert all(s.count >= 40 for s in steps) and len(steps) == len(rare.merges)
    # the pair the training stopped at occurs fewer than 40 times
    word_freqs = word_frequencies(training_texts)
    for pair in rare.merges:
        word_freqs = {merge_word(w, pair, pair[0] + pair[1]): f for w, f in word_freqs.items()}
    assert max(pair_counts(word_freqs).values()) < 40
    with pytest.raises(ValueError, match="vocab_size must be a whole number >= 261"):
        ByteLevelBPETokenizer().train(training_texts, vocab_size=100)


def test_special_tokens_are_single_ids_and_never_merged():
    specials = ("[PAD]", "[UNK]", "endoftext")
    texts = ["hello endoftext world endoftext"] * 50
    tok = ByteLevelBPETokenizer(special_tokens=specials).train(texts, vocab_size=400)
    merged = [a + b for a, b in tok.merges]
    assert merged and not any("ndo" in t or "oft" in t for t in merged)  # it occurred 100 times, never counted
    assert tok.tokenize("xendoftext [UNK]y") == ["x", "endoftext", "Ġ", "[UNK]", "y"]
    ids = tok.encode("endoftext")
    assert ids == [tok.token_to_id("endoftext")] == [2]


def test_bad_special_tokens_and_inputs_are_explained(tok):
    with pytest.raises(ValueError, match="one of the 256 byte symbols"):
        ByteLevelBPETokenizer(special_tokens=("[PAD]", "x"), unk_token=None)
    with pytest.raises(ValueError, match="spelling in byte symbols"):
        ByteLevelBPETokenizer(special_tokens=("[PAD]", "Ġthe"), unk_token=None)
    with pytest.raises(ValueError, match="call train"):
        ByteLevelBPETokenizer().encode("hi")
    with pytest.raises(TypeError, match="wrap it in a list"):
        ByteLevelBPETokenizer().train("one string")
    with pytest.raises(KeyError, match="special token '\\[BOS\\]' is not in"):
        tok.token_to_id("[BOS]")
    with pytest.raises(ValueError, match="merges given without a vocab"):
        ByteLevelBPETokenizer(merges=[("a", "b")])


# -- files ---------------------------------------------------------------------------------------


def test_save_load_round_trip(tok, tmp_path, training_texts):
    path = tmp_path / "bpe.json"
    tok.save(path)
    for loaded in (Tokenizer.load(path), ByteLevelBPETokenizer.load(path)):
        assert isinstance(loaded, ByteLevelBPETokenizer)
        assert loaded.merges == tok.merges and loaded.vocab.tokens == tok.vocab.tokens
        for text in ENGLISH + training_texts[-50:] + ["naïve 🙂 [MASK]"]:
            assert loaded.encode(text) == tok.encode(text)


def _write_corrupt(tok, path, change):
    tok.save(path)
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["config"]["merges"].append(["Ġthe", "zzq"]), "'zzq' is neither a byte symbol nor made by"),
        (lambda d: d["config"]["merges"].append(["z", "q"]), "its result 'zq' is not in the vocabulary"),
        (lambda d: d["vocab"].remove("Ġ"), "lacks 1 of the 256 byte symbols"),
        (lambda d: d["config"].update(merges="a b"), "must be a list of \\[a, b\\] pairs"),
        (lambda d: d["config"]["merges"].__setitem__(0, [1, 2]), "merge #0 is \\[1, 2\\]"),
        (lambda d: d["config"]["merges"].__setitem__(1, d["config"]["merges"][0]), "merge #1 .* repeats merge #0"),
        (lambda d: d["config"].pop("merges"), 'must hold "merges"'),
        (lambda d: d["vocab"].append("€uro"), "'€uro' is not made of byte symbols"),
    ],
)
def test_corrupt_files_name_the_file_and_the_fault(tok, tmp_path, change, message):
    path = tmp_path / "bad.json"
    _write_corrupt(tok, path, change)
    with pytest.raises(TokenizerFileError, match=message) as info:
        Tokenizer.load(path)
    assert str(path) in str(info.value)


def test_broken_json_is_a_tokenizer_file_error(tok, tmp_path):
    path = tmp_path / "broken.json"
    tok.save(path)
    path.write_text(path.read_text(encoding="utf-8")[:-40], encoding="utf-8")
    with pytest.raises(TokenizerFileError, match="JSON is broken") as info:
        ByteLevelBPETokenizer.load(path)
    assert str(path) in str(info.value)


# -- agreement with Hugging Face tokenizers ------------------------------------------------------

# Where Python's re and the Unicode classes of GPT-2's pattern provably agree: printable ASCII plus
# space, tab and newline (letters are a-zA-Z, digits 0-9, spaces " \t\n" under both; the ASCII
# control characters 0x1c-0x1f, which Python counts as spaces and Unicode does not, are left out).
ASCII_TEXT = string.ascii_letters + string.digits + string.punctuation + " \t\n"


@pytest.fixture(scope="module")
def hf_pair(training_texts):
    tokenizers = pytest.importorskip("tokenizers")
    hf = tokenizers.ByteLevelBPETokenizer()
    hf.train_from_iterator(training_texts, vocab_size=800, min_frequency=2, special_tokens=list(SPECIAL_TOKENS))
    model = json.loads(hf._tokenizer.to_str())["model"]
    tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda item: item[1])]
    merges = [m.split(" ") if isinstance(m, str) else m for m in model["merges"]]
    return hf, ByteLevelBPETokenizer(Vocab(tokens), merges)


def test_same_tokens_as_hugging_face_on_english(hf_pair):
    hf, ours = hf_pair
    assert len(ours.merges) > 400
    texts = ENGLISH + corpus.sentences(2300)[2000:] + ["Don't   stop:\tit's 3.14 -- \"quoted\"\n\n  ok  "]
    for text in texts:
        assert ours.tokenize(text) == hf.encode(text).tokens, text


@given(st.text(alphabet=ASCII_TEXT, max_size=60))
def test_same_tokens_as_hugging_face_on_ascii_text(hf_pair, text):
    hf, ours = hf_pair
    assert ours.tokenize(text) == hf.encode(text).tokens


def hf_pieces(text):
    """Hugging Face's GPT-2 pre-tokenizer (the pieces come back in byte symbols)."""
    pre_tokenizers = pytest.importorskip("tokenizers.pre_tokenizers")
    return [piece for piece, _ in pre_tokenizers.ByteLevel(add_prefix_space=False).pre_tokenize_str(text)]


@given(st.text(alphabet=ASCII_TEXT, max_size=60))
def test_same_pieces_as_hugging_face_pretokenizer_on_ascii_text(text):
    assert [bytes_to_symbols(p.encode("utf-8")) for p in pretokenize(text)] == hf_pieces(text)


def test_same_pieces_as_hugging_face_pretokenizer_beyond_ascii():
    # letters of any script, marks, emoji, other spaces: the same. (Where the two differ: numerals that
    # are not decimal digits, such as "²" or "½", which are letters to "[^\W\d_]" and numbers to \p{N}.)
    for text in ["naïve café, Über-Straße!", "日本語 の テキスト", "e\u0301 ά 🙂👍🏽 x", "a\u00a0b\u2003 c", "x²"]:
        ours = [bytes_to_symbols(p.encode("utf-8")) for p in pretokenize(text)]
        assert (ours == hf_pieces(text)) == (text != "x²"), text


# -- real text -----------------------------------------------------------------------------------

WIKITEXT = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "wikitext-2"


def test_wikitext_round_trip_and_compression():
    if not (WIKITEXT / "valid.txt").exists():
        pytest.skip(f"{WIKITEXT} is absent")
    valid = (WIKITEXT / "valid.txt").read_text(encoding="utf-8").splitlines(keepends=True)
    test = (WIKITEXT / "test.txt").read_text(encoding="utf-8").splitlines(keepends=True)[:1000]
    tok = ByteLevelBPETokenizer().train(valid, vocab_size=2000)
    assert tok.vocab_size == 2000
    ids = [tok.encode(line) for line in test]
    assert "".join(tok.decode(i) for i in ids) == "".join(test)
    n_bytes = sum(len(line.encode("utf-8")) for line in test)
    assert sum(map(len, ids)) < 0.4 * n_bytes  # unseen text: about 0.33 tokens per byte (bytes alone: 1)
