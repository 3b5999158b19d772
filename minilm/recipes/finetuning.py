"""Fine-tuning: a ``BertForSequenceClassification`` whose encoder starts from a pretrained model (or
from random weights: the baseline), and its accuracy."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import minilm
from minilm import backend
from minilm.data import DataLoader, WordPieceTokenizer
from minilm.data.corpus import Split
from minilm.data.pretraining import classification_examples
from minilm.models.bert import BertConfig, BertForSequenceClassification
from minilm.recipes.configs import FinetuneConfig, RecipeError
from minilm.recipes.pretraining import _numpy, _train_config, to_device
from minilm.train import Trainer


@dataclass
class FinetuneRun:
    model: object
    history: list = field(default_factory=list)
    accuracy: dict = field(default_factory=dict)  # split name -> accuracy
    seconds: float = 0.0


def classification_loss_fn(device):
    def loss_fn(model, batch):
        batch = to_device(batch, device)
        out = model(
            batch["input_ids"],
            attention_mask=batch["attention_mask"],
            token_type_ids=batch.get("token_type_ids"),
            labels=batch["label"],
        )
        return out.loss, {}

    return loss_fn


def accuracy(model, examples, batch_size: int = 64, device="cpu") -> float:
    """The share of ``examples`` (``classification_examples``) whose most likely class is their label."""
    loader = DataLoader(examples, batch_size=batch_size, bucket_size=4, pad_id=0)
    right = 0
    was_training = model.training
    model.eval()
    with minilm.no_grad():
        for batch in loader:
            out = model(
                batch["input_ids"].to(device),
                attention_mask=batch["attention_mask"].to(device),
                token_type_ids=batch["token_type_ids"].to(device),
            )
            right += int((_numpy(out.logits).argmax(-1) == _numpy(batch["label"])).sum())
    model.train(was_training)
    return right / max(len(examples), 1)


def finetune(
    tokenizer: WordPieceTokenizer,
    train: Split,
    evaluate: dict[str, Split] | None = None,
    cfg: FinetuneConfig | None = None,
    pretrained=None,
    config: BertConfig | None = None,
    out_dir=None,
    device="cpu",
    progress: bool = True,
    resume: bool = False,
) -> FinetuneRun:
    """Train a ``BertForSequenceClassification`` on ``train`` (already cut to the labels you want) and
    measure its accuracy on each split of ``evaluate``. Its encoder starts from ``pretrained`` (a
    ``BertForPreTraining``, ``BertModel`` or anything with a ``.bert``) when given, else from random
    weights with ``config`` (training from scratch)."""
    cfg = cfg or FinetuneConfig()
    minilm.manual_seed(cfg.seed)
    device = backend.device(device)
    start = time.perf_counter()
    if pretrained is not None:
        encoder = getattr(pretrained, "bert", pretrained)
        config = encoder.config
    elif config is None:
        raise ValueError("finetune: give a pretrained model or the config of a model to train from scratch")
    num_labels = int(max(train.labels)) + 1
    model = BertForSequenceClassification(config, num_labels=max(num_labels, 2))
    if pretrained is not None:
        state = {k: _numpy(v) for k, v in encoder.state_dict().items()}
        own = model.bert.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise RecipeError(f"the pretrained model lacks {missing[:3]}...; it is not a BERT of this shape")
        model.bert.load_state_dict({k: state[k] for k in own})
    model.to(device)
    max_length = min(cfg.max_length, config.max_position_embeddings)
    examples = classification_examples(train.texts, train.labels, tokenizer, max_length=max_length)
    loader = DataLoader(examples, batch_size=cfg.batch_size, shuffle=True, seed=cfg.seed)
    steps = max(1, cfg.epochs * len(loader))
    tc = _train_config(cfg, steps, int(cfg.warmup_ratio * steps), out_dir, progress, 0, 0)
    model.train()  # (from_pretrained hands models over in eval mode, as Hugging Face does)
    trainer = Trainer(model, loader, classification_loss_fn(device), tc)
    model.trained_max_length = max_length
    result = trainer.fit(resume=resume)
    scores = {}
    for name, split in (evaluate or {}).items():
        ex = classification_examples(split.texts, split.labels, tokenizer, max_length=max_length)
        scores[name] = accuracy(model, ex, device=device)
    return FinetuneRun(model, result.history, scores, time.perf_counter() - start)
