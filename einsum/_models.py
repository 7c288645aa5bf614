"""Transformer model presets (workloads): heads, widths, layers and batch.

Two sources: the FuseMax study's workloads in ``presets/models.yaml`` (batch 64), and
HuggingFace ``config.json`` files, shipped in ``presets/hf/`` (BERT-base, Llama-3-8B,
Mistral-7B, ViT-B/16, batch 1) or given by path with :func:`model_from_config`.

>>> bert = model("bert")
>>> bert.shapes(1024)
{'E': 64, 'F': 64, 'M': 1024, 'P': 1024}
>>> llama = model("llama-3-8b")
>>> (llama.heads, llama.kv_heads, llama.head_dim, llama.layers)
(32, 8, 128, 32)

A cascade may carry heads in its own ranks: ``H`` (every head), ``G`` (K/V heads) and ``R``
(query heads per K/V head). :meth:`Model.workload` sizes them from the model and counts
only the heads they leave out as independent instances:

>>> from einsum import load
>>> llama.workload(load("gqa"), 1024)
({'E': 128, 'F': 128, 'M': 1024, 'P': 1024, 'G': 8, 'R': 4}, 1)
>>> llama.workload(load("one_pass"), 1024)
({'E': 128, 'F': 128, 'M': 1024, 'P': 1024}, 32)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ._errors import CascadeError, read_text
from ._ir import Cascade
from ._loader import MAX_SHAPE
from ._parser import MAX_NUMBER_CHARACTERS
from ._validate import validate

__all__ = ["Model", "model", "model_from_config", "model_names"]

_PRESETS = "einsum/presets/models.yaml"

HEAD_RANKS = ("H", "G", "R")
"""Rank names that index attention heads in a cascade (see :meth:`Model.workload`)."""


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
    kv_heads: int = 0
    """Heads of K and V (grouped-query attention shares each among heads / kv_heads query
    heads); 0 means as many as ``heads``."""
    layers: int = 1
    source: str = _PRESETS

    def __post_init__(self) -> None:
        if self.kv_heads == 0:
            object.__setattr__(self, "kv_heads", self.heads)
        for key in ("heads", "model_dim", "head_dim", "ffn_dim", "batch", "kv_heads", "layers"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise CascadeError(f"model {self.name}: {key} must be a positive whole "
                                   f"number, not {value!r}", file=self.source)
        # Some models (Gemma) choose head_dim freely, so heads x head_dim need not equal
        # model_dim; grouping, however, must be even.
        if self.heads % self.kv_heads:
            raise CascadeError(f"model {self.name}: {self.heads} heads cannot share "
                               f"{self.kv_heads} K/V heads evenly", file=self.source)

    def shapes(self, seq: int) -> dict[str, int]:
        """Rank sizes of self-attention over ``seq`` tokens (M = P = seq), for one head."""
        return {"E": self.head_dim, "F": self.head_dim, "M": seq, "P": seq}

    def workload(self, cascade: Cascade, seq: int) -> tuple[dict[str, int], int]:
        """Shapes of ``cascade`` over ``seq`` tokens of this model, and the number of
        independent instances of it (batch x heads, less the heads its ranks carry).

        Only the ranks the cascade uses are sized. Head ranks (:data:`HEAD_RANKS`, when a
        tensor is indexed by them; a where condition's size of the same name is not one)
        take the model's head layout, and the heads they carry are not counted again in
        the instances: GQA on Llama-3-8B is G = 8, R = 4 and one instance per sequence.

        >>> from einsum import load
        >>> shapes, instances = model("llama-3-8b").workload(load("s2_attention"), 512)
        >>> shapes["H"], instances
        (32, 1)
        """
        layout = validate(cascade)
        used = set(layout.all_ranks())
        indexed = {r for ranks in layout.ranks.values() for r in ranks}
        shapes = {r: v for r, v in self.shapes(seq).items() if r in used}
        # H: every head; G: the K/V heads; R: the query heads that share one K/V head.
        sizes = zip(HEAD_RANKS, (self.heads, self.kv_heads, self.heads // self.kv_heads),
                    strict=True)
        heads = {r: v for r, v in sizes if r in indexed}
        carried = math.prod(heads.values())
        if self.heads % carried:
            named = " x ".join(f"{r}={v}" for r, v in heads.items())
            raise CascadeError(
                f"{cascade.name}: its head ranks {named} carry {carried} heads, which "
                f"do not divide the {self.heads} heads of model {self.name}",
                file=cascade.file)
        shapes.update(heads)
        return shapes, self.batch * (self.heads // carried)


# config.json keys per field, first found wins (GPT-2 style names after the common ones).
_HF_KEYS = {
    "model_dim": ("hidden_size", "n_embd", "d_model"),
    "heads": ("num_attention_heads", "n_head", "num_heads"),
    "layers": ("num_hidden_layers", "n_layer", "num_layers"),
}


def _hf_value(config: dict[str, Any], field_name: str, file: str) -> Any:
    for key in _HF_KEYS[field_name]:
        if key in config:
            return config[key]
    raise CascadeError(f"config.json has no {' / '.join(_HF_KEYS[field_name])}", file=file)


MAX_JSON_DEPTH = 100
"""Deepest nesting of arrays and objects in a config.json."""

# Escapes, quotes, brackets and the tokens the hooks refuse: scanned once, left to right.
_JSON_TOKENS = re.compile(r'\\.|["\[\]{}]|NaN|-?Infinity|[0-9]{'
                          + str(MAX_NUMBER_CHARACTERS + 1) + ",}", re.DOTALL)


def _json_int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARACTERS:  # int() refuses 4300+ digits, slowly before that
        raise CascadeError(f"a number of {len(text):,} characters is too long (the limit is "
                           f"{MAX_NUMBER_CHARACTERS})")
    return int(text)


def _json_constant(text: str) -> float:
    raise CascadeError(f"{text} is not a JSON number")


def _json_depth(value: Any) -> int:
    """How deep arrays and objects nest in a loaded JSON value (iterative: no recursion)."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, depth = todo.pop()
        children = item.values() if isinstance(item, dict) else item \
            if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if depth <= MAX_JSON_DEPTH:
                todo.extend((child, depth + 1) for child in children)
    return deepest


def _problem_line(text: str) -> int | None:
    """The line of the first thing outside strings that :func:`_load_json` refuses (nesting
    past MAX_JSON_DEPTH, a too long number, NaN or Infinity), if one is found.

    A linear scan: a regular expression for whole strings backtracks quadratically on an
    unterminated one.
    """
    depth, quoted = 0, False
    for match in _JSON_TOKENS.finditer(text):
        token = match.group()
        if token == '"' or quoted or token.startswith("\\"):
            quoted = quoted != (token == '"')
            continue
        if token in "[{":
            depth += 1
        elif token in "]}":
            depth -= 1
        if depth > MAX_JSON_DEPTH or token[-1] not in "[]{}":
            return text.count("\n", 0, match.start()) + 1
    return None


def _load_json(text: str, file: str) -> Any:
    """JSON within bounds: nesting, integer length, no NaN or Infinity."""
    try:
        config = json.loads(text, parse_int=_json_int, parse_constant=_json_constant)
        deep = _json_depth(config) > MAX_JSON_DEPTH
    except json.JSONDecodeError as error:
        raise CascadeError(f"not valid JSON: {error.msg}", file=file, line=error.lineno
                           ) from None
    except RecursionError:  # json's C scanner stops near Python's recursion limit
        deep = True
    except CascadeError as error:  # from the hooks, which do not know where they are
        raise error.located(file=file, line=_problem_line(text)) from None
    if deep:
        raise CascadeError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep", file=file,
                           line=_problem_line(text))
    return config


