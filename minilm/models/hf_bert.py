r"""Loading and saving BERT checkpoints in Hugging Face's format.

A Hugging Face BERT is a directory of three files (and a few optional ones)::

    config.json          the sizes: {"hidden_size": 384, "num_hidden_layers": 6, ...}
    model.safetensors    the weights, a flat map from names to tensors (minilm.safetensors)
    vocab.txt            the WordPiece vocabulary, one token per line, id = line number
    tokenizer_config.json (optional) {"do_lower_case": true, "strip_accents": null, ...}

``from_pretrained(directory)`` reads them into a minilm BERT and its ``WordPieceTokenizer``;
``save_pretrained(model, tokenizer, directory)`` writes them, so that Hugging Face transformers
(and minilm) can read the result. No pickle is read or written: a ``pytorch_model.bin`` is refused.

**The key mapping.** minilm's encoder is PyTorch's ``TransformerEncoder``, so its names differ from
Hugging Face's for the encoder layers (``embeddings.*``, ``pooler.*`` and the heads have the same
names in both). For layer i::

    Hugging Face: encoder.layer.i.                      minilm: encoder.layers.i.
      attention.self.query / key / value .weight (H, H)   self_attn.in_proj_weight (3H, H) = [Wq; Wk; Wv]
      attention.self.query / key / value .bias   (H,)     self_attn.in_proj_bias   (3H,)   = [bq; bk; bv]
      attention.output.dense                              self_attn.out_proj
      attention.output.LayerNorm                          norm1
      intermediate.dense                                  linear1
      output.dense                                        linear2
      output.LayerNorm                                    norm2

PyTorch's attention keeps the three projections in one matrix, stacked in the order query, key,
value; loading concatenates the three along the rows, saving splits them again.

The base model's keys may carry a ``bert.`` prefix (a ``BertForPreTraining`` or a classifier
checkpoint) or not (a ``BertModel`` one, such as sentence-transformers' all-MiniLM-L6-v2); both
load into any of the three models. ``embeddings.position_ids`` (a constant that old checkpoints
stored) is ignored, and so is the MLM decoder's weight when it equals the word embeddings (it is
tied) and its ``decoder.bias`` when it equals ``cls.predictions.bias`` (Hugging Face ties those too).
LayerNorm ``gamma``/``beta`` (very old checkpoints) are read as ``weight``/``bias``.

**What must match.** Every weight of the embeddings and the encoder must be in the file, with the
shape ``config.json`` implies; anything missing, any tensor of the wrong shape, any name that is not
part of a BERT is a ``PretrainedLoadError`` naming it. A head is different: a pretraining checkpoint
(bert-base-uncased) has no classifier, and fine-tuning starts from exactly such a checkpoint. So a
head that is *wholly* absent (``pooler``, ``cls.predictions``, ``cls.seq_relationship``,
``classifier``) keeps its fresh random initialisation, with a warning naming it; a head that is
partly there is an error; and the weights of a head the chosen model does not have (``cls.*`` when
loading ``model="base"``) are not used. With ``model="base"`` the pooler is built only when the
checkpoint has one.

config.json may hold Hugging Face's bookkeeping (``architectures``, ``transformers_version``, ...),
which is skipped. A setting that would change what the model computes and that minilm's BERT does
not have (``hidden_act`` other than gelu or relu, ``position_embedding_type`` other than absolute,
a decoder or cross-attention, untied word embeddings) is a ``PretrainedLoadError``; a key this file
does not know at all gets a warning.
"""

from __future__ import annotations

import json
import os
import re
import warnings

import numpy as np

from minilm import backend
from minilm.data.tokenizers.base import TokenizerFileError
from minilm.data.tokenizers.wordpiece import WordPieceTokenizer
from minilm.data.vocab import SPECIAL_TOKENS
from minilm.io import write_json
from minilm.models.bert import BertConfig, BertForPreTraining, BertForSequenceClassification, BertModel
from minilm.nn.module import Module
from minilm.safetensors import SafetensorsError, read_safetensors, write_safetensors
from minilm.tensor import Tensor

