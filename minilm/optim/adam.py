"""Adam and AdamW: gradient descent with a per-coordinate step size.

For a parameter ``p`` with gradient ``g``, at step ``t = 1, 2, ...``::

    g  <- g + weight_decay * p                       (Adam's L2 penalty; -g first if maximize)
    m  <- beta1 * m + (1 - beta1) * g                the first moment: a running mean of g
    v  <- beta2 * v + (1 - beta2) * g * g            the second moment: a running mean of g^2
    m_hat = m / (1 - beta1^t)                        bias correction: m and v start at 0, so
    v_hat = v / (1 - beta2^t)                        early averages are too small by that factor
    p  <- p - lr * m_hat / (sqrt(v_hat) + eps)

Each coordinate moves by about ``lr`` times the sign of its recent gradients, whatever their
scale. ``amsgrad=True`` divides by the largest ``v`` seen so far instead of the current one, so the
step size of a coordinate never grows.

AdamW decouples the weight decay from the gradient: instead of adding ``weight_decay * p`` to
``g`` (where Adam's division by ``sqrt(v_hat)`` would rescale it), it shrinks the parameter
directly, ``p <- p * (1 - lr * weight_decay)``, before the Adam step. These are the formulas of
``torch.optim.Adam`` and ``torch.optim.AdamW``, including where ``eps`` is added (after the square
root and the bias correction).
"""

from __future__ import annotations

import math

from minilm import backend
from minilm.optim.optimizer import Optimizer, apply_update, regularized_gradient, zeros_state


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False, decoupled_weight_decay=False)``; ``decoupled_weight_decay=True`` is AdamW.

    State per parameter: ``'step'`` (an int), ``'exp_avg'`` (m), ``'exp_avg_sq'`` (v), and
    ``'max_exp_avg_sq'`` with amsgrad."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ):
        defaults = {
            "lr": lr,
            "betas": tuple(betas),
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict, where: str) -> None:
        """lr, eps and weight_decay must be >= 0, and each beta in [0, 1)."""
        for key in ("lr", "eps", "weight_decay"):
            if group[key] < 0:
                raise ValueError(f"{where}: {key}={group[key]} is negative; it must be >= 0")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{where}: betas must be a pair (beta1, beta2), got {betas}")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{where}: betas[{i}]={beta} is outside [0, 1); betas={tuple(betas)}")

    def _update(self, p, grad, state: dict, group: dict) -> None:
        """One Adam (or AdamW) step for parameter ``p`` (see the module docstring)."""
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), float(group["weight_decay"])
        beta1, beta2 = (float(b) for b in group["betas"])
        decoupled = group["decoupled_weight_decay"]
        if not state:
            init_state(p, state, group["amsgrad"])
        state["step"] += 1
        g = regularized_gradient(p.data, grad, 0.0 if decoupled else weight_decay, group["maximize"])
        m, v = state["exp_avg"].data, state["exp_avg_sq"].data
        update_moments(m, v, g, beta1, beta2)
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"].data
            backend.xp_of(v).maximum(v_max, v, out=v_max)
            v = v_max
        update = adam_direction(m, v, state["step"], lr, beta1, beta2, eps)
        apply_update(p, update, scale=1.0 - lr * weight_decay if decoupled else 1.0)


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
    maximize=False)``: Adam with decoupled weight decay, ``p <- p * (1 - lr * weight_decay)``."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        maximize: bool = False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay=True)


def init_state(p, state: dict, amsgrad: bool) -> None:
    """Adam's state before the first step: step 0 and zero moments (m, v, and max v with amsgrad)."""
    state["step"] = 0
    state["exp_avg"] = zeros_state(p)
    state["exp_avg_sq"] = zeros_state(p)
    if amsgrad:
        state["max_exp_avg_sq"] = zeros_state(p)


def update_moments(m, v, g, beta1: float, beta2: float) -> None:
    """The running averages, in place: ``m = beta1*m + (1-beta1)*g`` and ``v = beta2*v + (1-beta2)*g*g``.

    One scratch array shaped like ``g`` serves both (for a large embedding table every temporary
    is a fresh block of memory the size of the table)."""
    xp = backend.xp_of(g)
    t = xp.multiply(g, 1 - beta1, out=xp.empty_like(g))
    m *= beta1
    m += t
    xp.multiply(g, g, out=t)
    t *= 1 - beta2
    v *= beta2
    v += t


def adam_direction(m, v, step: int, lr: float, beta1: float, beta2: float, eps: float):
    """The change of the parameter, ``-lr * m_hat / (sqrt(v_hat) + eps)``, as a new array.

    With ``m_hat = m / (1 - beta1^t)`` and ``v_hat = v / (1 - beta2^t)`` this is computed as
    ``-(lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``: the bias corrections are
    numbers, applied once, and the one new array is reused for every stage."""
    xp = backend.xp_of(v)
    step_size = lr / (1 - beta1**step)
    out = xp.sqrt(v, out=xp.empty_like(v))
    out /= math.sqrt(1 - beta2**step)
    out += eps
    xp.divide(m, out, out=out)
    out *= -step_size
    return out
