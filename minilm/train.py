r"""The training loop: one ``Trainer`` for the command line and the notebooks.

Every model of the book trains the same way. Only two things change from model to model: how a
batch becomes a loss (``loss_fn``) and how the model is judged (``eval_fn``). The rest lives here::

    config = TrainConfig(max_steps=2000, lr=5e-4, warmup_steps=200, out_dir="runs/bert")
    trainer = Trainer(model, loader, loss_fn, config, eval_fn=evaluate)
    result = trainer.fit()                 # ... and after a crash: trainer.fit(resume=True)

    def loss_fn(model, batch):             # -> (loss Tensor, dict of float metrics)
        out = model(**batch)
        return out.loss, {"mlm_loss": out.mlm_loss.item()}

**One optimizer step** (``Trainer.train_step``):

1. *Gradient accumulation.* Take ``k = grad_accum_steps`` batches; for each, compute the loss and
   call ``backward`` on ``loss / k``. Gradients ADD up across ``backward`` calls, so afterwards
   ``p.grad`` holds ``(1/k) sum_j grad L_j``: the gradient of the mean loss over the k batches,
   which for k batches of ``b`` items with a per-item mean loss is exactly the gradient of one
   batch of ``k b`` items. A big batch, at the memory cost of a small one.
2. *Clipping.* Treat all gradients as one vector ``g``; if ``||g|| > max_grad_norm``, scale it by
   ``max_grad_norm / ||g||`` (``minilm.nn.utils.clip_grad_norm_``): one bad batch cannot throw the
   weights far away.
3. *AdamW.* Adam's update plus decoupled weight decay ``p <- p (1 - lr weight_decay)``, which pulls
   the weight MATRICES towards 0. Biases and LayerNorm gains (the parameters with fewer than 2
   dimensions) are left out of the decay: shrinking a LayerNorm gain towards 0 would only undo the
   normalization, and a bias does not make a model more complex (``parameter_groups``).
4. *Schedule.* The learning rate rises linearly from 0 over ``warmup_steps`` (Adam's second-moment
   estimates are poor over the first few hundred steps, and large early steps can wreck a
   Transformer), then decays to 0 at ``max_steps`` along a line or half a cosine, or stays
   ("constant").

**Checkpoints** (``out_dir/checkpoint.npz``, every ``checkpoint_every`` steps and at the end) hold
everything the next step depends on: the model, the optimizer's moments, the schedule, the step,
the history, the random generators (``minilm.get_rng_state``: dropout masks), the loader's position
(``loader.state_dict()``) and the collate function's state (the MLM masks). ``fit(resume=True)``
puts all of it back, so the resumed run computes exactly the numbers the uninterrupted run would
have computed (bit for bit on the CPU). The file is written with ``minilm.save`` (NumPy arrays and
JSON, no pickle) to a temporary file that is renamed over the old one: a crash while saving leaves
the previous checkpoint intact.

**The NaN guard.** A loss or a gradient norm that is NaN or infinite raises ``NonFiniteLossError``
naming the step, before the optimizer touches the weights and without writing a checkpoint: the
last checkpoint on disk is the last good state, and the error says where it is.

**Logs.** Every ``log_every`` steps one entry goes into ``history`` and, with ``out_dir``, into
``out_dir/metrics.jsonl`` (or ``metrics.csv``): the mean loss and ``loss_fn`` metrics over the steps
since the last entry, the learning rate, the gradient norm and the throughput (tokens/s when the
batch has an ``attention_mask``, items/s otherwise). ``eval_fn`` runs every ``eval_every`` steps and
at the end; its metrics join the entry of that step with an ``eval_`` prefix. At the end the loss
curve is drawn to ``out_dir/loss.svg``, and ``fit`` returns a ``TrainResult`` whose ``final_metrics``
hold the last ``eval_fn`` result under its own names and the last train values as ``train_*``.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from minilm import backend
from minilm.autograd import no_grad
from minilm.io import CheckpointError, atomic_open, load, save
from minilm.nn.utils.clip_grad import clip_grad_norm_
from minilm.optim import AdamW
from minilm.optim.lr_scheduler import LambdaLR, get_cosine_schedule_with_warmup, get_linear_schedule_with_warmup
from minilm.plotting import line_plot_svg
from minilm.tensor import Tensor

__all__ = [
    "NonFiniteLossError",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "WarmupConstant",
    "make_scheduler",
    "parameter_groups",
]

CHECKPOINT_FORMAT = "minilm.trainer"
CHECKPOINT_VERSION = 1
SCHEDULES = ("linear", "cosine", "constant")
METRICS_FORMATS = ("jsonl", "csv")
#: Keys the trainer writes in a history entry itself; a ``loss_fn`` metric of the same name is
#: stored as ``train_<name>`` instead.
RESERVED_KEYS = ("step", "epoch", "loss", "lr", "grad_norm", "items_per_s", "tokens_per_s")
#: Keys of a history entry that describe the step rather than measure the model (left out of
#: ``final_metrics``).
RATE_KEYS = ("step", "epoch", "lr", "grad_norm", "items_per_s", "tokens_per_s")


# ---------------------------------------------------------------------------------------------
# configuration, result, error
# ---------------------------------------------------------------------------------------------


@dataclass
class TrainConfig:
    """What a training run does. ``max_steps`` counts OPTIMIZER steps (each uses
    ``grad_accum_steps`` batches). ``max_grad_norm`` None or 0: no clipping. ``eval_every``,
    ``checkpoint_every``: 0 means only at the end. ``log_every`` 0: one entry at the end only.
    ``out_dir`` None: nothing is written (no checkpoints, metrics or plot). ``seed`` reseeds
    minilm's generators when a fresh run starts (None: leave them). ``schedule``: "linear",
    "cosine" or "constant", each after a linear warmup of ``warmup_steps``."""

    max_steps: int = 1000
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple = (0.9, 0.999)
    warmup_steps: int = 0
    schedule: str = "linear"
    max_grad_norm: float | None = 1.0
    grad_accum_steps: int = 1
    eval_every: int = 0
    checkpoint_every: int = 0
    log_every: int = 10
    out_dir: str | None = None
    seed: int | None = 0
    progress: bool = True
    metrics_format: str = "jsonl"

    def __post_init__(self):
        self.betas = tuple(self.betas)
        if self.out_dir is not None:
            self.out_dir = os.fspath(self.out_dir)
        for name in ("max_steps", "warmup_steps", "eval_every", "checkpoint_every", "log_every"):
            _check_int(name, getattr(self, name), 0)
        _check_int("grad_accum_steps", self.grad_accum_steps, 1)
        if self.seed is not None:
            _check_int("seed", self.seed, 0)
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"TrainConfig: {name} must be a finite number >= 0, got {value!r}")
        if self.max_grad_norm is not None and not (self.max_grad_norm >= 0):
            raise ValueError(f"TrainConfig: max_grad_norm must be None or a number >= 0, got {self.max_grad_norm!r}")
        if self.warmup_steps > self.max_steps:
            raise ValueError(
                f"TrainConfig: warmup_steps={self.warmup_steps} is more than max_steps={self.max_steps}; "
                "the warmup must fit in the run"
            )
        if self.schedule not in SCHEDULES:
            raise ValueError(f"TrainConfig: schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.metrics_format not in METRICS_FORMATS:
            raise ValueError(
                f"TrainConfig: metrics_format must be one of {METRICS_FORMATS}, got {self.metrics_format!r}"
            )

    def to_dict(self) -> dict:
        """The configuration as plain data (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> TrainConfig:
        """The configuration ``to_dict`` described; an unknown key is an error naming it."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"TrainConfig.from_dict: unknown key(s) {unknown}; the keys are {sorted(known)}")
        return cls(**dict(d))


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"TrainConfig: {name} must be an integer >= {low}, got {value!r}")


@dataclass
class TrainResult:
    """What ``fit`` returns: every history entry; ``final_metrics``, the metrics at the end: the
    last ``eval_fn`` result under its own names (``{"accuracy": 0.81}``) and the last logged train
    values with a ``train_`` prefix (``train_loss`` and each ``loss_fn`` metric); the number of
    optimizer steps done; and the checkpoint's path (None without ``out_dir``)."""

    history: list = field(default_factory=list)
    final_metrics: dict = field(default_factory=dict)
    steps: int = 0
    checkpoint: str | None = None


class NonFiniteLossError(FloatingPointError):
    """The loss or the gradient norm became NaN or infinite at optimizer step ``step``. The weights
    were not updated and no checkpoint was written; ``checkpoint`` is the path of the last good one
    (None if there is none)."""

    def __init__(self, message: str, step: int, loss: float, grad_norm: float | None, checkpoint: str | None):
        super().__init__(message)
        self.step, self.loss, self.grad_norm, self.checkpoint = step, loss, grad_norm, checkpoint


# ---------------------------------------------------------------------------------------------
# optimizer and schedule
# ---------------------------------------------------------------------------------------------


def parameter_groups(model, weight_decay: float) -> list[dict]:
    """AdamW's parameter groups: the parameters with 2 or more dimensions (weight matrices,
    embeddings) with ``weight_decay``, the others (biases, LayerNorm weights and biases) with none.
    Frozen parameters (``requires_grad=False``) are left out; an empty group is not made."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if not groups:
        raise ValueError(f"Trainer: {type(model).__name__} has no parameter that requires grad; nothing to train")
    return groups


class WarmupConstant:
    """The factor of the "constant" schedule: a linear warmup from 0 to 1 over ``num_warmup_steps``,
    then 1. (A callable object with plain attributes, so that it saves as data.)"""

    def __init__(self, num_warmup_steps: int, num_training_steps: int):
        self.num_warmup_steps = num_warmup_steps
        self.num_training_steps = num_training_steps

    def __call__(self, step: int) -> float:
        return min(1.0, step / max(1, self.num_warmup_steps))


def make_scheduler(optimizer, config: TrainConfig) -> LambdaLR:
    """The schedule ``config.schedule`` over ``config.max_steps`` with ``config.warmup_steps``."""
    if config.schedule == "linear":
        return get_linear_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    if config.schedule == "cosine":
        return get_cosine_schedule_with_warmup(optimizer, config.warmup_steps, config.max_steps)
    return LambdaLR(optimizer, WarmupConstant(config.warmup_steps, config.max_steps))


# ---------------------------------------------------------------------------------------------
# small helpers: batches, numbers, files
# ---------------------------------------------------------------------------------------------


def batch_size_and_tokens(batch) -> tuple[int | None, int | None]:
    """``(items, tokens)`` in a batch, for the throughput: items from the first dimension of the
    first tensor in it (a dict's first value, a tuple's first element), tokens as the sum of its
    ``attention_mask`` (None when it has none)."""
    tokens = None
    if isinstance(batch, Mapping):
        mask = batch.get("attention_mask")
        if mask is not None:
            tokens = int((mask.data if isinstance(mask, Tensor) else np.asarray(mask)).sum())
        values = list(batch.values())
    elif isinstance(batch, (tuple, list)):
        values = list(batch)
    else:
        values = [batch]
    for v in values:
        shape = getattr(v, "shape", None)
        if shape:
            return int(shape[0]), tokens
    return None, tokens


def _number(value, what: str) -> float:
    """A metric as a Python float (a 0-d Tensor or array, a NumPy scalar, a number)."""
    if isinstance(value, Tensor):
        value = value.item()
    try:
        return float(value)
    except (TypeError, ValueError):
        raise TypeError(f"Trainer: {what} must be a number, got {type(value).__name__}") from None


def _json_value(v):
    """A history value for metrics.jsonl: NaN and infinities (not JSON) become null."""
    return v if not isinstance(v, float) or math.isfinite(v) else None


class _Window:
    """The steps since the last history entry: sums of the loss, the ``loss_fn`` metrics and the
    gradient norm (averaged when the entry is written), the last learning rate, and the items,
    tokens and seconds for the throughput."""

    def __init__(self, state: Mapping | None = None):
        state = state or {}
        self.steps = int(state.get("steps", 0))
        self.sums = dict(state.get("sums", {}))
        self.lr = state.get("lr")
        self.items = state.get("items")
        self.tokens = state.get("tokens")
        self.seconds = float(state.get("seconds", 0.0))

    def add(self, values: dict, items, tokens, seconds: float) -> None:
        self.steps += 1
        for k, v in values.items():
            if k == "lr":
                self.lr = v
            else:
                self.sums[k] = self.sums.get(k, 0.0) + v
        if items is not None:
            self.items = (self.items or 0) + items
        if tokens is not None:
            self.tokens = (self.tokens or 0) + tokens
        self.seconds += seconds

    def summary(self) -> dict:
        """The means, the last lr, and the throughput: tokens/s if the batches had an attention_mask."""
        out = {k: v / max(1, self.steps) for k, v in self.sums.items() if k != "grad_norm"}
        out["lr"] = self.lr
        if "grad_norm" in self.sums:
            out["grad_norm"] = self.sums["grad_norm"] / max(1, self.steps)
        if self.tokens is not None:
            out["tokens_per_s"] = self.tokens / max(self.seconds, 1e-12)
        elif self.items is not None:
            out["items_per_s"] = self.items / max(self.seconds, 1e-12)
        return out

    def state_dict(self) -> dict:
        return {
            "steps": self.steps,
            "sums": dict(self.sums),
            "lr": self.lr,
            "items": self.items,
            "tokens": self.tokens,
            "seconds": self.seconds,
        }


# ---------------------------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------------------------


class Trainer:
    """``Trainer(model, train_loader, loss_fn, config, eval_fn=None, optimizer=None, scheduler=None)``.

    ``loss_fn(model, batch) -> (loss, metrics)``: a scalar Tensor and a dict of floats (a bare
    loss Tensor is accepted too). ``train_loader``: anything iterable again and again (a
    ``DataLoader``, a list of batches); it is walked epoch after epoch until ``max_steps``.
    ``eval_fn(model) -> dict of floats`` runs under ``no_grad`` in ``eval()`` mode, and cannot
    change the training's random numbers (the generators are saved and restored around it).
    ``optimizer`` defaults to AdamW over ``parameter_groups``, ``scheduler`` to ``make_scheduler``
    (either may be given; the scheduler's ``step()`` is called once per optimizer step).
    ``config.lr``, ``weight_decay`` and ``betas`` are used only when the Trainer builds the optimizer.

    Attributes: ``step`` (optimizer steps done), ``history`` (list of dicts), ``checkpoint_path``.
    """

    def __init__(self, model, train_loader, loss_fn, config=None, eval_fn=None, optimizer=None, scheduler=None):
        self.model = model
        self.train_loader = train_loader
        self.loss_fn = loss_fn
        self.config = TrainConfig() if config is None else config
        if not isinstance(self.config, TrainConfig):
            raise TypeError(f"Trainer: config must be a TrainConfig, got {type(self.config).__name__}")
        self.eval_fn = eval_fn
        cfg = self.config
        if optimizer is None:
            optimizer = AdamW(parameter_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas)
        self.optimizer = optimizer
        self._own_scheduler = scheduler is None
        self.scheduler = make_scheduler(optimizer, cfg) if scheduler is None else scheduler
        self.step = 0
        self.history: list[dict] = []
        self._window = _Window()
        self._last = {"train": {}, "eval": {}}  # the latest train summary and eval_fn result
        self._iterator = None
        self._passes = 0  # complete passes over train_loader
        self._pass_batches = 0  # batches taken in the current pass
        self._csv_columns: list | None = None

    # -----------------------------------------------------------------------------------------
    # paths
    # -----------------------------------------------------------------------------------------

    @property
    def checkpoint_path(self) -> str | None:
        """``out_dir/checkpoint.npz``, or None without ``out_dir``."""
        return None if self.config.out_dir is None else os.path.join(self.config.out_dir, "checkpoint.npz")

    @property
    def metrics_path(self) -> str | None:
        """``out_dir/metrics.jsonl`` (or ``.csv``), or None without ``out_dir``."""
        out = self.config.out_dir
        return None if out is None else os.path.join(out, f"metrics.{self.config.metrics_format}")

    def _last_good_checkpoint(self) -> str | None:
        path = self.checkpoint_path
        return path if path is not None and os.path.exists(path) else None

    # -----------------------------------------------------------------------------------------
    # the loop
    # -----------------------------------------------------------------------------------------

    def fit(self, resume: bool = False) -> TrainResult:
        """Train until ``config.max_steps`` optimizer steps are done, and return a ``TrainResult``.

        ``resume=True`` first restores everything from ``out_dir/checkpoint.npz`` (a missing or
        damaged file is an error, and then nothing is changed or overwritten). Without it, a
        trainer that has not trained yet starts a fresh run (``config.seed`` reseeds the
        generators, the metrics file starts empty); one that has trained continues from where
        it stands in memory (raise ``config.max_steps`` to train longer)."""
        cfg = self.config
        if cfg.out_dir is None and (resume or cfg.checkpoint_every):
            what = "resume=True" if resume else f"checkpoint_every={cfg.checkpoint_every}"
            raise ValueError(f"Trainer.fit: {what} needs a directory for the checkpoint; set config.out_dir")
        if resume:
            self.load_checkpoint(self.checkpoint_path)
        elif self.step == 0:
            if cfg.seed is not None:
                backend.manual_seed(cfg.seed)
            self.history, self._window, self._last = [], _Window(), {"train": {}, "eval": {}}
        if cfg.out_dir is not None:
            os.makedirs(cfg.out_dir, exist_ok=True)
            if resume or self.step == 0:
                self._rewrite_metrics()
        self._sync_schedule()
        bar = _progress_bar(cfg, self.step)
        try:
            while self.step < cfg.max_steps:
                self._one_step(bar)
        finally:
            bar.close()
        if cfg.out_dir is not None:
            self.plot_loss(os.path.join(cfg.out_dir, "loss.svg"))
        return TrainResult(list(self.history), self.final_metrics(), self.step, self._last_good_checkpoint())

    def _one_step(self, bar) -> None:
        """One optimizer step, then the history entry, evaluation and checkpoint that are due."""
        cfg = self.config
        start = time.perf_counter()
        values, items, tokens = self.train_step()
        self._window.add(values, items, tokens, time.perf_counter() - start)
        step, last = self.step, self.step == cfg.max_steps
        entry = {}
        if last or (cfg.log_every and step % cfg.log_every == 0):
            entry.update(self._window.summary())
            self._window = _Window()
            self._last["train"] = {k: v for k, v in entry.items() if k not in RATE_KEYS}
        if self.eval_fn is not None and (last or (cfg.eval_every and step % cfg.eval_every == 0)):
            self._last["eval"] = self.evaluate()
            entry.update({k if k.startswith("eval_") else f"eval_{k}": v for k, v in self._last["eval"].items()})
        if entry:
            entry = {"step": step, "epoch": self._epoch(), **entry}
            self.history.append(entry)
            self._append_metrics(entry)
        bar.update(1)
        shown = {"loss": f"{values['loss']:.4f}", "lr": f"{values['lr']:.2e}"}
        if "tokens_per_s" in entry or "items_per_s" in entry:
            rate = entry.get("tokens_per_s", entry.get("items_per_s"))
            shown["tok/s" if "tokens_per_s" in entry else "items/s"] = f"{rate:.0f}"
        bar.set_postfix(shown, refresh=False)
        if cfg.out_dir is not None and (last or (cfg.checkpoint_every and step % cfg.checkpoint_every == 0)):
            self.save_checkpoint()

    def train_step(self) -> tuple[dict, int | None, int | None]:
        """Accumulate the gradients of ``grad_accum_steps`` batches, clip, take one AdamW step and
        advance the schedule. Returns the step's values (mean loss and ``loss_fn`` metrics over the
        batches, ``lr`` used, ``grad_norm`` before clipping) and the items and tokens it saw.
        Raises ``NonFiniteLossError`` (the weights untouched) on a NaN/inf loss or gradient norm."""
        k = self.config.grad_accum_steps
        step = self.step + 1
        self.model.train()
        self.optimizer.zero_grad()
        sums, items, tokens = {"loss": 0.0}, None, None
        for _ in range(k):
            batch = self._next_batch()
            loss, metrics = self._call_loss_fn(batch)
            value = float(loss.item())
            if not math.isfinite(value):
                self._non_finite(step, f"loss is {value}", value, None)
            (loss * (1.0 / k) if k > 1 else loss).backward()
            sums["loss"] += value
            for name, v in metrics.items():
                key = f"train_{name}" if name in RESERVED_KEYS else name
                sums[key] = sums.get(key, 0.0) + _number(v, f"loss_fn metric {name!r}")
            n, t = batch_size_and_tokens(batch)
            items = None if n is None else (items or 0) + n
            tokens = None if t is None else (tokens or 0) + t
        params = [p for group in self.optimizer.param_groups for p in group["params"]]
        max_norm = self.config.max_grad_norm or math.inf
        norm = float(clip_grad_norm_(params, max_norm).item())
        if not math.isfinite(norm):
            self._non_finite(step, f"gradient norm is {norm} (the loss, {sums['loss'] / k:.6g}, is finite)", None, norm)
        values = {name: s / k for name, s in sums.items()}
        values["lr"] = float(self.optimizer.param_groups[0]["lr"])
        values["grad_norm"] = norm
        self.optimizer.step()
        self.optimizer.zero_grad()
        self.scheduler.step()
        self.step = step
        return values, items, tokens

    def _call_loss_fn(self, batch):
        """``loss_fn(model, batch)``, checked: a scalar Tensor that requires grad, and a dict."""
        out = self.loss_fn(self.model, batch)
        loss, metrics = (out, {}) if isinstance(out, Tensor) else out
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            shape = tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__
            raise TypeError(f"Trainer: loss_fn must return (scalar loss Tensor, dict of metrics); the loss is {shape}")
        if not loss.requires_grad:
            raise RuntimeError(
                "Trainer: the loss from loss_fn does not require grad, so backward() cannot reach the parameters; "
                "was it computed under no_grad(), or are all parameters frozen?"
            )
        if not isinstance(metrics, Mapping):
            raise TypeError(f"Trainer: loss_fn's metrics must be a dict of floats, got {type(metrics).__name__}")
        return loss.reshape(()), metrics

    def _non_finite(self, step: int, what: str, loss, norm):
        """Raise NonFiniteLossError for ``step``, naming the last good checkpoint."""
        self.optimizer.zero_grad()
        path = self._last_good_checkpoint()
        where = (
            f"the last good checkpoint is {path}"
            if path
            else "no checkpoint has been written (set out_dir and checkpoint_every to keep one)"
        )
        raise NonFiniteLossError(
            f"step {step}: {what}; the weights were not updated and no checkpoint was written; {where}. "
            "Try a lower lr, a longer warmup or a smaller max_grad_norm, and look in loss_fn for log(0) or a "
            "division by 0; resume from the checkpoint with fit(resume=True)",
            step,
            loss,
            norm,
            path,
        )

    def _next_batch(self):
        """The next batch of ``train_loader``, starting a new pass when one ends."""
        if self._iterator is None:
            self._iterator = iter(self.train_loader)
        try:
            batch = next(self._iterator)
        except StopIteration:
            self._iterator = iter(self.train_loader)
            self._passes, self._pass_batches = self._passes + 1, 0
            try:
                batch = next(self._iterator)
            except StopIteration:
                raise ValueError(
                    "Trainer: train_loader yielded no batch in a new pass; it must be non-empty and iterable "
                    "again and again (a DataLoader or a list of batches, not a generator)"
                ) from None
        self._pass_batches += 1
        return batch

    def _epoch(self) -> float:
        """Passes over the loader so far, with the fraction of the current one (if it has a length)."""
        try:
            n = len(self.train_loader)
        except TypeError:
            n = 0
        return round(self._passes + (self._pass_batches / n if n else 0.0), 4)

    def evaluate(self) -> dict:
        """``eval_fn(model)`` in eval mode under no_grad, its values made floats ({} without eval_fn).
        The random generators are restored afterwards, so evaluating (or not) leaves the training
        run's numbers unchanged. (In the history its keys get an ``eval_`` prefix, unless they
        already have one.)"""
        if self.eval_fn is None:
            return {}
        rng, was_training = backend.get_rng_state(), self.model.training
        self.model.eval()
        try:
            with no_grad():
                metrics = self.eval_fn(self.model)
        finally:
            self.model.train(was_training)
            backend.set_rng_state(rng)
        if not isinstance(metrics, Mapping):
            raise TypeError(f"Trainer: eval_fn must return a dict of floats, got {type(metrics).__name__}")
        return {str(k): _number(v, f"eval_fn metric {k!r}") for k, v in metrics.items()}

    def final_metrics(self) -> dict:
        """The metrics at the end: ``train_loss`` and the ``loss_fn`` metrics of the last history
        entry (prefixed ``train_``), and the last ``eval_fn`` result under its own names."""
        out = {f"train_{k}": v for k, v in self._last["train"].items()}
        out.update(self._last["eval"])
        return out

    def _sync_schedule(self) -> None:
        """Make the trainer's own schedule follow ``config`` (max_steps may have been raised since
        the checkpoint or the last fit), and set the groups' lr for the current step."""
        if not self._own_scheduler:
            return
        for f in self.scheduler.lr_lambdas:
            f.num_warmup_steps, f.num_training_steps = self.config.warmup_steps, self.config.max_steps
        lrs = self.scheduler.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs, strict=True):
            group["lr"] = lr
        self.scheduler._last_lr = list(lrs)

    # -----------------------------------------------------------------------------------------
    # checkpoints
    # -----------------------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """Everything a resumed run needs, as data ``minilm.save`` can store."""
        collate = getattr(self.train_loader, "collate_fn", None)
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "step": self.step,
            "config": self.config.to_dict(),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": backend.get_rng_state(),
            "loader": self.train_loader.state_dict() if hasattr(self.train_loader, "state_dict") else None,
            "collate": collate.state_dict() if hasattr(collate, "state_dict") else None,
            "position": {"passes": self._passes, "batches": self._pass_batches},
            "window": self._window.state_dict(),
            "last": self._last,
            "history": self.history,
        }

    def save_checkpoint(self, path=None) -> str:
        """Write ``state_dict()`` to ``path`` (default ``checkpoint_path``) atomically; returns the path."""
        path = os.fspath(path) if path is not None else self.checkpoint_path
        if path is None:
            raise ValueError("Trainer.save_checkpoint: no path given and config.out_dir is None")
        save(self.state_dict(), path)
        return path

    def load_checkpoint(self, path) -> None:
        """Restore the model, optimizer, schedule, step, history, random generators, loader position
        and collate state from the checkpoint at ``path``. A damaged file or one that is not a
        Trainer checkpoint raises CheckpointError naming it, before anything is changed."""
        if path is None or not os.path.exists(path):
            raise FileNotFoundError(
                f"Trainer: cannot resume: there is no checkpoint '{path}'; train with fit() first (with out_dir "
                "set), or point config.out_dir at the run to resume"
            )
        try:
            state = load(path)
        except CheckpointError as e:
            raise CheckpointError(
                f"Trainer: cannot resume from '{path}': {e}. Nothing was changed or overwritten; start afresh "
                "with fit() (which replaces the file) or restore a copy of the checkpoint"
            ) from None
        self._check_checkpoint(state, path)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(
                f"Trainer: the checkpoint '{path}' does not fit this trainer ({e}); build the model and the "
                "optimizer as they were built for the run that wrote it"
            ) from None
        self._restore_position(state, path)
        backend.set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.history = [dict(entry) for entry in state["history"]]
        self._window = _Window(state["window"])
        self._last = {"train": dict(state["last"]["train"]), "eval": dict(state["last"]["eval"])}

    def _check_checkpoint(self, state, path: str) -> None:
        """A Trainer checkpoint of a version this code reads, with every entry present."""
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            found = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise CheckpointError(
                f"Trainer: '{path}' is a minilm file but not a Trainer checkpoint (format {found!r}, expected "
                f"{CHECKPOINT_FORMAT!r})"
            )
        if state.get("version") != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"Trainer: '{path}' has checkpoint version {state.get('version')!r}; this minilm reads "
                f"version {CHECKPOINT_VERSION}"
            )
        needed = (
            "step",
            "model",
            "optimizer",
            "scheduler",
            "rng",
            "loader",
            "collate",
            "position",
            "window",
            "last",
            "history",
        )
        missing = [k for k in needed if k not in state]
        if missing:
            raise CheckpointError(f"Trainer: the checkpoint '{path}' lacks {missing}; it was altered or cut short")

    def _restore_position(self, state: dict, path: str) -> None:
        """Put the loader (and its collate function) where the checkpoint left them. A loader without
        ``state_dict`` is re-iterated and the batches already used in the current pass are skipped."""
        loader, collate = self.train_loader, getattr(self.train_loader, "collate_fn", None)
        position = state["position"]
        self._passes, self._pass_batches = int(position["passes"]), int(position["batches"])
        self._iterator = None
        if state["loader"] is not None and hasattr(loader, "load_state_dict"):
            loader.load_state_dict(state["loader"])
        else:
            self._iterator = iter(loader)
            for _ in range(self._pass_batches):
                next(self._iterator)
        if state["collate"] is not None:
            if not hasattr(collate, "load_state_dict"):
                raise CheckpointError(
                    f"Trainer: the checkpoint '{path}' holds the state of a collate_fn, but this loader's collate_fn "
                    f"({type(collate).__name__}) has no load_state_dict; use the collate_fn of the run that wrote it"
                )
            collate.load_state_dict(state["collate"])

    # -----------------------------------------------------------------------------------------
    # metrics files and the plot
    # -----------------------------------------------------------------------------------------

    def _rewrite_metrics(self) -> None:
        """Write the whole history to the metrics file, replacing it atomically (at the start of a
        run, and on resume: entries logged after the checkpoint was written are dropped)."""
        path = self.metrics_path
        if self.config.metrics_format == "jsonl":
            text = "".join(json.dumps({k: _json_value(v) for k, v in e.items()}) + "\n" for e in self.history)
        else:
            self._csv_columns = _columns(self.history)
            text = _csv_text(self.history, self._csv_columns, header=True)
        with atomic_open(path, "Trainer") as f:
            f.write(text.encode("utf-8"))

    def _append_metrics(self, entry: dict) -> None:
        """Append one entry to the metrics file (a CSV file is rewritten when a new column appears)."""
        path = self.metrics_path
        if path is None:
            return
        if self.config.metrics_format == "jsonl":
            with open(path, "a", encoding="utf-8") as f:
                f.write(json.dumps({k: _json_value(v) for k, v in entry.items()}) + "\n")
        elif self._csv_columns is None or not set(entry) <= set(self._csv_columns):
            self._rewrite_metrics()
        else:
            with open(path, "a", encoding="utf-8", newline="") as f:
                f.write(_csv_text([entry], self._csv_columns, header=False))

    def plot_loss(self, path) -> str:
        """Draw the train loss (and ``eval_loss``, if eval_fn gives a "loss") against the step to
        ``path`` as SVG; returns the SVG text."""
        series = {}
        for key, name in (("loss", "train"), ("eval_loss", "eval")):
            points = [(e["step"], e[key]) for e in self.history if key in e]
            if points:
                series[name] = ([s for s, _ in points], [v for _, v in points])
        return line_plot_svg(series, path, title="loss", xlabel="optimizer step", ylabel="loss")


def _columns(history: list) -> list:
    """The CSV columns: every key of the history, in the order they first appear."""
    columns = {}
    for entry in history:
        columns.update(dict.fromkeys(entry))
    return list(columns)


def _csv_text(entries: list, columns: list, header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(entries)
    return buffer.getvalue()


def _progress_bar(config: TrainConfig, initial: int):
    """A tqdm bar over the optimizer steps (disabled, and tqdm not needed, with progress=False)."""
    if not config.progress:
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:
        raise ImportError("Trainer: progress=True needs tqdm (pip install tqdm), or pass progress=False") from None
    return tqdm(total=config.max_steps, initial=initial, desc="train", unit="step", dynamic_ncols=True)


class _NoBar:
    """What the loop calls on a progress bar, doing nothing."""

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass
