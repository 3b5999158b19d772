"""Data, training and evaluation for the encoder-decoder of ``seq2seq.py`` (which re-exports all of
this): pairs of id lists, padded batches, teacher-forced training with Adam and gradient clipping,
and the two measures, teacher-forced loss and token accuracy (``evaluate``) and whole sentences
decoded right (``exact_match``).

A pair is ``(src_ids, tgt_ids)``: two lists of word ids without ``<bos>`` or ``<eos>``; ``make_batch``
adds them. Nothing here depends on the model's class: ``model`` is anything with ``pad_id``,
``bos_id``, ``eos_id``, ``forward(src, src_lengths, tgt_in) -> logits`` and the decoding interface
of ``beam_search.py``.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import numpy as np

import minilm
from minilm import backend
from minilm.models.beam_search import beam_search, greedy_decode
from minilm.nn import functional as F
from minilm.nn.utils import clip_grad_norm_
from minilm.optim import Adam

__all__ = ["Batch", "batch_loss", "encode_pairs", "evaluate", "exact_match", "make_batch", "train_seq2seq"]


def encode_pairs(pairs, src_vocab, tgt_vocab) -> list[tuple[list[int], list[int]]]:
    """Sentence pairs (``translation.Pair`` objects or ``(source, target)`` strings, words separated
    by spaces) as ``(src_ids, tgt_ids)`` lists, unknown words as the vocabularies' unknown id."""
    out = []
    for p in pairs:
        source, target = (p.source, p.target) if hasattr(p, "source") else p
        out.append((src_vocab.lookup_ids(source.split()), tgt_vocab.lookup_ids(target.split())))
    return out


@dataclass(frozen=True)
class Batch:
    """Padded NumPy arrays: ``src`` (N, S), ``src_lengths`` (N,), ``tgt_in`` (N, T) = <bos> + target,
    ``tgt_out`` (N, T) = target + <eos>, padded with ``pad_id``."""

    src: np.ndarray
    src_lengths: np.ndarray
    tgt_in: np.ndarray
    tgt_out: np.ndarray


def make_batch(pairs, pad_id=0, bos_id=1, eos_id=2) -> Batch:
    """Pad a list of ``(src_ids, tgt_ids)`` pairs into a ``Batch``."""
    if len(pairs) == 0:
        raise ValueError("make_batch: got no pairs; give at least one (src_ids, tgt_ids)")
    for i, (s, _) in enumerate(pairs):
        if len(s) == 0:
            raise ValueError(f"make_batch: source {i} is empty; every source needs at least one word")
    N, S, T = len(pairs), max(len(s) for s, _ in pairs), max(len(t) for _, t in pairs) + 1
    src = np.full((N, S), pad_id, np.int64)
    tgt_in, tgt_out = np.full((N, T), pad_id, np.int64), np.full((N, T), pad_id, np.int64)
    for i, (s, t) in enumerate(pairs):
        src[i, : len(s)] = s
        tgt_in[i, : len(t) + 1] = [bos_id, *t]
        tgt_out[i, : len(t) + 1] = [*t, eos_id]
    return Batch(src, np.array([len(s) for s, _ in pairs], np.int64), tgt_in, tgt_out)


def batch_loss(model, batch: Batch):
    """``(loss, logits)``: the mean cross-entropy over the real target positions (``<eos>``
    included, padding ignored) and the (N, T, V) logits."""
    logits = model(batch.src, batch.src_lengths, batch.tgt_in)
    target = minilm.tensor(batch.tgt_out.reshape(-1), device=logits.device)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target, ignore_index=model.pad_id)
    return loss, logits


def evaluate(model, pairs, batch_size=256) -> tuple[float, float]:
    """``(loss, token_accuracy)`` with teacher forcing: the mean cross-entropy per target token and
    the fraction of target tokens (``<eos>`` included) whose most likely word is the right one."""
    was_training, total, correct, count = model.training, 0.0, 0, 0
    model.eval()
    with minilm.no_grad():
        for first in range(0, len(pairs), batch_size):
            batch = make_batch(pairs[first : first + batch_size], model.pad_id, model.bos_id, model.eos_id)
            loss, logits = batch_loss(model, batch)
            real = batch.tgt_out != model.pad_id
            guess = np.asarray(backend.to_device(logits.data.argmax(-1), backend.CPU))
            total += float(loss.item()) * int(real.sum())
            correct += int((guess == batch.tgt_out)[real].sum())
            count += int(real.sum())
    model.train(was_training)
    return total / max(count, 1), correct / max(count, 1)


