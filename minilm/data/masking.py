"""Masked language modelling (MLM): hide some tokens of a batch and ask the model to guess them.

BERT learns from unlabelled text by a fill-in-the-blanks game. In every batch, about 15% of the
ordinary tokens are *chosen*; the model sees the batch with the chosen tokens disguised and must
predict the original token at each chosen position. The disguise follows the 80/10/10 rule:

    a chosen token becomes  [MASK]                  with probability 0.8
                            a random ordinary token with probability 0.1
                            itself (unchanged)      with probability 0.1

Why not always ``[MASK]``? Because ``[MASK]`` never appears when the model is later fine-tuned or
used. If every prediction were made at a ``[MASK]``, the model could learn to pay attention to the
token under a position only when it is ``[MASK]``, and would have nothing useful to say about a
real token. The 10% random tokens force it to doubt every token it sees (any one might be wrong),
and the 10% unchanged ones tell it that the token it sees is often the right answer.

The loss is computed only at the chosen positions: the ``labels`` hold the original id there and
``-100`` (``IGNORE_INDEX``, the value ``cross_entropy`` skips) everywhere else. Special tokens
(``[CLS]``, ``[SEP]``, ``[PAD]``, ...) are never chosen: there is nothing to learn in guessing them.

For a batch of ids (N, L)::

    input_ids          [CLS] the  cook baked a    pie  .    [SEP] [PAD]
    chosen (~15%)             .    x    .     .    x    .
    masked_input_ids   [CLS] the  [MASK] baked a  pie  .    [SEP] [PAD]     ("pie": the unchanged 10%)
    labels             -100  -100 cook -100  -100 pie  -100 -100  -100

Each rule is a small function of its own, so that it can be read, tested and rewritten alone:
``choose_positions`` (which tokens take part), ``split_replacements`` (80/10/10),
``random_ordinary_ids`` (the random tokens), ``mlm_labels`` (what the loss sees). ``mask_tokens``
runs them in order. ``MLMCollator`` does it for every batch a ``DataLoader`` hands out, with fresh
masks at each call that are still reproducible (``mask_rng``).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping

import numpy as np

from minilm.creation import tensor
from minilm.data.collate import IGNORE_INDEX, PAD_VALUES, collate

__all__ = [
    "MLMCollator",
    "choose_positions",
    "mask_rng",
    "mask_tokens",
    "mlm_labels",
    "random_ordinary_ids",
    "special_ids_of",
    "split_replacements",
]

#: A constant mixed into the seed of the masks, so that the masks of call ``c`` and the shuffled
#: order of epoch ``c`` (``loader.epoch_rng(seed, c)``) never come from the same random stream even
#: when the loader and the collator are given the same seed. (The value spells "MLM" in ASCII.)
_MASK_STREAM = 0x4D4C4D


# ---------------------------------------------------------------------------------------------
# the rules, one small function each
# ---------------------------------------------------------------------------------------------


def choose_positions(input_ids: np.ndarray, special_ids, mlm_probability: float, rng: np.random.Generator):
    """Which tokens take part in the game: a boolean array shaped like ``input_ids``.

    Each position holding an ordinary token is chosen independently with probability
    ``mlm_probability``; a position holding one of ``special_ids`` (padding included) never is::

        chosen[i, t] = (u[i, t] < p)  and  input_ids[i, t] not in special_ids,   u ~ Uniform[0, 1)

    So the number of chosen tokens is random (binomial, mean ``p`` times the ordinary tokens), as in
    Hugging Face's collator; Google's original BERT code instead picks exactly ``round(p * n)`` per
    sequence. One ``rng.random`` draw covers the whole array, special positions included, so the
    draws do not depend on where the special tokens are.
    """
    ordinary = ~np.isin(input_ids, special_ids)
    return (rng.random(input_ids.shape) < mlm_probability) & ordinary


def split_replacements(chosen: np.ndarray, rng: np.random.Generator, mask_replace_prob=0.8, random_replace_prob=0.1):
    """Split the chosen positions into ``(to_mask, to_random)``, two boolean arrays like ``chosen``.

    One uniform number ``u`` per position decides, for a chosen position::

        u <  0.8               -> to_mask    (becomes [MASK])
        0.8 <= u < 0.8 + 0.1   -> to_random  (becomes a random ordinary token)
        otherwise              -> stays as it is

    (with ``mask_replace_prob`` and ``random_replace_prob`` in place of 0.8 and 0.1). The two arrays
    never overlap, and both are False wherever ``chosen`` is.
    """
    u = rng.random(chosen.shape)
    to_mask = chosen & (u < mask_replace_prob)
    to_random = chosen & (u >= mask_replace_prob) & (u < mask_replace_prob + random_replace_prob)
    return to_mask, to_random


def random_ordinary_ids(n: int, vocab_size: int, special_ids, rng: np.random.Generator) -> np.ndarray:
    """``n`` token ids drawn uniformly from the ordinary (non-special) ids ``0 .. vocab_size - 1``.

    A random replacement must be a token the model could meet in real text: a ``[PAD]`` or a
    ``[CLS]`` in the middle of a sentence would teach it nothing. (It may, by chance, be the
    original token again; with thousands of tokens that is rare.)
    """
    ordinary = np.setdiff1d(np.arange(vocab_size, dtype=np.int64), np.asarray(special_ids, dtype=np.int64))
    if n and not len(ordinary):
        raise ValueError(f"random_ordinary_ids: all {vocab_size} ids are special; there is no ordinary token to draw")
    return ordinary[rng.integers(0, max(len(ordinary), 1), size=n)]


def mlm_labels(input_ids: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """What the loss sees: the original id at each chosen position, ``-100`` (ignored) elsewhere."""
    return np.where(chosen, input_ids, IGNORE_INDEX).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# the whole masking step
# ---------------------------------------------------------------------------------------------


def _check_probability(name: str, value, open_interval: bool) -> float:
    """``value`` as a float, or a ValueError: in (0, 1) when ``open_interval``, else in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"mask_tokens: {name} must be a number, got {value!r}")
    value = float(value)
    inside = 0.0 < value < 1.0 if open_interval else 0.0 <= value <= 1.0
    if not inside:
        interval = "strictly between 0 and 1" if open_interval else "between 0 and 1"
        hint = " (BERT uses 0.15)" if name == "mlm_probability" else ""
        raise ValueError(f"mask_tokens: {name} must be {interval}, got {value}{hint}")
    return value


