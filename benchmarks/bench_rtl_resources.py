"""Yosys synth_xilinx (UltraScale+) of the generated RTL against the FPGA resource model.

Per zcu102 unit, a PE's LUTs and flip-flops are fitted from synthesis at several widths as
``per_pe + per_bit * bits`` (bits: a lane's word width, or an array PE's two operand widths
summed), LUTs plus ``per_product_bit * (DSPs - 1) * (a + b)`` for a PE whose one ``a x b``
multiplier spans several DSP48E2 (the adders joining its partial products: fitted on the
systolic arrays, whose operand widths vary, and shared by the vector lanes). Each fit is
checked on held-out widths and shapes, next to the error of the single per-PE constant it
replaces. DSPs are compared with the model's multiplier tiling. The streaming engine is
synthesised at M = 256 and M = 4,096 keys (its flip-flops must not grow with M) at the
default size and a small one.

Usage: python benchmarks/bench_rtl_resources.py [OUT.json]
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from _report import emit

from hls_templates import emit_rtl, engine_sizes, synthesize
from sim import Unit, architecture, dsp_per_multiplier, table_luts, unit_resources


def _array(a: int, b: int, rows: int = 4, cols: int = 4) -> tuple[dict[str, Any], int,
                                                                  tuple[int, int]]:
    return ({"rows": rows, "cols": cols, "a": f"ap_fixed<{a},{a // 3}>",
             "b": f"ap_fixed<{b},{b // 4}>"}, a + b, (a, b))


def _vector(width: int, lanes: int = 8) -> tuple[dict[str, Any], int, tuple[int, int]]:
    t = f"ap_fixed<{width},{width // 3}>"
    return {"lanes": lanes, "a": t, "b": t, "y": t}, width, (width, width)


def _lane(params: dict[str, Any], width: int) -> tuple[dict[str, Any], int, None]:
    return params, width, None


# RTL unit -> (zcu102 units it calibrates, fitted points, held-out points, product term:
# "fit" (fitted here), "shared" (the arrays'), None); a point is (params, bits, multiplier)
FITS: dict[str, tuple[tuple[str, ...], list[Any], list[Any], str | None]] = {
    "systolic": (("linear", "attention"),
                 [_array(16, 16), _array(32, 16), _array(32, 32)],
                 [_array(8, 8), _array(24, 16), _array(32, 24), _array(32, 16, 8, 8),
                  _array(32, 16, 2, 6), _array(32, 32, 4, 8)], "fit"),
    "vector": (("vector",), [_vector(16), _vector(32)], [_vector(24), _vector(32, 16)],
               "shared"),
    "softmax": (("softmax",), [_lane({"width": 16}, 16), _lane({"width": 32}, 32)],
                [_lane({"width": 24}, 24)], None),
    "gelu": (("gelu",), [_lane({"width": 16, "integer": 6}, 16),
                         _lane({"width": 32, "integer": 10}, 32)],
             [_lane({"width": 24, "integer": 8}, 24)], None),
}
"""The attention unit is the same systolic RTL as the linear one (32 x 32 operands)."""

ENGINES = {"default": {}, "small": {"p": 2, "m0": 4}}

CONSTANTS = {"linear": (122, 129), "attention": (225, 167), "softmax": (2118, 506),
             "gelu": (328, 182), "vector": (176, 32)}
"""(LUT, FF) per PE of each zcu102 unit before this calibration: one constant each."""


def _pes(kind: str, params: dict[str, Any]) -> int:
    if kind == "systolic":
        return int(params["rows"]) * int(params["cols"])
    return int(params.get("lanes", 1))


def _synth(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp()) / kind
    summary = emit_rtl(kind, params, out=folder)
    start = time.perf_counter()
    result = synthesize(folder, summary["top"])
    return {**result.to_json(), "seconds": round(time.perf_counter() - start, 1),
            "cells": {k: v for k, v in result.cells.items()
                      if k.startswith(("RAMB", "RAM32", "RAM64", "DSP", "SRL"))}}


def _unit(preset: Unit, kind: str, pes: int, multiplier: tuple[int, int] | None,
          **cost: Any) -> Unit:
    """``preset`` reshaped to ``pes`` PEs (its multiplier ``multiplier``), with ``cost``
    replacing its FPGA numbers; the vector lanes' RTL holds no table."""
    assert preset.fpga is not None
    fpga = dataclasses.replace(preset.fpga, **cost)
    if multiplier is not None:
        fpga = dataclasses.replace(fpga, multiplier_bits=multiplier)
    if kind == "vector":
        fpga = dataclasses.replace(fpga, tables=())
    shape = (pes,) if len(preset.shape) == 1 else (1, pes)
    return dataclasses.replace(preset, shape=shape, fpga=fpga)


