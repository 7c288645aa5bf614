"""A memory hierarchy as data: on-chip levels below the global buffer, per-level tiles in
the mapping, occupancy refused per level, traffic and link cycles per level, cores that
split the instances, and the TPU-v4i-like preset."""

from __future__ import annotations

import dataclasses
import json

import pytest

from cascade import main
from einsum import CascadeError, load, model
from mapper import resolve_tiles, search, search_workload
from sim import (
    Architecture,
    Level,
    LevelTiling,
    MappingError,
    architecture,
    architecture_yaml,
    evaluate_workload,
    load_architecture,
    load_mapping,
    mapping_yaml,
    workload,
)

BERT_4K = model("bert").shapes(4096)
GPT3_4K = {"E": 128, "F": 128, "M": 4096, "P": 4096}
"""GPT-3 6.7B-like heads: E = F = 128, 32 heads."""


def _one_level(arch: Architecture, mib: float) -> Architecture:
    """``arch`` with no level below a global buffer of ``mib`` MiB (the same cores)."""
    return dataclasses.replace(arch, name=f"{arch.name}-one-level", levels={},
                               global_buffer=dataclasses.replace(
                                   arch.global_buffer, capacity_bytes=int(mib * 2**20)))


def test_the_preset_reads_back_equal_from_what_show_arch_prints(
        capsys: pytest.CaptureFixture[str], tmp_path: pytest.TempPathFactory) -> None:
    arch = architecture("tpu-v4i")
    assert arch.cores == 4 and list(arch.levels) == ["local_buffer"]
    assert arch.hierarchy == ("dram", "global_buffer", "local_buffer")
    assert arch.units["array2d"].shape == (128, 128) and arch.clock_mhz == 1050
    assert arch.global_buffer.capacity_bytes == 128 * 2**20
    assert arch.levels["local_buffer"].capacity_bytes == 4 * 2**20
    assert arch.dram.bandwidth_bytes_per_s == 614e9
    assert main(["show", "arch", "tpu-v4i"]) == 0
    file = tmp_path / "tpu.yaml"  # type: ignore[operator]
    file.write_text(capsys.readouterr().out)
    assert load_architecture(file) == arch
    assert "levels:" in architecture_yaml(arch) and "cores: 4" in architecture_yaml(arch)


@pytest.mark.parametrize(("shapes", "batch", "heads"), [(BERT_4K, 64, 12), (GPT3_4K, 1, 32)])
def test_a_4k_three_pass_layer_keeps_its_scores_in_the_shared_buffer(
        shapes: dict[str, int], batch: int, heads: int) -> None:
    arch = architecture("tpu-v4i")
    found = search(load("three_pass"), arch, shapes, batch=batch, heads=heads)
    r = found.report
    shared = r.levels["global_buffer"]
    # The scores and their exponentials live in the 128 MiB shared buffer, none in DRAM.
    assert {"QK", "SN"} <= set(shared["bytes_by_tensor"])
    assert not any(shared["spilled"].values())
    assert not any(r.spilled.values())
    assert not any(r.dram_bytes_by_tensor.get(t, 0) for t in ("QK", "SN", "GM", "SD"))
    # Occupancy and traffic per level, within each level's share, in the report's JSON.
    local = r.levels["local_buffer"]
    assert local["occupancy_bytes"] <= local["share_bytes"] == 4 * 2**20
    assert shared["occupancy_bytes"] <= shared["share_bytes"] == 32 * 2**20
    assert "QK" not in local["bytes_by_tensor"]  # the local buffer holds no intermediates
    assert local["bytes_in"] > 0 and r.accesses["local_buffer.row_writes"] > 0
    assert r.energy_pj["local_buffer"] > 0
    assert r.cycles >= max(r.compute_cycles, r.dram_cycles, local["link_cycles"])
    assert json.loads(json.dumps(r.to_json()))["levels"]["local_buffer"] == local
    # The same on one level of only 4 MiB spills the scores to DRAM.
    small = search(load("three_pass"), _one_level(arch, 4), shapes, batch=batch, heads=heads)
    assert any(v > 0 for v in small.report.spilled.values())
    assert any(small.report.dram_bytes_by_tensor.get(t, 0) for t in ("QK", "SN", "GM", "SD"))
    assert small.report.dram_bytes > r.dram_bytes


