"""train.py: the Trainer. Learning, gradient accumulation, the schedule, exact resume after an
interruption (dropout, shuffling and a stateful collate included), the NaN guard, checkpoint
damage, and the metrics files."""

import csv
import json
import math
import os

import numpy as np
import pytest

import minilm
from minilm import nn
from minilm.data.loader import DataLoader
from minilm.io import CheckpointError
from minilm.nn import functional as F
from minilm.optim.lr_scheduler import WarmupCosineDecay, WarmupLinearDecay
from minilm.train import NonFiniteLossError, TrainConfig, Trainer, TrainResult, WarmupConstant, parameter_groups

VOCAB, MASK_ID, PAD_ID = 20, 1, 0


# ---------------------------------------------------------------------------------------------
# a tiny masked-token model, its data and a stateful MLM-style collate
# ---------------------------------------------------------------------------------------------


class TinyMLM(nn.Module):
    """A very small masked-token model: each position sees its own (maybe masked) token, its
    position and the mean of the whole sequence's embeddings (the context), then Linear ->
    LayerNorm -> ReLU -> Dropout -> Linear gives the logits over the vocabulary."""

    def __init__(self, dim=16, dropout=0.2, dtype=None):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, dim, dtype=dtype)
        self.position = nn.Embedding(8, dim, dtype=dtype)
        self.mix = nn.Linear(dim, dim, dtype=dtype)
        self.norm = nn.LayerNorm(dim, dtype=dtype)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(dim, VOCAB, dtype=dtype)

    def forward(self, input_ids):
        e = self.embed(input_ids)
        positions = minilm.arange(input_ids.shape[1]).reshape(1, -1)
        h = e + self.position(positions) + e.mean(dim=1, keepdim=True)
        return self.out(self.drop(F.relu(self.norm(self.mix(h)))))