def _product_bits(multiplier: tuple[int, int] | None) -> int:
    """Product bits times the DSP48E2 beyond the first: what the partial-product adders
    span."""
    if multiplier is None:
        return 0
    return (dsp_per_multiplier(*multiplier) - 1) * sum(multiplier)


def _error(model: float, got: float) -> float:
    return round(model / got - 1, 3) if got else 0.0


def main() -> None:
    arch = architecture("zcu102")
    start = time.perf_counter()
    units: dict[str, Any] = {}
    product_lut = 0.0
    for kind, (names, fitted, held_out, product) in FITS.items():
        preset = arch.units[names[0]]
        assert preset.fpga is not None
        rows = []
        for params, bits, multiplier in fitted:
            got = _synth(kind, params)
            pes = _pes(kind, params)
            tables = table_luts(_unit(preset, kind, pes, multiplier))
            rows.append({"params": params, "bits": bits, "multiplier": multiplier,
                         "pes": pes, "synth": got, "lut_per_pe": (got["lut"] - tables) / pes,
                         "ff_per_pe": got["ff"] / pes})
        x = np.array([[1.0, r["bits"], _product_bits(r["multiplier"])] for r in rows])
        lut = np.array([r["lut_per_pe"] for r in rows])
        if product == "fit":
            (lut0, lut1, product_lut), *_ = np.linalg.lstsq(x, lut, rcond=None)
        else:
            share = product_lut if product == "shared" else 0.0
            (lut0, lut1), *_ = np.linalg.lstsq(x[:, :2], lut - share * x[:, 2], rcond=None)
        (ff0, ff1), *_ = np.linalg.lstsq(x[:, :2], np.array([r["ff_per_pe"] for r in rows]),
                                         rcond=None)
        calibrated = {"lut_per_pe": round(float(lut0)), "lut_per_bit": round(float(lut1), 2),
                      "ff_per_pe": round(float(ff0)), "ff_per_bit": round(float(ff1), 2),
                      "lut_per_product_bit": round(float(product_lut), 2) if product else 0.0}
        checks = []
        for params, bits, multiplier in held_out:
            got = _synth(kind, params)
            n = _pes(kind, params)
            predicted = unit_resources(_unit(preset, kind, n, multiplier, bits=bits,
                                             **calibrated))
            # the preset before: one constant per PE
            before = "attention" if kind == "systolic" and multiplier == (32, 32) \
                else names[0]
            lut_c, ff_c = CONSTANTS[before]
            constant = unit_resources(_unit(preset, kind, n, multiplier, bits=None,
                                            lut_per_pe=lut_c, ff_per_pe=ff_c,
                                            lut_per_bit=0.0, ff_per_bit=0.0,
                                            lut_per_product_bit=0.0))
            checks.append({
                "params": params, "bits": bits, "multiplier": multiplier, "pes": n,
                "synth": got,
                "model": {"lut": predicted.lut, "ff": predicted.ff, "dsp": predicted.dsp},
                "lut_error": _error(predicted.lut, got["lut"]),
                "ff_error": _error(predicted.ff, got["ff"]),
                "dsp_error": _error(predicted.dsp, got["dsp"]),
                "constant_model": {"lut": constant.lut, "ff": constant.ff,
                                   "lut_error": _error(constant.lut, got["lut"]),
                                   "ff_error": _error(constant.ff, got["ff"])}})
        units[kind] = {"presets": list(names), "fit": rows, "calibrated": calibrated,
                       "held_out": checks,
                       "largest_held_out_error": {
                           key: max(abs(c[f"{key}_error"]) for c in checks)
                           for key in ("lut", "ff")}}
    engines = {}
    for label, extra in ENGINES.items():
        sizes = engine_sizes(extra)
        runs = {m: _synth("engine", {**extra, "m": m}) for m in (256, 4096)}
        engines[label] = {"sizes": {k: v for k, v in sizes.items() if k != "m"},
                          "m256": runs[256], "m4096": runs[4096],
                          "ff_change": round(runs[4096]["ff"] / runs[256]["ff"] - 1, 4)}
    emit({"benchmark": "rtl_resources", "tool": "yosys synth_xilinx -family xcup",
          "seconds": round(time.perf_counter() - start, 1), "units": units,
          "engine": engines})


if __name__ == "__main__":
    main()
