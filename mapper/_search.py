"""Mapping search: units, spatial ranks, DRAM loop orders and tiles, scored with the cost
rules over arrays.

For every DRAM loop order the tiles are chosen (:func:`resolve_tiles`), and with them what
the buffer holds and the DRAM traffic. Every Einsum then has options: a unit able to compute
it, on a systolic unit a dataflow (output, weight or input stationary), and an assignment of
its ranks to the unit's axes that the dataflow can run (:func:`sim.dataflow_problem`: only a
rank it reduces in place goes on an axis), each with its cycles over all instances (fill,
drain and folds included) and energy (ops, register files and the global-buffer reads its
operand widths cause), all from :func:`sim.compute_rows`, :func:`sim.total_cycles` and
:func:`sim.buffer_reads`. Options of one Einsum on one unit
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
1699572
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Collection, Iterator
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from einsum import Cascade
from sim import (
    DATAFLOWS,
    Architecture,
    Binding,
    ComputeRows,
    EinsumFacts,
    LevelTiling,
    Mapping,
    MappingError,
    Report,
    Stage,
    Unit,
    Workload,
    buffer_reads,
    buffer_writes,
    capacity_words,
    check_cycles,
    compute_rows,
    dataflow_problem,
    dram_cycles,
    evaluate_workload,
    forwardable,
    in_place_pairs,
    level_cycles,
    level_traffic,
    memory_energy,
    per_core,
    read_sets,
    stage_index,
    total_cycles,
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
    """The options of one Einsum: (unit, dataflow, spatial) with cycles (all instances)
    and energy."""

    units: np.ndarray
    spatials: tuple[tuple[str, ...], ...]
    dataflows: tuple[str | None, ...]
    cycles: np.ndarray
    energy_pj: np.ndarray
    saved_pj: dict[str, np.ndarray]
    """Per forwardable operand (:func:`sim.forwardable`), what reading it costs in each
    option: saved where its producer's option is on the same unit, spread the same way."""

    def taking(self, keep: np.ndarray) -> _Options:
        return _Options(self.units[keep], tuple(self.spatials[k] for k in keep),
                        tuple(self.dataflows[k] for k in keep), self.cycles[keep],
                        self.energy_pj[keep], {t: v[keep] for t, v in self.saved_pj.items()})


@dataclass(frozen=True)
class _Scored:
    """Every combination of options under one loop order: its latency is the busiest
    unit or DRAM, its energy the combination's and the traffic's."""

    loops: tuple[str, ...]
    tiles: dict[str, int]
    combos: _Combos
    dram: int
    """The slowest memory link: DRAM's cycles, or a level's."""
    fixed_pj: float
    levels: dict[str, dict[str, int]]
    """The tiles of each level below the global buffer (its loops are ``loops``)."""

    @property
    def options(self) -> tuple[_Options, ...]:
        return self.combos.options

    @property
    def shape(self) -> tuple[int, ...]:
        """Options per Einsum: row r picks ``np.unravel_index(r, shape)``."""
        return self.combos.shape

    @property
    def choices(self) -> int:
        return self.combos.choices

    @cached_property
    def cycles(self) -> np.ndarray:
        return np.maximum(self.combos.busiest, self.dram)

    @cached_property
    def energy_pj(self) -> np.ndarray:
        return self.combos.energy_pj + self.fixed_pj

    def cycles_of(self, row: int) -> int:
        return max(int(self.combos.busiest[row]), int(self.dram))

    def energy_of(self, row: int) -> float:
        return float(self.combos.energy_pj[row] + self.fixed_pj)

    def best(self, objective: str) -> int:
        """The row :func:`_first` picks by ``objective`` (the first of the best), found
        without scoring every row where the objective allows: under latency only rows
        the busiest unit or DRAM keeps at the least latency are looked at."""
        busiest, energy = self.combos.busiest, self.combos.energy_pj
        if objective == "latency":
            least = self.combos.least_busiest
            rows = np.flatnonzero(busiest <= self.dram) if least <= self.dram else \
                np.flatnonzero(busiest == least)
            spent = energy[rows] + self.fixed_pj
            return int(rows[np.argmax(spent == spent.min())])
        if objective == "energy":
            spent = energy + self.fixed_pj
            rows = np.flatnonzero(spent == spent.min())
            taken = np.maximum(busiest[rows], self.dram)
            return int(rows[np.argmax(taken == taken.min())])
        return int(_first(_key(objective, self.cycles, self.energy_pj), 1)[0])


