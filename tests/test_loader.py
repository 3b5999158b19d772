"""Batching: padding and masks, collate, the seeded DataLoader (buckets, drop_last, resume), LM windows."""

import itertools
import json
import string

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minilm
from minilm.data.loader import (
    IGNORE_INDEX,
    DataLoader,
    LMWindows,
    batchify,
    bucket_batches,
    collate,
    pad_sequences,
)

id_lists = st.lists(st.lists(st.integers(0, 50), max_size=12), min_size=1, max_size=8)


def indexed_dataset(lengths, seed=0):
    """Items with random token ids of the given lengths and an ``index`` field naming the item."""
    rng = np.random.default_rng(seed)
    return [{"input_ids": rng.integers(5, 100, size=n).tolist(), "index": i} for i, n in enumerate(lengths)]


def indices_of(batches):
    """The item indices of each batch, from the ``index`` field the default collate stacked."""
    return [b["index"].tolist() for b in batches]


def padding_in(batches, lengths):
    """Padded positions in total: batch size times the longest length, minus the real tokens."""
    return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b) for b in batches)


# ---------------------------------------------------------------------------------------------
# pad_sequences
# ---------------------------------------------------------------------------------------------


@given(id_lists, st.integers(-5, 5))
def test_pad_sequences_places_tokens_padding_and_mask(seqs, pad_id):
    ids, mask = pad_sequences(seqs, pad_id=pad_id)
    longest = max(len(s) for s in seqs)
    assert ids.shape == mask.shape == (len(seqs), longest)
    assert ids.dtype == mask.dtype == np.int64
    assert mask.sum(axis=1).tolist() == [len(s) for s in seqs]
    for row, s in enumerate(seqs):
        assert ids[row, : len(s)].tolist() == s
        assert (ids[row, len(s) :] == pad_id).all()
        assert mask[row].tolist() == [1] * len(s) + [0] * (longest - len(s))


def test_pad_sequences_to_max_length_and_truncation():
    ids, mask = pad_sequences([[1, 2], [3]], pad_id=9, max_length=4)
    assert ids.tolist() == [[1, 2, 9, 9], [3, 9, 9, 9]]
    assert mask.tolist() == [[1, 1, 0, 0], [1, 0, 0, 0]]
    ids, mask = pad_sequences([[1, 2, 3, 4, 5], [6]], max_length=3, truncation=True)
    assert ids.tolist() == [[1, 2, 3], [6, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


def test_pad_sequences_accepts_arrays_and_tensors():
    ids, _ = pad_sequences([np.array([4, 5], dtype=np.int32), minilm.tensor([6]), (7, 8, 9)])
    assert ids.tolist() == [[4, 5, 0], [6, 0, 0], [7, 8, 9]]


def test_pad_sequences_agrees_with_torch():
    torch = pytest.importorskip("torch")
    seqs = [[3, 1, 4, 1, 5], [9, 2], [6, 5, 3, 5], [8]]
    ids, mask = pad_sequences(seqs, pad_id=7)
    expected = torch.nn.utils.rnn.pad_sequence([torch.tensor(s) for s in seqs], batch_first=True, padding_value=7)
    assert ids.tolist() == expected.tolist()
    lengths = torch.tensor([len(s) for s in seqs])
    key_padding_mask = torch.arange(ids.shape[1])[None, :] >= lengths[:, None]  # PyTorch: True = padding
    assert (mask == 0).tolist() == key_padding_mask.tolist()


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match=r"sequence 2 has length 5 > max_length=3.*truncation=True"):
        pad_sequences([[1], [2, 3], [1, 2, 3, 4, 5]], max_length=3)
    with pytest.raises(ValueError, match="no sequences"):
        pad_sequences([])
    with pytest.raises(ValueError, match="needs a max_length"):
        pad_sequences([[1]], truncation=True)
    with pytest.raises(ValueError, match="max_length must be"):
        pad_sequences([[1]], max_length=-1)
    with pytest.raises(TypeError, match=r"sequence 1 must hold integer token ids.*float64"):
        pad_sequences([[1], [0.5, 2.0]])
    with pytest.raises(TypeError, match="pad_id must be an integer token id, got 0.5"):
        pad_sequences([[1]], pad_id=0.5)
    with pytest.raises(ValueError, match=r"sequence 0 must be a flat sequence.*\(2, 2\)"):
        pad_sequences([[[1, 2], [3, 4]]])


# ---------------------------------------------------------------------------------------------
# collate
# ---------------------------------------------------------------------------------------------


def test_collate_token_lists():
    batch = collate([[5, 6, 7], [8]], pad_id=1)
    assert set(batch) == {"input_ids", "attention_mask"}
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 1, 1]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_collate_dicts_pads_per_token_fields_and_stacks_scalars():
    items = [
        {"input_ids": [2, 7, 8, 3], "token_type_ids": [0, 0, 1, 1], "labels": [-100, 7, -100, -100], "label": 1},
        {"input_ids": [2, 3], "token_type_ids": [0, 0], "labels": [4, 5], "label": 0},
    ]
    batch = collate(items)
    assert list(batch) == ["input_ids", "attention_mask", "token_type_ids", "labels", "label"]
    assert batch["input_ids"].tolist() == [[2, 7, 8, 3], [2, 3, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1], [1, 1, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 1, 1], [0, 0, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 7, -100, -100], [4, 5, IGNORE_INDEX, IGNORE_INDEX]]
    assert batch["label"].shape == (2,) and batch["label"].tolist() == [1, 0]


