"""The interpolated Kneser-Ney n-gram model (minilm/models/ngram.py): probabilities worked out by hand,
agreement with a slow dictionary implementation of the formulas, proper distributions, perplexity."""

import math
from collections import Counter

import numpy as np
import pytest

from minilm.models.lm_data import bundled_lm_corpus
from minilm.models.ngram import AddKNGramLM, NGramLM

# the worked example of the module docstring: "a b a c a b" with a=0, b=1, c=2 and d=3 never seen
TEXT = [0, 1, 0, 2, 0, 1]


def test_bigram_probabilities_by_hand():
    lm = NGramLM(order=2, vocab_size=4, discount=0.5).fit(TEXT)
    # continuation counts N1+(. w): a after b and c -> 2; b, c after a -> 1 each; d -> 0; 4 distinct bigrams,
    # 3 words with a count. P1(w) = max(N1+(. w) - 0.5, 0) / 4 + 0.5 * 3 / 4 * 1 / 4
    p1 = [1.5 / 4 + 0.09375, 0.5 / 4 + 0.09375, 0.5 / 4 + 0.09375, 0.09375]
    assert lm.distribution([]) == pytest.approx(p1, abs=1e-15)
    # context a: c(a) = 3 (ab twice, ac once), 2 distinct followers
    assert lm.prob([0], 1) == pytest.approx(1.5 / 3 + 0.5 * 2 / 3 * 0.21875, abs=1e-15)  # 0.572916...
    assert lm.prob([0], 3) == pytest.approx(0.03125, abs=1e-15)
    assert lm.prob([0], 0) == pytest.approx(0.5 * 2 / 3 * 0.46875, abs=1e-15)  # "a a" never seen
    # context d was never seen: all of its prediction comes from the unigram level
    assert lm.distribution([3]) == pytest.approx(p1, abs=1e-15)


def test_trigram_probabilities_by_hand():
    lm = NGramLM(order=3, vocab_size=4, discount=0.5).fit(TEXT)
    # trigrams: aba, bac, aca, cab. "a b" is followed once, by a: c(ab) = 1, 1 follower.
    # bigram level (continuation): "b a" is preceded only by a (in aba) -> 1; context b: total 1, 1 type.
    # P2(a | b) = (1 - 0.5) / 1 + 0.5 * 1 / 1 * P1(a) = 0.5 + 0.5 * 0.46875 = 0.734375
    # P3(a | a b) = (1 - 0.5) / 1 + 0.5 * 1 / 1 * 0.734375 = 0.8671875
    assert lm.prob([0, 1], 0) == pytest.approx(0.8671875, abs=1e-15)
    # P2(b | b) = 0 + 0.5 * P1(b) = 0.109375; P3(b | a b) = 0 + 0.5 * 0.109375
    assert lm.prob([0, 1], 1) == pytest.approx(0.0546875, abs=1e-15)
    assert lm.prob([2, 2, 0, 1], 0) == lm.prob([0, 1], 0)  # only the last two ids count


def _reference_kn(stream, order, V, discounts):
    """P(w | context) from the formulas, with dictionaries and loops (slow, for small streams only)."""
    grams = {k: Counter(tuple(stream[i : i + k]) for i in range(len(stream) - k + 1)) for k in range(1, order + 1)}
    counts = {order: grams[order]}
    for k in range(1, order):  # continuation counts: how many distinct words come before each k-gram
        counts[k] = Counter(g[1:] for g in grams[k + 1])
    if discounts == "auto":
        discounts = []
        for k in range(1, order + 1):
            n1 = sum(c == 1 for c in counts[k].values())
            n2 = sum(c == 2 for c in counts[k].values())
            discounts.append(n1 / (n1 + 2 * n2) if n1 else 0.75)
    elif np.ndim(discounts) == 0:
        discounts = [discounts] * order

    def level(k, h, w):
        if k == 0:
            return 1 / V
        D = discounts[k - 1]
        following = {g: c for g, c in counts[k].items() if g[:-1] == h}
        total = sum(following.values())
        if total == 0:
            return level(k - 1, h[1:], w)
        return max(following.get(h + (w,), 0) - D, 0) / total + D * len(following) / total * level(k - 1, h[1:], w)

    def prob(context, w):
        k = min(order, len(context) + 1)  # a short context starts at a lower order (it is "unseen" above)
        return level(k, tuple(context[len(context) - (k - 1) :]) if k > 1 else (), w)

    return prob


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@pytest.mark.parametrize("discount", [0.75, 0.3, 1.0, "auto", "per-order"])
def test_agrees_with_the_formulas_written_as_loops(order, discount):
    rng = np.random.default_rng(order)
    V = 7
    stream = list(rng.choice(6, size=80, p=[0.35, 0.25, 0.15, 0.1, 0.1, 0.05]))  # id 6 never occurs
    if discount == "per-order":
        discount = list(np.linspace(0.4, 0.9, order))
    lm = NGramLM(order, V, discount).fit(stream)
    reference = _reference_kn([int(i) for i in stream], order, V, discount)
    contexts = [[], [6], [6, 6, 6]] + [list(rng.integers(0, V, size=rng.integers(1, 5))) for _ in range(6)]
    contexts += [stream[i : i + 3] for i in (0, 10, 40)]
    for ctx in contexts:
        expected = [reference(ctx, w) for w in range(V)]
        np.testing.assert_allclose(lm.distribution(ctx), expected, rtol=1e-12, atol=1e-15)
    if discount == "auto" and order > 1:  # (80 tokens of 6 words: no unigram is seen once, 0.75 is used)
        assert lm.discounts[-1] != 0.75  # really estimated