__all__ = [
    "CONFIG_FILE",
    "MODELS",
    "PretrainedLoadError",
    "TOKENIZER_CONFIG_FILE",
    "VOCAB_FILE",
    "WEIGHTS_FILE",
    "config_from_hf",
    "config_to_hf",
    "from_pretrained",
    "hf_names",
    "load_tokenizer",
    "save_pretrained",
    "state_dict_from_hf",
    "state_dict_to_hf",
]

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.txt"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"

#: ``from_pretrained``'s ``model=`` argument -> the class it builds
MODELS = {"base": BertModel, "pretraining": BertForPreTraining, "classification": BertForSequenceClassification}

#: config.json keys that only record where the file came from or how to run it; skipped
_BOOKKEEPING = frozenset(
    {
        "_name_or_path", "name_or_path", "architectures", "transformers_version", "dtype", "torch_dtype",
        "use_cache", "gradient_checkpointing", "bos_token_id", "eos_token_id", "sep_token_id",
        "id2label", "label2id", "num_labels", "problem_type", "finetuning_task", "tokenizer_class",
        "output_attentions", "output_hidden_states", "return_dict", "chunk_size_feed_forward",
        "classifier_dropout", "_attn_implementation", "directionality",
    }
)  # fmt: skip
#: config.json keys whose value changes the model: only these values are supported
_REQUIRED = {
    "model_type": "bert",
    "position_embedding_type": "absolute",
    "is_decoder": False,
    "add_cross_attention": False,
    "is_encoder_decoder": False,
    "tie_word_embeddings": True,
    "pruned_heads": {},
}
#: minilm's encoder-layer names -> Hugging Face's (after "encoder.layers.i." / "encoder.layer.i.")
_LAYER_NAMES = {
    "self_attn.out_proj.": "attention.output.dense.",
    "norm1.": "attention.output.LayerNorm.",
    "linear1.": "intermediate.dense.",
    "linear2.": "output.dense.",
    "norm2.": "output.LayerNorm.",
}
#: the heads: prefixes of minilm keys that may be wholly absent from a checkpoint (fresh init then)
_HEADS = ("pooler.", "bert.pooler.", "cls.predictions.", "cls.seq_relationship.", "classifier.")
#: Hugging Face keys that belong to BERT's heads, used or not
_HEAD_KEYS = re.compile(
    r"(bert\.)?pooler\.dense\.(weight|bias)|classifier\.(weight|bias)|cls\.seq_relationship\.(weight|bias)"
    r"|cls\.predictions\.(bias|decoder\.(weight|bias)|transform\.(dense|LayerNorm)\.(weight|bias))"
)


class PretrainedLoadError(ValueError):
    """A checkpoint directory that minilm cannot load as a BERT: a missing file, a weight that is
    missing, unknown or of the wrong shape, or a config value minilm's BERT does not support."""


# ---------------------------------------------------------------------------------------------
# config.json
# ---------------------------------------------------------------------------------------------


def config_from_hf(d: dict, where: str = CONFIG_FILE) -> BertConfig:
    """A ``BertConfig`` from the dict of a Hugging Face ``config.json`` (``where`` names it in errors).
    Bookkeeping keys are skipped, unsupported settings raise ``PretrainedLoadError``, unknown keys warn."""
    if not isinstance(d, dict):
        raise PretrainedLoadError(f"{where}: expected a JSON object of settings, got a {type(d).__name__}")
    fields = set(BertConfig.__dataclass_fields__)
    for key, wanted in _REQUIRED.items():
        if key in d and d[key] != wanted and not (key == "pruned_heads" and not d[key]):
            raise PretrainedLoadError(
                f"{where}: {key} = {d[key]!r} is not supported; minilm's BERT has {key} = {wanted!r} only"
            )
    if d.get("hidden_act", "gelu") not in ("gelu", "relu"):
        raise PretrainedLoadError(
            f"{where}: hidden_act = {d['hidden_act']!r} is not supported; minilm's BERT has 'gelu' (the exact "
            "erf GELU of the original BERT) and 'relu'"
        )
    unknown = sorted(k for k in d if k not in fields and k not in _BOOKKEEPING and k not in _REQUIRED)
    if unknown:
        warnings.warn(f"{where}: ignoring the settings {unknown}, which minilm's BERT does not know", stacklevel=3)
    values = {k: v for k, v in d.items() if k in fields}
    if values.get("pad_token_id", 0) is None:
        values["pad_token_id"] = 0
    try:
        return BertConfig(**values)
    except (TypeError, ValueError) as e:
        raise PretrainedLoadError(f"{where}: {e}") from None


