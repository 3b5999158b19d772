"""Greedy decoding and beam search (minilm/models/beam_search.py): on a hand-built "model" with fixed
step distributions, where the right answer is known, and on a small trained Seq2Seq model."""

import math

import numpy as np
import pytest

import minilm
from minilm.models.beam_search import (
    Hypothesis,
    beam_search,
    greedy_decode,
    pad_ids,
    sequence_log_prob,
    sequence_score,
)
from minilm.models.seq2seq import Seq2Seq, exact_match, train_seq2seq

PAD, BOS, EOS, A, B = 0, 1, 2, 3, 4


class FixedModel:
    """A fake decoder with the decoding interface: the distribution of the next word depends only on
    the words written so far, through the table ``table[prefix] = {word: probability}`` (a prefix
    missing from the table gets ``default``: the end, for sure). A state is the list of the rows' prefixes."""

    bos_id, eos_id, vocab_size = BOS, EOS, 5

    def __init__(self, table, default=None):
        self.table, self.default = table, default or {EOS: 1.0}

    def start_decoding(self, src, src_lengths):
        return [() for _ in range(len(src))]

    def decode_step(self, state, tokens):
        state = [p if t == BOS else p + (int(t),) for p, t in zip(state, tokens, strict=True)]
        probs = np.zeros((len(state), self.vocab_size))
        for row, prefix in enumerate(state):
            for word, p in self.table.get(prefix, self.default).items():
                probs[row, word] = p
        with np.errstate(divide="ignore"):
            return np.log(probs), state, None

    def select_states(self, state, index):
        return [state[i] for i in index]


# Greedy takes A (0.55) and then the best it can: A A <eos>, probability 0.55 * 0.4 = 0.22. Starting
# with the less likely B leads to a nearly certain B: B B <eos>, 0.45 * 0.9 = 0.405.
TRAP = {
    (): {A: 0.55, B: 0.45},
    (A,): {A: 0.4, B: 0.3, EOS: 0.3},
    (B,): {B: 0.9, EOS: 0.1},
}


def test_beam_search_finds_the_sequence_greedy_misses():
    model = FixedModel(TRAP)
    greedy, attention = greedy_decode(model, [[5, 6]])
    assert greedy == [[A, A]] and attention == [None]
    best = beam_search(model, [5, 6], beam_size=2, length_penalty=0.0)
    assert best[0].tokens == [B, B] and best[0].finished
    assert math.isclose(best[0].log_prob, math.log(0.45 * 0.9))
    assert math.isclose(sequence_log_prob(model, [5, 6], [A, A]), math.log(0.55 * 0.4))
    assert best[0].log_prob > sequence_log_prob(model, [5, 6], greedy[0])
    # a beam of one is greedy, and misses it too
    assert beam_search(model, [5, 6], beam_size=1)[0].tokens == [A, A]


def test_hypotheses_come_best_first_with_consistent_scores():
    model = FixedModel(TRAP)
    for alpha in (0.0, 0.7, 1.0):
        hyps = beam_search(model, [5], beam_size=3, length_penalty=alpha)
        assert len(hyps) >= 2 and all(isinstance(h, Hypothesis) for h in hyps)
        scores = [h.score for h in hyps]
        assert scores == sorted(scores, reverse=True)
        for h in hyps:
            assert math.isclose(h.log_prob, sequence_log_prob(model, [5], h.tokens))
            assert math.isclose(h.score, h.log_prob / (len(h.tokens) + 1) ** alpha)


def test_length_penalty_decides_between_a_short_and_a_long_output():
    # "" (just <eos>) has probability 0.45; A A and A B 0.275 each, but over three steps
    model = FixedModel({(): {EOS: 0.45, A: 0.55}, (A,): {A: 0.5, B: 0.5}})
    assert beam_search(model, [5], beam_size=2, length_penalty=0.0)[0].tokens == []
    best = beam_search(model, [5], beam_size=2, length_penalty=1.0)[0]
    assert best.tokens == [A, A] and math.isclose(best.score, math.log(0.275) / 3)


def test_max_len_cuts_off_a_model_that_never_ends():
    model = FixedModel({}, default={A: 0.6, B: 0.4})
    hyps = beam_search(model, [5], beam_size=2, max_len=4)
    assert hyps[0].tokens == [A, A, A, A] and not hyps[0].finished
    assert all(not h.finished and len(h.tokens) == 4 for h in hyps)
    assert greedy_decode(model, [[5]], max_len=4)[0] == [[A, A, A, A]]


