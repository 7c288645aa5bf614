"""Mapping search: units, spatial ranks, DRAM loop orders and tiles, scored with the cost
rules over arrays.

For every DRAM loop order the tiles are chosen (:func:`resolve_tiles`), and with them what
the buffer holds and the DRAM traffic. Every Einsum then has options: a unit able to compute
it and an assignment of its ranks to the unit's axes, each with its cycles and energy (ops,
register files and the global-buffer reads its operand widths cause), all from
:func:`sim.compute_rows` and :func:`sim.buffer_reads`. Options of one Einsum on one unit
that another option beats in both cycles and energy are dropped (no objective prefers
them); whole mappings are every combination of the remaining options, scored at once with
numpy: latency is the busiest unit or DRAM, whichever is longer (one pipelined stage),
energy the sum of the options' energies and the traffic's. The winner and the runners-up
are mappings with every number chosen; :func:`sim.evaluate` of each gives exactly the
cycles and energy the search scored.

>>> from einsum import load, model
>>> from sim import architecture
>>> found = search(load("fusemax"), architecture("fusemax"), model("bert").shapes(1024),
...                batch=64, heads=12)
>>> found.report.cycles
1695744
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass

import numpy as np

from einsum import Cascade
from sim import (
    Architecture,
    Binding,
    EinsumFacts,
    Mapping,
    MappingError,
    Report,
    Stage,
    Workload,
    buffer_reads,
    check_cycles,
    compute_rows,
    dram_cycles,
    evaluate_workload,
    memory_energy,
    stage_index,
    traffic_plan,
    workload,
)

from ._tiles import resolve_tiles

__all__ = ["OBJECTIVES", "Candidate", "SearchResult", "scored_candidates", "search",
           "search_workload"]

OBJECTIVES = ("latency", "energy", "edp")
_GRID_LIMIT = 250_000
"""Most whole mappings scored per loop order (options are trimmed beyond it)."""


@dataclass(frozen=True)
class Candidate:
    """A whole mapping with the cycles and energy the search scored for it."""

    mapping: Mapping
    cycles: int
    energy_j: float

    @property
    def edp(self) -> float:
        return self.cycles * self.energy_j


@dataclass(frozen=True)
class SearchResult:
    mapping: Mapping
    report: Report
    runners_up: tuple[Candidate, ...]
    evaluated: int
    pruned: int
    seconds: float


@dataclass(frozen=True)
class _Options:
    """The options of one Einsum: (unit, spatial) with cycles and energy per instance."""

    units: np.ndarray
    spatials: tuple[tuple[str, ...], ...]
    cycles: np.ndarray
    energy_pj: np.ndarray


@dataclass(frozen=True)
class _Scored:
    """Every combination of options under one loop order."""

    loops: tuple[str, ...]
    tiles: dict[str, int]
    options: tuple[_Options, ...]
    grid: np.ndarray
    cycles: np.ndarray
    energy_pj: np.ndarray
    choices: int


def _spatial_choices(f: EinsumFacts, axes: int,
                     sizes: MappingABC[str, int]) -> list[tuple[str, ...]]:
    """Ordered assignments of the Einsum's ranks to array axes. A rank the Einsum steps
    through one element at a time (its recurrence) cannot be spread over PEs."""
    ranks = [r for r in dict.fromkeys(f.ranks) if sizes[r] > 1 and r != f.stepping]
    return list(itertools.permutations(ranks, min(axes, len(ranks)))) or [()]


def _loop_orders(w: Workload) -> list[tuple[str, ...]]:
    layout, sizes = w.layout, w.sizes
    outers = [outer for outer, _inner in layout.splits.values()]
    outputs = [r for name in layout.outputs for r in layout.ranks[name]]
    largest = max((sizes[r] for r in outputs), default=0)
    # The outputs' large ranks (within 2x of the largest: an output indexed by both keys and
    # queries, like a prefix attention's, needs both tiled), the stream, the split tiles.
    big = [r for r in outputs if sizes[r] * 2 >= largest]
    stream = w.cascade.stream
    stream = stream if stream in sizes and stream not in layout.splits else None
    base = [r for r in dict.fromkeys([*outers, *big, stream]) if r is not None]
    orders: list[tuple[str, ...]] = [()]
    for k in range(1, len(base) + 1):
        orders.extend(itertools.permutations(base, k))
    return orders


def _template(w: Workload, units: MappingABC[str, tuple[str, tuple[str, ...]]],
              loops: tuple[str, ...], tiles: MappingABC[str, int | str]) -> Mapping:
    layout = w.layout
    return Mapping(
        name="searched",
        bindings={n: Binding(u, s) for n, (u, s) in units.items()},
        dram_loops=loops, tiles=dict(tiles),
        placement={n: "spill" for n in w.facts if n not in layout.outputs},
        stages=(Stage(tuple(w.facts)),), memory="overlapped")


def _pareto(cycles: np.ndarray, energy: np.ndarray) -> np.ndarray:
    """Indices of the rows no other row beats in both cycles and energy (ties kept once)."""
    order = np.lexsort((energy, cycles))
    keep, best = [], math.inf
    for k in order:
        if energy[k] < best:
            keep.append(k)
            best = energy[k]
    return np.array(keep, dtype=np.int64)


def _key(objective: str, cycles: np.ndarray, energy: np.ndarray) -> list[np.ndarray]:
    """Sort keys, most significant last (numpy's lexsort)."""
    if objective == "latency":
        return [energy, cycles]
    if objective == "energy":
        return [cycles, energy]
    return [energy, cycles, cycles * energy]


@dataclass(frozen=True)
class _LoopPlan:
    """What a loop order fixes whatever the units: tiles, DRAM words, what the buffer holds."""

    tiles: dict[str, int]
    traffic: dict[str, int]
    held: frozenset[str]


def _loop_plan(w: Workload, arch: Architecture, loops: tuple[str, ...],
               units: MappingABC[str, tuple[str, tuple[str, ...]]]) -> _LoopPlan | MappingError:
    # Tiles, traffic and occupancy depend on the buffer's size in words, not on the units,
    # bandwidth or clock: a sweep over those reuses them.
    key = ("loop plan", loops, arch.global_buffer.capacity_bytes, arch.word_bytes)
    found = w.memo.get(key)
    if found is None:
        outers = {o for o, _i in w.layout.splits.values()}
        template = _template(w, units, loops, {r: "auto" for r in loops if r not in outers})
        mapping = resolve_tiles(w, arch, template)
        stage_of = stage_index(w.cascade, mapping)
        try:
            plans, traffic, _by_stage = traffic_plan(w, arch, mapping, stage_of)
        except MappingError as error:
            found = error
        else:
            found = _LoopPlan({r: int(t) for r, t in mapping.tiles.items()}, traffic,
                              frozenset(plans[0].occupancy))
        w.memo[key] = found
    return found


def _able(arch: Architecture, f: EinsumFacts) -> list[str]:
    """The units that can compute every op kind of ``f``."""
    return [u for u in arch.units if all(kind in arch.units[u].ops for kind in f.ops)]


@dataclass(frozen=True)
class _Combos:
    """Every combination of the Einsums' options: the busiest unit's cycles per instance
    and the energy of the compute and the buffer reads, one row per combination."""

    options: tuple[_Options, ...]
    grid: np.ndarray
    busiest: np.ndarray
    energy_pj: np.ndarray
    choices: int
    """(unit, spatial) choices before dominated ones were dropped."""


def _combos(w: Workload, arch: Architecture, held: frozenset[str],
            objective: str) -> _Combos:
    # The same for every loop order that holds the same tensors, and for every bandwidth,
    # clock and buffer size: only the units and the buffer's read energy matter.
    gb = arch.global_buffer
    read_pj = (gb.read_pj_per_row or 0.0) / gb.row_values
    units = list(arch.units)
    key = ("combos", held, objective, read_pj, tuple(arch.units[u].cost_key for u in units))
    found = w.memo.get(key)
    if found is not None:
        return found
    options = []
    choices = 0
    for f in w.facts.values():
        unit_ids, spatials, cycles, energy = [], [], [], []
        for name in _able(arch, f):
            j = units.index(name)
            spatial_choices = _spatial_choices(f, len(arch.units[name].shape), w.sizes)
            r = compute_rows(f, arch, name, spatial_choices, w.sizes, memo=w.memo)
            choices += len(spatial_choices)
            pj = (sum(r.energy_pj.values()) * w.instances
                  + buffer_reads(f, r, held) * w.instances * read_pj)
            pj = np.broadcast_to(np.asarray(pj, dtype=float), r.cycles.shape)
            for k in _pareto(r.cycles, pj):
                unit_ids.append(j)
                spatials.append(spatial_choices[k])
                cycles.append(int(r.cycles[k]))
                energy.append(float(pj[k]))
        options.append(_Options(np.array(unit_ids), tuple(spatials),
                                np.array(cycles, dtype=np.int64), np.array(energy)))
    options = _trim(options, objective)
    grid = np.stack(np.meshgrid(*(np.arange(len(o.cycles)) for o in options),
                                indexing="ij"), axis=-1).reshape(-1, len(options))
    load = np.zeros((len(grid), len(units)), dtype=np.int64)
    energy_pj = np.zeros(len(grid))
    for i, o in enumerate(options):
        # Each option's cycles in its own unit's column, gathered for every combination.
        per_unit = np.zeros((len(o.cycles), len(units)), dtype=np.int64)
        per_unit[np.arange(len(o.cycles)), o.units] = o.cycles
        load += per_unit[grid[:, i]]
        energy_pj = energy_pj + o.energy_pj[grid[:, i]]
    found = _Combos(tuple(options), grid, load.max(axis=1), energy_pj, choices)
    w.memo[key] = found
    return found


def _score_orders(w: Workload, arch: Architecture, objective: str,
                  progress: Callable[[int, int], None] | None = None,
                  ) -> Iterator[_Scored | MappingError]:
    first = {}
    for f in w.facts.values():
        able = _able(arch, f)
        if not able:
            raise MappingError(f"no unit of {arch.name} can compute {f.name} "
                               f"(it needs {', '.join(f.ops)})")
        first[f.name] = (able[0], ())
    orders = _loop_orders(w)
    for done, loops in enumerate(orders):
        if progress is not None:
            progress(done, len(orders))
        plan = _loop_plan(w, arch, loops, first)
        if isinstance(plan, MappingError):
            yield plan
            continue
        dram = dram_cycles(w, arch, sum(plan.traffic.values()))
        try:
            check_cycles(dram, arch, f"{w.cascade.name}'s DRAM traffic with loops "
                                     f"{' -> '.join(loops) or '(none)'}")
        except MappingError as error:
            yield error
            continue
        fixed_pj = sum(memory_energy(w, arch, plan.traffic, 0).energy_pj.values())
        combos = _combos(w, arch, plan.held, objective)
        total = np.maximum(combos.busiest * w.instances, dram)
        yield _Scored(loops, plan.tiles, combos.options, combos.grid, total,
                      combos.energy_pj + fixed_pj, combos.choices)


def _trim(options: list[_Options], objective: str) -> list[_Options]:
    """Drop the worst options of the Einsum with the most until the grid is small enough."""
    while math.prod(len(o.cycles) for o in options) > _GRID_LIMIT:
        i = max(range(len(options)), key=lambda k: len(options[k].cycles))
        o = options[i]
        keep = np.lexsort(_key(objective, o.cycles, o.energy_pj))[:-1]
        options[i] = _Options(o.units[keep], tuple(o.spatials[k] for k in keep),
                              o.cycles[keep], o.energy_pj[keep])
    return options


def _first(keys: list[np.ndarray], count: int) -> np.ndarray:
    """Indices of the ``count`` smallest rows under lexicographic ``keys`` (most significant
    last); a linear scan when only the best is wanted."""
    if count > 1:
        return np.lexsort(keys)[:count]
    rows = np.arange(len(keys[0]))
    for key in reversed(keys):
        rows = rows[key[rows] == key[rows].min()]
    return rows[:1]


def _mapping(w: Workload, arch: Architecture, scored: _Scored, row: int) -> Mapping:
    units = list(arch.units)
    bindings = {}
    for f, o, k in zip(w.facts.values(), scored.options, scored.grid[row], strict=True):
        bindings[f.name] = (units[int(o.units[k])], o.spatials[k])
    return _template(w, bindings, scored.loops, scored.tiles)


def _check(objective: str, arch: Architecture) -> None:
    if objective not in OBJECTIVES:
        raise MappingError(f"objective must be one of {', '.join(OBJECTIVES)}, "
                           f"not {objective!r}")
    if objective != "latency" and not arch.energy_modelled:
        raise MappingError(f"architecture {arch.name} has no energy model; its only "
                           "objective is latency")


def search(cascade: Cascade, arch: Architecture, shapes: MappingABC[str, int], *,
           batch: int = 1, heads: int = 1, objective: str = "latency",
           keep: int = 5, progress: Callable[[int, int], None] | None = None,
           ) -> SearchResult:
    """Best mapping of ``cascade`` on ``arch`` by ``objective``, with the runners-up;
    ``progress(done, total)`` hears of each DRAM loop order started."""
    return search_workload(workload(cascade, shapes, batch=batch, heads=heads), arch,
                           objective=objective, keep=keep, progress=progress)


def search_workload(w: Workload, arch: Architecture, *, objective: str = "latency",
                    keep: int = 5, progress: Callable[[int, int], None] | None = None,
                    ) -> SearchResult:
    """:func:`search` of a workload built once."""
    _check(objective, arch)
    start = time.perf_counter()
    best: list[tuple[tuple[float, ...], _Scored, int]] = []
    evaluated = 0
    last_error = ""
    for scored in _score_orders(w, arch, objective, progress):
        if isinstance(scored, MappingError):
            last_error = scored.message
            continue
        evaluated += len(scored.grid)
        keys = _key(objective, scored.cycles, scored.energy_pj)
        for k in _first(keys, keep + 1):
            best.append((tuple(float(key[k]) for key in reversed(keys)), scored, int(k)))
    if not best:
        raise MappingError(f"no mapping of {w.cascade.name} fits {arch.name}; the last DRAM "
                           f"loop order tried: {last_error}")
    best.sort(key=lambda b: b[0])
    _best_key, scored, row = best[0]
    mapping = _mapping(w, arch, scored, row)
    report = evaluate_workload(w, arch, mapping)
    runners: list[Candidate] = []
    seen = {repr(mapping.to_dict())}
    for _k, s, r in best[1:]:
        if len(runners) == keep:
            break
        candidate = Candidate(_mapping(w, arch, s, r), int(s.cycles[r]),
                              float(s.energy_pj[r]) * 1e-12)
        text = repr(candidate.mapping.to_dict())
        if text not in seen:
            seen.add(text)
            runners.append(candidate)
    # Options dominated in both cycles and energy on their unit, under the winner's loops.
    pruned = scored.choices - sum(len(o.cycles) for o in scored.options)
    return SearchResult(mapping, report, tuple(runners), evaluated, pruned,
                        time.perf_counter() - start)


def scored_candidates(w: Workload, arch: Architecture, *, objective: str = "latency",
                      every: int = 1) -> Iterator[Candidate]:
    """Every ``every``-th mapping the search scores, with the score it gave it (for
    checking the search against :func:`sim.evaluate`)."""
    _check(objective, arch)
    for scored in _score_orders(w, arch, objective):
        if isinstance(scored, MappingError):
            continue
        for row in range(0, len(scored.grid), every):
            yield Candidate(_mapping(w, arch, scored, row), int(scored.cycles[row]),
                            float(scored.energy_pj[row]) * 1e-12)
