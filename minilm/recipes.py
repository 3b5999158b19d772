"""The recipes behind the ``minilm`` command: pretrain a BERT with masked language modelling (and
next-sentence prediction), fine-tune it for classification, and compare it with the same classifier
trained from scratch. They are plain functions, so a notebook can run them one step at a time:

    docs = pretraining_documents("bundled")                 # list of documents, each a list of sentences
    tok = train_tokenizer(docs, vocab_size=2000)            # WordPiece, chapter 8
    run = pretrain(docs, tok, PretrainConfig(steps=600))     # a BertForPreTraining and its history
    reviews = load_labelled("bundled-reviews")               # {"train": Split, "validation": ..., "test": ...}
    few = few_labels(reviews["train"], 200)                  # 100 positive and 100 negative reviews
    clf = finetune(tok, few, reviews["validation"], FinetuneConfig(), pretrained=run.model)

Everything here is built from the library's parts (``minilm.models.bert``, ``minilm.data.masking``,
``minilm.train.Trainer``); nothing here is needed to understand them.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import time
from dataclasses import dataclass, field

import numpy as np

import minilm
from minilm import backend
from minilm.data import DataLoader, WordPieceTokenizer, corpus, datasets
from minilm.data.corpus import Split
from minilm.data.masking import MLMCollator
from minilm.data.pretraining import classification_examples, make_mlm_examples, make_nsp_examples
from minilm.io import atomic_open
from minilm.models.bert import BertConfig, BertForPreTraining, BertForSequenceClassification
from minilm.models.gpt import GPTConfig, GPTLMHeadModel
from minilm.train import Trainer, TrainConfig

BUNDLED_TEXT = "bundled"
BUNDLED_REVIEWS = "bundled-reviews"


class RecipeError(ValueError):
    """Bad input to a recipe (a data name that means nothing, a config key that does not exist, a
    model folder that is not one): the command prints its message on one line and exits with 2."""


# -- configs -----------------------------------------------------------------------------------------


def _from_dict(cls, values: dict, where: str):
    """``cls(**values)``, with a clear error for a key ``cls`` does not have or a value of the wrong type."""
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise RecipeError(f"{where}: unknown setting(s) {unknown}; the settings are {sorted(known)}")
    out = cls()
    for key, value in values.items():
        default = getattr(out, key)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise RecipeError(f"{where}: {key} must be true or false, got {value!r}")
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise RecipeError(f"{where}: {key} must be a number, got {value!r}")
            if isinstance(default, int) and not isinstance(default, bool) and value != int(value):
                raise RecipeError(f"{where}: {key} must be a whole number, got {value!r}")
            value = type(default)(value)
        setattr(out, key, value)
    return out


@dataclass
class PretrainConfig:
    """What ``pretrain`` builds and how long it trains. The defaults are the demo's mini-BERT: two
    layers of width 128 with two heads, on sequences of up to 64 tokens."""

    objective: str = "mlm"  # "mlm" (BERT: masked LM, plus NSP when nsp is true) or "clm" (GPT: next token)
    nsp: bool = True
    vocab_size: int = 2000
    max_length: int = 64
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 512
    dropout: float = 0.1
    mlm_probability: float = 0.15
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 60
    max_grad_norm: float = 1.0
    grad_accum_steps: int = 1
    eval_every: int = 200
    checkpoint_every: int = 200
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict, where: str = "pretraining config") -> PretrainConfig:
        cfg = _from_dict(cls, values, where)
        if cfg.objective not in ("mlm", "clm"):
            raise RecipeError(f"{where}: objective must be 'mlm' or 'clm', got {cfg.objective!r}")
        return cfg


@dataclass
class FinetuneConfig:
    """How ``finetune`` trains a classifier: ``labels`` labelled examples (0 = all of the split),
    balanced between the classes, for ``epochs`` passes."""

    labels: int = 200
    epochs: int = 12
    batch_size: int = 16
    lr: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    max_length: int = 64
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict, where: str = "fine-tuning config") -> FinetuneConfig:
        return _from_dict(cls, values, where)


def read_config(path, cls):
    """A config of class ``cls`` from the JSON file ``path`` (keys override the defaults)."""
    path = pathlib.Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RecipeError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RecipeError(f"config file {path} is not readable JSON: {e}") from None
    if not isinstance(values, dict):
        raise RecipeError(f"config file {path} must hold a JSON object of settings, got {type(values).__name__}")
    return cls.from_dict(values, where=f"config file {path}")


# -- data --------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, split after ``.``, ``!`` or ``?`` followed by a space (good enough for
    tokenized WikiText and the bundled corpus, whose sentences all end that way)."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def _splits(split: str) -> list[str]:
    return [s.strip() for s in split.split(",") if s.strip()]


def _is_path(data: str) -> bool:
    return os.sep in data or data.startswith(".") or pathlib.Path(data).exists()


def _check_name(data: str, kind: str) -> None:
    try:
        info = datasets.get_info(data)
    except (KeyError, ValueError):
        names = sorted(datasets.REGISTRY)
        raise RecipeError(f"--data {data!r} is neither a dataset name {names} nor an existing path") from None
    if info.kind != kind:
        want = "text (for pretraining)" if kind == "text" else "labelled (for classification)"
        raise RecipeError(f"--data {data!r} is a {info.kind} dataset, but this needs a {want} one")


def pretraining_documents(data: str = BUNDLED_TEXT, split: str = "train", n_documents: int = 1500, seed: int = 0):
    """Documents to pretrain on, each a list of sentences (NSP pairs sentences within a document).

    - ``"bundled"``: ``n_documents`` generated documents, plus the (unlabelled) texts of the bundled
      reviews' training split, so that pretraining has seen the kind of text fine-tuning will classify
      (their labels are never used here);
    - a registry name (``"wikitext-2"``, ``"ptb"``): that dataset's ``split`` (several: ``"validation,test"``),
      each WikiText paragraph a document (headings dropped);
    - a local path: WikiText's files (a folder or zip with ``valid.txt``/``wiki.valid.tokens``...) or
      any plain text file, one paragraph per line.
    """
    if data == BUNDLED_TEXT:
        if split != "train":
            cut = max(1, n_documents // 10)
            docs = corpus.documents(n=cut, seed=seed + 1000)  # a held-out set of different documents
            return [list(d.sentences) for d in docs]
        docs = [list(d.sentences) for d in corpus.documents(n=n_documents, seed=seed)]
        reviews = corpus.reviews()["train"].texts
        return docs + [split_sentences(t) for t in reviews]
    lines: list[str] = []
    for part in _splits(split):
        lines += _text_lines(data, part)
    lines = datasets.drop_headings(lines)
    documents = [split_sentences(line) for line in lines]
    documents = [d for d in documents if d]
    if len(documents) < 2:
        raise RecipeError(f"--data {data!r} split {split!r} holds {len(documents)} paragraph(s); pretraining needs 2+")
    return documents


def _text_lines(data: str, split: str) -> list[str]:
    if _is_path(data):
        path = pathlib.Path(data).expanduser()
        if not path.exists():
            raise RecipeError(f"--data {data}: no such file or folder")
        if path.is_file() and path.suffix not in (".zip", ".gz", ".tgz", ".tar"):
            try:
                return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            except UnicodeDecodeError:
                raise RecipeError(f"--data {data}: not a UTF-8 text file") from None
        return datasets.read_wikitext(path, split)
    _check_name(data, "text")
    return datasets.load(data, split)


def load_labelled(data: str = BUNDLED_REVIEWS, splits=("train", "validation", "test")) -> dict[str, Split]:
    """Labelled texts by split: the bundled reviews, a registry name (``"sst-2"``, ``"imdb"``) or a local
    copy of SST-2 (a folder with ``train.tsv``, ``dev.tsv``, ``test.tsv``, or GLUE's zip). A split the
    data does not have is left out (IMDb has no validation split)."""
    out = {}
    for split in splits:
        try:
            if _is_path(data):
                path = pathlib.Path(data).expanduser()
                if not path.exists():
                    raise RecipeError(f"--data {data}: no such file or folder")
                out[split] = datasets.read_sst2(path, split)
            else:
                _check_name(data, "classification")
                out[split] = datasets.load(data, split)
        except ValueError as e:
            if "no split" in str(e):
                continue
            raise
    if "train" not in out:
        raise RecipeError(f"--data {data!r} has no training split")
    return out


def few_labels(split: Split, n: int, seed: int = 0) -> Split:
    """``n`` examples of ``split``, as balanced between the labels as it allows, drawn with ``seed``
    (``n = 0`` or more than there are: all of them, shuffled)."""
    labels = np.asarray(split.labels)
    rng = np.random.default_rng(seed)
    if n <= 0 or n >= len(labels):
        order = rng.permutation(len(labels))
    else:
        classes = np.unique(labels)
        per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
        take, share = [], n // len(classes)
        for idx in per_class:
            take += list(idx[:share])
        rest = np.setdiff1d(np.arange(len(labels)), take)
        take += list(rng.permutation(rest)[: n - len(take)])
        order = rng.permutation(np.asarray(take))
    return Split([split.texts[i] for i in order], [int(split.labels[i]) for i in order])


def train_tokenizer(documents, vocab_size: int = 2000) -> WordPieceTokenizer:
    """A WordPiece tokenizer (lowercasing, BERT's special tokens) trained on every sentence of ``documents``."""
    return WordPieceTokenizer().train([" ".join(d) for d in documents], vocab_size=vocab_size)


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


# -- fine-tuning -------------------------------------------------------------------------------------


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


# -- the demo ----------------------------------------------------------------------------------------


@dataclass
class DemoConfig:
    """The demo's sizes. ``quick()`` is a seconds-long version for tests."""

    n_documents: int = 1500
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    eval_reviews: int = 0  # 0 = the whole test split

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(
            n_documents=150,
            pretrain=PretrainConfig(
                steps=30,
                batch_size=16,
                vocab_size=600,
                hidden_size=32,
                intermediate_size=64,
                eval_every=0,
                checkpoint_every=15,
                warmup_steps=3,
            ),
            finetune=FinetuneConfig(labels=40, epochs=2),
            eval_reviews=100,
        )


def write_json(obj, path) -> None:
    with atomic_open(path, "write_json") as f:
        f.write(json.dumps(obj, indent=2).encode("utf-8"))


@dataclass
class DemoResult:
    """The demo's figures, and where its files went."""

    mlm_accuracy: float
    nsp_accuracy: float | None
    pretrained_accuracy: float
    scratch_accuracy: float
    labels: int
    test_size: int
    seconds: dict
    files: dict


def run_demo(cfg: DemoConfig | None = None, out_dir="runs/demo", device="cpu", progress: bool = True, log=print):
    """The main job: train a WordPiece tokenizer on the bundled corpus, pretrain a mini-BERT (MLM+NSP),
    fine-tune it on ``cfg.finetune.labels`` labelled reviews, train the same classifier from scratch on
    the same labels, and measure both on the reviews' test split."""
    from minilm.models.hf_bert import save_pretrained
    from minilm.plotting import line_plot_svg

    cfg = cfg or DemoConfig()
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    seconds = {}
    t = time.perf_counter()
    docs = pretraining_documents(BUNDLED_TEXT, n_documents=cfg.n_documents, seed=cfg.pretrain.seed)
    held_out = pretraining_documents(BUNDLED_TEXT, "validation", n_documents=cfg.n_documents, seed=cfg.pretrain.seed)
    tokenizer = train_tokenizer(docs, cfg.pretrain.vocab_size)
    seconds["tokenizer"] = time.perf_counter() - t
    n_sentences = sum(len(d) for d in docs)
    log(
        f"[1/4] WordPiece tokenizer: {tokenizer.vocab_size} tokens, trained on {len(docs)} documents "
        f"({n_sentences} sentences) in {seconds['tokenizer']:.1f} s"
    )

    p = cfg.pretrain
    log(
        f"[2/4] pretraining a BERT ({p.num_hidden_layers} layers, width {p.hidden_size}, {p.num_attention_heads} heads)"
        f" with MLM+NSP for {p.steps} steps of {p.batch_size} sequences"
    )
    run = pretrain(
        docs, tokenizer, p, eval_documents=held_out, out_dir=out / "pretrain", device=device, progress=progress
    )
    seconds["pretrain"] = run.seconds
    save_pretrained(run.model, tokenizer, out / "pretrained")

    reviews = load_labelled(BUNDLED_REVIEWS, ("train", "test"))
    few = few_labels(reviews["train"], cfg.finetune.labels, seed=cfg.finetune.seed)
    test = reviews["test"]
    if cfg.eval_reviews:
        test = few_labels(test, cfg.eval_reviews, seed=1)
    log(f"[3/4] fine-tuning the pretrained BERT on {len(few)} labelled reviews")
    tuned = finetune(
        tokenizer,
        few,
        {"test": test},
        cfg.finetune,
        pretrained=run.model,
        out_dir=out / "finetune-pretrained",
        device=device,
        progress=progress,
    )
    log(f"[4/4] training the same classifier from scratch on the same {len(few)} reviews")
    scratch = finetune(
        tokenizer,
        few,
        {"test": test},
        cfg.finetune,
        config=run.model.bert.config,
        out_dir=out / "finetune-scratch",
        device=device,
        progress=progress,
    )
    seconds["finetune"], seconds["scratch"] = tuned.seconds, scratch.seconds

    def curve(history):
        rows = [h for h in history if "loss" in h]
        return [h["step"] for h in rows], [h["loss"] for h in rows]

    line_plot_svg(
        {"pretrained + fine-tuned": curve(tuned.history), "from scratch": curve(scratch.history)},
        out / "finetune-loss.svg",
        title="Fine-tuning on few labels",
        xlabel="step",
        ylabel="training loss",
    )
    files = {
        "pretraining loss plot": str(out / "pretrain" / "loss.svg"),
        "fine-tuning loss plot": str(out / "finetune-loss.svg"),
        "pretraining checkpoint": str(out / "pretrain" / "checkpoint.npz"),
        "pretrained model": str(out / "pretrained"),
    }
    result = DemoResult(
        mlm_accuracy=run.scores.get("mlm_accuracy", float("nan")),
        nsp_accuracy=run.scores.get("nsp_accuracy"),
        pretrained_accuracy=tuned.accuracy["test"],
        scratch_accuracy=scratch.accuracy["test"],
        labels=len(few),
        test_size=len(test),
        seconds=seconds,
        files=files,
    )
    write_json(dataclasses.asdict(result), out / "summary.json")
    return result


# -- saved models --------------------------------------------------------------------------------------

_KINDS = {
    "BertForPreTraining": "bert-pretraining",
    "BertForSequenceClassification": "bert-classification",
    "BertModel": "bert",
    "GPTLMHeadModel": "gpt",
}
_HF_MODEL = {"bert-pretraining": "pretraining", "bert-classification": "classification", "bert": "base"}


def save_model(model, tokenizer: WordPieceTokenizer, directory, **meta) -> None:
    """Write ``model`` and its tokenizer to ``directory``: Hugging Face's layout for a BERT
    (``config.json``, ``model.safetensors``, ``vocab.txt``), the same files for a GPT, and
    ``minilm.json`` saying which model it is (so ``load_model`` can rebuild it), with ``meta`` (e.g.
    the ``max_length`` a classifier was trained with, which ``evaluate_model`` then uses)."""
    from minilm.models.hf_bert import save_pretrained
    from minilm.safetensors import write_safetensors

    kind = _KINDS.get(type(model).__name__)
    if kind is None:
        raise TypeError(f"save_model: cannot save a {type(model).__name__}; expected one of {sorted(_KINDS)}")
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    meta = {"kind": kind, **meta}
    if kind == "gpt":
        model.config.save(directory / "config.json")
        write_safetensors({k: _numpy(v) for k, v in model.state_dict().items()}, directory / "model.safetensors")
        tokenizer.save_vocab_file(directory / "vocab.txt")
    else:
        save_pretrained(model, tokenizer, directory)
        if kind == "bert-classification":
            meta["num_labels"] = int(model.classifier.weight.shape[0])
    write_json(meta, directory / "minilm.json")


def load_model(directory, device="cpu"):
    """``(model, tokenizer)`` from a folder written by ``save_model``, or from any Hugging Face BERT
    folder (``config.json``, ``model.safetensors``, ``vocab.txt``), which loads as a ``BertModel``
    unless it carries the pretraining heads."""
    from minilm.models.hf_bert import from_pretrained
    from minilm.safetensors import read_safetensors

    directory = pathlib.Path(directory).expanduser()
    if not directory.is_dir():
        raise RecipeError(f"--model {directory}: no such folder")
    meta_path = directory / "minilm.json"
    meta = {}
    if meta_path.exists():
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RecipeError(f"{meta_path} is damaged ({e}); delete it to load the folder as a plain BERT") from None
    kind = meta.get("kind", "bert")
    if kind not in _HF_MODEL and kind != "gpt":
        raise RecipeError(f"{meta_path}: unknown model kind {kind!r}")
    if kind == "gpt":
        for name in ("config.json", "model.safetensors", "vocab.txt"):
            if not (directory / name).exists():
                raise RecipeError(f"--model {directory}: {name} is missing")
        model = GPTLMHeadModel(GPTConfig.load(directory / "config.json"))
        state = read_safetensors(directory / "model.safetensors")
        model.load_state_dict({k: _numpy(v) for k, v in state.items()})
        tokenizer = WordPieceTokenizer.from_vocab_file(directory / "vocab.txt")
        return model.to(backend.device(device)), tokenizer
    kwargs = {"num_labels": int(meta.get("num_labels", 2))} if kind == "bert-classification" else {}
    model, tokenizer = from_pretrained(directory, model=_HF_MODEL[kind], device=device, **kwargs)
    if "max_length" in meta:
        model.trained_max_length = int(meta["max_length"])
    return model, tokenizer


def evaluate_model(model, tokenizer, data=None, split: str = "test", device="cpu") -> dict:
    """The scores of a saved model on ``split`` of ``data``: accuracy for a classifier (default data:
    the bundled reviews), held-out MLM/NSP accuracy for a pretrained BERT and perplexity for a GPT
    (default data: bundled held-out documents)."""
    name = type(model).__name__
    if name == "BertForSequenceClassification":
        splits = load_labelled(data or BUNDLED_REVIEWS, ("train", split))
        if split not in splits:
            raise RecipeError(f"--data {data!r} has no split {split!r}")
        part = splits[split]
        max_length = getattr(model, "trained_max_length", None) or _max_positions(model)
        examples = classification_examples(part.texts, part.labels, tokenizer, max_length=max_length)
        return {"accuracy": accuracy(model, examples, device=device)}
    if name not in ("BertForPreTraining", "GPTLMHeadModel"):
        raise RecipeError(f"a {name} has no head to evaluate; fine-tune it first (minilm finetune)")
    data = data or BUNDLED_TEXT
    docs = pretraining_documents(data, "validation" if data == BUNDLED_TEXT else split)
    max_length = _max_positions(model)
    if name == "GPTLMHeadModel":
        examples = make_mlm_examples([" ".join(d) for d in docs], tokenizer, max_length)
        return clm_scores(model, examples, device=device)
    examples = make_nsp_examples(docs, tokenizer, max_length=max_length, seed=1)
    return mlm_scores(model, examples, tokenizer, device=device)


def _max_positions(model) -> int:
    cfg = getattr(model, "bert", model).config
    return min(64, getattr(cfg, "max_position_embeddings", None) or cfg.n_positions)


def generate_text(
    model,
    tokenizer,
    prompt: str,
    max_new_tokens: int = 20,
    temperature: float = 1.0,
    top_k=None,
    top_p=None,
    greedy: bool = False,
    seed: int = 0,
    device="cpu",
) -> list[str]:
    """Lines of text: for a BERT, the five most likely tokens at each ``[MASK]`` of ``prompt`` and the
    prompt filled with the best ones; for a GPT, ``prompt`` continued by ``max_new_tokens`` tokens."""
    name = type(model).__name__
    if name == "GPTLMHeadModel":
        ids = tokenizer.encode(prompt)
        if not ids:
            raise RecipeError("--prompt holds no tokens")
        out = model.generate(
            np.asarray([ids]),
            max_new_tokens,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            do_sample=not greedy,
            seed=seed,
        )
        return [tokenizer.decode([int(i) for i in np.asarray(out)[0]])]
    if name != "BertForPreTraining":
        raise RecipeError(f"generate needs a pretrained BERT (with its MLM head) or a GPT, not a {name}")
    ids = tokenizer.encode(prompt, add_special_tokens=True)
    where = [i for i, t in enumerate(ids) if t == tokenizer.mask_id]
    if not where:
        raise RecipeError("--prompt has no [MASK] for the BERT to fill in, e.g. --prompt 'the cat [MASK] on the mat.'")
    model.eval()
    with minilm.no_grad():
        out = model(minilm.tensor([ids]).to(device))
    logits = _numpy(out.mlm_logits)[0]
    lines, filled = [], list(ids)
    for n, pos in enumerate(where, 1):
        z = logits[pos] - logits[pos].max()
        probs = np.exp(z) / np.exp(z).sum()
        best = np.argsort(-probs)[: top_k or 5]
        filled[pos] = int(best[0])
        guesses = ", ".join(f"{tokenizer.decode([int(b)])} ({probs[b]:.2f})" for b in best)
        lines.append(f"[MASK] {n}: {guesses}")
    lines.append(tokenizer.decode(filled[1:-1]))
    return lines
