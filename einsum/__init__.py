"""Extended-Einsum cascades: notation, IR, validation, analysis and reference execution.

>>> from einsum import load, passes
>>> passes(load("fusemax"))
1
"""

from __future__ import annotations

from ._analysis import Analysis, analyze, op_counts, pass_levels, passes
from ._catalog import catalog, catalog_row, library_document, markdown_table, table_shape
from ._check import (
    CHECK_SHAPES,
    TOLERANCE,
    CheckResult,
    check_attention,
    check_cascade,
    exact_attention,
)
from ._errors import CascadeError, read_text
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
from ._loader import (
    MAX_SHAPE,
    MAX_YAML_DEPTH,
    MAX_YAML_NODES,
    check_shape,
    library_names,
    load,
    load_file,
    load_yaml_text,
    node_line,
    node_value,
    parse_text,
    yaml_fields,
)
from ._models import Model, model, model_from_config, model_names
from ._operators import OP_KINDS
from ._output import (
    MARKER,
    OutputError,
    check_output_folder,
    staged_folder,
    write_csv,
    write_file,
)
from ._parser import MAX_NESTING, MAX_NUMBER_CHARACTERS
from ._printer import to_text, to_yaml
from ._references import REFERENCES, Reference, softmax_attention
from ._shapes import parse_shape_text, resolve_shapes
from ._sparsity import effective_conditions, touched
from ._stream import execute_streaming
from ._validate import Layout, Loop, validate

__all__ = [
    "CHECK_SHAPES",
    "MARKER",
    "MAX_NESTING",
    "MAX_NUMBER_CHARACTERS",
    "MAX_SHAPE",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "OP_KINDS",
    "REFERENCES",
    "TOLERANCE",
    "Analysis",
    "Bound",
    "Cascade",
    "CascadeError",
    "CheckResult",
    "Compose",
    "Const",
    "Einsum",
    "Initial",
    "Layout",
    "Loop",
    "Model",
    "Next",
    "Op",
    "OutputError",
    "Ref",
    "Reference",
    "Split",
    "TensorDecl",
    "Var",
    "Zero",
    "analyze",
    "catalog",
    "catalog_row",
    "check_attention",
    "check_cascade",
    "check_output_folder",
    "check_shape",
    "effective_conditions",
    "exact_attention",
    "execute",
    "execute_streaming",
    "library_document",
    "library_names",
    "load",
    "load_file",
    "load_yaml_text",
    "markdown_table",
    "model",
    "model_from_config",
    "model_names",
    "node_line",
    "node_value",
    "op_counts",
    "parse_shape_text",
    "parse_text",
    "pass_levels",
    "passes",
    "rank_of",
    "read_text",
    "resolve_shapes",
    "softmax_attention",
    "staged_folder",
    "table_shape",
    "to_text",
    "to_yaml",
    "touched",
    "validate",
    "write_csv",
    "write_file",
    "yaml_fields",
]