def test_map_json_prints_every_level(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "three_pass", "--arch", "tpu-v4i", "--model", "bert", "--seq", "4k",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    levels = data["report"]["levels"]
    assert list(levels) == ["global_buffer", "local_buffer"]
    assert levels["global_buffer"]["spilled"] and not any(
        levels["global_buffer"]["spilled"].values())
    assert set(data["mapping"]["levels"]) == {"local_buffer"}


def _w(name: str = "fusemax", seq: int = 1024) -> object:
    return workload(load(name), model("bert").shapes(seq), batch=2, heads=2)


def test_a_level_that_holds_everything_without_limits_changes_no_cycle() -> None:
    """The one-level special case: a level below the global buffer as large, with no
    bandwidth, taking its tiling, leaves the latency and DRAM traffic as they were."""
    w = _w()
    base = architecture("fusemax")
    found = search_workload(w, base)
    roomy = dataclasses.replace(base, levels={"local": Level(
        capacity_bytes=base.global_buffer.capacity_bytes)})
    again = evaluate_workload(w, roomy, found.mapping)
    assert (again.cycles, again.dram_bytes) == (found.report.cycles, found.report.dram_bytes)
    assert again.levels["local"]["bytes_in"] == found.report.dram_bytes


def test_mapping_levels_round_trip(tmp_path: pytest.TempPathFactory) -> None:
    w = _w()
    arch = architecture("tpu-v4i")
    found = search_workload(w, arch)
    assert set(found.mapping.levels) == {"local_buffer"}
    file = tmp_path / "m.yaml"  # type: ignore[operator]
    file.write_text(mapping_yaml(found.mapping))
    back = load_mapping(file)
    assert back == found.mapping
    assert evaluate_workload(w, arch, back).cycles == found.report.cycles


def test_a_level_over_its_capacity_is_refused_with_the_numbers() -> None:
    w = _w("three_pass", 4096)
    arch = architecture("tpu-v4i")
    found = search_workload(w, arch)
    tiling = found.mapping.levels["local_buffer"]
    tiny = dataclasses.replace(arch, levels={"local_buffer": dataclasses.replace(
        arch.levels["local_buffer"], capacity_bytes=4096)})
    with pytest.raises(MappingError, match=r"needs [\d,]+ B of local_buffer \(Q [\d,]+ B.*"
                                           r"but tpu-v4i has 4,096 B \(per core\)"):
        evaluate_workload(w, tiny, found.mapping)
    # A level's tile may not exceed the tile above it.
    wide = dataclasses.replace(found.mapping, levels={"local_buffer": LevelTiling(
        tiling.loops, {r: 2 * t for r, t in tiling.tiles.items()})})
    with pytest.raises(MappingError, match="may not exceed the tiles of the level above"):
        evaluate_workload(w, arch, wide)
    with pytest.raises(MappingError, match="does not have"):
        evaluate_workload(w, architecture("fusemax"), found.mapping)


def test_the_tile_chooser_puts_the_biggest_tile_where_it_fits() -> None:
    """Per level, outer to inner: the shared buffer takes the tile that spares DRAM the
    most; a small local buffer a smaller one within it."""
    w = _w("fusemax", 4096)
    arch = architecture("tpu-v4i")
    small = dataclasses.replace(arch, levels={"local_buffer": dataclasses.replace(
        arch.levels["local_buffer"], capacity_bytes=256 * 1024)})
    found = search_workload(w, small)
    outer = found.mapping.tiles
    inner = found.mapping.levels["local_buffer"].tiles
    assert all(inner[r] <= outer.get(r, w.sizes[r]) for r in inner)
    assert inner != outer
    r = found.report
    assert r.levels["local_buffer"]["occupancy_bytes"] <= 256 * 1024
    assert r.levels["local_buffer"]["bytes_in"] > r.levels["global_buffer"]["bytes_in"]
    chosen = resolve_tiles(w, small, dataclasses.replace(found.mapping, levels={
        "local_buffer": LevelTiling(found.mapping.dram_loops,
                                    dict.fromkeys(inner, "auto"))}))
    assert chosen.levels["local_buffer"].tiles == inner


def test_a_slow_link_sets_the_latency() -> None:
    w = _w()
    arch = architecture("tpu-v4i")
    found = search_workload(w, arch)
    slow = dataclasses.replace(arch, levels={"local_buffer": dataclasses.replace(
        arch.levels["local_buffer"], bandwidth_bytes_per_cycle=0.01)})
    r = evaluate_workload(w, slow, found.mapping)
    assert r.cycles == r.levels["local_buffer"]["link_cycles"] > found.report.cycles


def test_cores_split_the_instances() -> None:
    w = workload(load("fusemax"), model("bert").shapes(1024), batch=1, heads=8)
    one = dataclasses.replace(architecture("tpu-v4i"), cores=1)
    four = architecture("tpu-v4i")
    found = search_workload(w, one)
    a = evaluate_workload(w, one, found.mapping)
    b = evaluate_workload(w, four, found.mapping)
    assert b.compute_cycles * 4 == pytest.approx(a.compute_cycles, rel=0.01)
    assert b.dram_bytes == a.dram_bytes


@pytest.mark.parametrize(("text", "message"), [
    ("levels:\n  local: {capacity_bytes: 1024, holds: [weights]}\n",
     "3: level holds must name inputs, state, intermediates, outputs, not 'weights'"),
    ("levels:\n  local: {capacity_bytes: -1}\n",
     "3: level capacity_bytes must be a positive whole number"),
    ("levels:\n  local: {size: 1}\n", "3: unknown field 'size' in levels.local"),
    ("cores: 0\n", "2: cores must be a positive whole number"),
])
def test_bad_levels_are_refused_at_their_line(tmp_path: pytest.TempPathFactory, text: str,
                                              message: str) -> None:
    file = tmp_path / "a.yaml"  # type: ignore[operator]
    file.write_text("like: fusemax\n" + text)
    with pytest.raises(CascadeError) as caught:
        load_architecture(file)
    assert str(caught.value).startswith(f"{file}:{message}")
