"""word2vec (minilm/models/word2vec.py, word_vectors.py): float64 gradient checks of the SGNS loss
and of the model in both modes, training on the bundled corpus (and on a WikiText-2 slice when
../shared/data has it), and the WordVectors queries and files. The training examples (subsampling,
noise words, windows) are tested in test_word2vec_examples.py."""

import pathlib
import zipfile

import numpy as np
import pytest
from helpers import leaf, to_numpy
from hypothesis import given
from hypothesis import strategies as st

import minilm
import minilm.nn.functional as F
from minilm.autograd import gradcheck
from minilm.data import Vocab, corpus
from minilm.data.corpus import lexicon
from minilm.models import WordVectors
from minilm.models.word2vec import (
    Word2Vec,
    negative_sampling_loss,
    train_word2vec,
)

DATA = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data"
seeds = st.integers(0, 2**31 - 1)

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
