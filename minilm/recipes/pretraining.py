"""Pretraining: a BERT (masked LM, plus next-sentence prediction) or a GPT (causal LM) trained with
``minilm.train.Trainer``, and their held-out scores."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

import minilm
from minilm import backend
from minilm.data import DataLoader, WordPieceTokenizer
from minilm.data.masking import MLMCollator
from minilm.data.pretraining import make_mlm_examples, make_nsp_examples
from minilm.models.bert import BertConfig, BertForPreTraining
from minilm.models.gpt import GPTConfig, GPTLMHeadModel
from minilm.recipes.configs import PretrainConfig
from minilm.train import TrainConfig, Trainer

# -- models ------------------------------------------------------------------------------------------


def bert_config(cfg: PretrainConfig, vocab_size: int) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
        hidden_dropout_prob=cfg.dropout,
        attention_probs_dropout_prob=cfg.dropout,
        max_position_embeddings=max(cfg.max_length, 64),
    )


def gpt_config(cfg: PretrainConfig, vocab_size: int) -> GPTConfig:
    return GPTConfig(
        vocab_size=vocab_size,
        n_positions=max(cfg.max_length, 64),
        n_embd=cfg.hidden_size,
        n_layer=cfg.num_hidden_layers,
        n_head=cfg.num_attention_heads,
        n_inner=cfg.intermediate_size,
        dropout=cfg.dropout,
    )


def to_device(batch: dict, device) -> dict:
    """The batch's tensors on ``device`` (a no-op on the CPU)."""
    return {k: v.to(device) for k, v in batch.items()}


def _numpy(t) -> np.ndarray:
    return backend.to_device(t.data if isinstance(t, minilm.Tensor) else t, backend.CPU)


# -- pretraining -------------------------------------------------------------------------------------


@dataclass
class PretrainRun:
    """What ``pretrain`` returns: the model, its tokenizer, the training history and the held-out
    scores (``mlm_accuracy``, ``nsp_accuracy``; ``perplexity`` for a causal LM)."""

    model: object
    tokenizer: WordPieceTokenizer
    history: list = field(default_factory=list)
    scores: dict = field(default_factory=dict)
    seconds: float = 0.0


def mlm_loss_fn(device):
    """The loss function ``Trainer`` calls for BERT pretraining: MLM (+ NSP) loss, and the batch's MLM
    accuracy as a metric."""

    def loss_fn(model, batch):
        batch = to_device(batch, device)
        out = model(**batch)
        metrics = {"mlm_loss": float(out.mlm_loss.item())}
        if out.nsp_loss is not None:
            metrics["nsp_loss"] = float(out.nsp_loss.item())
        return out.loss, metrics

    return loss_fn


def clm_loss_fn(device):
    def loss_fn(model, batch):
        batch = to_device(batch, device)
        out = model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"])
        return out.loss, {}

    return loss_fn


def mlm_scores(model, examples, tokenizer, batch_size: int = 64, device="cpu", seed: int = 12345) -> dict:
    """Held-out MLM accuracy (the share of masked tokens whose most likely prediction is the original
    token) and NSP accuracy, with masks drawn once from ``seed`` so every model meets the same test."""
    collator = MLMCollator(tokenizer, seed=seed)
    loader = DataLoader(examples, batch_size=batch_size, collate_fn=collator)
    right = total = nsp_right = nsp_total = 0
    was_training = model.training
    model.eval()
    with minilm.no_grad():
        for batch in loader:
            labels = _numpy(batch["labels"]).reshape(-1)
            out = model(**to_device(batch, device))
            predicted = _numpy(out.mlm_logits).argmax(-1)
            target = labels[_numpy(out.mlm_positions)]
            right += int((predicted == target).sum())
            total += len(target)
            if "next_sentence_label" in batch:
                nsp = _numpy(out.nsp_logits).argmax(-1)
                nsp_right += int((nsp == _numpy(batch["next_sentence_label"])).sum())
                nsp_total += len(nsp)
    model.train(was_training)
    scores = {"mlm_accuracy": right / max(total, 1)}
    if nsp_total:
        scores["nsp_accuracy"] = nsp_right / nsp_total
    return scores


