"""Spatial-array architectures: compute units, memory levels, energy and area tables.

Specs are YAML presets in ``sim/presets``, validated into frozen dataclasses before any
object is built. A preset may start ``like: other`` and override fields of ``other``.

>>> arch = architecture("fusemax")
>>> arch.units["array2d"].pes, arch.units["array2d"].ops["exp"].cycles
(65536, 7)
>>> architecture("fusemax", array=128).units["array2d"].shape
(128, 128)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Any

import yaml

from einsum import OP_KINDS, CascadeError

__all__ = [
    "Architecture",
    "Device",
    "Dram",
    "FpgaCost",
    "GlobalBuffer",
    "OpCost",
    "RegisterFile",
    "Table",
    "Unit",
    "architecture",
    "architecture_names",
    "device_names",
    "fpga_device",
]


_LARGEST = 2**50
"""Largest size or rate an architecture takes: the cost rules' integers stay exact."""


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
        _positive(self.entries, f"table {self.name}: entries", integer=True)
        _positive(self.bits, f"table {self.name}: bits", integer=True)


@dataclass(frozen=True, kw_only=True)
class FpgaCost:
    """What one PE of an FPGA unit costs: its multiplier's operand widths (for DSPs), the
    tables it reads, and LUTs and flip-flops of the rest of its datapath. ``dsp_per_pe``,
    when given (calibrated from synthesis), replaces the count derived from one multiplier:
    a unit with several multipliers (exp, reciprocal, interpolation) needs it."""

    multiplier_bits: tuple[int, int] | None = None
    tables: tuple[Table, ...] = ()
    lut_per_pe: int = 0
    ff_per_pe: int = 0
    dsp_per_pe: int | None = None

    def __post_init__(self) -> None:
        if self.multiplier_bits is not None:
            for bits in self.multiplier_bits:
                _positive(bits, "multiplier_bits", integer=True)
        for key in ("lut_per_pe", "ff_per_pe", "dsp_per_pe"):
            value = getattr(self, key)
            if key == "dsp_per_pe" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise CascadeError(f"{key} must be a whole number >= 0, not {value!r}")


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

    def __post_init__(self) -> None:
        if not isinstance(self.systolic, bool):
            raise CascadeError(f"unit {self.name}: systolic must be true or false")
        if len(self.shape) not in (1, 2):
            raise CascadeError(f"unit {self.name}: shape must have 1 or 2 axes, not {self.shape}")
        for size in self.shape:
            _positive(size, f"unit {self.name}: array size", integer=True)
        for kind in self.ops:
            if kind not in OP_KINDS:
                raise CascadeError(f"unit {self.name}: unknown op kind {kind!r}; known: "
                                   f"{', '.join(OP_KINDS)}")
        if self.area_um2_per_pe is not None:
            _positive(self.area_um2_per_pe, f"unit {self.name}: area_um2_per_pe")

    @cached_property
    def cost_key(self) -> tuple[object, ...]:
        """Everything of the unit that its compute cost depends on, hashable (for caches)."""
        return (self.name, self.shape, self.systolic, self.register_file,
                tuple((k, op.cycles, op.energy_pj) for k, op in self.ops.items()))

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

    def __post_init__(self) -> None:
        _positive(self.clock_mhz, "clock_mhz", least=1e-6)
        _positive(self.word_bytes, "word_bytes", integer=True)
        if not self.units:
            raise CascadeError(f"architecture {self.name} has no compute unit")

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
        return (ops and rfs and self.dram.energy_pj_per_access is not None
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


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _raw(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
    path = resources.files("sim").joinpath("presets", f"{name}.yaml")
    if not path.is_file():
        raise CascadeError(f"unknown architecture {name!r}; known: "
                           f"{', '.join(architecture_names())}")
    data = yaml.safe_load(path.read_text("utf-8"))
    if not isinstance(data, dict):
        raise CascadeError(f"sim/presets/{name}.yaml must be a mapping")
    like = data.pop("like", None)
    if like is not None:
        if like in seen:
            raise CascadeError(f"sim/presets/{name}.yaml: 'like' loops back to {like}")
        data = _merge(_raw(like, (*seen, name)), data)
    return data


def _unit(name: str, u: dict[str, Any]) -> Unit:
    ops = {k: OpCost(**v) for k, v in u.pop("ops").items()}
    rf = u.pop("register_file", None)
    fpga = u.pop("fpga", None)
    if fpga is not None:
        tables = tuple(Table(**t) for t in fpga.pop("tables", ()))
        bits = fpga.pop("multiplier_bits", None)
        fpga = FpgaCost(multiplier_bits=None if bits is None else tuple(bits), tables=tables,
                        **fpga)
    return Unit(name=name, shape=tuple(u.pop("shape")), ops=ops,
                register_file=None if rf is None else RegisterFile(**rf), fpga=fpga, **u)


def _build(data: dict[str, Any], file: str) -> Architecture:
    try:
        units = {name: _unit(name, dict(u)) for name, u in data.pop("units").items()}
        device_name = data.pop("device", None)
        device = None if device_name is None else fpga_device(device_name)
        if device is not None:
            data.setdefault("clock_mhz", device.clock_mhz)
        return Architecture(dram=Dram(**data.pop("dram")),
                            global_buffer=GlobalBuffer(**data.pop("global_buffer")),
                            units=units, device=device, **data)
    except CascadeError as error:
        raise error.located(file=file) from None
    except (TypeError, KeyError, AttributeError) as error:
        raise CascadeError(f"malformed architecture: {error}", file=file) from None


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
    return _build(_raw(name), f"sim/presets/{name}.yaml")


def architecture_names() -> tuple[str, ...]:
    folder = resources.files("sim").joinpath("presets")
    return tuple(sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")))


def architecture(name: str, **changes: Any) -> Architecture:
    """A preset by name, optionally with ``array``, ``buffer_mib``, ``bandwidth_gib_s`` or
    ``clock_mhz`` changed."""
    arch = _preset(name)
    return arch.replace(**changes) if changes else arch