def config_to_hf(config: BertConfig, architecture: str = "BertModel", num_labels: int | None = None) -> dict:
    """The dict of a Hugging Face ``config.json`` for ``config`` (with ``model_type``, ``architectures``
    and, for a classifier, the ``id2label``/``label2id`` that tell Hugging Face the number of labels)."""
    d = config.to_dict()
    d.update(model_type="bert", architectures=[architecture], position_embedding_type="absolute")
    if num_labels is not None:
        d["id2label"] = {str(i): f"LABEL_{i}" for i in range(num_labels)}
        d["label2id"] = {f"LABEL_{i}": i for i in range(num_labels)}
    return d


# ---------------------------------------------------------------------------------------------
# the key mapping
# ---------------------------------------------------------------------------------------------


def _base_prefix(model: Module) -> str:
    """Where the BertModel sits in ``model``: "" for a BertModel, "bert." for the models with heads."""
    if isinstance(model, BertModel):
        return ""
    if isinstance(model, (BertForPreTraining, BertForSequenceClassification)):
        return "bert."
    raise TypeError(
        f"expected a BertModel, BertForPreTraining or BertForSequenceClassification, got {type(model).__name__}"
    )


def _tied(model: Module) -> set[str]:
    """minilm keys that are another Parameter under a second name (not stored in a checkpoint)."""
    return {"cls.predictions.decoder.weight"} if isinstance(model, BertForPreTraining) else set()


def hf_names(key: str) -> list[str]:
    """The Hugging Face name(s) of the minilm state-dict ``key`` (relative to the ``BertModel``, no
    ``bert.`` prefix): one name, or three (query, key, value) for ``in_proj_weight``/``in_proj_bias``.

    >>> hf_names("encoder.layers.2.linear1.weight")
    ['encoder.layer.2.intermediate.dense.weight']
    >>> [name.split(".")[-2] for name in hf_names("encoder.layers.0.self_attn.in_proj_bias")]
    ['query', 'key', 'value']
    """
    m = re.fullmatch(r"encoder\.layers\.(\d+)\.(.+)", key)
    if m is None:
        return [key]
    layer, rest = f"encoder.layer.{m.group(1)}.", m.group(2)
    if rest in ("self_attn.in_proj_weight", "self_attn.in_proj_bias"):
        kind = rest.rsplit("_", 1)[1]
        return [f"{layer}attention.self.{p}.{kind}" for p in ("query", "key", "value")]
    for ours, theirs in _LAYER_NAMES.items():
        if rest.startswith(ours):
            return [layer + theirs + rest[len(ours) :]]
    raise KeyError(f"hf_names: no Hugging Face name for the minilm key {key!r}")


def _hf_sources(model: Module) -> dict[str, list[str]]:
    """For every minilm key of ``model`` (tied duplicates left out), the full Hugging Face name(s) it is made of."""
    prefix = _base_prefix(model)
    tied = _tied(model)
    out = {}
    for key in model.state_dict():
        if key in tied:
            continue
        if prefix and key.startswith(prefix):
            out[key] = [prefix + n for n in hf_names(key[len(prefix) :])]
        else:
            out[key] = hf_names(key)
    return out


def _normalise_names(tensors: dict, model: Module) -> dict:
    """The checkpoint's tensors under the names ``model`` would save them with: the ``bert.`` prefix
    added or removed as the model needs, old ``gamma``/``beta`` renamed, ``position_ids`` dropped."""
    prefix = _base_prefix(model)
    out = {}
    for name, value in tensors.items():
        new = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name))
        if new.endswith("embeddings.position_ids"):
            continue
        body = new[len("bert.") :] if new.startswith("bert.") else new
        if body.startswith(("embeddings.", "encoder.", "pooler.")):
            new = prefix + body
        if new in out:
            raise PretrainedLoadError(f"the checkpoint has {name!r} twice (with and without the 'bert.' prefix)")
        out[new] = value
    return out


