r"""Decoding: turn a trained encoder-decoder's step-by-step distributions into an output sentence.

A decoder gives ``p(y_t | y_<t, x)``, one distribution per step, and the model's probability of a
whole output is the product ``p(y | x) = prod_t p(y_t | y_<t, x)`` over its words and the final
``<eos>``. The best output, ``argmax_y p(y | x)``, cannot be found by trying every sentence
(``V^T`` of them). Two approximations:

- **greedy** (``greedy_decode``): take the most likely word at every step and feed it back. Cheap,
  and batched over many sentences, but a word chosen early is never reconsidered: a first word
  with probability 0.55 whose best continuations are all unlikely beats a first word with 0.45
  whose continuation is nearly certain.
- **beam search** (``beam_search``): keep the ``k = beam_size`` best partial outputs (the *live*
  hypotheses) instead of one. At each step every live hypothesis is extended by every word,
  the ``2k`` best extensions by total log-probability ``sum_t log p(y_t | ...)`` are looked at in
  order: an extension that ends in ``<eos>`` and ranks among the first ``k`` is *finished* and
  put aside; the first ``k`` others are the new live hypotheses. (Looking at ``2k`` keeps the beam
  full even when several of the best extensions end.) The ``k`` live hypotheses go through the
  decoder together, as one batch of ``k`` rows, and ``select_states`` copies the states of the
  rows that survive (a row can have several children, or none).

Scores. Log-probabilities only fall as a sentence grows, so the raw sum prefers short outputs.
``score = log_prob / length ** alpha``, ``alpha = length_penalty``, with ``length`` the number of
steps (words plus the final ``<eos>``): ``alpha = 0`` is the raw log-probability, ``alpha = 1`` the
mean per word. Search stops when the best finished hypothesis scores at least as well as every
live one, or after ``max_len`` steps. For ``alpha = 0`` stopping then loses nothing (a live
hypothesis can only fall, so none can overtake); for ``alpha > 0`` a live hypothesis might still
raise its mean, and the rule is the usual heuristic (on a small trained model in the tests, with
``alpha = 1`` and a beam of 4, it stops too early on 1 sentence in 60, where greedy's longer output
scores higher). Beam search is not exact either way: the best output may fall off the beam early.
With ``beam_size=1`` beam search is greedy search: the best extension is either ``<eos>``
(finished, and it beats the other extension of the same length) or it is the one live hypothesis.

The decoding interface. Both functions need only this of ``model`` (``Seq2Seq`` has it; a test's
fake model with fixed distributions has it too)::

    model.bos_id, model.eos_id                          ints
    model.start_decoding(src (N, S) int array, src_lengths (N,)) -> state
    model.decode_step(state, tokens (N,) int array) -> (log_probs (N, V) NumPy, state,
                                                        weights (N, S) NumPy or None)
    model.select_states(state, index (k,) int array) -> the state of rows ``index``

Outputs are word ids without ``<bos>`` and ``<eos>``; their attention has one row per step (one per
word, and a last one for the step that emitted ``<eos>``) and one column per source word.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minilm.tensor import Tensor

__all__ = ["Hypothesis", "beam_search", "greedy_decode", "pad_ids", "sequence_log_prob", "sequence_score"]


@dataclass
class Hypothesis:
    """One output of ``beam_search``: ``tokens`` (ids, no ``<bos>``/``<eos>``), ``log_prob`` (the sum
    over its steps, ``<eos>`` included when ``finished``), ``score`` (length-normalised, see the
    module docstring), ``attention`` ((steps, S) NumPy array, or None for a model without
    attention) and ``finished`` (False only for a hypothesis cut off at ``max_len``)."""

    tokens: list
    log_prob: float
    score: float
    attention: np.ndarray | None
    finished: bool = True


def sequence_score(log_prob: float, length: int, length_penalty: float = 1.0) -> float:
    """``log_prob / length ** length_penalty``: the score beam search ranks by (``length`` = steps)."""
    return log_prob / max(length, 1) ** length_penalty


def pad_ids(sequences, pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(ids (N, S), lengths (N,))``: lists of ids padded with ``pad_id`` to the longest."""
    sequences = [list(s) for s in sequences]
    if not sequences or any(len(s) == 0 for s in sequences):
        raise ValueError("pad_ids: need at least one sequence, each with at least one id")
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    ids = np.full((len(sequences), int(lengths.max())), pad_id, dtype=np.int64)
    for i, s in enumerate(sequences):
        ids[i, : len(s)] = s
    return ids, lengths


class _EvalMode:
    """``with _EvalMode(model):`` switches dropout off for decoding and restores the mode after."""

    def __init__(self, model):
        self.model, self.was = model, getattr(model, "training", None)

    def __enter__(self):
        if self.was is not None:
            self.model.train(False)

    def __exit__(self, *exc):
        if self.was is not None:
            self.model.train(self.was)


def _as_batch(model, src, src_lengths):
    """``src`` as an (N, S) array and its lengths: a list of id lists is padded here."""
    if src_lengths is None:
        return pad_ids(src, getattr(model, "pad_id", 0))
    if isinstance(src, Tensor):
        src = src.numpy()
    if isinstance(src_lengths, Tensor):
        src_lengths = src_lengths.numpy()
    src, lengths = np.asarray(src, dtype=np.int64), np.asarray(src_lengths, dtype=np.int64).reshape(-1)
    if src.ndim != 2 or len(lengths) != src.shape[0]:
        raise ValueError(f"greedy_decode: expected src (N, S) and N lengths, got {src.shape} and {lengths.shape}")
    return src, lengths