def _from_hf(name: str, text: str, file: str) -> Model:
    config = _load_json(text, file)
    if not isinstance(config, dict):
        raise CascadeError("a config.json must be a JSON object", file=file)
    model_dim = _hf_value(config, "model_dim", file)
    heads = _hf_value(config, "heads", file)
    for key, value in (("hidden size", model_dim), ("attention heads", heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise CascadeError(f"{key} must be a positive whole number, not {value!r}",
                               file=file)
    if model_dim % heads and "head_dim" not in config:
        raise CascadeError(f"hidden size {model_dim} is not a multiple of {heads} heads "
                           "and there is no head_dim", file=file)
    ffn = config.get("intermediate_size", config.get("n_inner")) or 4 * model_dim
    architectures = config.get("architectures")
    title = config.get("_name_or_path") or (
        architectures[0] if isinstance(architectures, list) and architectures else name)
    found = Model(name=name, title=title if isinstance(title, str) else name, heads=heads,
                  model_dim=model_dim, head_dim=config.get("head_dim") or model_dim // heads,
                  ffn_dim=ffn, batch=1, kv_heads=config.get("num_key_value_heads") or heads,
                  layers=_hf_value(config, "layers", file), source=file)
    for key in ("heads", "model_dim", "head_dim", "ffn_dim", "kv_heads", "layers"):
        if getattr(found, key) > MAX_SHAPE:
            raise CascadeError(f"model {name}: {key} {getattr(found, key)} is larger than the "
                               "limit 2**40", file=file)
    return found


def model_from_config(path: str | Path) -> Model:
    """A workload from a HuggingFace ``config.json`` (batch 1), named after the file."""
    path = Path(path)
    text = read_text(path, "model config")
    name = path.parent.name if path.stem == "config" else path.stem
    return _from_hf(name.lower(), text, str(path))


@cache
def _presets() -> dict[str, Model]:
    folder = resources.files("einsum").joinpath("presets")
    data = yaml.safe_load(folder.joinpath("models.yaml").read_text("utf-8"))
    models = {}
    for name, fields in data.items():
        try:
            models[name] = Model(name=name, **fields)
        except TypeError as error:
            raise CascadeError(f"model {name}: {error}", file=_PRESETS) from None
    for entry in sorted(folder.joinpath("hf").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            name = entry.name[:-5]
            models[name] = _from_hf(name, entry.read_text("utf-8"), f"einsum/presets/hf/"
                                    f"{entry.name}")
    return models


def model_names() -> tuple[str, ...]:
    return tuple(_presets())


def model(name: str) -> Model:
    """A model preset by name (case-insensitive)."""
    found = _presets().get(name.lower())
    if found is None:
        raise CascadeError(f"unknown model {name!r}; known: {', '.join(model_names())}")
    return found