def clm_scores(model, examples, batch_size: int = 64, device="cpu") -> dict:
    """Held-out next-token loss and perplexity of a causal LM."""
    loader = DataLoader(examples, batch_size=batch_size, collate_fn=_clm_collate)
    total = count = 0.0
    was_training = model.training
    model.eval()
    with minilm.no_grad():
        for batch in loader:
            n = float((_numpy(batch["labels"])[:, 1:] != -100).sum())
            out = model(**to_device(batch, device))
            total += float(out.loss.item()) * n
            count += n
    model.train(was_training)
    loss = total / max(count, 1)
    return {"loss": loss, "perplexity": float(np.exp(loss))}


def _clm_collate(items):
    batch = minilm.data.collate([{"input_ids": it["input_ids"]} for it in items])
    labels = _numpy(batch["input_ids"]).copy()
    labels[_numpy(batch["attention_mask"]) == 0] = -100
    batch["labels"] = minilm.tensor(labels)
    return batch


def _train_config(cfg, steps: int, warmup: int, out_dir, progress: bool, eval_every: int, checkpoint_every: int):
    return TrainConfig(
        max_steps=steps,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=warmup,
        schedule="linear",
        max_grad_norm=cfg.max_grad_norm,
        grad_accum_steps=getattr(cfg, "grad_accum_steps", 1),
        eval_every=eval_every,
        checkpoint_every=checkpoint_every if out_dir is not None else 0,
        log_every=10,
        out_dir=None if out_dir is None else str(out_dir),
        seed=cfg.seed,
        progress=progress,
    )


def pretrain(
    documents,
    tokenizer: WordPieceTokenizer,
    cfg: PretrainConfig | None = None,
    eval_documents=None,
    out_dir=None,
    device="cpu",
    resume: bool = False,
    progress: bool = True,
) -> PretrainRun:
    """Pretrain a BERT (``cfg.objective == "mlm"``: masked LM, plus NSP when ``cfg.nsp``) or a GPT
    (``"clm"``) on ``documents`` for ``cfg.steps`` optimizer steps with ``minilm.train.Trainer``;
    checkpoints, metrics and the loss plot go to ``out_dir`` when given, and ``resume=True`` continues
    from its checkpoint. Held-out scores are measured on ``eval_documents`` when given."""
    cfg = cfg or PretrainConfig()
    minilm.manual_seed(cfg.seed)
    device = backend.device(device)
    start = time.perf_counter()
    if cfg.objective == "mlm":
        model = BertForPreTraining(bert_config(cfg, tokenizer.vocab_size)).to(device)
        examples = _mlm_examples(documents, tokenizer, cfg, cfg.seed)
        held_out = None if eval_documents is None else _mlm_examples(eval_documents, tokenizer, cfg, cfg.seed + 1)
        collate = MLMCollator(tokenizer, mlm_probability=cfg.mlm_probability, seed=cfg.seed)
        loss_fn = mlm_loss_fn(device)

        def score(m):
            return mlm_scores(m, held_out, tokenizer, device=device)
    else:
        model = GPTLMHeadModel(gpt_config(cfg, tokenizer.vocab_size)).to(device)
        examples = make_mlm_examples([" ".join(d) for d in documents], tokenizer, cfg.max_length)
        held_out = None
        if eval_documents is not None:
            held_out = make_mlm_examples([" ".join(d) for d in eval_documents], tokenizer, cfg.max_length)
        collate = _clm_collate
        loss_fn = clm_loss_fn(device)

        def score(m):
            return clm_scores(m, held_out, device=device)

    loader = DataLoader(
        examples,
        batch_size=cfg.batch_size,
        shuffle=True,
        seed=cfg.seed,
        drop_last=True,
        collate_fn=collate,
        bucket_size=8,
    )
    tc = _train_config(
        cfg, cfg.steps, cfg.warmup_steps, out_dir, progress, cfg.eval_every if held_out else 0, cfg.checkpoint_every
    )
    trainer = Trainer(model, loader, loss_fn, tc, eval_fn=score if held_out is not None else None)
    result = trainer.fit(resume=resume)
    scores = {k: v for k, v in result.final_metrics.items() if not k.startswith("train_")} if held_out else {}
    return PretrainRun(model, tokenizer, result.history, scores, time.perf_counter() - start)


def _mlm_examples(documents, tokenizer, cfg: PretrainConfig, seed: int):
    if cfg.nsp:
        return make_nsp_examples(documents, tokenizer, max_length=cfg.max_length, seed=seed)
    return make_mlm_examples([" ".join(d) for d in documents], tokenizer, max_length=cfg.max_length)