def sequences(n=24, seed=0):
    """Token sequences of different lengths, each a simple pattern (t, t+1, t+2, ...) to learn."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        start, length = int(rng.integers(2, 10)), int(rng.integers(3, 8))
        out.append([2 + (start + j) % (VOCAB - 2) for j in range(length)])
    return out


class MaskingCollate:
    """An MLM-style collate with state: pads, masks 40% of the real tokens with fresh random choices
    at every call (drawn from rng(seed, calls)), and counts its calls; state_dict/load_state_dict
    carry the count, so a resumed run draws the masks the uninterrupted one would have."""

    def __init__(self, seed=0, probability=0.4):
        self.seed, self.probability, self.calls = seed, probability, 0

    def __call__(self, items):
        rng = np.random.default_rng([self.seed, self.calls])
        self.calls += 1
        longest = max(len(s) for s in items)
        ids = np.full((len(items), longest), PAD_ID, dtype=np.int64)
        mask = np.zeros_like(ids)
        for i, s in enumerate(items):
            ids[i, : len(s)], mask[i, : len(s)] = s, 1
        chosen = (rng.random(ids.shape) < self.probability) & (mask == 1)
        chosen[:, 0] |= mask[:, 0] == 1  # at least one label per row
        labels = np.where(chosen, ids, -100)
        ids = np.where(chosen, MASK_ID, ids)
        return {"input_ids": minilm.tensor(ids), "attention_mask": minilm.tensor(mask), "labels": minilm.tensor(labels)}

    def state_dict(self):
        return {"calls": self.calls}

    def load_state_dict(self, state):
        self.calls = int(state["calls"])


def mlm_loss(model, batch):
    logits = model(batch["input_ids"])
    loss = F.cross_entropy(logits.reshape(-1, VOCAB), batch["labels"].reshape(-1), ignore_index=-100)
    masked = int((batch["labels"].data != -100).sum())
    return loss, {"masked_tokens": float(masked)}


def build(out_dir=None, max_steps=12, dropout=0.2, seed=0, **config):
    """A fresh model, shuffling loader with the masking collate, and Trainer (nothing shared)."""
    minilm.manual_seed(seed)
    model = TinyMLM(dropout=dropout)
    loader = DataLoader(sequences(), batch_size=4, shuffle=True, seed=7, collate_fn=MaskingCollate(seed=3))
    config = {"lr": 1e-2, "warmup_steps": 3, "log_every": 1, "progress": False, **config}
    cfg = TrainConfig(max_steps=max_steps, out_dir=None if out_dir is None else str(out_dir), seed=seed, **config)
    return Trainer(model, loader, mlm_loss, cfg)


def losses(history):
    return [e["loss"] for e in history if "loss" in e]


def assert_same_parameters(a, b, **tolerance):
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for k in sa:
        if tolerance:
            np.testing.assert_allclose(sa[k].data, sb[k].data, err_msg=k, **tolerance)
        else:
            np.testing.assert_array_equal(sa[k].data, sb[k].data, err_msg=k)


# ---------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_reports_it(tmp_path):
    trainer = build(tmp_path, max_steps=120, dropout=0.0, lr=0.1, warmup_steps=5, log_every=20)
    held_out = MaskingCollate(seed=9)(sequences(24, seed=4))
    before = float(mlm_loss(trainer.model, held_out)[0].item())
    result = trainer.fit()
    after = float(mlm_loss(trainer.model, held_out)[0].item())
    assert isinstance(result, TrainResult) and result.steps == 120 == trainer.step
    assert [e["step"] for e in result.history] == [20, 40, 60, 80, 100, 120]
    assert result.history[-1]["loss"] < 0.7 * result.history[0]["loss"]
    assert after < 0.85 * before  # on batches it never trained on, too
    last = result.history[-1]
    assert result.final_metrics == {"train_loss": last["loss"], "train_masked_tokens": last["masked_tokens"]}
    assert result.checkpoint == os.path.join(str(tmp_path), "checkpoint.npz") and os.path.exists(result.checkpoint)
    assert os.path.exists(tmp_path / "loss.svg") and "<polyline" in (tmp_path / "loss.svg").read_text()


def test_weight_decay_skips_biases_and_layer_norm():
    model = TinyMLM()
    groups = parameter_groups(model, 0.1)
    decayed = {id(p) for p in groups[0]["params"]}
    named = dict(model.named_parameters())
    assert groups[0]["weight_decay"] == 0.1 and groups[1]["weight_decay"] == 0.0
    assert {n for n, p in named.items() if id(p) in decayed} == {
        "embed.weight",
        "position.weight",
        "mix.weight",
        "out.weight",
    }
    assert {n for n, p in named.items() if id(p) not in decayed} == {
        "mix.bias",
        "norm.weight",
        "norm.bias",
        "out.bias",
    }
    opt = Trainer(model, [None], mlm_loss, TrainConfig(weight_decay=0.1, progress=False)).optimizer
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.0]


def test_frozen_model_is_refused():
    model = TinyMLM().requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        Trainer(model, [None], mlm_loss, TrainConfig(progress=False))


def regression_data(n=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    y = x @ np.array([[1.0], [-2.0], [0.5]]) + 0.1 * rng.standard_normal((n, 1))
    return x, y


def regression_loader(batch_size):
    """Batches of (x, y) in float64, in order (no shuffling), so the items of one big batch are
    exactly the items of the small batches that make it up."""
    x, y = regression_data()
    return [
        (minilm.tensor(x[i : i + batch_size]), minilm.tensor(y[i : i + batch_size])) for i in range(0, 8, batch_size)
    ]


def mse(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y), {}


@pytest.mark.parametrize("max_grad_norm", [None, 0.05])
def test_gradient_accumulation_equals_one_big_batch(max_grad_norm):
    """k batches of b items, accumulated, take the same steps as one batch of k*b items (float64,
    no dropout), with clipping too (the accumulated gradient is what gets clipped)."""
    models = []
    for batch_size, accum in ((2, 4), (8, 1)):
        minilm.manual_seed(1)
        model = nn.Sequential(nn.Linear(3, 4, dtype=minilm.float64), nn.Tanh(), nn.Linear(4, 1, dtype=minilm.float64))
        cfg = TrainConfig(
            max_steps=5, lr=0.05, grad_accum_steps=accum, max_grad_norm=max_grad_norm, log_every=1, progress=False
        )
        result = Trainer(model, regression_loader(batch_size), mse, cfg).fit()
        models.append((model, result))
    (small, r_small), (big, r_big) = models
    np.testing.assert_allclose(losses(r_small.history), losses(r_big.history), rtol=1e-12)
    np.testing.assert_allclose(
        [e["grad_norm"] for e in r_small.history], [e["grad_norm"] for e in r_big.history], rtol=1e-10
    )
    assert_same_parameters(small, big, rtol=1e-10, atol=1e-13)
    assert losses(r_big.history)[-1] < losses(r_big.history)[0]


@pytest.mark.parametrize(
    "schedule, factor",
    [
        ("linear", WarmupLinearDecay(4, 20)),
        ("cosine", WarmupCosineDecay(4, 20, 0.5, 0.0)),
        ("constant", WarmupConstant(4, 20)),
    ],
)
def test_lr_in_history_follows_warmup_and_decay(schedule, factor):
    trainer = build(None, max_steps=20, schedule=schedule, warmup_steps=4, lr=0.01, dropout=0.0)
    history = trainer.fit().history
    lrs = [e["lr"] for e in history]
    # step s (1-based) is taken with the rate of schedule position s - 1
    np.testing.assert_allclose(lrs, [0.01 * factor(s - 1) for s in range(1, 21)], rtol=1e-12, atol=1e-15)
    assert lrs[0] == 0.0 and lrs[4] == pytest.approx(0.01)  # warmup from 0; the full rate after 4 steps
    if schedule != "constant":
        assert lrs[-1] < 0.01 * 0.1  # decayed


# ---------------------------------------------------------------------------------------------
# exact resume
# ---------------------------------------------------------------------------------------------


class Crash(Exception):
    pass


def crashing_at(step_to_crash, loss_fn, accum=1):
    """A loss_fn that raises at its call for optimizer step ``step_to_crash`` (a simulated power cut)."""
    calls = [0]

    def fn(model, batch):
        calls[0] += 1
        if (calls[0] - 1) // accum + 1 == step_to_crash:
            raise Crash()
        return loss_fn(model, batch)

    return fn


@pytest.mark.parametrize("accum", [1, 2])
def test_resume_after_a_crash_reproduces_the_uninterrupted_run(tmp_path, accum):
    """N steps in one go == k steps, a crash, everything built afresh, fit(resume=True) to N. The
    run has dropout, a shuffling DataLoader over several epochs and a stateful masking collate."""
    n, k = 16, 7  # 6 batches per epoch: the crash and the resume fall mid-epoch
    straight = build(tmp_path / "a", max_steps=n, grad_accum_steps=accum)
    expected = straight.fit()

    first = build(tmp_path / "b", max_steps=n, grad_accum_steps=accum, checkpoint_every=k)
    first.loss_fn = crashing_at(k + 3, mlm_loss, accum)  # steps k+1 and k+2 are logged, then lost
    with pytest.raises(Crash):
        first.fit()
    minilm.manual_seed(12345)  # whatever happened in between
    minilm.rand(100)
    resumed = build(tmp_path / "b", max_steps=n, grad_accum_steps=accum, checkpoint_every=k, seed=99)
    result = resumed.fit(resume=True)

    assert losses(result.history) == losses(expected.history)  # bit for bit
    assert result.final_metrics == expected.final_metrics
    assert [e["lr"] for e in result.history] == [e["lr"] for e in expected.history]
    assert [e["masked_tokens"] for e in result.history] == [e["masked_tokens"] for e in expected.history]
    assert [e["epoch"] for e in result.history] == [e["epoch"] for e in expected.history]
    assert_same_parameters(resumed.model, straight.model)
    assert resumed.train_loader.collate_fn.calls == straight.train_loader.collate_fn.calls
    # the metrics file holds each step once: the entries logged after the checkpoint were dropped
    rows = [json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, n + 1))
    assert [r["loss"] for r in rows] == losses(expected.history)


def test_resume_a_finished_run_to_more_steps(tmp_path):
    """Train k steps (a complete run), then build afresh with max_steps=N and resume: with a
    constant schedule this is the uninterrupted N-step run."""
    n, k = 12, 5
    expected = build(tmp_path / "a", max_steps=n, schedule="constant").fit()
    build(tmp_path / "b", max_steps=k, schedule="constant").fit()
    result = build(tmp_path / "b", max_steps=n, schedule="constant").fit(resume=True)
    assert losses(result.history) == losses(expected.history)
    assert result.steps == n


def test_resume_with_a_longer_decay_follows_the_new_max_steps(tmp_path):
    build(tmp_path, max_steps=6, schedule="linear", warmup_steps=2).fit()
    result = build(tmp_path, max_steps=10, schedule="linear", warmup_steps=2).fit(resume=True)
    lrs = [e["lr"] for e in result.history[6:]]
    np.testing.assert_allclose(lrs, [1e-2 * WarmupLinearDecay(2, 10)(s) for s in range(6, 10)], rtol=1e-12)


def test_evaluation_does_not_change_the_training_numbers(tmp_path):
    """eval_fn draws random numbers and runs in eval mode; the train losses are those of a run
    without it."""
    seen = []

    def eval_fn(model):
        seen.append(model.training)
        minilm.rand(50)  # e.g. sampling some text
        batch = MaskingCollate(seed=11)(sequences(8, seed=5))
        return {"loss": float(mlm_loss(model, batch)[0].item()), "eval_masked": 1.0}

    plain = build(None, max_steps=8).fit()
    trainer = build(tmp_path, max_steps=8, eval_every=3)
    trainer.eval_fn = eval_fn
    with_eval = trainer.fit()
    assert losses(with_eval.history) == losses(plain.history)
    assert seen == [False, False, False] and trainer.model.training  # steps 3, 6 and the end
    assert [e["step"] for e in with_eval.history if "eval_loss" in e] == [3, 6, 8]
    final, last = with_eval.final_metrics, with_eval.history[-1]
    assert set(final) == {"train_loss", "train_masked_tokens", "loss", "eval_masked"}  # eval_fn's own names
    assert final["loss"] == last["eval_loss"] and final["train_loss"] == last["loss"]
    # a finished run, resumed, trains no further and reports the same final metrics from its checkpoint
    again = build(tmp_path, max_steps=8, eval_every=3)
    again.eval_fn = eval_fn
    assert again.fit(resume=True).final_metrics == final and len(seen) == 3
    svg = (tmp_path / "loss.svg").read_text()
    assert 'data-name="train"' in svg and 'data-name="eval"' in svg


# ---------------------------------------------------------------------------------------------
# the NaN guard and damaged checkpoints
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_loss_stops_at_its_step_and_keeps_the_last_checkpoint(tmp_path, bad):
    trainer = build(tmp_path, max_steps=10, checkpoint_every=2)
    calls = [0]

    def loss_fn(model, batch):
        calls[0] += 1
        loss, metrics = mlm_loss(model, batch)
        return (loss * bad if calls[0] == 5 else loss), metrics

    trainer.loss_fn = loss_fn
    path = str(tmp_path / "checkpoint.npz")
    with pytest.raises(NonFiniteLossError, match=r"step 5: loss is (inf|nan)") as info:
        trainer.fit()
    assert f"the last good checkpoint is {path}" in str(info.value)
    assert info.value.step == 5 and info.value.checkpoint == path
    before = open(path, "rb").read()
    weights = {k: v.data.copy() for k, v in trainer.model.state_dict().items()}
    assert trainer.step == 4
    # the checkpoint of step 4 is intact: it loads, and a fresh trainer resumes from it
    assert minilm.load(path)["step"] == 4
    again = build(tmp_path, max_steps=4, checkpoint_every=2)
    again.fit(resume=True)
    assert again.step == 4
    for key, value in again.model.state_dict().items():
        np.testing.assert_array_equal(value.data, weights[key])  # step 4's weights: step 5 changed nothing
    assert open(path, "rb").read() == before


def test_non_finite_gradient_is_caught_before_the_update(tmp_path):
    def loss_fn(model, batch):
        loss, metrics = mlm_loss(model, batch)
        # sqrt at 0: the value is 0 (the loss stays finite) but its slope 1/(2 sqrt(0)) is infinite
        return loss + minilm.sqrt(model.out.bias.sum() * 0.0), metrics

    trainer = build(None, max_steps=3)
    trainer.loss_fn = loss_fn
    before = {k: v.data.copy() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(
        NonFiniteLossError, match=r"step 1: gradient norm is (nan|inf) \(the loss, [0-9.]+, is finite\)"
    ) as info:
        with np.errstate(divide="ignore", invalid="ignore"):
            trainer.fit()
    assert "no checkpoint has been written" in str(info.value) and info.value.checkpoint is None
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value.data, before[key])


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_damaged_checkpoint_on_resume_names_the_file_and_overwrites_nothing(tmp_path, damage):
    build(tmp_path, max_steps=4).fit()
    path = tmp_path / "checkpoint.npz"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a checkpoint at all")
    damaged = path.read_bytes()
    files = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    trainer = build(tmp_path, max_steps=8)
    weights = {k: v.data.copy() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(CheckpointError, match="checkpoint.npz") as info:
        trainer.fit(resume=True)
    assert str(path) in str(info.value) and "Nothing was changed or overwritten" in str(info.value)
    assert path.read_bytes() == damaged
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == files
    assert trainer.step == 0
    for key, value in trainer.model.state_dict().items():
        np.testing.assert_array_equal(value.data, weights[key])


def test_resume_without_a_checkpoint_or_with_a_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        build(tmp_path, max_steps=4).fit(resume=True)
    minilm.save({"weights": minilm.zeros(2)}, tmp_path / "checkpoint.npz")
    with pytest.raises(CheckpointError, match="not a Trainer checkpoint"):
        build(tmp_path, max_steps=4).fit(resume=True)
    with pytest.raises(ValueError, match="needs a directory"):
        build(None, max_steps=4).fit(resume=True)


def test_checkpoint_is_replaced_atomically(tmp_path, monkeypatch):
    """A crash while the next checkpoint is being written leaves the previous one whole."""
    trainer = build(tmp_path, max_steps=6, checkpoint_every=2)
    real_savez = np.savez
    calls = [0]

    def savez_then_crash(f, **arrays):
        calls[0] += 1
        if calls[0] == 2:
            f.write(b"PK\x03\x04 half a zip")
            raise OSError("disk full")
        real_savez(f, **arrays)

    monkeypatch.setattr(minilm.io.np, "savez", savez_then_crash)
    with pytest.raises(OSError, match="disk full"):
        trainer.fit()
    assert minilm.load(tmp_path / "checkpoint.npz")["step"] == 2
    assert sorted(os.listdir(tmp_path)) == ["checkpoint.npz", "metrics.jsonl"]  # no temporary file left


# ---------------------------------------------------------------------------------------------
# metrics files, loaders, configuration
# ---------------------------------------------------------------------------------------------


def test_metrics_jsonl_has_one_line_per_entry(tmp_path):
    result = build(tmp_path, max_steps=7, log_every=3).fit()
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [3, 6, 7]  # every 3 steps and the last
    assert rows == [json.loads(json.dumps(e)) for e in result.history]
    for r in rows:
        assert {"step", "epoch", "loss", "lr", "grad_norm", "masked_tokens", "tokens_per_s"} <= set(r)
        assert r["tokens_per_s"] > 0 and "items_per_s" not in r  # the batches have an attention_mask
    assert rows[1]["epoch"] == pytest.approx(1.0)  # 6 batches of 4 out of 24 items


def test_metrics_csv_gains_columns_when_eval_appears(tmp_path):
    trainer = build(tmp_path, max_steps=5, log_every=2, metrics_format="csv", eval_every=4)
    trainer.eval_fn = lambda model: {"accuracy": 0.25}
    result = trainer.fit()
    with open(tmp_path / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == [2, 4, 5]
    assert rows[0]["eval_accuracy"] == "" and float(rows[1]["eval_accuracy"]) == 0.25
    assert [float(r["loss"]) for r in rows] == [e["loss"] for e in result.history]
    assert not os.path.exists(tmp_path / "metrics.jsonl")


def test_items_per_second_without_attention_mask_and_plain_lists():
    history = (
        Trainer(
            nn.Linear(3, 1, dtype=minilm.float64),
            regression_loader(4),
            mse,
            TrainConfig(max_steps=5, log_every=1, progress=False),
        )
        .fit()
        .history
    )
    assert all(e["items_per_s"] > 0 and "tokens_per_s" not in e for e in history)
    assert [e["epoch"] for e in history] == [0.5, 1.0, 1.5, 2.0, 2.5]  # a list of 2 batches, walked again


def test_resume_with_a_plain_list_of_batches_skips_what_was_used(tmp_path):
    def run(max_steps, resume=False):
        minilm.manual_seed(0)
        model = nn.Linear(3, 1, dtype=minilm.float64)
        batches = regression_loader(2)  # 4 batches a pass
        cfg = TrainConfig(max_steps=max_steps, log_every=1, out_dir=str(tmp_path), schedule="constant", progress=False)
        return Trainer(model, batches, mse, cfg).fit(resume=resume)

    expected = losses(run(11).history)
    run(6)
    assert losses(run(11, resume=True).history) == expected


def test_loss_fn_and_loader_mistakes_are_explained():
    model = nn.Linear(3, 1, dtype=minilm.float64)
    cfg = TrainConfig(max_steps=2, progress=False)
    with pytest.raises(TypeError, match=r"the loss is \(4, 1\)"):
        Trainer(model, regression_loader(4), lambda m, b: (m(b[0]), {}), cfg).fit()
    with pytest.raises(RuntimeError, match="does not require grad"):
        Trainer(model, regression_loader(4), lambda m, b: (mse(m, b)[0].detach(), {}), cfg).fit()
    gen = (b for b in regression_loader(8))
    with pytest.raises(ValueError, match="not a generator"):
        Trainer(model, gen, mse, cfg).fit()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_steps": -1}, "max_steps must be an integer >= 0"),
        ({"grad_accum_steps": 0}, "grad_accum_steps must be an integer >= 1"),
        ({"schedule": "step"}, "schedule must be one of"),
        ({"metrics_format": "xml"}, "metrics_format must be one of"),
        ({"warmup_steps": 20, "max_steps": 10}, "warmup_steps=20 is more than max_steps=10"),
        ({"lr": -1.0}, "lr must be a finite number >= 0"),
        ({"max_grad_norm": -1.0}, "max_grad_norm must be None or a number >= 0"),
    ],
)
def test_config_checks_its_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kwargs)


def test_config_round_trips_through_a_dict():
    cfg = TrainConfig(max_steps=5, betas=[0.8, 0.9], out_dir="runs/x", schedule="cosine")
    assert cfg.betas == (0.8, 0.9)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['epochs'\]"):
        TrainConfig.from_dict({"epochs": 3})


def test_checkpoint_every_needs_out_dir():
    with pytest.raises(ValueError, match="checkpoint_every=2 needs a directory"):
        build(None, max_steps=4, checkpoint_every=2).fit()


def test_progress_bar_shows_loss_lr_and_throughput(capsys):
    build(None, max_steps=3, progress=True).fit()
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "lr=" in err and "tok/s=" in err
