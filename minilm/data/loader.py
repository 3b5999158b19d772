"""Batches for the models: padding, collating, seeded shuffling, length buckets, LM windows.

A model trains on many examples at once, held in one int64 tensor of shape (batch, time). Text
comes in two shapes, and each needs its own batching:

- **Separate sequences** (sentences, reviews, BERT inputs) have different lengths. ``pad_sequences``
  fills the short ones up with a padding id and returns an ``attention_mask`` that says which
  positions are real; ``collate`` does this for every field of a batch; ``DataLoader`` walks a
  dataset in a seeded random order and hands out collated batches::

      >>> from minilm.data.loader import DataLoader
      >>> loader = DataLoader([[5, 6, 7], [8], [9, 10]], batch_size=2)
      >>> batch = next(iter(loader))
      >>> batch["input_ids"].tolist(), batch["attention_mask"].tolist()
      ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])

- **One long stream** (a language-modelling corpus such as WikiText-2) is cut into ``batch_size``
  rows by ``batchify``; ``LMWindows`` walks over the rows in windows of ``bptt`` steps and gives
  (input, target) pairs, the target being the input shifted by one token (chapter 04).

Batches come back as minilm tensors on the device you ask for. The padding lives in
``minilm.data.collate`` and the windows in ``minilm.data.lm_windows``; this module gives all of
it under one name.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from minilm import backend
from minilm.data.collate import IGNORE_INDEX, PAD_VALUES, _check_positive, collate, pad_sequences
from minilm.data.lm_windows import LMWindows, batchify

__all__ = ["IGNORE_INDEX", "PAD_VALUES", "DataLoader", "LMWindows", "batchify", "collate", "pad_sequences"]


# ---------------------------------------------------------------------------------------------
# the order of an epoch: shuffling, buckets, batches
# ---------------------------------------------------------------------------------------------


def epoch_rng(seed: int, epoch: int) -> np.random.Generator:
    """The random generator of one epoch, made from the pair (seed, epoch).

    Seeding with both numbers gives every epoch its own order, and the same order every time the
    same epoch is replayed: after a restart, on another machine, or out of sequence
    (``set_epoch``). NumPy keeps the bits of ``default_rng`` stable across versions; a new NumPy
    may in principle change how ``permutation`` uses them (NEP 19), so pin NumPy to compare runs
    bit for bit.
    """
    return np.random.default_rng([int(seed), int(epoch)])


def split_into_batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Cut an index order into consecutive batches of ``batch_size`` (the last may be shorter)."""
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def bucket_batches(order, lengths, batch_size, bucket_size, rng=None) -> list[np.ndarray]:
    """Batches of items of similar length, from an index ``order`` (usually already shuffled).

    1. cut ``order`` into pools of ``bucket_size * batch_size`` items;
    2. sort each pool by length (a stable sort: equal lengths keep their shuffled order);
    3. cut each sorted pool into batches;
    4. shuffle the order of all the batches with ``rng`` (``None``: keep it).

    Items in one batch now have similar lengths, so little of the batch is padding, yet which items
    meet in a batch still changes from epoch to epoch. The trade-off: a batch is no longer a
    uniform random sample (its items are all short or all long), which adds a little bias to each
    gradient step; a bigger ``bucket_size`` saves more padding and mixes less. ``bucket_size=1``
    sorts within each batch only, which changes nothing but the order of rows.
    """
    lengths = np.asarray(lengths)
    pool = bucket_size * batch_size
    batches = []
    for start in range(0, len(order), pool):
        chunk = np.asarray(order[start : start + pool])
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(split_into_batches(chunk, batch_size))
    if rng is not None:
        batches = [batches[i] for i in rng.permutation(len(batches))]
    return batches


def _item_length(item, index: int) -> int:
    """The length used for bucketing: ``len(item)``, or ``len(item["input_ids"])`` for a dict."""
    try:
        return len(item["input_ids"]) if isinstance(item, Mapping) else len(item)
    except (TypeError, KeyError):
        raise TypeError(
            f"DataLoader: cannot measure the length of item {index} ({type(item).__name__}) for bucketing; "
            "pass lengths=[...] with one length per item"
        ) from None


# ---------------------------------------------------------------------------------------------
# the loader
# ---------------------------------------------------------------------------------------------


