"""Settings of the recipes (``PretrainConfig``, ``FinetuneConfig``), read from JSON with errors that
name the bad key, and ``RecipeError``, the error the command turns into one line and exit code 2."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from dataclasses import dataclass

from minilm.io import write_json  # noqa: F401  (the recipes' one way to write JSON)

BUNDLED_TEXT = "bundled"
BUNDLED_REVIEWS = "bundled-reviews"


class RecipeError(ValueError):
    """Bad input to a recipe (a data name that means nothing, a config key that does not exist, a
    model folder that is not one): the command prints its message on one line and exits with 2."""


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
    vocab_size: int = 4000
    max_length: int = 64
    hidden_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 2
    intermediate_size: int = 512
    dropout: float = 0.1
    mlm_probability: float = 0.15
    steps: int = 1500
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_steps: int = 150
    max_grad_norm: float = 1.0
    grad_accum_steps: int = 1
    eval_every: int = 500
    checkpoint_every: int = 500
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
