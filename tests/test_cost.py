"""The spatial-array cost model against the FuseMax artifact, and its physics."""

from __future__ import annotations

import json
import statistics

import pytest

from cascade import artifact_accounting_j, published
from einsum import CascadeError, load, model
from mapper import evaluate_mapping, study, study_mapping
from sim import MappingError, Report, architecture, evaluate, mapping_from_dict

CONFIGS = {c["name"]: c for c in study("fusemax")["configurations"]}
SEQS = study("fusemax")["sequence_lengths"]
MODELS = study("fusemax")["models"]


def run(config: str, name: str, seq: int, **arch_changes: float) -> Report:
    c = CONFIGS[config]
    preset = model(name)
    return evaluate_mapping(load(c["cascade"]), architecture(c["architecture"], **arch_changes),
                            study_mapping("fusemax", config, model=name, seq_len=seq),
                            preset.shapes(seq),
                            batch=preset.batch, heads=preset.heads).report


def test_bert_1k_on_fusemax_is_the_published_worked_point() -> None:
    r = run("binding", "bert", 1024)
    assert r.cycles == 1_892_352
    assert round(r.utilisation["array2d"], 4) == 0.8896
    assert r.utilisation["array1d"] == pytest.approx(1.0)
    assert r.seconds == pytest.approx(2.013e-3, rel=1e-3)
    assert r.dram_bytes == 402_653_184  # Q, K, V and AV once each


@pytest.mark.parametrize("config", ["binding", "architecture", "unfused"])
def test_latency_matches_the_artifact_at_every_point(config: str) -> None:
    paper = published()
    for name in MODELS:
        for seq in SEQS:
            ours = run(config, name, seq)
            want = paper[config, name, seq]
            # The artifact maps Unfused's QK and AV with Timeloop's randomised mapper, so its
            # tilings at 256K and 1M differ from run to run: the released data is up to 0.21%
            # (XLM 256K) from ours, the run before it (artifact commit 0ede2d6) within 0.03%.
            rel = 2.2e-3 if config == "unfused" and seq >= 262144 else 5e-4
            assert ours.seconds == pytest.approx(want["latency_s"], rel=rel), (name, seq)
            assert ours.utilisation["array2d"] == pytest.approx(want["util_2d"], rel=rel)
            assert ours.utilisation["array1d"] == pytest.approx(want["util_1d"], rel=rel)


def test_flat_is_softmax_bound_until_dram_bounds_it() -> None:
    paper = published()
    for name in MODELS:
        for seq in SEQS:
            ours = run("flat", name, seq)
            want = paper["flat", name, seq]
            # Up to 64K the 1D softmax array bounds FLAT; from 256K QK and A go through DRAM
            # and DRAM bounds it, exactly as published.
            assert ours.seconds == pytest.approx(want["latency_s"], rel=1e-6), (name, seq)
            for unit in ("util_2d", "util_1d"):
                assert ours.utilisation["array" + unit[-2:]] == pytest.approx(want[unit],
                                                                              abs=1e-6)


@pytest.mark.parametrize(("name", "util"), [("bert", 0.125), ("trxl", 0.125), ("t5", 0.125),
                                            ("xlm", 0.25)])
def test_flat_2d_utilisation(name: str, util: float) -> None:
    for seq in (1024, 16384, 65536):
        assert run("flat", name, seq).utilisation["array2d"] == pytest.approx(util)


def test_mean_speedup_over_flat_is_within_5_percent_of_published() -> None:
    ratios = [run("flat", n, s).seconds / run("binding", n, s).seconds
              for n in MODELS for s in SEQS]
    assert statistics.fmean(ratios) == pytest.approx(6.7, rel=0.05)


def test_mean_energy_over_flat_is_within_5_percent_of_published() -> None:
    # The published 0.79 charges each array's register files once (the artifact's
    # per-instance counts); with every PE's register file counted FuseMax gains more,
    # since FLAT's PEs read two operands from theirs at every MAC.
    def counted(config: str, name: str, seq: int) -> float:
        arch = architecture(CONFIGS[config]["architecture"])
        return artifact_accounting_j(run(config, name, seq), arch)

    ratios = [counted("binding", n, s) / counted("flat", n, s) for n in MODELS for s in SEQS]
    assert statistics.fmean(ratios) == pytest.approx(0.79, rel=0.05)
    physical = [run("binding", n, s).energy_j / run("flat", n, s).energy_j
                for n in MODELS for s in SEQS]
    assert statistics.fmean(physical) == pytest.approx(0.692, abs=0.001)


def test_register_file_dataflow_costs_two_reads_per_mac() -> None:
    systolic = study_mapping("fusemax", "flat").to_dict()
    for binding in systolic["bindings"].values():
        binding.pop("operands", None)
    ours = run("flat", "bert", 1024)
    neighbours = evaluate(load("three_pass"), architecture("flat"), mapping_from_dict(systolic),
                          model("bert").shapes(1024), batch=64, heads=12)
    macs = ours.energy_pj["array2d.mac"] / 17.1645
    rf = architecture("flat").units["array2d"].register_file
    extra = ours.energy_pj["array2d.rf"] - neighbours.energy_pj["array2d.rf"]
    assert extra == pytest.approx(2 * macs * rf.read_pj)
    assert ours.cycles == neighbours.cycles


