"""Batches of sequences of different lengths for the recurrent layers, with PyTorch's names.

A batch of sentences is padded to the longest one. A recurrent layer must not read the padding:
it would change the final state of every short sentence. PyTorch solves this by *packing* the
batch; ``nn.LSTM`` etc. accept the packed batch and skip the padding.

minilm keeps the same functions and the same behaviour but a simpler representation:
``PackedSequence`` here holds the padded tensor and the lengths, and the recurrent kernels turn
the lengths into a (T, N) mask (``minilm.kernels.recurrence``): at a padded step the state is
carried over unchanged and the output is 0. The results (the outputs at real steps, 0 at padded
ones, and each sequence's final state) are the ones PyTorch gives; only the object in between
differs (PyTorch's ``.data`` is the (sum of lengths, features) tensor of real steps, ours is the
padded one, and there is no ``batch_sizes``).

    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, c_n) = lstm(packed)
    padded, lengths = pad_packed_sequence(out, batch_first=True)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from minilm import backend
from minilm.creation import full
from minilm.kernels.recurrence import lengths_to_mask
from minilm.ops.elementwise import where
from minilm.ops.shape import cat, pad, stack
from minilm.tensor import Tensor

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence"]


@dataclass(frozen=True)
class PackedSequence:
    """A padded batch and the length of each sequence in it. ``data`` is (T, N, *) or, with
    ``batch_first``, (N, T, *); ``lengths`` is a 1-D int64 NumPy array of N lengths (each 1..T)."""

    data: Tensor
    lengths: np.ndarray
    batch_first: bool = False

    def mask(self):
        """The (T, N) boolean mask, True at real steps, on the data's device."""
        T = self.data.shape[1 if self.batch_first else 0]
        return backend.to_device(lengths_to_mask(self.lengths, T), self.data.device)

    def to(self, *args, **kwargs) -> "PackedSequence":
        return PackedSequence(self.data.to(*args, **kwargs), self.lengths, self.batch_first)


def _lengths(op, lengths, N, T):
    if isinstance(lengths, Tensor):
        lengths = lengths.data
    lengths = np.asarray(backend.to_device(backend.xp_of(lengths).asarray(lengths), backend.CPU))
    if lengths.ndim != 1 or lengths.shape[0] != N or lengths.dtype.kind not in "iu":
        raise ValueError(f"{op}: lengths must be {N} integers (one per sequence), got {lengths.dtype} {lengths.shape}")
    if N and (lengths.min() < 1 or lengths.max() > T):
        raise ValueError(f"{op}: every length must be between 1 and the padded length {T}, got {lengths.tolist()}")
    return lengths.astype(np.int64)


def pack_padded_sequence(input, lengths, batch_first: bool = False, enforce_sorted: bool = True) -> PackedSequence:
    """Mark which steps of the padded batch ``input`` are real. ``enforce_sorted=True`` requires
    the lengths in decreasing order, as PyTorch does (minilm does not need the order; pass False)."""
    if not isinstance(input, Tensor) or input.ndim < 2:
        raise ValueError("pack_padded_sequence: input must be a Tensor of shape (T, N, *) or (N, T, *)")
    N, T = (input.shape[0], input.shape[1]) if batch_first else (input.shape[1], input.shape[0])
    lengths = _lengths("pack_padded_sequence", lengths, N, T)
    if enforce_sorted and np.any(np.diff(lengths) > 0):
        raise ValueError(
            f"pack_padded_sequence: lengths {lengths.tolist()} are not sorted in decreasing order; "
            "sort the batch or pass enforce_sorted=False"
        )
    return PackedSequence(input, lengths, bool(batch_first))


def pad_packed_sequence(
    sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0, total_length=None
):
    """``(padded, lengths)``: the inverse of ``pack_padded_sequence``. The padded steps are set to
    ``padding_value``; ``total_length`` pads further, to that many steps."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence: expected a PackedSequence, got {type(sequence).__name__}")
    x = sequence.data
    if sequence.batch_first:
        x = x.transpose(0, 1)
    T = x.shape[0]
    if padding_value != 0.0:
        m = Tensor(sequence.mask().reshape((T, -1) + (1,) * (x.ndim - 2)))
        x = where(m, x, float(padding_value))
    if total_length is not None:
        if total_length < T:
            raise ValueError(f"pad_packed_sequence: total_length {total_length} is less than the longest length {T}")
        if total_length > T:
            extra = full((total_length - T,) + tuple(x.shape[1:]), float(padding_value), dtype=x.dtype, device=x.device)
            x = cat([x, extra], dim=0)
    if batch_first:
        x = x.transpose(0, 1)
    return x, Tensor(sequence.lengths.copy())


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0) -> Tensor:
    """Stack tensors of shape (L_i, *) into one (T, N, *) (or (N, T, *)) tensor padded with
    ``padding_value`` (differentiable)."""
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: got no sequences")
    T = max(s.shape[0] for s in sequences)
    padded = [pad(s, (0, 0) * (s.ndim - 1) + (0, T - s.shape[0]), value=padding_value) for s in sequences]
    return stack(padded, dim=0 if batch_first else 1)