class DataLoader:
    """Walk a dataset in batches: ``for batch in DataLoader(dataset, batch_size=32, shuffle=True)``.

    ``dataset`` is any sequence (``len`` and ``dataset[i]``). Each batch is
    ``collate_fn([dataset[i] for i in batch_indices])``; the default ``collate_fn`` is ``collate``
    with this loader's ``pad_id`` and ``device`` (they are unused when you pass your own).

    **Shuffling is seeded.** Epoch ``e`` uses the permutation drawn from the pair ``(seed, e)``
    (``epoch_rng``), so the same seed gives the same batches on every machine and every run. A pass
    that runs to the end (a ``for`` loop that is not broken off) moves on to the next epoch;
    ``set_epoch(e)`` jumps to epoch ``e``. A new pass started before the last one ended starts the
    current epoch over (so peeking with ``next(iter(loader))`` skips nothing).

    **Length bucketing** (``bucket_size=k``): see ``bucket_batches``; pools of ``k * batch_size``
    items are sorted by length, so a batch holds items of similar length and wastes little padding.
    Lengths are measured once from the items (or given as ``lengths=[...]``).

    ``drop_last=True`` drops the ``len(dataset) % batch_size`` items at the end of the epoch's
    order (different items each epoch when shuffling), so every batch is full.

    **Resuming.** ``state_dict()`` records the epoch and how many of its batches were handed out.
    Save it after the step that used a batch; a loader restored with ``load_state_dict`` continues
    with exactly the batches an uninterrupted loader would have given next. Only one pass at a
    time: an iterator left behind by a newer pass (or by ``set_epoch``/``load_state_dict``) raises
    if you try to continue it.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        seed=0,
        drop_last=False,
        collate_fn=None,
        bucket_size=None,
        pad_id=0,
        device="cpu",
        lengths=None,
    ):
        self.dataset = dataset
        self.batch_size = _check_positive("batch_size", batch_size, "DataLoader")
        self.bucket_size = None if bucket_size is None else _check_positive("bucket_size", bucket_size, "DataLoader")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"DataLoader: seed must be a non-negative integer, got {seed!r}")
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.pad_id = pad_id
        self.device = backend.device(device)
        self.collate_fn = collate_fn if collate_fn is not None else self._default_collate
        self._lengths_given = lengths is not None
        self._lengths = None if lengths is None else np.asarray(lengths, dtype=np.int64).reshape(-1)
        self._epoch = 0
        self._yielded = 0  # batches of the current epoch handed out so far
        self._resume = False  # the next pass continues at _yielded instead of 0
        self._pass = 0  # which pass is the current one; older iterators are stale

    def _default_collate(self, items):
        return collate(items, pad_id=self.pad_id, device=self.device)

    def __len__(self) -> int:
        """The number of batches in one epoch."""
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch the next pass will walk (or the one being walked)."""
        return self._epoch

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass walk epoch ``epoch`` from its first batch."""
        if not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool) or epoch < 0:
            raise ValueError(f"DataLoader.set_epoch: epoch must be a non-negative integer, got {epoch!r}")
        self._epoch, self._yielded, self._resume = int(epoch), 0, False
        self._pass += 1

    def lengths(self) -> np.ndarray:
        """The length of every item, used by bucketing: the ``lengths`` you gave, or measured from the
        items once (and again only if the dataset changes size)."""
        n = len(self.dataset)
        if self._lengths is None or len(self._lengths) != n:
            if self._lengths_given:
                raise ValueError(f"DataLoader: lengths has {len(self._lengths)} entries but the dataset has {n} items")
            self._lengths = np.array([_item_length(self.dataset[i], i) for i in range(n)], dtype=np.int64)
        return self._lengths

    def batch_indices(self, epoch: int | None = None) -> list[np.ndarray]:
        """The dataset indices of every batch of ``epoch`` (default: the current one), in order."""
        epoch = self._epoch if epoch is None else epoch
        n = len(self.dataset)
        rng = epoch_rng(self.seed, epoch) if self.shuffle else None
        order = rng.permutation(n) if rng is not None else np.arange(n)
        if self.drop_last:
            order = order[: n - n % self.batch_size]
        if self.bucket_size is None:
            return split_into_batches(order, self.batch_size)
        return bucket_batches(order, self.lengths(), self.batch_size, self.bucket_size, rng)

    def __iter__(self):
        start = self._yielded if self._resume else 0
        self._yielded, self._resume = start, False
        self._pass += 1
        return self._walk(self._pass, self._epoch, start)

    def _walk(self, token, epoch, start):
        batches = self.batch_indices(epoch)
        for b in range(start, len(batches)):
            self._check_current(token)
            batch = self.collate_fn([self.dataset[int(i)] for i in batches[b]])
            self._yielded = b + 1
            yield batch
        self._check_current(token)
        self._epoch, self._yielded = epoch + 1, 0

    def _check_current(self, token):
        if token != self._pass:
            raise RuntimeError(
                "DataLoader: this iterator is stale: a newer pass started (iter() again, set_epoch or "
                "load_state_dict) and owns the loader's position now; use one pass at a time"
            )

    def state_dict(self) -> dict:
        """Where the loader stands, as JSON-ready ints: ``epoch`` and ``batches_yielded`` (in that
        epoch), plus ``seed``, ``batch_size`` and ``dataset_length`` to check the restoring loader."""
        return {
            "epoch": self._epoch,
            "batches_yielded": self._yielded,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "dataset_length": len(self.dataset),
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from ``state``: the next pass starts at batch ``batches_yielded`` of ``epoch``."""
        for key in ("epoch", "batches_yielded"):
            if key not in state:
                raise KeyError(f"DataLoader.load_state_dict: the state has no {key!r} (keys: {sorted(state)})")
        mine = self.state_dict()
        for key in ("seed", "batch_size", "dataset_length"):
            if key in state and state[key] != mine[key]:
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was saved with {key}={state[key]} but this loader has "
                    f"{key}={mine[key]}; build the loader as it was built when the state was saved"
                )
        epoch, done = state["epoch"], state["batches_yielded"]
        self.set_epoch(epoch)
        if not isinstance(done, (int, np.integer)) or isinstance(done, bool) or not 0 <= done <= len(self):
            raise ValueError(
                f"DataLoader.load_state_dict: batches_yielded must be an integer in 0..{len(self)}, got {done!r}"
            )
        self._yielded, self._resume = int(done), True
