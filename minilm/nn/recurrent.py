"""The recurrent layers ``RNN``, ``LSTM``, ``GRU`` and their one-step cells, with PyTorch's
names, arguments, parameter names, shapes, gate order and initialisation, so that a PyTorch
``state_dict`` loads unchanged and the outputs agree.

A layer stacks ``num_layers`` recurrences; layer ``k`` reads the outputs of layer ``k-1``
(with dropout in between while training, not after the last). With ``bidirectional=True`` each
layer runs twice, once forwards and once backwards in time, and concatenates the two outputs.
The work of every (layer, direction) is one call of the hand-derived sequence kernel in
``minilm/kernels`` (``rnn.py``, ``lstm.py``, ``gru.py``), which does the whole recurrence and its
backpropagation through time.

Parameters of layer ``k`` (``_reverse`` appended for the backward direction), with ``G`` gates
(1 RNN, 4 LSTM i|f|g|o, 3 GRU r|z|n)::

    weight_ih_l{k}   (G*hidden_size, input_size)      layer 0; else (G*hidden_size, D*hidden_size)
    weight_hh_l{k}   (G*hidden_size, hidden_size)
    bias_ih_l{k}     (G*hidden_size,)                 bias_hh_l{k} likewise

all initialised U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)) as PyTorch does.

Shapes: ``input`` is (T, N, input_size), (N, T, input_size) with ``batch_first``, or (T, input_size)
for one unbatched sequence, or a ``PackedSequence`` (``minilm.nn.utils.rnn``) for a batch of
different lengths. The states ``h_0``/``h_n`` (and ``c_0``/``c_n``) are always
(num_layers * D, N, hidden_size), D = 2 if bidirectional else 1, whatever ``batch_first`` says.
"""

from __future__ import annotations

import math

from minilm import kernels
from minilm.creation import zeros
from minilm.kernels import gru as gru_kernel
from minilm.kernels import lstm as lstm_kernel
from minilm.kernels import rnn as rnn_kernel
from minilm.nn import init
from minilm.nn.module import Module
from minilm.nn.parameter import Parameter
from minilm.nn.utils.rnn import PackedSequence
from minilm.ops.shape import cat, stack
from minilm.tensor import Tensor

__all__ = ["GRU", "GRUCell", "LSTM", "LSTMCell", "RNN", "RNNBase", "RNNCell", "RNNCellBase"]


def _parameter(shape, device, dtype) -> Parameter:
    return Parameter(zeros(*shape, device=device, dtype=dtype))


class RNNBase(Module):
    """What RNN, LSTM and GRU share: the parameters and the loop over layers and directions."""

    gates = 1
    mode = "RNN"

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        super().__init__()
        if int(hidden_size) < 1 or int(num_layers) < 1 or int(input_size) < 1:
            raise ValueError(
                f"{self.mode}: input_size, hidden_size and num_layers must be positive, got "
                f"{input_size}, {hidden_size}, {num_layers}"
            )
        if not 0 <= dropout <= 1:
            raise ValueError(f"{self.mode}: dropout must be between 0 and 1, got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        G, H, D = self.gates, self.hidden_size, 2 if bidirectional else 1
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else H * D
            for suffix in self._suffixes():
                self.register_parameter(f"weight_ih_l{layer}{suffix}", _parameter((G * H, in_size), device, dtype))
                self.register_parameter(f"weight_hh_l{layer}{suffix}", _parameter((G * H, H), device, dtype))
                if bias:
                    self.register_parameter(f"bias_ih_l{layer}{suffix}", _parameter((G * H,), device, dtype))
                    self.register_parameter(f"bias_hh_l{layer}{suffix}", _parameter((G * H,), device, dtype))
        self.reset_parameters()

    def _suffixes(self):
        return ("", "_reverse") if self.bidirectional else ("",)

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def layer_parameters(self, layer: int, suffix: str = "") -> tuple:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer and direction (biases None
        when ``bias=False``)."""
        get = lambda name: getattr(self, f"{name}_l{layer}{suffix}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    # -- the input and the states -------------------------------------------------------------

    def _prepare(self, input, hx):
        """``(x, mask, states, unbatched, packed)`` with ``x`` time-major (T, N, I) and each state
        (L*D, N, H) or None."""
        packed = isinstance(input, PackedSequence)
        mask = None
        if packed:
            mask = input.mask()
            x = input.data.transpose(0, 1) if input.batch_first else input.data
        else:
            if not isinstance(input, Tensor):
                raise TypeError(f"{self.mode}: input must be a Tensor or a PackedSequence, got {type(input).__name__}")
            if input.ndim not in (2, 3):
                raise ValueError(
                    f"{self.mode}: input must be (T, N, {self.input_size}), (N, T, {self.input_size}) with "
                    f"batch_first, or (T, {self.input_size}) unbatched; got shape {input.shape}"
                )
            x = input
            if x.ndim == 3 and self.batch_first:
                x = x.transpose(0, 1)
        unbatched = x.ndim == 2
        if unbatched:
            x = x.unsqueeze(1)
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{self.mode}: expected input_size {self.input_size}, got an input of shape {input_shape(input)}"
            )
        states = self._states(hx, x.shape[1], unbatched)
        return x, mask, states, unbatched, packed

    def _states(self, hx, N, unbatched):
        n_states = 2 if self.mode == "LSTM" else 1
        if hx is None:
            return (None,) * n_states
        hx = (hx,) if n_states == 1 else tuple(hx)
        if len(hx) != n_states:
            raise ValueError(f"{self.mode}: hx must be a pair (h_0, c_0)")
        want = (self.num_layers * (2 if self.bidirectional else 1), N, self.hidden_size)
        out = []
        for name, s in zip(("h_0", "c_0"), hx, strict=False):
            if unbatched and s.ndim == 2:
                s = s.unsqueeze(1)
            if tuple(s.shape) != want:
                raise ValueError(
                    f"{self.mode}: {name} must have shape {want[:1] + want[2:] if unbatched else want}, got {s.shape}"
                )
            out.append(s)
        return tuple(out)

    # -- the loop -------------------------------------------------------------------------------

    def forward(self, input, hx=None):
        x, mask, states, unbatched, packed = self._prepare(input, hx)
        finals = [[] for _ in states]
        D = 2 if self.bidirectional else 1
        for layer in range(self.num_layers):
            if layer > 0 and self.dropout > 0 and self.training:
                x = kernels.dropout(x, self.dropout, True)
            outs = []
            for d, suffix in enumerate(self._suffixes()):
                idx = layer * D + d
                init_states = [None if s is None else s[idx] for s in states]
                out, *last = self._run(x, init_states, self.layer_parameters(layer, suffix), mask, reverse=d == 1)
                outs.append(out)
                for f, s in zip(finals, last, strict=True):
                    f.append(s)
            x = outs[0] if D == 1 else cat(outs, dim=2)
        finals = [stack(f, dim=0) for f in finals]
        if unbatched:
            x = x.squeeze(1)
            finals = [f.squeeze(1) for f in finals]
        elif self.batch_first:
            x = x.transpose(0, 1)
        if packed:
            x = PackedSequence(x, input.lengths, input.batch_first)
        return x, (finals[0] if len(finals) == 1 else tuple(finals))

    def _run(self, x, states, params, mask, reverse):
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        for name, default in (
            ("num_layers", 1),
            ("bias", True),
            ("batch_first", False),
            ("dropout", 0.0),
            ("bidirectional", False),
        ):
            if getattr(self, name) != default:
                s += f", {name}={getattr(self, name)}"
        return s


def input_shape(input):
    return input.data.shape if isinstance(input, PackedSequence) else input.shape


class RNN(RNNBase):
    """Elman RNN: ``h_t = act(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``, act tanh or relu.
    ``forward(input, h_0=None) -> (output, h_n)``."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device=None,
        dtype=None,
    ):
        if nonlinearity not in rnn_kernel.NONLINEARITIES:
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional, device, dtype)
        self.nonlinearity = nonlinearity

    def _run(self, x, states, params, mask, reverse):
        return rnn_kernel.rnn(x, states[0], *params, nonlinearity=self.nonlinearity, mask=mask, reverse=reverse)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (f", nonlinearity={self.nonlinearity!r}" if self.nonlinearity != "tanh" else "")


