"""Edge-MoE as published: the preset read from its HLS code, the network with its mixture of
experts run expert by expert, the model against the derivation from the code's loop
structure (benchmarks/edge_moe_derivation.py), routing distributions and histogram files,
other boards, and the design-space exploration."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest

from cascade import main
from einsum import CascadeError
from mapper import call_cost, explore, load_explore, map_network, network, routing, sized_design
from sim import Buffer, Port, architecture, buffer_resources, design_resources, fpga_device

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "benchmarks" / "edge_moe_layer1_routing.txt"
EXPERT_WEIGHT_BYTES = 2 * (384 * 192 + 384 + 192 * 384 + 192)   # FC1, FC2 and biases, 16-bit


def _derivation() -> Any:
    spec = importlib.util.spec_from_file_location(
        "edge_moe_derivation", ROOT / "benchmarks" / "edge_moe_derivation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DERIVATION = _derivation()


def _ideal_ports() -> Any:
    """Scenario A of the derivation: every port a 256-bit beat a cycle, DDR feeding all."""
    arch = architecture("edge-moe")
    ports = {n: dataclasses.replace(p, link_bits=p.bits) for n, p in arch.ports.items()}
    dram = dataclasses.replace(arch.dram, bandwidth_bytes_per_s=sum(
        p.bytes_per_cycle for p in ports.values()) * arch.clock_hz)
    return dataclasses.replace(arch, ports=ports, dram=dram)


def _histograms(result: dict[str, Any]) -> dict[int, list[int]]:
    return {layer["layer"]: layer["experts"]["tokens"] for layer in result["layers"]
            if layer["kind"] == "moe"}


# ----- the preset


def test_preset_is_the_published_design() -> None:
    arch = architecture("edge-moe")
    assert arch.device == fpga_device("zcu102") and arch.clock_mhz == 300
    assert (arch.word_bytes, arch.weight_bytes) == (4, 2)
    assert set(arch.ports) == {"inout1", "inout2", "inout3", "inout4", "weights"}
    assert all(p == Port(bits=256, link_bits=128, latency_cycles=64) for p in arch.ports.values())
    shapes = {name: u.shape for name, u in arch.units.items()}
    assert shapes["linear"] == (16, 16) and shapes["gelu"] == (16,)
    assert shapes["qk"] == shapes["av"] == (4, 8) and shapes["softmax"] == (3,)
    assert shapes["vector"] == (8,) and shapes["gate"] == (16, 8)
    assert all(u.pipelined for u in arch.units.values())
    assert arch.units["router"].ops["exp"].cycles == 3          # II=3: src/moe.cpp:207
    assert arch.buffers["weights"] == Buffer(values=147456, bits=16, width=256, copies=2)
    total = sum(b.values * b.bits * b.copies for b in arch.buffers.values())
    assert arch.global_buffer.capacity_bytes * 8 == total == 7_802_880
    assert arch.dram.bandwidth_bytes_per_s == 2 * 1067e6 * 8


_CITED = re.compile(r"[\w/.-]+\.(cpp|hpp|tcl|hwh):\d+|\[est\]|rtl_resources|calibrations")


def test_every_number_in_the_preset_is_cited() -> None:
    """Each line giving a number cites its source: on the line, in the comments right above
    it, or at a parent field (its line, the comments right above it or the comments that
    open its block)."""
    lines = (ROOT / "sim" / "presets" / "edge-moe.yaml").read_text("utf-8").splitlines()
    assert _uncited(lines) == []
    # the check bites: a number without a citation is found
    bad = [line.split("#")[0] if "src/linear.cpp:5,7" in line else line for line in lines]
    stripped = next(b for b, line in zip(bad, lines, strict=True) if b != line)
    assert _uncited([*bad, "extra: 42"]) == [stripped.strip(), "extra: 42"]


def _uncited(lines: list[str]) -> list[str]:
    def depth(text: str) -> int:
        return len(text) - len(text.lstrip())

    def comments(start: int, step: int) -> list[str]:
        found = []
        while 0 <= start < len(lines) and lines[start].lstrip().startswith("#"):
            found.append(lines[start])
            start += step
        return found

    def context(i: int) -> str:
        found = [lines[i], *comments(i - 1, -1)]
        indent = depth(lines[i])
        for k in range(i - 1, -1, -1):
            text = lines[k]
            if text.strip() and not text.lstrip().startswith("#") and depth(text) < indent:
                found += [text, *comments(k - 1, -1), *comments(k + 1, 1)]
                indent = depth(text)
        return "\n".join(found)

    uncited = []
    for i, line in enumerate(lines):
        value = line.split("#", 1)[0]
        if re.search(r":\s*[\[{]?[^#]*\d", value) and not value.startswith(
                ("name", "title", "source")) and not _CITED.search(context(i)):
            uncited.append(line.strip())
    return uncited


def test_resources_of_the_published_design() -> None:
    r = design_resources(architecture("edge-moe"))
    assert r.fits
    assert r.units["linear"].dsp == 256 * 2            # 32 x 16 multipliers
    assert r.units["qk"].dsp == r.units["av"].dsp == 32 * 4
    assert r.buffers["weights"].bram36 == 2 * 114      # 576 words of 4,096 bits, ping and pong
    assert r.buffer == sum((b for b in r.buffers.values()), start=type(r.buffer)())
    assert buffer_resources(Buffer(values=64, bits=16)).lut == 16   # tiny: distributed RAM


# ----- the network on the preset


def test_cli_map_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["map", "vit-edge-moe", "--arch", "edge-moe", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["latency"]["seconds_per_image"] == pytest.approx(
        data["latency"]["cycles_per_image"] / 300e6)
    names = [b["name"] for b in data["blocks"]]
    assert names == [b.name for b in network("vit-edge-moe").blocks]
    assert sum(b["cycles_total"] for b in data["blocks"]) == data["latency"]["cycles_per_image"]
    assert sum(b["dram_bytes"] for b in data["blocks"]) == data["dram_bytes_per_image"]
    assert sum(layer["cycles"] for layer in data["layers"]) + next(
        b["cycles_total"] for b in data["blocks"] if b["name"] == "patch_embed") \
        == data["latency"]["cycles_per_image"]
    assert all(b["mapping"] == "design" for b in data["blocks"])
    assert {layer["bound_by"] for layer in data["layers"]} <= {"compute", "dram", "routing"}
    assert data["resources"]["fits"] and "buffers" in data["resources"]


def test_expert_blocks_carry_every_active_experts_weights() -> None:
    result = map_network("vit-edge-moe", architecture("edge-moe"))
    up = next(b for b in result["blocks"] if b["name"] == "expert_up")
    down = next(b for b in result["blocks"] if b["name"] == "expert_down")
    assert up["count"] == down["count"] == 6 * 16                   # uniform: all 16 active
    # Streams: each token's 192 inputs in, 384 hidden out (FC1), 384 in, 192 read and
    # written back (FC2 scatter-add), 4 bytes each; the tokens are 129 x 2 per layer.
    tokens = 6 * 129 * 2
    assert up["dram_bytes"] == 6 * 16 * 2 * (384 * 192 + 384) + tokens * 4 * (192 + 384)
    assert down["dram_bytes"] == 6 * 16 * 2 * (192 * 384 + 192) + tokens * 4 * (384 + 2 * 192)
    assert up["bound_by"] == down["bound_by"] == "dram"   # loads at 128 bits outweigh 16 tokens
    assert result["moe"]["routing"] == "uniform" and result["moe"]["top_k"] == 2


@pytest.mark.parametrize(("experts", "top_k"), [
    *((e, k) for e in ("uniform", "skewed", "skewed:3") for k in (None, 1, 4)),
    (str(MEASURED), None),  # a histogram file fixes its own top-k
])
def test_every_layer_within_ten_percent_of_the_derivation(experts: str, top_k: int | None
                                                          ) -> None:
    for arch, limited in ((architecture("edge-moe"), True), (_ideal_ports(), False)):
        result = map_network("vit-edge-moe", arch, experts=experts, top_k=top_k)
        derived = DERIVATION.derive(_histograms(result), port_limited=limited)
        comparison = DERIVATION.compare(result, derived)
        for row in comparison["layers"]:
            assert abs(row["error"]) < 0.10, (arch.name, row["layer"], row["error"])
            for name, block in row["blocks"].items():
                # LayerNorm (ports limited) is the loosest: the code waits for 1/sqrt per
                # token, which the model overlaps with the token's streams.
                assert abs(block["error"]) < 0.13, (name, block)
                if name in ("qk", "av", "query", "mlp_up", "mlp_down", "experts"):
                    assert abs(block["error"]) < 0.01, (name, block)
        assert abs(comparison["patch_embed"]["error"]) < 0.10
        assert abs(comparison["image"]["error"]) < 0.02


def test_derivation_counts_the_code_loops() -> None:
    """A few of the derivation's numbers by hand (docs/edge_moe_design.md section 2)."""
    dense = DERIVATION.kernels(None, port_limited=False)
    assert dense["qk"] == 33 * 129 * 24 + 100 == 102_268
    assert dense["query"] == (192 * 12 + 67) + (12 + 67) + 129 * 12 * 12 + 100
    # the note's dense layer, with LayerNorm's output no longer hidden behind the next token
    assert sum(dense.values()) == 491_684 - 2 * 129 * 110 + 2 * 129 * (64 + 24 + 22 + 24)
    moe = DERIVATION.kernels([16] * 16, port_limited=True)
    assert moe["expert_up"] == 16 * ((384 * 12 * 2 + 67) + (24 * 2 + 67) + 288 * 16 + 100)
    assert DERIVATION.patch_embed(port_limited=False) == 77_624


