"""``minilm demo``, the main job: tokenizer, MLM+NSP pretraining, fine-tuning on few labels and the
same classifier from scratch, measured on the same test reviews."""

from __future__ import annotations

import dataclasses
import pathlib
import time
from dataclasses import dataclass, field

from minilm.recipes.configs import BUNDLED_REVIEWS, BUNDLED_TEXT, FinetuneConfig, PretrainConfig, write_json
from minilm.recipes.data import few_labels, load_labelled, pretraining_documents, train_tokenizer
from minilm.recipes.finetuning import finetune
from minilm.recipes.pretraining import pretrain


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