class LSTM(RNNBase):
    """Long short-term memory, gates i, f, g, o. ``forward(input, (h_0, c_0)=None) -> (output,
    (h_n, c_n))``."""

    gates = 4
    mode = "LSTM"

    def _run(self, x, states, params, mask, reverse):
        return lstm_kernel.lstm(x, states[0], states[1], *params, mask=mask, reverse=reverse)


class GRU(RNNBase):
    """Gated recurrent unit, gates r, z, n (``b_hn`` inside the reset product). ``forward(input,
    h_0=None) -> (output, h_n)``."""

    gates = 3
    mode = "GRU"

    def _run(self, x, states, params, mask, reverse):
        return gru_kernel.gru(x, states[0], *params, mask=mask, reverse=reverse)


# ---------------------------------------------------------------------------------------------
# cells: one step, the caller loops (seq2seq decoders, teaching)
# ---------------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Parameters ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih``, ``bias_hh`` (G*H,)."""

    gates = 1
    kind = "RNNCell"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        self.input_size, self.hidden_size, self.bias = int(input_size), int(hidden_size), bool(bias)
        G = self.gates * self.hidden_size
        self.weight_ih = _parameter((G, self.input_size), device, dtype)
        self.weight_hh = _parameter((G, self.hidden_size), device, dtype)
        if bias:
            self.bias_ih = _parameter((G,), device, dtype)
            self.bias_hh = _parameter((G,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _batch(self, input, hx):
        """Add a batch dimension to an unbatched (I,) input (and its states)."""
        if not isinstance(input, Tensor) or input.ndim not in (1, 2):
            raise ValueError(
                f"{self.kind}: input must be (N, {self.input_size}) or ({self.input_size},), got {input_shape(input)}"
            )
        if input.ndim == 2:
            return input, hx, False
        if hx is not None:
            hx = tuple(h.unsqueeze(0) for h in hx) if isinstance(hx, tuple) else hx.unsqueeze(0)
        return input.unsqueeze(0), hx, True

    def _params(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(RNNCellBase):
    """``h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)``; ``forward(input, hx=None) -> h'``."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh", device=None, dtype=None
    ):
        if nonlinearity not in rnn_kernel.NONLINEARITIES:
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; use 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        x, hx, unbatched = self._batch(input, hx)
        h = rnn_kernel.rnn_cell(x, hx, *self._params(), nonlinearity=self.nonlinearity)
        return h.squeeze(0) if unbatched else h


class LSTMCell(RNNCellBase):
    """One LSTM step; ``forward(input, (h, c)=None) -> (h', c')``."""

    gates = 4
    kind = "LSTMCell"

    def forward(self, input, hx=None):
        x, hx, unbatched = self._batch(input, hx)
        h, c = lstm_kernel.lstm_cell(x, hx, *self._params())
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step; ``forward(input, hx=None) -> h'``."""

    gates = 3
    kind = "GRUCell"

    def forward(self, input, hx=None):
        x, hx, unbatched = self._batch(input, hx)
        h = gru_kernel.gru_cell(x, hx, *self._params())
        return h.squeeze(0) if unbatched else h
