"""Spatial-array architectures: compute units, memory levels, energy and area tables.

Specs are YAML presets in ``sim/presets``, validated into frozen dataclasses before any
object is built. A preset may start ``like: other`` and override fields of ``other``.
An architect's own file is read the same way (:func:`load_architecture`, or
:func:`architecture` given a path), and :func:`architecture_yaml` writes any architecture
as a complete file that reads back equal.

>>> arch = architecture("fusemax")
>>> arch.units["array2d"].pes, arch.units["array2d"].ops["exp"].cycles
(65536, 7)
>>> architecture("fusemax", array=128).units["array2d"].shape
(128, 128)
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import numbers
import os
import re
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import yaml

from einsum import OP_KINDS, CascadeError, node_line, node_value, read_text, yaml_fields

__all__ = [
    "LEVEL_HOLDS",
    "Architecture",
    "Buffer",
    "Device",
    "Dram",
    "FpgaCost",
    "GlobalBuffer",
    "Level",
    "OpCost",
    "Port",
    "RegisterFile",
    "Table",
    "Unit",
    "architecture",
    "architecture_document",
    "architecture_names",
    "architecture_yaml",
    "device_names",
    "fpga_device",
    "load_architecture",
]


_LARGEST = 2**50
"""Largest size or rate an architecture takes: the cost rules' integers stay exact."""


def _text(value: Any, what: str) -> None:
    if not isinstance(value, str):
        raise CascadeError(f"{what} must be text, not {_shown(value)}")


def _shown(value: Any) -> str:
    """A value for an error message, on one short line whatever it is."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _op_kind(unit: str, kind: Any) -> None:
    if kind not in OP_KINDS:
        raise CascadeError(f"unit {unit}: unknown op kind {kind!r}; known: {', '.join(OP_KINDS)}")


MAX_PES = 2**40
"""Most PEs a unit may have: op counts divided among them stay exact 64-bit integers."""


def _positive(value: Any, what: str, *, integer: bool = False, least: float = 0.0) -> None:
    kinds = (int,) if integer else (int, float)
    # ``not 0 < value`` also refuses nan; inf and absurd sizes are refused by the bound.
    if isinstance(value, bool) or not isinstance(value, kinds) or not 0 < value <= _LARGEST:
        kind = "whole number" if integer else "number"
        raise CascadeError(f"{what} must be a positive {kind} (at most 2**50), not {value!r}")
    if value < least:
        raise CascadeError(f"{what} must be at least {least:g}, not {value!r}")


@dataclass(frozen=True, kw_only=True)
class OpCost:
    """Cycles one PE spends on an op (1 for a pipelined unit) and its energy, if known."""

    cycles: int
    energy_pj: float | None = None

    def __post_init__(self) -> None:
        _positive(self.cycles, "cycles", integer=True)
        if self.energy_pj is not None:
            _positive(self.energy_pj, "energy_pj")


@dataclass(frozen=True, kw_only=True)
class Table:
    """A read-only lookup table each PE of an FPGA unit reads every cycle."""

    name: str
    entries: int
    bits: int

    def __post_init__(self) -> None:
        _text(self.name, "table name")
        _positive(self.entries, f"table {self.name}: entries", integer=True)
        _positive(self.bits, f"table {self.name}: bits", integer=True)


@dataclass(frozen=True, kw_only=True)
class FpgaCost:
    """What one PE of an FPGA unit costs: its multiplier's operand widths (for DSPs), the
    tables it reads, and LUTs and flip-flops of the rest of its datapath. ``dsp_per_pe``,
    when given (calibrated from synthesis), replaces the count derived from one multiplier:
    a unit with several multipliers (exp, reciprocal, interpolation) needs it.

    LUTs and flip-flops may scale with the datapath's width: a PE ``b`` bits wide costs
    ``lut_per_pe + lut_per_bit * b`` LUTs (and likewise FFs), where ``b`` is a lane's word
    width or an array PE's two operand widths summed; the unit's own PEs are ``bits`` wide.
    A PE whose one multiplier is ``multiplier_bits`` (no ``dsp_per_pe``) also pays
    ``lut_per_product_bit`` LUTs per bit of its product for every DSP48E2 beyond the first
    (the adders joining the partial products). Without per-bit costs, ``lut_per_pe`` and
    ``ff_per_pe`` are the whole PE's."""

    multiplier_bits: tuple[int, int] | None = None
    tables: tuple[Table, ...] = ()
    lut_per_pe: int = 0
    ff_per_pe: int = 0
    dsp_per_pe: int | None = None
    bits: int | None = None
    lut_per_bit: float = 0.0
    ff_per_bit: float = 0.0
    lut_per_product_bit: float = 0.0

    def __post_init__(self) -> None:
        if self.multiplier_bits is not None:
            if len(self.multiplier_bits) != 2:
                raise CascadeError("multiplier_bits must be two operand widths like [32, 16], "
                                   f"not {len(self.multiplier_bits)} of them")
            for bits in self.multiplier_bits:
                _positive(bits, "multiplier_bits", integer=True)
        for key in ("lut_per_bit", "ff_per_bit", "lut_per_product_bit"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int | float) or \
                    not 0 <= value < 1e6:
                raise CascadeError(f"{key} must be a number >= 0, not {value!r}")
            if value and not self.bits:
                raise CascadeError(f"{key} needs bits: the width the unit's PEs are built at")
        if self.lut_per_product_bit and (self.multiplier_bits is None
                                         or self.dsp_per_pe is not None):
            raise CascadeError("lut_per_product_bit needs the PE's one multiplier: "
                               "multiplier_bits and no dsp_per_pe")
        for key in ("lut_per_pe", "ff_per_pe", "dsp_per_pe", "bits"):
            value = getattr(self, key)
            if key in ("dsp_per_pe", "bits") and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise CascadeError(f"{key} must be a whole number, not {value!r}")
            # with a per-bit cost, the per-PE one is a fit's intercept: only the sum at the
            # unit's width must be >= 0
            per_bit = {"lut_per_pe": self.lut_per_bit, "ff_per_pe": self.ff_per_bit}.get(key)
            total = value + (per_bit * self.bits if per_bit and self.bits else 0)
            if (value < 0 and not per_bit) or total < 0:
                raise CascadeError(f"{key} must be >= 0{' at the unit width' if per_bit else ''}"
                                   f", not {value!r}")


