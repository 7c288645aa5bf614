"""FPGA resources of a design: DSPs, BRAM36/URAM, LUTs and flip-flops, against its device.

Derivations (UltraScale+):

* **DSP**: a DSP48E2 multiplies 27 x 18 bits (signed). An ``a x b`` multiplier takes
  ``ceil(a/27) * ceil(b/18)`` DSPs, or the transposed tiling if smaller; a 32 x 16 MAC takes
  2, a 16 x 16 one 1. One multiplier per PE.
* **Tables**: a table of ``entries x bits`` is ROM in distributed LUTs when it holds at most
  2 Kbit (``ceil(entries / 64) * bits`` LUT6s), else in BRAM36 (36 Kbit; the cheapest of the
  shapes 32K x 1 ... 512 x 72). Every two PEs share one copy (two read ports).
* **Global buffer**: BRAM36 blocks of 36 Kbit, or URAM blocks of 288 Kbit where the device
  has URAM (large buffers go there first). A design that lists its own on-chip buffers
  (``buffers:``, as HLS code declares them) is costed by those instead, each copy a RAM of
  ``words x (width * bits)`` mapped like a table (distributed when tiny, else the cheapest
  BRAM36 shape, which counts a wide word's blocks side by side).
* **LUT / FF**: per-PE estimates of each unit's datapath in its preset (control, adders,
  muxes), plus table LUTs; calibrated against Yosys synthesis in the RTL issue.
* **An emitted HLS kernel** (:func:`hls_resources`) is counted from what its code
  instantiates, not from the preset's units: each multiplier at its operand widths, each
  table copy, each on-chip array and FIFO at its shape, and the LUT/FF of each datapath lane
  from the preset unit that lane implements.

>>> from sim import architecture
>>> r = design_resources(architecture("zcu102"))
>>> r.units["linear"].dsp, r.fits
(512, True)
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from einsum import CascadeError

from ._arch import Architecture, Buffer, Device, FpgaCost, Unit

__all__ = [
    "DesignResources",
    "Resources",
    "bram36_for_table",
    "buffer_resources",
    "design_resources",
    "dsp_per_multiplier",
    "hls_resources",
    "lane_cost",
    "table_luts",
    "unit_resources",
]

_BRAM36_SHAPES = ((32768, 1), (16384, 2), (8192, 4), (4096, 9), (2048, 18), (1024, 36),
                  (512, 72))
_BRAM36_BITS = 36 * 1024
_URAM_BITS = 288 * 1024
_DISTRIBUTED_LIMIT = 2048


def dsp_per_multiplier(a: int, b: int) -> int:
    """DSP48E2 slices for an ``a x b``-bit multiplier."""
    return min(math.ceil(a / 27) * math.ceil(b / 18), math.ceil(a / 18) * math.ceil(b / 27))


def bram36_for_table(entries: int, bits: int) -> int:
    """BRAM36 blocks for one copy of a table (0 if it fits distributed ROM)."""
    if entries * bits <= _DISTRIBUTED_LIMIT:
        return 0
    return min(math.ceil(entries / depth) * math.ceil(bits / width)
               for depth, width in _BRAM36_SHAPES)


@dataclass(frozen=True)
class Resources:
    dsp: int = 0
    bram36: int = 0
    uram: int = 0
    lut: int = 0
    ff: int = 0

    def __add__(self, other: Resources) -> Resources:
        return Resources(self.dsp + other.dsp, self.bram36 + other.bram36,
                         self.uram + other.uram, self.lut + other.lut, self.ff + other.ff)


@dataclass(frozen=True)
class DesignResources:
    units: dict[str, Resources]
    buffer: Resources
    total: Resources
    available: Resources
    utilisation: dict[str, float] = field(default_factory=dict)
    buffers: dict[str, Resources] = field(default_factory=dict)
    """Each listed on-chip buffer (their sum is ``buffer``); empty when the global buffer
    is the design's on-chip memory."""

    @property
    def fits(self) -> bool:
        return all(value <= 1.0 for value in self.utilisation.values())

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "units": {n: vars(r) for n, r in self.units.items()},
            "global_buffer": vars(self.buffer), "total": vars(self.total),
            "available": vars(self.available), "utilisation": self.utilisation,
            "fits": self.fits}
        if self.buffers:
            data["buffers"] = {n: vars(r) for n, r in self.buffers.items()}
        return data


