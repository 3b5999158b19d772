"""Choosing the next token (minilm/models/sampling.py): greedy, temperature, top-k, seeded generators,
and perplexity from a loss."""

import math

import numpy as np
import pytest

import minilm
from minilm.models.sampling import perplexity_from_loss, sample_next, softmax_with_temperature, top_k_filter

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
