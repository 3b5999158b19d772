"""Learning-rate schedules: change each parameter group's ``lr`` as training goes on.

A scheduler wraps an optimizer. It remembers every group's starting rate (``base_lrs``, also kept
in the group as ``'initial_lr'``) and counts its own ``step()`` calls in ``last_epoch``; each call
sets every group's ``lr`` to ``base_lr * factor(last_epoch)``. Call it once per optimizer step (or
once per epoch, for epoch-based schedules), AFTER ``optimizer.step()``::

    for batch in data:
        loss = ...; loss.backward()
        optimizer.step(); optimizer.zero_grad()
        scheduler.step()

Creating the scheduler already applies ``factor(0)``: a warmup starting from 0 sets ``lr = 0``
before the first step.

``LambdaLR`` takes the factor as a function; ``StepLR`` multiplies the rate by ``gamma`` (0.1: a
tenth) every ``step_size`` epochs. ``get_linear_schedule_with_warmup`` and ``get_cosine_schedule_with_warmup``
(the names of the Hugging Face ``transformers`` functions that BERT-style training uses) return a
``LambdaLR`` whose factor rises linearly from 0 to 1 over the warmup steps and then decays to 0,
along a line or half a cosine.
"""

from __future__ import annotations

import math
import types

from minilm.optim.optimizer import Optimizer


class LRScheduler:
    """Base class: ``LRScheduler(optimizer, last_epoch=-1)``. Subclasses write ``get_lr()``, the
    rates of the groups at epoch ``self.last_epoch``.

    ``last_epoch=-1`` starts a new schedule; a larger value resumes one, which needs the groups'
    ``'initial_lr'`` (left there by the scheduler of the interrupted run, as in PyTorch)."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"{type(self).__name__}: resuming with last_epoch={last_epoch}, but parameter group {i} "
                        "has no 'initial_lr'; load the optimizer's state dict first, or pass last_epoch=-1"
                    )
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list:
        """The learning rate of every group at epoch ``self.last_epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr")

    def step(self) -> None:
        """Advance one epoch (or step) and set every group's ``lr``."""
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list:
        """The rates that the last ``step()`` (or the constructor) set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict:
        """Everything but the optimizer, as plain data (numbers and lists)."""
        return {key: _copy(value) for key, value in self.__dict__.items() if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore what ``state_dict()`` returned. The groups' ``lr`` are not touched: they come
        back with the optimizer's own state dict."""
        self.__dict__.update({key: _copy(value) for key, value in state_dict.items()})


