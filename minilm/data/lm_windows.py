"""Language-model windows: one long stream of token ids -> (input, target) batches for truncated BPTT.

A language-modelling corpus (WikiText-2, the bundled documents) is one long stream of tokens.
``batchify`` cuts it into ``batch_size`` rows of consecutive text; ``LMWindows`` walks over the
rows in windows of ``bptt`` steps and gives (input, target) pairs, the target being the input
shifted by one token (chapter 04).
"""

from __future__ import annotations

import numpy as np

from minilm import backend
from minilm.creation import tensor
from minilm.data.collate import _check_positive, _id_array

__all__ = ["LMWindows", "batchify"]


def batchify(ids, batch_size) -> np.ndarray:
    """Cut one long stream of token ids into ``batch_size`` rows of consecutive text: (batch_size, n).

    The stream is split into ``batch_size`` equal pieces, one per row, each row continuing the
    text where the row above it ends; the ``len(ids) % batch_size`` tokens left at the end are
    dropped. The alphabet, batch_size 4::

        a b c d e f g h i j k l m n o p q r s t u v w x y z      26 tokens, 26 // 4 = 6 per row

        row 0:  a b c d e f
        row 1:  g h i j k l          (y z are dropped)
        row 2:  m n o p q r
        row 3:  s t u v w x
                ---------> time

    Read along a row and you read the text. A column holds ``batch_size`` distant places of the
    text, processed side by side; each row is its own stream, so an RNN keeps one hidden state per
    row and carries it from one window of columns to the next (see ``LMWindows``).
    """
    batch_size = _check_positive("batch_size", batch_size, "batchify")
    stream = _id_array(ids, "batchify: ids")
    n = len(stream) // batch_size
    if n == 0:
        raise ValueError(
            f"batchify: a stream of {len(stream)} tokens is too short for batch_size={batch_size}: "
            "each row needs at least one token; use a longer stream or a smaller batch_size"
        )
    return stream[: n * batch_size].reshape(batch_size, n).copy()


class LMWindows:
    """(input, target) windows for a recurrent language model, trained with truncated BPTT.

    The stream is batchified into rows (``batchify``). Window ``k`` covers columns
    ``k*bptt .. k*bptt + T - 1`` of the rows, and its target is the same window shifted one token
    along the text, so the model learns to predict each next token. With the rows of the alphabet
    above (6 columns) and ``bptt=2``::

        window 0: input  a b | g h | m n | s t      target  b c | h i | n o | t u
        window 1: input  c d | i j | o p | u v      target  d e | j k | p q | v w
        window 2: input  e   | k   | q   | w        target  f   | l   | r   | x      (T = 1)

    The last window may be shorter than ``bptt`` but never empty; the last token of each row is
    only ever a target. Windows go left to right, so the hidden state left by window k is the right
    start for window k+1: the model carries it over but detaches it (cuts the graph) between
    windows, so gradients flow back at most ``bptt`` steps. That is truncated backpropagation
    through time.

    ``len(windows)`` is the number of windows, ``windows[k]`` is window k, and iterating gives all
    of them in order. Both tensors are int64 (batch_size, T), batch first, on ``device``.
    """

    def __init__(self, ids, batch_size, bptt, device="cpu"):
        self.bptt = _check_positive("bptt", bptt, "LMWindows")
        batch_size = _check_positive("batch_size", batch_size, "LMWindows")
        n_tokens = len(_id_array(ids, "LMWindows: ids"))
        if n_tokens // batch_size < 2:
            raise ValueError(
                f"LMWindows: a stream of {n_tokens} tokens gives rows of {n_tokens // batch_size} tokens with "
                f"batch_size={batch_size}, but a window needs 2 (an input and its target): give at least "
                f"{2 * batch_size} tokens or a smaller batch_size"
            )
        self.device = backend.device(device)
        self.rows = batchify(ids, batch_size)  # the (batch_size, n) NumPy array the windows slice
        self._rows_on_device = backend.to_device(self.rows, self.device)

    @property
    def batch_size(self) -> int:
        return self.rows.shape[0]

    def __len__(self) -> int:
        """ceil((n - 1) / bptt): every column but the last is an input once."""
        return -(-(self.rows.shape[1] - 1) // self.bptt)

    def __getitem__(self, k: int):
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"LMWindows: a window index must be an integer, got {k!r}")
        if not -len(self) <= k < len(self):
            raise IndexError(f"LMWindows: window {k} is out of range for {len(self)} windows")
        start = (int(k) % len(self)) * self.bptt
        T = min(self.bptt, self.rows.shape[1] - 1 - start)
        rows = self._rows_on_device
        return tensor(rows[:, start : start + T], device=self.device), tensor(
            rows[:, start + 1 : start + 1 + T], device=self.device
        )

    def __iter__(self):
        for k in range(len(self)):
            yield self[k]

    def __repr__(self) -> str:
        return f"LMWindows(batch_size={self.batch_size}, bptt={self.bptt}, windows={len(self)}, device='{self.device}')"
