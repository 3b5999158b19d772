"""The ``minilm`` command (also ``python -m minilm``).

    minilm demo                      the main job: tokenizer, MLM+NSP pretraining, fine-tuning vs from scratch
    minilm pretrain  --data NAME|PATH --out DIR [--config FILE] [--resume]
    minilm finetune  --model DIR --data NAME|PATH --out DIR [--labels N] [--config FILE] [--resume]
    minilm evaluate  --model DIR --data NAME|PATH [--split test]
    minilm generate  --model DIR --prompt TEXT

Every subcommand takes ``--device cpu|cuda``. Bad arguments, missing or damaged files and unknown
dataset names end the command with one line on stderr and exit code 2 (``MINILM_DEBUG=1`` shows the
traceback instead); a training run that diverges ends with exit code 1 and names the step and the
last good checkpoint. The work itself is done by ``minilm.recipes``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line and exit code 2, as argparse does, plus where to get help
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _device_arg(p):
    p.add_argument("--device", default="cpu", help="cpu (NumPy) or cuda (CuPy on an NVIDIA GPU); default cpu")


def _progress_arg(p):
    p.add_argument("--no-progress", action="store_true", help="no progress bar (for logs)")


def _training_run_args(p, what: str):
    """The options of a command that trains: where its files go, resuming, device, progress bar."""
    p.add_argument("--out", required=True, help=f"folder for {what}")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    _device_arg(p)
    _progress_arg(p)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="minilm",
        description="minilm: pretrain a small BERT with masked language modelling on an engine written "
        "to be read, fine-tune it, and compare it with training from scratch.",
        epilog="Start with 'minilm demo'. Data: 'bundled' (generated documents) and 'bundled-reviews' need "
        "no download; registry names (wikitext-2, sst-2, imdb, ptb) download once and are verified; a "
        "local path reads your own copy.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "demo",
        help="the main job: pretrain a mini-BERT, fine-tune it with few labels, compare with from scratch",
        description=_doc("demo"),
    )
    p.add_argument("--out", default="runs/demo", help="folder for checkpoints, plots and the summary (runs/demo)")
    p.add_argument("--quick", action="store_true", help="a seconds-long miniature (for tests), not the real demo")
    p.add_argument("--steps", type=int, help="pretraining steps (default 1500)")
    p.add_argument("--labels", type=int, help="labelled reviews for fine-tuning (default 200)")
    _device_arg(p)
    _progress_arg(p)

    p = sub.add_parser("pretrain", help="pretrain a BERT (MLM+NSP) or a GPT (causal LM)", description=_doc("pretrain"))
    p.add_argument("--data", default="bundled", help="bundled, wikitext-2, ptb, or a path (default bundled)")
    p.add_argument("--split", default="train", help="split(s) to train on, comma-separated (default train)")
    p.add_argument(
        "--eval-split",
        default=None,
        help="held-out split for MLM accuracy (default: none, or generated held-out documents for bundled)",
    )
    p.add_argument("--config", help="JSON file of settings (see minilm.recipes.PretrainConfig)")
    p.add_argument("--objective", choices=["mlm", "clm"], help="mlm (BERT) or clm (GPT); overrides the config")
    p.add_argument("--steps", type=int, help="optimizer steps; overrides the config")
    _training_run_args(p, "the model, checkpoints, metrics and plots")

    p = sub.add_parser(
        "finetune",
        help="fine-tune a pretrained BERT (or train from scratch) for classification",
        description=_doc("finetune"),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--model", help="a folder written by 'minilm pretrain' or a Hugging Face BERT folder")
    src.add_argument(
        "--from-scratch",
        metavar="MODEL",
        help="use only the config and tokenizer of this model folder and start from random weights (the baseline)",
    )
    p.add_argument("--data", default="bundled-reviews", help="bundled-reviews, sst-2, imdb, or a path to SST-2's TSVs")
    p.add_argument("--labels", type=int, help="labelled examples to train on, balanced (0 = all); overrides config")
    p.add_argument("--config", help="JSON file of settings (see minilm.recipes.FinetuneConfig)")
    _training_run_args(p, "the classifier, checkpoints and metrics")

    p = sub.add_parser(
        "evaluate",
        help="accuracy of a classifier, or MLM accuracy / perplexity of a pretrained model",
        description=_doc("evaluate"),
    )
    p.add_argument("--model", required=True, help="a model folder written by minilm (or a Hugging Face BERT)")
    p.add_argument("--data", help="dataset name or path (default: bundled-reviews for a classifier, bundled otherwise)")
    p.add_argument("--split", default="test", help="split to evaluate on (default test)")
    _device_arg(p)

    p = sub.add_parser(
        "generate",
        help="fill in [MASK] tokens with a BERT, or continue a prompt with a GPT",
        description=_doc("generate"),
    )
    p.add_argument("--model", required=True, help="a model folder written by 'minilm pretrain'")
    p.add_argument("--prompt", required=True, help="text; for a BERT it must contain [MASK]")
    p.add_argument("--max-new-tokens", type=int, default=20, help="GPT: tokens to add (default 20)")
    p.add_argument("--temperature", type=float, default=1.0, help="GPT: sampling temperature (default 1.0)")
    p.add_argument("--top-k", type=int, default=None, help="sample only among the k most likely tokens")
    p.add_argument("--top-p", type=float, default=None, help="GPT: nucleus sampling with this probability mass")
    p.add_argument("--greedy", action="store_true", help="GPT: always take the most likely token")
    p.add_argument("--seed", type=int, default=0, help="seed for sampling (default 0)")
    _device_arg(p)
    return parser


def _doc(command: str) -> str:
    return {
        "demo": "Trains a WordPiece tokenizer on the bundled corpus, pretrains a mini-BERT with masked language "
        "modelling and next-sentence prediction, fine-tunes it on a few labelled bundled reviews, trains the "
        "same classifier from scratch on the same reviews, and prints MLM accuracy and both test accuracies. "
        "About 2 minutes on 2 CPU cores.",
        "pretrain": "Pretrains on --data and writes to --out: model/ (config.json, model.safetensors, vocab.txt: "
        "Hugging Face's layout), checkpoint.npz (every checkpoint_every steps; --resume continues from it "
        "exactly), metrics.jsonl and loss.svg.",
        "finetune": "Trains a BertForSequenceClassification on the training split of --data (cut to --labels "
        "balanced examples) and reports accuracy on its validation and test splits; writes the classifier "
        "to --out/model.",
        "evaluate": "Measures a saved model: a classifier's accuracy, a BERT's held-out MLM accuracy, or a GPT's "
        "perplexity, on --split of --data.",
        "generate": "With a BERT: the most likely tokens for each [MASK] of --prompt. With a GPT: a continuation "
        "of --prompt.",
    }[command]


# -- commands -----------------------------------------------------------------------------------------


def cmd_demo(args) -> int:
    from minilm import recipes

    cfg = recipes.DemoConfig.quick() if args.quick else recipes.DemoConfig()
    if args.steps is not None:
        cfg.pretrain.steps = _positive("--steps", args.steps)
    if args.labels is not None:
        cfg.finetune.labels = _positive("--labels", args.labels)
    device = _device(args.device)
    result = recipes.run_demo(cfg, out_dir=args.out, device=device, progress=not args.no_progress)
    total = sum(result.seconds.values())
    print()
    print(f"minilm demo: {result.labels} labelled reviews for fine-tuning, {result.test_size} test reviews")
    print()
    rows = [
        ("MLM accuracy (held-out masked tokens)", result.mlm_accuracy),
        ("NSP accuracy (held-out sentence pairs)", result.nsp_accuracy),
        ("test accuracy, pretrained + fine-tuned", result.pretrained_accuracy),
        ("test accuracy, same model from scratch", result.scratch_accuracy),
    ]
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        if value is not None:
            print(f"  {name:<{width}}  {100 * value:5.1f}%")
    margin = 100 * (result.pretrained_accuracy - result.scratch_accuracy)
    print(f"  {'pretraining gains':<{width}}  {margin:+5.1f} points")
    print()
    print("  (Chapter 10 reads these numbers: a few minutes of pretraining on the bundled corpus do not teach")
    print("  the mini-BERT what the reviews' negations and contrasts mean, while a real pretrained BERT,")
    print("  fine-tuned the same way with 64 of these labels, gets about 85% right.)")
    print()
    for what, where in result.files.items():
        print(f"  {what}: {where}")
    print(f"  summary: {pathlib.Path(args.out) / 'summary.json'}")
    print(f"\ndone in {total:.0f} s")
    return 0


def cmd_pretrain(args) -> int:
    from minilm import recipes
    from minilm.data import WordPieceTokenizer

    cfg = recipes.read_config(args.config, recipes.PretrainConfig) if args.config else recipes.PretrainConfig()
    if args.objective:
        cfg.objective = args.objective
    if args.steps is not None:
        cfg.steps = _positive("--steps", args.steps)
    device = _device(args.device)
    out = pathlib.Path(args.out)
    vocab = out / "vocab.txt"
    if args.resume:
        if not (out / "checkpoint.npz").exists():
            raise recipes.RecipeError(f"--resume: {out} holds no checkpoint.npz to continue from")
        if not vocab.exists():
            raise recipes.RecipeError(f"--resume: {out} holds no vocab.txt (the run's tokenizer)")
    elif (out / "checkpoint.npz").exists():
        raise recipes.RecipeError(f"{out} already holds a run; continue it with --resume or choose another --out")
    documents = recipes.pretraining_documents(args.data, args.split, seed=cfg.seed)
    eval_split = args.eval_split or ("validation" if args.data == recipes.BUNDLED_TEXT else None)
    held_out = recipes.pretraining_documents(args.data, eval_split, seed=cfg.seed) if eval_split else None
    out.mkdir(parents=True, exist_ok=True)
    if args.resume:
        tokenizer = WordPieceTokenizer.from_vocab_file(vocab)
    else:
        tokenizer = recipes.train_tokenizer(documents, cfg.vocab_size)
        tokenizer.save_vocab_file(vocab)
        recipes.write_json(_asdict(cfg), out / "config.json")
    print(
        f"pretraining ({cfg.objective}) on {len(documents)} documents, vocabulary {tokenizer.vocab_size}, "
        f"{cfg.steps} steps",
        file=sys.stderr,
    )
    run = recipes.pretrain(
        documents,
        tokenizer,
        cfg,
        eval_documents=held_out,
        out_dir=out,
        device=device,
        resume=args.resume,
        progress=not args.no_progress,
    )
    recipes.save_model(run.model, tokenizer, out / "model")
    for name, value in run.scores.items():
        print(f"{name}: {value:.4f}")
    print(f"model: {out / 'model'}  (checkpoint {out / 'checkpoint.npz'}, loss plot {out / 'loss.svg'})")
    return 0


def cmd_finetune(args) -> int:
    from minilm import recipes

    cfg = recipes.read_config(args.config, recipes.FinetuneConfig) if args.config else recipes.FinetuneConfig()
    if args.labels is not None:
        if args.labels < 0:
            raise recipes.RecipeError(f"--labels must be 0 (all) or a positive number, got {args.labels}")
        cfg.labels = args.labels
    device = _device(args.device)
    source = args.model or args.from_scratch
    model, tokenizer = recipes.load_model(source, device="cpu")
    if not hasattr(model, "bert") and type(model).__name__ != "BertModel":
        name = type(model).__name__
        raise recipes.RecipeError(f"--model {source}: a {name} cannot be fine-tuned as a BERT classifier")
    data = recipes.load_labelled(args.data)
    train = recipes.few_labels(data["train"], cfg.labels, seed=cfg.seed)
    evaluate = {k: v for k, v in data.items() if k != "train"}
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    encoder = getattr(model, "bert", model)
    run = recipes.finetune(
        tokenizer,
        train,
        evaluate,
        cfg,
        pretrained=None if args.from_scratch else model,
        config=encoder.config,
        out_dir=out,
        device=device,
        progress=not args.no_progress,
        resume=args.resume,
    )
    recipes.save_model(run.model, tokenizer, out / "model", max_length=run.model.trained_max_length)
    how = "from scratch" if args.from_scratch else f"from {source}"
    print(f"trained {how} on {len(train)} labelled examples of {args.data}")
    for split, acc in run.accuracy.items():
        print(f"{split} accuracy: {acc:.4f}")
    print(f"model: {out / 'model'}")
    return 0


def cmd_evaluate(args) -> int:
    from minilm import recipes

    device = _device(args.device)
    model, tokenizer = recipes.load_model(args.model, device=device)
    for name, value in recipes.evaluate_model(model, tokenizer, args.data, args.split, device=device).items():
        print(f"{name}: {value:.4f}")
    return 0


def cmd_generate(args) -> int:
    from minilm import recipes

    device = _device(args.device)
    model, tokenizer = recipes.load_model(args.model, device=device)
    for line in recipes.generate_text(
        model,
        tokenizer,
        args.prompt,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        greedy=args.greedy,
        seed=args.seed,
        device=device,
    ):
        print(line)
    return 0


COMMANDS = {
    "demo": cmd_demo,
    "pretrain": cmd_pretrain,
    "finetune": cmd_finetune,
    "evaluate": cmd_evaluate,
    "generate": cmd_generate,
}


# -- helpers ------------------------------------------------------------------------------------------


def _positive(flag: str, value: int) -> int:
    from minilm.recipes import RecipeError

    if value <= 0:
        raise RecipeError(f"{flag} must be a positive number, got {value}")
    return value


def _device(spec: str):
    from minilm import backend
    from minilm.recipes import RecipeError

    try:
        dev = backend.device(spec)
    except (ValueError, TypeError) as e:
        raise RecipeError(f"--device {spec!r}: {e}") from None
    if dev.type == "cuda" and not backend.cuda_is_available():
        raise RecipeError(f"--device {spec}: no CUDA GPU is usable here (CuPy missing or no GPU); use --device cpu")
    return dev


def _asdict(cfg) -> dict:
    import dataclasses

    return dataclasses.asdict(cfg)


def _expected_errors() -> tuple:
    """The exceptions that mean bad input (a message for the user, not a bug)."""
    from minilm.data import TokenizerFileError
    from minilm.data.datasets import DatasetError
    from minilm.io import CheckpointError
    from minilm.models.hf_bert import PretrainedLoadError
    from minilm.recipes import RecipeError
    from minilm.safetensors import SafetensorsError

    return (
        RecipeError,
        DatasetError,
        CheckpointError,
        SafetensorsError,
        TokenizerFileError,
        PretrainedLoadError,
        OSError,
    )


def main(argv=None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    args = build_parser().parse_args(argv)
    if os.environ.get("MINILM_DEBUG") == "1":
        return COMMANDS[args.command](args)
    from minilm.train import NonFiniteLossError

    try:
        return COMMANDS[args.command](args)
    except NonFiniteLossError as e:
        print(f"minilm {args.command}: training stopped: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\nminilm {args.command}: interrupted; the last checkpoint is kept (continue with --resume)",
            file=sys.stderr,
        )
        return 130
    except _expected_errors() as e:
        print(f"minilm {args.command}: error: {_one_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, TypeError, KeyError) as e:
        print(f"minilm {args.command}: error: {_one_line(e)} (MINILM_DEBUG=1 shows where)", file=sys.stderr)
        return EXIT_BAD_INPUT


def _one_line(e: BaseException) -> str:
    text = str(e) if not isinstance(e, KeyError) else str(e.args[0]) if e.args else "KeyError"
    return " ".join(text.split()) or type(e).__name__


def run() -> None:  # the console-script entry point
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    run()
