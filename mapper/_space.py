"""Exhaustive mapping space of one Einsum on one unit, scored with the cost rules.

Every assignment of ranks to the array axes (on a systolic unit, under each dataflow, those
it can run), every order of the DRAM loops over all the Einsum's ranks and every
power-of-two tile of every rank (and the whole rank) is scored at once:
:func:`sim.compute_rows` with one row per spatial choice, :func:`sim.buffer_plan` and
:func:`sim.dram_words` with one row per tiling. The best candidate is a :class:`Mapping`
that :func:`sim.evaluate` costs to the same cycles and energy.

>>> from einsum import parse_text
>>> from sim import architecture
>>> gemm = parse_text("Y[n,t] = X[k,t] * W[k,n]", name="linear")
>>> space = einsum_space(gemm, architecture("fusemax"), "array2d", {"K": 768, "N": 768, "T": 4096})
>>> space.candidates > 10_000, space.best_cycles   # 768 x 768 x 4096 / 65536 + fill, drain
(True, 37374)
>>> space.mapping.bindings["Y"]
Binding(unit='array2d', spatial=('N', 'T'), operands=None, dataflow='os')
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass

import numpy as np

from einsum import Cascade
from sim import (
    DATAFLOWS,
    Architecture,
    Binding,
    Mapping,
    MappingError,
    Stage,
    buffer_plan,
    buffer_reads,
    buffer_writes,
    compute_rows,
    dataflow_problem,
    dram_cycles,
    dram_words,
    level_cycles,
    level_words,
    memory_energy,
    per_core,
    read_sets,
    total_cycles,
    workload,
)

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
    return np.array([*(2**i for i in range(size.bit_length()) if 2**i < size), size],
                    dtype=np.int64)


def einsum_space(cascade: Cascade, arch: Architecture, unit_name: str,
                 shapes: MappingABC[str, int], *, objective: str = "latency") -> EinsumSpace:
    """Score every mapping of the cascade's single computing Einsum on ``unit_name``."""
    w = workload(cascade, shapes)
    (f,) = w.facts.values()
    unit = arch.units[unit_name]
    ranks = list(dict.fromkeys(f.ranks))
    every = list(itertools.permutations(ranks, len(unit.shape)))
    # (dataflow, spatial) choices, grouped by dataflow: on a systolic unit those each
    # dataflow can run, elsewhere every assignment with the ideal unit.
    groups = [(d, [s for s in every if dataflow_problem(f, unit, d, s) is None])
              for d in DATAFLOWS] if unit.systolic else [(None, every)]
    groups = [(d, spatials) for d, spatials in groups if spatials]
    if not groups:
        raise MappingError(f"no dataflow of {unit_name} can spread {f.name} over all its "
                           "axes")
    choices = [(d, s) for d, spatials in groups for s in spatials]
    parts = [compute_rows(f, arch, unit_name, spatials, w.sizes, dataflow=d)
             for d, spatials in groups]
    compute_pj = sum(parts[0].energy_pj.values()) * w.instances
    gb = arch.global_buffer
    axes = np.meshgrid(*(_tiles(w.sizes[r]) for r in ranks), indexing="ij")
    tiles = {r: a.reshape(-1) for r, a in zip(ranks, axes, strict=True)}
    compute = np.concatenate([total_cycles(r, per_core(w, arch)) for r in parts])
    rows_pj = [(gb.row_values, gb.read_pj_per_row or 0.0),
               *((lv.row_values, lv.read_pj_per_row or 0.0) for lv in arch.levels.values())]

    orders = list(itertools.permutations(ranks))
    best: tuple[tuple[float, float], Mapping, int, float] | None = None
    valid = 0
    for order in orders:
        mapping = Mapping(name="einsum-space", bindings={f.name: Binding(unit_name, ())},
                          dram_loops=order, stages=(Stage((f.name,)),))
        stage_of = {f.name: 0}
        plan = buffer_plan(w, arch, mapping, stage_of, frozenset({0}), order, tiles)
        traffic, _by_stage = dram_words(w, mapping, stage_of, {0: plan})
        words = sum(traffic.values())
        dram = dram_cycles(w, arch, np.asarray(words))
        fits = plan.fits
        # Levels below the global buffer take its tiling (a mapping without ``levels``).
        level_words_, helds = [], []
        for name in arch.levels:
            inner = buffer_plan(w, arch, mapping, stage_of, frozenset({0}), order, tiles,
                                level=name)
            moved = sum(level_words(w, arch, mapping, stage_of, name, {0: inner})[0].values(),
                        start=0)
            level_words_.append(moved)
            helds.append(frozenset(inner.occupancy))
            fits = fits & inner.fits
            dram = np.maximum(dram, level_cycles(w, arch, name, np.asarray(moved)))
        memory_pj = sum(memory_energy(w, arch, traffic, 0, level_words_,
                                      writes=buffer_writes(w, plan.occupancy),
                                      off_chip=mapping.off_chip).energy_pj.values())
        reads_pj: np.ndarray | float = 0.0
        for held, (row, pj) in zip(read_sets(frozenset(plan.occupancy), helds), rows_pj,
                                   strict=True):
            reads = np.concatenate([buffer_reads(f, r, held) for r in parts])
            reads_pj = reads_pj + reads * w.instances / row * pj
        cycles = np.maximum(compute[:, None], np.where(fits, dram, np.inf)[None, :])
        joules = (compute_pj + np.asarray(reads_pj)[:, None]
                  + np.asarray(memory_pj)[None, ...]) * 1e-12
        joules = np.broadcast_to(joules, cycles.shape)
        score = {"latency": cycles, "energy": joules, "edp": cycles * joules}[objective]
        finite = np.isfinite(cycles)
        valid += int(finite.sum())
        if not finite.any():
            continue
        k = int(np.argmin(np.where(finite, score, np.inf)))
        s, t = np.unravel_index(k, cycles.shape)
        key = (float(score[s, t]), float(cycles[s, t]))
        if best is None or key < best[0]:
            chosen = Mapping(name="einsum-space",
                             bindings={f.name: Binding(unit_name, choices[s][1],
                                                       dataflow=choices[s][0])},
                             dram_loops=order, tiles={r: int(v[t]) for r, v in tiles.items()},
                             stages=(Stage((f.name,)),))
            best = (key, chosen, int(cycles[s, t]), float(joules[s, t]))
    if best is None:
        raise MappingError(f"no mapping of {f.name} fits {arch.name}'s buffer")
    return EinsumSpace(len(choices) * len(orders) * axes[0].size, valid, best[2], best[3],
                       best[1])
