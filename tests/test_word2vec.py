"""word2vec (minilm/models/word2vec*.py, word_vectors.py): float64 gradient checks of the SGNS loss
and of the model in both modes, the data pipeline (subsampling, noise words, windows) against its
definitions, training on the bundled corpus (and on a WikiText-2 slice when ../shared/data has it),
and the WordVectors queries and files."""

import pathlib
import zipfile

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minilm
import minilm.nn.functional as F
from helpers import leaf, to_numpy
from minilm.autograd import gradcheck
from minilm.data import Vocab, corpus
from minilm.data.corpus import lexicon
from minilm.models import WordVectors
from minilm.models.word2vec import (
    NegativeSampler,
    Word2Vec,
    cbow_examples,
    keep_mask,
    negative_sampling_loss,
    noise_distribution,
    skipgram_pairs,
    subsample,
    subsample_keep_prob,
    train_word2vec,
    unigram_table,
)

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
seeds = st.integers(0, 2**31 - 1)
FIRST_ID = 5  # the ids of the word-order tests start after the five special tokens

# ---------------------------------------------------------------------------------------------
# the loss: gradient check and its composed twin
# ---------------------------------------------------------------------------------------------


def sgns_composed(v, u, reduction="mean"):
    """The same loss from primitive ops: binary cross-entropy of the scores, label 1 in column 0."""
    s = (u @ v.unsqueeze(-1)).squeeze(-1)
    labels = np.zeros(s.shape)
    labels[:, 0] = 1
    per_example = F.binary_cross_entropy_with_logits(
        s, minilm.tensor(labels, dtype=s.dtype, device=s.device), reduction="none"
    ).sum(dim=1)
    if reduction == "none":
        return per_example
    return per_example.sum() if reduction == "sum" else per_example.mean()


def value_and_grads(fn, *inputs):
    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    weight = minilm.tensor(np.random.default_rng(7).standard_normal(out.shape), dtype=out.dtype, device=out.device)
    (out * weight).sum().backward()
    return to_numpy(out.detach()), [to_numpy(x.grad) for x in inputs]


@given(
    n=st.integers(1, 5),
    k=st.integers(0, 4),
    d=st.integers(1, 4),
    seed=seeds,
    reduction=st.sampled_from(["mean", "sum", "none"]),
)
def test_negative_sampling_loss_gradcheck_and_twin(device, n, k, d, seed, reduction):
    v = leaf(device, (n, d), seed)
    u = leaf(device, (n, 1 + k, d), seed + 1)
    assert gradcheck(lambda v, u: negative_sampling_loss(v, u, reduction), (v, u))
    y1, g1 = value_and_grads(lambda v, u: negative_sampling_loss(v, u, reduction), v, u)
    y2, g2 = value_and_grads(lambda v, u: sgns_composed(v, u, reduction), v, u)
    np.testing.assert_allclose(y1, y2, rtol=1e-10, atol=1e-12)
    for a, b in zip(g1, g2, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.torch
def test_negative_sampling_loss_agrees_with_torch_logsigmoid():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    v_np, u_np = rng.standard_normal((6, 4)), rng.standard_normal((6, 4, 4))
    v, u = minilm.tensor(v_np, requires_grad=True), minilm.tensor(u_np, requires_grad=True)
    negative_sampling_loss(v, u).backward()
    tv, tu = torch.tensor(v_np, requires_grad=True), torch.tensor(u_np, requires_grad=True)
    s = torch.einsum("nkd,nd->nk", tu, tv)
    loss = -(torch.nn.functional.logsigmoid(s[:, 0]) + torch.nn.functional.logsigmoid(-s[:, 1:]).sum(1)).mean()
    loss.backward()
    np.testing.assert_allclose(to_numpy(v.grad), tv.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(to_numpy(u.grad), tu.grad.numpy(), rtol=1e-10)
    assert negative_sampling_loss(v, u).item() == pytest.approx(loss.item(), rel=1e-12)


def test_negative_sampling_loss_is_stable_for_large_scores():
    v = minilm.tensor([[30.0, 0.0]], dtype=minilm.float64)
    u = minilm.tensor([[[30.0, 0.0], [-30.0, 0.0]]], dtype=minilm.float64, requires_grad=True)
    loss = negative_sampling_loss(v, u)  # both answers right by a score of 900: loss ~ 0, not nan
    loss.backward()
    assert 0 <= loss.item() < 1e-300 and np.isfinite(to_numpy(u.grad)).all()
    wrong = negative_sampling_loss(v, minilm.tensor([[[-30.0, 0.0]]], dtype=minilm.float64))
    assert wrong.item() == pytest.approx(900.0)  # -log sigma(-900) = 900 + log(1 + e^-900)


def test_negative_sampling_loss_shape_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"v \(3, 2\) and u \(3, 4, 5\)"):
        negative_sampling_loss(minilm.zeros(3, 2), minilm.zeros(3, 4, 5))
    with pytest.raises(ValueError, match="reduction"):
        negative_sampling_loss(minilm.zeros(3, 2), minilm.zeros(3, 4, 2), reduction="avg")


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------


@st.composite
def model_case(draw):
    mode = draw(st.sampled_from(["skipgram", "cbow"]))
    v, d, n, k = draw(st.integers(2, 7)), draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(0, 3))
    rng = np.random.default_rng(draw(seeds))
    low = 1 if mode == "cbow" else 0  # CBOW's padding id 0 never is a word to predict
    if mode == "skipgram":
        inputs = rng.integers(0, v, size=n)
    else:
        inputs = rng.integers(1, v, size=(n, draw(st.integers(1, 4))))
        inputs[rng.random(inputs.shape) < 0.4] = 0  # some padding...
        inputs[:, 0] = rng.integers(1, v, size=n)  # ...but one real word per row
        inputs = rng.permuted(inputs, axis=1)
    return mode, v, d, inputs, rng.integers(low, v, size=n), rng.integers(low, v, size=(n, k)), rng


