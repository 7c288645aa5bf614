"""FPGA devices, the resource model, the Edge-MoE ViT on the ZCU102 and the parallelism DSE."""

from __future__ import annotations

import json

import pytest

from cascade import main
from mapper import dse, map_network, pareto
from sim import architecture, bram36_for_table, design_resources, dsp_per_multiplier, fpga_device


def test_devices() -> None:
    zcu102 = fpga_device("zcu102")
    assert (zcu102.part, zcu102.dsp, zcu102.bram36, zcu102.uram, zcu102.lut, zcu102.ff,
            zcu102.clock_mhz) == ("xczu9eg-ffvb1156-2-e", 2520, 912, 0, 274080, 548160, 300)
    assert fpga_device("u50").uram == 640 and fpga_device("u250").dsp == 12288


@pytest.mark.parametrize(("a", "b", "dsp"), [(16, 16, 1), (27, 18, 1), (32, 16, 2), (18, 27, 1),
                                             (32, 32, 4), (48, 24, 3)])
def test_dsp_per_multiplier(a: int, b: int, dsp: int) -> None:
    assert dsp_per_multiplier(a, b) == dsp


@pytest.mark.parametrize(("entries", "bits", "blocks"), [(64, 25, 0), (65, 33, 1), (177, 22, 1),
                                                         (1024, 36, 1), (1024, 72, 2),
                                                         (4096, 18, 2)])
def test_bram_for_tables(entries: int, bits: int, blocks: int) -> None:
    assert bram36_for_table(entries, bits) == blocks


def test_zcu102_design_resources() -> None:
    r = design_resources(architecture("zcu102"))
    assert r.units["linear"].dsp == 16 * 16 * 2          # 32 x 16 multipliers
    assert r.units["gelu"].bram36 == 8                    # 177 x 22 table, 2 lanes per copy
    assert r.buffer.bram36 == 2 * 1024 * 1024 * 8 // (36 * 1024) + 1
    assert r.fits and 0 < r.utilisation["dsp"] < 1


def test_vit_edge_moe_on_zcu102_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "vit-edge-moe", "--arch", "zcu102", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    latency = data["latency"]
    assert latency["seconds_per_image"] == pytest.approx(latency["cycles_per_image"] / 300e6)
    assert sum(b["cycles_total"] for b in data["blocks"]) == latency["cycles_per_image"]
    assert set(data["units"]) == {"linear", "attention", "softmax", "gelu", "vector"}
    assert all(0 <= u["utilisation"] <= 1 for u in data["units"].values())
    assert data["resources"]["fits"] is True
    assert set(data["resources"]["utilisation"]) == {"dsp", "bram36", "lut", "ff"}
    assert data["device"]["part"] == "xczu9eg-ffvb1156-2-e"


def test_bigger_linear_unit_is_faster_and_costs_dsps() -> None:
    base = architecture("zcu102")
    small = base.with_units({"linear": (8, 8)})
    assert (map_network("vit-edge-moe", small)["latency"]["cycles_per_image"]
            > map_network("vit-edge-moe", base)["latency"]["cycles_per_image"])
    assert design_resources(small).total.dsp < design_resources(base).total.dsp


def test_a_design_too_big_for_the_device_does_not_fit() -> None:
    huge = architecture("zcu102").with_units({"linear": (48, 48)})
    assert not design_resources(huge).fits
    assert design_resources(huge).utilisation["dsp"] > 1


def test_dse_front_fits_and_trades_dsps_for_latency() -> None:
    result = dse("vit-edge-moe", architecture("zcu102"), linear=(4, 16, 48), queries=(1, 4),
                 lanes=(16,))
    front = result["pareto"]
    assert front and all(p["fits"] for p in front)
    assert [p["dsp"] for p in front] == sorted(p["dsp"] for p in front)
    assert [p["cycles_per_image"] for p in front] == sorted(
        (p["cycles_per_image"] for p in front), reverse=True)
    assert any(not p["fits"] for p in result["points"])   # 48 x 48 MACs exceed 2,520 DSPs


def test_pareto() -> None:
    points = [{"x": 1, "y": 5}, {"x": 2, "y": 6}, {"x": 3, "y": 2}, {"x": 3, "y": 1}]
    assert pareto(points, "x", "y") == [{"x": 1, "y": 5}, {"x": 3, "y": 1}]
