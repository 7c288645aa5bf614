"""The algorithm library beyond softmax attention's pass variants: every cascade checked
against a direct numpy formula of its algorithm (einsum/_references.py), not against
another cascade, at several shapes including a single key or query, a window longer than
the sequence and ragged tiles; op counts of sparse cascades count only computed points."""

from __future__ import annotations

import json

import pytest

from cascade._cli import main
from einsum import analyze, load
from einsum._check import TOLERANCE, check_cascade
from einsum._references import REFERENCES


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_cascade_matches_its_formula(name: str) -> None:
    results = check_cascade(load(name), seed=3)
    assert len(results) == len(REFERENCES[name].shapes) >= 2
    for r in results:
        assert r.relative_error <= TOLERANCE, (r.shapes, r.relative_error)
    # an edge case: a single key or a single query
    assert any(r.shapes.get(rank) == 1 for r in results for rank in ("M", "P", "PY", "SQ"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_split_k_is_exact_for_any_split(seed: int) -> None:
    """Worker counts that divide M, that do not, and a single worker."""
    assert all(r.passed for r in check_cascade(load("split_k"), seed=seed))


def test_gqa_reads_k_and_v_once_per_group() -> None:
    shapes = {"E": 64, "F": 64, "M": 4096, "P": 4096, "R": 4, "G": 8}
    grouped = analyze(load("gqa"), shapes)
    # K and V footprints are per group (G), Q's per head (G * R)
    assert grouped.footprints["K"]["words"] == 64 * 4096 * 8
    assert grouped.footprints["Q"]["words"] == 64 * 4096 * 4 * 8


def test_linear_attention_work_is_linear_in_m() -> None:
    def macs(m: int) -> int:
        return analyze(load("linear_attention"), {"E": 64, "F": 64, "M": m, "P": 1024}
                       ).ops["mac"]
    assert macs(8192) - macs(4096) == 2 * (macs(4096) - macs(2048)) > 0


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_analyze_works_on_every_algorithm(name: str) -> None:
    shapes = dict(REFERENCES[name].shapes[0])
    result = analyze(load(name), shapes)
    assert result.passes >= 1 and sum(result.ops.values()) > 0


def test_cli_check_reports_each_shape(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "mla_absorbed", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] and [r["shapes"]["L"] for r in data["runs"]] == [4, 2]


@pytest.mark.parametrize(("name", "shapes", "expected"), [
    # causal: M (M + 1) / 2 scores; the exponentials and products follow the mask
    ("causal", {"E": 4, "F": 4, "M": 64, "P": 64}, 64 * 65 // 2),
    ("causal_fusemax", {"E": 4, "F": 4, "M": 64, "P": 64, "M0": 16}, 64 * 65 // 2),
    # a causal window of W keys: W (W + 1) / 2 for the first W queries, then W each
    ("sliding_window", {"E": 4, "F": 4, "M": 64, "P": 64, "W": 8, "D": 1},
     8 * 9 // 2 + (64 - 8) * 8),
    # block-diagonal blocks of 8 plus the first block column: 8 blocks of 64, 7 more of 64
    ("block_sparse", {"E": 4, "F": 4, "M": 64, "P": 64, "B": 8}, 8 * 64 + 7 * 64),
])
def test_sparse_op_counts_follow_the_mask(name: str, shapes: dict[str, int],
                                          expected: int) -> None:
    result = analyze(load(name), shapes)
    points = {c.name: c.points for c in result.einsums}
    e = shapes["E"]
    assert points["QK"] == expected * e            # QK[.., p] summed over e
    assert points["SLN" if "SLN" in points else "SN"] == expected
    dense = analyze(load("one_pass"), {k: v for k, v in shapes.items() if k in "EFMP"})
    assert result.ops["exp"] < dense.ops["exp"]


def test_radial_attention_is_subquadratic() -> None:
    def scores(frames: int) -> int:
        shapes = {"E": 2, "F": 2, "SQ": 16, "TQ": frames, "SK": 16, "TK": frames}
        return next(c.points for c in analyze(load("radial"), shapes).einsums
                    if c.name == "SN")
    dense = (16 * 32) ** 2
    assert scores(32) < dense / 3
    assert scores(32) / scores(16) < 3  # dense attention would grow 4x


def test_docs_table_is_current() -> None:
    """docs/algorithms.md is what `cascade table --out docs/algorithms.md` writes now."""
    from pathlib import Path

    from einsum._catalog import catalog, library_document

    document = Path(__file__).parents[1] / "docs" / "algorithms.md"
    assert document.read_text() == library_document(catalog()), (
        "regenerate it: cascade table --out docs/algorithms.md")


def test_list_shows_passes_and_growth(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = {line.split()[0]: line.split()[1:4] for line in capsys.readouterr().out.splitlines()}
    assert lines["sliding_window"] == ["1", "pass", "O(M)"]
    assert lines["three_pass"] == ["3", "passes", "O(M^2)"]
    assert lines["radial"][:3] == ["1", "pass", "O(M"]  # O(M log M)


def test_masked_cascades_cost_less_on_an_array() -> None:
    """The cost model skips what a where condition masks (to first order)."""
    from mapper import architecture
    from mapper._search import search

    sizes = {"E": 64, "F": 64, "M": 4096, "P": 4096}
    arch = architecture("fusemax")
    dense = search(load("one_pass"), arch, sizes).report
    causal = search(load("causal"), arch, sizes).report
    window = search(load("sliding_window"), arch, {**sizes, "W": 256, "D": 1}).report
    assert 0.45 < causal.cycles / dense.cycles < 0.55
    assert 0.45 < causal.energy_j / dense.energy_j < 0.6
    assert window.cycles < causal.cycles / 4
