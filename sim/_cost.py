"""The cost rules: compute cycles, buffer occupancy and spills, DRAM traffic, energy.

Each rule is written once, over arrays: the mapping search scores thousands of candidates
by calling a rule with many rows (spatial choices, tile sizes), and :func:`evaluate` costs
one mapping by calling the same rule with one row. Everything comes from (workload,
architecture, mapping) data:

* compute: an Einsum's exact ops times the cycles each op kind costs on its unit, over the
  temporal steps left when the spatial ranks are spread over the array axes
  (``ceil(size / axis)`` per spatial rank); on a pipelined unit (an HLS datapath) a point
  costs its slowest op kind's cycles instead; a sparse Einsum's steps shrink with the
  points it computes; under a dataflow (output, weight or input stationary) a systolic
  unit's steps come in folds, each paying SCALE-Sim's fill, drain and stationary load
  (once per run on a unit whose folds overlap), and only ranks the dataflow reduces in
  place may be spread over its axes;
* schedule: stages run in sequence, the Einsums of one stage overlap on their units, a
  ``drain`` stage exposes a reduction across the array (one axis length per tile);
* buffer: staged input tiles, the carried state of recurrences, outputs accumulated over a
  walked reduction and intermediates kept between passes. Capacity is a hard limit: what is
  placed ``spill`` overflows to DRAM (whole words, so occupancy never exceeds capacity),
  anything else over capacity makes the mapping invalid;
* DRAM traffic: an input is read once per iteration of every DRAM loop that does not index
  it and lies outside one that does (Timeloop's reuse rule), and under a where condition
  only for the tiles whose block holds a computed point; intermediates in DRAM are written
  once and read once per later stage or pass that consumes them; the spilled part of a
  recurrence's state is written and read back at every step of its recurrence;
* energy: actions x energy per action (ops per unit, register-file accesses per point,
  global-buffer rows read by the arrays and filled from DRAM, DRAM accesses);
* memory hierarchy: levels below the global buffer (``Architecture.levels``) are planned
  with the buffer rule over their own loops and tiles (``Mapping.levels``), their links
  carry what the DRAM rule counts over those, each link's cycles join the latency, each
  level's rows written and read are priced by its energies, and the arrays read each
  operand from the innermost level holding it; cores split the instances.

>>> from einsum import parse_text
>>> from sim import architecture, mapping_from_dict
>>> gemm = parse_text("Y[n,t] = X[k,t] * W[k,n]", name="linear")
>>> tiled = mapping_from_dict({"name": "os", "bindings": {"Y": {"unit": "array2d",
...     "spatial": ["N", "T"]}}, "dram_loops": ["T"], "tiles": {"T": 4096}, "stages": [["Y"]]})
>>> r = evaluate(gemm, architecture("fusemax"), tiled, {"K": 768, "N": 768, "T": 16384})
>>> r.cycles, r.compute_cycles, r.dram_bytes
(147456, 147456, 51511296)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Iterable, Sequence
from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from einsum import Cascade, CascadeError, Einsum, parse_text, rank_of, touched

from ._arch import Architecture, Dram, GlobalBuffer, Level, OpCost, Unit
from ._mapping import Mapping, Stage
from ._workload import EinsumFacts, Operand, Workload, workload

__all__ = [
    "GEMM",
    "GEMM_SPATIAL",
    "MAX_CYCLES",
    "ComputeRows",
    "EinsumReport",
    "LevelTraffic",
    "MappingError",
    "MemoryEnergy",
    "Plan",
    "Report",
    "buffer_plan",
    "buffer_plans",
    "buffer_reads",
    "buffer_writes",
    "capacity_words",
    "check_cycles",
    "compute_rows",
    "dataflow_problem",
    "dram_cycles",
    "dram_words",
    "evaluate",
    "evaluate_workload",
    "fold_overhead",
    "forwardable",
    "forwarded",
    "in_place_pairs",
    "in_place_problem",
    "level_cycles",
    "level_groups",
    "level_traffic",
    "level_words",
    "memory_energy",
    "per_core",
    "plan_groups",
    "read_sets",
    "resolved_tiles",
    "stage_index",
    "stationary_ranks",
    "systolic_cycles",
    "tensor_kinds",
    "total_cycles",
    "traffic_plan",
]

Array = Any
"""An int, or a numpy array of one value per candidate row."""


class MappingError(CascadeError):
    """A mapping that cannot run: unknown unit, unsupported op, over-capacity buffer."""


MAX_CYCLES = 2**62
"""Most cycles a latency may take: beyond it 64-bit counts would overflow (and 2**62 cycles
are over a century at 1 GHz)."""


def check_cycles(cycles: int, arch: Architecture, what: str) -> None:
    """Refuse a latency beyond :data:`MAX_CYCLES` in one line instead of overflowing."""
    if cycles > MAX_CYCLES:
        raise MappingError(f"{what} takes about 2**{math.log2(cycles):.1f} cycles on "
                           f"{arch.name}, more than the 2**62 the cost model counts (more "
                           "bandwidth, PEs or a lower clock)")


@dataclass(frozen=True)
class EinsumReport:
    name: str
    unit: str | None
    cycles: int
    """Cycles per (batch, head) on its unit."""
    busy_pe_cycles: int
    ops: dict[str, int]
    stage: int
    fill_cycles: int = 0
    """Cycles paid once for all instances: the fill and drain of a unit whose folds
    overlap (see ``sim.compute_rows``)."""
    dataflow: str | None = None
    folds: int = 0
    """Folds per (batch, head) under its dataflow."""


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
    """Fraction of each spill-placed tensor's on-chip tile that overflows to DRAM."""
    energy_pj: dict[str, float]
    """Energy by component; complete only when ``energy_modelled``."""
    energy_modelled: bool
    accesses: dict[str, float]
    """Actions per level: DRAM accesses, global-buffer rows, register-file reads/writes."""
    area_mm2: float | None
    einsums: tuple[EinsumReport, ...] = field(default=())
    buffer_bytes_by_tensor: dict[str, int] = field(default_factory=dict)
    """Bytes each tensor holds in the global buffer (its on-chip part when spilled)."""
    live_state: dict[str, object] = field(default_factory=dict)
    """What the algorithm keeps on chip while the stream goes by (``einsum.analyze``)."""
    levels: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per on-chip level (the global buffer, then ``Architecture.levels``): capacity, the
    share one instance may use (a per-core copy, or a shared level's part per core) and its
    occupancy, bytes by tensor, tiles, spilled fractions, bytes crossing the link from the
    level above (all instances) and the cycles that link takes."""

    @property
    def energy_j(self) -> float:
        return sum(self.energy_pj.values()) * 1e-12

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["energy_j"] = self.energy_j
        return data


# ----- compute


@dataclass(frozen=True)
class ComputeRows:
    """One Einsum on one unit, per (batch, head), one row per spatial choice."""

    cycles: np.ndarray
    """Cycles per instance: the steps at the points' op cycles and, on a systolic unit
    under a dataflow whose folds do not overlap, every fold's fill, drain and read-out."""
    steps: np.ndarray
    """Temporal steps: the points each PE computes in turn."""
    widths: np.ndarray
    """(rows, operands): words of each operand the array reads per fetch."""
    busy: int
    """PE-cycles of work (cycles if every PE were busy)."""
    energy_pj: dict[str, float]
    """Ops and register-file accesses (the same for every row)."""
    rf_reads: int
    rf_writes: int
    fill: np.ndarray
    """Cycles paid once for the run of all instances' folds: the fill, drain and read-out
    of a systolic unit whose folds overlap (0 otherwise)."""
    folds: np.ndarray
    """Folds per instance under a dataflow (loads of the stationary tensor; 0 without)."""
    stationary: int | None = None
    """The operand a weight- or input-stationary dataflow keeps in the PEs (its index):
    fetched once a fold, where every other operand is fetched every step."""
    reuse: np.ndarray | None = None
    """(rows, operands): steps a fetched word serves in its PE's register file, the
    temporal loops inside the innermost one indexing it (1: fetched every step)."""


def _ceil(a: Array, b: Array) -> Array:
    return -(-a // b)


def per_core(w: Workload, arch: Architecture) -> int:
    """Instances each core runs: the cores split the instances (batch x heads)."""
    return -(-w.instances // arch.cores)


def total_cycles(rows: ComputeRows, instances: int) -> np.ndarray:
    """Cycles of an Einsum over all ``instances`` on its unit, per row: every instance's
    cycles, and once the fill and drain of a unit whose folds overlap. The one rule by
    which :func:`evaluate` and the search add an Einsum to its unit's load."""
    return rows.cycles * instances + rows.fill


_RANKS: dict[int, tuple[Einsum, tuple[str, ...], frozenset[str]]] = {}
"""Output and reduced ranks by Einsum (by identity: hashing an Einsum costs more than
finding them again), each entry holding its Einsum so that its id stays its own."""


def _ranks_of(einsum: Einsum) -> tuple[tuple[str, ...], frozenset[str]]:
    """An Einsum's output ranks and the ranks it reduces (as written, not their splits)."""
    found = _RANKS.get(id(einsum))
    if found is None or found[0] is not einsum:
        if len(_RANKS) >= 4096:
            _RANKS.clear()
        found = _RANKS[id(einsum)] = (einsum,
                                      tuple(rank_of(v) for v in einsum.output.variables),
                                      frozenset(rank_of(v) for v in einsum.reduced_ranks))
    return found[1], found[2]


def stationary_ranks(f: EinsumFacts, dataflow: str) -> tuple[str, ...] | None:
    """Ranks of the tensor ``dataflow`` keeps in the PEs for a fold: the output (``os``),
    the last operand (``ws``, the weights of ``X * W``) or the first (``is``, the inputs);
    None where the Einsum has no such operand."""
    if dataflow == "os":
        return _ranks_of(f.einsum)[0]
    if not f.operands:
        return None
    return (f.operands[-1] if dataflow == "ws" else f.operands[0]).ranks


_DATAFLOW_NAMES = {"os": "output-stationary", "ws": "weight-stationary",
                   "is": "input-stationary"}


def dataflow_problem(f: EinsumFacts, unit: Unit, dataflow: str,
                     spatial: Sequence[str]) -> str | None:
    """Why ``spatial`` (row axis first) cannot run under ``dataflow`` on ``unit``, or None.
    Only a rank the dataflow reduces in place may be spread over an axis: output-stationary
    PEs each keep one output, so no reduced rank goes on an axis; weight- and
    input-stationary PEs pass partial sums down their columns, so the row axis takes a rank
    the Einsum reduces and the column axis one it does not. Every spread rank indexes the
    stationary tensor (it is what stays in the PEs)."""
    if dataflow not in _DATAFLOW_NAMES:
        return f"dataflow must be one of {', '.join(_DATAFLOW_NAMES)}, not {dataflow!r}"
    name = _DATAFLOW_NAMES[dataflow]
    if not unit.systolic:
        return f"{unit.name} is not systolic, so it has no {name} dataflow"
    held = stationary_ranks(f, dataflow)
    if held is None:
        return f"{f.name} has no operand for a {name} dataflow to keep"
    reduced = _ranks_of(f.einsum)[1]
    if dataflow == "os":
        for rank in spatial:
            if rank in reduced:
                return (f"{name} PEs each keep one output of {f.name}, so {rank}, which it "
                        "reduces, cannot be spread over an array axis")
        return None
    if spatial and spatial[0] not in reduced:
        return (f"{name} PEs reduce down the columns, so the row axis takes a rank that "
                f"{f.name} reduces ({', '.join(sorted(reduced)) or 'it reduces none'}), "
                f"not {spatial[0]}")
    if len(spatial) > 1 and spatial[1] in reduced:
        return (f"{name} PEs reduce only down the columns, so {spatial[1]}, which "
                f"{f.name} reduces, cannot go on the column axis")
    for rank in spatial:
        if rank not in held:
            operand = f.operands[-1 if dataflow == "ws" else 0].tensor
            return f"{name} PEs keep {operand}, which {rank} does not index"
    return None


def fold_overhead(unit: Unit, dataflow: str) -> int:
    """Cycles a fold spends beyond streaming its points (SCALE-Sim v2's count,
    ``scalesim/compute/systolic_compute_{os,ws,is}.py``): the wavefront's skew across the
    rows and the columns, ``rows + cols - 2`` (``skew_matrix`` of each demand matrix), and
    for weight and input stationary the ``rows`` cycles that load the stationary tile
    first (``inter_fold_gap_prefix = arr_row``); then the unit's own read-out."""
    rows, cols = (*unit.shape, 1)[:2]
    return rows + cols - 2 + (rows if dataflow != "os" else 0) + unit.readout_cycles


def compute_rows(f: EinsumFacts, arch: Architecture, unit_name: str,
                 spatials: Sequence[tuple[str, ...]], sizes: MappingABC[str, int], *,
                 operands: str | None = None, dataflow: str | None = None,
                 mapping_name: str = "candidate",
                 memo: dict[Any, Any] | None = None) -> ComputeRows:
    """Cycles, steps and operand widths of ``f`` on ``unit_name`` for each spatial choice.

    Every point writes (or accumulates) its result in the PE's register file; when the
    operands are kept there (``operands="register_file"``, the default of a non-systolic
    unit) every point also reads them there.

    Without a ``dataflow`` the unit is ideal: its cycles are the steps at the points' op
    cycles. Under one (a systolic unit: ``os``, ``ws`` or ``is``), the steps come in folds:
    one fold per load of the stationary tensor (:func:`stationary_ranks`), during which
    the ranks that do not index it stream by. Each fold also pays :func:`fold_overhead`
    (fill, drain, stationary load, read-out), or, on a unit whose folds overlap, the run
    pays it once (``fill``). A fold over a part of the array (a rank smaller than its
    axis, the last of a ragged rank) takes as long as a full one.
    """
    unit: Unit = arch.units[unit_name]
    key = ("rows", f.name, unit.cost_id, tuple(spatials), operands, dataflow)
    if memo is not None and key in memo:
        return memo[key]
    per_point = 0
    energy: dict[str, float] = {}
    for kind, count in f.ops.items():
        op = unit.ops.get(kind)
        if op is None:
            raise MappingError(f"mapping {mapping_name}: {f.name} needs {kind} but "
                               f"{arch.name}'s {unit_name} cannot compute it "
                               f"(it has {', '.join(unit.ops)})")
        # A pipelined PE has hardware for every operation of a point: its slowest one sets
        # the pace. Otherwise the PE takes the operations in turn.
        per_point = max(per_point, op.cycles) if unit.pipelined else \
            per_point + op.cycles * count // f.points
        if op.energy_pj is not None:
            energy[f"{unit_name}.{kind}"] = count * op.energy_pj
    systolic = unit.systolic if operands is None else operands == "neighbours"
    reads = 0 if systolic else f.points * len(f.operands)
    if unit.register_file is not None:
        energy[f"{unit_name}.rf"] = (f.points * unit.register_file.write_pj
                                     + reads * unit.register_file.read_pj)
    held = None if dataflow is None else stationary_ranks(f, dataflow)
    overhead = 0 if dataflow is None else fold_overhead(unit, dataflow)
    per_fold = 0 if unit.fold_overlap else overhead
    steps, cycles, widths, folds, reuse = [], [], [], [], []
    for spatial in spatials:
        if len(spatial) > len(unit.shape):
            raise MappingError(f"mapping {mapping_name}: {f.name} maps {len(spatial)} ranks "
                               f"onto {unit_name}, which has {len(unit.shape)} axis/axes")
        for rank in spatial:
            if rank not in sizes:
                raise MappingError(f"mapping {mapping_name}: {f.name} maps unknown rank "
                                   f"{rank} onto {unit_name}")
        if dataflow is not None:
            problem = dataflow_problem(f, unit, dataflow, spatial)
            if problem is not None:
                raise MappingError(f"mapping {mapping_name}: {f.name} on {unit_name} with "
                                   f"spatial [{', '.join(spatial)}]: {problem}")
        axes = dict(zip(spatial, unit.shape, strict=False))
        n = math.prod(_ceil(sizes[r], axes[r]) if r in axes else sizes[r] for r in f.ranks)
        fold = 0
        if held is not None:
            # The ranks that do not index the stationary tensor stream through a fold.
            stream = math.prod(sizes[r] for r in f.ranks if r not in axes and r not in held)
            fold = n // stream
        if f.points < f.dense:
            # A sparse Einsum skips the points it does not compute, to first order in
            # proportion (masks at tile granularity skip exactly), and the folds with them.
            n = _ceil(n * f.points, f.dense)
            fold = _ceil(fold * f.points, f.dense)
        steps.append(n)
        cycles.append(n * per_point + fold * per_fold)
        folds.append(fold)
        widths.append([math.prod(min(axes[r], sizes[r]) for r in o.ranks if r in axes)
                       for o in f.operands])
        reuse.append([_reuse(f, o, axes, sizes) for o in f.operands])
    count = len(spatials)
    once = overhead - per_fold  # the whole overhead, once, where folds overlap
    stationary = (None if held is None or dataflow == "os"
                  else len(f.operands) - 1 if dataflow == "ws" else 0)
    rows = ComputeRows(np.array(cycles, dtype=np.int64), np.array(steps, dtype=np.int64),
                       np.array(widths, dtype=np.int64).reshape(count, -1),
                       f.points * per_point, energy, reads, f.points,
                       np.full(count, once, dtype=np.int64),
                       np.array(folds, dtype=np.int64), stationary,
                       np.array(reuse, dtype=np.int64).reshape(count, -1))
    if memo is not None:
        memo[key] = rows
    return rows


def _reuse(f: EinsumFacts, o: Operand, axes: MappingABC[str, int],
           sizes: MappingABC[str, int]) -> int:
    """Steps one fetched word of ``o`` serves: the unit walks ``f``'s temporal ranks in
    the Einsum's order (output ranks, then the reduction innermost), and a word stays in
    its PE while the loops inside the innermost one indexing it go by (GM[p] once for
    all m of SN[m,p] = exp(QK[m,p] - GM[p]) on an array over p)."""
    temporal = [r for r in dict.fromkeys(f.ranks) if r not in axes]
    indexing = [i for i, r in enumerate(temporal) if r in o.ranks]
    inner = temporal[indexing[-1] + 1:] if indexing else temporal
    return math.prod(sizes[r] for r in inner)


GEMM = "Y[m,n] = A[m,k] * B[k,n]"
"""The GEMM :func:`systolic_cycles` costs: A (M x K) the inputs, B (K x N) the weights."""
GEMM_SPATIAL = {"os": ("M", "N"), "ws": ("K", "N"), "is": ("K", "M")}
"""Ranks on the (row, column) axes under each dataflow, as SCALE-Sim maps a GEMM: output
stationary keeps Y's M x N tile and streams K; weight stationary keeps B's K x N tile and
streams M; input stationary keeps A's K x M tile and streams N."""


@cache
def _gemm() -> Cascade:
    return parse_text(GEMM, name="gemm")


@cache
def _systolic_arch(rows: int, cols: int, fold_overlap: bool, readout_cycles: int
                   ) -> Architecture:
    unit = Unit(name="array", shape=(rows, cols), ops={"mac": OpCost(cycles=1)},
                systolic=True, fold_overlap=fold_overlap, readout_cycles=readout_cycles)
    return Architecture(name="systolic", title="a systolic array of one-cycle MACs",
                        source="sim.systolic_cycles", node="-", clock_mhz=1000.0,
                        word_bytes=1, dram=Dram(bandwidth_bytes_per_s=1.0, access_bits=8),
                        global_buffer=GlobalBuffer(capacity_bytes=1, row_values=1, banks=1),
                        units={"array": unit})


def systolic_cycles(dataflow: str, rows: int, cols: int, m: int, k: int, n: int, *,
                    fold_overlap: bool = False, readout_cycles: int = 0,
                    instances: int = 1) -> int:
    """Cycles the cost rules give the GEMM ``Y[m,n] = A[m,k] * B[k,n]`` (``instances``
    of it back to back) on a ``rows`` x ``cols`` systolic array of one-cycle MACs under
    ``dataflow`` (``os``, ``ws``, ``is``), with the ranks on the axes as SCALE-Sim puts
    them (:data:`GEMM_SPATIAL`): :func:`compute_rows` of that binding, the very rule
    ``cascade map`` applies. Without ``fold_overlap`` every fold pays
    ``rows + cols - 2`` for the wavefront (``+ rows`` loading the stationary tile under
    ``ws`` and ``is``) and ``readout_cycles`` after it.

    >>> systolic_cycles("os", 128, 128, 1024, 64, 1024)   # 64 folds of 64 + 254
    20352
    >>> systolic_cycles("ws", 128, 128, 1024, 64, 1024)   # K = 64 fills half the rows
    11248
    >>> systolic_cycles("os", 4, 4, 4, 256, 4, readout_cycles=4 + 1)  # the project's RTL
    267
    """
    if dataflow not in GEMM_SPATIAL:
        raise MappingError(f"dataflow must be one of {', '.join(GEMM_SPATIAL)}, "
                           f"not {dataflow!r}")
    for what, value in (("rows", rows), ("cols", cols), ("m", m), ("k", k), ("n", n),
                        ("instances", instances)):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= 2**40:
            raise MappingError(f"{what} must be a whole number from 1 to 2**40, "
                               f"not {value!r}")
    arch = _systolic_arch(rows, cols, bool(fold_overlap), readout_cycles)
    w = workload(_gemm(), {"M": m, "K": k, "N": n})
    rows_ = compute_rows(w.facts["Y"], arch, "array", [GEMM_SPATIAL[dataflow]], w.sizes,
                         dataflow=dataflow)
    return int(total_cycles(rows_, instances)[0])


# ----- buffer


@dataclass(frozen=True)
class Held:
    """A tensor the global buffer holds while a group of stages runs."""

    tensor: str
    ranks: tuple[str, ...]
    whole_stream: bool
    """Kept whole along the stream rank (an intermediate read by a later pass)."""
    carried: bool = False
    """Lives across the whole stream (a recurrence's state, an intermediate read by a later
    pass): every tile of it that a loop inside the stream loop visits is live at once."""
    kind: str = "inputs"
    """Which of ``sim.LEVEL_HOLDS`` it is (a level holds only the kinds it lists)."""


@dataclass(frozen=True)
class Plan:
    """The DRAM loops, tiles and buffer contents of a group of stages sharing the buffer.
    Tiles and the word counts may be arrays (one value per candidate tiling)."""

    stages: frozenset[int]
    loops: tuple[str, ...]
    tiles: dict[str, Array]
    occupancy: dict[str, Array]
    """Words each held tensor needs."""
    kept: dict[str, Array]
    """Words each held tensor keeps on chip (less than its need when spilled)."""
    fits: Array
    spill: frozenset[str]
    aliases: dict[str, str] = field(default_factory=dict)
    """Held tensors stored in place of another held tensor (``Mapping.in_place``): they
    need no words of their own and overflow as their host does."""

    def spilled(self, tensor: str) -> Array:
        """Fraction of the tensor's on-chip tile that overflows to DRAM."""
        while tensor in self.aliases:  # A over SN over QK: A overflows as QK does
            tensor = self.aliases[tensor]
        need = self.occupancy.get(tensor)
        if need is None or tensor not in self.spill:
            return 0.0
        return (need - self.kept[tensor]) / np.maximum(need, 1)


def stage_index(cascade: Cascade, mapping: Mapping) -> dict[str, int]:
    """The stage of each Einsum; every computing Einsum must be in exactly one."""
    stage_of: dict[str, int] = {}
    for i, stage in enumerate(mapping.stages):
        for name in stage.einsums:
            if name in stage_of:
                raise MappingError(f"mapping {mapping.name}: {name} is in two stages")
            stage_of[name] = i
    return stage_of


def _group(w: Workload, mapping: Mapping, stage_of: dict[str, int],
           tensor: str) -> tuple[int, int] | None:
    """(stage, pass) of an Einsum. Stages of an overlapped schedule are steps within one
    tile, so only the pass separates them; per-stage and concurrent stages run whole."""
    if tensor not in stage_of:
        return None
    stage = stage_of[tensor] if mapping.memory != "overlapped" else 0
    return stage, w.levels[tensor]


def _consumers(w: Workload, tensor: str) -> list[EinsumFacts]:
    return [f for f in w.facts.values() if any(o.tensor == tensor for o in f.operands)]


def _between_passes(w: Workload, mapping: Mapping, stage_of: dict[str, int]) -> list[str]:
    """On-chip intermediates read by a later pass or stage than the one producing them."""
    found = []
    for name in w.facts:
        if name in w.layout.iterative or mapping.placement.get(name) in _IN_DRAM:
            continue
        group = _group(w, mapping, stage_of, name)
        if any(_group(w, mapping, stage_of, c.name) not in (None, group)
               for c in _consumers(w, name) if c.name != name):
            found.append(name)
    return found


_IN_DRAM = ("dram", "staged")
"""Placements of tensors that live in DRAM (streamed past the buffer, or staged in it)."""


def in_place_problem(w: Workload, tensor: str, host: str) -> str | None:
    """Why ``tensor`` cannot overwrite ``host`` element by element (None: it can): both are
    intermediates of the same shape, ``tensor`` reads ``host`` at the index it writes, and
    every other reader of ``host`` is done with it a pass earlier."""
    layout = w.layout
    for name in (tensor, host):
        if name not in w.facts or name in layout.outputs:
            return f"{name} is not an intermediate of {w.cascade.name}"
    if layout.ranks[tensor] != layout.ranks[host]:
        return (f"their ranks differ ([{', '.join(layout.ranks[tensor])}] and "
                f"[{', '.join(layout.ranks[host])}])")
    f = w.facts[tensor]
    if not any(o.source == host and o.ranks == layout.ranks[tensor] for o in f.operands):
        return f"{tensor} does not read {host} at the index it writes"
    late = [c.name for c in _consumers(w, host)
            if c.name not in (tensor, host) and w.levels[c.name] >= w.levels[tensor]]
    if late:
        return f"{', '.join(late)} still read(s) {host} in the pass that writes {tensor}"
    return None


def in_place_pairs(w: Workload) -> dict[str, str]:
    """Every intermediate that may overwrite a dead input (:func:`in_place_problem`), each
    input taken once: what a searched mapping stores in place.

    >>> from einsum import load
    >>> from sim import workload
    >>> in_place_pairs(workload(load("three_pass"), {"E": 4, "F": 4, "M": 8, "P": 8}))
    {'SN': 'QK', 'A': 'SN'}
    """
    found = w.memo.get("in place pairs")
    if found is None:
        found = {}
        for f in w.facts.values():
            for o in f.operands:
                if (o.source not in found.values() and f.name not in found
                        and in_place_problem(w, f.name, o.source) is None):
                    found[f.name] = o.source
        w.memo["in place pairs"] = found
    return dict(found)


def _held(w: Workload, mapping: Mapping, stage_of: dict[str, int], stages: frozenset[int],
          loops: tuple[str, ...]) -> list[Held]:
    """What ``stages`` keep in the buffer: staged input tiles (not those the array streams
    straight from DRAM, placed ``dram``), the carried state of recurrences, outputs
    accumulated over a walked reduction, intermediates produced or consumed there that live
    from one pass (or stage) to a later one, and the tiles of those placed ``buffer``."""
    layout = w.layout
    held: dict[str, Held] = {}
    members = [f for f in w.facts.values() if stage_of.get(f.name) in stages]
    for f in members:
        for o in f.operands:
            if (o.source in layout.inputs and o.source not in held
                    and mapping.placement.get(o.source) != "dram"):
                held[o.source] = Held(o.source, layout.ranks[o.source], False)
            # An intermediate placed staged comes back from DRAM into the buffer for the
            # stages that read it (its producer's stage writes it straight out).
            if (mapping.placement.get(o.source) == "staged" and o.source not in held
                    and stage_of.get(o.source) not in stages):
                held[o.source] = Held(o.source, layout.ranks[o.source], False,
                                      kind="intermediates")
        rank = layout.iterative.get(f.name)
        if rank is not None:
            held[f.name] = Held(f.name, tuple(r for r in layout.ranks[f.name] if r != rank),
                                False, carried=True, kind="state")
    for tensor in _between_passes(w, mapping, stage_of):
        users = {stage_of.get(tensor)} | {stage_of.get(c.name) for c in _consumers(w, tensor)}
        if users & stages:
            held[tensor] = Held(tensor, layout.ranks[tensor], True, carried=True,
                                kind="intermediates")
    for f in members:
        if f.name in layout.outputs and f.reduced & set(loops):
            held[f.name] = Held(f.name, layout.ranks[f.name], False, kind="outputs")
        # An intermediate one unit hands to another through the buffer (a tile of scores
        # the 2D array writes for the 1D array to walk): the whole tile is there at once.
        if mapping.placement.get(f.name) == "buffer" and f.name not in held:
            held[f.name] = Held(f.name, layout.ranks[f.name], False, kind="intermediates")
    return list(held.values())


def _extent(w: Workload, rank: str, loops: tuple[str, ...], tiles: dict[str, Array]) -> Array:
    """Elements of ``rank`` on chip at once under the DRAM loops."""
    split = w.layout.splits.get(rank)
    if split is not None and split[0] in loops:
        return w.sizes[split[1]] * tiles.get(split[0], 1)
    if rank in loops:
        return np.minimum(tiles.get(rank, 1), w.sizes[rank])
    return w.sizes[rank]


def plan_groups(mapping: Mapping) -> list[tuple[frozenset[int], tuple[str, ...],
                                                dict[str, int | str]]]:
    """The groups of stages that share one tiling: (stages, DRAM loops, tiles asked for).
    One per stage when stages run whole (one after another, or concurrently on different
    instances); one for all when the stages are steps of one pipelined tile loop."""
    stages = [i for i, s in enumerate(mapping.stages) if not s.drain]
    if mapping.memory != "overlapped":
        groups = []
        for i in stages:
            spec = mapping.stages[i]
            groups.append((frozenset({i}),
                           spec.dram_loops if spec.dram_loops is not None
                           else mapping.dram_loops,
                           spec.tiles if spec.tiles is not None else mapping.tiles))
        return groups
    for i in stages:
        spec = mapping.stages[i]
        if spec.dram_loops is not None or spec.tiles is not None:
            raise MappingError(f"mapping {mapping.name}: stages of an overlapped schedule "
                               "share one tiling; give dram_loops and tiles on the mapping, "
                               "not on a stage")
    return [(frozenset(stages), mapping.dram_loops, mapping.tiles)] if stages else []


def capacity_words(arch: Architecture, level: str | None = None) -> int:
    """Words one instance may keep in ``level`` (None: the global buffer): a per-core
    level's copy, or a shared level's share of the cores working at once."""
    if level is None:
        return arch.global_buffer.capacity_bytes // arch.cores // arch.word_bytes
    lv = arch.levels[level]
    return lv.capacity_bytes // (1 if lv.per_core else arch.cores) // arch.word_bytes


def buffer_plan(w: Workload, arch: Architecture, mapping: Mapping, stage_of: dict[str, int],
                stages: frozenset[int], loops: tuple[str, ...],
                tiles: dict[str, Array], level: str | None = None) -> Plan:
    """Occupancy of a group of stages under ``tiles`` (ints, or arrays of candidates) in
    the global buffer (or in ``level``, which keeps only the kinds of tensor it holds),
    and how the ``spill``-placed tensors share what the others leave of the capacity (what
    spills from a level below the global buffer goes to the level above it)."""
    capacity = capacity_words(arch, level)
    holds = None if level is None else arch.levels[level].holds
    spill = frozenset(t for t, where in mapping.placement.items() if where == "spill")
    stream = w.stream
    first = next((i for i, r in enumerate(loops) if r in stream), len(loops))
    inside = w.related(loops[first + 1:])
    occupancy: dict[str, Array] = {}
    for h in _held(w, mapping, stage_of, stages, loops):
        if holds is not None and h.kind not in holds:
            continue
        words: Array = 1
        for r in h.ranks:
            whole = (h.whole_stream and r in stream) or (h.carried and r in inside)
            words = words * (w.sizes[r] if whole else _extent(w, r, loops, tiles))
        occupancy[h.tensor] = words
    # An Einsum that overwrites its dead input at the same index needs no words of its own
    aliases = {t: host for t, host in mapping.in_place.items()
               if t in occupancy and host in occupancy}
    for t in aliases:
        occupancy[t] = 0
    fixed: Array = sum((v for t, v in occupancy.items() if t not in spill), start=0)
    room = np.maximum(capacity - fixed, 0)
    kept = {t: v for t, v in occupancy.items() if t not in spill}
    # What spills is what costs least to spill: a recurrence's state goes out and back at
    # every step, an intermediate once per pass, so the state keeps its room first.
    # (sorted is stable: among equals the held order stays)
    order = sorted((t for t in occupancy if t in spill), key=lambda t: t not in w.layout.iterative)
    for t in order:
        kept[t] = np.minimum(occupancy[t], room)
        room = room - kept[t]
    return Plan(stages, loops, dict(tiles), occupancy, kept, fixed <= capacity, spill,
                aliases)


def resolved_tiles(mapping: Mapping, wanted: MappingABC[str, int | str],
                   sizes: MappingABC[str, int]) -> dict[str, int]:
    """Tiles of a mapping whose tiles are all chosen (no ``auto``)."""
    tiles = {}
    for rank, tile in wanted.items():
        if rank not in sizes:
            raise MappingError(f"mapping {mapping.name}: tile for unknown rank {rank}")
        if tile == "auto":
            raise MappingError(f"mapping {mapping.name}: the tile of {rank} is 'auto'; "
                               "choose it first (mapper.resolve_tiles)")
        tiles[rank] = int(tile)
    return tiles


def buffer_plans(w: Workload, arch: Architecture, mapping: Mapping,
                 stage_of: dict[str, int]) -> dict[int, Plan]:
    """The plan of every stage of a mapping with chosen tiles; a group that does not fit
    is a :class:`MappingError` saying what it holds."""
    plans: dict[int, Plan] = {}
    for stages, loops, wanted in plan_groups(mapping):
        plan = buffer_plan(w, arch, mapping, stage_of, stages, loops,
                           resolved_tiles(mapping, wanted, w.sizes))
        if not plan.fits:
            word = arch.word_bytes
            need = sum(v for t, v in plan.occupancy.items() if t not in plan.spill) * word
            parts = ", ".join(f"{t} {int(v) * word:,} B" for t, v in plan.occupancy.items())
            share = (f" ({arch.global_buffer.capacity_bytes:,} B shared by {arch.cores} "
                     "cores)" if arch.cores > 1 else "")
            raise MappingError(f"mapping {mapping.name} needs {int(need):,} B of global buffer "
                               f"({parts}) but {arch.name} has "
                               f"{capacity_words(arch) * word:,} B{share}")
        plans.update(dict.fromkeys(stages, plan))
    return plans


# ----- DRAM traffic


def _refetch(w: Workload, ranks: tuple[str, ...], plan: Plan) -> Array:
    """Times a tensor with ``ranks`` is read: once per iteration of every DRAM loop that
    does not index it and lies outside the innermost one that does."""
    relevant = w.related(ranks)
    inner = max((i for i, r in enumerate(plan.loops) if r in relevant), default=-1)
    count: Array = 1
    for r in plan.loops[:max(inner, 0)]:
        if r not in relevant:
            count = count * _ceil(w.sizes[r], plan.tiles.get(r, 1))
    return count


def _streamed(w: Workload, ranks: tuple[str, ...], plan: Plan) -> Array:
    """Times an input the array streams straight from DRAM is read: with no copy in the
    buffer to reuse, once per iteration of every DRAM loop that does not index it."""
    relevant = w.related(ranks)
    count: Array = 1
    for r in plan.loops:
        if r not in relevant:
            count = count * _ceil(w.sizes[r], plan.tiles.get(r, 1))
    return count


def _touched(w: Workload, name: str, blocks: dict[str, int], measure: tuple[str, ...]) -> int:
    # The same blocks recur across loop orders, tilings and operands: count them once.
    key = ("touched", name, tuple(sorted(blocks.items())), measure)
    found = w.memo.get(key)
    if found is None:
        found = touched(w.cascade, name, w.sizes, blocks, measure)
        w.memo[key] = found
    return found


def _masked_reads(w: Workload, f: EinsumFacts, ranks: tuple[str, ...], plan: Plan) -> Array:
    """Words of an operand with ``ranks`` (as ``f`` indexes it) that a sparse ``f`` reads:
    a tile is fetched only where its block of the loop nest holds a computed point."""
    relevant = w.related(ranks)
    inner = max((i for i, r in enumerate(plan.loops) if r in relevant), default=-1)
    outer = [r for r in plan.loops[:inner + 1] if r in f.ranks]
    tiles = [np.asarray(plan.tiles.get(r, 1)) for r in outer]
    shape = np.broadcast_shapes(*(t.shape for t in tiles)) if tiles else ()
    flat = [np.broadcast_to(t, shape).reshape(-1) for t in tiles]
    words = [_touched(w, f.name, {r: int(t[k]) for r, t in zip(outer, flat, strict=True)},
                      ranks)
             for k in range(int(np.prod(shape, dtype=np.int64)))]
    result = np.array(words, dtype=np.int64).reshape(shape)
    return result if shape else int(result)


def dram_words(w: Workload, mapping: Mapping, stage_of: dict[str, int],
               plans: dict[int, Plan], only: frozenset[str] | None = None,
               ) -> tuple[dict[str, Array], dict[int, Array]]:
    """Words moved to and from DRAM per (batch, head), by tensor and by stage (given the
    plans of a level below the global buffer: the words crossing its link to the level
    above, of the tensors ``only``)."""
    layout = w.layout
    placement = mapping.placement
    by_tensor: dict[str, Array] = {}
    by_stage: dict[int, Array] = {}

    def add(tensor: str, stage: int, words: Array) -> None:
        if only is not None and tensor not in only:
            return
        by_tensor[tensor] = by_tensor.get(tensor, 0) + words
        by_stage[stage] = by_stage.get(stage, 0) + words

    def share(tensor: str) -> Array:
        if placement.get(tensor) in _IN_DRAM:
            return 1
        return plans[stage_of[tensor]].spilled(tensor)

    seen: set[tuple[str, object]] = set()
    written: set[str] = set()
    for f in w.facts.values():
        stage = stage_of[f.name]
        plan = plans[stage]
        for o in f.operands:
            if o.source in layout.inputs:
                if (o.source, stage) in seen:
                    continue
                seen.add((o.source, stage))
                if f.masked:
                    add(o.source, stage, _masked_reads(w, f, o.ranks, plan))
                else:
                    ranks = layout.ranks[o.source]
                    reads = (_streamed if placement.get(o.source) == "dram" else _refetch)
                    add(o.source, stage, w.words(ranks) * reads(w, ranks, plan))
                continue
            producer = _group(w, mapping, stage_of, o.source)
            if (o.source not in placement or o.source == f.name or producer is None
                    or o.final):
                continue
            consumer = _group(w, mapping, stage_of, f.name)
            assert consumer is not None
            key: object = (("stage", consumer[0]) if consumer[0] != producer[0] else
                           ("pass", consumer[1]) if consumer[1] != producer[1] else None)
            if key is None or (o.source, key) in seen:
                continue
            seen.add((o.source, key))
            written.add(o.source)
            add(o.source, stage, _stored_words(w, o.source) * share(o.source))
    for f in w.facts.values():
        stage = stage_of[f.name]
        ranks = layout.ranks[f.name]
        if f.name in layout.outputs:
            # A DRAM loop over a rank the output does not have, outside one it has, sends
            # partial results out and back: written once per visit, read back on revisits.
            visits = _refetch(w, ranks, plans[stage])
            add(f.name, stage, w.words(ranks) * (2 * visits - 1))
        elif f.name in written:
            add(f.name, stage, _stored_words(w, f.name) * share(f.name))
        rank = layout.iterative.get(f.name)
        if rank is not None and placement.get(f.name) == "spill":
            # Spilled state of a recurrence goes out and comes back at every step.
            state = w.words(tuple(r for r in ranks if r != rank))
            fraction = plans[stage].spilled(f.name)
            add(f.name, stage, np.ceil(state * fraction).astype(np.int64)
                * (2 * w.sizes[rank] - 1))
    return by_tensor, by_stage


def _stored_words(w: Workload, tensor: str) -> int:
    """Values of an intermediate that exist (a sparse one stores only present values)."""
    f = w.facts[tensor]
    ranks = w.layout.ranks[tensor]
    if not f.masked:
        return w.words(ranks)
    return _touched(w, tensor, dict.fromkeys(ranks, 1), ranks)


def _layout_key(mapping: Mapping) -> tuple[object, ...]:
    """What of a mapping the buffer and the traffic depend on (not its bindings)."""
    stages = tuple((s.einsums, s.drain, s.dram_loops,
                    None if s.tiles is None else tuple(sorted(s.tiles.items())))
                   for s in mapping.stages)
    return (tuple(sorted(mapping.placement.items())), mapping.memory, stages,
            mapping.dram_loops, tuple(sorted(mapping.tiles.items())),
            tuple(sorted(mapping.in_place.items())))


def traffic_plan(w: Workload, arch: Architecture, mapping: Mapping, stage_of: dict[str, int],
                 ) -> tuple[dict[int, Plan], dict[str, int], dict[int, int]]:
    """The buffer plans of a mapping with chosen tiles and its DRAM words by tensor and by
    stage, remembered per workload (they depend on the buffer's size, not on bindings)."""
    key = ("traffic", _layout_key(mapping), capacity_words(arch), arch.word_bytes)
    found = w.memo.get(key)
    if found is None:
        try:
            plans = buffer_plans(w, arch, mapping, stage_of)
        except MappingError as error:
            w.memo[key] = error
            raise
        by_tensor, by_stage = dram_words(w, mapping, stage_of, plans)
        found = (plans, {t: int(v) for t, v in by_tensor.items()},
                 {s: int(v) for s, v in by_stage.items()})
        w.memo[key] = found
    if isinstance(found, MappingError):
        raise found
    return found


def level_groups(mapping: Mapping, level: str
                 ) -> list[tuple[frozenset[int], tuple[str, ...], dict[str, int | str]]]:
    """The groups of :func:`plan_groups` with ``level``'s loops and tiles: the mapping's
    ``levels`` entry for it, or else the global buffer's."""
    groups = plan_groups(mapping)
    tiling = mapping.levels.get(level)
    if tiling is None:
        return groups
    return [(stages, tiling.loops, tiling.tiles) for stages, _loops, _tiles in groups]


def tensor_kinds(w: Workload) -> dict[str, str]:
    """Which of ``sim.LEVEL_HOLDS`` each tensor is, for the traffic of a level."""
    layout = w.layout
    kinds = dict.fromkeys(layout.inputs, "inputs")
    for name in w.facts:
        kinds[name] = ("outputs" if name in layout.outputs else
                       "state" if name in layout.iterative else "intermediates")
    return kinds


def level_words(w: Workload, arch: Architecture, mapping: Mapping, stage_of: dict[str, int],
                level: str, plans: dict[int, Plan]) -> tuple[dict[str, Array], dict[int, Array]]:
    """Words crossing the link between ``level`` and the level above it per instance, by
    tensor and by stage: :func:`dram_words`'s rules over the level's plans, for the kinds
    of tensor it holds (those placed ``dram`` bypass every on-chip level)."""
    holds = arch.levels[level].holds
    only = frozenset(t for t, kind in tensor_kinds(w).items()
                     if kind in holds and mapping.placement.get(t) != "dram")
    return dram_words(w, mapping, stage_of, plans, only)


@dataclass(frozen=True)
class LevelTraffic:
    """One on-chip level below the global buffer under a mapping: its plans (occupancy
    per group of stages) and the words crossing its link to the level above, per
    instance, by tensor and by stage."""

    name: str
    plans: dict[int, Plan]
    words: dict[str, int]
    by_stage: dict[int, int]

    @property
    def held(self) -> frozenset[str]:
        return frozenset(t for p in self.plans.values() for t in p.occupancy)

    def held_in(self, stage: int) -> frozenset[str]:
        """What the level holds while ``stage`` runs."""
        return frozenset(self.plans[stage].occupancy)


def _nested(w: Workload, mapping: Mapping, level: str, above: str, plan: Plan,
            parent: Plan) -> None:
    """Refuse a level whose tile of a rank exceeds the tile of the level above it."""
    for rank in dict.fromkeys((*plan.loops, *parent.loops)):
        mine = int(_extent(w, rank, plan.loops, plan.tiles))
        theirs = int(_extent(w, rank, parent.loops, parent.tiles))
        if mine > theirs:
            raise MappingError(f"mapping {mapping.name}: {level} holds {mine:,} elements of "
                               f"{rank} at once but {above} above it only {theirs:,} (a "
                               "level's tiles may not exceed the tiles of the level above)")


def level_traffic(w: Workload, arch: Architecture, mapping: Mapping,
                  stage_of: dict[str, int], plans: dict[int, Plan],
                  ) -> tuple[LevelTraffic, ...]:
    """Every level of ``arch.levels`` under a mapping with chosen tiles, outer to inner
    (``plans``: the global buffer's); a level over its capacity is a
    :class:`MappingError` with the numbers. Remembered per workload."""
    if not arch.levels:
        return ()
    key = ("levels", _layout_key(mapping), tuple(sorted(
        (n, t.loops, tuple(sorted(t.tiles.items()))) for n, t in mapping.levels.items())),
        tuple(arch.levels.items()), arch.cores, arch.word_bytes,
        capacity_words(arch))
    found = w.memo.get(key)
    if found is None:
        try:
            found = _level_traffic(w, arch, mapping, stage_of, plans)
        except MappingError as error:
            found = error
        w.memo[key] = found
    if isinstance(found, MappingError):
        raise found
    return found


def _level_traffic(w: Workload, arch: Architecture, mapping: Mapping,
                   stage_of: dict[str, int], plans: dict[int, Plan],
                   ) -> tuple[LevelTraffic, ...]:
    result = []
    above, parents = "global_buffer", plans
    word = arch.word_bytes
    for name, lv in arch.levels.items():
        mine: dict[int, Plan] = {}
        for stages, loops, wanted in level_groups(mapping, name):
            plan = buffer_plan(w, arch, mapping, stage_of, stages, loops,
                               resolved_tiles(mapping, wanted, w.sizes), level=name)
            if not plan.fits:
                need = sum(v for t, v in plan.occupancy.items() if t not in plan.spill) * word
                parts = ", ".join(f"{t} {int(v) * word:,} B" for t, v in plan.occupancy.items())
                copy = "per core" if lv.per_core else f"shared by {arch.cores} cores"
                raise MappingError(f"mapping {mapping.name} needs {int(need):,} B of {name} "
                                   f"({parts}) but {arch.name} has "
                                   f"{capacity_words(arch, name) * word:,} B ({copy})")
            _nested(w, mapping, name, above, plan, parents[min(stages)])
            mine.update(dict.fromkeys(stages, plan))
        by_tensor, by_stage = level_words(w, arch, mapping, stage_of, name, mine)
        result.append(LevelTraffic(name, mine, {t: int(v) for t, v in by_tensor.items()},
                                   {s: int(v) for s, v in by_stage.items()}))
        above, parents = name, mine
    return tuple(result)


def level_cycles(w: Workload, arch: Architecture, level: str, words: Array) -> Array:
    """Cycles the link into ``level`` takes to move ``words`` per instance for all
    instances (0 where the level gives no bandwidth): the cores' copies of a per-core
    level fill side by side."""
    lv: Level = arch.levels[level]
    if lv.bandwidth_bytes_per_cycle is None:
        return np.zeros(np.shape(words), dtype=np.int64) if np.ndim(words) else 0
    per_cycle = lv.bandwidth_bytes_per_cycle * (arch.cores if lv.per_core else 1)
    if np.ndim(words):
        return np.ceil(words * arch.word_bytes * w.instances / per_cycle)
    return math.ceil(int(words) * arch.word_bytes * w.instances / per_cycle)


def read_sets(global_held: frozenset[str], levels: Sequence[frozenset[str]]
              ) -> list[frozenset[str]]:
    """The operands the arrays read from each on-chip level (the global buffer, then each
    of ``levels``' held sets, outer to inner): each from the innermost level holding it."""
    sets = [frozenset(global_held), *levels]
    inner: frozenset[str] = frozenset()
    result = []
    for held in reversed(sets):
        result.append(held - inner)
        inner = inner | held
    return result[::-1]


def dram_cycles(w: Workload, arch: Architecture, words: Array) -> Array:
    """Cycles to move ``words`` (per instance; one value, or an array of candidates) to
    and from DRAM for all instances at the architecture's bandwidth."""
    per_cycle = arch.dram.bandwidth_bytes_per_s / arch.clock_hz
    if np.ndim(words):
        return np.ceil(words * arch.word_bytes * w.instances / per_cycle)
    return math.ceil(int(words) * arch.word_bytes * w.instances / per_cycle)


# ----- the whole evaluation


def evaluate(cascade: Cascade, arch: Architecture, mapping: Mapping,
             shapes: MappingABC[str, int], *, batch: int = 1, heads: int = 1) -> Report:
    """Cost of ``cascade`` on ``arch`` under ``mapping`` for ``batch x heads`` instances."""
    return evaluate_workload(workload(cascade, shapes, batch=batch, heads=heads), arch,
                             mapping)


def evaluate_workload(w: Workload, arch: Architecture, mapping: Mapping) -> Report:
    """:func:`evaluate` of a workload built once (see :func:`sim.workload`)."""
    known = {e.name for e in w.cascade.einsums}
    named = [*mapping.bindings, *(n for stage in mapping.stages for n in stage.einsums),
             *(stage.drain for stage in mapping.stages if stage.drain)]
    strangers = list(dict.fromkeys(n for n in named if n not in known))
    if strangers:
        raise MappingError(f"mapping {mapping.name} names {', '.join(strangers)}, which "
                           f"{w.cascade.name} does not have (a mapping of another cascade?)")
    unknown = [n for n in mapping.levels if n not in arch.levels]
    if unknown:
        raise MappingError(f"mapping {mapping.name} tiles level(s) {', '.join(unknown)}, "
                           f"which {arch.name} does not have (its levels below the global "
                           f"buffer: {', '.join(arch.levels) or 'none'})")
    stage_of = stage_index(w.cascade, mapping)
    for name in w.facts:
        if name not in stage_of:
            raise MappingError(f"mapping {mapping.name}: {name} is in no stage")
    hosts: dict[str, str] = {}
    for tensor, host in mapping.in_place.items():
        problem = (in_place_problem(w, tensor, host) if host not in hosts else
                   f"{hosts[host]} is already stored there")
        if problem is not None:
            raise MappingError(f"mapping {mapping.name}: {tensor} cannot be stored in place "
                               f"of {host}: {problem}")
        hosts[host] = tensor
    instances = w.instances
    reports: dict[str, EinsumReport] = {}
    rows: dict[str, ComputeRows] = {}
    energy: dict[str, float] = {}
    accesses: dict[str, float] = {}
    for f in w.facts.values():
        binding = mapping.bindings.get(f.name)
        if binding is None:
            raise MappingError(f"mapping {mapping.name} does not say where {f.name} runs")
        if binding.unit not in arch.units:
            raise MappingError(f"mapping {mapping.name}: {arch.name} has no unit "
                               f"{binding.unit!r} (units: {', '.join(arch.units)})")
        row = compute_rows(f, arch, binding.unit, [binding.spatial], w.sizes,
                           operands=binding.operands, dataflow=binding.dataflow,
                           mapping_name=mapping.name, memo=w.memo)
        rows[f.name] = row
        reports[f.name] = EinsumReport(f.name, binding.unit, int(row.cycles[0]), row.busy,
                                       dict(f.ops), stage_of[f.name], int(row.fill[0]),
                                       binding.dataflow, int(row.folds[0]))
        for key, pj in row.energy_pj.items():
            energy[key] = energy.get(key, 0.0) + pj * instances
        for key, count in ((f"{binding.unit}.rf.reads", row.rf_reads),
                           (f"{binding.unit}.rf.writes", row.rf_writes)):
            accesses[key] = accesses.get(key, 0) + count * instances

    plans, traffic, traffic_by_stage = traffic_plan(w, arch, mapping, stage_of)
    word = arch.word_bytes
    dram_bytes_per_head = sum(traffic.values()) * word

    unit_cycles = dict.fromkeys(arch.units, 0)
    each = per_core(w, arch)
    totals = {name: int(total_cycles(row, each)[0]) for name, row in rows.items()}
    for name, r in reports.items():
        assert r.unit is not None
        unit_cycles[r.unit] += totals[name]
    # Cycles of each stage over all instances.
    stage_cycles = [_stage_cycles(w, arch, mapping, stage, totals, reports)
                    for stage in mapping.stages]
    if mapping.memory == "concurrent":
        # Instances flow through the stages as a pipeline, each unit working through its
        # share of every instance: the busiest unit (or DRAM) sets the pace.
        compute = max(unit_cycles.values(), default=0)
    else:
        compute = sum(stage_cycles)
    levels = level_traffic(w, arch, mapping, stage_of, plans)
    dram = dram_cycles(w, arch, sum(traffic.values()))
    links = {lt.name: level_cycles(w, arch, lt.name, sum(lt.words.values())) for lt in levels}
    check_cycles(max(compute, dram, *links.values()), arch,
                 f"{w.cascade.name} under mapping {mapping.name}")
    if mapping.memory != "per_stage":
        total = max(compute, dram, *links.values())
    else:
        total = sum(max(c, dram_cycles(w, arch, traffic_by_stage.get(i, 0)),
                        *(level_cycles(w, arch, lt.name, lt.by_stage.get(i, 0))
                          for lt in levels))
                    for i, c in enumerate(stage_cycles))

    utilisation = dict.fromkeys(arch.units, 0.0)
    for r in reports.values():
        assert r.unit is not None
        if total:
            utilisation[r.unit] += r.busy_pe_cycles * instances / (
                arch.units[r.unit].pes * arch.cores * total)

    writes = buffer_writes(w, {t for p in plans.values() for t in p.occupancy})
    passed = {f.name: forwarded(w, mapping, stage_of, f) for f in w.facts.values()}
    if not levels:  # the arrays read what the global buffer holds
        reads = sum(int(buffer_reads(f, rows[f.name], plans[stage_of[f.name]].occupancy.keys()
                                     - passed[f.name])[0])
                    for f in w.facts.values())
        memory = memory_energy(w, arch, traffic, reads, writes=writes,
                               off_chip=mapping.off_chip)
    else:  # each operand from the innermost level holding it
        sets = {f.name: read_sets(frozenset(plans[stage_of[f.name]].occupancy) - passed[f.name],
                                  [lt.held_in(stage_of[f.name]) - passed[f.name]
                                   for lt in levels])
                for f in w.facts.values()}
        reads_by = [sum(int(buffer_reads(f, rows[f.name], sets[f.name][i])[0])
                        for f in w.facts.values()) for i in range(len(levels) + 1)]
        memory = memory_energy(w, arch, traffic, reads_by[0],
                               [sum(lt.words.values()) for lt in levels], reads_by[1:],
                               writes=writes, off_chip=mapping.off_chip)
    accesses.update(memory.accesses)
    energy.update(memory.energy_pj)
    buffer = _level_report(arch, plans, sum(traffic.values()), dram,
                           arch.global_buffer.capacity_bytes, capacity_words(arch), instances)
    level_report = {"global_buffer": buffer}
    for lt in levels:
        level_report[lt.name] = _level_report(arch, lt.plans, sum(lt.words.values()),
                                              links[lt.name],
                                              arch.levels[lt.name].capacity_bytes,
                                              capacity_words(arch, lt.name), instances)
    return Report(
        cascade=w.cascade.name, architecture=arch.name, mapping=mapping.name,
        shapes=w.sizes, instances=instances, cycles=total, seconds=total / arch.clock_hz,
        compute_cycles=compute, dram_cycles=dram, utilisation=utilisation,
        unit_cycles=unit_cycles, dram_bytes=dram_bytes_per_head * instances,
        dram_bytes_by_tensor={t: v * word * instances for t, v in traffic.items()},
        buffer_bytes=buffer["occupancy_bytes"],
        buffer_capacity_bytes=arch.global_buffer.capacity_bytes,
        tiles=dict(buffer["tiles"]), spilled=dict(buffer["spilled"]), energy_pj=energy,
        energy_modelled=arch.energy_modelled, accesses=accesses,
        area_mm2=arch.area_mm2, einsums=tuple(reports.values()),
        buffer_bytes_by_tensor=dict(buffer["bytes_by_tensor"]),
        live_state=dict(w.analysis.live_state),
        levels=level_report,
    )


def _level_report(arch: Architecture, plans: dict[int, Plan], words: int, cycles: int,
                  capacity: int, share: int, instances: int) -> dict[str, Any]:
    """What :attr:`Report.levels` says of one level: ``occupancy_bytes`` of one instance
    (at most ``share_bytes``: a per-core copy, or a shared level's part per core)."""
    word = arch.word_bytes
    occupancy = max((sum(int(v) for v in p.kept.values()) for p in plans.values()),
                    default=0)
    held: dict[str, int] = {}
    spilled: dict[str, float] = {}
    tiles: dict[str, int] = {}
    for p in plans.values():
        tiles.update({r: int(t) for r, t in p.tiles.items()})
        for t, v in p.kept.items():
            held[t] = max(int(v) * word, held.get(t, 0))
        for t in (t for t in p.occupancy if t in p.spill):  # in held order: output is stable
            spilled[t] = max(float(p.spilled(t)), spilled.get(t, 0.0))
    return {"capacity_bytes": capacity, "share_bytes": share * word,
            "occupancy_bytes": occupancy * word,
            "bytes_by_tensor": held, "tiles": tiles, "spilled": spilled,
            "bytes_in": words * word * instances, "link_cycles": int(cycles)}


@dataclass(frozen=True)
class MemoryEnergy:
    accesses: dict[str, Array]
    energy_pj: dict[str, Array]


def forwardable(w: Workload, f: EinsumFacts) -> tuple[str, ...]:
    """Operands of ``f`` computed in the same pass at the index ``f`` reads them: on the
    unit that computes them, spread the same way and in the same stage, they are passed on
    in the PEs' registers (:func:`forwarded`)."""
    return tuple(dict.fromkeys(
        o.source for o in f.operands
        if o.source in w.facts and o.source != f.name
        and w.levels[o.source] == w.levels[f.name] and o.ranks == w.layout.ranks[o.source]))


def forwarded(w: Workload, mapping: Mapping, stage_of: MappingABC[str, int],
              f: EinsumFacts) -> frozenset[str]:
    """Operands of ``f`` its PEs already hold: :func:`forwardable` ones made in the same
    stage on the same unit spread the same way (SD[p] adds up SN[m,p] as the 1D array
    computes it), so passed on in the PEs' registers, not read back from a buffer."""
    mine = mapping.bindings.get(f.name)
    found = set()
    for source in forwardable(w, f):
        producer = mapping.bindings.get(source)
        if (mine is not None and producer is not None
                and (producer.unit, producer.spatial) == (mine.unit, mine.spatial)
                and stage_of.get(source) == stage_of.get(f.name)):
            found.add(source)
    return frozenset(found)


def buffer_reads(f: EinsumFacts, rows: ComputeRows, held: Collection[str]) -> Array:
    """Words the array reads from the global buffer for ``f``, per row: each operand held
    there, as many words as it spreads over the array axes, at every fetch: every step it
    cannot serve from its PE's register file (:attr:`ComputeRows.reuse`), once a fold for
    the operand a dataflow keeps in the PEs."""
    mask = np.array([o.source in held for o in f.operands], dtype=np.int64)
    if not mask.size:
        return rows.steps * 0
    reuse = rows.reuse if rows.reuse is not None else np.ones_like(rows.widths)
    words = _ceil(rows.steps[:, None] * rows.widths, reuse)
    kept = rows.stationary
    if kept is not None:
        words[:, kept] = rows.folds * rows.widths[:, kept]
    return words @ mask


def buffer_writes(w: Workload, held: Iterable[str]) -> int:
    """Words the units write into the buffer per instance: each value of the computed
    tensors it holds, once (partial sums stay in the PEs)."""
    return sum(_stored_words(w, t) for t in held if t in w.facts)


def memory_energy(w: Workload, arch: Architecture, traffic: MappingABC[str, Array],
                  reads: Array, levels: Sequence[Array] = (),
                  level_reads: Sequence[Array] = (), writes: Array = 0,
                  off_chip: Collection[str] = ()) -> MemoryEnergy:
    """DRAM accesses, global-buffer writes (inputs arriving from DRAM, and ``writes`` words
    the arrays write per instance, see :func:`buffer_writes`) and reads (``reads`` words the
    arrays read per instance, see :func:`buffer_reads`, and the words filling the first
    level below it), for all instances. ``levels``: words crossing the link into each level
    of ``arch.levels`` per instance (its row writes, and the row reads of the level above);
    ``level_reads``: words the arrays read from each. Inputs ``off_chip`` (placed
    ``dram``) stream past the buffer and fill none of its rows."""
    instances = w.instances
    accesses: dict[str, Array] = {}
    energy: dict[str, Array] = {}
    total_words = sum(traffic.values())
    accesses["dram"] = total_words * arch.word_bytes * instances * 8 / arch.dram.access_bits
    if arch.dram.energy_pj_per_access is not None:
        energy["dram"] = accesses["dram"] * arch.dram.energy_pj_per_access
    gb = arch.global_buffer
    fills = sum((v for t, v in traffic.items() if t in w.layout.inputs and t not in off_chip),
                start=0)
    accesses["global_buffer.row_writes"] = (fills + writes) * instances / gb.row_values
    out = reads + levels[0] if levels else reads
    accesses["global_buffer.row_reads"] = out * instances / gb.row_values
    if gb.read_pj_per_row is not None and gb.write_pj_per_row is not None:
        energy["global_buffer"] = (accesses["global_buffer.row_writes"] * gb.write_pj_per_row
                                   + accesses["global_buffer.row_reads"] * gb.read_pj_per_row)
    for i, (name, lv) in enumerate(arch.levels.items()):
        words_in = levels[i] if i < len(levels) else 0
        words_out = ((levels[i + 1] if i + 1 < len(levels) else 0)
                     + (level_reads[i] if i < len(level_reads) else 0))
        accesses[f"{name}.row_writes"] = words_in * instances / lv.row_values
        accesses[f"{name}.row_reads"] = words_out * instances / lv.row_values
        if lv.read_pj_per_row is not None and lv.write_pj_per_row is not None:
            energy[name] = (accesses[f"{name}.row_writes"] * lv.write_pj_per_row
                            + accesses[f"{name}.row_reads"] * lv.read_pj_per_row)
    return MemoryEnergy(accesses, energy)


def _stage_cycles(w: Workload, arch: Architecture, mapping: Mapping, stage: Stage,
                  totals: dict[str, int], reports: dict[str, EinsumReport]) -> int:
    """Cycles of a stage over all instances: its busiest unit's Einsums, or a drain."""
    if stage.drain is not None:
        f = w.facts.get(stage.drain)
        binding = mapping.bindings.get(stage.drain)
        if f is None or binding is None:
            raise MappingError(f"mapping {mapping.name}: drain of {stage.drain}, which does "
                               "not compute or has no binding")
        unit = arch.units[binding.unit]
        reduced = {rank_of(v) for v in f.einsum.reduced_ranks}
        axis = max((size for r, size in zip(binding.spatial, unit.shape, strict=False)
                    if r in reduced), default=1)
        drained = compute_rows(f, arch, binding.unit, [binding.spatial], w.sizes,
                               dataflow=binding.dataflow, mapping_name=mapping.name)
        return int(drained.steps[0]) * axis * per_core(w, arch)
    per_unit: dict[str, int] = {}
    for name in stage.einsums:
        report = reports.get(name)
        if report is None:
            continue
        assert report.unit is not None
        per_unit[report.unit] = per_unit.get(report.unit, 0) + totals[name]
    return max(per_unit.values(), default=0)