def test_golden_energy_and_traffic() -> None:
    # Our own numbers, so that any change to the energy model is seen and explained.
    r = run("binding", "bert", 1024)
    assert r.energy_j == pytest.approx(2.1539688, rel=1e-6)
    # Global-buffer rows against the artifact's Timeloop run of this point (L3 scalar
    # accesses / 256): writes 1,400,832 exactly, reads 3,369,984 (ours 1.1% more)
    assert r.accesses["global_buffer.row_writes"] == 1_400_832
    assert r.accesses["global_buffer.row_reads"] == 3_406_848
    f = run("flat", "bert", 65536)
    # FLAT keeps 256 whole rows of QK (32 MiB) and writes SN over them: what A's 256 x 256
    # hand-over tile, AV, GM and SD take (82,432 words) spills, of QK and then of SN, each
    # out once and back once.
    share = (65536 + 16896) / (256 * 65536)
    assert f.spilled == {"QK": pytest.approx(share, rel=1e-12), "SN": pytest.approx(share)}
    instance = 2 * 64 * 12  # bytes per word x batch x heads
    for tensor in ("QK", "SN"):
        assert f.dram_bytes_by_tensor[tensor] == pytest.approx(2 * share * 65536**2 * instance)
    # From 256K FLAT's QK and A go through DRAM (written and read once each) and the array
    # streams K and V from DRAM once per 1,024 query rows, Q and AV once: the artifact's
    # traffic to the byte.
    f = run("flat", "bert", 262144)
    instance = 2 * 64 * 12  # bytes per word x batch x heads
    assert f.spilled == {}
    assert f.dram_bytes_by_tensor["QK"] == f.dram_bytes_by_tensor["A"] == 2 * 262144**2 * instance
    assert f.dram_bytes_by_tensor["K"] == 262144 // 1024 * 64 * 262144 * instance
    assert f.dram_bytes == 435_458_144_206_848


# ----- physics: parameters move results the way they should


def test_smaller_array_is_slower_and_smaller() -> None:
    big, small = run("binding", "bert", 4096), run("binding", "bert", 4096, array=128)
    arch = architecture("fusemax")
    assert small.area_mm2 == pytest.approx(arch.units["array2d"].area_mm2 / 4
                                           + arch.units["array1d"].area_mm2 / 2)
    # A quarter of the 2D PEs and half the 1D PEs: the 2D array becomes the bottleneck.
    assert small.utilisation["array2d"] == pytest.approx(1.0, rel=0.01)
    assert small.cycles == pytest.approx(4 * big.unit_cycles["array2d"], rel=0.01)
    assert small.cycles > 3.8 * big.cycles


