"""``JSONConfig``: what every model config shares (a dataclass written to and read from JSON)."""

from __future__ import annotations

import dataclasses
import json

from minilm.io import check_readable, write_json


class JSONConfig:
    """Base of the model configs (``BertConfig``, ``GPTConfig``), which are dataclasses: ``to_dict``,
    ``from_dict`` (an unknown key is an error that names it, since a typo would otherwise be ignored;
    a missing key takes its default), and ``save`` / ``load`` as a JSON object, written atomically."""

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        """A config from a dict of fields such as ``to_dict()`` gives."""
        name = cls.__name__
        if not isinstance(d, dict):
            raise TypeError(f"{name}.from_dict: expected a dict, got {type(d).__name__}")
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"{name}.from_dict: unknown keys {unknown}; the known keys are {known}")
        cls._check_required(d)
        return cls(**d)

    @classmethod
    def _check_required(cls, d: dict) -> None:
        """Raise if ``d`` lacks a field that has no default (none by default)."""

    def save(self, path) -> None:
        """Write the config as a JSON object to ``path`` (atomically: a crash leaves the old file)."""
        write_json(self.to_dict(), path, f"{type(self).__name__}.save")

    @classmethod
    def load(cls, path):
        """Read a config that ``save`` wrote (a ``ValueError`` naming the file if it is not one)."""
        name = cls.__name__
        path = check_readable(path, f"{name}.load")
        with open(path, encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{name}.load: '{path}' is not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{name}.load: '{path}' holds a JSON {type(d).__name__}, not an object of fields")
        return cls.from_dict(d)