def _array(name: str, value):
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray) or backend.is_cuda_array(value):
        return value
    raise PretrainedLoadError(f"checkpoint tensor {name!r} is a {type(value).__name__}, not a Tensor or array")


def _same(a, b) -> bool:
    a, b = backend.to_device(a, backend.CPU), backend.to_device(b, backend.CPU)
    return a.shape == b.shape and bool(np.array_equal(a, b))


def _drop_tied_copies(t: dict, model: Module) -> None:
    """Remove the MLM decoder's weight and bias, which Hugging Face ties to the word embeddings and
    to ``cls.predictions.bias`` (a file holds them when its writer did not drop the duplicates); a
    copy that differs is an untied model, which minilm's ``BertForPreTraining`` cannot be."""
    for copy, original in (
        ("cls.predictions.decoder.weight", "bert.embeddings.word_embeddings.weight"),
        ("cls.predictions.decoder.bias", "cls.predictions.bias"),
    ):
        if copy not in t:
            continue
        if original not in t:
            if copy.endswith("bias"):  # only the decoder's copy of the bias was stored
                t[original] = t.pop(copy)
        elif _same(_array(copy, t[copy]), _array(original, t[original])):
            del t[copy]
        elif isinstance(model, BertForPreTraining):
            raise PretrainedLoadError(
                f"the checkpoint's {copy!r} differs from {original!r}; minilm's BERT ties the two "
                "(tie_word_embeddings), so it cannot load an untied MLM decoder"
            )