def test_smaller_buffer_rereads_keys_more_often() -> None:
    big = run("binding", "xlm", 262144)
    small = run("binding", "xlm", 262144, buffer_mib=2)
    assert small.tiles["P"] < big.tiles["P"]
    assert small.dram_bytes_by_tensor["K"] == (big.dram_bytes_by_tensor["K"]
                                               * big.tiles["P"] // small.tiles["P"])
    assert small.cycles == big.cycles  # still compute bound


def test_bandwidth_bounds_a_spilling_flat_but_not_fusemax() -> None:
    flat, flat_slow = run("flat", "bert", 262144), run("flat", "bert", 262144,
                                                      bandwidth_gib_s=200)
    assert flat_slow.seconds == pytest.approx(2 * flat.seconds, rel=1e-6)
    fuse, fuse_slow = run("binding", "bert", 262144), run("binding", "bert", 262144,
                                                         bandwidth_gib_s=200)
    assert fuse_slow.seconds == fuse.seconds


def test_faster_clock_helps_only_compute_bound_designs() -> None:
    fuse, fuse_fast = run("binding", "bert", 4096), run("binding", "bert", 4096, clock_mhz=1880)
    assert fuse_fast.seconds == pytest.approx(fuse.seconds / 2)
    flat, flat_fast = run("flat", "bert", 262144), run("flat", "bert", 262144, clock_mhz=1880)
    assert flat_fast.seconds == pytest.approx(flat.seconds, rel=1e-6)


# ----- mappings are data; bad mappings are refused with a reason


def test_mapping_round_trips_through_json() -> None:
    for config in CONFIGS:
        m = study_mapping("fusemax", config)
        assert mapping_from_dict(json.loads(json.dumps(m.to_dict()))) == m


def _with(config: str, **changes: object) -> dict[str, object]:
    data = study_mapping("fusemax", config).to_dict()
    data.update(changes)
    return data


def test_unsupported_operator_is_refused() -> None:
    data = _with("binding")
    bindings = data["bindings"]
    assert isinstance(bindings, dict)
    with pytest.raises(MappingError, match=r"^mapping binding: LM needs max but flat's "
                                           r"array2d cannot compute it \(it has mac\)$"):
        evaluate(load("fusemax"), architecture("flat"), mapping_from_dict(data),
                 model("bert").shapes(1024))


def test_over_capacity_mapping_is_invalid_with_the_reason() -> None:
    data = _with("binding", tiles={"P": 1048576})
    with pytest.raises(MappingError) as caught:
        evaluate(load("fusemax"), architecture("fusemax"), mapping_from_dict(data),
                 model("bert").shapes(1048576))
    assert str(caught.value).startswith(
        "mapping binding needs 272,695,296 B of global buffer (Q 134,217,728 B, K 32,768 B, ")
    assert str(caught.value).endswith("but fusemax has 16,777,216 B")


def test_missing_binding_and_unknown_unit() -> None:
    data = _with("binding")
    bindings = dict(data["bindings"])  # type: ignore[call-overload]
    del bindings["AV"]
    with pytest.raises(MappingError, match=r"^mapping binding does not say where AV runs$"):
        evaluate(load("fusemax"), architecture("fusemax"),
                 mapping_from_dict({**data, "bindings": bindings}), model("bert").shapes(1024))
    bindings["AV"] = {"unit": "gpu", "spatial": ["P"]}
    with pytest.raises(MappingError, match=r"^mapping binding: fusemax has no unit 'gpu'"):
        evaluate(load("fusemax"), architecture("fusemax"),
                 mapping_from_dict({**data, "bindings": bindings}), model("bert").shapes(1024))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"placement": {"Q": "disk"}},
         "mapping binding: placement of Q must be one of dram, staged, spill, buffer, not 'disk'"),
        ({"memory": "sometimes"},
         "mapping binding: memory must be one of overlapped, per_stage, concurrent, "
         "not 'sometimes'"),
        ({"tiles": {"P": -3}},
         "mapping binding: tile of P must be a positive whole number or 'auto', not -3"),
        ({"colour": "red"}, "mapping binding: unknown field(s) colour"),
        ({"bindings": {"QK": {"unit": "array2d", "spatial": ["M0"], "operands": "magic"}}},
         "operands must be one of neighbours, register_file, not 'magic'"),
    ],
)
def test_mapping_validation(change: dict[str, object], message: str) -> None:
    with pytest.raises(CascadeError) as caught:
        mapping_from_dict(_with("binding", **change))
    assert str(caught.value) == message


def test_architecture_validation() -> None:
    with pytest.raises(CascadeError, match=r"^array must be a positive whole number \(at most "
                                           r"2\*\*50\), not 0$"):
        architecture("fusemax", array=0)
    with pytest.raises(CascadeError, match=r"^unknown architecture 'tpu'; known: edge-moe, "
                                           r"flat, fusemax, tpu-v4i, u250, u50, unfused, zcu102$"):
        architecture("tpu")


def test_energy_is_actions_times_energy_per_action() -> None:
    r = run("binding", "bert", 4096)
    arch = architecture("fusemax")
    assert r.accesses["dram"] == r.dram_bytes / 8
    assert r.energy_pj["dram"] == pytest.approx(r.accesses["dram"] * 249.6)
    gb = arch.global_buffer
    assert r.energy_pj["global_buffer"] == pytest.approx(
        r.accesses["global_buffer.row_reads"] * gb.read_pj_per_row
        + r.accesses["global_buffer.row_writes"] * gb.write_pj_per_row)
    rf = arch.units["array1d"].register_file
    assert r.energy_pj["array1d.rf"] == pytest.approx(
        r.accesses["array1d.rf.reads"] * rf.read_pj + r.accesses["array1d.rf.writes"] * rf.write_pj)
    assert r.accesses["array2d.rf.reads"] == 0  # systolic: operands come from neighbours


def test_concurrent_stages_choose_their_own_auto_tiles() -> None:
    # FLAT's long-sequence mapping with its tiles left to the chooser: each stage gets its
    # own, and DRAM still bounds the latency.
    data = study_mapping("fusemax", "flat", model="bert", seq_len=262144).to_dict()
    for stage in data["stages"]:
        stage["tiles"] = dict.fromkeys(stage["tiles"], "auto")
    preset = model("bert")
    chosen = evaluate_mapping(load("three_pass"), architecture("flat"), mapping_from_dict(data),
                              preset.shapes(262144), batch=preset.batch, heads=preset.heads)
    assert all(stage.tiles is not None and "auto" not in stage.tiles.values()
               for stage in chosen.mapping.stages)
    again = evaluate(load("three_pass"), architecture("flat"), chosen.mapping,
                     preset.shapes(262144), batch=preset.batch, heads=preset.heads)
    assert again.cycles == chosen.report.cycles == again.dram_cycles
