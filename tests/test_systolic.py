"""Dataflows of a systolic array: fill, drain, folds and partial occupancy as SCALE-Sim counts
them, which spatial choices each dataflow can run, and the unit property that lets an array
overlap its folds (FuseMax's) instead of paying every fold's fill and drain (SCALE-Sim's)."""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
from pathlib import Path

import pytest
from scalesim.scale_sim import scalesim

from einsum import CascadeError, load, model, parse_text
from mapper import evaluate_mapping, search, study_mapping
from sim import (
    GEMM,
    GEMM_SPATIAL,
    Architecture,
    Mapping,
    MappingError,
    architecture,
    architecture_yaml,
    dataflow_problem,
    evaluate,
    load_architecture,
    load_mapping,
    mapping_from_dict,
    mapping_yaml,
    systolic_cycles,
    workload,
)

# SCALE-Sim 3.0 takes the max of a list of one-element arrays (its own code, not ours).
pytestmark = pytest.mark.filterwarnings(
    "ignore:Conversion of an array with ndim > 0 to a scalar:DeprecationWarning")

# ----- agreement with SCALE-Sim v2 (PyPI scalesim, run as its users run it)

_CONFIG = """[general]
run_name = cascade

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: 1024
FilterSramSzkB: 1024
OfmapSramSzkB: 1024
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {dataflow}
MemoryBanks: 1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[sparsity]
SparsitySupport: false
SparseRep: ellpack_block
OptimizedMapping: false
BlockSize: 8
RandomNumberGeneratorSeed: 40

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""


def _scalesim_cycles(folder: Path, dataflow: str, rows: int, cols: int, m: int, k: int,
                     n: int) -> tuple[int, int]:
    """(compute cycles, stall cycles) SCALE-Sim reports for the GEMM M x K times K x N
    (its COMPUTE_REPORT.csv: "Total Cycles", "Stall Cycles"), run in ``folder``."""
    config, topology, layout = folder / "run.cfg", folder / "gemm.csv", folder / "layout.csv"
    config.write_text(_CONFIG.format(rows=rows, cols=cols, dataflow=dataflow))
    topology.write_text(f"Layer, M, N, K,\ngemm, {m}, {n}, {k},\n")
    layout.write_text("Layer,\n")  # no custom layout (the reader wants the file)
    with contextlib.redirect_stdout(io.StringIO()):
        run = scalesim(save_disk_space=True, verbose=False, config=str(config),
                                 topology=str(topology), layout=str(layout),
                                 input_type_gemm=True)
        run.run_scale(top_path=str(folder))
    with open(folder / "cascade" / "COMPUTE_REPORT.csv") as report:
        row = next(csv.DictReader(report, skipinitialspace=True))
    return int(row["Total Cycles"]), int(row["Stall Cycles"])


# (array rows, cols, M, K, N): square, skinny, K smaller than the array, ragged everywhere,
# a non-square array, a matrix-vector product.
GEMMS = {
    "square": (16, 16, 96, 96, 96),
    "skinny": (16, 16, 200, 32, 8),
    "K below the array": (32, 32, 64, 16, 64),
    "ragged": (8, 8, 37, 50, 23),
    "non-square array": (8, 16, 40, 70, 33),
    "matrix-vector": (16, 16, 100, 64, 1),
}


@pytest.mark.parametrize("dataflow", ["os", "ws", "is"])
@pytest.mark.parametrize("gemm", list(GEMMS), ids=list(GEMMS))
def test_compute_cycles_agree_with_scale_sim(gemm: str, dataflow: str,
                                             tmp_path: Path) -> None:
    rows, cols, m, k, n = GEMMS[gemm]
    theirs, stalls = _scalesim_cycles(tmp_path, dataflow, rows, cols, m, k, n)
    assert stalls == 0  # SRAMs big enough: compute cycles only
    ours = systolic_cycles(dataflow, rows, cols, m, k, n)
    assert abs(ours - theirs) <= 0.05 * theirs
    # The same mechanism, not a fit: SCALE-Sim reports the index of its last cycle.
    assert ours == theirs + 1


def test_the_example_of_the_issue() -> None:
    # 1024 x 1024 x 64 on 128 x 128 PEs: 4,096 cycles of MACs, 64 output-stationary folds
    # of 64 + 254 cycles; weight or input stationary hold K = 64 in half the rows.
    ideal = 1024 * 1024 * 64 // (128 * 128)
    assert ideal == 4096
    assert systolic_cycles("os", 128, 128, 1024, 64, 1024) == 64 * (64 + 128 + 128 - 2)
    assert systolic_cycles("ws", 128, 128, 1024, 64, 1024) == 8 * (2 * 128 + 128 + 1024 - 2)
    assert systolic_cycles("is", 128, 128, 1024, 64, 1024) == 8 * (2 * 128 + 128 + 1024 - 2)
    # Overlapped folds pay the fill and drain once; the half-empty rows stay half empty.
    assert systolic_cycles("os", 128, 128, 1024, 64, 1024, fold_overlap=True) == 4096 + 254
    assert systolic_cycles("ws", 128, 128, 1024, 64, 1024, fold_overlap=True) == \
        2 * 4096 + 128 + 254


def test_a_bigger_array_is_slower_on_a_small_gemm_as_scale_sim_says(tmp_path: Path) -> None:
    # Every fold crosses the whole array: 16 x 16 x 16 on 32 x 32 PEs takes longer than on
    # 16 x 16. (On arrays whose folds overlap, only the one fill and drain grows.)
    small, big = (systolic_cycles("os", a, a, 16, 16, 16) for a in (16, 32))
    assert big > small
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    assert _scalesim_cycles(tmp_path / "a", "os", 32, 32, 16, 16, 16)[0] > \
        _scalesim_cycles(tmp_path / "b", "os", 16, 16, 16, 16, 16)[0]


# ----- the function the RTL check calls


@pytest.mark.parametrize(("rows", "cols", "depth"), [(4, 4, 256), (2, 8, 100), (16, 16, 2048),
                                                     (1, 1, 7)])
def test_the_rtl_array_is_one_output_stationary_fold_read_out_row_by_row(
        rows: int, cols: int, depth: int) -> None:
    # hls_templates/rtl/systolic_array.v.j2: an output-stationary rows x cols tile takes
    # `depth` beats, its wavefront drains for rows + cols - 2 ticks, then the rows of
    # accumulators leave one per beat and one cycle clears them.
    rtl = depth + (rows + cols - 2) + rows + 1
    assert systolic_cycles("os", rows, cols, rows, depth, cols, readout_cycles=rows + 1) == rtl
    # Several tiles through the same array, one after another: every one pays it.
    assert systolic_cycles("os", rows, cols, 3 * rows, depth, 2 * cols,
                           readout_cycles=rows + 1) == 6 * rtl


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(MappingError, match="dataflow must be one of os, ws, is, not 'rs'"):
        systolic_cycles("rs", 4, 4, 4, 4, 4)
    with pytest.raises(MappingError, match="k must be a whole number"):
        systolic_cycles("os", 4, 4, 4, 0, 4)
    with pytest.raises(CascadeError, match="readout_cycles must be a whole number"):
        systolic_cycles("os", 4, 4, 4, 4, 4, readout_cycles=-1)


# ----- which spatial choices each dataflow can run


def _gemm_arch(rows: int = 8, cols: int = 8, *, overlap: bool = False) -> Architecture:
    """FuseMax with its 2D array resized, paying every fold unless ``overlap``."""
    arch = architecture("fusemax")
    unit = dataclasses.replace(arch.units["array2d"], shape=(rows, cols),
                               fold_overlap=overlap)
    return dataclasses.replace(arch, units={**arch.units, "array2d": unit})


GEMM_CASCADE = parse_text(GEMM, name="gemm")


def _bound(dataflow: str | None, spatial: list[str], unit: str = "array2d") -> Mapping:
    binding: dict[str, object] = {"unit": unit, "spatial": spatial}
    if dataflow:
        binding["dataflow"] = dataflow
    return mapping_from_dict({"name": "gemm", "bindings": {"Y": binding},
                              "stages": [["Y"]]})


@pytest.mark.parametrize(("dataflow", "spatial", "problem"), [
    ("os", ["M", "K"], "output-stationary PEs each keep one output of Y, so K, which it "
                       "reduces, cannot be spread over an array axis"),
    ("ws", ["N", "K"], "weight-stationary PEs reduce down the columns, so the row axis takes "
                       "a rank that Y reduces (K), not N"),
    ("ws", ["K", "M"], "weight-stationary PEs keep B, which M does not index"),
    ("is", ["K", "N"], "input-stationary PEs keep A, which N does not index"),
])
def test_evaluate_refuses_what_a_dataflow_cannot_reduce(dataflow: str, spatial: list[str],
                                                       problem: str) -> None:
    shapes = {"M": 64, "K": 64, "N": 64}
    with pytest.raises(MappingError) as caught:
        evaluate(GEMM_CASCADE, _gemm_arch(), _bound(dataflow, spatial), shapes)
    assert caught.value.message == (f"mapping gemm: Y on array2d with spatial "
                                    f"[{', '.join(spatial)}]: {problem}")
    # Without a dataflow the unit is ideal and takes any choice, as before.
    assert evaluate(GEMM_CASCADE, _gemm_arch(), _bound(None, spatial), shapes).cycles > 0


def test_a_dataflow_needs_a_systolic_unit() -> None:
    with pytest.raises(MappingError, match="array1d is not systolic, so it has no "
                                           "output-stationary dataflow"):
        evaluate(GEMM_CASCADE, _gemm_arch(), _bound("os", ["M"], unit="array1d"),
                 {"M": 64, "K": 64, "N": 64})
    with pytest.raises(CascadeError, match="fold_overlap and readout_cycles describe the "
                                           "folds of a systolic unit"):
        dataclasses.replace(architecture("fusemax").units["array1d"], fold_overlap=True)


def test_evaluate_of_a_gemm_is_the_rtl_function() -> None:
    shapes = {"M": 100, "K": 37, "N": 50}
    for overlap in (False, True):
        arch = _gemm_arch(8, 16, overlap=overlap)
        for dataflow, spatial in GEMM_SPATIAL.items():
            r = evaluate(GEMM_CASCADE, arch, _bound(dataflow, list(spatial)), shapes)
            assert r.compute_cycles == systolic_cycles(dataflow, 8, 16, 100, 37, 50,
                                                       fold_overlap=overlap)


def test_the_search_spreads_only_what_the_dataflow_reduces() -> None:
    shapes = {"M": 1024, "K": 64, "N": 1024}
    arch = _gemm_arch(128, 128)
    found = search(GEMM_CASCADE, arch, shapes)
    binding = found.mapping.bindings["Y"]
    assert binding.unit == "array2d" and binding.dataflow in ("ws", "is")
    assert found.report.compute_cycles == min(
        systolic_cycles(d, 128, 128, 1024, 64, 1024) for d in GEMM_SPATIAL)
    w = workload(load("fusemax"), model("bert").shapes(1024), batch=64, heads=12)
    for arch in (architecture("fusemax"), architecture("flat"), _gemm_arch(64, 64)):
        mapping = search(load("fusemax"), arch, model("bert").shapes(1024), batch=64,
                         heads=12).mapping
        for name, b in mapping.bindings.items():
            unit = arch.units[b.unit]
            assert (b.dataflow is not None) == unit.systolic
            if b.dataflow:
                assert dataflow_problem(w.facts[name], unit, b.dataflow, b.spatial) is None


# ----- mappings carry their dataflow


def test_a_dataflow_round_trips_through_yaml(tmp_path: Path) -> None:
    found = search(load("fusemax"), architecture("fusemax"), model("bert").shapes(1024),
                   batch=64, heads=12).mapping
    assert found.to_dict()["bindings"]["QK"]["dataflow"] == found.bindings["QK"].dataflow
    file = tmp_path / "m.yaml"
    file.write_text(mapping_yaml(found))
    assert load_mapping(file) == found
    assert mapping_from_dict(found.to_dict()) == found
    file.write_text("name: qk\nbindings:\n  QK:\n    unit: array2d\n    spatial: [M0, P]\n"
                    "    dataflow: rs\n")
    with pytest.raises(CascadeError) as caught:
        load_mapping(file)
    assert str(caught.value) == f"{file}:6: dataflow must be one of os, ws, is, not 'rs'"


# ----- FuseMax: folds that overlap, and study mappings without a dataflow


def test_fusemax_overlaps_its_folds_and_its_study_stays_ideal() -> None:
    arch = architecture("fusemax")
    assert arch.units["array2d"].fold_overlap and architecture("flat").units[
        "array2d"].fold_overlap
    shapes = model("bert").shapes(1024)
    found = search(load("fusemax"), arch, shapes, batch=64, heads=12)
    r = found.report
    fills = sum(e.fill_cycles for e in r.einsums)
    # The array pipelines its tiles: the fill and drain once per Einsum for the whole run
    # (510 output stationary, 766 weight or input stationary on 256 x 256).
    assert 0 < fills <= 6 * (256 + 256 + 256 - 2)
    assert r.cycles < 1.01 * sum(e.busy_pe_cycles for e in r.einsums
                                 if e.unit == "array2d") * r.instances / 65536
    # SCALE-Sim's array, paying every fold, is an order of magnitude slower here.
    per_fold = _gemm_arch(256, 256)
    paying = search(load("fusemax"), per_fold, shapes, batch=64, heads=12).report
    assert paying.cycles > 5 * r.cycles
    # The study's mapping names no dataflow: ideal, the artifact's 1,892,352 cycles.
    study = study_mapping("fusemax", "binding")
    assert all(b.dataflow is None for b in study.bindings.values())
    assert evaluate_mapping(load("fusemax"), arch, study, shapes, batch=64,
                            heads=12).report.cycles == 1_892_352
    assert evaluate_mapping(load("fusemax"), per_fold, study, shapes, batch=64,
                            heads=12).report.cycles == 1_892_352


def test_fold_overlap_reads_and_writes_as_architecture_data(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text("like: fusemax\nunits:\n  array2d:\n    fold_overlap: false\n"
                    "    readout_cycles: 257\n")
    arch = load_architecture(file)
    assert not arch.units["array2d"].fold_overlap
    assert arch.units["array2d"].readout_cycles == 257
    again = tmp_path / "b.yaml"
    again.write_text(architecture_yaml(arch))
    assert load_architecture(again) == arch
    file.write_text("like: fusemax\nunits:\n  array2d:\n    fold_overlap: sometimes\n")
    with pytest.raises(CascadeError) as caught:
        load_architecture(file)
    assert str(caught.value) == (f"{file}:4: unit array2d: fold_overlap must be true or "
                                 "false")
