"""Mapping search: it finds the published FuseMax mapping's latency or better, unaided."""

from __future__ import annotations

import pytest

from einsum import load, model
from mapper import evaluate_mapping, search, study_mapping
from sim import MappingError, architecture, evaluate


@pytest.mark.parametrize("seq", [1024, 262144])
def test_search_matches_or_beats_the_published_fusemax_mapping(seq: int) -> None:
    bert = model("bert")
    published = evaluate_mapping(load("fusemax"), architecture("fusemax"),
                                 study_mapping("fusemax", "binding"), bert.shapes(seq),
                                 batch=bert.batch, heads=bert.heads).report
    found = search(load("fusemax"), architecture("fusemax"), bert.shapes(seq),
                   batch=bert.batch, heads=bert.heads)
    assert found.report.cycles <= published.cycles
    assert found.evaluated >= 1000


def test_vectorised_scores_agree_with_the_scalar_model() -> None:
    bert = model("bert")
    found = search(load("fusemax"), architecture("fusemax"), bert.shapes(4096),
                   batch=bert.batch, heads=bert.heads, keep=3)
    for candidate in found.runners_up:
        again = evaluate(load("fusemax"), architecture("fusemax"), candidate.mapping,
                         bert.shapes(4096), batch=bert.batch, heads=bert.heads)
        assert again.cycles == candidate.cycles
        assert again.energy_j == pytest.approx(candidate.energy_j, rel=1e-9)


def test_recurrences_are_never_spread_over_pes() -> None:
    found = search(load("one_pass"), architecture("fusemax"), model("bert").shapes(1024))
    for name in ("RM", "SLN", "PRM", "RD", "RNV"):
        assert "M" not in found.mapping.bindings[name].spatial


def test_energy_objective_never_costs_more_energy() -> None:
    shapes = model("xlm").shapes(16384)
    fast = search(load("fusemax"), architecture("fusemax"), shapes, objective="latency")
    frugal = search(load("fusemax"), architecture("fusemax"), shapes, objective="energy")
    assert frugal.report.energy_j <= fast.report.energy_j
    assert fast.report.cycles <= frugal.report.cycles


def test_flat_hardware_cannot_run_exp_on_its_2d_array() -> None:
    found = search(load("fusemax"), architecture("flat"), model("bert").shapes(1024))
    assert found.mapping.bindings["SLN"].unit == "array1d"


def test_unknown_objective() -> None:
    with pytest.raises(MappingError, match=r"^objective must be one of latency, energy, edp, "
                                           r"not 'speed'$"):
        search(load("fusemax"), architecture("fusemax"), model("bert").shapes(1024),
               objective="speed")


def test_energy_objective_needs_an_energy_model() -> None:
    with pytest.raises(MappingError, match=r"^architecture zcu102 has no energy model; its "
                                           r"only objective is latency$"):
        search(load("fusemax"), architecture("zcu102"), {"E": 8, "F": 8, "M": 64, "P": 64},
               objective="edp")
