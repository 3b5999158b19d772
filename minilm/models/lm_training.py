r"""Training and evaluating a recurrent language model: truncated BPTT, gradient clipping, perplexity.

**Truncated backpropagation through time.** The training text is one stream of ~100,000 tokens.
Backpropagating through all of it at once would keep every step's activations in memory and give
one update per pass. Instead ``minilm.data.batchify`` cuts the stream into ``batch_size`` rows
of consecutive text and ``minilm.data.LMWindows`` walks along them ``bptt`` columns at a time::

    state = None
    for inputs, targets in LMWindows(train_ids, batch_size, bptt):   # windows, left to right
        state = detach_state(state)           # keep the values, forget how they were computed
        logits, state = model(inputs, state)  # the state carries the story on from the last window
        loss = cross_entropy(logits, targets); loss.backward(); clip; step

The *forward* pass sees the whole history (the state carries it from window to window), but the
*backward* pass stops at the window's start, because ``detach_state`` cut the graph there: the
gradient flows back at most ``bptt`` steps. Without the cut, the second window's ``backward``
would run through the first window's graph again (and the graph would grow over the whole epoch).
Dependencies longer than ``bptt`` can still be *used* (they are in the state) but are learned only
through what shorter windows teach.

**Gradient clipping.** Backpropagation through time multiplies the gradient, once per step, by
``W_hh^T diag(f'(a_t))``. Over 35 steps that product can shrink it to nothing (vanishing
gradients, which the LSTM's additive cell state counters) or blow it up by orders of magnitude
(exploding gradients): the loss surface of an RNN has steep cliffs (Pascanu, Mikolov and Bengio
2013, "On the difficulty of training recurrent neural networks"), and one step on a cliff throws
the weights to a place from which training never recovers, or to ``nan``. ``clip_grad_norm_``
rescales all gradients together whenever their total norm exceeds ``clip``: the direction is kept,
only the step's length is capped. ``history["grad_norms"]`` records the norm of every batch
*before* clipping, so you can see the spikes (notebook 04 plots them for a plain RNN).

**Perplexity.** ``evaluate`` returns the mean negative log-likelihood per predicted token, in nats;
``exp`` of it is the perplexity (``minilm.models.sampling.perplexity_from_loss``).

- ``detach_state(state)``, ``evaluate(model, ids, batch_size=10, bptt=35) -> float``
- ``train_language_model(model, train_ids, validation_ids=None, epochs=1, batch_size=20, bptt=35,
  lr=None, optimizer="adam", clip=0.25, seed=0, max_batches=None, callback=None) -> dict``
"""

from __future__ import annotations

import math
import time

import minilm
from minilm.data.lm_windows import LMWindows
from minilm.models.lm_data import as_token_ids
from minilm.models.sampling import perplexity_from_loss
from minilm.nn import functional as F
from minilm.nn.utils.clip_grad import clip_grad_norm_
from minilm.optim import SGD, Adam
from minilm.tensor import Tensor

__all__ = ["DEFAULT_LR", "detach_state", "evaluate", "model_device", "train_language_model", "window_loss"]

#: The learning rate ``train_language_model`` uses for ``lr=None``. Adam's steps are about ``lr`` per
#: weight whatever the gradient's scale; 0.005 trains the models of chapter 04 well. Plain SGD moves
#: by ``lr`` times the gradient, whose mean-loss entries are tiny, so it needs a rate thousands of
#: times larger (20 with ``clip=0.25`` is the classic setting for LSTM language models).
DEFAULT_LR = {"adam": 5e-3, "sgd": 20.0}


def detach_state(state):
    """The recurrent ``state`` cut off from the graph that computed it: ``None`` stays ``None``, a
    Tensor ``h`` becomes ``h.detach()``, a tuple ``(h, c)`` is detached element by element.

    The values are kept (the next window starts where the text left off), the history is dropped
    (the next ``backward`` stops here). This is the "truncated" in truncated BPTT."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return tuple(detach_state(s) for s in state)
    raise TypeError(f"detach_state: expected None, a Tensor or a tuple of Tensors, got {type(state).__name__}")


def model_device(model):
    """The device of the model's first parameter (where its inputs must go)."""
    for p in model.parameters():
        return p.device
    raise ValueError(f"{type(model).__name__} has no parameters, so it has no device")


def window_loss(model, inputs, targets, state, reduction: str = "mean"):
    """``(loss, state)`` for one window: the cross-entropy of ``model(inputs, state)``'s logits
    (N, T, V) against ``targets`` (N, T), flattened to (N*T, V) and (N*T,)."""
    logits, state = model(inputs, state)
    V = logits.shape[-1]
    return F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1), reduction=reduction), state


def evaluate(model, ids, batch_size: int = 10, bptt: int = 35) -> float:
    """The mean negative log-likelihood per predicted token (nats) of the stream ``ids``.

    The stream is batchified into ``batch_size`` rows (the last ``len(ids) % batch_size`` tokens are
    dropped, and the first token of each row is only context) and read window by window with the
    state carried over, in eval mode (no dropout) and without building a graph. With the state
    carried, the result does not depend on ``bptt``; the smaller ``batch_size``, the fewer tokens
    are read without context. ``exp`` of it is the perplexity. The model's mode is restored."""
    stream = as_token_ids(ids, "evaluate: ids", getattr(model, "vocab_size", None))
    was_training = model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        with minilm.no_grad():
            for inputs, targets in LMWindows(stream, batch_size, bptt, device=model_device(model)):
                loss, state = window_loss(model, inputs, targets, state, reduction="sum")
                total += float(loss.item())
                count += targets.numel()
    finally:
        model.train(was_training)
    return total / count


