"""Choosing the next token (minilm/models/sampling.py): greedy, temperature, top-k, top-p (nucleus),
seeded generators, and perplexity from a loss."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minilm
from minilm.models.sampling import (
    perplexity_from_loss,
    sample_next,
    softmax_with_temperature,
    top_k_filter,
    top_p_filter,
)

LOGITS = np.array([2.0, 1.0, 0.0, -1.0, 0.5])


def _frequencies(ids, V):
    return np.bincount(np.ravel(ids), minlength=V) / np.size(ids)


def _chi_square(observed_freq, expected_p, n):
    """Pearson's statistic over the categories with expected probability > 0."""
    keep = expected_p > 0
    return float(np.sum(n * (observed_freq[keep] - expected_p[keep]) ** 2 / expected_p[keep]))


def test_temperature_zero_is_argmax_on_every_row():
    logits = np.random.default_rng(0).normal(size=(3, 4, 11))
    ids = sample_next(logits, temperature=0)
    assert ids.shape == (3, 4) and ids.dtype == np.int64
    np.testing.assert_array_equal(ids, logits.argmax(-1))
    assert sample_next(np.array([1.0, 3.0, 3.0]), temperature=0) == 1  # ties: the smaller id


def test_top_k_one_is_argmax_at_any_temperature():
    logits = np.random.default_rng(1).normal(size=(50, 9))
    for t in (0.5, 1.0, 5.0):
        ids = sample_next(logits, temperature=t, top_k=1, generator=np.random.default_rng(2))
        np.testing.assert_array_equal(ids, logits.argmax(-1))


def test_top_k_draws_only_the_k_largest_and_all_of_them():
    rows = np.tile(LOGITS, (20000, 1))
    ids = sample_next(rows, temperature=3.0, top_k=3, generator=np.random.default_rng(3))
    assert set(np.unique(ids)) == {0, 1, 4}  # logits 2, 1 and 0.5


def test_frequencies_at_temperature_one_match_softmax():
    n = 100_000
    expected = np.exp(LOGITS) / np.exp(LOGITS).sum()  # softmax written out
    ids = sample_next(np.tile(LOGITS, (n, 1)), generator=np.random.default_rng(4))
    # 4 degrees of freedom: a chi-square above 30 has probability < 1e-5 if the draws follow softmax
    assert _chi_square(_frequencies(ids, 5), expected, n) < 30
    wrong = np.full(5, 0.2)
    assert _chi_square(_frequencies(ids, 5), wrong, n) > 1000  # and the test can tell distributions apart


def test_temperature_divides_the_logits():
    n = 100_000
    for t in (0.5, 2.0):
        expected = np.exp(LOGITS / t) / np.exp(LOGITS / t).sum()
        np.testing.assert_allclose(softmax_with_temperature(LOGITS, t), expected, rtol=1e-12)
        ids = sample_next(np.tile(LOGITS, (n, 1)), temperature=t, generator=np.random.default_rng(5))
        assert _chi_square(_frequencies(ids, 5), expected, n) < 30


def test_top_k_renormalises_over_the_kept_logits():
    n = 100_000
    kept = np.exp(LOGITS[[0, 1]])
    expected = np.array([kept[0], kept[1], 0, 0, 0]) / kept.sum()  # docstring example: [0.731, 0.269]
    ids = sample_next(np.tile(LOGITS, (n, 1)), top_k=2, generator=np.random.default_rng(6))
    assert _chi_square(_frequencies(ids, 5), expected, n) < 30
    assert expected[0] == pytest.approx(0.731, abs=5e-4)


def test_top_k_filter_keeps_exactly_k_and_breaks_ties_by_id():
    out = top_k_filter([[1.0, 3.0, 3.0, 3.0, 0.0], [5.0, 4.0, 3.0, 2.0, 1.0]], 2)
    np.testing.assert_array_equal(out[0], [-np.inf, 3.0, 3.0, -np.inf, -np.inf])
    np.testing.assert_array_equal(out[1], [5.0, 4.0, -np.inf, -np.inf, -np.inf])
    assert (np.isfinite(top_k_filter(np.zeros((4, 7)), 3)).sum(-1) == 3).all()


def test_minus_infinity_is_never_drawn():
    row = np.array([0.0, -np.inf, 0.0, -np.inf])
    ids = sample_next(np.tile(row, (5000, 1)), generator=np.random.default_rng(7))
    assert set(np.unique(ids)) == {0, 2}