@dataclass(frozen=True, kw_only=True)
class Device:
    """An FPGA part and what it offers."""

    name: str
    part: str
    dsp: int
    bram36: int
    uram: int
    lut: int
    ff: int
    clock_mhz: float

    def __post_init__(self) -> None:
        _text(self.name, "device name")
        _text(self.part, f"device {self.name}: part")
        _positive(self.clock_mhz, f"device {self.name}: clock_mhz", least=1e-6)
        for key in ("dsp", "bram36", "lut", "ff"):
            _positive(getattr(self, key), f"device {self.name}: {key}", integer=True)
        if isinstance(self.uram, bool) or not isinstance(self.uram, int) or self.uram < 0:
            raise CascadeError(f"device {self.name}: uram must be a whole number >= 0")


@dataclass(frozen=True, kw_only=True)
class RegisterFile:
    entries: int
    read_pj: float
    write_pj: float

    def __post_init__(self) -> None:
        _positive(self.entries, "register_file.entries", integer=True)
        _positive(self.read_pj, "register_file.read_pj")
        _positive(self.write_pj, "register_file.write_pj")


@dataclass(frozen=True, kw_only=True)
class Unit:
    """A 1D or 2D array of identical PEs; ``ops`` lists what one PE can compute."""

    name: str
    shape: tuple[int, ...]
    ops: dict[str, OpCost]
    register_file: RegisterFile | None = None
    area_um2_per_pe: float | None = None
    systolic: bool = False
    """Operands hop between neighbouring PEs; only results touch the register file."""
    fpga: FpgaCost | None = None
    pipelined: bool = False
    """Each PE is an HLS pipeline: it starts a whole point of an Einsum every initiation
    interval, its operations in separate hardware, so a point costs the cycles of its
    slowest operation rather than the sum of all of them."""
    fold_overlap: bool = False
    """Under a dataflow (``Binding.dataflow``), successive folds of this systolic unit
    overlap: its accumulators and stationary operands are double-buffered, so the next
    fold fills while the last one drains and a run of folds pays the fill, the drain and
    the read-out once (FuseMax's 2D array pipelines successive tiles). False: every fold
    pays them, as SCALE-Sim's arrays and the project's RTL do."""
    readout_cycles: int = 0
    """Cycles this systolic unit spends after a fold's drain reading its results out
    (0: results leave through the array's edge while the wavefront drains, as SCALE-Sim
    counts; the project's RTL reads one row of accumulators a cycle, then clears them:
    rows + 1)."""

    def __post_init__(self) -> None:
        _text(self.name, "unit name")
        for key in ("systolic", "pipelined", "fold_overlap"):
            if not isinstance(getattr(self, key), bool):
                raise CascadeError(f"unit {self.name}: {key} must be true or false")
        readout = self.readout_cycles
        if isinstance(readout, bool) or not isinstance(readout, int) \
                or not 0 <= readout <= 2**20:
            raise CascadeError(f"unit {self.name}: readout_cycles must be a whole number from "
                               f"0 to 2**20, not {_shown(readout)}")
        if not self.systolic and (self.fold_overlap or readout):
            raise CascadeError(f"unit {self.name}: fold_overlap and readout_cycles describe "
                               "the folds of a systolic unit; this one is not systolic")
        if len(self.shape) not in (1, 2):
            raise CascadeError(f"unit {self.name}: shape must have 1 or 2 axes, not {self.shape}")
        for size in self.shape:
            _positive(size, f"unit {self.name}: each size in shape", integer=True)
        if self.pes > MAX_PES:
            raise CascadeError(f"unit {self.name}: shape {list(self.shape)} gives "
                               f"2**{self.pes.bit_length() - 1} or more PEs; at most 2**40")
        for kind in self.ops:
            _op_kind(self.name, kind)
        if self.area_um2_per_pe is not None:
            _positive(self.area_um2_per_pe, f"unit {self.name}: area_um2_per_pe")

    @cached_property
    def cost_key(self) -> tuple[object, ...]:
        """Everything of the unit that its compute cost depends on, hashable (for caches)."""
        return (self.name, self.shape, self.systolic, self.pipelined, self.fold_overlap,
                self.readout_cycles, self.register_file,
                tuple((k, op.cycles, op.energy_pj) for k, op in self.ops.items()))

    @cached_property
    def cost_id(self) -> int:
        """A 64-bit digest of :attr:`cost_key`, which cache keys hash far faster than the
        key itself; the same in every process (it travels with a pickled unit)."""
        digest = hashlib.blake2b(repr(self.cost_key).encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big")

    @property
    def pes(self) -> int:
        total = 1
        for size in self.shape:
            total *= size
        return total

    @property
    def area_mm2(self) -> float | None:
        if self.area_um2_per_pe is None:
            return None
        return self.pes * self.area_um2_per_pe / 1e6


@dataclass(frozen=True, kw_only=True)
class Dram:
    bandwidth_bytes_per_s: float
    access_bits: int
    energy_pj_per_access: float | None = None

    def __post_init__(self) -> None:
        # Below a byte per second (or a hertz) the cycle counts leave float range.
        _positive(self.bandwidth_bytes_per_s, "dram.bandwidth_bytes_per_s", least=1.0)
        _positive(self.access_bits, "dram.access_bits", integer=True)
        if self.energy_pj_per_access is not None:
            _positive(self.energy_pj_per_access, "dram.energy_pj_per_access")


@dataclass(frozen=True, kw_only=True)
class GlobalBuffer:
    capacity_bytes: int
    row_values: int
    banks: int
    read_pj_per_row: float | None = None
    write_pj_per_row: float | None = None

    def __post_init__(self) -> None:
        for key in ("capacity_bytes", "row_values", "banks"):
            _positive(getattr(self, key), f"global_buffer.{key}", integer=True)
        for key in ("read_pj_per_row", "write_pj_per_row"):
            if getattr(self, key) is not None:
                _positive(getattr(self, key), f"global_buffer.{key}")


LEVEL_HOLDS = ("inputs", "state", "intermediates", "outputs")
"""What an on-chip level may hold: staged input tiles, the carried state of recurrences,
intermediates kept between passes or handed between units, outputs accumulated there."""


@dataclass(frozen=True, kw_only=True)
class Level:
    """An on-chip memory level below the global buffer (a local buffer or scratchpad),
    filled from the level above it (the global buffer, or the level listed before it) at
    ``bandwidth_bytes_per_cycle`` (per core when ``per_core``; None: not a limit). With
    ``per_core`` every core has its own copy of ``capacity_bytes`` (and the cores work on
    different instances); otherwise one copy is shared by all cores. ``holds`` lists the
    kinds of tensor it may hold (:data:`LEVEL_HOLDS`); the others bypass it and the arrays
    read them from the level above."""

    capacity_bytes: int
    row_values: int = 1
    bandwidth_bytes_per_cycle: float | None = None
    read_pj_per_row: float | None = None
    write_pj_per_row: float | None = None
    holds: tuple[str, ...] = LEVEL_HOLDS
    per_core: bool = True

    def __post_init__(self) -> None:
        for key in ("capacity_bytes", "row_values"):
            _positive(getattr(self, key), f"level {key}", integer=True)
        for key in ("bandwidth_bytes_per_cycle", "read_pj_per_row", "write_pj_per_row"):
            if getattr(self, key) is not None:
                _positive(getattr(self, key), f"level {key}")
        if not isinstance(self.per_core, bool):
            raise CascadeError("level per_core must be true or false")
        if not isinstance(self.holds, tuple) or not self.holds:
            raise CascadeError(f"level holds must be a list of {', '.join(LEVEL_HOLDS)}, "
                               f"not {_shown(self.holds)}")
        for kind in self.holds:
            if kind not in LEVEL_HOLDS:
                raise CascadeError(f"level holds must name {', '.join(LEVEL_HOLDS)}, "
                                   f"not {_shown(kind)}")


@dataclass(frozen=True, kw_only=True)
class Port:
    """An AXI master port of an FPGA design (an HLS ``m_axi`` bundle): at most one beat of
    ``bits`` per cycle, through a link ``link_bits`` wide at the design's clock (the
    memory-side port it lands on; None: as wide as the port), reads and writes on their
    own channels; a burst's first beat arrives ``latency_cycles`` after it is asked for.

    >>> Port(bits=256, link_bits=128, latency_cycles=64).bytes_per_cycle
    16.0
    """

    bits: int
    link_bits: int | None = None
    latency_cycles: int = 0

    def __post_init__(self) -> None:
        _positive(self.bits, "port bits", integer=True)
        if self.link_bits is not None:
            _positive(self.link_bits, "port link_bits", integer=True)
        latency = self.latency_cycles
        if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= 2**20:
            raise CascadeError(f"latency_cycles must be a whole number from 0 to 2**20, "
                               f"not {_shown(latency)}")

    @property
    def bytes_per_cycle(self) -> float:
        """Bytes one direction moves per cycle: the narrower of the port and its link."""
        return min(self.bits, self.link_bits or self.bits) / 8


@dataclass(frozen=True, kw_only=True)
class Buffer:
    """A dedicated on-chip memory of an FPGA design: ``values`` of ``bits`` each, read
    ``width`` values at a time (one word: RAMs side by side), ``copies`` of it (2 for a
    ping/pong pair). Its RAM blocks are counted from that shape (see ``sim.design_resources``).

    >>> Buffer(values=147456, bits=16, width=256, copies=2).words
    576
    """

    values: int
    bits: int
    width: int = 1
    copies: int = 1

    def __post_init__(self) -> None:
        for key in ("values", "bits", "width", "copies"):
            _positive(getattr(self, key), f"buffer {key}", integer=True)

    @property
    def words(self) -> int:
        """Words of one copy (``width`` values each)."""
        return -(-self.values // self.width)


@dataclass(frozen=True, kw_only=True)
class Architecture:
    name: str
    title: str
    source: str
    node: str
    clock_mhz: float
    word_bytes: int
    dram: Dram
    global_buffer: GlobalBuffer
    units: dict[str, Unit]
    device: Device | None = None
    weight_bytes: int | None = None
    """Bytes of a weight value where weights are narrower than ``word_bytes`` (None: the
    same); a network's weight loads move this many bytes per value."""
    ports: dict[str, Port] = dataclasses.field(default_factory=dict)
    """The AXI master ports of an FPGA design, by bundle name (none: one DRAM pool)."""
    buffers: dict[str, Buffer] = dataclasses.field(default_factory=dict)
    """The dedicated on-chip memories of an FPGA design, by name (none: the global buffer
    is its on-chip memory)."""
    levels: dict[str, Level] = dataclasses.field(default_factory=dict)
    """On-chip levels below the global buffer, outer to inner (none: the global buffer
    feeds the arrays, the one-level hierarchy). Each is filled from the one before it,
    the first from the global buffer."""
    cores: int = 1
    """Cores, each with the units and a copy of every per-core level: they split the
    instances (batch x heads) between them, so each core runs ceil(instances / cores)."""

    def __post_init__(self) -> None:
        for key in ("name", "title", "source", "node"):
            _text(getattr(self, key), key)
        _positive(self.clock_mhz, "clock_mhz", least=1e-6)
        _positive(self.word_bytes, "word_bytes", integer=True)
        if self.weight_bytes is not None:
            _positive(self.weight_bytes, "weight_bytes", integer=True)
        if not self.units:
            raise CascadeError(f"architecture {self.name} has no compute unit (units is empty)")
        _positive(self.cores, "cores", integer=True)
        for name in self.levels:
            _text(name, "level name")
            if name in ("dram", "global_buffer"):
                raise CascadeError(f"a level may not be called {name!r}")

    @property
    def hierarchy(self) -> tuple[str, ...]:
        """The names of the memory levels, outer to inner: DRAM, the global buffer and the
        levels below it."""
        return ("dram", "global_buffer", *self.levels)

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @property
    def area_mm2(self) -> float | None:
        """Compute arrays only (the published area comparison counts the arrays)."""
        areas = [u.area_mm2 for u in self.units.values()]
        return None if any(a is None for a in areas) else sum(a for a in areas if a)

    @property
    def energy_modelled(self) -> bool:
        """Every action has an energy (ASIC presets do; FPGA presets do not)."""
        ops = all(op.energy_pj is not None for u in self.units.values() for op in u.ops.values())
        rfs = all(u.register_file is not None for u in self.units.values())
        levels = all(lv.read_pj_per_row is not None and lv.write_pj_per_row is not None
                     for lv in self.levels.values())
        return (ops and rfs and levels and self.dram.energy_pj_per_access is not None
                and self.global_buffer.read_pj_per_row is not None)

    def with_units(self, shapes: dict[str, tuple[int, ...]]) -> Architecture:
        """A copy with some units resized (their parallelism), e.g. ``{"linear": (8, 8)}``."""
        units = dict(self.units)
        for name, shape in shapes.items():
            if name not in units:
                raise CascadeError(f"architecture {self.name} has no unit {name!r}")
            units[name] = dataclasses.replace(units[name], shape=tuple(shape))
        return dataclasses.replace(self, units=units)

    def with_device(self, device: Device) -> Architecture:
        """The same design on another FPGA part, at that part's default clock; DRAM is
        the design's own (change it with :meth:`replace`)."""
        if self.device is None:
            raise CascadeError(f"architecture {self.name} is not an FPGA design")
        return dataclasses.replace(self, device=device, clock_mhz=device.clock_mhz)

    def replace(self, *, array: int | None = None, buffer_mib: float | None = None,
                bandwidth_gib_s: float | None = None, clock_mhz: float | None = None,
                ) -> Architecture:
        """A copy with a different array size (every axis), buffer, bandwidth or clock."""
        arch = self
        if array is not None:
            _positive(array, "array", integer=True)
            units = {n: dataclasses.replace(u, shape=tuple(array for _ in u.shape))
                     for n, u in arch.units.items()}
            arch = dataclasses.replace(arch, units=units)
        if buffer_mib is not None:
            _positive(buffer_mib, "buffer_mib")
            buffer = dataclasses.replace(arch.global_buffer,
                                         capacity_bytes=int(buffer_mib * 2**20))
            arch = dataclasses.replace(arch, global_buffer=buffer)
        if bandwidth_gib_s is not None:
            _positive(bandwidth_gib_s, "bandwidth_gib_s")
            dram = dataclasses.replace(arch.dram, bandwidth_bytes_per_s=bandwidth_gib_s * 2**30)
            arch = dataclasses.replace(arch, dram=dram)
        if clock_mhz is not None:
            arch = dataclasses.replace(arch, clock_mhz=clock_mhz)
        return arch


# ----- reading architecture files (presets are files too)
#
# A file is read by einsum's bounded YAML 1.2 reader into plain data plus the line of every
# key and list item (``_Lines``, keyed by the path to the field), so that an error raised
# anywhere, including by a dataclass's own check, is reported at the field it is about.

_FieldPath = tuple[str | int, ...]
_Lines = dict[_FieldPath, int]

_HEADER = "# cascade architecture; load with --arch FILE\n"


def _where(path: _FieldPath) -> str:
    """``("units", "softmax", "fpga", "tables", 0)`` -> ``units.softmax.fpga.tables[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else part
    return out


def _line(lines: _Lines, path: _FieldPath) -> int:
    """The line of a field, or of the nearest enclosing one the file gives (a field taken
    from a ``like`` preset has no line in the file)."""
    while path not in lines:
        path = path[:-1]
    return lines[path]


def _key_line(text_lines: list[str], node: yaml.Node) -> int:
    """The line of the key that a top-level value belongs to. ``yaml_fields`` hands back the
    values only, and a block value starts below its key, past blank and comment lines."""
    row, column = node.start_mark.line, node.start_mark.column
    if row >= len(text_lines) or text_lines[row][:column].strip():
        return row + 1  # the value starts on its key's line (a scalar, a flow or an anchor)
    while row > 0:
        row -= 1
        stripped = text_lines[row].strip()
        if stripped and not stripped.startswith("#"):
            return row + 1
    return node.start_mark.line + 1


def _plain(node: yaml.Node, path: _FieldPath, lines: _Lines) -> Any:
    """A node as plain data, recording the line of every key and list item in ``lines``."""
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key, line = node_value(key_node), node_line(key_node)
            if not isinstance(key, str):
                raise CascadeError(f"a key must be text, not {_shown(key)}", line=line)
            if key in out:
                raise CascadeError(f"field {key!r} is given twice in {_where(path)}", line=line)
            lines[(*path, key)] = line
            out[key] = _plain(value_node, (*path, key), lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            lines[(*path, index)] = node_line(item)
            items.append(_plain(item, (*path, index), lines))
        return items
    return node_value(node)


def _document(text: str, known: tuple[str, ...], *, shape: str) -> tuple[dict[str, Any], _Lines]:
    """A YAML file's top-level mapping as plain data, and the line of every field in it."""
    fields = yaml_fields(text, known, required=(), shape=shape)
    text_lines = text.splitlines()  # as YAML counts: the reader refused other breaks
    data: dict[str, Any] = {}
    lines: _Lines = {}
    for key, node in fields.items():
        lines[(key,)] = _key_line(text_lines, node)
        data[key] = _plain(node, (key,), lines)
    lines[()] = min((lines[(key,)] for key in data), default=1)
    return data, lines


def _fields(cls: type, skip: tuple[str, ...] = ()) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A dataclass's field names (sorted, for messages) and its required ones, as a file
    spells them: the dataclass is the one list of what an architecture holds."""
    every = [f for f in dataclasses.fields(cls) if f.name not in skip]
    required = tuple(f.name for f in every if f.default is dataclasses.MISSING
                     and f.default_factory is dataclasses.MISSING)
    return tuple(sorted(f.name for f in every)), required


def _block(value: Any, path: _FieldPath, lines: _Lines, cls: type, *,
           skip: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """``value`` checked to be a mapping of ``cls``'s fields with the required ones."""
    where = _where(path)
    if not isinstance(value, dict):
        raise CascadeError(f"{where} must be a mapping of fields, not {_shown(value)}",
                           line=_line(lines, path))
    known, required = _fields(cls, skip)
    inside = f" in {where}" if where else ""
    for key in value:
        if key not in known:
            raise CascadeError(f"unknown field {key!r}{inside}; known: {', '.join(known)}",
                               line=_line(lines, (*path, key)))
    for key in required:
        if key not in value and key not in optional:
            raise CascadeError(f"missing field {key!r}{inside}", line=_line(lines, path))
    return value


_OWNER = re.compile(r"^(?:unit|table|device) .*?: ")


def _construct(cls: type, values: dict[str, Any], path: _FieldPath, lines: _Lines,
               given: Any = ()) -> Any:
    """``cls(**values)``; its own check's error is placed at the line of the one field of
    ``given`` (the keys the file wrote) that the message names, else at the block's line."""
    try:
        return cls(**values)
    except CascadeError as error:
        # Drop the owner ("unit softmax: ") and the value shown (", not 'x'"): neither is
        # the field's name, and either may happen to spell one.
        head = _OWNER.sub("", error.message, count=1).split(", not ")[0]
        named = [k for k in given if re.search(rf"\b{re.escape(k)}\b", head)]
        where = (*path, named[0]) if len(named) == 1 else path
        raise error.located(line=_line(lines, where)) from None


def _make(cls: type, value: Any, path: _FieldPath, lines: _Lines) -> Any:
    return _construct(cls, dict(_block(value, path, lines, cls)), path, lines, value)


def _list(value: Any, path: _FieldPath, lines: _Lines, example: str) -> list[Any]:
    if not isinstance(value, list):
        raise CascadeError(f"{_where(path)} must be a list like {example}, not {_shown(value)}",
                           line=_line(lines, path))
    return value


def _unit(name: str, value: Any, path: _FieldPath, lines: _Lines) -> Unit:
    fields = dict(_block(value, path, lines, Unit, skip=("name",)))
    fields["shape"] = tuple(_list(fields["shape"], (*path, "shape"), lines, "[16, 16]"))
    ops_path = (*path, "ops")
    ops = fields["ops"]
    if not isinstance(ops, dict):
        raise CascadeError(f"{_where(ops_path)} must be a mapping of op kinds to costs like "
                           f"{{mac: {{cycles: 1}}}}, not {_shown(ops)}",
                           line=_line(lines, ops_path))
    costs = {}
    for kind, cost in ops.items():
        try:
            _op_kind(name, kind)
        except CascadeError as error:
            raise error.located(line=_line(lines, (*ops_path, kind))) from None
        costs[kind] = _make(OpCost, cost, (*ops_path, kind), lines)
    fields["ops"] = costs
    if fields.get("register_file") is not None:
        fields["register_file"] = _make(RegisterFile, fields["register_file"],
                                        (*path, "register_file"), lines)
    if fields.get("fpga") is not None:
        fields["fpga"] = _fpga(fields["fpga"], (*path, "fpga"), lines)
    return _construct(Unit, {"name": name, **fields}, path, lines, value)


def _named(key: str, cls: type, value: Any, lines: _Lines) -> dict[str, Any]:
    """A mapping of names to ``cls`` blocks (``ports``, ``buffers``)."""
    if not isinstance(value, dict):
        raise CascadeError(f"{key} must be a mapping of names to {key} like "
                           f"{{weights: {{...}}}}, not {_shown(value)}", line=_line(lines, (key,)))
    return {name: _make(cls, block, (key, name), lines) for name, block in value.items()}


def _levels(value: Any, lines: _Lines) -> dict[str, Level]:
    """``levels``: names to :class:`Level` blocks, outer to inner (``holds`` a list)."""
    if not isinstance(value, dict):
        raise CascadeError(f"levels must be a mapping of level names to levels like "
                           f"{{local: {{capacity_bytes: 4194304}}}}, not {_shown(value)}",
                           line=_line(lines, ("levels",)))
    levels = {}
    for name, block in value.items():
        path = ("levels", name)
        fields = dict(_block(block, path, lines, Level))
        if "holds" in fields:
            fields["holds"] = tuple(_list(fields["holds"], (*path, "holds"), lines,
                                          "[inputs, state]"))
        levels[name] = _construct(Level, fields, path, lines, block)
    return levels


def _fpga(value: Any, path: _FieldPath, lines: _Lines) -> FpgaCost:
    fields = dict(_block(value, path, lines, FpgaCost))
    if fields.get("multiplier_bits") is not None:
        fields["multiplier_bits"] = tuple(_list(fields["multiplier_bits"],
                                                (*path, "multiplier_bits"), lines, "[32, 16]"))
    if "tables" in fields:
        tables = _list(fields["tables"], (*path, "tables"), lines,
                       "[{name: exp, entries: 65, bits: 25}]")
        fields["tables"] = tuple(_make(Table, t, (*path, "tables", i), lines)
                                 for i, t in enumerate(tables))
    return _construct(FpgaCost, fields, path, lines, value)


def _device(value: Any, path: _FieldPath, lines: _Lines) -> Device | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return fpga_device(value)
        except CascadeError as error:
            raise error.located(line=_line(lines, path)) from None
    if isinstance(value, dict):
        return _make(Device, value, path, lines)
    raise CascadeError(f"device must be the name of an FPGA part ({', '.join(device_names())}) "
                       f"or a mapping of its fields, not {_shown(value)}", line=_line(lines, path))


def _architecture(data: dict[str, Any], lines: _Lines) -> Architecture:
    """Build an architecture from a file's data (its ``like`` already merged in)."""
    # A design on an FPGA part runs at the part's clock unless it says otherwise.
    optional = ("clock_mhz",) if data.get("device") is not None else ()
    fields = dict(_block(data, (), lines, Architecture, optional=optional))
    fields["dram"] = _make(Dram, fields["dram"], ("dram",), lines)
    fields["global_buffer"] = _make(GlobalBuffer, fields["global_buffer"], ("global_buffer",),
                                    lines)
    units = fields["units"]
    if not isinstance(units, dict):
        raise CascadeError(f"units must be a mapping of unit names to units, not "
                           f"{_shown(units)}", line=_line(lines, ("units",)))
    fields["units"] = {name: _unit(name, u, ("units", name), lines) for name, u in units.items()}
    for key, cls in (("ports", Port), ("buffers", Buffer)):
        if key in fields:
            fields[key] = _named(key, cls, fields[key], lines)
    if "levels" in fields:
        fields["levels"] = _levels(fields["levels"], lines)
    device = _device(fields.get("device"), ("device",), lines)
    if device is not None:
        fields["device"] = device
        fields.setdefault("clock_mhz", device.clock_mhz)
    return _construct(Architecture, fields, (), lines, data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_KNOWN = tuple(sorted((*_fields(Architecture)[0], "like")))
_SHAPE = "an architecture file must be a mapping of fields (name, dram, units, ...)"


def _read(text: str, file: str, seen: tuple[str, ...]) -> tuple[dict[str, Any], _Lines]:
    """A file's data with its ``like`` preset merged under it; ``seen`` are the presets
    whose ``like`` led here (a loop is refused)."""
    try:
        data, lines = _document(text, _KNOWN, shape=_SHAPE)
        if "like" not in data:
            return data, lines
        like = data.pop("like")
        line = lines[("like",)]
        if not isinstance(like, str):
            raise CascadeError(f"like must be the name of a preset, not {_shown(like)}", line=line)
        if like in seen:
            raise CascadeError(f"'like' loops back to {like}", line=line)
        if like not in architecture_names():
            raise CascadeError(f"unknown architecture {like!r}; known: "
                               f"{', '.join(architecture_names())}", line=line)
        base, _base_lines = _read(_preset_text(like), _preset_file(like), (*seen, like))
        return _merge(base, data), lines
    except CascadeError as error:
        raise error.located(file=file) from None


def _from_text(text: str, file: str, seen: tuple[str, ...] = ()) -> Architecture:
    data, lines = _read(text, file, seen)
    try:
        return _architecture(data, lines)
    except CascadeError as error:
        raise error.located(file=file) from None
    except RecursionError:  # bounded by the reader's depth already; kept to one line
        raise CascadeError("the architecture nests too deeply", file=file) from None


_PARSED: dict[tuple[str, str], Architecture] = {}
"""Files already built, by path and a digest of their text (a sweep asks again and again)."""


def load_architecture(path: str | os.PathLike[str]) -> Architecture:
    """An architecture from a YAML file: the fields of a preset (see ``sim/presets``), all
    of them or, after ``like: PRESET``, those that differ from the preset. Errors name the
    file and the line of the field they are about.

    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "a.yaml").write_text("like: fusemax\\nclock_mhz: 1000\\n")
    >>> load_architecture(folder / "a.yaml").clock_mhz
    1000
    >>> _ = (folder / "b.yaml").write_text("like: fusemax\\ndram: {bandwith: 1}\\n")
    >>> load_architecture(folder / "b.yaml")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    einsum._errors.CascadeError: .../b.yaml:2: unknown field 'bandwith' in dram; known: ...
    """
    file = os.fspath(path)
    # The file is read every time (it may have changed); what it builds is kept by its text.
    text = read_text(file, "the architecture file")
    key = (file, hashlib.sha256(text.encode("utf-8")).hexdigest())
    arch = _PARSED.get(key)
    if arch is None:
        arch = _from_text(text, file)
        if len(_PARSED) >= 256:
            _PARSED.clear()
        _PARSED[key] = arch
    return arch


# ----- presets and FPGA parts


def _preset_file(name: str) -> str:
    return f"sim/presets/{name}.yaml"


def _preset_text(name: str) -> str:
    return resources.files("sim").joinpath("presets", f"{name}.yaml").read_text("utf-8")


@cache
def _devices() -> dict[str, Any]:
    text = resources.files("sim").joinpath("devices.yaml").read_text("utf-8")
    return yaml.safe_load(text)


def device_names() -> tuple[str, ...]:
    return tuple(_devices())


def fpga_device(name: str) -> Device:
    """An FPGA part from ``sim/devices.yaml``: ``fpga_device("zcu102").dsp == 2520``."""
    fields = _devices().get(name)
    if fields is None:
        raise CascadeError(f"unknown FPGA device {name!r}; known: {', '.join(_devices())}")
    return Device(name=name, **fields)


@cache
def _preset(name: str) -> Architecture:
    if name not in architecture_names():
        raise CascadeError(f"unknown architecture {name!r}; known: "
                           f"{', '.join(architecture_names())}")
    return _from_text(_preset_text(name), _preset_file(name), (name,))


def architecture_names() -> tuple[str, ...]:
    folder = resources.files("sim").joinpath("presets")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


def _is_path(name: str) -> bool:
    return "/" in name or os.sep in name or name.lower().endswith((".yaml", ".yml"))


def architecture(name_or_path: str | os.PathLike[str], **changes: Any) -> Architecture:
    """A preset by name, or an architecture file by path (a ``PathLike``, or text holding a
    ``/`` or ending in ``.yaml``/``.yml``), optionally with ``array``, ``buffer_mib``,
    ``bandwidth_gib_s`` or ``clock_mhz`` changed.

    >>> architecture("fusemax", array=128).units["array2d"].shape
    (128, 128)
    """
    name = os.fspath(name_or_path)
    is_file = isinstance(name_or_path, os.PathLike) or _is_path(name)
    arch = load_architecture(name) if is_file else _preset(name)
    return arch.replace(**changes) if changes else arch


# ----- writing an architecture as YAML


def _plain_data(value: Any) -> Any:
    """Dataclasses, tuples and numbers (numpy's too) as plain YAML-ready data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain_data(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_data(v) for v in value]
    if isinstance(value, bool | str) or value is None:
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value


def architecture_document(arch: Architecture) -> dict[str, Any]:
    """Every field of ``arch`` as plain data (no ``like``), in the order a preset is written;
    :func:`architecture_yaml` writes it and :func:`load_architecture` reads it back equal.

    >>> doc = architecture_document(architecture("u50"))
    >>> doc["device"], doc["units"]["linear"]["shape"], doc["clock_mhz"]
    ('u50', [16, 16], 300)
    """
    document = _plain_data(arch)
    for unit in document["units"].values():
        del unit["name"]  # the key names the unit
        # Fields added after the first files were written stay out at their defaults, so
        # that those files read the same as before.
        for key, default in (("pipelined", False), ("fold_overlap", False),
                             ("readout_cycles", 0)):
            if unit[key] == default:
                del unit[key]
        fpga = unit.get("fpga")
        for key, default in (("bits", None), ("lut_per_bit", 0.0), ("ff_per_bit", 0.0),
                             ("lut_per_product_bit", 0.0)):
            if fpga is not None and fpga[key] == default:
                del fpga[key]
    for key, default in (("weight_bytes", None), ("ports", {}), ("buffers", {}),
                         ("levels", {}), ("cores", 1)):
        if document[key] == default:
            del document[key]
    device = arch.device
    # A known part is written by name when the name alone rebuilds it equal.
    if device is not None and device.name in device_names() \
            and fpga_device(device.name) == device:
        document["device"] = device.name
    return document


class _Flow(dict):  # type: ignore[type-arg]
    """A mapping written on one line (``{cycles: 1, energy_pj: 17.1645}``)."""


class _FlowList(list):  # type: ignore[type-arg]
    """A list written on one line (``[256, 256]``)."""


class _Dumper(yaml.SafeDumper):
    """Writes what einsum's YAML 1.2 reader reads back as the same values."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # PyYAML quotes what YAML 1.1 would not read as text; quote also what YAML 1.2 might
    # (1e5, non-ASCII digits, ...): anything not starting with a letter or an underscore.
    plain = value[:1].isascii() and (value[:1].isalpha() or value[:1] == "_") \
        and not any(c.isdecimal() and not c.isascii() for c in value)
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _represent_float(dumper: yaml.SafeDumper, value: float) -> yaml.Node:
    # repr is the shortest text that reads back as the same float.
    text = repr(value) if math.isfinite(value) else \
        ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    return dumper.represent_scalar("tag:yaml.org,2002:float", text)


_Dumper.add_representer(str, _represent_str)
_Dumper.add_representer(float, _represent_float)
_Dumper.add_representer(_Flow, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v,
                                                                 flow_style=True))
_Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq",
                                                                     v, flow_style=True))