def test_qk_streams_k_once_per_query_group() -> None:
    arch = architecture("edge-moe")
    qk = next(b for b in network("vit-edge-moe").blocks if b.name == "qk")
    call = call_cost(qk, arch, qk.shapes)
    assert call.compute_cycles == 33 * 129 * 24
    assert call.port_bytes["inout3"] == 33 * 129 * 192 * 4      # K, once per group of 4
    assert call.stream_cycles == 33 * 129 * 192 * 4 // 16       # 128-bit link
    eight = sized_design(arch, queries=8)
    assert call_cost(qk, eight, qk.shapes).port_bytes["inout3"] == 17 * 129 * 192 * 4


# ----- the mechanism: routing, top-k, tasks


def _latency(**kwargs: Any) -> tuple[int, int]:
    r = map_network("vit-edge-moe", architecture("edge-moe"), **kwargs)
    return r["latency"]["cycles_per_image"], r["dram_bytes_per_image"]


def test_fewer_active_experts_load_fewer_weights() -> None:
    cycles, traffic = _latency()
    for experts in ("skewed:3", str(MEASURED)):
        r = map_network("vit-edge-moe", architecture("edge-moe"), experts=experts)
        inactive = sum(16 - len(layer["experts"]["active"]) for layer in r["layers"]
                       if layer["kind"] == "moe")
        assert inactive > 0
        # Token streams do not change (the same 258 picks a layer): only weights go.
        assert traffic - r["dram_bytes_per_image"] == inactive * EXPERT_WEIGHT_BYTES
        assert r["latency"]["cycles_per_image"] < cycles


