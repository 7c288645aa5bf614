"""Every generated unit: lint-clean under verilator -Wall, and its cocotb testbench passes
under Verilator (bit-exact, stalls, mid-stream reset, cycles against the model). The same
path as ``cascade verify-rtl``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hls_templates import emit_rtl, verify_rtl

UNITS: dict[str, tuple[str, dict[str, Any]]] = {
    "exp16": ("exp", {}),
    "exp24": ("exp", {"width": 24, "integer": 8, "table_bits": 5}),
    "reciprocal32": ("reciprocal", {}),
    "reciprocal18": ("reciprocal", {"width": 18, "integer": 10, "out_width": 16,
                                    "table_bits": 4}),
    "gelu32": ("gelu", {}),
    "gelu16": ("gelu", {"width": 16, "integer": 6, "step_bits": 4}),
    "softmax16": ("softmax", {}),
    "softmax24": ("softmax", {"width": 24, "table_bits": 5}),
    "systolic4x4": ("systolic", {"rows": 4, "cols": 4}),
    "systolic8x8": ("systolic", {"rows": 8, "cols": 8, "a": "ap_fixed<8,4>",
                                 "b": "ap_fixed<12,2>"}),
    # at most 16 products: 16 of the largest are exact, the 17th beat is flagged
    "systolic2x5k16": ("systolic", {"rows": 2, "cols": 5, "max_k": 16}),
    # unsigned operands (an unsigned 18-bit b is the exp outputs' type)
    "systolic3x4u": ("systolic", {"rows": 3, "cols": 4, "a": "ap_ufixed<12,4>",
                                  "b": "ap_ufixed<18,1>"}),
    "vector8": ("vector", {"lanes": 8}),
    "vector3": ("vector", {"lanes": 3, "a": "ap_fixed<20,8>", "b": "ap_fixed<10,2>",
                           "y": "ap_fixed<24,12>"}),
    "vector2u": ("vector", {"lanes": 2, "a": "ap_ufixed<16,6>", "b": "ap_ufixed<10,2>",
                            "y": "ap_fixed<32,22>"}),
    # the streaming engine: two full tiles and a ragged one; one key (M = 1); one key a tile
    # and F = 1 (consecutive tiles' V beats a cycle apart: the RNV read-after-write guard);
    # heads 128 wide over 13 tiles (ragged); bound by its exp lanes (M0 + 1 = 17 exps a tile
    # against E = 4 and F = 8 beats)
    "engine_ragged": ("engine", {"p": 2, "m0": 4, "e": 8, "f": 6, "m": 10}),
    "engine_one_key": ("engine", {"p": 1, "m0": 4, "e": 3, "f": 2, "m": 1}),
    "engine_m0_1": ("engine", {"p": 2, "m0": 1, "e": 2, "f": 1, "m": 5}),
    "engine_wide": ("engine", {"p": 2, "m0": 4, "e": 128, "f": 128, "m": 50}),
    "engine_exp_bound": ("engine", {"p": 3, "m0": 16, "e": 4, "f": 8, "m": 70}),
}


@pytest.mark.parametrize("name", list(UNITS))
def test_unit(name: str, tmp_path: Path) -> None:
    kind, params = UNITS[name]
    emit_rtl(kind, params, out=tmp_path / name)
    result = verify_rtl(tmp_path / name)
    assert result["lint"] == "clean" and result["tests"] >= 1
