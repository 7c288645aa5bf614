"""Yosys synth_xilinx (UltraScale+) of the generated RTL against the FPGA resource model:
the per-PE LUT and FF of each zcu102 unit are calibrated on one configuration and the
remaining error is measured on others. DSPs are compared directly (the model tiles
multipliers on DSP48E2's 27 x 18).

Usage: python benchmarks/bench_rtl_resources.py [OUT.json]
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

from _report import emit

from hls_templates import emit_rtl, synthesize
from sim import Unit, architecture, table_luts, unit_resources

# zcu102 unit -> (RTL unit, calibration parameters, held-out parameters, PEs of each)
CASES: dict[str, tuple[str, dict[str, Any], list[dict[str, Any]]]] = {
    "linear": ("systolic", {"rows": 4, "cols": 4, "a": "ap_fixed<32,10>",
                            "b": "ap_fixed<16,4>"},
               [{"rows": 8, "cols": 8, "a": "ap_fixed<32,10>", "b": "ap_fixed<16,4>"},
                {"rows": 2, "cols": 6, "a": "ap_fixed<32,10>", "b": "ap_fixed<16,4>"}]),
    "attention": ("systolic", {"rows": 4, "cols": 4, "a": "ap_fixed<32,10>",
                               "b": "ap_fixed<32,10>"},
                  [{"rows": 4, "cols": 8, "a": "ap_fixed<32,10>", "b": "ap_fixed<32,10>"}]),
    "softmax": ("softmax", {"width": 32}, [{"width": 24}]),
    "gelu": ("gelu", {}, [{"width": 24, "integer": 8}]),
    "vector": ("vector", {"lanes": 8, "a": "ap_fixed<32,10>", "b": "ap_fixed<32,10>",
                          "y": "ap_fixed<32,10>"},
               [{"lanes": 16, "a": "ap_fixed<32,10>", "b": "ap_fixed<32,10>",
                 "y": "ap_fixed<32,10>"}]),
}


def _pes(kind: str, params: dict[str, Any]) -> int:
    if kind == "systolic":
        return int(params["rows"]) * int(params["cols"])
    return int(params.get("lanes", 1))


def _synth(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp()) / kind
    summary = emit_rtl(kind, params, out=folder)
    return synthesize(folder, summary["top"]).to_json()


def _shaped(unit: Unit, pes: int) -> Unit:
    shape = (pes,) if len(unit.shape) == 1 else (1, pes)
    return dataclasses.replace(unit, shape=shape)


def main() -> None:
    arch = architecture("zcu102")
    start = time.perf_counter()
    units = {}
    for name, (kind, calibration, held_out) in CASES.items():
        preset = arch.units[name]
        assert preset.fpga is not None
        measured = _synth(kind, calibration)
        pes = _pes(kind, calibration)
        # solve the model for the per-PE numbers (its table LUTs are part of the LUT count)
        tables = table_luts(_shaped(preset, pes))
        calibrated = {"lut_per_pe": max(0, round((measured["lut"] - tables) / pes)),
                      "ff_per_pe": round(measured["ff"] / pes),
                      "dsp_per_pe": round(measured["dsp"] / pes)}
        model = dataclasses.replace(preset, fpga=dataclasses.replace(preset.fpga, **calibrated))
        checks = []
        for params in held_out:
            got = _synth(kind, params)
            n = _pes(kind, params)
            predicted = unit_resources(_shaped(model, n))
            checks.append({
                "params": params, "pes": n, "synth": got,
                "model": {"lut": predicted.lut, "ff": predicted.ff, "dsp": predicted.dsp},
                "lut_error": round(predicted.lut / got["lut"] - 1, 3),
                "ff_error": round(predicted.ff / got["ff"] - 1, 3),
                "dsp_error": round(predicted.dsp / got["dsp"] - 1, 3) if got["dsp"] else None})
        before = unit_resources(_shaped(preset, pes))
        units[name] = {"rtl": kind, "calibration": {"params": calibration, "pes": pes,
                                                    "synth": measured},
                       "model_before": {"lut": before.lut, "ff": before.ff,
                                        "dsp": before.dsp},
                       "preset_before": {"lut_per_pe": preset.fpga.lut_per_pe,
                                         "ff_per_pe": preset.fpga.ff_per_pe},
                       "calibrated": calibrated, "held_out": checks}
    emit({"benchmark": "rtl_resources", "tool": "yosys synth_xilinx -family xcup",
          "seconds": round(time.perf_counter() - start, 1), "units": units})


if __name__ == "__main__":
    main()
