"""Padding and collating: a list of examples of different lengths -> one batch of equal-length tensors.

Sentences, reviews and BERT inputs have different lengths, but a model eats one (batch, time)
tensor. ``pad_sequences`` fills the short ones up with a padding id and returns an
``attention_mask`` that says which positions are real; ``collate`` does this for every field of a
batch (ids, segment ids, per-token labels) and stacks per-example labels::

    >>> from minilm.data.collate import pad_sequences
    >>> ids, mask = pad_sequences([[5, 6, 7], [8]])
    >>> ids.tolist(), mask.tolist()
    ([[5, 6, 7], [8, 0, 0]], [[1, 1, 1], [1, 0, 0]])

``DataLoader`` (``minilm.data.loader``) calls ``collate`` on each batch it hands out.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from minilm import backend
from minilm.creation import tensor
from minilm.tensor import Tensor

__all__ = ["IGNORE_INDEX", "PAD_VALUES", "collate", "pad_sequences"]

#: The label ``cross_entropy`` skips (PyTorch's ``ignore_index=-100``); padded label positions get it.
IGNORE_INDEX = -100

#: What ``collate`` pads a per-token field with. ``input_ids`` gets the ``pad_id`` you pass; a
#: field not listed here gets 0. (Padding counts as a special token, as in Hugging Face.)
PAD_VALUES = {"labels": IGNORE_INDEX, "token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1}


# ---------------------------------------------------------------------------------------------
# padding and collating
# ---------------------------------------------------------------------------------------------


def _to_host(value):
    """A NumPy view of ``value``: a minilm Tensor or a CuPy array is brought to the CPU first."""
    if isinstance(value, Tensor):
        value = value.data
    return backend.to_device(value, backend.CPU) if backend.is_cuda_array(value) else value


def _id_array(seq, what: str) -> np.ndarray:
    """``seq`` (a list, tuple, NumPy array or Tensor of token ids) as a 1-D int64 NumPy array."""
    try:
        arr = np.asarray(_to_host(seq))
    except ValueError:
        raise ValueError(f"{what} is ragged (lists of different lengths inside); give a flat list of ids") from None
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a flat sequence of token ids, got {type(seq).__name__} of shape {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must hold integer token ids, got dtype {arr.dtype} (first value {arr[0]!r})")
    return arr.astype(np.int64, copy=False)


def pad_sequences(sequences, pad_id=0, max_length=None, truncation=False):
    """Pad token-id sequences to one length; return ``(ids, attention_mask)``, int64 arrays (B, L).

    ``L`` is the length of the longest sequence, or ``max_length`` when it is given (every batch
    then has the same width). Sequences are padded on the right::

        pad_sequences([[5, 6, 7], [8]], pad_id=0)
        ids            = [[5, 6, 7],        attention_mask = [[1, 1, 1],
                          [8, 0, 0]]                          [1, 0, 0]]

    The attention mask follows the Hugging Face/BERT convention: **1 for a real token, 0 for
    padding**, so ``mask.sum(1)`` are the lengths. PyTorch's ``key_padding_mask`` (in
    ``nn.MultiheadAttention``) is the opposite: ``True`` where there IS padding; convert with
    ``key_padding_mask = attention_mask == 0``.

    A sequence longer than ``max_length`` is an error unless ``truncation=True``, which keeps its
    first ``max_length`` tokens. Right padding suits encoders such as BERT; a decoder that generates
    text after the prompt is usually padded on the left instead.
    """
    if not isinstance(pad_id, (int, np.integer)) or isinstance(pad_id, bool):
        raise TypeError(f"pad_sequences: pad_id must be an integer token id, got {pad_id!r}")
    seqs = [_id_array(s, f"pad_sequences: sequence {i}") for i, s in enumerate(sequences)]
    if not seqs:
        raise ValueError("pad_sequences: got no sequences; a batch needs at least one")
    lengths = [len(s) for s in seqs]
    if max_length is None:
        if truncation:
            raise ValueError("pad_sequences: truncation=True needs a max_length to cut the sequences to")
        width = max(lengths)
    else:
        if not isinstance(max_length, (int, np.integer)) or isinstance(max_length, bool) or max_length < 0:
            raise ValueError(f"pad_sequences: max_length must be a non-negative integer or None, got {max_length!r}")
        width = int(max_length)
        longest = int(np.argmax(lengths))
        if lengths[longest] > width and not truncation:
            raise ValueError(
                f"pad_sequences: sequence {longest} has length {lengths[longest]} > max_length={width}; "
                "pass truncation=True to cut it, or raise max_length"
            )
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(seqs), width), dtype=np.int64)
    for row, seq in enumerate(seqs):
        n = min(len(seq), width)
        ids[row, :n] = seq[:n]
        mask[row, :n] = 1
    return ids, mask


def _stack_scalars(key: str, values) -> np.ndarray:
    """One integer per item (a class label, say) stacked into a (B,) int64 array."""
    arr = np.asarray([_to_host(v) for v in values])
    if arr.dtype.kind not in "iub":
        raise TypeError(
            f"collate: field {key!r} holds {arr.dtype} values (item 0: {values[0]!r}); the default collate makes "
            "int64 tensors only, so pass your own collate_fn for other values"
        )
    return arr.astype(np.int64)


def _pad_field(key: str, values, id_lengths, pad_value) -> np.ndarray:
    """A per-token field (one value per input id, e.g. ``token_type_ids``) padded like the ids."""
    for i, (v, n) in enumerate(zip(values, id_lengths, strict=True)):
        if len(v) != n:
            raise ValueError(
                f"collate: item {i}: field {key!r} has {len(v)} values but input_ids has {n} tokens; "
                "a list-valued field must hold one value per token"
            )
    padded, _ = pad_sequences(values, pad_id=pad_value)
    return padded


def _collate_dicts(items, pad_id) -> dict:
    """Pad or stack every field of dict items; see ``collate``."""
    keys = list(items[0])
    if "input_ids" not in keys:
        raise ValueError(f"collate: dict items need an 'input_ids' field; item 0 has {sorted(keys)}")
    for i, item in enumerate(items):
        if set(item) != set(keys):
            missing, extra = sorted(set(keys) - set(item)), sorted(set(item) - set(keys))
            raise ValueError(
                f"collate: item {i} has keys {sorted(item)} but item 0 has {sorted(keys)} "
                f"(missing {missing}, extra {extra}); every item of a batch needs the same keys"
            )
    ids, mask = pad_sequences([item["input_ids"] for item in items], pad_id=pad_id)
    out = {"input_ids": ids, "attention_mask": mask}
    id_lengths = mask.sum(axis=1)
    for key in keys:
        if key == "input_ids":
            continue
        values = [item[key] for item in items]
        scalar = [np.ndim(_to_host(v)) == 0 for v in values]
        if all(scalar):
            out[key] = _stack_scalars(key, values)
        elif not any(scalar):
            out[key] = _pad_field(key, values, id_lengths, PAD_VALUES.get(key, 0))
        else:
            raise ValueError(
                f"collate: field {key!r} is a single value in item {scalar.index(True)} but a sequence in item "
                f"{scalar.index(False)}; it must be one or the other in every item"
            )
    return out


def collate(items, pad_id=0, device="cpu") -> dict:
    """Turn a list of dataset items into one batch: a dict of int64 minilm Tensors on ``device``.

    Items are either

    - token-id lists: the batch is ``{"input_ids": (B, L), "attention_mask": (B, L)}``, or
    - dicts with an ``"input_ids"`` field and maybe others. A field with one value per token
      (``token_type_ids``, per-token ``labels``, ...) is padded to (B, L) like the ids: ``labels``
      with -100 (``IGNORE_INDEX``, so the loss skips padding), others as ``PAD_VALUES`` says.
      A field with one number per item (a class ``label``) is stacked into a (B,) tensor. An
      ``attention_mask`` is made unless the items bring their own.

    For example, two BERT-style items::

        [{"input_ids": [2, 7, 3], "token_type_ids": [0, 0, 0], "label": 1},
         {"input_ids": [2, 3],    "token_type_ids": [0, 0],    "label": 0}]
        -> input_ids      [[2, 7, 3], [2, 3, 0]]     token_type_ids [[0, 0, 0], [0, 0, 0]]
           attention_mask [[1, 1, 1], [1, 1, 0]]     label          [1, 0]
    """
    items = list(items)
    if not items:
        raise ValueError("collate: got an empty batch; a batch needs at least one item")
    is_dict = [isinstance(item, Mapping) for item in items]
    if all(is_dict):
        arrays = _collate_dicts(items, pad_id)
    elif any(is_dict):
        raise TypeError(
            f"collate: item {is_dict.index(True)} is a dict but item {is_dict.index(False)} is a "
            f"{type(items[is_dict.index(False)]).__name__}; all items of a batch must be of one kind"
        )
    else:
        ids, mask = pad_sequences(items, pad_id=pad_id)
        arrays = {"input_ids": ids, "attention_mask": mask}
    return {key: tensor(arr, device=device) for key, arr in arrays.items()}


def _check_positive(name: str, value, what: str) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what}: {name} must be a positive integer, got {value!r}")
    return int(value)