def _scalar(value: Any) -> bool:
    return not isinstance(value, dict | list)


def _flat(value: Any) -> bool:
    """A scalar, or a list or mapping of scalars."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) \
        else ()
    return all(_scalar(v) for v in items)


def _styled(value: Any, depth: int) -> Any:
    """Lists of scalars, and from the third level down short mappings of flat values, on
    one line (``shape: [256, 256]``, ``mac: {cycles: 1, energy_pj: 17.1645}``); a mapping
    of mappings (``ops``) keeps one entry a line."""
    if isinstance(value, dict):
        inner = {k: _styled(v, depth + 1) for k, v in value.items()}
        one_line = depth >= 2 and all(_flat(v) for v in value.values()) \
            and not all(isinstance(v, dict) for v in value.values()) and len(str(value)) <= 80
        return _Flow(inner) if one_line else inner
    if isinstance(value, list):
        items = [_styled(v, depth + 1) for v in value]
        return _FlowList(items) if all(_scalar(v) for v in value) else items
    return value


def _yaml_text(document: dict[str, Any], header: str) -> str:
    """``document`` as YAML after a comment ``header``, keys in their given order."""
    body = yaml.dump(_styled(_plain_data(document), 0), Dumper=_Dumper, sort_keys=False,
                     default_flow_style=False, allow_unicode=True, width=10_000)
    return header + body


def architecture_yaml(arch: Architecture) -> str:
    """``arch`` as a complete YAML file that :func:`load_architecture` reads back equal.

    >>> print(architecture_yaml(architecture("fusemax")).splitlines()[0])
    # cascade architecture; load with --arch FILE
    """
    return _yaml_text(architecture_document(arch), _HEADER)
