"""WordPiece training (wordpiece_train.py): likelihood-scored merges worked by hand, the step
functions, the options, and the fast trainer against a recount-everything reference."""

from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minilm.data import SPECIAL_TOKENS
from minilm.data.tokenizers import WordPieceTokenizer
from minilm.data.tokenizers.bert_normalizer import basic_tokenize
from minilm.data.tokenizers.wordpiece_train import best_pair, merge_pair, pair_scores, split_word, word_counts


CAT_TEXTS = ["the cat sat", "the cat ate", "a fat cat"]
# Words: the 2, cat 3, sat 1, ate 1, a 1, fat 1. Pieces: t ##h ##e, c ##a ##t, s ##a ##t, a ##t ##e, a, f ##a ##t.
# Piece counts: t 2, ##h 2, ##e 3, c 3, ##a 5, ##t 6, s 1, a 2, f 1.
# Pairs seen >= 2 times, score = count(ab) / (count(a) count(b)):
#   (t, ##h) 2/(2*2) = 1/2   (##h, ##e) 2/(2*3) = 1/3   (c, ##a) 3/(3*5) = 1/5   (##a, ##t) 5/(5*6) = 1/6
# 1. t + ##h -> th (1/2). BPE would merge ##a + ##t first: it is the most frequent pair.
# 2. th + ##e -> the: 2/(2*3) = 1/3 beats 1/5 and 1/6.
# 3. c + ##a -> ca: 3/(3*5) = 1/5 beats 1/6.
# 4. Now ##a is 2 (sat, fat): (ca, ##t) 3/(3*6) = 1/6 and (##a, ##t) 2/(2*6) = 1/6 tie; the pair seen more
#    often wins: ca + ##t -> cat.
# 5. ##t is left in sat, ate, fat (3): (##a, ##t) 2/(2*3) = 1/3 -> ##at. Every other pair is seen once: done.
CAT_ALPHABET = ["a", "c", "f", "s", "t", "##a", "##e", "##h", "##t"]
CAT_MERGES = [
    ("t", "##h", "th", 2, 2, 2),
    ("th", "##e", "the", 2, 2, 3),
    ("c", "##a", "ca", 3, 3, 5),
    ("ca", "##t", "cat", 3, 3, 6),
    ("##a", "##t", "##at", 2, 2, 3),
]

SPECIALS = list(SPECIAL_TOKENS)


def test_training_makes_the_hand_worked_merges():
    tok = WordPieceTokenizer().train(CAT_TEXTS, vocab_size=100, min_frequency=2)
    assert [tuple(m) for m in tok.merges] == CAT_MERGES
    assert tok.vocab.tokens == SPECIALS + CAT_ALPHABET + ["th", "the", "ca", "cat", "##at"]
    assert tok.merges[0].score == 0.5
    assert tok.tokenize("The cat sat, a cat!") == ["the", "cat", "s", "##at", "[UNK]", "a", "cat", "[UNK]"]


