"""Global-buffer accesses: operand reuse in the PEs, writes of what the buffer holds,
forwarding between Einsums on one unit, staged DRAM tensors; checked against the FuseMax
artifact's own Timeloop counts (benchmarks/results/artifact_timeloop_counts.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cascade import artifact_accounting_j
from einsum import load, model
from mapper import evaluate_mapping, study, study_mapping
from sim import (
    Report,
    architecture,
    buffer_reads,
    buffer_writes,
    compute_rows,
    forwarded,
    mapping_from_dict,
    stage_index,
    workload,
)

CONFIGS = {c["name"]: c for c in study("fusemax")["configurations"]}
COUNTS = json.loads((Path(__file__).parent.parent / "benchmarks" / "results"
                     / "artifact_timeloop_counts.json").read_text())


def _run(config: str, name: str, seq: int) -> Report:
    c = CONFIGS[config]
    preset = model(name)
    return evaluate_mapping(load(c["cascade"]), architecture(c["architecture"]),
                            study_mapping("fusemax", config, model=name, seq_len=seq),
                            preset.shapes(seq), batch=preset.batch, heads=preset.heads).report


def test_a_per_query_operand_is_read_once_per_row() -> None:
    # SN[m,p] = exp(QK[m,p] - GM[p]) on a 256-PE array over p: GM[p] stays in the PE while
    # the m loop goes by, QK is read at every step
    w = workload(load("three_pass"), {"E": 64, "F": 64, "M": 1024, "P": 1024})
    f = w.facts["SN"]
    rows = compute_rows(f, architecture("flat"), "array1d", [("P",)], w.sizes)
    sources = [o.source for o in f.operands]
    assert dict(zip(sources, rows.reuse[0].tolist(), strict=True)) == {"QK": 1, "GM": 1024}
    assert int(buffer_reads(f, rows, {"QK"})[0]) == 1024 * 1024
    assert int(buffer_reads(f, rows, {"GM"})[0]) == 1024


def test_writes_are_the_values_of_what_the_buffer_holds() -> None:
    w = workload(load("three_pass"), {"E": 64, "F": 64, "M": 1024, "P": 1024})
    assert buffer_writes(w, {"QK", "SN", "GM", "Q"}) == 2 * 1024 * 1024 + 1024


def test_a_sum_takes_its_terms_from_the_pe_that_made_them() -> None:
    w = workload(load("three_pass"), {"E": 64, "F": 64, "M": 1024, "P": 1024})
    mapping = study_mapping("fusemax", "flat", model="bert", seq_len=1024)
    stage_of = stage_index(w.cascade, mapping)
    # SD[p] adds up SN[m,p] where the 1D array computes it; A reads SN a pass later
    assert forwarded(w, mapping, stage_of, w.facts["SD"]) == {"SN"}
    assert forwarded(w, mapping, stage_of, w.facts["A"]) == frozenset()
    # QK comes from the 2D array: GM reads it from the buffer
    assert forwarded(w, mapping, stage_of, w.facts["GM"]) == frozenset()


def test_a_staged_tensor_is_filled_and_read_where_it_comes_back() -> None:
    data = study_mapping("fusemax", "unfused", model="bert", seq_len=1024).to_dict()
    shapes = model("bert").shapes(1024)
    staged = evaluate_mapping(load("three_pass"), architecture("unfused"),
                              mapping_from_dict(data), shapes).report
    data["placement"]["QK"] = "dram"
    streamed = evaluate_mapping(load("three_pass"), architecture("unfused"),
                                mapping_from_dict(data), shapes).report
    assert staged.dram_bytes == streamed.dram_bytes
    scores = 1024 * 1024
    # filled once, read by GM and by SN
    assert staged.accesses["global_buffer.row_writes"] - \
        streamed.accesses["global_buffer.row_writes"] == scores / 256
    assert staged.accesses["global_buffer.row_reads"] - \
        streamed.accesses["global_buffer.row_reads"] == 2 * scores / 256
    assert staged.buffer_bytes_by_tensor["QK"] > 0 and "QK" not in streamed.buffer_bytes_by_tensor


def test_inputs_streamed_past_the_buffer_fill_none_of_it() -> None:
    # FLAT up to 64K streams Q, K and V from DRAM (the artifact's L3 bypass)
    r = _run("flat", "bert", 1024)
    assert r.dram_bytes_by_tensor["K"] > 0
    assert r.accesses["global_buffer.row_writes"] == COUNTS["flat BERT 1K"][
        "global_buffer"]["write"] + 196_608  # AV's accumulated output, which Timeloop bypasses


@pytest.mark.parametrize(("point", "config", "name", "seq", "reads", "writes"), [
    # ours beside the artifact's Timeloop counts (rows of 256 words): equal, or off by
    # what the artifact's mappings leave out (its LM reads QK outside L3 and DRAM; FLAT
    # from 256K and Unfused keep AV's partial sums in L3 under weight stationarity; its
    # randomised mapper stages Unfused's QK and AV tiles its own way)
    ("flat BERT 1K", "flat", "bert", 1024, 12_589_056, 9_639_936),
    ("flat BERT 256K", "flat", "bert", 262144, 670_016_471_040, 412_419_096_576),
    ("unfused BERT 1K", "unfused", "bert", 1024, 11_802_624, 7_084_032),
    ("cascade BERT 1K", "cascade", "bert", 1024, 12_008_448, 7_692_288),
    ("binding BERT 1K", "binding", "bert", 1024, 3_406_848, 1_400_832),
])
def test_rows_beside_the_artifact(point: str, config: str, name: str, seq: int, reads: int,
                                  writes: int) -> None:
    r = _run(config, name, seq)
    assert r.accesses["global_buffer.row_reads"] == reads
    assert r.accesses["global_buffer.row_writes"] == writes
    theirs = COUNTS[point]["global_buffer"]
    assert reads / theirs["read"] - 1 == pytest.approx(
        {"flat BERT 1K": 0.0, "flat BERT 256K": -0.0714, "unfused BERT 1K": -0.0476,
         "cascade BERT 1K": 0.2429, "binding BERT 1K": 0.0109}[point], abs=1e-4)


@pytest.mark.parametrize("point", ["flat BERT 1K", "flat BERT 256K", "unfused BERT 1K",
                                   "cascade BERT 1K", "binding BERT 1K"])
def test_energy_counted_the_artifacts_way_is_its_energy(point: str) -> None:
    accel, name, seq = point.split()
    length = {"1K": 1024, "256K": 262144}[seq]
    r = _run(accel, name.lower(), length)
    arch = architecture(CONFIGS[accel]["architecture"])
    theirs = COUNTS[point]["energy_pj"] * 1e-12
    assert artifact_accounting_j(r, arch) / theirs - 1 == pytest.approx(0, abs=0.05)
    # register files counted in full: every PE's
    assert r.energy_j > artifact_accounting_j(r, arch)
