"""Exhaustive, vectorised mapping space of one Einsum on one unit.

Every assignment of ranks to the array axes, every order of the DRAM loops over all the
Einsum's ranks and every power-of-two tile of every rank is scored at once with numpy,
under the same rules as :func:`sim.evaluate` (compute from op counts and spatial spread,
DRAM traffic from the reuse rule, staged input tiles against the buffer capacity). The
best candidate can be turned into a :class:`Mapping` and re-evaluated by the scalar model.

>>> from einsum import parse_text
>>> from mapper import architecture
>>> gemm = parse_text("Y[n,t] = X[k,t] * W[k,n]", name="linear")
>>> space = einsum_space(gemm, architecture("fusemax"), "array2d", {"K": 768, "N": 768, "T": 4096})
>>> space.candidates > 10_000, space.best_cycles
(True, 36864)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass

import numpy as np

from einsum import Cascade, analyze, validate
from mapper._arch import Architecture
from mapper._mapping import Binding, Mapping, Stage

__all__ = ["EinsumSpace", "einsum_space"]


@dataclass(frozen=True)
class EinsumSpace:
    candidates: int
    valid: int
    best_cycles: int
    best_energy_j: float
    mapping: Mapping


def _tiles(size: int) -> np.ndarray:
    """Powers of two below the size, and the whole rank."""
    powers = [2**i for i in range(size.bit_length()) if 2**i < size]
    return np.array([*powers, size])


def einsum_space(cascade: Cascade, arch: Architecture, unit_name: str,
                 shapes: MappingABC[str, int], *, objective: str = "latency") -> EinsumSpace:
    """Score every mapping of the cascade's single Einsum on ``unit_name``."""
    from sim._cost import einsum_compute

    layout = validate(cascade)
    (e,) = [x for x in cascade.einsums]
    cost = analyze(cascade, shapes).einsums[0]
    sizes = analyze(cascade, shapes).shapes
    unit = arch.units[unit_name]
    ranks = list(dict.fromkeys(r.upper() for r in e.iteration_ranks))
    spatials = list(itertools.permutations(ranks, len(unit.shape)))
    orders = list(itertools.permutations(ranks))
    tile_axes = [_tiles(sizes[r]) for r in ranks]
    grids = np.meshgrid(*tile_axes, indexing="ij")
    trips = [np.ceil(sizes[r] / g) for r, g in zip(ranks, grids, strict=True)]
    capacity = arch.global_buffer.capacity_bytes // arch.word_bytes
    word = arch.word_bytes
    per_cycle = arch.dram.bandwidth_bytes_per_s / arch.clock_hz

    compute = np.array([einsum_compute(e, cost.ops, cost.points, arch, unit_name, s, sizes)
                        .cycles for s in spatials], dtype=float)
    compute_pj = sum(einsum_compute(e, cost.ops, cost.points, arch, unit_name, spatials[0],
                                    sizes).energy_pj.values())
    inputs = [(t, layout.ranks[t]) for t in layout.inputs]
    # Global-buffer reads: each staged operand, once per temporal step, as wide as the
    # array axes its ranks are spread over (the scalar model's rule).
    gb = arch.global_buffer
    steps = compute / (sum(unit.ops[k].cycles * n for k, n in cost.ops.items()) / cost.points)
    widths = np.array([sum(math.prod(min(axis, sizes[r]) for r, axis
                                     in zip(s, unit.shape, strict=True) if r in tr)
                           for _t, tr in inputs) for s in spatials])
    read_pj = steps * widths / gb.row_values * (gb.read_pj_per_row or 0.0)
    (output,) = layout.outputs
    occupancy = sum(math.prod(grids[ranks.index(r)] for r in tr) for _t, tr in inputs)
    inputs_fit = occupancy <= capacity
    # With every rank in the DRAM loops, a reduced rank is always walked there, so the
    # output tile accumulates on chip too (as in the scalar model).
    output_tile = math.prod(grids[ranks.index(r)] for r in layout.ranks[layout.outputs[0]])
    fits = occupancy + (output_tile if e.reduced_ranks else 0) <= capacity
    del inputs_fit

    best = (math.inf, math.inf, None)
    valid = 0
    for order in orders:
        traffic = np.zeros(grids[0].shape)
        fills = np.zeros(grids[0].shape)
        for tensor, tensor_ranks in [*inputs, (output, layout.ranks[output])]:
            relevant = set(tensor_ranks)
            inner = max(i for i, r in enumerate(order) if r in relevant)
            refetch = np.ones(grids[0].shape)
            for r in order[:inner]:
                if r not in relevant:
                    refetch = refetch * trips[ranks.index(r)]
            words = math.prod(sizes[r] for r in tensor_ranks)
            traffic += words * (refetch if tensor != output else 2 * refetch - 1)
            if tensor != output:
                fills += words * refetch
        dram = np.ceil(traffic * word / per_cycle)
        cycles = np.maximum(compute[:, None], np.where(fits, dram, np.inf).reshape(1, -1))
        memory_pj = (traffic * word * 8 / arch.dram.access_bits
                     * (arch.dram.energy_pj_per_access or 0.0)
                     + fills / gb.row_values * (gb.write_pj_per_row or 0.0))
        joules = (compute_pj + read_pj[:, None] + memory_pj.reshape(1, -1)) * 1e-12
        score = cycles if objective == "latency" else (joules if objective == "energy"
                                                        else cycles * joules)
        valid += int(np.isfinite(cycles).sum())
        k = int(np.argmin(np.where(np.isfinite(cycles), score, np.inf)))
        s_index, t_index = np.unravel_index(k, cycles.shape)
        key = (float(score[s_index, t_index]), float(cycles[s_index, t_index]))
        if key < best[:2]:
            tiles = {r: int(g.reshape(-1)[t_index]) for r, g in zip(ranks, grids, strict=True)}
            best = (*key, (spatials[s_index], order, tiles, float(joules[s_index, t_index])))
    assert best[2] is not None, "no mapping fits"
    spatial, order, tiles, joules_best = best[2]
    mapping = Mapping(name="einsum-space", bindings={e.name: Binding(unit_name, spatial)},
                      dram_loops=order, tiles=dict(tiles), stages=(Stage((e.name,)),))
    return EinsumSpace(len(spatials) * len(orders) * grids[0].size, valid, int(best[1]),
                       joules_best, mapping)