@given(case=model_case())
def test_word2vec_gradcheck_both_tables(device, case):
    mode, v, d, inputs, positives, negatives, rng = case
    model = Word2Vec(v, d, mode, padding_idx=0 if mode == "cbow" else None, device=device, dtype=minilm.float64)
    for table in (model.in_embed.weight, model.out_embed.weight):  # away from the all-zero start
        table.data = minilm.tensor(rng.standard_normal((v, d)), dtype=minilm.float64, device=device).data
    tables = (model.in_embed.weight, model.out_embed.weight)
    assert gradcheck(lambda a, b: model(inputs, positives, negatives), tables)


def test_cbow_centre_vector_is_the_mean_of_the_real_context_words():
    model = Word2Vec(6, 3, "cbow", padding_idx=0, dtype=minilm.float64)
    table = np.arange(18.0).reshape(6, 3)
    table[0] = 100.0  # even a non-zero padding row is left out of the mean
    model.in_embed.weight.data = table.copy()
    got = to_numpy(model.centre_vectors(np.array([[2, 0, 5, 0], [0, 0, 0, 3], [1, 2, 3, 4]])))
    np.testing.assert_allclose(got, [(table[2] + table[5]) / 2, table[3], table[1:5].mean(axis=0)])


def test_word2vec_initialisation():
    model = Word2Vec(50, 10, padding_idx=0)
    w_in, w_out = to_numpy(model.in_embed.weight), to_numpy(model.out_embed.weight)
    assert np.abs(w_in).max() <= 0.5 / 10 and np.unique(w_in[1:]).size == 49 * 10
    assert (w_in[0] == 0).all() and (w_out == 0).all()
    model.reset_parameters(np.random.default_rng(3))
    again = Word2Vec(50, 10, padding_idx=0)
    again.reset_parameters(np.random.default_rng(3))
    np.testing.assert_array_equal(to_numpy(model.in_embed.weight), to_numpy(again.in_embed.weight))


