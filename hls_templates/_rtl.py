"""Verilog for the datapath units (jinja2 templates in ``rtl/``), from the same Python models
the HLS C++ is checked against.

>>> import tempfile
>>> from pathlib import Path
>>> out = Path(tempfile.mkdtemp()) / "exp"
>>> emit_rtl("exp", {}, out=out)["files"]
['cascade_rtl.json', 'exp_unit.v']
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from einsum import CascadeError
from sim._exp import ExpUnit
from sim._fixed import Fixed, FixedType

__all__ = ["RTL_UNITS", "RtlError", "RtlUnit", "emit_rtl", "rtl_unit"]


class RtlError(CascadeError):
    """A unit or parameter that cannot become Verilog."""


@dataclass(frozen=True)
class RtlUnit:
    """A rendered unit: its top module, its Verilog files and what its testbench needs."""

    kind: str
    top: str
    files: dict[str, str]
    params: dict[str, Any]


def _environment() -> jinja2.Environment:
    folder = resources.files("hls_templates").joinpath("rtl")
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), trim_blocks=True,
                              lstrip_blocks=True, keep_trailing_newline=True,
                              undefined=jinja2.StrictUndefined, autoescape=False)


def _raw(values: Fixed) -> list[int]:
    assert values.type is not None
    return [int(v) % (1 << values.type.width) for v in values.raw]


def _int_param(params: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = params.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise RtlError(f"parameter {key} must be a whole number, not {value!r}") from None
    if not low <= number <= high:
        raise RtlError(f"parameter {key} must be {low}..{high}, not {number}")
    return number


# ----- exp


def exp_unit(params: dict[str, Any]) -> ExpUnit:
    width = _int_param(params, "width", 16, 8, 40)
    integer = _int_param(params, "integer", 6, 2, width - 4)
    table_bits = _int_param(params, "table_bits", 6, 2, 10)
    if width - integer - 1 <= table_bits:
        raise RtlError(f"exp: {width - integer} fraction bits leave no weight after "
                       f"{table_bits} index bits")
    return ExpUnit(in_type=FixedType(width + 1, integer + 1),
                   out_type=FixedType(width, 1, signed=False), table_bits=table_bits)


def _exp(params: dict[str, Any]) -> RtlUnit:
    unit = exp_unit(params)
    log2e_type = FixedType(unit.log2e_bits + 2, 2, signed=False, quantisation="RND")
    log2e = Fixed.from_float([math.log2(math.e)], log2e_type)
    in_t, out_t, table_t = unit.in_type, unit.out_type, unit.table_type
    weight_w = in_t.fraction - unit.table_bits
    table_w = table_t.width
    n_w = in_t.integer + 1
    out_w = out_t.width
    shifted = ("power_shifted" if out_w == table_w else
               f"{{{out_w - table_w}'d0, power_shifted}}" if out_w > table_w else
               f"power_shifted[{out_w - 1}:0]")
    context = {
        "name": "exp_unit", "entries": len(unit.table), "table_bits": unit.table_bits,
        "table": _raw(unit.table), "in_t": in_t.c_type(), "out_t": out_t.c_type(),
        "table_t": table_t.c_type(), "in_w": in_t.width, "in_f": in_t.fraction,
        "out_w": out_w, "table_w": table_w, "n_w": n_w, "weight_w": weight_w,
        "log2e": _raw(log2e)[0], "log2e_f": log2e_type.fraction,
        "product_w": in_t.width + 1 + log2e_type.width,
        "sum_w": table_w + weight_w + 4, "half": 1 << (weight_w - 1), "shifted": shifted,
    }
    files = {"exp_unit.v": _environment().get_template("exp_unit.v.j2").render(context)}
    return RtlUnit("exp", "exp_unit", files,
                   {"in_type": str(in_t), "out_type": str(out_t),
                    "table_bits": unit.table_bits, "latency": 3, **params})


RTL_UNITS: dict[str, Callable[[dict[str, Any]], RtlUnit]] = {
    "exp": _exp,
}
"""Unit name -> renderer of its Verilog from parameters."""


def rtl_unit(kind: str, params: dict[str, Any]) -> RtlUnit:
    if kind not in RTL_UNITS:
        raise RtlError(f"unknown RTL unit {kind!r}; known: {', '.join(RTL_UNITS)}")
    return RTL_UNITS[kind](params)


def emit_rtl(kind: str, params: dict[str, Any], *, out: Path, force: bool = False
             ) -> dict[str, Any]:
    """Write the unit's Verilog and a ``cascade_rtl.json`` describing it into ``out``."""
    from cascade._output import staged_folder

    unit = rtl_unit(kind, params)
    with staged_folder(out, force=force) as staging:
        for name, text in unit.files.items():
            (staging / name).write_text(text)
        (staging / "cascade_rtl.json").write_text(json.dumps(
            {"unit": unit.kind, "top": unit.top, "params": params,
             "files": sorted(unit.files)}, indent=2, sort_keys=True) + "\n")
    return {"unit": unit.kind, "top": unit.top, "out": str(out),
            "files": sorted([*unit.files, "cascade_rtl.json"]), "params": unit.params}