def state_dict_from_hf(tensors: dict, model: Module) -> dict:
    """A minilm state dict for ``model`` (a BertModel, BertForPreTraining or BertForSequenceClassification)
    from a Hugging Face checkpoint's ``{name: tensor}`` (``read_safetensors`` of its model.safetensors).

    Query, key and value are concatenated into ``in_proj_weight``/``in_proj_bias``; see the module
    docstring for the rest. A head that is wholly absent from the checkpoint is left out of the result
    (the model keeps its own values for it); any other missing key, a key that is not part of a BERT
    or a tensor whose shape does not match the model is a ``PretrainedLoadError`` naming it."""
    t = _normalise_names(tensors, model)
    _drop_tied_copies(t, model)
    own = model.state_dict()
    used, missing, wrong_shape, state = set(), [], [], {}
    for key, sources in _hf_sources(model).items():
        absent = [s for s in sources if s not in t]
        if absent:
            missing.extend((key, s) for s in absent)
            continue
        arrays = [_array(s, t[s]) for s in sources]
        expected = tuple(own[key].shape)
        piece = (expected[0] // len(sources),) + expected[1:]
        for s, a in zip(sources, arrays, strict=True):
            if tuple(a.shape) != piece:
                wrong_shape.append(
                    f"{s!r} has shape {tuple(a.shape)}, but this model needs {piece} for it (minilm key {key!r})"
                )
        used.update(sources)
        if len(arrays) == 1:
            state[key] = Tensor._wrap(arrays[0])
        elif not wrong_shape:
            xp = backend.xp_of(arrays[0])
            state[key] = Tensor._wrap(xp.concatenate(arrays, axis=0))
    problems = _missing_problems(missing, state)
    if wrong_shape:
        problems.append("shape mismatch: " + "; ".join(wrong_shape) + " (does config.json describe these weights?)")
    unknown = sorted(n for n in t if n not in used and not _HEAD_KEYS.fullmatch(n))
    if unknown:
        problems.append(
            f"{len(unknown)} checkpoint tensor(s) that are not part of a BERT: {unknown[:8]}"
            + (" ..." if len(unknown) > 8 else "")
        )
    if problems:
        raise PretrainedLoadError("cannot load this checkpoint: " + "\n  ".join(problems))
    return state


def _missing_problems(missing: list, state: dict) -> list[str]:
    """Missing body keys are problems; so is a head that is partly in the checkpoint (a head with
    none of its keys present is fine: it stays freshly initialised)."""
    problems = []
    for key, source in missing:
        head = next((h for h in _HEADS if key.startswith(h)), None)
        if head is None:
            problems.append(f"missing tensor {source!r} (for minilm's {key!r})")
        elif any(k.startswith(head) for k in state):
            problems.append(f"missing tensor {source!r}: the checkpoint has only part of the {head[:-1]!r} head")
    return problems


def state_dict_to_hf(model: Module) -> dict:
    """``model``'s weights under Hugging Face's names (``bert.``-prefixed for the models with heads,
    as Hugging Face saves them), ``in_proj_*`` split into query, key and value; the tied MLM decoder
    weight is left out, as Hugging Face leaves it out."""
    own = model.state_dict()
    out = {}
    for key, names in _hf_sources(model).items():
        data = own[key].data
        if len(names) == 1:
            out[names[0]] = Tensor._wrap(data)
        else:
            rows = data.shape[0] // len(names)  # in_proj: [Wq; Wk; Wv], H rows each
            for i, name in enumerate(names):
                out[name] = Tensor._wrap(data[i * rows : (i + 1) * rows])
    return out


# ---------------------------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------------------------


def _need_file(directory: str, name: str, what: str) -> str:
    path = os.path.join(directory, name)
    if os.path.isfile(path):
        return path
    present = sorted(os.listdir(directory))
    hint = ""
    if name == WEIGHTS_FILE and any(f.endswith((".bin", ".pt", ".pth", ".ckpt")) for f in present):
        hint = (
            "; the weights here are a PyTorch pickle, which minilm never reads (it can run code): convert "
            "them to safetensors first, e.g. with transformers' save_pretrained(dir, safe_serialization=True)"
        )
    raise PretrainedLoadError(f"from_pretrained: '{directory}' has no {name} ({what}); it holds {present}{hint}")


def _read_json(path: str):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PretrainedLoadError(f"{path}: not valid JSON ({e})") from None


def load_tokenizer(directory, config: BertConfig | None = None) -> WordPieceTokenizer:
    """The ``WordPieceTokenizer`` of a checkpoint directory: ``vocab.txt``, with ``do_lower_case`` and
    ``strip_accents`` from ``tokenizer_config.json`` when there is one (uncased BERT otherwise). With
    ``config``, a vocabulary larger than ``config.vocab_size`` is a ``PretrainedLoadError``."""
    directory = os.fspath(directory)
    vocab_path = _need_file(directory, VOCAB_FILE, "the WordPiece vocabulary")
    options = {}
    tc_path = os.path.join(directory, TOKENIZER_CONFIG_FILE)
    if os.path.isfile(tc_path):
        tc = _read_json(tc_path)
        if not isinstance(tc, dict):
            raise PretrainedLoadError(f"{tc_path}: expected a JSON object, got a {type(tc).__name__}")
        options["lowercase"] = bool(tc.get("do_lower_case", True))
        options["strip_accents"] = tc.get("strip_accents")
        names = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]", "sep_token": "[SEP]"}
        names["mask_token"] = "[MASK]"
        for key, ours in names.items():
            theirs = tc.get(key, ours)
            theirs = theirs.get("content", ours) if isinstance(theirs, dict) else theirs
            if theirs != ours:
                raise PretrainedLoadError(
                    f"{tc_path}: {key} is {theirs!r}; minilm's WordPieceTokenizer uses the special tokens "
                    f"{list(SPECIAL_TOKENS)}"
                )
        if tc.get("do_basic_tokenize", True) is False or tc.get("tokenize_chinese_chars", True) is False:
            raise PretrainedLoadError(
                f"{tc_path}: do_basic_tokenize=false and tokenize_chinese_chars=false are not supported; "
                "minilm's WordPieceTokenizer always splits punctuation and spaces out CJK characters"
            )
    try:
        tokenizer = WordPieceTokenizer.from_vocab_file(vocab_path, **options)
    except (TokenizerFileError, ValueError) as e:
        raise PretrainedLoadError(f"{vocab_path}: {e}") from None
    if config is not None and tokenizer.vocab_size > config.vocab_size:
        raise PretrainedLoadError(
            f"{vocab_path} has {tokenizer.vocab_size} tokens, more than the model's vocab_size "
            f"{config.vocab_size} in config.json; the vocabulary does not belong to these weights"
        )
    return tokenizer