def _check_ids_in_vocab(input_ids: np.ndarray, vocab_size: int) -> None:
    """A ValueError naming the first id outside ``0 .. vocab_size - 1`` and where it is."""
    bad = (input_ids < 0) | (input_ids >= vocab_size)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(
            f"mask_tokens: input_ids{list(where)} = {int(input_ids[where])} is outside the vocabulary "
            f"(ids 0 .. {vocab_size - 1}, vocab_size={vocab_size}); {int(bad.sum())} id(s) are out of range. "
            "Were the ids made by another tokenizer?"
        )


def _as_rng(rng) -> np.random.Generator:
    """A NumPy Generator; an integer seed is turned into one. Anything else (None: not reproducible)
    is an error."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise TypeError(f"mask_tokens: rng must be a numpy Generator (np.random.default_rng(seed)), got {rng!r}")


def mask_tokens(
    input_ids,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_ids,
    rng,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
):
    """Mask a batch for MLM: return ``(masked_input_ids, labels)``, int64 arrays shaped like ``input_ids``.

    1. ``choose_positions``: each ordinary token is chosen with probability ``mlm_probability``;
       tokens in ``special_ids`` (give them all, padding included) are never chosen.
    2. ``split_replacements``: of the chosen, 80% become ``mask_token_id``, 10% a random ordinary
       token (``random_ordinary_ids``), 10% stay unchanged.
    3. ``mlm_labels``: the original id at the chosen positions, ``-100`` elsewhere.

    ``input_ids`` (usually (N, L)) is not changed. ``mask_token_id`` counts as special even if it is
    missing from ``special_ids``. ``rng`` is a ``np.random.Generator`` (or an integer seed); the same
    generator state gives the same masks. Every id must lie in ``0 .. vocab_size - 1``.
    """
    ids = np.asarray(input_ids)
    if ids.size and ids.dtype.kind not in "iu":
        raise TypeError(f"mask_tokens: input_ids must hold integer token ids, got dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, (int, np.integer)) or vocab_size < 1:
        raise ValueError(f"mask_tokens: vocab_size must be a positive integer, got {vocab_size!r}")
    vocab_size = int(vocab_size)
    mlm_probability = _check_probability("mlm_probability", mlm_probability, open_interval=True)
    mask_replace_prob = _check_probability("mask_replace_prob", mask_replace_prob, open_interval=False)
    random_replace_prob = _check_probability("random_replace_prob", random_replace_prob, open_interval=False)
    if mask_replace_prob + random_replace_prob > 1.0:
        raise ValueError(
            f"mask_tokens: mask_replace_prob + random_replace_prob = {mask_replace_prob} + {random_replace_prob} "
            "> 1; they are shares of the chosen tokens (BERT: 0.8 and 0.1, the remaining 0.1 unchanged)"
        )
    special = np.unique(np.append(np.asarray(special_ids, dtype=np.int64).reshape(-1), int(mask_token_id)))
    outside = special[(special < 0) | (special >= vocab_size)]
    if outside.size:
        raise ValueError(
            f"mask_tokens: special id(s) {outside.tolist()} (mask_token_id={mask_token_id} included) are outside "
            f"the vocabulary of {vocab_size} ids"
        )
    _check_ids_in_vocab(ids, vocab_size)
    rng = _as_rng(rng)

    chosen = choose_positions(ids, special, mlm_probability, rng)
    to_mask, to_random = split_replacements(chosen, rng, mask_replace_prob, random_replace_prob)
    masked = ids.copy()
    masked[to_mask] = int(mask_token_id)
    masked[to_random] = random_ordinary_ids(int(to_random.sum()), vocab_size, special, rng)
    return masked, mlm_labels(ids, chosen)


# ---------------------------------------------------------------------------------------------
# the collator: masking every batch a DataLoader hands out
# ---------------------------------------------------------------------------------------------


def special_ids_of(tokenizer) -> list[int]:
    """The ids of all of ``tokenizer``'s special tokens (``[PAD] [UNK] [CLS] [SEP] [MASK]``), sorted."""
    return sorted(tokenizer.token_to_id(t) for t in tokenizer.special_tokens)