def test_arguments_are_checked():
    model = FixedModel(TRAP)
    with pytest.raises(ValueError, match="beam_size must be a whole number >= 1, got 0"):
        beam_search(model, [5], beam_size=0)
    with pytest.raises(ValueError, match="source sentence is empty"):
        beam_search(model, [], beam_size=2)
    with pytest.raises(ValueError, match="each with at least one id"):
        pad_ids([[4], []])
    assert sequence_score(-3.0, 3, 1.0) == -1.0 and sequence_score(-3.0, 3, 0.0) == -3.0


# ---------------------------------------------------------------------------------------------
# a trained model: reversing sequences of digits (ids 4..13)
# ---------------------------------------------------------------------------------------------


def digit_pairs(n, seed):
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        s = rng.integers(4, 14, size=int(rng.integers(3, 9))).tolist()
        pairs.append((s, s[::-1]))
    return pairs


@pytest.fixture(scope="module")
def trained():
    minilm.manual_seed(0)
    model = Seq2Seq(14, 14, embedding_dim=16, hidden_size=32, attention="additive", dropout=0.0)
    # three epochs: good (about 3/4 of sentences right), not perfect, so that the searches differ
    train_seq2seq(model, digit_pairs(2000, seed=1), epochs=3, batch_size=32, seed=0)
    # decode in float64: a batch of k beam rows and a batch of one then agree to ~1e-15, not ~1e-6
    return model.double(), digit_pairs(60, seed=100)


def test_beam_of_one_is_greedy_on_a_trained_model(trained):
    model, pairs = trained
    outputs, attentions = greedy_decode(model, [s for s, _ in pairs])
    for (s, _), out, att in zip(pairs, outputs, attentions, strict=True):
        hyp = beam_search(model, s, beam_size=1)[0]
        assert hyp.tokens == out and hyp.finished
        assert np.allclose(hyp.attention, att)


def test_beam_search_scores_at_least_as_well_as_greedy(trained):
    model, pairs = trained
    outputs, _ = greedy_decode(model, [s for s, _ in pairs])
    differ, worse = 0, {}
    for alpha in (0.0, 0.5, 1.0):
        worse[alpha] = 0
        for (s, _), out in zip(pairs, outputs, strict=True):
            hyp = beam_search(model, s, beam_size=4, length_penalty=alpha)[0]
            greedy_score = sequence_score(sequence_log_prob(model, s, out), len(out) + 1, alpha)
            worse[alpha] += hyp.score < greedy_score - 1e-9
            assert math.isclose(hyp.log_prob, sequence_log_prob(model, s, hyp.tokens), rel_tol=1e-9, abs_tol=1e-12)
            differ += hyp.tokens != out
    assert differ > 0  # the test would be empty if beam search always agreed with greedy
    assert worse[0.0] == 0 and worse[0.5] == 0
    # With alpha = 1 the stopping rule is a heuristic (a live hypothesis can still raise its mean
    # log-probability per word): here it stops at a short finished output on 1 sentence of the 60,
    # where greedy's longer one scores 0.0015 better.
    assert worse[1.0] <= 3


def test_greedy_decoding_in_a_batch_equals_one_sentence_at_a_time(trained):
    model, pairs = trained
    sources = [s for s, _ in pairs[:12]]
    outputs, attentions = greedy_decode(model, sources)
    ids, lengths = pad_ids(sources)
    assert greedy_decode(model, ids, lengths)[0] == outputs
    for s, out, att in zip(sources, outputs, attentions, strict=True):
        alone, alone_att = greedy_decode(model, [s])
        assert alone[0] == out
        assert att.shape == (len(out) + 1, len(s)) and np.allclose(att.sum(axis=1), 1.0, atol=1e-5)
        assert np.allclose(alone_att[0], att, atol=1e-6)


def test_beam_search_is_not_worse_than_greedy_in_exact_match(trained):
    model, pairs = trained
    greedy = exact_match(model, pairs)
    assert 0.3 < greedy < 1.0
    assert exact_match(model, pairs, decode="beam", beam_size=4) >= greedy