def _spatial_choices(f: EinsumFacts, unit: Unit, sizes: MappingABC[str, int]
                     ) -> list[tuple[str | None, list[tuple[str, ...]]]]:
    """Per dataflow (None on a unit that is not systolic), the ordered assignments of the
    Einsum's ranks to array axes that it can run. A rank the Einsum steps through one
    element at a time (its recurrence) cannot be spread over PEs. Every axis gets a rank
    where a dataflow allows it; where it allows none so, fewer axes are used."""
    ranks = [r for r in dict.fromkeys(f.ranks) if sizes[r] > 1 and r != f.stepping]
    axes = len(unit.shape)
    if not unit.systolic:
        return [(None, list(itertools.permutations(ranks, min(axes, len(ranks)))) or [()])]
    found: list[tuple[str | None, list[tuple[str, ...]]]] = []
    for dataflow in DATAFLOWS:
        for used in range(min(axes, len(ranks)), -1, -1):
            legal = [s for s in itertools.permutations(ranks, used)
                     if dataflow_problem(f, unit, dataflow, s) is None]
            if legal:
                found.append((dataflow, legal))
                break
    return found


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


def _template(w: Workload,
              units: MappingABC[str, tuple[str, tuple[str, ...], str | None]],
              loops: tuple[str, ...], tiles: MappingABC[str, int | str],
              levels: MappingABC[str, MappingABC[str, int | str]] | None = None) -> Mapping:
    layout = w.layout
    return Mapping(
        levels={n: LevelTiling(loops, dict(t)) for n, t in (levels or {}).items()},
        name="searched",
        bindings={n: Binding(u, s, dataflow=d) for n, (u, s, d) in units.items()},
        dram_loops=loops, tiles=dict(tiles),
        placement={n: "spill" for n in w.facts if n not in layout.outputs},
        in_place=in_place_pairs(w), stages=(Stage(tuple(w.facts)),), memory="overlapped")


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
    levels: dict[str, dict[str, int]]
    """Tiles of each level below the global buffer."""
    level_words: tuple[int, ...]
    """Words crossing each level's link per instance."""
    sets: tuple[frozenset[str], ...]
    """Operands the arrays read from each on-chip level (:func:`sim.read_sets`)."""


def _loop_plan(w: Workload, arch: Architecture, loops: tuple[str, ...],
               units: MappingABC[str, tuple[str, tuple[str, ...], str | None]],
               ) -> _LoopPlan | MappingError:
    # Tiles, traffic and occupancy depend on the buffer's size in words, not on the units,
    # bandwidth or clock: a sweep over those reuses them.
    key = ("loop plan", loops, capacity_words(arch), arch.word_bytes,
           (tuple(arch.levels.items()), arch.cores) if arch.levels else None)
    found = w.memo.get(key)
    if found is None:
        outers = {o for o, _i in w.layout.splits.values()}
        auto = {r: "auto" for r in loops if r not in outers}
        template = _template(w, units, loops, auto, dict.fromkeys(arch.levels, auto))
        mapping = resolve_tiles(w, arch, template)
        stage_of = stage_index(w.cascade, mapping)
        try:
            plans, traffic, _by_stage = traffic_plan(w, arch, mapping, stage_of)
            levels = level_traffic(w, arch, mapping, stage_of, plans)
        except MappingError as error:
            found = error
        else:
            held = frozenset(plans[0].occupancy)
            found = _LoopPlan({r: int(t) for r, t in mapping.tiles.items()}, traffic, held,
                              {n: {r: int(t) for r, t in lt.tiles.items()}
                               for n, lt in mapping.levels.items()},
                              tuple(sum(lt.words.values()) for lt in levels),
                              tuple(read_sets(held, [lt.held for lt in levels])))
        w.memo[key] = found
    return found


