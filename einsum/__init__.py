"""Extended-Einsum cascades: notation, IR, validation, analysis and reference execution.

>>> from einsum import load, passes
>>> passes(load("fusemax"))
1
"""

from __future__ import annotations

from ._errors import CascadeError
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
)
from ._loader import library_names, load, load_file, load_yaml_text
from ._parser import parse_text
from ._printer import to_text, to_yaml
from ._validate import Layout, Loop, validate

__all__ = [
    "Bound",
    "Cascade",
    "CascadeError",
    "Compose",
    "Const",
    "Einsum",
    "Initial",
    "Layout",
    "Loop",
    "Next",
    "Op",
    "Ref",
    "Split",
    "TensorDecl",
    "Var",
    "Zero",
    "library_names",
    "load",
    "load_file",
    "load_yaml_text",
    "parse_text",
    "to_text",
    "to_yaml",
    "validate",
]