def lane_cost(cost: FpgaCost, bits: int | None = None,
              multiplier: tuple[int, int] | None = None) -> tuple[int, int]:
    """(LUT, FF) of one PE built ``bits`` wide (default: the unit's own width), tables
    apart: ``lut_per_pe + lut_per_bit * bits`` (likewise for flip-flops), plus, for a PE
    whose one multiplier the model tiles on DSPs, ``lut_per_product_bit`` per product bit
    for each DSP48E2 beyond the first. The multiplier's operands are ``multiplier``, else
    ``multiplier_bits`` scaled with the width.

    >>> lane_cost(FpgaCost(lut_per_pe=100, lut_per_bit=2.5, ff_per_pe=10, ff_per_bit=1,
    ...                    bits=32), 16)
    (140, 26)
    >>> cost = FpgaCost(multiplier_bits=(32, 16), bits=48, lut_per_bit=2, ff_per_bit=2,
    ...                 lut_per_product_bit=0.5)
    >>> lane_cost(cost), lane_cost(cost, 32)  # two DSPs at 32 x 16, one at 21 x 11
    ((120, 96), (64, 64))
    """
    width = cost.bits if bits is None else bits
    if width is None:
        return cost.lut_per_pe, cost.ff_per_pe
    lut = cost.lut_per_pe + cost.lut_per_bit * width
    if cost.lut_per_product_bit and cost.multiplier_bits is not None:
        if multiplier is None:
            scale = width / cost.bits if cost.bits else 1.0
            multiplier = (max(1, round(cost.multiplier_bits[0] * scale)),
                          max(1, round(cost.multiplier_bits[1] * scale)))
        a, b = multiplier
        lut += cost.lut_per_product_bit * (dsp_per_multiplier(a, b) - 1) * (a + b)
    return round(lut), round(cost.ff_per_pe + cost.ff_per_bit * width)


def unit_resources(unit: Unit) -> Resources:
    cost = unit.fpga
    if cost is None:
        raise CascadeError(f"unit {unit.name} has no FPGA cost (fpga: ...) in its preset")
    lut_per_pe, ff_per_pe = lane_cost(cost)
    copies = math.ceil(unit.pes / 2)
    if cost.dsp_per_pe is not None:
        dsp = unit.pes * cost.dsp_per_pe
    else:
        dsp = unit.pes * dsp_per_multiplier(*cost.multiplier_bits) if cost.multiplier_bits else 0
    bram = sum(bram36_for_table(t.entries, t.bits) for t in cost.tables) * copies
    table_luts = sum(math.ceil(t.entries / 64) * t.bits for t in cost.tables
                     if bram36_for_table(t.entries, t.bits) == 0) * copies
    return Resources(dsp=dsp, bram36=bram, lut=unit.pes * lut_per_pe + table_luts,
                     ff=unit.pes * ff_per_pe)


def table_luts(unit: Unit) -> int:
    """LUTs the model gives ``unit``'s small tables (those it does not put in BRAM)."""
    assert unit.fpga is not None
    return unit_resources(dataclasses.replace(
        unit, fpga=dataclasses.replace(unit.fpga, lut_per_pe=0, lut_per_bit=0.0,
                                       lut_per_product_bit=0.0))).lut


def buffer_resources(buffer: Buffer) -> Resources:
    """RAM of an on-chip buffer: each copy ``words`` deep and ``width * bits`` wide.

    >>> from sim import Buffer
    >>> buffer_resources(Buffer(values=147456, bits=16, width=256, copies=2)).bram36
    228
    """
    bits = buffer.width * buffer.bits
    blocks = bram36_for_table(buffer.words, bits)
    luts = 0 if blocks else math.ceil(buffer.words / 64) * bits
    return Resources(bram36=blocks * buffer.copies, lut=luts * buffer.copies)