def _able(arch: Architecture, f: EinsumFacts) -> list[str]:
    """The units that can compute every op kind of ``f``."""
    return [u for u in arch.units if all(kind in arch.units[u].ops for kind in f.ops)]


@dataclass(frozen=True)
class _UnitChoices:
    """What one Einsum can do on one unit: its (dataflow, spatial) choices, the compute
    rows of each dataflow's choices, and their cycles over all instances."""

    choices: tuple[tuple[str | None, tuple[str, ...]], ...]
    rows: tuple[ComputeRows, ...]
    cycles: np.ndarray
    compute_pj: float


def _unit_choices(w: Workload, arch: Architecture, f: EinsumFacts, name: str
                  ) -> _UnitChoices:
    # The same for every loop order, buffer, bandwidth and clock: only the unit matters.
    unit = arch.units[name]
    key = ("unit choices", f.name, unit.cost_id, arch.cores)
    found = w.memo.get(key)
    if found is None:
        choices: list[tuple[str | None, tuple[str, ...]]] = []
        rows = []
        # Which choices a dataflow allows does not depend on the axes' sizes.
        known = ("spatial choices", f.name, len(unit.shape), unit.systolic)
        allowed = w.memo.get(known)
        if allowed is None:
            allowed = w.memo[known] = _spatial_choices(f, unit, w.sizes)
        for dataflow, spatials in allowed:
            rows.append(compute_rows(f, arch, name, spatials, w.sizes, dataflow=dataflow))
            choices.extend((dataflow, s) for s in spatials)
        found = _UnitChoices(tuple(choices), tuple(rows),
                             np.concatenate([total_cycles(r, per_core(w, arch))
                                             for r in rows]),
                             sum(rows[0].energy_pj.values()) * w.instances)
        w.memo[key] = found
    return found


def _unit_options(w: Workload, arch: Architecture, f: EinsumFacts, name: str,
                  every: _UnitChoices, sets: tuple[frozenset[str], ...],
                  read_pj: tuple[float, ...],
                  ) -> tuple[list[int], list[int], list[float]]:
    """The choices of ``every`` that no other beats in both cycles and energy (the compute
    and the reads of the operands held in each on-chip level, ``sets``, at ``read_pj`` a
    word): indices, cycles, energy."""
    operands_held: tuple[object, ...] = (
        tuple(o.source in sets[0] for o in f.operands) if len(sets) == 1 else
        tuple(tuple(o.source in held for o in f.operands) for held in sets))
    key = ("unit options", f.name, arch.units[name].cost_id, operands_held, read_pj)
    found = w.memo.get(key)
    if found is None:
        pj = every.compute_pj
        for held, per_word in zip(sets, read_pj, strict=True):
            if not per_word and len(sets) > 1:
                continue
            pj = pj + _choice_reads(f, every, held) * w.instances * per_word
        keep = _pareto(every.cycles, pj)
        found = ([int(k) for k in keep], [int(every.cycles[k]) for k in keep],
                 [float(pj[k]) for k in keep])
        w.memo[key] = found
    return found


def _read_pj(w: Workload, arch: Architecture, f: EinsumFacts, name: str,
             every: _UnitChoices, sets: tuple[frozenset[str], ...],
             read_pj: tuple[float, ...], tensor: str) -> np.ndarray:
    """What reading ``tensor`` costs ``f`` in each of ``every``'s choices, from the level
    it is read from (none: nothing)."""
    for held, per_word in zip(sets, read_pj, strict=True):
        if tensor in held:
            key = ("read pj", f.name, arch.units[name].cost_id, arch.cores, tensor, per_word)
            found = w.memo.get(key)
            if found is None:
                found = w.memo[key] = (_choice_reads(f, every, {tensor}) * w.instances
                                       * per_word)
            return found
    return np.zeros(len(every.choices))


