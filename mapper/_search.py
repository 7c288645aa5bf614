"""Mapping search: bindings, spatial ranks, DRAM loop orders and tiles, scored vectorised.

For every Einsum and every unit able to compute it, each assignment of its iteration ranks
to the unit's axes is costed; on one unit the choices of different Einsums do not interact,
so only the best per (Einsum, unit) survives (dominance pruning). Whole mappings are then
every combination of units over the Einsums times every DRAM loop order, scored at once
with numpy: latency is the busiest unit or DRAM, whichever is longer, under a pipelined
schedule in which consecutive tiles overlap. The winner is re-evaluated by the scalar cost
model, which must agree.

>>> from einsum import load, model
>>> from mapper import architecture
>>> found = search(load("fusemax"), architecture("fusemax"), model("bert").shapes(1024),
...                batch=64, heads=12)
>>> found.report.cycles
1892352
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass

import numpy as np

from einsum import Cascade, Einsum, Loop, Ref, analyze, rank_of, validate
from mapper._arch import Architecture
from mapper._mapping import Binding, Mapping, Stage

__all__ = ["Candidate", "SearchResult", "search"]

OBJECTIVES = ("latency", "energy", "edp")


@dataclass(frozen=True)
class Candidate:
    mapping: Mapping
    cycles: int
    energy_j: float

    @property
    def edp(self) -> float:
        return self.cycles * self.energy_j


@dataclass(frozen=True)
class SearchResult:
    mapping: Mapping
    report: object  # sim.Report (imported lazily: sim depends on mapper)
    runners_up: tuple[Candidate, ...]
    evaluated: int
    pruned: int
    seconds: float


def _spatial_choices(e: Einsum, axes: int, sizes: MappingABC[str, int],
                     sequential: str | None) -> list[tuple[str, ...]]:
    """Ordered assignments of the Einsum's ranks to array axes. A rank the Einsum steps
    through one element at a time (its recurrence) cannot be spread over PEs."""
    ranks = [r for r in dict.fromkeys(rank_of(v) for v in e.iteration_ranks)
             if sizes[r] > 1 and r != sequential]
    return [c for c in itertools.permutations(ranks, min(axes, len(ranks)))] or [()]


def _loop_orders(cascade: Cascade, sizes: MappingABC[str, int]) -> list[tuple[str, ...]]:
    layout = validate(cascade)
    outers = [outer for outer, _inner in layout.splits.values()]
    outputs = [r for name in layout.outputs for r in layout.ranks[name]]
    biggest = max(outputs, key=lambda r: sizes[r]) if outputs else None
    stream = cascade.stream if cascade.stream in sizes and cascade.stream not in layout.splits \
        else None
    base = [r for r in dict.fromkeys([*outers, biggest, stream]) if r is not None]
    orders: list[tuple[str, ...]] = [()]
    for k in range(1, len(base) + 1):
        orders.extend(itertools.permutations(base, k))
    return orders


def _is_view(e: Einsum) -> bool:
    return isinstance(e.expr, Ref) and not e.reduced_ranks


def search(cascade: Cascade, arch: Architecture, shapes: MappingABC[str, int], *,
           batch: int = 1, heads: int = 1, objective: str = "latency",
           keep: int = 5) -> SearchResult:
    """Best mapping of ``cascade`` on ``arch`` by ``objective``, with the runners-up."""
    from sim._cost import MappingError, einsum_compute, evaluate

    if objective not in OBJECTIVES:
        raise MappingError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                           f"not {objective!r}")
    if objective != "latency" and not arch.energy_modelled:
        raise MappingError(f"architecture {arch.name} has no energy model; its only "
                           "objective is latency")
    start = time.perf_counter()
    analysis = analyze(cascade, shapes, batch=batch, heads=heads)
    sizes = analysis.shapes
    instances = batch * heads
    units = list(arch.units)
    layout = validate(cascade)
    stepping = {name: item.rank for item in layout.order if isinstance(item, Loop)
                for name in item.einsums}
    work = [(e, c) for e, c in zip(cascade.einsums, analysis.einsums, strict=True)
            if c.ops and not _is_view(e)]

    cycles = np.full((len(work), len(units)), np.inf)
    energy = np.full((len(work), len(units)), np.inf)
    best_spatial: dict[tuple[int, int], tuple[str, ...]] = {}
    pruned = 0
    for i, (e, cost) in enumerate(work):
        for j, name in enumerate(units):
            unit = arch.units[name]
            if any(kind not in unit.ops for kind in cost.ops):
                continue
            for spatial in _spatial_choices(e, len(unit.shape), sizes, stepping.get(e.name)):
                c = einsum_compute(e, cost.ops, cost.points, arch, name, spatial, sizes)
                joules = sum(c.energy_pj.values())
                pruned += 1
                if (c.cycles, joules) < (cycles[i, j], energy[i, j]):
                    cycles[i, j], energy[i, j] = c.cycles, joules
                    best_spatial[i, j] = spatial
        if np.all(np.isinf(cycles[i])):
            raise MappingError(f"no unit of {arch.name} can compute {e.name} "
                               f"(it needs {', '.join(cost.ops)})")
    pruned -= len(best_spatial)

    choices = [np.flatnonzero(np.isfinite(cycles[i])) for i in range(len(work))]
    grid = np.stack(np.meshgrid(*choices, indexing="ij"), axis=-1).reshape(-1, len(work))
    rows = np.arange(len(work))
    picked_cycles = cycles[rows, grid]            # (assignments, einsums)
    picked_energy = energy[rows, grid].sum(axis=1)
    load = np.zeros((len(grid), len(units)))
    for j in range(len(units)):
        load[:, j] = np.where(grid == j, picked_cycles, 0).sum(axis=1)
    compute = load.max(axis=1) * instances

    def mapping_for(assignment: np.ndarray, loops: tuple[str, ...]) -> Mapping:
        bindings = {e.name: Binding(units[int(u)], best_spatial[i, int(u)])
                    for i, ((e, _c), u) in enumerate(zip(work, assignment, strict=True))}
        outers = {o for o, _i in layout.splits.values()}
        tiles: dict[str, int | str] = {r: "auto" for r in loops if r not in outers}
        between = {e.name: "spill" for e, _c in work if e.name not in layout.outputs}
        return Mapping(name="searched", bindings=bindings, dram_loops=loops, tiles=tiles,
                       placement=between, stages=(Stage(tuple(e.name for e, _c in work)),),
                       memory="overlapped")

    scored: list[tuple[float, int, float, np.ndarray, tuple[str, ...]]] = []
    evaluated = 0
    last_error = ""
    for loops in _loop_orders(cascade, sizes):
        try:
            probe = evaluate(cascade, arch, mapping_for(grid[0], loops), sizes, batch=batch,
                             heads=heads)
        except MappingError as error:
            last_error = error.message
            continue
        memory_pj = probe.energy_pj.get("dram", 0.0) + probe.energy_pj.get("global_buffer", 0.0)
        total_cycles = np.maximum(compute, probe.dram_cycles)
        joules = (picked_energy * instances + memory_pj) * 1e-12
        score = {"latency": total_cycles + joules * 1e-30, "energy": joules,
                 "edp": total_cycles * joules}[objective]
        evaluated += len(grid)
        for k in np.argsort(score, kind="stable")[:keep + 1]:
            scored.append((float(score[k]), int(total_cycles[k]), float(joules[k]), grid[k],
                           loops))
    if not scored:
        raise MappingError(f"no mapping of {cascade.name} fits {arch.name}; the last DRAM "
                           f"loop order tried: {last_error}")
    scored.sort(key=lambda s: (s[0], s[1]))
    best = scored[0]
    mapping = mapping_for(best[3], best[4])
    report = evaluate(cascade, arch, mapping, sizes, batch=batch, heads=heads)
    runners: list[Candidate] = []
    seen = {repr(mapping.to_dict())}
    for s in scored[1:]:
        candidate = Candidate(mapping_for(s[3], s[4]), s[1], s[2])
        key = repr(candidate.mapping.to_dict())
        if key not in seen and len(runners) < keep:
            seen.add(key)
            runners.append(candidate)
    return SearchResult(mapping, report, tuple(runners), evaluated, pruned,
                        time.perf_counter() - start)


