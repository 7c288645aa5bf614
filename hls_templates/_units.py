"""Template contexts of the numeric units: C++ types, constants and tables from the Python
golden models (one source of truth for both)."""

from __future__ import annotations

import math
from typing import Any

from sim import ExpUnit, Fixed, FixedType, GeluUnit, LayerNormUnit, ReciprocalUnit

__all__ = ["c_literal", "exact_sum", "exp_context", "gelu_context", "layernorm_context",
           "reciprocal_context", "table", "words"]


def words(values: Fixed, t: FixedType | None = None) -> list[int]:
    """``values`` assigned to ``t`` (default: their own type) as two's-complement words of
    its width, flattened: how vectors and tables reach C++ testbenches and Verilog."""
    t = t or values.type
    assert t is not None
    return [int(v) % (1 << t.width) for v in values.cast(t).raw.reshape(-1)]


def c_literal(value: float) -> str:
    """A double literal that parses back to exactly ``value`` (Python's repr round-trips)."""
    text = repr(float(value))
    return text if any(c in text for c in ".e") else text + ".0"


def table(name: str, values: Fixed, about: str) -> dict[str, Any]:
    """A constant table for tables.h: typedef ``<name>_t`` and initialiser ``<NAME>_DATA``."""
    assert values.type is not None
    return {"name": name, "type": values.type.c_type(), "about": about,
            "entries": len(values), "data": [c_literal(v) for v in values.to_float()]}


def _widths(prefix: str, t: FixedType) -> dict[str, Any]:
    return {f"{prefix}_t": t.c_type(), f"{prefix}_w": t.width, f"{prefix}_i": t.integer,
            f"{prefix}_f": t.fraction}


def exp_context(name: str, unit: ExpUnit) -> tuple[dict[str, Any], dict[str, Any]]:
    """(unit context, table) of an exp unit."""
    log2e_type = FixedType(unit.log2e_bits + 2, 2, signed=False, quantisation="RND")
    log2e = Fixed.from_float([math.log2(math.e)], log2e_type).to_float()[0]
    if unit.reduced_type.fraction <= unit.table_bits:
        raise ValueError(f"exp unit {name}: its input needs more than {unit.table_bits} "
                         "fraction bits")
    context = {"name": name, "table": f"{name}_table",
               "table_type": f"{name}_table_t", "table_bits": unit.table_bits,
               "entries": len(unit.table), "log2e_t": log2e_type.c_type(),
               "log2e": c_literal(log2e), **_widths("in", unit.in_type),
               **_widths("out", unit.out_type), **_widths("reduced", unit.reduced_type),
               **_widths("table", unit.table_type)}
    return context, table(f"{name}_table", unit.table,
                          f"2**-f at f = i / {2**unit.table_bits}, for {name}")


def reciprocal_context(name: str, unit: ReciprocalUnit) -> tuple[dict[str, Any], dict[str, Any]]:
    context = {"name": name, "table": f"{name}_table",
               "table_type": f"{name}_table_t", "table_bits": unit.table_bits,
               "entries": len(unit.table), "out_max": str(unit.out_type.max_raw),
               **_widths("in", unit.in_type), **_widths("out", unit.out_type),
               **_widths("table", unit.table_type)}
    return context, table(f"{name}_table", unit.table,
                          f"1/m at m = 1 + i / {2**unit.table_bits}, for {name}")


def gelu_context(name: str, unit: GeluUnit) -> tuple[dict[str, Any], dict[str, Any]]:
    context = {"name": name, "table": f"{name}_table",
               "table_type": f"{name}_table_t", "step_bits": unit.step_bits,
               "entries": unit.entries, **_widths("io", unit.io_type),
               **_widths("table", unit.table_type)}
    return context, table(f"{name}_table", unit.table,
                          f"delta(a) = a * Phi(-a) at a = i / {2**unit.step_bits}, for {name}")


def exact_sum(width: int, integer: int, terms: int) -> tuple[int, int]:
    """Width and integer bits of an exact sum of ``terms`` values of a type."""
    grow = max(1, math.ceil(math.log2(terms))) + 1 if terms > 1 else 1
    return width + grow, integer + grow


def layernorm_context(name: str, unit: LayerNormUnit, n: int
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """LayerNorm over ``n`` values: its types, constants and rsqrt table."""
    io = unit.io_type
    stat = FixedType(io.width + 8, io.integer + 1)
    inverse_n = Fixed.from_float([1.0 / n], FixedType(32, 0, signed=False, quantisation="RND"))
    epsilon = Fixed.from_float([unit.epsilon], unit.variance_type)
    total = exact_sum(io.width, io.integer, n)
    squares = exact_sum(2 * stat.width, 2 * stat.integer, n)
    context = {"name": name, "table": f"{name}_table",
               "table_type": f"{name}_table_t", "table_bits": unit.table_bits,
               "entries": len(unit.table), "n": n,
               "inverse_n": c_literal(inverse_n.to_float()[0]),
               "epsilon": c_literal(epsilon.to_float()[0]), "stat_t": stat.c_type(),
               "sum_w": total[0], "sum_i": total[1], "square_w": squares[0],
               "square_i": squares[1], **_widths("io", io),
               **_widths("variance", unit.variance_type), **_widths("rsqrt", unit.rsqrt_type),
               **_widths("table", unit.table_type)}
    return context, table(f"{name}_table", unit.table,
                          f"1/sqrt(m) at m = 1 + i / {2**unit.table_bits}, for {name}")
