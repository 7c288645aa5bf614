"""The kernels an HLS project can hold: their structure (lanes, blocks and DRAM words from
the architecture the mapping runs on), the loops with their expected initiation interval
and trip counts, what they instantiate (for the fit check), template context and test
vectors (from the Python golden models).

Each builder returns a :class:`Kernel` whose plan is complete before any vector is made
(``Kernel.vectors()`` runs the golden model), so a design that does not fit is refused
cheaply; the renderer turns a kernel into files.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from einsum import CascadeError, library_names
from sim import (
    DEFAULT_SOFTMAX,
    WEIGHT_NAMES,
    Architecture,
    AttentionNumerics,
    Buffer,
    DesignResources,
    Device,
    EncoderLayer,
    Fixed,
    FixedType,
    GeluUnit,
    LinearUnit,
    OnlineSoftmax,
    TiledAttention,
    Unit,
    hls_resources,
    softmax_config,
)

from ._layout import Layout, container_bits
from ._units import (
    c_literal,
    exact_sum,
    exp_context,
    gelu_context,
    layernorm_context,
    reciprocal_context,
)

__all__ = ["KERNELS", "Kernel", "Loop", "Port", "build_kernel", "check_kernel"]

MAX_WORD_BITS = 512
"""The widest m_axi word a kernel uses (Edge-MoE's are 256 bits; 512 is the widest a
ZCU102 HP port and an Alveo memory controller take in one beat)."""

Cases = dict[str, dict[str, Fixed]]
Overflows = dict[str, dict[str, int]]


@dataclass(frozen=True)
class Port:
    """A top-level argument: ``rows x cols`` values of ``type`` in DRAM words (``layout``)."""

    name: str
    type: FixedType
    shape: tuple[int, ...]
    role: str
    """in, out, or scratch (DRAM the kernel uses between its stages, no vectors)."""
    layout: Layout
    bundle: str
    word: str = "word_t"
    """The typedef of its DRAM word."""

    @property
    def input(self) -> bool:
        return self.role == "in"

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Loop:
    """A loop of the emitted code as Vitis would schedule it: ``trips`` iterations per run
    at ``ii`` cycles each, ``runs`` times per kernel call."""

    function: str
    label: str
    trips: int
    ii: int
    runs: int = 1
    how: str = ""
    dram_bits: int = 0
    """Bits each iteration moves to or from DRAM."""

    @property
    def cycles(self) -> int:
        return self.trips * self.ii * self.runs

    @property
    def dram(self) -> int:
        """Bits the loop moves to or from DRAM in one kernel call."""
        return self.trips * self.runs * self.dram_bits


def dram_cycles(arch: Architecture, loops: list[Loop]) -> int:
    """Cycles ``arch``'s DRAM needs for the traffic of ``loops`` (its bandwidth shared by
    every port)."""
    per_cycle = arch.dram.bandwidth_bytes_per_s * 8 / (arch.clock_mhz * 1e6)
    return math.ceil(sum(loop.dram for loop in loops) / per_cycle)


def _bounded(arch: Architecture, compute: int, loops: list[Loop]) -> tuple[int, str]:
    """max(compute, DRAM) cycles, and which binds."""
    dram = dram_cycles(arch, loops)
    return max(compute, dram), ("DRAM" if dram > compute else "compute")


@dataclass
class Instantiated:
    """What emitted code instantiates, in the terms ``sim.hls_resources`` counts."""

    multipliers: dict[str, tuple[int, int, int]]
    """name -> (count, a bits, b bits) of the multipliers the code instantiates."""
    table_copies: dict[str, tuple[int, int, int]]
    """name -> (copies, entries, bits)."""
    buffers: dict[str, Buffer]
    """Every on-chip RAM array the code declares, at its shape (a partitioned array: one
    copy per bank)."""
    fifos: dict[str, tuple[int, int]]
    """Every hls::stream: (depth, bits)."""
    registers: dict[str, int]
    """Arrays partitioned into registers: their bits."""
    lanes: dict[str, tuple[Unit, int]]
    """Datapath lanes -> (the preset unit they implement, how many): their LUT/FF."""

    def resources(self, device: Device) -> DesignResources:
        """Their resources on ``device``."""
        return hls_resources(device, multipliers=self.multipliers, tables=self.table_copies,
                             buffers=self.buffers, lanes=self.lanes, fifos=self.fifos,
                             registers=self.registers)

    def instantiated(self) -> dict[str, Any]:
        """Just these fields, to pass on (a plan's to its kernel)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(Instantiated)}


def _prefixed(**parts: Instantiated) -> dict[str, dict[str, Any]]:
    """The fields of ``parts`` merged, each name prefixed with its part's ("linear: ...")."""
    return {f.name: {f"{label}: {k}": v for label, part in parts.items()
                     for k, v in getattr(part, f.name).items()}
            for f in dataclasses.fields(Instantiated)}


@dataclass
class Kernel(Instantiated):
    name: str
    title: str
    template: str
    top: str
    sizes: dict[str, int]
    types: dict[str, FixedType]
    ports: list[Port]
    words: dict[str, int]
    """DRAM word typedef -> bits."""
    context: dict[str, Any]
    units: dict[str, list[dict[str, Any]]]
    tables: list[dict[str, Any]]
    parallelism: dict[str, int]
    loops: list[Loop]
    latency: int
    """Expected cycles of one call (loop trips x II, stages overlapped where DATAFLOW runs
    them together), before pipeline fill, which only Vitis reports."""
    latency_how: str
    dram_bits: int
    """Bits one call moves to or from DRAM."""
    make_vectors: Callable[[], tuple[Cases, Overflows]]
    sites: list[str] = field(default_factory=list)
    """Assignments whose overflows C simulation counts, in the C++ enum's order."""
    notes: list[str] = field(default_factory=list)
    """Choices the plan made, for the project's README."""
    headers: list[str] = field(default_factory=list)
    """Extra templates rendered into ``src/`` (cores the kernel includes)."""
    allow_overflow: bool = False
    cases: Cases = field(default_factory=dict)
    overflows: Overflows = field(default_factory=dict)

    def vectors(self) -> None:
        """Run the golden model: every case's port values and overflow counts."""
        if not self.cases:
            self.cases, self.overflows = self.make_vectors()


def _pow2_floor(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def _pow2_ceil(n: int) -> int:
    return 1 << max(0, (max(1, n) - 1).bit_length())


def _lanes(values: int, wanted: int, container: int) -> int:
    """Lanes of a word-fed loop: the unit's lanes as a power of two, at most one word of
    MAX_WORD_BITS and no more than the values there are."""
    return max(1, min(_pow2_floor(wanted), MAX_WORD_BITS // container, _pow2_ceil(values)))


def _unit(arch: Architecture, name: str) -> Unit:
    if name not in arch.units:
        raise CascadeError(f"architecture {arch.name} has no {name} unit, which the HLS "
                           f"kernels need (its lanes set their parallelism)")
    return arch.units[name]


def _edge_values(t: FixedType, count: int, extra: list[float]) -> np.ndarray:
    return np.resize([t.min_raw * t.lsb, t.max_raw * t.lsb, 0.0, *extra], count)


# ----- GELU


def _gelu(arch: Architecture, sizes: dict[str, int], numerics: AttentionNumerics) -> Kernel:
    unit = GeluUnit()
    count = sizes["N"]
    io = unit.io_type
    container = container_bits(io.width)
    preset = _unit(arch, "gelu")
    lanes = _lanes(count, preset.shape[0], container)
    layout = Layout("rows", rows=1, cols=count, lanes=lanes, container=container, pad=lanes)
    words = layout.words
    gelu, table = gelu_context("gelu_unit", unit)
    notes = [f"{lanes} GELU lanes (the {preset.name} unit's {preset.shape[0]}"
             + (f", as a power of two within a {MAX_WORD_BITS}-bit word" if lanes != preset.shape[0]
                and count >= preset.shape[0] else "") + "), one per value of a "
             f"{layout.bits}-bit word; each lane reads its own copy of the GELU table."]
    loops = [Loop("read_x", "READ", words, 1, how="one word a cycle from m_axi",
                  dram_bits=layout.bits),
             Loop("gelu_lanes", "GELU", words, 1, how=f"{lanes} GELU units"),
             Loop("write_y", "WRITE", words, 1, how="one word a cycle to m_axi",
                  dram_bits=layout.bits)]
    latency, bound = _bounded(arch, words, loops)
    weight_bits = max(io.fraction - unit.step_bits, 1)

    def vectors() -> tuple[Cases, Overflows]:
        rng = np.random.default_rng(sizes.get("seed", 0))
        inputs = {"random": rng.normal(0, 3, count),
                  "edges": _edge_values(io, count, [-5.5, 5.5, -5.5 + io.lsb, 5.5 - io.lsb,
                                                    -io.lsb, io.lsb])}
        cases = {}
        for case, values in inputs.items():
            x = Fixed.from_float(values, io)
            cases[case] = {"x": x, "y": unit(x)}
        return cases, {case: {} for case in cases}

    return Kernel(
        name="gelu", title="Edge-MoE GELU unit", template="gelu.cpp.j2", top="gelu_kernel",
        sizes={"N": count, "LANES": lanes, "WORDS": words}, types={"io_t": io},
        ports=[Port("x", io, (count,), "in", layout, "gmem0"),
               Port("y", io, (count,), "out", layout, "gmem1")],
        words={"word_t": layout.bits},
        context={"lanes": lanes, "container": container, "words_bits": layout.bits},
        units={"exps": [], "reciprocals": [], "gelus": [gelu], "layernorms": []},
        tables=[table], parallelism={"lanes": lanes}, loops=loops,
        latency=latency, latency_how=f"the three loops overlap in DATAFLOW: one word a cycle "
                                     f"({bound}-bound)",
        dram_bits=sum(loop.dram for loop in loops),
        multipliers={"GELU interpolation": (lanes, weight_bits, unit.table_type.width + 1)},
        table_copies={"GELU delta": (lanes, unit.entries, unit.table_type.width)},
        buffers={}, fifos={"FIFO x_words": (2, layout.bits), "FIFO y_words": (2, layout.bits)},
        registers={},
        lanes={"GELU lanes": (preset, lanes)}, make_vectors=vectors, notes=notes)


# ----- FuseMax 1-pass tiled attention

ATTENTION_STEP = 12
"""Cycles between a tile's scores and its SLN V (RM', PRM: a compare and an exp unit) plus
the denominator update after it: an estimate; only Vitis reports the depths."""


@dataclass
class _AttentionPlan(Instantiated):
    context: dict[str, Any]
    loops: list[Loop]
    cycles: int
    bound: str
    notes: list[str]
    units: dict[str, list[dict[str, Any]]]
    tables: list[dict[str, Any]]


def _attention_plan(arch: Architecture, n: AttentionNumerics, *, queries: int, keys: int,
                    e: int, f: int, tile: int, L: int, AW: int, calls: int = 1,
                    word: str = "act_t") -> _AttentionPlan:
    """The attention core for ``calls`` runs of P = queries, M = keys (one per head)."""
    preset = _unit(arch, "attention")
    PQ = max(1, min(preset.shape[0], queries))
    EB, FB, LW = _ceil(e, L), _ceil(f, L), L // AW
    container = container_bits(n.io.width)
    q_blocks, tiles = _ceil(queries, PQ), _ceil(keys, tile)
    last_tile = keys - (tiles - 1) * tile
    last_count = queries - (q_blocks - 1) * PQ
    dot = exact_sum(2 * n.io.width, 2 * n.io.integer, e)
    sld = exact_sum(n.weight.width, n.weight.integer, tile)
    nv = exact_sum(n.weight.width + n.io.width, n.weight.integer + n.io.integer, tile)
    one = (q_blocks, q_blocks, q_blocks)
    trips = {"q_blocks": one, "kv_words": (keys * EB * LW,) * 3, "qk": (keys * EB,) * 3,
             "tiles": (tiles,) * 3, "valid": (min(last_tile, tile), tile, tile),
             "slnv": (min(last_tile, tile) * FB, tile * FB, tile * FB),
             "output": (last_count * FB, PQ * FB, PQ * FB),
             "av_words": (last_count * FB * LW, PQ * FB * LW, PQ * FB * LW)}
    exp, exp_table = exp_context("exp_unit", n.exp)
    recip, recip_table = reciprocal_context("recip_unit", n.reciprocal)
    context = {"PQ": PQ, "L": L, "M0": tile, "EB": EB, "FB": FB, "E": e, "F": f, "AW": AW,
               "LW": LW, "container": container, "word": word, "word_bits": AW * container,
               "dot_w": dot[0], "dot_i": dot[1], "sld_w": sld[0], "sld_i": sld[1],
               "nv_w": nv[0], "nv_i": nv[1], "trips": trips, "fifo_scores": max(2, tile),
               "fifo_v": 2}
    runs = q_blocks * calls
    loops = [
        Loop("att_read_q", "READ_Q", PQ * EB * LW, 1, runs, how="a query block's rows",
             dram_bits=AW * container),
        Loop("att_read_rows", "READ_ROWS (K)", keys * EB * LW, 1, runs,
             how="every key's K row, once per query block", dram_bits=AW * container),
        Loop("att_read_rows", "READ_ROWS (V)", keys * FB * LW, 1, runs,
             how="every key's V row, once per query block", dram_bits=AW * container),
        Loop("att_scores", "LOAD_Q", PQ * EB, 1, runs, how="the query block into registers"),
        Loop("att_scores", "QK", keys * EB, 1, runs,
             how=f"{PQ} x {L} MACs a cycle, a K block each"),
        Loop("att_softmax_av", "START_RNV", FB, 1, runs, how="RNV = 0"),
        Loop("att_softmax_av", "TILE_SCORES", tile, 1, runs * tiles,
             how="a tile's scores and their max LM"),
        Loop("att_softmax_av", "SLNV", tile * FB, 1, runs * tiles,
             how=f"{PQ} exp units at each key's first block, then {PQ} x {L} MACs a cycle"),
        Loop("att_softmax_av", "NUMERATOR", FB, 1, runs * tiles,
             how=f"RNV = PRM RNV + SLNV, {PQ} x {L} lanes"),
        Loop("att_softmax_av", "OUTPUT", PQ * FB, 1, runs,
             how=f"AV = RNV / RD: {L} multipliers by the reciprocals"),
        Loop("att_write", "WRITE_AV", PQ * FB * LW, 1, runs, how="AV rows to DRAM",
             dram_bits=AW * container)]
    softmax_time = FB + sum(v + v * FB + FB + ATTENTION_STEP for v in
                            [tile] * (tiles - 1) + [last_tile]) + PQ * FB
    score_time = PQ * EB + keys * EB
    cycles, bound = _bounded(arch, calls * q_blocks * max(softmax_time, score_time), loops)
    weight, acc, sum_t = n.weight, n.accumulator, n.sum
    log2e, interpolation = dsp_mults(n.exp)
    mult = {"QK array": (PQ * L, n.io.width, n.io.width),
            "SLN V array": (PQ * L, weight.width, n.io.width),
            "PRM x RNV": (PQ * L, weight.width, acc.width),
            "PRM x RD": (PQ, weight.width, sum_t.width),
            "RNV x 1/RD": (L, acc.width, n.reciprocal.out_type.width),
            "exp log2(e) (SLN, PRM)": (2 * PQ, *log2e),
            "exp interpolation (SLN, PRM)": (2 * PQ, *interpolation),
            "reciprocal interpolation": (PQ, sum_t.width,
                                         n.reciprocal.table_type.width + 1)}
    notes = [f"QK and SLN V each on a PQ x L = {PQ} x {L} array (the {arch.name} attention "
             f"unit, {'x'.join(map(str, preset.shape))}: {PQ} queries share each K and V "
             f"block of {L} values), as two DATAFLOW processes, so QK of a tile overlaps "
             "SLN V of the previous one (Edge-MoE likewise has a QK and an AV unit).",
             f"K and V rows stream from DRAM once per block of {PQ} queries, in "
             f"{AW * container}-bit words of {AW} values (a block of {L} is {LW} "
             f"word{'s' if LW > 1 else ''}), one block a cycle: loads keep pace with the "
             f"arrays. On chip: the query block, one tile of {tile} scores per query, RNV "
             "and the running statistics; nothing grows with the number of keys.",
             f"{PQ} exp units and {PQ} reciprocal units, each with its own table copy."]
    return _AttentionPlan(
        context=context, loops=loops, cycles=cycles, bound=bound, multipliers=mult,
        table_copies={"exp": (PQ, exp["entries"], n.exp.table_type.width),
                      "reciprocal": (PQ, recip["entries"], n.reciprocal.table_type.width)},
        buffers={"qk tile": Buffer(values=tile, bits=n.score.width, copies=PQ)},
        fifos={"FIFO q_blocks": (2, L * n.io.width), "FIFO k_blocks": (2, L * n.io.width),
               "FIFO v_blocks": (2, L * n.io.width),
               "FIFO qk_scores": (max(2, tile), PQ * n.score.width),
               "FIFO av_blocks": (2, L * n.io.width)},
        registers={"query block": PQ * EB * L * n.io.width,
                   "SLN V sums": PQ * FB * L * nv[0], "RNV": PQ * FB * L * acc.width,
                   "running statistics": PQ * (3 * n.score.width + 2 * weight.width
                                               + sld[0] + sum_t.width
                                               + n.reciprocal.out_type.width)},
        lanes={"QK and SLN V arrays": (preset, 2 * PQ * L),
               "exp and reciprocal lanes": (_unit(arch, "softmax"), PQ)},
        notes=notes, units={"exps": [exp], "reciprocals": [recip]},
        tables=[exp_table, recip_table])


def _attention_types(n: AttentionNumerics) -> dict[str, FixedType]:
    return {"io_t": n.io, "score_t": n.score, "difference_t": n.difference, "exp_t": n.weight,
            "sum_t": n.sum, "acc_t": n.accumulator, "recip_t": n.reciprocal.out_type}


ATTENTION_SITES = ["QK", "SPD", "SLD", "RD", "SPNV", "SLNV", "RNV", "AV"]


def _attention(arch: Architecture, sizes: dict[str, int], numerics: AttentionNumerics) -> Kernel:
    n = numerics
    p, m, e, f = sizes["P"], sizes["M"], sizes["E"], sizes["F"]
    tile = min(sizes.get("M0", 256), m)
    container = container_bits(n.io.width)
    preset = _unit(arch, "attention")
    L = min(_pow2_floor(preset.shape[-1]), _pow2_ceil(max(e, f)))
    AW = min(L, MAX_WORD_BITS // container)
    plan = _attention_plan(arch, n, queries=p, keys=m, e=e, f=f, tile=tile, L=L, AW=AW)
    ctx = plan.context
    q_layout = Layout("rows", rows=p, cols=e, lanes=AW, container=container, pad=L)
    k_layout = Layout("rows", rows=m, cols=e, lanes=AW, container=container, pad=L)
    v_layout = Layout("rows", rows=m, cols=f, lanes=AW, container=container, pad=L)
    av_layout = Layout("rows", rows=p, cols=f, lanes=AW, container=container, pad=L)
    unit = TiledAttention(tile=tile, numerics=n)

    def vectors() -> tuple[Cases, Overflows]:
        rng = np.random.default_rng(sizes.get("seed", 0))
        io_top = 2.0 ** (n.io.integer - 1) * 0.95
        # large but representable: |QK| <= E top^2 stays within 90% of the score type
        top = min(io_top, math.sqrt(0.9 * 2.0 ** (n.score.integer - 1) / e))
        inputs = {
            "random": (rng.normal(size=(p, e)), rng.normal(size=(m, e)), rng.normal(size=(m, f))),
            "large_scores": (rng.uniform(-top, top, (p, e)), rng.uniform(-top, top, (m, e)),
                             rng.normal(size=(m, f))),
            "very_negative": (np.full((p, e), top), -np.abs(rng.uniform(top / 2, top, (m, e))),
                              rng.normal(size=(m, f))),
            "all_equal": (rng.normal(size=(p, e)), np.repeat(rng.normal(size=(1, e)), m, axis=0),
                          rng.normal(size=(m, f))),
        }
        if n.allow_overflow:  # every score beyond the score type: E x min(io)^2
            low = n.io.min_raw * n.io.lsb
            inputs["overflowing_scores"] = (np.full((p, e), low), np.full((m, e), low),
                                            rng.normal(size=(m, f)))
        cases, overflows = {}, {}
        for case, (qv, kv, vv) in inputs.items():
            q, k, v = (Fixed.from_float(x, n.io) for x in (qv, kv, vv))
            counts: dict[str, int] = {}
            cases[case] = {"q": q, "k": k, "v": v, "av": unit(q, k, v, overflows=counts)}
            overflows[case] = counts
        return cases, overflows

    return Kernel(
        name="fusemax", title="FuseMax 1-pass tiled attention", template="attention.cpp.j2",
        headers=["attention_core.h.j2"], top="fusemax_attention",
        sizes={"P": p, "M": m, "E": e, "F": f, "M0": tile, "PQ": ctx["PQ"],
               "Q_BLOCKS": _ceil(p, ctx["PQ"]), "QK_STRIDE": q_layout.row_words,
               "V_STRIDE": v_layout.row_words, "Q_WORDS": q_layout.words,
               "K_WORDS": k_layout.words, "V_WORDS": v_layout.words,
               "AV_WORDS": av_layout.words},
        types=_attention_types(n),
        ports=[Port("q", n.io, (p, e), "in", q_layout, "gmem0", "act_t"),
               Port("k", n.io, (m, e), "in", k_layout, "gmem1", "act_t"),
               Port("v", n.io, (m, f), "in", v_layout, "gmem2", "act_t"),
               Port("av", n.io, (p, f), "out", av_layout, "gmem0", "act_t")],
        words={"act_t": q_layout.bits}, context={"att": ctx},
        units={**plan.units, "gelus": [], "layernorms": []}, tables=plan.tables,
        parallelism={"queries_per_block": ctx["PQ"], "lanes": L, "tile": tile},
        loops=plan.loops, latency=plan.cycles,
        latency_how=f"per query block, the slower of QK (E/L cycles a key) and the softmax "
                    f"and SLN V process (about F/L + 1 cycles a key, and {ATTENTION_STEP} "
                    "a tile between them, an estimate); the two overlap in DATAFLOW; "
                    f"{plan.bound}-bound (K and V streams together want up to two words a "
                    "cycle)",
        dram_bits=sum(loop.dram for loop in plan.loops),
        **plan.instantiated(), make_vectors=vectors, sites=list(ATTENTION_SITES),
        notes=plan.notes)


# ----- Edge-MoE single-pass online softmax

SOFTMAX_INTERLEAVE = 16
"""Rows each softmax lane interleaves: at least the depth of the running sum's recurrence
(compare, exp: a multiply, a table read, an interpolating multiply and a shift; the
multiply by the running sum; the add and select), about 14 to 16 cycles at 300 MHz."""


def _softmax_unit(numerics: AttentionNumerics) -> OnlineSoftmax:
    unit: OnlineSoftmax = softmax_config(*DEFAULT_SOFTMAX) if numerics.io.width <= 16 else \
        OnlineSoftmax()
    if not numerics.saturate:
        return unit
    sat = {k: dataclasses.replace(getattr(unit, k), overflow="SAT")
           for k in ("score_type", "sum_type", "prob_type")}
    return dataclasses.replace(unit, **sat, reciprocal=dataclasses.replace(
        unit.reciprocal, in_type=sat["sum_type"]))


def _softmax(arch: Architecture, sizes: dict[str, int], numerics: AttentionNumerics) -> Kernel:
    unit = _softmax_unit(numerics)
    rows, keys = sizes["P"], sizes["M"]
    score, prob = unit.score_type, unit.prob_type
    container = container_bits(score.width)
    assert container == container_bits(prob.width), (score, prob)
    preset = _unit(arch, "softmax")
    lanes = max(1, min(_pow2_floor(preset.shape[0]), MAX_WORD_BITS // container))
    group = lanes * SOFTMAX_INTERLEAVE
    per_word = min(group, 256 // container)
    layout = Layout("groups", rows=rows, cols=keys, lanes=per_word, container=container,
                    group=group)
    groups, key_words = _ceil(rows, group), layout.group_words
    exp, exp_table = exp_context("exp_unit", unit.exp)
    recip, recip_table = reciprocal_context("recip_unit", unit.reciprocal)
    initial = Fixed.constant(unit.initial_bias, score, (1,))
    g = SOFTMAX_INTERLEAVE
    loops = [Loop("read_scores", "READ", keys * key_words, 1, 2 * groups,
                  how="a group's scores, twice (statistics, then probabilities)",
                  dram_bits=layout.bits),
             Loop("softmax_groups", "START", g, 1, groups, how="each slot's running state"),
             Loop("softmax_groups", "STATISTICS", keys * g, 1, groups,
                  how=f"{lanes} lanes x {g} interleaved rows: one key of one slot a cycle; "
                      f"DEPENDENCE distance {g} on the running max and sum"),
             Loop("softmax_groups", "RECIPROCALS", g, 1, groups, how=f"{lanes} reciprocal "
                                                                    "units"),
             Loop("softmax_groups", "PROBABILITIES", keys * g, 1, groups,
                  how=f"{lanes} exp units and multipliers"),
             Loop("write_probs", "WRITE", layout.words, 1, how="a word a cycle to m_axi",
                  dram_bits=layout.bits)]
    latency, bound = _bounded(arch, groups * (2 * g + 2 * keys * g), loops)
    log2e, interpolation = dsp_mults(unit.exp)
    mult = {"exp log2(e) (statistics, probabilities)": (lanes * 2, *log2e),
            "exp interpolation": (lanes * 2, *interpolation),
            "running sum x exp": (lanes, unit.sum_type.width, unit.exp.out_type.width),
            "reciprocal interpolation": (lanes, unit.sum_type.width,
                                         unit.reciprocal.table_type.width + 1),
            "probability (exp x 1/sum)": (lanes, unit.exp.out_type.width,
                                          unit.reciprocal.out_type.width)}
    notes = [f"{lanes} lanes (rows_in_parallel: the {arch.name} softmax unit's "
             f"{preset.shape[0]}), each interleaving {g} rows, so the running sum's recurrence "
             f"(about {g} cycles deep) holds II=1; a group of {group} rows takes "
             f"2 x {keys} x {g} cycles however few of its rows are real.",
             f"Scores in {layout.bits}-bit words, {per_word} a word: per group of {group} "
             f"rows, key by key, as a QK unit of {group} queries would produce them; read "
             "twice (the statistics pass and the probability pass) rather than held on chip, "
             "so nothing grows with the number of keys.",
             "Each lane reads its own copies of the exp and reciprocal tables."]

    def vectors() -> tuple[Cases, Overflows]:
        rng = np.random.default_rng(sizes.get("seed", 0))
        top = 2.0 ** (score.integer - 1)
        inputs = {"random": rng.normal(0, 3, (rows, keys)),
                  "large_scores": rng.uniform(-top, top * 0.99, (rows, keys)),
                  "very_negative": -top * 0.99 + rng.uniform(0, 1, (rows, keys)),
                  "all_equal": np.full((rows, keys), 1.5)}
        cases, overflows = {}, {}
        for case, values in inputs.items():
            scores = Fixed.from_float(values, score)
            counts: dict[str, int] = {}
            cases[case] = {"scores": scores,
                           "probs": unit.probabilities(scores, overflows=counts)}
            overflows[case] = counts
        return cases, overflows

    return Kernel(
        name="softmax", title="Edge-MoE single-pass online softmax", template="softmax.cpp.j2",
        top="online_softmax",
        sizes={"ROWS": rows, "KEYS": keys, "L": lanes, "G": g, "GROUP": group,
               "GROUPS": groups, "KW": key_words, "PPW": per_word // lanes,
               "WORDS": layout.words},
        types={"score_t": score, "difference_t": unit.difference_type,
               "weight_t": unit.exp.out_type, "sum_t": unit.sum_type,
               "recip_t": unit.reciprocal.out_type, "prob_t": prob},
        ports=[Port("scores", score, (rows, keys), "in", layout, "gmem0"),
               Port("probs", prob, (rows, keys), "out", layout, "gmem1")],
        words={"word_t": layout.bits},
        context={"lanes": lanes, "interleave": g, "container": container,
                 "words_bits": layout.bits,
                 "initial_bias": repr(float(initial.to_float()[0]))},
        units={"exps": [exp], "reciprocals": [recip], "gelus": [], "layernorms": []},
        tables=[exp_table, recip_table],
        parallelism={"rows_in_parallel": lanes, "interleave": g}, loops=loops,
        latency=latency, latency_how="per group of rows: the statistics pass and the "
                                     "probability pass, a key of one slot a cycle; reading "
                                     f"and writing overlap in DATAFLOW ({bound}-bound)",
        dram_bits=sum(loop.dram for loop in loops),
        multipliers=mult,
        table_copies={"exp": (lanes, exp["entries"], unit.exp.table_type.width),
                      "reciprocal": (lanes, recip["entries"],
                                     unit.reciprocal.table_type.width)},
        buffers={}, fifos={"FIFO score_words": (2, layout.bits),
                           "FIFO prob_words": (2, layout.bits)},
        registers={"running state": g * lanes * (score.width + unit.sum_type.width
                                                 + unit.reciprocal.out_type.width)},
        lanes={"softmax lanes": (preset, lanes)}, make_vectors=vectors, sites=["SUM"],
        notes=notes)


def dsp_mults(unit: Any) -> list[tuple[int, int]]:
    """Operand widths of an exp unit's two multipliers (log2 e, interpolation)."""
    return [(unit.in_type.width + 1, unit.log2e_bits + 2),
            (unit.reduced_type.fraction - unit.table_bits, unit.table_type.width + 1)]


# ----- the unified linear unit (R x C blocks)


@dataclass(frozen=True)
class _Call:
    """One use of the linear unit: T tokens, K inputs, N outputs."""

    tokens: int
    inner: int
    outer: int
    label: str


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _span(values: list[int]) -> tuple[int, int, int]:
    """(min, max, avg) for LOOP_TRIPCOUNT."""
    return min(values), max(values), round(sum(values) / len(values))


@dataclass
class _LinearPlan(Instantiated):
    R: int
    C: int
    TT: int
    AW: int
    WW: int
    BW: int
    resident: bool
    context: dict[str, Any]
    loops: list[Loop]
    cycles: dict[str, int]
    """Expected cycles of each call, by label."""
    notes: list[str]


def _linear_plan(arch: Architecture, calls: list[_Call], io: FixedType, wt: FixedType, *,
                 gelu: GeluUnit | None, scale: Fixed | None, R: int, C: int, AW: int,
                 resident: bool) -> _LinearPlan:
    cba, cbw = container_bits(io.width), container_bits(wt.width)
    WW = min(MAX_WORD_BITS // cbw, _pow2_ceil(R * C))
    BW = _ceil(R * C, WW)
    TT = min(max(c.tokens for c in calls), max(BW, 8))
    kbs = [_ceil(c.inner, R) for c in calls]
    nbs = [_ceil(c.outer, C) for c in calls]
    tiles = [_ceil(c.tokens, TT) for c in calls]
    counts = [min(c.tokens, TT) for c in calls]
    XW, YW = R // AW, C // AW
    dot = exact_sum(io.width + wt.width, io.integer + wt.integer, R)
    acc = exact_sum(io.width + wt.width, io.integer + wt.integer,
                    max(c.inner for c in calls) + 1)
    max_blocks = max(kb * nb for kb, nb in zip(kbs, nbs, strict=True))
    trips = {
        "bias": _span([nb * C for nb in nbs]),
        "words": _span([nb * kb * BW for nb, kb in zip(nbs, kbs, strict=True)]),
        "blocks": _span([nb * kb for nb, kb in zip(nbs, kbs, strict=True)]),
        "tiles": _span(tiles),
        "x_words": _span([c.tokens * kb * XW for c, kb in zip(calls, kbs, strict=True)]),
        "x_blocks": _span([n * kb for n, kb in zip(counts, kbs, strict=True)]),
        "mac": _span([nb * kb * n for nb, kb, n in zip(nbs, kbs, counts, strict=True)]),
        "y_words": _span([nb * n * YW for nb, n in zip(nbs, counts, strict=True)]),
    }
    context = {
        "R": R, "C": C, "TT": TT, "MAX_KB": max(kbs), "MAX_NB": max(nbs), "AW": AW,
        "XW": XW, "YW": YW, "WW": WW, "BW": BW, "CBA": cba, "CBW": cbw,
        "aword": "act_t", "wword": "wword_t", "resident": resident,
        "MAX_BLOCKS": max_blocks, "gelu": gelu is not None, "scaled": scale is not None,
        "scale": c_literal(float(scale.to_float()[0])) if scale is not None else "0",
        "dot_w": dot[0], "dot_i": dot[1], "acc_w": acc[0], "acc_i": acc[1],
        "trips": trips, "fifo_w": 2, "fifo_x": 2}
    loops: list[Loop] = []
    cycles: dict[str, int] = {}
    for call, kb, nb, tile_count in zip(calls, kbs, nbs, tiles, strict=True):
        t, where = call.tokens, f" ({call.label})" if len(calls) > 1 else ""
        first_loop = len(loops)
        last = t - (tile_count - 1) * TT
        per_tile = [TT] * (tile_count - 1) + [last]
        loops.append(Loop("linear_weights", "LOAD_BIAS" + where, nb * C, 1,
                          how="the bias, one value a cycle", dram_bits=cbw))
        if resident:
            loops.append(Loop("linear_weights", "LOAD_WEIGHTS" + where, nb * kb * BW, 1,
                              how=f"every weight block once into the on-chip buffer, "
                                  f"{BW} words a block", dram_bits=WW * cbw))
            loops.append(Loop("linear_weights", "REPLAY" + where, nb * kb, 1, tile_count,
                              how="a block a cycle from the buffer, per tile"))
            block_cycles = 1
        else:
            loops.append(Loop("linear_weights", "STREAM_WEIGHTS" + where, nb * kb * BW, 1,
                              tile_count, how=f"every weight block from DRAM per tile, "
                                              f"{BW} words a block", dram_bits=WW * cbw))
            block_cycles = BW
        loops.append(Loop("linear_inputs", "READ_X" + where, t * kb * XW, 1,
                          how="the input rows, a word a cycle", dram_bits=AW * cba))
        loops.append(Loop("linear_compute", "LOAD_X" + where, sum(per_tile) * kb // tile_count,
                          1, tile_count, how="a tile's input blocks onto the chip"))
        loops.append(Loop("linear_compute", "MAC" + where, sum(per_tile) * kb * nb // tile_count,
                          1, tile_count, how=f"{R} x {C} MACs a cycle: a weight block for "
                                             "each token of the tile"))
        loops.append(Loop("linear_outputs", "WRITE_Y" + where, sum(per_tile) * nb * YW
                          // tile_count, 1, tile_count, how="the output blocks, a word a cycle",
                          dram_bits=AW * cba))
        load = nb * kb * BW if resident else 0
        compute = nb * C + load + sum(
            kb * n * XW + nb * kb * max(n, block_cycles) for n in per_tile)
        cycles[call.label] = _bounded(arch, compute, loops[first_loop:])[0]
    mult = {"linear array": (R * C, io.width, wt.width)}
    if scale is not None and (scale.raw.reshape(-1)[0] & (scale.raw.reshape(-1)[0] - 1)):
        mult["score scale"] = (C, acc[0], 18)   # a power of two is a shift, no multiplier
    tables: dict[str, tuple[int, int, int]] = {}
    lanes = {"linear array": (_unit(arch, "linear"), R * C)}
    if gelu is not None:
        mult["GELU interpolation"] = (C, max(gelu.io_type.fraction - gelu.step_bits, 1),
                                      gelu.table_type.width + 1)
        tables["GELU delta"] = (C, gelu.entries, gelu.table_type.width)
        lanes["GELU lanes"] = (_unit(arch, "gelu"), C)
    buffers = {"x_tile": Buffer(values=TT * max(kbs), bits=io.width, copies=R),
               "bias": Buffer(values=max(nbs), bits=wt.width, copies=C)}
    if resident:
        buffers["weights (resident)"] = Buffer(values=max_blocks * R * C, bits=wt.width,
                                               width=R * C)
    fifos = {"FIFO w_blocks": (2, R * C * wt.width), "FIFO b_blocks": (2, C * wt.width),
             "FIFO x_blocks": (2, R * io.width), "FIFO y_blocks": (2, C * io.width)}
    registers = {"accumulators": TT * C * acc[0], "weight block": 2 * R * C * wt.width}
    notes = [f"Linear unit: an R x C = {R} x {C} array (the {arch.name} linear unit's "
             f"{'x'.join(map(str, _unit(arch, 'linear').shape))}), one weight block and one "
             f"token a cycle; tokens in tiles of {TT} that share each weight block "
             f"(a block is {BW} {WW * cbw}-bit words, so {TT} tokens keep the array busy "
             "while the next block streams in).",
             "Weights " + ("are read from DRAM once into an on-chip buffer of "
                           f"{max_blocks:,} blocks and replayed for each tile of tokens."
                           if resident else
                           "stream from DRAM block by block, re-read once per tile of "
                           "tokens; no weight matrix is held on chip.")]
    return _LinearPlan(R=R, C=C, TT=TT, AW=AW, WW=WW, BW=BW, resident=resident,
                       context=context, loops=loops, cycles=cycles, multipliers=mult,
                       table_copies=tables, buffers=buffers, fifos=fifos, registers=registers,
                       lanes=lanes, notes=notes)


def _choose_linear(arch: Architecture, calls: list[_Call], io: FixedType, wt: FixedType, **kw:
                   Any) -> _LinearPlan:
    """Weights resident when more than one tile of tokens reuses them and the buffer fits
    the device; streamed from DRAM otherwise."""
    streamed = _linear_plan(arch, calls, io, wt, resident=False, **kw)
    if arch.device is None or all(c.tokens <= streamed.TT for c in calls):
        return streamed
    resident = _linear_plan(arch, calls, io, wt, resident=True, **kw)
    if resident.resources(arch.device).fits:
        return resident
    bits = resident.buffers["weights (resident)"].values * wt.width
    streamed.notes.append(f"(Resident weights would need {bits / 2**20:,.1f} Mibit of on-chip "
                          f"buffer; they do not fit {arch.device.name}.)")
    return streamed


def _linear(arch: Architecture, sizes: dict[str, int], numerics: AttentionNumerics, *,
            with_gelu: bool) -> Kernel:
    unit = LinearUnit(gelu=GeluUnit() if with_gelu else None)
    if numerics.saturate:
        sat = dataclasses.replace(unit.io_type, overflow="SAT")
        unit = LinearUnit(io_type=sat, gelu=GeluUnit(io_type=sat) if with_gelu else None)
    tokens, inner, outer = sizes["T"], sizes["K"], sizes["N"]
    io, wt = unit.io_type, unit.weight_type
    shape = _unit(arch, "linear").shape
    R = min(_pow2_floor(shape[0]), _pow2_ceil(inner))
    C = min(_pow2_floor(shape[-1]), _pow2_ceil(outer))
    AW = min(R, C, MAX_WORD_BITS // container_bits(io.width))
    plan = _choose_linear(arch, [_Call(tokens, inner, outer, "Y")], io, wt, gelu=unit.gelu,
                          scale=None, R=R, C=C, AW=AW)
    kb, nb = _ceil(inner, R), _ceil(outer, C)
    cba, cbw = container_bits(io.width), container_bits(wt.width)
    x_layout = Layout("rows", rows=tokens, cols=inner, lanes=AW, container=cba, pad=R)
    y_layout = Layout("rows", rows=tokens, cols=outer, lanes=AW, container=cba, pad=C)
    w_layout = Layout("blocks", rows=inner, cols=outer, lanes=plan.WW, container=cbw,
                      block=(R, C))
    b_layout = Layout("rows", rows=1, cols=outer, lanes=plan.WW, container=cbw,
                      pad=max(C, plan.WW))
    units: dict[str, list[dict[str, Any]]] = {"exps": [], "reciprocals": [], "gelus": [],
                                              "layernorms": []}
    tables = []
    if unit.gelu is not None:
        gelu, table = gelu_context("gelu_unit", unit.gelu)
        units["gelus"].append(gelu)
        tables.append(table)
    name = "linear_gelu" if with_gelu else "linear"
    tiles = _ceil(tokens, plan.TT)

    def vectors() -> tuple[Cases, Overflows]:
        rng = np.random.default_rng(sizes.get("seed", 0))
        top_w = wt.max_raw * wt.lsb
        top_x = io.max_raw * io.lsb
        edge = 0.9 / inner  # |x| at the type's limit, |sum| just inside it
        signs = np.outer(np.resize([-1.0, 1.0], inner), np.resize([1.0, -1.0], outer))
        inputs = {"random": (rng.normal(0, 2, (tokens, inner)),
                             rng.normal(0, 0.2, (inner, outer)), rng.normal(0, 0.5, outer)),
                  # inputs at both limits, every product of a column the same sign: sums
                  # just inside the output type
                  "extremes": (np.resize([io.min_raw * io.lsb, top_x], (tokens, inner)),
                               signs * edge, np.full(outer, top_w * 0.05))}
        if numerics.allow_overflow:  # sums far beyond the output type: every output wraps
            inputs["overflowing"] = (np.full((tokens, inner), top_x),
                                     np.full((inner, outer), top_w), np.full(outer, top_w))
        cases, overflows = {}, {}
        for case, (xv, wv, bv) in inputs.items():
            x, w, b = Fixed.from_float(xv, io), Fixed.from_float(wv, wt), \
                Fixed.from_float(bv, wt)
            counts: dict[str, int] = {}
            cases[case] = {"x": x, "w": w, "b": b, "y": unit(x, w, b, overflows=counts)}
            overflows[case] = counts
        return cases, overflows

    return Kernel(
        name=name, title="unified linear unit" + (" with GELU" if with_gelu else ""),
        template="linear.cpp.j2", headers=["linear_core.h.j2"], top=f"{name}_kernel",
        sizes={"T": tokens, "K": inner, "N": outer, "KB": kb, "NB": nb, "TILES": tiles,
               "X_WORDS": x_layout.words, "W_WORDS": w_layout.words,
               "B_WORDS": b_layout.words, "Y_WORDS": y_layout.words},
        types={"io_t": io, "weight_t": wt},
        ports=[Port("x", io, (tokens, inner), "in", x_layout, "gmem0", "act_t"),
               Port("w", wt, (inner, outer), "in", w_layout, "gmem1", "wword_t"),
               Port("b", wt, (outer,), "in", b_layout, "gmem1", "wword_t"),
               Port("y", io, (tokens, outer), "out", y_layout, "gmem2", "act_t")],
        words={"act_t": x_layout.bits, "wword_t": w_layout.bits},
        context={"lin": plan.context, "with_gelu": with_gelu},
        units=units, tables=tables,
        parallelism={"R": R, "C": C, "token_tile": plan.TT, "weights_resident":
                     int(plan.resident)},
        loops=plan.loops, latency=plan.cycles["Y"],
        latency_how="the four processes overlap in DATAFLOW; per tile, loading its inputs, "
                    "then a weight block per max(tile tokens, words a block) cycles; at "
                    "least the DRAM traffic at the target's bandwidth",
        dram_bits=sum(loop.dram for loop in plan.loops),
        **plan.instantiated(), make_vectors=vectors, sites=["Y"], notes=plan.notes)


# ----- one encoder layer

NORM_SITES = ("mean", "centred", "variance", "rsqrt", "scaled", "stretched", "out")
NORM_DEPTH = 20
"""Cycles between a row's passes (the mean's multiply, the rsqrt unit): an estimate."""


def _pow2_dividing(n: int, limit: int) -> int:
    """The largest power of two at most ``limit`` that divides ``n``."""
    value = 1
    while value * 2 <= limit and n % (value * 2) == 0:
        value *= 2
    return value


def _encoder(arch: Architecture, sizes: dict[str, int], numerics: AttentionNumerics) -> Kernel:
    tokens, width, heads, ffn = sizes["T"], sizes["D"], sizes["H"], sizes["FF"]
    if width % heads:
        raise CascadeError(f"D = {width} is not a multiple of H = {heads} heads")
    default = AttentionNumerics()
    if any(getattr(numerics, k) != getattr(default.saturating() if numerics.saturate
                                           else default, k)
           for k in ("io", "score", "weight", "sum", "accumulator", "table_bits")):
        raise CascadeError("the encoder's types are its units' own (32-bit activations); a "
                           "numerics file may set only overflow and allow_overflow for it")
    head = width // heads
    tile = min(sizes.get("M0", 256), tokens)
    layer = EncoderLayer(heads=heads, tile=tile)
    if numerics.saturate:
        layer = layer.saturating()
    io, wt, n = layer.linear.io_type, layer.linear.weight_type, layer.attention
    n = dataclasses.replace(n, allow_overflow=numerics.allow_overflow)
    cba, cbw = container_bits(io.width), container_bits(wt.width)
    lin_shape, att_shape = _unit(arch, "linear").shape, _unit(arch, "attention").shape
    R = _pow2_dividing(math.gcd(width, ffn), lin_shape[0])
    C = _pow2_dividing(math.gcd(width, ffn), lin_shape[-1])
    L = _pow2_dividing(head, att_shape[-1])
    AW = min(R, C, L, MAX_WORD_BITS // cba)
    scale = EncoderLayer.score_scale(head)
    calls = [_Call(tokens, width, width, "Q"), _Call(tokens, width, width, "K"),
             _Call(tokens, width, width, "V"), _Call(tokens, width, width, "O"),
             _Call(tokens, width, ffn, "FF1"), _Call(tokens, ffn, width, "FF2")]
    lin = _choose_linear(arch, calls, io, wt, gelu=layer.gelu, scale=scale, R=R, C=C, AW=AW)
    att = _attention_plan(arch, n, queries=tokens, keys=tokens, e=head, f=head, tile=tile,
                          L=L, AW=AW, calls=heads)
    norm, norm_table = layernorm_context("layer_norm", layer.norm, width)
    gelu, gelu_table = gelu_context("gelu_unit", layer.gelu)
    row_words, ff_words = width // AW, ffn // AW
    rows = Layout("rows", rows=tokens, cols=width, lanes=AW, container=cba, pad=AW)
    hidden = Layout("rows", rows=tokens, cols=ffn, lanes=AW, container=cba, pad=AW)
    params = Layout("rows", rows=1, cols=width, lanes=AW, container=cba, pad=AW)
    shapes = {"wq": (width, width), "wk": (width, width), "wv": (width, width),
              "wo": (width, width), "w1": (width, ffn), "w2": (ffn, width)}
    ports = [Port("x", io, (tokens, width), "in", rows, "act0", "act_t")]
    for name in WEIGHT_NAMES:
        if name in shapes:
            k, m = shapes[name]
            layout = Layout("blocks", rows=k, cols=m, lanes=lin.WW, container=cbw, block=(R, C))
            ports.append(Port(name, wt, (k, m), "in", layout, "weights", "wword_t"))
        elif not name.startswith(("gamma", "beta")):  # a bias
            m = ffn if name == "b1" else width
            layout = Layout("rows", rows=1, cols=m, lanes=lin.WW, container=cbw,
                            pad=max(C, lin.WW))
            ports.append(Port(name, wt, (m,), "in", layout, "weights", "wword_t"))
        else:
            ports.append(Port(name, io, (width,), "in", params, "norm", "act_t"))
    ports.append(Port("y", io, (tokens, width), "out", rows, "act0", "act_t"))
    for name, bundle in (("q", "act1"), ("k", "act2"), ("v", "act3"), ("att", "act0"),
                         ("proj", "act1"), ("h1", "act2"), ("out2", "act1")):
        ports.append(Port(name, io, (tokens, width), "scratch", rows, bundle, "act_t"))
    ports.append(Port("hidden", io, (tokens, ffn), "scratch", hidden, "act3", "act_t"))
    weight_bits = sum(c.inner * c.outer + c.outer for c in calls) * wt.width
    device_bits = arch.device.bram36 * 36 * 1024 if arch.device is not None else 0
    sites = ["Q", "K", "V", *ATTENTION_SITES, "O", "RES1", *(f"LN1.{s}" for s in NORM_SITES),
             "FF1", "FF2", "RES2", *(f"LN2.{s}" for s in NORM_SITES)]
    stat_w = io.width + 8
    norm_cycles = tokens * (3 * row_words + NORM_DEPTH) + row_words
    loops = [*lin.loops]
    loops += [Loop(f"attention ({heads} heads)", x.label, x.trips, x.ii, x.runs, x.how)
              for x in att.loops]
    for label, how in (("RESIDUAL", "s = x + a, the row kept, its sum"),
                       ("CENTRE", "s - mean, the sum of squares"),
                       ("NORMALISE", "(s - mean) rsqrt(var) gamma + beta")):
        loops.append(Loop("norm_rows (LN1, LN2)", label, row_words, 1, 2 * tokens,
                          how=f"{AW} lanes: {how}",
                          dram_bits={"RESIDUAL": 2 * AW * cba, "NORMALISE": AW * cba}.get(
                              label, 0)))
    norm_loops = loops[-3:]
    norm_time = 2 * max(norm_cycles, dram_cycles(arch, norm_loops) // 2)
    latency = sum(lin.cycles.values()) + att.cycles + norm_time
    # the linear and attention units' instances, and the residual + LayerNorm unit's
    parts = _prefixed(linear=lin, attention=att)
    parts["multipliers"] |= {"LayerNorm squares": (AW, stat_w, stat_w),
                             "LayerNorm x rsqrt, x gamma": (2 * AW, stat_w, io.width),
                             "LayerNorm mean, variance": (2, norm["square_w"], 32)}
    parts["table_copies"]["LayerNorm rsqrt"] = (1, norm["entries"],
                                                layer.norm.table_type.width)
    parts["buffers"] |= {"LayerNorm row": Buffer(values=row_words, bits=io.width, copies=AW),
                         "LayerNorm centred": Buffer(values=row_words, bits=stat_w, copies=AW),
                         "LayerNorm gamma, beta": Buffer(values=row_words, bits=io.width,
                                                         copies=2 * AW)}
    parts["fifos"] |= {"FIFO pairs": (2, 2 * AW * io.width), "FIFO normed": (2, AW * io.width)}
    parts["lanes"]["LayerNorm lanes"] = (_unit(arch, "vector"), AW)
    notes = ["One linear unit, one attention unit and one residual + LayerNorm unit, each "
             "called as a canonical DATAFLOW region and shared by every call (ALLOCATION "
             "limit=1), in sequence; activations between them in DRAM scratch (q, k, v, att, "
             "proj, h1, hidden, out2), as Edge-MoE's layers pass theirs; on chip only tiles, "
             "so nothing grows with the number of tokens but loop counts.",
             f"1/sqrt({head}) = {float(scale.to_float()[0])!r} is folded into the Q "
             "projection (its exact sum times the constant, rounded once).",
             f"The layer's weights and biases total {weight_bits / 2**20:,.1f} Mibit"
             + (f"; {arch.device.name}'s block RAM holds {device_bits / 2**20:,.1f} Mibit "
                f"({arch.device.bram36:,} BRAM36)" if arch.device is not None else "")
             + ": they "
             + ("are read once per layer into the linear unit's buffer, a layer at a time."
                if lin.resident else "stream from DRAM and are never held on chip."),
             *lin.notes, *att.notes,
             f"Residual + LayerNorm: {AW} lanes, a row of {width} values in three pipelined "
             "passes (sum, centre and square, normalise); one rsqrt unit a row.",
             f"DRAM words of {AW * cba} bits ({AW} activations), weights {lin.WW * cbw} bits "
             f"({lin.WW} weights)."]
    def vectors() -> tuple[Cases, Overflows]:
        rng = np.random.default_rng(sizes.get("seed", 0))
        drawn = layer.random_weights(rng, model_dim=width, ffn_dim=ffn)
        inputs = {"random": rng.normal(0, 1, (tokens, width)),
                  "large_inputs": rng.uniform(-30, 30, (tokens, width))}
        cases, overflows = {}, {}
        for case, values in inputs.items():
            x = Fixed.from_float(values, io)
            counts: dict[str, int] = {}
            cases[case] = {"x": x, **drawn, "y": layer(x, drawn, overflows=counts)}
            overflows[case] = counts
        return cases, overflows

    sizes_out = {"T": tokens, "D": width, "H": heads, "DH": head, "FF": ffn, "M0": tile,
                 "TILES": _ceil(tokens, lin.TT), "D_BLOCKS_IN": width // R,
                 "D_BLOCKS_OUT": width // C, "FF_BLOCKS_IN": ffn // R,
                 "FF_BLOCKS_OUT": ffn // C, "Q_BLOCKS": _ceil(tokens, att.context["PQ"]),
                 "ROW_WORDS": row_words, "HEAD_WORDS": head // AW, "FF_WORDS": ff_words}
    return Kernel(
        name="encoder", title="one transformer encoder layer", template="encoder.cpp.j2",
        headers=["attention_core.h.j2", "linear_core.h.j2"], top="encoder_layer",
        sizes=sizes_out, types={**_attention_types(n), "weight_t": wt}, ports=ports,
        words={"act_t": rows.bits, "wword_t": lin.WW * cbw},
        context={"att": att.context, "lin": lin.context,
                 "norm": {"DW": row_words, "AW": AW, "container": cba}},
        units={**att.units, "gelus": [gelu], "layernorms": [norm]},
        tables=[*att.tables, gelu_table, norm_table],
        parallelism={"linear_R": R, "linear_C": C, "token_tile": lin.TT,
                     "weights_resident": int(lin.resident),
                     "attention_queries": att.context["PQ"], "attention_lanes": L,
                     "norm_lanes": AW},
        loops=loops, latency=latency,
        latency_how="the sub-kernels run one after another, each the larger of its compute "
                    "and its DRAM traffic at the target's bandwidth; each linear layer's and "
                    "each head's processes overlap inside its DATAFLOW region",
        dram_bits=sum(loop.dram for loop in loops), **parts,
        make_vectors=vectors, sites=sites, notes=notes)


KERNELS: dict[str, tuple[tuple[str, ...], Callable[..., Kernel]]] = {
    "fusemax": (("P", "M", "E", "F"), _attention),
    "softmax": (("P", "M"), _softmax),
    "gelu": (("N",), _gelu),
    "linear": (("T", "K", "N"), lambda *a: _linear(*a, with_gelu=False)),
    "linear_gelu": (("T", "K", "N"), lambda *a: _linear(*a, with_gelu=True)),
    "encoder": (("T", "D", "H", "FF"), _encoder),
}
"""Kernel name -> (sizes it needs, builder)."""


def check_kernel(name: str) -> None:
    """Refuse a name that is not an HLS kernel; a cascade (a library algorithm or a file)
    is told plainly that only the hand-built kernels can be emitted."""
    if name in KERNELS:
        return
    if name in library_names() or name.endswith((".cascade", ".yaml", ".yml")):
        raise CascadeError(f"emit-hls cannot emit the cascade {name}: HLS templates exist "
                           f"only for the kernels {', '.join(KERNELS)} (cost a cascade with "
                           "cascade map; fusemax is the attention kernel)")
    raise CascadeError(f"unknown HLS kernel {name!r}; known: {', '.join(KERNELS)}")


def build_kernel(name: str, arch: Architecture, sizes: dict[str, int], *, seed: int = 0,
                 numerics: AttentionNumerics | None = None) -> Kernel:
    """The plan of kernel ``name`` on ``arch`` (vectors are made by ``Kernel.vectors()``)."""
    check_kernel(name)
    needed, builder = KERNELS[name]
    missing = [r for r in needed if r not in sizes]
    if missing:
        raise CascadeError(f"kernel {name} needs sizes {', '.join(needed)}; missing "
                           f"{', '.join(missing)}")
    numerics = numerics or AttentionNumerics()
    kernel = builder(arch, {**sizes, "seed": seed}, numerics)
    kernel.allow_overflow = numerics.allow_overflow
    return kernel