def test_skew_without_idle_experts_keeps_the_cost() -> None:
    """Every expert still active: the same picks, the same loads; only the per-call fill
    and rounding differ. Expert compute is 576 cycles a pick whatever the distribution."""
    cycles, traffic = _latency()
    skewed_cycles, skewed_traffic = _latency(experts="skewed")
    assert skewed_traffic == traffic and abs(skewed_cycles - cycles) < 0.001 * cycles
    r = map_network("vit-edge-moe", architecture("edge-moe"), experts="skewed")
    linear = r["units"]["linear"]["busy_cycles"]
    assert linear == map_network("vit-edge-moe", architecture("edge-moe"))["units"]["linear"][
        "busy_cycles"]


def test_top_k_moves_compute_and_traffic() -> None:
    results = {k: _latency(top_k=k) for k in (1, 2, 4)}
    assert results[1][0] < results[2][0] < results[4][0]
    assert results[1][1] < results[2][1] < results[4][1]
    one = map_network("vit-edge-moe", architecture("edge-moe"), top_k=1)
    two = map_network("vit-edge-moe", architecture("edge-moe"), top_k=2)
    # Each extra pick of a token: 288 + 288 linear-unit cycles, in each of the 6 MoE layers.
    assert two["units"]["linear"]["busy_cycles"] - one["units"]["linear"]["busy_cycles"] \
        == 6 * 129 * 576