def from_pretrained(directory, model: str = "base", num_labels: int = 2, device="cpu", dtype=None):
    """Load a Hugging Face BERT directory (config.json, model.safetensors, vocab.txt) and return
    ``(model, tokenizer)``: a minilm BERT in ``eval()`` mode (call ``.train()`` to fine-tune it) and its
    ``WordPieceTokenizer``.

    ``model``: "base" (``BertModel``, with a pooler when the checkpoint has one), "pretraining"
    (``BertForPreTraining``) or "classification" (``BertForSequenceClassification`` with ``num_labels``).
    ``device``: where the weights go; ``dtype``: float32 or float64 (default: minilm's default dtype,
    whatever the file holds; F16/BF16 weights are widened). Heads missing from the checkpoint stay
    freshly initialised (a warning names them). Every problem is a ``PretrainedLoadError`` naming the
    file, the tensor, the shape or the setting."""
    if model not in MODELS:
        raise ValueError(f"from_pretrained: model must be one of {sorted(MODELS)}, got {model!r}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise PretrainedLoadError(
            f"from_pretrained: '{directory}' is not a directory (absolute: {os.path.abspath(directory)})"
        )
    config_path = _need_file(directory, CONFIG_FILE, "the model's sizes")
    config = config_from_hf(_read_json(config_path), config_path)
    tokenizer = load_tokenizer(directory, config)
    weights_path = _need_file(directory, WEIGHTS_FILE, "the weights")
    try:
        tensors = read_safetensors(weights_path)
    except SafetensorsError as e:
        raise PretrainedLoadError(str(e)) from None
    dt = backend.get_default_dtype() if dtype is None else backend.canonical_dtype(dtype)
    if model == "base":
        pooled = any(re.fullmatch(r"(bert\.)?pooler\.dense\.weight", k) for k in tensors)
        net = BertModel(config, add_pooling_layer=pooled, device=device, dtype=dt)
    elif model == "pretraining":
        net = BertForPreTraining(config, device=device, dtype=dt)
    else:
        net = BertForSequenceClassification(config, num_labels=num_labels, device=device, dtype=dt)
    try:
        state = state_dict_from_hf(tensors, net)
    except PretrainedLoadError as e:
        raise PretrainedLoadError(f"{weights_path}: {e}") from None
    fresh = sorted(k for k in _hf_sources(net) if k not in state)
    if fresh:
        warnings.warn(
            f"from_pretrained: {weights_path} has no weights for {fresh}; they keep their random "
            "initialisation (expected for a new classifier head: train it)",
            stacklevel=2,
        )
    net.load_state_dict(state, strict=False)
    return net.eval(), tokenizer


def save_pretrained(model: Module, tokenizer: WordPieceTokenizer, directory) -> None:
    """Write ``model`` (a BertModel, BertForPreTraining or BertForSequenceClassification) and its
    ``tokenizer`` to ``directory`` (created if needed) as a Hugging Face BERT: config.json,
    model.safetensors (Hugging Face's names), vocab.txt and tokenizer_config.json; each file atomically."""
    _base_prefix(model)  # checks the type
    if not isinstance(tokenizer, WordPieceTokenizer):
        raise TypeError(f"save_pretrained: tokenizer must be a WordPieceTokenizer, got {type(tokenizer).__name__}")
    config = model.config
    if tokenizer.vocab_size > config.vocab_size:
        raise ValueError(
            f"save_pretrained: the tokenizer has {tokenizer.vocab_size} tokens but the model only "
            f"{config.vocab_size} word embeddings (vocab_size); they do not belong together"
        )
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    num_labels = model.num_labels if isinstance(model, BertForSequenceClassification) else None
    hf_config = config_to_hf(config, type(model).__name__, num_labels)
    write_json(hf_config, os.path.join(directory, CONFIG_FILE), "save_pretrained")
    write_safetensors(state_dict_to_hf(model), os.path.join(directory, WEIGHTS_FILE), metadata={"format": "pt"})
    tokenizer.save_vocab_file(os.path.join(directory, VOCAB_FILE))
    tokenizer_config = {
        "do_lower_case": tokenizer.lowercase,
        "strip_accents": tokenizer.strip_accents,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]", "cls_token": "[CLS]", "mask_token": "[MASK]",
        "model_max_length": config.max_position_embeddings,
    }  # fmt: skip
    write_json(tokenizer_config, os.path.join(directory, TOKENIZER_CONFIG_FILE), "save_pretrained")
