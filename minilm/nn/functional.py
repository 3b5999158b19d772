"""``minilm.nn.functional``: functions of tensors, named as in ``torch.nn.functional``.

The fused ones (``linear``, ``softmax``, ``log_softmax``, ``cross_entropy``, ``nll_loss``,
``layer_norm``, ``embedding``, ``dropout``, ``gelu``, ``scaled_dot_product_attention``) are explicit
kernels with hand-derived backward passes (``minilm/kernels/``); the rest are composed from primitive ops.
"""

from __future__ import annotations

from minilm.kernels import cross_entropy, dropout, embedding, gelu, layer_norm, linear, log_softmax, nll_loss, softmax
from minilm.kernels.attention import attention_with_weights, scaled_dot_product_attention  # noqa: F401 (see __all__)
from minilm.kernels.cross_entropy import reject_unsupported
from minilm.ops.elementwise import leaky_relu, relu, sigmoid, tanh, where
from minilm.ops.elementwise import softplus as _softplus
from minilm.ops.shape import pad
from minilm.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(op: str, loss, reduction: str):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _same_shape(op: str, input, target) -> None:
    if not isinstance(input, Tensor) or not isinstance(target, Tensor):
        raise TypeError(f"{op}: input and target must be Tensors")
    if input.shape != target.shape:
        raise ValueError(f"{op}: input {input.shape} and target {target.shape} must have the same shape")


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    """Mean squared error ``mean((input - target)^2)``."""
    _same_shape("mse_loss", input, target)
    reject_unsupported("mse_loss", None, size_average, reduce)
    d = input - target
    return _reduce("mse_loss", d * d, reduction)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold`` (as PyTorch
    does, where the two agree to within e^-threshold). The derivative is ``sigmoid(beta * x)``."""
    scaled = input if beta == 1 else input * beta
    y = _softplus(scaled) if beta == 1 else _softplus(scaled) / beta
    return where(scaled > threshold, input, y)


def logsigmoid(input):
    """``log(sigmoid(x)) = -softplus(-x)``, without computing the sigmoid (which rounds to 0 for very
    negative x, whose log is then -inf). The derivative is ``1 - sigmoid(x) = sigmoid(-x)``."""
    return -_softplus(-input)


def binary_cross_entropy_with_logits(
    input, target, weight=None, size_average=None, reduce=None, reduction: str = "mean", pos_weight=None
):
    """Binary cross-entropy of logits ``x`` against targets ``y`` in [0, 1], in the stable form

        loss = (1 - y) x + (1 + (p - 1) y) log(1 + exp(-x))          (p = pos_weight, default 1)

    with ``log(1 + exp(-x)) = softplus(-x)`` computed as ``logaddexp(0, -x)``, which never overflows,
    by one op whose backward is the sigmoid (so the gradient at x = 0 is right: see ``Softplus``)."""
    _same_shape("binary_cross_entropy_with_logits", input, target)
    reject_unsupported("binary_cross_entropy_with_logits", None, size_average, reduce)
    softplus_neg = _softplus(-input)  # log(1 + e^-x)
    if pos_weight is None:
        loss = (1 - target) * input + softplus_neg
    else:
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus_neg
    if weight is not None:
        loss = loss * weight
    return _reduce("binary_cross_entropy_with_logits", loss, reduction)


# attention_with_weights is importable from here but not listed: PyTorch has no such function, and
# __all__ holds the names that are also torch.nn.functional's
__all__ = [
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "embedding",
    "gelu",
    "layer_norm",
    "leaky_relu",
    "linear",
    "log_softmax",
    "logsigmoid",
    "mse_loss",
    "nll_loss",
    "pad",
    "relu",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "softplus",
    "tanh",
]
