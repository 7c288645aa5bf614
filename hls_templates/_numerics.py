"""The ``--numerics`` file of ``cascade emit-hls``: the attention datapath's types.

>>> load_numerics_text("io: ap_fixed<16,6>\\nscore: ap_fixed<24,12>\\n").score.width
24
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from einsum import CascadeError, node_line, node_value, read_text, yaml_fields
from sim import AttentionNumerics, FixedType

__all__ = ["load_numerics", "load_numerics_text"]

_TYPES = ("io", "score", "weight", "sum", "accumulator")


def load_numerics_text(text: str, *, file: str = "<numerics>") -> AttentionNumerics:
    try:
        nodes = yaml_fields(text, (*_TYPES, "table_bits"), required=(),
                            shape="a numerics file is a mapping of type names")
        fields: dict[str, Any] = {}
        for key, node in nodes.items():
            value = node_value(node)
            if key == "table_bits":
                if isinstance(value, bool) or not isinstance(value, int) \
                        or not 1 <= value <= 12:
                    raise CascadeError(f"table_bits must be a whole number 1..12, not "
                                       f"{value!r}", line=node_line(node))
                fields[key] = value
            else:
                try:
                    fields[key] = FixedType.parse(str(value))
                except CascadeError as error:
                    raise CascadeError(f"{key}: {error.message}", line=node_line(node)
                                       ) from None
        return AttentionNumerics(**fields)
    except CascadeError as error:
        raise error.located(file=file) from None


def load_numerics(path: str | Path) -> AttentionNumerics:
    return load_numerics_text(read_text(path, "numerics file"), file=str(path))
