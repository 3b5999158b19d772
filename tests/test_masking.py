"""Masked language modelling: each masking rule alone, mask_tokens as a whole, and MLMCollator with a DataLoader."""

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minilm
from minilm.data import WordPieceTokenizer, corpus
from minilm.data.collate import IGNORE_INDEX, collate
from minilm.data.loader import DataLoader
from minilm.data.masking import (
    MLMCollator,
    choose_positions,
    mask_rng,
    mask_tokens,
    mlm_labels,
    random_ordinary_ids,
    special_ids_of,
    split_replacements,
)

PAD, MASK = 0, 4


def within_binomial(successes, trials, p, sigmas=5.0):
    """True when ``successes`` out of ``trials`` is within ``sigmas`` binomial standard deviations of ``p``."""
    sd = math.sqrt(trials * p * (1 - p))
    return abs(successes - trials * p) <= sigmas * sd + 1e-9


def id_matrix(rng, n, length, vocab_size, special_ids, pad_id=PAD):
    """Random ids (N, L) holding ordinary tokens, special tokens sprinkled in and right padding of
    random length in each row."""
    ids = rng.integers(0, vocab_size, size=(n, length))
    sprinkle = rng.random((n, length)) < 0.2
    ids[sprinkle] = rng.choice(special_ids, size=int(sprinkle.sum()))
    lengths = rng.integers(0, length + 1, size=n)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = pad_id
    return ids


@st.composite
def masking_cases(draw):
    """(ids, vocab_size, special_ids, seed, mlm_probability): random shapes, vocabularies and special sets
    (always holding the padding id 0 and the mask id 4)."""
    vocab_size = draw(st.integers(6, 60))
    extra = draw(st.lists(st.integers(0, vocab_size - 1), max_size=6))
    special_ids = sorted({PAD, MASK, *extra})
    n, length = draw(st.integers(1, 6)), draw(st.integers(1, 30))
    seed = draw(st.integers(0, 2**32 - 1))
    ids = id_matrix(np.random.default_rng(seed), n, length, vocab_size, special_ids)
    p = draw(st.floats(0.01, 0.99))
    return ids, vocab_size, special_ids, seed, p


def run_mask(ids, vocab_size, special_ids, seed, p=0.15, **kwargs):
    return mask_tokens(
        ids,
        mask_token_id=MASK,
        vocab_size=vocab_size,
        special_ids=special_ids,
        rng=np.random.default_rng(seed),
        mlm_probability=p,
        **kwargs,
    )


# ---------------------------------------------------------------------------------------------
# mask_tokens: properties over random batches
# ---------------------------------------------------------------------------------------------


@given(masking_cases())
def test_mask_tokens_never_touches_special_tokens_or_padding(case):
    ids, vocab_size, special_ids, seed, p = case
    before = ids.copy()
    masked, labels = run_mask(ids, vocab_size, special_ids, seed, p)
    assert (ids == before).all(), "the input must not be changed"
    assert masked.shape == labels.shape == ids.shape and masked.dtype == labels.dtype == np.int64
    special = np.isin(ids, special_ids)
    assert (labels[special] == IGNORE_INDEX).all()
    assert (masked[special] == ids[special]).all()


@given(masking_cases())
def test_labels_hold_the_original_id_exactly_where_chosen(case):
    ids, vocab_size, special_ids, seed, p = case
    masked, labels = run_mask(ids, vocab_size, special_ids, seed, p)
    chosen = labels != IGNORE_INDEX
    assert (labels[chosen] == ids[chosen]).all()
    # outside the chosen positions the input is untouched ...
    assert (masked[~chosen] == ids[~chosen]).all()
    # ... and inside it is [MASK], the original, or a random ordinary (never special) token
    replaced = masked[chosen]
    assert ((replaced == MASK) | (replaced == ids[chosen]) | ~np.isin(replaced, special_ids)).all()
    assert ((masked >= 0) & (masked < vocab_size)).all()


@given(masking_cases())
def test_same_generator_state_gives_the_same_masks(case):
    ids, vocab_size, special_ids, seed, p = case
    first = run_mask(ids, vocab_size, special_ids, seed, p)
    again = run_mask(ids, vocab_size, special_ids, seed, p)
    assert all((a == b).all() for a, b in zip(first, again, strict=True))


