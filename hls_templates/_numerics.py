"""The ``--numerics`` file of ``cascade emit-hls``: the attention datapath's types, and two
choices every kernel follows: ``overflow: wrap`` (the default) or ``saturate`` (every stored
tensor AP_SAT), and ``allow_overflow: true`` (C simulation reports overflows as warnings
instead of failing on them).

>>> load_numerics_text("io: ap_fixed<16,6>\\nscore: ap_fixed<24,12>\\n").score.width
24
>>> n = load_numerics_text("overflow: saturate\\nallow_overflow: true\\n")
>>> n.score.overflow, n.allow_overflow
('SAT', True)

The file is read by :func:`einsum.yaml_fields` (bounded nesting and aliases, plain data
only); each type is ASCII text of at most 100 characters, so that no Arabic-Indic or
fullwidth digit is read as a width and no width has thousands of digits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from einsum import CascadeError, node_line, node_value, read_text, yaml_fields
from sim import AttentionNumerics, FixedType

__all__ = ["load_numerics", "load_numerics_text"]

_TYPES = ("io", "score", "weight", "sum", "accumulator")
_LONGEST_TYPE = 100


def load_numerics_text(text: str, *, file: str = "<numerics>") -> AttentionNumerics:
    try:
        nodes = yaml_fields(text, (*_TYPES, "table_bits", "overflow", "allow_overflow"),
                            required=(), shape="a numerics file is a mapping of type names")
        fields: dict[str, Any] = {}
        saturate = False
        for key, node in nodes.items():
            value = node_value(node)
            if key == "overflow":
                if value not in ("wrap", "saturate"):
                    raise CascadeError(f"overflow must be wrap or saturate, not {value!r}",
                                       line=node_line(node))
                saturate = value == "saturate"
            elif key == "allow_overflow":
                if not isinstance(value, bool):
                    raise CascadeError(f"allow_overflow must be true or false, not {value!r}",
                                       line=node_line(node))
                fields[key] = value
            elif key == "table_bits":
                if isinstance(value, bool) or not isinstance(value, int) \
                        or not 1 <= value <= 12:
                    raise CascadeError(f"table_bits must be a whole number 1..12, not "
                                       f"{value!r}", line=node_line(node))
                fields[key] = value
            else:
                _check_type_text(key, value, node_line(node))
                try:
                    fields[key] = FixedType.parse(value)
                except CascadeError as error:
                    raise CascadeError(f"{key}: {error.message}", line=node_line(node)
                                       ) from None
        numerics = AttentionNumerics(**fields)
        return numerics.saturating() if saturate else numerics
    except CascadeError as error:
        raise error.located(file=file) from None


def _check_type_text(key: str, value: Any, line: int) -> None:
    """A type is short ASCII text; FixedType.parse's int() would take any Unicode digit."""
    if not isinstance(value, str):
        shown = repr(value) if isinstance(value, int | float) and len(repr(value)) <= 30 \
            else type(value).__name__
        raise CascadeError(f"{key}: not a fixed-point type: {shown} (write ap_fixed<W,I> or "
                           "ap_fixed<W,I,AP_RND,AP_SAT>)", line=line)
    if not value.isascii():
        raise CascadeError(f"{key}: {value[:_LONGEST_TYPE]!r} is not ASCII (write digits and "
                           "names in ASCII, like ap_fixed<16,6>)", line=line)
    if len(value) > _LONGEST_TYPE:
        raise CascadeError(f"{key}: a type of {len(value):,} characters is too long (the "
                           f"limit is {_LONGEST_TYPE})", line=line)


def load_numerics(path: str | Path) -> AttentionNumerics:
    """The types of a ``--numerics`` YAML file; a :class:`CascadeError` names its line."""
    return load_numerics_text(read_text(path, "numerics file"), file=str(path))