def test_a_seeded_generator_and_manual_seed_make_draws_reproducible():
    logits = np.random.default_rng(8).normal(size=(200, 30))
    a = sample_next(logits, generator=np.random.default_rng(9))
    b = sample_next(logits, generator=np.random.default_rng(9))
    c = sample_next(logits, generator=np.random.default_rng(10))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    minilm.manual_seed(11)
    d = sample_next(logits)
    minilm.manual_seed(11)
    np.testing.assert_array_equal(d, sample_next(logits))


def test_takes_a_minilm_tensor():
    logits = minilm.tensor(np.array([[0.0, 5.0, 1.0]], dtype=np.float32))
    assert sample_next(logits, temperature=0).tolist() == [1]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"temperature": -0.5}, ValueError, "temperature must be a finite number >= 0.*-0.5"),
        ({"temperature": float("nan")}, ValueError, "temperature.*nan"),
        ({"top_k": 0}, ValueError, "top_k must be from 1 to the vocabulary size 5, got 0"),
        ({"top_k": 6}, ValueError, "top_k must be from 1 to the vocabulary size 5, got 6"),
        ({"top_k": 2.0}, TypeError, "top_k must be an integer"),
        ({"generator": np.random.RandomState(0)}, TypeError, "numpy.random.Generator"),
    ],
)
def test_bad_arguments_name_the_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        sample_next(LOGITS, **kwargs)


def test_bad_logits_are_refused():
    with pytest.raises(ValueError, match="nan or \\+inf, got nan at index \\(1, 2\\)"):
        sample_next(np.array([[0.0, 1.0, 2.0], [0.0, 1.0, np.nan]]))
    with pytest.raises(ValueError, match="nan or \\+inf, got inf"):
        top_k_filter([0.0, np.inf], 1)
    with pytest.raises(ValueError, match="every logit of row \\(1,\\) is -inf"):
        sample_next(np.array([[0.0, 1.0], [-np.inf, -np.inf]]))
    with pytest.raises(ValueError, match="shape \\(..., V\\)"):
        sample_next(np.zeros((3, 0)))


def test_perplexity_from_loss():
    assert perplexity_from_loss(math.log(50)) == pytest.approx(50, rel=1e-12)  # uniform over 50 words
    assert perplexity_from_loss(0.0) == 1.0
    assert perplexity_from_loss(minilm.tensor(np.float32(math.log(7)))) == pytest.approx(7, rel=1e-6)
    assert perplexity_from_loss(1e4) == math.inf
    with pytest.raises(ValueError, match="the loss is nan"):
        perplexity_from_loss(float("nan"))
    with pytest.raises(ValueError, match="got -2.0.*minus sign"):
        perplexity_from_loss(-2.0)


# ---------------------------------------------------------------------------------------------
# top-p (nucleus) sampling
# ---------------------------------------------------------------------------------------------


def _softmax(z):
    e = np.exp(z - z.max())
    return e / e.sum()


def _mass_strictly_above(probs, j):
    """The probability of the tokens that come before token j in the nucleus walk: the more
    likely ones, and the equally likely ones with smaller ids."""
    ahead = (probs > probs[j]) | ((probs == probs[j]) & (np.arange(len(probs)) < j))
    return float(probs[ahead].sum())


# a row of 2..12 logits, some ruled out by -inf, at least one finite; many ties among small integers
_LOGIT = st.one_of(st.floats(-8, 8, allow_nan=False), st.integers(-3, 3).map(float), st.just(-np.inf))
_ROWS = hnp.arrays(np.float64, st.integers(2, 12), elements=_LOGIT).filter(lambda z: np.isfinite(z).any())


def test_top_p_filter_worked_example_of_the_docstring():
    z = np.array([2.0, 1.0, 0.0])
    np.testing.assert_array_equal(top_p_filter(z, 0.8), [2.0, 1.0, -np.inf])
    np.testing.assert_array_equal(top_p_filter(z, 0.6), [2.0, -np.inf, -np.inf])
    np.testing.assert_array_equal(top_p_filter(z, 0.95), z)
    np.testing.assert_array_equal(top_p_filter(z, 1.0), z)


@given(z=_ROWS, p=st.floats(1e-6, 1.0))
def test_top_p_filter_keeps_exactly_the_smallest_nucleus(z, p):
    out = top_p_filter(z, p)
    probs = _softmax(z)
    kept = np.isfinite(out)
    np.testing.assert_array_equal(out[kept], z[kept])  # kept logits are unchanged
    assert kept[np.argmax(probs)]  # the most likely token (smallest id among ties) is always kept; ties are
    # judged on the probabilities: logits 0 and 7e-97 give the same probability, so id 0 is the one kept
    # the nucleus reaches p ...
    assert probs[kept].sum() >= p - 1e-12
    # ... and is the smallest set that does: without its least likely member it falls short of p
    last = max(np.flatnonzero(kept), key=lambda j: _mass_strictly_above(probs, j))
    assert _mass_strictly_above(probs, last) < p + 1e-12
    # and it is made of the most likely tokens: nothing dropped is likelier than anything kept
    if (~kept).any():
        assert probs[~kept].max() <= probs[kept].min()