def test_collate_keeps_an_attention_mask_the_items_bring():
    batch = collate([{"input_ids": [4, 5, 6], "attention_mask": [1, 1, 0]}, {"input_ids": [4], "attention_mask": [1]}])
    assert batch["attention_mask"].tolist() == [[1, 1, 0], [1, 0, 0]]


def test_collate_returns_int64_tensors_on_the_device(device):
    batch = collate([{"input_ids": [3, 4], "label": 1}, {"input_ids": [5], "label": 0}], device=device)
    for value in batch.values():
        assert isinstance(value, minilm.Tensor)
        assert value.dtype == minilm.int64
        assert value.device == device


def test_collate_errors():
    with pytest.raises(ValueError, match=r"item 1 has keys.*missing \['label'\], extra \['lable'\]"):
        collate([{"input_ids": [1], "label": 0}, {"input_ids": [2], "lable": 1}])
    with pytest.raises(ValueError, match="'input_ids'"):
        collate([{"ids": [1]}])
    with pytest.raises(ValueError, match=r"item 1: field 'labels' has 1 values but input_ids has 2 tokens"):
        collate([{"input_ids": [1], "labels": [1]}, {"input_ids": [1, 2], "labels": [1]}])
    with pytest.raises(ValueError, match=r"field 'label' is a single value in item 0 but a sequence in item 1"):
        collate([{"input_ids": [1], "label": 0}, {"input_ids": [2], "label": [1]}])
    with pytest.raises(TypeError, match=r"field 'score' holds float64"):
        collate([{"input_ids": [1], "score": 0.5}])
    with pytest.raises(TypeError, match="item 1 is a dict but item 0 is a list"):
        collate([[1, 2], {"input_ids": [3]}])
    with pytest.raises(ValueError, match="empty batch"):
        collate([])


# ---------------------------------------------------------------------------------------------
# DataLoader: coverage, seeds and epochs
# ---------------------------------------------------------------------------------------------

loader_configs = st.fixed_dictionaries(
    {
        "batch_size": st.integers(1, 9),
        "shuffle": st.booleans(),
        "seed": st.integers(0, 2**32),
        "bucket_size": st.one_of(st.none(), st.integers(1, 4)),
    }
)


