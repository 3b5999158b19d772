"""Saved models: write and read model folders (Hugging Face's BERT layout plus ``minilm.json``), and
what ``minilm evaluate`` and ``minilm generate`` do with them."""

from __future__ import annotations

import json
import pathlib

import numpy as np

import minilm
from minilm import backend
from minilm.data import WordPieceTokenizer
from minilm.data.pretraining import classification_examples, make_mlm_examples, make_nsp_examples
from minilm.models.gpt import GPTConfig, GPTLMHeadModel
from minilm.recipes.configs import BUNDLED_REVIEWS, BUNDLED_TEXT, RecipeError, write_json
from minilm.recipes.data import load_labelled, pretraining_documents
from minilm.recipes.finetuning import accuracy
from minilm.recipes.pretraining import _numpy, clm_scores, mlm_scores

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