def mask_rng(seed: int, call: int) -> np.random.Generator:
    """The random generator of the masks of collator call ``call``, made from ``(seed, call)``.

    A new generator per call (rather than one generator drawn from forever) means the masks of call
    ``c`` depend on nothing but ``seed`` and ``c``: a restarted run that restores the call counter
    draws exactly the masks the uninterrupted run would have drawn. Like ``loader.epoch_rng``, but
    with a third number mixed in so the two never share a random stream.
    """
    return np.random.default_rng([int(seed), int(call), _MASK_STREAM])


def _pad_width(arrays: dict, multiple: int, pad_id: int) -> dict:
    """Widen every per-token field (B, L) of a collated batch to the next multiple of ``multiple``,
    padding as ``collate`` does (``input_ids`` with ``pad_id``, the others as ``PAD_VALUES`` says)."""
    width = arrays["input_ids"].shape[1]
    extra = -width % multiple
    if not extra:
        return arrays
    out = {}
    for key, arr in arrays.items():
        if arr.ndim == 2 and arr.shape[1] == width:
            fill = pad_id if key == "input_ids" else PAD_VALUES.get(key, 0)
            arr = np.concatenate([arr, np.full((arr.shape[0], extra), fill, dtype=arr.dtype)], axis=1)
        out[key] = arr
    return out