def design_resources(arch: Architecture) -> DesignResources:
    """Resources of every unit and the buffer of an FPGA architecture, against its device."""
    device = arch.device
    if device is None:
        raise CascadeError(f"architecture {arch.name} is not an FPGA design (no device)")
    units = {name: unit_resources(u) for name, u in arch.units.items()}
    buffers = {name: buffer_resources(b) for name, b in arch.buffers.items()}
    if buffers:
        buffer = Resources()
        for r in buffers.values():
            buffer = buffer + r
    else:
        bits = arch.global_buffer.capacity_bytes * 8
        uram = min(device.uram, math.ceil(bits / _URAM_BITS)) if device.uram else 0
        rest = max(0, bits - uram * _URAM_BITS)
        buffer = Resources(bram36=math.ceil(rest / _BRAM36_BITS), uram=uram)
    total = buffer
    for r in units.values():
        total = total + r
    available = Resources(device.dsp, device.bram36, device.uram, device.lut, device.ff)
    utilisation = {key: getattr(total, key) / getattr(available, key)
                   for key in ("dsp", "bram36", "uram", "lut", "ff")
                   if getattr(available, key)}
    return DesignResources(units, buffer, total, available, utilisation, buffers)


def _available(device: Device) -> Resources:
    return Resources(device.dsp, device.bram36, device.uram, device.lut, device.ff)


def hls_resources(device: Device, *, multipliers: dict[str, tuple[int, int, int]],
                  tables: dict[str, tuple[int, int, int]], buffers: dict[str, Buffer],
                  lanes: dict[str, tuple[Unit, int] | tuple[Unit, int, int]],
                  fifos: dict[str, tuple[int, int]] | None = None,
                  registers: dict[str, int] | None = None) -> DesignResources:
    """Resources of an emitted HLS kernel from what it instantiates:

    * ``multipliers``: name -> (count, a bits, b bits), each ``dsp_per_multiplier(a, b)``;
    * ``tables``: name -> (copies, entries, bits), each copy a ROM (one copy per lane that
      reads it in parallel: a ROM has two ports and an interpolating unit reads two
      entries a cycle);
    * ``buffers``: every on-chip RAM array at its shape (:func:`buffer_resources`; a
      partitioned array is one copy per bank);
    * ``fifos``: name -> (depth, bits): shift-register LUTs (SRL32) up to 32 deep, else RAM;
    * ``registers``: name -> bits of arrays partitioned into registers (flip-flops);
    * ``lanes``: name -> (preset unit, count[, bits]), the LUT/FF of that many of its PEs
      (each ``bits`` wide when given: :func:`lane_cost`).

    >>> from sim import architecture
    >>> arch = architecture("zcu102")
    >>> r = hls_resources(arch.device, multipliers={"qk": (64, 16, 16)}, tables={},
    ...                   buffers={}, lanes={"qk": (arch.units["attention"], 64)})
    >>> r.units["multipliers"].dsp, r.units["lanes"].lut == 64 * lane_cost(
    ...     arch.units["attention"].fpga)[0]
    (64, True)
    """
    dsp = sum(count * dsp_per_multiplier(a, b) for count, a, b in multipliers.values())
    bram = lut = 0
    for copies, entries, bits in tables.values():
        blocks = bram36_for_table(entries, bits)
        bram += blocks * copies
        lut += 0 if blocks else math.ceil(entries / 64) * bits * copies
    lane_lut = lane_ff = 0
    for unit, count, *bits in lanes.values():
        cost = unit.fpga
        if cost is None:
            raise CascadeError(f"unit {unit.name} has no FPGA cost (fpga: ...) in its preset")
        lut, ff = lane_cost(cost, bits[0] if bits else None)
        lane_lut += count * lut
        lane_ff += count * ff
    units = {"multipliers": Resources(dsp=dsp), "tables": Resources(bram36=bram, lut=lut),
             "lanes": Resources(lut=lane_lut, ff=lane_ff),
             "registers": Resources(ff=sum((registers or {}).values()))}
    each = {name: buffer_resources(b) for name, b in buffers.items()}
    for name, (depth, bits) in (fifos or {}).items():
        each[name] = Resources(lut=math.ceil(depth / 32) * bits, ff=bits) if depth <= 32 \
            else buffer_resources(Buffer(values=depth, bits=bits))
    buffer = Resources()
    for r in each.values():
        buffer = buffer + r
    total = buffer
    for r in units.values():
        total = total + r
    available = _available(device)
    utilisation = {key: getattr(total, key) / getattr(available, key)
                   for key in ("dsp", "bram36", "uram", "lut", "ff") if getattr(available, key)}
    return DesignResources(units, buffer, total, available, utilisation, each)