@given(st.lists(st.integers(0, 20), max_size=60), loader_configs, st.integers(0, 5))
def test_every_item_once_per_epoch(lengths, config, epoch):
    loader = DataLoader(indexed_dataset(lengths), **config)
    loader.set_epoch(epoch)
    batches = indices_of(loader)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert len(batches) == len(loader) == -(-len(lengths) // config["batch_size"])
    assert sum(len(b) < config["batch_size"] for b in batches) <= 1
    assert loader.epoch == epoch + 1


@given(st.lists(st.integers(0, 20), max_size=60), loader_configs)
def test_drop_last_gives_only_full_batches_of_distinct_items(lengths, config):
    loader = DataLoader(indexed_dataset(lengths), drop_last=True, **config)
    batches = indices_of(loader)
    bs = config["batch_size"]
    assert len(batches) == len(loader) == len(lengths) // bs
    assert all(len(b) == bs for b in batches)
    seen = [i for b in batches for i in b]
    assert len(set(seen)) == len(seen) == len(lengths) - len(lengths) % bs


def test_drop_last_small_example():
    loader = DataLoader(list(range(10)), batch_size=3, collate_fn=list, drop_last=True)
    assert list(loader) == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert [len(b) for b in DataLoader(list(range(10)), batch_size=3, collate_fn=list)] == [3, 3, 3, 1]


def test_no_shuffle_keeps_dataset_order():
    loader = DataLoader([[1], [2, 2], [3], [4], [5]], batch_size=2)
    assert [b["input_ids"].tolist() for b in loader] == [[[1, 0], [2, 2]], [[3], [4]], [[5]]]


@pytest.mark.parametrize("bucket_size", [None, 3])
def test_seeds_and_epochs_decide_the_order(bucket_size):
    data = indexed_dataset(np.random.default_rng(1).integers(1, 30, size=40))

    def two_epochs(seed):
        loader = DataLoader(data, batch_size=4, shuffle=True, seed=seed, bucket_size=bucket_size)
        return indices_of(loader), indices_of(loader)

    first, second = two_epochs(seed=7)
    assert two_epochs(seed=7) == (first, second)  # same seed: same batches, epoch after epoch
    assert first != second  # each pass is a new epoch with a new order
    assert two_epochs(seed=8)[0] != first  # another seed: another order
    replay = DataLoader(data, batch_size=4, shuffle=True, seed=7, bucket_size=bucket_size)
    replay.set_epoch(1)
    assert indices_of(replay) == second


def test_a_broken_off_pass_does_not_advance_the_epoch():
    loader = DataLoader(indexed_dataset([3] * 10), batch_size=3, shuffle=True, seed=3)
    full = indices_of(DataLoader(indexed_dataset([3] * 10), batch_size=3, shuffle=True, seed=3))
    assert next(iter(loader))["index"].tolist() == full[0]  # a peek
    assert loader.epoch == 0
    assert indices_of(loader) == full  # the next pass starts epoch 0 over


# ---------------------------------------------------------------------------------------------
# bucketing
# ---------------------------------------------------------------------------------------------


def test_bucketing_wastes_less_padding_and_still_covers_every_item():
    lengths = np.random.default_rng(0).integers(1, 65, size=256).tolist()
    data = indexed_dataset(lengths)
    plain = DataLoader(data, batch_size=16, shuffle=True, seed=5)
    bucketed = DataLoader(data, batch_size=16, shuffle=True, seed=5, bucket_size=8)
    plain_batches, bucketed_batches = indices_of(plain), indices_of(bucketed)
    assert sorted(i for b in bucketed_batches for i in b) == list(range(256))
    assert padding_in(bucketed_batches, lengths) < padding_in(plain_batches, lengths) / 2
    # the padding the collated batches really hold agrees with the count from the indices
    bucketed.set_epoch(0)
    real = sum(int((b["attention_mask"].numpy() == 0).sum()) for b in bucketed)
    assert real == padding_in(bucketed_batches, lengths)


def test_one_pool_sorts_the_whole_epoch_into_non_overlapping_length_ranges():
    lengths = np.random.default_rng(2).integers(1, 100, size=40)
    batches = bucket_batches(np.random.default_rng(3).permutation(40), lengths, batch_size=5, bucket_size=8)
    ranges = sorted((lengths[b].min(), lengths[b].max()) for b in batches)
    assert all(hi <= next_lo for (_, hi), (next_lo, _) in itertools.pairwise(ranges))


def test_bucketed_batches_come_in_random_order_only_when_shuffling():
    lengths = np.random.default_rng(4).integers(1, 100, size=60).tolist()
    data = indexed_dataset(lengths)

    def shortest_per_batch(loader):
        return [min(lengths[i] for i in b) for b in indices_of(loader)]

    unshuffled = shortest_per_batch(DataLoader(data, batch_size=5, bucket_size=12))  # one pool, sorted
    assert unshuffled == sorted(unshuffled)
    shuffled = shortest_per_batch(DataLoader(data, batch_size=5, bucket_size=12, shuffle=True, seed=0))
    assert sorted(shuffled) == sorted(unshuffled)  # one pool either way: the same batches ...
    assert shuffled != unshuffled  # ... in a shuffled order, not shortest first


def test_bucketing_uses_given_lengths_and_checks_them():
    words = ["a", "bb", "ccc", "dddd"]
    loader = DataLoader(words, batch_size=2, collate_fn=list, bucket_size=2, lengths=[4, 3, 2, 1])
    assert list(loader) == [["dddd", "ccc"], ["bb", "a"]]
    with pytest.raises(ValueError, match="lengths has 3 entries but the dataset has 4 items"):
        list(DataLoader(words, batch_size=2, collate_fn=list, bucket_size=2, lengths=[1, 2, 3]))
    with pytest.raises(TypeError, match=r"length of item 0 \(int\).*lengths="):
        list(DataLoader([1, 2, 3], bucket_size=2, collate_fn=list))


def test_loader_argument_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        DataLoader([[1]], batch_size=0)
    with pytest.raises(ValueError, match="bucket_size must be a positive integer"):
        DataLoader([[1]], bucket_size=0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        DataLoader([[1]], seed=-1)
    with pytest.raises(ValueError, match="unknown device"):
        DataLoader([[1]], device="tpu")


def test_loader_batches_on_the_device(device):
    batch = next(iter(DataLoader([[1, 2], [3]], batch_size=2, device=device)))
    assert batch["input_ids"].device == device and batch["input_ids"].dtype == minilm.int64


# ---------------------------------------------------------------------------------------------
# resuming mid-epoch
# ---------------------------------------------------------------------------------------------


@given(st.lists(st.integers(0, 12), max_size=40), loader_configs, st.booleans(), st.data())
def test_a_restored_loader_continues_with_the_same_batches(lengths, config, drop_last, data):
    dataset = indexed_dataset(lengths)
    reference = DataLoader(dataset, drop_last=drop_last, **config)
    uninterrupted = [b for _ in range(3) for b in indices_of(reference)]  # three whole epochs
    per_epoch = len(reference)
    stop = data.draw(st.integers(0, 2 * per_epoch), label="batches before the interruption")

    loader, taken = DataLoader(dataset, drop_last=drop_last, **config), 0
    state = loader.state_dict()
    while taken < stop:  # run for `stop` batches, perhaps across an epoch boundary, then save
        for _ in loader:
            taken += 1
            if taken == stop:
                state = json.loads(json.dumps(loader.state_dict()))
                break
    assert all(type(v) is int for v in state.values())

    restored = DataLoader(dataset, drop_last=drop_last, **config)
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    rest = []
    while restored.epoch < 3:
        rest += indices_of(restored)
    assert rest == uninterrupted[stop:]


def test_state_dict_counts_the_batches_handed_out():
    loader = DataLoader(list(range(10)), batch_size=4, collate_fn=list)
    assert loader.state_dict()["epoch"] == 0 and loader.state_dict()["batches_yielded"] == 0
    it = iter(loader)
    next(it)
    next(it)
    assert loader.state_dict()["batches_yielded"] == 2
    assert list(it) == [[8, 9]]
    assert (loader.state_dict()["epoch"], loader.state_dict()["batches_yielded"]) == (1, 0)


def test_a_stale_iterator_refuses_to_go_on():
    loader = DataLoader(list(range(10)), batch_size=2, collate_fn=list)
    old = iter(loader)
    next(old)
    new = iter(loader)
    with pytest.raises(RuntimeError, match="stale"):
        next(old)
    assert next(new) == [0, 1]


def test_load_state_dict_errors():
    loader = DataLoader(list(range(10)), batch_size=2, seed=1, collate_fn=list)
    with pytest.raises(KeyError, match="batches_yielded"):
        loader.load_state_dict({"epoch": 0})
    with pytest.raises(ValueError, match=r"batches_yielded must be an integer in 0..5, got 6"):
        loader.load_state_dict({"epoch": 0, "batches_yielded": 6})
    with pytest.raises(ValueError, match=r"saved with seed=2 but this loader has seed=1"):
        loader.load_state_dict({"epoch": 0, "batches_yielded": 1, "seed": 2})
    with pytest.raises(ValueError, match=r"saved with dataset_length=12"):
        loader.load_state_dict({"epoch": 0, "batches_yielded": 1, "dataset_length": 12})
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        loader.load_state_dict({"epoch": -1, "batches_yielded": 0})


# ---------------------------------------------------------------------------------------------
# batchify and LMWindows
# ---------------------------------------------------------------------------------------------

ALPHABET = list(range(26))  # a..z as ids 0..25


def letters(rows):
    return ["".join(string.ascii_lowercase[i] for i in row) for row in np.asarray(rows).tolist()]


def test_batchify_the_alphabet():
    rows = batchify(ALPHABET, 4)
    assert rows.shape == (4, 6) and rows.dtype == np.int64
    assert letters(rows) == ["abcdef", "ghijkl", "mnopqr", "stuvwx"]


@given(st.integers(1, 200), st.integers(1, 12))
def test_batchify_rows_are_consecutive_pieces_of_the_stream(n_tokens, batch_size):
    stream = np.random.default_rng(n_tokens).integers(0, 1000, size=n_tokens)
    if n_tokens < batch_size:
        with pytest.raises(ValueError, match=f"stream of {n_tokens} tokens is too short for batch_size={batch_size}"):
            batchify(stream, batch_size)
        return
    rows = batchify(stream, batch_size)
    width = n_tokens // batch_size
    assert rows.shape == (batch_size, width)
    assert rows.reshape(-1).tolist() == stream[: width * batch_size].tolist()  # row i+1 goes on where row i ends


def test_lm_windows_of_the_alphabet():
    windows = LMWindows(ALPHABET, batch_size=4, bptt=2)
    assert len(windows) == 3
    got = [(letters(x.numpy()), letters(y.numpy())) for x, y in windows]
    assert got == [
        (["ab", "gh", "mn", "st"], ["bc", "hi", "no", "tu"]),
        (["cd", "ij", "op", "uv"], ["de", "jk", "pq", "vw"]),
        (["e", "k", "q", "w"], ["f", "l", "r", "x"]),
    ]


@given(st.integers(2, 300), st.integers(1, 8), st.integers(1, 20))
def test_lm_windows_shift_by_one_and_tile_the_rows(n_tokens, batch_size, bptt):
    stream = np.random.default_rng(n_tokens).integers(0, 500, size=n_tokens)
    if n_tokens // batch_size < 2:
        with pytest.raises(ValueError, match=f"stream of {n_tokens} tokens gives rows of {n_tokens // batch_size}"):
            LMWindows(stream, batch_size, bptt)
        return
    windows = LMWindows(stream, batch_size, bptt)
    rows = stream[: (n_tokens // batch_size) * batch_size].reshape(batch_size, -1)
    pairs = list(windows)
    assert len(pairs) == len(windows) == len(range(0, rows.shape[1] - 1, bptt))
    for k, (x, y) in enumerate(pairs):
        assert x.dtype == y.dtype == minilm.int64 and x.device == "cpu"
        assert x.shape == y.shape and x.shape[0] == batch_size
        T = x.shape[1]
        assert (T == bptt) if k < len(pairs) - 1 else (1 <= T <= bptt)
        assert (y.numpy()[:, :-1] == x.numpy()[:, 1:]).all()  # the target is the input one step on
    inputs = np.concatenate([x.numpy() for x, _ in pairs], axis=1)
    targets = np.concatenate([y.numpy() for _, y in pairs], axis=1)
    assert (inputs == rows[:, :-1]).all() and (targets == rows[:, 1:]).all()
    assert (windows[-1][0].numpy() == pairs[-1][0].numpy()).all()


def test_lm_windows_on_the_device(device):
    x, y = LMWindows(np.arange(40), batch_size=2, bptt=5, device=device)[1]
    assert x.device == y.device == device and x.dtype == minilm.int64
    assert x.tolist() == [[5, 6, 7, 8, 9], [25, 26, 27, 28, 29]]
    assert y.tolist() == [[6, 7, 8, 9, 10], [26, 27, 28, 29, 30]]


def test_lm_windows_and_batchify_errors():
    with pytest.raises(ValueError, match="batchify: batch_size must be a positive integer, got 0"):
        batchify(ALPHABET, 0)
    with pytest.raises(ValueError, match="LMWindows: batch_size must be a positive integer, got 0"):
        LMWindows(ALPHABET, 0, 5)
    with pytest.raises(ValueError, match="LMWindows: bptt must be a positive integer, got 0"):
        LMWindows(ALPHABET, 2, 0)
    with pytest.raises(ValueError, match=r"stream of 7 tokens gives rows of 1 tokens with batch_size=4.*at least 8"):
        LMWindows(list(range(7)), 4, 3)
    with pytest.raises(TypeError, match="integer token ids"):
        batchify([0.5, 1.5], 1)
    with pytest.raises(ValueError, match="flat sequence"):
        batchify([[1, 2], [3, 4]], 1)
    windows = LMWindows(ALPHABET, 4, 2)
    with pytest.raises(IndexError, match="window 3 is out of range for 3 windows"):
        windows[3]