def greedy_decode(model, src, src_lengths=None, max_len=None):
    """Decode a batch greedily: ``(outputs, attentions)``, ``outputs[i]`` the ids of sentence ``i``
    (no ``<bos>``/``<eos>``) and ``attentions[i]`` its (steps, S_i) weights (None without attention).

    ``src``: an (N, S) id array with ``src_lengths``, or a list of id lists with
    ``src_lengths=None``. ``max_len``: the most steps per sentence (default ``2 * S + 10``); a
    sentence that has not emitted ``<eos>`` by then is returned as it stands."""
    src, lengths = _as_batch(model, src, src_lengths)
    max_len = 2 * src.shape[1] + 10 if max_len is None else int(max_len)
    N = len(lengths)
    outputs, rows = [[] for _ in range(N)], [[] for _ in range(N)]
    done = np.zeros(N, dtype=bool)
    with _EvalMode(model):
        state = model.start_decoding(src, lengths)
        tokens = np.full(N, model.bos_id, dtype=np.int64)
        for _ in range(max_len):
            log_probs, state, weights = model.decode_step(state, tokens)
            tokens = log_probs.argmax(axis=1).astype(np.int64)
            for i in np.flatnonzero(~done):
                if weights is not None:
                    rows[i].append(weights[i, : lengths[i]])
                if tokens[i] == model.eos_id:
                    done[i] = True
                else:
                    outputs[i].append(int(tokens[i]))
            if done.all():
                break
    attentions = [np.array(r) if r else None for r in rows]
    return outputs, attentions


def sequence_log_prob(model, src_ids, tgt_ids) -> float:
    """``log p(tgt_ids + <eos> | src_ids)`` under ``model``, summed over the steps (teacher forcing
    through the decoding interface): the quantity greedy and beam search try to make large."""
    with _EvalMode(model):
        state = model.start_decoding(np.array([list(src_ids)], np.int64), np.array([len(src_ids)], np.int64))
        total, previous = 0.0, model.bos_id
        for token in [*tgt_ids, model.eos_id]:
            log_probs, state, _ = model.decode_step(state, np.array([previous], np.int64))
            total += float(log_probs[0, token])
            previous = token
    return total


def _check_beam_arguments(src_ids, beam_size, length_penalty, max_len) -> None:
    if max_len is not None and (int(max_len) != max_len or max_len < 1):
        raise ValueError(f"beam_search: max_len must be a whole number >= 1 (or None), got {max_len!r}")
    if int(beam_size) != beam_size or beam_size < 1:
        raise ValueError(f"beam_search: beam_size must be a whole number >= 1, got {beam_size!r}")
    if len(src_ids) == 0:
        raise ValueError("beam_search: the source sentence is empty; give at least one id")
    if length_penalty < 0:
        raise ValueError(f"beam_search: length_penalty must be >= 0, got {length_penalty}")


def beam_search(model, src_ids, beam_size=5, max_len=None, length_penalty=1.0) -> list[Hypothesis]:
    """Beam search for one source sentence (a list of ids). Returns the finished hypotheses, best
    score first, followed by the live ones if ``max_len`` steps (default ``2 * len(src_ids) + 10``)
    ran out; ``[0]`` is the answer. See the module docstring for the algorithm and the score."""
    _check_beam_arguments(src_ids, beam_size, length_penalty, max_len)
    k, S = int(beam_size), len(src_ids)
    max_len = 2 * S + 10 if max_len is None else int(max_len)
    # live hypotheses: parallel lists of tokens, attention rows and log-probabilities
    tokens, rows, log_prob = [[]], [[]], np.zeros(1)
    finished: list[Hypothesis] = []
    stopped = False  # True when the stopping rule ended the search, False when max_len did
    with _EvalMode(model):
        state = model.start_decoding(np.array([list(src_ids)], np.int64), np.array([S], np.int64))
        last = np.array([model.bos_id], np.int64)
        for step in range(1, max_len + 1):
            step_log_probs, state, weights = model.decode_step(state, last)
            total = log_prob[:, None] + step_log_probs  # (live, V)
            V = total.shape[1]
            best = np.argsort(-total, axis=None, kind="stable")[: 2 * k]
            keep, new_tokens, new_rows = [], [], []
            for rank, flat in enumerate(best):
                parent, word = divmod(int(flat), V)
                attention_rows = rows[parent] + ([] if weights is None else [weights[parent, :S]])
                if word == model.eos_id:
                    if rank < k:
                        finished.append(
                            _hypothesis(tokens[parent], total[parent, word], step, attention_rows, length_penalty, True)
                        )
                    continue
                keep.append(int(flat))
                new_tokens.append(tokens[parent] + [word])
                new_rows.append(attention_rows)
                if len(keep) == k:
                    break
            parents, words = np.divmod(np.array(keep, dtype=np.int64), V)
            tokens, rows, log_prob = new_tokens, new_rows, total[parents, words]
            stopped = not keep or _done(finished, log_prob, step, length_penalty)
            if stopped:
                break
            state, last = model.select_states(state, parents), words
    finished.sort(key=lambda h: -h.score)
    if stopped:
        return finished
    live = [_hypothesis(t, lp, step, r, length_penalty, False) for t, lp, r in zip(tokens, log_prob, rows, strict=True)]
    return finished + sorted(live, key=lambda h: -h.score)


def _hypothesis(tokens, log_prob, steps, rows, length_penalty, finished) -> Hypothesis:
    attention = np.array(rows) if rows else None
    return Hypothesis(
        list(tokens), float(log_prob), sequence_score(float(log_prob), steps, length_penalty), attention, finished
    )


def _done(finished, live_log_probs, steps, length_penalty) -> bool:
    """True when the best finished hypothesis scores at least as well as every live one."""
    if not finished or len(live_log_probs) == 0:
        return bool(finished)
    best_live = sequence_score(float(np.max(live_log_probs)), steps, length_penalty)
    return max(h.score for h in finished) >= best_live
