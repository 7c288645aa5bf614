"""The exhaustive vectorised space of one Einsum agrees with the scalar cost model."""

from __future__ import annotations

import pytest

from einsum import parse_text
from mapper import einsum_space
from sim import architecture, evaluate

GEMM = parse_text("Y[n,t] = X[k,t] * W[k,n]", name="linear")


@pytest.mark.parametrize("objective", ["latency", "energy", "edp"])
@pytest.mark.parametrize("shapes", [{"K": 768, "N": 768, "T": 4096},
                                    {"K": 100, "N": 30, "T": 1000},
                                    {"K": 3072, "N": 768, "T": 1 << 20}])
def test_best_candidate_re_evaluates_identically(objective: str,
                                                 shapes: dict[str, int]) -> None:
    space = einsum_space(GEMM, architecture("fusemax"), "array2d", shapes, objective=objective)
    report = evaluate(GEMM, architecture("fusemax"), space.mapping, shapes)
    assert report.cycles == space.best_cycles
    assert report.energy_j == pytest.approx(space.best_energy_j, rel=1e-9)
    assert report.buffer_bytes <= report.buffer_capacity_bytes


def test_space_size_and_compute_bound_optimum() -> None:
    space = einsum_space(GEMM, architecture("fusemax"), "array2d",
                         {"K": 768, "N": 768, "T": 4096})
    # 4 (dataflow, spatial) pairs the systolic array can run (output stationary [N, T] and
    # [T, N]; weight stationary [K, N]; input stationary [K, T]: a reduced rank only on the
    # row axis) x 6 loop orders x tiles (11 for K and N, 13 for T).
    assert space.candidates == 4 * 6 * 11 * 11 * 13
    # MACs / PEs, and once the fill and drain of FuseMax's array, whose folds overlap.
    assert space.best_cycles == 768 * 768 * 4096 // 65536 + 256 + 256 - 2


def test_a_tiny_buffer_makes_the_layer_memory_bound() -> None:
    shapes = {"K": 768, "N": 3072, "T": 1 << 20}
    roomy = einsum_space(GEMM, architecture("fusemax"), "array2d", shapes)
    cramped = einsum_space(GEMM, architecture("fusemax", buffer_mib=0.0625), "array2d", shapes)
    assert cramped.best_cycles > roomy.best_cycles