def test_word2vec_errors():
    with pytest.raises(ValueError, match="needs padding_idx"):
        Word2Vec(10, 4, "cbow")
    with pytest.raises(ValueError, match="'glove'"):
        Word2Vec(10, 4, "glove")
    model = Word2Vec(10, 4, "cbow", padding_idx=0)
    with pytest.raises(ValueError, match="row 1 is all padding"):
        model(np.array([[1, 2], [0, 0]]), np.array([3, 4]), np.array([[5], [6]]))
    with pytest.raises(ValueError, match=r"negatives \(3, 2\)"):
        Word2Vec(10, 4)(np.array([1, 2]), np.array([3, 4]), np.zeros((3, 2), dtype=np.int64))


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


# ---------------------------------------------------------------------------------------------
# training on the bundled corpus
# ---------------------------------------------------------------------------------------------

LR = {"skipgram": 0.05, "cbow": 0.1}  # twice the C code's defaults: the runs here are short


@pytest.fixture(scope="module")
def trained():
    texts = corpus.sentences(8000, seed=0)
    runs = {}
    for mode in ("skipgram", "cbow"):
        for seed in (0, 1):
            runs[mode, seed] = train_word2vec(texts, mode=mode, epochs=8, lr=LR[mode], seed=seed)
    return runs


def role_groups(wv):
    """Two groups of words in different roles, taken from the generator's own lists: the first
    names (subjects and objects of people's verbs) and the kitchen's food nouns (objects of
    cook, eat, slice...)."""
    names = [name.lower() for name in lexicon.NAMES]
    foods = [noun.singular for noun in lexicon.get().nouns["kitchen"] if "food" in noun.kinds]
    return names, foods, [w for w in names if w in wv], [w for w in foods if w in wv]


def mean_cosine(wv, a_words, b_words):
    return np.mean([wv.similarity(a, b) for a in a_words for b in b_words if a != b])


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_training_lowers_the_loss(trained, mode):
    for seed in (0, 1):
        history = trained[mode, seed].loss_history
        assert len(history) == 8 and history[-1] < history[0] - 0.4


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_words_in_the_same_role_end_up_closer(trained, mode):
    for seed in (0, 1):
        wv = trained[mode, seed]
        all_names, all_foods, names, foods = role_groups(wv)
        assert len(names) >= 0.8 * len(all_names) and len(foods) >= 0.8 * len(all_foods)
        between = mean_cosine(wv, names, foods)
        assert mean_cosine(wv, names, names) > between + 0.1
        assert mean_cosine(wv, foods, foods) > between + 0.1
        # and for most names, the single nearest word of the whole vocabulary is another name
        assert np.mean([wv.most_similar(w, topn=1)[0][0] in names for w in names]) > 0.5


def test_training_is_reproducible_with_a_seed():
    texts = corpus.sentences(600, seed=0)
    a = train_word2vec(texts, epochs=1, seed=3, embedding_dim=8)
    b = train_word2vec(texts, epochs=1, seed=3, embedding_dim=8)
    c = train_word2vec(texts, epochs=1, seed=4, embedding_dim=8)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.loss_history == b.loss_history and not np.array_equal(a.vectors, c.vectors)
    assert a.vocab.tokens[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert all(a.vocab[w] > 4 for w in ("the", "cook", ".")) and "zebra" not in a


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_train_word2vec_errors():
    texts = corpus.sentences(300, seed=0)
    with pytest.raises(TypeError, match="one string"):
        train_word2vec("The cook baked a pie.")
    with pytest.raises(ValueError, match="mode"):
        train_word2vec(texts, mode="skip-gram")
    with pytest.raises(ValueError, match="window"):
        train_word2vec(texts, window=0)
    with pytest.raises(ValueError, match="min_count=1000000"):
        train_word2vec(texts, min_count=10**6)
    with pytest.raises(FloatingPointError, match="lower lr"):
        train_word2vec(corpus.sentences(2000, seed=0), lr=1e4, epochs=1)


# ---------------------------------------------------------------------------------------------
# WordVectors
# ---------------------------------------------------------------------------------------------

WORDS = ["man", "woman", "king", "queen", "apple", "pear"]


@pytest.fixture
def small():
    vocab = Vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS)
    vectors = np.zeros((len(vocab), 3), dtype=np.float32)
    vectors[5:] = [[1, 0, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1], [0, -1, -1], [0.1, -1, -1.2]]
    vectors[0] = vectors[1] = [1, 0, 1]  # specials that point where 'king' does: never an answer
    return WordVectors(vocab, vectors, loss_history=[3.0, 2.5])