def _make_optimizer(name: str, params, lr):
    """``optim.Adam`` or ``optim.SGD`` over ``params`` at ``lr`` (``DEFAULT_LR[name]`` when None)."""
    if name not in DEFAULT_LR:
        raise ValueError(f"train_language_model: optimizer must be one of {sorted(DEFAULT_LR)}, got {name!r}")
    lr = DEFAULT_LR[name] if lr is None else lr
    if not (isinstance(lr, (int, float)) and lr > 0):
        raise ValueError(f"train_language_model: lr must be a number > 0, got {lr!r}")
    return (Adam if name == "adam" else SGD)(params, lr=lr)


def train_epoch(model, optimizer, windows, clip, max_batches, history) -> float:
    """One pass of truncated BPTT over ``windows`` (an ``LMWindows``), at most ``max_batches`` windows.

    Per window: detach the state, forward, mean cross-entropy, backward, clip the total gradient
    norm to ``clip`` (``None`` or 0: no clipping), step. Appends each batch's loss and gradient
    norm before clipping to ``history["batch_loss"]`` and ``history["grad_norms"]``. Returns the
    mean loss per predicted token of the epoch. A loss or gradient norm that is ``nan`` or ``inf``
    raises ``FloatingPointError`` (the history up to it is in the error's ``history``)."""
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    total, count, state = 0.0, 0, None
    for k, (inputs, targets) in enumerate(windows):
        if max_batches is not None and k >= max_batches:
            break
        state = detach_state(state)  # truncated BPTT: the gradient stops at this window's start
        loss, state = window_loss(model, inputs, targets, state)
        optimizer.zero_grad()
        loss.backward()
        norm = clip_grad_norm_(params, clip if clip else math.inf)  # the norm before clipping
        value, norm = float(loss.item()), float(norm.item())
        history["batch_loss"].append(value)
        history["grad_norms"].append(norm)
        if not (math.isfinite(value) and math.isfinite(norm)):
            error = FloatingPointError(
                f"train_language_model: at batch {k} the loss is {value} and the gradient norm {norm}; training "
                "has diverged: lower lr, or clip the gradients (clip=0.25)"
            )
            error.history = history
            raise error
        optimizer.step()
        total += value * targets.numel()
        count += targets.numel()
    return total / max(count, 1)


def train_language_model(
    model,
    train_ids,
    validation_ids=None,
    epochs: int = 1,
    batch_size: int = 20,
    bptt: int = 35,
    lr: float | None = None,
    optimizer: str = "adam",
    clip: float | None = 0.25,
    seed: int | None = 0,
    max_batches: int | None = None,
    callback=None,
) -> dict:
    """Train ``model`` (an ``RNNLanguageModel``, or any module with ``forward(ids, state) -> (logits,
    state)``) on the token stream ``train_ids`` with truncated BPTT, and return its history.

    ``batch_size`` rows, windows of ``bptt`` steps; ``optimizer`` "adam" or "sgd" at ``lr``
    (``None``: ``DEFAULT_LR``); ``clip``: the largest total gradient norm (``None`` or 0: no
    clipping); ``max_batches``: at most this many windows per epoch (for quick runs). ``seed``
    reseeds minilm's generators (``minilm.manual_seed``), which the dropout masks come from, so a
    run can be repeated; ``None`` leaves them alone (the model's initial weights are drawn when it
    is built, so seed before building it). After each epoch, if ``validation_ids`` is given, the
    validation loss is computed with ``evaluate``, and ``callback(epoch, history)`` is called.

    The history (a dict of lists): ``train_loss`` and ``train_perplexity`` per epoch (mean over the
    epoch's batches, with dropout on), ``validation_loss`` and ``validation_perplexity`` per epoch
    (empty without ``validation_ids``), ``batch_loss`` and ``grad_norms`` per batch (the norm
    before clipping), ``seconds`` per epoch."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"train_language_model: epochs must be an integer >= 0, got {epochs!r}")
    if clip is not None and not clip >= 0:
        raise ValueError(f"train_language_model: clip must be None or a number >= 0, got {clip!r}")
    if seed is not None:
        minilm.manual_seed(seed)
    vocab_size = getattr(model, "vocab_size", None)
    train_ids = as_token_ids(train_ids, "train_language_model: train_ids", vocab_size)
    if validation_ids is not None:
        validation_ids = as_token_ids(validation_ids, "train_language_model: validation_ids", vocab_size)
    windows = LMWindows(train_ids, batch_size, bptt, device=model_device(model))
    opt = _make_optimizer(optimizer, [p for p in model.parameters() if p.requires_grad], lr)
    keys = ("train_loss", "train_perplexity", "validation_loss", "validation_perplexity")
    history = {k: [] for k in (*keys, "batch_loss", "grad_norms", "seconds")}
    for epoch in range(epochs):
        start = time.perf_counter()
        loss = train_epoch(model, opt, windows, clip, max_batches, history)
        history["train_loss"].append(loss)
        history["train_perplexity"].append(perplexity_from_loss(loss))
        if validation_ids is not None:
            val = evaluate(model, validation_ids, bptt=bptt)
            history["validation_loss"].append(val)
            history["validation_perplexity"].append(perplexity_from_loss(val))
        history["seconds"].append(time.perf_counter() - start)
        if callback is not None:
            callback(epoch, history)
    return history