def test_tasks_select_their_own_experts() -> None:
    r = map_network("vit-edge-moe", architecture("edge-moe"), experts=str(MEASURED))
    tasks = r["moe"]["tasks"]
    assert tasks["semseg"]["active_experts"]["1"] == [1, 3, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15]
    assert len(tasks["depth"]["active_experts"]["1"]) == 13
    # one more expert's weights for depth in each MoE layer
    assert tasks["depth"]["dram_bytes_per_image"] - tasks["semseg"]["dram_bytes_per_image"] \
        == 6 * EXPERT_WEIGHT_BYTES
    depth = map_network("vit-edge-moe", architecture("edge-moe"), experts=str(MEASURED),
                        task="depth")
    assert depth["latency"]["cycles_per_image"] == tasks["depth"]["cycles_per_image"]
    skewed = map_network("vit-edge-moe", architecture("edge-moe"), experts="skewed:3")
    sets = skewed["moe"]["tasks"]
    assert sets["semseg"]["active_experts"] != sets["depth"]["active_experts"]


def test_expert_count_resizes_the_gate() -> None:
    arch = architecture("edge-moe")
    r8 = map_network("vit-edge-moe", sized_design(arch, experts=8), expert_count=8)
    r32 = map_network("vit-edge-moe", sized_design(arch, experts=32), expert_count=32)
    assert r8["moe"]["experts"] == 8 and len(r8["layers"][1]["experts"]["tokens"]) == 8
    # More experts: more weight loads (each active expert's once a layer).
    assert r32["dram_bytes_per_image"] > r8["dram_bytes_per_image"]
    assert r32["latency"]["cycles_per_image"] > r8["latency"]["cycles_per_image"]


# ----- routing: distributions and histogram files


def test_routing_distributions() -> None:
    args = {"tasks": ("a", "b"), "layers": (1,), "experts": 16, "tokens": 129}
    uniform = routing("uniform", top_k=2, **args)
    assert sum(uniform.counts("a", 1)) == 258 and max(uniform.counts("a", 1)) == 17
    steep = routing("skewed:3", top_k=2, **args)
    counts = steep.counts("a", 1)
    assert sum(counts) == 258 and max(counts) == 129 and 0 in counts   # capped, some idle
    assert steep.counts("b", 1) == counts[8:] + counts[:8]             # its own favourites
    assert routing("skewed:0", top_k=2, **args).counts("a", 1) == uniform.counts("a", 1)


@pytest.mark.parametrize(("spec", "message"), [
    ("skewed:x", "skewed:S needs a Zipf exponent S from 0 to 16, not 'x'"),
    ("skewed:-1", "skewed:S needs a Zipf exponent S from 0 to 16, not '-1'"),
])
def test_bad_distributions(spec: str, message: str) -> None:
    with pytest.raises(CascadeError) as caught:
        map_network("vit-edge-moe", architecture("edge-moe"), experts=spec)
    assert str(caught.value) == message


def test_bad_top_k_and_task() -> None:
    arch = architecture("edge-moe")
    with pytest.raises(CascadeError, match=r"^top-k must be a whole number from 1 to 16, not 17$"):
        map_network("vit-edge-moe", arch, top_k=17)
    with pytest.raises(CascadeError, match=r"^unknown task 'x' of vit-edge-moe; tasks: semseg, "):
        map_network("vit-edge-moe", arch, task="x")


_GOOD = "semseg *: " + " ".join(["16"] * 14 + ["17", "17"]) + "\n"


