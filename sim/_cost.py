"""Analytical cost of a cascade under a mapping on a spatial-array architecture.

Everything comes from (cascade, architecture, mapping, workload) data:

* compute: each Einsum's exact ops (``einsum.analyze``) times the cycles each op kind costs
  on its unit, over the points each PE gets when the bound ranks are spread across the
  array axes (``ceil(size / axis)`` per spatial rank);
* schedule: stages run in sequence, the Einsums of one stage overlap on their units, a
  ``drain`` stage exposes a reduction across the array (one axis length per tile);
* DRAM traffic: tensors placed in DRAM are read once per iteration of every DRAM loop that
  does not index them and lies outside one that does (Timeloop's reuse rule); intermediates
  in DRAM are written once and read once per later stage or pass that consumes them;
* buffer occupancy: staged input tiles, the carried state of recurrences and intermediates
  kept between passes; ``auto`` tiles take the largest power of two that fits, ``spill``
  placements send the part that does not fit to DRAM, anything else over capacity makes
  the mapping invalid (:class:`MappingError` says what does not fit);
* energy: actions x energy per action (ops per unit, register-file accesses per point,
  global-buffer rows, DRAM accesses); area from the per-PE area of each array.

>>> from einsum import load, model
>>> from mapper import architecture, study_mapping
>>> r = evaluate(load("fusemax"), architecture("fusemax"), study_mapping("fusemax", "binding"),
...              model("bert").shapes(1024), batch=64, heads=12)
>>> r.cycles, round(r.utilisation["array2d"], 4), round(r.utilisation["array1d"], 4)
(1892352, 0.8896, 1.0)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import Any

from einsum import Bound, Cascade, CascadeError, Einsum, Ref, analyze, rank_of, validate
from einsum._validate import Layout
from mapper._arch import Architecture
from mapper._mapping import Mapping, Stage

__all__ = ["Compute", "EinsumReport", "MappingError", "Report", "einsum_compute", "evaluate"]


class MappingError(CascadeError):
    """A mapping that cannot run: unknown unit, unsupported op, over-capacity buffer."""


@dataclass(frozen=True)
class EinsumReport:
    name: str
    unit: str | None
    cycles: int
    """Cycles per (batch, head) on its unit."""
    busy_pe_cycles: int
    ops: dict[str, int]
    stage: int


@dataclass(frozen=True)
class Report:
    """Whole-workload costs (all batches and heads)."""

    cascade: str
    architecture: str
    mapping: str
    shapes: dict[str, int]
    instances: int
    cycles: int
    seconds: float
    compute_cycles: int
    dram_cycles: int
    utilisation: dict[str, float]
    unit_cycles: dict[str, int]
    dram_bytes: int
    dram_bytes_by_tensor: dict[str, int]
    buffer_bytes: int
    buffer_capacity_bytes: int
    tiles: dict[str, int]
    spilled: dict[str, float]
    energy_pj: dict[str, float]
    """Energy by component; complete only when ``energy_modelled``."""
    energy_modelled: bool
    accesses: dict[str, float]
    """Actions per level: DRAM accesses, global-buffer rows, register-file reads/writes."""
    area_mm2: float | None
    einsums: tuple[EinsumReport, ...] = field(default=())

    @property
    def energy_j(self) -> float:
        return sum(self.energy_pj.values()) * 1e-12

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["energy_j"] = self.energy_j
        return data


# ----- ranks, views and placement


def _view_source(cascade: Cascade, tensor: str) -> str:
    """``BK`` of ``BK[e,m1,m0] = K[e,m1*M0+m0]`` is a view of ``K``."""
    names = {e.name for e in cascade.einsums}
    while tensor in names:
        e = cascade.einsum(tensor)
        if not isinstance(e.expr, Ref) or e.reduced_ranks:
            break
        tensor = e.expr.tensor
    return tensor


def _related(layout: Layout, ranks: tuple[str, ...]) -> set[str]:
    """Ranks, their split parts and the ranks they split from."""
    found = set(ranks)
    changed = True
    while changed:
        changed = False
        for whole, (outer, inner) in layout.splits.items():
            group = {whole, outer, inner}
            if found & group and not group <= found:
                found |= group
                changed = True
    return found


@dataclass(frozen=True)
class _Plan:
    """The DRAM loops, tiles and buffer contents of one stage."""

    loops: tuple[str, ...]
    tiles: dict[str, int]
    spilled: dict[str, float]
    occupancy: dict[str, int]


@dataclass
class _Context:
    cascade: Cascade
    layout: Layout
    arch: Architecture
    mapping: Mapping
    shapes: dict[str, int]
    levels: dict[str, int]
    stage_of: dict[str, int]

    def words(self, ranks: tuple[str, ...]) -> int:
        return math.prod(self.shapes[r] for r in ranks)

    def trip(self, rank: str, tiles: dict[str, int]) -> int:
        return -(-self.shapes[rank] // tiles.get(rank, 1))

    def extent(self, rank: str, loops: tuple[str, ...], tiles: dict[str, int]) -> int:
        """Elements of ``rank`` on chip at once under the DRAM loops."""
        split = self.layout.splits.get(rank)
        if split is not None and split[0] in loops:
            return self.shapes[split[1]] * tiles.get(split[0], 1)
        if rank in loops:
            return min(tiles.get(rank, 1), self.shapes[rank])
        return self.shapes[rank]

    def refetch(self, ranks: tuple[str, ...], plan: _Plan) -> int:
        relevant = _related(self.layout, ranks)
        inner = max((i for i, r in enumerate(plan.loops) if r in relevant), default=-1)
        return math.prod(self.trip(r, plan.tiles) for r in plan.loops[:inner]
                         if r not in relevant)

    def producer_group(self, tensor: str) -> tuple[int, int] | None:
        """(stage, pass) of an Einsum. Stages of an overlapped schedule are steps within
        one tile, so only the pass separates them; per-stage stages run whole."""
        if tensor not in self.stage_of:
            return None
        stage = self.stage_of[tensor] if self.mapping.memory == "per_stage" else 0
        return stage, self.levels[tensor]


def _stage_index(cascade: Cascade, mapping: Mapping) -> dict[str, int]:
    stage_of: dict[str, int] = {}
    for i, stage in enumerate(mapping.stages):
        for name in stage.einsums:
            if name in stage_of:
                raise MappingError(f"mapping {mapping.name}: {name} is in two stages")
            stage_of[name] = i
    for e in cascade.einsums:
        if e.name not in stage_of and _has_ops(e):
            raise MappingError(f"mapping {mapping.name}: {e.name} is in no stage")
    return stage_of


def _has_ops(e: Einsum) -> bool:
    return not (isinstance(e.expr, Ref) and not e.reduced_ranks)


# ----- compute


def _temporal_points(e: Einsum, spatial: tuple[str, ...], axes: tuple[int, ...],
                     shapes: dict[str, int]) -> int:
    ranks = [rank_of(v) for v in e.iteration_ranks]
    total = 1
    for r in ranks:
        if r in spatial:
            total *= -(-shapes[r] // axes[spatial.index(r)])
        else:
            total *= shapes[r]
    return total


# ----- buffer and traffic


def _resident(ctx: _Context, stages: frozenset[int]) -> list[tuple[str, tuple[str, ...], bool]]:
    """(tensor, ranks, kept whole along the stream) for what ``stages`` keep on chip:
    its staged input tiles, the carried state of its recurrences and the intermediates it
    produces or consumes that live from one pass (or stage) to a later one."""
    cascade, layout = ctx.cascade, ctx.layout
    members = [e for e in cascade.einsums if ctx.stage_of.get(e.name) in stages]
    held: dict[str, tuple[tuple[str, ...], bool]] = {}
    for e in members:
        for ref in e.refs:
            source = _view_source(cascade, ref.tensor)
            if source in layout.inputs:
                held.setdefault(source, (layout.ranks[source], False))
        rank = layout.iterative.get(e.name)
        if rank is not None:
            held[e.name] = (tuple(r for r in layout.ranks[e.name] if r != rank), False)
    for tensor in _between_passes(ctx):
        users = {ctx.stage_of.get(tensor)} | {ctx.stage_of.get(c.name)
                                               for c in cascade.einsums
                                               if any(r.tensor == tensor for r in c.refs)}
        if users & stages:
            held[tensor] = (layout.ranks[tensor], True)
    return [(t, ranks, whole) for t, (ranks, whole) in held.items()]


def _between_passes(ctx: _Context) -> list[str]:
    """On-chip intermediates read by a later pass or stage than the one producing them."""
    found = []
    for e in ctx.cascade.einsums:
        if (e.name in ctx.layout.iterative or not _has_ops(e)
                or ctx.mapping.placement.get(e.name) == "dram"):
            continue
        group = ctx.producer_group(e.name)
        for c in ctx.cascade.einsums:
            if c.name != e.name and any(r.tensor == e.name for r in c.refs):
                if ctx.producer_group(c.name) not in (None, group):
                    found.append(e.name)
                    break
    return found


def _accumulated(ctx: _Context, stages: frozenset[int],
                 loops: tuple[str, ...]) -> list[tuple[str, tuple[str, ...], bool]]:
    """Outputs reduced over a rank that a DRAM loop walks: their tile accumulates on chip."""
    held = []
    for e in ctx.cascade.einsums:
        if ctx.stage_of.get(e.name) in stages and e.name in ctx.layout.outputs:
            reduced = _related(ctx.layout, tuple(rank_of(v) for v in e.reduced_ranks))
            if reduced & set(loops):
                held.append((e.name, ctx.layout.ranks[e.name], False))
    return held


def _occupancy(ctx: _Context, held: list[tuple[str, tuple[str, ...], bool]],
               loops: tuple[str, ...], tiles: dict[str, int]) -> dict[str, int]:
    """Words of each held tensor under ``tiles``."""
    stream = _related(ctx.layout, (ctx.cascade.stream,))
    return {t: math.prod(ctx.shapes[r] if whole and r in stream else ctx.extent(r, loops, tiles)
                         for r in ranks)
            for t, ranks, whole in held}


def _plan(ctx: _Context, stages: frozenset[int]) -> _Plan:
    """Choose the ``auto`` tiles of stages that share the buffer: each, in turn, the
    largest power of two that fits."""
    spec = ctx.mapping.stages[min(stages)]
    loops = spec.dram_loops if spec.dram_loops is not None else ctx.mapping.dram_loops
    wanted = spec.tiles if spec.tiles is not None else ctx.mapping.tiles
    capacity = ctx.arch.global_buffer.capacity_bytes // ctx.arch.word_bytes
    for rank in wanted:
        if rank not in ctx.shapes:
            raise MappingError(f"mapping {ctx.mapping.name}: tile for unknown rank {rank}")
    fixed = {r: int(t) for r, t in wanted.items() if t != "auto"}
    auto = [r for r, t in wanted.items() if t == "auto"]
    spill = {t for t, where in ctx.mapping.placement.items() if where == "spill"}
    held = [*_resident(ctx, stages), *_accumulated(ctx, stages, loops)]

    def fits(tiles: dict[str, int]) -> tuple[bool, dict[str, float], dict[str, int]]:
        occupancy = _occupancy(ctx, held, loops, tiles)
        fixed_words = sum(w for t, w in occupancy.items() if t not in spill)
        spill_words = sum(w for t, w in occupancy.items() if t in spill)
        if fixed_words > capacity:
            return False, {}, occupancy
        room = capacity - fixed_words
        fraction = 0.0 if spill_words <= room else 1 - room / spill_words
        return True, {t: fraction for t in occupancy if t in spill}, occupancy

    tiles = {**{r: 1 for r in auto}, **fixed}
    for rank in auto:
        size = 1
        while size * 2 <= ctx.shapes[rank] and fits({**tiles, rank: size * 2})[0]:
            size *= 2
        tiles[rank] = size
    ok, spilled, occupancy = fits(tiles)
    if not ok:
        word = ctx.arch.word_bytes
        need = sum(w for t, w in occupancy.items() if t not in spill) * word
        parts = ", ".join(f"{t} {w * word:,} B" for t, w in occupancy.items())
        raise MappingError(f"mapping {ctx.mapping.name} needs {need:,} B of global buffer "
                           f"({parts}) but {ctx.arch.name} has "
                           f"{ctx.arch.global_buffer.capacity_bytes:,} B")
    return _Plan(loops, tiles, spilled, occupancy)


def _plans(ctx: _Context) -> dict[int, _Plan]:
    """One plan per stage when stages run whole one after another; one shared plan when
    the stages are steps of one pipelined tile loop and share the buffer."""
    stages = [i for i, s in enumerate(ctx.mapping.stages) if not s.drain]
    if ctx.mapping.memory == "per_stage":
        return {i: _plan(ctx, frozenset({i})) for i in stages}
    for i in stages:
        spec = ctx.mapping.stages[i]
        if spec.dram_loops is not None or spec.tiles is not None:
            raise MappingError(f"mapping {ctx.mapping.name}: stages of an overlapped "
                               "schedule share one tiling; give dram_loops and tiles on the "
                               "mapping, not on a stage")
    shared = _plan(ctx, frozenset(stages))
    return dict.fromkeys(stages, shared)


def _dram_traffic(ctx: _Context, plans: dict[int, _Plan]) -> tuple[dict[str, int],
                                                                    dict[int, int]]:
    """Words moved to and from DRAM per (batch, head), by tensor and by stage."""
    cascade, layout = ctx.cascade, ctx.layout
    placement = ctx.mapping.placement
    by_tensor: dict[str, int] = {}
    by_stage: dict[int, int] = {}

    def add(tensor: str, stage: int, words: float) -> None:
        by_tensor[tensor] = by_tensor.get(tensor, 0) + round(words)
        by_stage[stage] = by_stage.get(stage, 0) + round(words)

    def share(tensor: str) -> float:
        if placement.get(tensor) == "dram":
            return 1.0
        return plans[ctx.stage_of[tensor]].spilled.get(tensor, 0.0)

    seen: set[tuple[str, object]] = set()
    for e in cascade.einsums:
        if not _has_ops(e):
            continue
        stage = ctx.stage_of[e.name]
        for ref in e.refs:
            source = _view_source(cascade, ref.tensor)
            if source in layout.inputs:
                if (source, stage) not in seen:
                    seen.add((source, stage))
                    ranks = layout.ranks[source]
                    add(source, stage, ctx.words(ranks) * ctx.refetch(ranks, plans[stage]))
                continue
            producer = ctx.producer_group(source)
            if (source not in placement or source == e.name or producer is None
                    or any(isinstance(i, Bound) for i in ref.indices)):
                continue
            consumer = ctx.producer_group(e.name)
            assert consumer is not None
            key: object = (("stage", consumer[0]) if consumer[0] != producer[0] else
                           ("pass", consumer[1]) if consumer[1] != producer[1] else None)
            if key is None or (source, key) in seen:
                continue
            seen.add((source, key))
            add(source, stage, ctx.words(layout.ranks[source]) * share(source))
    for e in cascade.einsums:
        if e.name in layout.outputs:
            # A DRAM loop over a rank the output does not have, outside one it has, sends
            # partial results out and back: written once per visit, read back on revisits.
            visits = ctx.refetch(layout.ranks[e.name], plans[ctx.stage_of[e.name]])
            add(e.name, ctx.stage_of[e.name], ctx.words(layout.ranks[e.name]) * (2 * visits - 1))
        elif e.name in placement and any(t == e.name for t, _k in seen):
            add(e.name, ctx.stage_of[e.name], ctx.words(layout.ranks[e.name]) * share(e.name))
    return by_tensor, by_stage


# ----- the whole evaluation


@dataclass(frozen=True)
class Compute:
    """One Einsum on one unit, per (batch, head)."""

    cycles: int
    busy: int
    """PE-cycles of work (cycles if every PE were busy)."""
    energy_pj: dict[str, float]
    rf_reads: int
    rf_writes: int


def einsum_compute(e: Einsum, ops: MappingABC[str, int], points: int, arch: Architecture,
                   unit_name: str, spatial: tuple[str, ...], sizes: MappingABC[str, int],
                   mapping_name: str = "candidate", operands: str | None = None) -> Compute:
    """Cycles, busy PE-cycles and energy of ``e`` with ``spatial`` ranks on the unit's axes.

    Every point writes (or accumulates) its result in the PE's register file; when the
    operands are kept in the register file (``operands="register_file"``, the default of a
    non-systolic unit) every point also reads them there.
    """
    unit = arch.units[unit_name]
    for rank in spatial:
        if rank not in sizes:
            raise MappingError(f"mapping {mapping_name}: {e.name} maps unknown rank {rank} "
                               f"onto {unit_name}")
    cycles_per_point = 0
    energy: dict[str, float] = {}
    for kind, count in ops.items():
        op = unit.ops.get(kind)
        if op is None:
            raise MappingError(f"mapping {mapping_name}: {e.name} needs {kind} but "
                               f"{arch.name}'s {unit_name} cannot compute it "
                               f"(it has {', '.join(unit.ops)})")
        cycles_per_point += op.cycles * count // points
        if op.energy_pj is not None:
            energy[f"{unit_name}.{kind}"] = count * op.energy_pj
    rf = unit.register_file
    systolic = unit.systolic if operands is None else operands == "neighbours"
    reads = 0 if systolic else points * len(e.refs)
    if rf is not None:
        energy[f"{unit_name}.rf"] = points * rf.write_pj + reads * rf.read_pj
    temporal = _temporal_points(e, spatial, unit.shape[: len(spatial)], sizes)
    dense = math.prod(sizes[rank_of(v)] for v in e.iteration_ranks)
    if points < dense:
        # A sparse Einsum (a where condition): the unit skips the points it does not
        # compute, to first order in proportion (masks at tile granularity skip exactly).
        temporal = -(-temporal * points // dense)
    return Compute(temporal * cycles_per_point, points * cycles_per_point, energy, reads, points)


def _check_binding(ctx: _Context, e: Einsum) -> tuple[str, tuple[str, ...]]:
    binding = ctx.mapping.bindings.get(e.name)
    if binding is None:
        raise MappingError(f"mapping {ctx.mapping.name} does not say where {e.name} runs")
    unit = ctx.arch.units.get(binding.unit)
    if unit is None:
        raise MappingError(f"mapping {ctx.mapping.name}: {ctx.arch.name} has no unit "
                           f"{binding.unit!r} (units: {', '.join(ctx.arch.units)})")
    if len(binding.spatial) > len(unit.shape):
        raise MappingError(f"mapping {ctx.mapping.name}: {e.name} maps "
                           f"{len(binding.spatial)} ranks onto {binding.unit}, which has "
                           f"{len(unit.shape)} axis/axes")
    return binding.unit, binding.spatial


def evaluate(cascade: Cascade, arch: Architecture, mapping: Mapping,
             shapes: MappingABC[str, int], *, batch: int = 1, heads: int = 1) -> Report:
    """Cost of ``cascade`` on ``arch`` under ``mapping`` for ``batch x heads`` instances."""
    layout = validate(cascade)
    analysis = analyze(cascade, shapes, batch=batch, heads=heads)
    sizes = analysis.shapes
    levels = {c.name: c.level for c in analysis.einsums}
    ctx = _Context(cascade, layout, arch, mapping, sizes, levels,
                   _stage_index(cascade, mapping))
    instances = batch * heads

    reports: dict[str, EinsumReport] = {}
    energy: dict[str, float] = {}
    accesses: dict[str, float] = {}
    for cost, e in zip(analysis.einsums, cascade.einsums, strict=True):
        if not cost.ops:
            continue
        unit_name, spatial = _check_binding(ctx, e)
        compute = einsum_compute(e, cost.ops, cost.points, arch, unit_name, spatial, sizes,
                                 mapping.name, mapping.bindings[e.name].operands)
        reports[e.name] = EinsumReport(e.name, unit_name, compute.cycles, compute.busy,
                                       dict(cost.ops), ctx.stage_of[e.name])
        for key, pj in compute.energy_pj.items():
            energy[key] = energy.get(key, 0.0) + pj * instances
        for key, count in ((f"{unit_name}.rf.reads", compute.rf_reads),
                           (f"{unit_name}.rf.writes", compute.rf_writes)):
            accesses[key] = accesses.get(key, 0) + count * instances

    plans = _plans(ctx)
    traffic, traffic_by_stage = _dram_traffic(ctx, plans)
    word = arch.word_bytes
    dram_bytes_per_head = sum(traffic.values()) * word
    bytes_per_cycle = arch.dram.bandwidth_bytes_per_s / arch.clock_hz

    stage_cycles = [_stage_cycles(ctx, stage, reports, sizes) for stage in mapping.stages]
    compute = sum(stage_cycles) * instances
    dram = math.ceil(dram_bytes_per_head * instances / bytes_per_cycle)
    if mapping.memory == "overlapped":
        total = max(compute, dram)
    else:
        total = sum(max(c * instances,
                        math.ceil(traffic_by_stage.get(i, 0) * word * instances / bytes_per_cycle))
                    for i, c in enumerate(stage_cycles))

    unit_cycles = {name: 0 for name in arch.units}
    utilisation = {name: 0.0 for name in arch.units}
    for r in reports.values():
        assert r.unit is not None
        unit_cycles[r.unit] += r.cycles * instances
        utilisation[r.unit] += r.busy_pe_cycles * instances / (arch.units[r.unit].pes * total)

    accesses["dram"] = dram_bytes_per_head * instances * 8 / arch.dram.access_bits
    if arch.dram.energy_pj_per_access is not None:
        energy["dram"] = accesses["dram"] * arch.dram.energy_pj_per_access
    gb = arch.global_buffer
    fills = sum(w for t, w in traffic.items() if t in layout.inputs) * instances
    accesses["global_buffer.row_writes"] = fills / gb.row_values
    accesses["global_buffer.row_reads"] = (_buffer_reads(ctx, reports, plans) * instances
                                           / gb.row_values)
    if gb.read_pj_per_row is not None and gb.write_pj_per_row is not None:
        energy["global_buffer"] = (accesses["global_buffer.row_writes"] * gb.write_pj_per_row
                                   + accesses["global_buffer.row_reads"] * gb.read_pj_per_row)
    buffer_words = max((sum(math.ceil(w * (1 - p.spilled.get(t, 0.0)))
                            for t, w in p.occupancy.items()) for p in plans.values()), default=0)
    tiles: dict[str, int] = {}
    spilled: dict[str, float] = {}
    for p in plans.values():
        tiles.update(p.tiles)
        for t, f in p.spilled.items():
            spilled[t] = max(f, spilled.get(t, 0.0))
    return Report(
        cascade=cascade.name, architecture=arch.name, mapping=mapping.name,
        shapes=sizes, instances=instances, cycles=total, seconds=total / arch.clock_hz,
        compute_cycles=compute, dram_cycles=dram, utilisation=utilisation,
        unit_cycles=unit_cycles, dram_bytes=dram_bytes_per_head * instances,
        dram_bytes_by_tensor={t: w * word * instances for t, w in traffic.items()},
        buffer_bytes=buffer_words * word, buffer_capacity_bytes=gb.capacity_bytes,
        tiles=tiles, spilled=spilled, energy_pj=energy,
        energy_modelled=arch.energy_modelled, accesses=accesses,
        area_mm2=arch.area_mm2, einsums=tuple(reports.values()),
    )


def _buffer_reads(ctx: _Context, reports: dict[str, EinsumReport],
                  plans: dict[int, _Plan]) -> float:
    """Words the arrays read from the global buffer per (batch, head).

    An operand held in the buffer is read once per temporal step, as many words as it
    spreads over the array axes bound to its ranks.
    """
    total = 0.0
    for e in ctx.cascade.einsums:
        report = reports.get(e.name)
        if report is None:
            continue
        held = plans[report.stage].occupancy
        binding = ctx.mapping.bindings[e.name]
        unit = ctx.arch.units[binding.unit]
        axes = dict(zip(binding.spatial, unit.shape, strict=False))
        steps = _temporal_points(e, binding.spatial, tuple(unit.shape[: len(binding.spatial)]),
                                 ctx.shapes)
        for ref in e.refs:
            source = _view_source(ctx.cascade, ref.tensor)
            if source not in held:
                continue
            width = 1
            for v in ref.variables:
                r = rank_of(v)
                if r in axes:
                    width *= min(axes[r], ctx.shapes[r])
            total += steps * width
    return total


def _stage_cycles(ctx: _Context, stage: Stage, reports: dict[str, EinsumReport],
                  shapes: dict[str, int]) -> int:
    if stage.drain is not None:
        e = ctx.cascade.einsum(stage.drain)
        binding = ctx.mapping.bindings[stage.drain]
        unit = ctx.arch.units[binding.unit]
        reduced = {rank_of(v) for v in e.reduced_ranks}
        axis = max((size for r, size in zip(binding.spatial, unit.shape, strict=False)
                    if r in reduced), default=1)
        tiles = _temporal_points(e, binding.spatial, unit.shape[: len(binding.spatial)],
                                 shapes)
        return tiles * axis
    per_unit: dict[str, int] = {}
    for name in stage.einsums:
        report = reports.get(name)
        if report is None:
            continue
        assert report.unit is not None
        per_unit[report.unit] = per_unit.get(report.unit, 0) + report.cycles
    return max(per_unit.values(), default=0)
