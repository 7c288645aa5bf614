"""Extended-Einsum cascades: notation, IR, validation, analysis and reference execution.

>>> from einsum import load, passes
>>> passes(load("fusemax"))
1
"""

from __future__ import annotations

from ._analysis import Analysis, analyze, op_counts, pass_levels, passes
from ._check import check_attention, exact_attention
from ._errors import CascadeError
from ._execute import execute
from ._ir import (
    Bound,
    Cascade,
    Compose,
    Const,
    Einsum,
    Initial,
    Next,
    Op,
    Ref,
    Split,
    TensorDecl,
    Var,
    Zero,
    rank_of,
)
from ._loader import library_names, load, load_file, load_yaml_text
from ._models import Model, model, model_names
from ._parser import parse_text
from ._printer import to_text, to_yaml
from ._shapes import parse_shape_text, resolve_shapes
from ._validate import Layout, Loop, validate

__all__ = [
    "Analysis",
    "Bound",
    "Cascade",
    "CascadeError",
    "Compose",
    "Const",
    "Einsum",
    "Initial",
    "Layout",
    "Loop",
    "Model",
    "Next",
    "Op",
    "Ref",
    "Split",
    "TensorDecl",
    "Var",
    "Zero",
    "analyze",
    "check_attention",
    "exact_attention",
    "execute",
    "library_names",
    "load",
    "load_file",
    "load_yaml_text",
    "model",
    "model_names",
    "op_counts",
    "parse_shape_text",
    "parse_text",
    "pass_levels",
    "passes",
    "rank_of",
    "resolve_shapes",
    "to_text",
    "to_yaml",
    "validate",
]