def test_mask_token_id_counts_as_special_even_when_not_listed():
    ids = np.full((50, 40), MASK)
    ids[:, ::2] = 7
    _, labels = mask_tokens(
        ids, mask_token_id=MASK, vocab_size=10, special_ids=[PAD], rng=np.random.default_rng(0), mlm_probability=0.9
    )
    assert (labels[ids == MASK] == IGNORE_INDEX).all()
    assert (labels[ids == 7] == 7).any()


@pytest.mark.parametrize("mask_share, random_share", [(0.8, 0.1), (0.5, 0.5), (0.0, 1.0), (1.0, 0.0)])
def test_rates_on_a_large_batch_are_15_percent_and_80_10_10(mask_share, random_share):
    rng = np.random.default_rng(1)
    vocab_size, special_ids = 50, [0, 1, 2, 3, 4]
    ids = id_matrix(rng, 400, 300, vocab_size, special_ids)
    masked, labels = run_mask(
        ids, vocab_size, special_ids, 2, 0.15, mask_replace_prob=mask_share, random_replace_prob=random_share
    )
    ordinary = ~np.isin(ids, special_ids)
    chosen = labels != IGNORE_INDEX
    assert within_binomial(int(chosen.sum()), int(ordinary.sum()), 0.15)
    n = int(chosen.sum())
    became_mask = masked[chosen] == MASK
    became_other = (masked[chosen] != MASK) & (masked[chosen] != ids[chosen])
    # a random replacement is the original token again with probability 1/45 (45 ordinary ids)
    p_other = random_share * (1 - 1 / 45)
    assert within_binomial(int(became_mask.sum()), n, mask_share)
    assert within_binomial(int(became_other.sum()), n, p_other)
    assert within_binomial(n - int(became_mask.sum()) - int(became_other.sum()), n, 1 - mask_share - p_other)
    assert not np.isin(masked[chosen & (masked != MASK)], special_ids).any()


# ---------------------------------------------------------------------------------------------
# each rule alone
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.05, 0.15, 0.5])
def test_choose_positions_picks_each_ordinary_token_with_probability_p(p):
    rng = np.random.default_rng(3)
    ids = id_matrix(rng, 300, 200, 30, [0, 2, 3])
    chosen = choose_positions(ids, [0, 2, 3], p, np.random.default_rng(4))
    ordinary = ~np.isin(ids, [0, 2, 3])
    assert chosen.dtype == bool and chosen.shape == ids.shape
    assert not chosen[~ordinary].any()
    assert within_binomial(int(chosen.sum()), int(ordinary.sum()), p)
    # the choice is independent of the row: every row's share is near p as well (no row skipped)
    rows = chosen.sum(1) / np.maximum(ordinary.sum(1), 1)
    assert rows[ordinary.sum(1) > 100].std() < 0.1


def test_split_replacements_shares_and_disjointness():
    rng = np.random.default_rng(5)
    chosen = rng.random((500, 400)) < 0.3
    to_mask, to_random = split_replacements(chosen, np.random.default_rng(6), 0.8, 0.1)
    assert not (to_mask & to_random).any()
    assert not (to_mask & ~chosen).any() and not (to_random & ~chosen).any()
    n = int(chosen.sum())
    assert within_binomial(int(to_mask.sum()), n, 0.8)
    assert within_binomial(int(to_random.sum()), n, 0.1)
    assert within_binomial(n - int(to_mask.sum()) - int(to_random.sum()), n, 0.1)


def test_random_ordinary_ids_are_uniform_over_the_ordinary_ids():
    special = [0, 3, 7, 8, 19]
    draws = random_ordinary_ids(60_000, 20, special, np.random.default_rng(7))
    assert draws.dtype == np.int64 and draws.shape == (60_000,)
    ordinary = sorted(set(range(20)) - set(special))
    counts = np.bincount(draws, minlength=20)
    assert counts[special].sum() == 0
    assert all(within_binomial(int(counts[i]), len(draws), 1 / len(ordinary)) for i in ordinary)
    assert random_ordinary_ids(0, 5, range(5), np.random.default_rng(0)).shape == (0,)
    with pytest.raises(ValueError, match="all 5 ids are special"):
        random_ordinary_ids(3, 5, range(5), np.random.default_rng(0))