def test_most_similar_of_a_words_own_vector_returns_it_first(small):
    for word in WORDS:
        best, cosine = small.most_similar(small.vector(word), topn=1)[0]
        assert best == word and cosine == pytest.approx(1.0)
        assert word not in [w for w, _ in small.most_similar(word)]  # a word is not its own neighbour
    assert [w for w, _ in small.most_similar("apple", topn=1)] == ["pear"]
    assert "pear" not in [w for w, _ in small.most_similar("apple", exclude=["pear"])]
    assert len(small.most_similar("man", topn=100)) == len(WORDS) - 1  # no specials, not 'man'


def test_similarity_is_the_cosine(small):
    assert small.similarity("man", "woman") == pytest.approx(1 / np.sqrt(2))
    assert small.similarity("woman", "apple") == pytest.approx(-1 / np.sqrt(4))


def test_analogy_3cosadd_excludes_the_query_words(small):
    assert small.analogy("man", "woman", "king")[0][0] == "queen"
    answers = [w for w, _ in small.analogy("man", "man", "king", topn=10)]  # b - a + c = king itself
    assert answers and not {"man", "king"} & set(answers)
    assert len(answers) == len(WORDS) - 2


def test_unknown_word_is_a_key_error_with_suggestions(small):
    with pytest.raises(KeyError, match=r"'kingg' is not in the vocabulary of 11 words; did you mean 'king'"):
        small.similarity("kingg", "man")
    with pytest.raises(KeyError, match="'Queen'.*'queen'"):
        small.vector("Queen")
    with pytest.raises(ValueError, match="3 entries"):
        small.most_similar(np.ones(4))


def test_save_load_round_trip_is_exact(small, tmp_path):
    path = tmp_path / "vectors.npz"
    small.save(path)
    back = WordVectors.load(path)
    assert back.vocab == small.vocab and back.loss_history == [3.0, 2.5]
    assert back.vectors.dtype == np.float32
    np.testing.assert_array_equal(back.vectors, small.vectors)
    assert zipfile.is_zipfile(path) and sorted(p.name for p in tmp_path.iterdir()) == ["vectors.npz"]
    with np.load(path, allow_pickle=False) as npz:  # plain arrays: readable without pickle
        assert any(npz[name].shape == small.vectors.shape for name in npz.files)
    minilm.save({"weight": np.zeros(3)}, tmp_path / "other.npz")
    with pytest.raises(ValueError, match="not a word-vectors file"):
        WordVectors.load(tmp_path / "other.npz")


def test_word_vectors_checks_the_table_against_the_vocabulary():
    with pytest.raises(ValueError, match=r"\(7, D\), got float64 \(6, 3\)"):
        WordVectors(Vocab(["[PAD]", "[UNK]", "a", "b", "c", "d", "e"]), np.zeros((6, 3)))


# ---------------------------------------------------------------------------------------------
# a real corpus: a slice of WikiText-2, when ../shared/data has it
# ---------------------------------------------------------------------------------------------

NUMBERS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


class WhitespaceTokenizer:
    """WikiText is tokenized already: split at spaces, lowercase."""

    def tokenize(self, text):
        return text.lower().split()


def test_wikitext2_slice_number_words_cluster():
    path = DATA / "wikitext-2" / "valid.txt"
    if not path.exists():
        pytest.skip(f"{path} is not there")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    lines = [line for line in lines if not line.strip().startswith("=")][:900]  # ~100,000 tokens
    wv = train_word2vec(lines, tokenizer=WhitespaceTokenizer(), min_count=3, epochs=4, lr=0.05, seed=0)
    assert wv.loss_history[-1] < wv.loss_history[0] - 0.3
    numbers = [w for w in NUMBERS if w in wv]
    assert len(numbers) >= 7
    frequent = [w for w in wv.vocab.tokens[5:] if w not in NUMBERS][:100]
    assert mean_cosine(wv, numbers, numbers) > mean_cosine(wv, numbers, frequent) + 0.1
