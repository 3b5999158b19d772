"""Explicit kernels: one ``Function`` per file with a hand-derived backward, written once for NumPy
and, beside it, as fused CuPy kernels (``ElementwiseKernel`` / ``ReductionKernel``) that do the
pointwise and reduction work of each pass in one launch on a GPU.

Each file's docstring states the math of its forward and backward. The tests keep, for every
kernel, a twin composed from primitive ops and check that the two agree (values and gradients),
and that both pass a float64 finite-difference gradient check.
"""

# The recurrent kernels are modules here (kernels.lstm.lstm, kernels.lstm.lstm_cell, ...): each file
# holds a cell and a sequence kernel, and the module name would otherwise be shadowed by a function.
from minilm.kernels import gru, lstm, recurrence, rnn
from minilm.kernels.attention import attention_with_weights, scaled_dot_product_attention
from minilm.kernels.cross_entropy import cross_entropy, nll_loss
from minilm.kernels.dropout import dropout
from minilm.kernels.embedding import embedding
from minilm.kernels.gelu import gelu
from minilm.kernels.layer_norm import layer_norm
from minilm.kernels.linear import linear
from minilm.kernels.softmax import log_softmax, softmax

__all__ = [
    "attention_with_weights",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "gru",
    "layer_norm",
    "linear",
    "lstm",
    "log_softmax",
    "nll_loss",
    "recurrence",
    "rnn",
    "scaled_dot_product_attention",
    "softmax",
]