@given(st.lists(st.lists(st.integers(0, 99), min_size=3, max_size=3), min_size=1, max_size=5), st.integers(0, 1000))
def test_mlm_labels_are_the_ids_where_chosen_and_ignore_index_elsewhere(rows, seed):
    ids = np.array(rows, dtype=np.int64)
    chosen = np.random.default_rng(seed).random(ids.shape) < 0.5
    labels = mlm_labels(ids, chosen)
    assert labels.dtype == np.int64
    assert (labels[chosen] == ids[chosen]).all() and (labels[~chosen] == IGNORE_INDEX).all()


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p", [0.0, 1.0, -0.1, 1.5])
def test_mlm_probability_outside_the_open_interval_is_an_error(p):
    with pytest.raises(ValueError, match=f"mlm_probability must be strictly between 0 and 1, got {p}"):
        run_mask(np.ones((2, 3), dtype=np.int64) * 5, 10, [0, 4], 0, p)


def test_bad_arguments_are_named():
    ids = np.array([[5, 6, 7], [8, 9, 0]])
    with pytest.raises(ValueError, match=r"input_ids\[1, 1\] = 12 is outside the vocabulary \(ids 0 \.\. 9"):
        run_mask(np.array([[5, 6, 7], [8, 12, 0]]), 10, [0, 4], 0)
    with pytest.raises(ValueError, match=r"input_ids\[0, 0\] = -1"):
        run_mask(np.array([[-1, 6]]), 10, [0, 4], 0)
    with pytest.raises(ValueError, match="special id"):
        run_mask(ids, 10, [0, 4, 10], 0)
    with pytest.raises(ValueError, match="mask_replace_prob \\+ random_replace_prob"):
        run_mask(ids, 10, [0, 4], 0, mask_replace_prob=0.8, random_replace_prob=0.3)
    with pytest.raises(TypeError, match="integer token ids"):
        run_mask(ids.astype(np.float32), 10, [0, 4], 0)
    with pytest.raises(TypeError, match="np.random.default_rng"):
        mask_tokens(ids, mask_token_id=4, vocab_size=10, special_ids=[0], rng=None)


# ---------------------------------------------------------------------------------------------
# MLMCollator
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tok():
    sentences = corpus.sentences(400, seed=0)
    return WordPieceTokenizer().train(sentences, vocab_size=500)


@pytest.fixture(scope="module")
def items(tok):
    out = []
    for i, s in enumerate(corpus.sentences(40, seed=1)):
        ids, types = tok.encode_pair(s, "the end .")
        out.append({"input_ids": ids, "token_type_ids": types, "next_sentence_label": i % 2})
    return out


def as_numpy(batch):
    return {k: v.numpy() for k, v in batch.items()}


def test_collator_pads_like_collate_and_adds_labels(tok, items):
    collator = MLMCollator(tok, mlm_probability=0.3)
    batch = as_numpy(collator(items))
    plain = as_numpy(collate(items, pad_id=tok.pad_id))
    assert set(batch) == set(plain) | {"labels"}
    assert all(v.dtype == np.int64 for v in batch.values())
    for key in ("attention_mask", "token_type_ids", "next_sentence_label"):
        assert (batch[key] == plain[key]).all()
    ids, labels = plain["input_ids"], batch["labels"]
    chosen = labels != IGNORE_INDEX
    assert chosen.any()
    assert (labels[chosen] == ids[chosen]).all()
    assert (batch["input_ids"][~chosen] == ids[~chosen]).all()
    assert not np.isin(ids[chosen], special_ids_of(tok)).any()
    assert (labels[plain["attention_mask"] == 0] == IGNORE_INDEX).all()
    assert special_ids_of(tok) == [tok.token_to_id(t) for t in tok.special_tokens]


def test_collator_takes_plain_id_lists(tok):
    rows = [tok.encode(s, add_special_tokens=True) for s in corpus.sentences(8, seed=2)]
    batch = as_numpy(MLMCollator(tok, mlm_probability=0.5)(rows))
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert batch["input_ids"].shape == (8, max(map(len, rows)))


def test_fresh_masks_each_call_and_the_same_ones_after_load_state_dict(tok, items):
    collator = MLMCollator(tok, seed=3)
    labels = [as_numpy(collator(items))["labels"] for _ in range(4)]
    assert collator.state_dict()["calls"] == 4
    for a, b in zip(labels[:-1], labels[1:], strict=True):
        assert (a != b).any(), "successive calls must draw new masks"
    # a new collator with the same seed replays the same masks ...
    twin = MLMCollator(tok, seed=3)
    assert all((as_numpy(twin(items))["labels"] == lab).all() for lab in labels)
    # ... and one restored from a saved state (JSON round trip) continues where the state was saved
    state = json.loads(json.dumps({**collator.state_dict(), "calls": 2}))
    restored = MLMCollator(tok, seed=3)
    restored.load_state_dict(state)
    assert (as_numpy(restored(items))["labels"] == labels[2]).all()
    assert (as_numpy(restored(items))["labels"] == labels[3]).all()
    # another seed, other masks
    assert (as_numpy(MLMCollator(tok, seed=4)(items))["labels"] != labels[0]).any()