class LambdaLR(LRScheduler):
    """``LambdaLR(optimizer, lr_lambda, last_epoch=-1)``: ``lr = base_lr * lr_lambda(epoch)``.

    ``lr_lambda`` is one function for all groups or a list with one per group. A function cannot
    be saved as data, so ``state_dict()`` leaves the functions out; for a callable OBJECT (such as
    the warmup schedules below) it keeps the object's attributes, and ``load_state_dict`` puts
    them back, as PyTorch does."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"LambdaLR: got {len(lr_lambda)} lr_lambdas for {n} parameter group(s)")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"LambdaLR: lr_lambda must be callable, got {type(f).__name__}")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base_lr * f(self.last_epoch) for base_lr, f in zip(self.base_lrs, self.lr_lambdas)]

    def state_dict(self) -> dict:
        """Like the base class, with ``'lr_lambdas'``: None for a function, the attributes of a
        callable object."""
        state = {key: _copy(value) for key, value in self.__dict__.items() if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [
            None if isinstance(f, types.FunctionType) else _copy(vars(f)) if hasattr(f, "__dict__") else None
            for f in self.lr_lambdas
        ]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = dict(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        super().load_state_dict(state)
        for f, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                vars(f).update(attributes)


class StepLR(LRScheduler):
    """``StepLR(optimizer, step_size, gamma=0.1, last_epoch=-1)``: multiply the rate by ``gamma``
    every ``step_size`` epochs, ``lr = base_lr * gamma ** (epoch // step_size)``."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        if int(step_size) != step_size or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size}")
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


# ---------------------------------------------------------------------------------------------
# warmup schedules (Hugging Face names), as LambdaLR with a callable object
# ---------------------------------------------------------------------------------------------


def warmup_factor(step: int, num_warmup_steps: int) -> float:
    """The linear warmup: ``step / num_warmup_steps``, from 0 at step 0 to 1 at the end of warmup."""
    return step / max(1, num_warmup_steps)


class WarmupLinearDecay:
    """The factor of ``get_linear_schedule_with_warmup``: linear warmup from 0 to 1, then a linear
    decay to 0 at ``num_training_steps`` (and 0 after it). Plain attributes, so it saves as data."""

    def __init__(self, num_warmup_steps: int, num_training_steps: int):
        self.num_warmup_steps = num_warmup_steps
        self.num_training_steps = num_training_steps

    def __call__(self, step: int) -> float:
        if step < self.num_warmup_steps:
            return warmup_factor(step, self.num_warmup_steps)
        remaining = self.num_training_steps - step
        return max(0.0, remaining / max(1, self.num_training_steps - self.num_warmup_steps))


class WarmupCosineDecay:
    """The factor of ``get_cosine_schedule_with_warmup``: linear warmup from 0 to 1, then
    ``min_lr_ratio + (1 - min_lr_ratio) * (1 + cos(2 pi num_cycles progress)) / 2`` where progress
    goes from 0 to 1 over the remaining steps (half a cosine, 1 down to ``min_lr_ratio``, for the
    default ``num_cycles=0.5``). After ``num_training_steps`` the factor stays where it ended."""

    def __init__(self, num_warmup_steps: int, num_training_steps: int, num_cycles: float, min_lr_ratio: float):
        self.num_warmup_steps = num_warmup_steps
        self.num_training_steps = num_training_steps
        self.num_cycles = num_cycles
        self.min_lr_ratio = min_lr_ratio

    def __call__(self, step: int) -> float:
        if step < self.num_warmup_steps:
            return warmup_factor(step, self.num_warmup_steps)
        progress = (step - self.num_warmup_steps) / max(1, self.num_training_steps - self.num_warmup_steps)
        progress = min(1.0, progress)
        cosine = 0.5 * (1.0 + math.cos(2.0 * math.pi * self.num_cycles * progress))
        return max(0.0, self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)


def get_linear_schedule_with_warmup(
    optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int, last_epoch: int = -1
) -> LambdaLR:
    """A ``LambdaLR``: the rate rises linearly from 0 to each group's ``lr`` over
    ``num_warmup_steps``, then falls linearly to 0 at ``num_training_steps``."""
    _check_steps("get_linear_schedule_with_warmup", num_warmup_steps, num_training_steps)
    return LambdaLR(optimizer, WarmupLinearDecay(num_warmup_steps, num_training_steps), last_epoch)


def get_cosine_schedule_with_warmup(
    optimizer: Optimizer,
    num_warmup_steps: int,
    num_training_steps: int,
    num_cycles: float = 0.5,
    min_lr_ratio: float = 0.0,
    last_epoch: int = -1,
) -> LambdaLR:
    """A ``LambdaLR``: the rate rises linearly from 0 to each group's ``lr`` over
    ``num_warmup_steps``, then follows a cosine down to ``min_lr_ratio * lr`` at
    ``num_training_steps`` (``num_cycles=0.5``: half a period)."""
    _check_steps("get_cosine_schedule_with_warmup", num_warmup_steps, num_training_steps)
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"get_cosine_schedule_with_warmup: min_lr_ratio={min_lr_ratio} is outside [0, 1]")
    if num_cycles < 0:
        raise ValueError(f"get_cosine_schedule_with_warmup: num_cycles={num_cycles} is negative")
    factor = WarmupCosineDecay(num_warmup_steps, num_training_steps, num_cycles, min_lr_ratio)
    return LambdaLR(optimizer, factor, last_epoch)


def _check_steps(name: str, num_warmup_steps: int, num_training_steps: int) -> None:
    """The warmup must fit in the training: ``0 <= num_warmup_steps <= num_training_steps``."""
    if not 0 <= num_warmup_steps <= num_training_steps:
        raise ValueError(
            f"{name}: need 0 <= num_warmup_steps <= num_training_steps, got num_warmup_steps={num_warmup_steps} "
            f"and num_training_steps={num_training_steps}"
        )


def _copy(value):
    """A copy of plain data (lists and dicts are copied, so a state dict does not share them)."""
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
