"""Transformer model presets (workloads): heads, widths and batch.

>>> bert = model("bert")
>>> bert.shapes(1024)
{'E': 64, 'F': 64, 'M': 1024, 'P': 1024}
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from ._errors import CascadeError

__all__ = ["Model", "model", "model_names"]

_PRESETS = "einsum/presets/models.yaml"


@dataclass(frozen=True, kw_only=True)
class Model:
    """One attention workload; every size is a positive whole number."""

    name: str
    title: str
    heads: int
    model_dim: int
    head_dim: int
    ffn_dim: int
    batch: int

    def __post_init__(self) -> None:
        for key in ("heads", "model_dim", "head_dim", "ffn_dim", "batch"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CascadeError(f"model {self.name}: {key} must be a positive whole "
                                   f"number, not {value!r}", file=_PRESETS)
        if self.heads * self.head_dim != self.model_dim:
            raise CascadeError(f"model {self.name}: heads x head_dim = "
                               f"{self.heads * self.head_dim}, not model_dim {self.model_dim}",
                               file=_PRESETS)

    def shapes(self, seq: int) -> dict[str, int]:
        """Rank sizes of self-attention over ``seq`` tokens (M = P = seq)."""
        return {"E": self.head_dim, "F": self.head_dim, "M": seq, "P": seq}


@cache
def _presets() -> dict[str, Model]:
    text = resources.files("einsum").joinpath("presets", "models.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    models = {}
    for name, fields in data.items():
        try:
            models[name] = Model(name=name, **fields)
        except TypeError as error:
            raise CascadeError(f"model {name}: {error}", file=_PRESETS) from None
    return models


def model_names() -> tuple[str, ...]:
    return tuple(_presets())


def model(name: str) -> Model:
    """A model preset by name (case-insensitive)."""
    found = _presets().get(name.lower())
    if found is None:
        raise CascadeError(f"unknown model {name!r}; known: {', '.join(model_names())}")
    return found