def test_mask_rng_depends_on_seed_and_call_only():
    assert mask_rng(1, 2).random() == mask_rng(1, 2).random()
    assert mask_rng(1, 2).random() != mask_rng(1, 3).random()
    assert mask_rng(1, 2).random() != mask_rng(2, 2).random()


def test_pad_to_multiple_of(tok, items):
    batch = as_numpy(MLMCollator(tok, pad_to_multiple_of=16)(items[:3]))
    width = max(len(item["input_ids"]) for item in items[:3])
    padded = batch["input_ids"].shape[1]
    assert padded % 16 == 0 and width <= padded < width + 16
    for key in ("input_ids", "attention_mask", "token_type_ids", "labels"):
        assert batch[key].shape == (3, padded)
    assert (batch["input_ids"][:, width:] == tok.pad_id).all()
    assert (batch["attention_mask"][:, width:] == 0).all() and (batch["token_type_ids"][:, width:] == 0).all()
    assert (batch["labels"][:, width:] == IGNORE_INDEX).all()


def test_collator_on_device(tok, items, device):
    batch = MLMCollator(tok, device=device)(items[:4])
    assert all(v.device == device and v.dtype == minilm.int64 for v in batch.values())


def test_collator_errors(tok, items):
    no_mask = WordPieceTokenizer(special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]).train(
        corpus.sentences(50), vocab_size=100
    )
    with pytest.raises(ValueError, match=r"no \[MASK\] token"):
        MLMCollator(no_mask)
    with pytest.raises(ValueError, match="no vocabulary"):
        MLMCollator(WordPieceTokenizer())
    with pytest.raises(ValueError, match="mlm_probability"):
        MLMCollator(tok, mlm_probability=1.0)
    with pytest.raises(ValueError, match="pad_to_multiple_of"):
        MLMCollator(tok, pad_to_multiple_of=0)
    with pytest.raises(ValueError, match="already has 'labels'"):
        MLMCollator(tok)([{"input_ids": [2, 7, 3], "labels": [1, 1, 1]}])
    with pytest.raises(ValueError, match=f"outside the vocabulary .*vocab_size={tok.vocab_size}"):
        MLMCollator(tok)([[2, tok.vocab_size + 3, 3]])
    collator = MLMCollator(tok, seed=1)
    with pytest.raises(ValueError, match="saved with seed=2"):
        collator.load_state_dict({"calls": 3, "seed": 2})
    with pytest.raises(KeyError, match="calls"):
        collator.load_state_dict({"seed": 1})
    with pytest.raises(ValueError, match="non-negative integer"):
        collator.load_state_dict({"calls": -1})
    collator.load_state_dict({"calls": np.array(5)})
    assert collator.calls == 5


def test_dataloader_with_collator_gives_new_masks_each_epoch_and_resumes_exactly(tok, items):
    def run(batches_before_stop=None, state=None):
        collator = MLMCollator(tok, seed=7)
        loader = DataLoader(items, batch_size=8, shuffle=True, seed=5, collate_fn=collator)
        if state is not None:
            loader.load_state_dict(state["loader"])
            collator.load_state_dict(state["collator"])
        seen = []
        for _ in range(2):
            for batch in loader:
                seen.append(as_numpy(batch))
                if batches_before_stop is not None and len(seen) == batches_before_stop:
                    return seen, {"loader": loader.state_dict(), "collator": collator.state_dict()}
        return seen, None

    full, _ = run()
    assert len(full) == 10
    # same items in epoch 0 and 1, but not the same masks
    first = {tuple(r) for b in full[:5] for r in b["labels"].tolist()}
    second = {tuple(r) for b in full[5:] for r in b["labels"].tolist()}
    assert first != second
    head, state = run(batches_before_stop=3)
    state = json.loads(json.dumps(state))
    tail, _ = run(state=state)
    resumed = head + tail[: len(full) - 3]
    assert len(resumed) == len(full)
    for a, b in zip(full, resumed, strict=True):
        assert set(a) == set(b) and all((a[k] == b[k]).all() for k in a)