class MLMCollator:
    """A ``collate_fn`` for masked language modelling: pads a batch and masks it.

    ``MLMCollator(tokenizer, mlm_probability=0.15, seed=0, pad_to_multiple_of=None)``::

        loader = DataLoader(examples, batch_size=32, shuffle=True, collate_fn=MLMCollator(tok))
        for batch in loader:
            batch["input_ids"], batch["labels"]       # masked ids and MLM labels, (B, L) int64 Tensors

    A call pads the items exactly as ``collate`` does (items are token-id lists or dicts with
    ``input_ids`` and maybe ``token_type_ids``, ``next_sentence_label``, ...; padding with the
    tokenizer's ``[PAD]``), then replaces ``input_ids`` by the masked ids and adds ``labels``
    (``mask_tokens``: 15%, 80/10/10, never a special token, -100 elsewhere). Every other field is
    passed through: ``token_type_ids`` and ``attention_mask`` (B, L), ``next_sentence_label`` (B,).

    **Fresh, reproducible masks.** Call number ``c`` masks with ``mask_rng(seed, c)``. The counter
    grows with every call, so the same sentence gets a new mask each epoch (BERT's original code
    fixed the masks once, copied ten times), yet a run can be replayed exactly. The counter counts
    calls, not training steps: a batch collated to take a look (``next(iter(loader))``) uses a call
    too. ``state_dict()`` / ``load_state_dict(state)`` save and restore it for an exact resume.

    ``pad_to_multiple_of=k`` widens each batch to a multiple of ``k`` tokens (GPUs like round
    shapes). ``mask_replace_prob`` / ``random_replace_prob`` change the 80/10/10 split, ``device``
    where the tensors go.
    """

    def __init__(
        self,
        tokenizer,
        mlm_probability=0.15,
        seed=0,
        pad_to_multiple_of=None,
        *,
        mask_replace_prob=0.8,
        random_replace_prob=0.1,
        device="cpu",
    ):
        if not getattr(tokenizer, "vocab_size", 0):
            raise ValueError(
                "MLMCollator: the tokenizer has no vocabulary yet; train it (tok.train(texts)) or load a trained one"
            )
        specials = list(tokenizer.special_tokens)
        for token, what in (("[MASK]", "the token that hides the chosen words"), ("[PAD]", "the padding")):
            if token not in specials:
                raise ValueError(
                    f"MLMCollator: the tokenizer has no {token} token ({what}); its special tokens are {specials}. "
                    f"Masked language modelling needs one: build the tokenizer with {token} among its special tokens"
                )
        mlm_probability = _check_probability("mlm_probability", mlm_probability, open_interval=True)
        mask_replace_prob = _check_probability("mask_replace_prob", mask_replace_prob, open_interval=False)
        random_replace_prob = _check_probability("random_replace_prob", random_replace_prob, open_interval=False)
        if mask_replace_prob + random_replace_prob > 1.0:
            raise ValueError(
                f"MLMCollator: mask_replace_prob + random_replace_prob = {mask_replace_prob + random_replace_prob} > 1"
            )
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"MLMCollator: seed must be a non-negative integer, got {seed!r}")
        if pad_to_multiple_of is not None and (
            isinstance(pad_to_multiple_of, bool)
            or not isinstance(pad_to_multiple_of, (int, np.integer))
            or pad_to_multiple_of < 1
        ):
            raise ValueError(
                f"MLMCollator: pad_to_multiple_of must be a positive integer or None, got {pad_to_multiple_of!r}"
            )
        self.tokenizer = tokenizer
        self.mlm_probability = mlm_probability
        self.mask_replace_prob = mask_replace_prob
        self.random_replace_prob = random_replace_prob
        self.seed = int(seed)
        self.pad_to_multiple_of = None if pad_to_multiple_of is None else int(pad_to_multiple_of)
        self.device = device
        self.pad_id = tokenizer.pad_id
        self.mask_id = tokenizer.mask_id
        self.vocab_size = tokenizer.vocab_size
        self.special_ids = special_ids_of(tokenizer)
        self.calls = 0  # how many batches this collator has masked

    def __repr__(self) -> str:
        return (
            f"MLMCollator(mlm_probability={self.mlm_probability}, seed={self.seed}, "
            f"pad_to_multiple_of={self.pad_to_multiple_of}, calls={self.calls})"
        )

    def __call__(self, items) -> dict:
        items = list(items)
        for i, item in enumerate(items):
            if isinstance(item, Mapping) and "labels" in item:
                raise ValueError(
                    f"MLMCollator: item {i} already has 'labels'; the collator makes the MLM labels itself. "
                    "Rename the field (a class label is usually 'label'), or use collate for ready-made labels"
                )
        arrays = {key: value.numpy() for key, value in collate(items, pad_id=self.pad_id).items()}
        if self.pad_to_multiple_of is not None:
            arrays = _pad_width(arrays, self.pad_to_multiple_of, self.pad_id)
        masked, labels = mask_tokens(
            arrays["input_ids"],
            mask_token_id=self.mask_id,
            vocab_size=self.vocab_size,
            special_ids=self.special_ids,
            rng=mask_rng(self.seed, self.calls),
            mlm_probability=self.mlm_probability,
            mask_replace_prob=self.mask_replace_prob,
            random_replace_prob=self.random_replace_prob,
        )
        self.calls += 1
        arrays["input_ids"] = masked
        arrays["labels"] = labels
        return {key: tensor(arr, device=self.device) for key, arr in arrays.items()}

    def state_dict(self) -> dict:
        """The call counter (``calls``), with ``seed`` and ``mlm_probability`` to check the restoring
        collator; JSON-ready numbers."""
        return {"calls": self.calls, "seed": self.seed, "mlm_probability": self.mlm_probability}

    def load_state_dict(self, state: Mapping) -> None:
        """Continue from ``state``: the next call masks as call number ``state["calls"]`` did."""
        if "calls" not in state:
            raise KeyError(f"MLMCollator.load_state_dict: the state has no 'calls' (keys: {sorted(state)})")
        calls = state["calls"]
        try:  # an int, a NumPy integer or a 0-d integer array (as a checkpoint file may give it back)
            calls = None if isinstance(calls, bool) else operator.index(calls)
        except TypeError:
            calls = None
        if calls is None or calls < 0:
            raise ValueError(
                f"MLMCollator.load_state_dict: calls must be a non-negative integer, got {state['calls']!r}"
            )
        mine = self.state_dict()
        for key in ("seed", "mlm_probability"):
            if key in state and state[key] != mine[key]:
                raise ValueError(
                    f"MLMCollator.load_state_dict: the state was saved with {key}={state[key]} but this collator has "
                    f"{key}={mine[key]}; build the collator as it was built when the state was saved"
                )
        self.calls = int(calls)