def test_top_p_filter_breaks_ties_by_id_and_works_row_by_row():
    z = np.log([[0.4, 0.3, 0.3], [0.1, 0.1, 0.8]])
    out = top_p_filter(z, 0.5)  # first row: 0.4, then one of the two 0.3s (the smaller id)
    np.testing.assert_array_equal(np.isfinite(out), [[True, True, False], [False, False, True]])


@given(z=_ROWS, p=st.floats(0.05, 1.0), t=st.sampled_from([0.5, 1.0, 2.0]), seed=st.integers(0, 2**32 - 1))
def test_sample_next_never_draws_outside_the_nucleus_of_the_tempered_distribution(z, p, t, seed):
    ids = sample_next(np.tile(z, (300, 1)), temperature=t, top_p=p, generator=np.random.default_rng(seed))
    tempered = _softmax(z / t)
    for j in np.unique(ids):
        # a token is in the nucleus exactly when the tokens ahead of it hold less than p
        assert _mass_strictly_above(tempered, j) < p + 1e-12
        assert tempered[j] > 0


def test_top_p_sampling_renormalises_over_the_nucleus():
    n = 100_000
    # softmax(LOGITS) = [0.563, 0.207, 0.076, 0.028, 0.126]: the nucleus of 0.85 is ids 0, 1 and 4
    p = np.exp(LOGITS) / np.exp(LOGITS).sum()
    expected = np.where(np.isin(np.arange(5), [0, 1, 4]), p, 0) / p[[0, 1, 4]].sum()
    ids = sample_next(np.tile(LOGITS, (n, 1)), top_p=0.85, generator=np.random.default_rng(12))
    assert _chi_square(_frequencies(ids, 5), expected, n) < 30
    assert set(np.unique(ids)) == {0, 1, 4}


def test_top_p_uses_the_tempered_distribution():
    # at T = 1 the top token holds 0.563 < 0.6, so two tokens are in the nucleus; at T = 0.25 it holds
    # 0.98 and is alone
    rows = np.tile(LOGITS, (5000, 1))
    assert set(np.unique(sample_next(rows, 1.0, top_p=0.6, generator=np.random.default_rng(13)))) == {0, 1}
    assert set(np.unique(sample_next(rows, 0.25, top_p=0.6, generator=np.random.default_rng(13)))) == {0}


def test_top_p_none_and_one_leave_sampling_unchanged():
    logits = np.random.default_rng(14).normal(size=(500, 9))
    a = sample_next(logits, 0.7, top_k=5, generator=np.random.default_rng(15))
    b = sample_next(logits, 0.7, 5, np.random.default_rng(15), top_p=None)
    c = sample_next(logits, 0.7, top_k=5, generator=np.random.default_rng(15), top_p=1.0)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


def test_top_p_applies_after_top_k():
    # top_k=2 keeps logits 2 and 1 (0.731 and 0.269 of their mass); top_p=0.7 of those keeps only the first
    rows = np.tile(LOGITS, (5000, 1))
    assert set(np.unique(sample_next(rows, top_k=2, top_p=0.7, generator=np.random.default_rng(16)))) == {0}
    # without top_k the nucleus of 0.7 holds ids 0 and 1 (0.563 < 0.7)
    assert set(np.unique(sample_next(rows, top_p=0.7, generator=np.random.default_rng(16)))) == {0, 1}


@pytest.mark.parametrize(
    "p, error, message",
    [
        (0.0, ValueError, "top_p must be in \\(0, 1\\].*got 0.0"),
        (1.5, ValueError, "top_p must be in \\(0, 1\\].*got 1.5"),
        (-0.1, ValueError, "got -0.1"),
        (float("nan"), ValueError, "got nan"),
        ("0.9", TypeError, "top_p must be a number in \\(0, 1\\], got '0.9'"),
        (True, TypeError, "top_p must be a number"),
    ],
)
def test_bad_top_p_is_refused_by_the_filter_and_by_sample_next(p, error, message):
    with pytest.raises(error, match=message):
        top_p_filter(LOGITS, p)
    with pytest.raises(error, match=message):
        sample_next(LOGITS, top_p=p)
    with pytest.raises(error, match=message):
        sample_next(LOGITS, temperature=0, top_p=p)  # checked even when greedy decoding ignores it