def test_distribution_sums_to_one_and_is_positive_everywhere():
    rng = np.random.default_rng(0)
    stream = rng.zipf(1.5, size=3000) % 50
    for order in (1, 2, 3, 5):
        lm = NGramLM(order, 60, discount="auto").fit(stream)
        for _ in range(30):
            ctx = list(stream[(i := rng.integers(0, 2990)) : i + rng.integers(0, 6)])
            if ctx and rng.random() < 0.3:
                ctx[0] = 55  # a context word never seen in training
            p = lm.distribution(ctx)
            assert p.shape == (60,) and p.dtype == np.float64
            assert abs(p.sum() - 1) < 1e-9
            assert (p > 0).all()
            token = int(rng.integers(0, 60))
            assert lm.prob(ctx, token) == pytest.approx(p[token], rel=1e-12)


def test_discount_zero_bigram_is_maximum_likelihood_on_seen_contexts():
    rng = np.random.default_rng(1)
    stream = [int(i) for i in rng.integers(0, 8, size=400)]
    lm = NGramLM(2, 10, discount=0.0).fit(stream)
    pairs = Counter(zip(stream[:-1], stream[1:], strict=True))
    for h in set(stream[:-1]):
        c_h = sum(c for (a, _), c in pairs.items() if a == h)
        mle = [pairs[(h, w)] / c_h for w in range(10)]
        np.testing.assert_allclose(lm.distribution([h]), mle, rtol=1e-12, atol=0)


def test_continuation_counts_favour_words_that_follow_many_contexts():
    # "francisco" (1) is frequent but only ever after "san" (2); "glasses" (3) is rarer but follows many words
    rng = np.random.default_rng(2)
    stream = []
    for _ in range(300):
        stream += [2, 1] if rng.random() < 0.5 else [int(rng.integers(4, 30)), 3 if rng.random() < 0.3 else 0]
    counts = Counter(stream)
    assert counts[1] > 2 * counts[3]  # raw frequency prefers francisco
    lm = NGramLM(2, 31, discount=0.75).fit(stream)
    unseen_context = [30]
    assert lm.prob(unseen_context, 3) > 5 * lm.prob(unseen_context, 1)  # Kneser-Ney prefers glasses
    assert lm.prob([2], 1) > 0.9  # but after "san", francisco


def test_short_contexts_back_off_like_unseen_contexts():
    lm = NGramLM(3, 5, discount=0.6).fit([0, 1, 2, 0, 1, 3, 0, 2, 2, 1])
    np.testing.assert_allclose(lm.distribution([]), lm.distribution([4]), rtol=1e-15)  # 4 never seen
    np.testing.assert_allclose(lm.distribution([1]), lm.distribution([4, 1]), rtol=1e-15)
    assert not np.allclose(lm.distribution([0, 1]), lm.distribution([1]))  # "0 1" was seen: it matters


def test_perplexity_is_exp_of_mean_negative_log_prob():
    rng = np.random.default_rng(3)
    train = rng.integers(0, 12, size=500)
    lm = NGramLM(3, 15, discount="auto").fit(train)
    test = [int(i) for i in rng.integers(0, 15, size=60)]
    logs = [math.log(lm.prob(test[:t], test[t])) for t in range(1, len(test))]  # token 0 is context only
    assert lm.log_likelihood(test) == pytest.approx(sum(logs), rel=1e-12)
    assert lm.perplexity(test) == pytest.approx(math.exp(-sum(logs) / 59), rel=1e-12)


