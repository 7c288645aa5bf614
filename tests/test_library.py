"""The algorithm library beyond softmax attention's pass variants: every cascade checked
against a direct numpy formula of its algorithm (einsum/_references.py), not against
another cascade, at several shapes including a single key and a single query."""

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
    assert any(r.shapes["M"] == 1 for r in results)


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