def test_training_reports_progress_and_traces_the_first_merges(capsys):
    steps = []
    tok = WordPieceTokenizer().train(CAT_TEXTS, vocab_size=100, min_frequency=2, progress=steps.append)
    assert [tuple(m) for m in steps] == CAT_MERGES and steps == tok.merges
    WordPieceTokenizer().train(CAT_TEXTS, vocab_size=100, min_frequency=2, progress=True)
    assert "wordpiece merge" not in capsys.readouterr().err  # 5 merges of at most 95: no tenth reached
    WordPieceTokenizer().train(CAT_TEXTS, vocab_size=30, min_frequency=2, progress=True)
    assert capsys.readouterr().err.splitlines()[0].startswith("wordpiece merge 2 (at most 25): th + ##e -> the")
    WordPieceTokenizer().train(CAT_TEXTS, vocab_size=100, min_frequency=2, trace=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["t + ##h -> th   score 2/(2*2) = 0.5", "th + ##e -> the   score 2/(2*3) = 0.333"]


def test_the_step_by_step_functions_agree_with_the_hand_worked_example():
    counts = word_counts(CAT_TEXTS)
    assert counts == {"the": 2, "cat": 3, "sat": 1, "ate": 1, "a": 1, "fat": 1}
    splits = {w: split_word(w) for w in counts}
    assert splits["cat"] == ("c", "##a", "##t")
    scores = pair_scores(splits, counts, min_frequency=2)
    assert scores == {("t", "##h"): 1 / 2, ("##h", "##e"): 1 / 3, ("c", "##a"): 1 / 5, ("##a", "##t"): 1 / 6}
    assert best_pair(splits, counts, min_frequency=2) == ("t", "##h")
    assert merge_pair(("##s", "##s", "##s"), "##s", "##s") == ("##ss", "##s")


def test_vocab_size_and_min_frequency_are_respected():
    tok = WordPieceTokenizer().train(CAT_TEXTS, vocab_size=16, min_frequency=2)
    assert tok.vocab.tokens == SPECIALS + CAT_ALPHABET + ["th", "the"]
    # min_frequency=3: only (c, ##a) 3 and (##a, ##t) 5 qualify; after ca and cat, (##a, ##t) is seen twice
    tok = WordPieceTokenizer().train(CAT_TEXTS, vocab_size=100, min_frequency=3)
    assert tok.vocab.tokens[-2:] == ["ca", "cat"] and len(tok.vocab) == 16
    assert all(m.count >= 3 for m in tok.merges)


def test_ties_go_to_the_first_pair_in_string_order_and_special_tokens_are_not_learned():
    tok = WordPieceTokenizer().train(["cd ab [MASK] [MASK]"], vocab_size=100, min_frequency=1)
    # (a, ##b) and (c, ##d): both 1/(1*1) with count 1; (a, ##b) comes first
    assert tok.vocab.tokens == SPECIALS + ["a", "c", "##b", "##d", "ab", "cd"]


def test_an_alphabet_too_big_for_the_vocabulary_keeps_its_most_frequent_characters():
    tok = WordPieceTokenizer().train(["ab ab ac"], vocab_size=7, min_frequency=1)
    # pieces: a 3, ##b 2, ##c 1: ##c does not fit, and the word "ac" is left out of training
    assert tok.vocab.tokens == SPECIALS + ["a", "##b"]
    assert tok.tokenize("ab ac") == ["a", "##b", "[UNK]"]
    with pytest.raises(ValueError, match="vocab_size=3"):
        WordPieceTokenizer().train(["ab"], vocab_size=3)


def reference_train(texts, vocab_size, min_frequency):
    """WordPiece training the slow, obvious way: recount everything, pick the best exact score."""
    counts = Counter(w for t in texts for w in basic_tokenize(t))
    words = {w: [w[0]] + ["##" + c for c in w[1:]] for w in counts}
    vocab = SPECIALS + sorted({p[0] for p in words.values()}) + sorted({c for p in words.values() for c in p[1:]})
    merges = []
    while len(vocab) < vocab_size:
        single, pairs = Counter(), Counter()
        for w, pieces in words.items():
            for i, p in enumerate(pieces):
                single[p] += counts[w]
                if i + 1 < len(pieces):
                    pairs[p, pieces[i + 1]] += counts[w]
        ranked = sorted(
            (-Fraction(n, single[a] * single[b]), -n, a, b) for (a, b), n in pairs.items() if n >= min_frequency
        )
        if not ranked:
            break
        _, n, a, b = ranked[0]
        merges.append((a, b, -n, single[a], single[b]))
        for w, pieces in words.items():
            out, i = [], 0
            while i < len(pieces):
                if i + 1 < len(pieces) and (pieces[i], pieces[i + 1]) == (a, b):
                    out.append(a + b[2:])
                    i += 2
                else:
                    out.append(pieces[i])
                    i += 1
            words[w] = out
        if a + b[2:] not in vocab:
            vocab.append(a + b[2:])
    return vocab, merges


@settings(max_examples=60)
@given(
    texts=st.lists(st.text(alphabet="aaabbbcdé ", max_size=14), max_size=8),
    extra=st.integers(0, 25),
    min_frequency=st.integers(1, 3),
)
def test_the_fast_trainer_equals_a_recount_everything_reference(texts, extra, min_frequency):
    alphabet = {c for t in texts for w in basic_tokenize(t) for c in split_word(w)}
    vocab_size = len(SPECIALS) + len(alphabet) + extra
    tok = WordPieceTokenizer().train(texts, vocab_size=vocab_size, min_frequency=min_frequency)
    vocab, merges = reference_train(texts, vocab_size, min_frequency)
    assert tok.vocab.tokens == vocab
    assert [(m.a, m.b, m.count, m.count_a, m.count_b) for m in tok.merges] == merges
    assert len(tok.vocab) <= vocab_size