def train_seq2seq(
    model,
    train_pairs,
    validation_pairs=None,
    epochs=10,
    batch_size=64,
    lr=3e-3,
    clip=1.0,
    seed=0,
    callback=None,
    progress=False,
) -> dict:
    """Train ``model`` on ``(src_ids, tgt_ids)`` pairs with teacher forcing, Adam(``lr``) and the
    gradients clipped to total norm ``clip`` (None: no clipping); ``seed`` fixes the batch order and
    dropout (it reseeds ``minilm.manual_seed``; the initial weights are the caller's).

    Returns the history: ``batch_loss`` (every step), ``train_loss`` (mean per epoch),
    ``validation_loss`` and ``validation_accuracy`` (teacher-forced token accuracy, per epoch, when
    ``validation_pairs`` are given) and ``seconds`` (per epoch). ``callback(epoch, history)`` is
    called after each epoch; ``progress=True`` prints one line per epoch to stderr. The model is
    left in eval mode (dropout off), ready to decode."""
    if int(epochs) != epochs or epochs < 1 or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"train_seq2seq: epochs and batch_size must be whole numbers >= 1, got {epochs}, {batch_size}")
    if not train_pairs:
        raise ValueError("train_seq2seq: train_pairs is empty")
    minilm.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = Adam(model.parameters(), lr=lr)
    keys = ("batch_loss", "train_loss", "validation_loss", "validation_accuracy", "seconds")
    history = {k: [] for k in keys}
    for epoch in range(int(epochs)):
        start, model = time.perf_counter(), model.train()
        order, losses = rng.permutation(len(train_pairs)), []
        for first in range(0, len(order), batch_size):
            batch = make_batch(
                [train_pairs[i] for i in order[first : first + batch_size]], model.pad_id, model.bos_id, model.eos_id
            )
            loss, _ = batch_loss(model, batch)
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            losses.append(float(loss.item()))
            if not math.isfinite(losses[-1]):
                raise FloatingPointError(f"train_seq2seq: the loss became {losses[-1]} in epoch {epoch + 1}; lower lr")
        history["batch_loss"] += losses
        history["train_loss"].append(float(np.mean(losses)))
        if validation_pairs:
            val_loss, val_acc = evaluate(model, validation_pairs)
            history["validation_loss"].append(val_loss)
            history["validation_accuracy"].append(val_acc)
        history["seconds"].append(time.perf_counter() - start)
        if progress:
            val = f", validation loss {val_loss:.3f}, token accuracy {val_acc:.3f}" if validation_pairs else ""
            print(
                f"epoch {epoch + 1}/{epochs}: train loss {history['train_loss'][-1]:.3f}{val}, "
                f"{history['seconds'][-1]:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        if callback is not None:
            callback(epoch, history)
    model.eval()
    return history


def exact_match(model, pairs, decode="greedy", beam_size=5, batch_size=256, max_len=None) -> float:
    """The fraction of ``(src_ids, tgt_ids)`` pairs whose decoded output equals ``tgt_ids`` exactly,
    with ``decode="greedy"`` (batched) or ``"beam"`` (one sentence at a time, ``beam_size``)."""
    if decode not in ("greedy", "beam"):
        raise ValueError(f"exact_match: decode must be 'greedy' or 'beam', got {decode!r}")
    if not pairs:
        return 0.0
    right = 0
    if decode == "greedy":
        for first in range(0, len(pairs), batch_size):
            chunk = pairs[first : first + batch_size]
            outputs, _ = greedy_decode(model, [s for s, _ in chunk], None, max_len=max_len)
            right += sum(list(o) == list(t) for o, (_, t) in zip(outputs, chunk, strict=True))
    else:
        for s, t in pairs:
            right += beam_search(model, s, beam_size=beam_size, max_len=max_len)[0].tokens == list(t)
    return right / len(pairs)