def test_a_uniform_model_has_perplexity_v():
    # every word once, unigrams, D = 1: P(w) = max(1 - 1, 0) / V + 1 * V / V * 1 / V = 1 / V for all w
    V = 9
    lm = NGramLM(1, V, discount=1.0).fit(np.arange(V))
    np.testing.assert_allclose(lm.distribution([3]), np.full(V, 1 / V), rtol=1e-15)
    assert lm.perplexity(np.random.default_rng(0).integers(0, V, size=100)) == pytest.approx(V, rel=1e-12)


def test_higher_orders_beat_unigrams_on_bundled_validation_text():
    data = bundled_lm_corpus(n_documents=300)
    V = len(data.vocab)
    ppl = {n: NGramLM(n, V).fit(data.train).perplexity(data.validation) for n in (1, 2, 3)}
    assert ppl[3] < ppl[2] < 0.5 * ppl[1]
    assert ppl[1] < V  # even unigram frequencies beat guessing uniformly


def test_add_k_by_hand_and_worse_than_kneser_ney():
    lm = AddKNGramLM(2, 4, k=1.0).fit(TEXT)
    # context a: c(ab) = 2, c(a) = 3: (2 + 1) / (3 + 4); "a d" never seen: 1 / 7; an unseen context: 1 / 4
    assert lm.prob([0], 1) == pytest.approx(3 / 7, abs=1e-15)
    assert lm.prob([0], 3) == pytest.approx(1 / 7, abs=1e-15)
    np.testing.assert_allclose(lm.distribution([3]), np.full(4, 0.25), rtol=1e-15)
    assert lm.distribution([2]).sum() == pytest.approx(1, abs=1e-12)
    data = bundled_lm_corpus(n_documents=300)
    V = len(data.vocab)
    add_one = AddKNGramLM(3, V, k=1.0).fit(data.train).perplexity(data.validation)
    assert add_one > 2 * NGramLM(3, V).fit(data.train).perplexity(data.validation)
    with pytest.raises(ValueError, match="k must be a number > 0.*got 0"):
        AddKNGramLM(2, 4, k=0)


def test_unseen_token_with_discount_zero_has_zero_probability_and_infinite_perplexity():
    lm = NGramLM(1, 3, discount=0.0).fit([0, 1, 0, 1])
    assert lm.prob([], 2) == 0.0
    assert lm.perplexity([0, 2]) == math.inf


def test_sampling_follows_the_model_and_is_reproducible():
    lm = NGramLM(2, 4, discount=0.5).fit(TEXT)
    a = lm.sample([0], 200, generator=np.random.default_rng(5))
    assert a == lm.sample([0], 200, generator=np.random.default_rng(5))
    assert len(a) == 200 and set(a) <= {0, 1, 2, 3}
    greedy = lm.sample([0], 4, temperature=0)
    # greedy: after a comes b (0.573); after b comes a (P = (1 - .5) / 1 + .5 * .46875 = 0.734)
    assert greedy == [1, 0, 1, 0]
    assert lm.sample([0], 4, top_k=1, generator=np.random.default_rng(1)) == greedy
    draws = lm.sample([3], 300, top_k=2, generator=np.random.default_rng(2))
    assert lm.sample([], 0) == []
    assert 3 not in draws  # d is never among the two likeliest next words


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="order must be an integer >= 1.*0"):
        NGramLM(order=0)
    with pytest.raises(ValueError, match="discount must be a number in \\[0, 1\\], got 1.5"):
        NGramLM(discount=1.5)
    with pytest.raises(ValueError, match="2 discounts given for order 3"):
        NGramLM(3, discount=[0.5, 0.5])
    with pytest.raises(ValueError, match="'kn'"):
        NGramLM(discount="kn")
    with pytest.raises(RuntimeError, match="call fit"):
        NGramLM(2, 5).prob([1], 2)
    with pytest.raises(ValueError, match="token id 7 is outside the vocabulary of size 5"):
        NGramLM(2, 5).fit([1, 2, 7])
    lm = NGramLM(2, 5).fit([1, 2, 3, 1])
    with pytest.raises(ValueError, match="token id 5 is outside"):
        lm.prob([1], 5)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        lm.perplexity([1])
    with pytest.raises(TypeError, match="integer token ids"):
        lm.log_likelihood([1.5, 2.0])
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        lm.sample([1], -1)
