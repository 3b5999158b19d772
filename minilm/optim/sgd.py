"""Stochastic gradient descent, with momentum, Nesterov momentum and weight decay.

For a parameter ``p`` with gradient ``g`` one step is::

    g  <- g + weight_decay * p                    (the gradient of an L2 penalty; -g if maximize)
    b  <- g                                       on the first step (no dampening then)
    b  <- momentum * b + (1 - dampening) * g      on later steps
    d  <- g + momentum * b    if nesterov,   else   d <- b          (d <- g without momentum)
    p  <- p - lr * d

The momentum buffer ``b`` is a running, exponentially decaying sum of past gradients: directions
that keep coming back add up, directions that flip sign cancel. Nesterov's variant looks one
momentum step ahead. These are the formulas of ``torch.optim.SGD``.
"""

from __future__ import annotations

from minilm.optim.optimizer import Optimizer, apply_update, copy_state, regularized_gradient


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False)``.

    State per parameter: ``'momentum_buffer'`` (only when ``momentum != 0``)."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        maximize: bool = False,
    ):
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict, where: str) -> None:
        """lr, momentum and weight_decay must be >= 0; Nesterov needs momentum and no dampening."""
        for key in ("lr", "momentum", "weight_decay"):
            if group[key] < 0:
                raise ValueError(f"{where}: {key}={group[key]} is negative; it must be >= 0")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{where}: nesterov=True needs momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']} and dampening={group['dampening']}"
            )

    def _update(self, p, grad, state: dict, group: dict) -> None:
        """One SGD step for parameter ``p`` (see the module docstring)."""
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        g = regularized_gradient(p.data, grad, float(group["weight_decay"]), group["maximize"])
        if momentum != 0:
            buf = momentum_buffer(p, state, g, momentum, float(group["dampening"]))
            g = g + momentum * buf if group["nesterov"] else buf
        apply_update(p, g * (-lr))


def momentum_buffer(p, state: dict, g, momentum: float, dampening: float):
    """Update and return the momentum buffer ``b`` of ``p`` (an array, updated in place).

    The first step starts the buffer at the gradient itself, ``b = g`` (dampening does not apply:
    there is no history to damp yet); later steps compute ``b = momentum * b + (1 - dampening) * g``.
    """
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = copy_state(p, g)
        return state["momentum_buffer"].data
    buf = state["momentum_buffer"].data
    buf *= momentum
    buf += (1 - dampening) * g
    return buf
