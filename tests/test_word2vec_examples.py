"""word2vec's training examples (minilm/models/word2vec_examples.py) against their definitions:
subsampling, noise words (unigram^0.75), and skip-gram / CBOW windows."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minilm.models.word2vec import (
    NegativeSampler,
    cbow_examples,
    keep_mask,
    noise_distribution,
    skipgram_pairs,
    subsample,
    subsample_keep_prob,
    unigram_table,
)

seeds = st.integers(0, 2**31 - 1)
FIRST_ID = 5  # the ids of the word-order tests start after the five special tokens

# ---------------------------------------------------------------------------------------------
# subsampling
# ---------------------------------------------------------------------------------------------


@given(counts=st.lists(st.integers(0, 10**6), min_size=1, max_size=30), t=st.sampled_from([1e-5, 1e-3, 0.05]))
def test_keep_prob_matches_the_formula(counts, t):
    counts = np.array(counts)
    if counts.sum() == 0:
        counts[0] = 1
    keep = subsample_keep_prob(counts, t)
    for c, p in zip(counts, keep, strict=True):
        if c == 0:
            assert p == 0
        else:
            f = c / counts.sum()
            assert p == pytest.approx(min(1.0, np.sqrt(t / f) + t / f), rel=1e-12)
    order = np.argsort(counts[counts > 0], kind="stable")
    assert (np.diff(keep[counts > 0][order]) <= 1e-15).all()  # more frequent, never kept more often


def test_keep_prob_by_hand():
    # f = 0.9: t/f = 1/90, sqrt(1/90) + 1/90 = 0.11652...; f = 0.1: sqrt(0.1) + 0.1 = 0.41623
    np.testing.assert_allclose(subsample_keep_prob([900, 100, 0], t=0.01), [0.116520, 0.416228, 0.0], atol=1e-6)
    assert (subsample_keep_prob(np.ones(1000), t=1e-3) == 1).all()  # f = t: sqrt(1) + 1 > 1, always kept
    with pytest.raises(ValueError, match="t must be > 0"):
        subsample_keep_prob([1, 2], t=0)


def test_subsample_keeps_frequent_words_less_often_and_keeps_order():
    rng = np.random.default_rng(0)
    ids = rng.permutation(np.repeat([1, 2, 3, 4], [90000, 9000, 1000, 100]))  # f = 0.9, 0.09, 0.01, 0.001
    keep = subsample_keep_prob(np.bincount(ids), t=1e-3)
    kept = subsample(ids, keep, np.random.default_rng(1))
    np.testing.assert_array_equal(kept, ids[keep_mask(ids, keep, np.random.default_rng(1))])  # order kept
    fractions = [np.sum(kept == i) / np.sum(ids == i) for i in (1, 2, 3, 4)]
    assert fractions[0] < fractions[1] < fractions[2] < fractions[3] == 1.0  # f = 0.001 < 2.6 t: all kept
    for i, frac in zip((1, 2, 3), fractions[:3], strict=True):  # within 5 binomial standard errors of the formula
        n, p = np.sum(ids == i), keep[i]
        assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / n)


# ---------------------------------------------------------------------------------------------
# noise words
# ---------------------------------------------------------------------------------------------

COUNTS = np.array([0, 0, 0, 0, 0, 5000, 1200, 300, 40, 7, 1, 0, 2500])


def test_noise_distribution_is_count_to_the_three_quarters():
    p = noise_distribution(COUNTS)
    assert p.sum() == pytest.approx(1.0) and (p[COUNTS == 0] == 0).all()
    ratio = p[COUNTS > 0] / COUNTS[COUNTS > 0] ** 0.75
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    np.testing.assert_allclose(noise_distribution(COUNTS, power=1.0), COUNTS / COUNTS.sum())
    np.testing.assert_allclose(noise_distribution(COUNTS, power=0.0), (COUNTS > 0) / np.sum(COUNTS > 0))
    with pytest.raises(ValueError, match="at least one word"):
        noise_distribution([0, 0])


def test_unigram_table_shares():
    p = noise_distribution(COUNTS)
    table = unigram_table(p, 100_000)
    shares = np.bincount(table, minlength=len(p)) / len(table)
    np.testing.assert_allclose(shares, p, atol=1.5 / len(table))
    assert (shares[COUNTS == 0] == 0).all()


def test_sampler_frequencies_approach_the_noise_distribution():
    sampler = NegativeSampler(COUNTS, seed=0)
    draws = sampler.sample(60_000, 5)
    assert draws.shape == (60_000, 5) and draws.dtype == np.int64
    freq = np.bincount(draws.ravel(), minlength=len(COUNTS)) / draws.size
    assert np.abs(freq - sampler.probs).sum() < 0.01  # total variation; the noise is ~0.002 here
    assert (freq[COUNTS == 0] == 0).all()
    np.testing.assert_array_equal(NegativeSampler(COUNTS, seed=0).sample(100, 5), draws[:100])
    assert not np.array_equal(NegativeSampler(COUNTS, seed=1).sample(100, 5), draws[:100])


def test_sampler_avoids_the_true_word():
    sampler = NegativeSampler(COUNTS, seed=0)
    avoid = np.full(5000, 5)  # the most frequent word, so clashes are common (p ~ 0.45)
    draws = sampler.sample(5000, 6, avoid=avoid)
    assert not (draws == avoid[:, None]).any()
    assert (draws == 12).any() and draws.shape == (5000, 6)


# ---------------------------------------------------------------------------------------------
# windows
# ---------------------------------------------------------------------------------------------

sentence_lengths = st.lists(st.integers(0, 12), min_size=1, max_size=6)


def unique_sentences(lengths):
    """Sentences of ids that are all different, so an id names its position: id - FIRST_ID."""
    bounds = np.cumsum([0] + list(lengths))
    ids = np.arange(bounds[-1]) + FIRST_ID
    return [ids[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], np.repeat(np.arange(len(lengths)), lengths)


@given(lengths=sentence_lengths, window=st.integers(1, 5), seed=seeds)
def test_skipgram_pairs_respect_the_window_and_the_sentence(lengths, window, seed):
    sentences, sentence_of = unique_sentences(lengths)
    centres, contexts = skipgram_pairs(sentences, window, np.random.default_rng(seed))
    pc, px = centres - FIRST_ID, contexts - FIRST_ID
    assert centres.shape == contexts.shape and centres.dtype == np.int64
    assert (pc != px).all()  # never the word at its own position
    assert (np.abs(pc - px) <= window).all() and (sentence_of[pc] == sentence_of[px]).all()
    assert len(set(zip(pc.tolist(), px.tolist(), strict=True))) == len(pc)  # no pair twice
    for c in np.unique(pc):  # a centre sees every neighbour up to its window b, none beyond
        seen = set(px[pc == c].tolist())
        b = max(abs(x - c) for x in seen)
        expected = {x for x in range(c - b, c + b + 1) if x != c and 0 <= x < len(sentence_of)}
        assert seen == {x for x in expected if sentence_of[x] == sentence_of[c]}
    every_word_in_a_long_enough_sentence = sum(n for n in lengths if n >= 2)
    assert len(np.unique(pc)) == every_word_in_a_long_enough_sentence


def test_skipgram_pairs_with_window_one_are_all_neighbours():
    sentences, _ = unique_sentences([4, 1, 3])
    centres, contexts = skipgram_pairs(sentences, 1, np.random.default_rng(0))
    got = set(zip((centres - FIRST_ID).tolist(), (contexts - FIRST_ID).tolist(), strict=True))
    assert got == {(0, 1), (1, 0), (1, 2), (2, 1), (2, 3), (3, 2), (5, 6), (6, 5), (6, 7), (7, 6)}


def test_dynamic_window_uses_near_words_more_often():
    n, window = 20000, 5
    centres, contexts = skipgram_pairs([np.arange(n)], window, np.random.default_rng(0))
    per_distance = np.bincount(np.abs(centres - contexts), minlength=window + 1)[1:]
    assert (np.diff(per_distance) < 0).all()
    expected = [2 * (n - d) * (window - d + 1) / window for d in range(1, window + 1)]
    np.testing.assert_allclose(per_distance, expected, rtol=0.03)


@given(lengths=sentence_lengths, window=st.integers(1, 4), seed=seeds)
def test_cbow_examples_shapes_and_masks(lengths, window, seed):
    sentences, sentence_of = unique_sentences(lengths)
    contexts, targets = cbow_examples(sentences, window, np.random.default_rng(seed), pad_id=0)
    assert contexts.shape == (len(targets), 2 * window)
    assert len(targets) == sum(n for n in lengths if n >= 2)  # one-word sentences give nothing
    mask = contexts != 0
    assert mask.any(axis=1).all()
    offsets = np.array(list(range(-window, 0)) + list(range(1, window + 1)))
    for row, target in zip(contexts, targets, strict=True):
        t = target - FIRST_ID
        real = row != 0
        b = np.abs(offsets[real]).max()
        for off, word in zip(offsets, row, strict=True):  # column j holds exactly the word at offset j, if any
            p = t + off
            inside = abs(off) <= b and 0 <= p < len(sentence_of) and sentence_of[p] == sentence_of[t]
            assert word == (p + FIRST_ID if inside else 0)


def test_window_must_be_positive():
    with pytest.raises(ValueError, match="window must be a whole number >= 1, got 0"):
        skipgram_pairs([[5, 6]], 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="got 2.5"):
        cbow_examples([[5, 6]], 2.5, np.random.default_rng(0))