@pytest.mark.parametrize(("text", "line", "message"), [
    ("semseg 1 0 6 0\n", 1, "expected 'TASK LAYER: n0 n1 ...' (tokens per expert; * for every "
                            "task or MoE layer)"),
    ("# comment\n\nnope *: 1 2\n", 3, "unknown task 'nope'; the network's tasks: semseg, depth"),
    ("semseg 2: " + "16 " * 16 + "\n", 1, "layer '2' is not an MoE layer; MoE layers: 1, 3, 5, "
                                          "7, 9, 11 (or *)"),
    ("semseg 1: 1 2 3\n", 1, "3 counts; the network has 16 experts"),
    ("semseg 1: " + "x " * 16 + "\n", 1, "a count must be a whole number from 0 to 129 (the "
                                         "tokens of a layer), not 'x'"),
    ("semseg 1: 130 " + "0 " * 15 + "\n", 1, "a count must be a whole number from 0 to 129 (the "
                                             "tokens of a layer), not '130'"),
    ("semseg 1: 1 " + "0 " * 15 + "\n", 1, "the counts sum to 1, not a multiple of the 129 "
                                           "tokens (each token picks top-k experts)"),
    (_GOOD + "depth *: 129 " + "0 " * 15 + "\n", 2, "the counts sum to 129; 129 tokens x top-2 "
                                                   "is 258"),
    (_GOOD + _GOOD, 2, "task semseg layer * is given twice (first at line 1)"),
])
def test_bad_histogram_files(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "routing.txt"
    path.write_text(text)
    with pytest.raises(CascadeError) as caught:
        map_network("vit-edge-moe", architecture("edge-moe"), experts=str(path))
    assert str(caught.value) == f"{path}:{line}: {message}"


def test_histogram_file_gaps_and_missing_files(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "routing.txt"
    path.write_text(_GOOD)
    with pytest.raises(CascadeError) as caught:
        map_network("vit-edge-moe", architecture("edge-moe"), experts=str(path))
    assert str(caught.value) == (f"{path}: no histogram for task depth in MoE layer 1 (give "
                                 "'depth 1: ...' or '* *: ...')")
    path.write_text("# nothing\n")
    with pytest.raises(CascadeError, match=r"routing.txt: no histogram in the file"):
        map_network("vit-edge-moe", architecture("edge-moe"), experts=str(path))
    with pytest.raises(CascadeError, match=r"missing.txt: cannot read the expert histogram file"):
        map_network("vit-edge-moe", architecture("edge-moe"), experts=str(tmp_path / "missing.txt"))
    path.write_text("* *: " + " ".join(["16"] * 14 + ["17", "17"]) + "\n"
                    "depth 3: " + " ".join(["32"] * 8 + ["0"] * 7 + ["2"]) + "\n")
    r = map_network("vit-edge-moe", architecture("edge-moe"), experts=path, task="depth")
    assert r["layers"][3]["experts"]["active"] == [0, 1, 2, 3, 4, 5, 6, 7, 15]
    assert r["layers"][5]["experts"]["tokens"][-1] == 17


def test_a_network_without_moe_has_no_experts_to_change() -> None:
    dense = dataclasses.replace(network("vit-edge-moe"), moe=None)
    with pytest.raises(CascadeError, match=r"^network vit-edge-moe has no mixture of experts$"):
        dense.with_moe(experts=3)


# ----- other boards


@pytest.mark.parametrize("device", ["u50", "u250"])
def test_the_design_on_alveo_boards(device: str) -> None:
    base = architecture("edge-moe")
    moved = base.with_device(fpga_device(device))
    same = map_network("vit-edge-moe", moved)
    assert same["latency"]["cycles_per_image"] == map_network("vit-edge-moe", base)[
        "latency"]["cycles_per_image"]   # the same design at the same clock and ports
    assert same["resources"]["available"]["dsp"] == fpga_device(device).dsp
    # Wider links (no PS port in the way) and the board's memory make attention faster.
    sized = sized_design(moved, lanes=16, queries=8)
    wide = dataclasses.replace(sized, dram=architecture(device).dram, ports={
        n: dataclasses.replace(p, link_bits=None) for n, p in sized.ports.items()})
    fast = map_network("vit-edge-moe", wide)
    assert fast["latency"]["cycles_per_image"] < 0.5 * same["latency"]["cycles_per_image"]
    assert fast["resources"]["fits"]


def test_sized_design_refuses_ports_wider_than_axi() -> None:
    with pytest.raises(CascadeError, match="64 lanes need 2048-bit ports; AXI carries at most"):
        sized_design(architecture("edge-moe"), lanes=64)


def test_zcu102_network_still_searched_where_units_differ() -> None:
    r = map_network("vit-edge-moe", architecture("zcu102"))
    mapped = {b["name"]: b["mapping"] for b in r["blocks"]}
    assert mapped["qk"] == mapped["av"] == "searched"    # zcu102 has one attention unit
    assert mapped["query"] == "design"
    assert "ports" not in r and r["moe"]["top_k"] == 2


# ----- design-space exploration


def _bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "bench_edge_moe_dse", ROOT / "benchmarks" / "bench_edge_moe_dse.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_exploration_spec_runs_and_reports() -> None:
    spec = load_explore(ROOT / "benchmarks" / "sweep_edge_moe.yaml")
    assert [p.device for p in spec.platforms] == ["zcu102", "u50", "u250"]
    assert len(spec.points()) == 3 * 3 * 4 * 3 * 3 * 3
    result = explore(spec)
    published = next(p for p in result["points"] if p["device"] == "zcu102" and all(
        p[k] == v for k, v in _bench().PUBLISHED.items()))
    assert published["cycles_per_image"] == map_network(
        "vit-edge-moe", architecture("edge-moe"))["latency"]["cycles_per_image"]
    assert published["fits"] and published["dsp"] == design_resources(
        architecture("edge-moe")).total.dsp
    for device, fronts in result["pareto"].items():
        front = fronts["16 experts, top-2"]
        assert front and all(p["fits"] and p["device"] == device for p in front)
        assert [p["dsp"] for p in front] == sorted(p["dsp"] for p in front)
        assert [p["cycles_per_image"] for p in front] == sorted(
            (p["cycles_per_image"] for p in front), reverse=True)
    assert any(not p["fits"] for p in result["points"] if p["device"] == "zcu102")
    # Bigger boards fit bigger designs: their fastest is faster.
    best = {d: b["16 experts, top-2"]["cycles_per_image"] for d, b in result["best"].items()}
    assert best["u250"] < best["zcu102"] and best["u50"] < best["zcu102"]
    text = _bench().report(result, 1.0)
    assert "## zcu102: Pareto front, 16 experts, top-2" in text
    assert "| zcu102 | 16x16 linear, 4 queries, 256-bit ports | 1,456 |" in text


_SPEC = ("network: vit-edge-moe\narchitecture: edge-moe\nplatforms: [{device: zcu102}]\n"
         "linear: [16]\nquery_group: [4]\nport_bits: [256]\nexperts: [16]\ntop_k: [2]\n")


@pytest.mark.parametrize(("change", "line", "message"), [
    (("linear: [16]", "linear: [0]"), 4, "linear must be a whole number from 1 to 256, not 0"),
    (("linear: [16]", "linear: [16, 16]"), 4, "linear lists a value twice"),
    (("port_bits: [256]", "port_bits: [100]"), 6,
     "port_bits 100 is not a whole number of 32-bit activations"),
    (("top_k: [2]", "top_k: [32]"), 8, "top_k 32 is more than the fewest experts (16)"),
    (("{device: zcu102}", "{device: vu9p}"), 3,
     "unknown FPGA device 'vu9p'; known: zcu102, u50, u250"),
    (("{device: zcu102}", "{device: zcu102, dram: 3}"), 3,
     "unknown platform field 'dram'; known: device, dram_gb_s, link_bits"),
    (("{device: zcu102}", "{device: zcu102, link_bits: wide}"), 3,
     "link_bits must be a whole number from 1 to 1024, not 'wide'"),
    (("{device: zcu102}", "{device: zcu102}, {device: zcu102}"), 3,
     "platforms list a device twice (each board once)"),
    (("network: vit-edge-moe", "network: bert"), 1, "unknown network 'bert'; known: "
                                                    "vit-edge-moe"),
    (("architecture: edge-moe", "architecture: fusemax"), 2,
     "architecture fusemax is not an FPGA design"),
    (("top_k: [2]\n", "top_k: [2]\nrouting: [nope.txt]\n"), 9,
     "no expert histogram file 'nope.txt' (looked in "),
    (("top_k: [2]\n", "top_k: [2]\ntask: nope\n"), 9, "unknown task 'nope'; tasks: semseg, depth"),
    (("top_k: [2]\n", ""), 1, "missing field 'top_k'"),
])
def test_bad_exploration_specs(tmp_path: Path, change: tuple[str, str], line: int,
                               message: str) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(_SPEC.replace(*change))
    with pytest.raises(CascadeError) as caught:
        load_explore(path)
    assert str(caught.value).startswith(f"{path}:{line}: {message}")


def test_exploration_with_routing_files_and_architecture_files(tmp_path: Path) -> None:
    (tmp_path / "mine.yaml").write_text("like: edge-moe\nname: mine\nclock_mhz: 250\n")
    (tmp_path / "routes.txt").write_text(MEASURED.read_text())
    path = tmp_path / "spec.yaml"
    path.write_text(_SPEC.replace("architecture: edge-moe", "architecture: mine.yaml")
                    + "routing: [uniform, routes.txt]\ntask: depth\n")
    result = explore(load_explore(path))
    uniform, measured = result["points"]
    assert uniform["clock_mhz"] == 300          # the board's clock (with_device)
    assert measured["dram_bytes_per_image"] < uniform["dram_bytes_per_image"]
    assert set(result["best"]["zcu102"]) == {"16 experts, top-2", "16 experts, top-2, routes.txt"}


@pytest.mark.parametrize(("text", "message"), [
    ("ports:\n  inout1: {bits: 0}\n", "3: port bits must be a positive whole number (at most "
                                      "2**50), not 0"),
    ("ports:\n  inout1: {bits: 256, latency_cycles: -1}\n",
     "3: latency_cycles must be a whole number from 0 to 2**20, not -1"),
    ("ports:\n  inout1: {bits: 256, width: 3}\n",
     "3: unknown field 'width' in ports.inout1; known: bits, latency_cycles, link_bits"),
    ("ports: [1]\n", "2: ports must be a mapping of names to ports like {weights: {...}}, not "
                     "a list"),
    ("buffers:\n  weights: {values: 10, bits: 16, copies: 0}\n",
     "3: buffer copies must be a positive whole number (at most 2**50), not 0"),
    ("weight_bytes: 0\n", "2: weight_bytes must be a positive whole number (at most 2**50), "
                          "not 0"),
    ("units:\n  linear:\n    pipelined: 1\n", "4: unit linear: pipelined must be true or false"),
])
def test_bad_fpga_fields_in_architecture_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("like: edge-moe\n" + text)
    with pytest.raises(CascadeError) as caught:
        architecture(path)
    assert str(caught.value) == f"{path}:{message}"


def test_a_weight_too_big_for_its_buffer_is_refused() -> None:
    arch = architecture("edge-moe")
    small = dataclasses.replace(arch, buffers={**arch.buffers, "weights": Buffer(
        values=100_000, bits=16, width=256, copies=2)})
    with pytest.raises(CascadeError, match=r"^block mlp_up: W has 147,456 values but edge-moe's "
                                           r"weights buffer holds 100,000$"):
        map_network("vit-edge-moe", small)
    no_ports = dataclasses.replace(arch, ports={"weights": arch.ports["weights"]})
    with pytest.raises(CascadeError, match=r"^block patch_embed: port 'inout1' of X is not a "
                                           r"port of edge-moe \(weights\)$"):
        map_network("vit-edge-moe", no_ports)