def _choice_reads(f: EinsumFacts, every: _UnitChoices, held: Collection[str]) -> np.ndarray:
    """Words ``f`` reads of the operands ``held`` in each of ``every``'s choices."""
    return np.concatenate([np.broadcast_to(buffer_reads(f, r, held), r.cycles.shape)
                           for r in every.rows])


@dataclass(frozen=True)
class _Combos:
    """Every combination of the Einsums' options: the busiest unit's cycles (all
    instances) and the energy of the compute and the buffer reads, one row per
    combination."""

    options: tuple[_Options, ...]
    shape: tuple[int, ...]
    busiest: np.ndarray
    energy_pj: np.ndarray
    choices: int
    """(unit, dataflow, spatial) choices before dominated ones were dropped."""
    least_busiest: int


def _combos(w: Workload, arch: Architecture, sets: tuple[frozenset[str], ...],
            objective: str) -> _Combos:
    # The same for every loop order that holds the same tensors, and for every bandwidth,
    # clock and buffer size: only the units and the buffers' read energy matter.
    gb = arch.global_buffer
    read_pj: tuple[float, ...] = ((gb.read_pj_per_row or 0.0) / gb.row_values,)
    if arch.levels:
        read_pj += tuple((lv.read_pj_per_row or 0.0) / lv.row_values
                         for lv in arch.levels.values())
    units = list(arch.units)
    key = ("combos", sets, objective, read_pj, arch.cores,
           tuple(arch.units[u].cost_id for u in units))
    found = w.memo.get(key)
    if found is not None:
        return found
    options = []
    choices = 0
    for f in w.facts.values():
        unit_ids, spatials, dataflows, cycles, energy = [], [], [], [], []
        passable = forwardable(w, f)
        saved: dict[str, list[float]] = {t: [] for t in passable}
        for name in _able(arch, f):
            j = units.index(name)
            every = _unit_choices(w, arch, f, name)
            choices += len(every.choices)
            kept, kept_cycles, kept_pj = _unit_options(w, arch, f, name, every, sets, read_pj)
            for t in passable:
                saved[t].extend(_read_pj(w, arch, f, name, every, sets, read_pj, t)[kept])
            for k, c, pj in zip(kept, kept_cycles, kept_pj, strict=True):
                unit_ids.append(j)
                dataflows.append(every.choices[k][0])
                spatials.append(every.choices[k][1])
                cycles.append(c)
                energy.append(pj)
        options.append(_Options(np.array(unit_ids), tuple(spatials), tuple(dataflows),
                                np.array(cycles, dtype=np.int64), np.array(energy),
                                {t: np.array(v) for t, v in saved.items()}))
    options = _trim(options, objective)
    # Every combination at once, as an array with one axis per Einsum (its options): each
    # unit's load is the broadcast sum of its Einsums' cycles, the busiest unit the most.
    shape = tuple(len(o.cycles) for o in options)

    def along(i: int, values: np.ndarray) -> np.ndarray:
        return values.reshape([-1 if k == i else 1 for k in range(len(shape))])

    busiest = np.zeros(shape, dtype=np.int64)
    for j in range(len(units)):
        load = np.zeros((), dtype=np.int64)
        for i, o in enumerate(options):
            if (o.units == j).any():
                load = load + along(i, np.where(o.units == j, o.cycles, 0))
        if load.ndim:
            busiest = np.maximum(busiest, load)
    energy_pj = np.zeros(())
    for i, o in enumerate(options):
        energy_pj = energy_pj + along(i, o.energy_pj)
    # An operand its producer leaves in the same PEs is not read back (sim.forwarded)
    position = {f: i for i, f in enumerate(w.facts)}
    spread: dict[tuple[str, ...], int] = {}
    for i, o in enumerate(options):
        for source, pj in o.saved_pj.items():
            p = options[position[source]]
            mine = np.array([spread.setdefault(x, len(spread)) for x in o.spatials])
            theirs = np.array([spread.setdefault(x, len(spread)) for x in p.spatials])
            same = ((p.units[:, None] == o.units[None, :])
                    & (theirs[:, None] == mine[None, :]))
            if not (same.any() and pj.any()):
                continue
            grid = np.where(same, -pj[None, :], 0.0)
            lo, hi = sorted((position[source], i))
            shaped = grid if position[source] < i else grid.T
            energy_pj = energy_pj + shaped.reshape(
                [shape[k] if k in (lo, hi) else 1 for k in range(len(shape))])
    busiest = busiest.reshape(-1)
    found = _Combos(tuple(options), shape, busiest,
                    np.broadcast_to(energy_pj, shape).reshape(-1), choices,
                    int(busiest.min()))
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
        first[f.name] = (able[0], (), None)
    orders = _loop_orders(w)
    for done, loops in enumerate(orders):
        if progress is not None:
            progress(done, len(orders))
        plan = _loop_plan(w, arch, loops, first)
        if isinstance(plan, MappingError):
            yield plan
            continue
        dram = dram_cycles(w, arch, sum(plan.traffic.values()))
        for name, words in zip(arch.levels, plan.level_words, strict=True):
            dram = max(dram, level_cycles(w, arch, name, words))
        try:
            check_cycles(dram, arch, f"{w.cascade.name}'s DRAM traffic with loops "
                                     f"{' -> '.join(loops) or '(none)'}")
        except MappingError as error:
            yield error
            continue
        fixed_pj = sum(memory_energy(w, arch, plan.traffic, 0, plan.level_words,
                                     writes=buffer_writes(w, plan.held)
                                     ).energy_pj.values())
        combos = _combos(w, arch, plan.sets, objective)
        yield _Scored(loops, plan.tiles, combos, dram, fixed_pj, plan.levels)


