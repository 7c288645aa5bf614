"""Every generated unit: lint-clean under verilator -Wall, and its cocotb testbench passes
under Verilator (bit-exact, stalls, mid-stream reset, cycles against the model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hls_templates._rtl import bench_config, emit_rtl, rtl_unit
from hls_templates._verilator import lint, run_testbench

STREAMING = {
    "exp16": ("exp", {}),
    "exp24": ("exp", {"width": 24, "integer": 8, "table_bits": 5}),
    "reciprocal32": ("reciprocal", {}),
    "reciprocal18": ("reciprocal", {"width": 18, "integer": 10, "out_width": 16,
                                    "table_bits": 4}),
    "gelu32": ("gelu", {}),
    "gelu16": ("gelu", {"width": 16, "integer": 6, "step_bits": 4}),
}


@pytest.mark.parametrize("name", list(STREAMING))
def test_streaming_unit(name: str, tmp_path: Path) -> None:
    kind, params = STREAMING[name]
    emit_rtl(kind, params, out=tmp_path / name)
    unit = rtl_unit(kind, params)
    assert lint(tmp_path / name, unit.top) == []
    run_testbench(unit, tmp_path / name, "tb_units", config=bench_config(kind, params))


@pytest.mark.parametrize("params", [{}, {"width": 24, "table_bits": 5}])
def test_softmax_unit(params: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "softmax"
    emit_rtl("softmax", params, out=out)
    unit = rtl_unit("softmax", params)
    assert lint(out, unit.top) == []
    run_testbench(unit, out, "tb_softmax", config=bench_config("softmax", params))


@pytest.mark.parametrize(("kind", "params"), [
    ("systolic", {"rows": 4, "cols": 4}),
    ("systolic", {"rows": 8, "cols": 8, "a": "ap_fixed<8,4>", "b": "ap_fixed<12,2>"}),
    ("systolic", {"rows": 2, "cols": 5}),
    ("vector", {"lanes": 8}),
    ("vector", {"lanes": 3, "a": "ap_fixed<20,8>", "b": "ap_fixed<10,2>",
                "y": "ap_fixed<24,12>"}),
])
def test_array(kind: str, params: dict[str, object], tmp_path: Path) -> None:
    out = tmp_path / kind
    emit_rtl(kind, params, out=out)
    unit = rtl_unit(kind, params)
    assert lint(out, unit.top) == []
    run_testbench(unit, out, "tb_arrays", config=bench_config(kind, params))


@pytest.mark.parametrize("params", [
    {"p": 4, "m0": 4, "e": 4, "f": 4, "m": 10},   # two full tiles and a ragged one
    {"p": 8, "m0": 8, "e": 4, "f": 4, "m": 16},
])
def test_attention_engine(params: dict[str, int], tmp_path: Path) -> None:
    out = tmp_path / "engine"
    emit_rtl("engine", params, out=out)
    unit = rtl_unit("engine", params)
    assert lint(out, unit.top) == []
    run_testbench(unit, out, "tb_engine", config=bench_config("engine", params))