def _trim(options: list[_Options], objective: str) -> list[_Options]:
    """Drop the worst options of the Einsum with the most until the grid is small enough."""
    while math.prod(len(o.cycles) for o in options) > _GRID_LIMIT:
        i = max(range(len(options)), key=lambda k: len(options[k].cycles))
        o = options[i]
        options[i] = o.taking(np.lexsort(_key(objective, o.cycles, o.energy_pj))[:-1])
    return options


def _first(keys: list[np.ndarray], count: int) -> np.ndarray:
    """Indices of the ``count`` smallest rows under lexicographic ``keys`` (most significant
    last); a linear scan when only the best is wanted."""
    if count > 1:
        return np.lexsort(keys)[:count]
    rows = np.flatnonzero(keys[-1] == keys[-1].min())
    for key in reversed(keys[:-1]):
        if len(rows) == 1:
            break
        column = key[rows]
        rows = rows[column == column.min()]
    return rows[:1]


def _mapping(w: Workload, arch: Architecture, scored: _Scored, row: int) -> Mapping:
    units = list(arch.units)
    bindings = {}
    picked = np.unravel_index(row, scored.shape)
    for f, o, k in zip(w.facts.values(), scored.options, picked, strict=True):
        k = int(k)
        bindings[f.name] = (units[int(o.units[k])], o.spatials[k], o.dataflows[k])
    return _template(w, bindings, scored.loops, scored.tiles, scored.levels)


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
        evaluated += len(scored.combos.busiest)
        if keep == 0:
            k = scored.best(objective)
            keys = _key(objective, np.array([scored.cycles_of(k)]),
                        np.array([scored.energy_of(k)]))
            best.append((tuple(float(key[0]) for key in reversed(keys)), scored, k))
            continue
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
        for row in range(0, len(scored.combos.busiest), every):
            yield Candidate(_mapping(w, arch, scored, row), int(scored.cycles[row]),
                            float(scored.energy_pj[row]) * 1e-12)
